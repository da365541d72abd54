//! What the parser hands the runner: defaults filled in, revisions numbered, names resolved.

use std::path::Path;
use std::time::Duration;
use tollgate_scenario::*;

/// A scenario of the shipped suite, by its path under `scenarios/`.
fn load_example(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_guide_walkthrough_reads_as_the_guide_does_it() {
    let scenario = load_example("guide/one-api-served-by-two-gateways-as-the-guide-shows.toml");
    assert_eq!(scenario.topology.name, "guide");
    assert_eq!(scenario.seed, Some(1));
    assert_eq!(
        scenario.tags,
        [Tag::Routing, Tag::KeyTypes, Tag::ControlPlane]
    );
    assert_eq!(scenario.drivers, Driver::ALL);

    let Action::Publish(publish) = &scenario.steps[0].action else {
        panic!("{:?}", scenario.steps[0])
    };
    assert_eq!(publish.name, "PizzaShackAPI");
    assert_eq!(
        publish.production,
        Some(Endpoint::Backend("pizzashack-production".into()))
    );
    assert_eq!(publish.resources.len(), 3);
    assert_eq!(publish.resources[2].target, "/order/{orderId}");
    assert_eq!(publish.resources[2].auth_type, AuthType::Any);
    assert_eq!(publish.policies, ["Unlimited"]);
    assert!(publish.published);

    let Action::Deploy(deploy) = &scenario.steps[1].action else {
        panic!()
    };
    assert_eq!(deploy.revision, 1);
    assert!(deploy.creates_revision);
    assert_eq!(deploy.environments, ["Production Gateway", "Default"]);
    assert_eq!(deploy.vhost, "localhost");
    assert!(deploy.display_on_devportal);

    // A wait without `revision` waits for the latest one.
    let Action::Wait(wait) = &scenario.steps[3].action else {
        panic!()
    };
    assert_eq!(
        wait.condition,
        Condition::RevisionServed {
            api: "pizza".into(),
            environment: "Default".into(),
            revision: 1
        }
    );
    assert_eq!(wait.timeout, Duration::from_secs(10));

    let devportal = &scenario.steps[4];
    let Action::Http(http) = &devportal.action else {
        panic!()
    };
    assert_eq!(http.auth, HttpAuth::Session);
    assert_eq!(
        http.path.vars().collect::<Vec<_>>(),
        [&Var::ApiId("pizza".into())]
    );
    let expect = devportal.expect.as_ref().unwrap();
    assert_eq!(expect.status, Some(StatusMatch::Exact(200)));
    assert_eq!(expect.json.len(), 6);

    let refused = scenario.steps.last().unwrap();
    assert_eq!(
        refused.label(),
        "A sandbox token is refused by the Production Gateway"
    );
    let Action::Request(request) = &refused.action else {
        panic!()
    };
    assert_eq!(request.via, "production-gateway");
    assert_eq!(request.method, "GET");
    assert_eq!(request.scheme, Scheme::Http);
    let expect = refused.expect.as_ref().unwrap();
    assert_eq!(
        expect.body.as_ref().unwrap().as_literal().unwrap(),
        "<error><message>Sandbox Key Provided for Production Gateway</message></error>"
    );
    assert_eq!(
        expect.headers,
        [HeaderExpect {
            name: "Content-Type".into(),
            matcher: TextMatch::Contains(Template::literal("application/xml"))
        }]
    );
}

#[test]
fn default_key_names_tokens_and_refresh_grants_resolve_to_their_keys() {
    let scenario =
        load_example("auth/expired-token-is-refused-and-a-refreshed-one-is-accepted.toml");
    let tokens: Vec<&TokenRequest> = scenario
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Token(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tokens[0].validity, Some(Duration::from_secs(300)));
    assert_eq!(
        tokens[0].grant,
        Grant::Password {
            username: Template::literal("admin"),
            password: Template::literal("admin")
        }
    );
    // The refresh grant names no key: it uses the refreshed token's.
    assert_eq!(tokens[1].key, "prod");
    assert_eq!(
        tokens[1].grant,
        Grant::RefreshToken {
            token: "short".into()
        }
    );
    assert!(
        scenario
            .steps
            .iter()
            .any(|s| s.action == Action::Advance(Advance::By(Duration::from_secs(301))))
    );
    assert!(!scenario.runs_on(Driver::External));

    let matrix =
        load_example("key-types/hybrid-gateway-refuses-a-key-type-whose-endpoint-is-missing.toml");
    let keys: Vec<&str> = matrix
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::GenerateKeys(k) => Some(k.key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["shop-production", "shop-sandbox"]);
}

#[test]
fn repeats_carry_their_counts() {
    let scenario =
        load_example("routing/each-resource-reaches-the-backend-under-the-endpoint-path.toml");
    let last = scenario.steps.last().unwrap();
    let repeat = last.repeat.as_ref().unwrap();
    assert_eq!(repeat.times, 5);
    assert_eq!(
        repeat.counts,
        Some(CountExpect::Totals {
            status: vec![],
            backend: vec![("pizzashack-production".into(), Times::Exactly(5))]
        })
    );
}

#[test]
fn a_sequence_of_runs_and_rest_counts_read_in_order() {
    let source = r#"
[scenario]
name = "throttled"
topology = "guide"
tags = ["throttling"]

[[step]]
request = { via = "default-gateway", path = "/p/1/menu" }
repeat = 12
expect_counts.sequence = [
  { times = 10, status = 200 },
  { times = "rest", status = 429, code = "900800", headers = { "Retry-After" = { exists = true } } },
]

[[step]]
advance = { to = "next-minute" }

[[step]]
request = { via = "default-gateway", path = "/p/1/menu" }
repeat = 3
expect_counts = { status = { 200 = 2, 429 = "rest" } }
"#;
    let scenario = parse(source, Path::new("t.toml")).unwrap();
    let Some(CountExpect::Sequence(runs)) = &scenario.steps[0].repeat.as_ref().unwrap().counts
    else {
        panic!()
    };
    assert_eq!(runs[0].times, Times::Exactly(10));
    assert_eq!(runs[1].times, Times::Rest);
    assert_eq!(runs[1].expect.code.as_deref(), Some("900800"));
    assert_eq!(runs[1].expect.headers[0].matcher, TextMatch::Present);
    assert_eq!(
        scenario.steps[1].action,
        Action::Advance(Advance::To(ClockMark::NextMinute))
    );
    assert_eq!(scenario.steps[0].location, Location { line: 7, column: 1 });
}

#[test]
fn topology_overrides_flatten_to_dotted_keys() {
    let source = r#"
[scenario]
name = "cors"
topology = { name = "guide", overrides = { default-gateway = { apim.cors = { allow_origins = "*", allow_credentials = true } } } }

[[step]]
advance = "1s"
"#;
    let scenario = parse(source, Path::new("t.toml")).unwrap();
    let gateway = &scenario.topology.overrides["default-gateway"];
    assert_eq!(gateway["apim.cors.allow_origins"], "*");
    assert_eq!(gateway["apim.cors.allow_credentials"], true);
}

#[test]
fn http_steps_authenticate_as_written_and_bodies_keep_their_templates() {
    let source = r#"
[scenario]
name = "raw"
topology = "guide"

[[step]]
http = { method = "post", path = "/oauth2/token", auth = "none", form = { grant_type = "client_credentials" } }
expect = { status = 401 }

[[step]]
http = { method = "POST", path = "/api/am/publisher/v4/apis", basic = { user = "admin", password = "admin" }, json = { name = "X", tags = ["a"], n = 1 } }
expect = { status = "4xx" }
capture = { where = "header:Location", all = "body" }

[[step]]
http = { path = "/x?q=${where}", token = "${all}" }
expect = { body_contains = ["a", "${where}"] }
"#;
    let scenario = parse(source, Path::new("t.toml")).unwrap();
    let Action::Http(first) = &scenario.steps[0].action else {
        panic!()
    };
    assert_eq!(first.method, "POST");
    assert_eq!(first.auth, HttpAuth::None);
    let Action::Http(second) = &scenario.steps[1].action else {
        panic!()
    };
    let Some(Body::Json(json)) = &second.body else {
        panic!()
    };
    let rendered = json.render(&mut |_| None).unwrap();
    assert_eq!(
        rendered,
        serde_json::json!({"name": "X", "tags": ["a"], "n": 1})
    );
    assert_eq!(
        scenario.steps[1].captures[0].source,
        CaptureSource::Header("Location".into())
    );
    assert!(StatusMatch::Class(4).matches(404));
}
