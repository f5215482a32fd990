//! The dpkg database of a base built without dpkg, so that `dpkg -l`, `dpkg -L`, `dpkg -S` and
//! later `apt-get install`s inside the image see what is installed ([dpkg(1)] "FILES"):
//!
//! - `/var/lib/dpkg/status`: each package's control paragraph (from its `.deb`) with
//!   `Status: install ok installed` after `Package`, sorted by name ([deb-control(5)] fields).
//! - `/var/lib/dpkg/info/<name>.list` (`<name>:<arch>.list` for `Multi-Arch: same`, as dpkg
//!   names them): the installed paths; `.md5sums` and `.conffiles` where the package has them.
//! - `info/format` (`1`: the multiarch layout just described), an empty `available`, and the
//!   `updates/`, `triggers/` and `alternatives/` directories dpkg expects.
//!
//! `Conffiles` fields are not written: they carry the md5 of each file as installed, which
//! only matters to an upgrade inside the image, and dpkg then treats the files as new.
//! Maintainer scripts are not copied into `info/`, since none of them ran.
//!
//! [dpkg(1)]: https://manpages.debian.org/bookworm/dpkg/dpkg.1.en.html#FILES
//! [deb-control(5)]: https://manpages.debian.org/bookworm/dpkg-dev/deb-control.5.en.html

use std::fmt::Write as _;
use std::path::Path;

use super::DebianError;
use super::control::paragraphs;
use super::extract::Extracted;
use super::finish::in_root;
use super::packages::DebPackage;
use crate::fs_tree::Root;

const STATUS: &str = "install ok installed";

/// Writes `/var/lib/dpkg` for `installed` (each package with what extracting it returned).
pub fn write_dpkg_database(
    root: &Path,
    installed: &[(DebPackage, Extracted)],
) -> Result<(), DebianError> {
    let root = Root::open(root)?;
    let sorted = sorted(installed);
    let paragraphs = sorted
        .iter()
        .map(|(package, extracted)| checked_paragraph(package, extracted))
        .collect::<Result<Vec<_>, _>>()?;
    for directory in ["info", "updates", "triggers", "alternatives"] {
        let relative = format!("var/lib/dpkg/{directory}");
        root.create_directory(&relative, 0o755)
            .map_err(|error| in_root(error, &relative))?;
    }
    write(&root, "var/lib/dpkg/status", &paragraphs.join("\n"))?;
    write(&root, "var/lib/dpkg/available", "")?;
    // Without `info/format`, dpkg reads the database in its pre-multiarch layout and looks for
    // `<name>.list` even for `Multi-Arch: same` packages.
    write(&root, "var/lib/dpkg/info/format", "1\n")?;
    write_info(&root, &sorted)
}

/// Writes, for a layer on top of a base whose `/var/lib/dpkg/status` is `base_status`, the
/// status file with the base's packages and `installed` together (sorted by name, as dpkg
/// keeps it) and the `info/` files of `installed`: the layer's status file replaces the
/// base's, and the base's `info/` files stay as they are below it.
pub fn write_dpkg_additions(
    root: &Path,
    base_status: &str,
    installed: &[(DebPackage, Extracted)],
) -> Result<(), DebianError> {
    let root = Root::open(root)?;
    let sorted = sorted(installed);
    let mut paragraphs: Vec<(String, String)> = base_status
        .split("\n\n")
        .map(|paragraph| paragraph.trim_matches('\n'))
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| (package_field(paragraph), format!("{paragraph}\n")))
        .collect();
    for (package, extracted) in &sorted {
        paragraphs.push((package.name.clone(), checked_paragraph(package, extracted)?));
    }
    paragraphs.sort_by(|(a, _), (b, _)| a.cmp(b));
    let status: Vec<String> = paragraphs.into_iter().map(|(_, text)| text).collect();
    root.create_directory("var/lib/dpkg/info", 0o755)
        .map_err(|error| in_root(error, "var/lib/dpkg/info"))?;
    write(&root, "var/lib/dpkg/status", &status.join("\n"))?;
    write_info(&root, &sorted)
}

fn sorted(installed: &[(DebPackage, Extracted)]) -> Vec<&(DebPackage, Extracted)> {
    let mut sorted: Vec<&(DebPackage, Extracted)> = installed.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| {
        a.name
            .cmp(&b.name)
            .then(a.architecture.cmp(&b.architecture))
    });
    sorted
}

/// The `Package` field of a status paragraph (empty when it has none, which sorts it first).
fn package_field(paragraph: &str) -> String {
    paragraph
        .lines()
        .find_map(|line| line.strip_prefix("Package:"))
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// The status paragraph of `package`, once its `.deb` is known to be the package the index
/// named.
fn checked_paragraph(package: &DebPackage, extracted: &Extracted) -> Result<String, DebianError> {
    if extracted.package != package.name || extracted.version != package.version {
        return Err(DebianError::BadDeb {
            deb: Path::new(&package.filename).to_path_buf(),
            message: format!(
                "it contains `{}` {}, but the index lists it as `{}` {}",
                extracted.package, extracted.version, package.name, package.version
            ),
        });
    }
    Ok(status_paragraph(package, extracted))
}

fn write(root: &Root, relative: &str, contents: &str) -> Result<(), DebianError> {
    root.write(relative, contents.as_bytes(), 0o644)
        .map_err(|error| in_root(error, relative))
}

/// `info/<name>.list`, `.md5sums` and `.conffiles` of each package.
fn write_info(root: &Root, sorted: &[&(DebPackage, Extracted)]) -> Result<(), DebianError> {
    for (package, extracted) in sorted {
        let name = if package.multi_arch == "same" {
            format!("{}:{}", package.name, package.architecture)
        } else {
            package.name.clone()
        };
        let mut list = String::new();
        for path in &extracted.paths {
            let _ = writeln!(list, "{path}");
        }
        write(root, &format!("var/lib/dpkg/info/{name}.list"), &list)?;
        if let Some(md5sums) = &extracted.md5sums {
            write(root, &format!("var/lib/dpkg/info/{name}.md5sums"), md5sums)?;
        }
        if !extracted.conffiles.is_empty() {
            let mut conffiles = extracted.conffiles.join("\n");
            conffiles.push('\n');
            write(
                root,
                &format!("var/lib/dpkg/info/{name}.conffiles"),
                &conffiles,
            )?;
        }
    }
    Ok(())
}

/// The package's `control` paragraph with `Status` inserted after `Package`; built from the
/// index fields if the control file cannot be read.
fn status_paragraph(package: &DebPackage, extracted: &Extracted) -> String {
    let mut text = String::new();
    if let Ok(parsed) = paragraphs(&extracted.control)
        && let [paragraph] = parsed.as_slice()
    {
        for (name, value) in &paragraph.fields {
            if name.eq_ignore_ascii_case("Status") {
                continue;
            }
            let _ = writeln!(text, "{name}: {value}");
            if name.eq_ignore_ascii_case("Package") {
                let _ = writeln!(text, "Status: {STATUS}");
            }
        }
        return text;
    }
    let installed_size = package.installed_size.map(|size| size.to_string());
    let essential = package.essential.then_some("yes");
    let fields = [
        ("Package", Some(package.name.as_str())),
        ("Status", Some(STATUS)),
        ("Essential", essential),
        ("Priority", Some(package.priority.as_str())),
        ("Section", Some(package.section.as_str())),
        ("Installed-Size", installed_size.as_deref()),
        ("Maintainer", Some(package.maintainer.as_str())),
        ("Architecture", Some(package.architecture.as_str())),
        ("Multi-Arch", Some(package.multi_arch.as_str())),
        ("Source", Some(package.source.as_str())),
        ("Version", Some(package.version.as_str())),
        ("Provides", Some(package.provides.as_str())),
        ("Pre-Depends", Some(package.pre_depends.as_str())),
        ("Depends", Some(package.depends.as_str())),
        ("Description", Some(package.description.as_str())),
    ];
    for (name, value) in fields {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            let _ = writeln!(text, "{name}: {value}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, multi_arch: &str) -> DebPackage {
        DebPackage {
            name: name.to_string(),
            version: "1.0-1".to_string(),
            architecture: "amd64".to_string(),
            filename: format!("pool/main/{name}.deb"),
            sha256: "0".repeat(64),
            size: 1,
            depends: "libc6 (>= 2.36)".to_string(),
            pre_depends: String::new(),
            provides: String::new(),
            essential: false,
            priority: "optional".to_string(),
            multi_arch: multi_arch.to_string(),
            source: String::new(),
            section: "libs".to_string(),
            installed_size: Some(12),
            description: "a library".to_string(),
            maintainer: "Someone <someone@example.org>".to_string(),
        }
    }

    fn extracted(name: &str, control: &str) -> Extracted {
        Extracted {
            package: name.to_string(),
            version: "1.0-1".to_string(),
            architecture: "amd64".to_string(),
            control: control.to_string(),
            paths: vec![
                "/.".to_string(),
                "/usr".to_string(),
                format!("/usr/lib/{name}.so"),
            ],
            conffiles: vec![],
            md5sums: Some(format!("00  usr/lib/{name}.so\n")),
            maintainer_scripts: std::collections::BTreeMap::new(),
            skipped: vec![],
        }
    }

    #[test]
    fn status_and_lists() {
        let directory = tempfile::tempdir().unwrap();
        let control = "Package: libz\nVersion: 1.0-1\nArchitecture: amd64\nMulti-Arch: same\n\
                       Description: compression\n longer text\n";
        let installed = [
            (package("zlib-tool", ""), extracted("zlib-tool", "")),
            (package("libz", "same"), extracted("libz", control)),
        ];
        write_dpkg_database(directory.path(), &installed).unwrap();
        let dpkg = directory.path().join("var/lib/dpkg");
        insta::assert_snapshot!(fs_err::read_to_string(dpkg.join("status")).unwrap(), @r"
        Package: libz
        Status: install ok installed
        Version: 1.0-1
        Architecture: amd64
        Multi-Arch: same
        Description: compression
         longer text

        Package: zlib-tool
        Status: install ok installed
        Priority: optional
        Section: libs
        Installed-Size: 12
        Maintainer: Someone <someone@example.org>
        Architecture: amd64
        Version: 1.0-1
        Depends: libc6 (>= 2.36)
        Description: a library
        ");
        assert_eq!(
            fs_err::read_to_string(dpkg.join("info/libz:amd64.list")).unwrap(),
            "/.\n/usr\n/usr/lib/libz.so\n"
        );
        assert!(dpkg.join("info/zlib-tool.list").is_file());
        assert!(dpkg.join("info/zlib-tool.md5sums").is_file());
        assert!(dpkg.join("updates").is_dir());
        assert_eq!(
            fs_err::read_to_string(dpkg.join("info/format")).unwrap(),
            "1\n"
        );
        assert_eq!(fs_err::read_to_string(dpkg.join("available")).unwrap(), "");
    }

    #[test]
    fn additions_keep_the_base_packages_in_the_status_file() {
        let directory = tempfile::tempdir().unwrap();
        let base = "Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n\
                    Package: zlib1g\nStatus: install ok installed\nVersion: 1.2\n";
        let installed = [(package("libgl1", "same"), extracted("libgl1", ""))];
        write_dpkg_additions(directory.path(), base, &installed).unwrap();
        let dpkg = directory.path().join("var/lib/dpkg");
        let status = fs_err::read_to_string(dpkg.join("status")).unwrap();
        let names: Vec<&str> = status
            .lines()
            .filter_map(|line| line.strip_prefix("Package: "))
            .collect();
        assert_eq!(names, ["bash", "libgl1", "zlib1g"]);
        assert!(status.contains("Version: 5.2\n\nPackage: libgl1\nStatus: install ok installed\n"));
        assert!(dpkg.join("info/libgl1:amd64.list").is_file());
        assert!(
            !dpkg.join("info/bash.list").exists(),
            "the base's lists stay below"
        );
    }

    #[test]
    fn refuses_a_mismatched_package() {
        let directory = tempfile::tempdir().unwrap();
        let installed = [(package("a", ""), extracted("b", ""))];
        let error = write_dpkg_database(directory.path(), &installed).unwrap_err();
        insta::assert_snapshot!(error, @"`pool/main/a.deb` is not a valid Debian package: it contains `b` 1.0-1, but the index lists it as `a` 1.0-1");
    }
}
