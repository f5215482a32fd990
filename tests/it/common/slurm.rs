//! A real two-node Slurm cluster on this machine, shared by the tests of one test binary:
//! its own `munged` (key and socket in the cluster's directory), `slurmctld`, and
//! `slurmd -N n1` / `slurmd -N n2` on 127.0.0.1 with ports picked free and `%n` spool, pid and
//! log paths, all from a `slurm.conf` written under the temporary directory. Started on first
//! use, stopped when the test binary exits; a cluster left by a killed run (its owner process
//! gone) is stopped and removed by the next one.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub(crate) struct SlurmCluster {
    dir: PathBuf,
    pub(crate) conf: PathBuf,
}

static CLUSTER: OnceLock<SlurmCluster> = OnceLock::new();

/// The shared cluster, started on first use.
pub(crate) fn cluster() -> &'static SlurmCluster {
    CLUSTER.get_or_init(|| {
        stop_stale();
        let cluster = SlurmCluster::start();
        // SAFETY: `stop_at_exit` is a plain function that only reads a OnceLock once set.
        #[expect(
            unsafe_code,
            reason = "atexit(3) is the one hook at a test binary's end"
        )]
        unsafe {
            libc::atexit(stop_at_exit);
        }
        cluster
    })
}

extern "C" fn stop_at_exit() {
    if let Some(cluster) = CLUSTER.get() {
        stop(&cluster.dir);
    }
}

const PREFIX: &str = "mlpack-slurm-";
/// The daemons' pid files, each a process this fixture started.
const PID_FILES: [&str; 4] = [
    "slurmd-n1.pid",
    "slurmd-n2.pid",
    "slurmctld.pid",
    "munge/pid",
];

impl SlurmCluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = fs_err::remove_dir_all(&dir);
        for sub in ["munge", "state", "log", "spool"] {
            fs_err::create_dir_all(dir.join(sub)).unwrap();
        }
        start_munge(&dir);
        let conf = dir.join("slurm.conf");
        fs_err::write(&conf, slurm_conf(&dir)).unwrap();
        let cluster = Self { dir, conf };
        cluster.daemon("slurmctld", &["-i"]);
        cluster.daemon("slurmd", &["-N", "n1"]);
        cluster.daemon("slurmd", &["-N", "n2"]);
        cluster.wait_idle();
        cluster
    }

    /// A command with this cluster's `SLURM_CONF`.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    fn daemon(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .arg("-f")
            .arg(&self.conf)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
    }

    fn wait_idle(&self) {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let output = self
                .command("sinfo")
                .args(["--noheader", "--Node", "--format=%N %T"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            if text.lines().filter(|line| line.ends_with(" idle")).count() == 2 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes not idle: {text}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        fs_err::read_dir(self.dir.join("log"))
            .map(|entries| {
                let mut logs = String::new();
                for entry in entries.flatten() {
                    let text = fs_err::read_to_string(entry.path()).unwrap_or_default();
                    let _ = write!(logs, "--- {}\n{text}", entry.path().display());
                }
                logs
            })
            .unwrap_or_default()
    }
}

fn start_munge(dir: &Path) {
    let munge = dir.join("munge");
    let mut key = vec![0_u8; 1024];
    std::io::Read::read_exact(&mut fs_err::File::open("/dev/urandom").unwrap(), &mut key).unwrap();
    let key_file = munge.join("munge.key");
    fs_err::write(&key_file, key).unwrap();
    for (path, mode) in [(&key_file, 0o600), (&munge, 0o700)] {
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let status = Command::new("munged")
        .arg("--force")
        .arg(format!("--key-file={}", key_file.display()))
        .arg(format!("--socket={}", munge.join("socket").display()))
        .arg(format!("--pid-file={}", munge.join("pid").display()))
        .arg(format!("--log-file={}", munge.join("log").display()))
        .arg(format!("--seed-file={}", munge.join("seed").display()))
        .status()
        .expect("munged is installed (`apt-get install munge slurm-wlm`)");
    assert!(status.success());
}

/// A port free on 127.0.0.1 now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn slurm_conf(dir: &Path) -> String {
    let dir = dir.display();
    let hostname = nix::unistd::gethostname().unwrap();
    let hostname = hostname.to_string_lossy();
    let (controller, slurmd, n1, n2) = (free_port(), free_port(), free_port(), free_port());
    format!(
        "ClusterName=mlpacktest\n\
         SlurmctldHost=localhost(127.0.0.1)\n\
         SlurmctldPort={controller}\n\
         SlurmdPort={slurmd}\n\
         AuthType=auth/munge\n\
         AuthInfo=socket={dir}/munge/socket\n\
         CredType=cred/munge\n\
         SlurmUser=root\n\
         SlurmdUser=root\n\
         StateSaveLocation={dir}/state\n\
         SlurmdSpoolDir={dir}/spool/%n\n\
         SlurmctldPidFile={dir}/slurmctld.pid\n\
         SlurmdPidFile={dir}/slurmd-%n.pid\n\
         SlurmctldLogFile={dir}/log/slurmctld.log\n\
         SlurmdLogFile={dir}/log/slurmd-%n.log\n\
         SlurmdParameters=config_overrides\n\
         ProctrackType=proctrack/linuxproc\n\
         TaskPlugin=task/none\n\
         SchedulerType=sched/builtin\n\
         SelectType=select/cons_tres\n\
         SelectTypeParameters=CR_CPU\n\
         ReturnToService=2\n\
         MpiDefault=none\n\
         JobAcctGatherType=jobacct_gather/none\n\
         AccountingStorageType=accounting_storage/none\n\
         JobCompType=jobcomp/none\n\
         MinJobAge=600\n\
         KillWait=5\n\
         NodeName=n1 NodeAddr=127.0.0.1 NodeHostname={hostname} Port={n1} CPUs=4 RealMemory=1000 State=UNKNOWN\n\
         NodeName=n2 NodeAddr=127.0.0.1 NodeHostname={hostname} Port={n2} CPUs=4 RealMemory=1000 State=UNKNOWN\n\
         PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP\n"
    )
}

/// Stop the daemons of the cluster in `dir` (by their pid files) and remove it.
fn stop(dir: &Path) {
    for file in PID_FILES {
        let Some(pid) = fs_err::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        else {
            continue;
        };
        // Only a daemon of ours: a stale pid file may name a pid reused since.
        let comm = fs_err::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !matches!(comm.trim(), "slurmd" | "slurmctld" | "munged") {
            continue;
        }
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = fs_err::remove_dir_all(dir);
}

/// Clusters left by test binaries that died before their exit hook ran.
fn stop_stale() {
    let Ok(entries) = fs_err::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(PREFIX)
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if nix::sys::signal::kill(nix::unistd::Pid::from_raw(owner), None).is_err() {
            stop(&entry.path());
        }
    }
}
