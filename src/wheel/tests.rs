//! Installs of wheels built here with the `zip` crate (good ones, and ones crafted to escape or
//! lie), and, behind `test-pypi`, of real wheels from PyPI imported by the local `python3`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::record;
use super::write::Runs;
use super::*;
use crate::error::Diagnostic;

const LIB: &str = "usr/local/lib/python3.11/dist-packages";

fn installer() -> WheelInstaller {
    WheelInstaller {
        scheme: InstallScheme::debian("3.11"),
        python: "/usr/bin/python3".to_string(),
    }
}

/// A wheel to write: files with their modes, and ways to make it lie.
struct TestWheel {
    filename: String,
    dist_info: String,
    root_is_purelib: bool,
    files: Vec<(String, Vec<u8>, u32)>,
    /// Archive entries left out of `RECORD`.
    unrecorded: Vec<(String, Vec<u8>)>,
    /// `RECORD` rows for files the archive lacks.
    record_only: Vec<String>,
    /// Files whose archive bytes differ from what `RECORD` hashes.
    tampered: Vec<(String, Vec<u8>)>,
    symlinks: Vec<(String, String)>,
}

impl TestWheel {
    fn new(name: &str, version: &str) -> Self {
        Self {
            filename: format!("{name}-{version}-py3-none-any.whl"),
            dist_info: format!("{name}-{version}.dist-info"),
            root_is_purelib: true,
            files: vec![(
                format!("{name}-{version}.dist-info/METADATA"),
                format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").into_bytes(),
                0o644,
            )],
            unrecorded: Vec::new(),
            record_only: Vec::new(),
            tampered: Vec::new(),
            symlinks: Vec::new(),
        }
    }

    fn demo() -> Self {
        Self::new("demo", "1.0")
            .file("demo/__init__.py", "from demo.util import answer\n")
            .file("demo/util.py", "def answer():\n    return 42\n")
    }

    fn platlib(mut self, filename: &str) -> Self {
        self.root_is_purelib = false;
        self.filename = filename.to_string();
        self
    }

    fn file(self, name: &str, contents: &str) -> Self {
        self.file_mode(name, contents.as_bytes(), 0o644)
    }

    fn file_mode(mut self, name: &str, contents: &[u8], mode: u32) -> Self {
        self.files.push((name.to_string(), contents.to_vec(), mode));
        self
    }

    fn dist_info_file(self, name: &str, contents: &str) -> Self {
        let path = format!("{}/{name}", self.dist_info);
        self.file(&path, contents)
    }

    fn build(&self, dir: &Path) -> PathBuf {
        let path = dir.join(&self.filename);
        let mut zip = ZipWriter::new(fs_err::File::create(&path).unwrap());
        let options = SimpleFileOptions::default();
        let wheel = format!(
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: {}\nTag: py3-none-any\n",
            self.root_is_purelib
        );
        let mut files = self.files.clone();
        files.push((
            format!("{}/WHEEL", self.dist_info),
            wheel.into_bytes(),
            0o644,
        ));
        let mut rows = Vec::new();
        for (name, contents, mode) in &files {
            zip.start_file(name.as_str(), options.unix_permissions(*mode))
                .unwrap();
            zip.write_all(contents).unwrap();
            rows.push(row(name, contents));
        }
        for (name, contents) in &self.tampered {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(b"tampered\n").unwrap();
            rows.push(row(name, contents.as_slice()));
        }
        for (name, contents) in &self.unrecorded {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(contents).unwrap();
        }
        for (name, target) in &self.symlinks {
            zip.add_symlink(name.as_str(), target.as_str(), options)
                .unwrap();
            rows.push(row(name, target.as_bytes()));
        }
        for name in &self.record_only {
            rows.push(row(name, b"absent"));
        }
        let record_path = format!("{}/RECORD", self.dist_info);
        rows.push((record_path.clone(), String::new(), String::new()));
        zip.start_file(record_path.as_str(), options).unwrap();
        zip.write_all(record::write(&mut rows).as_bytes()).unwrap();
        zip.finish().unwrap();
        path
    }
}

fn row(name: &str, contents: &[u8]) -> (String, String, String) {
    (
        name.to_string(),
        record::sha256_field(contents),
        contents.len().to_string(),
    )
}

/// Every path under `root`, relative, with `mode` for files (and `dir`, `link` otherwise).
fn listing(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let metadata = entry.path().symlink_metadata().unwrap();
            let kind = if metadata.is_symlink() {
                "link".to_string()
            } else if metadata.is_dir() {
                format!("dir {:o}", metadata.permissions().mode() & 0o7777)
            } else {
                format!("{:o}", metadata.permissions().mode() & 0o7777)
            };
            let path = entry.path().strip_prefix(root).unwrap();
            (path.to_string_lossy().into_owned(), kind)
        })
        .collect()
}

fn read(root: &Path, image_path: &str) -> String {
    fs_err::read_to_string(root.join(image_path.trim_start_matches('/'))).unwrap()
}

fn mode(root: &Path, image_path: &str) -> u32 {
    fs_err::metadata(root.join(image_path.trim_start_matches('/')))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Installs `wheel` into a fresh root; returns the temp dir (root is `<dir>/root`).
fn install(wheel: &TestWheel) -> (tempfile::TempDir, Result<InstalledWheel, WheelError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = wheel.build(dir.path());
    let result = installer().install(&path, &dir.path().join("root"));
    (dir, result)
}

/// Installs `wheel`, expecting an error, and checks the root was left empty.
fn refused(wheel: &TestWheel) -> WheelError {
    let (dir, result) = install(wheel);
    let error = result.unwrap_err();
    let root = dir.path().join("root");
    if root.exists() {
        assert_eq!(listing(&root), BTreeMap::new(), "{error}");
    }
    // Nothing beside the root either: only the wheel itself.
    let beside: Vec<_> = fs_err::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "root")
        .collect();
    assert_eq!(beside, std::slice::from_ref(&wheel.filename));
    error
}

#[test]
fn purelib_wheel() {
    let (dir, result) = install(&TestWheel::demo());
    let installed = result.unwrap();
    let root = dir.path().join("root");
    assert_eq!(installed.name, "demo");
    assert_eq!(installed.version, "1.0");
    assert_eq!(
        installed.dist_info,
        "/usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info"
    );
    assert_eq!(installed.top_level, ["demo"]);
    insta::assert_debug_snapshot!(installed.files, @r#"
    [
        "/usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/INSTALLER",
        "/usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/METADATA",
        "/usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/RECORD",
        "/usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/WHEEL",
        "/usr/local/lib/python3.11/dist-packages/demo/__init__.py",
        "/usr/local/lib/python3.11/dist-packages/demo/util.py",
    ]
    "#);
    insta::assert_debug_snapshot!(listing(&root), @r#"
    {
        "usr": "dir 755",
        "usr/local": "dir 755",
        "usr/local/lib": "dir 755",
        "usr/local/lib/python3.11": "dir 755",
        "usr/local/lib/python3.11/dist-packages": "dir 755",
        "usr/local/lib/python3.11/dist-packages/demo": "dir 755",
        "usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info": "dir 755",
        "usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/INSTALLER": "644",
        "usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/METADATA": "644",
        "usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/RECORD": "644",
        "usr/local/lib/python3.11/dist-packages/demo-1.0.dist-info/WHEEL": "644",
        "usr/local/lib/python3.11/dist-packages/demo/__init__.py": "644",
        "usr/local/lib/python3.11/dist-packages/demo/util.py": "644",
    }
    "#);
    assert_eq!(
        read(&root, &format!("{LIB}/demo/util.py")),
        "def answer():\n    return 42\n"
    );
}

#[test]
fn platlib_wheel_keeps_executable_bit() {
    let wheel = TestWheel::new("fast", "2.0")
        .platlib("fast-2.0-cp311-cp311-manylinux_2_17_x86_64.whl")
        .file("fast/__init__.py", "")
        .file_mode(
            "fast/_speedups.cpython-311-x86_64-linux-gnu.so",
            b"\x7fELF",
            0o755,
        )
        .file_mode(
            "_fast_top.cpython-311-x86_64-linux-gnu.so",
            b"\x7fELF",
            0o775,
        );
    let dir = tempfile::tempdir().unwrap();
    let path = wheel.build(dir.path());
    let root = dir.path().join("root");
    let mut apart = installer();
    // Apart from purelib, to see that the root goes to platlib.
    apart.scheme.platlib = "/usr/local/lib64/python3.11/site-packages".to_string();
    let installed = apart.install(&path, &root).unwrap();
    let platlib = "/usr/local/lib64/python3.11/site-packages";
    assert_eq!(installed.dist_info, format!("{platlib}/fast-2.0.dist-info"));
    assert_eq!(installed.top_level, ["_fast_top", "fast"]);
    assert_eq!(
        mode(
            &root,
            &format!("{platlib}/fast/_speedups.cpython-311-x86_64-linux-gnu.so")
        ),
        0o755
    );
    assert_eq!(
        mode(
            &root,
            &format!("{platlib}/_fast_top.cpython-311-x86_64-linux-gnu.so")
        ),
        0o755
    );
    assert_eq!(mode(&root, &format!("{platlib}/fast/__init__.py")), 0o644);
    assert!(!root.join(LIB).exists());
}

fn data_wheel() -> TestWheel {
    TestWheel::demo()
        .file(
            "demo-1.0.data/scripts/demo-run",
            "#!python\nimport demo\nprint(demo.answer())\n",
        )
        .file(
            "demo-1.0.data/scripts/demo-args",
            "#!pythonw -u\nprint(1)\n",
        )
        .file("demo-1.0.data/scripts/demo-sh", "#!/bin/sh\necho hi\n")
        .file("demo-1.0.data/data/share/demo/config.json", "{}\n")
        .file("demo-1.0.data/headers/demo.h", "int demo(void);\n")
        .file("demo-1.0.data/purelib/demo_extra.py", "x = 1\n")
}

#[test]
fn data_directory_is_spread() {
    let (dir, result) = install(&data_wheel());
    let installed = result.unwrap();
    let root = dir.path().join("root");
    assert_eq!(
        read(&root, "/usr/local/bin/demo-run"),
        "#!/usr/bin/python3\nimport demo\nprint(demo.answer())\n"
    );
    assert_eq!(
        read(&root, "/usr/local/bin/demo-args"),
        "#!/usr/bin/python3 -u\nprint(1)\n"
    );
    assert_eq!(
        read(&root, "/usr/local/bin/demo-sh"),
        "#!/bin/sh\necho hi\n"
    );
    for script in ["demo-run", "demo-args", "demo-sh"] {
        assert_eq!(mode(&root, &format!("/usr/local/bin/{script}")), 0o755);
    }
    assert_eq!(read(&root, "/usr/local/share/demo/config.json"), "{}\n");
    assert_eq!(mode(&root, "/usr/local/share/demo/config.json"), 0o644);
    assert_eq!(
        read(&root, "/usr/local/include/python3.11/demo/demo.h"),
        "int demo(void);\n"
    );
    assert_eq!(read(&root, &format!("{LIB}/demo_extra.py")), "x = 1\n");
    assert!(!root.join(LIB).join("demo-1.0.data").exists());
    assert_eq!(installed.top_level, ["demo", "demo_extra"]);
}

fn entry_points_wheel() -> TestWheel {
    TestWheel::demo().dist_info_file(
        "entry_points.txt",
        "[console_scripts]\ndemo = demo.cli:main\ndemo-attr = demo:app.run [extra]\n\n[gui_scripts]\ndemo-gui = demo.gui:start\n\n[demo.plugins]\nx = demo:plugin\n",
    )
}

#[test]
fn entry_point_launchers() {
    let (dir, result) = install(&entry_points_wheel());
    result.unwrap();
    let root = dir.path().join("root");
    insta::assert_snapshot!(read(&root, "/usr/local/bin/demo"), @r#"
    #!/usr/bin/python3
    # -*- coding: utf-8 -*-
    import re
    import sys
    from demo.cli import main
    if __name__ == "__main__":
        sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
        sys.exit(main())
    "#);
    insta::assert_snapshot!(read(&root, "/usr/local/bin/demo-attr"), @r#"
    #!/usr/bin/python3
    # -*- coding: utf-8 -*-
    import re
    import sys
    from demo import app
    if __name__ == "__main__":
        sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
        sys.exit(app.run())
    "#);
    insta::assert_snapshot!(read(&root, "/usr/local/bin/demo-gui"), @r#"
    #!/usr/bin/python3
    # -*- coding: utf-8 -*-
    import re
    import sys
    from demo.gui import start
    if __name__ == "__main__":
        sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
        sys.exit(start())
    "#);
    for script in ["demo", "demo-attr", "demo-gui"] {
        assert_eq!(mode(&root, &format!("/usr/local/bin/{script}")), 0o755);
    }
    assert!(!root.join("usr/local/bin/x").exists());
}

#[test]
fn record_is_rewritten() {
    let wheel =
        data_wheel().dist_info_file("entry_points.txt", "[console_scripts]\ndemo = demo:main\n");
    let (dir, result) = install(&wheel);
    result.unwrap();
    let root = dir.path().join("root");
    insta::assert_snapshot!(read(&root, &format!("{LIB}/demo-1.0.dist-info/RECORD")), @"
    ../../../bin/demo,sha256=j7Oh9lhymzky1cv2j0-A_JSC8E6gOOrx8_VJ0Iri8TY,203
    ../../../bin/demo-args,sha256=mIa4s46Ma43JgfugXCZ1m2Gd_3-dQIo5M-wKOkjdTzE,31
    ../../../bin/demo-run,sha256=k9-HjEDb_KnA-qD3KL1MvGTG9L3AyFRLflbTZ_YanTQ,52
    ../../../bin/demo-sh,sha256=KZABho-4wC_UMcM2xtBY9VWMXf9bWvXm_gS4cKapy7o,18
    ../../../include/python3.11/demo/demo.h,sha256=lEFI_Y_qYu7W6gfT4RtfziYpp_YP4u9a6JUuhcBf5Dg,16
    ../../../share/demo/config.json,sha256=yj0WO6sFU4GCciYUBWjzvvfqrBh869doeOC2Pp5EI1Y,3
    demo-1.0.dist-info/INSTALLER,sha256=aZRveK1DFBghze-YY-oev3RraVKfzzIXnDQvwY4-A3g,7
    demo-1.0.dist-info/METADATA,sha256=NKonpgZPlYtBt4GiF_KQ_Qq1-WUeK25Kzas0G3uTwwU,46
    demo-1.0.dist-info/RECORD,,
    demo-1.0.dist-info/WHEEL,sha256=GOJWfGKy_s7ZRMtmrMyJFvIHxzo0gLZVhGWWyTqB6uo,75
    demo-1.0.dist-info/entry_points.txt,sha256=cB9_KZ99Q1zeK186yD_neftGZdvOT61tblgHJXTEFUw,35
    demo/__init__.py,sha256=-EjeIZkBbbR3-nlaLQxhDgJ0flDEDDaKsLM4uepDM00,29
    demo/util.py,sha256=rswBPFGFI8oit-N4D4cAL1yuE_q8Np8vWaH69wWPjHY,28
    demo_extra.py,sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q,6
    ");
    // Each row matches the file on disk.
    let lib = root.join(LIB);
    let text = read(&root, &format!("{LIB}/demo-1.0.dist-info/RECORD"));
    for entry in record::parse(&text).unwrap() {
        let Some((_, digest)) = entry.hash else {
            continue;
        };
        let bytes = fs_err::read(lib.join(&entry.path)).unwrap();
        assert_eq!(
            format!("sha256={digest}"),
            record::sha256_field(&bytes),
            "{}",
            entry.path
        );
        assert_eq!(entry.size, Some(bytes.len() as u64));
    }
}

#[test]
fn installer_file() {
    let (dir, result) = install(&TestWheel::demo());
    result.unwrap();
    let root = dir.path().join("root");
    assert_eq!(
        read(&root, &format!("{LIB}/demo-1.0.dist-info/INSTALLER")),
        "mlpack\n"
    );
}

#[test]
fn same_wheel_same_bytes() {
    let wheel =
        data_wheel().dist_info_file("entry_points.txt", "[console_scripts]\ndemo = demo:main\n");
    let contents = |root: &Path| -> BTreeMap<String, (String, Vec<u8>)> {
        listing(root)
            .into_iter()
            .map(|(path, mode)| {
                let bytes = fs_err::read(root.join(&path)).unwrap_or_default();
                (path, (mode, bytes))
            })
            .collect()
    };
    let (first, result) = install(&wheel);
    result.unwrap();
    let (second, result) = install(&wheel);
    result.unwrap();
    assert_eq!(
        contents(&first.path().join("root")),
        contents(&second.path().join("root"))
    );
}

#[test]
fn later_wheel_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let first = TestWheel::new("first", "1.0").file("shared/__init__.py", "first\n");
    let second = TestWheel::new("second", "1.0").file("shared/__init__.py", "second\n");
    let first = installer()
        .install(&first.build(dir.path()), &root)
        .unwrap();
    let second = installer()
        .install(&second.build(dir.path()), &root)
        .unwrap();
    let shared = format!("/{LIB}/shared/__init__.py");
    assert!(first.files.contains(&shared) && second.files.contains(&shared));
    assert_eq!(read(&root, &shared), "second\n");
}

/// Wheels installed side by side give the tree installing them one by one gives: shared
/// namespace directories merged, a clashing file the later wheel's, whichever finished first.
#[test]
fn install_all_is_installing_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let wheels: Vec<PathBuf> = (0..6)
        .map(|index| {
            let mut wheel = TestWheel::new(&format!("part{index}"), "1.0")
                .file("nvidia/__init__.py", &format!("{index}\n"))
                .file(&format!("nvidia/part{index}/__init__.py"), "");
            // The first wheel takes the longest to install.
            if index == 0 {
                wheel = wheel.file("nvidia/part0/big.py", &"# padding\n".repeat(200_000));
            }
            wheel.build(dir.path())
        })
        .collect();
    let one_by_one = dir.path().join("one-by-one");
    for wheel in &wheels {
        installer().install(wheel, &one_by_one).unwrap();
    }
    for order in [wheels.clone(), wheels.iter().rev().cloned().collect()] {
        let root = dir.path().join("all");
        let installed = installer().install_all(&order, &root).unwrap();
        assert_eq!(installed.len(), order.len());
        let expected = if order == wheels {
            listing(&one_by_one)
        } else {
            let serial = dir.path().join("reversed");
            for wheel in &order {
                installer().install(wheel, &serial).unwrap();
            }
            listing(&serial)
        };
        assert_eq!(listing(&root), expected);
        let last = order.last().unwrap().file_name().unwrap().to_string_lossy();
        let winner = &last[4..5];
        assert_eq!(
            read(&root, &format!("/{LIB}/nvidia/__init__.py")),
            format!("{winner}\n")
        );
        fs_err::remove_dir_all(&root).unwrap();
    }
    let leftovers: Vec<_> = fs_err::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with(".wheel-install-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Wheels handed over one by one are each installed as they come, before the last arrives,
/// and merged in their positions' order whatever order they came in; a position never
/// handed over is an error.
#[test]
fn install_arriving_installs_each_wheel_as_it_comes() {
    let dir = tempfile::tempdir().unwrap();
    let wheels: Vec<PathBuf> = (0..3)
        .map(|index| {
            TestWheel::new(&format!("part{index}"), "1.0")
                .file("nvidia/__init__.py", &format!("{index}\n"))
                .file(&format!("nvidia/part{index}/__init__.py"), "")
                .build(dir.path())
        })
        .collect();
    let one_by_one = dir.path().join("one-by-one");
    for wheel in &wheels {
        installer().install(wheel, &one_by_one).unwrap();
    }
    let staging = dir.path().join("staging");
    fs_err::create_dir(&staging).unwrap();
    let root = staging.join("root");
    let (sender, receiver) = std::sync::mpsc::channel();
    let installed = std::thread::scope(|scope| {
        let installing =
            scope.spawn(|| installer().install_arriving(3, receiver.into_iter(), &root));
        for position in [2, 0] {
            sender.send((position, wheels[position].clone())).unwrap();
        }
        // Both are installed into their own trees while the last is still to come.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while installed_trees(&staging) < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(installed_trees(&staging), 2);
        assert!(!root.exists(), "nothing is merged before all have come");
        sender.send((1, wheels[1].clone())).unwrap();
        drop(sender);
        installing.join().unwrap()
    });
    let installed = installed.unwrap();
    assert_eq!(installed.len(), 3);
    assert_eq!(listing(&root), listing(&one_by_one));
    assert_eq!(read(&root, &format!("/{LIB}/nvidia/__init__.py")), "2\n");
    assert_eq!(
        fs_err::read_dir(&staging).unwrap().count(),
        1,
        "the side trees are gone"
    );

    let short = dir.path().join("short");
    let error = installer()
        .install_arriving(3, [(0, wheels[0].clone())].into_iter(), &short)
        .unwrap_err();
    insta::assert_snapshot!(error, @"wheel 2 of 3 to install never arrived");
}

/// How many side trees in `staging` hold an installed wheel's `RECORD`.
fn installed_trees(staging: &Path) -> usize {
    walkdir::WalkDir::new(staging)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() == "RECORD")
        .count()
}

/// A wheel whose file would replace another wheel's directory is refused, side by side as
/// one by one.
#[test]
fn install_all_refuses_a_file_over_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestWheel::new("first", "1.0")
        .file("shared/inner/__init__.py", "")
        .build(dir.path());
    let second = TestWheel::new("second", "1.0")
        .file("shared/inner", "a file\n")
        .build(dir.path());
    let error = installer()
        .install_all(&[first, second], &dir.path().join("root"))
        .unwrap_err();
    insta::assert_snapshot!(error, @r"
    refusing to install `second-1.0-py3-none-any.whl`: `/usr/local/lib/python3.11/dist-packages/shared/inner` in the staging tree is a directory, and a file would replace it
    ");
}

#[test]
fn parallel_installs_share_a_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let wheels: Vec<PathBuf> = (0..8)
        .map(|index| {
            let name = format!("nvidia_part{index}");
            TestWheel::new(&name, "1.0")
                .file("nvidia/__init__.py", "")
                .file(&format!("nvidia/part{index}/__init__.py"), "")
                .build(dir.path())
        })
        .collect();
    std::thread::scope(|scope| {
        for wheel in &wheels {
            let root = &root;
            scope.spawn(move || installer().install(wheel, root).unwrap());
        }
    });
    assert!(root.join(LIB).join("nvidia/__init__.py").is_file());
    for index in 0..8 {
        assert!(
            root.join(LIB)
                .join(format!("nvidia/part{index}/__init__.py"))
                .is_file()
        );
    }
}

#[test]
fn hash_mismatch_is_refused() {
    let mut wheel = TestWheel::demo();
    // `zzz` sorts last, so earlier files were written, and must be removed again.
    wheel
        .tampered
        .push(("zzz.py".to_string(), b"original\n".to_vec()));
    insta::assert_snapshot!(refused(&wheel), @"`zzz.py` in `demo-1.0-py3-none-any.whl` has hash `sha256=kueNCwMpYvR3kqn6lf2YHvY-Hj7wdNU21jBMde3b4p8`, but its `RECORD` says `sha256=JXGDYOBdPC0JY9E4Hp3U2uX8p4kkTuS5-GGtzAzJYhg`");
}

#[test]
fn size_mismatch_is_refused() {
    let mut wheel = TestWheel::demo();
    wheel
        .tampered
        .push(("demo/data.txt".to_string(), b"short\n".to_vec()));
    insta::assert_snapshot!(refused(&wheel), @"`demo/data.txt` in `demo-1.0-py3-none-any.whl` is 7 bytes, but its `RECORD` says 6");
}

#[test]
fn file_missing_from_record_is_refused() {
    let mut wheel = TestWheel::demo();
    wheel
        .unrecorded
        .push(("demo/extra.py".to_string(), b"x = 1\n".to_vec()));
    let error = refused(&wheel);
    insta::assert_snapshot!(error, @"`demo-1.0-py3-none-any.whl` has `demo/extra.py`, which its `RECORD` does not list");
    insta::assert_snapshot!(error.hints().join("\n"), @"the wheel is malformed; pin another version of the package in `mlpack.toml`, and report it to its maintainers");
}

#[test]
fn file_missing_from_archive_is_refused() {
    let mut wheel = TestWheel::demo();
    wheel.record_only.push("demo/gone.py".to_string());
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` lacks `demo/gone.py`, which its `RECORD` lists");
}

#[test]
fn parent_directory_entry_is_refused() {
    let wheel = TestWheel::demo().file("../evil.py", "evil\n");
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` has an unsafe entry `../evil.py`: it has a `..` component");
    let wheel = TestWheel::demo().file("demo/../../evil.py", "evil\n");
    refused(&wheel);
    let wheel = TestWheel::demo().file("demo-1.0.data/data/../../../evil.py", "evil\n");
    refused(&wheel);
}

#[test]
fn absolute_entry_is_refused() {
    let wheel = TestWheel::demo().file("/abs.py", "evil\n");
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` has an unsafe entry `/abs.py`: it is an absolute path");
}

#[test]
fn symlink_entry_is_refused() {
    let mut wheel = TestWheel::demo();
    wheel
        .symlinks
        .push(("demo/passwd".to_string(), "/etc/passwd".to_string()));
    let error = refused(&wheel);
    insta::assert_snapshot!(error, @"`demo-1.0-py3-none-any.whl` has an unsafe entry `demo/passwd`: it is a symlink");
}

#[test]
fn foreign_and_unknown_data_directories_are_refused() {
    let wheel = TestWheel::demo().file("other-1.0.data/scripts/x", "#!python\n");
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` has an unsafe entry `other-1.0.data/scripts/x`: it is in another distribution's `.data` directory");
    let wheel = TestWheel::demo().file("demo-1.0.data/config/x.cfg", "");
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` has an unsafe entry `demo-1.0.data/config/x.cfg`: `config` is not a `.data` directory an installer knows (`purelib`, `platlib`, `scripts`, `data`, `headers`)");
}

#[test]
fn two_entries_for_one_path_are_refused() {
    let wheel = TestWheel::demo().file("demo-1.0.data/purelib/demo/util.py", "other\n");
    insta::assert_snapshot!(refused(&wheel), @"`demo-1.0-py3-none-any.whl` installs `/usr/local/lib/python3.11/dist-packages/demo/util.py` twice (from `demo/util.py` and `demo-1.0.data/purelib/demo/util.py`)");
}

#[test]
fn wrong_dist_info_is_refused() {
    let mut wheel = TestWheel::demo();
    wheel.filename = "other-1.0-py3-none-any.whl".to_string();
    insta::assert_snapshot!(refused(&wheel), @"`other-1.0-py3-none-any.whl` holds `demo-1.0.dist-info`, which is not for the distribution its file name names");
}

#[test]
fn symlink_in_root_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("x");
    fs_err::create_dir_all(root.join("usr")).unwrap();
    fs_err::create_dir_all(root.join("etc")).unwrap();
    fs_err::write(root.join("etc/keep"), "kept\n").unwrap();
    fs_err::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("usr/local")).unwrap();
    let wheel = TestWheel::demo().build(dir.path());
    let before = listing(&root);

    let error = installer().install(&wheel, &root).unwrap_err();
    insta::assert_snapshot!(error, @"refusing to install `demo-1.0-py3-none-any.whl`: `/usr/local` in the staging tree is a symlink");
    assert!(!error.hints().is_empty());
    assert_eq!(listing(&outside), BTreeMap::new());
    assert_eq!(listing(&root), before);
}

#[test]
fn symlink_at_destination_is_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside.py");
    fs_err::write(&outside, "outside\n").unwrap();
    fs_err::create_dir_all(root.join(LIB).join("demo")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join(LIB).join("demo/util.py")).unwrap();
    let wheel = TestWheel::demo().build(dir.path());

    installer().install(&wheel, &root).unwrap();
    assert_eq!(fs_err::read_to_string(&outside).unwrap(), "outside\n");
    let installed = root.join(LIB).join("demo/util.py");
    assert!(!installed.symlink_metadata().unwrap().is_symlink());
    assert_eq!(
        fs_err::read_to_string(installed).unwrap(),
        "def answer():\n    return 42\n"
    );
}

#[test]
fn failed_install_leaves_existing_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs_err::create_dir_all(root.join(LIB).join("other")).unwrap();
    fs_err::write(root.join(LIB).join("other/__init__.py"), "").unwrap();
    let before = listing(&root);
    let mut wheel = TestWheel::demo();
    wheel
        .tampered
        .push(("zzz.py".to_string(), b"original\n".to_vec()));
    let path = wheel.build(dir.path());
    assert!(matches!(
        installer().install(&path, &root),
        Err(WheelError::HashMismatch { .. })
    ));
    assert_eq!(listing(&root), before);
}

#[test]
fn bad_interpreter_and_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let path = TestWheel::demo().build(dir.path());
    let mut installer = installer();
    installer.python = "python3".to_string();
    insta::assert_snapshot!(installer.install(&path, dir.path()).unwrap_err(), @"the interpreter path `python3` cannot be used in a `#!` line: it must be absolute, without whitespace, and at most 127 bytes");
    installer.python = "/usr/bin/python3".to_string();
    installer.scheme.scripts = "/usr/local/../../bin".to_string();
    insta::assert_snapshot!(installer.install(&path, dir.path()).unwrap_err(), @"the install scheme's `scripts` path `/usr/local/../../bin` must be absolute, without `.` or `..` components");
}

/// Real wheels from PyPI, installed and imported by the local `python3` (which must be 3.11).
#[cfg(feature = "test-pypi")]
#[test]
fn real_wheels_import() {
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join("downloads");
    let status = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
        ])
        .args([
            "--python-version",
            "3.11",
            "--platform",
            "manylinux2014_x86_64",
            "-d",
        ])
        .arg(&downloads)
        .args(["six==1.17.0", "markupsafe==3.0.2"])
        .status()
        .expect("`python3 -m pip` runs");
    assert!(status.success(), "pip download failed");

    let root = dir.path().join("root");
    let mut wheels: Vec<PathBuf> = fs_err::read_dir(&downloads)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    wheels.sort();
    let installed: Vec<InstalledWheel> = wheels
        .iter()
        .map(|wheel| installer().install(wheel, &root).unwrap())
        .collect();
    let names: Vec<(&str, &[String])> = installed
        .iter()
        .map(|wheel| (wheel.name.as_str(), wheel.top_level.as_slice()))
        .collect();
    assert_eq!(
        names,
        [
            ("MarkupSafe", &["markupsafe".to_string()][..]),
            ("six", &["six".to_string()][..])
        ]
    );

    let output = std::process::Command::new("python3")
        .env("PYTHONPATH", root.join(LIB))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "-c",
            "import six, markupsafe, markupsafe._speedups; print(markupsafe.escape('<'), six.PY3)",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "&lt; True\n");
}

/// Every file under `root` with its bytes, and every directory and link by name.
fn contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    listing(root)
        .into_iter()
        .map(|(path, kind)| {
            let host = root.join(&path);
            let bytes = if host.is_file() && !host.is_symlink() {
                fs_err::read(&host).unwrap()
            } else {
                kind.into_bytes()
            };
            (path, bytes)
        })
        .collect()
}

/// A wheel of many files in several packages, with a script and a launcher.
fn many_files_wheel() -> TestWheel {
    let mut wheel = entry_points_wheel().file_mode(
        "demo-1.0.data/scripts/tool",
        b"#!python\nprint('tool')\n",
        0o755,
    );
    for package in ["alpha", "beta", "gamma"] {
        for index in 0..20 {
            let body = format!("# {package} {index}\n{}", "x = 1\n".repeat(index * 7));
            wheel = wheel.file(&format!("{package}/sub{}/m{index}.py", index % 3), &body);
        }
    }
    wheel
}

#[test]
fn a_wheel_extracted_in_runs_is_the_wheel_extracted_by_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = many_files_wheel().build(dir.path());
    let one = dir.path().join("one");
    let several = dir.path().join("several");
    let alone = Runs {
        min_bytes: u64::MAX,
        threads: 1,
    };
    let split = Runs {
        min_bytes: 1,
        threads: 3,
    };
    let by_one = installer().install_in_runs(&path, &one, alone).unwrap();
    let by_several = installer().install_in_runs(&path, &several, split).unwrap();
    assert_eq!(by_several, by_one);
    assert_eq!(contents(&several), contents(&one));
    assert_eq!(listing(&several), listing(&one));
}

#[test]
fn runs_are_contiguous_balanced_and_cover_every_file() {
    let files: Vec<(String, super::install::ArchiveFile)> = (0..10u64)
        .map(|index| {
            let file = super::install::ArchiveFile {
                index: usize::try_from(index).unwrap(),
                name: format!("f{index}"),
                algorithm: record::HashAlgorithm::Sha256,
                digest: String::new(),
                size: Some(if index == 0 { 50 } else { 10 }),
                mode: 0o644,
                script: false,
            };
            (format!("/f{index}"), file)
        })
        .collect();
    let plan: Vec<super::write::Extraction<'_>> = files
        .iter()
        .map(|(destination, file)| (destination.as_str(), file))
        .collect();
    let names = |runs: Vec<Vec<super::write::Extraction<'_>>>| -> Vec<Vec<String>> {
        runs.into_iter()
            .map(|run| run.iter().map(|(path, _)| path.to_string()).collect())
            .collect()
    };
    let split = Runs {
        min_bytes: 100,
        threads: 2,
    };
    // 140 bytes in two shares of 70: the 50-byte file and two more, then the rest.
    assert_eq!(
        names(split.cut(&plan)),
        [
            vec!["/f0", "/f1", "/f2"],
            vec!["/f3", "/f4", "/f5", "/f6", "/f7", "/f8", "/f9"]
        ]
    );
    let small = Runs {
        min_bytes: 141,
        threads: 2,
    };
    assert_eq!(names(small.cut(&plan)).len(), 1);
}

#[test]
fn a_bad_file_in_a_later_run_fails_the_install_and_every_run_is_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs_err::create_dir_all(root.join(LIB).join("other")).unwrap();
    fs_err::write(root.join(LIB).join("other/__init__.py"), "").unwrap();
    let before = listing(&root);
    let mut wheel = many_files_wheel();
    wheel
        .tampered
        .push(("zzz/last.py".to_string(), b"original\n".to_vec()));
    let path = wheel.build(dir.path());
    let split = Runs {
        min_bytes: 1,
        threads: 3,
    };
    let error = installer()
        .install_in_runs(&path, &root, split)
        .unwrap_err();
    assert!(
        matches!(&error, WheelError::HashMismatch { entry, .. } if entry == "zzz/last.py"),
        "{error}"
    );
    assert_eq!(listing(&root), before);
}

#[test]
fn an_install_finds_the_shared_objects_the_zip_scan_finds() {
    let arch = crate::arch::Arch::host();
    let Some(libm) = [
        format!("/lib/{}/libm.so.6", arch.triplet()),
        "/lib64/libm.so.6".to_string(),
    ]
    .iter()
    .find_map(|path| fs_err::read(path).ok()) else {
        return;
    };
    let other_machine = {
        // The same library stamped for another machine (`e_machine` at offset 18).
        let mut bytes = libm.clone();
        let machine = if arch.elf_machine() == 62 { 183u16 } else { 62 };
        bytes[18..20].copy_from_slice(&machine.to_le_bytes());
        bytes
    };
    let wheel = TestWheel::demo()
        .platlib("demo-1.0-cp311-cp311-linux_x86_64.whl")
        .file_mode("demo/_native.cpython-311-x86_64-linux-gnu.so", &libm, 0o755)
        .file_mode("demo.libs/libm-1234abcd.so.6", &libm, 0o644)
        .file_mode("demo/foreign.so", &other_machine, 0o644)
        .file("demo/linker-script.so", "GROUP ( libc.so.6 )")
        .file_mode("demo/libm-copy.bin", &libm, 0o644);
    let dir = tempfile::tempdir().unwrap();
    let path = wheel.build(dir.path());
    let mut from_zip = shared_objects(&path, arch).unwrap();
    from_zip.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        from_zip
            .iter()
            .map(|object| &object.path)
            .collect::<Vec<_>>(),
        [
            "demo.libs/libm-1234abcd.so.6",
            "demo/_native.cpython-311-x86_64-linux-gnu.so"
        ]
    );
    for threads in [1, 3] {
        let root = dir.path().join(format!("root-{threads}"));
        let runs = Runs {
            min_bytes: 1,
            threads,
        };
        let installed = installer().install_in_runs(&path, &root, runs).unwrap();
        assert_eq!(installed.shared_objects(arch), from_zip, "{threads} runs");
        // The other machine's library is an ELF file too, just not one this loader opens.
        assert_eq!(installed.elf_files.len(), 3);
    }
}
