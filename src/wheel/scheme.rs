//! Install schemes: where each part of a wheel goes, as absolute paths inside the image.
//!
//! The keys are the `sysconfig` paths the wheel spec names for `.data` subdirectories
//! (`purelib`, `platlib`, `scripts`, `data`, `headers`); see
//! <https://docs.python.org/3/library/sysconfig.html#installation-paths>.

use super::error::WheelError;

/// Where a wheel's parts go, as absolute paths inside the image (`/usr/local/bin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallScheme {
    /// Pure-Python modules (`Root-Is-Purelib: true` wheels, and `.data/purelib`).
    pub purelib: String,
    /// Platform-specific modules (`Root-Is-Purelib: false` wheels, and `.data/platlib`).
    pub platlib: String,
    /// Executables: `.data/scripts` and the generated entry-point launchers.
    pub scripts: String,
    /// `.data/data`, the prefix (`share/…` lands under it).
    pub data: String,
    /// C headers: `.data/headers` goes to `<headers>/<distribution name>/`, as pip does.
    pub headers: String,
}

impl InstallScheme {
    /// Debian's scheme for `pip install` as root (`posix_local`): everything under `/usr/local`,
    /// modules in `dist-packages`. `python` is `major.minor`, like `3.11`.
    pub fn debian(python: &str) -> Self {
        let lib = format!("/usr/local/lib/python{python}/dist-packages");
        Self {
            purelib: lib.clone(),
            platlib: lib,
            scripts: "/usr/local/bin".to_string(),
            data: "/usr/local".to_string(),
            headers: format!("/usr/local/include/python{python}"),
        }
    }

    /// The scheme of an interpreter installed under `prefix` (`/usr/local` for python.org
    /// builds): modules in `site_packages`, scripts in `<prefix>/bin`, headers in
    /// `<prefix>/include/python<python>`.
    pub fn with_prefix(prefix: &str, site_packages: &str, python: &str) -> Self {
        let prefix = prefix.trim_end_matches('/');
        Self {
            purelib: site_packages.to_string(),
            platlib: site_packages.to_string(),
            scripts: format!("{prefix}/bin"),
            data: if prefix.is_empty() {
                "/".to_string()
            } else {
                prefix.to_string()
            },
            headers: format!("{prefix}/include/python{python}"),
        }
    }

    /// The same scheme with every path checked (absolute, no `.` or `..`) and written in one
    /// form (`/a/b`, no trailing or doubled slashes), so paths can be joined and compared.
    pub(crate) fn normalized(&self) -> Result<Self, WheelError> {
        Ok(Self {
            purelib: normalize("purelib", &self.purelib)?,
            platlib: normalize("platlib", &self.platlib)?,
            scripts: normalize("scripts", &self.scripts)?,
            data: normalize("data", &self.data)?,
            headers: normalize("headers", &self.headers)?,
        })
    }
}

fn normalize(field: &'static str, path: &str) -> Result<String, WheelError> {
    let invalid = || WheelError::InvalidScheme {
        field,
        path: path.to_string(),
    };
    if !path.starts_with('/') || path.contains('\0') {
        return Err(invalid());
    }
    let components: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    if components.iter().any(|part| *part == "." || *part == "..") {
        return Err(invalid());
    }
    Ok(join(
        "/",
        &components
            .iter()
            .map(|part| (*part).to_string())
            .collect::<Vec<_>>(),
    ))
}

/// `base` (a normalized image path) with the relative `components` appended.
pub(crate) fn join(base: &str, components: &[String]) -> String {
    let mut path = base.trim_end_matches('/').to_string();
    for component in components {
        path.push('/');
        path.push_str(component);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// The path of `to` relative to the directory `from`, both normalized image paths, the way
/// `os.path.relpath` writes it (`../../../bin/tool` from `…/dist-packages`).
pub(crate) fn relative(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|part| !part.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|part| !part.is_empty()).collect();
    let common = from
        .iter()
        .zip(&to)
        .take_while(|(left, right)| left == right)
        .count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// The components of a normalized image path under the directory `dir`, if it is under it.
pub(crate) fn strip_dir<'a>(dir: &str, path: &'a str) -> Option<&'a str> {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)?.strip_prefix('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_scheme() {
        let scheme = InstallScheme::debian("3.11");
        assert_eq!(scheme.purelib, "/usr/local/lib/python3.11/dist-packages");
        assert_eq!(scheme.platlib, scheme.purelib);
        assert_eq!(scheme.scripts, "/usr/local/bin");
        assert_eq!(scheme.headers, "/usr/local/include/python3.11");
        assert_eq!(scheme.normalized().unwrap(), scheme);
        assert_eq!(
            InstallScheme::with_prefix("/usr/local", &scheme.purelib, "3.11"),
            scheme
        );
        let python_org = InstallScheme::with_prefix(
            "/usr/local",
            "/usr/local/lib/python3.12/site-packages",
            "3.12",
        );
        assert_eq!(
            python_org.platlib,
            "/usr/local/lib/python3.12/site-packages"
        );
        assert_eq!(python_org.scripts, "/usr/local/bin");
    }

    #[test]
    fn normalizes_and_refuses() {
        assert_eq!(normalize("data", "/usr//local/").unwrap(), "/usr/local");
        assert_eq!(normalize("data", "/").unwrap(), "/");
        insta::assert_snapshot!(normalize("data", "usr/local").unwrap_err(), @"the install scheme's `data` path `usr/local` must be absolute, without `.` or `..` components");
        assert!(normalize("data", "/usr/../etc").is_err());
    }

    #[test]
    fn relative_paths() {
        let lib = "/usr/local/lib/python3.11/dist-packages";
        assert_eq!(relative(lib, "/usr/local/bin/tool"), "../../../bin/tool");
        assert_eq!(relative(lib, &format!("{lib}/six.py")), "six.py");
        assert_eq!(relative("/", "/a/b"), "a/b");
        assert_eq!(strip_dir(lib, &format!("{lib}/a/b.py")), Some("a/b.py"));
        assert_eq!(strip_dir("/", "/a"), Some("a"));
        assert_eq!(
            strip_dir(lib, "/usr/local/lib/python3.11/dist-packagesX/a"),
            None
        );
    }
}
