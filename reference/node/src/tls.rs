//! `[keystore.tls]` and `[truststore]` as Tollgate reads them.
//!
//! WSO2 reads JKS keystores; Tollgate reads PEM. A `file_name` ending in `.pem` (path relative
//! to the `deployment.toml`'s folder, or absolute) is read: for the keystore, one file holding
//! the certificate chain and the PKCS#8 (or PKCS#1) private key; for the truststore, any number
//! of certificates, trusted in addition to the built-in `wso2carbon` certificate. Any other name
//! (WSO2's default `wso2carbon.jks`, `client-truststore.jks`) means the built-in `wso2carbon`
//! pair, which is what those default files hold in a WSO2 pack.

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tollgate_config::model::DeploymentConfig;
use tollgate_net::security;

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", file.display())]
    Key { file: PathBuf, message: String },
    #[error("{0}")]
    Tls(#[from] security::TlsError),
}

/// A token-signing key pair, PEM: PKCS#8 private key and SPKI public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub private_key_pem: String,
    pub public_key_pem: String,
    /// The `kid` tokens carry: `[keystore.tls] alias` (`wso2carbon` by default).
    pub key_id: String,
    /// The keystore's certificate chain, PEM (the backend JWT's `x5t` names the first).
    pub certificate_pem: String,
}

impl KeyPair {
    /// The built-in `wso2carbon` pair.
    pub fn built_in() -> Self {
        Self {
            private_key_pem: security::DEFAULT_KEY_PEM.to_owned(),
            public_key_pem: security::DEFAULT_PUBLIC_KEY_PEM.to_owned(),
            key_id: security::DEFAULT_KEY_ALIAS.to_owned(),
            certificate_pem: security::DEFAULT_CERT_PEM.to_owned(),
        }
    }
}

/// What a node's keystore and truststore resolve to.
#[derive(Debug, Clone)]
pub struct Keystores {
    /// Serves every HTTPS listener of the node.
    pub server: Arc<rustls::ServerConfig>,
    /// Signs tokens (control plane) — the same key as `server`, as in WSO2.
    pub signing: KeyPair,
    /// Certificates outbound calls trust (PEM), the built-in one first.
    pub trusted_pems: Vec<String>,
}

fn is_pem(file_name: &str) -> bool {
    file_name.to_ascii_lowercase().ends_with(".pem")
}

fn resolve(base_dir: &Path, file_name: &str) -> PathBuf {
    let path = Path::new(file_name);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

fn read(file: PathBuf) -> Result<(PathBuf, String), TlsConfigError> {
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok((file, text)),
        Err(source) => Err(TlsConfigError::Read { file, source }),
    }
}

/// Loads `cfg`'s keystore and truststore; `base_dir` is the folder of its `deployment.toml`.
pub fn load(cfg: &DeploymentConfig, base_dir: &Path) -> Result<Keystores, TlsConfigError> {
    load_with(cfg, base_dir, &security::Crypto::system())
}

/// [`load`] with the server config drawing its randomness and time from `crypto` (the
/// simulated driver's seeded source; [`load`] uses the system's).
pub fn load_with(
    cfg: &DeploymentConfig,
    base_dir: &Path,
    crypto: &security::Crypto,
) -> Result<Keystores, TlsConfigError> {
    let keystore = &cfg.keystore_tls;
    let (server, signing) = if is_pem(&keystore.file_name) {
        let (file, pem) = read(resolve(base_dir, &keystore.file_name))?;
        let signing = key_pair_from_pem(&file, &pem, &keystore.alias)?;
        (crypto.server_config(&pem, &pem)?, signing)
    } else {
        (
            crypto.server_config(security::DEFAULT_CERT_PEM, security::DEFAULT_KEY_PEM)?,
            KeyPair::built_in(),
        )
    };
    let mut trusted_pems = vec![security::DEFAULT_CERT_PEM.to_owned()];
    if is_pem(&cfg.truststore.file_name) {
        let (_, pem) = read(resolve(base_dir, &cfg.truststore.file_name))?;
        trusted_pems.push(pem);
    }
    Ok(Keystores {
        server,
        signing,
        trusted_pems,
    })
}

/// The RSA key in `pem` (PKCS#8 or PKCS#1) as a PKCS#8 + SPKI pair.
fn key_pair_from_pem(file: &Path, pem: &str, alias: &str) -> Result<KeyPair, TlsConfigError> {
    let key_error = |message: String| TlsConfigError::Key {
        file: file.to_path_buf(),
        message,
    };
    let der = rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| key_error(e.to_string()))?
        .ok_or_else(|| key_error("no private key in the file".into()))?;
    let key = match &der {
        rustls::pki_types::PrivateKeyDer::Pkcs8(der) => {
            rsa::RsaPrivateKey::from_pkcs8_der(der.secret_pkcs8_der())
                .map_err(|e| key_error(format!("not an RSA key: {e}")))?
        }
        rustls::pki_types::PrivateKeyDer::Pkcs1(der) => {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_der(der.secret_pkcs1_der())
                .map_err(|e| key_error(format!("not an RSA key: {e}")))?
        }
        _ => {
            return Err(key_error(
                "tokens are signed RS256: the key must be RSA".into(),
            ));
        }
    };
    let private_key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| key_error(e.to_string()))?
        .to_string();
    let public_key_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| key_error(e.to_string()))?;
    Ok(KeyPair {
        private_key_pem,
        public_key_pem,
        key_id: alias.to_owned(),
        // The keystore file holds the chain and the key: the PEM reader takes the certificates.
        certificate_pem: pem.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_keystore_yields_the_same_public_key_as_the_built_in_files() {
        let pem = format!(
            "{}\n{}",
            security::DEFAULT_CERT_PEM,
            security::DEFAULT_KEY_PEM
        );
        let pair = key_pair_from_pem(Path::new("x.pem"), &pem, "wso2carbon").unwrap();
        assert_eq!(
            pair.public_key_pem.trim(),
            security::DEFAULT_PUBLIC_KEY_PEM.trim()
        );
        security::server_config(&pem, &pem).unwrap();
    }

    #[test]
    fn pem_keystore_and_truststore_files_are_read_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("tollgate-node-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pair = format!(
            "{}{}",
            security::DEFAULT_CERT_PEM,
            security::DEFAULT_KEY_PEM
        );
        std::fs::write(dir.join("node.pem"), pair).unwrap();
        std::fs::write(dir.join("trust.pem"), security::DEFAULT_CERT_PEM).unwrap();
        let cfg = tollgate_config::parse(
            "[keystore.tls]\nfile_name = \"node.pem\"\nalias = \"node\"\n\n[truststore]\nfile_name = \"trust.pem\"\n",
            Path::new("deployment.toml"),
        )
        .unwrap()
        .config;
        let loaded = load(&cfg, &dir).unwrap();
        assert_eq!(loaded.signing.key_id, "node");
        assert_eq!(loaded.trusted_pems.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();

        let missing = load(&cfg, Path::new("/nonexistent")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/node.pem: cannot read")
        );
    }

    #[test]
    fn pem_names_are_recognised_and_jks_names_mean_built_in() {
        assert!(is_pem("tls.PEM"));
        assert!(!is_pem("wso2carbon.jks"));
    }
}
