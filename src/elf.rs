//! What the dynamic loader reads from a shared object: its `DT_NEEDED` libraries and its own
//! `DT_SONAME`, with the ELF class and machine that say which loader can use it at all.
//! Spec: the System V ABI's "Dynamic Section"
//! (<https://refspecs.linuxfoundation.org/elf/gabi4+/ch5.dynamic.html#dynamic_section>).
//!
//! Anything that is not a well-formed ELF file with a dynamic section gives `None`: wheels
//! ship odd files under `.so` names (linker scripts, test fixtures), and those are not errors.

use object::elf::{DT_NEEDED, DT_SONAME, ELFCLASS32, ELFCLASS64};
use object::read::elf::FileHeader;
use object::{Endianness, FileKind, ReadRef};

/// The dynamic-linking facts of one shared object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicInfo {
    /// `e_machine` (`EM_X86_64` is 62).
    pub machine: u16,
    pub is_64: bool,
    /// `DT_SONAME`, when the object has one.
    pub soname: Option<String>,
    /// `DT_NEEDED` entries, in the file's order.
    pub needed: Vec<String>,
}

impl DynamicInfo {
    /// Whether the loader for `arch` (64-bit) can load this object.
    pub fn fits(&self, arch: crate::arch::Arch) -> bool {
        self.is_64 && self.machine == arch.elf_machine()
    }
}

/// Whether `bytes` start like an ELF file (cheaper than a parse, for callers that must read
/// the whole file first).
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// The dynamic section of the ELF file in `data` (bytes in memory, or a
/// [`object::ReadCache`] over a file, which reads only the headers and the dynamic and string
/// tables), or `None` for anything else.
pub fn dynamic_info<'data, R: ReadRef<'data>>(data: R) -> Option<DynamicInfo> {
    match FileKind::parse(data).ok()? {
        FileKind::Elf64 => read::<object::elf::FileHeader64<Endianness>, R>(data),
        FileKind::Elf32 => read::<object::elf::FileHeader32<Endianness>, R>(data),
        _ => None,
    }
}

fn read<'data, Elf: FileHeader<Endian = Endianness>, R: ReadRef<'data>>(
    data: R,
) -> Option<DynamicInfo> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let table = sections.dynamic_table(endian, data).ok()?;
    if table.is_empty() {
        // No dynamic section: a static binary or an object file, which the loader never opens.
        return None;
    }
    let mut info = DynamicInfo {
        machine: header.e_machine(endian),
        is_64: match header.e_ident().class {
            ELFCLASS64 => true,
            ELFCLASS32 => false,
            _ => return None,
        },
        soname: None,
        needed: Vec::new(),
    };
    for entry in &table {
        let tag = entry.tag;
        if tag != DT_NEEDED && tag != DT_SONAME {
            continue;
        }
        // A name that is not in the string table or not UTF-8 cannot be matched to a file.
        let Some(name) = table
            .string(entry)
            .ok()
            .and_then(|name| std::str::from_utf8(name).ok())
        else {
            continue;
        };
        if tag == DT_NEEDED {
            info.needed.push(name.to_string());
        } else {
            info.soname = Some(name.to_string());
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's own C library: a real shared object with a soname and a needed loader.
    fn host_library() -> Option<(&'static str, Vec<u8>)> {
        [
            "/lib/x86_64-linux-gnu/libm.so.6",
            "/usr/lib/x86_64-linux-gnu/libm.so.6",
            "/lib/aarch64-linux-gnu/libm.so.6",
            "/usr/lib/aarch64-linux-gnu/libm.so.6",
            "/lib64/libm.so.6",
        ]
        .iter()
        .find_map(|path| Some((*path, std::fs::read(path).ok()?)))
    }

    #[test]
    fn reads_a_real_shared_object() {
        let Some((path, bytes)) = host_library() else {
            return;
        };
        let info = dynamic_info(bytes.as_slice()).expect("libm is ELF");
        let file = object::ReadCache::new(std::fs::File::open(path).unwrap());
        assert_eq!(
            dynamic_info(&file),
            Some(info.clone()),
            "read through a cache"
        );
        assert!(has_magic(&bytes));
        assert_eq!(info.soname.as_deref(), Some("libm.so.6"));
        assert!(info.needed.iter().any(|name| name == "libc.so.6"));
        assert!(info.is_64);
        assert!(info.fits(crate::arch::Arch::host()));
    }

    #[test]
    fn odd_files_are_skipped_not_errors() {
        assert_eq!(
            dynamic_info(&b"/* GNU ld script */ GROUP ( libc.so.6 )"[..]),
            None
        );
        assert_eq!(dynamic_info(&b"\x7fELF\x02\x01\x01"[..]), None);
        assert_eq!(dynamic_info(&[][..]), None);
        // A truncated real library: the header parses, the sections do not.
        if let Some((_, bytes)) = host_library() {
            assert_eq!(dynamic_info(&bytes[..200]), None);
        }
    }
}
