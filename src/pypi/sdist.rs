//! Source distributions, read without running anything: the dependencies an sdist states and
//! how to build it.
//!
//! The dependencies, in order of trust:
//! 1. `PKG-INFO` of Metadata-Version 2.2 or newer whose `Requires-Dist` and `Requires-Python`
//!    are not `Dynamic` ([PEP 643]): the backend promises the wheel says the same;
//! 2. setuptools' `*.egg-info/requires.txt` (written when the sdist was made; no file in an
//!    existing `egg-info` means no dependencies), with `Requires-Python` from `PKG-INFO`;
//! 3. `pyproject.toml`'s `[project]` table when `dependencies` is not `dynamic` ([PEP 621]);
//! 4. `PKG-INFO` of an sdist without `setup.py` (flit, hatchling, poetry and the like write
//!    complete metadata).
//!
//! Anything else needs the backend to run (`prepare_metadata_for_build_wheel`), which this
//! module does not do: [`SdistInfo::metadata`] is then `None`.
//!
//! The build system is `[build-system]` of `pyproject.toml` ([PEP 518], [PEP 517]), else
//! setuptools' legacy backend, as pip and uv assume.
//!
//! [PEP 643]: https://peps.python.org/pep-0643/
//! [PEP 621]: https://peps.python.org/pep-0621/
//! [PEP 517]: https://peps.python.org/pep-0517/
//! [PEP 518]: https://peps.python.org/pep-0518/

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::VersionSpecifiers;
use pep508_rs::{ExtraName, MarkerTree, PackageName, Requirement, VerbatimUrl};
use serde::{Deserialize, Serialize};

use super::client::{IndexClient, blocking, shared_cell};
use super::core_metadata::{header_values, parse_core_metadata};
use super::{CoreMetadata, DistFile, PypiError};

/// The largest member of an sdist that is read (`PKG-INFO`, `pyproject.toml`, `requires.txt`).
const MEMBER_LIMIT: u64 = 4 * 1024 * 1024;

/// What the resolver and the build need to know of one sdist.
#[derive(Debug, Clone)]
pub struct SdistInfo {
    /// The dependencies and `Requires-Python`, when the sdist states them reliably.
    pub metadata: Option<CoreMetadata>,
    pub build_system: BuildSystem,
    /// It holds sources a compiler builds (C, C++, Cython, Fortran, CUDA, a `CMake` or Meson
    /// project), so its build needs a toolchain.
    pub native_sources: bool,
}

/// How to build an sdist: PEP 518's requirements and PEP 517's backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BuildSystem {
    pub requires: Vec<String>,
    pub backend: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_path: Vec<String>,
}

/// PEP 517's fallback when `pyproject.toml` names no backend: setuptools, as `setup.py` ran.
const LEGACY_BACKEND: &str = "setuptools.build_meta:__legacy__";
const LEGACY_REQUIRES: &str = "setuptools>=40.8.0";

impl IndexClient {
    /// The sdist `file`, fetched and verified, and what it states; shared by every caller.
    pub async fn sdist_info(&self, file: &DistFile) -> Result<Arc<SdistInfo>, PypiError> {
        let cell = shared_cell(&self.inner.sdists, file.url.clone());
        cell.get_or_try_init(|| async {
            let path = self.fetch_file(file).await?;
            let filename = file.filename.clone();
            blocking(move || read_sdist(&path, &filename))
                .await
                .map(Arc::new)
        })
        .await
        .cloned()
    }
}

impl IndexClient {
    /// The metadata a build backend computed for the sdist `file` on the target `target`
    /// (`cp311-x86_64`), stored by [`Self::store_built_metadata`].
    pub fn built_metadata(&self, file: &DistFile, target: &str) -> Option<CoreMetadata> {
        let text = super::cache::read_metadata(&self.built_metadata_path(file, target))?;
        parse_core_metadata(&text, &file.filename).ok()
    }

    /// Keep what the backend computed for the sdist `file` on `target`; the sdist's sha256
    /// names it, so it is never stale.
    pub fn store_built_metadata(
        &self,
        file: &DistFile,
        target: &str,
        text: &str,
    ) -> Result<CoreMetadata, PypiError> {
        let metadata = parse_core_metadata(text.as_bytes(), &file.filename)?;
        super::cache::write_atomic(&self.built_metadata_path(file, target), text.as_bytes())?;
        Ok(metadata)
    }

    fn built_metadata_path(&self, file: &DistFile, target: &str) -> PathBuf {
        let metadata = self.inner.cache.metadata_path(file);
        let name = metadata
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.inner
            .cache
            .root()
            .join("sdist-metadata-v1")
            .join(target)
            .join(name)
    }
}

/// The members of an sdist that say what it needs.
#[derive(Debug, Default)]
struct Members {
    pkg_info: Option<String>,
    pyproject: Option<String>,
    setup_py: bool,
    egg_info: bool,
    requires_txt: Option<String>,
    native_sources: bool,
}

/// File names that mean a compiler runs: sources by extension, build files by name.
const NATIVE_EXTENSIONS: &[&str] = &[
    "c", "cc", "cpp", "cxx", "c++", "pyx", "f", "f90", "f95", "cu",
];
const NATIVE_BUILD_FILES: &[&str] = &["CMakeLists.txt", "meson.build"];

fn is_native_source(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    NATIVE_BUILD_FILES.contains(&name)
        || path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| {
                NATIVE_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
            })
}

/// Read the sdist at `path` (`.tar.gz` or `.zip`), named `filename` in errors.
pub(crate) fn read_sdist(path: &Path, filename: &str) -> Result<SdistInfo, PypiError> {
    let invalid = |message: String| PypiError::InvalidSdist {
        filename: filename.to_string(),
        message,
    };
    let members = if filename.to_ascii_lowercase().ends_with(".zip") {
        zip_members(path).map_err(invalid)?
    } else {
        tar_members(path).map_err(invalid)?
    };
    let build_system = build_system(members.pyproject.as_deref()).map_err(invalid)?;
    let metadata = stated_metadata(&members, filename)?;
    Ok(SdistInfo {
        metadata,
        build_system,
        native_sources: members.native_sources,
    })
}

/// Keep `contents` of the member at `path` (relative to the archive) if it says something.
fn collect(members: &mut Members, path: &Path, contents: impl FnOnce() -> Option<String>) {
    members.native_sources |= is_native_source(path);
    let parts: Vec<&str> = path
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect();
    // Skip the top directory (`name-1.0/`); `egg-info` may sit in `src/` too.
    let inner: Vec<&str> = parts.iter().skip(1).copied().collect();
    let in_egg_info = |inner: &[&str]| match inner {
        [dir, _] | ["src", dir, _] => dir.ends_with(".egg-info"),
        _ => false,
    };
    match inner.as_slice() {
        ["PKG-INFO"] => members.pkg_info = contents(),
        ["pyproject.toml"] => members.pyproject = contents(),
        ["setup.py"] => members.setup_py = true,
        rest if in_egg_info(rest) => {
            members.egg_info = true;
            if rest.last() == Some(&"requires.txt") {
                members.requires_txt = contents();
            }
        }
        _ => {}
    }
}

fn read_capped(reader: impl Read) -> Option<String> {
    let mut bytes = Vec::new();
    reader.take(MEMBER_LIMIT).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn tar_members(path: &Path) -> Result<Members, String> {
    let file = fs_err::File::open(path).map_err(|error| error.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut members = Members::default();
    for entry in archive.entries().map_err(|error| error.to_string())? {
        let entry = entry.map_err(|error| error.to_string())?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let member = entry
            .path()
            .map_err(|error| error.to_string())?
            .into_owned();
        collect(&mut members, &member, || read_capped(entry));
    }
    Ok(members)
}

fn zip_members(path: &Path) -> Result<Members, String> {
    let file = fs_err::File::open(path).map_err(|error| error.to_string())?;
    let mut archive = zip::ZipArchive::new(file).map_err(|error| error.to_string())?;
    let mut members = Members::default();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|error| error.to_string())?;
        if !entry.is_file() {
            continue;
        }
        let Some(member) = entry.enclosed_name() else {
            continue;
        };
        collect(&mut members, &member, || read_capped(entry));
    }
    Ok(members)
}

/// `[build-system]`, or the legacy setuptools backend.
fn build_system(pyproject: Option<&str>) -> Result<BuildSystem, String> {
    let table = pyproject
        .map(toml::from_str::<toml::Table>)
        .transpose()
        .map_err(|error| format!("`pyproject.toml` is not valid TOML: {}", error.message()))?;
    let build = table
        .as_ref()
        .and_then(|table| table.get("build-system"))
        .and_then(toml::Value::as_table);
    let strings = |key: &str| -> Option<Vec<String>> {
        let values = build?.get(key)?.as_array()?;
        Some(
            values
                .iter()
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect(),
        )
    };
    let backend = build
        .and_then(|build| build.get("build-backend"))
        .and_then(toml::Value::as_str);
    let requires = strings("requires").unwrap_or_else(|| vec![LEGACY_REQUIRES.to_string()]);
    for requirement in &requires {
        Requirement::<VerbatimUrl>::from_str(requirement).map_err(|error| {
            format!("`[build-system] requires` has `{requirement}`, which is not PEP 508: {error}")
        })?;
    }
    Ok(BuildSystem {
        requires,
        backend: backend.unwrap_or(LEGACY_BACKEND).to_string(),
        backend_path: strings("backend-path").unwrap_or_default(),
    })
}

/// The metadata the sdist states reliably (see the module documentation), else `None`.
fn stated_metadata(members: &Members, filename: &str) -> Result<Option<CoreMetadata>, PypiError> {
    let Some(pkg_info) = &members.pkg_info else {
        return Ok(None);
    };
    let mut metadata = parse_core_metadata(pkg_info.as_bytes(), filename)?;
    if is_static(pkg_info) {
        return Ok(Some(metadata));
    }
    if members.egg_info {
        let text = members.requires_txt.as_deref().unwrap_or_default();
        let (requirements, extras) =
            egg_requirements(text).map_err(|message| PypiError::InvalidSdist {
                filename: filename.to_string(),
                message: format!("`requires.txt`: {message}"),
            })?;
        metadata.requires_dist = requirements;
        for extra in extras {
            if !metadata.provides_extra.contains(&extra) {
                metadata.provides_extra.push(extra);
            }
        }
        return Ok(Some(metadata));
    }
    let pyproject = members.pyproject.as_deref();
    if let Some(stated) = pyproject.and_then(|text| project_table(text, &metadata)) {
        return Ok(Some(stated));
    }
    let dynamic = pyproject.is_some_and(declares_dynamic_dependencies);
    Ok((!members.setup_py && !dynamic).then_some(metadata))
}

/// PEP 643: Metadata-Version 2.2 or newer, and neither field we read marked `Dynamic`.
fn is_static(pkg_info: &str) -> bool {
    let version = header_values(pkg_info, "metadata-version");
    let modern = version.first().is_some_and(|version| {
        let mut parts = version.trim().split('.').map(str::parse::<u32>);
        matches!((parts.next(), parts.next()), (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= (2, 2))
    });
    modern
        && !header_values(pkg_info, "dynamic").iter().any(|field| {
            let field = field.trim().to_ascii_lowercase();
            field == "requires-dist" || field == "requires-python"
        })
}

/// Requirements and the extras they serve.
type EggRequirements = (Vec<Requirement<VerbatimUrl>>, Vec<ExtraName>);

/// setuptools' `requires.txt`: requirements, grouped under `[extra]`, `[:marker]` or
/// `[extra:marker]` sections.
fn egg_requirements(text: &str) -> Result<EggRequirements, String> {
    let mut section = MarkerTree::TRUE;
    let mut requirements = Vec::new();
    let mut extras = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line
            .strip_prefix('[')
            .and_then(|line| line.strip_suffix(']'))
        {
            section = section_marker(header)?;
            let extra = header
                .split_once(':')
                .map_or(header, |(extra, _)| extra)
                .trim();
            if !extra.is_empty()
                && let Ok(extra) = ExtraName::from_str(extra)
                && !extras.contains(&extra)
            {
                extras.push(extra);
            }
            continue;
        }
        let mut requirement = Requirement::<VerbatimUrl>::from_str(line)
            .map_err(|error| format!("`{line}`: {error}"))?;
        requirement.marker.and(section.clone());
        requirements.push(requirement);
    }
    Ok((requirements, extras))
}

/// The marker a `requires.txt` section stands for.
fn section_marker(header: &str) -> Result<MarkerTree, String> {
    let (extra, condition) = header.split_once(':').unwrap_or((header, ""));
    let mut marker = MarkerTree::TRUE;
    if !condition.trim().is_empty() {
        marker = MarkerTree::from_str(condition)
            .map_err(|error| format!("section `[{header}]`: {error}"))?;
    }
    if !extra.trim().is_empty() {
        marker.and(extra_marker(extra.trim())?);
    }
    Ok(marker)
}

fn extra_marker(extra: &str) -> Result<MarkerTree, String> {
    let name = ExtraName::from_str(extra).map_err(|error| format!("extra `{extra}`: {error}"))?;
    MarkerTree::from_str(&format!("extra == '{name}'")).map_err(|error| error.to_string())
}

/// Whether `[project]` says a backend computes the dependencies (`dynamic`).
fn declares_dynamic_dependencies(pyproject: &str) -> bool {
    let Ok(table) = toml::from_str::<toml::Table>(pyproject) else {
        return false;
    };
    table
        .get("project")
        .and_then(|project| project.get("dynamic"))
        .and_then(toml::Value::as_array)
        .is_some_and(|fields| {
            fields.iter().any(|field| {
                matches!(
                    field.as_str(),
                    Some("dependencies" | "optional-dependencies" | "requires-python")
                )
            })
        })
}

/// PEP 621's `[project]`, when it states the dependencies (not `dynamic`); `base` gives the
/// name and version.
fn project_table(pyproject: &str, base: &CoreMetadata) -> Option<CoreMetadata> {
    let table: toml::Table = toml::from_str(pyproject).ok()?;
    let project = table.get("project")?.as_table()?;
    let dynamic: Vec<&str> = project
        .get("dynamic")
        .and_then(toml::Value::as_array)
        .map(|fields| fields.iter().filter_map(toml::Value::as_str).collect())
        .unwrap_or_default();
    if ["dependencies", "optional-dependencies", "requires-python"]
        .iter()
        .any(|field| dynamic.contains(field))
    {
        return None;
    }
    let parse = |value: &toml::Value| {
        value
            .as_str()
            .and_then(|text| Requirement::<VerbatimUrl>::from_str(text).ok())
    };
    let mut requires_dist: Vec<Requirement<VerbatimUrl>> = project
        .get("dependencies")
        .and_then(toml::Value::as_array)
        .map(|values| values.iter().filter_map(parse).collect())
        .unwrap_or_default();
    let mut provides_extra = Vec::new();
    for (extra, values) in project
        .get("optional-dependencies")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
    {
        let marker = extra_marker(extra).ok()?;
        provides_extra.push(ExtraName::from_str(extra).ok()?);
        for mut requirement in values.as_array()?.iter().filter_map(parse) {
            requirement.marker.and(marker.clone());
            requires_dist.push(requirement);
        }
    }
    let requires_python = match project.get("requires-python") {
        Some(value) => Some(VersionSpecifiers::from_str(value.as_str()?).ok()?),
        None => None,
    };
    Some(CoreMetadata {
        name: PackageName::from_str(project.get("name")?.as_str()?).unwrap_or(base.name.clone()),
        version: base.version.clone(),
        requires_dist,
        requires_python,
        provides_extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirements(requirements: &[Requirement<VerbatimUrl>]) -> Vec<String> {
        requirements.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn requires_txt_sections_become_markers_and_extras() {
        let text = "six>=1.9\n\n[:python_version < \"3.4\"]\nenum34\n\n[test]\npytest\n\n[test:sys_platform == \"win32\"]\ncolorama\n";
        let (found, extras) = egg_requirements(text).unwrap();
        assert_eq!(
            requirements(&found),
            [
                "six>=1.9",
                "enum34 ; python_full_version < '3.4'",
                "pytest ; extra == 'test'",
                "colorama ; sys_platform == 'win32' and extra == 'test'",
            ]
        );
        assert_eq!(extras, [ExtraName::from_str("test").unwrap()]);
    }

    #[test]
    fn build_system_defaults_to_setuptools_legacy() {
        let legacy = build_system(None).unwrap();
        assert_eq!(legacy.requires, ["setuptools>=40.8.0"]);
        assert_eq!(legacy.backend, "setuptools.build_meta:__legacy__");
        let stated = build_system(Some(
            "[build-system]\nrequires = [\"flit_core>=3.4\"]\nbuild-backend = \"flit_core.buildapi\"\n",
        ))
        .unwrap();
        assert_eq!(stated.requires, ["flit_core>=3.4"]);
        assert_eq!(stated.backend, "flit_core.buildapi");
        let bad = build_system(Some("[build-system]\nrequires = [\"x >>= 1\"]\n")).unwrap_err();
        assert!(bad.contains("not PEP 508"), "{bad}");
    }

    #[test]
    fn only_metadata_2_2_without_dynamic_dependencies_is_static() {
        assert!(is_static("Metadata-Version: 2.2\nName: a\nVersion: 1\n"));
        assert!(is_static(
            "Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: License\n"
        ));
        assert!(!is_static("Metadata-Version: 2.1\nName: a\nVersion: 1\n"));
        assert!(!is_static(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Requires-Dist\n"
        ));
    }

    #[test]
    fn pyproject_project_states_dependencies_unless_dynamic() {
        let base = parse_core_metadata(b"Name: demo\nVersion: 1.0\n", "demo.tar.gz").unwrap();
        let stated = project_table(
            "[project]\nname = \"demo\"\ndependencies = [\"numpy>=1\"]\nrequires-python = \">=3.9\"\n[project.optional-dependencies]\nplot = [\"matplotlib; python_version >= '3.9'\"]\n",
            &base,
        )
        .unwrap();
        assert_eq!(
            requirements(&stated.requires_dist),
            [
                "numpy>=1",
                "matplotlib ; python_full_version >= '3.9' and extra == 'plot'"
            ]
        );
        assert_eq!(stated.requires_python.unwrap().to_string(), ">=3.9");
        assert!(
            project_table(
                "[project]\nname = \"demo\"\ndynamic = [\"dependencies\"]\n",
                &base
            )
            .is_none()
        );
    }
}
