//! TLS in process, for operators who terminate it here rather than at a proxy.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs::File;
use std::io::BufReader;

pub fn server_config(cert_path: &str, key_path: &str) -> Result<rustls::ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(
        File::open(cert_path).map_err(|e| format!("{cert_path}: {e}"))?,
    ))
    .collect::<Result<_, _>>()
    .map_err(|e| format!("{cert_path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{cert_path}: no PEM certificate found"));
    }
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key_path).map_err(|e| format!("{key_path}: {e}"))?,
    ))
    .map_err(|e| format!("{key_path}: {e}"))?
    .ok_or_else(|| format!("{key_path}: no PEM private key found"))?;
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit together: {e}"))
}
