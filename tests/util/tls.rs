//! TLS and basic auth: a test CA and certificates, an HTTPS client, bcrypt hashes.

use std::path::PathBuf;

use tempfile::TempDir;

use super::files::{temp_dir, write_file};
use super::wait::PATIENCE;

/// A test CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
/// all made by rcgen, as PEM files in a directory of the test's own.
pub struct Pki {
    pub dir: TempDir,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_pem: String,
    /// The client's certificate and key, as `reqwest::Identity::from_pem` takes them.
    pub client_pem: String,
}

pub fn make_pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa,
        KeyPair,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "genesys-exporter test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        vec!["prometheus".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let dir = temp_dir();
    Pki {
        ca_file: write_file(&dir, "ca.pem", &ca.pem()),
        cert_file: write_file(&dir, "server.pem", &server_cert),
        key_file: write_file(&dir, "server-key.pem", &server_key),
        ca_pem: ca.pem(),
        client_pem: format!("{client_cert}{client_key}"),
        dir,
    }
}

/// An HTTPS client that trusts the test CA, with the client certificate if `identify`.
pub fn https_client(pki: &Pki, identify: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .timeout(PATIENCE);
    if identify {
        builder = builder.identity(reqwest::Identity::from_pem(pki.client_pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// A bcrypt hash of `password` at the lowest cost, which is quick in tests.
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}
