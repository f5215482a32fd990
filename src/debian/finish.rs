//! What a base needs from the maintainer scripts that mlpack does not run, done offline and
//! deterministically. Each step names the script it stands in for; every step only fills in
//! what is missing, as those scripts do on a first install (`configure` with no old version).
//! Debian Policy [§6] describes the scripts; the ones not replaced here (byte-compiling
//! Python, `ldconfig`, debconf questions, `dpkg-divert`s) are not needed for a working image:
//! Python compiles on first import, and glibc searches the multiarch library directories
//! without an `ld.so.cache`. `update-alternatives --install` is replayed (see
//! `alternatives.rs`).
//!
//! [§6]: https://www.debian.org/doc/debian-policy/ch-maintainerscripts.html

use std::collections::BTreeSet;
use std::path::Path;

use super::alternatives;
use super::extract::Extracted;
use super::packages::DebPackage;
use super::{DebianError, Suite};
use crate::arch::Arch;
use crate::fs_tree::{Root, RootError};

/// Prepares an empty root for a merged-`/usr` system, as `debootstrap` does for bookworm and
/// later (and as trixie requires): `bin`, `sbin` and `lib` (plus `lib64` on amd64, for the
/// ELF interpreter `/lib64/ld-linux-x86-64.so.2`) are symlinks into `usr/`. Call it before
/// extracting, so that files packages still ship under `/bin` land in `/usr/bin`. Existing
/// entries are left alone.
pub fn prepare_root(root: &Path, suite: &Suite) -> Result<(), DebianError> {
    let root = Root::open(root)?;
    let mut directories = vec!["bin", "sbin", "lib"];
    if suite.arch == Arch::X86_64 {
        directories.push("lib64");
    }
    for directory in directories {
        let target = format!("usr/{directory}");
        step(root.create_directory(&target, 0o755), &target)?;
        if !root.exists(directory) {
            step(root.symlink(directory, &target), directory)?;
        }
    }
    Ok(())
}

/// Does offline what the maintainer scripts of `installed` packages (each with what
/// extracting it returned) would have done that a working image needs: accounts, CA bundle,
/// time zone, `/bin/sh`, `/etc/shells`, alternatives (`awk`, `which`) and `base-files`'
/// layout. Run it after extracting every package.
pub fn finish_base(root: &Path, installed: &[(DebPackage, Extracted)]) -> Result<(), DebianError> {
    let root = Root::open(root)?;
    let mut sorted: Vec<&(DebPackage, Extracted)> = installed.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
    let names: BTreeSet<&str> = sorted
        .iter()
        .map(|(package, _)| package.name.as_str())
        .collect();
    if names.contains("base-files") {
        base_files(&root)?;
    }
    if names.contains("base-passwd") {
        base_passwd(&root)?;
        shadow(&root)?;
    }
    if names.contains("libc-bin") {
        copy_default(
            &root,
            "usr/share/libc-bin/nsswitch.conf",
            "etc/nsswitch.conf",
            0o644,
        )?;
    }
    if names.contains("bash") && !root.exists("bin/sh") {
        // bash.postinst: `if [ ! -e /bin/sh ]; then ln -s bash /bin/sh; fi` (dash ships
        // `/bin/sh` itself, so this only matters without dash).
        step(root.symlink("bin/sh", "bash"), "bin/sh")?;
    }
    for name in &names {
        if let Some(version) = name
            .strip_prefix("python3.")
            .and_then(|rest| rest.strip_suffix("-minimal"))
        {
            // python3.X-minimal.postinst creates the site directory for local installs.
            let path = format!("usr/local/lib/python3.{version}/dist-packages");
            step(
                root.create_directory(&format!("usr/local/lib/python3.{version}"), 0o755),
                &path,
            )?;
            step(root.create_directory(&path, 0o755), &path)?;
        }
    }
    if names.contains("ca-certificates") {
        ca_certificates(&root)?;
    }
    if names.contains("debianutils") && !root.exists("etc/shells") {
        shells(&root)?;
    }
    let installs: Vec<alternatives::Install> = sorted
        .iter()
        .filter_map(|(_, extracted)| extracted.maintainer_scripts.get("postinst"))
        .flat_map(|script| alternatives::parse_installs(script))
        .collect();
    step(alternatives::apply(&root, &installs), "etc/alternatives")?;
    if names.contains("tzdata") && !root.exists("etc/localtime") {
        // tzdata.postinst, with debconf's default answer `Etc/UTC`.
        step(
            root.symlink("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"),
            "etc/localtime",
        )?;
        write(&root, "etc/timezone", b"Etc/UTC\n", 0o644)?;
    }
    Ok(())
}

/// base-files.postinst, `configure` without an old version: copy the default shell profiles
/// and motd, create the FHS directories it creates (`/mnt`, `/srv`, `/opt`, `/media`,
/// `/var/mail`, `/run/lock`, `/usr/local/*`), turn `/var/run` and `/var/lock` into symlinks
/// into `/run`, and create the login records. Group ownership (`mail`, `utmp`) is left to
/// the layer writer, which stores every file as root's.
fn base_files(root: &Root) -> Result<(), DebianError> {
    for (default, target) in [
        ("dot.profile", "root/.profile"),
        ("dot.bashrc", "root/.bashrc"),
        ("profile", "etc/profile"),
        ("motd", "etc/motd"),
    ] {
        copy_default(
            root,
            &format!("usr/share/base-files/{default}"),
            target,
            0o644,
        )?;
    }
    if !root.exists("etc/dpkg/origins/default") && root.exists("etc/dpkg/origins/debian") {
        step(
            root.symlink("etc/dpkg/origins/default", "debian"),
            "etc/dpkg/origins/default",
        )?;
    }
    for (directory, mode) in [
        ("root", 0o700),
        ("mnt", 0o755),
        ("srv", 0o755),
        ("opt", 0o755),
        ("etc/opt", 0o755),
        ("var/opt", 0o755),
        ("media", 0o755),
        ("var/mail", 0o2775),
        ("run/lock", 0o1777),
        ("usr/local", 0o755),
        ("usr/local/share", 0o755),
        ("usr/local/share/man", 0o755),
        ("usr/local/bin", 0o755),
        ("usr/local/games", 0o755),
        ("usr/local/lib", 0o755),
        ("usr/local/include", 0o755),
        ("usr/local/sbin", 0o755),
        ("usr/local/src", 0o755),
        ("usr/local/etc", 0o755),
        ("var/log", 0o755),
    ] {
        step(root.create_directory(directory, mode), directory)?;
    }
    for (link, target) in [
        ("var/spool/mail", "../mail"),
        ("var/run", "/run"),
        ("var/lock", "/run/lock"),
        ("usr/local/man", "share/man"),
    ] {
        replace_empty_directory_with_symlink(root, link, target)?;
    }
    for (log, mode) in [
        ("var/log/wtmp", 0o664),
        ("var/log/btmp", 0o660),
        ("var/log/lastlog", 0o664),
    ] {
        if !root.exists(log) {
            write(root, log, b"", mode)?;
        }
    }
    if root.exists("usr/share/info")
        && !root.exists("usr/share/info/dir")
        && !root.exists("usr/info/dir")
    {
        copy_default(
            root,
            "usr/share/base-files/info.dir",
            "usr/share/info/dir",
            0o644,
        )?;
    }
    Ok(())
}

/// base-files.postinst's `migrate_directory`: a symlink stays, an empty directory becomes
/// the symlink, and a directory with files in it is left alone.
fn replace_empty_directory_with_symlink(
    root: &Root,
    link: &str,
    target: &str,
) -> Result<(), DebianError> {
    let path = step(root.entry(link, true), link)?;
    match fs_err::symlink_metadata(&path) {
        Ok(metadata) if metadata.file_type().is_symlink() => return Ok(()),
        Ok(metadata) if metadata.is_dir() => {
            if fs_err::read_dir(&path)?.next().is_some() {
                return Ok(());
            }
            fs_err::remove_dir(&path)?;
        }
        Ok(_) => return Ok(()),
        Err(_) => {}
    }
    step(root.symlink(link, target), link)
}

/// base-passwd.postinst: `/etc/passwd` and `/etc/group` from the master files, when missing.
fn base_passwd(root: &Root) -> Result<(), DebianError> {
    for (master, target) in [
        ("usr/share/base-passwd/passwd.master", "etc/passwd"),
        ("usr/share/base-passwd/group.master", "etc/group"),
    ] {
        copy_default(root, master, target, 0o644)?;
    }
    Ok(())
}

/// passwd.postinst's `shadowconfig on` (`pwconv`, `grpconv`): `/etc/shadow` and
/// `/etc/gshadow` with every account locked (`*`). The last-change day is left empty, which
/// turns password ageing off, rather than today's date, so the file is reproducible.
fn shadow(root: &Root) -> Result<(), DebianError> {
    for (source, target, line) in [
        (
            "etc/passwd",
            "etc/shadow",
            (|name: &str| format!("{name}:*::0:99999:7:::\n")) as fn(&str) -> String,
        ),
        ("etc/group", "etc/gshadow", |name: &str| {
            format!("{name}:*::\n")
        }),
    ] {
        if root.exists(target) {
            continue;
        }
        let Some(accounts) = step(root.read(source), source)? else {
            continue;
        };
        let text: String = String::from_utf8_lossy(&accounts)
            .lines()
            .filter_map(|entry| entry.split(':').next())
            .filter(|name| !name.is_empty())
            .map(line)
            .collect();
        write(root, target, text.as_bytes(), 0o640)?;
    }
    Ok(())
}

/// ca-certificates.postinst and `update-ca-certificates`: trust every certificate the package
/// ships (debconf's default), listing them in `/etc/ca-certificates.conf` and concatenating
/// them, each ending in a newline, into `/etc/ssl/certs/ca-certificates.crt`, the bundle
/// OpenSSL (`/usr/lib/ssl/cert.pem`), Python's `ssl` and curl read. The per-certificate
/// `*.pem` links and OpenSSL hash links are not made: they serve only `CApath` lookups.
fn ca_certificates(root: &Root) -> Result<(), DebianError> {
    let directory = "usr/share/ca-certificates";
    let certificates: Vec<String> = step(root.files_under(directory), directory)?
        .into_iter()
        .filter(|path| {
            path.rsplit_once('.')
                .is_some_and(|(_, extension)| extension == "crt")
        })
        .collect();
    if !root.exists("etc/ca-certificates.conf") {
        let mut conf = String::from(
            "# Written by mlpack as ca-certificates.postinst would: every certificate trusted.\n",
        );
        for certificate in &certificates {
            conf.push_str(certificate);
            conf.push('\n');
        }
        write(root, "etc/ca-certificates.conf", conf.as_bytes(), 0o644)?;
    }
    let mut bundle = Vec::new();
    for certificate in &certificates {
        let path = format!("{directory}/{certificate}");
        if let Some(mut pem) = step(root.read(&path), &path)? {
            if !pem.ends_with(b"\n") {
                pem.push(b'\n');
            }
            bundle.extend_from_slice(&pem);
        }
    }
    step(
        root.create_directory("usr/local/share/ca-certificates", 0o755),
        "usr/local/share/ca-certificates",
    )?;
    write(root, "etc/ssl/certs/ca-certificates.crt", &bundle, 0o644)
}

/// debianutils.postinst and `update-shells`: `/etc/shells` from the template and every
/// package's `/usr/share/debianutils/shells.d/*` (sorted), each shell also under its real path
/// (`/bin/bash` and `/usr/bin/bash` on merged `/usr`); `/var/lib/shells.state` lists what
/// packages contributed, so a later `update-shells` in the image keeps the file.
fn shells(root: &Root) -> Result<(), DebianError> {
    let template = "usr/share/debianutils/shells";
    let Some(template_text) = step(root.read(template), template)? else {
        return Ok(());
    };
    let template_text = String::from_utf8_lossy(&template_text).into_owned();
    let mut sources = vec![template_text.clone()];
    let directory = "usr/share/debianutils/shells.d";
    for file in step(root.files_under(directory), directory)? {
        if file.contains('/') {
            continue;
        }
        let path = format!("{directory}/{file}");
        if let Some(text) = step(root.read(&path), &path)? {
            sources.push(String::from_utf8_lossy(&text).into_owned());
        }
    }
    let mut packaged: Vec<String> = Vec::new();
    for line in sources.iter().flat_map(|text| text.lines()) {
        let shell = line.split('#').next().unwrap_or_default().trim();
        if shell.is_empty() {
            continue;
        }
        let mut candidates = vec![shell.to_string()];
        if let Some(real) = real_shell_path(root, shell).filter(|real| real != shell) {
            candidates.push(real);
        }
        for candidate in candidates {
            if !packaged.contains(&candidate) {
                packaged.push(candidate);
            }
        }
    }
    let mut etc_shells = String::new();
    let mut listed: Vec<String> = Vec::new();
    for line in template_text.lines() {
        let shell = line
            .split('#')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        if shell.is_empty() || !listed.contains(&shell) {
            etc_shells.push_str(line);
            etc_shells.push('\n');
            listed.push(shell);
        }
    }
    for shell in &packaged {
        if !listed.contains(shell) {
            etc_shells.push_str(shell);
            etc_shells.push('\n');
        }
    }
    let mut state = packaged.join("\n");
    state.push('\n');
    write(root, "etc/shells", etc_shells.as_bytes(), 0o644)?;
    write(root, "var/lib/shells.state", state.as_bytes(), 0o644)
}

/// `dpkg-realpath` of a shell's directory, inside the root: `/bin/bash` is `/usr/bin/bash`
/// when `/bin` is a symlink to `usr/bin`.
fn real_shell_path(root: &Root, shell: &str) -> Option<String> {
    let (directory, name) = shell.rsplit_once('/')?;
    let components: Vec<&str> = directory
        .split('/')
        .filter(|part| !part.is_empty())
        .collect();
    let real = root.directory(&components, false).ok()?;
    let depth = root.depth(&real);
    let inside: Vec<String> = real
        .components()
        .rev()
        .take(depth)
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut path = String::new();
    for component in inside.iter().rev() {
        path.push('/');
        path.push_str(component);
    }
    Some(format!("{path}/{name}"))
}

/// Copies `source` to `target` if `target` is missing (the `install_from_default` of several
/// postinsts) and `source` exists.
fn copy_default(root: &Root, source: &str, target: &str, mode: u32) -> Result<(), DebianError> {
    if root.exists(target) {
        return Ok(());
    }
    if let Some(contents) = step(root.read(source), source)? {
        write(root, target, &contents, mode)?;
    }
    Ok(())
}

fn write(root: &Root, relative: &str, contents: &[u8], mode: u32) -> Result<(), DebianError> {
    step(root.write(relative, contents, mode), relative)
}

/// Names the path in a [`RootError`].
fn step<T>(result: Result<T, RootError>, relative: &str) -> Result<T, DebianError> {
    result.map_err(|error| in_root(error, relative))
}

/// A [`RootError`] at `relative` (inside the root being built) as the user sees it.
pub(super) fn in_root(error: RootError, relative: &str) -> DebianError {
    match error {
        RootError::Io(error) => DebianError::Io(error),
        RootError::Refused(reason) => DebianError::UnsafeRoot {
            path: format!("/{relative}"),
            reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str) -> DebPackage {
        DebPackage {
            name: name.to_string(),
            version: "1".to_string(),
            architecture: "all".to_string(),
            filename: String::new(),
            sha256: String::new(),
            size: 0,
            depends: String::new(),
            pre_depends: String::new(),
            provides: String::new(),
            essential: false,
            priority: String::new(),
            multi_arch: String::new(),
            source: String::new(),
            section: String::new(),
            installed_size: None,
            description: String::new(),
            maintainer: String::new(),
        }
    }

    fn installed(name: &str, postinst: Option<&str>) -> (DebPackage, Extracted) {
        let extracted = Extracted {
            package: name.to_string(),
            version: "1".to_string(),
            architecture: "all".to_string(),
            control: String::new(),
            paths: Vec::new(),
            conffiles: Vec::new(),
            md5sums: None,
            maintainer_scripts: postinst
                .map(|script| ("postinst".to_string(), script.to_string()))
                .into_iter()
                .collect(),
            skipped: Vec::new(),
        };
        (package(name), extracted)
    }

    fn read(root: &Path, relative: &str) -> String {
        fs_err::read_to_string(root.join(relative)).unwrap()
    }

    #[test]
    fn replaces_the_postinsts() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        let suite = Suite::for_image("debian:bookworm", None, Arch::X86_64).unwrap();
        prepare_root(root, &suite).unwrap();
        let files = [
            (
                "usr/share/base-passwd/passwd.master",
                "root:*:0:0:root:/root:/bin/sh\ndaemon:*:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
            ),
            (
                "usr/share/base-passwd/group.master",
                "root:*:0:\nshadow:*:42:\n",
            ),
            (
                "usr/share/ca-certificates/mozilla/B.crt",
                "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----",
            ),
            (
                "usr/share/ca-certificates/mozilla/A.crt",
                "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
            ),
            (
                "usr/share/ca-certificates/mozilla/README",
                "not a certificate",
            ),
            ("usr/share/base-files/profile", "# profile\n"),
            ("usr/bin/bash", "#!bash"),
            ("usr/bin/which.debianutils", "#!which"),
            (
                "usr/share/debianutils/shells",
                "# /etc/shells: valid login shells\n/bin/sh\n",
            ),
            (
                "usr/share/debianutils/shells.d/bash",
                "/bin/bash\n/bin/rbash\n",
            ),
        ];
        for (path, contents) in files {
            fs_err::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs_err::write(root.join(path), contents).unwrap();
        }
        fs_err::create_dir_all(root.join("var/run")).unwrap();
        let which = "update-alternatives --install /usr/bin/which which /usr/bin/which.debianutils 0 \\\n\
                     --slave /usr/share/man/man1/which.1.gz which.1.gz /usr/share/man/man1/which.debianutils.1.gz\n";
        let installed = [
            installed("base-files", None),
            installed("base-passwd", None),
            installed("ca-certificates", None),
            installed("tzdata", None),
            installed("bash", None),
            installed("python3.11-minimal", None),
            installed("debianutils", Some(which)),
        ];
        finish_base(root, &installed).unwrap();
        // Twice is the same as once.
        finish_base(root, &installed).unwrap();

        assert_eq!(read(root, "etc/passwd"), files[0].1);
        assert_eq!(read(root, "etc/group"), files[1].1);
        insta::assert_snapshot!(read(root, "etc/shadow"), @r"
        root:*::0:99999:7:::
        daemon:*::0:99999:7:::
        ");
        assert_eq!(read(root, "etc/gshadow"), "root:*::\nshadow:*::\n");
        insta::assert_snapshot!(read(root, "etc/ssl/certs/ca-certificates.crt"), @r"
        -----BEGIN CERTIFICATE-----
        A
        -----END CERTIFICATE-----
        -----BEGIN CERTIFICATE-----
        B
        -----END CERTIFICATE-----
        ");
        assert!(
            read(root, "etc/ca-certificates.conf").ends_with("\nmozilla/A.crt\nmozilla/B.crt\n")
        );
        assert_eq!(
            fs_err::read_link(root.join("etc/localtime")).unwrap(),
            Path::new("/usr/share/zoneinfo/Etc/UTC")
        );
        assert_eq!(read(root, "etc/timezone"), "Etc/UTC\n");
        assert_eq!(read(root, "etc/profile"), "# profile\n");
        // `/bin` is `usr/bin`, so bash's `/bin/sh` is `usr/bin/sh`.
        assert_eq!(
            fs_err::read_link(root.join("usr/bin/sh")).unwrap(),
            Path::new("bash")
        );
        assert_eq!(
            fs_err::read_link(root.join("lib64")).unwrap(),
            Path::new("usr/lib64")
        );
        assert_eq!(
            fs_err::read_link(root.join("var/run")).unwrap(),
            Path::new("/run")
        );
        assert!(root.join("usr/local/lib/python3.11/dist-packages").is_dir());
        assert!(root.join("run/lock").is_dir());
        assert!(root.join("var/log/wtmp").is_file());
        insta::assert_snapshot!(read(root, "etc/shells"), @r"
        # /etc/shells: valid login shells
        /bin/sh
        /usr/bin/sh
        /bin/bash
        /usr/bin/bash
        /bin/rbash
        /usr/bin/rbash
        ");
        assert_eq!(
            fs_err::read_link(root.join("usr/bin/which")).unwrap(),
            Path::new("/etc/alternatives/which")
        );
        // (Absolute links: read them, don't follow them on the host.)
        assert_eq!(
            fs_err::read_link(root.join("etc/alternatives/which")).unwrap(),
            Path::new("/usr/bin/which.debianutils")
        );
        assert!(
            read(root, "var/lib/dpkg/alternatives/which").starts_with("auto\n/usr/bin/which\n")
        );
    }

    #[test]
    fn refuses_to_write_through_an_escaping_symlink() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path().join("root");
        fs_err::create_dir_all(root.join("usr/share/base-passwd")).unwrap();
        fs_err::write(
            root.join("usr/share/base-passwd/passwd.master"),
            "root:*:0:0::/:/bin/sh\n",
        )
        .unwrap();
        fs_err::create_dir(directory.path().join("outside")).unwrap();
        fs_err::os::unix::fs::symlink("../outside", root.join("etc")).unwrap();
        let error = finish_base(&root, &[installed("base-passwd", None)]).unwrap_err();
        insta::assert_snapshot!(error, @"refusing to write `/etc/passwd` in the root: a symlink on its path leads outside the root");
        assert_eq!(
            fs_err::read_dir(directory.path().join("outside"))
                .unwrap()
                .count(),
            0
        );
    }
}
