//! The install path without Rust: `scripts/release.sh` builds the static `x86_64` binary (once
//! per test run, kept under the target directory so later runs rebuild only mlpack itself),
//! `scripts/install.sh` installs it from a `file://` base after checking `SHA256SUMS`, and the
//! installed binary runs in a Docker image that holds nothing but busybox and itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::images::{busybox_root, tree_tar};
use crate::common::{TestContext, repo_root};

const ARCH: &str = "x86_64";

/// `scripts/release.sh --target x86_64`'s output directory, built on first use.
fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dist = scratch.join("release-dist");
        // A target directory of its own: the outer `cargo test` may hold its own's lock.
        let output = Command::new(repo_root().join("scripts/release.sh"))
            .args(["--target", ARCH, "--out"])
            .arg(&dist)
            .env("CARGO_TARGET_DIR", scratch.join("release-musl"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        dist
    })
}

fn binary_name() -> String {
    format!(
        "mlpack-{}-{ARCH}-unknown-linux-musl",
        env!("CARGO_PKG_VERSION")
    )
}

fn text(output: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `sh install.sh ARGS` from `base` into `bin`, with a PATH that lacks `bin` and a TMPDIR of
/// its own (to see that nothing is left there).
fn install(context: &TestContext, base: &Path, bin: &Path, args: &[&str]) -> Output {
    let tmp = context.temp.path().join("tmp");
    fs_err::create_dir_all(&tmp).unwrap();
    Command::new("sh")
        .arg(base.join("install.sh"))
        .arg("--base-url")
        .arg(format!("file://{}", base.display()))
        .args(args)
        .env("MLPACK_INSTALL_DIR", bin)
        .env("TMPDIR", &tmp)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("MLPACK_DOWNLOAD_URL")
        .output()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    fs_err::read_dir(dir).map_or_else(
        |_| Vec::new(),
        |read| {
            read.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        },
    )
}

#[test]
fn release_writes_static_binary_checksums_and_installer() {
    let dist = dist();
    let sums = fs_err::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let line = sums
        .lines()
        .find(|line| line.ends_with(&format!("  {}", binary_name())))
        .unwrap_or_else(|| panic!("SHA256SUMS lists {}:\n{sums}", binary_name()));
    let binary = fs_err::read(dist.join(binary_name())).unwrap();
    let digest = mlpack::oci::Digest::of(&binary);
    assert_eq!(line.split_whitespace().next(), Some(digest.hex()));
    // Static: no program interpreter, no shared libraries.
    let headers = Command::new("readelf")
        .args(["-lW", "-dW"])
        .arg(dist.join(binary_name()))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout);
    assert!(headers.contains("LOAD"), "{headers}");
    assert!(
        !headers.contains("INTERP") && !headers.contains("NEEDED"),
        "{headers}"
    );
    assert!(dist.join("install.sh").is_file());
}

#[test]
fn install_verifies_the_checksum_and_says_how_to_reach_the_binary() {
    let context = TestContext::new();
    let bin = context.temp.path().join("bin");
    let output = install(
        &context,
        dist(),
        &bin,
        &["--version", env!("CARGO_PKG_VERSION")],
    );
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not on your PATH") && stderr.contains("export PATH="),
        "{stderr}"
    );
    let version = Command::new(bin.join("mlpack"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mlpack {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(entries(&bin), ["mlpack"]);
    assert!(entries(&context.temp.path().join("tmp")).is_empty());

    let unknown = install(&context, dist(), &bin, &["--version", "0.0.0-none"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("SHA256SUMS lists no mlpack-0.0.0-none")
    );
}

#[test]
fn install_refuses_a_tampered_binary_and_leaves_nothing_behind() {
    let context = TestContext::new();
    let base = context.temp.path().join("dist");
    fs_err::create_dir_all(&base).unwrap();
    for name in ["install.sh", "SHA256SUMS"] {
        fs_err::copy(dist().join(name), base.join(name)).unwrap();
    }
    let mut binary = fs_err::read(dist().join(binary_name())).unwrap();
    binary.extend_from_slice(b"tampered");
    fs_err::write(base.join(binary_name()), binary).unwrap();

    let bin = context.temp.path().join("bin");
    let output = install(&context, &base, &bin, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: checksum mismatch for {}", binary_name()))
            && stderr.contains("nothing was installed"),
        "{stderr}"
    );
    assert!(entries(&bin).is_empty(), "{:?}", entries(&bin));
    assert!(entries(&context.temp.path().join("tmp")).is_empty());
}

/// The static binary needs no libc: in an image of busybox and itself, with no network, it
/// prints its version and scans a project exactly as the test build does on the host.
#[test]
fn the_static_binary_runs_in_a_busybox_only_image() {
    let context = TestContext::example("iris-sklearn");
    let root = busybox_root(&context);
    fs_err::copy(dist().join(binary_name()), root.join("bin/mlpack")).unwrap();
    crate::common::copy_tree(&context.project, &root.join("project"));
    let archive = context.temp.path().join("rootfs.tar");
    fs_err::write(&archive, tree_tar(&root)).unwrap();
    let image = format!("mlpack-static-test:{}", std::process::id());
    let import = Command::new("docker")
        .args(["import", "--change", "ENV PATH=/bin"])
        .arg(&archive)
        .arg(&image)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", text(&import));

    let run = |args: &[&str]| {
        Command::new("docker")
            .args(["run", "--rm", "--network", "none", "-e", "HOME=/tmp"])
            .args(["-e", "MLPACK_OFFLINE=1", "-w", "/project", &image])
            .args(args)
            .output()
            .unwrap()
    };
    let version = run(&["mlpack", "--version"]);
    let libc = run(&["sh", "-c", "ls /lib /usr/lib /lib64 2>/dev/null | wc -l"]);
    let scan = run(&["mlpack", "scan", "--format", "requirements"]);
    let _ = Command::new("docker").args(["rmi", &image]).output();

    assert!(version.status.success(), "{}", text(&version));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("mlpack {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(String::from_utf8_lossy(&libc.stdout).trim(), "0");
    let host = context
        .mlpack(&["scan", "--format", "requirements"])
        .output()
        .unwrap();
    assert!(scan.status.success(), "{}", text(&scan));
    assert_eq!(text(&scan), text(&host));
}
