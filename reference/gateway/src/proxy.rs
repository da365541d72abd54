//! Phase 7: the backend call.
//!
//! Backend URL = endpoint URL + the request path after the context + the query, as Synapse
//! appends `REST_SUB_REQUEST_PATH` (one `/` where the endpoint ends with `/` and the path
//! starts with one). One pooled keep-alive client per gateway; bodies stream both ways.
//!
//! An endpoint with a Publisher suspension `config` goes through [`forward_tracked`]: its
//! Synapse state ([`crate::endpoint`]) decides whether it is called at all.
//!
//! Headers: `Authorization` is removed (`[apim.oauth_config] remove_outbound_auth_header`,
//! default true), hop-by-hop headers are removed both ways, `Host` is the backend's (the client
//! sets it from the URL). No `X-Forwarded-For` is added: WSO2's PassThrough transport forwards
//! what the client sent and adds none by default, and backends written against WSO2 see the
//! same.

use crate::endpoint::Endpoint;
use crate::respond::{BoxError, GatewayError, ProxyBody};
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, Uri, Version};
use http_body_util::BodyExt;
use std::time::Duration;
use tollgate_protocol::Clock;
use tollgate_protocol::net::HttpClient;

/// How long a backend may take to send its response head. WSO2's endpoint timeout default is
/// 60 s (`synapse.global_timeout_interval` is longer; the endpoint's own wins).
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(60);

/// RFC 9110 §7.6.1 connection-specific fields, plus the proxy ones.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over their few names is cheaper than ten hashed
    // removals (~1.9k instructions a message, twice per request).
    if !headers
        .keys()
        .any(|name| name == header::UPGRADE || HOP_BY_HOP.contains(name))
    {
        return;
    }
    // Fields named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// The backend URL: the endpoint (stored without a trailing `/`) and the path after the
/// context, query included.
pub fn backend_url(endpoint: &str, rest: &str) -> String {
    let mut url = String::with_capacity(endpoint.len() + rest.len());
    url.push_str(endpoint);
    url.push_str(rest);
    url
}

/// Phase 7: forwards the request to `url` and streams the answer back.
pub async fn forward(
    client: &HttpClient<ProxyBody>,
    url: String,
    mut parts: http::request::Parts,
    body: ProxyBody,
) -> Result<Response<ProxyBody>, GatewayError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| GatewayError::BackendUnreachable(format!("invalid endpoint URL `{url}`")))?;
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    headers.remove(header::AUTHORIZATION);
    headers.remove(header::HOST);
    let request = Request::from_parts(parts, body);
    let response = match tokio::time::timeout(BACKEND_TIMEOUT, client.request(request)).await {
        Err(_) => return Err(GatewayError::BackendTimeout),
        Ok(Err(error)) => {
            tracing::debug!(%error, %url, "backend call failed");
            return Err(GatewayError::BackendUnreachable(error.to_string()));
        }
        Ok(Ok(response)) => response,
    };
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync();
    Ok(Response::from_parts(parts, body))
}

/// Phase 7 for an endpoint with a suspension `config`: refused with 303001 while SUSPENDED or
/// in TIMEOUT (the backend is not contacted), else forwarded, the outcome recorded (a response
/// of any status is a success to Synapse; a connection failure or timeout is a fault).
pub async fn forward_tracked(
    client: &HttpClient<ProxyBody>,
    endpoint: &Endpoint,
    clock: &dyn Clock,
    url: String,
    parts: http::request::Parts,
    body: ProxyBody,
) -> Result<Response<ProxyBody>, GatewayError> {
    endpoint
        .ready(clock.now_millis())
        .map_err(GatewayError::EndpointNotReady)?;
    let result = forward(client, url, parts, body).await;
    match &result {
        Ok(_) => endpoint.on_success(),
        Err(error) => {
            if let Some(code) = error.synapse_code() {
                endpoint.on_fault(code, clock.now_millis());
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_and_standard_hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, x-trace".parse().unwrap());
        h.insert("x-trace", "1".parse().unwrap());
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn each_hop_by_hop_header_alone_is_removed_and_others_kept() {
        for name in HOP_BY_HOP.iter().chain([&header::UPGRADE]) {
            let mut h = HeaderMap::new();
            h.insert(name.clone(), "x".parse().unwrap());
            h.insert("x-kept", "1".parse().unwrap());
            strip_hop_by_hop(&mut h);
            assert_eq!(h.len(), 1, "{name}");
            assert!(h.contains_key("x-kept"));
        }
        let mut clean = HeaderMap::new();
        clean.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut clean);
        assert_eq!(clean.len(), 1);
    }
}
