//! `mlpack export --format dockerfile` end to end: the iris example's build context, built
//! with Debian's `docker build` (legacy builder) on a bookworm base the test makes with
//! mmdebstrap (Docker Hub is not reachable here), and the image trained in with
//! `docker run --network none`.

use std::process::Command;

use crate::build::mlpack_ok;
use crate::common::TestContext;
use crate::common::docker::{
    BOOKWORM as BASE, DOCKER, Dockerd, add_hosts, docker, ensure_bookworm,
};

const IMAGE: &str = "mlpack-test-iris-dockerfile:latest";

#[test]
fn the_iris_example_exports_builds_with_docker_and_trains() {
    let _dockerd = Dockerd::ensure();
    let context = TestContext::example("iris-sklearn");
    ensure_bookworm(&context);
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!(
            "{manifest}\n[build]\nsystem-packages = [\"jq\"]\nrun = [\n    {{ command = \"python3 scripts/stamp.py\", inputs = [\"scripts\"] }},\n    {{ command = \"ls /app > /opt/app-files.txt\", after-code = true }},\n]\n"
        ),
    );
    context.write(
        "scripts/stamp.py",
        "import os\nos.makedirs('/opt', exist_ok=True)\nopen('/opt/stamp.txt', 'w').write('stamped\\n')\n",
    );
    let output = context.temp.path().join("docker-context");
    let export = [
        "export",
        "--format",
        "dockerfile",
        "-o",
        output.to_str().unwrap(),
        "--base-image",
        BASE,
    ];
    // The system packages are pinned by a build, not by the export.
    let unpinned = context.run(&export);
    assert!(
        unpinned.contains(
            "`[build] system-packages` are not pinned in `mlpack.lock` for these names yet"
        ) && unpinned.contains("hint: run `mlpack build` once"),
        "{unpinned}"
    );
    mlpack_ok(&context, &["build"]);
    let written = mlpack_ok(&context, &export);
    assert!(written.contains("Wrote `"), "{written}");
    let dockerfile = fs_err::read_to_string(output.join("Dockerfile")).unwrap();
    let lock = context.read("mlpack.lock");
    let python3 = lock
        .split("\n[[base.packages]]\nname = \"python3\"\nversion = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    for line in [
        format!("FROM {BASE}\n"),
        "echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list.d/mlpack.list".to_string(),
        format!("        python3={python3}"),
        "pip install --no-deps --require-hashes".to_string(),
        "        jq=".to_string(),
        "COPY app/scripts /app/scripts\nRUN [\"/usr/bin/env\",\"PYTHONDONTWRITEBYTECODE=1\",\"/bin/sh\",\"-c\",\"mkdir -p '/app' && cd '/app' && python3 scripts/stamp.py\"]\n".to_string(),
        "COPY app/ /app/\n".to_string(),
        "CMD [\"python3\",\"train.py\"]\n".to_string(),
    ] {
        assert!(dockerfile.contains(&line), "`{line}` in:\n{dockerfile}");
    }
    assert!(output.join("app/train.py").is_file());
    assert!(
        !output.join("app/data").exists(),
        "the dataset is mounted, not copied"
    );

    let mut docker_build = Command::new(DOCKER);
    docker_build
        .args(["build", "--network", "host"])
        .args(add_hosts())
        .args(["-t", IMAGE])
        .arg(&output);
    let built = docker_build.output().unwrap();
    assert!(
        built.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let data = format!("{}:/data:ro", context.project.join("data").display());
    let run = docker(&["run", "--rm", "--network", "none", "-v", &data, IMAGE]);
    let extras = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo '[1]' | jq -c '.[0]' && cat /opt/stamp.txt && grep -c train.py /opt/app-files.txt",
    ]);
    let _ = docker(&["rmi", IMAGE]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("data: /data/iris.csv"), "{stdout}");
    assert!(stdout.contains("\"accuracy\""), "{stdout}");
    assert_eq!(
        String::from_utf8_lossy(&extras.stdout),
        "1\nstamped\n1\n",
        "the system package, the step before the code and the one after it: {}",
        String::from_utf8_lossy(&extras.stderr)
    );
}
