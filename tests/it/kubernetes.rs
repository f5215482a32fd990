//! `mlpack train --on kubernetes`. No Kubernetes API server can run here, so these tests
//! check what can be checked without one: the image is pushed to a real registry (Debian's
//! `docker-registry`) and pulled back by the digest the job names; with no cluster to apply
//! to, the YAML is written into the run's folder; each kind's YAML passes
//! `kubernetes-validate --strict` (the Kubernetes 1.33 `OpenAPI` schemas, unknown fields
//! refused: built-in kinds whole, and the Job and pod templates inside a JobSet and a
//! TrainJob); and its image, environment, volumes and resources are the project's.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::TestContext;
use crate::common::registry::{PASSWORD, TestRegistry, USER};

/// The Kubernetes version whose schemas the YAML is validated against (`k8s-openapi`'s
/// `v1_33`).
const KUBERNETES: &str = "1.33.0";

/// `mlpack ARGS`, online with the shared download cache, and a kubeconfig with no context.
fn mlpack(context: &TestContext, args: &[&str]) -> Output {
    let kubeconfig = context.temp.path().join("kubeconfig");
    fs_err::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let mut command = context.mlpack(args);
    command
        .env_remove("MLPACK_OFFLINE")
        .env("KUBECONFIG", &kubeconfig);
    TestContext::shared_cache(&mut command);
    command.output().unwrap()
}

fn project(registry: &str, kubernetes: &str) -> TestContext {
    let context = TestContext::new();
    context.write(
        "mlpack.toml",
        &format!(
            "[project]\nname = \"ranks\"\n[python]\nversion = \"3.11\"\n[hardware]\naccelerator = \"cpu\"\n\
             [train]\ncommand = [\"python3\", \"train.py\"]\nshm-size = \"2g\"\n[train.env]\nSEED = \"7\"\n\
             [[datasets]]\nsource = \"data\"\n\
             [cluster]\nengine = \"kubernetes\"\nnodes = 2\nregistry = \"{registry}/team\"\n\
             [cluster.kubernetes]\nnamespace = \"ml\"\nservice-account = \"trainer\"\nqueue = \"team-a\"\n{kubernetes}"
        ),
    );
    context.write("train.py", "print('training')\n");
    context.write("data/rows.txt", "1\n2\n");
    context
}

/// The only run's folder.
fn the_run(context: &TestContext) -> PathBuf {
    let [dir]: [PathBuf; 1] = fs_err::read_dir(context.project.join("outputs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    dir
}

/// The YAML's documents, as JSON.
fn documents(path: &Path) -> Vec<Value> {
    fs_err::read_to_string(path)
        .unwrap()
        .split("---\n")
        .skip(1)
        .map(|document| serde_norway::from_str(document).unwrap())
        .collect()
}

/// `kubernetes-validate --strict` of `documents`: every field is in the schema, every
/// required one is there, every value has the schema's type.
fn validate(context: &TestContext, documents: &[Value]) {
    let file = context.temp.path().join("validate.yaml");
    let text: Vec<String> = documents
        .iter()
        .map(|document| serde_norway::to_string(document).unwrap())
        .collect();
    fs_err::write(&file, text.join("---\n")).unwrap();
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", KUBERNETES])
        .arg(&file)
        .output()
        .expect(
            "kubernetes-validate is installed (`pip install kubernetes-validate`, see .ci/run)",
        );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}\n{}", text.join("---\n"));
    assert_eq!(
        report.matches(" passed for resource ").count(),
        documents.len(),
        "{report}"
    );
}

/// A Job around `template` (a JobSet's, or one rebuilt from a TrainJob), for the validator.
fn job_of(spec: &Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "check"}, "spec": spec})
}

/// The environment of `container` as `name → value or field path`.
fn env(container: &Value) -> Vec<(String, String)> {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| {
            let value = var["value"]
                .as_str()
                .or_else(|| var["valueFrom"]["fieldRef"]["fieldPath"].as_str())
                .unwrap();
            (var["name"].as_str().unwrap().to_string(), value.to_string())
        })
        .collect()
}

fn login(context: &TestContext, registry: &TestRegistry) {
    let mut child = context
        .mlpack(&["login", &registry.host, "-u", USER, "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_image_is_pushed_and_the_job_written_when_no_cluster_answers() {
    let context = project("REGISTRY", "");
    let registry = TestRegistry::start_with_auth(context.temp.path());
    let manifest = context
        .read("mlpack.toml")
        .replace("REGISTRY", &registry.host);
    context.write("mlpack.toml", &manifest);
    login(&context, &registry);

    // A dataset with no volume on the cluster is refused, with the fix.
    let output = mlpack(&context, &["train"]);
    let rendered = context.render(&output);
    // 125: mlpack failed before training, as for `mlpack run`.
    assert_eq!(output.status.code(), Some(125), "{rendered}");
    assert!(
        rendered.contains("the dataset `data` has no volume on Kubernetes"),
        "{rendered}"
    );
    assert!(
        rendered.contains("[cluster.kubernetes.datasets] \"data\" = { claim = \"PVC\" }"),
        "{rendered}"
    );
    // Refused before anything was pushed or written.
    assert!(!rendered.contains("Pushed"), "{rendered}");
    assert!(!context.project.join("outputs").exists());

    let manifest = format!(
        "{}[cluster.kubernetes.datasets]\ndata = {{ claim = \"train-data\", sub-path = \"v1\" }}\n",
        context.read("mlpack.toml")
    );
    context.write("mlpack.toml", &manifest);
    let output = mlpack(
        &context,
        &["train", "--gpus-per-node", "1", "--memory", "8G"],
    );
    let rendered = context.render(&output);
    assert!(output.status.success(), "{rendered}");
    assert!(rendered.contains("not submitted: "), "{rendered}");
    let dir = the_run(&context);
    let file = dir.join("cluster/job.yaml");
    assert!(rendered.contains("/cluster/job.yaml"), "{rendered}");
    assert!(
        rendered.contains(&format!("Pushed `{}/team/ranks@sha256:", registry.host)),
        "{rendered}"
    );
    // It holds the registry's credentials.
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&fs_err::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(!dir.join("run.json").exists());

    let documents = documents(&file);
    validate(&context, &documents);
    let [secret, service, job] = documents.try_into().unwrap();
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(service["spec"]["clusterIP"], "None");
    assert_eq!(
        job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"],
        "team-a"
    );
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["completions"], 2);
    assert_eq!(job["spec"]["parallelism"], 2);
    let pod = &job["spec"]["template"]["spec"];
    let name = job["metadata"]["name"].as_str().unwrap();
    assert_eq!(pod["subdomain"], name);
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": format!("{name}-registry")}])
    );
    let container = &pod["containers"][0];

    // The image is named by digest on the registry, and that digest is there.
    let image = container["image"].as_str().unwrap();
    let prefix = format!("{}/team/ranks@sha256:", registry.host);
    assert!(image.starts_with(&prefix), "{image}");
    let elsewhere = context.temp.path().join("other-store");
    let mut pull = context.mlpack(&["pull", image]);
    pull.env("MLPACK_HOME", &elsewhere);
    let pulled = pull.output().unwrap();
    assert!(pulled.status.success(), "{}", context.render(&pulled));

    assert_eq!(container["args"], json!(["python3", "train.py"]));
    let master = format!("{name}-0.{name}");
    let index = "metadata.annotations['batch.kubernetes.io/job-completion-index']";
    let expected: Vec<(String, String)> = [
        ("MASTER_ADDR", master.as_str()),
        ("MASTER_PORT", "29500"),
        ("NNODES", "2"),
        ("NODE_RANK", index),
        ("NPROC_PER_NODE", "1"),
        ("WORLD_SIZE", "2"),
        ("PET_NNODES", "2"),
        ("PET_NODE_RANK", index),
        ("PET_NPROC_PER_NODE", "1"),
        ("PET_MASTER_ADDR", master.as_str()),
        ("PET_MASTER_PORT", "29500"),
        ("SEED", "7"),
    ]
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .to_vec();
    assert_eq!(env(container), expected);
    assert_eq!(
        container["resources"],
        json!({"limits": {"memory": "8Gi", "nvidia.com/gpu": "1"}, "requests": {"memory": "8Gi"}})
    );
    assert_eq!(
        container["volumeMounts"],
        json!([
            {"mountPath": "/dev/shm", "name": "dshm"},
            {"mountPath": "/data", "name": "dataset-0", "readOnly": true, "subPath": "v1"},
            {"mountPath": "/outputs", "name": "outputs"},
        ])
    );
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
            {"name": "dataset-0", "persistentVolumeClaim": {"claimName": "train-data", "readOnly": true}},
            {"name": "outputs", "emptyDir": {}},
        ])
    );
}

#[test]
fn jobset_and_trainjob_dry_runs_write_valid_objects() {
    let context = project(
        "registry.example.com",
        "[cluster.kubernetes.datasets]\ndata = { host-path = \"/mnt/data\" }\n",
    );
    // Without a registry the nodes could not pull the image: refused before the build.
    let manifest = context.read("mlpack.toml");
    let without = manifest.replace("registry = \"registry.example.com/team\"\n", "");
    assert_ne!(without, manifest);
    context.write("mlpack.toml", &without);
    let output = mlpack(&context, &["train", "--dry-run"]);
    let rendered = context.render(&output);
    assert_eq!(output.status.code(), Some(125), "{rendered}");
    assert!(
        rendered.contains("a Kubernetes job needs a registry the nodes pull the image from"),
        "{rendered}"
    );
    assert!(!rendered.contains("Built"), "{rendered}");
    context.write("mlpack.toml", &manifest);

    for kind in ["jobset", "trainjob"] {
        let output = mlpack(
            &context,
            &["train", "--dry-run", "--kind", kind, "--time", "30"],
        );
        let rendered = context.render(&output);
        assert!(output.status.success(), "{rendered}");
        assert!(rendered.contains("not submitted: --dry-run"), "{rendered}");
        // A dry run pushes nothing: the registry does not even exist.
        assert!(!rendered.contains("Pushed"), "{rendered}");
    }
    let mut objects: Vec<Value> = fs_err::read_dir(context.project.join("outputs"))
        .unwrap()
        .flat_map(|entry| documents(&entry.unwrap().path().join("cluster/job.yaml")))
        .collect();
    objects.sort_by_key(|object| object["kind"].as_str().unwrap().to_string());
    let kinds: Vec<&Value> = objects.iter().map(|object| &object["kind"]).collect();
    assert_eq!(kinds, ["JobSet", "TrainJob"]);
    let [job_set, train_job]: [Value; 2] = objects.try_into().unwrap();

    assert_eq!(job_set["apiVersion"], "jobset.x-k8s.io/v1alpha2");
    assert_eq!(job_set["spec"]["network"]["enableDNSHostnames"], true);
    let replicated = &job_set["spec"]["replicatedJobs"][0];
    assert_eq!(replicated["replicas"], 1);
    let job_spec = &replicated["template"]["spec"];
    assert_eq!(job_spec["activeDeadlineSeconds"], 1800);
    validate(&context, &[job_of(job_spec)]);
    let name = job_set["metadata"]["name"].as_str().unwrap();
    let container = &job_spec["template"]["spec"]["containers"][0];
    assert!(
        env(container).contains(&("MASTER_ADDR".to_string(), format!("{name}-node-0-0.{name}"))),
        "{container}"
    );
    assert!(
        container["image"]
            .as_str()
            .unwrap()
            .starts_with("registry.example.com/team/ranks@sha256:")
    );
    assert_eq!(
        job_spec["template"]["spec"]["volumes"][1],
        json!({"name": "dataset-0", "hostPath": {"path": "/mnt/data", "type": "Directory"}})
    );

    assert_eq!(train_job["apiVersion"], "trainer.kubeflow.org/v1alpha1");
    let spec = &train_job["spec"];
    assert_eq!(spec["runtimeRef"]["name"], "torch-distributed");
    assert_eq!(spec["trainer"]["numNodes"], 2);
    assert_eq!(spec["trainer"]["command"], json!(["python3", "train.py"]));
    let names: Vec<String> = env(&spec["trainer"])
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    // The runtime sets torchrun's own variables.
    assert!(
        !names.iter().any(|name| name.starts_with("PET_")),
        "{names:?}"
    );
    assert!(names.contains(&"NODE_RANK".to_string()), "{names:?}");
    // The trainer and the pod patch, put back together as the runtime would, are a valid pod.
    let patch = &spec["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
        [0]["template"]["spec"]["template"];
    let mut pod = patch["spec"].clone();
    pod["restartPolicy"] = json!("Never");
    let mut container = pod["containers"][0].clone();
    for field in ["image", "command", "env"] {
        container[field] = spec["trainer"][field].clone();
    }
    container["resources"] = spec["trainer"]["resourcesPerNode"].clone();
    if container["resources"].is_null() {
        container.as_object_mut().unwrap().remove("resources");
    }
    pod["containers"] = json!([container]);
    validate(
        &context,
        &[job_of(
            &json!({"template": {"metadata": patch["metadata"], "spec": pod}}),
        )],
    );
}
