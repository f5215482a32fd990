//! The machine's accelerators: NVIDIA driver detection, CUDA/driver compatibility tables, and
//! what a container needs from the host to use its GPUs (device nodes, driver libraries).

mod cdi;
mod cuda;
mod ld_so_cache;
mod linker_cache;
mod memory;
mod nvidia;
#[cfg(test)]
mod tests;
mod wheels;

pub use self::cdi::CDI_DIRS;
pub use self::cuda::{
    CUDA_LABEL, CudaVersion, CudaVersionError, DRIVER_LABEL, DriverVersion, DriverVersionError,
    max_cuda_for, min_driver_for, newest_major_for,
};
pub use self::linker_cache::is_driver_library;
pub use self::memory::total_memory_bytes;
pub use self::nvidia::{
    GpuInjection, GpuRequest, HardwareError, HostFile, NvidiaDriver, plan_gpus,
};
pub use self::wheels::{CUDA_RUNTIME_PACKAGES, is_hardware_wheel, library_name, runtime_release};
