//! The request path, in phase order, and the hyper service that runs it on the passthrough
//! listeners.

use crate::authenticate::{self, Caller};
use crate::cors::{self, CorsHeaders};
use crate::gateway::Gateway;
use crate::respond::{self, BoxError, GatewayError, ProxyBody};
use crate::route::{self, Transport};
use crate::throttle::ThrottleRequest;
use crate::{authorize, key_type, proxy};
use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tollgate_protocol::net::RemoteAddr;

impl Gateway {
    /// Serves one API request: route → cors → authenticate → authorize → throttle → key type
    /// → proxy → respond. Never fails: every refusal is a WSO2 response.
    pub async fn handle<B>(&self, request: Request<B>, transport: Transport) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut cors = None;
        match self.request_path(request, transport, &mut cors).await {
            Ok(response) => respond::forward(response, cors.as_ref()),
            Err(error) => respond::error(&error, cors.as_ref()),
        }
    }

    async fn request_path<B>(
        &self,
        request: Request<B>,
        transport: Transport,
        cors_out: &mut Option<CorsHeaders>,
    ) -> Result<Response<ProxyBody>, GatewayError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let routes = self.routes.load_full();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");

        // 1. route: no dot segments, then context, transport, lifecycle, resource.
        if route::has_dot_segment(path) {
            return Err(GatewayError::BadRequestPath);
        }
        let preflight_method = (self.cors.enabled() && parts.method == Method::OPTIONS)
            .then(|| parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD))
            .flatten()
            .and_then(|v| v.to_str().ok());
        let selected = routes.select(&parts.method, path, transport, preflight_method)?;

        // 2. cors: headers for everything from here on; a preflight ends here.
        *cors_out = self.cors.headers_for(selected.resource, &parts.headers);
        if cors::is_preflight(&parts.method, selected.resource, cors_out.as_ref())
            && let Some(cors) = cors_out.as_ref()
        {
            return Ok(cors::preflight(cors));
        }
        let operation = selected.operation.ok_or(GatewayError::MethodNotAllowed)?;

        // 3. authenticate.
        let store = self.store.load_full();
        let caller = if operation.is_unsecured() {
            Caller::Anonymous
        } else {
            Caller::Token(authenticate::authenticate(
                &parts.headers,
                &self.verifier,
                &self.tokens,
                &store,
                self.clock.as_ref(),
            )?)
        };

        // 4. authorize: key mapping, subscription, scopes.
        let api = selected.api;
        let authorized = authorize::authorize_request(
            &caller,
            &store,
            &api.artifact.api_id,
            &selected.resource.template,
            operation,
        )?;

        // 5. throttle: before key-type routing, so a wrong-type key is counted (§3.1).
        let request = ThrottleRequest {
            api: &api.artifact,
            keys: &api.throttle_keys,
            resource_template: &selected.resource.template,
            verb: parts.method.as_str(),
            operation,
            caller: &caller,
            authorized,
            ip: parts.extensions.get::<RemoteAddr>().map(|r| r.0.ip()),
            message_size: parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        self.throttle.check(&request, self.clock.now_millis())?;

        // 6. key type → endpoint.
        let endpoint = key_type::choose_endpoint(api, authorized.key_type)?;

        // 7. proxy (8. respond is the caller's: CORS on the way out).
        let url = proxy::backend_url(endpoint, selected.rest);
        let body = body.map_err(proxy::client_body_error).boxed_unsync();
        // Only endpoints with a suspension `config` are tracked; the others go straight out.
        let tracked = self.endpoints.load().find(api, endpoint).cloned();
        let Some(tracked) = tracked else {
            return proxy::forward(&self.client, url, parts, body).await;
        };
        proxy::forward_tracked(
            &self.client,
            &tracked,
            self.clock.as_ref(),
            url,
            parts,
            body,
        )
        .await
    }

    /// The hyper service for one passthrough listener.
    pub fn passthrough(self: &Arc<Self>, transport: Transport) -> PassthroughService {
        PassthroughService {
            gateway: self.clone(),
            transport,
        }
    }
}

/// The passthrough listeners' service: the gateway's request path, no framework in between.
#[derive(Debug, Clone)]
pub struct PassthroughService {
    gateway: Arc<Gateway>,
    transport: Transport,
}

impl<B> hyper::service::Service<Request<B>> for PassthroughService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let gateway = self.gateway.clone();
        let transport = self.transport;
        Box::pin(async move { Ok(gateway.handle(request, transport).await) })
    }
}
