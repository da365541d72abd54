//! Tiers and key managers as the Publisher and the Developer Portal show them.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn publisher_and_devportal_list_tiers_per_level() {
    let h = harness().await;
    let (status, list) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/throttling-policies/subscription"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let gold = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Gold")
        .unwrap();
    assert_eq!(gold["policyLevel"], "subscription");
    assert_eq!(gold["requestCount"], 5000);
    assert_eq!(gold["unitTime"], 60_000);
    assert_eq!(gold["timeUnit"], "min");
    assert_eq!(gold["quotaPolicyType"], "REQUESTCOUNT");
    assert_eq!(gold["tierPlan"], "FREE");
    assert_eq!(gold["stopOnQuotaReach"], true);
    assert_eq!(gold["displayName"], "Gold");

    let (status, api_level) = h
        .call("GET", &format!("{PUBLISHER}/throttling-policies/api"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(api_level["count"].as_u64().unwrap() >= 1, "{api_level}");
    assert_eq!(api_level["list"][0]["policyLevel"], "api");

    let (status, error) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/throttling-policies/application"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    // The Developer Portal serves anonymous callers, application and subscription tiers.
    let (status, apps) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/throttling-policies/application"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{apps}");
    let ten = apps["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "10PerMin")
        .unwrap();
    assert_eq!(ten["requestCount"], 10);
    assert_eq!(ten["policyLevel"], "application");
    assert!(
        ten.get("displayName").is_none(),
        "not in the DevPortal's ThrottlingPolicy"
    );
    let (status, _) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/throttling-policies/api"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_apis_subscription_policies_are_the_tiers_it_offers() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let (status, tiers) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/subscription-policies"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tiers}");
    let names: Vec<&str> = tiers
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Gold", "Unlimited"]);
    let (status, body) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/nope/subscription-policies"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900308))
    );
}

#[tokio::test]
async fn the_devportal_lists_the_resident_key_manager() {
    let h = harness().await;
    let (status, list) = h
        .call("GET", &format!("{DEVPORTAL}/key-managers"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    let km = &list["list"][0];
    assert_eq!(km["name"], "Resident Key Manager");
    assert_eq!(km["type"], "default");
    assert_eq!(km["enabled"], true);
    assert_eq!(km["tokenEndpoint"], "https://localhost:9443/oauth2/token");
    assert_eq!(km["alias"], json!("https://localhost:9443/oauth2/token"));
    let (status, _) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/key-managers"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_admin_api_searches_policies_by_type_and_name() {
    let h = harness().await;
    let token = h.token_with_scopes("apim:admin").await;
    let search = |query: &'static str| {
        let (h, token) = (&h, token.clone());
        async move {
            let (status, body) = h
                .call_as(
                    Some(&token),
                    "GET",
                    &format!("/api/am/admin/v4/throttling/policies/search?query={query}"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body
        }
    };
    let subs = search("type:sub").await;
    assert!(subs["count"].as_u64().unwrap() >= 4, "{subs}");
    assert!(
        subs["list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["type"] == "sub")
    );
    let gold = search("type:sub%20name:gold").await;
    assert_eq!(gold["count"], 1, "{gold}");
    assert_eq!(gold["list"][0]["policyName"], "Gold");
    assert_eq!(gold["list"][0]["isDeployed"], true);
    let apps = search("type:app%20name:10PerMin").await;
    assert_eq!(apps["list"][0]["type"], "app");
    let all = search("").await;
    assert_eq!(
        all["count"].as_u64().unwrap(),
        h.cp.throttle_data().policies.len() as u64
    );
}
