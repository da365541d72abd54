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

use crate::endpoint::{Endpoint, Upstream};
use crate::respond::{BoxError, GatewayError, ProxyBody};
use crate::url_template::Variables;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, Uri, Version};
use http_body_util::{BodyExt, Full};
use sha2::{Digest as _, Sha256};
use std::time::Duration;
use tollgate_net::{ProxyClient, ProxyError, strip_hop_by_hop};
use tollgate_protocol::Clock;
use tollgate_protocol::artifact::{EndpointSecurity, EndpointSecurityType};

/// How long a backend may take to send its response head. WSO2's endpoint timeout default is
/// 60 s (`synapse.global_timeout_interval` is longer; the endpoint's own wins).
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest body a failover group or a Digest-secured endpoint holds in memory to send it
/// again; a larger one is refused with 400 / 101001 (WSO2 holds the whole message, unbounded).
const REPLAY_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The backend URL: the endpoint (stored without a trailing `/`) and the path after the
/// context, query included.
pub fn backend_url(endpoint: &str, rest: &str) -> String {
    let mut url = String::with_capacity(endpoint.len() + rest.len());
    url.push_str(endpoint);
    url.push_str(rest);
    url
}

/// An error of the client's request body, as the body handed to [`forward`] reports it: the
/// backend call failing because of it is the client's fault, not the endpoint's.
#[derive(Debug, thiserror::Error)]
#[error("request body: {0}")]
pub struct ClientBodyError(BoxError);

/// Marks an error of the client's body for [`forward`] (only called on the error path).
pub fn client_body_error(error: impl Into<BoxError>) -> BoxError {
    Box::new(ClientBodyError(error.into()))
}

/// Whether `error`'s causes include a [`ClientBodyError`].
fn caused_by_client_body(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<ClientBodyError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Phase 7: forwards the request to `url` and streams the answer back.
pub async fn forward(
    client: &ProxyClient<ProxyBody>,
    url: String,
    parts: http::request::Parts,
    body: ProxyBody,
) -> Result<Response<ProxyBody>, GatewayError> {
    forward_as(client, url, parts, body, None).await
}

/// [`forward`] with the gateway's own `Authorization` for the backend (endpoint security).
async fn forward_as(
    client: &ProxyClient<ProxyBody>,
    url: String,
    mut parts: http::request::Parts,
    body: ProxyBody,
    authorization: Option<HeaderValue>,
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
    if let Some(authorization) = authorization {
        headers.insert(header::AUTHORIZATION, authorization);
    }
    let request = Request::from_parts(parts, body);
    let response = match client.request_within(request, BACKEND_TIMEOUT).await {
        Err(ProxyError::Timeout) => return Err(GatewayError::BackendTimeout),
        Err(error) if caused_by_client_body(&error) => {
            tracing::debug!(%error, %url, "client request body failed");
            return Err(GatewayError::BadRequestBody(error.to_string()));
        }
        Err(error) => {
            tracing::debug!(%error, %url, "backend call failed");
            return Err(GatewayError::BackendUnreachable(error.to_string()));
        }
        Ok(response) => response,
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
    client: &ProxyClient<ProxyBody>,
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

/// Phase 7 for an API with an [`Upstream`] (load balance, failover, URL template, backend
/// credentials or suspension `config`): the members are tried in the group's order, each
/// ready one at most once; a member that is SUSPENDED or in TIMEOUT is skipped without being
/// called; a connection failure or timeout hands the request to the next member when the group
/// fails over, else it is the answer. No member ready at all: 303001 for a single address,
/// 303000 for a group. When every member tried failed, the last failure is the answer, as in
/// Synapse's `FailoverEndpoint` (a retry keeps the child's error code).
///
/// A body that may be sent twice (a failover group, Digest credentials) is read first, as
/// Synapse builds the message before a failover; every other body streams.
pub async fn forward_upstream(
    client: &ProxyClient<ProxyBody>,
    upstream: &Upstream,
    clock: &dyn Clock,
    variables: Variables<'_>,
    rest: &str,
    parts: http::request::Parts,
    body: ProxyBody,
) -> Result<Response<ProxyBody>, GatewayError> {
    let digest = upstream
        .security
        .as_ref()
        .filter(|s| s.kind == EndpointSecurityType::Digest);
    let replayable = upstream.fails_over() || digest.is_some();
    let (mut streaming, buffered) = if replayable {
        // A client's broken or oversized body is the client's fault (400 / 101001), never the
        // endpoint's: nothing has been sent yet.
        (None, Some(read_bounded(body, REPLAY_BODY_LIMIT).await?))
    } else {
        (Some(body), None)
    };
    let mut original = Some(parts);
    let basic = upstream.security.as_ref().and_then(basic_authorization);
    let mut not_ready = None;
    let mut last_error = None;
    for member in upstream.attempt_order() {
        if let Some(endpoint) = &member.endpoint
            && let Err(refused) = endpoint.ready(clock.now_millis())
        {
            not_ready = Some(refused);
            continue;
        }
        let url = member.url_for(variables, rest);
        // A buffered body is sent on a copy of the head; a streaming one goes out once.
        let Some(head) = original.take() else { break };
        let result = match &buffered {
            Some(bytes) => {
                let copy = copy_parts(&head);
                original = Some(head);
                match digest {
                    Some(security) => send_digest(client, security, url, copy, bytes).await,
                    None => forward_as(client, url, copy, full(bytes.clone()), basic.clone()).await,
                }
            }
            None => {
                let body = streaming.take().unwrap_or_else(|| full(Bytes::new()));
                forward_as(client, url, head, body, basic.clone()).await
            }
        };
        if let Some(endpoint) = &member.endpoint {
            match &result {
                Ok(_) => endpoint.on_success(),
                Err(error) => {
                    if let Some(code) = error.synapse_code() {
                        endpoint.on_fault(code, clock.now_millis());
                    }
                }
            }
        }
        match result {
            Err(error) if error.synapse_code().is_some() && upstream.fails_over() => {
                tracing::debug!(%error, url = %member.url, "endpoint failed; failing over");
                last_error = Some(error);
            }
            other => return other,
        }
    }
    Err(last_error.unwrap_or_else(|| upstream.none_ready(not_ready)))
}

/// The whole body, at most `limit` bytes; a broken or larger body is the client's error.
async fn read_bounded(mut body: ProxyBody, limit: usize) -> Result<Bytes, GatewayError> {
    let mut buffer = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| GatewayError::BadRequestBody(error.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(GatewayError::BadRequestBody(format!(
                    "the request body is larger than {limit} bytes"
                )));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// A copy of a request head (its extensions are not needed past phase 7).
fn copy_parts(parts: &http::request::Parts) -> http::request::Parts {
    let mut request = Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    request.into_parts().0
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// `Authorization: Basic base64(username:password)` for a Basic-secured endpoint.
fn basic_authorization(security: &EndpointSecurity) -> Option<HeaderValue> {
    if security.kind != EndpointSecurityType::Basic {
        return None;
    }
    let credentials = format!("{}:{}", security.username, security.password);
    let mut value = HeaderValue::from_str(&format!("Basic {}", BASE64.encode(credentials))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A Digest-secured endpoint (RFC 7616, as Synapse's `DigestAuthMediator` answers it): the
/// request goes out without credentials; a `401` with a `Digest` challenge is answered once
/// with the computed `Authorization` and the same body. Any other response is the answer.
async fn send_digest(
    client: &ProxyClient<ProxyBody>,
    security: &EndpointSecurity,
    url: String,
    head: http::request::Parts,
    body: &Bytes,
) -> Result<Response<ProxyBody>, GatewayError> {
    let retry_head = copy_parts(&head);
    let response = forward_as(client, url.clone(), head, full(body.clone()), None).await?;
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return Ok(response);
    }
    let challenge = response
        .headers()
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| {
            v.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
        })
        .map(str::to_owned);
    let Some(challenge) = challenge else {
        return Ok(response);
    };
    let uri: Uri = url
        .parse()
        .map_err(|_| GatewayError::BackendUnreachable(format!("invalid endpoint URL `{url}`")))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let Some(authorization) =
        digest_authorization(security, &challenge, &retry_head.method, path, body)
    else {
        return Ok(response);
    };
    forward_as(
        client,
        url,
        retry_head,
        full(body.clone()),
        Some(authorization),
    )
    .await
}

/// The `Authorization: Digest …` answering `challenge` for `method path`. The client nonce is
/// derived from the server's nonce and the credentials rather than drawn at random, so a
/// seeded run stays reproducible; it still changes with every server nonce.
fn digest_authorization(
    security: &EndpointSecurity,
    challenge: &str,
    method: &http::Method,
    path: &str,
    body: &Bytes,
) -> Option<HeaderValue> {
    let mut prompt = digest_auth::parse(challenge).ok()?;
    let mut context = digest_auth::AuthContext::new_with_method(
        security.username.as_str(),
        security.password.as_str(),
        path,
        Some(body.as_ref()),
        digest_auth::HttpMethod::from(method.as_str()),
    );
    let seed = Sha256::digest(format!("{}:{}:{path}", prompt.nonce, security.username));
    let cnonce: String = seed.iter().take(8).map(|b| format!("{b:02x}")).collect();
    context.set_custom_cnonce(cnonce);
    let answer = prompt.respond(&context).ok()?;
    let mut value = HeaderValue::from_str(&answer.to_header_string()).ok()?;
    value.set_sensitive(true);
    Some(value)
}
