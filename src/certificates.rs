//! Extra CA certificates for the HTTPS clients (the package index, registries): the PEM file
//! `SSL_CERT_FILE` names. On Linux the platform verifier already reads it (through
//! rustls-native-certs); on macOS and Windows it does not, so the clients add it as extra roots
//! everywhere, and reading it up front turns a bad path into a clear error rather than a TLS
//! failure later.

use std::path::{Path, PathBuf};

/// Why the certificates could not be read; each client wraps it in its own error.
#[derive(Debug)]
pub struct CertificateError {
    pub path: PathBuf,
    pub message: String,
}

/// The certificates `SSL_CERT_FILE` names; none when it is unset or empty.
pub fn ssl_cert_file() -> Result<Vec<reqwest::Certificate>, CertificateError> {
    match std::env::var_os("SSL_CERT_FILE").map(PathBuf::from) {
        Some(path) if !path.as_os_str().is_empty() => read_certificates(&path),
        _ => Ok(Vec::new()),
    }
}

/// Every certificate in the PEM bundle at `path`, which must hold at least one.
pub fn read_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, CertificateError> {
    let invalid = |message: String| CertificateError {
        path: path.to_path_buf(),
        message,
    };
    let pem = fs_err::read(path).map_err(|error| invalid(error.to_string()))?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| invalid(error.to_string()))?;
    if certificates.is_empty() {
        return Err(invalid("no PEM certificates in it".to_string()));
    }
    Ok(certificates)
}
