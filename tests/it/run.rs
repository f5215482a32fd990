//! `mlpack run` and the container lifecycle, end to end as root: real namespaces, overlayfs and
//! cgroups. Most tests use a tiny image made here from the host's static busybox, so they
//! need no network; one runs Python in an image from `mlpack build`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;
pub(crate) use crate::common::images::store_dir;
use crate::common::images::{BUSYBOX, install_busybox};

/// Put the busybox image in the test's store; its name.
pub(crate) fn busybox_image(context: &TestContext) -> &'static str {
    install_busybox(context);
    BUSYBOX
}

/// `mlpack ARGS`: (exit code, stdout, stderr).
pub(crate) fn mlpack(context: &TestContext, args: &[&str]) -> (i32, String, String) {
    let output = context.mlpack(args).stdin(Stdio::null()).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `mlpack ARGS`'s stdout, or a panic with its stderr.
pub(crate) fn ok(context: &TestContext, args: &[&str]) -> String {
    let (code, stdout, stderr) = mlpack(context, args);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

/// A JSON document a command printed.
pub(crate) fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// `mlpack run --rm busybox sh -c SCRIPT` with `flags` before the image: (code, stdout, stderr).
pub(crate) fn sh(context: &TestContext, flags: &[&str], script: &str) -> (i32, String, String) {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[BUSYBOX, "sh", "-c", script]);
    mlpack(context, &args)
}

/// `mlpack rm -f NAME` when dropped, so a failing test leaves no detached container running.
pub(crate) struct RemoveOnDrop<'a>(pub(crate) &'a TestContext, pub(crate) &'a str);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.mlpack(&["rm", "-f", self.1]).output();
    }
}

fn containers_left(context: &TestContext) -> Vec<String> {
    fs_err::read_dir(store_dir(context).join("containers"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn exit_codes_propagate() {
    let context = TestContext::new();
    busybox_image(&context);
    assert_eq!(sh(&context, &[], "exit 7").0, 7);
    assert_eq!(sh(&context, &[], "kill -9 $$").0, 137);
    let (code, _, stderr) = mlpack(&context, &["run", "--rm", BUSYBOX, "no-such-program"]);
    assert_eq!(code, 127, "{stderr}");
    assert!(
        stderr.contains("`no-such-program`: executable file not found in $PATH"),
        "{stderr}"
    );
    assert!(containers_left(&context).is_empty());
}

#[test]
fn volumes_read_only_and_read_write() {
    let context = TestContext::new();
    busybox_image(&context);
    let data = context.temp.path().join("data");
    fs_err::create_dir_all(&data).unwrap();
    fs_err::write(data.join("train.csv"), "1,2\n").unwrap();
    let ro = format!("{}:/data:ro", data.display());
    let (code, stdout, stderr) = sh(
        &context,
        &["-v", &ro],
        "cat /data/train.csv; echo x > /data/new",
    );
    assert_eq!(stdout, "1,2\n");
    assert_ne!(code, 0);
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!data.join("new").exists());

    let rw = format!("type=bind,source={},target=/out", data.display());
    let (code, _, stderr) = sh(&context, &["--mount", &rw], "echo model > /out/model.bin");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fs_err::read_to_string(data.join("model.bin")).unwrap(),
        "model\n"
    );
}

#[test]
fn the_container_sees_only_its_image_and_mounts() {
    let context = TestContext::new();
    busybox_image(&context);
    let (code, stdout, stderr) = sh(
        &context,
        &["-e", "GREETING=hi", "-w", "/work", "--hostname", "trainer"],
        "ls /; echo ---; cat /proc/1/status | head -1; echo $$ $GREETING $(pwd) $(hostname); \
         set -- /proc/[0-9]*; echo $#; ls /dev | tr '\\n' ' '; echo; \
         cat /proc/self/status | grep CapEff; cat /proc/self/status | grep NoNewPrivs; \
         cat /proc/kcore | wc -c",
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"
    bin
    dev
    etc
    proc
    root
    sys
    tmp
    work
    ---
    Name:	mlpack
    2 hi /work trainer
    2
    core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero 
    CapEff:	00000000a80405fb
    NoNewPrivs:	1
    0
    ");
    assert!(
        !Path::new(&store_dir(&context))
            .join("containers")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "--rm leaves nothing"
    );
    let mounts = fs_err::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&store_dir(&context).display().to_string()),
        "no mount leaks to the host"
    );
}

#[test]
fn shm_network_none_and_users() {
    let context = TestContext::new();
    busybox_image(&context);
    let (_, stdout, _) = sh(
        &context,
        &["--shm-size", "256m"],
        "grep /dev/shm /proc/mounts",
    );
    assert!(stdout.contains("size=262144k"), "{stdout}");
    let (_, stdout, _) = sh(&context, &[], "grep /dev/shm /proc/mounts");
    assert!(
        !stdout.contains("size=65536k"),
        "the default is large: {stdout}"
    );
    let (_, stdout, _) = sh(
        &context,
        &["--network", "none"],
        "ls /sys/class/net; ping -c1 -W1 127.0.0.1 >/dev/null && echo loopback-up",
    );
    assert_eq!(stdout, "lo\nloopback-up\n");
    let (code, stdout, stderr) = sh(&context, &["-u", "nobody"], "id -u; id -g; touch /root/x");
    assert_eq!(stdout, "65534\n65534\n");
    assert_ne!(code, 0, "{stderr}");
    let (code, _, stderr) = sh(&context, &["-u", "ghost"], "true");
    assert_eq!(code, 125);
    assert!(stderr.contains("ghost"), "{stderr}");
}

#[test]
fn init_reaps_orphans() {
    let context = TestContext::new();
    busybox_image(&context);
    // The inner shell exits at once; its `sleep` is orphaned to PID 1, exits, and must be
    // reaped there.
    let (code, stdout, stderr) = sh(
        &context,
        &[],
        "sh -c 'sleep 0.2 &'; sleep 1; cat /proc/[0-9]*/stat | grep -c ') Z ' || true",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "0\n");
}

#[test]
fn signals_reach_the_command() {
    let context = TestContext::new();
    busybox_image(&context);
    let mut child = context
        .mlpack(&[
            "run",
            "--rm",
            BUSYBOX,
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0_u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().cast_signed()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(42));
}

#[test]
fn a_terminal_with_dash_t() {
    let context = TestContext::new();
    busybox_image(&context);
    let (code, stdout, stderr) = sh(&context, &["-t"], "tty; [ -t 0 ] && echo stdin-is-a-tty");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "/dev/pts/0\r\nstdin-is-a-tty\r\n");
}

#[test]
fn detached_logs_exec_stop_start_and_rm() {
    let context = TestContext::new();
    busybox_image(&context);
    let _cleanup = RemoveOnDrop(&context, "job");
    let (code, id, stderr) = mlpack(
        &context,
        &[
            "run",
            "-d",
            "--name",
            "job",
            BUSYBOX,
            "sh",
            "-c",
            "echo started; echo oops >&2; echo run >> /runs; trap 'echo stopping; exit 3' TERM; \
             sleep 1000 & wait",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(id.trim().len(), 64);
    let (_, ps, _) = mlpack(&context, &["ps"]);
    assert!(ps.contains("job") && ps.contains("Up"), "{ps}");
    let (_, _, name_taken) = mlpack(&context, &["run", "-d", "--name", "job", BUSYBOX, "true"]);
    assert!(
        name_taken.contains("the name `job` is already used"),
        "{name_taken}"
    );

    let (code, stdout, stderr) = mlpack(
        &context,
        &[
            "exec",
            "job",
            "sh",
            "-c",
            "ps -o pid,comm | grep -c sleep; cat /runs",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout, "1\nrun\n",
        "exec sees the container's processes and files"
    );

    let follow = context
        .mlpack(&["logs", "-f", "job"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let (code, _, stderr) = mlpack(&context, &["stop", "-t", "5", "job"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "SIGTERM was enough"
    );
    let followed = follow.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&followed.stdout),
        "started\nstopping\n"
    );
    assert_eq!(String::from_utf8_lossy(&followed.stderr), "oops\n");
    let (_, ps, _) = mlpack(&context, &["ps", "-a"]);
    assert!(ps.contains("Exited (3)"), "{ps}");
    let (_, ps, _) = mlpack(&context, &["ps"]);
    assert!(!ps.contains("job"), "{ps}");

    // `start` runs it again on the same files.
    let (code, _, stderr) = mlpack(&context, &["start", "job"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, runs, _) = mlpack(&context, &["exec", "job", "cat", "/runs"]);
    assert_eq!(runs, "run\nrun\n");
    let (code, _, stderr) = mlpack(&context, &["rm", "job"]);
    assert_eq!(code, 1, "a running container needs -f");
    assert!(stderr.contains("hint: "), "{stderr}");
    let (code, _, _) = mlpack(&context, &["rm", "-f", "job"]);
    assert_eq!(code, 0);
    assert!(containers_left(&context).is_empty());
}

#[test]
fn a_dead_supervisor_reads_as_exited() {
    let context = TestContext::new();
    busybox_image(&context);
    let (_, id, _) = mlpack(
        &context,
        &["run", "-d", "--name", "sleeper", BUSYBOX, "sleep", "60"],
    );
    let _cleanup = RemoveOnDrop(&context, "sleeper");
    let state_path = store_dir(&context)
        .join("containers")
        .join(id.trim())
        .join("state.json");
    let state: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&state_path).unwrap()).unwrap();
    let supervisor = state["supervisor"]["pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(supervisor).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (_, ps, _) = mlpack(&context, &["ps", "-a"]);
    assert!(ps.contains("Exited (supervisor lost)"), "{ps}");
    let init = state["init"]["pid"].as_i64().unwrap();
    // Gone, or a zombie waiting for the host's init to reap it.
    let stat = fs_err::read_to_string(format!("/proc/{init}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the container died with its supervisor: {stat}"
    );
}

#[test]
fn commit_makes_an_image_that_runs() {
    let context = TestContext::new();
    busybox_image(&context);
    let (code, _, stderr) = mlpack(
        &context,
        &[
            "run",
            "--name",
            "c",
            BUSYBOX,
            "sh",
            "-c",
            "echo weights > /model.bin; rm /etc/group",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = mlpack(
        &context,
        &[
            "commit",
            "--change",
            "LABEL stage=trained note=\"two words\"",
            "-c",
            "CMD [\"sh\", \"-c\", \"cat /model.bin; ls /etc; ls / | grep -c hosts || true\"]",
            "c",
            "trained:v1",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let config = json(&ok(&context, &["inspect", "trained:v1"]));
    let labels = &config["config"]["config"]["Labels"];
    assert_eq!(labels["stage"], "trained", "{config}");
    assert_eq!(labels["note"], "two words", "{config}");
    let (code, stdout, stderr) = mlpack(&context, &["run", "--rm", "trained:v1"]);
    assert_eq!(code, 0, "{stderr}");
    // `/etc/ssl` holds the bind-mounted host CA bundle again, as in any container.
    assert_eq!(
        stdout,
        "weights\nhostname\nhosts\npasswd\nresolv.conf\nssl\n0\n"
    );
    #[cfg(feature = "test-docker")]
    {
        assert_eq!(
            crate::build::run_in_docker(
                &context,
                "trained:v1",
                &["sh", "-c", "cat /model.bin; ls /etc"]
            ),
            "weights\nhostname\nhosts\nmtab\npasswd\nresolv.conf\n",
            "Docker adds its own files; mlpack's mount points (like /etc/ssl) are not in the layer"
        );
    }
}

#[test]
fn a_memory_limit_is_enforced() {
    let context = TestContext::new();
    busybox_image(&context);
    let (code, _, stderr) = sh(
        &context,
        &["--memory", "32m"],
        "dd if=/dev/zero of=/dev/null bs=100M count=1",
    );
    assert_eq!(code, 137, "killed by the OOM killer: {stderr}");
    let (code, _, stderr) = sh(
        &context,
        &["--memory", "32m", "--cpus", "0.5"],
        "dd if=/dev/zero of=/dev/null bs=1M count=1",
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_input_is_refused_before_anything_starts() {
    let context = TestContext::new();
    busybox_image(&context);
    let missing = context.temp.path().join("missing");
    let missing_volume = format!("{}:/data", missing.display());
    for (args, message) in [
        (vec!["run", "nope:latest"], "no image `nope:latest`"),
        (
            vec!["run", "-v", "d$ata:/data", BUSYBOX],
            "a volume name is letters",
        ),
        (
            vec!["run", "-v", missing_volume.as_str(), BUSYBOX],
            "does not exist",
        ),
        (vec!["run", "--memory", "lots", BUSYBOX], "is not a size"),
        (vec!["run", "--memory", "1k", BUSYBOX, "true"], "memory"),
        (vec!["run", "--cpus=-1", BUSYBOX], "invalid CPU count"),
        (
            vec!["run", "--name=-bad", BUSYBOX],
            "invalid container name",
        ),
    ] {
        let (code, _, stderr) = mlpack(&context, &args);
        assert!(code == 125 || code == 2, "{args:?}: {code} {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    if !Path::new("/proc/driver/nvidia/version").exists() {
        let (code, _, stderr) = mlpack(&context, &["run", "--gpus", "all", BUSYBOX, "true"]);
        assert_eq!(code, 125);
        assert!(stderr.contains("no NVIDIA driver found"), "{stderr}");
    }
    assert!(containers_left(&context).is_empty());
}

/// `-v` and `--mount` targets over the runtime's own `/proc`, `/sys` and `/dev`, or over `/`,
/// are refused before a container exists.
#[test]
fn mounts_over_kernel_trees_are_refused() {
    let context = TestContext::new();
    busybox_image(&context);
    let dir = context.temp.path().join("dir");
    fs_err::create_dir_all(&dir).unwrap();
    let dir = dir.display().to_string();
    for flags in [
        vec!["-v".to_string(), format!("{dir}:/proc")],
        vec!["-v".to_string(), format!("{dir}:/sys/fs/cgroup:ro")],
        vec!["-v".to_string(), format!("{dir}:/")],
        vec![
            "--mount".to_string(),
            format!("type=bind,source={dir},target=/dev/shm"),
        ],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend([BUSYBOX, "true"]);
        let (code, _, stderr) = mlpack(&context, &args);
        assert_eq!(code, 125, "{args:?}: {stderr}");
        assert!(stderr.contains("error: invalid "), "{stderr}");
        assert!(
            stderr.contains("which the container's own file systems fill")
                || stderr.contains("is the container's root"),
            "{stderr}"
        );
    }
    assert!(containers_left(&context).is_empty());
}

#[test]
fn rootless_run_for_an_unprivileged_user() {
    let context = TestContext::new();
    busybox_image(&context);
    let user = "mlpack-rootless";
    let _ = Command::new("useradd")
        .args(["--create-home", user])
        .output();
    let home = context.temp.path().join("rootless");
    fs_err::create_dir_all(&home).unwrap();
    for entry in ["blobs", "index.json", "oci-layout"] {
        let copied = Command::new("cp")
            .arg("-a")
            .arg(store_dir(&context).join(entry))
            .arg(&home)
            .status()
            .unwrap();
        assert!(copied.success());
    }
    let chown = Command::new("chown")
        .args(["-R", user])
        .arg(&home)
        .status()
        .unwrap();
    assert!(chown.success());
    // The user must be able to reach its store through the test's temp dir.
    let mut dir = home.parent().map(Path::to_path_buf);
    while let Some(path) = dir {
        let _ = Command::new("chmod").arg("o+x").arg(&path).status();
        dir = path.parent().map(Path::to_path_buf);
    }
    let output = Command::new("setpriv")
        .args([
            "--reuid",
            user,
            "--regid",
            user,
            "--init-groups",
            "--reset-env",
            "env",
        ])
        .arg(format!("MLPACK_HOME={}", home.display()))
        .arg(env!("CARGO_BIN_EXE_mlpack"))
        .args([
            "run",
            "--rm",
            BUSYBOX,
            "sh",
            "-c",
            "id -u; echo hi > /tmp/x; cat /tmp/x; set -- /proc/[0-9]*; echo $#",
        ])
        .current_dir(&home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "0\nhi\n2\n");
}

/// Python in an image from `mlpack build`: its default command runs the training script, and
/// the environment is the image's.
#[cfg(feature = "test-debian")]
#[test]
fn python_runs_in_a_built_image() {
    let index = crate::common::index::TestIndex::start();
    let context = crate::build::local_project(&index);
    crate::build::mlpack_ok(&context, &["build"]);
    let (code, stdout, stderr) = mlpack(&context, &["run", "--rm", "demo"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "trained with 1.0 2.0\n");
    let (code, stdout, stderr) = mlpack(
        &context,
        &[
            "run",
            "--rm",
            "demo",
            "python3",
            "-c",
            "import os, sys; print(sys.version_info[:2], os.getcwd(), os.environ['HOME'])",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "(3, 11) /app /root\n");
}
