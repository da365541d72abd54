//! The runtime home: one file per served API, the start-up cleaning the skip list governs,
//! custom API files served until a synchronised API of the same file name replaces them.
//! Events are applied by hand; requests go through `Gateway::handle`.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tollgate_config::model::SkipList;
use tollgate_gateway::{Gateway, RuntimeHome};
use tollgate_protocol::artifact::{ApiArtifact, EnvironmentType};
use tollgate_protocol::event::Event;
use tollgate_protocol::{ManualClock, SharedClock};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-gateway-home-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn started(home: &Path, skip_apis: &[&str]) -> Arc<Gateway> {
    let skip = SkipList {
        apis: skip_apis.iter().map(|s| (*s).to_owned()).collect(),
        ..SkipList::default()
    };
    let clock: SharedClock = Arc::new(ManualClock::new(NOW_MILLIS));
    let gateway = Gateway::with_runtime(
        settings(&["Default"]),
        &outbound(),
        clock,
        Some(RuntimeHome::new(home, &skip)),
    );
    gateway.deploy_custom_files();
    gateway
}

fn api_files(home: &Path) -> Vec<String> {
    let dir = RuntimeHome::new(home, &SkipList::default()).api_dir();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn place(home: &Path, file: &str, content: &[u8]) {
    let dir = RuntimeHome::new(home, &SkipList::default()).api_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), content).unwrap();
}

/// An API anyone may call (no token), so a custom file needs no subscription.
fn open_api(id: &str, context: &str, backend: &str) -> ApiArtifact {
    let mut a = artifact(
        id,
        context,
        EnvironmentType::Hybrid,
        Some(backend.into()),
        None,
    );
    for op in &mut a.operations {
        op.auth_type = "None".into();
    }
    a
}

#[tokio::test]
async fn served_apis_get_a_file_each_and_lose_it_on_undeploy() {
    let home = Scratch::new();
    let (backend, _stop) = backend().await;
    let gw = started(&home.0, &[]);
    let (p, _) = endpoints(backend);
    let pizza = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        p,
        None,
    );
    gw.apply_snapshot(&snapshot("Default", vec![pizza.clone()], 1));
    assert_eq!(api_files(&home.0), ["admin--pizza_v1.0.0.json"]);
    let dir = gw.runtime().unwrap().api_dir();
    let written: ApiArtifact =
        serde_json::from_slice(&std::fs::read(dir.join("admin--pizza_v1.0.0.json")).unwrap())
            .unwrap();
    assert_eq!(written, pizza);

    gw.apply_event(&envelope(
        2,
        Event::RemoveApiFromGateway {
            label: "Default".into(),
            api_id: "pizza".into(),
            context: "/pizzashack/1.0.0".into(),
        },
    ));
    assert!(api_files(&home.0).is_empty());
}

#[tokio::test]
async fn a_restart_keeps_skip_listed_files_serves_them_and_deletes_the_rest() {
    let home = Scratch::new();
    let (backend, _stop) = backend().await;
    let url = format!("http://{backend}/production");
    let kept = open_api("kept", "/kept/1.0.0", &url);
    let dropped = open_api("dropped", "/dropped/1.0.0", &url);
    place(&home.0, "Kept.json", &serde_json::to_vec(&kept).unwrap());
    place(
        &home.0,
        "Dropped.json",
        &serde_json::to_vec(&dropped).unwrap(),
    );
    place(&home.0, "Broken.json", b"{ not json");

    let gw = started(&home.0, &["Kept.json", "Broken.json"]);
    assert_eq!(api_files(&home.0), ["Broken.json", "Kept.json"]);
    let answer = get(&gw, "/kept/1.0.0/menu", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.served(), "production");
    let answer = get(&gw, "/dropped/1.0.0/menu", None).await;
    assert_eq!(answer.status, 404);
    assert!(
        answer
            .body
            .contains("The requested resource is not available.")
    );
    assert_eq!(
        gw.status().apis.get("kept").map(String::as_str),
        Some("kept-rev-1")
    );

    // Synchronised APIs are served beside the custom one.
    let (p, _) = endpoints(backend);
    let pizza = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        p,
        None,
    );
    gw.apply_snapshot(&snapshot("Default", vec![pizza], 1));
    assert_eq!(get(&gw, "/kept/1.0.0/menu", None).await.status, 200);
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_synchronised_api_replaces_a_custom_file_of_the_same_name() {
    let home = Scratch::new();
    let (backend, _stop) = backend().await;
    // A stale copy of the synchronised API's file: open, and on the sandbox endpoint.
    let mut stale = open_api(
        "stale-copy",
        "/pizzashack/1.0.0",
        &format!("http://{backend}/sandbox"),
    );
    stale.name = "pizza".into();
    place(
        &home.0,
        "admin--pizza_v1.0.0.json",
        &serde_json::to_vec(&stale).unwrap(),
    );
    let gw = started(&home.0, &["admin--pizza_v1.0.0.json"]);
    let answer = get(&gw, "/pizzashack/1.0.0/menu", None).await;
    assert_eq!(
        answer.served(),
        "sandbox",
        "the stale file is served until the sync"
    );

    let (p, _) = endpoints(backend);
    let pizza = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        p,
        None,
    );
    gw.apply_snapshot(&snapshot("Default", vec![pizza.clone()], 1));
    let answer = get(&gw, "/pizzashack/1.0.0/menu", None).await;
    assert_eq!(answer.status, 401, "the synchronised API needs a token");
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(answer.served(), "production");
    assert!(!gw.status().apis.contains_key("stale-copy"));
    let dir = gw.runtime().unwrap().api_dir();
    let written: ApiArtifact =
        serde_json::from_slice(&std::fs::read(dir.join("admin--pizza_v1.0.0.json")).unwrap())
            .unwrap();
    assert_eq!(written, pizza);

    // Replaced for good: undeploying the synchronised API does not bring the stale file back.
    gw.apply_event(&envelope(
        2,
        Event::RemoveApiFromGateway {
            label: "Default".into(),
            api_id: "pizza".into(),
            context: "/pizzashack/1.0.0".into(),
        },
    ));
    assert_eq!(get(&gw, "/pizzashack/1.0.0/menu", None).await.status, 404);
    assert!(api_files(&home.0).is_empty());
}
