//! Admin v4 custom rules (`/throttling/policies/custom`): WSO2's shapes and refusals, the
//! Siddhi subset's located errors, and the `POLICY_*` events the Traffic Manager and gateways
//! follow.

use crate::common::*;
use http::StatusCode;
use serde_json::{Value, json};

const CUSTOM: &str = "/api/am/admin/v4/throttling/policies/custom";
const SCOPES: &str = "apim:admin apim:tier_view apim:tier_manage";

/// `CustomRuleDTO`'s example in WSO2's admin-v4.yaml.
const QUERY: &str = "FROM RequestStream\nSELECT userId, ( userId == 'admin@carbon.super' ) AS isEligible , str:concat('admin@carbon.super','') as throttleKey\nINSERT INTO EligibilityStream; \n\nFROM EligibilityStream[isEligible==true]#throttler:timeBatch(1 min) \nSELECT throttleKey, (count(userId) >= 10) as isThrottled, expiryTimeStamp group by throttleKey \nINSERT ALL EVENTS into ResultStream;";

fn rule(name: &str) -> Value {
    json!({"policyName": name, "description": "Allow 10 requests per minute for admin user",
        "siddhiQuery": QUERY, "keyTemplate": "$userId"})
}

#[tokio::test]
async fn custom_rules_are_created_read_updated_and_deleted_with_wso2s_shapes_and_events() {
    let h = harness().await;
    let token = h.token_with_scopes(SCOPES).await;
    let seq = h.cp.event_seq();
    let (status, created) = h
        .call_as(Some(&token), "POST", CUSTOM, Some(rule("admin10")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["policyId"].as_str().unwrap().to_owned();
    assert_eq!(created["policyName"], "admin10");
    assert_eq!(created["displayName"], "admin10");
    assert_eq!(created["isDeployed"], true);
    assert_eq!(created["keyTemplate"], "$userId");
    assert_eq!(created["siddhiQuery"], QUERY);

    let (status, again) = h
        .call_as(Some(&token), "POST", CUSTOM, Some(rule("admin10")))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        again["description"],
        "Custom rule with name admin10 already exists"
    );

    let (_, list) = h.call_as(Some(&token), "GET", CUSTOM, None).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["policyId"], id.as_str());

    // An update keeps the id and the name.
    let mut changed = rule("renamed");
    changed["keyTemplate"] = json!("$userId:$apiContext");
    let (status, updated) = h
        .call_as(
            Some(&token),
            "PUT",
            &format!("{CUSTOM}/{id}"),
            Some(changed),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["policyName"], "admin10");
    assert_eq!(updated["keyTemplate"], "$userId:$apiContext");
    let (_, read) = h
        .call_as(Some(&token), "GET", &format!("{CUSTOM}/{id}"), None)
        .await;
    assert_eq!(read, updated);

    // Custom rules are not tiers of the other levels.
    let (_, apps) = h
        .call_as(
            Some(&token),
            "GET",
            "/api/am/admin/v4/throttling/policies/application",
            None,
        )
        .await;
    assert_eq!(apps["count"], 4);

    let (status, _) = h
        .call_as(Some(&token), "DELETE", &format!("{CUSTOM}/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, gone) = h
        .call_as(Some(&token), "GET", &format!("{CUSTOM}/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone["description"],
        format!("Requested custom rule with Id '{id}' not found")
    );

    let events = h.events_after(seq).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["POLICY_CREATE", "POLICY_UPDATE", "POLICY_DELETE"]);
    assert_eq!(events[0]["policy"]["type"], "CustomRule");
    assert_eq!(events[1]["policy"]["keyTemplate"], "$userId:$apiContext");
    assert_eq!(events[2]["policyLevel"], "custom");
}

#[tokio::test]
async fn blank_properties_and_queries_outside_the_subset_get_wso2s_400() {
    let h = harness().await;
    let token = h.token_with_scopes(SCOPES).await;
    for (property, body) in [
        (
            "policyName",
            json!({"policyName": " ", "siddhiQuery": QUERY, "keyTemplate": "$userId"}),
        ),
        (
            "siddhiQuery",
            json!({"policyName": "x", "keyTemplate": "$userId"}),
        ),
        (
            "keyTemplate",
            json!({"policyName": "x", "siddhiQuery": QUERY, "keyTemplate": ""}),
        ),
    ] {
        let (status, error) = h.call_as(Some(&token), "POST", CUSTOM, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["code"], 900705);
        assert_eq!(error["message"], "Blank value for required property");
        assert_eq!(
            error["description"],
            format!("{property} property value of payload cannot be blank")
        );
    }

    let sliding = QUERY.replace("#throttler:timeBatch(1 min)", "#window.time(1 min)");
    let (status, error) = h
        .call_as(
            Some(&token),
            "POST",
            CUSTOM,
            Some(json!({"policyName": "x", "siddhiQuery": sliding, "keyTemplate": "$userId"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], 400);
    assert_eq!(error["message"], "Bad Request");
    assert_eq!(
        error["description"],
        "Invalid Siddhi query at line 5, column 42: expected `throttler:timeBatch`, found `window.time(1`"
    );
    let (_, list) = h.call_as(Some(&token), "GET", CUSTOM, None).await;
    assert_eq!(list["count"], 0, "nothing stored");

    // Without a tier scope: WSO2's 401.
    let (status, _) = h.call_as(Some(&h.token), "GET", CUSTOM, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
