//! `token_variant` on a `request`: read into the model, checked against `token`.

use std::path::Path;
use tollgate_scenario::{Action, TokenVariant, parse};

const SETUP: &str = r#"[scenario]
name = "t"
topology = "guide"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
application = { app = "shop" }

[[step]]
generate_keys = { app = "shop", key_type = "production", key = "prod" }

[[step]]
token = { as = "tok", key = "prod" }
"#;

fn with(step: &str) -> String {
    format!("{SETUP}\n[[step]]\n{step}\n")
}

#[test]
fn each_variant_is_read_into_the_request() {
    for (written, variant) in [
        ("tampered", TokenVariant::Tampered),
        ("alg-none", TokenVariant::AlgNone),
        ("malformed", TokenVariant::Malformed),
    ] {
        let source = with(&format!(
            "request = {{ via = \"default-gateway\", path = \"/pizzashack/1.0.0/menu\", token = \"${{tok}}\", token_variant = \"{written}\" }}\nexpect.status = 401"
        ));
        let scenario = parse(&source, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let Action::Request(request) = &scenario.steps.last().unwrap().action else {
            panic!()
        };
        assert_eq!(request.token_variant, Some(variant));
        assert_eq!(variant.name(), written);
    }
}

#[test]
fn a_request_without_a_variant_sends_the_token_as_it_is() {
    let source = with(
        "request = { via = \"default-gateway\", path = \"/pizzashack/1.0.0/menu\", token = \"${tok}\" }\nexpect.status = 200",
    );
    let scenario = parse(&source, Path::new("t.toml")).unwrap();
    let Action::Request(request) = &scenario.steps.last().unwrap().action else {
        panic!()
    };
    assert_eq!(request.token_variant, None);
}

#[test]
fn an_unknown_variant_is_an_error_with_a_suggestion() {
    let source = with(
        "request = { via = \"default-gateway\", path = \"/p/1/menu\", token = \"${tok}\", token_variant = \"tamperd\" }\nexpect.status = 401",
    );
    let errors = parse(&source, Path::new("t.toml")).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, "step[4].request.token_variant");
    assert!(
        errors[0].message.contains("did you mean `tampered`"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_variant_without_a_token_is_an_error() {
    let source = with(
        "request = { via = \"default-gateway\", path = \"/p/1/menu\", token_variant = \"alg-none\" }\nexpect.status = 401",
    );
    let errors = parse(&source, Path::new("t.toml")).unwrap_err().0;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].path, "step[4].request.token_variant");
    assert!(
        errors[0].message.contains("give a `token`"),
        "{}",
        errors[0].message
    );
}

#[test]
fn the_camel_case_spelling_points_to_the_snake_case_key() {
    let source = with(
        "request = { via = \"default-gateway\", path = \"/p/1/menu\", token = \"${tok}\", tokenVariant = \"alg-none\" }\nexpect.status = 401",
    );
    let errors = parse(&source, Path::new("t.toml")).unwrap_err().0;
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("did you mean `token_variant`")),
        "{errors:#?}"
    );
}
