//! Bad deployment.toml files: every error located by file, line, column and key, all at once.
//!
//! Each case asserts the exact positions, then snapshots the rendered list (the text a user
//! reads) under snapshots/config/.

use std::path::Path;

use tollgate_config::{Diagnostic, Loaded, parse};

fn errors(source: &str) -> Vec<Diagnostic> {
    match parse(source, Path::new("deployment.toml")) {
        Ok(loaded) => panic!("expected errors, got {:?}", loaded.config),
        Err(errors) => errors.0,
    }
}

fn loaded(source: &str) -> Loaded {
    parse(source, Path::new("deployment.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn positions(diagnostics: &[Diagnostic]) -> Vec<(usize, usize, &str)> {
    diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.key.as_str()))
        .collect()
}

fn rendered(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/config"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

#[test]
fn invalid_toml_syntax_is_one_diagnostic_at_the_parsers_position() {
    let found = errors("[server]\nhostname = \"localhost\noffset = 1\n");
    assert_eq!(positions(&found), [(2, 22, "")]);
    snapshot!("syntax_error", rendered(&found));
}

#[test]
fn wrong_types_are_each_reported_at_their_value() {
    let found = errors(
        r#"[server]
offset = "one"
hostname = ["a", "b"]

[super_admin]
create_admin_account = "yes"

[apim.sync_runtime_artifacts.gateway]
gateway_labels = "Default"
enable = 3

[apim.cors]
allow_credentials = 1.5
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (2, 10, "server.offset"),
            (3, 12, "server.hostname"),
            (6, 24, "super_admin.create_admin_account"),
            (9, 18, "apim.sync_runtime_artifacts.gateway.gateway_labels"),
            (10, 10, "apim.sync_runtime_artifacts.gateway.enable"),
            (13, 21, "apim.cors.allow_credentials"),
        ]
    );
    snapshot!("wrong_types", rendered(&found));
}

#[test]
fn an_unknown_environment_type_is_refused_with_a_suggestion() {
    let found = errors(
        r#"[[apim.gateway.environment]]
name = "Production Gateway"
type = "Production"
http_endpoint = "http://localhost:8281"

[[apim.gateway.environment]]
name = "Staging"
type = "staging"
http_endpoint = "http://localhost:8282"
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (3, 8, "apim.gateway.environment[0].type"),
            (8, 8, "apim.gateway.environment[1].type"),
        ]
    );
    assert!(found[0].message.contains("did you mean \"production\"?"));
    snapshot!("environment_type", rendered(&found));
}

#[test]
fn duplicate_environment_names_are_refused_at_the_second() {
    let found = errors(
        r#"[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
http_endpoint = "http://localhost:8281"

[[apim.gateway.environment]]
name = "Default"
type = "production"
https_endpoint = "https://localhost:8245"
"#,
    );
    assert_eq!(
        positions(&found),
        [(7, 8, "apim.gateway.environment[1].name")]
    );
    assert!(found[0].message.contains("first declared on line 1"));
    snapshot!("duplicate_environment", rendered(&found));
}

#[test]
fn an_environment_without_http_or_https_endpoint_fails_as_wso2_does() {
    let found = errors(
        r#"[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
ws_endpoint = "ws://localhost:9099"

[[apim.gateway.environment]]
name = "Second"
http_endpoint = "http://localhost:8282"

[[apim.gateway.environment.virtual_host]]
ws_endpoint = "ws://other:9099"
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (1, 1, "apim.gateway.environment[0]"),
            (10, 1, "apim.gateway.environment[1].virtual_host[0]"),
        ]
    );
    assert!(found.iter().all(|d| {
        d.message
            .starts_with("Error while building VHost, missing required HTTP or HTTPS endpoint")
    }));
    snapshot!("missing_endpoint", rendered(&found));
}

#[test]
fn unparseable_endpoint_urls_are_located() {
    let found = errors(
        r#"[[apim.gateway.environment]]
name = "Default"
http_endpoint = "localhost:8281"
https_endpoint = "https://localhost:99999"
ws_endpoint = "http://localhost:9099"

[apim.key_manager]
service_url = "https://[control-plane-host]:9443/services/"

[[apim.throttling.url_group]]
traffic_manager_urls = ["tcp//localhost:9611"]
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (3, 17, "apim.gateway.environment[0].http_endpoint"),
            (4, 18, "apim.gateway.environment[0].https_endpoint"),
            (5, 15, "apim.gateway.environment[0].ws_endpoint"),
            (8, 15, "apim.key_manager.service_url"),
            (
                11,
                25,
                "apim.throttling.url_group[0].traffic_manager_urls[0]"
            ),
        ]
    );
    snapshot!("bad_urls", rendered(&found));
}

#[test]
fn a_port_that_overflows_after_the_offset_is_refused() {
    let at_offset = errors("[server]\noffset = 60000\n");
    assert_eq!(positions(&at_offset), [(2, 10, "server.offset")]);
    assert_eq!(
        at_offset[0].message,
        "port mgmt_https 9443 + offset 60000 = 69443 is past 65535"
    );

    let at_transport = errors(
        "[server]\noffset = 1\n\n[transport.passthru_http.listener.parameters]\nport = 65535\n",
    );
    assert_eq!(
        positions(&at_transport),
        [(5, 8, "transport.passthru_http.listener.parameters.port")]
    );

    let out_of_range =
        errors("[server]\noffset = -1\n[transport.https]\nproperties.port = 70000\n");
    assert_eq!(
        positions(&out_of_range),
        [
            (2, 10, "server.offset"),
            (4, 19, "transport.https.properties.port"),
        ]
    );
    let mut all = at_offset;
    all.extend(at_transport);
    all.extend(out_of_range);
    snapshot!("port_overflow", rendered(&all));
}

#[test]
fn an_unknown_server_role_is_refused_with_a_suggestion() {
    let found = errors("[server]\nserver_role = \"gateway_worker\"\n");
    assert_eq!(positions(&found), [(2, 15, "server.server_role")]);
    assert!(
        found[0]
            .message
            .ends_with("did you mean \"gateway-worker\"?")
    );
    snapshot!("server_role", rendered(&found));
}

#[test]
fn unknown_keys_are_warnings_with_a_did_you_mean() {
    let file = loaded(
        r#"[server]
hostnam = "gw.wso2.com"
Offset = 1

[apim.sync_runtime_artifacts.gateway]
gateway_label = ["Default"]

[apim.throtling]
service_url = "x"

[apim.analytics]
enable = false

[something_else]
x = 1
"#,
    );
    assert_eq!(
        positions(&file.warnings),
        [
            (2, 1, "server.hostnam"),
            (3, 1, "server.Offset"),
            (6, 1, "apim.sync_runtime_artifacts.gateway.gateway_label"),
            (8, 7, "apim.throtling"),
            (11, 7, "apim.analytics"),
            (14, 2, "something_else"),
        ]
    );
    // The misspelt keys are ignored, as WSO2 ignores them: the defaults stand.
    assert_eq!(file.config.server.hostname, "localhost");
    assert_eq!(file.config.server.offset, 0);
    assert_eq!(file.config.sync_gateway.gateway_labels, ["Default"]);
    snapshot!("unknown_keys", rendered(&file.warnings));
}

#[test]
fn unresolvable_placeholders_are_located_errors() {
    let found = errors(
        r#"[apim.key_manager]
username = "$ref{super_admin.usrname}"
password = "$env{KM_PASSWORD}"
service_url = "https://localhost:${mgt.transport.htps.port}/services/"

[apim.throttling]
username = "$ref{apim.event_hub.username}"
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (2, 12, "apim.key_manager.username"),
            (3, 12, "apim.key_manager.password"),
            (4, 15, "apim.key_manager.service_url"),
            (7, 12, "apim.throttling.username"),
        ]
    );
    assert!(found[3].message.contains("$ref cycle"));
    snapshot!("placeholders", rendered(&found));
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let found = errors(
        r#"[server]
server_role = "gateway"
offset = "two"

[super_admin]
username = 42

[[apim.gateway.environment]]
name = "Production Gateway"
type = "prod"
http_endpoint = "http://localhost:8281"

[[apim.gateway.environment]]
name = "Production Gateway"
type = "production"
https_endpoint = "https://localhost:8244"

[[apim.gateway.environment]]
name = "Sandbox"
type = "sandbox"
description = "no endpoint at all"

[[apim.throttling.url_group]]
traffic_manager_urls = []
type = "loadbalance"

[apim.sync_runtime_artifacts.gateway]
gateway_labels = ["Default", 7]
"#,
    );
    assert_eq!(
        positions(&found),
        [
            (2, 15, "server.server_role"),
            (3, 10, "server.offset"),
            (10, 8, "apim.gateway.environment[0].type"),
            (14, 8, "apim.gateway.environment[1].name"),
            (18, 1, "apim.gateway.environment[2]"),
            (24, 24, "apim.throttling.url_group[0].traffic_manager_urls"),
            (
                28,
                30,
                "apim.sync_runtime_artifacts.gateway.gateway_labels[1]"
            ),
        ]
    );
    snapshot!("many_errors", rendered(&found));
}

#[test]
fn a_single_bracket_environment_table_is_refused_as_the_wrong_shape() {
    let found = errors("[apim.gateway.environment]\nname = \"Default\"\n");
    assert_eq!(positions(&found), [(1, 1, "apim.gateway.environment")]);
    assert_eq!(
        found[0].message,
        "expected an array of tables ([[...]]), found table"
    );
}

#[test]
fn a_file_that_cannot_be_read_is_one_file_level_diagnostic() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-such-file.toml");
    let errors = tollgate_config::load(&missing).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!((errors.0[0].line, errors.0[0].column), (0, 0));
    assert!(
        errors
            .to_string()
            .contains("no-such-file.toml: cannot read the file")
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_the_line_and_column_of_its_first_bad_byte() {
    let dir = std::env::temp_dir().join(format!("tollgate-utf8-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("deployment.toml");
    // Line 3, column 15: after `hostname = "gw`; the é on line 2 is valid UTF-8.
    std::fs::write(
        &file,
        b"[server]\n# caf\xc3\xa9\nhostname = \"gw\xff.wso2.com\"\n",
    )
    .unwrap();
    let errors = tollgate_config::load(&file).unwrap_err().0;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (3, 15), "{}", errors[0]);
    assert!(errors[0].message.contains("not UTF-8"), "{}", errors[0]);
}

#[test]
fn utf8_text_names_the_first_bad_byte_in_characters() {
    assert_eq!(
        tollgate_config::utf8_text(b"ok".to_vec()),
        Ok("ok".to_owned())
    );
    assert_eq!(tollgate_config::utf8_text(b"\xfe".to_vec()), Err((1, 1)));
    assert_eq!(
        tollgate_config::utf8_text(b"a\n\xc3\xa9\xc3".to_vec()),
        Err((2, 2))
    );
}

#[test]
fn an_unknown_backend_jwt_encoding_is_refused_at_its_value() {
    let found = errors("[apim.jwt]\nenable = true\nencoding = \"base64URL\"\n");
    assert_eq!(positions(&found), [(3, 12, "apim.jwt.encoding")]);
    assert!(
        found[0]
            .message
            .contains("expected one of base64, base64url"),
        "{}",
        found[0].message
    );
}
