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
COPY --from=build /out/greeting.* /etc/
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
    1000:1000 755
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
    // With both, the manifest wins (here, failing on its own error) and the note says so.
    context.write("mlpack.toml", "[project]\nname = 1\n");
    let (code, _, stderr) = mlpack(&context, &["build"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("note: building from `mlpack.toml`; the `Dockerfile` beside it is not used"),
        "{stderr}"
    );
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

    let refused = [
        (
            "ONBUILD RUN true",
            "Dockerfile:2: ONBUILD RUN true: ONBUILD is not supported",
        ),
        (
            "RUN --mount=type=secret,id=x true",
            "`RUN --mount=type=secret` is not supported by mlpack",
        ),
        (
            "ADD https://example.com/x.tgz /x",
            "downloading is not supported by mlpack",
        ),
        (
            "COPY --chown=nosuchuser x /x",
            "Dockerfile:2: COPY --chown=nosuchuser x /x: `--chown=nosuchuser`: no user `nosuchuser`",
        ),
    ];
    context.write("x", "x");
    for (line, expected) in refused {
        context.write("Dockerfile", &format!("FROM busybox:test\n{line}\n"));
        let (code, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile"]);
        assert_eq!(code, 1, "{line}: {stderr}");
        assert!(stderr.contains(expected), "{line}: {stderr}");
    }
    context.write("Dockerfile", "FROM --platform=linux/s390x busybox:test\n");
    let (_, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile"]);
    assert!(
        stderr.contains("`--platform=linux/s390x`: mlpack builds only for this machine's platform"),
        "{stderr}"
    );
    context.write("Dockerfile", "FROM busybox:test AS one\n");
    let (_, _, stderr) = mlpack(&context, &["build", "-f", "Dockerfile", "--target", "two"]);
    assert!(
        stderr.contains("`--target two`: the Dockerfile has no stage of that name"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: the named stages: `one`"), "{stderr}");
}

#[test]
fn add_unpacks_archives_and_heredocs_shell_and_healthcheck_apply() {
    let context = TestContext::new();
    install_busybox(&context);
    context.write("pkg/bin/tool", "#!/bin/sh\necho tool\n");
    let status = std::process::Command::new("tar")
        .args(["czf", "pkg.tar.gz", "-C", "pkg", "bin"])
        .current_dir(&context.project)
        .status()
        .unwrap();
    assert!(status.success());
    fs_err::remove_dir_all(context.project.join("pkg")).unwrap();
    context.write(
        "Dockerfile",
        "FROM busybox:test\n\
         ADD pkg.tar.gz /opt/\n\
         SHELL [\"/bin/sh\", \"-ec\"]\n\
         RUN <<EOF\n\
         echo one > /one.txt\n\
         echo \"shell $0\" >> /one.txt\n\
         EOF\n\
         RUN cat <<EOF > /two.txt\n\
         two $0\n\
         EOF\n\
         HEALTHCHECK --interval=30s --retries=2 CMD [\"/bin/true\"]\n\
         USER nobody\n\
         WORKDIR /work/here\n\
         RUN touch mine\n\
         CMD echo done\n",
    );
    ok(&context, &["build", "-f", "Dockerfile", "-t", "demo:1"]);
    assert_eq!(
        in_image(
            &context,
            "demo:1",
            "cat /opt/bin/tool /one.txt /two.txt; stat -c '%u %n' /work /work/here/mine"
        ),
        "#!/bin/sh\necho tool\none\nshell /bin/sh\ntwo /bin/sh\n65534 /work\n65534 /work/here/mine\n"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&context, &["inspect", "demo:1"])).unwrap();
    let config = &inspect["config"]["config"];
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/bin/sh", "-ec", "echo done"])
    );
    let store = crate::common::images::store_dir(&context);
    let digest = inspect["manifest"]["config"]["digest"]
        .as_str()
        .unwrap()
        .replace("sha256:", "");
    let raw: serde_json::Value =
        serde_json::from_slice(&fs_err::read(store.join("blobs/sha256").join(digest)).unwrap())
            .unwrap();
    assert_eq!(
        raw["config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD", "/bin/true"], "Interval": 30_000_000_000_u64, "Retries": 2})
    );
}

#[cfg(feature = "test-registry")]
#[test]
fn from_pulls_a_registry_image_once() {
    let pusher = TestContext::new();
    install_busybox(&pusher);
    let registry = crate::common::registry::TestRegistry::start(pusher.temp.path());
    let remote = format!("{}/team/busybox:v1", registry.host);
    ok(&pusher, &["push", crate::common::images::BUSYBOX, &remote]);

    let context = TestContext::new();
    context.write(
        "Dockerfile",
        &format!("FROM {remote}\nRUN echo pulled > /pulled.txt\n"),
    );
    let first = build_json(&context, &["-f", "Dockerfile", "-t", "demo:1"]);
    assert_eq!(in_image(&context, "demo:1", "cat /pulled.txt"), "pulled\n");
    // The base is in the store now: the second build neither pulls nor runs anything.
    let second = build_json(&context, &["-f", "Dockerfile", "-t", "demo:1"]);
    assert_eq!(second["manifest_digest"], first["manifest_digest"]);
    assert_eq!(reused(&second), [true, true], "{second}");
}
