//! End-to-end tests: the real `mlpack` binary against real projects (and, with the
//! `test-pypi` feature, the real PyPI).

#[cfg(all(
    feature = "test-registry",
    feature = "test-root",
    feature = "test-debian"
))]
mod base_image;
mod build;
#[cfg(feature = "test-root")]
mod build_dockerfile;
#[cfg(all(feature = "test-root", feature = "test-debian"))]
mod build_steps;
#[cfg(all(feature = "test-root", feature = "test-debian", feature = "test-pypi"))]
mod cluster;
mod common;
#[cfg(feature = "test-root")]
mod compose;
#[cfg(feature = "test-pypi")]
mod differential;
#[cfg(all(
    feature = "test-docker",
    feature = "test-registry",
    feature = "test-root",
    feature = "test-pypi",
    feature = "test-debian"
))]
mod dockerfile_compat;
mod doctor;
#[cfg(all(
    feature = "test-docker",
    feature = "test-pypi",
    feature = "test-debian"
))]
mod export_dockerfile;
#[cfg(feature = "test-pypi")]
mod hardware;
mod init;
#[cfg(feature = "test-root")]
mod isolation;
#[cfg(all(
    feature = "test-root",
    feature = "test-debian",
    feature = "test-pypi",
    feature = "test-registry"
))]
mod kubernetes;
mod load;
mod lock;
mod manifest;
#[cfg(all(feature = "test-registry", feature = "test-root"))]
mod mirrors;
#[cfg(feature = "test-root")]
mod network;
mod platforms;
#[cfg(all(feature = "test-registry", feature = "test-root"))]
mod registry;
#[cfg(feature = "test-docker")]
mod release;
#[cfg(feature = "test-root")]
mod run;
mod scan;
mod scan_corpus;
#[cfg(all(feature = "test-debian", feature = "test-root"))]
mod sdist;
#[cfg(feature = "test-root")]
mod store;
#[cfg(all(feature = "test-pypi", feature = "test-debian", feature = "test-root"))]
mod system_libraries;
#[cfg(all(feature = "test-root", feature = "test-debian"))]
mod train;
#[cfg(feature = "test-root")]
mod volume;
