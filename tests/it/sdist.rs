//! Packages that ship only an sdist, end to end: locked with their build environment, built
//! into wheels in mlpack's runtime (no network, a fixed `SOURCE_DATE_EPOCH`), cached, and
//! imported in the image. The in-tree backend below stands in for a build backend where the
//! test serves its own index; real sdists come from PyPI.

use crate::build::mlpack_ok;
use crate::common::index::{TestIndex, Wheel, sdist_archive};
use crate::common::{TestContext, repo_root};

/// `mlpack ARGS` online with the test's own cache, so what it builds and caches is its own;
/// Debian's packages and index still come from the shared cache (verified on use).
fn mlpack_private(context: &TestContext, args: &[&str]) -> std::process::Output {
    let cache = context.temp.path().join("cache/mlpack");
    let shared = repo_root().join("target/mlpack-test-cache/mlpack");
    for dir in ["debs", "index"] {
        fs_err::create_dir_all(shared.join(dir)).unwrap();
        fs_err::create_dir_all(&cache).unwrap();
        if !cache.join(dir).exists() {
            std::os::unix::fs::symlink(shared.join(dir), cache.join(dir)).unwrap();
        }
    }
    let mut command = context.mlpack(args);
    command.env_remove("MLPACK_OFFLINE");
    command.output().unwrap()
}

fn private_ok(context: &TestContext, args: &[&str]) -> String {
    let output = mlpack_private(context, args);
    let rendered = context.render(&output);
    assert!(output.status.success(), "{rendered}");
    rendered
}

/// A PEP 517 backend in the sdist itself (`backend-path = ["."]`), so the build environment
/// is empty: it writes a wheel of `intree/` by hand, reports `deps.txt` as the wheel's
/// dependencies, and fails with a message, after trying the network, when `fail.txt` exists.
const BACKEND: &str = r#"import base64, hashlib, os, time, urllib.request, zipfile

NAME, VERSION = "intree", "1.0"
DIST_INFO = f"{NAME}-{VERSION}.dist-info"


def _metadata():
    lines = [f"Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {VERSION}"]
    if os.path.exists("deps.txt"):
        lines += [f"Requires-Dist: {line.strip()}" for line in open("deps.txt") if line.strip()]
    return ("\n".join(lines) + "\n").encode()


def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, DIST_INFO))
    with open(os.path.join(directory, DIST_INFO, "METADATA"), "wb") as file:
        file.write(_metadata())
    return DIST_INFO


def build_wheel(directory, config_settings=None, metadata_directory=None):
    if os.path.exists("fail.txt"):
        try:
            urllib.request.urlopen(open("fail.txt").read().strip(), timeout=5)
            print("network: REACHED")
        except OSError as error:
            print(f"network: unreachable ({error})")
        raise RuntimeError("boom from the backend")
    files = {
        f"{NAME}/__init__.py": open(f"{NAME}/__init__.py", "rb").read(),
        f"{DIST_INFO}/METADATA": _metadata(),
        f"{DIST_INFO}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    date = time.gmtime(int(os.environ["SOURCE_DATE_EPOCH"]))[:6]
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, data in files.items():
            wheel.writestr(zipfile.ZipInfo(path, date), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{DIST_INFO}/RECORD,,")
        wheel.writestr(zipfile.ZipInfo(f"{DIST_INFO}/RECORD", date), "\n".join(record) + "\n")
    return name
"#;

const PYPROJECT: &str = "[build-system]\nrequires = []\nbuild-backend = \"intree_backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"intree\"\nversion = \"1.0\"\ndynamic = [\"dependencies\"]\n";

/// Publish `intree` 1.0 as an sdist with the in-tree backend; `extra` adds files. Its bytes.
fn publish_intree(index: &TestIndex, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut files = vec![
        (
            "PKG-INFO",
            "Metadata-Version: 2.1\nName: intree\nVersion: 1.0\n",
        ),
        ("pyproject.toml", PYPROJECT),
        ("intree_backend.py", BACKEND),
        ("intree/__init__.py", "ANSWER = 42\n"),
    ];
    files.extend_from_slice(extra);
    let bytes = sdist_archive("intree", "1.0", &files);
    index.publish_raw("intree", "intree-1.0.tar.gz", &bytes);
    bytes
}

fn project(index: &TestIndex) -> TestContext {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"intree\"\n[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [\"intree\"]\n",
            index.url
        ),
    );
    context
}

fn lock_table(context: &TestContext) -> toml::Table {
    toml::from_str(&context.read("mlpack.lock")).unwrap()
}

fn locked_package<'a>(lock: &'a toml::Table, name: &str) -> &'a toml::Value {
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("`{name}` is not locked: {lock}"))
}

fn built_wheel_sha256(context: &TestContext) -> String {
    let lock = lock_table(context);
    locked_package(&lock, "intree")["build"]["wheel"]["sha256"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_sdist_with_computed_dependencies_is_locked_built_cached_and_reproducible() {
    let index = TestIndex::start();
    publish_intree(&index, &[("deps.txt", "beta>=1\n")]);
    index.publish(&Wheel::new("beta", "1.0", &[]));
    let context = project(&index);

    // The dependencies come from the backend's `prepare_metadata_for_build_wheel`.
    private_ok(&context, &["lock"]);
    let lock = lock_table(&context);
    assert_eq!(
        locked_package(&lock, "intree")["dependencies"][0]["name"].as_str(),
        Some("beta")
    );
    locked_package(&lock, "beta");

    private_ok(&context, &["build"]);
    let first = built_wheel_sha256(&context);
    let ran = private_ok(
        &context,
        &[
            "run",
            "--rm",
            "intree",
            "python3",
            "-c",
            "import intree, beta; print('answer', intree.ANSWER)",
        ],
    );
    assert!(ran.contains("answer 42"), "{ran}");

    // A second build reuses the cached wheel: no build container runs.
    let cache = context.temp.path().join("cache/mlpack/sdist-wheels-v1");
    let wheels = |cache: &std::path::Path| {
        walkdir::WalkDir::new(cache)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "whl"))
            .map(|entry| entry.path().to_path_buf())
            .collect::<Vec<_>>()
    };
    let cached = wheels(&cache);
    assert_eq!(cached.len(), 1, "{cached:?}");
    let modified = fs_err::metadata(&cached[0]).unwrap().modified().unwrap();
    private_ok(&context, &["build"]);
    assert_eq!(
        fs_err::metadata(&cached[0]).unwrap().modified().unwrap(),
        modified
    );

    // Built again from scratch, the wheel is the same bytes.
    fs_err::remove_dir_all(&cache).unwrap();
    private_ok(&context, &["build", "--locked"]);
    assert_eq!(wheels(&cache).len(), 1);
    assert_eq!(
        mlpack::sha256::file_sha256(&wheels(&cache)[0]).unwrap(),
        first,
        "a rebuild gives the same wheel"
    );
}

#[test]
fn a_failing_build_names_the_package_backend_and_log_and_had_no_network() {
    let index = TestIndex::start();
    // The backend tries the test's own index, which answers from this host's loopback.
    publish_intree(&index, &[("fail.txt", &index.url)]);
    let context = project(&index);
    private_ok(&context, &["lock"]);
    let output = mlpack_private(&context, &["build"]);
    let rendered = context.render(&output);
    assert_eq!(output.status.code(), Some(1), "{rendered}");
    for expected in [
        "building `intree` 1.0 from its sdist failed (exit status 1) with the backend `intree_backend`",
        "RuntimeError: boom from the backend",
        "network: unreachable",
        "the whole log: `[TEMP]/cache/mlpack/sdist-logs/intree-1.0.log`",
        "hint: if `intree` needs a system library or tool to build",
    ] {
        assert!(rendered.contains(expected), "`{expected}` in:\n{rendered}");
    }
    assert!(!rendered.contains("network: REACHED"), "{rendered}");
    // Nothing half-done is left: no wheel in the cache, no build image in the store.
    let cache = context.temp.path().join("cache/mlpack/sdist-wheels-v1");
    let leftovers: Vec<_> = fs_err::read_dir(&cache)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let index_json = fs_err::read_to_string(context.temp.path().join("store/index.json")).unwrap();
    assert!(!index_json.contains("mlpack-sdist-build"), "{index_json}");
}

#[test]
fn an_sdist_whose_hash_disagrees_with_the_lock_is_refused() {
    let index = TestIndex::start();
    publish_intree(&index, &[]);
    let context = project(&index);
    private_ok(&context, &["lock"]);
    let lock = context.read("mlpack.lock");
    let sha256 = locked_package(&lock_table(&context), "intree")["sdist"]["hashes"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    context.write("mlpack.lock", &lock.replace(&sha256, &"0".repeat(64)));
    let output = mlpack_private(&context, &["build"]);
    let rendered = context.render(&output);
    assert_eq!(output.status.code(), Some(1), "{rendered}");
    assert!(rendered.contains("intree-1.0.tar.gz"), "{rendered}");
    assert!(rendered.contains(&"0".repeat(64)), "{rendered}");
}

#[cfg(feature = "test-pypi")]
#[test]
fn real_sdists_from_pypi_build_and_import_with_a_c_extension() {
    let context = TestContext::new();
    // docopt and promise: setup.py with egg-info; antlr4-python3-runtime 4.9.3 through
    // hydra-core; crcmod: a C extension and a distutils PKG-INFO that states no dependencies.
    context.write(
        "mlpack.toml",
        "[project]\nname = \"sdists\"\n[python]\nversion = \"3.11\"\nrequirements = [\"docopt==0.6.2\", \"promise==2.3\", \"hydra-core==1.3.2\", \"crcmod==1.7\"]\n",
    );
    mlpack_ok(&context, &["build"]);
    let lock = lock_table(&context);
    for name in ["docopt", "promise", "antlr4-python3-runtime", "crcmod"] {
        let package = locked_package(&lock, name);
        assert!(package["sdist"]["url"].is_str(), "{package}");
        assert!(package["build"]["wheel"]["sha256"].is_str(), "{package}");
    }
    locked_package(&lock, "six");
    let ran = mlpack_ok(
        &context,
        &[
            "run",
            "--rm",
            "sdists",
            "python3",
            "-c",
            "import docopt, promise, hydra, antlr4, crcmod._crcfunext as ext; print('imported', ext.__file__.endswith('.so'))",
        ],
    );
    assert!(ran.contains("imported True"), "{ran}");
}

#[test]
fn direct_references_to_a_project_directory_and_a_url_are_locked_and_built() {
    let index = TestIndex::start();
    index.publish(&Wheel::new("beta", "1.0", &[]));
    let sdist = publish_intree(&index, &[]);
    let server = index.url.trim_end_matches("/simple");
    let context = TestContext::new();
    // `locallib` is a directory of the project whose backend computes its dependencies.
    for (path, text) in [
        (
            "libs/locallib/pyproject.toml",
            PYPROJECT.replace("intree", "locallib").as_str(),
        ),
        (
            "libs/locallib/locallib_backend.py",
            BACKEND.replace("\"intree\"", "\"locallib\"").as_str(),
        ),
        ("libs/locallib/locallib/__init__.py", "ANSWER = 7\n"),
        ("libs/locallib/deps.txt", "beta>=1\n"),
    ] {
        context.write(path, text);
    }
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"direct\"\n[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [\"locallib @ ./libs/locallib\", \"intree @ {server}/files/intree-1.0.tar.gz#sha256={}\"]\n",
            index.url,
            mlpack::sha256::sha256_hex(&sdist)
        ),
    );
    private_ok(&context, &["lock"]);
    let lock = lock_table(&context);
    let local = locked_package(&lock, "locallib");
    assert_eq!(local["index"].as_str(), Some("direct"));
    assert_eq!(local["sdist"]["url"].as_str(), Some("./libs/locallib"));
    assert_eq!(local["dependencies"][0]["name"].as_str(), Some("beta"));
    assert_eq!(
        locked_package(&lock, "intree")["index"].as_str(),
        Some("direct")
    );
    private_ok(&context, &["build"]);
    let ran = private_ok(
        &context,
        &[
            "run",
            "--rm",
            "direct",
            "python3",
            "-c",
            "import locallib, intree, beta; print('sum', locallib.ANSWER + intree.ANSWER)",
        ],
    );
    assert!(ran.contains("sum 49"), "{ran}");
    // An edit to the local library makes the lock stale; a wrong hash in the URL is refused.
    context.write("libs/locallib/locallib/__init__.py", "ANSWER = 8\n");
    let check = mlpack_private(&context, &["lock", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", context.render(&check));
    context.write(
        "mlpack.toml",
        &format!(
            "[python]\nversion = \"3.11\"\nindex-url = \"{}\"\nrequirements = [\"intree @ {server}/files/intree-1.0.tar.gz#sha256={}\"]\n",
            index.url,
            "0".repeat(64)
        ),
    );
    let refused = mlpack_private(&context, &["lock"]);
    let rendered = context.render(&refused);
    assert_eq!(refused.status.code(), Some(1), "{rendered}");
    assert!(rendered.contains("intree-1.0.tar.gz"), "{rendered}");
}
