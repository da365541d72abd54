//! Definitions named by URL (`POST /apis/validate-openapi`, `import-openapi`,
//! `PUT /apis/{apiId}/swagger` with a `url` part): fetched with one `GET`, as WSO2's
//! `OASParserUtil.validateAPIDefinitionByURL` fetches them with its HTTP client, through the
//! node's [`Outbound`] (its host map and truststore). The caller is an authorised publisher
//! naming the URL; the control plane reaches whatever that names and its network allows
//! (docs/security.md).

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use std::time::Duration;
use tollgate_net::Outbound;

/// The whole exchange, connect to last byte: a slow or silent host cannot hold a request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest definition fetched: the same bound as an uploaded one.
pub const MAX_FETCHED_BYTES: usize = crate::rest::MAX_BODY_BYTES;

/// Why a fetch gave no definition, as WSO2's `ExceptionCodes` name the two cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    /// `OPENAPI_URL_MALFORMED` (900756): no answer (a bad URL, an unknown or unreachable host,
    /// a timeout, a body past the bound; WSO2's `IOException`).
    Failed,
    /// `OPENAPI_URL_NO_200` (900757): an answer other than 200 (redirects are not followed).
    Not200,
}

impl FetchError {
    pub fn code(self) -> i64 {
        match self {
            Self::Failed => 900756,
            Self::Not200 => 900757,
        }
    }

    pub fn message(self) -> &'static str {
        "OpenAPI definition retrieval from URL failed"
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Failed => "Exception occurred while retrieving the OpenAPI definition from URL",
            Self::Not200 => "Response didn't return a 200 OK status",
        }
    }
}

/// `GET url` → the body of a 200 answer.
pub async fn fetch(outbound: &Outbound, url: &str) -> Result<Bytes, FetchError> {
    let uri: Uri = url.trim().parse().map_err(|_| FetchError::Failed)?;
    // Only what WSO2's HTTP client speaks; `file:` and the like are refused, not read.
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(FetchError::Failed);
    }
    let request = Request::get(uri)
        .header(
            http::header::ACCEPT,
            "application/json, application/yaml, */*",
        )
        .body(Empty::<Bytes>::new())
        .map_err(|_| FetchError::Failed)?;
    let client = outbound.client::<Empty<Bytes>>();
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|_| FetchError::Failed)?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Not200);
        }
        Limited::new(response.into_body(), MAX_FETCHED_BYTES)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .map_err(|_| FetchError::Failed)
    };
    tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(FetchError::Failed))
}
