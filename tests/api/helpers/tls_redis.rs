//! A `redis-server` that speaks TLS only, as managed Redis services do: a CA generated for the
//! test, a server certificate for 127.0.0.1 signed by it, optionally a client certificate for
//! mutual TLS, and an ACL user with a password.

use super::processes::{RedisServer, free_port};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::path::{Path, PathBuf};

pub const USER: &str = "broker";
pub const PASSWORD: &str = "s3cret-Redis-pass";

/// PEM files, in a directory that lives as long as this does.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsFiles {
    pub fn generate() -> TlsFiles {
        let dir = tempfile::tempdir().unwrap();
        // Distinct subject names: OpenSSL (Redis's side) takes a certificate whose subject
        // equals its issuer for a self-signed one, and refuses it as a client certificate.
        let params = |common_name: &str, names: Vec<String>| {
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params
        };
        let mut ca_params = params("oauth-broker test CA", Vec::new());
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let issue = |common_name: &str, names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = params(common_name, names).signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) =
            issue("redis", vec!["127.0.0.1".into(), "localhost".into()]);
        let (client_cert, client_key) = issue("oauth-broker", vec!["oauth-broker".into()]);
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        TlsFiles {
            ca: write("ca.pem", &ca.pem()),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client-key.pem", &client_key),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server-key.pem", &server_key),
            _dir: dir,
        }
    }
}

/// Redis over TLS only (no plain port), with the ACL user [`USER`]; `clients_need_certs` asks
/// every client for a certificate signed by the CA (mutual TLS).
pub fn start(files: &TlsFiles, clients_need_certs: bool) -> RedisServer {
    let port = free_port();
    let url = format!("rediss://{USER}:{PASSWORD}@127.0.0.1:{port}/");
    RedisServer::start_with(port, url, |_| server_args(files, port, clients_need_certs))
}

/// The arguments of a `redis-server` on TLS port `port` only, with the ACL user [`USER`].
pub fn server_args(files: &TlsFiles, port: u16, clients_need_certs: bool) -> Vec<String> {
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        port.to_string(),
        "--tls-cert-file".into(),
        path(&files.server_cert),
        "--tls-key-file".into(),
        path(&files.server_key),
        "--tls-ca-cert-file".into(),
        path(&files.ca),
        "--tls-auth-clients".into(),
        if clients_need_certs { "yes" } else { "no" }.into(),
        // Each word its own argument: redis-server joins them into one `user` line.
        "--user".into(),
        "default".into(),
        "off".into(),
        "--user".into(),
        USER.into(),
        "on".into(),
        format!(">{PASSWORD}"),
        "~*".into(),
        "&*".into(),
        "+@all".into(),
    ]
}
