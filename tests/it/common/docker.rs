//! Debian's Docker (20.10) for the tests that compare with it: the daemon, the Debian bases
//! the tests make with mmdebstrap (Docker Hub is not reachable here) and import once, kept
//! for later runs, and what `docker build` needs to reach PyPI and Debian from `--network
//! host` builds.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::{Child, Command, Output};

use super::TestContext;

/// Debian's own client: Debian's 20.10 daemon builds with `BuildKit` (`DOCKER_BUILDKIT=1`)
/// through it, where a newer client on `PATH` would want the `buildx` plugin.
pub(crate) const DOCKER: &str = "/usr/bin/docker";

/// Debian bookworm with apt, the `FROM` image the exported-Dockerfile test builds on.
pub(crate) const BOOKWORM: &str = "mlpack-test-bookworm:apt";

/// Debian bookworm's Python 3.11 with pip and venv, standing in for Docker Hub's
/// `python:3.11-slim`: `python` and `pip` on `PATH`, `pip install` allowed outside a venv
/// (no `EXTERNALLY-MANAGED`), `LANG=C.UTF-8` and `CMD ["python3"]`.
pub(crate) const PYTHON: &str = "mlpack-test-python:3.11-slim";

/// `docker ARGS`, its output whatever the exit status.
pub(crate) fn docker(args: &[&str]) -> Output {
    Command::new(DOCKER).args(args).output().unwrap()
}

/// `docker ARGS`'s stdout, or a panic with its stderr.
pub(crate) fn docker_ok(args: &[&str]) -> String {
    let output = docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A daemon: the one running, else `dockerd --bridge=none --iptables=false` started here and
/// stopped when the guard drops.
pub(crate) struct Dockerd(Option<Child>);

impl Dockerd {
    pub(crate) fn ensure() -> Self {
        if docker(&["info"]).status.success() {
            return Self(None);
        }
        let mut child = Command::new("dockerd")
            .args(["--bridge=none", "--iptables=false"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..60 {
            if docker(&["info"]).status.success() {
                return Self(Some(child));
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("dockerd did not come up");
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// [`BOOKWORM`] in Docker, made once: bookworm with apt, trusting the host's CA bundle (this
/// environment's egress goes through a TLS-intercepting proxy).
pub(crate) fn ensure_bookworm(context: &TestContext) {
    ensure_image(context, BOOKWORM, &["--include=ca-certificates"], &[]);
}

/// [`PYTHON`] in Docker, made once (a few minutes: it is kept for later runs).
pub(crate) fn ensure_python(context: &TestContext) {
    ensure_image(
        context,
        PYTHON,
        &[
            "--include=python3,python3-pip,python3-venv,ca-certificates",
            "--aptopt=APT::Install-Recommends \"false\"",
            "--customize-hook=ln -s /usr/bin/python3 \"$1/usr/local/bin/python\"",
            "--customize-hook=ln -s /usr/bin/pip3 \"$1/usr/local/bin/pip\"",
            "--customize-hook=rm -f \"$1/usr/lib/python3.11/EXTERNALLY-MANAGED\"",
        ],
        &[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            "CMD [\"python3\"]",
        ],
    );
}

/// `name` in Docker: bookworm (apt variant) with the host's CA bundle, made by mmdebstrap
/// with `options` (packages, hooks), imported with `changes` to its config.
fn ensure_image(context: &TestContext, name: &str, options: &[&str], changes: &[&str]) {
    if docker(&["image", "inspect", name]).status.success() {
        return;
    }
    let tarball = context.temp.path().join("base.tar");
    let mut mmdebstrap = Command::new("mmdebstrap");
    let made = mmdebstrap
        .arg("--variant=apt")
        .args(options)
        .arg("--customize-hook=copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs")
        .arg("bookworm")
        .arg(&tarball)
        .arg("http://deb.debian.org/debian")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut import = vec!["import".to_string()];
    for change in changes {
        import.extend(["--change".to_string(), (*change).to_string()]);
    }
    import.extend([tarball.display().to_string(), name.to_string()]);
    let import: Vec<&str> = import.iter().map(String::as_str).collect();
    docker_ok(&import);
}

/// `--add-host HOST:IP` for the hosts builds reach: `docker build` does not read the host's
/// `/etc/hosts`.
pub(crate) fn add_hosts() -> Vec<String> {
    ["deb.debian.org", "pypi.org", "files.pythonhosted.org"]
        .iter()
        .filter_map(|host| {
            let address = (*host, 443)
                .to_socket_addrs()
                .ok()?
                .find(std::net::SocketAddr::is_ipv4)?;
            Some(format!("--add-host={host}:{}", address.ip()))
        })
        .collect()
}

/// An image in Docker, removed when dropped with the stage images its build left (the
/// legacy builder keeps a multi-stage build's earlier stages as untagged images).
pub(crate) struct DockerImage {
    pub(crate) tag: String,
    steps: Vec<String>,
}

impl DockerImage {
    /// `tag`, made otherwise (`docker load`): only the tag is removed.
    pub(crate) fn tagged(tag: &str) -> Self {
        Self {
            tag: tag.to_string(),
            steps: Vec::new(),
        }
    }
}

impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.tag]);
        for step in self.steps.iter().rev() {
            // Fails, harmlessly, for a step image that is a parent of another image.
            let _ = docker(&["rmi", step]);
        }
    }
}

/// `docker build --no-cache --network host` of `dockerfile` in `context_dir` as `tag`, with
/// `BuildKit` (for `RUN --mount`) when `buildkit`; the build's output on failure.
pub(crate) fn docker_build(
    context_dir: &Path,
    dockerfile: &Path,
    tag: &str,
    build_args: &[String],
    buildkit: bool,
) -> Result<DockerImage, String> {
    let mut command = Command::new(DOCKER);
    command
        .args(["build", "--no-cache", "--network", "host"])
        .args(add_hosts())
        .arg("-f")
        .arg(dockerfile)
        .args(["-t", tag]);
    for arg in build_args {
        command.args(["--build-arg", arg]);
    }
    command.arg(context_dir);
    command.env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" });
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The legacy builder names each step's image as ` ---> ID`.
    let steps = stdout
        .lines()
        .filter_map(|line| line.strip_prefix(" ---> "))
        .filter(|id| id.len() == 12 && id.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .map(str::to_string)
        .collect();
    let image = DockerImage {
        tag: tag.to_string(),
        steps,
    };
    if output.status.success() {
        Ok(image)
    } else {
        Err(format!(
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
