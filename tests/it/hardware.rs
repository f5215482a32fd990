//! `[hardware]` against the real PyPI: CUDA targets pick and pin the NVIDIA wheels, the lock
//! records the runtime and the driver it needs, conflicts are told in CUDA's terms, and a CPU
//! target says what torch's CUDA wheels cost. Pinned in time so the results are stable.

use crate::common::TestContext;

const EXCLUDE_NEWER: &str = "2026-11-01";

fn project(requirements: &[&str], hardware: &str) -> TestContext {
    let context = TestContext::new();
    let quoted: Vec<String> = requirements.iter().map(|r| format!("{r:?}")).collect();
    context.write(
        "mlpack.toml",
        &format!(
            "[python]\nversion = \"3.11\"\nrequirements = [{}]\n\n[hardware]\n{hardware}",
            quoted.join(", ")
        ),
    );
    context
}

fn lock(context: &TestContext) -> String {
    context.run_online(&["lock", "--exclude-newer", EXCLUDE_NEWER])
}

fn lock_table(context: &TestContext) -> toml::Table {
    toml::from_str(&context.read("mlpack.lock")).unwrap()
}

fn locked_names(context: &TestContext) -> Vec<String> {
    lock_table(context)["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| package["name"].as_str().unwrap().to_string())
        .collect()
}

fn is_hardware(name: &str) -> bool {
    name.starts_with("nvidia-") || name.starts_with("cuda-") || name == "triton"
}

#[test]
fn a_torch_lock_pins_cuda_and_puts_every_nvidia_wheel_in_the_hardware_layers() {
    let context = project(
        &["torch==2.8.0"],
        "accelerator = \"cuda\"\ncuda = \"12.8\"\n",
    );
    let output = lock(&context);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert!(
        output.contains("CUDA 12.8 in 15 hardware wheels")
            && output.contains("needs NVIDIA driver 525.60.13 or newer"),
        "{output}"
    );
    let hardware = &lock_table(&context)["hardware"];
    assert_eq!(hardware["accelerator"].as_str(), Some("cuda"));
    assert_eq!(hardware["cuda"].as_str(), Some("12.8"));
    assert_eq!(hardware["driver-min"].as_str(), Some("525.60.13"));

    let output = context
        .mlpack(&["build", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", context.render(&output));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut in_hardware_layers = Vec::new();
    for layer in plan["layers"].as_array().unwrap() {
        let packages: Vec<&str> = layer["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        let description = layer["description"].as_str().unwrap();
        if description.starts_with("hardware libraries") {
            assert!(packages.iter().all(|name| is_hardware(name)), "{layer}");
            assert!(
                layer["download_bytes"].as_u64().unwrap() < 2_000_000_000,
                "{layer}"
            );
            in_hardware_layers.extend(packages);
        } else {
            assert!(!packages.iter().any(|name| is_hardware(name)), "{layer}");
        }
    }
    let mut expected: Vec<String> = locked_names(&context)
        .into_iter()
        .filter(|name| is_hardware(name))
        .collect();
    expected.sort();
    in_hardware_layers.sort_unstable();
    assert_eq!(in_hardware_layers, expected);
    assert_eq!(expected.len(), 15, "{expected:?}");
}

#[test]
fn a_framework_release_built_for_another_cuda_is_explained() {
    let context = project(
        &["torch==2.5.1"],
        "accelerator = \"cuda\"\ncuda = \"12.8\"\n",
    );
    let output = lock(&context);
    assert!(!output.starts_with("exit: 0"), "{output}");
    assert!(
        output.contains(
            "`torch` 2.5.1 cannot be used because it needs `nvidia-cuda-runtime-cu12` 12.4.127, but `[hardware] cuda = \"12.8\"` asks for CUDA 12.8"
        ),
        "{output}"
    );
}

#[test]
fn torch_and_tensorflow_with_clashing_nvidia_pins_get_the_explanation() {
    let context = project(
        &["torch==2.5.1", "tensorflow==2.18.0"],
        "accelerator = \"cuda\"\n",
    );
    let output = lock(&context);
    assert!(!output.starts_with("exit: 0"), "{output}");
    assert!(
        output.contains("`tensorflow[and-cuda]` 2.18.0 and `torch` 2.5.1 need different builds of")
            && output.contains("An image holds one build of each NVIDIA library"),
        "{output}"
    );
    assert!(
        output.contains("hint: pick versions of `tensorflow` and `torch` built for the same"),
        "{output}"
    );
    assert!(!context.project.join("mlpack.lock").exists());
}

#[test]
fn jax_gets_its_cuda_plugin_and_auto_falls_back_to_cpu_without_a_driver() {
    let context = project(&["jax"], "accelerator = \"cuda\"\n");
    let output = lock(&context);
    assert!(output.starts_with("exit: 0"), "{output}");
    let names = locked_names(&context);
    assert!(
        names.iter().any(|name| name == "jax-cuda12-plugin"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|name| name == "nvidia-cudnn-cu12"),
        "{names:?}"
    );

    if crate::common::has_nvidia_driver() {
        return;
    }
    let context = project(&["jax"], "accelerator = \"auto\"\n");
    let output = lock(&context);
    assert!(output.starts_with("exit: 0"), "{output}");
    let names = locked_names(&context);
    assert!(!names.iter().any(|name| is_hardware(name)), "{names:?}");
    assert!(!lock_table(&context).contains_key("hardware"));
}

#[test]
fn a_cpu_target_says_what_the_cuda_wheels_of_torch_cost() {
    let context = project(&["torch==2.8.0"], "accelerator = \"cpu\"\n");
    let output = lock(&context);
    assert!(output.starts_with("exit: 0"), "{output}");
    assert!(
        output.contains(
            "warning: `[hardware] accelerator` is `cpu`, but `torch` from PyPI brings 15 CUDA wheels (3.02 GB) into the image"
        ) && output.contains("url = \"https://download.pytorch.org/whl/cpu\""),
        "{output}"
    );
    let hardware = &lock_table(&context)["hardware"];
    assert_eq!(hardware["accelerator"].as_str(), Some("cpu"));
    assert_eq!(hardware["cuda"].as_str(), Some("12.8"));
}

#[test]
fn a_cuda_release_newer_than_the_oldest_driver_is_refused_before_resolving() {
    let context = project(
        &["torch"],
        "accelerator = \"cuda\"\ncuda = \"13.0\"\ndriver-min = \"550.54.14\"\n",
    );
    let output = context.run(&["lock"]);
    insta::assert_snapshot!(output, @r#"
    exit: 1
    --- stdout
    --- stderr
    error: `[hardware] cuda = "13.0"` needs NVIDIA driver 580.65.06 or newer, but `[hardware] driver-min` is 550.54.14

    hint: lower `cuda` to a CUDA 12.x release, which driver 550.54.14 runs, or raise `driver-min`
    "#);
}
