use std::io::Read;

use super::{
    FIRST, LONG_FILE, Listed, SECOND, layer_tar, list_tar, make_tree, new_store, raw_headers,
    temp_files,
};
use crate::compression::Compression;
use crate::error::Diagnostic;
use crate::oci::layer::parse_source_date_epoch;
use crate::oci::{DEFAULT_MTIME, Digest, LayerWriter, OciError};

fn entry(path: &str, kind: char, mode: u32, link: Option<&str>, size: u64) -> Listed {
    Listed {
        path: path.to_string(),
        kind,
        mode,
        link: link.map(str::to_string),
        size,
    }
}

#[test]
fn the_same_tree_gives_the_same_layer() {
    let (_dir, store) = new_store();
    let trees = tempfile::tempdir().unwrap();
    let (one, two) = (trees.path().join("one"), trees.path().join("two"));
    fs_err::create_dir(&one).unwrap();
    fs_err::create_dir(&two).unwrap();
    make_tree(&one, FIRST);
    make_tree(&two, SECOND);

    for compression in [Compression::Zstd, Compression::Gzip] {
        let writer = LayerWriter::new().compression(compression);
        let first = writer.write_dir(&store, &one).unwrap();
        let second = writer.write_dir(&store, &two).unwrap();
        assert_eq!(first, second, "{compression:?}");
        assert_eq!(
            Some(first.media_type.as_str()),
            compression.layer_media_type()
        );
        assert!(store.has_blob(&first.digest));
        let tar = layer_tar(&store, &first);
        assert_eq!(Digest::of(&tar), *first.diff_id.digest());
        let blob = fs_err::read(store.blob_path(&first.digest)).unwrap();
        assert_eq!(
            (Digest::of(&blob), blob.len() as u64),
            (first.digest.clone(), first.size)
        );
    }
    // Same tar under either compression.
    let zstd = LayerWriter::new().write_dir(&store, &one).unwrap();
    let gzip = LayerWriter::new()
        .compression(Compression::Gzip)
        .write_dir(&store, &one)
        .unwrap();
    assert_eq!(zstd.diff_id, gzip.diff_id);
    assert_ne!(zstd.digest, gzip.digest);
}

#[test]
fn entries_are_sorted_normalized_and_parents_explicit() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    make_tree(tree.path(), SECOND);
    let layer = LayerWriter::new()
        .mtime(1234)
        .write_dir(&store, tree.path())
        .unwrap();
    let listed = list_tar(&layer_tar(&store, &layer), 1234);
    let long_dir = format!("{}/", super::LONG_DIR);
    assert_eq!(
        listed,
        vec![
            entry(".wh.removed", '0', 0o644, None, 0),
            entry("bin/", '5', 0o755, None, 0),
            entry("bin/tool", '0', 0o755, None, 18),
            entry("data/", '5', 0o755, None, 0),
            entry("data/a.txt", '0', 0o644, None, 15),
            entry("data/b.txt", '1', 0o644, Some("data/a.txt"), 0),
            entry("deep/", '5', 0o755, None, 0),
            entry(&long_dir, '5', 0o755, None, 0),
            entry(LONG_FILE, '0', 0o644, None, 5),
            entry("etc/", '5', 0o755, None, 0),
            entry("etc/config.txt", '0', 0o644, None, 6),
            entry("tmp/", '5', 0o1777, None, 0),
            entry("usr/", '5', 0o755, None, 0),
            entry("usr/lib/", '5', 0o755, None, 0),
            entry("usr/lib/libfoo.so", '2', 0o777, Some("libfoo.so.1"), 0),
            entry("usr/lib/libfoo.so.1", '0', 0o644, None, 16),
            entry("var/", '5', 0o755, None, 0),
            entry("var/empty/", '5', 0o755, None, 0),
        ]
    );
}

#[test]
fn long_paths_use_pax_headers() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    make_tree(tree.path(), FIRST);
    let long_target = format!("../{}", "t".repeat(120));
    std::os::unix::fs::symlink(&long_target, tree.path().join("bin").join("long-link")).unwrap();
    let layer = LayerWriter::new().write_dir(&store, tree.path()).unwrap();
    let tar = layer_tar(&store, &layer);

    let headers = raw_headers(&tar);
    assert!(
        headers.iter().all(|(kind, _)| !matches!(kind, 'L' | 'K')),
        "no GNU long names"
    );
    let position = |name: &[u8]| headers.iter().position(|(_, raw)| raw == name);
    // The long file: a pax header, then the entry with its name cut to 100 bytes.
    let long = position(&LONG_FILE.as_bytes()[..100]).unwrap();
    assert_eq!(headers[long - 1], ('x', b"././@PaxHeader".to_vec()));
    // The long directory (101 bytes with its slash) too.
    let long_dir = position(&format!("{}/", super::LONG_DIR).as_bytes()[..100]).unwrap();
    assert_eq!(headers[long_dir - 1].0, 'x');
    // Short names get no pax header.
    let short = position(b"bin/tool").unwrap();
    assert_ne!(headers[short - 1].0, 'x');

    let listed = list_tar(&tar, DEFAULT_MTIME);
    let link = listed.iter().find(|e| e.path == "bin/long-link").unwrap();
    assert_eq!(link.link.as_deref(), Some(long_target.as_str()));
    assert!(listed.iter().any(|e| e.path == LONG_FILE));
}

#[test]
fn zstd_output_does_not_depend_on_the_thread_count() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    // 24 MiB of compressible but not trivial bytes: several zstd jobs.
    let mut state: u32 = 1;
    let data: Vec<u8> = (0..24 << 20)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            b"abcdefgh"[(state >> 28) as usize & 7]
        })
        .collect();
    fs_err::write(tree.path().join("big"), &data).unwrap();
    let one = LayerWriter::new()
        .threads(1)
        .write_dir(&store, tree.path())
        .unwrap();
    let four = LayerWriter::new()
        .threads(4)
        .write_dir(&store, tree.path())
        .unwrap();
    assert_eq!(one, four);
}

#[test]
fn sockets_and_non_directories_are_refused() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    let socket_path = tree.path().join("control.sock");
    let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let error = LayerWriter::new()
        .write_dir(&store, tree.path())
        .unwrap_err();
    assert!(
        matches!(error, OciError::UnsupportedFileType { .. }),
        "{error}"
    );

    let file = tree.path().join("file");
    fs_err::write(&file, "x").unwrap();
    let error = LayerWriter::new().write_dir(&store, &file).unwrap_err();
    assert!(matches!(error, OciError::NotADirectory { .. }), "{error}");
    // Nothing was left behind in the store's temp directory.
    assert_eq!(temp_files(&store), Vec::<std::path::PathBuf>::new());
}

/// A reader that fails after `.0` bytes, like a download cut off part-way.
struct Failing(usize);
impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'a');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn an_interrupted_write_leaves_no_blob() {
    let (_dir, store) = new_store();
    // A writer dropped part-way.
    assert!(store.write_blob_from(&mut Failing(100_000)).is_err());
    let partial = Digest::of(&vec![b'a'; 100_000]);
    assert!(!store.has_blob(&partial));
    assert_eq!(temp_files(&store), Vec::<std::path::PathBuf>::new());

    // A killed process's temp file stays in its tree in `tmp/` (removed with the tree by the
    // next `Store::open`), never under `blobs/`.
    let temp = store.temp_file().unwrap();
    fs_err::write(temp.path(), b"half a layer").unwrap();
    let (_, kept) = temp.keep().unwrap();
    assert!(!store.has_blob(&Digest::of(b"half a layer")));
    assert_eq!(temp_files(&store), [kept]);

    // An older mlpack wrote temp files straight into `tmp/`; an interrupted pull leaves its
    // partial download: `prune` removes both.
    for name in [".tmp-old", "partial-0123"] {
        fs_err::write(store.temp_dir().join(name), b"stray").unwrap();
    }
    let report = store.prune(&[]).unwrap();
    assert_eq!(report.temp_files_removed, 2);
    assert_eq!(report.bytes_freed, 10);
}

#[test]
fn source_date_epoch_sets_the_mtime() {
    // The environment is shared by tests running in parallel, so check the parsing alone.
    assert_eq!(
        parse_source_date_epoch("1700000000").unwrap(),
        Some(1_700_000_000)
    );
    assert_eq!(parse_source_date_epoch(" 42\n").unwrap(), Some(42));
    assert_eq!(parse_source_date_epoch("").unwrap(), None);
    let error = parse_source_date_epoch("yesterday").unwrap_err();
    insta::assert_snapshot!(error, @"invalid `SOURCE_DATE_EPOCH` value `yesterday`: expected a whole number of seconds");
    insta::assert_snapshot!(error.hints().join("\n"), @"set `SOURCE_DATE_EPOCH` to seconds since 1970 (`git log -1 --format=%ct`), or unset it");

    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    fs_err::write(tree.path().join("f"), "x").unwrap();
    let layer = LayerWriter::new()
        .mtime(1_700_000_000)
        .write_dir(&store, tree.path())
        .unwrap();
    list_tar(&layer_tar(&store, &layer), 1_700_000_000);
}
