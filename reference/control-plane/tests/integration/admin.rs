//! Admin v4 throttling: policies, deny policies and the events they publish, driven through
//! the router with `oneshot`.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "/api/am/admin/v4";
const ADMIN_SCOPES: &str = "apim:admin apim:tier_view apim:tier_manage apim:bl_view apim:bl_manage";

async fn admin() -> (Harness, String) {
    let h = harness().await;
    let token = h.token_with_scopes(ADMIN_SCOPES).await;
    (h, token)
}

async fn call(
    h: &Harness,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    h.call_as(Some(token), method, &format!("{ADMIN}{uri}"), body)
        .await
}

fn names(list: &Value) -> Vec<String> {
    list["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policyName"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn wso2s_built_in_policies_are_there_from_the_start() {
    let (h, token) = admin().await;
    let (status, apps) = call(&h, &token, "GET", "/throttling/policies/application", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&apps),
        ["50PerMin", "20PerMin", "10PerMin", "Unlimited"]
    );
    assert_eq!(apps["count"], 4);
    let (_, subs) = call(&h, &token, "GET", "/throttling/policies/subscription", None).await;
    assert_eq!(
        names(&subs),
        ["Gold", "Silver", "Bronze", "Unauthenticated", "Unlimited"]
    );
    let gold = &subs["list"][0];
    assert_eq!(gold["type"], "SubscriptionThrottlePolicy");
    assert_eq!(gold["stopOnQuotaReach"], true);
    assert_eq!(gold["billingPlan"], "FREE");
    assert_eq!(
        gold["defaultLimit"],
        json!({"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 5000}})
    );
    let (_, advanced) = call(&h, &token, "GET", "/throttling/policies/advanced", None).await;
    assert_eq!(
        names(&advanced),
        ["50KPerMin", "20KPerMin", "10KPerMin", "Unlimited"]
    );
    assert!(
        advanced["list"][0].get("conditionalGroups").is_none(),
        "Info shape in lists"
    );
}

#[tokio::test]
async fn policy_calls_need_an_admin_or_tier_scope() {
    let (h, _) = admin().await;
    let (status, body) = call(
        &h,
        &h.token,
        "GET",
        "/throttling/policies/application",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let viewer = h.token_with_scopes("apim:tier_view").await;
    let (status, _) = call(&h, &viewer, "GET", "/throttling/policies/application", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &h,
        &viewer,
        "POST",
        "/throttling/policies/application",
        Some(
            json!({"policyName": "x", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 5}}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_application_policy_is_created_updated_and_deleted_with_an_event_each() {
    let (h, token) = admin().await;
    let seq = h.cp.event_seq();
    let body = json!({"policyName": "5PerMin", "description": "five",
        "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 5}}});
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/application",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["policyId"].as_str().unwrap().to_owned();
    assert_eq!(created["displayName"], "5PerMin");
    assert_eq!(created["isDeployed"], true);
    assert_eq!(created["type"], "ApplicationThrottlePolicy");

    let (status, dup) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/application",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        dup["description"],
        "Application Policy with name 5PerMin already exists"
    );

    let (status, updated) = call(
        &h,
        &token,
        "PUT",
        &format!("/throttling/policies/application/{id}"),
        Some(
            json!({"policyName": "renamed", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "hour", "unitTime": 1, "requestCount": 7}}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["policyName"], "5PerMin", "the name is kept");
    assert_eq!(updated["policyId"], id.as_str());
    assert_eq!(updated["defaultLimit"]["requestCount"]["timeUnit"], "hour");

    let (status, _) = call(
        &h,
        &token,
        "DELETE",
        &format!("/throttling/policies/application/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = call(
        &h,
        &token,
        "GET",
        &format!("/throttling/policies/application/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone["description"],
        format!("Requested application policy with Id '{id}' not found")
    );

    let events = h.events_after(seq).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["POLICY_CREATE", "POLICY_UPDATE", "POLICY_DELETE"]);
    assert_eq!(events[0]["policy"]["policyName"], "5PerMin");
    assert_eq!(events[2]["policyLevel"], "application");
    assert_eq!(events[2]["policyName"], "5PerMin");
}

#[tokio::test]
async fn a_policy_still_attached_cannot_be_deleted_and_wso2_answers_500() {
    let (h, token) = admin().await;
    h.create_application("guide-app").await; // tier Unlimited
    let (_, apps) = call(&h, &token, "GET", "/throttling/policies/application", None).await;
    let unlimited = apps["list"][3]["policyId"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &h,
        &token,
        "DELETE",
        &format!("/throttling/policies/application/{unlimited}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body["description"],
        format!("Error while deleting Application level policy : {unlimited}")
    );
    // Unused built-ins can go, as in WSO2.
    let ten = apps["list"][2]["policyId"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &h,
        &token,
        "DELETE",
        &format!("/throttling/policies/application/{ten}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_limit_or_body_is_a_400() {
    let (h, token) = admin().await;
    let (status, _) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/subscription",
        Some(
            json!({"policyName": "x", "defaultLimit": {"type": "BANDWIDTHLIMIT",
            "bandwidth": {"timeUnit": "min", "unitTime": 1, "dataAmount": 5, "dataUnit": "TB"}}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/advanced",
        Some(json!({"policyName": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&h, &token, "GET", "/throttling/policies/custom-level", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_api_deny_policy_is_published_and_a_duplicate_is_a_409_with_wso2s_message() {
    let (h, token) = admin().await;
    h.create_pizzashack().await;
    let seq = h.cp.event_seq();
    let body = json!({"conditionType": "API", "conditionValue": "/pizzashack/1.0.0",
        "conditionStatus": true});
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["conditionId"].as_str().unwrap().to_owned();
    let (status, dup) = call(&h, &token, "POST", "/throttling/deny-policies", Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        dup["description"],
        "A black list item with type: API, value: /pizzashack/1.0.0 already exists"
    );
    let (_, list) = call(&h, &token, "GET", "/throttling/deny-policies", None).await;
    assert_eq!(list["count"], 1);
    let (status, _) = call(
        &h,
        &token,
        "DELETE",
        &format!("/throttling/deny-policy/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = h.events_after(seq).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["type"], "BLOCKING");
    assert_eq!(events[0]["state"], true);
    assert_eq!(
        events[0]["condition"]["conditionValue"],
        "/pizzashack/1.0.0"
    );
    assert_eq!(events[1]["state"], false);
}

#[tokio::test]
async fn an_api_deny_policy_for_an_unknown_context_is_a_500_as_in_wso2() {
    let (h, token) = admin().await;
    let (status, body) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(
            json!({"conditionType": "API", "conditionValue": "/deny/1.0", "conditionStatus": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .ends_with("Couldn't Save Block Condition Due to Invalid API Context /deny/1.0"),
        "{body}"
    );
}

#[tokio::test]
async fn ip_deny_policies_are_validated_and_can_be_switched_off() {
    let (h, token) = admin().await;
    let (status, _) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(json!({"conditionType": "IP", "conditionValue": {"fixedIp": "300.1.1.1", "invert": false}})),
    )
    .await;
    // WSO2 answers a malformed address with 500 and says so (its Cucumber suite pins it).
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(json!({"conditionType": "IPRANGE", "conditionValue":
            {"startingIp": "127..0.0.1", "endingIp": "127.0.0.5", "invert": false}})),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let description = body["description"].as_str().unwrap();
    assert!(description.contains("Condition type: IPRANGE"), "{body}");
    assert!(
        description.contains("127..0.0.1 is an invalid ip address format"),
        "{body}"
    );
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(json!({"conditionType": "IPRANGE", "conditionValue":
            {"startingIp": "10.0.0.1", "endingIp": "10.0.0.9", "invert": false}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["conditionStatus"], true);
    let id = created["conditionId"].as_str().unwrap();
    let (status, patched) = call(
        &h,
        &token,
        "PATCH",
        &format!("/throttling/deny-policy/{id}"),
        Some(json!({"conditionStatus": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["conditionStatus"], false);
}

#[tokio::test]
async fn the_internal_throttling_data_has_every_policy_as_of_one_event_sequence() {
    let (h, token) = admin().await;
    let (status, _) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/advanced",
        Some(
            json!({"policyName": "3PerSec", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "sec", "unitTime": 1, "requestCount": 3}}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, data) = h
        .send(
            Request::get("/internal/data/v1/throttling-data")
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(data["eventSeq"], h.cp.event_seq());
    assert_eq!(data["policies"].as_array().unwrap().len(), 14);
    let (status, _) = h
        .send(
            Request::get("/internal/data/v1/throttling-data")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_application_deny_policy_must_name_an_existing_application() {
    let (h, token) = admin().await;
    h.create_application("shop").await;
    let deny = |value: &str| json!({"conditionType": "APPLICATION", "conditionValue": value});
    let (status, body) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(deny("admin:noSuchApp")),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .contains("Couldn't Save Block Condition Due to Invalid Application name"),
        "{body}"
    );
    let (status, _) = call(&h, &token, "GET", "/throttling/deny-policies", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(deny("admin:shop")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, list) = call(&h, &token, "GET", "/throttling/deny-policies", None).await;
    assert_eq!(list["count"], 1, "the refused one was not stored");
}

#[tokio::test]
async fn a_user_deny_policy_is_stored_with_the_tenant_domain() {
    let (h, token) = admin().await;
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(json!({"conditionType": "USER", "conditionValue": "mallory"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["conditionValue"], "mallory@carbon.super");
    let (status, kept) = call(
        &h,
        &token,
        "POST",
        "/throttling/deny-policies",
        Some(json!({"conditionType": "USER", "conditionValue": "eve@carbon.super"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(kept["conditionValue"], "eve@carbon.super");
}

#[tokio::test]
async fn an_advanced_policy_in_use_cannot_be_deleted_and_wso2_answers_403_900971() {
    let (h, token) = admin().await;
    let api = h.create_pizzashack().await;
    let (status, _) = h
        .call(
            "PUT",
            &format!("/api/am/publisher/v4/apis/{api}"),
            Some(json!({"apiThrottlingPolicy": "10KPerMin"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, advanced) = call(&h, &token, "GET", "/throttling/policies/advanced", None).await;
    let ten_k = advanced["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policyName"] == "10KPerMin")
        .unwrap()["policyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = call(
        &h,
        &token,
        "DELETE",
        &format!("/throttling/policies/advanced/{ten_k}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], 900971);
    assert_eq!(
        body["message"],
        "Cannot delete the advanced throttling policy"
    );
    assert_eq!(
        body["description"],
        "Cannot delete the advanced policy with the name 10KPerMin because it is already \
         assigned to an API/Resource"
    );
}

/// An advanced policy's conditional groups are read as WSO2's DTOs read them: unknown
/// properties dropped, the group's limit checked like the default one (a negative or
/// fractional `unitTime` is refused, not stored and echoed).
#[tokio::test]
async fn conditional_groups_are_read_as_wso2s_dtos_read_them() {
    let (h, token) = admin().await;
    let group = |unit_time: serde_json::Value| {
        json!({"policyName": "Grouped", "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
            "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 50}},
            "conditionalGroups": [{"description": "from the office", "madeUp": 1,
                "conditions": [{"type": "IPCONDITION", "invertCondition": false, "extra": true,
                    "ipCondition": {"ipConditionType": "IPSPECIFIC", "specificIP": "10.0.0.1"}}],
                "limit": {"type": "REQUESTCOUNTLIMIT",
                    "requestCount": {"timeUnit": "min", "unitTime": unit_time, "requestCount": 5}}}]})
    };
    for bad in [json!(-1.5), json!(0), json!("1")] {
        let (status, body) = call(
            &h,
            &token,
            "POST",
            "/throttling/policies/advanced",
            Some(group(bad.clone())),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unitTime {bad}: {body}");
    }
    let (status, created) = call(
        &h,
        &token,
        "POST",
        "/throttling/policies/advanced",
        Some(group(json!(1))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let stored = &created["conditionalGroups"][0];
    assert!(stored.get("madeUp").is_none(), "{stored}");
    assert!(stored["conditions"][0].get("extra").is_none(), "{stored}");
    assert_eq!(stored["description"], "from the office");
    assert_eq!(
        stored["conditions"][0]["ipCondition"]["specificIP"],
        "10.0.0.1"
    );
    assert_eq!(stored["limit"]["requestCount"]["requestCount"], 5);
}

/// `ThrottlePolicy`'s constraints answered with bean validation's 400.
#[tokio::test]
async fn a_policy_breaking_its_schema_gets_the_validation_400() {
    let (h, token) = admin().await;
    let limit = json!({"type": "REQUESTCOUNTLIMIT",
        "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 5}});
    for (body, field) in [
        (
            json!({"policyName": "p".repeat(61), "defaultLimit": limit}),
            "policyName",
        ),
        (json!({"defaultLimit": limit}), "policyName"),
        (
            json!({"policyName": "ok", "description": "d".repeat(1025), "defaultLimit": limit}),
            "description",
        ),
    ] {
        let (status, error) = call(
            &h,
            &token,
            "POST",
            "/throttling/policies/application",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["description"], "Validation Error", "{error}");
        assert_eq!(error["error"][0]["code"], format!("400_{field}"), "{error}");
    }
}
