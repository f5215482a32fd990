//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution
//! registry) on a free port of 127.0.0.1, storing in the test's temp dir, optionally behind
//! htpasswd Basic auth. It is stopped when dropped.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct TestRegistry {
    /// `127.0.0.1:PORT`, as references name it.
    pub(crate) host: String,
    /// Where the registry keeps blobs, for tests that damage them.
    pub(crate) storage: PathBuf,
    child: Child,
}

pub(crate) const USER: &str = "mlpack";
pub(crate) const PASSWORD: &str = "s3cret-pass";

impl TestRegistry {
    /// A registry without auth.
    pub(crate) fn start(dir: &Path) -> Self {
        Self::start_with(dir, false)
    }

    /// A registry that wants `USER`/`PASSWORD` (bcrypt htpasswd, as the registry requires).
    pub(crate) fn start_with_auth(dir: &Path) -> Self {
        Self::start_with(dir, true)
    }

    fn start_with(dir: &Path, auth: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let storage = dir.join(format!("registry-{port}"));
        fs_err::create_dir_all(&storage).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if auth {
            let htpasswd = Command::new("htpasswd")
                .args(["-Bbn", USER, PASSWORD])
                .output()
                .expect("htpasswd is installed (Debian's apache2-utils)");
            let file = storage.join("htpasswd");
            fs_err::write(&file, &htpasswd.stdout).unwrap();
            let _ = write!(
                config,
                "auth:\n  htpasswd:\n    realm: mlpack-test\n    path: {}\n",
                file.display()
            );
        }
        let config_path = storage.join("config.yml");
        fs_err::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (Debian's docker-registry)");
        let registry = Self {
            host: format!("127.0.0.1:{port}"),
            storage,
            child,
        };
        registry.wait_until_ready();
        registry
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the registry on {} did not start", self.host);
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
