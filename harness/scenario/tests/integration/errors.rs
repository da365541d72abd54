//! One test per kind of mistake: each names the key path, line and column it reports. Then a
//! file with many mistakes reports all of them, and the rendered lists are snapshots under
//! `snapshots/scenario/`.

use std::path::Path;
use tollgate_scenario::{ScenarioError, parse};

const HEAD: &str = r#"[scenario]
name = "t"
topology = "guide"
"#;

/// The head plus a published API `pizza`, an application `shop`, keys `prod` and a token `tok`:
/// 5 steps (step[0]..step[4]) that later steps can refer to: 20 lines, so the next step starts
/// on line 21.
const SETUP: &str = r#"# A published API, an application, keys and a token.
[scenario]
name = "t"
topology = "guide"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
deploy = { api = "pizza", to = "Default" }

[[step]]
application = { app = "shop" }

[[step]]
generate_keys = { app = "shop", key_type = "production", key = "prod" }

[[step]]
token = { as = "tok", key = "prod" }

"#;

fn errors(source: &str) -> Vec<ScenarioError> {
    match parse(source, Path::new("t.toml")) {
        Ok(s) => panic!("expected errors, parsed {s:#?}"),
        Err(e) => e.0,
    }
}

/// The only error, as (path, line, column, message).
fn only(source: &str) -> (String, usize, usize, String) {
    let errors = errors(source);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    (e.path.clone(), e.line, e.column, e.message.clone())
}

fn setup_with(steps: &str) -> String {
    format!("{SETUP}{steps}")
}

#[test]
fn the_setup_itself_parses() {
    let text = setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/pizzashack/1.0.0/menu\", token = \"${tok}\" }\nexpect = { status = 200 }\n",
    );
    let scenario = parse(&text, Path::new("t.toml")).unwrap();
    assert_eq!(scenario.steps.len(), 6);
    assert_eq!(SETUP.lines().count(), 20);
}

#[test]
fn invalid_toml_is_reported_at_its_position() {
    let (path, line, column, message) = only("[scenario]\nname = \"t\ntopology = 1\n");
    assert_eq!(path, "");
    assert_eq!((line, column), (2, 10));
    assert!(message.starts_with("invalid TOML: "), "{message}");
}

#[test]
fn an_unknown_key_is_an_error_with_a_suggestion() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\nexpct = { status = 200 }\nexpect = { status = 401 }\n",
    ));
    assert_eq!(path, "step[5].expct");
    assert_eq!((line, column), (23, 1));
    assert_eq!(message, "unknown key `expct`; did you mean `expect`?");
}

#[test]
fn a_camel_case_key_suggests_its_snake_case_name() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\ndeploy = { api = \"pizza\", to = \"Default\", displayOnDevportal = false }\n",
    ));
    assert_eq!(path, "step[5].deploy.displayOnDevportal");
    assert_eq!((line, column), (22, 43));
    assert_eq!(
        message,
        "unknown key `displayOnDevportal`; did you mean `display_on_devportal`?"
    );
}

#[test]
fn a_step_without_an_action_is_an_error() {
    let (path, line, column, message) = only(&format!("{HEAD}\n[[step]]\nname = \"nothing\"\n"));
    assert_eq!(path, "step[0]");
    assert_eq!((line, column), (5, 1));
    assert!(
        message.starts_with("a step needs one action: publish, revision, deploy"),
        "{message}"
    );
}

#[test]
fn a_step_with_two_actions_is_an_error_at_the_second() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrevision = { api = \"pizza\" }\ndeploy = { api = \"pizza\", to = \"Default\" }\n",
    ));
    assert_eq!(path, "step[5].deploy");
    assert_eq!((line, column), (23, 1));
    assert_eq!(
        message,
        "a step has one action, and this one already has `revision`: put `deploy` in a step of its own"
    );
}

#[test]
fn a_wrong_type_names_what_was_expected_and_found() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\nexpect = { status = \"two hundred\" }\n",
    ));
    assert_eq!(path, "step[5].expect.status");
    assert_eq!((line, column), (23, 21));
    assert_eq!(
        message,
        "expected an integer status code (or a class like \"4xx\"), found \"two hundred\""
    );
}

#[test]
fn a_status_code_outside_100_to_599_is_an_error() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\nexpect.status = 600\n",
    ));
    assert_eq!(path, "step[5].expect.status");
    assert_eq!((line, column), (23, 17));
    assert_eq!(
        message,
        "status code must be between 100 and 599, found 600"
    );
}

#[test]
fn an_api_no_earlier_step_published_is_an_error_with_a_suggestion() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\ndeploy = { api = \"piza\", to = \"Default\" }\n",
    ));
    assert_eq!(path, "step[5].deploy.api");
    assert_eq!((line, column), (22, 18));
    assert_eq!(
        message,
        "no API named `piza` is published by an earlier step; did you mean `pizza`?"
    );
}

#[test]
fn a_name_defined_only_by_a_later_step_is_not_yet_defined() {
    let errors = errors(&format!(
        "{HEAD}\n[[step]]\nsubscribe = {{ app = \"shop\", api = \"pizza\" }}\n\n[[step]]\napplication = {{ app = \"shop\" }}\n\n[[step]]\npublish = {{ api = \"pizza\", context = \"/p\", version = \"1\", production = \"b\", resources = [\"GET /\"] }}\n"
    ));
    let got: Vec<(&str, usize, usize)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.line, e.column))
        .collect();
    assert_eq!(
        got,
        [
            ("step[0].subscribe.app", 6, 21),
            ("step[0].subscribe.api", 6, 35)
        ]
    );
    assert_eq!(
        errors[0].message,
        "no application named `shop` is created by an earlier step"
    );
}

#[test]
fn a_capture_used_before_it_is_captured_is_an_error_at_the_reference() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\", token = \"Bearer ${tokn}\" }\nexpect = { status = 200 }\n",
    ));
    assert_eq!(path, "step[5].request.token");
    // The column points at `${tokn}` inside the string.
    assert_eq!((line, column), (22, 67));
    assert_eq!(
        message,
        "`${tokn}`: no earlier step defines the capture or token `tokn`; did you mean `tok`?"
    );
}

#[test]
fn a_capture_is_usable_from_the_next_step_on() {
    let text = setup_with(
        "[[step]]\nhttp = { path = \"/api/am/publisher/v4/apis\" }\ncapture = { first = \"$.list[0].id\" }\n\n[[step]]\nhttp = { path = \"/api/am/publisher/v4/apis/${first}\" }\nexpect = { status = 200, json = { \"$.id\" = \"${first}\" } }\n",
    );
    parse(&text, Path::new("t.toml")).unwrap();
}

#[test]
fn a_repeat_without_any_expectation_is_an_error() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\nrepeat = 10\ncapture = { s = \"status\" }\n",
    ));
    assert_eq!(path, "step[5].repeat");
    assert_eq!((line, column), (23, 1));
    assert_eq!(
        message,
        "a `repeat` needs an expectation: `expect` (checked on every response) or `expect_counts`"
    );
}

#[test]
fn counts_that_do_not_add_up_to_the_repeat_are_an_error() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\nrepeat = 10\nexpect_counts = { status = { 200 = 10, 429 = 2 } }\n",
    ));
    assert_eq!(path, "step[5].expect_counts.status");
    assert_eq!((line, column), (24, 28));
    assert_eq!(
        message,
        "the counts add up to 12, and repeat = 10 (use \"rest\" for \"all the others\")"
    );
}

#[test]
fn an_invalid_duration_is_an_error() {
    let (path, line, column, message) =
        only(&format!("{HEAD}\n[[step]]\nadvance = \"1 minute\"\n"));
    assert_eq!(path, "step[0].advance");
    assert_eq!((line, column), (6, 11));
    assert!(
        message.starts_with("`1 minute` is not a duration"),
        "{message}"
    );
}

#[test]
fn an_unknown_tag_and_an_unknown_driver_are_errors() {
    let errors = errors(
        "[scenario]\nname = \"t\"\ntopology = \"guide\"\ntags = [\"routing\", \"keytypes\"]\ndrivers = [\"in-proc\"]\n\n[[step]]\nadvance = \"1s\"\n",
    );
    let got: Vec<(String, usize, usize, String)> = errors
        .iter()
        .map(|e| (e.path.clone(), e.line, e.column, e.message.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "scenario.tags[1]".into(),
                4,
                20,
                "unknown tag `keytypes`; did you mean `key-types`? (tags: routing, key-types, token-auth, throttling, ha, control-plane)".into()
            ),
            (
                "scenario.drivers[0]".into(),
                5,
                12,
                "unknown driver `in-proc`; did you mean `inproc`? (drivers: inproc, sim, container, external)".into()
            ),
        ]
    );
}

#[test]
fn a_missing_required_key_is_reported_at_its_table() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { path = \"/x\" }\nexpect = { status = 200 }\n",
    ));
    assert_eq!(path, "step[5].request");
    assert_eq!((line, column), (22, 11));
    assert_eq!(message, "missing `via`");
}

#[test]
fn expect_on_a_step_without_a_response_is_an_error() {
    let (path, line, column, message) = only(&format!(
        "{HEAD}\n[[step]]\nadvance = \"1m\"\nexpect = {{ status = 200 }}\n"
    ));
    assert_eq!(path, "step[0].expect");
    assert_eq!((line, column), (7, 1));
    assert_eq!(
        message,
        "`expect` reads an HTTP response, and `advance` makes no HTTP call"
    );
}

#[test]
fn a_revision_that_was_never_created_is_an_error() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\ndeploy = { api = \"pizza\", to = \"Default\", revision = 3 }\n",
    ));
    assert_eq!(path, "step[5].deploy.revision");
    assert_eq!((line, column), (22, 54));
    assert_eq!(
        message,
        "API `pizza` has only revision 1 so far (a `revision` step or a `deploy` without `revision` creates one)"
    );
}

#[test]
fn a_malformed_json_path_is_an_error_at_its_key() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nhttp = { path = \"/x\" }\nexpect.json.\"list[0]\" = 1\n",
    ));
    assert_eq!(path, "step[5].expect.json.\"list[0]\"");
    assert_eq!((line, column), (23, 13));
    assert!(message.contains("starts with `$`"), "{message}");
}

#[test]
fn waiting_on_a_load_that_is_not_running_is_an_error_at_its_name() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nwait = { load_sent = { load = \"reads\", at_least = 10 } }\n",
    ));
    assert_eq!(path, "step[5].wait.load_sent.load");
    assert_eq!((line, column), (22, 31));
    assert_eq!(
        message,
        "no load named `reads` is started by an earlier step"
    );
    let stopped = setup_with(concat!(
        "[[step]]\nload = { start = \"reads\", via = \"default-gateway\", path = \"/x\", rate = 10, duration = \"1s\" }\n\n",
        "[[step]]\nload = { stop = \"reads\" }\n\n",
        "[[step]]\nwait = { load_sent = { load = \"reads\", at_least = 0 } }\n",
    ));
    let errors = errors(&stopped);
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[0],
        "the load `reads` started by step[5] is already stopped"
    );
    assert!(messages[1].contains("request count"), "{messages:?}");
}

#[test]
fn a_responds_wait_needs_an_expect_and_knows_its_keys() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nwait = { responds = { via = \"default-gateway\", path = \"/x\" } }\n",
    ));
    assert_eq!(path, "step[5].wait.responds");
    assert_eq!((line, column), (22, 21));
    assert!(
        message.contains("give one (`expect = { status = 200 }`)"),
        "{message}"
    );
    let (path, _, _, message) = only(&setup_with(
        "[[step]]\nwait = { responds = { via = \"default-gateway\", path = \"/x\", expect = { status = 200 }, statu = 1 } }\n",
    ));
    assert_eq!(path, "step[5].wait.responds.statu");
    assert!(message.starts_with("unknown key `statu`"), "{message}");
    let (path, _, _, _) = only(&setup_with(
        "[[step]]\nwait = { responds = { via = \"default-gateway\", path = \"/x\", expect = { status = 1000 } } }\n",
    ));
    assert_eq!(path, "step[5].wait.responds.expect.status");
}

#[test]
fn until_goes_with_a_request_step_without_repeat() {
    let (path, line, _, message) = only(&setup_with(concat!(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\n",
        "repeat = 2\nexpect.status = 200\nuntil = { status = 429, served = 1 }\n",
    )));
    assert_eq!((path.as_str(), line), ("step[5].until", 25));
    assert_eq!(
        message,
        "`until` applies to a `request` step without `repeat`"
    );
    let ok = setup_with(concat!(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\n",
        "until = { status = 429, served = 5, slack = 2 }\n",
    ));
    let scenario = tollgate_scenario::parse(&ok, Path::new("t.toml")).unwrap();
    let until = scenario.steps[5].until.unwrap();
    assert_eq!((until.status, until.served, until.slack), (429, 5, 2));
}

#[test]
fn a_request_that_checks_nothing_is_an_error() {
    let (path, line, column, message) = only(&setup_with(
        "[[step]]\nrequest = { via = \"default-gateway\", path = \"/x\" }\n",
    ));
    assert_eq!(path, "step[5]");
    assert_eq!((line, column), (21, 1));
    assert!(
        message.starts_with("a `request` step checks nothing"),
        "{message}"
    );
}

#[test]
fn a_file_with_many_mistakes_reports_every_one_in_file_order() {
    let errors = errors(MANY);
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 15, "{}", rendered.join("\n"));
    let mut sorted = errors.clone();
    sorted.sort_by_key(|e| (e.line, e.column));
    assert_eq!(sorted, errors);
}

/// A scenario written in a hurry.
const MANY: &str = r#"[scenario]
name = "many mistakes"
topology = "guide"
tags = ["routing", "throttle"]
drivres = ["inproc"]

[[step]]
publish = { api = "pizza", context = "pizzashack", version = "1.0.0", resources = ["GET /menu"] }

[[step]]
deploy = { api = "piza", to = ["Production Gateway"] }

[[step]]
name = "no action at all"

[[step]]
generate_keys = { app = "shop", key_type = "prod" }

[[step]]
request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu", token = "${tokn}" }
expect = { status = "two hundred", bakend = "pizzashack-production" }

[[step]]
request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu" }
repeat = 10

[[step]]
advance = "1 minute"

[[step]]
wait = { revision_served = { api = "pizza", environment = "Default", revision = 2 }, timeout = "soon" }
"#;

fn snapshot(name: &str, source: &str) {
    let rendered = match parse(source, Path::new("scenarios/examples/bad.toml")) {
        Ok(_) => panic!("{name}: expected errors"),
        Err(errors) => errors.to_string(),
    };
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/scenario"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, rendered);
    });
}

#[test]
fn many_mistakes_render_as_one_list() {
    snapshot("many_mistakes", MANY);
}

#[test]
fn reference_mistakes_render_with_suggestions() {
    snapshot(
        "references",
        &setup_with(
            r#"[[step]]
subscribe = { app = "shpo", api = "pizza" }

[[step]]
token = { as = "t2", key = "prd", grant = "refresh_token", refresh = "tk" }

[[step]]
revoke = { token = "tok2" }

[[step]]
http = { path = "/api/am/devportal/v3/apis/${api.piza.id}/x/${key.prod.consumer_ky}" }
expect = { status = 200 }

[[step]]
wait = { revocation_reached = { token = "tok", gateway = "production-gateway" }, revision_served = { api = "pizza", environment = "Default" } }
"#,
        ),
    );
}

#[test]
fn shape_mistakes_render_with_what_was_expected() {
    snapshot(
        "shapes",
        &setup_with(
            r#"[[step]]
request = { via = "default-gateway", method = "FETCH", path = "menu", body = "x", json = { a = 1 } }
repeat = 0
expect_counts = { status = { 200 = "all", 700 = 1 } }

[[step]]
http = { path = "/x", auth = "none", token = "abc" }
expect = { json = { "$.a" = { contains = "x", exists = true } }, headers = { Server = { has = "x" } } }
capture = { api = "$.id", bad = "id" }

[[step]]
advance = { by = "1m", to = "next-minute" }

[[step]]
advance = { to = "next-minit" }

[[step]]
lifecycle = { api = "pizza", action = "Publsh" }
"#,
        ),
    );
}

fn with_topologies(source: &str) -> Vec<ScenarioError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/guide");
    let catalog = tollgate_scenario::Catalog::discover(&dir.join("x.toml")).unwrap();
    match tollgate_scenario::parse_with(source, Path::new("t.toml"), Some(&catalog)) {
        Ok(s) => panic!("expected errors, parsed {s:#?}"),
        Err(e) => e.0,
    }
}

#[test]
fn an_unknown_topology_is_an_error_with_a_suggestion() {
    let errors = with_topologies(
        "[scenario]\nname = \"t\"\ntopology = \"giude\"\n\n[[step]]\nadvance = \"1s\"\n",
    );
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, "scenario.topology");
    assert_eq!((errors[0].line, errors[0].column), (3, 12));
    assert!(
        errors[0].message.starts_with("no topology `giude` in ")
            && errors[0].message.ends_with("; did you mean `guide`?"),
        "{}",
        errors[0].message
    );
}

#[test]
fn instance_backend_and_environment_names_are_checked_against_the_topology() {
    let errors = with_topologies(&setup_with(
        r#"[[step]]
deploy = { api = "pizza", to = ["Production gateway", "Sandbox"] }

[[step]]
name = "Deploying to an unknown environment on purpose is allowed with an expectation"
deploy = { api = "pizza", to = "Nowhere" }
expect = { status = 400, code = 900504 }

[[step]]
request = { via = "production-gatway", path = "/pizzashack/1.0.0/menu", token = "${tok}" }
expect = { status = 200, backend = "pizzashack-prod" }
"#,
    ));
    let got: Vec<String> = errors
        .iter()
        .map(|e| format!("{}:{}: {}: {}", e.line, e.column, e.path, e.message))
        .collect();
    assert_eq!(
        got,
        [
            "22:33: step[5].deploy.to[0]: the topology has no environment `Production gateway`; did you mean `Production Gateway`?",
            "22:55: step[5].deploy.to[1]: the topology has no environment `Sandbox` (environments: Default, Production Gateway)",
            "30:19: step[7].request.via: the topology has no instance `production-gatway`; did you mean `production-gateway`?",
            "31:36: step[7].expect.backend: the topology has no backend `pizzashack-prod` (backends: pizzashack-production, pizzashack-sandbox)",
        ]
    );
}

#[test]
fn a_scenario_file_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
    let dir = std::env::temp_dir().join(format!("tollgate-utf8-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"description = \"caf\xe9\"\n");
    std::fs::write(&file, bytes).unwrap();
    let errors = tollgate_scenario::load_with(&file, None).unwrap_err().0;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(errors.len(), 1);
    // HEAD is 3 lines; the bad byte follows `description = "caf` on line 4.
    assert_eq!((errors[0].line, errors[0].column), (4, 19), "{}", errors[0]);
    assert!(errors[0].message.contains("not UTF-8"), "{}", errors[0]);
}
