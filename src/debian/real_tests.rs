//! Against the real Debian mirror (feature `test-debian`): fetch bookworm's index, build a
//! base from the closure of the packages mlpack's base needs without running a single
//! maintainer script, and run Python inside it with `chroot` (when root).

use std::path::Path;
use std::process::Command;

use super::*;

/// The base mlpack builds (the caller's list), and what the checks below also use: `dash`
/// for `/bin/sh` as Debian has it, and `dpkg` to read the database back.
const BASE: &[&str] = &[
    "python3",
    "ca-certificates",
    "tzdata",
    "base-files",
    "base-passwd",
    "bash",
    "coreutils",
];
const CHECKS: &[&str] = &["dash", "dpkg"];

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn chroot(root: &Path, command: &[&str]) -> String {
    let output = Command::new("chroot")
        .arg(root)
        .args(command)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{command:?} failed or warned: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn bookworm_base_runs_python_without_maintainer_scripts() {
    check_base("debian:bookworm", "python3.11").await;
}

#[tokio::test]
async fn trixie_base_runs_python_without_maintainer_scripts() {
    check_base("debian:trixie", "python3.13").await;
}

#[expect(clippy::print_stderr, reason = "the test reports the closure's size")]
async fn check_base(image: &str, python: &str) {
    let cache = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let suite = Suite::for_image(image, None, crate::arch::Arch::host()).unwrap();
    let index = fetch_index(&http, &suite, cache.path()).await.unwrap();
    assert!(index.len() > 50_000, "{}", index.len());
    // Again: revalidated with `If-Modified-Since`, the index comes from the cache.
    let again = fetch_index(&http, &suite, cache.path()).await.unwrap();
    assert_eq!(again.len(), index.len());

    let base: Vec<String> = BASE.iter().map(ToString::to_string).collect();
    let closure = index.closure(&base).unwrap();
    let size: u64 = closure.iter().map(|package| package.size).sum();
    eprintln!(
        "{image}: closure of {BASE:?}: {} packages, {size} bytes to download: {}",
        closure.len(),
        closure
            .iter()
            .map(|package| package.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );

    let roots: Vec<String> = BASE.iter().chain(CHECKS).map(ToString::to_string).collect();
    let packages = index.closure(&roots).unwrap();
    let root_directory = tempfile::tempdir().unwrap();
    let root = root_directory.path();
    prepare_root(root, &suite).unwrap();
    let mut installed = Vec::new();
    let mut with_scripts = Vec::new();
    for package in &packages {
        let deb = download(&http, &suite, package, cache.path())
            .await
            .unwrap();
        // A second call finds the verified file in the cache.
        assert_eq!(
            download(&http, &suite, package, cache.path())
                .await
                .unwrap(),
            deb
        );
        let extracted = extract(&deb, root).unwrap();
        if !extracted.maintainer_scripts.is_empty() {
            with_scripts.push(format!(
                "{} ({})",
                package.name,
                extracted
                    .maintainer_scripts
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        installed.push((package.clone(), extracted));
    }
    eprintln!(
        "{image}: packages with maintainer scripts (not run): {}",
        with_scripts.join("; ")
    );
    write_dpkg_database(root, &installed).unwrap();
    finish_base(root, &installed).unwrap();

    assert!(root.join("usr/bin").join(python).is_file());
    assert!(
        root.join("etc/ssl/certs/ca-certificates.crt")
            .metadata()
            .unwrap()
            .len()
            > 100_000
    );
    assert!(
        fs_err::read_to_string(root.join("etc/passwd"))
            .unwrap()
            .starts_with("root:")
    );
    if !is_root() {
        eprintln!("not root: skipping the chroot checks");
        return;
    }
    let script = "import ssl, json; \
                  n = ssl.create_default_context().cert_store_stats()['x509_ca']; \
                  assert n > 100, n; print(1)";
    assert_eq!(chroot(root, &["/usr/bin/python3", "-c", script]), "1\n");
    assert_eq!(chroot(root, &["/bin/sh", "-c", "echo $((6 * 7))"]), "42\n");
    assert_eq!(chroot(root, &["/usr/bin/id", "-un"]), "root\n");
    assert_eq!(chroot(root, &["/bin/date", "+%Z"]), "UTC\n");
    assert_eq!(chroot(root, &["which", "python3"]), "/usr/bin/python3\n");
    assert_eq!(chroot(root, &["awk", "BEGIN { print 6 * 7 }"]), "42\n");
    assert!(chroot(root, &["/bin/cat", "/etc/shells"]).contains("\n/usr/bin/bash\n"));
    let listed = chroot(
        root,
        &["/usr/bin/dpkg-query", "-W", "-f", "${Package} ${Status}\\n"],
    );
    assert_eq!(listed.lines().count(), packages.len(), "{listed}");
    assert!(listed.contains("python3 install ok installed"), "{listed}");
    assert!(chroot(root, &["/usr/bin/dpkg", "-L", "bash"]).contains("/bin/bash\n"));
    let owner = chroot(
        root,
        &["/usr/bin/dpkg", "-S", &format!("/usr/bin/{python}")],
    );
    assert!(owner.starts_with(&format!("{python}-minimal")), "{owner}");
    // `Multi-Arch: same` packages have `<name>:<arch>.list` files.
    assert!(chroot(root, &["/usr/bin/dpkg", "-L", "libc6"]).contains("/libc.so.6\n"));
    chroot(root, &["/usr/bin/dpkg", "--audit"]);
}
