//! What a container must not reach on its host, each checked from inside as an attacker
//! would try it (issue 14): host devices, the kernel's keyrings and new namespaces (seccomp),
//! the host's terminal, setuid files and the store, the host's traffic.

use crate::common::TestContext;
use crate::common::images::{busybox_root, one_layer_image, store_dir};
use crate::run::{busybox_image, sh};

/// `mknod` works (Docker keeps `CAP_MKNOD`), but the node opens nothing the device allow-list
/// does not name; in `/dev` (`nodev`) not even an allowed one.
#[test]
fn host_devices_are_out_of_reach() {
    let context = TestContext::new();
    busybox_image(&context);
    let (code, stdout, stderr) = sh(
        &context,
        &[],
        "mknod /tmp/k c 1 11 && echo made; echo mlpack-isolation-test > /tmp/k && echo wrote; \
         echo x > /dev/null && echo null-ok; \
         mknod /dev/n c 1 3 && echo made-in-dev; echo x > /dev/n && echo wrote-in-dev; \
         grep ' /dev ' /proc/self/mountinfo | grep -c nodev",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "made\nnull-ok\nmade-in-dev\n1\n", "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

/// An image that ships a `kmsg` node gives no access to the host's kernel log: the node is
/// not unpacked (and would not open).
#[test]
fn a_device_node_in_a_layer_gives_no_access() {
    let context = TestContext::new();
    let root = busybox_root(&context);
    nix::sys::stat::mknod(
        &root.join("kmsg"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 11),
    )
    .unwrap();
    let store = mlpack::oci::Store::open(&store_dir(&context)).unwrap();
    one_layer_image(&store, &root, "devices:test", &["sh"]);
    let (code, stdout, stderr) = crate::run::mlpack(
        &context,
        &[
            "run",
            "--rm",
            "devices:test",
            "sh",
            "-c",
            "if [ -c /kmsg ]; then echo node; echo mlpack-isolation-test > /kmsg && echo wrote; \
             else echo no-node; fi",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "no-node\n", "{stderr}");
}

/// The busybox image plus `/bin/probe` (`probe.c`, built static here), tagged `probe:test`.
fn probe_image(context: &TestContext) -> &'static str {
    let root = busybox_root(context);
    let built = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(root.join("bin/probe"))
        .arg(crate::common::repo_root().join("tests/it/probe.c"))
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "gcc (with libc6-dev) builds the probe: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let store = mlpack::oci::Store::open(&store_dir(context)).unwrap();
    one_layer_image(&store, &root, "probe:test", &["probe"]);
    "probe:test"
}

/// `mlpack run --rm FLAGS probe:test probe WHAT...` for each `WHAT`: what the probes printed.
fn probe(context: &TestContext, flags: &[&str], probes: &[&str]) -> String {
    let script: Vec<String> = probes.iter().map(|what| format!("probe {what}")).collect();
    let mut args = flags.to_vec();
    args.push("probe:test");
    let (_, stdout, stderr) = crate::run::mlpack(
        context,
        &[
            &["run", "--rm"],
            &args[..],
            &["sh", "-c", &script.join("; ")],
        ]
        .concat(),
    );
    assert!(!stdout.is_empty(), "{stderr}");
    stdout
}

/// With the host's network a packet socket would see the host's traffic: `CAP_NET_RAW` goes.
/// In a network of its own the container keeps Docker's set.
#[test]
fn no_raw_sockets_on_the_host_network() {
    let context = TestContext::new();
    probe_image(&context);
    assert_eq!(
        probe(&context, &["--network", "host"], &["raw", "packet"]),
        "raw: Operation not permitted\npacket: Operation not permitted\n"
    );
    assert_eq!(
        probe(&context, &["--network", "none"], &["raw", "packet"]),
        "raw: ok\npacket: ok\n"
    );
    let capabilities = |network: &str| {
        let (_, stdout, _) = crate::run::mlpack(
            &context,
            &[
                "run",
                "--rm",
                "--network",
                network,
                "probe:test",
                "grep",
                "CapEff",
                "/proc/self/status",
            ],
        );
        stdout
    };
    assert_eq!(capabilities("host"), "CapEff:\t00000000a80405fb\n");
    assert_eq!(capabilities("none"), "CapEff:\t00000000a80425fb\n");
}

/// Docker's seccomp profile: the kernel's keyrings (shared with the host) and new user and
/// mount namespaces are refused; `--security-opt seccomp=unconfined` lets them through, and a
/// profile file of one's own applies as written.
#[test]
fn seccomp_keeps_keyrings_and_namespaces_out_of_reach() {
    let context = TestContext::new();
    probe_image(&context);
    let probes = ["keyctl", "add_key", "request_key", "unshare"];
    assert_eq!(
        probe(&context, &[], &probes),
        "keyctl: Operation not permitted\nadd_key: Operation not permitted\n\
         request_key: Operation not permitted\nunshare: Operation not permitted\n"
    );
    assert_eq!(
        probe(&context, &["--security-opt", "seccomp=unconfined"], &probes),
        "keyctl: ok\nadd_key: ok\nrequest_key: ok\nunshare: ok\nmount: ok\n"
    );
    let profile = context.temp.path().join("profile.json");
    fs_err::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
    )
    .unwrap();
    let own = format!("seccomp={}", profile.display());
    assert_eq!(
        probe(
            &context,
            &["--security-opt", &own],
            &["keyctl", "request_key"]
        ),
        "keyctl: Function not implemented\nrequest_key: ok\n"
    );
    let (code, _, stderr) = crate::run::mlpack(
        &context,
        &[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=missing.json",
            "probe:test",
        ],
    );
    assert_eq!(code, 125, "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");
}

/// What the descriptors 0-2 of a command are, `pipe` for any pipe.
const STDIO_KINDS: &str = "for fd in 0 1 2; do readlink /proc/self/fd/$fd | sed 's/:.*//'; done";

/// `mlpack ARGS` with stdin from `input` and stdout and stderr to the host file `output`:
/// its exit code and what it wrote there.
fn with_host_files(
    context: &TestContext,
    args: &[&str],
    input: &std::path::Path,
    output: &std::path::Path,
) -> (i32, String) {
    let file = fs_err::File::create(output).unwrap();
    let status = context
        .mlpack(args)
        .stdin(fs_err::File::open(input).unwrap().into_parts().0)
        .stdout(file.file().try_clone().unwrap())
        .stderr(file.into_parts().0)
        .status()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        fs_err::read_to_string(output).unwrap(),
    )
}

/// The container's processes (by PID namespace), less its init and `command`: what `exec`
/// left running.
fn left_behind(init: i64, command: &str) -> Vec<String> {
    let namespace = fs_err::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()) && *pid != init.to_string())
        .filter(|pid| {
            fs_err::read_link(format!("/proc/{pid}/ns/pid")).ok() == Some(namespace.clone())
                && fs_err::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
                    != format!("{}\0", command.replace(' ', "\0")).into_bytes()
        })
        .collect()
}

/// `exec` and `run` give the command pipes, never the caller's terminal or files: a process
/// left behind by `exec` holds only a pipe whose other end is gone.
#[test]
fn no_host_descriptor_crosses_into_the_container() {
    let context = TestContext::new();
    busybox_image(&context);
    let _cleanup = crate::run::RemoveOnDrop(&context, "fds");
    let (code, id, stderr) = crate::run::mlpack(
        &context,
        &[
            "run",
            "-d",
            "--name",
            "fds",
            crate::common::images::BUSYBOX,
            "sleep",
            "1000",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let input = context.temp.path().join("host-input");
    fs_err::write(&input, "typed at the host\n").unwrap();
    let output = context.temp.path().join("host-output");

    let started = std::time::Instant::now();
    let script = format!("{STDIO_KINDS}; sleep 30 &");
    let (code, written) = with_host_files(
        &context,
        &["exec", "fds", "sh", "-c", &script],
        &input,
        &output,
    );
    assert_eq!(code, 0, "{written}");
    assert_eq!(written, "/dev/null\npipe\npipe\n");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "exec returns when its command does"
    );
    let state: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(
            store_dir(&context)
                .join("containers")
                .join(id.trim())
                .join("state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let left = left_behind(state["init"]["pid"].as_i64().unwrap(), "sleep 1000");
    assert_eq!(left.len(), 1, "the background sleep is still there");
    for fd in ["0", "1", "2"] {
        let target = fs_err::read_link(format!("/proc/{}/fd/{fd}", left[0])).unwrap();
        let target = target.to_string_lossy();
        assert!(
            target.starts_with("pipe:") || target == "/dev/null",
            "fd {fd} of the leftover process is {target}"
        );
    }

    let script = format!("{STDIO_KINDS}; cat");
    let (code, written) = with_host_files(
        &context,
        &["exec", "-i", "fds", "sh", "-c", &script],
        &input,
        &output,
    );
    assert_eq!(code, 0, "{written}");
    assert_eq!(written, "pipe\npipe\npipe\ntyped at the host\n");

    let (code, written) = with_host_files(
        &context,
        &[
            "run",
            "--rm",
            crate::common::images::BUSYBOX,
            "sh",
            "-c",
            STDIO_KINDS,
        ],
        &input,
        &output,
    );
    assert_eq!(code, 0, "{written}");
    assert_eq!(written, "/dev/null\npipe\npipe\n");
}

/// Bind mounts are `nosuid,nodev` unless `-v …:suid,dev` asks otherwise: a device node left
/// in a volume opens nothing, even one the device allow-list names.
#[test]
fn volumes_are_nosuid_and_nodev_unless_asked() {
    let context = TestContext::new();
    busybox_image(&context);
    let outputs = context.temp.path().join("outputs");
    fs_err::create_dir_all(&outputs).unwrap();
    let volume = format!("{}:/outputs", outputs.display());
    let (_, stdout, stderr) = sh(
        &context,
        &["-v", &volume],
        "grep ' /outputs ' /proc/self/mountinfo | grep -o nosuid,nodev; \
         mknod /outputs/null c 1 3 && echo made; echo x > /outputs/null && echo wrote",
    );
    assert_eq!(stdout, "nosuid,nodev\nmade\n", "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
    let volume = format!("{}:/outputs:suid,dev", outputs.display());
    let (_, stdout, stderr) = sh(
        &context,
        &["-v", &volume],
        "grep ' /outputs ' /proc/self/mountinfo | grep -c nosuid; echo x > /outputs/null && echo wrote",
    );
    assert_eq!(stdout, "0\nwrote\n", "{stderr}");
}

/// A container's upper dir and the unpacked layers hold setuid binaries as the image or the
/// container made them: no other host user may reach them.
#[test]
fn other_host_users_cannot_reach_container_files() {
    let context = TestContext::new();
    busybox_image(&context);
    let _cleanup = crate::run::RemoveOnDrop(&context, "upper");
    let (code, id, stderr) = crate::run::mlpack(
        &context,
        &[
            "run",
            "-d",
            "--name",
            "upper",
            crate::common::images::BUSYBOX,
            "sh",
            "-c",
            "cp /bin/busybox /tmp/root-shell; chmod 4755 /tmp/root-shell; sleep 1000",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let store = store_dir(&context);
    let planted = store
        .join("containers")
        .join(id.trim())
        .join("upper/tmp/root-shell");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !planted.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(planted.exists(), "the container wrote its setuid copy");
    // Only the store's own directories may stand in the way: open the path up to it.
    let mut dir = store.parent().map(std::path::Path::to_path_buf);
    while let Some(path) = dir {
        let _ = std::process::Command::new("chmod")
            .arg("o+x")
            .arg(&path)
            .status();
        dir = path.parent().map(std::path::Path::to_path_buf);
    }
    let user = "mlpack-rootless";
    let _ = std::process::Command::new("useradd")
        .args(["--create-home", user])
        .output();
    for path in [planted.clone(), store.join("layers")] {
        let output = std::process::Command::new("setpriv")
            .args([
                "--reuid",
                user,
                "--regid",
                user,
                "--init-groups",
                "--reset-env",
            ])
            .arg("ls")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            !output.status.success()
                && String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
            "{user} reached `{}`",
            path.display()
        );
    }
}
