//! One TLS stack for every outbound call: rustls on `ring`, with trust roots that cost
//! nothing to load at cold start.
//!
//! - **Crypto**: the AWS SDK's default HTTPS client and reqwest's default TLS both bring
//!   `aws-lc-rs` (a C library of ~1.6 MB in each binary). Here the SDK client is built on ring,
//!   and reqwest (feature `rustls-no-provider`) uses ring through [`install_crypto_provider`].
//! - **Roots**: the defaults read the system trust store (`/etc/ssl/certs`, hundreds of files)
//!   twice per cold start, once for each client: about 2 ms each, most of a cold start's init
//!   (docs/performance.md). Instead:
//!   - the AWS SDK trusts the **Amazon Trust Services** roots (Amazon Root CA 1–4 and the
//!     Starfield Services G2 cross-signing root), which every AWS service endpoint chains to;
//!     five certificates, embedded, parsed on the first call. `AWS_CA_BUNDLE` (the AWS CLI's
//!     variable: a PEM file) replaces them, e.g. for a TLS-inspecting proxy;
//!   - the HipChat client trusts the Mozilla root program compiled in by `webpki-roots`
//!     (static trust anchors, nothing to read or parse): a partner's HipChat Server has a
//!     certificate from a public CA, which is what the Lambda image's store holds too. New
//!     roots arrive with a crate update and a deploy rather than with the OS image.

use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2 (PEM).
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("../../certs/amazon-trust-services.pem");

/// Makes ring the process's rustls crypto provider (reqwest needs one before it builds a
/// client). Idempotent: a provider already installed stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The AWS SDK's HTTPS client: hyper with rustls on ring, trusting [`sdk_trust_roots`].
pub fn sdk_http_client() -> SharedHttpClient {
    let pem = sdk_trust_roots(std::env::var_os("AWS_CA_BUNDLE").as_deref().map(std::path::Path::new));
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(TrustStore::empty().with_pem_certificate(pem)).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        Err(e) => {
            tracing::error!(error = %e, "TLS context refused; the AWS SDK uses the system's trust store");
            builder.build_https()
        }
    }
}

/// The PEM the AWS SDK trusts: the file at `bundle` when it holds at least one usable
/// certificate, else (with an error logged) the embedded Amazon Trust Services roots.
pub fn sdk_trust_roots(bundle: Option<&std::path::Path>) -> Vec<u8> {
    if let Some(path) = bundle {
        match std::fs::read(path).map_err(|e| e.to_string()).and_then(|pem| usable_roots(&pem).map(|_| pem)) {
            Ok(pem) => return pem,
            Err(e) => tracing::error!(path = %path.display(), error = %e, "AWS_CA_BUNDLE not used"),
        }
    }
    AMAZON_TRUST_SERVICES_ROOTS.as_bytes().to_vec()
}

/// How many trust anchors `pem` gives; an error unless every certificate in it is one (the
/// SDK's client would fail on it later, at the first call).
fn usable_roots(pem: &[u8]) -> Result<usize, String> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let mut store = rustls::RootCertStore::empty();
    for cert in certs {
        store.add(cert).map_err(|e| e.to_string())?;
    }
    if store.is_empty() { Err("no certificate in the file".into()) } else { Ok(store.len()) }
}

/// The HipChat client's TLS: rustls on ring (the process provider), TLS 1.2 and 1.3, the
/// `webpki-roots` trust anchors.
pub fn hipchat_tls_config() -> rustls::ClientConfig {
    install_crypto_provider();
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_amazon_roots_are_five_usable_trust_anchors() {
        assert_eq!(usable_roots(AMAZON_TRUST_SERVICES_ROOTS.as_bytes()), Ok(5));
        assert_eq!(sdk_trust_roots(None), AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
    }

    #[test]
    fn aws_ca_bundle_replaces_them_only_when_usable() {
        let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.pem");
        let first = AMAZON_TRUST_SERVICES_ROOTS.split_inclusive("-----END CERTIFICATE-----\n").next().unwrap();
        std::fs::write(&one, first).unwrap();
        assert_eq!(sdk_trust_roots(Some(&one)), first.as_bytes());
        for (name, text) in
            [("empty.pem", ""), ("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")]
        {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            assert_eq!(sdk_trust_roots(Some(&path)), AMAZON_TRUST_SERVICES_ROOTS.as_bytes(), "{name}");
        }
        assert_eq!(sdk_trust_roots(Some(&dir.join("missing.pem"))), AMAZON_TRUST_SERVICES_ROOTS.as_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hipchat_config_trusts_the_mozilla_roots() {
        let config = hipchat_tls_config();
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert!(config.crypto_provider().cipher_suites.iter().any(|s| s.version() == &rustls::version::TLS13));
    }
}
