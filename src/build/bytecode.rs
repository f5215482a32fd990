//! Bytecode in the image: each Python packages layer carries the `.pyc` of its modules,
//! compiled at build time by the image's own interpreter in mlpack's runtime, so the first
//! `import` in any runtime (`mlpack run`, Docker, Kubernetes) reads bytecode instead of
//! compiling every module, as after `pip install`.
//!
//! The `.pyc` are PEP 552 hash-based ones (<https://peps.python.org/pep-0552/>,
//! `compileall --invalidation-mode unchecked-hash`): they record the source's hash, not its
//! mtime, so the layer stays bit-for-bit reproducible; unchecked, because a layer's sources
//! never change under it. They go into the same layer as their sources, in the `__pycache__/`
//! directories Python looks in: the layer's digest and cache entry cover them, and no layer
//! holds bytecode of sources it lacks. The sources of a site-packages directory are cut, in
//! sorted order, into batches of about 2 MB, each compiled by a process forked for it,
//! several at once ([`DRIVER`]): which files a process compiles, and so its state when it
//! marshals each one, never depends on the number of cores or on timing, as it would with
//! `compileall -j` (whose workers take files as they come); with `PYTHONHASHSEED=0`
//! (marshal writes frozenset constants in hash order before Python 3.10), the same sources
//! give the same bytes on every machine.
//!
//! A Debian base mlpack builds is unpacked without maintainer scripts, so nothing runs the
//! `py3compile` of `libpython3.X-stdlib`'s postinst: its standard library's bytecode is a
//! layer of its own over it ([`Compiler::compile_stdlib`]), compiled the same way with
//! `PYTHONPYCACHEPREFIX` pointing out of the container. Those `.pyc` are checked-hash ones:
//! a later layer (`[build] system-packages`, a `[build] run` step) may replace the standard
//! library's sources under them, and every layer file has the same fixed mtime, so
//! timestamp `.pyc` would then pass Python's mtime+size check with stale code whenever the
//! size stayed the same; a checked hash costs a read and a hash of the source per import.

use std::path::Path;
use std::process::Stdio;

use crate::arch::Arch;
use crate::error::FromIo;
use crate::oci::{Layer, StoreLock};
use crate::wheel::WheelInstaller;

use super::container::{ContainerConfig, mlpack_run};
use super::{BuildError, Builder, cache};

/// The label of an image whose packages layers carry their bytecode; its value is the
/// invalidation mode. `mlpack train` then leaves the libraries' bytecode to the image (see
/// [`crate::train::pycache`]).
pub const BYTECODE_LABEL: &str = "dev.mlpack.bytecode";

/// Compiles, in `MODE` (its first argument), the `.py` files under the directories it is
/// given: each top-level module or package (not `*.dist-info`, `*.data`, `*.libs`, which
/// hold no modules), walked in sorted order and cut into batches of about 2 MB of source
/// (about a quarter of a second of compiling), each batch compiled by a child forked from
/// the driver (`compileall.compile_file`, forced), as many at once as the driver may use
/// CPUs; exits with the worst status (1: some file did not compile; 2: a child failed or
/// was killed; 3: a directory could not be listed). The batches depend on the sources
/// alone, never on the number of cores or on timing; a package as large as torch is spread
/// over all cores.
///
/// Forked children, not fresh interpreters: starting Python and importing `compileall`
/// costs about 20 ms of CPU, a tenth of a batch. What a child marshals depends on its state
/// (marshal shares an object only if something else refers to it), and a child starts as
/// the driver was when it forked: the driver's garbage collector is off before it does
/// anything, so it never runs at a moment that depends on timing, and between forks the
/// driver only waits for children, which leaves nothing behind but integers.
///
/// The driver runs with `-S`: no `.pth` file of the packages being compiled runs. The
/// container runs with `PYTHONDONTWRITEBYTECODE=1`, so the `.pyc` in the tree are only
/// those compiled in `MODE`, never a timestamp-based one from an import.
///
/// Test suites (files under a `test/` or `tests/` directory below the site-packages or
/// standard-library directory, so a prefix like `/opt/test/venv` does not count: more than
/// half of the sources of pandas, scipy and scikit-learn) are left to Python to compile if
/// they are ever imported.
const DRIVER: &str = "\
import gc
gc.disable()
import compileall, os, re, sys, traceback
TESTS, BATCH = r'/tests?/', 2000000
mode, roots = sys.argv[1], sys.argv[2:]
MODE = compileall.py_compile.PycInvalidationMode[mode.upper().replace('-', '_')]
def sources(root, path):
    if not os.path.isdir(path):
        return [path]
    found = []
    for d, dirs, names in os.walk(path):
        dirs[:] = sorted(n for n in dirs if n != '__pycache__')
        found += [os.path.join(d, n) for n in sorted(names) if n.endswith('.py')]
    return [f for f in found if not re.search(TESTS, f[len(root):])]
try:
    entries = [(d, os.path.join(d, n)) for d in roots for n in sorted(os.listdir(d))
        if n.endswith('.py') or not n.endswith(('.dist-info', '.data', '.libs'))
        and os.path.isdir(os.path.join(d, n))]
    files = [(f, os.path.getsize(f) if os.path.exists(f) else 0)
        for d, e in entries for f in sources(d, e)]
except OSError as error:
    print(error, file=sys.stderr)
    sys.exit(3)
batches, batch, size = [], [], 0
for f, n in files:
    batch.append(f)
    size += n
    if size >= BATCH:
        batches.append(batch)
        batch, size = [], 0
batches += [batch] if batch else []
def compile(batch):
    status = 2
    try:
        ok = [compileall.compile_file(f, quiet=1, force=True, invalidation_mode=MODE)
            for f in batch]
        status = 0 if all(ok) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
def reap():
    status = os.wait()[1]
    if os.WIFSIGNALED(status):
        print('a compile process was killed by signal', os.WTERMSIG(status), file=sys.stderr)
        return 2
    return os.WEXITSTATUS(status)
worst, running, cpus = 0, 0, len(os.sched_getaffinity(0))
for batch in batches:
    if running == cpus:
        worst, running = max(worst, reap()), running - 1
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork() == 0:
        compile(batch)
    running += 1
for _ in range(running):
    worst = max(worst, reap())
sys.exit(worst)
";

/// Where the stdlib compile's `PYTHONPYCACHEPREFIX` tree is mounted in its container.
const PREFIX_MOUNT: &str = "/out";

/// The purpose of the compile container's temporary image (the base's layers), which names
/// it `mlpack-bytecode-build:KEY`.
const COMPILER_IMAGE: &str = "bytecode";
/// The purpose of the temporary image that keeps this build's layers from a concurrent
/// `prune` while the store lock is released (`mlpack-bytecode-keep-build:KEY`).
const KEEP_IMAGE: &str = "bytecode-keep";

/// Whether an image for `arch` gets bytecode: its interpreter must run on this machine (a
/// cross-architecture build's layers go without, and the image without the label).
pub(super) fn compiles_for(arch: Arch) -> bool {
    arch == Arch::host()
}

/// The cache key of a packages layer with bytecode: the wheels' key, the interpreter (the
/// scheme's Python version is in the wheels' key; the bytecode format is fixed per version)
/// and whether it is compiled at all.
pub(super) fn key(wheels_key: &str, installer: &WheelInstaller, arch: Arch) -> String {
    cache::key(
        "mlpack-bytecode-v3 unchecked-hash",
        &[
            wheels_key.to_string(),
            installer.python.clone(),
            format!("compiled {}", compiles_for(arch)),
        ],
    )
}

/// The cache key of the standard library's bytecode layer over the Debian base layer `base`
/// for the interpreter `python`.
pub(super) fn stdlib_key(base: &Layer, python: &str) -> String {
    cache::key(
        "mlpack-stdlib-bytecode-v3 checked-hash",
        &[base.diff_id.digest().to_string(), python.to_string()],
    )
}

/// Compiles staged packages trees in containers of the base, one build's worth; the
/// temporary images it tagged are untagged when it is dropped.
pub(super) struct Compiler<'b, 'a> {
    builder: &'b Builder<'a>,
    installer: &'b WheelInstaller,
    base: Vec<Layer>,
    arch: Arch,
    /// The temporary images tagged so far.
    tagged: Vec<String>,
}

impl<'b, 'a> Compiler<'b, 'a> {
    /// A compiler running `installer`'s interpreter on the `base` layers.
    pub(super) fn new(
        builder: &'b Builder<'a>,
        installer: &'b WheelInstaller,
        base: Vec<Layer>,
        arch: Arch,
    ) -> Self {
        Self {
            builder,
            installer,
            base,
            arch,
            tagged: Vec::new(),
        }
    }

    /// Compile the `.py` files under the staged tree `staging`'s site-packages directories,
    /// writing the `.pyc` beside them. `written` are the layers this build has so far: they
    /// are kept from `prune` while the container runs with `store_lock` released.
    pub(super) fn compile(
        &mut self,
        staging: &Path,
        written: Vec<Layer>,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<(), BuildError> {
        if !compiles_for(self.arch) {
            return Ok(());
        }
        let scheme = &self.installer.scheme;
        let mut targets: Vec<&str> = vec![&scheme.purelib, &scheme.platlib];
        targets.dedup();
        targets.retain(|target| staging.join(target.trim_start_matches('/')).is_dir());
        let options: Vec<String> = targets
            .iter()
            .flat_map(|target| {
                let host = staging.join(target.trim_start_matches('/'));
                ["-v".to_string(), format!("{}:{target}", host.display())]
            })
            .collect();
        if options.is_empty() {
            return Ok(());
        }
        if !written.is_empty() {
            self.image(written, KEEP_IMAGE)?;
        }
        self.run_driver("unchecked-hash", &targets, &options, store_lock)
    }

    /// Compile the standard library at `stdlib` (`/usr/lib/python3.11`) of the base, as
    /// checked-hash `.pyc` (see the module doc), into `__pycache__/` directories of the staged
    /// tree `staging`: the container writes them under `PYTHONPYCACHEPREFIX`, a mirror of the
    /// source tree, and they are moved to where Python looks.
    pub(super) fn compile_stdlib(
        &mut self,
        stdlib: &str,
        staging: &Path,
        store_lock: &mut Option<StoreLock>,
    ) -> Result<(), BuildError> {
        let prefix = self.builder.staging()?;
        let options = [
            "-v".to_string(),
            format!("{}:{PREFIX_MOUNT}", prefix.path().display()),
            "-e".to_string(),
            format!("PYTHONPYCACHEPREFIX={PREFIX_MOUNT}"),
        ];
        self.run_driver("checked-hash", &[stdlib], &options, store_lock)?;
        let relative = stdlib.trim_start_matches('/');
        move_to_pycache(&prefix.path().join(relative), &staging.join(relative))
    }

    /// Run [`DRIVER`] in a container of the base with the run `options`, compiling the
    /// `targets` in `mode`; the store lock is released while it runs.
    fn run_driver(
        &mut self,
        mode: &str,
        targets: &[&str],
        options: &[String],
        store_lock: &mut Option<StoreLock>,
    ) -> Result<(), BuildError> {
        let image = self.image(self.base.clone(), COMPILER_IMAGE)?;
        let mut command = vec![self.installer.python.as_str(), "-S", "-c", DRIVER, mode];
        command.extend(targets.iter().copied());
        let log_file = self.builder.store.temp_file()?;
        let log = log_file.path();
        // The run takes the store lock itself.
        drop(store_lock.take());
        let status = self.run(&image, options, &command, log);
        *store_lock = Some(self.builder.store.lock()?);
        let status = status?;
        // 1: some file did not compile (a template, Python 2 code in a test directory):
        // Python compiles it at import, if it is ever imported, as after `pip install`.
        if matches!(status.code(), Some(0 | 1)) {
            return Ok(());
        }
        Err(BuildError::Bytecode {
            python: self.installer.python.clone(),
            status: status.code().map_or_else(
                || "a signal".to_string(),
                |code| format!("exit status {code}"),
            ),
            tail: super::sdist::log_tail(log),
        })
    }

    /// `mlpack run` of `command` in `image` with no network and the run `options` (`-v`,
    /// `-e`), its output into `log`.
    fn run(
        &self,
        image: &str,
        options: &[String],
        command: &[&str],
        log: &Path,
    ) -> Result<std::process::ExitStatus, BuildError> {
        let failed = |source| BuildError::io("write", log, source);
        let log_file = fs_err::File::create(log).map_err(failed)?;
        let log_copy = log_file.try_clone().map_err(failed)?;
        let mut run = mlpack_run(self.builder.store)?;
        run.args(["--rm", "--network", "none"]).args(options);
        run.arg(image)
            .args(command)
            .stdin(Stdio::null())
            .stdout(log_file.into_parts().0)
            .stderr(log_copy.into_parts().0)
            .status()
            .map_err(failed)
    }

    /// A temporary image of `layers` with its environment set for the compile, tagged.
    fn image(&mut self, layers: Vec<Layer>, purpose: &str) -> Result<String, BuildError> {
        let parts: Vec<String> = layers
            .iter()
            .map(|layer| layer.digest.to_string())
            .collect();
        let key = cache::key(purpose, &parts);
        let config = ContainerConfig {
            purpose,
            key: &key,
            // marshal writes frozenset constants in string-hash order before Python 3.10.
            env: vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
                "PYTHONHASHSEED=0".to_string(),
                "PYTHONDONTWRITEBYTECODE=1".to_string(),
            ],
            working_dir: "/",
        };
        let image = self.builder.container_image(layers, self.arch, &config)?;
        if !self.tagged.contains(&image) {
            self.tagged.push(image.clone());
        }
        Ok(image)
    }
}

/// Move each `.pyc` of the `PYTHONPYCACHEPREFIX` tree `mirror` (`json/decoder.cpython-311.pyc`)
/// to the `__pycache__/` beside its source under `target` (`json/__pycache__/…`).
fn move_to_pycache(mirror: &Path, target: &Path) -> Result<(), BuildError> {
    let entries =
        fs_err::read_dir(mirror).map_err(|source| BuildError::io("read", mirror, source))?;
    let mut made = false;
    for entry in entries {
        let entry = entry.map_err(|source| BuildError::io("read", mirror, source))?;
        let path = entry.path();
        if path.is_dir() {
            move_to_pycache(&path, &target.join(entry.file_name()))?;
            continue;
        }
        let dir = target.join("__pycache__");
        if !made {
            fs_err::create_dir_all(&dir)
                .map_err(|source| BuildError::io("create", &dir, source))?;
            made = true;
        }
        let to = dir.join(entry.file_name());
        fs_err::rename(&path, &to).map_err(|source| BuildError::io("move", &to, source))?;
    }
    Ok(())
}

impl Drop for Compiler<'_, '_> {
    /// Untag the temporary images, the build's outcome whatever it is; a failure leaves a
    /// name `mlpack rmi` removes, and costs nothing else.
    fn drop(&mut self) {
        for image in &self.tagged {
            let _ = self.builder.store.untag(image);
        }
    }
}
