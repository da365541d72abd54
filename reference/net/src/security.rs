//! Keys and TLS.
//!
//! WSO2 ships every pack with the same `wso2carbon` key pair (keystore `wso2carbon.jks`, alias
//! `wso2carbon`) and its certificate in `client-truststore.jks`; the guide's step 5 notes that
//! with these defaults nothing needs importing. Tollgate ships its own fixed `wso2carbon` pair
//! (RSA 2048, self-signed, `CN=localhost` with `*.wso2.com` and loopback names) in PEM: it
//! signs JWTs, serves HTTPS on every node and is what gateways trust by default. JKS files are
//! not read; a `deployment.toml` that names PEM files gets those instead.

use std::sync::Arc;
use thiserror::Error;

#[cfg(feature = "sim")]
pub mod seeded;

/// The built-in `wso2carbon` private key (PKCS#8 PEM).
pub const DEFAULT_KEY_PEM: &str = include_str!("../security/wso2carbon.key.pem");
/// The built-in `wso2carbon` certificate (PEM).
pub const DEFAULT_CERT_PEM: &str = include_str!("../security/wso2carbon.cert.pem");
/// The public half of [`DEFAULT_KEY_PEM`] (SPKI PEM), for verifying tokens it signed.
pub const DEFAULT_PUBLIC_KEY_PEM: &str = include_str!("../security/wso2carbon.pub.pem");
/// The `kid` WSO2 gives tokens signed with the default key's certificate alias.
pub const DEFAULT_KEY_ALIAS: &str = "wso2carbon";

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("no certificate found in the PEM data")]
    NoCertificate,
    #[error("no private key found in the PEM data")]
    NoPrivateKey,
    #[error("reading PEM: {0}")]
    Pem(#[from] std::io::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What a TLS config draws its randomness and wall time from: ring's provider and the system
/// clock ([`Crypto::system`], every node), or — with the `sim` feature, for the simulated
/// driver — a provider and clock seeded from the run ([`seeded`]). Handed to the configs built
/// here, so one node's listeners and clients share its source.
#[derive(Debug, Clone)]
pub struct Crypto {
    provider: Arc<rustls::crypto::CryptoProvider>,
    time: Arc<dyn rustls::time_provider::TimeProvider>,
}

impl Default for Crypto {
    fn default() -> Self {
        Self::system()
    }
}

impl Crypto {
    /// ring's provider (its system randomness) and the system clock.
    pub fn system() -> Self {
        Self {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            time: Arc::new(rustls::time_provider::DefaultTimeProvider),
        }
    }

    /// The crypto provider (cipher suites, key exchange groups, randomness, key loading).
    pub fn provider(&self) -> &Arc<rustls::crypto::CryptoProvider> {
        &self.provider
    }

    /// A server config for the management and passthrough HTTPS listeners.
    pub fn server_config(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let key =
            rustls_pemfile::private_key(&mut key_pem.as_bytes())?.ok_or(TlsError::NoPrivateKey)?;
        let mut config =
            rustls::ServerConfig::builder_with_details(self.provider.clone(), self.time.clone())
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(certs(cert_pem)?, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client config that trusts exactly the given certificates (the truststore).
    pub fn client_config(
        &self,
        trusted_pems: &[&str],
    ) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for pem in trusted_pems {
            for cert in certs(pem)? {
                roots.add(cert)?;
            }
        }
        let config =
            rustls::ClientConfig::builder_with_details(self.provider.clone(), self.time.clone())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// A client config that accepts any server certificate (signatures are still checked):
    /// see [`insecure_client_config`].
    pub fn insecure_client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let config =
            rustls::ClientConfig::builder_with_details(self.provider.clone(), self.time.clone())
                .with_safe_default_protocol_versions()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(self.provider.clone())))
                .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

fn certs(pem: &str) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// A server config for the management and passthrough HTTPS listeners ([`Crypto::system`]).
pub fn server_config(cert_pem: &str, key_pem: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    Crypto::system().server_config(cert_pem, key_pem)
}

/// A client config that accepts any server certificate (signatures are still checked):
/// `insecure_tls = true` in a conformance target file, what `curl -k` does against a WSO2 whose
/// self-signed `wso2carbon` certificate the user has not exported. Never used by a node.
pub fn insecure_client_config() -> Result<Arc<rustls::ClientConfig>, TlsError> {
    Crypto::system().insecure_client_config()
}

/// Trusts every certificate chain, checks handshake signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client config that trusts exactly the given certificates (the truststore;
/// [`Crypto::system`]).
pub fn client_config(trusted_pems: &[&str]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    Crypto::system().client_config(trusted_pems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_key_and_certificate_make_server_and_client_configs() {
        server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap();
        client_config(&[DEFAULT_CERT_PEM]).unwrap();
    }

    /// A handshake with the built-in server certificate, by a client with `config`.
    async fn handshake(config: Arc<rustls::ClientConfig>) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(
            server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap(),
        );
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            acceptor.accept(tcp).await.map(drop)
        });
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let client = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await;
        let _ = server.await;
        client.map(drop)
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_refused_unless_insecure_tls_is_asked_for() {
        let other_pem = include_str!("../tests/fixtures/untrusted-cert.pem");
        assert!(
            handshake(client_config(&[other_pem]).unwrap())
                .await
                .is_err()
        );
        assert!(
            handshake(client_config(&[DEFAULT_CERT_PEM]).unwrap())
                .await
                .is_ok()
        );
        assert!(handshake(insecure_client_config().unwrap()).await.is_ok());
    }
}
