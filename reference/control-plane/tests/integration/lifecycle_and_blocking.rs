//! Publisher lifecycle reads (`lifecycle-state`, `lifecycle-history`) and subscription
//! blocking (`GET /subscriptions`, `block-subscription`, `unblock-subscription`), with the events
//! the gateways follow.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn lifecycle_state_and_history_follow_each_change() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let (status, lc) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/lifecycle-state"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lc}");
    assert_eq!(lc["state"], "Created");
    assert_eq!(
        lc["availableTransitions"][0],
        json!({"event": "Publish", "targetState": "Published"})
    );

    h.publish(&api_id).await;
    h.clock.advance_millis(60_000);
    let (status, _) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}&action=Block"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, lc) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/lifecycle-state"),
            None,
        )
        .await;
    assert_eq!(lc["state"], "Blocked");
    let events: Vec<&str> = lc["availableTransitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["Deprecate", "Re-Publish"]);

    let (status, history) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/lifecycle-history"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["count"], 3);
    assert_eq!(
        history["list"][0],
        json!({"postState": "CREATED", "user": "admin", "updatedTime": "2023-11-14T22:13:20Z"})
    );
    assert_eq!(history["list"][1]["previousState"], "CREATED");
    assert_eq!(history["list"][1]["postState"], "PUBLISHED");
    assert_eq!(
        history["list"][2],
        json!({"previousState": "PUBLISHED", "postState": "BLOCKED", "user": "admin",
            "updatedTime": "2023-11-14T22:14:20Z"})
    );

    for op in ["lifecycle-state", "lifecycle-history"] {
        let (status, body) = h
            .call("GET", &format!("{PUBLISHER}/apis/nope/{op}"), None)
            .await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (StatusCode::NOT_FOUND, Some(900308))
        );
    }
}

#[tokio::test]
async fn a_provider_blocks_and_unblocks_a_subscription_and_the_gateways_are_told() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Blocked").await;
    let (status, sub) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    let sub_id = sub["subscriptionId"].as_str().unwrap().to_owned();

    let token = h
        .token_with_scopes("apim:api_view apim:subscription_view apim:subscription_block")
        .await;
    let (status, list) = h
        .call_as(
            Some(&token),
            "GET",
            &format!("{PUBLISHER}/subscriptions?apiId={api_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    assert_eq!(
        list["list"][0],
        json!({"subscriptionId": sub_id, "throttlingPolicy": "Gold",
            "subscriptionStatus": "UNBLOCKED",
            "applicationInfo": {"applicationId": app_id, "name": "Blocked", "subscriber": "admin",
                "description": "guide", "subscriptionCount": 1}})
    );

    for (path, expected) in [
        (
            format!("block-subscription?subscriptionId={sub_id}&blockState=PROD_ONLY_BLOCKED"),
            "PROD_ONLY_BLOCKED",
        ),
        (
            format!("block-subscription?subscriptionId={sub_id}&blockState=BLOCKED"),
            "BLOCKED",
        ),
        (
            format!("unblock-subscription?subscriptionId={sub_id}"),
            "UNBLOCKED",
        ),
    ] {
        let before = h.cp.event_seq();
        let (status, body) = h
            .call_as(
                Some(&token),
                "POST",
                &format!("{PUBLISHER}/subscriptions/{path}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let events = h.events_after(before).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "SUBSCRIPTIONS_UPDATE");
        assert_eq!(events[0]["subscription"]["status"], expected);
        // The Developer Portal shows the same state.
        let (_, sub) = h
            .call("GET", &format!("{DEVPORTAL}/subscriptions/{sub_id}"), None)
            .await;
        assert_eq!(sub["status"], expected);
    }

    // A bad block state, an unknown subscription, a missing id; a token without the scope.
    let (status, body) = h
        .call_as(
            Some(&token),
            "POST",
            &format!("{PUBLISHER}/subscriptions/block-subscription?subscriptionId={sub_id}&blockState=ON_HOLD"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["description"], "Invalid blockState ON_HOLD");
    let (status, _) = h
        .call_as(
            Some(&token),
            "POST",
            &format!("{PUBLISHER}/subscriptions/block-subscription?subscriptionId=nope&blockState=BLOCKED"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call_as(
            Some(&token),
            "POST",
            &format!("{PUBLISHER}/subscriptions/unblock-subscription"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/subscriptions/unblock-subscription?subscriptionId={sub_id}"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the guide's token has no subscription scope"
    );
}
