use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use nix::sys::time::TimeSpec;
use oci_spec::image::MediaType;
use tar::EntryType;
use tempfile::TempDir;

use super::unpack::{CAPABILITY_PAX_KEY, CAPABILITY_XATTR, parse_pax_time};
use super::*;
use crate::compression::MEDIA_TYPE_LAYER_TAR;
use crate::error::Diagnostic;
use crate::oci::LayerWriter;

const MTIME: u64 = 1_000_000_000;

fn new_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    (dir, store)
}

/// A tar stream built entry by entry, with names written raw so that unsafe ones (which
/// `tar::Builder`'s path setters refuse) can be made.
struct TestTar(tar::Builder<Vec<u8>>);

impl TestTar {
    fn new() -> Self {
        Self(tar::Builder::new(Vec::new()))
    }

    fn entry(&mut self, name: &str, kind: EntryType, mode: u32, link: &str, data: &[u8]) {
        let mut header = tar::Header::new_ustar();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(MTIME);
        header.set_uid(1000);
        header.set_gid(2000);
        header.set_cksum();
        self.0.append(&header, data).unwrap();
    }

    fn dir(mut self, name: &str, mode: u32) -> Self {
        self.entry(name, EntryType::Directory, mode, "", b"");
        self
    }

    fn file(mut self, name: &str, mode: u32, content: &str) -> Self {
        self.entry(name, EntryType::Regular, mode, "", content.as_bytes());
        self
    }

    fn symlink(mut self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Symlink, 0o777, target, b"");
        self
    }

    fn hard_link(mut self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Link, 0o644, target, b"");
        self
    }

    fn fifo(mut self, name: &str) -> Self {
        self.entry(name, EntryType::Fifo, 0o640, "", b"");
        self
    }

    fn device(mut self, name: &str, kind: EntryType, major: u32, minor: u32) -> Self {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).unwrap();
        header.set_entry_type(kind);
        header.set_mode(0o666);
        header.set_size(0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        header.set_cksum();
        self.0.append(&header, &b""[..]).unwrap();
        self
    }

    /// A pax extended header (`x`) for the entry that follows.
    fn pax(mut self, records: &[(&str, &[u8])]) -> Self {
        let mut data = Vec::new();
        for (key, value) in records {
            // "<length> <key>=<value>\n", where <length> counts itself (here, 2 digits).
            let length = 2 + 3 + key.len() + value.len();
            assert!((10..100).contains(&length));
            data.extend_from_slice(format!("{length} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.entry("././@PaxHeader", EntryType::XHeader, 0o644, "", &data);
        self
    }

    /// The archive as an uncompressed layer blob in `store`, whose diffID is its digest.
    fn store(self, store: &Store) -> (Descriptor, DiffId) {
        let bytes = self.0.into_inner().unwrap();
        let digest = store.write_blob(&bytes).unwrap();
        let descriptor = Descriptor::new(
            MediaType::from(MEDIA_TYPE_LAYER_TAR),
            bytes.len() as u64,
            digest.to_oci(),
        );
        (descriptor, DiffId::new(digest))
    }
}

fn mode(path: &Path) -> u32 {
    fs_err::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    crate::fs_tree::xattr::get(path, name).unwrap()
}

/// Whatever is in `dir`, by name, for "nothing was left behind" checks.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn unpacks_files_directories_and_links() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new()
        .dir("./", 0o755)
        .dir("./etc/", 0o750)
        .file("./etc/config", 0o640, "x = 1\n")
        .symlink("etc/relative", "config")
        .symlink("etc/absolute", "/etc/config")
        .symlink("etc/dangling", "../../../nowhere")
        .hard_link("etc/hard", "etc/config")
        .hard_link("etc/hard-symlink", "./etc/relative")
        .file("bin/tool", 0o4755, "#!/bin/sh\n")
        // Its final mode would stop its entry being written, had it been set first.
        .dir("readonly/", 0o555)
        .file("readonly/file", 0o444, "read me")
        .dir("tmp", 0o1777)
        .file("deep/er/still/file", 0o600, "implicit parents")
        .fifo("run/fifo")
        .file("twice", 0o644, "first")
        .file("twice", 0o600, "second")
        .dir("replaced/", 0o755)
        .file("replaced/inside", 0o644, "gone")
        .file("replaced", 0o644, "a file now")
        .store(&store);
    let cache = LayerCache::for_store(&store);
    assert!(!cache.is_unpacked(&diff_id));
    let root = cache.ensure(&store, &layer, &diff_id).unwrap();
    assert_eq!(root, store.root().join("layers").join(diff_id.hex()));
    assert!(cache.is_unpacked(&diff_id));

    assert_eq!(
        fs_err::read_to_string(root.join("etc/config")).unwrap(),
        "x = 1\n"
    );
    assert_eq!(mode(&root.join("etc")), 0o750);
    assert_eq!(mode(&root.join("etc/config")), 0o640);
    assert_eq!(mode(&root.join("bin/tool")), 0o4755);
    assert_eq!(mode(&root.join("bin")), 0o755, "an implicit parent");
    assert_eq!(mode(&root.join("readonly")), 0o555);
    assert_eq!(
        fs_err::read_to_string(root.join("readonly/file")).unwrap(),
        "read me"
    );
    assert_eq!(mode(&root.join("tmp")), 0o1777);
    assert_eq!(mode(&root), 0o755);
    for (link, target) in [
        ("etc/relative", "config"),
        ("etc/absolute", "/etc/config"),
        ("etc/dangling", "../../../nowhere"),
    ] {
        assert_eq!(
            fs_err::read_link(root.join(link)).unwrap(),
            Path::new(target)
        );
    }
    let config = fs_err::metadata(root.join("etc/config")).unwrap();
    let hard = fs_err::metadata(root.join("etc/hard")).unwrap();
    assert_eq!((config.ino(), config.nlink()), (hard.ino(), 2));
    let symlink = fs_err::symlink_metadata(root.join("etc/relative")).unwrap();
    let hard_symlink = fs_err::symlink_metadata(root.join("etc/hard-symlink")).unwrap();
    assert_eq!(symlink.ino(), hard_symlink.ino());
    assert!(
        fs_err::symlink_metadata(root.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(mode(&root.join("run/fifo")), 0o640);
    assert_eq!(
        fs_err::read_to_string(root.join("deep/er/still/file")).unwrap(),
        "implicit parents"
    );
    assert_eq!(
        fs_err::read_to_string(root.join("twice")).unwrap(),
        "second"
    );
    assert_eq!(mode(&root.join("twice")), 0o600);
    assert_eq!(
        fs_err::read_to_string(root.join("replaced")).unwrap(),
        "a file now"
    );

    // Times, directories' included (set after their entries were written).
    let expected = i64::try_from(MTIME).unwrap();
    for path in [
        "etc",
        "etc/config",
        "etc/relative",
        "readonly",
        "run/fifo",
        ".",
    ] {
        let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
        assert_eq!(metadata.mtime(), expected, "{path}");
    }
    if nix::unistd::geteuid().is_root() {
        for path in ["etc", "etc/config", "etc/relative", "bin/tool", "run/fifo"] {
            let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
            assert_eq!((metadata.uid(), metadata.gid()), (1000, 2000), "{path}");
        }
    }
    assert_eq!(listing(cache.root()), [diff_id.hex()]);
}

#[test]
fn pax_records_set_times_and_file_capabilities() {
    // `security.capability` v2 (linux/capability.h): effective, with `CAP_NET_RAW` (13)
    // permitted.
    let capability: Vec<u8> = [0x0200_0001_u32, 1 << 13, 0, 0, 0]
        .iter()
        .flat_map(|word| word.to_le_bytes())
        .collect();
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new()
        .pax(&[
            ("mtime", b"1700000000.25"),
            (CAPABILITY_PAX_KEY, &capability),
        ])
        .file("bin/ping", 0o755, "")
        .store(&store);
    let root = LayerCache::for_store(&store)
        .ensure(&store, &layer, &diff_id)
        .unwrap();
    let metadata = fs_err::metadata(root.join("bin/ping")).unwrap();
    assert_eq!(
        (metadata.mtime(), metadata.mtime_nsec()),
        (1_700_000_000, 250_000_000)
    );
    let expected = nix::unistd::geteuid().is_root().then_some(capability);
    assert_eq!(xattr(&root.join("bin/ping"), CAPABILITY_XATTR), expected);
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new()
        .dir("dir/", 0o755)
        .file("dir/.wh.gone", 0o644, "")
        .file("dir/.wh..wh..opq", 0o644, "")
        .file("dir/kept", 0o644, "this layer's own")
        // The spec's whiteouts hide only the layers below: `kept` stays.
        .file("dir/.wh.kept", 0o644, "")
        .file("missing/parent/.wh.file", 0o644, "")
        .dir(".wh..wh.plnk/", 0o700)
        .file(".wh..wh.aufs", 0o644, "")
        .store(&store);
    let root = LayerCache::for_store(&store)
        .ensure(&store, &layer, &diff_id)
        .unwrap();
    for path in ["dir/gone", "missing/parent/file"] {
        let metadata = fs_err::symlink_metadata(root.join(path)).unwrap();
        assert!(metadata.file_type().is_char_device(), "{path}");
        assert_eq!(metadata.rdev(), 0, "{path}");
    }
    assert_eq!(
        fs_err::read_to_string(root.join("dir/kept")).unwrap(),
        "this layer's own"
    );
    let opaque = if nix::unistd::geteuid().is_root() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    };
    assert_eq!(xattr(&root.join("dir"), opaque).as_deref(), Some(&b"y"[..]));
    assert_eq!(xattr(&root.join("missing"), opaque), None);
    assert_eq!(listing(&root), ["dir", "missing"]);
    assert_eq!(listing(&root.join("dir")), ["gone", "kept"]);
}

/// A node in a layer would give the device to whoever reaches the layer, whatever the
/// container's device allow-list says: only the 0:0 whiteout is made.
#[test]
fn device_nodes_are_skipped_but_whiteout_nodes_kept() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new()
        .device("kmsg", EntryType::Char, 1, 11)
        .device("dev/sda", EntryType::Block, 8, 0)
        .device("dev/null", EntryType::Char, 1, 3)
        .device("gone", EntryType::Char, 0, 0)
        .store(&store);
    let root = LayerCache::for_store(&store)
        .ensure(&store, &layer, &diff_id)
        .unwrap();
    assert_eq!(listing(&root), ["dev", "gone"]);
    assert!(listing(&root.join("dev")).is_empty());
    let whiteout = fs_err::symlink_metadata(root.join("gone")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
}

#[test]
fn unsafe_entries_are_refused_and_leave_nothing() {
    let outside = tempfile::tempdir().unwrap();
    let outside_path = outside.path().to_str().unwrap().to_string();
    let cases = [
        ("dot-dot", TestTar::new().file("../escape", 0o644, "x")),
        ("absolute", TestTar::new().file("/abs", 0o644, "x")),
        (
            "symlink parent",
            TestTar::new()
                .symlink("link", &outside_path)
                .file("link/file", 0o644, "x"),
        ),
        (
            "relative symlink parent",
            TestTar::new()
                .dir("a/", 0o755)
                .symlink("a/up", "../..")
                .file("a/up/file", 0o644, "x"),
        ),
        (
            "hard link with dot-dot",
            TestTar::new().hard_link("hard", "../outside"),
        ),
        (
            "hard link to an absolute path",
            TestTar::new().hard_link("hard", "/etc/passwd"),
        ),
        (
            "hard link through a symlink",
            TestTar::new()
                .symlink("root", "/")
                .hard_link("hard", "root/etc/passwd"),
        ),
        (
            "hard link to a directory",
            TestTar::new().dir("d/", 0o755).hard_link("hard", "d"),
        ),
        (
            "a resolved directory replaced by a symlink out",
            TestTar::new()
                .dir("d/", 0o755)
                .file("d/first", 0o644, "x")
                .symlink("d", &outside_path)
                .file("d/second", 0o644, "x"),
        ),
        (
            "a resolved directory replaced by a symlink up",
            TestTar::new()
                .dir("d/", 0o755)
                .file("d/first", 0o644, "x")
                .symlink("d", "../..")
                .file("d/second", 0o644, "x"),
        ),
        (
            "a file where a directory goes",
            TestTar::new()
                .file("plain", 0o644, "x")
                .file("plain/file", 0o644, "x"),
        ),
    ];
    for (case, tar) in cases {
        let (_dir, store) = new_store();
        let (layer, diff_id) = tar.store(&store);
        let cache = LayerCache::for_store(&store);
        let error = cache.ensure(&store, &layer, &diff_id).unwrap_err();
        assert!(
            matches!(error, LayerError::UnsafeEntry { .. }),
            "{case}: {error}"
        );
        assert!(error.is_user_error(), "{case}");
        assert!(!cache.is_unpacked(&diff_id), "{case}");
        assert!(
            listing(cache.root()).is_empty(),
            "{case}: a temp dir was left"
        );
        assert!(listing(outside.path()).is_empty(), "{case}: wrote outside");
    }
}

/// `upper` unpacked on `lower` (both stored in `store`): its directory.
fn on_lower(
    store: &Store,
    lower: (Descriptor, DiffId),
    upper: &(Descriptor, DiffId),
) -> Result<PathBuf, LayerError> {
    let cache = LayerCache::for_store(store);
    let below = cache.ensure(store, &lower.0, &lower.1).unwrap();
    let chain = chain_ids(&[lower.1, upper.1.clone()]).pop().unwrap();
    cache.ensure_on(store, &upper.0, &upper.1, &chain, &[below])
}

fn lower_layer(store: &Store) -> (Descriptor, DiffId) {
    TestTar::new()
        .dir("usr/", 0o755)
        .dir("usr/bin/", 0o755)
        .file("usr/bin/tool", 0o4755, "#!/bin/sh\necho tool\n")
        .symlink("bin", "usr/bin")
        .symlink("usr/bin/alias", "tool")
        .symlink("escape", "../../outside")
        .store(store)
}

#[test]
fn hard_links_to_the_layers_below_copy_the_file_up() {
    let (_dir, store) = new_store();
    let upper = TestTar::new()
        .hard_link("opt/one", "usr/bin/tool")
        .hard_link("opt/two", "./usr/bin/tool")
        // Through a symlink of the layer below, to the same file.
        .hard_link("opt/three", "bin/tool")
        .hard_link("opt/alias", "usr/bin/alias")
        .store(&store);
    let root = on_lower(&store, lower_layer(&store), &upper).unwrap();
    // Its content depends on the layer below: named by its chain ID, not its diffID.
    let cache = LayerCache::for_store(&store);
    assert!(!cache.is_unpacked(&upper.1));
    assert_ne!(root.file_name().unwrap(), upper.1.hex());

    assert_eq!(
        fs_err::read_to_string(root.join("opt/one")).unwrap(),
        "#!/bin/sh\necho tool\n"
    );
    assert_eq!(mode(&root.join("opt/one")), 0o4755);
    let inode = |path: &str| fs_err::symlink_metadata(root.join(path)).unwrap().ino();
    assert_eq!(inode("opt/one"), inode("opt/two"));
    assert_eq!(inode("opt/one"), inode("opt/three"));
    assert_eq!(
        fs_err::read_link(root.join("opt/alias")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        fs_err::symlink_metadata(root.join("opt/one"))
            .unwrap()
            .mtime(),
        i64::try_from(MTIME).unwrap()
    );
    if nix::unistd::geteuid().is_root() {
        let metadata = fs_err::metadata(root.join("opt/one")).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (1000, 2000));
    }
    assert!(!root.join("usr").exists(), "only the links are copied");
}

#[test]
fn hard_links_below_that_are_missing_or_leave_the_image_are_refused() {
    let cases = [
        (
            "absent",
            TestTar::new().hard_link("link", "usr/bin/missing"),
        ),
        (
            "whited out",
            TestTar::new()
                .file("usr/bin/.wh.tool", 0o644, "")
                .hard_link("link", "usr/bin/tool"),
        ),
        ("a directory", TestTar::new().hard_link("link", "usr/bin")),
        (
            "through a symlink out",
            TestTar::new().hard_link("link", "escape/file"),
        ),
    ];
    for (case, tar) in cases {
        let (_dir, store) = new_store();
        let lower = lower_layer(&store);
        let upper = tar.store(&store);
        let error = on_lower(&store, lower, &upper).unwrap_err();
        assert!(
            matches!(error, LayerError::UnsafeEntry { .. }),
            "{case}: {error}"
        );
        let left: Vec<String> = listing(LayerCache::for_store(&store).root())
            .into_iter()
            .filter(|name| name.starts_with(TEMP_PREFIX))
            .collect();
        assert!(left.is_empty(), "{case}: {left:?}");
    }
}

#[test]
fn a_wrong_diff_id_leaves_nothing() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
    let wrong = DiffId::new(Digest::of(b"something else"));
    let cache = LayerCache::for_store(&store);
    let error = cache.ensure(&store, &layer, &wrong).unwrap_err();
    let LayerError::DiffIdMismatch {
        expected, actual, ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!((expected, actual), (&wrong, &diff_id));
    assert!(!error.is_user_error());
    assert!(!cache.is_unpacked(&wrong));
    assert!(listing(cache.root()).is_empty());
}

#[test]
fn a_second_ensure_does_not_read_the_blob() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
    let cache = LayerCache::for_store(&store);
    let first = cache.ensure(&store, &layer, &diff_id).unwrap();
    fs_err::remove_file(store.blob_path(diff_id.digest())).unwrap();
    assert_eq!(cache.ensure(&store, &layer, &diff_id).unwrap(), first);
    // A new cache over the same store finds it too.
    let other = LayerCache::new(store.root().join("layers"));
    assert_eq!(other.ensure(&store, &layer, &diff_id).unwrap(), first);
}

#[test]
fn a_layer_unpacked_meanwhile_wins() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    fs_err::create_dir(&target).unwrap();
    fs_err::write(target.join("theirs"), "").unwrap();
    let temp = TempTree::new_in(dir.path(), TEMP_PREFIX).unwrap();
    let temp_path = temp.path().to_path_buf();
    fs_err::create_dir(temp_path.join("readonly")).unwrap();
    fs_err::write(temp_path.join("readonly/ours"), "").unwrap();
    fs_err::set_permissions(
        temp_path.join("readonly"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    assert_eq!(persist(temp, &target).unwrap(), target);
    assert_eq!(listing(&target), ["theirs"]);
    assert_eq!(listing(dir.path()), ["layer"]);
}

#[test]
fn compressed_layers_round_trip() {
    let (_dir, store) = new_store();
    let tree = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(tree.path().join("app/data")).unwrap();
    fs_err::write(tree.path().join("app/main.py"), "print('hi')\n").unwrap();
    fs_err::os::unix::fs::symlink("main.py", tree.path().join("app/link.py")).unwrap();
    let written = LayerWriter::new().write_dir(&store, tree.path()).unwrap();
    let root = LayerCache::for_store(&store)
        .ensure(&store, &written.descriptor(), &written.diff_id)
        .unwrap();
    assert_eq!(
        fs_err::read_to_string(root.join("app/main.py")).unwrap(),
        "print('hi')\n"
    );
    assert_eq!(
        fs_err::read_link(root.join("app/link.py")).unwrap(),
        Path::new("main.py")
    );
    assert!(root.join("app/data").is_dir());
}

#[test]
fn a_missing_blob_names_it() {
    let (_dir, store) = new_store();
    let (layer, diff_id) = TestTar::new().file("file", 0o644, "x").store(&store);
    fs_err::remove_file(store.blob_path(diff_id.digest())).unwrap();
    let error = LayerCache::for_store(&store)
        .ensure(&store, &layer, &diff_id)
        .unwrap_err();
    assert!(
        matches!(error, LayerError::Store(OciError::BlobNotFound { .. })),
        "{error}"
    );
    assert!(!error.hints().is_empty());
}

#[test]
fn parses_pax_times() {
    assert_eq!(
        parse_pax_time("1700000000"),
        Some(TimeSpec::new(1_700_000_000, 0))
    );
    assert_eq!(
        parse_pax_time("1700000000.5"),
        Some(TimeSpec::new(1_700_000_000, 500_000_000))
    );
    assert_eq!(
        parse_pax_time("-1.25"),
        Some(TimeSpec::new(-1, 250_000_000))
    );
    assert_eq!(parse_pax_time("12x"), None);
    assert_eq!(parse_pax_time("1.2x"), None);
}

#[test]
fn errors_name_the_layer_and_the_fix() {
    let digest = Digest::from_sha256_hex(&"ab".repeat(32)).unwrap();
    let error = LayerError::DiffIdMismatch {
        digest: digest.clone(),
        expected: DiffId::new(Digest::from_sha256_hex(&"cd".repeat(32)).unwrap()),
        actual: DiffId::new(Digest::from_sha256_hex(&"ef".repeat(32)).unwrap()),
    };
    insta::assert_snapshot!(error, @"layer `sha256:abababababababababababababababababababababababababababababababab` unpacks to content with diffID `sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef`, but the image config says `sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd`");
    insta::assert_snapshot!(error.hints().join("\n"), @"the store's copy is damaged; remove the image with `mlpack rmi` and build or pull it again");
    let error = LayerError::UnsafeEntry {
        digest,
        entry: "../escape".to_string(),
        reason: "it has a `..` component".to_string(),
    };
    insta::assert_snapshot!(error, @"layer `sha256:abababababababababababababababababababababababababababababababab` has an unsafe entry `../escape`: it has a `..` component");
    insta::assert_snapshot!(error.hints().join("\n"), @"mlpack refuses layers that could write outside their own directory; use an image from a source you trust");
}

/// Every node below `root` with its type, mode, owner, mtime and content; the root itself
/// by its mode only (its times are the unpacking's).
fn tree_metadata(root: &Path) -> Vec<String> {
    let mut nodes: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.path().symlink_metadata().unwrap();
            let relative = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            if relative.is_empty() {
                return format!("/ {:o}", metadata.mode());
            }
            let content = if metadata.is_file() {
                fs_err::read_to_string(entry.path()).unwrap()
            } else if metadata.is_symlink() {
                fs_err::read_link(entry.path())
                    .unwrap()
                    .display()
                    .to_string()
            } else {
                String::new()
            };
            format!(
                "{relative} {:o} {}:{} {} {} {content}",
                metadata.mode(),
                metadata.uid(),
                metadata.gid(),
                metadata.mtime(),
                metadata.nlink(),
            )
        })
        .collect();
    nodes.sort();
    nodes
}

/// A build's staging tree, normalized once its layer is written, is what unpacking that layer
/// gives, and the cache takes it as the layer; a tree unpacking would change is left alone.
#[test]
fn a_normalized_staging_tree_is_the_unpacked_layer() {
    let (dir, store) = new_store();
    let staging = store.temp_tree("build-").unwrap();
    let tree = staging.path();
    for (path, mode) in [("bin", 0o750), ("private", 0o700), ("tmp", 0o1777)] {
        fs_err::create_dir_all(tree.join(path)).unwrap();
        fs_err::set_permissions(tree.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    for (path, mode) in [
        ("bin/tool", 0o700),
        ("private/key", 0o600),
        ("bin/setuid", 0o4711),
    ] {
        fs_err::write(tree.join(path), path).unwrap();
        fs_err::set_permissions(tree.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    fs_err::hard_link(tree.join("bin/tool"), tree.join("bin/tool2")).unwrap();
    fs_err::os::unix::fs::symlink("bin/tool", tree.join("link")).unwrap();
    // Another owner's set-uid file (as a `[build] run` step may leave): the chown to root
    // clears the set-uid bit, which unpacking keeps.
    let owned = tree.join("bin/owned");
    fs_err::write(&owned, "owned").unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(&owned, Some(1000), Some(1000)).unwrap();
    }
    fs_err::set_permissions(&owned, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let writer = LayerWriter::new().mtime(MTIME);
    let layer = writer.write_dir(&store, tree).unwrap();
    assert!(writer.normalize_as_unpacked(tree).unwrap());
    let normalized = tree_metadata(tree);
    assert!(
        normalized.contains(&"/ 40755".to_string()),
        "{normalized:?}"
    );
    assert!(
        normalized
            .iter()
            .any(|node| node.starts_with("bin/owned 104755 0:0 ")),
        "{normalized:?}"
    );

    let elsewhere = LayerCache::new(dir.path().join("elsewhere"));
    let unpacked = elsewhere
        .ensure(&store, &layer.descriptor(), &layer.diff_id)
        .unwrap();
    assert_eq!(tree_metadata(&unpacked), normalized);
    let cache = LayerCache::for_store(&store);
    let staging = SyncedTree::sync(staging).unwrap();
    let adopted = cache.adopt(staging, &layer.diff_id).unwrap();
    assert_eq!(adopted, cache.path(&layer.diff_id));
    assert_eq!(tree_metadata(&adopted), normalized);

    let whiteout = store.temp_tree("build-").unwrap();
    fs_err::write(whiteout.path().join(".wh.gone"), "").unwrap();
    writer.write_dir(&store, whiteout.path()).unwrap();
    assert!(!writer.normalize_as_unpacked(whiteout.path()).unwrap());
}
