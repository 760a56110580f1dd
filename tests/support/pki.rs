//! Test certificate authority and server certificates, generated with rcgen at test time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// SAN that `CertVariant::WrongHost` certificates carry in place of the requested names.
pub const WRONG_HOST_NAME: &str = "wrong-host.example";

/// Kind of certificate a test server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertVariant {
    /// Signed by the test CA, valid for one year from now.
    Valid,
    /// Signed by the test CA, but `not_after` was yesterday.
    Expired,
    /// Self-signed leaf that no CA vouches for.
    SelfSigned,
    /// Signed by the test CA, but its only SAN is `WRONG_HOST_NAME`.
    WrongHost,
    /// Signed by a second CA that is not in the PEM file.
    UnknownCa,
    /// Signed by the test CA, valid now, with `not_after` this many days from now.
    ExpiresInDays(u32),
}

/// Server certificate chain and its private key, ready for `rustls::ServerConfig`.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// CA certificate with the key that signs its leaves.
struct Authority {
    cert: Certificate,
    key: KeyPair,
}

/// Test PKI: a trusted CA (written as PEM to a temporary directory) and an untrusted one.
pub struct TestPki {
    trusted_ca: Authority,
    untrusted_ca: Authority,
    ca_pem_path: PathBuf,
    // Keeps the directory behind `ca_pem_path` alive until the PKI is dropped.
    _dir: TempDir,
}

/// Installs ring as the process-wide rustls crypto provider.
///
/// Code that calls `rustls::ClientConfig::builder()` needs a process default. The result is
/// ignored because `install_default` fails when a provider is already installed, which is fine.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TestPki {
    /// Generates both CAs and writes the trusted CA certificate to `ca.pem` in a new temp dir.
    pub fn new() -> TestPki {
        install_ring_provider();
        let trusted_ca = generate_ca("mastodon-oidc-check test CA");
        let untrusted_ca = generate_ca("mastodon-oidc-check untrusted CA");

        let dir = tempfile::tempdir().expect("failed to create temp dir for the CA PEM file");
        let ca_pem_path = dir.path().join("ca.pem");
        std::fs::write(&ca_pem_path, trusted_ca.cert.pem())
            .unwrap_or_else(|e| panic!("failed to write {}: {e}", ca_pem_path.display()));

        TestPki {
            trusted_ca,
            untrusted_ca,
            ca_pem_path,
            _dir: dir,
        }
    }

    /// Path of the PEM file that contains only the trusted CA certificate.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    pub fn ca_pem(&self) -> String {
        self.trusted_ca.cert.pem()
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.trusted_ca.cert.der().clone()
    }

    /// Issues a leaf certificate for `hosts` (DNS names) of the given kind.
    pub fn issue(&self, hosts: &[&str], variant: CertVariant) -> ServerCert {
        let key = KeyPair::generate().expect("failed to generate leaf key");
        let now = OffsetDateTime::now_utc();

        let names = match variant {
            CertVariant::WrongHost => vec![WRONG_HOST_NAME],
            _ => hosts.to_vec(),
        };
        let mut params = leaf_params(&names);
        params.not_before = now - Duration::days(1);
        params.not_after = match variant {
            CertVariant::Expired => now - Duration::days(1),
            CertVariant::ExpiresInDays(days) => now + Duration::days(i64::from(days)),
            _ => now + Duration::days(365),
        };
        if variant == CertVariant::Expired {
            // A validity window that ends before it starts would be a different defect.
            params.not_before = now - Duration::days(30);
        }

        let cert = match variant {
            CertVariant::SelfSigned => params.self_signed(&key),
            CertVariant::UnknownCa => self.untrusted_ca.sign(params, &key),
            _ => self.trusted_ca.sign(params, &key),
        }
        .expect("failed to sign leaf certificate");

        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }

    /// Builds a rustls server config that presents a `variant` certificate for `hosts`.
    pub fn server_config(&self, hosts: &[&str], variant: CertVariant) -> Arc<rustls::ServerConfig> {
        let cert = self.issue(hosts, variant);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_no_client_auth()
            .with_single_cert(cert.chain, cert.key)
            .expect("rustls rejected the generated certificate or key");
        // The test server speaks only HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Authority {
    fn sign(&self, params: CertificateParams, key: &KeyPair) -> Result<Certificate, rcgen::Error> {
        params.signed_by(key, &self.cert, &self.key)
    }
}

fn generate_ca(common_name: &str) -> Authority {
    let key = KeyPair::generate().expect("failed to generate CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("empty SAN list is valid");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params
        .self_signed(&key)
        .expect("failed to self-sign CA certificate");
    Authority { cert, key }
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let sans: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = CertificateParams::new(sans)
        .unwrap_or_else(|e| panic!("invalid DNS names {names:?} for a certificate: {e}"));
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}
