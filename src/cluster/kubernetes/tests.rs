//! Golden YAML of each kind, read back through the typed objects: `k8s-openapi`'s for the
//! built-in kinds (which drop unknown fields, so a round trip that loses nothing shows every
//! field is one of theirs) and mlpack's own, which refuse unknown fields, for the custom ones.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, Service};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::objects::{quantity, slurm_seconds};
use super::{DatasetVolume, Kubernetes, KubernetesJob, PullSecret, WorkloadKind, crd};
use crate::cluster::{ClusterJob, Mount, Resources};
use crate::oci::registry::Credentials;

const IMAGE: &str = "registry.example.com/team/iris@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn resources() -> Resources {
    Resources {
        nodes: 2,
        gpus_per_node: 4,
        cpus_per_node: Some(32),
        memory: Some("256G".to_string()),
        time: Some("2:00:00".to_string()),
        queue: Some("team-a".to_string()),
        account: None,
        extra: Vec::new(),
    }
}

fn datasets() -> Vec<Mount> {
    vec![
        Mount {
            host: "/shared/data/imagenet".into(),
            target: "/data".to_string(),
            read_only: true,
        },
        Mount {
            host: "/nonexistent/tokens".into(),
            target: "/tokens".to_string(),
            read_only: true,
        },
    ]
}

/// The YAML of a two-node, four-GPU job of `kind`.
fn yaml(kind: WorkloadKind, pull_secret: PullSecret) -> String {
    let resources = resources();
    let datasets = datasets();
    let env = BTreeMap::from([("SEED".to_string(), "1".to_string())]);
    let command = ["torchrun".to_string(), "train.py".to_string()];
    let job = ClusterJob {
        run_id: "20261205-070000-abcd",
        run_dir: Path::new("/project/outputs/20261205-070000-abcd"),
        image: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        command: &command,
        resources: &resources,
        datasets: &datasets,
        fingerprints: &[],
        outputs_target: "/outputs",
        workdir: "/app",
        env: &env,
        shm_size: Some("8g"),
    };
    let volumes = [
        DatasetVolume::Claim {
            name: "imagenet".to_string(),
            sub_path: Some("train".to_string()),
        },
        DatasetVolume::HostPath("/mnt/tokens".to_string()),
    ];
    let kube = KubernetesJob {
        kind,
        image: IMAGE,
        namespace: Some("ml"),
        service_account: Some("trainer"),
        queue: resources.queue.as_deref(),
        pull_secret,
        datasets: &volumes,
        outputs_claim: None,
        runtime: "torch-distributed",
    };
    Kubernetes::yaml(&job, &kube).unwrap()
}

/// The YAML's documents as JSON values, the header comment left out.
fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("---\n")
        .skip(1)
        .map(|document| serde_norway::from_str(document).unwrap())
        .collect()
}

/// `value` read as `T` and written back is `value`: no field was unknown to `T`.
fn round_trips<T: DeserializeOwned + Serialize>(value: &serde_json::Value) {
    let typed: T = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(&serde_json::to_value(&typed).unwrap(), value);
}

#[test]
fn indexed_job_and_headless_service() {
    let yaml = yaml(
        WorkloadKind::Job,
        PullSecret::Existing("regcred".to_string()),
    );
    insta::assert_snapshot!(yaml, @r"
    # mlpack run 20261205-070000-abcd: written by `mlpack train --on kubernetes`; `kubectl apply -f` this file
    ---
    apiVersion: v1
    kind: Service
    metadata:
      labels:
        mlpack.dev/run: 20261205-070000-abcd
      name: mlpack-20261205-070000-abcd
      namespace: ml
    spec:
      clusterIP: None
      ports:
      - name: rendezvous
        port: 29500
      publishNotReadyAddresses: true
      selector:
        mlpack.dev/run: 20261205-070000-abcd
    ---
    apiVersion: batch/v1
    kind: Job
    metadata:
      labels:
        kueue.x-k8s.io/queue-name: team-a
        mlpack.dev/run: 20261205-070000-abcd
      name: mlpack-20261205-070000-abcd
      namespace: ml
    spec:
      activeDeadlineSeconds: 7200
      backoffLimit: 0
      completionMode: Indexed
      completions: 2
      parallelism: 2
      template:
        metadata:
          labels:
            mlpack.dev/run: 20261205-070000-abcd
        spec:
          containers:
          - args:
            - torchrun
            - train.py
            env:
            - name: MASTER_ADDR
              value: mlpack-20261205-070000-abcd-0.mlpack-20261205-070000-abcd
            - name: MASTER_PORT
              value: '29500'
            - name: NNODES
              value: '2'
            - name: NODE_RANK
              valueFrom:
                fieldRef:
                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
            - name: NPROC_PER_NODE
              value: '4'
            - name: WORLD_SIZE
              value: '8'
            - name: PET_NNODES
              value: '2'
            - name: PET_NODE_RANK
              valueFrom:
                fieldRef:
                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
            - name: PET_NPROC_PER_NODE
              value: '4'
            - name: PET_MASTER_ADDR
              value: mlpack-20261205-070000-abcd-0.mlpack-20261205-070000-abcd
            - name: PET_MASTER_PORT
              value: '29500'
            - name: SEED
              value: '1'
            image: registry.example.com/team/iris@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
            name: node
            resources:
              limits:
                cpu: '32'
                memory: 256Gi
                nvidia.com/gpu: '4'
              requests:
                cpu: '32'
                memory: 256Gi
            volumeMounts:
            - mountPath: /dev/shm
              name: dshm
            - mountPath: /data
              name: dataset-0
              readOnly: true
              subPath: train
            - mountPath: /tokens
              name: dataset-1
              readOnly: true
            - mountPath: /outputs
              name: outputs
            workingDir: /app
          imagePullSecrets:
          - name: regcred
          restartPolicy: Never
          serviceAccountName: trainer
          subdomain: mlpack-20261205-070000-abcd
          volumes:
          - emptyDir:
              medium: Memory
              sizeLimit: 8Gi
            name: dshm
          - name: dataset-0
            persistentVolumeClaim:
              claimName: imagenet
              readOnly: true
          - hostPath:
              path: /mnt/tokens
            name: dataset-1
          - emptyDir: {}
            name: outputs
    ");
    let [service, job] = documents(&yaml).try_into().unwrap();
    round_trips::<Service>(&service);
    round_trips::<Job>(&job);
}

#[test]
fn job_set() {
    let yaml = yaml(WorkloadKind::JobSet, PullSecret::None);
    insta::assert_snapshot!(yaml, @r"
    # mlpack run 20261205-070000-abcd: written by `mlpack train --on kubernetes`; `kubectl apply -f` this file
    ---
    apiVersion: jobset.x-k8s.io/v1alpha2
    kind: JobSet
    metadata:
      labels:
        kueue.x-k8s.io/queue-name: team-a
        mlpack.dev/run: 20261205-070000-abcd
      name: mlpack-20261205-070000-abcd
      namespace: ml
    spec:
      replicatedJobs:
      - name: node
        replicas: 1
        template:
          spec:
            activeDeadlineSeconds: 7200
            backoffLimit: 0
            completionMode: Indexed
            completions: 2
            parallelism: 2
            template:
              metadata:
                labels:
                  mlpack.dev/run: 20261205-070000-abcd
              spec:
                containers:
                - args:
                  - torchrun
                  - train.py
                  env:
                  - name: MASTER_ADDR
                    value: mlpack-20261205-070000-abcd-node-0-0.mlpack-20261205-070000-abcd
                  - name: MASTER_PORT
                    value: '29500'
                  - name: NNODES
                    value: '2'
                  - name: NODE_RANK
                    valueFrom:
                      fieldRef:
                        fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
                  - name: NPROC_PER_NODE
                    value: '4'
                  - name: WORLD_SIZE
                    value: '8'
                  - name: PET_NNODES
                    value: '2'
                  - name: PET_NODE_RANK
                    valueFrom:
                      fieldRef:
                        fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
                  - name: PET_NPROC_PER_NODE
                    value: '4'
                  - name: PET_MASTER_ADDR
                    value: mlpack-20261205-070000-abcd-node-0-0.mlpack-20261205-070000-abcd
                  - name: PET_MASTER_PORT
                    value: '29500'
                  - name: SEED
                    value: '1'
                  image: registry.example.com/team/iris@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
                  name: node
                  resources:
                    limits:
                      cpu: '32'
                      memory: 256Gi
                      nvidia.com/gpu: '4'
                    requests:
                      cpu: '32'
                      memory: 256Gi
                  volumeMounts:
                  - mountPath: /dev/shm
                    name: dshm
                  - mountPath: /data
                    name: dataset-0
                    readOnly: true
                    subPath: train
                  - mountPath: /tokens
                    name: dataset-1
                    readOnly: true
                  - mountPath: /outputs
                    name: outputs
                  workingDir: /app
                restartPolicy: Never
                serviceAccountName: trainer
                volumes:
                - emptyDir:
                    medium: Memory
                    sizeLimit: 8Gi
                  name: dshm
                - name: dataset-0
                  persistentVolumeClaim:
                    claimName: imagenet
                    readOnly: true
                - hostPath:
                    path: /mnt/tokens
                  name: dataset-1
                - emptyDir: {}
                  name: outputs
      network:
        enableDNSHostnames: true
        publishNotReadyAddresses: true
      successPolicy:
        operator: All
      failurePolicy:
        maxRestarts: 0
    ");
    let [job_set] = documents(&yaml).try_into().unwrap();
    round_trips::<crd::JobSet>(&job_set);
}

#[test]
fn train_job() {
    let yaml = yaml(WorkloadKind::TrainJob, PullSecret::None);
    insta::assert_snapshot!(yaml, @r"
    # mlpack run 20261205-070000-abcd: written by `mlpack train --on kubernetes`; `kubectl apply -f` this file
    ---
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata:
      labels:
        kueue.x-k8s.io/queue-name: team-a
        mlpack.dev/run: 20261205-070000-abcd
      name: mlpack-20261205-070000-abcd
      namespace: ml
    spec:
      runtimeRef:
        name: torch-distributed
        apiGroup: trainer.kubeflow.org
        kind: ClusterTrainingRuntime
      trainer:
        image: registry.example.com/team/iris@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        command:
        - torchrun
        - train.py
        env:
        - name: MASTER_ADDR
          value: mlpack-20261205-070000-abcd-node-0-0.mlpack-20261205-070000-abcd
        - name: MASTER_PORT
          value: '29500'
        - name: NNODES
          value: '2'
        - name: NODE_RANK
          valueFrom:
            fieldRef:
              fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
        - name: NPROC_PER_NODE
          value: '4'
        - name: WORLD_SIZE
          value: '8'
        - name: SEED
          value: '1'
        numNodes: 2
        resourcesPerNode:
          limits:
            cpu: '32'
            memory: 256Gi
            nvidia.com/gpu: '4'
          requests:
            cpu: '32'
            memory: 256Gi
        numProcPerNode: 4
      runtimePatches:
      - manager: mlpack.dev/mlpack
        trainingRuntimeSpec:
          template:
            spec:
              replicatedJobs:
              - name: node
                template:
                  spec:
                    template:
                      metadata:
                        labels:
                          mlpack.dev/run: 20261205-070000-abcd
                      spec:
                        serviceAccountName: trainer
                        volumes:
                        - emptyDir:
                            medium: Memory
                            sizeLimit: 8Gi
                          name: dshm
                        - name: dataset-0
                          persistentVolumeClaim:
                            claimName: imagenet
                            readOnly: true
                        - hostPath:
                            path: /mnt/tokens
                          name: dataset-1
                        - emptyDir: {}
                          name: outputs
                        containers:
                        - name: node
                          volumeMounts:
                          - mountPath: /dev/shm
                            name: dshm
                          - mountPath: /data
                            name: dataset-0
                            readOnly: true
                            subPath: train
                          - mountPath: /tokens
                            name: dataset-1
                            readOnly: true
                          - mountPath: /outputs
                            name: outputs
      activeDeadlineSeconds: 7200
    ");
    let [train_job] = documents(&yaml).try_into().unwrap();
    round_trips::<crd::TrainJob>(&train_job);
}

#[test]
fn a_registry_secret_from_the_saved_credentials() {
    let yaml = yaml(
        WorkloadKind::Job,
        PullSecret::Generated {
            registry: "registry.example.com".to_string(),
            credentials: Credentials {
                username: "ci".to_string(),
                password: "s3cret".to_string(),
            },
        },
    );
    let [secret, _, job] = documents(&yaml).try_into().unwrap();
    round_trips::<Secret>(&secret);
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let config = secret["data"][".dockerconfigjson"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, config).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["auths"]["registry.example.com"]["auth"],
        "Y2k6czNjcmV0"
    );
    assert_eq!(
        job["spec"]["template"]["spec"]["imagePullSecrets"],
        serde_json::json!([{"name": "mlpack-20261205-070000-abcd-registry"}])
    );
}

#[test]
fn a_misspelt_field_is_refused() {
    let yaml =
        yaml(WorkloadKind::JobSet, PullSecret::None).replace("replicatedJobs", "replicatedJob");
    let [job_set] = documents(&yaml).try_into().unwrap();
    assert!(serde_json::from_value::<crd::JobSet>(job_set).is_err());
}

#[test]
fn sizes_and_times() {
    assert_eq!(quantity("64G"), "64Gi");
    assert_eq!(quantity("1g"), "1Gi");
    assert_eq!(quantity("500Mi"), "500Mi");
    assert_eq!(quantity("1.5G"), "1.5G");
    assert_eq!(slurm_seconds("30"), Some(1800));
    assert_eq!(slurm_seconds("2:00:00"), Some(7200));
    assert_eq!(slurm_seconds("1-12"), Some(86_400 + 12 * 3600));
    assert_eq!(slurm_seconds("1-0:30:00"), Some(86_400 + 1800));
    assert_eq!(slurm_seconds("soon"), None);
    assert_eq!(slurm_seconds("0"), None);
}

#[test]
fn conditions() {
    use super::kubectl::condition_state;
    use crate::cluster::JobState;
    let object = |kind: &str, status: &str| {
        serde_json::json!({"status": {"conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": kind, "status": status},
        ]}})
    };
    assert_eq!(
        condition_state(&object("Complete", "True")),
        Some(JobState::Completed)
    );
    assert_eq!(
        condition_state(&object("Completed", "True")),
        Some(JobState::Completed)
    );
    assert_eq!(
        condition_state(&object("Failed", "True")),
        Some(JobState::Failed)
    );
    assert_eq!(condition_state(&object("Failed", "False")), None);
    assert_eq!(condition_state(&serde_json::json!({})), None);
}
