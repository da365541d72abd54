//! A small HTTP(S) client for tests and the CLI, built on the nodes' own [`Outbound`].
//!
//! It trusts the built-in `wso2carbon` certificate (what `curl -k` papers over) and resolves
//! `localhost`, `gw.wso2.com`, … through the topology's host map, so a test uses the guide's URLs
//! verbatim (`https://localhost:9443/oauth2/token`) whatever loopback address the topology got.
//!
//! ```text
//! let token = client.post("https://localhost:9443/oauth2/token")
//!     .basic_auth(&key, &secret)
//!     .form(&[("grant_type", "password"), ("username", "admin"), ("password", "admin")])
//!     .send().await?
//!     .json::<serde_json::Value>()?;
//! ```

use crate::transcript::Transcript;
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tollgate_net::{HttpClient, Outbound};

/// Every request is bounded: a hung node fails the test instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad request for {url}: {message}")]
    Build { url: String, message: String },
    #[error("{method} {url}: {source}")]
    Send {
        method: Method,
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{method} {url}: reading the body: {source}")]
    Body {
        method: Method,
        url: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{method} {url}: no answer within {REQUEST_TIMEOUT:?}")]
    Timeout { method: Method, url: String },
    #[error("{method} {url}: {status}: body is not the expected JSON ({source}): {body}")]
    Json {
        method: Method,
        url: String,
        status: StatusCode,
        body: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A pooled client; clone freely (clones share connections).
#[derive(Clone, Debug)]
pub struct Client {
    pools: Arc<Pools>,
    /// Where each exchange is written, and who this client is there.
    transcript: Option<(Transcript, Arc<str>)>,
}

impl Client {
    pub fn new(outbound: &Outbound) -> Self {
        Self {
            pools: Arc::new(Pools {
                outbound: outbound.clone(),
                by_authority: Mutex::default(),
            }),
            transcript: None,
        }
    }

    /// The same client, writing every exchange to `transcript` as made by `from`.
    pub fn recording(mut self, transcript: Transcript, from: &str) -> Self {
        self.transcript = Some((transcript, from.into()));
        self
    }

    /// An access token as WSO2's own REST clients get one: dynamic client registration
    /// (`{base}/client-registration/v0.17/register`) with `user`'s Basic credentials, then a
    /// password grant for `scope` at `{base}/oauth2/token`. The error names the call that failed.
    pub async fn password_grant_token(
        &self,
        base: &str,
        (user, password): (&str, &str),
        client_name: &str,
        scope: &str,
    ) -> Result<String, String> {
        let field = |response: &ClientResponse, name: &str, what: &str| {
            if !response.status.is_success() {
                return Err(format!("{what}: {response}"));
            }
            let body: serde_json::Value = response.json().map_err(|e| e.to_string())?;
            body[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{what}: no `{name}` in {body}"))
        };
        let dcr = self
            .post(format!("{base}/client-registration/v0.17/register"))
            .basic_auth(user, password)
            .json(&serde_json::json!({
                "callbackUrl": "www.google.lk",
                "clientName": client_name,
                "owner": user,
                "grantType": "client_credentials password refresh_token",
                "saasApp": true
            }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let id = field(&dcr, "clientId", "DCR")?;
        let secret = field(&dcr, "clientSecret", "DCR")?;
        let grant = self
            .post(format!("{base}/oauth2/token"))
            .basic_auth(&id, &secret)
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
                ("scope", scope),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        field(&grant, "access_token", "the password grant")
    }

    pub fn request(&self, method: Method, url: impl Into<String>) -> RequestBuilder {
        let url = url.into();
        RequestBuilder {
            transcript: self.transcript.clone(),
            client: self.pools.for_url(&url),
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            error: None,
        }
    }

    pub fn get(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn put(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    pub fn delete(&self, url: impl Into<String>) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }
}

/// The client's connection pools, one per URL authority. hyper-util closes a pool's expired
/// idle connections in its `HashMap`'s order, which differs from process to process: with
/// several hosts in one pool, the connections an `advance` left idle closed in another order
/// each run, and under simulation every later message latency moved with it. One host per
/// pool leaves nothing to order (a pool's connections to one host are a list).
#[derive(Debug)]
struct Pools {
    outbound: Outbound,
    by_authority: Mutex<BTreeMap<String, HttpClient<Full<Bytes>>>>,
}

impl Pools {
    fn for_url(&self, url: &str) -> HttpClient<Full<Bytes>> {
        let authority = url
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
            .unwrap_or_default();
        let mut pools = self.by_authority.lock().unwrap_or_else(|e| e.into_inner());
        pools
            .entry(authority)
            .or_insert_with(|| self.outbound.client())
            .clone()
    }
}

/// One request being put together.
#[must_use]
pub struct RequestBuilder {
    client: HttpClient<Full<Bytes>>,
    transcript: Option<(Transcript, Arc<str>)>,
    method: Method,
    url: String,
    headers: HeaderMap,
    body: Bytes,
    error: Option<String>,
}

impl RequestBuilder {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.error = Some(format!("invalid header {name}: {value}")),
        }
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header(AUTHORIZATION.as_str(), &format!("Basic {encoded}"))
    }

    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = Bytes::from(body.to_string());
        self.header(CONTENT_TYPE.as_str(), "application/json")
    }

    /// A body sent as given; set its `Content-Type` with [`Self::header`].
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        match serde_urlencoded::to_string(fields) {
            Ok(encoded) => self.body = Bytes::from(encoded),
            Err(error) => self.error = Some(error.to_string()),
        }
        self.header(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
    }

    pub async fn send(self) -> Result<ClientResponse, ClientError> {
        let Self {
            client,
            transcript,
            method,
            url,
            headers,
            body,
            error,
        } = self;
        let build_error = |message: String| ClientError::Build {
            url: url.clone(),
            message,
        };
        if let Some(message) = error {
            return Err(build_error(message));
        }
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .body(Full::new(body.clone()))
            .map_err(|e| build_error(e.to_string()))?;
        *request.headers_mut() = headers.clone();
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|source| ClientError::Send {
                    method: method.clone(),
                    url: url.clone(),
                    source,
                })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|source| ClientError::Body {
                    method: method.clone(),
                    url: url.clone(),
                    source,
                })?
                .to_bytes();
            Ok(ClientResponse {
                method: method.clone(),
                url: url.clone(),
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                method: method.clone(),
                url: url.clone(),
            }),
        };
        if let Some((transcript, from)) = &transcript {
            let sent = crate::transcript::Sent {
                method: &method,
                url: &url,
                headers: &headers,
                body: &body,
            };
            let answer = match &result {
                Ok(r) => Ok((r.status, &r.headers, &r.body)),
                Err(error) => Err(error.to_string()),
            };
            transcript.exchange(from, sent, answer);
        }
        result
    }
}

/// A whole response, body read.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    pub method: Method,
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ClientResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|source| ClientError::Json {
            method: self.method.clone(),
            url: self.url.clone(),
            status: self.status,
            body: self.text(),
            source,
        })
    }
}

impl std::fmt::Display for ClientResponse {
    /// `POST https://localhost:9443/oauth2/token -> 200 OK: {...}`, for assertion messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {}: {}",
            self.method,
            self.url,
            self.status,
            self.text()
        )
    }
}
