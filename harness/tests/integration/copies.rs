//! The scenario crate keeps its own copies of a few reference facts on purpose (it depends on
//! nothing of Tollgate's, so another gateway's suite can read the same files): throttle key
//! formats, `served_context` and the source map behind `file:line:col`. These tests pin each copy
//! to the reference's version over every shipped scenario and topology file plus hand-picked
//! edge cases, so the two cannot drift apart silently.

use std::path::{Path, PathBuf};
use tollgate_control_plane::ControlPlaneSettings;
use tollgate_protocol::throttle::key;
use tollgate_scenario::throttle::{TENANT, served_context};
use tollgate_scenario::{Action, Condition, ThrottleKey, Wait};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Every `.toml` under `scenarios/`, topologies and instance configs included.
fn shipped_toml_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&scenarios_dir(), &mut out);
    out.sort();
    out
}

/// Every shipped scenario, read as the runner reads it.
fn shipped_scenarios() -> Vec<tollgate_scenario::Scenario> {
    let files = tollgate_harness::runner::discover(&[scenarios_dir()]).unwrap();
    assert!(files.len() > 20, "found only {files:?}");
    files
        .iter()
        .map(|f| tollgate_scenario::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect()
}

/// The reference's key for what `key` names, built by `tollgate_protocol::throttle::key`.
fn reference_key(key: &ThrottleKey, app_id: &str) -> String {
    match key {
        ThrottleKey::Api {
            context, version, ..
        } => key::api(context, version),
        ThrottleKey::Resource {
            context,
            version,
            verb,
            target,
            ..
        } => key::resource(context, version, target, verb),
        ThrottleKey::Subscription {
            context,
            version,
            tier,
            ..
        } => key::subscription(app_id, context, version, tier),
        ThrottleKey::Application { user, .. } => key::application(app_id, user, TENANT),
        // The file names the key itself: nothing to build.
        ThrottleKey::Custom { key } => key.clone(),
    }
}

#[test]
fn the_scenario_tenant_is_the_control_planes() {
    assert_eq!(TENANT, ControlPlaneSettings::guide().tenant_domain);
}

#[test]
fn served_context_matches_the_control_planes_for_every_shipped_api_and_edge_cases() {
    let mut inputs: Vec<(String, String)> = [
        ("/pizzashack", "1.0.0"),
        ("/pizzashack/", "1.0.0"),
        ("/{version}/pizza", "2"),
        ("/pizza/{version}", "v1"),
        ("/a/{version}/b/{version}", "3"),
        ("/", "1.0.0"),
        ("", "1.0.0"),
        ("/t/wso2.com/pizza", "1.0.0-SNAPSHOT"),
        ("/ünïcode", "1"),
    ]
    .iter()
    .map(|(c, v)| ((*c).to_owned(), (*v).to_owned()))
    .collect();
    for scenario in shipped_scenarios() {
        for step in &scenario.steps {
            if let Action::Publish(p) = &step.action {
                inputs.push((p.context.clone(), p.version.clone()));
            }
        }
    }
    assert!(inputs.len() > 30, "{inputs:?}");
    for (context, version) in &inputs {
        assert_eq!(
            served_context(context, version),
            tollgate_control_plane::model::served_context(context, version),
            "context {context:?}, version {version:?}"
        );
    }
}

#[test]
fn throttle_keys_render_as_the_reference_builds_them_for_every_shipped_wait_and_edge_cases() {
    let context = served_context("/pizzashack", "1.0.0");
    let mut keys = vec![
        ThrottleKey::Api {
            api: "pizza".into(),
            context: context.clone(),
            version: "1.0.0".into(),
        },
        ThrottleKey::Resource {
            api: "pizza".into(),
            context: context.clone(),
            version: "1.0.0".into(),
            verb: "GET".into(),
            target: "/menu/{id}".into(),
        },
        ThrottleKey::Subscription {
            app: "shop".into(),
            api: "pizza".into(),
            context,
            version: "1.0.0".into(),
            tier: "Gold".into(),
        },
        ThrottleKey::Application {
            app: "shop".into(),
            user: "admin".into(),
        },
        // A user that already names its tenant is not suffixed twice.
        ThrottleKey::Application {
            app: "shop".into(),
            user: "alice@wso2.com".into(),
        },
    ];
    for scenario in shipped_scenarios() {
        for step in &scenario.steps {
            if let Action::Wait(Wait {
                condition: Condition::Throttle { key, .. },
                ..
            }) = &step.action
            {
                keys.push(key.clone());
            }
        }
    }
    assert!(
        keys.len() > 8,
        "the shipped scenarios wait on too few keys: {keys:?}"
    );
    for key in &keys {
        for app_id in ["42", "3f1c7a52-9d4e-4b9a-8f57-0c6f2d1e8a90"] {
            assert_eq!(
                key.render(app_id),
                reference_key(key, app_id),
                "{key:?} for app {app_id}"
            );
        }
    }
}

#[test]
fn source_maps_locate_every_offset_of_every_shipped_file_alike() {
    let mut sources: Vec<String> = shipped_toml_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(sources.len() > 30, "found only {} files", sources.len());
    sources.extend(
        [
            "",
            "\n",
            "a = 1",
            "a = 1\n",
            "\n\nx",
            "a = 1\r\nb = 2\r\n",
            "bé = \"x\"\nçà = 'ü'\n",
            "emoji = \"🦀🦀\"\n\n  k = 1",
        ]
        .map(str::to_owned),
    );
    for source in &sources {
        let reference = tollgate_config::SourceMap::new(source);
        let copy = tollgate_scenario::error::SourceMap::new(source);
        // Every byte offset (inside a character too) and a little past the end.
        for offset in 0..=source.len() + 2 {
            let (r, c) = (reference.locate(offset), copy.locate(offset));
            assert_eq!(
                (r.line, r.column),
                (c.line, c.column),
                "offset {offset} of {:?}",
                &source[..source.len().min(60)]
            );
        }
    }
}
