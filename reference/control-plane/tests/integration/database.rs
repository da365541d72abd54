//! The database: a control plane opened again over the file another one wrote serves the same
//! APIs, applications, keys, subscriptions and event log, goes on with new ids and sequence
//! numbers, and refuses a file it cannot read with its path and position.

use crate::common::*;
use http::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tollgate_control_plane::{ControlPlane, ControlPlaneSettings, DATABASE_FILE, Database};
use tollgate_protocol::ManualClock;

/// A fresh, empty folder for one test's runtime home.
fn home(test: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tollgate-cp-database-{}-{test}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(home: &std::path::Path, clock: &ManualClock) -> Result<Arc<ControlPlane>, String> {
    ControlPlane::open(
        ControlPlaneSettings::guide(),
        Arc::new(clock.clone()),
        42,
        Some(Database::in_home(home)),
    )
    .map_err(|e| e.to_string())
}

/// What a client can see of the state: the Publisher's and Developer Portal's lists.
async fn visible(h: &Harness, token: &str, app_id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for uri in [
        format!("{PUBLISHER}/apis"),
        format!("{DEVPORTAL}/apis"),
        format!("{DEVPORTAL}/applications"),
        format!("{DEVPORTAL}/subscriptions?applicationId={app_id}"),
    ] {
        let (status, body) = h.call_as(Some(token), "GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        seen.push(body);
    }
    seen
}

#[tokio::test]
async fn a_control_plane_opened_over_the_database_serves_what_the_last_one_wrote() {
    let home = home("restart");
    let clock = ManualClock::new(1_700_000_000_000);
    let first = harness_over(open(&home, &clock).unwrap(), clock.clone()).await;
    let api_id = first.published_pizzashack().await;
    let app_id = first.create_application("shop").await;
    let (status, sub) = first
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let (status, keys) = first
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"],
                "keyManager": "Resident Key Manager", "callbackUrl": "", "scopes": ["default"],
                "validityTime": "3600"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let app_token = keys["token"]["accessToken"].as_str().unwrap().to_owned();
    let seen = visible(&first, &first.token, &app_id).await;
    let seq = first.cp.event_seq();
    let events = first.events_after(0).await;
    assert!(home.join(DATABASE_FILE).is_file());
    let first_token = first.token.clone();
    drop(first);

    // "The process died, the database did not."
    let second = open(&home, &clock).unwrap();
    assert_eq!(
        second.event_seq(),
        seq,
        "the event log goes on at the same seq"
    );
    let second = harness_over(second, clock.clone()).await;
    // The first control plane's tokens are still good: the signing key and the admin's
    // registered client are the same.
    assert_eq!(visible(&second, &first_token, &app_id).await, seen);
    assert_eq!(visible(&second, &second.token, &app_id).await, seen);
    assert_eq!(second.events_after(0).await[..events.len()], events[..]);
    let info = second
        .cp
        .key_manager()
        .validate_access_token(&app_token)
        .unwrap();
    assert_eq!(info.consumer_key, keys["consumerKey"].as_str().unwrap());

    // New ids, not the ones the first control plane minted from the same seed.
    let new_id = second.create_application("orders").await;
    assert_ne!(new_id, app_id);
    assert_ne!(new_id, api_id);
    assert!(
        second.cp.event_seq() > seq,
        "new events follow the old ones"
    );
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn an_unreadable_database_is_refused_with_its_path_and_position() {
    let home = home("corrupt");
    let file = home.join(DATABASE_FILE);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let clock = ManualClock::new(1_700_000_000_000);

    std::fs::write(&file, "{\n  \"format\": 1,\n  \"control_plane\": [\n").unwrap();
    let error = open(&home, &clock).err().unwrap();
    assert!(
        error.starts_with(&format!("{}:4:0:", file.display())),
        "{error}"
    );
    assert!(error.contains("delete the file"), "{error}");

    std::fs::write(&file, r#"{"format": 99}"#).unwrap();
    let error = open(&home, &clock).err().unwrap();
    assert!(error.contains("database format 99"), "{error}");
    assert!(error.contains(&file.display().to_string()), "{error}");
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn a_change_that_cannot_be_written_is_answered_500_in_wso2_shape() {
    let home = home("unwritable");
    let clock = ManualClock::new(1_700_000_000_000);
    let h = harness_over(open(&home, &clock).unwrap(), clock.clone()).await;
    // A folder where the file should be: the rename over it fails.
    let file = home.join(DATABASE_FILE);
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir_all(file.join("in-the-way")).unwrap();
    let (status, body) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications"),
            Some(json!({"name": "lost", "throttlingPolicy": "Unlimited", "tokenType": "JWT"})),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["code"], 500);
    assert_eq!(body["message"], "Internal Server Error");
    // Reads are not writes: they still answer.
    let (status, _) = h
        .call("GET", &format!("{DEVPORTAL}/applications"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    std::fs::remove_dir_all(&home).unwrap();
}
