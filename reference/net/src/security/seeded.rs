//! TLS whose randomness and wall time come from the run, for the simulated driver.
//!
//! Under `--driver sim` the same scenario and seed must put the same bytes on the simulated
//! wire. rustls's ring provider draws from the system in three places: its `secure_random`
//! (hello randoms, session ids, ticket ids and ages), each key exchange's ephemeral secret and
//! each RSA-PSS / ECDSA signature of a server's `CertificateVerify` (or TLS 1.2
//! `ServerKeyExchange`). ring's own random trait is sealed, so [`crypto`] builds a provider that
//! keeps ring's cipher suites and signature verification and replaces the three:
//!
//! - `secure_random`: a ChaCha20 stream derived from the run's seed and the host's name;
//! - key exchange: X25519 alone (`x25519-dalek`), its private scalar drawn from that stream —
//!   ring's P-256 and P-384 would draw from the system if ever negotiated, so they are not
//!   offered (every simulated peer speaks X25519);
//! - keys: RSA only (`rsa`), RSA-PSS salted and blinded from that stream, PKCS#1 v1.5
//!   deterministic; schemes chosen as ring's `RsaSigningKey` does.
//!
//! rustls also reads the wall clock: a resumed TLS 1.3 session sends its ticket's age, in whole
//! seconds of the client's clock. Here the clock is the real date when the provider is made
//! (so certificates are checked against it, as a node checks them), whole seconds, moved on by
//! the simulation's own clock: ages and expiries follow simulated time.
//!
//! Only in builds with the `sim` feature (the harness): a node built on its own has none of it.

use super::Crypto;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rsa::RsaPrivateKey;
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::ffdhe_groups::FfdheGroup;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::sign::{Signer, SigningKey};
use rustls::{Error, NamedGroup, PeerMisbehaved, SignatureAlgorithm, SignatureScheme};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tollgate_protocol::SharedClock;

/// TLS for simulated host `host` in the run seeded `seed`: randomness from a stream derived
/// from both (another host, another stream), wall time from `clock` (see the module docs).
///
/// rustls wants its randomness, key exchange and key loading as `&'static` references, so each
/// call leaks their state once (a ChaCha20 state and three pointers, under 300 bytes): make one
/// per host and run, not per connection.
pub fn crypto(seed: u64, host: &str, clock: SharedClock) -> Crypto {
    crypto_from(seed, host, SimulatedTime::new(clock))
}

fn crypto_from(seed: u64, host: &str, time: SimulatedTime) -> Crypto {
    let rng: &'static Stream = Box::leak(Box::new(Stream::derive(seed, host)));
    let ring = rustls::crypto::ring::default_provider();
    let provider = CryptoProvider {
        cipher_suites: ring.cipher_suites,
        kx_groups: vec![Box::leak(Box::new(SeededX25519(rng)))],
        signature_verification_algorithms: ring.signature_verification_algorithms,
        secure_random: Box::leak(Box::new(SeededRandom(rng))),
        key_provider: Box::leak(Box::new(SeededKeys(rng))),
    };
    Crypto {
        provider: Arc::new(provider),
        time: Arc::new(time),
    }
}

/// One host's ChaCha20 stream, shared by its listeners and clients. Draws happen in the order
/// the host's tasks run, which the simulation fixes.
struct Stream(Mutex<ChaCha20Rng>);

impl Stream {
    fn derive(seed: u64, host: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_be_bytes());
        // Not the node's own id stream (`SeededRng::derive(seed, name)`): a label of its own.
        hasher.update(b"tls/");
        hasher.update(host.as_bytes());
        Self(Mutex::new(ChaCha20Rng::from_seed(hasher.finalize().into())))
    }

    fn lock(&self) -> MutexGuard<'_, ChaCha20Rng> {
        // A poisoned lock only means another thread panicked mid-draw; the stream is still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("seeded ChaCha20 stream")
    }
}

#[derive(Debug)]
struct SeededRandom(&'static Stream);

impl SecureRandom for SeededRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.0.lock().fill_bytes(buf);
        Ok(())
    }
}

/// X25519 with its private scalar from the stream.
struct SeededX25519(&'static Stream);

impl fmt::Debug for SeededX25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("X25519 (seeded)")
    }
}

impl SupportedKxGroup for SeededX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut scalar = [0u8; 32];
        self.0.lock().fill_bytes(&mut scalar);
        let secret = x25519_dalek::StaticSecret::from(scalar);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Exchange {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer
            .try_into()
            .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // A low-order peer point gives an all-zero secret; ring refuses it too.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn ffdhe_group(&self) -> Option<FfdheGroup<'static>> {
        None
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

#[derive(Debug)]
struct SeededKeys(&'static Stream);

impl KeyProvider for SeededKeys {
    fn load_private_key(
        &self,
        key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, Error> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let unsupported = |what: String| {
            Error::General(format!(
                "TLS under simulation supports RSA keys only (the built-in `wso2carbon` key is \
                 RSA 2048): {what}"
            ))
        };
        let key = match &key_der {
            PrivateKeyDer::Pkcs8(der) => RsaPrivateKey::from_pkcs8_der(der.secret_pkcs8_der())
                .map_err(|e| unsupported(format!("a PKCS#8 key that is not RSA ({e})")))?,
            PrivateKeyDer::Pkcs1(der) => RsaPrivateKey::from_pkcs1_der(der.secret_pkcs1_der())
                .map_err(|e| unsupported(format!("an unreadable PKCS#1 key ({e})")))?,
            _ => return Err(unsupported("an EC (SEC1) key".to_owned())),
        };
        Ok(Arc::new(SeededRsaKey {
            key: Arc::new(key),
            rng: self.0,
        }))
    }
}

/// As ring's `RsaSigningKey`: PSS first, the strongest hash first; rustls leaves PKCS#1 out of
/// what a TLS 1.3 peer is offered.
const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

struct SeededRsaKey {
    key: Arc<RsaPrivateKey>,
    rng: &'static Stream,
}

impl fmt::Debug for SeededRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SeededRsaKey")
    }
}

impl SigningKey for SeededRsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = RSA_SCHEMES.into_iter().find(|s| offered.contains(s))?;
        Some(Box::new(SeededRsaSigner {
            key: self.key.clone(),
            rng: self.rng,
            scheme,
        }))
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        use rsa::pkcs8::EncodePublicKey;
        let der = self.key.to_public_key().to_public_key_der().ok()?;
        Some(SubjectPublicKeyInfoDer::from(der.as_bytes().to_vec()))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct SeededRsaSigner {
    key: Arc<RsaPrivateKey>,
    rng: &'static Stream,
    scheme: SignatureScheme,
}

impl fmt::Debug for SeededRsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededRsaSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl SeededRsaSigner {
    /// RSA-PSS with a salt as long as the hash (what TLS requires), salt and blinding drawn
    /// from the stream.
    fn pss<D>(&self, message: &[u8]) -> rsa::signature::Result<Vec<u8>>
    where
        D: Digest + sha2::digest::FixedOutputReset,
    {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let key = rsa::pss::BlindedSigningKey::<D>::new(RsaPrivateKey::clone(&self.key));
        let mut stream = self.rng.lock();
        let signature = key.try_sign_with_rng(&mut RandCore06(&mut stream), message)?;
        Ok(signature.to_vec())
    }

    /// PKCS#1 v1.5: deterministic, nothing drawn.
    fn pkcs1<D>(&self, message: &[u8]) -> rsa::signature::Result<Vec<u8>>
    where
        D: Digest + rsa::pkcs8::AssociatedOid,
    {
        use rsa::signature::{SignatureEncoding, Signer as _};
        let key = rsa::pkcs1v15::SigningKey::<D>::new(RsaPrivateKey::clone(&self.key));
        Ok(key.try_sign(message)?.to_vec())
    }
}

impl Signer for SeededRsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let signed = match self.scheme {
            SignatureScheme::RSA_PSS_SHA512 => self.pss::<Sha512>(message),
            SignatureScheme::RSA_PSS_SHA384 => self.pss::<Sha384>(message),
            SignatureScheme::RSA_PSS_SHA256 => self.pss::<Sha256>(message),
            SignatureScheme::RSA_PKCS1_SHA512 => self.pkcs1::<Sha512>(message),
            SignatureScheme::RSA_PKCS1_SHA384 => self.pkcs1::<Sha384>(message),
            SignatureScheme::RSA_PKCS1_SHA256 => self.pkcs1::<Sha256>(message),
            other => {
                return Err(Error::General(format!(
                    "seeded RSA signer asked for {other:?}"
                )));
            }
        };
        signed.map_err(|e| Error::General(format!("RSA signing failed: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The stream as the `rand_core` 0.6 generator `rsa` 0.9 asks for (`rand_chacha` 0.9 speaks
/// `rand_core` 0.9).
struct RandCore06<'a>(&'a mut ChaCha20Rng);

impl rsa::rand_core::RngCore for RandCore06<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for RandCore06<'_> {}

/// rustls's wall clock under simulation: the real date at creation in whole seconds, moved on
/// by the simulation's clock. Whole seconds, so a ticket's age (rustls counts whole seconds)
/// depends on simulated time alone.
struct SimulatedTime {
    clock: SharedClock,
    /// The real date when made, whole seconds, in milliseconds.
    base_millis: u64,
    /// `clock` when made.
    start_millis: i64,
}

impl SimulatedTime {
    fn new(clock: SharedClock) -> Self {
        Self::at(UnixTime::now().as_secs(), clock)
    }

    fn at(base_secs: u64, clock: SharedClock) -> Self {
        Self {
            base_millis: base_secs.saturating_mul(1000),
            start_millis: clock.now_millis(),
            clock,
        }
    }
}

impl fmt::Debug for SimulatedTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedTime")
            .field("base_millis", &self.base_millis)
            .finish_non_exhaustive()
    }
}

impl rustls::time_provider::TimeProvider for SimulatedTime {
    fn current_time(&self) -> Option<UnixTime> {
        let moved = self.clock.now_millis().saturating_sub(self.start_millis);
        let millis = self
            .base_millis
            .saturating_add(u64::try_from(moved).unwrap_or(0));
        Some(UnixTime::since_unix_epoch(Duration::from_millis(millis)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_PEM};
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
    use tollgate_protocol::{Clock, ManualClock};

    /// 2026-12-04T00:00:00Z, after the built-in certificate's `notBefore`.
    const REAL_DATE: u64 = 1_796_342_400;
    const START: i64 = 1_767_225_600_000;

    /// One end of a duplex pipe that keeps a copy of every byte written through it.
    struct Tee {
        inner: DuplexStream,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl AsyncRead for Tee {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Tee {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
            if let Poll::Ready(Ok(n)) = polled {
                self.written.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            polled
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Every byte of one connection: client to server, server to client.
    #[derive(Debug, PartialEq, Eq)]
    struct Wire {
        to_server: Vec<u8>,
        to_client: Vec<u8>,
        resumed: bool,
        version: rustls::ProtocolVersion,
    }

    /// One connection: a handshake, `ping!` from the client, `pong!` back, the server's
    /// close_notify; every byte captured.
    async fn exchange(
        client: Arc<rustls::ClientConfig>,
        server: Arc<rustls::ServerConfig>,
    ) -> io::Result<Wire> {
        let (near, far) = tokio::io::duplex(1 << 16);
        let to_server = Arc::new(Mutex::new(Vec::new()));
        let to_client = Arc::new(Mutex::new(Vec::new()));
        let near = Tee {
            inner: near,
            written: to_server.clone(),
        };
        let far = Tee {
            inner: far,
            written: to_client.clone(),
        };
        let serve = async {
            let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(far).await?;
            let mut ping = [0u8; 5];
            tls.read_exact(&mut ping).await?;
            assert_eq!(&ping, b"ping!");
            tls.write_all(b"pong!").await?;
            tls.shutdown().await
        };
        let call = async {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = tokio_rustls::TlsConnector::from(client)
                .connect(name, near)
                .await?;
            tls.write_all(b"ping!").await?;
            tls.flush().await?;
            let mut pong = Vec::new();
            tls.read_to_end(&mut pong).await?;
            assert_eq!(pong, b"pong!");
            let session = tls.get_ref().1;
            let resumed = session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            let version = session.protocol_version().unwrap();
            Ok::<_, io::Error>((resumed, version))
        };
        let (served, called) = tokio::join!(serve, call);
        served?;
        let (resumed, version) = called?;
        let to_server = std::mem::take(&mut *to_server.lock().unwrap());
        let to_client = std::mem::take(&mut *to_client.lock().unwrap());
        Ok(Wire {
            to_server,
            to_client,
            resumed,
            version,
        })
    }

    fn tls12_client(crypto: &Crypto) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in super::super::certs(DEFAULT_CERT_PEM).unwrap() {
            roots.add(cert).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_details(
            crypto.provider.clone(),
            crypto.time.clone(),
        )
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Arc::new(config)
    }

    /// Two connections between a runner and a control plane seeded `seed` (the second one
    /// resumes the first's session after 1.5 s of the run's clock), the real date at
    /// `real_date`; `tls12` restricts the client to TLS 1.2.
    async fn run(seed: u64, real_date: u64, tls12: bool) -> Vec<Wire> {
        let clock = Arc::new(ManualClock::new(START));
        let at = |host| crypto_from(seed, host, SimulatedTime::at(real_date, clock.clone()));
        let (client, server) = (at("tollgate-runner"), at("control-plane"));
        let client_config = if tls12 {
            tls12_client(&client)
        } else {
            client.client_config(&[DEFAULT_CERT_PEM]).unwrap()
        };
        let server_config = server
            .server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM)
            .unwrap();
        let first = exchange(client_config.clone(), server_config.clone())
            .await
            .unwrap();
        clock.move_to(START + 1_500);
        let second = exchange(client_config, server_config).await.unwrap();
        vec![first, second]
    }

    fn assert_all_differ(a: &[Wire], b: &[Wire]) {
        for (a, b) in a.iter().zip(b) {
            assert_ne!(a.to_server, b.to_server);
            assert_ne!(a.to_client, b.to_client);
        }
    }

    #[tokio::test]
    async fn one_seed_gives_one_byte_stream_both_ways_and_another_seed_another() {
        for tls12 in [false, true] {
            let first = run(7, REAL_DATE, tls12).await;
            let version = if tls12 {
                rustls::ProtocolVersion::TLSv1_2
            } else {
                rustls::ProtocolVersion::TLSv1_3
            };
            assert!(first.iter().all(|w| w.version == version), "{tls12}");
            assert!(!first[0].resumed && first[1].resumed, "tls12: {tls12}");
            // Another real date, another second of it: nothing on the wire changes.
            assert_eq!(first, run(7, REAL_DATE, tls12).await, "tls12: {tls12}");
            assert_eq!(
                first,
                run(7, REAL_DATE + 3_601, tls12).await,
                "tls12: {tls12}"
            );
            assert_all_differ(&first, &run(8, REAL_DATE, tls12).await);
        }
    }

    /// Seed 7's runner client and control-plane server, their TLS time on `clock`.
    fn runner_and_control_plane(
        clock: &Arc<ManualClock>,
    ) -> (Arc<rustls::ClientConfig>, Arc<rustls::ServerConfig>) {
        let at = |host| crypto_from(7, host, SimulatedTime::at(REAL_DATE, clock.clone()));
        let client = at("tollgate-runner")
            .client_config(&[DEFAULT_CERT_PEM])
            .unwrap();
        let server = at("control-plane")
            .server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM)
            .unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn the_simulated_clock_reaches_the_wire_through_a_resumed_tickets_age() {
        let clock = Arc::new(ManualClock::new(START));
        let (client, server) = runner_and_control_plane(&clock);
        exchange(client.clone(), server.clone()).await.unwrap();
        let resumed = exchange(client.clone(), server.clone()).await.unwrap();
        assert!(resumed.resumed);
        // Same draws as `resumed` would make, 1.5 s later on the run's clock instead of 0 s.
        let clock = Arc::new(ManualClock::new(START));
        let (client, server) = runner_and_control_plane(&clock);
        exchange(client.clone(), server.clone()).await.unwrap();
        clock.move_to(START + 1_500);
        let later = exchange(client, server).await.unwrap();
        assert!(later.resumed);
        // The ClientHello (its ticket age and binder) differs, so the rest does too.
        assert_ne!(resumed.to_server, later.to_server);
        assert_eq!(resumed.to_server.len(), later.to_server.len());
    }

    #[tokio::test]
    async fn seeded_and_ring_peers_interoperate_both_ways_on_tls_1_3_and_1_2() {
        let clock: SharedClock = Arc::new(ManualClock::new(START));
        let seeded = crypto(7, "gateway", clock);
        let ring = Crypto::system();
        let ring_tls12 = tls12_client(&ring);
        let seeded_tls12 = tls12_client(&seeded);
        let cases = [
            (
                "seeded server, ring client",
                ring.client_config(&[DEFAULT_CERT_PEM]).unwrap(),
                &seeded,
            ),
            ("seeded server, ring TLS 1.2 client", ring_tls12, &seeded),
            (
                "ring server, seeded client",
                seeded.client_config(&[DEFAULT_CERT_PEM]).unwrap(),
                &ring,
            ),
            ("ring server, seeded TLS 1.2 client", seeded_tls12, &ring),
        ];
        for (what, client, server) in cases {
            let server = server
                .server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM)
                .unwrap();
            exchange(client, server)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }

    fn built_in_key() -> PrivateKeyDer<'static> {
        rustls_pemfile::private_key(&mut DEFAULT_KEY_PEM.as_bytes())
            .unwrap()
            .unwrap()
    }

    fn built_in_cert() -> rustls::pki_types::CertificateDer<'static> {
        super::super::certs(DEFAULT_CERT_PEM).unwrap().remove(0)
    }

    /// ring's verification of `signature` by the built-in key, as rustls's ring-backed peers
    /// check a `CertificateVerify` under `scheme`.
    fn ring_verifies(scheme: SignatureScheme, message: &[u8], signature: &[u8]) {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = RsaPrivateKey::from_pkcs8_pem(DEFAULT_KEY_PEM).unwrap();
        let public = key.to_public_key().to_pkcs1_der().unwrap();
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        let (_, verifiers) = algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .unwrap();
        verifiers[0]
            .verify_signature(public.as_bytes(), message, signature)
            .unwrap_or_else(|e| panic!("{scheme:?}: {e:?}"));
        assert!(
            verifiers[0]
                .verify_signature(public.as_bytes(), b"another message", signature)
                .is_err()
        );
    }

    /// What a ring-backed peer offers, the server's choice, and the signature checked by ring.
    #[test]
    fn the_rsa_key_signs_pss_when_offered_and_ring_verifies_it() {
        let clock: SharedClock = Arc::new(ManualClock::new(START));
        let seeded = crypto(7, "gateway", clock);
        let key = seeded
            .provider()
            .key_provider
            .load_private_key(built_in_key())
            .unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::RSA);
        let ring = rustls::crypto::ring::default_provider();
        let algorithms = ring.signature_verification_algorithms;
        let offered = algorithms.supported_schemes();
        let signer = key.choose_scheme(&offered).unwrap();
        assert_eq!(signer.scheme(), SignatureScheme::RSA_PSS_SHA512);
        let message = b"TLS 1.3, server CertificateVerify";
        let signature = signer.sign(message).unwrap();
        // PSS is salted: a second signature differs and verifies too.
        assert_ne!(signature, signer.sign(message).unwrap());
        ring_verifies(signer.scheme(), message, &signature);
        // A peer offering PKCS#1 alone (a TLS 1.2 client may) gets it, deterministic.
        let pkcs1 = key
            .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
            .unwrap();
        assert_eq!(pkcs1.scheme(), SignatureScheme::RSA_PKCS1_SHA256);
        let signature = pkcs1.sign(message).unwrap();
        assert_eq!(signature, pkcs1.sign(message).unwrap());
        ring_verifies(pkcs1.scheme(), message, &signature);
        assert!(key.choose_scheme(&[SignatureScheme::ED25519]).is_none());
        // The key matches the certificate (rustls checks this when the config is built).
        rustls::sign::CertifiedKey::new(vec![built_in_cert()], key)
            .keys_match()
            .unwrap();
    }

    #[test]
    fn a_key_that_is_not_rsa_is_refused_with_the_reason() {
        const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvaKJGH+pRJ4PGCrM
6wpr+ez+xDqhJydrj9gNZdLrl/+hRANCAAS3Yp78AQzj3prQKx9NrP+uqgNc+6VH
4FZ1QCPY5h44rExcIcxPVo/xBTuwnwzYXk+chwcOu6HkhZ9fqJ5oEWcE
-----END PRIVATE KEY-----
";
        let clock: SharedClock = Arc::new(ManualClock::new(START));
        let seeded = crypto(7, "gateway", clock);
        let key = rustls_pemfile::private_key(&mut EC_KEY.as_bytes())
            .unwrap()
            .unwrap();
        let error = seeded
            .provider()
            .key_provider
            .load_private_key(key)
            .unwrap_err()
            .to_string();
        assert!(error.contains("supports RSA keys only"), "{error}");
    }

    #[test]
    fn x25519_agrees_and_refuses_a_low_order_or_short_peer_key() {
        let clock: SharedClock = Arc::new(ManualClock::new(START));
        let seeded = crypto(7, "gateway", clock);
        let group = seeded.provider().kx_groups[0];
        assert_eq!(group.name(), NamedGroup::X25519);
        assert!(group.start().unwrap().complete(&[0u8; 32]).is_err());
        assert!(group.start().unwrap().complete(&[9u8; 31]).is_err());
        // Two exchanges agree with each other.
        let (a, b) = (group.start().unwrap(), group.start().unwrap());
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        let ab = a.complete(&b_pub).unwrap();
        let ba = b.complete(&a_pub).unwrap();
        assert_eq!(ab.secret_bytes(), ba.secret_bytes());
    }
}
