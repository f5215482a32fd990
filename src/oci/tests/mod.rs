//! Tests of the layer writer, the store and the exporters, on trees and stores made in temp
//! directories.

mod export;
mod layer;
mod store;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, SystemTime};

use tempfile::TempDir;

use super::{HistoryEntry, ImageSpec, Layer, LayerWriter, Store, write_image};

pub(super) fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    (dir, store)
}

/// The temp files (`.tmp-*`) anywhere under the store's `tmp/`: none once every write is
/// done.
pub(super) fn temp_files(store: &Store) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![store.temp_dir()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-")
            {
                found.push(path);
            }
        }
    }
    found
}

/// A tar entry as a test looks at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    pub path: String,
    pub kind: char,
    pub mode: u32,
    pub link: Option<String>,
    pub size: u64,
}

/// The entries of a tar stream, with pax records applied, checking the fields every entry of a
/// reproducible layer must have.
pub(super) fn list_tar(bytes: &[u8], mtime: u64) -> Vec<Listed> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            assert_eq!(header.uid().unwrap(), 0, "{path}");
            assert_eq!(header.gid().unwrap(), 0, "{path}");
            assert_eq!(header.mtime().unwrap(), mtime, "{path}");
            assert_eq!(header.username_bytes(), Some(&b""[..]), "{path}");
            assert_eq!(header.groupname_bytes(), Some(&b""[..]), "{path}");
            assert!(header.as_ustar().is_some(), "{path} is not a ustar header");
            Listed {
                kind: char::from(header.entry_type().as_byte()),
                mode: header.mode().unwrap(),
                link: entry
                    .link_name_bytes()
                    .map(|link| String::from_utf8(link.into_owned()).unwrap()),
                size: entry.size(),
                path,
            }
        })
        .collect()
}

/// The type flags of every header in a tar stream, pax headers included, with their raw
/// (ustar) names.
pub(super) fn raw_headers(bytes: &[u8]) -> Vec<(char, Vec<u8>)> {
    let mut headers = Vec::new();
    let mut offset = 0;
    while offset + 512 <= bytes.len() {
        let block = &bytes[offset..offset + 512];
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let header = tar::Header::from_byte_slice(block);
        let size = header.entry_size().unwrap();
        headers.push((
            char::from(header.entry_type().as_byte()),
            header.path_bytes().into_owned(),
        ));
        offset += 512 + usize::try_from(size.div_ceil(512) * 512).unwrap();
    }
    headers
}

/// The uncompressed tar of a layer in the store.
pub(super) fn layer_tar(store: &Store, layer: &Layer) -> Vec<u8> {
    let mut bytes = Vec::new();
    store
        .open_layer(&layer.descriptor())
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// How a copy of the test tree differs from another: the order files are made in, the
/// permission bits a umask leaves, the times and the owner.
#[derive(Clone, Copy)]
pub(super) struct Variant {
    pub reverse: bool,
    pub group_writable: bool,
    pub mtime: u64,
    pub owner: u32,
}

pub(super) const FIRST: Variant = Variant {
    reverse: false,
    group_writable: false,
    mtime: 1_000_000_000,
    owner: 0,
};
pub(super) const SECOND: Variant = Variant {
    reverse: true,
    group_writable: true,
    mtime: 1_700_000_000,
    owner: 1234,
};

pub(super) const LONG_DIR: &str = "deep/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
pub(super) const LONG_FILE: &str = concat!(
    "deep/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff.txt"
);

enum Node {
    Dir(&'static str),
    File(&'static str, &'static str, bool),
    Link(&'static str, &'static str),
    HardLink(&'static str, &'static str),
}

/// Write the test tree under `root`: directories, plain and executable files, a symlink, two
/// hard-linked paths, a path over 100 bytes, a sticky `tmp/`, an empty directory and a
/// whiteout.
pub(super) fn make_tree(root: &Path, variant: Variant) {
    let mut nodes = vec![
        Node::Dir("bin"),
        Node::File("bin/tool", "#!/bin/sh\necho hi\n", true),
        Node::Dir("etc"),
        Node::File("etc/config.txt", "x = 1\n", false),
        Node::Dir("usr"),
        Node::Dir("usr/lib"),
        Node::File("usr/lib/libfoo.so.1", "\x7fELF not really\n", false),
        Node::Link("usr/lib/libfoo.so", "libfoo.so.1"),
        Node::Dir("data"),
        // Made under the later name first: the layer still stores it under `data/a.txt`.
        Node::File("data/b.txt", "shared content\n", false),
        Node::HardLink("data/a.txt", "data/b.txt"),
        Node::Dir("deep"),
        Node::Dir(LONG_DIR),
        Node::File(LONG_FILE, "long\n", false),
        Node::Dir("tmp"),
        Node::Dir("var"),
        Node::Dir("var/empty"),
        Node::File(".wh.removed", "", false),
    ];
    if variant.reverse {
        // Children before parents would fail, so reverse within each level instead: make all
        // directories first (in reverse), then everything else in reverse.
        let (mut dirs, mut rest): (Vec<Node>, Vec<Node>) = nodes
            .into_iter()
            .partition(|node| matches!(node, Node::Dir(_)));
        dirs.sort_by_key(|node| match node {
            Node::Dir(path) => path.len(),
            _ => 0,
        });
        rest.reverse();
        // The hard link must come after its target.
        rest.sort_by_key(|node| matches!(node, Node::HardLink(..)));
        dirs.extend(rest);
        nodes = dirs;
    }
    let (file_mode, exec_mode, dir_mode) = if variant.group_writable {
        (0o664, 0o775, 0o775)
    } else {
        (0o600, 0o700, 0o700)
    };
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(variant.mtime);
    for node in &nodes {
        match *node {
            Node::Dir(path) => {
                let path = root.join(path);
                fs_err::create_dir(&path).unwrap();
                let mode = if path.ends_with("tmp") {
                    0o1777
                } else {
                    dir_mode
                };
                fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            }
            Node::File(path, content, executable) => {
                let path = root.join(path);
                fs_err::write(&path, content).unwrap();
                let mode = if executable { exec_mode } else { file_mode };
                fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                fs_err::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(time)
                    .unwrap();
            }
            Node::Link(path, target) => symlink(target, root.join(path)).unwrap(),
            Node::HardLink(path, target) => {
                fs_err::hard_link(root.join(target), root.join(path)).unwrap();
            }
        }
        if variant.owner != 0 {
            // Only root may give files away; elsewhere the owners simply stay the same.
            let _ = std::os::unix::fs::lchown(
                root.join(node_path(node)),
                Some(variant.owner),
                Some(variant.owner),
            );
        }
    }
}

fn node_path(node: &Node) -> &'static str {
    match *node {
        Node::Dir(path) | Node::File(path, ..) | Node::Link(path, _) | Node::HardLink(path, _) => {
            path
        }
    }
}

/// A small image of the test tree plus one more layer, tagged `name`.
pub(super) fn tagged_image(
    store: &Store,
    name: &str,
    extra_file: &str,
) -> (Vec<Layer>, super::Descriptor) {
    let trees = tempfile::tempdir().unwrap();
    let base = trees.path().join("base");
    fs_err::create_dir(&base).unwrap();
    make_tree(&base, FIRST);
    let app = trees.path().join("app");
    fs_err::create_dir_all(app.join("app")).unwrap();
    fs_err::write(app.join("app").join("main.py"), extra_file).unwrap();
    let writer = LayerWriter::new();
    let layers = vec![
        writer.write_dir(store, &base).unwrap(),
        writer
            .clone()
            .compression(crate::compression::Compression::Gzip)
            .write_dir(store, &app)
            .unwrap(),
    ];
    let descriptor = write_image(store, &image_spec(layers.clone())).unwrap();
    store.tag(&name.parse().unwrap(), &descriptor).unwrap();
    (layers, descriptor)
}

pub(super) fn image_spec(layers: Vec<Layer>) -> ImageSpec {
    let history = layers
        .iter()
        .enumerate()
        .map(|(index, _)| HistoryEntry {
            created_by: format!("mlpack build: layer {index}"),
            comment: String::new(),
            empty_layer: false,
        })
        .collect();
    ImageSpec {
        layers,
        env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".to_string()],
        working_dir: "/app".to_string(),
        cmd: vec!["python".to_string(), "main.py".to_string()],
        entrypoint: Vec::new(),
        user: String::new(),
        exposed_ports: Vec::new(),
        volumes: Vec::new(),
        stop_signal: String::new(),
        labels: BTreeMap::from([
            (
                "org.opencontainers.image.title".to_string(),
                "test".to_string(),
            ),
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]),
        created: "2000-01-01T00:00:00Z".to_string(),
        architecture: "amd64".to_string(),
        os: "linux".to_string(),
        history,
    }
}
