//! `.deb`s built in the test, good and malicious: the tar headers are written by hand, since
//! `tar::Builder` refuses the paths an attacker would use.

use std::io::{Read, Write};
use std::path::Path;

use tar::EntryType;

use super::*;

struct Entry {
    path: &'static str,
    kind: EntryType,
    mode: u32,
    data: &'static [u8],
    link: &'static str,
}

fn dir(path: &'static str) -> Entry {
    Entry {
        path,
        kind: EntryType::Directory,
        mode: 0o755,
        data: b"",
        link: "",
    }
}

fn file(path: &'static str, data: &'static [u8]) -> Entry {
    Entry {
        path,
        kind: EntryType::Regular,
        mode: 0o644,
        data,
        link: "",
    }
}

fn symlink(path: &'static str, link: &'static str) -> Entry {
    Entry {
        path,
        kind: EntryType::Symlink,
        mode: 0o777,
        data: b"",
        link,
    }
}

fn hard_link(path: &'static str, link: &'static str) -> Entry {
    Entry {
        path,
        kind: EntryType::Link,
        mode: 0o644,
        data: b"",
        link,
    }
}

fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let old = header.as_old_mut();
        old.name[..entry.path.len()].copy_from_slice(entry.path.as_bytes());
        old.linkname[..entry.link.len()].copy_from_slice(entry.link.as_bytes());
        header.set_entry_type(entry.kind);
        header.set_mode(entry.mode);
        header.set_size(entry.data.len() as u64);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        builder.append(&header, entry.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn compress(data: &[u8], compression: &str) -> Vec<u8> {
    match compression {
        "" => data.to_vec(),
        ".gz" => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(data).unwrap();
            encoder.finish().unwrap()
        }
        ".xz" => {
            let mut compressed = Vec::new();
            liblzma::read::XzEncoder::new(data, 1)
                .read_to_end(&mut compressed)
                .unwrap();
            compressed
        }
        ".zst" => zstd::encode_all(data, 1).unwrap(),
        other => panic!("{other}"),
    }
}

const CONTROL: &str = "Package: demo\nVersion: 1.0-1\nArchitecture: all\n\
                       Maintainer: Someone <someone@example.org>\nDescription: a demo\n more text\n";

fn deb(data: &[Entry], compression: &str) -> Vec<u8> {
    let control = tar(&[
        dir("./"),
        Entry {
            path: "./control",
            kind: EntryType::Regular,
            mode: 0o644,
            data: CONTROL.as_bytes(),
            link: "",
        },
        file(
            "./conffiles",
            b"/etc/demo.conf\nremove-on-upgrade /etc/old.conf\n",
        ),
        file(
            "./md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/hello\n",
        ),
        Entry {
            path: "./postinst",
            kind: EntryType::Regular,
            mode: 0o755,
            data: b"#!/bin/sh\nexit 1\n",
            link: "",
        },
    ]);
    let data_name = format!("data.tar{compression}");
    let members = [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", compress(&control, ".gz")),
        (data_name.as_str(), compress(&tar(data), compression)),
    ];
    let mut builder = ar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        builder.append(&header, bytes.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn write_deb(directory: &Path, data: &[Entry], compression: &str) -> PathBuf {
    let path = directory.join(format!("demo{compression}.deb"));
    fs_err::write(&path, deb(data, compression)).unwrap();
    path
}

/// A temporary directory holding `root/` and `outside/` (with one file), and the `.deb`s.
struct Sandbox {
    directory: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        fs_err::create_dir(directory.path().join("root")).unwrap();
        fs_err::create_dir(directory.path().join("outside")).unwrap();
        fs_err::write(directory.path().join("outside/keep"), "keep").unwrap();
        Self { directory }
    }

    fn root(&self) -> PathBuf {
        self.directory.path().join("root")
    }

    fn outside(&self) -> PathBuf {
        self.directory.path().join("outside")
    }

    /// Everything under the sandbox except the root, the `.deb`s and `outside/keep`: should
    /// stay empty whatever the root's packages do.
    fn assert_outside_unchanged(&self) {
        let mut found: Vec<String> = walkdir::WalkDir::new(self.directory.path())
            .into_iter()
            .map(|entry| {
                entry
                    .unwrap()
                    .path()
                    .strip_prefix(self.directory.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .filter(|path| {
                !path.starts_with("root")
                    && Path::new(path)
                        .extension()
                        .is_none_or(|extension| extension != "deb")
            })
            .collect();
        found.sort();
        assert_eq!(found, ["", "outside", "outside/keep"]);
        assert_eq!(
            fs_err::read_to_string(self.outside().join("keep")).unwrap(),
            "keep"
        );
    }

    fn extract(&self, data: &[Entry]) -> Result<Extracted, DebianError> {
        let deb = write_deb(self.directory.path(), data, ".gz");
        extract(&deb, &self.root())
    }
}

fn good_data() -> Vec<Entry> {
    vec![
        dir("./"),
        dir("./usr/"),
        dir("./usr/bin/"),
        Entry {
            path: "./usr/bin/hello",
            kind: EntryType::Regular,
            mode: 0o4755,
            data: b"#!/bin/sh\necho hello\n",
            link: "",
        },
        symlink("./usr/bin/hi", "hello"),
        symlink("./usr/bin/abs", "/usr/bin/hello"),
        hard_link("./usr/bin/hello2", "./usr/bin/hello"),
        file("./etc/demo.conf", b"x=1\n"),
        Entry {
            path: "./dev/null",
            kind: EntryType::Char,
            mode: 0o666,
            data: b"",
            link: "",
        },
        // Merged `/usr`: `bin` is a symlink in the root, so this lands in `usr/bin`.
        file("./bin/sh-tool", b"tool\n"),
    ]
}

#[test]
fn extracts_every_compression() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for compression in ["", ".gz", ".xz", ".zst"] {
        let sandbox = Sandbox::new();
        let root = sandbox.root();
        fs_err::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        let deb = write_deb(sandbox.directory.path(), &good_data(), compression);
        let extracted = extract(&deb, &root).unwrap();
        assert_eq!(extracted.package, "demo");
        assert_eq!(extracted.version, "1.0-1");
        assert_eq!(extracted.architecture, "all");
        assert_eq!(extracted.control, CONTROL);
        assert_eq!(extracted.conffiles, ["/etc/demo.conf", "/etc/old.conf"]);
        assert!(
            extracted
                .md5sums
                .as_deref()
                .unwrap()
                .contains("usr/bin/hello")
        );
        assert_eq!(
            extracted.maintainer_scripts.keys().collect::<Vec<_>>(),
            ["postinst"]
        );
        assert_eq!(
            extracted.maintainer_scripts["postinst"],
            "#!/bin/sh\nexit 1\n"
        );
        assert_eq!(
            extracted.paths,
            [
                "/.",
                "/usr",
                "/usr/bin",
                "/usr/bin/hello",
                "/usr/bin/hi",
                "/usr/bin/abs",
                "/usr/bin/hello2",
                "/etc/demo.conf",
                "/bin/sh-tool"
            ]
        );
        assert_eq!(extracted.skipped.len(), 1, "{:?}", extracted.skipped);
        let hello = fs_err::metadata(root.join("usr/bin/hello")).unwrap();
        assert_eq!(hello.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(hello.nlink(), 2);
        assert_eq!(
            fs_err::read_link(root.join("usr/bin/hi")).unwrap(),
            Path::new("hello")
        );
        assert_eq!(
            fs_err::read_to_string(root.join("usr/bin/sh-tool")).unwrap(),
            "tool\n"
        );
        assert!(
            fs_err::symlink_metadata(root.join("bin"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(!root.join("dev/null").exists());
        sandbox.assert_outside_unchanged();
    }
}

#[test]
fn replaces_a_symlink_instead_of_writing_through_it() {
    let sandbox = Sandbox::new();
    let root = sandbox.root();
    fs_err::create_dir(root.join("etc")).unwrap();
    // A symlink left by an earlier package, pointing outside (as the host would read it).
    fs_err::os::unix::fs::symlink(sandbox.outside().join("keep"), root.join("etc/demo.conf"))
        .unwrap();
    sandbox
        .extract(&[dir("./"), file("./etc/demo.conf", b"new\n")])
        .unwrap();
    assert_eq!(
        fs_err::read_to_string(root.join("etc/demo.conf")).unwrap(),
        "new\n"
    );
    sandbox.assert_outside_unchanged();
}

fn refused(sandbox: &Sandbox, data: &[Entry]) -> String {
    let error = sandbox.extract(data).unwrap_err();
    assert!(matches!(error, DebianError::UnsafeEntry { .. }), "{error}");
    sandbox.assert_outside_unchanged();
    error
        .to_string()
        .replace(&sandbox.directory.path().display().to_string(), "[TMP]")
}

#[test]
fn refuses_parent_components() {
    let sandbox = Sandbox::new();
    insta::assert_snapshot!(
        refused(&sandbox, &[dir("./"), file("./../outside/evil", b"evil")]),
        @"refusing entry `./../outside/evil` of package `demo` (`[TMP]/demo.gz.deb`): `./../outside/evil` has a `..` component"
    );
    insta::assert_snapshot!(
        refused(&sandbox, &[dir("./"), file("../evil", b"evil")]),
        @"refusing entry `../evil` of package `demo` (`[TMP]/demo.gz.deb`): `../evil` has a `..` component"
    );
}

#[test]
fn refuses_absolute_paths() {
    let sandbox = Sandbox::new();
    let text = refused(&sandbox, &[dir("./"), file("/tmp/evil", b"evil")]);
    insta::assert_snapshot!(text, @"refusing entry `/tmp/evil` of package `demo` (`[TMP]/demo.gz.deb`): `/tmp/evil` is an absolute path");
    refused(&sandbox, &[dir("./"), hard_link("./passwd", "/etc/passwd")]);
}

#[test]
fn refuses_symlinks_that_escape() {
    let sandbox = Sandbox::new();
    // A relative symlink that climbs out of the root, then a file through it.
    let text = refused(
        &sandbox,
        &[
            dir("./"),
            symlink("./escape", "../outside"),
            file("./escape/evil", b"evil"),
        ],
    );
    insta::assert_snapshot!(text, @"refusing entry `./escape` of package `demo` (`[TMP]/demo.gz.deb`): its symlink target `../outside` leads outside the root");
    assert!(!sandbox.root().join("escape").exists());

    // An absolute symlink is kept (it means the image's own path), but writing through it
    // stays inside the root; here its target does not exist there, so the file is refused.
    let outside = sandbox.outside().display().to_string().leak();
    let text = refused(
        &sandbox,
        &[
            dir("./"),
            symlink("./abs", outside),
            file("./abs/evil", b"evil"),
        ],
    );
    assert!(text.contains("entry `./abs/evil`"), "{text}");
    assert!(text.contains("which does not exist"), "{text}");
}

#[test]
fn refuses_writing_through_an_escaping_symlink_already_in_the_root() {
    let sandbox = Sandbox::new();
    let root = sandbox.root();
    fs_err::os::unix::fs::symlink("../outside", root.join("planted")).unwrap();
    fs_err::os::unix::fs::symlink("../../../../../../../..", root.join("deep")).unwrap();
    for data in [
        [dir("./"), file("./planted/evil", b"evil")],
        [dir("./"), file("./deep/tmp/evil", b"evil")],
        [dir("./"), hard_link("./link", "./planted/keep")],
    ] {
        let text = refused(&sandbox, &data);
        assert!(
            text.contains("leads outside the root") || text.contains("not a regular file"),
            "{text}"
        );
    }
}

#[test]
fn refuses_malformed_packages() {
    let sandbox = Sandbox::new();
    let path = sandbox.directory.path().join("bad.deb");
    fs_err::write(&path, b"!<arch>\n").unwrap();
    let error = extract(&path, &sandbox.root()).unwrap_err();
    assert!(
        error.to_string().contains("has no control archive"),
        "{error}"
    );
    fs_err::write(&path, b"not an archive").unwrap();
    assert!(matches!(
        extract(&path, &sandbox.root()).unwrap_err(),
        DebianError::BadDeb { .. }
    ));
}
