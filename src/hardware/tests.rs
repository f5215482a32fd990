//! Fixtures shared by the hardware tests: a host file system in a temporary directory, a
//! builder for glibc's `ld.so.cache` in the layout of `sysdeps/generic/dl-cache.h`
//! (<https://sourceware.org/git/?p=glibc.git;a=blob;f=sysdeps/generic/dl-cache.h>), and
//! `plan_gpus` with its errors as the CLI reports them.

use std::fs;
use std::path::Path;

use super::nvidia::{GpuInjection, HardwareError, plan_gpus};
use crate::error::Diagnostic;

pub(super) const PROPRIETARY_BANNER: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";

/// A host's file system in a temporary directory; regular files stand in for device nodes.
pub(super) struct Host(tempfile::TempDir);

impl Host {
    pub(super) fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    /// A loaded driver with `gpus` GPUs and the control devices.
    pub(super) fn with_driver(gpus: u32) -> Self {
        let host = Self::new();
        host.write("proc/driver/nvidia/version", PROPRIETARY_BANNER);
        for name in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null"] {
            host.write(&format!("dev/{name}"), "");
        }
        for index in 0..gpus {
            host.write(&format!("dev/nvidia{index}"), "");
        }
        host
    }

    pub(super) fn root(&self) -> &Path {
        self.0.path()
    }

    pub(super) fn write(&self, path: &str, content: impl AsRef<[u8]>) -> &Self {
        let full = self.root().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, content).unwrap();
        self
    }

    pub(super) fn link(&self, path: &str, target: &str) -> &Self {
        let full = self.root().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, full).unwrap();
        self
    }

    /// A Debian-style driver install: merged `/usr` (`/lib` → `usr/lib`), 64-bit and
    /// 32-bit `libcuda`, soname links, an absolute link to a tool, and a linker cache
    /// that lists a library that is gone.
    pub(super) fn with_libraries(&self) -> &Self {
        let lib = "usr/lib/x86_64-linux-gnu";
        for name in ["libcuda", "libnvidia-ml", "libnvidia-ptxjitcompiler"] {
            self.write(&format!("{lib}/{name}.so.550.54.14"), "");
            self.link(
                &format!("{lib}/{name}.so.1"),
                &format!("{name}.so.550.54.14"),
            );
        }
        self.link(&format!("{lib}/libcuda.so"), "libcuda.so.1")
            .write(&format!("{lib}/libc.so.6"), "")
            .write("usr/lib/i386-linux-gnu/libcuda.so.550.54.14", "")
            .link(
                "usr/lib/i386-linux-gnu/libcuda.so.1",
                "libcuda.so.550.54.14",
            )
            .link("lib", "usr/lib")
            .link("bin", "usr/bin")
            .write("usr/bin/nvidia-smi", "")
            .write("usr/sbin/nvidia-persistenced", "")
            .link(
                "usr/bin/nvidia-persistenced",
                "/usr/sbin/nvidia-persistenced",
            )
            .write(
                "etc/ld.so.cache",
                ld_so_cache(&[
                    (
                        0x0303,
                        "libnvidia-ptxjitcompiler.so.1",
                        "/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.1",
                    ),
                    (
                        0x0303,
                        "libnvidia-ml.so.1",
                        "/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
                    ),
                    (
                        0x0303,
                        "libnvidia-cfg.so.1",
                        "/lib/x86_64-linux-gnu/libnvidia-cfg.so.1",
                    ),
                    (0x0003, "libcuda.so.1", "/lib/i386-linux-gnu/libcuda.so.1"),
                    (0x0303, "libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1"),
                    (0x0303, "libcuda.so", "/lib/x86_64-linux-gnu/libcuda.so"),
                    (0x0303, "libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"),
                ]),
            )
    }
}

/// A cache in the format `ldconfig` writes since glibc 2.32, little-endian:
///
/// | offset | field |
/// |---|---|
/// | 0 | `glibc-ld.so.cache` (17 bytes) then `1.1` (3 bytes) |
/// | 20 | `nlibs: u32` |
/// | 24 | `len_strings: u32` |
/// | 28 | `flags: u8` (2: little-endian), 3 bytes of padding |
/// | 32 | `extension_offset: u32` (0: none), 3 unused `u32`s |
/// | 48 | `nlibs` entries: `flags: i32, key: u32, value: u32, osversion: u32, hwcap: u64` |
/// | 48 + 24 × nlibs | the NUL-terminated strings |
///
/// `key` and `value` are offsets from byte 0 of this header.
pub(super) fn ld_so_cache(entries: &[(i32, &str, &str)]) -> Vec<u8> {
    let strings_start = 48 + 24 * entries.len();
    let mut strings: Vec<u8> = Vec::new();
    let mut intern = |text: &str| {
        let offset = u32::try_from(strings_start + strings.len()).unwrap();
        strings.extend(text.as_bytes());
        strings.push(0);
        offset
    };
    let mut table = Vec::new();
    for (flags, key, value) in entries {
        let (key, value) = (intern(key), intern(value));
        table.extend(flags.to_le_bytes());
        table.extend(key.to_le_bytes());
        table.extend(value.to_le_bytes());
        table.extend(0u32.to_le_bytes());
        table.extend(0u64.to_le_bytes());
    }
    let mut bytes = b"glibc-ld.so.cache1.1".to_vec();
    bytes.extend(u32::try_from(entries.len()).unwrap().to_le_bytes());
    bytes.extend(u32::try_from(strings.len()).unwrap().to_le_bytes());
    bytes.extend([2, 0, 0, 0]);
    bytes.extend([0; 16]);
    assert_eq!(bytes.len(), 48);
    bytes.extend(table);
    bytes.extend(strings);
    bytes
}

pub(super) fn plan(host: &Host, request: &str) -> Result<GpuInjection, HardwareError> {
    plan_gpus(host.root(), &request.parse().unwrap())
}

/// The error as the CLI shows it.
pub(super) fn report(error: &HardwareError) -> String {
    match error.hints().as_slice() {
        [hint] => format!("{error}\n\nhint: {hint}"),
        _ => error.to_string(),
    }
}
