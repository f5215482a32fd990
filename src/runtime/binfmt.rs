//! Images for another CPU architecture. The kernel runs their programs only through a
//! `binfmt_misc` handler for that architecture (QEMU's user-mode emulator, as `qemu-user-static`
//! registers it), and a container sees the handler's interpreter only when it was registered
//! with the `F` flag (the kernel opens it at registration, not at each `execve` inside the
//! container's root). Without one, `execve` fails with a bare `ENOEXEC`; this says why
//! before the container is created. Spec: <https://docs.kernel.org/admin-guide/binfmt-misc.html>.

use std::path::Path;

use super::error::RuntimeError;
use crate::arch::Arch;
use crate::oci::ResolvedImage;

/// Where `binfmt_misc` is mounted.
const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// Refuse an image for another architecture unless the host can run its programs.
pub(super) fn check_architecture(image: &ResolvedImage, name: &str) -> Result<(), RuntimeError> {
    let architecture = image.config.architecture().to_string();
    let kernel_name = match architecture.parse::<Arch>() {
        Ok(arch) if arch == Arch::host() => return Ok(()),
        Ok(arch) => arch.as_str().to_string(),
        Err(_) => architecture.clone(),
    };
    if has_handler(Path::new(BINFMT_MISC), &kernel_name) {
        return Ok(());
    }
    Err(RuntimeError::ForeignArchitecture {
        image: name.to_string(),
        architecture: kernel_name,
        host: Arch::host(),
    })
}

/// Whether `dir` (`binfmt_misc`) has an enabled handler, with the `F` flag, whose name or
/// interpreter is QEMU's for `arch` (`qemu-aarch64`, `qemu-aarch64-static`).
fn has_handler(dir: &Path, arch: &str) -> bool {
    let enabled = |text: &str| text.lines().next() == Some("enabled");
    let status = fs_err::read_to_string(dir.join("status")).unwrap_or_default();
    if !enabled(&status) {
        return false;
    }
    let Ok(entries) = fs_err::read_dir(dir) else {
        return false;
    };
    let qemu = format!("qemu-{arch}");
    entries.flatten().any(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "status" || name == "register" {
            return false;
        }
        let text = fs_err::read_to_string(entry.path()).unwrap_or_default();
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key))
                .map(str::trim)
                .unwrap_or_default()
        };
        let interpreter = Path::new(field("interpreter "))
            .file_name()
            .map(|file| file.to_string_lossy().into_owned())
            .unwrap_or_default();
        enabled(&text)
            && field("flags:").contains('F')
            && (name.starts_with(&qemu) || interpreter.starts_with(&qemu))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, name: &str, state: &str, interpreter: &str, flags: &str) {
        fs_err::write(
            dir.join(name),
            format!(
                "{state}\ninterpreter {interpreter}\nflags: {flags}\noffset 0\nmagic 7f454c46\n"
            ),
        )
        .unwrap();
    }

    #[test]
    fn only_an_enabled_fixed_qemu_handler_for_the_arch_counts() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        assert!(!has_handler(dir, "aarch64"), "binfmt_misc not mounted");
        fs_err::write(dir.join("status"), "enabled\n").unwrap();
        fs_err::write(dir.join("register"), "").unwrap();
        entry(
            dir,
            "qemu-riscv64",
            "enabled",
            "/usr/libexec/qemu-binfmt/riscv64-binfmt-P",
            "POCF",
        );
        assert!(!has_handler(dir, "aarch64"), "another architecture");
        entry(
            dir,
            "qemu-aarch64",
            "disabled",
            "/usr/bin/qemu-aarch64-static",
            "F",
        );
        assert!(!has_handler(dir, "aarch64"), "disabled");
        entry(
            dir,
            "qemu-aarch64",
            "enabled",
            "/usr/bin/qemu-aarch64-static",
            "OC",
        );
        assert!(
            !has_handler(dir, "aarch64"),
            "without `F` a container cannot reach it"
        );
        entry(
            dir,
            "qemu-aarch64",
            "enabled",
            "/usr/bin/qemu-aarch64-static",
            "OCF",
        );
        assert!(has_handler(dir, "aarch64"));
        fs_err::write(dir.join("status"), "disabled\n").unwrap();
        assert!(
            !has_handler(dir, "aarch64"),
            "binfmt_misc disabled as a whole"
        );
        fs_err::write(dir.join("status"), "enabled\n").unwrap();
        fs_err::remove_file(dir.join("qemu-aarch64")).unwrap();
        entry(dir, "arm64", "enabled", "/usr/bin/qemu-aarch64", "F");
        assert!(
            has_handler(dir, "aarch64"),
            "found by its interpreter's name"
        );
    }
}
