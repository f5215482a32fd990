//! NVIDIA driver and CUDA versions, and which driver runs which CUDA. Tables come from the
//! CUDA toolkit release notes (<https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/>,
//! "CUDA Toolkit and Corresponding Driver Versions", Linux `x86_64`) and the compatibility guide
//! (<https://docs.nvidia.com/deploy/cuda-compatibility/>, "Minor Version Compatibility").

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The image label naming the CUDA release an image's libraries are built for (`12.8`).
pub const CUDA_LABEL: &str = "dev.mlpack.cuda";
/// The image label naming the oldest driver that runs the image (`525.60.13`).
pub const DRIVER_LABEL: &str = "dev.mlpack.cuda.driver-min";

/// An NVIDIA driver version: `550.54.14`, `580.65.06`, or two parts like `570.26`.
///
/// Versions compare by number, part by part (`535.104.05` > `535.54.03`); a two-part version
/// sorts before a three-part one with the same first two parts. Display gives the text as it
/// was written, so `580.65.06` keeps its leading zero (equal to `580.65.6`, shown differently).
#[derive(Debug, Clone)]
pub struct DriverVersion {
    text: Cow<'static, str>,
    parts: [u32; 3],
    len: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{text}` is not an NVIDIA driver version: {reason}; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`"
)]
pub struct DriverVersionError {
    text: String,
    reason: &'static str,
}

impl DriverVersion {
    /// A version from a table in this file; an invalid one stops the build, since tables are
    /// `const` items.
    const fn known(text: &'static str) -> Self {
        match parse_driver_parts(text.as_bytes()) {
            Ok((parts, len)) => Self {
                text: Cow::Borrowed(text),
                parts,
                len,
            },
            Err(_) => panic!("a driver version in a table is invalid"),
        }
    }

    /// The branch number, `550` in `550.54.14`.
    pub fn major(&self) -> u32 {
        self.parts[0]
    }

    fn numbers(&self) -> &[u32] {
        &self.parts[..self.len]
    }
}

/// Splits `MAJOR.MINOR[.PATCH]` into numbers; `const` so the tables are checked at compile time.
const fn parse_driver_parts(bytes: &[u8]) -> Result<([u32; 3], usize), &'static str> {
    if bytes.is_empty() {
        return Err("it is empty");
    }
    let mut parts = [0u32; 3];
    let mut index = 0;
    let mut digits = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'.' {
            if digits == 0 {
                return Err("a part between dots is empty");
            }
            index += 1;
            if index == parts.len() {
                return Err("it has more than three parts");
            }
            digits = 0;
        } else if byte.is_ascii_digit() {
            let Some(shifted) = parts[index].checked_mul(10) else {
                return Err("a part is too large");
            };
            let Some(value) = shifted.checked_add((byte - b'0') as u32) else {
                return Err("a part is too large");
            };
            parts[index] = value;
            digits += 1;
        } else {
            return Err("it may hold only digits and dots");
        }
        at += 1;
    }
    if digits == 0 {
        return Err("a part between dots is empty");
    }
    if index == 0 {
        return Err("it has only one part");
    }
    Ok((parts, index + 1))
}

impl FromStr for DriverVersion {
    type Err = DriverVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        match parse_driver_parts(trimmed.as_bytes()) {
            Ok((parts, len)) => Ok(Self {
                text: Cow::Owned(trimmed.to_string()),
                parts,
                len,
            }),
            Err(reason) => Err(DriverVersionError {
                text: text.to_string(),
                reason,
            }),
        }
    }
}

impl fmt::Display for DriverVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for DriverVersion {
    fn eq(&self, other: &Self) -> bool {
        self.numbers() == other.numbers()
    }
}

impl Eq for DriverVersion {}

impl PartialOrd for DriverVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DriverVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers().cmp(other.numbers())
    }
}

impl Hash for DriverVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.numbers().hash(state);
    }
}

impl Serialize for DriverVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DriverVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A CUDA toolkit or runtime version, `MAJOR.MINOR`: `12.8`, `13.0`.
///
/// Parsing takes `12` as `12.0` and drops a patch level (`12.4.1` is `12.4`): which driver a
/// CUDA release needs depends only on its major and minor version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion {
    pub major: u32,
    pub minor: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{text}` is not a CUDA version: {reason}; write `MAJOR.MINOR`, like `12.8`")]
pub struct CudaVersionError {
    text: String,
    reason: &'static str,
}

impl CudaVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }
}

impl FromStr for CudaVersion {
    type Err = CudaVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| CudaVersionError {
            text: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(error("it is empty"));
        }
        let parts: Vec<&str> = trimmed.split('.').collect();
        if parts.len() > 3 {
            return Err(error("it has more than three parts"));
        }
        let mut numbers = [0u32; 3];
        for (number, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() {
                return Err(error("a part between dots is empty"));
            }
            if !part.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(error("it may hold only digits and dots"));
            }
            *number = part.parse().map_err(|_| error("a part is too large"))?;
        }
        Ok(Self::new(numbers[0], numbers[1]))
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for CudaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CudaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The minimum Linux `x86_64` driver of each toolkit release's GA build, oldest first, from the
/// release notes' "CUDA Toolkit and Corresponding Driver Versions" table. Later updates of a
/// minor release (12.4 Update 1: 550.54.15) sometimes need a slightly newer driver; the GA value
/// is the one that says whether the minor release runs at all.
const TOOLKIT_DRIVERS: &[(CudaVersion, DriverVersion)] = &[
    (CudaVersion::new(7, 0), DriverVersion::known("346.46")),
    (CudaVersion::new(7, 5), DriverVersion::known("352.31")),
    (CudaVersion::new(8, 0), DriverVersion::known("367.48")),
    (CudaVersion::new(9, 0), DriverVersion::known("384.81")),
    (CudaVersion::new(9, 1), DriverVersion::known("390.46")),
    (CudaVersion::new(9, 2), DriverVersion::known("396.26")),
    (CudaVersion::new(10, 0), DriverVersion::known("410.48")),
    (CudaVersion::new(10, 1), DriverVersion::known("418.39")),
    (CudaVersion::new(10, 2), DriverVersion::known("440.33")),
    (CudaVersion::new(11, 0), DriverVersion::known("450.51.05")),
    (CudaVersion::new(11, 1), DriverVersion::known("455.23")),
    (CudaVersion::new(11, 2), DriverVersion::known("460.27.03")),
    (CudaVersion::new(11, 3), DriverVersion::known("465.19.01")),
    (CudaVersion::new(11, 4), DriverVersion::known("470.42.01")),
    (CudaVersion::new(11, 5), DriverVersion::known("495.29.05")),
    (CudaVersion::new(11, 6), DriverVersion::known("510.39.01")),
    (CudaVersion::new(11, 7), DriverVersion::known("515.43.04")),
    (CudaVersion::new(11, 8), DriverVersion::known("520.61.05")),
    (CudaVersion::new(12, 0), DriverVersion::known("525.60.13")),
    (CudaVersion::new(12, 1), DriverVersion::known("530.30.02")),
    (CudaVersion::new(12, 2), DriverVersion::known("535.54.03")),
    (CudaVersion::new(12, 3), DriverVersion::known("545.23.06")),
    (CudaVersion::new(12, 4), DriverVersion::known("550.54.14")),
    (CudaVersion::new(12, 5), DriverVersion::known("555.42.02")),
    (CudaVersion::new(12, 6), DriverVersion::known("560.28.03")),
    (CudaVersion::new(12, 8), DriverVersion::known("570.26")),
    (CudaVersion::new(12, 9), DriverVersion::known("575.51.03")),
    (CudaVersion::new(13, 0), DriverVersion::known("580.65.06")),
];

/// Minor version compatibility (since CUDA 11): "applications built with any minor version of
/// a CUDA toolkit run on a driver of at least this version within the same major release".
const MINOR_COMPATIBILITY_DRIVERS: &[(u32, DriverVersion)] = &[
    (11, DriverVersion::known("450.80.02")),
    (12, DriverVersion::known("525.60.13")),
    (13, DriverVersion::known("580.65.06")),
];

/// The oldest Linux driver that runs programs built with `cuda`, or `None` for a release these
/// tables don't know (a future major version, or one older than CUDA 7).
///
/// 1. From CUDA 11 on, minor version compatibility lets any driver at or above the major
///    release's floor (11.x: 450.80.02, 12.x: 525.60.13, 13.x: 580.65.06) run every minor
///    release of it. Source: <https://docs.nvidia.com/deploy/cuda-compatibility/>, "Minor Version
///    Compatibility". Caveat from the same page: code that needs PTX JIT compilation of newer PTX
///    than the driver knows (no SASS for the GPU in the binary) fails on the older driver.
/// 2. A release's own toolkit driver also runs it natively; that is lower than the floor for
///    11.0 (450.51.05), so the smaller of the two counts.
/// 3. Before CUDA 11 there was no such compatibility: each release needs its own toolkit
///    driver (10.2: 440.33, 10.1: 418.39, 10.0: 410.48, …).
pub fn min_driver_for(cuda: CudaVersion) -> Option<DriverVersion> {
    let floor = MINOR_COMPATIBILITY_DRIVERS
        .iter()
        .find(|(major, _)| *major == cuda.major)
        .map(|(_, driver)| driver);
    let native = TOOLKIT_DRIVERS
        .iter()
        .find(|(release, _)| *release == cuda)
        .map(|(_, driver)| driver);
    match (floor, native) {
        (Some(floor), Some(native)) => Some(floor.min(native).clone()),
        (Some(driver), None) | (None, Some(driver)) => Some(driver.clone()),
        (None, None) => None,
    }
}

/// The newest CUDA toolkit release that `driver` supports natively (its toolkit driver is at
/// or below `driver`), or `None` for a driver older than CUDA 7's. A driver newer than every
/// entry gets the newest release in the table, 13.0, since newer ones are unknown here.
///
/// This is what `nvidia-smi` reports as "CUDA Version". It is not the limit for running
/// containers: with minor version compatibility a driver at or above a major release's floor
/// runs any minor release of that major (PTX JIT caveats aside), so the runtime's check is
/// [`min_driver_for`]. Use this one to explain a refusal ("this driver supports CUDA up to …").
pub fn max_cuda_for(driver: &DriverVersion) -> Option<CudaVersion> {
    TOOLKIT_DRIVERS
        .iter()
        .filter(|(_, needed)| needed <= driver)
        .map(|(release, _)| *release)
        .max()
}

/// The newest CUDA major `driver` runs every minor release of (by minor version
/// compatibility): `12` for 550.54.14, `13` for 580.65.06; `None` below 450.80.02.
pub fn newest_major_for(driver: &DriverVersion) -> Option<u32> {
    MINOR_COMPATIBILITY_DRIVERS
        .iter()
        .filter(|(_, floor)| floor <= driver)
        .map(|(major, _)| *major)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver(text: &str) -> DriverVersion {
        text.parse().unwrap()
    }

    fn cuda(text: &str) -> CudaVersion {
        text.parse().unwrap()
    }

    #[test]
    fn driver_versions_parse_and_display_as_written() {
        for (text, numbers) in [
            ("550.54.14", &[550, 54, 14][..]),
            ("525.60.13", &[525, 60, 13]),
            ("580.65.06", &[580, 65, 6]),
            ("470.42", &[470, 42]),
            (" 535.104.05\n", &[535, 104, 5]),
        ] {
            let version = driver(text);
            assert_eq!(version.numbers(), numbers, "{text}");
            assert_eq!(version.to_string(), text.trim());
        }
        assert_eq!(driver("550.54.14").major(), 550);
    }

    #[test]
    fn driver_versions_order_by_number() {
        let ordered = [
            "470.42",
            "470.42.01",
            "535.54.03",
            "535.104.05",
            "550.54.14",
            "580.65.06",
        ];
        for pair in ordered.windows(2) {
            assert!(driver(pair[0]) < driver(pair[1]), "{pair:?}");
        }
        assert_eq!(driver("580.65.06"), driver("580.65.6"));
    }

    #[test]
    fn driver_version_errors_say_what_is_wrong() {
        let errors: Vec<String> = [
            "",
            "550",
            "550..14",
            "550.54.14.1",
            "r550.54",
            "550.54.",
            "99999999999.1",
        ]
        .iter()
        .map(|text| text.parse::<DriverVersion>().unwrap_err().to_string())
        .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        `` is not an NVIDIA driver version: it is empty; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `550` is not an NVIDIA driver version: it has only one part; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `550..14` is not an NVIDIA driver version: a part between dots is empty; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `550.54.14.1` is not an NVIDIA driver version: it has more than three parts; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `r550.54` is not an NVIDIA driver version: it may hold only digits and dots; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `550.54.` is not an NVIDIA driver version: a part between dots is empty; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        `99999999999.1` is not an NVIDIA driver version: a part is too large; write `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, like `550.54.14`
        ");
    }

    #[test]
    fn cuda_versions_parse() {
        for (text, major, minor) in [
            ("12.8", 12, 8),
            ("13.0", 13, 0),
            ("12", 12, 0),
            ("12.4.1", 12, 4),
            ("11.8\n", 11, 8),
        ] {
            assert_eq!(cuda(text), CudaVersion::new(major, minor), "{text}");
        }
        assert_eq!(cuda("12.4.1").to_string(), "12.4");
        assert!(cuda("12.10") > cuda("12.9"));
    }

    #[test]
    fn cuda_version_errors_say_what_is_wrong() {
        let errors: Vec<String> = ["", "twelve", "12.", "12.4.1.0", "cu128"]
            .iter()
            .map(|text| text.parse::<CudaVersion>().unwrap_err().to_string())
            .collect();
        insta::assert_snapshot!(errors.join("\n"), @"
        `` is not a CUDA version: it is empty; write `MAJOR.MINOR`, like `12.8`
        `twelve` is not a CUDA version: it may hold only digits and dots; write `MAJOR.MINOR`, like `12.8`
        `12.` is not a CUDA version: a part between dots is empty; write `MAJOR.MINOR`, like `12.8`
        `12.4.1.0` is not a CUDA version: it has more than three parts; write `MAJOR.MINOR`, like `12.8`
        `cu128` is not a CUDA version: it may hold only digits and dots; write `MAJOR.MINOR`, like `12.8`
        ");
    }

    #[test]
    fn versions_serialize_as_strings() {
        let json = serde_json::to_string(&(driver("580.65.06"), cuda("12.8"))).unwrap();
        assert_eq!(json, r#"["580.65.06","12.8"]"#);
        let back: (DriverVersion, CudaVersion) = serde_json::from_str(&json).unwrap();
        assert_eq!(back, (driver("580.65.06"), cuda("12.8")));
        assert_eq!(back.0.to_string(), "580.65.06");
        let error = serde_json::from_str::<CudaVersion>(r#""x""#).unwrap_err();
        assert!(
            error.to_string().contains("is not a CUDA version"),
            "{error}"
        );
    }

    #[test]
    fn minimum_driver_per_cuda_release() {
        for (release, expected) in [
            ("13.0", Some("580.65.06")),
            ("13.2", Some("580.65.06")),
            ("12.0", Some("525.60.13")),
            ("12.8", Some("525.60.13")),
            ("12.9", Some("525.60.13")),
            ("11.0", Some("450.51.05")),
            ("11.8", Some("450.80.02")),
            ("10.2", Some("440.33")),
            ("10.1", Some("418.39")),
            ("10.0", Some("410.48")),
            ("9.2", Some("396.26")),
            ("10.3", None),
            ("14.0", None),
            ("6.5", None),
        ] {
            assert_eq!(
                min_driver_for(cuda(release)).map(|driver| driver.to_string()),
                expected.map(str::to_string),
                "{release}"
            );
        }
    }

    #[test]
    fn newest_native_cuda_per_driver() {
        for (version, expected) in [
            ("450.51.06", Some("11.0")),
            ("450.80.02", Some("11.0")),
            ("470.42.01", Some("11.4")),
            ("525.60.13", Some("12.0")),
            ("525.147.05", Some("12.0")),
            ("530.30.02", Some("12.1")),
            ("535.54.03", Some("12.2")),
            ("545.23.06", Some("12.3")),
            ("550.54.14", Some("12.4")),
            ("555.42.02", Some("12.5")),
            ("560.28.03", Some("12.6")),
            ("565.57.01", Some("12.6")),
            ("570.26", Some("12.8")),
            ("570.124.06", Some("12.8")),
            ("575.51.03", Some("12.9")),
            ("580.65.06", Some("13.0")),
            ("590.1", Some("13.0")),
            ("440.33.01", Some("10.2")),
            ("340.108", None),
        ] {
            assert_eq!(
                max_cuda_for(&driver(version)).map(|cuda| cuda.to_string()),
                expected.map(str::to_string),
                "{version}"
            );
        }
    }

    #[test]
    fn toolkit_table_is_sorted_both_ways() {
        // `max_cuda_for` relies on newer releases never needing an older driver.
        for pair in TOOLKIT_DRIVERS.windows(2) {
            assert!(pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1, "{pair:?}");
        }
    }
}
