//! User networks, published ports and their cleanup, end to end as root with the busybox
//! image: real bridges, veth pairs, namespaces and nftables. Traffic stays on the machine:
//! between containers on networks these tests create, and to 127.0.0.1. Each test uses its
//! own subnets, so they run side by side.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::common::images::{BUSYBOX, busybox_root, one_layer_image, store_dir};
use crate::run::{RemoveOnDrop, busybox_image, json, mlpack, ok};

/// A web server on port 8080 answering `hello from NAME`.
const SERVE: &str = "mkdir -p /tmp/www && echo hello from $(hostname) > /tmp/www/index.html && \
                     exec httpd -f -p 8080 -h /tmp/www";

/// A shell function: `get ADDRESS` prints the body of `GET /` on port 8080 (with `nc`:
/// static busybox's `wget` looks the service up through NSS, which it lacks).
const GET: &str =
    "get() { printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 $1 8080 | tail -n 1 | grep .; };";

/// The host's network interfaces.
pub(crate) fn links() -> Vec<String> {
    fs_err::read_dir("/sys/class/net")
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

pub(crate) fn nft_tables() -> String {
    let output = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `network inspect NAME` as JSON.
fn inspect_network(context: &TestContext, name: &str) -> serde_json::Value {
    json(&ok(context, &["network", "inspect", name]))[0].clone()
}

/// `network rm` when dropped, so a failing test leaves no bridge behind.
struct NetworkOnDrop<'a>(&'a TestContext, &'a str);

impl Drop for NetworkOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.mlpack(&["network", "rm", self.1]).output();
    }
}

/// Start a detached web server named `name` with `flags`.
fn serve<'a>(context: &'a TestContext, name: &'a str, flags: &[&str]) -> RemoveOnDrop<'a> {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[BUSYBOX, "sh", "-c", SERVE]);
    ok(context, &args);
    RemoveOnDrop(context, name)
}

/// The busybox image (tagged [`BUSYBOX`]) with the host's `getent`: static busybox's own
/// name lookups crash without NSS modules, while a dynamic glibc reads `/etc/hosts` as the
/// programs in any distribution's image do. `getent` and its libraries live in `/glibc`,
/// off the paths where static busybox would look for NSS modules.
fn install_getent(context: &TestContext) {
    let root = busybox_root(context);
    let glibc = root.join("glibc");
    fs_err::create_dir_all(&glibc).unwrap();
    let getent = which("getent");
    let ldd = std::process::Command::new("ldd")
        .arg(&getent)
        .output()
        .unwrap();
    let mut loader = String::new();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(path) = line.split_whitespace().find(|word| word.starts_with('/')) {
            let name = std::path::Path::new(path).file_name().unwrap();
            fs_err::copy(path, glibc.join(name)).unwrap();
            if line.trim_start().starts_with('/') {
                loader = name.to_string_lossy().into_owned();
            }
        }
    }
    fs_err::copy(&getent, glibc.join("getent")).unwrap();
    fs_err::write(
        root.join("bin/getent"),
        format!("#!/bin/sh\nexec /glibc/{loader} --library-path /glibc /glibc/getent \"$@\"\n"),
    )
    .unwrap();
    fs_err::set_permissions(
        root.join("bin/getent"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let store = mlpack::oci::Store::open(&store_dir(context)).unwrap();
    one_layer_image(&store, &root, BUSYBOX, &["sh"]);
}

fn which(program: &str) -> String {
    let output = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// From a fresh container with `flags`: look `name` up with `getent`, then `GET /` on port
/// 8080 of its address: (exit code, body, stderr). Retries while the server comes up.
fn fetch(context: &TestContext, flags: &[&str], name: &str) -> (i32, String, String) {
    let script = format!(
        "{GET} ip=$(getent hosts {name} | cut -d' ' -f1); [ -n \"$ip\" ] || exit 2; \
         for i in 1 2 3 4 5 6 7 8 9 10; do get $ip && exit 0; \
         sleep 0.2; done; exit 1"
    );
    crate::run::sh(context, flags, &script)
}

#[test]
fn containers_reach_each_other_by_name_and_alias_and_not_across_networks() {
    let context = TestContext::new();
    install_getent(&context);
    ok(
        &context,
        &["network", "create", "--subnet", "10.201.0.0/24", "front"],
    );
    let _front = NetworkOnDrop(&context, "front");
    ok(
        &context,
        &["network", "create", "--subnet", "10.202.0.0/24", "back"],
    );
    let _back = NetworkOnDrop(&context, "back");

    let _web = serve(
        &context,
        "web",
        &[
            "--network",
            "front",
            "--network-alias",
            "www",
            "--hostname",
            "web",
        ],
    );
    let (code, body, stderr) = fetch(&context, &["--network", "front"], "web");
    assert_eq!((code, body.as_str()), (0, "hello from web\n"), "{stderr}");
    let (code, body, stderr) = fetch(&context, &["--network", "front"], "www");
    assert_eq!((code, body.as_str()), (0, "hello from web\n"), "{stderr}");

    // A running container's `/etc/hosts` follows containers joining and leaving.
    ok(
        &context,
        &[
            "run",
            "-d",
            "--name",
            "late",
            "--network",
            "front",
            BUSYBOX,
            "sleep",
            "60",
        ],
    );
    let late = RemoveOnDrop(&context, "late");
    let (code, stdout, stderr) = mlpack(&context, &["exec", "web", "getent", "hosts", "late"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("10.201.0."), "{stdout}");
    ok(&context, &["rm", "-f", "late"]);
    drop(late);
    assert_eq!(
        mlpack(&context, &["exec", "web", "getent", "hosts", "late"]).0,
        2
    );

    // From the other network: the name is unknown, and the address unreachable.
    assert_eq!(fetch(&context, &["--network", "back"], "web").0, 2);
    let address = inspect_network(&context, "front")["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(address.starts_with("10.201.0."), "{address}");
    let (code, _, stderr) = crate::run::sh(
        &context,
        &["--network", "back"],
        &format!("{GET} get {address}"),
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("Network is unreachable"), "{stderr}");

    // `connect` puts the running server on `back` too, under an alias, at a chosen address.
    ok(
        &context,
        &[
            "network",
            "connect",
            "--alias",
            "api",
            "--ip",
            "10.202.0.77",
            "back",
            "web",
        ],
    );
    let (code, body, stderr) = fetch(&context, &["--network", "back"], "api");
    assert_eq!((code, body.as_str()), (0, "hello from web\n"), "{stderr}");
    let inspected = json(&ok(&context, &["inspect", "web"]));
    assert_eq!(inspected["networks"]["back"]["address"], "10.202.0.77");
    assert_eq!(inspected["networks"]["back"]["interface"], "eth1");
    ok(&context, &["network", "disconnect", "back", "web"]);
    assert_eq!(fetch(&context, &["--network", "back"], "api").0, 2);
    let (code, _, _) = crate::run::sh(
        &context,
        &["--network", "back"],
        &format!("{GET} get 10.202.0.77"),
    );
    assert_ne!(code, 0);
}

#[test]
fn an_internal_network_has_no_route_out() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(
        &context,
        &["network", "create", "--subnet", "10.203.0.0/24", "lab"],
    );
    let _lab = NetworkOnDrop(&context, "lab");
    let bridge = inspect_network(&context, "lab")["bridge"]
        .as_str()
        .unwrap()
        .to_string();
    // The host has no address on the bridge, so it routes nothing to or from it.
    assert!(
        !fs_err::read_to_string("/proc/net/fib_trie")
            .unwrap()
            .contains("10.203.0.")
    );
    assert!(links().contains(&bridge));
    // Nor an IPv6 link-local one, which would let containers reach the host's services.
    assert_eq!(
        fs_err::read_to_string(format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6")).unwrap(),
        "1\n"
    );

    // Inside: one route, the subnet's own, and no default; a connection to an address
    // outside the subnet fails in the container without a packet leaving it.
    let (code, stdout, stderr) = crate::run::sh(
        &context,
        &["--network", "lab"],
        "cat /proc/net/route | cut -f1,2,3,8 | tail -n +2; nc -w 2 10.204.0.1 80 </dev/null",
    );
    assert_ne!(code, 0);
    insta::assert_snapshot!(stdout, @"eth0	0000CB0A	00000000	00FFFFFF");
    assert!(stderr.contains("Network is unreachable"), "{stderr}");
}

#[test]
fn egress_networks_get_a_default_route_and_their_rules_go_with_them() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(
        &context,
        &[
            "network",
            "create",
            "--egress",
            "--subnet",
            "10.205.0.0/24",
            "out",
        ],
    );
    let _out = NetworkOnDrop(&context, "out");
    let bridge = inspect_network(&context, "out")["bridge"]
        .as_str()
        .unwrap()
        .to_string();
    let table = format!("table ip mlpack-{bridge}");
    assert!(nft_tables().contains(&table), "{}", nft_tables());
    // No traffic is sent: the test only reads the container's route table.
    let (code, stdout, stderr) = crate::run::sh(
        &context,
        &["--network", "out"],
        "cat /proc/net/route | cut -f1,2,3 | tail -n +2",
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout, @"
    eth0	00000000	0100CD0A
    eth0	0000CD0A	00000000
    ");
    ok(&context, &["network", "rm", "out"]);
    assert!(!nft_tables().contains(&table));
    assert!(!links().contains(&bridge));
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` on 127.0.0.1:`port` from the host, retried while the server comes up.
pub(crate) fn get(port: u16) -> Option<String> {
    get_path(port, "/")
}

/// `GET PATH` on 127.0.0.1:`port` from the host, retried while the server comes up.
pub(crate) fn get_path(port: u16, path: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            if let Some((_, body)) = response.split_once("\r\n\r\n") {
                return Some(body.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn published_ports_answer_on_loopback_and_are_released_on_rm() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(
        &context,
        &["network", "create", "--subnet", "10.206.0.0/24", "pub"],
    );
    let _pub = NetworkOnDrop(&context, "pub");
    let port = free_port();
    let publish = format!("{port}:8080");
    let web = serve(
        &context,
        "published",
        &[
            "--network",
            "pub",
            "--hostname",
            "published",
            "-p",
            &publish,
        ],
    );
    assert_eq!(get(port).as_deref(), Some("hello from published\n"));
    assert_eq!(
        ok(&context, &["port", "published"]),
        format!("8080/tcp -> 127.0.0.1:{port}\n")
    );
    let ps = ok(&context, &["ps"]);
    assert!(
        ps.contains(&format!("127.0.0.1:{port}->8080/tcp  pub:10.206.0.2")),
        "{ps}"
    );

    // A second container cannot take the port.
    let (code, _, stderr) = mlpack(
        &context,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            &publish,
            BUSYBOX,
            "true",
        ],
    );
    assert_eq!(code, 125, "{stderr}");
    assert!(
        stderr.contains(&format!("could not publish 127.0.0.1:{port}")),
        "{stderr}"
    );

    ok(&context, &["rm", "-f", "published"]);
    drop(web);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    // `--network none` publishes too, and the port is free again.
    let _none = serve(
        &context,
        "isolated",
        &[
            "--network",
            "none",
            "--hostname",
            "isolated",
            "-p",
            &publish,
        ],
    );
    assert_eq!(get(port).as_deref(), Some("hello from isolated\n"));

    let (code, _, stderr) = mlpack(&context, &["run", "--rm", "-p", &publish, BUSYBOX, "true"]);
    assert_eq!(code, 125);
    assert!(stderr.contains("--network host"), "{stderr}");
}

#[test]
fn nothing_is_left_after_rm_auto_remove_a_killed_supervisor_and_network_rm() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(
        &context,
        &[
            "network",
            "create",
            "--egress",
            "--subnet",
            "10.207.0.0/24",
            "tidy",
        ],
    );
    let _tidy = NetworkOnDrop(&context, "tidy");
    let network = inspect_network(&context, "tidy");
    let bridge = network["bridge"].as_str().unwrap().to_string();

    // `--rm`: the endpoint and its veth go when the command ends.
    let (code, stdout, stderr) = crate::run::sh(
        &context,
        &["--network", "tidy"],
        "cat /sys/class/net/eth0/operstate",
    );
    assert_eq!((code, stdout.as_str()), (0, "up\n"), "{stderr}");
    assert_eq!(
        inspect_network(&context, "tidy")["endpoints"],
        serde_json::json!({})
    );

    // A network with a container on it is not removed.
    let _sleeper = {
        ok(
            &context,
            &[
                "run",
                "-d",
                "--name",
                "sleeper",
                "--network",
                "tidy",
                BUSYBOX,
                "sleep",
                "60",
            ],
        );
        RemoveOnDrop(&context, "sleeper")
    };
    let endpoint = json(&ok(&context, &["inspect", "sleeper"]))["networks"]["tidy"].clone();
    let veth = endpoint["host_link"].as_str().unwrap().to_string();
    assert!(links().contains(&veth));
    let (code, _, stderr) = mlpack(&context, &["network", "rm", "tidy"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("network `tidy` has containers: sleeper"),
        "{stderr}"
    );

    // A killed supervisor takes the container down; its veth goes with the namespace, and
    // `rm` releases the address.
    let state = json(&ok(&context, &["inspect", "sleeper"]))["state"].clone();
    let supervisor = i32::try_from(state["supervisor"]["pid"].as_i64().unwrap()).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while links().contains(&veth) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!links().contains(&veth));
    ok(&context, &["rm", "sleeper"]);
    assert_eq!(
        inspect_network(&context, "tidy")["endpoints"],
        serde_json::json!({})
    );

    ok(&context, &["network", "rm", "tidy"]);
    assert!(!links().contains(&bridge));
    assert!(!nft_tables().contains(&format!("mlpack-{bridge}")));
    assert_eq!(
        json(&ok(&context, &["--json", "network", "ls"])),
        serde_json::json!([])
    );
}

#[test]
fn a_stopped_container_joins_at_its_next_start_and_a_missing_network_creates_nothing() {
    let context = TestContext::new();
    busybox_image(&context);
    ok(
        &context,
        &["network", "create", "--subnet", "10.208.0.0/24", "later"],
    );
    let _later = NetworkOnDrop(&context, "later");
    let script = "cat /sys/class/net/*/operstate | tr '\\n' ' '; grep solo /etc/hosts";
    let (code, stdout, _) = mlpack(
        &context,
        &[
            "run",
            "--name",
            "solo",
            "--network",
            "none",
            BUSYBOX,
            "sh",
            "-c",
            script,
        ],
    );
    let _solo = RemoveOnDrop(&context, "solo");
    assert_eq!((code, stdout.as_str()), (1, "unknown "));
    ok(
        &context,
        &["network", "connect", "--alias", "alone", "later", "solo"],
    );
    let (code, stdout, stderr) = mlpack(&context, &["start", "-a", "solo"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "up unknown 10.208.0.2\tsolo alone\n");

    let (code, _, stderr) = mlpack(
        &context,
        &["run", "--rm", "--network", "missing", BUSYBOX, "true"],
    );
    assert_eq!(code, 125);
    assert!(stderr.contains("no network `missing`"), "{stderr}");
    assert!(
        stderr.contains("hint: `mlpack network ls` lists the networks"),
        "{stderr}"
    );
    assert_eq!(
        json(&ok(&context, &["--json", "ps", "-a"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
