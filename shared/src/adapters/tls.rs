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
    use std::sync::Arc;

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

    /// A throwaway self-signed certificate for `hipchat.test` (P-256, valid 2000–2100) and its
    /// key, made with openssl for this test alone: no root store vouches for it.
    const TEST_CERT: &str = "\
-----BEGIN CERTIFICATE-----
MIIBjDCCATKgAwIBAgIBATAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAxoaXBjaGF0
LnRlc3QwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBcxFTATBgNV
BAMMDGhpcGNoYXQudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABDlQDHSK
v1lT2jyGkUOpsW24rPBJzxrapAaLlYTWvyOwachsZ6HyuAhjDyvnsackZZf0Uyvj
av4evp9iRxRku2WjbTBrMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/BAQDAgeAMBMG
A1UdJQQMMAoGCCsGAQUFBwMBMBcGA1UdEQQQMA6CDGhpcGNoYXQudGVzdDAdBgNV
HQ4EFgQU4gl4pCMDuogrtiradjivxc6K2XowCgYIKoZIzj0EAwIDSAAwRQIgZ7eC
2uTT8aaefycBIB2uZg7RReXUjkmenFn00JyJ0ssCIQDbgmrzo4n1AVl525GAi9eb
+lxPSgxA+dsQd0WuCRpdgg==
-----END CERTIFICATE-----
";
    const TEST_KEY: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgI/csqhqO6qBSYOCi
II2w0Nj79/PZUoTkOiBZjJFroNShRANCAAQ5UAx0ir9ZU9o8hpFDqbFtuKzwSc8a
2qQGi5WE1r8jsGnIbGeh8rgIYw8r57GnJGWX9FMr42r+Hr6fYkcUZLtl
-----END PRIVATE KEY-----
";

    /// A TLS server for `hipchat.test` that speaks only `version` and presents [`TEST_CERT`].
    fn test_server(version: &'static rustls::SupportedProtocolVersion) -> rustls::ServerConnection {
        let cert = CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        rustls::ServerConnection::new(Arc::new(config)).unwrap()
    }

    /// Moves what `from` has to send into `to`.
    fn flight<A, B>(from: &mut rustls::ConnectionCommon<A>, to: &mut rustls::ConnectionCommon<B>) {
        let mut bytes = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut bytes).unwrap();
        }
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
        }
    }

    /// A handshake of a client with `config` and `server`, in memory: the client's error if it
    /// fails (a server that refuses the client's hello answers with an alert).
    fn handshake(config: rustls::ClientConfig, mut server: rustls::ServerConnection) -> Result<(), rustls::Error> {
        let name = rustls::pki_types::ServerName::try_from("hipchat.test").unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        for _ in 0..10 {
            flight(&mut client, &mut server);
            let _ = server.process_new_packets();
            flight(&mut server, &mut client);
            client.process_new_packets()?;
            if !client.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not end in 10 flights");
    }

    #[test]
    fn the_hipchat_config_trusts_the_mozilla_roots() {
        let config = hipchat_tls_config();
        // The root store inside the config's certificate verifier (rustls shows its size only).
        let debug = format!("{config:?}");
        let roots = format!("RootCertStore {{ roots: \"({} roots)\" }}", webpki_roots::TLS_SERVER_ROOTS.len());
        assert_eq!(debug.matches(&roots).count(), 1, "{roots} not in {debug}");
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        // ring's cipher suites (TLS 1.3 and 1.2 ones).
        let suites = |p: &rustls::crypto::CryptoProvider| p.cipher_suites.iter().map(|s| s.suite()).collect::<Vec<_>>();
        assert_eq!(suites(config.crypto_provider()), suites(&rustls::crypto::ring::default_provider()));
        // HTTP/1.1 only (reqwest without http2), so no ALPN is offered; SNI is sent.
        assert!(config.alpn_protocols.is_empty(), "{:?}", config.alpn_protocols);
        assert!(config.enable_sni);
        // With a TLS 1.2-only and a TLS 1.3-only server the handshake gets as far as the
        // certificate, which the verifier refuses: the roots do not vouch for it.
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            assert_eq!(
                handshake(config.clone(), test_server(version)),
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)),
                "{version:?}"
            );
        }
    }
}
