//! NVIDIA's CUDA libraries as PyPI wheels: which distributions are hardware libraries, which
//! library each one holds, and which one is the CUDA runtime whose version decides the driver.
//!
//! NVIDIA names them `nvidia-<library>-cu<MAJOR>` (`nvidia-cudnn-cu12`) and, from CUDA 13,
//! also `nvidia-<library>` with the CUDA release as the version (`nvidia-cuda-runtime` 13.0.x).
//! See <https://docs.nvidia.com/cuda/cuda-installation-guide-linux/#pip-wheels>.

use super::CudaVersion;

/// The distributions that hold `libcudart`, one per naming scheme. The first two carry the
/// major in the name; all three carry `MAJOR.MINOR` of the CUDA release as the version.
pub const CUDA_RUNTIME_PACKAGES: &[&str] = &[
    "nvidia-cuda-runtime-cu11",
    "nvidia-cuda-runtime-cu12",
    "nvidia-cuda-runtime",
];

/// Libraries by the distribution name's stem, as NVIDIA's documentation names them.
const LIBRARIES: &[(&str, &str)] = &[
    ("nvidia-cublas", "cuBLAS"),
    ("nvidia-cuda-cccl", "CCCL"),
    ("nvidia-cuda-cupti", "CUPTI"),
    ("nvidia-cuda-nvcc", "nvcc"),
    ("nvidia-cuda-nvrtc", "NVRTC"),
    ("nvidia-cuda-runtime", "the CUDA runtime"),
    ("nvidia-cudnn", "cuDNN"),
    ("nvidia-cufft", "cuFFT"),
    ("nvidia-cufile", "cuFile"),
    ("nvidia-curand", "cuRAND"),
    ("nvidia-cusolver", "cuSOLVER"),
    ("nvidia-cusparse", "cuSPARSE"),
    ("nvidia-cusparselt", "cuSPARSELt"),
    ("nvidia-nccl", "NCCL"),
    ("nvidia-nvjitlink", "nvJitLink"),
    ("nvidia-nvshmem", "NVSHMEM"),
    ("nvidia-nvtx", "NVTX"),
];

/// Whether a distribution belongs in the hardware layers: NVIDIA's CUDA libraries, CUDA's
/// Python bindings (`cuda-python`, `cuda-bindings`), and `triton`, PyTorch's GPU compiler.
pub fn is_hardware_wheel(name: &str) -> bool {
    name.starts_with("nvidia-") || name.starts_with("cuda-") || name == "triton"
}

/// `cuDNN` for `nvidia-cudnn-cu12`; `None` for a distribution that is not an NVIDIA library.
pub fn library_name(name: &str) -> Option<&'static str> {
    let stem = name
        .rsplit_once("-cu")
        .filter(|(_, major)| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
        .map_or(name, |(stem, _)| stem);
    LIBRARIES
        .iter()
        .find(|(known, _)| *known == stem)
        .map(|(_, library)| *library)
}

/// The CUDA release of a locked runtime distribution (`nvidia-cuda-runtime-cu12` 12.8.90 is
/// CUDA 12.8); `None` when `name` is not one or its version does not start `MAJOR.MINOR`.
pub fn runtime_release(name: &str, version: &str) -> Option<CudaVersion> {
    if !CUDA_RUNTIME_PACKAGES.contains(&name) {
        return None;
    }
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some(CudaVersion::new(major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_are_named_without_the_cuda_suffix() {
        assert_eq!(library_name("nvidia-cudnn-cu12"), Some("cuDNN"));
        assert_eq!(library_name("nvidia-cudnn-cu13"), Some("cuDNN"));
        assert_eq!(
            library_name("nvidia-cuda-runtime"),
            Some("the CUDA runtime")
        );
        assert_eq!(library_name("nvidia-cusparselt-cu12"), Some("cuSPARSELt"));
        assert_eq!(library_name("nvidia-cuda-cupti-cu11"), Some("CUPTI"));
        assert_eq!(library_name("numpy"), None);
        assert_eq!(library_name("nvidia-unknown-cu12"), None);
    }

    #[test]
    fn the_runtime_version_is_the_cuda_release() {
        let release = |name, version| runtime_release(name, version).map(|v| v.to_string());
        assert_eq!(
            release("nvidia-cuda-runtime-cu12", "12.8.90").as_deref(),
            Some("12.8")
        );
        assert_eq!(
            release("nvidia-cuda-runtime", "13.0.48").as_deref(),
            Some("13.0")
        );
        assert_eq!(
            release("nvidia-cuda-runtime-cu11", "11.8.89").as_deref(),
            Some("11.8")
        );
        assert_eq!(release("nvidia-cudnn-cu12", "9.1.0.70"), None);
        assert_eq!(release("nvidia-cuda-runtime-cu12", "twelve"), None);
    }

    #[test]
    fn hardware_wheels() {
        for name in [
            "nvidia-cublas-cu12",
            "cuda-bindings",
            "cuda-python",
            "triton",
        ] {
            assert!(is_hardware_wheel(name), "{name}");
        }
        for name in ["torch", "numpy", "tritonclient"] {
            assert!(!is_hardware_wheel(name), "{name}");
        }
    }
}
