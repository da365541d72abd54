//! The smaller reads and writes around APIs and applications: categories, ratings, tags,
//! single tiers, name and context checks, new versions, resource paths, subscriber info, and
//! the Admin API's applications, settings, tenant info and system scopes.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

const ADMIN: &str = "/api/am/admin/v4";

async fn admin_harness() -> Harness {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!("{ALL_SCOPES} apim:admin"))
        .await;
    h
}

#[tokio::test]
async fn categories_are_kept_by_the_admin_and_listed_by_both_portals() {
    let h = admin_harness().await;
    let (status, cat) = h
        .call(
            "POST",
            &format!("{ADMIN}/api-categories"),
            Some(json!({"name": "Food", "description": "things to eat"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cat}");
    let id = cat["id"].as_str().unwrap().to_owned();
    assert_eq!(cat["numberOfAPIs"], 0);
    for (body, status) in [
        (json!({"name": "food"}), StatusCode::CONFLICT),
        (json!({"description": "no name"}), StatusCode::BAD_REQUEST),
        (json!({"name": "x".repeat(256)}), StatusCode::BAD_REQUEST),
    ] {
        let (got, error) = h
            .call(
                "POST",
                &format!("{ADMIN}/api-categories"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {error}");
    }

    // An API in the category: counted, followed through a rename, and it blocks a delete.
    let api_id = h.published_pizzashack().await;
    h.call(
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}"),
        Some(json!({"categories": ["Food"]})),
    )
    .await;
    let (_, list) = h
        .call("GET", &format!("{ADMIN}/api-categories"), None)
        .await;
    assert_eq!(list["list"][0]["numberOfAPIs"], 1);
    let (status, renamed) = h
        .call(
            "PUT",
            &format!("{ADMIN}/api-categories/{id}"),
            Some(json!({"name": "Meals"})),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("Meals"))
    );
    let (_, api) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}"), None)
        .await;
    assert_eq!(api["categories"], json!(["Meals"]));
    let (status, error) = h
        .call("DELETE", &format!("{ADMIN}/api-categories/{id}"), None)
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(900488))
    );

    let (status, list) = h
        .call("GET", &format!("{PUBLISHER}/api-categories"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["list"][0],
        json!({"id": id, "name": "Meals", "description": ""})
    );
    let (status, list) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/api-categories"), None)
        .await;
    assert_eq!((status, list["count"].as_u64()), (StatusCode::OK, Some(1)));

    h.call(
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}"),
        Some(json!({"categories": []})),
    )
    .await;
    let (status, _) = h
        .call("DELETE", &format!("{ADMIN}/api-categories/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("DELETE", &format!("{ADMIN}/api-categories/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ratings_average_and_tags_count_the_apis_the_portal_shows() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    h.call(
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}"),
        Some(json!({"tags": ["pizza", "food"]})),
    )
    .await;
    let rating = format!("{DEVPORTAL}/apis/{api_id}/user-rating");
    let (status, _) = h.call("GET", &rating, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, mine) = h.call("PUT", &rating, Some(json!({"rating": 4}))).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        (mine["rating"].as_u64(), mine["ratedBy"].as_str()),
        (Some(4), Some("admin"))
    );
    for bad in [json!({"rating": 0}), json!({"rating": 6}), json!({})] {
        let (status, _) = h.call("PUT", &rating, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (_, list) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{api_id}/ratings"), None)
        .await;
    assert_eq!(list["avgRating"], "4.0");
    assert_eq!(
        (list["userRating"].as_u64(), list["count"].as_u64()),
        (Some(4), Some(1))
    );
    let (status, _) = h.call("DELETE", &rating, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/ratings"),
            None,
        )
        .await;
    assert_eq!(
        (list["avgRating"].as_str(), list["userRating"].as_u64()),
        (Some("0.0"), Some(0))
    );

    let (_, tags) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/tags"), None)
        .await;
    assert_eq!(
        tags["list"],
        json!([{"value": "food", "count": 1}, {"value": "pizza", "count": 1}])
    );
}

#[tokio::test]
async fn single_tiers_api_checks_new_versions_and_resource_paths() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let (status, gold) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/throttling-policies/subscription/Gold"),
            None,
        )
        .await;
    assert_eq!(
        (status, gold["name"].as_str()),
        (StatusCode::OK, Some("Gold"))
    );
    let (status, _) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/throttling-policies/subscription/Nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/throttling-policies/application/10PerMin"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, tiers) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/subscription-policies"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tiers.as_array().unwrap().len(), 2);

    for (query, status) in [
        ("name:PizzaShackAPI", StatusCode::OK),
        ("context:/pizzashack", StatusCode::OK),
        ("context:/pizzashack/1.0.0", StatusCode::OK),
        ("name:Other", StatusCode::NOT_FOUND),
    ] {
        let (got, _) = h
            .call(
                "POST",
                &format!("{PUBLISHER}/apis/validate?query={query}"),
                None,
            )
            .await;
        assert_eq!(got, status, "{query}");
    }

    let (status, copy) = h
        .call(
            "POST",
            &format!(
                "{PUBLISHER}/apis/copy-api?apiId={api_id}&newVersion=2.0.0&defaultVersion=true"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(
        (
            copy["version"].as_str(),
            copy["lifeCycleStatus"].as_str(),
            copy["isDefaultVersion"].as_bool()
        ),
        (Some("2.0.0"), Some("CREATED"), Some(true))
    );
    assert_eq!(copy["operations"].as_array().unwrap().len(), 2);
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/copy-api?apiId={api_id}&newVersion=2.0.0"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(900252))
    );

    let (_, paths) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/resource-paths"),
            None,
        )
        .await;
    assert_eq!(
        paths["list"],
        json!([{"id": 1, "resourcePath": "/menu", "httpVerb": "GET"},
            {"id": 2, "resourcePath": "/order", "httpVerb": "POST"}])
    );
}

#[tokio::test]
async fn the_admin_sees_every_application_and_the_deployments_settings() {
    let h = admin_harness().await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Shop").await;
    let (_, sub) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        )
        .await;
    let sub_id = sub["subscriptionId"].as_str().unwrap();
    let (status, info) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/subscriptions/{sub_id}/subscriber-info"),
            None,
        )
        .await;
    assert_eq!(
        (status, info["name"].as_str()),
        (StatusCode::OK, Some("admin"))
    );

    let (_, list) = h
        .call("GET", &format!("{ADMIN}/applications?name=sho"), None)
        .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["owner"], "admin");
    let (status, app) = h
        .call("GET", &format!("{ADMIN}/applications/{app_id}"), None)
        .await;
    assert_eq!(
        (status, app["subscriptionCount"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (status, _) = h
        .call(
            "POST",
            &format!("{ADMIN}/applications/{app_id}/change-owner?owner=nobody"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .call(
            "POST",
            &format!("{ADMIN}/applications/{app_id}/change-owner?owner=admin"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("DELETE", &format!("{ADMIN}/applications/{app_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, subs) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/subscriptions?apiId={api_id}"),
            None,
        )
        .await;
    assert_eq!(subs["count"], 0, "its subscriptions went with it");

    let (status, settings) = h.call("GET", &format!("{ADMIN}/settings"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        settings["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("apim:admin"))
    );
    let (status, tenant) = h
        .call("GET", &format!("{ADMIN}/tenant-info/admin"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tenant,
        json!({"username": "admin", "tenantDomain": "carbon.super", "tenantId": -1234})
    );
    let (status, _) = h
        .call("GET", &format!("{ADMIN}/tenant-info/nobody"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, scopes) = h.call("GET", &format!("{ADMIN}/system-scopes"), None).await;
    assert!(scopes["count"].as_u64().unwrap() > 20);
    let (status, _) = h
        .call(
            "GET",
            &format!("{ADMIN}/system-scopes/apim:api_view?username=admin"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("GET", &format!("{ADMIN}/system-scopes/apim:nothing"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let aliases =
        json!({"count": 1, "list": [{"role": "Internal/subscriber", "aliases": ["shoppers"]}]});
    let (status, saved) = h
        .call(
            "PUT",
            &format!("{ADMIN}/system-scopes/role-aliases"),
            Some(aliases.clone()),
        )
        .await;
    assert_eq!((status, &saved), (StatusCode::OK, &aliases));
    let (_, read) = h
        .call("GET", &format!("{ADMIN}/system-scopes/role-aliases"), None)
        .await;
    assert_eq!(read, aliases);
}

#[tokio::test]
async fn shared_scopes_are_kept_apart_and_refuse_deletion_while_used() {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!("{ALL_SCOPES} apim:shared_scope_manage"))
        .await;
    let uri = format!("{PUBLISHER}/scopes");
    let (status, scope) = h
        .call(
            "POST",
            &uri,
            Some(json!({"name": "menu:read", "description": "read menus", "bindings": ["admin"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{scope}");
    let id = scope["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (scope["displayName"].as_str(), scope["usageCount"].as_u64()),
        (Some("menu:read"), Some(0))
    );
    let (status, error) = h
        .call("POST", &uri, Some(json!({"name": "menu:read"})))
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(900982))
    );
    let (status, _) = h.call("POST", &uri, Some(json!({"name": " "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // HEAD by base64url name.
    let (status, _) = h.call("HEAD", &format!("{uri}/bWVudTpyZWFk"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("HEAD", &format!("{uri}/bm9wZQ"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Attached to an API and required by a resource: counted, listed in the usage, kept.
    let api_id = h.create_pizzashack().await;
    h.call(
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}"),
        Some(
            json!({"scopes": [{"scope": {"name": "menu:read"}, "shared": true}],
            "operations": [{"target": "/menu", "verb": "GET", "scopes": ["menu:read"]}]}),
        ),
    )
    .await;
    let (_, usage) = h.call("GET", &format!("{uri}/{id}/usage"), None).await;
    assert_eq!(
        usage["usedApiList"][0]["usedResourceList"],
        json!([{"target": "/menu", "verb": "GET"}])
    );
    let (status, error) = h.call("DELETE", &format!("{uri}/{id}"), None).await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(900983))
    );

    let (status, updated) = h
        .call(
            "PUT",
            &format!("{uri}/{id}"),
            Some(json!({"name": "menu:read", "displayName": "Read"})),
        )
        .await;
    assert_eq!(
        (status, updated["displayName"].as_str()),
        (StatusCode::OK, Some("Read"))
    );
    let (status, _) = h
        .call(
            "PUT",
            &format!("{uri}/{id}"),
            Some(json!({"name": "menu:write"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = h.call("GET", &uri, None).await;
    assert_eq!(
        (
            list["count"].as_u64(),
            list["list"][0]["usageCount"].as_u64()
        ),
        (Some(1), Some(1))
    );

    h.call(
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}"),
        Some(json!({"scopes": [], "operations": [{"target": "/menu", "verb": "GET"}]})),
    )
    .await;
    let (status, _) = h.call("DELETE", &format!("{uri}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = h.call("GET", &format!("{uri}/{id}"), None).await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900981))
    );
}

#[tokio::test]
async fn search_tenants_external_stores_and_workflows_answer_for_this_deployment() {
    let h = admin_harness().await;
    let api_id = h.published_pizzashack().await;
    let hidden = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Hidden", "context": "/hidden", "version": "1"})),
        )
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, found) = h
        .call("GET", &format!("{PUBLISHER}/search?query=pizza"), None)
        .await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["list"][0]["id"], api_id.as_str());
    assert_eq!(found["list"][0]["contextTemplate"], "/pizzashack/{version}");
    let (_, all) = h.call("GET", &format!("{PUBLISHER}/search"), None).await;
    assert_eq!(all["count"], 2);
    // The Developer Portal searches what it shows.
    let (_, shown) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/search?query=content:hid"),
            None,
        )
        .await;
    assert_eq!(shown["count"], 0, "{hidden} is not published");

    let (_, tenants) = h.call("GET", &format!("{PUBLISHER}/tenants"), None).await;
    assert_eq!(
        tenants["list"],
        json!([{"domain": "carbon.super", "status": "active"}])
    );
    let (_, none) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/tenants?state=inactive"),
            None,
        )
        .await;
    assert_eq!(none["count"], 0);
    let (status, _) = h
        .call("HEAD", &format!("{PUBLISHER}/tenants/carbon.super"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("HEAD", &format!("{PUBLISHER}/tenants/other.com"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, stores) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/external-stores"),
            None,
        )
        .await;
    assert_eq!(stores, json!({"count": 0, "list": []}));
    let (status, _) = h
        .call(
            "DELETE",
            &format!("{PUBLISHER}/apis/{api_id}/lifecycle-state/pending-tasks"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, workflows) = h.call("GET", &format!("{ADMIN}/workflows"), None).await;
    assert_eq!(workflows["count"], 0);
    let (status, error) = h
        .call(
            "POST",
            &format!("{ADMIN}/workflows/update-workflow-status?workflowReferenceId=abc"),
            Some(json!({"status": "APPROVED"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900505))
    );
}

#[tokio::test]
async fn the_resident_key_manager_has_one_id_everywhere() {
    let h = admin_harness().await;
    let (status, list) = h.call("GET", &format!("{ADMIN}/key-managers"), None).await;
    assert_eq!((status, list["count"].as_u64()), (StatusCode::OK, Some(1)));
    let id = list["list"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let (_, dev) = h
        .call("GET", &format!("{DEVPORTAL}/key-managers"), None)
        .await;
    let (_, publisher) = h
        .call("GET", &format!("{PUBLISHER}/key-managers"), None)
        .await;
    assert_eq!(dev["list"][0]["id"], id.as_str());
    assert_eq!(publisher["list"][0]["id"], id.as_str());
    let (status, km) = h
        .call("GET", &format!("{ADMIN}/key-managers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{km}");
    assert_eq!(km["certificates"]["type"], "JWKS");
    let spec = crate::openapi_shapes::admin_spec();
    let schema = spec
        .response_body("/key-managers/{keyManagerId}", "get", 200)
        .unwrap();
    assert_eq!(spec.check(schema, &km), Vec::<String>::new());
    assert!(
        km["tokenEndpoint"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/token")
    );
    let (status, error) = h
        .call("GET", &format!("{ADMIN}/key-managers/other"), None)
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(901411))
    );
    // The same id from another control plane of the same tenant.
    let other = admin_harness().await;
    let (_, again) = other
        .call("GET", &format!("{ADMIN}/key-managers"), None)
        .await;
    assert_eq!(again["list"][0]["id"], id.as_str());
}

#[tokio::test]
async fn business_information_is_kept_and_shown_on_both_portals() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let info = json!({"businessOwner": "Pizza Co", "businessOwnerEmail": "owner@pizza.example",
        "technicalOwner": "Ops", "technicalOwnerEmail": "ops@pizza.example"});
    let (status, api) = h
        .call(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}"),
            Some(json!({"businessInformation": info})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert_eq!(api["businessInformation"], info);
    let (_, shown) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/apis/{api_id}"), None)
        .await;
    assert_eq!(shown["businessInformation"], info);
    let (status, error) = h
        .call(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}"),
            Some(json!({"businessInformation": {"businessOwner": "o".repeat(121)}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["error"][0]["code"],
        "400_businessInformation.businessOwner"
    );
}

#[tokio::test]
async fn several_subscriptions_are_made_in_one_call_or_none_is() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let (a, b) = (
        h.create_application("A").await,
        h.create_application("B").await,
    );
    let uri = format!("{DEVPORTAL}/subscriptions/multiple");
    // The second is refused (an unknown tier), so neither is made.
    let (status, _) = h
        .call(
            "POST",
            &uri,
            Some(json!([
                {"apiId": api_id, "applicationId": a, "throttlingPolicy": "Gold"},
                {"apiId": api_id, "applicationId": b, "throttlingPolicy": "Nope"},
            ])),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    let (_, subs) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/subscriptions?apiId={api_id}"),
            None,
        )
        .await;
    assert_eq!(subs["count"], 0);
    // The same pair twice is refused as a duplicate.
    let (status, _) = h
        .call(
            "POST",
            &uri,
            Some(json!([
                {"apiId": api_id, "applicationId": a, "throttlingPolicy": "Gold"},
                {"apiId": api_id, "applicationId": a, "throttlingPolicy": "Gold"},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let before = h.cp.event_seq();
    let (status, made) = h
        .call(
            "POST",
            &uri,
            Some(json!([
                {"apiId": api_id, "applicationId": a, "throttlingPolicy": "Gold"},
                {"apiId": api_id, "applicationId": b, "throttlingPolicy": "Unlimited"},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made.as_array().unwrap().len(), 2);
    assert_eq!(made[1]["applicationId"], b.as_str());
    let spec = crate::openapi_shapes::devportal();
    for s in made.as_array().unwrap() {
        assert_eq!(
            spec.check(spec.schema_named("Subscription"), s),
            Vec::<String>::new()
        );
    }
    let events = h.events_after(before).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "SUBSCRIPTIONS_CREATE")
            .count(),
        2
    );
}
