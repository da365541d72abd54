//! API documents, thumbnails and comments, on the Publisher and the Developer Portal.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn documents_are_created_read_updated_given_content_and_deleted() {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!("{ALL_SCOPES} apim:document_manage"))
        .await;
    let api_id = h.published_pizzashack().await;
    let docs = format!("{PUBLISHER}/apis/{api_id}/documents");

    let (status, doc) = h
        .call(
            "POST",
            &docs,
            Some(
                json!({"name": "Ordering", "type": "HOWTO", "sourceType": "INLINE",
                "visibility": "API_LEVEL", "summary": "How to order"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let doc_id = doc["documentId"].as_str().unwrap().to_owned();
    assert_eq!(doc["createdBy"], "admin");
    // The same name again, and the spec's required fields and enums.
    for (body, status) in [
        (
            json!({"name": "Ordering", "type": "HOWTO", "sourceType": "INLINE", "visibility": "API_LEVEL"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"type": "HOWTO", "sourceType": "INLINE", "visibility": "API_LEVEL"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "type": "NOVEL", "sourceType": "INLINE", "visibility": "API_LEVEL"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "type": "OTHER", "sourceType": "INLINE", "visibility": "API_LEVEL"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "type": "HOWTO", "sourceType": "URL", "visibility": "API_LEVEL", "sourceUrl": "nope"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x".repeat(61), "type": "HOWTO", "sourceType": "INLINE", "visibility": "API_LEVEL"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, error) = h.call("POST", &docs, Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {error}");
    }

    // Content: inline text, answered as text/plain.
    let (status, updated) = h
        .call_form(
            "POST",
            &format!("{docs}/{doc_id}/content"),
            &[("inlineContent", None, "Call POST /order.")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (status, text) = h
        .call("GET", &format!("{docs}/{doc_id}/content"), None)
        .await;
    assert_eq!((status, text), (StatusCode::OK, json!("Call POST /order.")));
    let (status, _) = h
        .call_form(
            "POST",
            &format!("{docs}/{doc_id}/content"),
            &[("file", Some("a.pdf"), "%PDF")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a file for an INLINE document"
    );

    // A FILE document answers its file.
    let (_, file_doc) = h
        .call(
            "POST",
            &docs,
            Some(json!({"name": "Spec", "type": "SAMPLES", "sourceType": "FILE", "visibility": "API_LEVEL"})),
        )
        .await;
    let file_id = file_doc["documentId"].as_str().unwrap();
    let (status, with_file) = h
        .call_form(
            "POST",
            &format!("{docs}/{file_id}/content"),
            &[("file", Some("notes.txt"), "plain notes")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{with_file}");
    assert_eq!(with_file["fileName"], "notes.txt");
    let (_, body) = h
        .call("GET", &format!("{docs}/{file_id}/content"), None)
        .await;
    assert_eq!(body, json!("plain notes"));

    // Update keeps the name; a rename is refused.
    let (status, updated) = h
        .call(
            "PUT",
            &format!("{docs}/{doc_id}"),
            Some(
                json!({"name": "Ordering", "type": "SAMPLES", "sourceType": "INLINE",
                "visibility": "API_LEVEL"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["type"], "SAMPLES");
    assert_eq!(updated["inlineContent"], "Call POST /order.");
    let (status, _) = h
        .call(
            "PUT",
            &format!("{docs}/{doc_id}"),
            Some(
                json!({"name": "Renamed", "type": "SAMPLES", "sourceType": "INLINE",
                "visibility": "API_LEVEL"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The name check, the list, the Developer Portal's copy.
    let (status, _) = h
        .call("POST", &format!("{docs}/validate?name=Ordering"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("POST", &format!("{docs}/validate?name=Nothing"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = h.call("GET", &docs, None).await;
    assert_eq!(list["count"], 2);
    let (status, list) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/documents"),
            None,
        )
        .await;
    assert_eq!((status, list["count"].as_u64()), (StatusCode::OK, Some(2)));
    let (status, text) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/documents/{doc_id}/content"),
            None,
        )
        .await;
    assert_eq!((status, text), (StatusCode::OK, json!("Call POST /order.")));

    let (status, _) = h.call("DELETE", &format!("{docs}/{doc_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("GET", &format!("{docs}/{doc_id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call("GET", &format!("{PUBLISHER}/apis/nope/documents"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_thumbnail_is_put_and_served_by_both_portals() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let uri = format!("{PUBLISHER}/apis/{api_id}/thumbnail");
    let (status, _) = h.call("GET", &uri, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, info) = h
        .call_form("PUT", &uri, &[("file", Some("logo.png"), "PNGDATA")])
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["mediaType"], "image/png");
    let (status, body) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/thumbnail"),
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!("PNGDATA")));
    let (status, _) = h
        .call_form("PUT", &uri, &[("file", Some("logo.exe"), "MZ")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn comments_thread_and_only_their_author_edits_them() {
    let mut h = harness().await;
    let api_id = h.published_pizzashack().await;
    h.token = h
        .token_with_scopes(&format!(
            "{ALL_SCOPES} apim:comment_write apim:comment_view"
        ))
        .await;
    let uri = format!("{PUBLISHER}/apis/{api_id}/comments");
    let (status, comment) = h
        .call("POST", &uri, Some(json!({"content": "Needs a vegan menu"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    assert_eq!(comment["entryPoint"], "publisher");
    assert_eq!(comment["category"], "general");
    let id = comment["id"].as_str().unwrap().to_owned();

    // A reply from the Developer Portal, and a reply to the reply joins the same thread.
    let dev = format!("{DEVPORTAL}/apis/{api_id}/comments");
    let (status, reply) = h
        .call(
            "POST",
            &format!("{dev}?replyTo={id}"),
            Some(json!({"content": "+1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["entryPoint"], "devPortal");
    assert_eq!(reply["parentCommentId"], id.as_str());
    let reply_id = reply["id"].as_str().unwrap();
    let (_, nested) = h
        .call(
            "POST",
            &format!("{dev}?replyTo={reply_id}"),
            Some(json!({"content": "+2"})),
        )
        .await;
    assert_eq!(nested["parentCommentId"], id.as_str());

    let (_, list) = h.call("GET", &uri, None).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["replies"]["count"], 2);
    let (_, replies) = h
        .call("GET", &format!("{uri}/{id}/replies?limit=1"), None)
        .await;
    assert_eq!(
        (
            replies["count"].as_u64(),
            replies["pagination"]["total"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // Edits: by the author (the check is on `createdBy`).
    let (status, edited) = h
        .call(
            "PATCH",
            &format!("{uri}/{id}"),
            Some(json!({"content": "Needs a vegan pizza"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["content"], "Needs a vegan pizza");
    assert!(edited["updatedTime"].is_string());
    let (status, _) = h
        .call("POST", &uri, Some(json!({"content": "x".repeat(513)})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.call("POST", &uri, Some(json!({"content": "  "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .call(
            "POST",
            &format!("{uri}?replyTo=nope"),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting a thread takes its replies.
    let (status, _) = h.call("DELETE", &format!("{uri}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = h.call("GET", &uri, None).await;
    assert_eq!(list["count"], 0);
    let (status, _) = h.call("GET", &format!("{uri}/{reply_id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
