//! API documents and thumbnails: Publisher `/apis/{apiId}/documents…` (create, list, read,
//! update, delete, content, name check) and `/apis/{apiId}/thumbnail`, and the Developer
//! Portal's read-only copies for the APIs it shows, as WSO2's `ApisApiServiceImpl` and
//! `DocumentationMappingUtil` answer them.

use super::apis::page;
use super::{RestResult, json_response, parse_json};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::rest::{Form, JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::{ApiRecord, State as Store};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

const TYPES: &[&str] = &[
    "HOWTO",
    "SAMPLES",
    "PUBLIC_FORUM",
    "SUPPORT_FORUM",
    "API_MESSAGE_FORMAT",
    "SWAGGER_DOC",
    "OTHER",
];
const SOURCE_TYPES: &[&str] = &["INLINE", "MARKDOWN", "URL", "FILE"];
const VISIBILITIES: &[&str] = &["OWNER_ONLY", "PRIVATE", "API_LEVEL"];
/// `Document.name`'s `maxLength`.
const NAME_MAX: usize = 60;
/// `Document.summary`'s `maxLength`.
const SUMMARY_MAX: usize = 32766;

/// A file kept with a document or as a thumbnail (base64 in the database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFile {
    pub media_type: String,
    pub file_name: Option<String>,
    pub base64: String,
}

impl StoredFile {
    fn new(part: &crate::rest::FormPart, media_type: String) -> Self {
        Self {
            media_type,
            file_name: part.file_name.clone(),
            base64: STANDARD.encode(&part.bytes),
        }
    }

    /// The file as a download.
    pub(crate) fn response(&self) -> Response {
        let bytes = STANDARD.decode(&self.base64).unwrap_or_default();
        let mut response = (StatusCode::OK, bytes).into_response();
        if let Ok(v) = HeaderValue::from_str(&self.media_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Some(name) = &self.file_name
            && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, v);
        }
        response
    }
}

/// `Document`, as stored and answered (the file's bytes stay out of the JSON answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub document_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: Option<String>,
    pub source_type: String,
    pub source_url: Option<String>,
    pub file_name: Option<String>,
    pub inline_content: Option<String>,
    pub other_type_name: Option<String>,
    pub visibility: String,
    pub created_time: String,
    pub created_by: String,
    pub last_updated_time: String,
    pub last_updated_by: String,
    #[serde(default, skip_serializing)]
    pub file: Option<StoredFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DocumentInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    summary: Option<String>,
    source_type: Option<String>,
    source_url: Option<String>,
    inline_content: Option<String>,
    other_type_name: Option<String>,
    visibility: Option<String>,
}

fn one_of(value: Option<String>, field: &str, allowed: &[&str]) -> Result<String, RestError> {
    let value = value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| RestError::bad_request(format!("{field} cannot be empty")))?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .map(|a| (*a).to_owned())
        .ok_or_else(|| {
            RestError::bad_request(format!(
                "Invalid {field} '{value}': one of {}",
                allowed.join(", ")
            ))
        })
}

/// `DocumentDTO`'s bean validation (`POST` and `PUT` take the same DTO), before any check of
/// the implementation's.
fn checked(input: &DocumentInput) -> Result<(), RestError> {
    crate::constraints::Constraints::new()
        .required("name", input.name.is_some())
        .size("name", input.name.as_deref(), 1, NAME_MAX)
        .required_enum("type", input.kind.as_deref(), TYPES)
        .size("summary", input.summary.as_deref(), 1, SUMMARY_MAX)
        .required_enum("sourceType", input.source_type.as_deref(), SOURCE_TYPES)
        .required_enum("visibility", input.visibility.as_deref(), VISIBILITIES)
        .check()
}

/// `DocumentationMappingUtil.fromDTOtoDocumentation`'s checks, then the fields applied.
fn apply(doc: &mut Document, input: DocumentInput) -> Result<(), RestError> {
    doc.kind = one_of(input.kind, "type", TYPES)?;
    doc.source_type = one_of(input.source_type, "sourceType", SOURCE_TYPES)?;
    doc.visibility = one_of(input.visibility, "visibility", VISIBILITIES)?;
    doc.summary = input.summary;
    doc.other_type_name = None;
    if doc.kind == "OTHER" {
        doc.other_type_name = Some(
            input
                .other_type_name
                .filter(|o| !o.trim().is_empty())
                .ok_or_else(|| {
                    RestError::bad_request("otherTypeName cannot be empty if type is OTHER.")
                })?,
        );
    }
    doc.source_url = None;
    if doc.source_type == "URL" {
        let url = input.source_url.unwrap_or_default();
        let valid = url
            .split_once("://")
            .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && !rest.is_empty());
        if !valid {
            return Err(RestError::bad_request("Invalid document sourceUrl Format"));
        }
        doc.source_url = Some(url);
    }
    if input.inline_content.is_some() {
        doc.inline_content = input.inline_content;
    }
    Ok(())
}

fn document_not_found(id: &str) -> RestError {
    RestError::not_found("document", id)
}

fn api_record<'a>(state: &'a Store, api_id: &str) -> Result<&'a ApiRecord, RestError> {
    state
        .apis
        .get(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))
}

fn api_record_mut<'a>(state: &'a mut Store, api_id: &str) -> Result<&'a mut ApiRecord, RestError> {
    state
        .apis
        .get_mut(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))
}

/// An API the Developer Portal shows.
fn shown<'a>(state: &'a Store, api_id: &str) -> Result<&'a ApiRecord, RestError> {
    state
        .apis
        .get(api_id)
        .filter(|r| crate::devportal::visible_in_devportal(&r.api))
        .ok_or_else(|| RestError::api_not_found(api_id))
}

/// The Developer Portal's `Document`: what a reader needs, not who wrote it or how it is kept.
fn devportal_json(doc: &Document) -> serde_json::Value {
    json!({"documentId": doc.document_id, "name": doc.name, "type": doc.kind,
        "summary": doc.summary, "sourceType": doc.source_type, "sourceUrl": doc.source_url,
        "otherTypeName": doc.other_type_name})
}

fn list_json(record: &ApiRecord, params: &BTreeMap<String, String>, devportal: bool) -> RestResult {
    let all: Vec<serde_json::Value> = record
        .documents
        .iter()
        .map(|d| {
            if devportal {
                devportal_json(d)
            } else {
                json!(d)
            }
        })
        .collect();
    let (list, offset, limit) = page(&all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, record.documents.len())}),
    ))
}

fn find<'a>(record: &'a ApiRecord, id: &str) -> Result<&'a Document, RestError> {
    record
        .documents
        .iter()
        .find(|d| d.document_id == id)
        .ok_or_else(|| document_not_found(id))
}

/// The content as WSO2 serves it: inline and markdown text as `text/plain`, a file as itself,
/// a URL as a 303 to it.
fn content_response(doc: &Document) -> Response {
    match doc.source_type.as_str() {
        "URL" => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Some(v) = doc
                .source_url
                .as_deref()
                .and_then(|u| HeaderValue::from_str(u).ok())
            {
                response.headers_mut().insert(header::LOCATION, v);
            }
            response
        }
        "FILE" => match &doc.file {
            Some(file) => file.response(),
            None => document_not_found(&doc.document_id).into_response(),
        },
        _ => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            doc.inline_content.clone().unwrap_or_default(),
        )
            .into_response(),
    }
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, DOCUMENT_MANAGE])?;
    list_json(api_record(&cp.lock(), &api_id)?, &params, false)
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, DOCUMENT_CREATE, DOCUMENT_MANAGE],
    )?;
    let mut input: DocumentInput = parse_json(&body)?;
    checked(&input)?;
    let name = input
        .name
        .take()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Document name cannot be empty"))?;
    let now = cp.now_millis().to_string();
    let mut doc = Document {
        document_id: String::new(),
        name,
        kind: String::new(),
        summary: None,
        source_type: String::new(),
        source_url: None,
        file_name: None,
        inline_content: None,
        other_type_name: None,
        visibility: String::new(),
        created_time: now.clone(),
        created_by: caller.username.clone(),
        last_updated_time: now,
        last_updated_by: caller.username.clone(),
        file: None,
    };
    apply(&mut doc, input)?;
    let mut state = cp.lock();
    let record = api_record_mut(&mut state, &api_id)?;
    if record.documents.iter().any(|d| d.name == doc.name) {
        return Err(RestError::conflict(format!(
            "Requested document '{}' already exists",
            doc.name
        )));
    }
    doc.document_id = cp.new_id();
    record.documents.push(doc.clone());
    Ok(with_location(
        json_response(StatusCode::CREATED, &doc),
        &cp.settings().mgmt_base_url(),
        &format!(
            "{PUBLISHER_BASE}/apis/{api_id}/documents/{}",
            doc.document_id
        ),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, doc_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, DOCUMENT_MANAGE])?;
    let state = cp.lock();
    Ok(json_response(
        StatusCode::OK,
        find(api_record(&state, &api_id)?, &doc_id)?,
    ))
}

/// `PUT`: every field but the name (WSO2 refuses a rename) and the id.
pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, doc_id)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, DOCUMENT_CREATE, DOCUMENT_MANAGE],
    )?;
    let input: DocumentInput = parse_json(&body)?;
    checked(&input)?;
    let now = cp.now_millis().to_string();
    let mut state = cp.lock();
    let record = api_record_mut(&mut state, &api_id)?;
    let doc = record
        .documents
        .iter_mut()
        .find(|d| d.document_id == doc_id)
        .ok_or_else(|| document_not_found(&doc_id))?;
    if let Some(name) = &input.name
        && name.trim() != doc.name
    {
        return Err(RestError::bad_request("Document name cannot be changed"));
    }
    let mut updated = doc.clone();
    apply(&mut updated, input)?;
    updated.last_updated_time = now;
    updated.last_updated_by = caller.username;
    *doc = updated.clone();
    Ok(json_response(StatusCode::OK, updated))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, doc_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, DOCUMENT_MANAGE])?;
    let mut state = cp.lock();
    let record = api_record_mut(&mut state, &api_id)?;
    let before = record.documents.len();
    record.documents.retain(|d| d.document_id != doc_id);
    if record.documents.len() == before {
        return Err(document_not_found(&doc_id));
    }
    Ok(StatusCode::OK.into_response())
}

pub async fn get_content(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, doc_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, DOCUMENT_MANAGE])?;
    let state = cp.lock();
    Ok(content_response(find(
        api_record(&state, &api_id)?,
        &doc_id,
    )?))
}

/// `POST …/content`: a `file` for a FILE document, `inlineContent` for an INLINE or
/// MARKDOWN one (`addAPIDocumentContent`).
pub async fn add_content(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, doc_id)): Path<(String, String)>,
    form: Form,
) -> RestResult {
    let caller = cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, DOCUMENT_CREATE, DOCUMENT_MANAGE],
    )?;
    let file = form.0.get("file");
    let inline = form.0.get("inlineContent");
    let now = cp.now_millis().to_string();
    let mut state = cp.lock();
    let record = api_record_mut(&mut state, &api_id)?;
    let doc = record
        .documents
        .iter_mut()
        .find(|d| d.document_id == doc_id)
        .ok_or_else(|| document_not_found(&doc_id))?;
    match (file, inline, doc.source_type.as_str()) {
        (Some(_), Some(_), _) => {
            return Err(RestError::bad_request(
                "Only one of 'file' and 'inlineContent' should be specified",
            ));
        }
        (Some(part), None, "FILE") => {
            let media_type = guess_media_type(part.file_name.as_deref())
                .unwrap_or("application/octet-stream")
                .to_owned();
            doc.file_name = part.file_name.clone();
            doc.file = Some(StoredFile::new(part, media_type));
        }
        (None, Some(part), "INLINE" | "MARKDOWN") => doc.inline_content = Some(part.text()),
        (None, None, _) => {
            return Err(RestError::bad_request(
                "Either 'file' or 'inlineContent' should be specified",
            ));
        }
        (Some(_), None, kind) | (None, Some(_), kind) => {
            return Err(RestError::bad_request(format!(
                "Source type of document {doc_id} is {kind}: the content does not fit it"
            )));
        }
    }
    doc.last_updated_time = now;
    doc.last_updated_by = caller.username;
    Ok(json_response(StatusCode::OK, &*doc))
}

/// `POST …/documents/validate?name=`: 200 when the API has a document of that name, else 404.
pub async fn validate_name(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, DOCUMENT_CREATE, DOCUMENT_MANAGE],
    )?;
    // `validateDocument(apiId, name, …)`: `name` is `@NotNull`.
    crate::constraints::Constraints::new()
        .required_param("validateDocument", 1, params.contains_key("name"))
        .check()?;
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Document name should not be empty"))?;
    let state = cp.lock();
    if api_record(&state, &api_id)?
        .documents
        .iter()
        .any(|d| &d.name == name)
    {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(RestError::not_found("document", name))
    }
}

/// Media types WSO2 accepts for a thumbnail (`RestApiConstants.ALLOWED_THUMBNAIL_EXTENSIONS`).
fn guess_media_type(file_name: Option<&str>) -> Option<&'static str> {
    let ext = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" => "text/markdown",
        "json" => "application/json",
        "yaml" | "yml" => "application/x-yaml",
        _ => return None,
    })
}

/// The `file` part of a thumbnail upload, an image by its name.
pub(crate) fn thumbnail_file(form: &Form) -> Result<StoredFile, RestError> {
    let part = form
        .0
        .get("file")
        .ok_or_else(|| RestError::bad_request("A thumbnail 'file' is required"))?;
    let media_type = guess_media_type(part.file_name.as_deref())
        .filter(|m| m.starts_with("image/"))
        .ok_or_else(|| {
            RestError::bad_request(
                "Unsupported thumbnail: use a jpg, jpeg, png, gif, bmp or svg file",
            )
        })?;
    Ok(StoredFile::new(part, media_type.to_owned()))
}

/// `PUT /apis/{apiId}/thumbnail`: an image (`jpg`, `jpeg`, `png`, `gif`, `bmp`, `svg`, by
/// name); answers `FileInfo`.
pub async fn put_thumbnail(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    form: Form,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let file = thumbnail_file(&form)?;
    let media_type = file.media_type.clone();
    let mut state = cp.lock();
    let record = api_record_mut(&mut state, &api_id)?;
    record.thumbnail = Some(file);
    Ok(json_response(
        StatusCode::OK,
        json!({"relativePath": format!("/apis/{api_id}/thumbnail"), "mediaType": media_type}),
    ))
}

/// The thumbnail, or 204 when there is none (`getAPIThumbnail`: `Response.noContent()`).
fn thumbnail_response(record: &ApiRecord) -> Response {
    match &record.thumbnail {
        Some(file) => file.response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

pub async fn get_thumbnail(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    Ok(thumbnail_response(api_record(&cp.lock(), &api_id)?))
}

/// The Developer Portal's reads: anonymous callers welcome, APIs it shows only.
pub mod devportal {
    use super::*;

    fn caller_ok(cp: &ControlPlane, headers: &HeaderMap) -> Result<(), RestError> {
        if headers.contains_key(header::AUTHORIZATION) {
            cp.authorize(headers, &[])?;
        }
        Ok(())
    }

    pub async fn list(
        State(cp): State<Arc<ControlPlane>>,
        headers: HeaderMap,
        Path(api_id): Path<String>,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        caller_ok(&cp, &headers)?;
        list_json(shown(&cp.lock(), &api_id)?, &params, true)
    }

    pub async fn get_one(
        State(cp): State<Arc<ControlPlane>>,
        headers: HeaderMap,
        Path((api_id, doc_id)): Path<(String, String)>,
    ) -> RestResult {
        caller_ok(&cp, &headers)?;
        let state = cp.lock();
        Ok(json_response(
            StatusCode::OK,
            devportal_json(find(shown(&state, &api_id)?, &doc_id)?),
        ))
    }

    pub async fn get_content(
        State(cp): State<Arc<ControlPlane>>,
        headers: HeaderMap,
        Path((api_id, doc_id)): Path<(String, String)>,
    ) -> RestResult {
        caller_ok(&cp, &headers)?;
        let state = cp.lock();
        Ok(content_response(find(shown(&state, &api_id)?, &doc_id)?))
    }

    pub async fn get_thumbnail(
        State(cp): State<Arc<ControlPlane>>,
        headers: HeaderMap,
        Path(api_id): Path<String>,
    ) -> RestResult {
        caller_ok(&cp, &headers)?;
        Ok(thumbnail_response(shown(&cp.lock(), &api_id)?))
    }
}
