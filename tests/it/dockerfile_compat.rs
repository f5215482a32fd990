//! `mlpack build -f Dockerfile` against Debian's `docker build` (20.10): real-world-style ML
//! Dockerfiles (`tests/fixtures/dockerfiles/`), each built by both on the same local base
//! (bookworm's Python 3.11 as `127.0.0.1:PORT/library/python:3.11-slim`, pushed to a local
//! registry: Docker Hub is not reachable here), then compared: every path of the final file
//! system (type, mode, owner, size, link target, content; byte-compiled caches, logs and apt's
//! lists left out, see `common::image_diff`), the config (`Env`, `Cmd`, `Entrypoint`,
//! `WorkingDir`, `User`, `ExposedPorts`, `Labels`, `Volumes`, `StopSignal`, `Healthcheck`), and the output of the image
//! run by `docker run --network none` and by `mlpack run`.
//!
//! What this Docker cannot build: heredocs (`RUN <<EOF`, `COPY <<EOF`) need `BuildKit`'s
//! `# syntax=docker/dockerfile:1.4` frontend, an image from Docker Hub. `heredoc/Dockerfile`
//! is built by mlpack only, and compared with `heredoc/Dockerfile.docker`, the same steps
//! without heredocs, built by Docker. `RUN --mount=type=cache` is built by Docker's `BuildKit`
//! (`DOCKER_BUILDKIT=1`); the rest by its legacy builder, as Debian's `docker build` does
//! by default.

use std::path::Path;

use crate::build::mlpack_ok;
use crate::common::docker::{
    DockerImage, Dockerd, PYTHON, docker, docker_build, docker_ok, ensure_python,
};
use crate::common::image_diff::{ImageDump, assert_same, differences, dump, report};
use crate::common::registry::TestRegistry;
use crate::common::{TestContext, copy_tree, repo_root};

/// One Dockerfile of `tests/fixtures/dockerfiles/` and how to check it.
pub(crate) struct Fixture {
    /// The directory: the build context, with a `Dockerfile`.
    pub(crate) name: &'static str,
    /// The Dockerfile Docker builds instead, where it cannot build `Dockerfile`.
    pub(crate) docker_dockerfile: &'static str,
    /// Whether Docker needs `BuildKit` for it.
    pub(crate) buildkit: bool,
    /// Arguments after the image for the runs compared; `[]` runs the image's command.
    pub(crate) runs: &'static [&'static [&'static str]],
}

pub(crate) const MULTI_STAGE: Fixture = Fixture {
    name: "multi-stage",
    docker_dockerfile: "Dockerfile",
    buildkit: false,
    runs: &[&[]],
};

pub(crate) const SERVICE: Fixture = Fixture {
    name: "service",
    docker_dockerfile: "Dockerfile",
    buildkit: false,
    runs: &[&[], &["--port", "9000"]],
};

pub(crate) const CACHE_MOUNT: Fixture = Fixture {
    name: "cache-mount",
    docker_dockerfile: "Dockerfile",
    buildkit: true,
    runs: &[&[]],
};

pub(crate) const HEREDOC: Fixture = Fixture {
    name: "heredoc",
    docker_dockerfile: "Dockerfile.docker",
    buildkit: false,
    runs: &[&[], &["id", "trainer"]],
};

/// The base, pushed to a registry the test starts, as Dockerfiles name it.
pub(crate) struct Base {
    pub(crate) registry: TestRegistry,
    pub(crate) reference: String,
}

impl Base {
    /// [`PYTHON`] (made once) pushed to a new registry as `library/python:3.11-slim`.
    pub(crate) fn start(context: &TestContext) -> Self {
        ensure_python(context);
        let registry = TestRegistry::start(context.temp.path());
        let reference = format!("{}/library/python:3.11-slim", registry.host);
        docker_ok(&["tag", PYTHON, &reference]);
        docker_ok(&["push", &reference]);
        Self {
            registry,
            reference,
        }
    }

    /// `REGISTRY=HOST:PORT`, the build argument the fixtures' `FROM` lines read.
    pub(crate) fn build_arg(&self) -> String {
        format!("REGISTRY={}", self.registry.host)
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.reference]);
    }
}

/// `fixture` copied into the test's project directory.
fn project_of(context: &TestContext, fixture: &Fixture) -> std::path::PathBuf {
    let from = repo_root()
        .join("tests/fixtures/dockerfiles")
        .join(fixture.name);
    copy_tree(&from, &context.project);
    context.project.clone()
}

/// Build `fixture` with Docker as `tag`.
fn build_with_docker(project: &Path, fixture: &Fixture, base: &Base, tag: &str) -> DockerImage {
    docker_build(
        project,
        &project.join(fixture.docker_dockerfile),
        tag,
        &[base.build_arg()],
        fixture.buildkit,
    )
    .unwrap_or_else(|output| panic!("docker build of {}: {output}", fixture.name))
}

/// Build `fixture` with `mlpack build -f` as `tag`, and load it into Docker under that tag.
fn build_with_mlpack(context: &TestContext, base: &Base, tag: &str) -> DockerImage {
    mlpack_ok(
        context,
        &[
            "build",
            "-f",
            "Dockerfile",
            "--build-arg",
            &base.build_arg(),
            "-t",
            tag,
            ".",
        ],
    );
    let archive = context.temp.path().join("image.tar");
    mlpack_ok(
        context,
        &[
            "export",
            "--format",
            "docker",
            tag,
            "-o",
            archive.to_str().unwrap(),
        ],
    );
    docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    DockerImage::tagged(tag)
}

/// `docker run --rm --network none IMAGE ARGS`: exit code and output.
fn docker_run(image: &str, args: &[&str]) -> String {
    let mut command = vec!["run", "--rm", "--network", "none", image];
    command.extend_from_slice(args);
    let output = docker(&command);
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `mlpack run --rm --network none IMAGE ARGS`: exit code and output.
fn mlpack_run(context: &TestContext, image: &str, args: &[&str]) -> String {
    let mut command = vec!["run", "--rm", "--network", "none", image];
    command.extend_from_slice(args);
    let output = context
        .mlpack(&command)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    format!(
        "exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Build `fixture` with both, and check that the images match and run alike.
fn compare(fixture: &Fixture) {
    let _dockerd = Dockerd::ensure();
    let context = TestContext::new();
    let base = Base::start(&context);
    let project = project_of(&context, fixture);
    let theirs = format!("mlpack-compat-{}:docker", fixture.name);
    let ours = format!("mlpack-compat-{}:mlpack", fixture.name);
    let _theirs_image = build_with_docker(&project, fixture, &base, &theirs);
    let _ours_image = build_with_mlpack(&context, &base, &ours);
    let (docker_dump, mlpack_dump): (ImageDump, ImageDump) = (dump(&theirs), dump(&ours));
    let runs: Vec<(String, String, String)> = fixture
        .runs
        .iter()
        .map(|args| {
            (
                docker_run(&theirs, args),
                docker_run(&ours, args),
                mlpack_run(&context, &ours, args),
            )
        })
        .collect();
    let mut problems = differences("docker", &docker_dump, "mlpack", &mlpack_dump);
    for ((docker_output, loaded_output, mlpack_output), args) in runs.iter().zip(fixture.runs) {
        if !docker_output.starts_with("exit Some(0)\n") {
            problems.push(format!(
                "run {args:?}: Docker's image failed:\n{docker_output}"
            ));
        }
        for (what, output) in [
            ("`docker run` of mlpack's image", loaded_output),
            ("`mlpack run` of mlpack's image", mlpack_output),
        ] {
            if output != docker_output {
                problems.push(format!(
                    "run {args:?}:\n    `docker run` of Docker's image: {docker_output:?}\n    {what}: {output:?}"
                ));
            }
        }
    }
    report(fixture.name, &docker_dump, &mlpack_dump, &problems);
}

#[test]
fn a_multi_stage_build_matches_docker() {
    compare(&MULTI_STAGE);
}

#[test]
fn a_service_with_a_user_and_a_debian_package_matches_docker() {
    compare(&SERVICE);
}

#[test]
fn a_cache_mount_build_matches_docker_buildkit() {
    compare(&CACHE_MOUNT);
}

#[test]
fn heredocs_match_the_same_steps_built_by_docker() {
    compare(&HEREDOC);
}

/// The harness's own check: two `docker build --no-cache` runs of the service compare equal,
/// so what the comparison leaves out covers what differs between any two builds (apt's
/// lists, logs, ldconfig's cache), and a difference in the tests above is mlpack's.
#[test]
fn two_docker_builds_compare_equal() {
    let _dockerd = Dockerd::ensure();
    let context = TestContext::new();
    let base = Base::start(&context);
    let project = project_of(&context, &SERVICE);
    let (first, second) = ("mlpack-compat-twice:first", "mlpack-compat-twice:second");
    let _first_image = build_with_docker(&project, &SERVICE, &base, first);
    let _second_image = build_with_docker(&project, &SERVICE, &base, second);
    let (one, two) = (dump(first), dump(second));
    assert!(one.files.len() > 5000, "{} paths", one.files.len());
    assert_same("service", "first", &one, "second", &two);
}
