//! mlpack: package a Python ML project into a reproducible OCI image and run its training.
//!
//! The binary is glue (`cli`); each module owns one concept, as laid out in `DESIGN.md`.

pub mod arch;
pub mod atomic_file;
pub mod build;
pub mod byte_size;
pub mod certificates;
pub mod cli;
pub mod cluster;
pub mod compose;
pub mod compression;
pub mod config;
pub mod container_path;
pub mod context;
pub mod debian;
pub mod dirs;
pub mod dockerfile;
pub mod doctor;
pub mod elf;
pub mod error;
pub(crate) mod fs_tree;
pub mod gc;
pub mod hardware;
pub mod init;
pub mod lock;
pub mod manifest;
pub mod network;
pub mod oci;
pub mod project;
pub mod pypi;
pub mod python;
pub mod read_ahead;
pub mod resolve;
pub mod runtime;
pub mod scan;
pub mod sha256;
pub mod source;
pub mod train;
pub mod wheel;
