//! `mlpack compose` end to end as root with the busybox image: a project's network, named
//! volume, published port, healthchecks and dependency conditions, and `down -v` leaving
//! nothing behind; a failed dependency stopping `up` with its output; errors located in the
//! file. Traffic stays between the project's containers and 127.0.0.1.

use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::network::{free_port, get, links, nft_tables};
use crate::run::{busybox_image, json, mlpack, ok};

/// `compose down -v` when dropped, so a failing test leaves no bridge or container behind.
struct DownOnDrop<'a>(&'a TestContext);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.mlpack(&["compose", "down", "-v"]).output();
    }
}

/// A web server that gets ready after a second (its healthcheck looks for `/tmp/ready`), a
/// one-shot job that must complete first, and a client that needs the server healthy and
/// fetches its page by the service's name, as `/etc/hosts` gives it.
const WEB_PROJECT: &str = r#"
name: webapp
services:
  seed:
    image: busybox:test
    command: ["sh", "-c", "echo ${GREETING:-hi} from the volume > /data/index.html"]
    volumes: [site:/data]
  web:
    image: busybox:test
    command: sh -c "sleep 1 && touch /tmp/ready && exec httpd -f -p 8080 -h /www"
    depends_on:
      seed: {condition: service_completed_successfully}
    volumes:
      - type: volume
        source: site
        target: /www
        read_only: true
    ports: ["127.0.0.1:${WEB_PORT}:8080"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      retries: 50
  client:
    image: busybox:test
    depends_on:
      web: {condition: service_healthy}
    command:
      - sh
      - -c
      - ip=$$(grep -w web /etc/hosts | cut -f1); printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $$ip 8080 | tail -n 1
volumes:
  site: {}
"#;

#[test]
fn up_waits_for_conditions_and_down_leaves_nothing() {
    let context = TestContext::new();
    busybox_image(&context);
    let port = free_port();
    context.write("compose.yaml", WEB_PROJECT);
    context.write(".env", &format!("WEB_PORT={port}\nGREETING=hello\n"));
    let _down = DownOnDrop(&context);
    let links_before = links();
    let (code, _, stderr) = mlpack(&context, &["compose", "up", "-d"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Service web  healthy"), "{stderr}");

    // The client ran after the server was healthy, and reached it by its service's name.
    let deadline = Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let logs = ok(&context, &["compose", "logs", "client"]);
        if !logs.is_empty() || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(logs, "client  | hello from the volume\n");
    assert_eq!(get(port).as_deref(), Some("hello from the volume\n"));
    let listed = json(&ok(&context, &["--json", "compose", "ps"]));
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["webapp-client-1", "webapp-seed-1", "webapp-web-1"]);
    let network = json(&ok(&context, &["network", "inspect", "webapp_default"]))[0].clone();
    let bridge = network["bridge"].as_str().unwrap().to_string();
    assert!(links().contains(&bridge));
    assert_eq!(
        json(&ok(&context, &["--json", "volume", "ls"]))[0]["name"],
        "webapp_site"
    );

    // `up` again leaves the running server as it is.
    let (code, _, stderr) = mlpack(&context, &["compose", "up", "-d", "web"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("Container webapp-web-1  Running"),
        "{stderr}"
    );

    let (code, _, stderr) = mlpack(&context, &["compose", "down", "-v"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(ok(&context, &["ps", "-a", "-q"]).is_empty());
    assert_eq!(
        json(&ok(&context, &["--json", "network", "ls"])),
        serde_json::json!([])
    );
    assert_eq!(
        json(&ok(&context, &["--json", "volume", "ls"])),
        serde_json::json!([])
    );
    let left: Vec<String> = links()
        .into_iter()
        .filter(|link| !links_before.contains(link) && link.starts_with("mlpk"))
        .collect();
    assert!(!links().contains(&bridge), "{left:?}");
    assert!(!nft_tables().contains(&bridge));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_failed_dependency_stops_up_with_its_output() {
    let context = TestContext::new();
    busybox_image(&context);
    context.write(
        "compose.yaml",
        r#"
name: broken
services:
  db:
    image: busybox:test
    command: sh -c "echo the database is broken >&2; exit 3"
    healthcheck:
      test: ["CMD", "test", "-f", "/never"]
      interval: 100ms
      retries: 100
  app:
    image: busybox:test
    command: sleep 100
    depends_on:
      db: {condition: service_healthy}
"#,
    );
    let _down = DownOnDrop(&context);
    let (code, _, stderr) = mlpack(&context, &["compose", "up", "-d"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("db  | the database is broken"), "{stderr}");
    assert!(
        stderr.contains("error: service `db` exited with status 3"),
        "{stderr}"
    );
    let names = ok(&context, &["compose", "ps"]);
    assert!(!names.contains("broken-app-1"), "{names}");
}

#[test]
fn on_failure_restarts_are_counted() {
    let context = TestContext::new();
    busybox_image(&context);
    context.write(
        "compose.yaml",
        r#"
name: flaky
services:
  job:
    image: busybox:test
    command: sh -c "echo run >> /state/runs; exit 1"
    restart: on-failure:2
    volumes: [state:/state]
volumes:
  state:
"#,
    );
    let _down = DownOnDrop(&context);
    ok(&context, &["compose", "up", "-d"]);
    let mountpoint = json(&ok(&context, &["volume", "inspect", "flaky_state"]))[0]["mountpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = std::path::Path::new(&mountpoint).join("runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let exited = || json(&ok(&context, &["--json", "compose", "ps"]))[0]["status"] == "exited";
    while !(exited()
        && fs_err::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
            == 3)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Two restarts after the first run, then no more.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fs_err::read_to_string(&runs).unwrap(), "run\nrun\nrun\n");
    assert!(exited());
}

#[test]
fn unknown_keys_and_bad_values_are_errors_at_their_line() {
    let context = TestContext::new();
    context.write(
        "compose.yaml",
        "services:\n  web:\n    image: busybox:test\n    imagee: typo\n",
    );
    let (code, _, stderr) = mlpack(&context, &["compose", "config"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("compose.yaml:4:5: services.web: unknown field `imagee`"),
        "{stderr}"
    );
    context.write(
        "compose.yaml",
        "services:\n  web:\n    image: ${IMAGE:?set IMAGE in .env}\n",
    );
    let (code, _, stderr) = mlpack(&context, &["compose", "config"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "compose.yaml:3:5: services.web: the variable `IMAGE` is required: set IMAGE in .env"
        ),
        "{stderr}"
    );
    context.write(".env", "IMAGE=busybox:test\n");
    let config = ok(&context, &["compose", "-p", "Demo.App", "config"]);
    assert!(config.starts_with("name: demoapp\n"), "{config}");
    assert!(config.contains("image: busybox:test"), "{config}");
    assert!(config.contains("container_name: demoapp-web-1"), "{config}");
    assert!(config.contains("name: demoapp_default"), "{config}");
}

#[test]
fn exec_run_stop_start_and_restart() {
    let context = TestContext::new();
    busybox_image(&context);
    context.write(
        "compose.yaml",
        "name: life\nservices:\n  box:\n    image: busybox:test\n    command: sleep 1000\n    environment: [WHO=compose]\n",
    );
    let _down = DownOnDrop(&context);
    ok(&context, &["compose", "up", "-d"]);
    let status = || json(&ok(&context, &["--json", "compose", "ps"]))[0]["status"].clone();
    assert_eq!(status(), "running");
    assert_eq!(
        ok(
            &context,
            &["compose", "exec", "box", "sh", "-c", "echo $WHO"]
        ),
        "compose\n"
    );
    let (code, stdout, stderr) = mlpack(
        &context,
        &["compose", "run", "box", "sh", "-c", "echo one-off; exit 4"],
    );
    assert_eq!((code, stdout.as_str()), (4, "one-off\n"), "{stderr}");
    // The one-off container is gone; the service's is as it was.
    assert_eq!(
        json(&ok(&context, &["--json", "compose", "ps"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ok(&context, &["compose", "stop"]);
    assert_eq!(status(), "exited");
    ok(&context, &["compose", "start", "box"]);
    assert_eq!(status(), "running");
    ok(&context, &["compose", "restart"]);
    assert_eq!(status(), "running");
}

#[test]
fn up_without_detach_prints_the_output_until_the_services_stop() {
    let context = TestContext::new();
    busybox_image(&context);
    context.write(
        "compose.yaml",
        "name: fg\nservices:\n  hello:\n    image: busybox:test\n    command: [echo, hello]\n",
    );
    let _down = DownOnDrop(&context);
    assert_eq!(ok(&context, &["compose", "up"]), "hello  | hello\n");
}

/// The `tensorboard` example: `compose up --wait` builds its image, trains, and starts the real
/// `tensorboard` on a published loopback port, whose API lists the run's scalars; `down -v`
/// leaves no container, link, rule, volume or network.
#[cfg(all(feature = "test-pypi", feature = "test-debian"))]
#[test]
fn the_tensorboard_example_serves_the_runs_scalars() {
    let context = TestContext::example("tensorboard");
    let port = free_port();
    context.write(".env", &format!("TB_PORT={port}\n"));
    let _down = DownOnDrop(&context);
    let output = crate::build::mlpack_ok(&context, &["compose", "up", "--wait"]);
    assert!(output.contains("Service tensorboard  healthy"), "{output}");
    let network = json(&ok(
        &context,
        &["network", "inspect", "tensorboard-demo_default"],
    ))[0]
        .clone();
    let bridge = network["bridge"].as_str().unwrap().to_string();
    let veths: Vec<String> = network["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .map(|endpoint| endpoint["host_link"].as_str().unwrap().to_string())
        .collect();
    // TensorBoard reads the event files in the background: poll until the run shows.
    let deadline = Instant::now() + Duration::from_mins(1);
    let tags = loop {
        let tags = crate::network::get_path(port, "/data/plugin/scalars/tags").unwrap_or_default();
        if tags.contains("train/loss") || Instant::now() > deadline {
            break tags;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        tags.contains("\"linear\"") && tags.contains("train/loss"),
        "{tags}"
    );
    assert!(ok(&context, &["compose", "logs", "train"]).contains("final loss"));

    ok(&context, &["compose", "down", "-v"]);
    assert!(ok(&context, &["ps", "-a", "-q"]).is_empty());
    assert_eq!(
        json(&ok(&context, &["--json", "network", "ls"])),
        serde_json::json!([])
    );
    assert_eq!(
        json(&ok(&context, &["--json", "volume", "ls"])),
        serde_json::json!([])
    );
    let links = links();
    assert!(!links.contains(&bridge));
    assert!(veths.iter().all(|veth| !links.contains(veth)), "{veths:?}");
    assert!(!nft_tables().contains(&bridge));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// `compose pull` brings a service's image from its registry (Debian's `docker-registry` on
/// 127.0.0.1), and `up` pulls what the store lacks by itself, as Compose's default
/// `pull_policy: missing` does.
#[cfg(feature = "test-registry")]
#[test]
fn pull_and_up_bring_images_from_their_registry() {
    let source = TestContext::new();
    let image = busybox_image(&source);
    let registry = crate::common::registry::TestRegistry::start(source.temp.path());
    let remote = format!("{}/team/busybox:v1", registry.host);
    ok(&source, &["push", image, &remote]);

    let context = TestContext::new();
    context.write(
        "compose.yaml",
        &format!(
            "name: pulled\nservices:\n  hello:\n    image: {remote}\n    command: [\"echo\", \"hello from the registry\"]\n"
        ),
    );
    let _down = DownOnDrop(&context);
    let (code, _, stderr) = mlpack(&context, &["compose", "pull"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("Pulled `{remote}`")), "{stderr}");
    ok(&context, &["rmi", &remote]);
    let (code, _, stderr) = mlpack(&context, &["compose", "up"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Pulling hello"), "{stderr}");
    let logs = ok(&context, &["compose", "logs", "hello"]);
    assert_eq!(logs, "hello  | hello from the registry\n");
}

/// A service that reserves GPUs (`deploy.resources.reservations.devices`) gets them as
/// `mlpack run --gpus` would; on a machine without an NVIDIA driver `up` says so and starts
/// nothing.
#[test]
fn a_gpu_reservation_is_a_gpus_request() {
    let context = TestContext::new();
    let image = busybox_image(&context);
    context.write(
        "compose.yaml",
        &format!(
            "name: gpus\nservices:\n  train:\n    image: {image}\n    command: [\"true\"]\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n"
        ),
    );
    let _down = DownOnDrop(&context);
    let config = ok(&context, &["compose", "config"]);
    assert!(
        config.contains("gpus: '1'") || config.contains("gpus: 1"),
        "{config}"
    );
    if std::path::Path::new("/proc/driver/nvidia/version").exists() {
        return;
    }
    let (code, _, stderr) = mlpack(&context, &["compose", "up", "-d"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("NVIDIA"), "{stderr}");
    let (_, containers, _) = mlpack(&context, &["ps", "-a", "-q"]);
    assert_eq!(containers.trim(), "", "nothing was started");
}
