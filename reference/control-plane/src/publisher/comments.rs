//! Comments on an API, from the Publisher (`entryPoint: publisher`) and the Developer Portal
//! (`devPortal`, on the APIs it shows), as WSO2's `CommentMappingUtil` answers them: top-level
//! comments with their replies (one level, as WSO2 nests them), edited by their author only,
//! deleted by their author or an admin (`apim:admin` / `apim:comment_manage`).

use super::{RestResult, json_response, parse_json};
use crate::ControlPlane;
use crate::access::Caller;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::rest::{DEVPORTAL_BASE, JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::{ApiRecord, State as Store};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `PostRequestBody.content`'s `maxLength`.
const CONTENT_MAX: usize = 512;

/// A stored comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub content: String,
    pub created_time: i64,
    pub created_by: String,
    pub updated_time: Option<i64>,
    pub category: String,
    pub parent_comment_id: Option<String>,
    /// `publisher` or `devPortal`.
    pub entry_point: String,
}

/// Which portal a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Portal {
    Publisher,
    DevPortal,
}

impl Portal {
    fn entry_point(self) -> &'static str {
        match self {
            Self::Publisher => "publisher",
            Self::DevPortal => "devPortal",
        }
    }

    fn base(self) -> &'static str {
        match self {
            Self::Publisher => PUBLISHER_BASE,
            Self::DevPortal => DEVPORTAL_BASE,
        }
    }

    /// The API, as this portal may see it.
    fn api<'a>(self, state: &'a Store, api_id: &str) -> Result<&'a ApiRecord, RestError> {
        state
            .apis
            .get(api_id)
            .filter(|r| self == Self::Publisher || crate::devportal::visible_in_devportal(&r.api))
            .ok_or_else(|| RestError::api_not_found(api_id))
    }

    fn authorize_read(self, cp: &ControlPlane, headers: &HeaderMap) -> Result<(), RestError> {
        match self {
            Self::Publisher => {
                cp.authorize(headers, &[API_VIEW, COMMENT_VIEW, COMMENT_MANAGE])?;
            }
            // Anonymous visitors read the portal.
            Self::DevPortal => {
                if headers.contains_key(http::header::AUTHORIZATION) {
                    cp.authorize(headers, &[])?;
                }
            }
        }
        Ok(())
    }

    fn authorize_write(self, cp: &ControlPlane, headers: &HeaderMap) -> Result<Caller, RestError> {
        match self {
            Self::Publisher => cp.authorize(headers, &[COMMENT_WRITE, COMMENT_MANAGE]),
            Self::DevPortal => cp.authorize(headers, &[SUBSCRIBE, COMMENT_WRITE, COMMENT_MANAGE]),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CommentInput {
    content: Option<String>,
    category: Option<String>,
}

fn content(input: &CommentInput) -> Result<String, RestError> {
    let content = input
        .content
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| RestError::bad_request("Content cannot be empty"))?;
    if content.chars().count() > CONTENT_MAX {
        return Err(RestError::bad_request(format!(
            "Comment content is longer than {CONTENT_MAX} characters"
        )));
    }
    Ok(content.to_owned())
}

fn comment_not_found(id: &str) -> RestError {
    RestError::not_found("comment", id)
}

/// `limit`/`offset`-style numbers; CXF answers 404 for one that does not convert.
fn number(
    params: &BTreeMap<String, String>,
    name: &str,
    default: usize,
) -> Result<usize, RestError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            RestError::parameter_not_convertible(format!(
                "Invalid value '{v}' for query parameter '{name}': expected a non-negative integer"
            ))
        }),
    }
}

/// `Comment`, with its replies paged by `reply_limit` / `reply_offset`.
fn comment_json(record: &ApiRecord, c: &Comment, reply_limit: usize, reply_offset: usize) -> Value {
    let replies: Vec<&Comment> = record
        .comments
        .iter()
        .filter(|r| r.parent_comment_id.as_deref() == Some(c.id.as_str()))
        .collect();
    let page: Vec<Value> = replies
        .iter()
        .skip(reply_offset)
        .take(reply_limit)
        .map(|r| flat_json(r))
        .collect();
    let mut value = flat_json(c);
    value["replies"] = json!({"count": page.len(), "list": page,
        "pagination": pagination(reply_offset, reply_limit, replies.len())});
    value
}

/// `Comment` without its replies.
fn flat_json(c: &Comment) -> Value {
    let mut value = json!({
        "id": c.id,
        "content": c.content,
        "createdTime": super::rfc3339(c.created_time),
        "createdBy": c.created_by,
        "category": c.category,
        "entryPoint": c.entry_point,
        "commenterInfo": {"fullName": c.created_by},
    });
    if let Some(t) = c.updated_time {
        value["updatedTime"] = json!(super::rfc3339(t));
    }
    if let Some(p) = &c.parent_comment_id {
        value["parentCommentId"] = json!(p);
    }
    value
}

/// The page of `items` selected by `limit` / `offset`, as a `CommentList`.
fn comment_list(items: Vec<Value>, params: &BTreeMap<String, String>) -> Result<Value, RestError> {
    let limit = number(params, "limit", super::apis::DEFAULT_LIMIT)?;
    let offset = number(params, "offset", 0)?;
    let total = items.len();
    let list: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Ok(json!({"count": list.len(), "list": list, "pagination": pagination(offset, limit, total)}))
}

async fn list(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    api_id: &str,
    params: &BTreeMap<String, String>,
) -> RestResult {
    portal.authorize_read(cp, headers)?;
    let state = cp.lock();
    let record = portal.api(&state, api_id)?;
    let top: Vec<Value> = record
        .comments
        .iter()
        .filter(|c| c.parent_comment_id.is_none())
        .map(|c| comment_json(record, c, super::apis::DEFAULT_LIMIT, 0))
        .collect();
    Ok(json_response(StatusCode::OK, comment_list(top, params)?))
}

async fn add(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    api_id: &str,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> RestResult {
    let caller = portal.authorize_write(cp, headers)?;
    let input: CommentInput = parse_json(body)?;
    let text = content(&input)?;
    let parent = params
        .get("replyTo")
        .or_else(|| params.get("parentCommentID"))
        .filter(|p| !p.is_empty())
        .cloned();
    let now = cp.now_millis();
    let mut state = cp.lock();
    portal.api(&state, api_id)?;
    let record = state
        .apis
        .get_mut(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))?;
    // Replies are one level deep: a reply to a reply joins its parent's thread.
    let parent = match parent {
        Some(p) => {
            let found = record
                .comments
                .iter()
                .find(|c| c.id == p)
                .ok_or_else(|| comment_not_found(&p))?;
            Some(found.parent_comment_id.clone().unwrap_or(p))
        }
        None => None,
    };
    let comment = Comment {
        id: cp.new_id(),
        content: text,
        created_time: now,
        created_by: caller.username,
        updated_time: None,
        category: input
            .category
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "general".to_owned()),
        parent_comment_id: parent,
        entry_point: portal.entry_point().to_owned(),
    };
    record.comments.push(comment.clone());
    let body = comment_json(record, &comment, super::apis::DEFAULT_LIMIT, 0);
    Ok(with_location(
        json_response(StatusCode::CREATED, body),
        &cp.settings().mgmt_base_url(),
        &format!("{}/apis/{api_id}/comments/{}", portal.base(), comment.id),
    ))
}

async fn get_one(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    (api_id, comment_id): (&str, &str),
    params: &BTreeMap<String, String>,
) -> RestResult {
    portal.authorize_read(cp, headers)?;
    let reply_limit = number(params, "replyLimit", super::apis::DEFAULT_LIMIT)?;
    let reply_offset = number(params, "replyOffset", 0)?;
    let state = cp.lock();
    let record = portal.api(&state, api_id)?;
    let comment = record
        .comments
        .iter()
        .find(|c| c.id == comment_id)
        .ok_or_else(|| comment_not_found(comment_id))?;
    Ok(json_response(
        StatusCode::OK,
        comment_json(record, comment, reply_limit, reply_offset),
    ))
}

async fn replies(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    (api_id, comment_id): (&str, &str),
    params: &BTreeMap<String, String>,
) -> RestResult {
    portal.authorize_read(cp, headers)?;
    let state = cp.lock();
    let record = portal.api(&state, api_id)?;
    if !record.comments.iter().any(|c| c.id == comment_id) {
        return Err(comment_not_found(comment_id));
    }
    let items: Vec<Value> = record
        .comments
        .iter()
        .filter(|c| c.parent_comment_id.as_deref() == Some(comment_id))
        .map(flat_json)
        .collect();
    Ok(json_response(StatusCode::OK, comment_list(items, params)?))
}

/// `PATCH`: the author changes the content (and category); anyone else is refused with 403.
async fn edit(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    (api_id, comment_id): (&str, &str),
    body: &[u8],
) -> RestResult {
    let caller = portal.authorize_write(cp, headers)?;
    let input: CommentInput = parse_json(body)?;
    let text = content(&input)?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    portal.api(&state, api_id)?;
    let record = state
        .apis
        .get_mut(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))?;
    let comment = record
        .comments
        .iter_mut()
        .find(|c| c.id == comment_id)
        .ok_or_else(|| comment_not_found(comment_id))?;
    if comment.created_by != caller.username {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            403,
            "Forbidden",
            "You don't have permission to edit this comment",
        ));
    }
    comment.content = text;
    if let Some(category) = input.category.filter(|c| !c.is_empty()) {
        comment.category = category;
    }
    comment.updated_time = Some(now);
    let comment = comment.clone();
    let record = &state.apis[api_id];
    Ok(json_response(
        StatusCode::OK,
        comment_json(record, &comment, super::apis::DEFAULT_LIMIT, 0),
    ))
}

/// `DELETE`: by the author or an admin; a thread goes with its replies.
async fn remove(
    portal: Portal,
    cp: &ControlPlane,
    headers: &HeaderMap,
    (api_id, comment_id): (&str, &str),
) -> RestResult {
    let caller = match portal {
        Portal::Publisher => cp.authorize(headers, &[COMMENT_WRITE, COMMENT_MANAGE, ADMIN])?,
        Portal::DevPortal => {
            cp.authorize(headers, &[SUBSCRIBE, COMMENT_WRITE, COMMENT_MANAGE, ADMIN])?
        }
    };
    let admin = caller
        .scopes
        .iter()
        .any(|s| s == ADMIN || s == COMMENT_MANAGE);
    let mut state = cp.lock();
    portal.api(&state, api_id)?;
    let record = state
        .apis
        .get_mut(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))?;
    let comment = record
        .comments
        .iter()
        .find(|c| c.id == comment_id)
        .ok_or_else(|| comment_not_found(comment_id))?;
    if comment.created_by != caller.username && !admin {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            403,
            "Forbidden",
            "You don't have permission to delete this comment",
        ));
    }
    record
        .comments
        .retain(|c| c.id != comment_id && c.parent_comment_id.as_deref() != Some(comment_id));
    Ok(StatusCode::OK.into_response())
}

/// The routes' handlers, one set per portal.
macro_rules! handlers {
    ($module:ident, $portal:expr) => {
        pub mod $module {
            use super::*;

            pub async fn list(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path(api_id): Path<String>,
                Query(params): Query<BTreeMap<String, String>>,
            ) -> RestResult {
                super::list($portal, &cp, &headers, &api_id, &params).await
            }

            pub async fn add(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path(api_id): Path<String>,
                Query(params): Query<BTreeMap<String, String>>,
                body: JsonBody,
            ) -> RestResult {
                super::add($portal, &cp, &headers, &api_id, &params, &body).await
            }

            pub async fn get_one(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path((api_id, comment_id)): Path<(String, String)>,
                Query(params): Query<BTreeMap<String, String>>,
            ) -> RestResult {
                super::get_one($portal, &cp, &headers, (&api_id, &comment_id), &params).await
            }

            pub async fn replies(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path((api_id, comment_id)): Path<(String, String)>,
                Query(params): Query<BTreeMap<String, String>>,
            ) -> RestResult {
                super::replies($portal, &cp, &headers, (&api_id, &comment_id), &params).await
            }

            pub async fn edit(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path((api_id, comment_id)): Path<(String, String)>,
                body: JsonBody,
            ) -> RestResult {
                super::edit($portal, &cp, &headers, (&api_id, &comment_id), &body).await
            }

            pub async fn remove(
                State(cp): State<Arc<ControlPlane>>,
                headers: HeaderMap,
                Path((api_id, comment_id)): Path<(String, String)>,
            ) -> RestResult {
                super::remove($portal, &cp, &headers, (&api_id, &comment_id)).await
            }
        }
    };
}

handlers!(publisher, Portal::Publisher);
handlers!(devportal, Portal::DevPortal);
