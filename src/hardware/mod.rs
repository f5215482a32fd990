//! The machine's accelerators: NVIDIA driver detection, CUDA/driver compatibility tables, and
//! what a container needs from the host to use its GPUs (device nodes, driver libraries).

mod cdi;
mod cuda;
mod ld_so_cache;
mod linker_cache;
mod nvidia;
#[cfg(test)]
mod tests;

pub use self::cuda::{
    CudaVersion, CudaVersionError, DriverVersion, DriverVersionError, max_cuda_for, min_driver_for,
};
pub use self::nvidia::{
    GpuInjection, GpuRequest, HardwareError, HostFile, NvidiaDriver, plan_gpus,
};
