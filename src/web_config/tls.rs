//! `tls_server_config` turned into a rustls server configuration, on the ring provider
//! that reqwest already brings in, so that the binary carries one crypto backend.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::TlsFile;

/// The rustls configuration `written` asks for, with the files it names (by key); `None`
/// when it asks for nothing, as the toolkit serves plain HTTP then.
pub(super) fn server_config(
    written: &TlsFile,
    files: &[(&'static str, Vec<u8>)],
) -> Result<Option<Arc<ServerConfig>>, String> {
    let set = |value: &Option<String>| {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (cert_file, key_file) = (set(&written.cert_file), set(&written.key_file));
    let (client_auth, client_ca) = (set(&written.client_auth_type), set(&written.client_ca_file));
    let (min_version, max_version) = (set(&written.min_version), set(&written.max_version));
    let nothing_set = [
        &cert_file,
        &key_file,
        &client_auth,
        &client_ca,
        &min_version,
        &max_version,
    ]
    .iter()
    .all(|value| value.is_none());
    if nothing_set {
        return Ok(None);
    }
    if cert_file.is_none() || key_file.is_none() {
        return Err(
            "tls_server_config: set both cert_file and key_file (PEM files) to serve HTTPS, or remove tls_server_config to serve plain HTTP"
                .into(),
        );
    }
    let versions = versions(min_version.as_deref(), max_version.as_deref())?;
    let file = |key: &str| {
        files
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, bytes)| bytes.as_slice())
            .unwrap_or_default()
    };

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(file("cert_file"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls_server_config.cert_file: not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("tls_server_config.cert_file: holds no PEM certificate".into());
    }
    let key = PrivateKeyDer::from_pem_slice(file("key_file")).map_err(|e| {
        format!("tls_server_config.key_file: no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")
    })?;

    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match client_auth.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => {
            if client_ca.is_some() {
                return Err(
                    "tls_server_config.client_ca_file: set, but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert to check client certificates"
                        .into(),
                );
            }
            builder.with_no_client_auth()
        }
        "RequireAndVerifyClientCert" => {
            if client_ca.is_none() {
                return Err(
                    "tls_server_config.client_ca_file: missing; RequireAndVerifyClientCert needs the PEM file of the CA that signs client certificates"
                        .into(),
                );
            }
            builder.with_client_cert_verifier(client_verifier(file("client_ca_file"), provider)?)
        }
        other => {
            return Err(format!(
                "tls_server_config.client_auth_type: '{other}' is not supported; use NoClientCert or RequireAndVerifyClientCert"
            ));
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        format!("tls_server_config: cert_file and key_file do not make a key pair: {e}")
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn client_verifier(
    pem: &[u8],
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn tokio_rustls::rustls::server::danger::ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("tls_server_config.client_ca_file: not PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("tls_server_config.client_ca_file: not a CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("tls_server_config.client_ca_file: holds no PEM certificate".into());
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
}

/// The versions between `min` and `max`, written as the toolkit does (TLS12, TLS13).
pub(super) fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let rank = |key: &str, written: Option<&str>, default: usize| match written {
        None => Ok(default),
        Some("TLS12") => Ok(0),
        Some("TLS13") => Ok(1),
        Some(old @ ("TLS10" | "TLS11")) => Err(format!(
            "tls_server_config.{key}: {old} is not supported (it is obsolete); use TLS12 or TLS13"
        )),
        Some(other) => Err(format!(
            "tls_server_config.{key}: '{other}' is not a TLS version; use TLS12 or TLS13"
        )),
    };
    let (min, max) = (rank("min_version", min, 0)?, rank("max_version", max, 1)?);
    if min > max {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    Ok([&TLS12, &TLS13][min..=max].to_vec())
}
