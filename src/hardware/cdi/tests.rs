use std::path::PathBuf;

use super::natural_cmp;
use crate::hardware::tests::{Host, ld_so_cache, plan, report};

const NVIDIA_YAML: &str = r#"---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: "0"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "1"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
- name: all
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
    - path: /dev/nvidia1
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidia-uvm
  - path: /dev/nvidia-uvm-tools
  - path: /dev/nvidiactl
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - create-symlinks
    - --link
    - libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - enable-cuda-compat
    - --host-driver-version=550.54.14
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args:
    - nvidia-cdi-hook
    - update-ldcache
    - --folder
    - /usr/lib/x86_64-linux-gnu
  mounts:
  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14
    options:
    - ro
    - nosuid
    - nodev
    - bind
  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14
    containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14
    options: [ro, nosuid, nodev, bind]
  - hostPath: /usr/bin/nvidia-smi
    containerPath: /usr/bin/nvidia-smi
    options: [ro, nosuid, nodev, bind]
  - hostPath: /run/nvidia-persistenced/socket
    containerPath: /run/nvidia-persistenced/socket
    options: [nosuid, nodev, bind, noexec]
"#;

fn cdi_host() -> Host {
    let host = Host::with_driver(2);
    host.with_libraries();
    host.write("run/nvidia-persistenced/socket", "")
        .write("etc/cdi/nvidia.yaml", NVIDIA_YAML);
    host
}

#[test]
fn cdi_all_takes_the_all_device_and_the_spec_edits() {
    let plan = plan(&cdi_host(), "all").unwrap();
    insta::assert_json_snapshot!(plan, @r#"
        {
          "driver": "550.54.14",
          "devices": [
            "/dev/nvidia-uvm",
            "/dev/nvidia-uvm-tools",
            "/dev/nvidiactl",
            "/dev/nvidia0",
            "/dev/nvidia1"
          ],
          "mounts": [
            {
              "host": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
              "container": "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
              "container": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14",
              "read_only": true
            },
            {
              "host": "/usr/bin/nvidia-smi",
              "container": "/usr/bin/nvidia-smi",
              "read_only": true
            },
            {
              "host": "/run/nvidia-persistenced/socket",
              "container": "/run/nvidia-persistenced/socket",
              "read_only": false
            }
          ],
          "symlinks": [
            [
              "/usr/lib/x86_64-linux-gnu/libcuda.so",
              "libcuda.so.1"
            ],
            [
              "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
              "libcuda.so.550.54.14"
            ],
            [
              "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
              "libnvidia-ml.so.550.54.14"
            ]
          ],
          "env": [
            [
              "NVIDIA_VISIBLE_DEVICES",
              "void"
            ]
          ],
          "source": "CDI spec `/etc/cdi/nvidia.yaml`"
        }
        "#);
}

#[test]
fn cdi_count_and_device_lists_choose_by_name() {
    let host = cdi_host();
    let devices = |request: &str| {
        let plan = plan(&host, request).unwrap();
        let devices: Vec<String> = plan
            .devices
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        devices.join(" ")
    };
    assert_eq!(
        devices("1"),
        "/dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl /dev/nvidia0"
    );
    assert_eq!(
        devices("device=1,0"),
        "/dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl /dev/nvidia1 /dev/nvidia0"
    );
    insta::assert_snapshot!(report(&plan(&host, "3").unwrap_err()), @"
        asked for 3 GPUs, but CDI spec `/etc/cdi/nvidia.yaml` has only 2: `0`, `1`

        hint: ask for fewer, or for `all` of them
        ");
    insta::assert_snapshot!(report(&plan(&host, "device=2").unwrap_err()), @"
        no GPU `2` in CDI spec `/etc/cdi/nvidia.yaml`, which has `0`, `1`, `all`

        hint: pick one of those, like `device=0`
        ");
    insta::assert_snapshot!(
        report(&plan(&host, "device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a").unwrap_err()),
        @"
        no GPU `GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a` in CDI spec `/etc/cdi/nvidia.yaml`, which has `0`, `1`, `all`

        hint: pick one of those, like `device=0`; to name GPUs by UUID, regenerate the spec with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml --device-name-strategy=uuid`
        "
    );
}

#[test]
fn cdi_json_specs_by_uuid_and_other_vendors_skipped() {
    let host = Host::with_driver(2);
    host.write(
            "etc/cdi/amd.yaml",
            "cdiVersion: 0.6.0\nkind: amd.com/gpu\ndevices: {something: else}\n",
        )
        .write(
            "var/run/cdi/nvidia.json",
            r#"{"cdiVersion":"0.6.0","kind":"nvidia.com/gpu","devices":[
                {"name":"GPU-bbbb","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia1"}]}},
                {"name":"GPU-aaaa","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0","hostPath":"/dev/nvidia0"}],
                  "env":["CUDA_DEVICE_ORDER=PCI_BUS_ID"]}}],
              "containerEdits":{"deviceNodes":[{"path":"/dev/nvidiactl"}],"env":null,
                "mounts":[{"hostPath":"/usr/lib64/libcuda.so.570.86.15",
                  "containerPath":"/usr/lib64/libcuda.so.570.86.15","options":["ro"]}],
                "hooks":[{"hookName":"createContainer","path":"/usr/bin/nvidia-cdi-hook",
                  "args":["nvidia-cdi-hook","update-ldcache","--folder=/usr/lib64"]}]}}"#,
        )
        .write("usr/lib64/libcuda.so.570.86.15", "")
        .link("usr/lib64/libcuda.so.1", "libcuda.so.570.86.15")
        .write(
            "etc/ld.so.cache",
            ld_so_cache(&[(0x0303, "libcuda.so.1", "/usr/lib64/libcuda.so.1")]),
        );
    let plan_devices = |request: &str| {
        let plan = plan(&host, request).unwrap();
        assert_eq!(plan.source, "CDI spec `/var/run/cdi/nvidia.json`");
        plan.devices
    };
    assert_eq!(
        plan_devices("all"),
        ["/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1"].map(PathBuf::from)
    );
    assert_eq!(
        plan_devices("1"),
        ["/dev/nvidiactl", "/dev/nvidia0"].map(PathBuf::from)
    );
    let plan = plan(&host, "device=GPU-bbbb").unwrap();
    assert_eq!(
        plan.devices,
        ["/dev/nvidiactl", "/dev/nvidia1"].map(PathBuf::from)
    );
    // A RHEL host's library folder is not searched by a Debian image's loader.
    assert_eq!(
        plan.env,
        [("LD_LIBRARY_PATH".to_string(), "/usr/lib64".to_string())]
    );
    assert_eq!(
        plan.symlinks,
        [(
            PathBuf::from("/usr/lib64/libcuda.so.1"),
            PathBuf::from("libcuda.so.570.86.15")
        )]
    );
}

#[test]
fn bad_cdi_specs_are_named() {
    let host = Host::with_driver(1);
    host.write("etc/cdi/nvidia.yaml", "kind: nvidia.com/gpu\ndevices: 3\n");
    insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` is not valid: devices: invalid type: integer `3`, expected a sequence at line 2 column 10

        hint: fix it, or regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
    host.write("etc/cdi/nvidia.yaml", "kind: 'nvidia.com/gpu\n");
    insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` is not valid: found unexpected end of stream at line 2 column 1, while scanning a quoted scalar at line 1 column 7

        hint: fix it, or regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
    host.write(
            "etc/cdi/nvidia.yaml",
            "kind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n    mounts:\n    - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05\n      containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05\n",
        );
    insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` names `/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05`, which does not exist on this host

        hint: the spec is stale (the driver was upgraded, or a GPU removed); regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`
        ");
    host.write(
            "etc/cdi/nvidia.yaml",
            "kind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n      hostPath: /dev/nvidia3\n",
        );
    insta::assert_snapshot!(report(&plan(&host, "all").unwrap_err()), @"
        CDI spec `/etc/cdi/nvidia.yaml` asks for device node `/dev/nvidia0` from host path `/dev/nvidia3`, which mlpack does not support

        hint: regenerate it with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`, or move `/etc/cdi/nvidia.yaml` out of the CDI directory so mlpack uses the linker cache
        ");
}

#[test]
fn names_sort_with_numbers_by_value() {
    let mut names = vec!["10", "GPU-b", "2", "all", "0:1", "1", "0", "GPU-a", "02"];
    names.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        names,
        ["0", "0:1", "1", "2", "02", "10", "GPU-a", "GPU-b", "all"]
    );
}
