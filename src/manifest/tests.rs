use super::*;

fn parse(text: &str) -> Result<Manifest, String> {
    let project = tempfile::tempdir().unwrap();
    fs_err::create_dir(project.path().join("data")).unwrap();
    Manifest::parse(text, Path::new("mlpack.toml"), project.path()).map_err(|error| {
        error
            .to_string()
            .replace(&project.path().display().to_string(), "[PROJECT]")
    })
}

#[test]
fn defaults_apply_to_an_empty_manifest() {
    let manifest = parse("").unwrap();
    assert_eq!(manifest.base.image, "debian:bookworm");
    assert_eq!(manifest.python_version(), PythonVersion::new(3, 11));
    assert_eq!(manifest.train.command.args(), ["python3", "train.py"]);
    assert_eq!(manifest.train.workdir, "/app");
    assert_eq!(manifest.outputs.target, "/outputs");
    assert_eq!(manifest.hardware.accelerator, Accelerator::Cpu);
    assert_eq!(manifest.image.compression, Compression::Zstd);
}

#[test]
fn the_base_decides_the_default_python() {
    let manifest = parse("[base]\nimage = \"debian:trixie\"\n").unwrap();
    assert_eq!(manifest.python_version(), PythonVersion::new(3, 13));
    let manifest =
        parse("[base]\nimage = \"debian:trixie\"\n[python]\nversion = \"3.12\"\n").unwrap();
    assert_eq!(manifest.python_version(), PythonVersion::new(3, 12));
}

#[test]
fn a_full_manifest_parses() {
    let manifest = parse(
        r#"
[project]
name = "iris"
description = "flowers"

[python]
version = "3.11"
requirements = ["scikit-learn>=1.3", "torch==2.5.*; sys_platform == 'linux'"]
index-url = "https://pypi.org/simple"

[python.imports]
cv2 = "opencv-python"

[base]
image = "debian:bookworm"
packages = ["git"]

[hardware]
accelerator = "cuda"
cuda = "12.8"
driver-min = "525.60.13"

[train]
command = "python3 train.py --epochs 3"
shm-size = "2g"

[train.env]
SEED = "1"

[[datasets]]
source = "data"
target = "/data/iris"
read-only = false

[outputs]
dir = "runs"

[image]
name = "iris"
tag = "v1"
compression = "gzip"
labels = { team = "ml" }
"#,
    )
    .unwrap();
    assert_eq!(
        manifest.train.command.args(),
        ["python3", "train.py", "--epochs", "3"]
    );
    assert_eq!(manifest.datasets[0].target.get_ref(), "/data/iris");
    assert!(!manifest.datasets[0].read_only);
    assert_eq!(manifest.python.imports["cv2"].get_ref(), "opencv-python");
    assert_eq!(manifest.hardware.accelerator, Accelerator::Cuda);
}

#[test]
fn every_unknown_key_is_reported_with_a_suggestion() {
    let error = parse("[pyhton]\nversion = \"3.11\"\n\n[train]\ncomand = \"x\"\nworkdir = \"/app\"\n\n[[datasets]]\nsource = \"data\"\ntraget = \"/d\"\n").unwrap_err();
    insta::assert_snapshot!(error, @r"
    `mlpack.toml` has 3 problems
      mlpack.toml:1:2: unknown key `pyhton`
        hint: did you mean `python`?
      mlpack.toml:5:1: unknown key `train.comand`
        hint: did you mean `train.command`?
      mlpack.toml:10:1: unknown key `datasets.traget`
        hint: did you mean `datasets.target`?
    ");
}

#[test]
fn invalid_values_are_located() {
    let error = parse(
        "[python]\nrequirements = [\"numpy>=1.0\", \"scikit-learn>=>1\", \"ok\"]\n\n[[datasets]]\nsource = \"missing\"\ntarget = \"relative\"\n\n[hardware]\ncuda = \"twelve\"\n\n[train]\nshm-size = \"lots\"\n",
    )
    .unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 5 problems
      mlpack.toml:2:31: `scikit-learn>=>1` is not a valid requirement: no such comparison operator ">=>", must be one of ~= == != <= >= < > ===
        hint: write a PEP 508 requirement, like `scikit-learn>=1.3` or `torch==2.5.*`
      mlpack.toml:5:10: dataset `missing` does not exist (looked for `[PROJECT]/missing`)
        hint: paths in mlpack.toml are relative to the project directory
      mlpack.toml:6:10: dataset `target = "relative"` is not an absolute path
        hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
      mlpack.toml:9:8: `twelve` is not a CUDA version
        hint: write `MAJOR.MINOR`, like `12.8`
      mlpack.toml:12:12: `lots` is not a size; write a number with an optional unit: `b`, `k`, `m`, `g` or `t` (like `512m` or `2g`)
    "#);
}

#[test]
fn a_cuda_release_needs_a_cuda_accelerator() {
    let error = parse("[hardware]\ncuda = \"12.8\"\n").unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 1 problem
      mlpack.toml:2:8: `cuda = "12.8"` asks for CUDA, but `accelerator` is `cpu` (the default)
        hint: add `accelerator = "cuda"` (or `"auto"`) to `[hardware]`
    "#);
}

#[test]
fn type_errors_are_located() {
    let error = parse("[python]\nversion = \"2.7\"\n").unwrap_err();
    insta::assert_snapshot!(error, @r"
    `mlpack.toml` has 1 problem
      mlpack.toml:2:11: Python `2.7` is not supported; mlpack knows Python 3.8 to 3.15
    ");
    let error = parse("[hardware]\naccelerator = \"tpu\"\n").unwrap_err();
    insta::assert_snapshot!(error, @r"
    `mlpack.toml` has 1 problem
      mlpack.toml:2:15: unknown variant `tpu`, expected one of `cpu`, `cuda`, `auto`
    ");
    let error = parse("[python]\nplatforms = [\"amd64\", \"s390x\"]\n").unwrap_err();
    insta::assert_snapshot!(error, @r"
    `mlpack.toml` has 1 problem
      mlpack.toml:2:13: `s390x` is not a supported architecture; use `x86_64` or `aarch64`
    ");
    let manifest = parse("[python]\nplatforms = [\"amd64\", \"arm64\"]\n").unwrap();
    assert_eq!(
        manifest.python.platforms,
        [crate::arch::Arch::X86_64, crate::arch::Arch::Aarch64]
    );
}

#[test]
fn type_errors_do_not_hide_the_other_problems() {
    // Four typos in one manifest: all are reported in one run, the type errors (serde stops
    // at the first) beside the requirement and the dataset that only typed values reveal.
    let error = parse(
        "[project]\nnmae = \"x\"\n\n[python]\nversion = 3.11\nrequirements = [\"scikit-learn>=>1.3\"]\n\n[train]\nshm-size = 2\ncommand = \"python train.py\"\n\n[[datasets]]\nsource = \"missing\"\nread-only = \"yes\"\n\n[[datasets]]\ntarget = \"/b\"\n",
    )
    .unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 7 problems
      mlpack.toml:2:1: unknown key `project.nmae`
        hint: did you mean `project.name`?
      mlpack.toml:5:11: invalid type: floating point `3.11`, expected a string
      mlpack.toml:6:17: `scikit-learn>=>1.3` is not a valid requirement: no such comparison operator ">=>", must be one of ~= == != <= >= < > ===
        hint: write a PEP 508 requirement, like `scikit-learn>=1.3` or `torch==2.5.*`
      mlpack.toml:9:12: invalid type: integer `2`, expected a string
      mlpack.toml:13:10: dataset `missing` does not exist (looked for `[PROJECT]/missing`)
        hint: paths in mlpack.toml are relative to the project directory
      mlpack.toml:14:13: invalid type: string "yes", expected a boolean
      mlpack.toml:16:1: missing field `source`
    "#);
}

#[test]
fn the_image_section_is_checked() {
    let manifest =
        parse("[image]\nexpose = [8080, \"53/udp\"]\nuser = \"app:app\"\nentrypoint = []\n")
            .unwrap();
    assert_eq!(manifest.exposed_ports(), ["8080/tcp", "53/udp"]);
    assert_eq!(
        manifest.image.entrypoint.unwrap().args(),
        Vec::<String>::new()
    );
    let error = parse(
        "[image]\nexpose = [0, \"80/http\", 70000]\nuser = \"a b\"\n[image.env]\n\"A=B\" = \"x\"\n",
    )
    .unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 5 problems
      mlpack.toml:2:11: `0` is not a port
        hint: write a port from 1 to 65535, optionally with `/tcp`, `/udp` or `/sctp`: `8080` or `"53/udp"`
      mlpack.toml:2:14: `80/http` is not a port
        hint: write a port from 1 to 65535, optionally with `/tcp`, `/udp` or `/sctp`: `8080` or `"53/udp"`
      mlpack.toml:2:25: `70000` is not a port
        hint: write a port from 1 to 65535, optionally with `/tcp`, `/udp` or `/sctp`: `8080` or `"53/udp"`
      mlpack.toml:3:8: `a b` is not a user
        hint: write `USER`, `USER:GROUP`, `UID` or `UID:GID`, like `1000:1000` or `app`
      mlpack.toml:5:1: `A=B` is not an environment variable name
        hint: names are not empty and hold no `=`
    "#);
}

#[test]
fn toml_syntax_errors_are_located() {
    let error = parse("[python\nversion = 3\n").unwrap_err();
    insta::assert_snapshot!(error, @r"
    `mlpack.toml` has 1 problem
      mlpack.toml:1:8: unclosed table, expected `]`
    ");
}

#[test]
fn every_template_is_a_valid_manifest() {
    for template in ["sklearn", "pytorch", "tensorflow", "jax", "generic"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join(format!("{template}.toml"));
        let text = fs_err::read_to_string(&path)
            .unwrap()
            .replace("{{name}}", "demo")
            .replace("{{python}}", "3.11")
            .replace("{{command}}", "[\"python3\", \"train.py\"]")
            .replace("{{requirements}}", "")
            .replace(
                "{{requirements-file}}",
                "# requirements-file = \"requirements.txt\"\n",
            )
            .replace("{{datasets}}", "[[datasets]]\nsource = \"data\"\n");
        if let Err(error) = parse(&text) {
            panic!("{template}: {error}");
        }
    }
}

#[test]
fn values_that_would_fail_late_are_refused_when_read() {
    let long_name = "n".repeat(2_000_000);
    let error = parse(&format!(
        r#"[project]
name = "{long_name}"

[train]
command = ["python3", "train.py\u0000--evil"]
workdir = "../../../../../etc"

[train.env]
"A=B" = "1"

[[datasets]]
source = "data"
target = "/../../etc"

[[datasets]]
source = "data"
target = "/data//iris/"

[outputs]
target = "/proc/self"
"#
    ))
    .unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 7 problems
      mlpack.toml:2:8: `project.name` is longer than 32768 bytes: `nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn… (2000000 bytes)`
      mlpack.toml:5:23: `train.command[1]` contains a NUL byte: `train.py\0--evil`
        hint: remove the `\u0000`
      mlpack.toml:6:11: `workdir = "../../../../../etc"` is not an absolute path
        hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
      mlpack.toml:9:1: `A=B` is not an environment variable name
        hint: names are not empty and hold no `=`
      mlpack.toml:13:10: dataset `target = "/../../etc"` has a `..` component
        hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
      mlpack.toml:17:10: dataset `target = "/data//iris/"` is not a normalized path
        hint: write `/data/iris`
      mlpack.toml:20:10: outputs `target = "/proc/self"` is under `/proc`, which the container's own file systems fill
        hint: write an absolute path inside the container, like `/data/images`; not `/`, `/proc`, `/sys` or `/dev`
    "#);
}

#[test]
fn image_names_are_checked_where_they_are_written() {
    let error = parse("[project]\nname = \"My Project\"\n").unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 1 problem
      mlpack.toml:2:8: `name = "My Project"` is not a valid image name: each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes
        hint: use lowercase letters, digits, `.`, `_` and `-`, like `iris-classifier`, or set `[image] name`
    "#);
    let error = parse("[project]\nname = \"My Project\"\n[image]\nname = \"-x\"\ntag = \".v1\"\n")
        .unwrap_err();
    insta::assert_snapshot!(error, @r#"
    `mlpack.toml` has 2 problems
      mlpack.toml:4:8: `name = "-x"` is not a valid image name: each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes
        hint: use lowercase letters, digits, `.`, `_` and `-`, like `iris-classifier`, or set `[image] name`
      mlpack.toml:5:7: `tag = ".v1"` is not a valid tag: the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`
    "#);
    parse("[project]\nname = \"My Project\"\n[image]\nname = \"my-project\"\n").unwrap();
}
