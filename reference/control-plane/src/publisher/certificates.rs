//! Endpoint certificates (Publisher `/endpoint-certificates…`, the certificates the gateways
//! trust when calling back ends) and client certificates (`/apis/{apiId}/client-certificates…`,
//! the certificates an API accepts for mutual TLS, each with a tier), as WSO2's
//! `EndpointCertificatesApiServiceImpl`, `ApisApiServiceImpl` and `CertificateMgtUtils` keep
//! them. The certificates are stored and answered; the gateways do not use them yet.

use super::apis::page;
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::rest::{Form, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::State as Store;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem, pem::LineEnding};

/// The `alias` part's `maxLength`.
const ALIAS_MAX: usize = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointCertificate {
    pub alias: String,
    pub endpoint: String,
    /// The certificate in DER, base64.
    pub der: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientCertificate {
    pub alias: String,
    pub api_id: String,
    pub tier: String,
    pub der: String,
}

/// The uploaded `certificate` part, PEM or DER as Java's `CertificateFactory` takes it, as
/// base64 DER; an expired one is refused as WSO2 refuses it (`CERTIFICATE_EXPIRED`).
fn read_certificate(form: &Form, now_millis: i64) -> Result<String, RestError> {
    let part = form
        .0
        .get("certificate")
        .filter(|p| !p.bytes.is_empty())
        .ok_or_else(|| RestError::bad_request("Certificate should not be empty"))?;
    let cert = Certificate::from_pem(&part.bytes)
        .or_else(|_| Certificate::from_der(&part.bytes))
        .map_err(|_| RestError::bad_request("Error while decoding the certificate"))?;
    let not_after = cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_millis();
    if not_after < u128::try_from(now_millis).unwrap_or_default() {
        // `ExceptionCodes.EXPIRED_CERT`.
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            904010,
            "Certificate expired",
            "'Error while adding the certificate. Certificate Expired.'",
        ));
    }
    let der = cert
        .to_der()
        .map_err(|_| RestError::bad_request("Error while decoding the certificate"))?;
    Ok(STANDARD.encode(der))
}

/// Java's `Date.toString()` in UTC, as `CertificateMgtUtils` sets the validity.
fn java_date(time: &x509_cert::time::Time) -> String {
    let secs = i64::try_from(time.to_unix_duration().as_secs()).unwrap_or_default();
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// `CertificateInfo`: status, validity, version and subject of a stored certificate.
fn certificate_info(der: &str, now_millis: i64) -> Value {
    let Some(cert) = STANDARD
        .decode(der)
        .ok()
        .and_then(|b| Certificate::from_der(&b).ok())
    else {
        return json!({});
    };
    let tbs = &cert.tbs_certificate;
    let active = tbs.validity.not_after.to_unix_duration().as_millis()
        >= u128::try_from(now_millis).unwrap_or_default();
    let version = match tbs.version {
        x509_cert::Version::V1 => "1",
        x509_cert::Version::V2 => "2",
        x509_cert::Version::V3 => "3",
    };
    json!({
        "status": if active { "Active" } else { "Expired" },
        "validity": {"from": java_date(&tbs.validity.not_before),
            "to": java_date(&tbs.validity.not_after)},
        "version": version,
        "subject": tbs.subject.to_string(),
    })
}

/// The certificate as a PEM download (`<alias>.crt`), as WSO2's content operations answer it.
fn content(alias: &str, der: &str) -> Response {
    let body = STANDARD
        .decode(der)
        .ok()
        .and_then(|b| Certificate::from_der(&b).ok())
        .and_then(|c| c.to_pem(LineEnding::LF).ok())
        .unwrap_or_default();
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{alias}.crt\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

fn text_part(form: &Form, name: &str) -> Option<String> {
    form.0
        .get(name)
        .map(|p| p.text().trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn check_alias(alias: &str) -> Result<(), RestError> {
    if alias.chars().count() > ALIAS_MAX {
        return Err(RestError::bad_request(format!(
            "alias is longer than {ALIAS_MAX} characters"
        )));
    }
    Ok(())
}

/// `ExceptionCodes.CERT_ALREADY_EXIST`.
fn alias_exists(alias: &str) -> RestError {
    RestError::new(
        StatusCode::CONFLICT,
        904011,
        "Certificate alias already exists",
        format!("The alias '{alias}' already exists in the truststore"),
    )
}

/// `ExceptionCodes.CERT_NOT_FOUND`.
fn certificate_not_found(alias: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        904001,
        "Could not find the certificate",
        format!("'Cannot find the certificate with alias '{alias}' in the truststore'"),
    )
}

pub mod endpoint {
    use super::*;

    fn find<'a>(state: &'a Store, alias: &str) -> Result<&'a EndpointCertificate, RestError> {
        state
            .endpoint_certificates
            .iter()
            .find(|c| c.alias == alias)
            .ok_or_else(|| certificate_not_found(alias))
    }

    fn metadata(c: &EndpointCertificate) -> Value {
        json!({"alias": c.alias, "endpoint": c.endpoint})
    }

    const VIEW: &[&str] = &[
        API_VIEW,
        API_MANAGE,
        EP_CERTIFICATES_VIEW,
        EP_CERTIFICATES_MANAGE,
    ];
    const ADD: &[&str] = &[
        API_CREATE,
        API_MANAGE,
        EP_CERTIFICATES_ADD,
        EP_CERTIFICATES_MANAGE,
    ];
    const UPDATE: &[&str] = &[
        API_CREATE,
        API_MANAGE,
        EP_CERTIFICATES_UPDATE,
        EP_CERTIFICATES_MANAGE,
    ];

    /// `GET /endpoint-certificates[?alias=&endpoint=]`: exact alias, endpoint as given.
    pub async fn list(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let all: Vec<Value> = state
            .endpoint_certificates
            .iter()
            .filter(|c| params.get("alias").is_none_or(|a| *a == c.alias))
            .filter(|c| params.get("endpoint").is_none_or(|e| *e == c.endpoint))
            .map(metadata)
            .collect();
        certificate_page(&all, &params)
    }

    /// `POST /endpoint-certificates` (multipart `certificate`, `alias`, `endpoint`): 200
    /// `CertMetadata` (the spec declares no 201) with its `Location`; an alias already in the
    /// trust store → 409.
    pub async fn add(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, ADD)?;
        let (Some(alias), Some(endpoint)) =
            (text_part(&form, "alias"), text_part(&form, "endpoint"))
        else {
            return Err(RestError::bad_request(
                "The alias and/or endpoint should not be empty",
            ));
        };
        check_alias(&alias)?;
        let der = read_certificate(&form, cp.now_millis())?;
        let mut state = cp.lock();
        if state.endpoint_certificates.iter().any(|c| c.alias == alias) {
            return Err(alias_exists(&alias));
        }
        let cert = EndpointCertificate {
            alias,
            endpoint,
            der,
        };
        state.endpoint_certificates.push(cert.clone());
        Ok(with_location(
            json_response(StatusCode::OK, metadata(&cert)),
            &cp.settings().mgmt_base_url(),
            &format!("{PUBLISHER_BASE}/endpoint-certificates/{}", cert.alias),
        ))
    }

    pub async fn get_one(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(alias): Path<String>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let cert = find(&state, &alias)?;
        Ok(json_response(
            StatusCode::OK,
            certificate_info(&cert.der, cp.now_millis()),
        ))
    }

    /// `PUT`: a new certificate under the same alias and endpoint.
    pub async fn update(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(alias): Path<String>,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, UPDATE)?;
        find(&cp.lock(), &alias)?;
        let der = read_certificate(&form, cp.now_millis())?;
        let mut state = cp.lock();
        let cert = state
            .endpoint_certificates
            .iter_mut()
            .find(|c| c.alias == alias)
            .ok_or_else(|| certificate_not_found(&alias))?;
        cert.der = der;
        Ok(json_response(StatusCode::OK, metadata(cert)))
    }

    pub async fn delete(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(alias): Path<String>,
    ) -> RestResult {
        cp.authorize(&headers, UPDATE)?;
        let mut state = cp.lock();
        find(&state, &alias)?;
        state.endpoint_certificates.retain(|c| c.alias != alias);
        Ok(StatusCode::OK.into_response())
    }

    pub async fn get_content(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(alias): Path<String>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let cert = find(&state, &alias)?;
        Ok(content(&cert.alias, &cert.der))
    }

    /// `GET …/usage`: the APIs whose production or sandbox endpoint is the certificate's
    /// endpoint or lies under it.
    pub async fn usage(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(alias): Path<String>,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let endpoint = find(&state, &alias)?.endpoint.clone();
        let all: Vec<Value> = state
            .apis
            .values()
            .map(|r| &r.api)
            .filter(|api| {
                ["production_endpoints", "sandbox_endpoints"]
                    .iter()
                    .any(|k| {
                        api.endpoint_config
                            .as_ref()
                            .and_then(|c| c[*k]["url"].as_str())
                            .is_some_and(|u| u.starts_with(endpoint.as_str()))
                    })
            })
            .map(|api| {
                json!({"id": api.id, "name": api.name, "context": api.context,
                    "version": api.version, "provider": api.provider})
            })
            .collect();
        let (list, offset, limit) = page(&all, &params)?;
        Ok(json_response(
            StatusCode::OK,
            json!({"count": list.len(), "list": list,
                "pagination": pagination(offset, limit, all.len())}),
        ))
    }
}

pub mod client {
    use super::*;

    const VIEW: &[&str] = &[
        API_VIEW,
        API_MANAGE,
        CLIENT_CERTIFICATES_VIEW,
        CLIENT_CERTIFICATES_MANAGE,
    ];
    const ADD: &[&str] = &[
        API_CREATE,
        API_MANAGE,
        CLIENT_CERTIFICATES_ADD,
        CLIENT_CERTIFICATES_MANAGE,
    ];
    const UPDATE: &[&str] = &[API_CREATE, API_MANAGE, CLIENT_CERTIFICATES_UPDATE];

    fn api_exists(state: &Store, api_id: &str) -> Result<(), RestError> {
        if state.apis.contains_key(api_id) {
            Ok(())
        } else {
            Err(RestError::api_not_found(api_id))
        }
    }

    fn find<'a>(
        state: &'a Store,
        api_id: &str,
        alias: &str,
    ) -> Result<&'a ClientCertificate, RestError> {
        api_exists(state, api_id)?;
        state
            .client_certificates
            .iter()
            .find(|c| c.api_id == api_id && c.alias == alias)
            .ok_or_else(|| certificate_not_found(alias))
    }

    fn metadata(c: &ClientCertificate) -> Value {
        json!({"alias": c.alias, "apiId": c.api_id, "tier": c.tier})
    }

    /// A tier the API offers (`policies`), as WSO2 checks it (`Invalid tier`).
    fn check_tier(state: &Store, api_id: &str, tier: &str) -> Result<(), RestError> {
        let offered = state
            .apis
            .get(api_id)
            .is_some_and(|r| r.api.policies.iter().any(|p| p == tier));
        if offered {
            Ok(())
        } else {
            Err(RestError::bad_request(format!(
                "The tier {tier} is not a subscription tier of the API"
            )))
        }
    }

    pub async fn list(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(api_id): Path<String>,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        api_exists(&state, &api_id)?;
        let all: Vec<Value> = state
            .client_certificates
            .iter()
            .filter(|c| c.api_id == api_id)
            .filter(|c| params.get("alias").is_none_or(|a| *a == c.alias))
            .map(metadata)
            .collect();
        certificate_page(&all, &params)
    }

    /// `POST` (multipart `certificate`, `alias`, `tier`): 200 `ClientCertMetadata` (the
    /// spec's code); an alias already used by any API → 409.
    pub async fn add(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(api_id): Path<String>,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, ADD)?;
        api_exists(&cp.lock(), &api_id)?;
        let (Some(alias), Some(tier)) = (text_part(&form, "alias"), text_part(&form, "tier"))
        else {
            return Err(RestError::bad_request(
                "The alias and/or tier should not be empty",
            ));
        };
        check_alias(&alias)?;
        let der = read_certificate(&form, cp.now_millis())?;
        let mut state = cp.lock();
        api_exists(&state, &api_id)?;
        check_tier(&state, &api_id, &tier)?;
        if state.client_certificates.iter().any(|c| c.alias == alias) {
            return Err(alias_exists(&alias));
        }
        let cert = ClientCertificate {
            alias,
            api_id,
            tier,
            der,
        };
        state.client_certificates.push(cert.clone());
        Ok(json_response(StatusCode::OK, metadata(&cert)))
    }

    pub async fn get_one(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, alias)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let cert = find(&state, &api_id, &alias)?;
        Ok(json_response(
            StatusCode::OK,
            certificate_info(&cert.der, cp.now_millis()),
        ))
    }

    /// `PUT` (multipart, `certificate` and/or `tier`): neither → 400, as WSO2 refuses it.
    pub async fn update(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, alias)): Path<(String, String)>,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, UPDATE)?;
        find(&cp.lock(), &api_id, &alias)?;
        let tier = text_part(&form, "tier");
        let der = match form.0.get("certificate").filter(|p| !p.bytes.is_empty()) {
            Some(_) => Some(read_certificate(&form, cp.now_millis())?),
            None => None,
        };
        if tier.is_none() && der.is_none() {
            return Err(RestError::bad_request(
                "The tier and/or certificate should be given to update the client certificate",
            ));
        }
        let mut state = cp.lock();
        if let Some(tier) = &tier {
            check_tier(&state, &api_id, tier)?;
        }
        let cert = state
            .client_certificates
            .iter_mut()
            .find(|c| c.api_id == api_id && c.alias == alias)
            .ok_or_else(|| certificate_not_found(&alias))?;
        if let Some(tier) = tier {
            cert.tier = tier;
        }
        if let Some(der) = der {
            cert.der = der;
        }
        Ok(json_response(StatusCode::OK, metadata(cert)))
    }

    pub async fn delete(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, alias)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, UPDATE)?;
        let mut state = cp.lock();
        find(&state, &api_id, &alias)?;
        state
            .client_certificates
            .retain(|c| !(c.api_id == api_id && c.alias == alias));
        Ok(StatusCode::OK.into_response())
    }

    pub async fn get_content(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, alias)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        let cert = find(&state, &api_id, &alias)?;
        Ok(content(&cert.alias, &cert.der))
    }
}

/// `Certificates` / `ClientCertificates`: one page of `all`, as both lists answer it.
fn certificate_page(all: &[Value], params: &BTreeMap<String, String>) -> RestResult {
    let (list, offset, limit) = page(all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "certificates": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}
