//! `mlpack train` end to end: a project built from a local index and the real Debian mirror,
//! trained with its dataset mounted read-only, and the run record checked field by field.

use crate::build::{local_project, mlpack_ok};
use crate::common::TestContext;
use crate::common::images::{one_layer_image, store_dir};
use crate::common::index::TestIndex;

const TRAIN: &str = r#"import json, pathlib, sys
rows = pathlib.Path("/data/rows.txt").read_text().split()
try:
    pathlib.Path("/data/new.txt").write_text("x")
    print("dataset writable")
except OSError as error:
    print("dataset read-only:", error.strerror)
out = pathlib.Path("/outputs")
(out / "model.bin").write_text("weights " + " ".join(sys.argv[1:]))
(out / "metrics.json").write_text(json.dumps({"rows": len(rows), "loss": 0.25}))
print("trained on", len(rows), "rows")
"#;

const PREDICT: &str = r#"import json, pathlib
out = pathlib.Path("/outputs")
run = json.loads((out / "run.json").read_text())
print("predicting with", (out / "model.bin").read_text(), "(run " + run["id"] + ")")
"#;

fn project(index: &TestIndex) -> TestContext {
    let context = local_project(index);
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!("{manifest}[[datasets]]\nsource = \"data\"\n"),
    );
    context.write("train.py", TRAIN);
    context.write("predict.py", PREDICT);
    context.write("data/rows.txt", "1\n2\n3\n");
    context
}

fn runs(context: &TestContext) -> Vec<serde_json::Value> {
    let mut records: Vec<serde_json::Value> = fs_err::read_dir(context.project.join("outputs"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path().join("run.json");
            serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap()
        })
        .collect();
    records.sort_by_key(|record| record["started"].as_str().unwrap().to_string());
    records
}

#[test]
fn train_mounts_data_records_the_run_and_reuses_the_image() {
    let index = TestIndex::start();
    let context = project(&index);
    let output = mlpack_ok(&context, &["train", "--", "--epochs", "3"]);
    assert!(
        output.contains("dataset read-only: Read-only file system"),
        "{output}"
    );
    assert!(output.contains("trained on 3 rows"), "{output}");
    assert!(!context.project.join("data/new.txt").exists());

    let [record] = runs(&context).try_into().unwrap();
    let id = record["id"].as_str().unwrap();
    let dir = context.project.join("outputs").join(id);
    assert_eq!(record["exit_code"], 0);
    assert_eq!(
        record["command"],
        serde_json::json!(["python3", "train.py", "--epochs", "3"])
    );
    assert_eq!(
        fs_err::read_to_string(dir.join("model.bin")).unwrap(),
        "weights --epochs 3"
    );
    assert_eq!(
        record["outputs"]["model.bin"],
        mlpack::sha256::file_sha256(&dir.join("model.bin")).unwrap()
    );
    assert_eq!(
        record["metrics"],
        serde_json::json!({"rows": 3, "loss": 0.25})
    );
    assert_eq!(
        record["lock_sha256"],
        mlpack::sha256::file_sha256(&context.project.join("mlpack.lock")).unwrap()
    );
    let images = mlpack_ok(&context, &["--json", "images"]);
    assert!(
        images.contains(record["image"]["digest"].as_str().unwrap()),
        "{images}"
    );
    assert_eq!(record["image"]["layers"].as_array().unwrap().len(), 4);
    let dataset = &record["datasets"][0];
    assert_eq!(dataset["source"], "data");
    assert_eq!(dataset["target"], "/data");
    assert_eq!(
        (dataset["files"].as_u64(), dataset["bytes"].as_u64()),
        (Some(1), Some(6))
    );
    assert!(record["host"]["cpus"].as_u64().unwrap() >= 1);
    assert!(
        fs_err::read_to_string(dir.join("train.log"))
            .unwrap()
            .contains("trained on 3 rows")
    );

    // Same inputs: the image is reused. New data: a new fingerprint.
    context.write("data/rows.txt", "1\n2\n3\n4\n");
    let output = mlpack_ok(&context, &["train"]);
    assert!(output.contains("trained on 4 rows"), "{output}");
    let [first, second] = runs(&context).try_into().unwrap();
    assert_eq!(first["image"]["digest"], second["image"]["digest"]);
    assert_ne!(
        first["datasets"][0]["sha256"],
        second["datasets"][0]["sha256"]
    );
    let table = mlpack_ok(&context, &["runs"]);
    assert!(table.contains(id) && table.contains("rows=4"), "{table}");
    let second_id = second["id"].as_str().unwrap();
    let diff = mlpack_ok(&context, &["runs", "diff", id, second_id]);
    assert!(diff.contains("data `data`: "), "{diff}");
    assert!(diff.contains("metric `rows`: 3 -> 4"), "{diff}");
    assert!(
        diff.contains("command: python3 train.py --epochs 3 -> python3 train.py"),
        "{diff}"
    );

    // The first run's data is gone: reproducing it is refused; the second's is still there.
    let refused = context.run(&["reproduce", id]);
    assert!(refused.starts_with("exit: 125"), "{refused}");
    assert!(
        refused.contains(&format!("changed since run {id}")),
        "{refused}"
    );
    let again = mlpack_ok(&context, &["reproduce", second_id]);
    assert!(again.contains("trained on 4 rows"), "{again}");
    let third = runs(&context).pop().unwrap();
    assert_eq!(third["reproduces"], second_id);
    assert_eq!(third["image"]["digest"], second["image"]["digest"]);

    // The model image serves the run's outputs by default: `--cmd`'s command, else `[serve]`'s.
    // The run is named by its random part, as users copy it.
    let suffix = second_id.rsplit('-').next().unwrap();
    let packaged = mlpack_ok(
        &context,
        &[
            "package",
            suffix,
            "-t",
            "demo-model:cmd",
            "--cmd",
            "python3 predict.py",
        ],
    );
    assert!(packaged.contains("Packaged run"), "{packaged}");
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!("{manifest}[serve]\ncommand = [\"python3\", \"predict.py\"]\n"),
    );
    let packaged = mlpack_ok(&context, &["package", second_id, "-t", "demo-model:v1"]);
    assert!(packaged.contains("Packaged run"), "{packaged}");
    for tag in ["demo-model:cmd", "demo-model:v1"] {
        let mut run = context.mlpack(&["run", "--rm", tag]);
        TestContext::shared_cache(&mut run);
        let output = run.output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("predicting with weights  (run {second_id})\n"),
            "{tag}: {}",
            context.render(&output)
        );
    }
    #[cfg(feature = "test-docker")]
    {
        assert_eq!(
            crate::build::run_in_docker(&context, "demo-model:v1", &[]),
            format!("predicting with weights  (run {second_id})\n")
        );
    }
}

#[test]
fn the_job_exit_status_is_mlpacks_and_a_missing_dataset_is_an_error() {
    let index = TestIndex::start();
    let context = project(&index);
    context.write("train.py", "import sys\nprint('failing')\nsys.exit(3)\n");
    let mut command = context.mlpack(&["train"]);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", context.render(&output));
    assert_eq!(runs(&context)[0]["exit_code"], 3);

    fs_err::remove_dir_all(context.project.join("data")).unwrap();
    let rendered = context.run(&["train"]);
    assert!(rendered.starts_with("exit: 125"), "{rendered}");
    assert!(
        rendered.contains("mlpack.toml:") && rendered.contains("does not exist"),
        "{rendered}"
    );
}

/// The bundled iris example trains from its checked-in lock: the model and its metrics land
/// in the run's directory, and the record has them.
#[cfg(feature = "test-pypi")]
#[test]
fn the_iris_example_trains() {
    let context = TestContext::example("iris-sklearn");
    let output = mlpack_ok(&context, &["train", "--locked", "--", "--model", "logreg"]);
    assert!(output.contains("\"model\": \"logreg\""), "{output}");
    let [record] = runs(&context).try_into().unwrap();
    let dir = context
        .project
        .join("outputs")
        .join(record["id"].as_str().unwrap());
    assert!(dir.join("model.joblib").is_file());
    assert!(record["outputs"]["model.joblib"].is_string());
    assert!(
        record["metrics"]["accuracy"].as_f64().unwrap() > 0.8,
        "{record}"
    );
    assert_eq!(record["datasets"][0]["files"], 1);
}

/// The imports alone decide the image: matplotlib's, scipy's and pandas's own dependencies
/// (packaging, pyparsing, cycler, kiwisolver, python-dateutil, …) come from their metadata,
/// which an earlier metadata reader cut short.
#[cfg(feature = "test-pypi")]
#[test]
fn a_project_importing_matplotlib_scipy_and_pandas_trains_without_naming_their_dependencies() {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        "[project]\nname = \"plots\"\n[python]\nversion = \"3.11\"\n[train]\ncommand = [\"python3\", \"train.py\"]\n",
    );
    context.write(
        "train.py",
        "import matplotlib\nmatplotlib.use(\"Agg\")\nimport matplotlib.pyplot as plt\nimport pandas as pd\nimport scipy.stats\n\nframe = pd.DataFrame({\"x\": range(10)})\nframe[\"y\"] = scipy.stats.norm.pdf(frame.x / 3)\nframe.plot(x=\"x\", y=\"y\")\nplt.savefig(\"/outputs/plot.png\")\nprint(\"plotted\", len(frame))\n",
    );
    let output = mlpack_ok(&context, &["train"]);
    assert!(output.contains("plotted 10"), "{output}");
    let [record] = runs(&context).try_into().unwrap();
    assert!(record["outputs"]["plot.png"].is_string(), "{record}");
}

const HOSTILE: &str = r#"import os, pathlib, sys
out = pathlib.Path("/outputs")
(out / "model.bin").write_text("weights")
if sys.argv[1] == "links":
    os.symlink("/dev/zero", out / "metrics.json")
    os.symlink(sys.argv[2], out / "run.json")
    os.mkfifo(out / "pipe")
    with open(out / "huge.bin", "wb") as huge:
        huge.truncate(1 << 40)
else:
    os.mkfifo(out / "metrics.json")
print("job done")
"#;

/// `mlpack ARGS`, killed (and the test failed) if it has not ended within `seconds`.
fn mlpack_within(context: &TestContext, args: &[&str], seconds: u64) -> String {
    let log = context.temp.path().join("within.log");
    let mut command = context.mlpack(args);
    command.env_remove("MLPACK_OFFLINE");
    TestContext::shared_cache(&mut command);
    let file = fs_err::File::create(&log).unwrap();
    let mut child = command
        .stdout(file.try_clone().unwrap().into_parts().0)
        .stderr(file.into_parts().0)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`mlpack {}` ran past {seconds}s:\n{}",
                args.join(" "),
                fs_err::read_to_string(&log).unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let output = fs_err::read_to_string(&log).unwrap();
    assert!(status.success(), "{output}");
    output
}

/// A job that leaves `metrics.json` as a link to `/dev/zero` or as a FIFO, a 1 TiB sparse
/// file and `run.json` as a link to a host file: `train` reads none of them, finishes
/// promptly, and writes its record (not through the link) saying what it skipped.
#[test]
fn outputs_the_job_leaves_are_read_with_limits() {
    let index = TestIndex::start();
    let context = project(&index);
    context.write("train.py", HOSTILE);
    mlpack_ok(&context, &["build"]);
    let victim = context.temp.path().join("victim.txt");
    fs_err::write(&victim, "host file\n").unwrap();

    let output = mlpack_within(
        &context,
        &["train", "--", "links", victim.to_str().unwrap()],
        120,
    );
    assert!(output.contains("job done"), "{output}");
    assert!(
        output.contains("warning: the output `huge.bin` is not hashed: larger than 64.0 GiB"),
        "{output}"
    );
    assert_eq!(fs_err::read_to_string(&victim).unwrap(), "host file\n");
    let [record] = runs(&context).try_into().unwrap();
    assert_eq!(record["outputs"].as_object().unwrap().len(), 1, "{record}");
    assert!(record["outputs"]["model.bin"].is_string(), "{record}");
    assert_eq!(
        record["outputs_skipped"],
        serde_json::json!({
            "huge.bin": "not hashed: larger than 64.0 GiB",
            "metrics.json": "a symlink to `/dev/zero`, not followed",
            "pipe": "a FIFO, not read",
        })
    );
    assert_eq!(record["metrics"], serde_json::Value::Null);
    assert_eq!(
        record["metrics_skipped"],
        "a symlink to `/dev/zero`, not followed"
    );

    mlpack_within(&context, &["train", "--", "fifo"], 120);
    let [_, record] = runs(&context).try_into().unwrap();
    assert_eq!(record["metrics_skipped"], "a FIFO, not read");
    assert_eq!(
        record["outputs_skipped"],
        serde_json::json!({"metrics.json": "a FIFO, not read"})
    );
}

/// Links in a dataset are fingerprinted as the container sees them: a dangling one is fine,
/// one that leads out of the dataset (`etc -> /etc`) is refused, naming it. A dataset
/// `source` that is itself a link is resolved on the host: its target is what is mounted.
#[test]
fn dataset_links_are_fingerprinted_as_links() {
    let index = TestIndex::start();
    let context = project(&index);
    std::os::unix::fs::symlink("missing.txt", context.project.join("data/dangling")).unwrap();
    std::os::unix::fs::symlink("rows.txt", context.project.join("data/alias")).unwrap();
    let output = mlpack_ok(&context, &["train"]);
    assert!(output.contains("trained on 3 rows"), "{output}");
    let dataset = runs(&context)[0]["datasets"][0].clone();
    assert_eq!(
        (&dataset["files"], &dataset["links"]),
        (&serde_json::json!(1), &serde_json::json!(2)),
        "{dataset}"
    );

    std::os::unix::fs::symlink("/etc", context.project.join("data/etc")).unwrap();
    let refused = context.run_online(&["train"]);
    assert!(refused.starts_with("exit: 125"), "{refused}");
    assert!(
        refused.contains(
            "error: `etc` in the dataset `[TEMP]/project/data` is a symlink to `/etc`, which leads out of the dataset"
        ),
        "{refused}"
    );
    assert!(
        refused.contains("hint: make the link relative"),
        "{refused}"
    );
    assert_eq!(runs(&context).len(), 1, "no run started");

    let elsewhere = context.temp.path().join("elsewhere");
    fs_err::create_dir(&elsewhere).unwrap();
    fs_err::write(elsewhere.join("rows.txt"), "1\n2\n3\n4\n").unwrap();
    fs_err::remove_dir_all(context.project.join("data")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, context.project.join("data")).unwrap();
    let output = mlpack_ok(&context, &["train"]);
    assert!(output.contains("trained on 4 rows"), "{output}");
    let record = runs(&context).pop().unwrap();
    assert_eq!(record["datasets"][0]["source"], "data");
    assert_eq!(record["datasets"][0]["files"], 1);
}

/// `mlpack prune` in the test's own cache (pruning the shared one would take other tests'
/// bytecode caches); its JSON report.
fn prune(context: &TestContext, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "prune"];
    all.extend_from_slice(args);
    let output = context.mlpack(&all).output().unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A run's image outlives its name: `prune` keeps it for `reproduce`, until the run's outputs
/// are deleted, or `prune --runs`.
#[test]
fn prune_keeps_the_images_of_recorded_runs() {
    let index = TestIndex::start();
    let context = project(&index);
    mlpack_ok(&context, &["train"]);
    context.write("train.py", &format!("{TRAIN}print('second version')\n"));
    mlpack_ok(&context, &["train"]);
    let [first, second] = runs(&context).try_into().unwrap();
    assert_ne!(first["image"]["digest"], second["image"]["digest"]);
    let first_id = first["id"].as_str().unwrap();

    let pruned = prune(&context, &[]);
    assert_eq!(pruned["run_roots_removed"], 0, "{pruned}");
    let again = mlpack_ok(&context, &["reproduce", first_id]);
    assert!(
        again.contains("trained on 3 rows") && !again.contains("second version"),
        "{again}"
    );

    // The runs of the first image deleted (the first and its reproduction): the image goes.
    for run in runs(&context) {
        if run["image"]["digest"] == first["image"]["digest"] {
            let dir = context
                .project
                .join("outputs")
                .join(run["id"].as_str().unwrap());
            fs_err::remove_dir_all(dir).unwrap();
        }
    }
    let pruned = prune(&context, &[]);
    assert_eq!(pruned["run_roots_removed"], 2, "{pruned}");
    // Its manifest, config and code layer; the base and packages are the second's too.
    assert_eq!(pruned["blobs_removed"], 3, "{pruned}");
    let pruned = prune(&context, &["--runs"]);
    assert_eq!(
        (&pruned["run_roots_removed"], &pruned["blobs_removed"]),
        (&1.into(), &0.into()),
        "{pruned}"
    );
}

/// A record as `mlpack train` writes it, for the commands that only read records.
fn write_record(context: &TestContext, id: &str, started: &str) {
    write_record_of(context, id, started, ("demo:latest", "sha256:00"));
}

/// A record of a run of the image `(reference, digest)`.
fn write_record_of(context: &TestContext, id: &str, started: &str, image: (&str, &str)) {
    let (reference, digest) = image;
    let record = serde_json::json!({
        "id": id, "started": started, "finished": started, "seconds": 1.0, "exit_code": 0,
        "command": ["python3", "train.py"],
        "image": {"reference": reference, "digest": digest, "layers": []},
        "lock_sha256": null, "git": null, "datasets": [], "outputs": {},
        "host": {"hostname": "h", "kernel": "k", "cpu": "c", "cpus": 1, "memory_bytes": 1,
                 "gpu_driver": null},
        "metrics": null,
    });
    context.write(&format!("outputs/{id}/run.json"), &record.to_string());
}

#[test]
fn runs_are_newest_first_named_by_either_end_and_packaging_needs_a_command() {
    let context = TestContext::new();
    context.write("mlpack.toml", "[project]\nname = \"demo\"\n");
    write_record(&context, "20261205-041510-b44b", "2026-12-05T04:15:10Z");
    write_record(&context, "20261206-090000-c44b", "2026-12-06T09:00:00Z");
    write_record(&context, "20261204-120000-3f2a", "2026-12-04T12:00:00Z");

    let output = context.mlpack(&["--json", "runs"]).output().unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = listed
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "20261206-090000-c44b",
            "20261205-041510-b44b",
            "20261204-120000-3f2a"
        ]
    );

    let shown = context.mlpack(&["runs", "show", "b44b"]).output().unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["id"], "20261205-041510-b44b");
    let ambiguous = context.run(&["runs", "show", "44b"]);
    assert!(ambiguous.starts_with("exit: 1"), "{ambiguous}");
    assert!(
        ambiguous.contains("`44b` matches 2 runs: 20261205-041510-b44b, 20261206-090000-c44b"),
        "{ambiguous}"
    );

    // No `[serve]`: the model image would retrain, so packaging is refused before any work.
    let refused = context.run(&["package", "3f2a"]);
    assert!(refused.starts_with("exit: 1"), "{refused}");
    assert!(
        refused.contains("hint: add a `[serve]` section"),
        "{refused}"
    );
}

/// The model image is named after the whole training image name, registry port and path
/// included: `localhost:5000/team/img:tag` gives `localhost:5000/team/img-model:<run id>`
/// (the name was once cut at its first `:`, giving `localhost-model:<run id>`).
#[test]
fn the_model_image_keeps_the_registry_and_path_of_the_training_image() {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        "[project]\nname = \"demo\"\n[serve]\ncommand = [\"true\"]\n",
    );
    let store = mlpack::oci::Store::open(&store_dir(&context)).unwrap();
    let tree = context.temp.path().join("tree");
    fs_err::create_dir_all(&tree).unwrap();
    let digest = one_layer_image(&store, &tree, "localhost:5000/team/img:tag", &["true"]);
    let id = "20261205-041510-b44b";
    write_record_of(
        &context,
        id,
        "2026-12-05T04:15:10Z",
        ("localhost:5000/team/img:tag", &digest),
    );
    let output = context.mlpack(&["--json", "package"]).output().unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    let packaged: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = format!("localhost:5000/team/img-model:{id}");
    assert_eq!(packaged["reference"], expected.as_str());
    assert!(store.resolve(&expected).is_ok());
}

/// `[train] services`: a sidecar from the compose file (busybox's httpd serving the run's
/// outputs directory, given to the file as `${MLPACK_RUN_DIR}`, with a default for other
/// `mlpack compose` commands) runs while the job runs —
/// the job fetches a file it wrote from it over loopback — and is gone when the job ends. Its
/// healthcheck takes any HTTP answer (the directory is empty until the job writes).
#[test]
fn a_sidecar_runs_beside_the_job_and_is_removed_after_it() {
    let index = TestIndex::start();
    let context = local_project(&index);
    let busybox = crate::run::busybox_image(&context);
    let port = crate::network::free_port();
    let manifest = context.read("mlpack.toml");
    context.write(
        "mlpack.toml",
        &format!("{manifest}services = [\"viewer\"]\n"),
    );
    context.write(
        "compose.yaml",
        &format!(
            "services:\n  viewer:\n    image: {busybox}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n    \
             volumes: [\"${{MLPACK_RUN_DIR:-./outputs}}:/www:ro\"]\n    ports: [\"127.0.0.1:{port}:8080\"]\n    \
             healthcheck:\n      test: [\"CMD-SHELL\", \"wget -S -O /dev/null http://127.0.0.1:8080/ 2>&1 | grep -q HTTP/\"]\n      \
             interval: 200ms\n      retries: 50\n"
        ),
    );
    context.write(
        "train.py",
        &format!(
            "import pathlib, urllib.request\n\
             pathlib.Path('/outputs/hello.txt').write_text('hello from the job')\n\
             print('sidecar says:', urllib.request.urlopen('http://127.0.0.1:{port}/hello.txt').read().decode())\n"
        ),
    );
    let output = mlpack_within(&context, &["train"], 600);
    assert!(
        output.contains("sidecar says: hello from the job"),
        "{output}"
    );
    let (code, stdout, stderr) =
        crate::run::mlpack(&context, &["compose", "-p", "demo-train", "ps"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("viewer"), "the sidecar is gone: {stdout}");

    // A service the compose file lacks is refused before anything is built.
    context.write("mlpack.toml", &format!("{manifest}services = [\"nope\"]\n"));
    let refused = context.run(&["train"]);
    assert!(refused.starts_with("exit: 1"), "{refused}");
    assert!(refused.contains("nope"), "{refused}");
}
