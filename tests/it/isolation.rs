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
