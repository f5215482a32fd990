//! `mlpack build -f Dockerfile` end to end, on a busybox base in the store (no registry, no
//! Docker): the instructions' effects in the image and its config, the cache (a second build
//! runs nothing), multi-stage builds, `.dockerignore`, and errors at their line.

use crate::common::TestContext;
use crate::common::images::install_busybox;
use crate::run::{mlpack, ok};

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox:test
FROM ${BASE} AS build
ARG GREETING=hello
RUN mkdir -p /out && echo "$GREETING from build" > /out/greeting.txt

FROM ${BASE}
ARG PORT=8080
ENV APP_HOME=/srv/app \
    MODE="fast mode"
WORKDIR $APP_HOME
COPY requirements.txt ./
COPY src/ src/
COPY --from=build /out/greeting.txt /etc/greeting.txt
COPY --chown=65534:65534 --chmod=600 secret.txt /srv/secret.txt
COPY <<EOF /etc/app.conf
mode=$MODE
EOF
RUN --mount=type=cache,target=/cache echo run >> /cache/count && \
    echo 'app:x:1000:1000::/srv/app:/bin/sh' >> /etc/passwd && \
    echo 'app:x:1000:' >> /etc/group && chown app:app /srv/app && \
    echo "port $PORT" > port.txt
USER app
EXPOSE $PORT
LABEL org.example.name="demo app"
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /etc/greeting.txt"]
"#;

fn project() -> TestContext {
    let context = TestContext::new();
    install_busybox(&context);
    context
        .write("Dockerfile", DOCKERFILE)
        .write("requirements.txt", "numpy\n")
        .write("src/main.py", "print('hi')\n")
        .write("src/notes.log", "left out\n")
        .write("secret.txt", "s3cret\n")
        .write(".dockerignore", "**/*.log\n");
    context
}

fn build_json(context: &TestContext, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "build"];
    all.extend_from_slice(args);
    let stdout = ok(context, &all);
    serde_json::from_str(&stdout).unwrap()
}

fn in_image(context: &TestContext, image: &str, script: &str) -> String {
    let (code, stdout, stderr) = mlpack(
        context,
        &[
            "run",
            "--rm",
            "-u",
            "0",
            "--entrypoint",
            "",
            image,
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    stdout
}

fn reused(report: &serde_json::Value) -> Vec<bool> {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| layer["reused"].as_bool().unwrap())
        .collect()
}

#[test]
fn a_dockerfile_builds_runs_and_is_cached() {
    let context = project();
    let args = [
        "-f",
        "Dockerfile",
        "-t",
        "demo:1",
        "--build-arg",
        "PORT=9090",
    ];
    let first = build_json(&context, &args);
    assert!(
        first["manifest_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        first["notes"][0].as_str().unwrap().contains("syntax"),
        "{first}"
    );

    let files = in_image(
        &context,
        "demo:1",
        "cd /srv/app && ls -A . src && cat /etc/greeting.txt /etc/app.conf port.txt /cache/count 2>&1; stat -c '%u:%g %a' /srv/secret.txt /srv/app && id app",
    );
    insta::assert_snapshot!(files, @r"
    .:
    port.txt
    requirements.txt
    src

    src:
    main.py
    hello from build
    mode=fast mode
    port 9090
    cat: can't open '/cache/count': No such file or directory
    65534:65534 600
    1000:0 755
    uid=1000(app) gid=1000(app) groups=1000(app)
    ");

    let inspect = ok(&context, &["inspect", "demo:1"]);
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let config = &inspect["config"]["config"];
    assert_eq!(config["User"], "app", "{config}");
    assert_eq!(config["WorkingDir"], "/srv/app");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(config["Cmd"], serde_json::json!(["cat /etc/greeting.txt"]));
    assert!(config["ExposedPorts"].get("9090/tcp").is_some(), "{config}");
    assert_eq!(config["Labels"]["org.example.name"], "demo app");
    let env = config["Env"].to_string();
    assert!(
        env.contains("MODE=fast mode") && env.contains("APP_HOME=/srv/app"),
        "{env}"
    );
    assert!(!env.contains("PORT"), "ARGs stay out of the image: {env}");

    // The entrypoint and command as the image has them.
    let (code, stdout, stderr) = mlpack(&context, &["run", "--rm", "demo:1"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "hello from build\n"),
        "{stderr}"
    );

    // Unchanged: nothing runs, every layer is reused, same image.
    let second = build_json(&context, &args);
    assert_eq!(second["manifest_digest"], first["manifest_digest"]);
    assert!(reused(&second).iter().all(|reused| *reused), "{second}");

    // A change to an ignored file does nothing; a changed source re-runs what follows it.
    context.write("src/notes.log", "still left out\n");
    let third = build_json(&context, &args);
    assert_eq!(third["manifest_digest"], first["manifest_digest"]);
    context.write("src/main.py", "print('changed')\n");
    let fourth = build_json(&context, &args);
    assert_eq!(
        reused(&fourth),
        [true, true, true, false, false, false, false, false],
        "{fourth}"
    );
}

#[test]
fn target_stops_at_a_stage_and_no_manifest_means_the_dockerfile() {
    let context = project();
    let report = build_json(
        &context,
        &["-f", "Dockerfile", "--target", "build", "-t", "demo:1"],
    );
    assert_eq!(report["layers"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(
        in_image(&context, "demo:1", "cat /out/greeting.txt"),
        "hello from build\n"
    );
    // No `mlpack.toml`: the directory's Dockerfile is built, and a note says so.
    let (code, _, stderr) = mlpack(&context, &["build", "-t", "demo:2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("no `mlpack.toml`"), "{stderr}");
}

#[test]
fn errors_name_the_dockerfile_line() {
    let context = TestContext::new();
    install_busybox(&context);
    context.write(
        "Dockerfile",
        "FROM busybox:test\nRUN true\nCOPY missing.txt /x\n",
    );
    let (code, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "Dockerfile:3: COPY missing.txt /x: `missing.txt`: no such file in the build context"
        ),
        "{stderr}"
    );
    assert!(stderr.contains(".dockerignore"), "{stderr}");

    context.write(
        "Dockerfile",
        "FROM busybox:test\nRUN echo failing && exit 3\n",
    );
    let (code, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile", "-t", "broken:1"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("Dockerfile:2: RUN echo failing && exit 3: exit status 3"),
        "{stderr}"
    );
    assert!(stderr.contains("failing"), "{stderr}");
    let (code, _, _) = mlpack(&context, &["inspect", "broken:1"]);
    assert_ne!(code, 0, "a failed build tags nothing");

    context.write("Dockerfile", "FROM busybox:test\nONBUILD RUN true\n");
    let (_, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile"]);
    assert!(
        stderr.contains("Dockerfile:2: ONBUILD RUN true: ONBUILD is not supported"),
        "{stderr}"
    );
}
