//! The shared objects a wheel ships: each one's path in the wheel, `DT_SONAME` and
//! `DT_NEEDED` entries (see [`crate::elf`]). An install finds them as it writes them
//! ([`InstalledWheel::shared_objects`]); [`shared_objects`] reads them straight from the zip,
//! for a wheel that is not installed. Which libraries those name and which the image lacks
//! is decided by `build`.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use zip::ZipArchive;

use super::{InstalledWheel, WheelError};
use crate::elf::DynamicInfo;

/// One shared object in a wheel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedObject {
    /// The zip member (`cv2/qt/plugins/platforms/libqxcb.so`).
    pub path: String,
    pub soname: Option<String>,
    pub needed: Vec<String>,
}

impl SharedObject {
    /// The object at `path` that `info` describes, when the loader of `arch` can load it.
    fn loadable(path: String, info: DynamicInfo, arch: crate::arch::Arch) -> Option<Self> {
        let fits = info.fits(arch);
        fits.then_some(Self {
            path,
            soname: info.soname,
            needed: info.needed,
        })
    }

    /// The names the loader may know this object by: its file name and its soname.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let file_name = self.path.rsplit('/').next().unwrap_or(&self.path);
        std::iter::once(file_name).chain(self.soname.as_deref())
    }
}

impl InstalledWheel {
    /// The shared objects the install wrote that the loader of `arch` can load: what
    /// [`shared_objects`] finds in the wheel.
    pub fn shared_objects(&self, arch: crate::arch::Arch) -> Vec<SharedObject> {
        self.elf_files
            .iter()
            .filter_map(|(path, info)| SharedObject::loadable(path.clone(), info.clone(), arch))
            .collect()
    }
}

/// Shared objects up to this size are read into memory; larger ones (torch's
/// `libtorch_cuda.so` is over 1 GB) go through a temporary file, so a scan's memory stays
/// near [`MEMORY_BUDGET`] whatever the wheels hold.
const IN_MEMORY_BYTES: u64 = 32 << 20;
/// How many uncompressed bytes of shared objects may be in memory at once across threads.
const MEMORY_BUDGET: u64 = 128 << 20;

/// The shared objects in `wheel` that the loader of `arch` can load (other files, and ELF
/// files for another machine, are skipped).
pub fn shared_objects(
    wheel: &Path,
    arch: crate::arch::Arch,
) -> Result<Vec<SharedObject>, WheelError> {
    let name = wheel.file_name().map_or_else(
        || wheel.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let file = fs_err::File::open(wheel).map_err(|source| WheelError::Open {
        wheel: name.clone(),
        source,
    })?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(|source| WheelError::Zip {
        wheel: name.clone(),
        source,
    })?;
    let mut found = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|source| WheelError::Zip {
            wheel: name.clone(),
            source,
        })?;
        let path = entry
            .name()
            .map_err(|source| WheelError::Zip {
                wheel: name.clone(),
                source,
            })?
            .to_string();
        if !entry.is_file() || !looks_like_shared_object(&path) {
            continue;
        }
        let read_error = |source| WheelError::ReadEntry {
            wheel: name.clone(),
            entry: path.clone(),
            source,
        };
        let info = if entry.size() > IN_MEMORY_BYTES {
            // A deflated member cannot be read out of order: unpacked to an unnamed temporary
            // file, of which the parser reads only the headers and the dynamic tables.
            let mut file = tempfile::tempfile().map_err(read_error)?;
            std::io::copy(&mut entry, &mut file).map_err(read_error)?;
            crate::elf::dynamic_info(&object::ReadCache::new(file))
        } else {
            let _permit = BUDGET.acquire(entry.size());
            let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(read_error)?;
            crate::elf::dynamic_info(bytes.as_slice())
        };
        let Some(info) = info else {
            continue;
        };
        found.extend(SharedObject::loadable(path, info, arch));
    }
    Ok(found)
}

/// `libfoo.so`, `libfoo.so.1.2`, `_ext.cpython-311-x86_64-linux-gnu.so`.
#[expect(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "the loader and Python's importer match names exactly"
)]
pub(super) fn looks_like_shared_object(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".so") || name.contains(".so.")
}

static BUDGET: Budget = Budget {
    used: Mutex::new(0),
    freed: Condvar::new(),
};

/// A counting semaphore over bytes: a file larger than the whole budget waits until it is
/// alone, so scanning stays within about [`MEMORY_BUDGET`] plus one file.
struct Budget {
    used: Mutex<u64>,
    freed: Condvar,
}

struct Permit {
    bytes: u64,
}

impl Budget {
    fn acquire(&'static self, bytes: u64) -> Permit {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used > 0 && *used + bytes > MEMORY_BUDGET {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        Permit { bytes }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = BUDGET
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used -= self.bytes;
        BUDGET.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn host_library() -> Option<(Vec<u8>, crate::arch::Arch)> {
        let arch = crate::arch::Arch::host();
        [
            format!("/lib/{}/libm.so.6", arch.triplet()),
            "/lib64/libm.so.6".to_string(),
        ]
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .map(|bytes| (bytes, arch))
    }

    #[test]
    fn lists_the_elf_members_and_skips_the_rest() {
        let Some((libm, arch)) = host_library() else {
            return;
        };
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("demo-1.0-py3-none-linux_x86_64.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in [
            ("demo/_native.cpython-311-x86_64-linux-gnu.so", &libm[..]),
            ("demo.libs/libm-1234abcd.so.6", &libm[..]),
            ("demo/linker-script.so", b"GROUP ( libc.so.6 )"),
            ("demo/__init__.py", b"import ctypes\n"),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        let found = shared_objects(&path, arch).unwrap();
        let paths: Vec<&str> = found.iter().map(|object| object.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "demo/_native.cpython-311-x86_64-linux-gnu.so",
                "demo.libs/libm-1234abcd.so.6"
            ]
        );
        assert!(found[0].needed.iter().any(|name| name == "libc.so.6"));
        let names: Vec<&str> = found[1].names().collect();
        assert_eq!(names, ["libm-1234abcd.so.6", "libm.so.6"]);
    }
}
