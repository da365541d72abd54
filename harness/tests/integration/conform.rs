//! `tollgate conform` checks, and checks for real: the reference passes through its public URLs
//! alone, with the same per-test results as in-process and nothing left behind; a gateway gone
//! wrong in one way fails in the profile that covers it, and only there.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tollgate_harness::client::Client;
use tollgate_harness::conform::report::LevelResult;
use tollgate_harness::conform::{self, ConformOptions};
use tollgate_harness::driver::{InprocDriver, TargetFile};
use tollgate_harness::report::Outcome;
use tollgate_harness::{RunningTopology, Topology, runner};
use tollgate_protocol::defect::Defect;
use tollgate_protocol::{SharedClock, SystemClock};

fn scenarios(folders: &[&str]) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    folders.iter().map(|f| root.join(f)).collect()
}

fn options(folders: &[&str]) -> ConformOptions {
    ConformOptions {
        target: "test".into(),
        paths: scenarios(folders),
        profiles: Vec::new(),
        report: None,
        json: None,
        junit: None,
        run_test: None,
        skip_tests: Vec::new(),
        propagation: Duration::from_secs(10),
        keep: false,
        sweep: false,
        seed: Some(7),
    }
}

/// The guide's topology on the system clock, as `tollgate up` runs it, and its target file.
async fn reference() -> (RunningTopology, TargetFile) {
    let topology = Topology::load(tollgate_harness::resolve_topology("guide")).unwrap();
    let address = tollgate_harness::address::private_address();
    let clock: SharedClock = Arc::new(SystemClock);
    let running = tollgate_harness::boot(
        &topology,
        tollgate_harness::BootOptions::new(7, clock, address),
    )
    .await
    .unwrap();
    let target = conform::describe_topology(&topology, address);
    (running, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_conforms_through_its_public_urls_and_leaves_nothing_behind() {
    let folders = ["routing", "auth", "key-types"];
    let (running, target) = reference().await;
    let mut options = options(&folders);
    options.propagation = Duration::from_secs(30);
    let report = conform::check_target(&options, target.clone(), "reference")
        .await
        .unwrap();
    let failed: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Failed)
        .map(|t| (&t.name, &t.first_failure))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}\n{}", report.summary());
    for profile in &report.profiles {
        let core = profile.core.as_ref().unwrap();
        assert_ne!(core.result, LevelResult::Failure, "{}", report.summary());
    }
    // What ran passed in-process too, and what was skipped says why.
    let files = runner::discover(&scenarios(&folders)).unwrap();
    let (loaded, errors) = runner::load_all(&files);
    assert!(errors.is_empty());
    let inproc = runner::run_all(&InprocDriver::new(), &loaded, Some(7), 2, &|_| {}).await;
    for (external, local) in report.tests.iter().zip(&inproc.scenarios) {
        assert_eq!(external.name, local.file);
        match external.result {
            Outcome::Passed => assert_eq!(local.outcome, Outcome::Passed, "{}", local.file),
            Outcome::Skipped => assert!(external.reason.is_some(), "{}", external.name),
            Outcome::Failed => unreachable!(),
        }
    }
    let passed = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Passed)
        .count();
    assert!(passed >= 20, "only {passed} passed:\n{}", report.summary());
    // Every API and application the run made is gone: a sweep finds nothing.
    let driver =
        tollgate_harness::driver::ExternalDriver::new(target, "check", Duration::ZERO).unwrap();
    let left = conform::sweep(&driver, tollgate_harness::driver::external::NAME_PREFIX)
        .await
        .unwrap();
    assert_eq!(left, 0);
    running.shutdown().await;
}

/// A rewrite of one answer: from the request's path and the answer's status and body, the
/// status to send (the body may be changed in place).
type Mutation = fn(&str, u16, &mut Vec<u8>) -> u16;

/// A proxy in front of `upstream` that passes everything through, rewrites answers with
/// `mutation`, and always differs from its upstream in harmless ways a real WSO2 differs too:
/// header names in title case, in another order.
async fn proxy(upstream: String, client: Client, mutation: Mutation) -> SocketAddr {
    let address = tollgate_harness::address::private_address();
    let listener = tokio::net::TcpListener::bind((address, 0)).await.unwrap();
    let local = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (upstream, client) = (upstream.clone(), client.clone());
            let service = service_fn(move |request: hyper::Request<Incoming>| {
                let (upstream, client) = (upstream.clone(), client.clone());
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                    let mut outgoing =
                        client.request(parts.method.clone(), format!("{upstream}{path}"));
                    for (name, value) in &parts.headers {
                        if name != http::header::HOST {
                            outgoing = outgoing.header(name.as_str(), value.to_str().unwrap_or(""));
                        }
                    }
                    let answer = outgoing.body(body).send().await.unwrap();
                    let mut body = answer.body.to_vec();
                    let status = mutation(path, answer.status.as_u16(), &mut body);
                    let mut response = hyper::Response::builder().status(status);
                    // Names in reverse order; each name's values keep theirs.
                    let names: Vec<_> = answer.headers.keys().collect();
                    for name in names.into_iter().rev() {
                        if name == http::header::CONTENT_LENGTH
                            || name == http::header::TRANSFER_ENCODING
                        {
                            continue;
                        }
                        for value in answer.headers.get_all(name) {
                            response = response.header(name, value);
                        }
                    }
                    Ok::<_, hyper::Error>(response.body(Full::new(Bytes::from(body))).unwrap())
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .title_case_headers(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    local
}

/// Puts every gateway's HTTP URL of `target` behind a proxy applying `mutation`.
async fn behind_proxies(target: &mut TargetFile, mutation: Mutation) {
    let client = tollgate_harness::driver::external::client_for(target).unwrap();
    for gateway in &mut target.gateways {
        let proxy = proxy(gateway.http.clone(), client.clone(), mutation).await;
        let host = format!("proxied-{}", gateway.instance);
        target.resolve.insert(host.clone(), proxy.ip());
        gateway.http = format!("http://{host}:{}", proxy.port());
    }
}

/// How a broken target is made from the reference.
enum Broken {
    /// Every gateway's HTTP answers rewritten by a proxy in front of it.
    Answers(Mutation),
    /// Every node switched into a deliberate defect (a test build's switch; see
    /// `tollgate_protocol::defect`).
    Defect(Defect),
}

/// The reference, broken as `broken` says, checked against `folders` (with a short
/// propagation bound: in-process a change shows in milliseconds, and each deliberately failing
/// step waits the bound out as propagation-lost).
async fn check_broken(folders: &[&str], broken: Broken) -> conform::report::ConformanceReport {
    let (running, mut target) = reference().await;
    match broken {
        Broken::Answers(mutation) => behind_proxies(&mut target, mutation).await,
        Broken::Defect(defect) => {
            for (_, gateway) in running.gateways() {
                gateway.gateway().defects().inject(defect);
            }
            running.control_plane().unwrap().defects().inject(defect);
        }
    }
    let mut options = options(folders);
    options.propagation = Duration::from_secs(5);
    let report = conform::check_target(&options, target, "reference")
        .await
        .unwrap();
    running.shutdown().await;
    report
}

/// Runs `folders` against the reference broken as `broken` says, and checks that `test` fails
/// and that what fails is in `profile`, and only there.
async fn caught_only_in(folders: &[&str], broken: Broken, profile: &str, test: &str) {
    let report = check_broken(folders, broken).await;
    let failed: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Failed)
        .collect();
    assert!(
        failed.iter().any(|t| t.name == test),
        "`{test}` did not fail:\n{}",
        report.summary()
    );
    for t in &failed {
        assert!(
            t.features.iter().any(|f| f == profile),
            "{} failed outside `{profile}`: {:?}",
            t.name,
            t.first_failure
        );
    }
    let core = report
        .profiles
        .iter()
        .find(|p| p.name == profile)
        .and_then(|p| p.core.as_ref())
        .unwrap();
    assert_eq!(core.result, LevelResult::Failure);
    assert!(!report.core_conforms());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_answering_405_as_404_fails_routing_only() {
    caught_only_in(
        &["routing", "key-types"],
        Broken::Answers(|_, status, _| if status == 405 { 404 } else { status }),
        "routing",
        "routing/known-resource-with-another-method-answers-405.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_calling_an_invalid_token_missing_fails_token_auth_only() {
    caught_only_in(
        &["routing", "auth"],
        Broken::Answers(|_, status, body| {
            if status == 401 {
                let text = String::from_utf8_lossy(body).replace("900901", "900902");
                *body = text.into_bytes();
            }
            status
        }),
        "token-auth",
        "auth/malformed-token-is-refused-with-invalid-credentials.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_gateway_serving_sandbox_keys_fails_key_types_only() {
    caught_only_in(
        &["routing", "key-types"],
        Broken::Defect(Defect::SandboxKeysOnProduction),
        "key-types",
        "key-types/sandbox-key-refused-by-production-gateway.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hybrid_gateway_sending_sandbox_keys_to_production_fails_key_types_only() {
    caught_only_in(
        &["routing", "key-types"],
        Broken::Defect(Defect::HybridSandboxToProduction),
        "key-types",
        "key-types/hybrid-gateway-sends-each-key-type-to-its-own-endpoint.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_accepting_alg_none_fails_token_auth_only() {
    caught_only_in(
        &["routing", "auth"],
        Broken::Defect(Defect::AlgNoneAccepted),
        "token-auth",
        "auth/unsigned-alg-none-token-is-refused-with-invalid-credentials.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_never_applying_revocations_fails_token_auth_only() {
    caught_only_in(
        &["routing", "auth"],
        Broken::Defect(Defect::RevocationsIgnored),
        "token-auth",
        "auth/revoked-token-is-refused-once-the-gateway-learns-of-it.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_swapped_quota_codes_fails_throttling_only() {
    caught_only_in(
        &["routing", "throttling"],
        Broken::Defect(Defect::ThrottleCodesSwapped),
        "throttling",
        "throttling/a-subscription-quota-seen-from-outside-refuses-within-its-limit-plus-slack.toml",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_portal_ignoring_display_on_devportal_fails_control_plane_only() {
    caught_only_in(
        &["routing", "devportal"],
        Broken::Defect(Defect::DisplayOnDevportalIgnored),
        "control-plane",
        "devportal/environment-hidden-from-the-developer-portal-still-serves-the-api.toml",
    )
    .await;
}

/// A lost deploy event is no profile's feature: every scenario deploys. What must hold is that
/// the checker names the cause — the change never showed (`propagation-lost`) — and never
/// redeploys to heal it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_dropping_one_deploy_event_in_five_fails_as_propagation_lost() {
    let report = check_broken(&["routing"], Broken::Defect(Defect::DeployEventsDropped)).await;
    let failed: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Failed)
        .collect();
    assert!(!failed.is_empty(), "nothing failed:\n{}", report.summary());
    for t in failed {
        let failure = t.first_failure.as_ref().unwrap();
        assert!(
            failure.message.starts_with("propagation-lost"),
            "{}: {failure:?}",
            t.name
        );
    }
}

fn shipped_target(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name)
}

/// `tollgate up` in its own process, checked through `targets/guide-up.toml` (its address
/// changed to the one this test got): the same per-test results as the in-process check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tollgate_up_out_of_process_conforms_through_the_shipped_target_file() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};
    let address = tollgate_harness::address::private_address();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["up", "guide", "--address", &address.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("Ready.") {
                return;
            }
        }
        panic!("tollgate up ended before it was ready");
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(shipped_target("guide-up.toml"))
        .unwrap()
        .replace("127.0.0.1", &address.to_string());
    let dir = std::env::temp_dir().join(format!("tollgate-conform-up-{address}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("target.toml");
    std::fs::write(&file, text).unwrap();
    let target = TargetFile::load(&file).unwrap();
    let folders = ["routing"];
    let out_of_process = conform::check_target(&options(&folders), target, "external")
        .await
        .unwrap();
    let (running, target) = reference().await;
    let in_process = conform::check_target(&options(&folders), target, "reference")
        .await
        .unwrap();
    running.shutdown().await;
    let results = |r: &conform::report::ConformanceReport| -> Vec<(String, Outcome)> {
        r.tests.iter().map(|t| (t.name.clone(), t.result)).collect()
    };
    assert_eq!(results(&out_of_process), results(&in_process));
    assert!(
        out_of_process.core_conforms(),
        "{}",
        out_of_process.summary()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Ctrl-C in the middle of a run deletes what the run created: `tollgate conform` in its own
/// process is interrupted once an API of its run exists, and a sweep afterwards finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_deletes_what_the_interrupted_run_created() {
    use std::process::Stdio;
    let (running, _) = reference().await;
    let text = std::fs::read_to_string(shipped_target("guide-up.toml"))
        .unwrap()
        .replace("127.0.0.1", &running.address.to_string());
    let dir = std::env::temp_dir().join(format!("tollgate-conform-ctrl-c-{}", running.address));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("target.toml");
    std::fs::write(&file, text).unwrap();
    let target = TargetFile::load(&file).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("conform")
        .arg("--target")
        .arg(&file)
        .args(scenarios(&["routing", "key-types", "auth"]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Interrupt once the run has created an API: the Publisher lists one with the prefix.
    let client = tollgate_harness::driver::external::client_for(&target).unwrap();
    let base = target.control_plane.url.clone();
    let token = client
        .password_grant_token(&base, ("admin", "admin"), "ctrl-c-probe", "apim:api_view")
        .await
        .unwrap();
    let prefix = tollgate_harness::driver::external::NAME_PREFIX;
    let created = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let list = client
                .get(format!("{base}/api/am/publisher/v4/apis?limit=100"))
                .bearer(&token)
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = list.json().unwrap();
            let names = body["list"].as_array().cloned().unwrap_or_default();
            if names
                .iter()
                .any(|api| api["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            {
                return;
            }
            // The run is another process: its progress shows only through the target.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(created.is_ok(), "the run created no API within 60 s");
    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("tollgate conform did not end within 60 s of Ctrl-C")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted; deleting"), "{stderr}");
    // It found what it made (the API seen above at least), not an empty target.
    let deleted: usize = stderr
        .split("tollgate conform: deleted ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no deletion reported: {stderr}"));
    assert!(deleted >= 1, "{stderr}");
    let driver =
        tollgate_harness::driver::ExternalDriver::new(target, "after", Duration::ZERO).unwrap();
    assert_eq!(
        conform::sweep(&driver, prefix).await.unwrap(),
        0,
        "{stderr}"
    );
    running.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// A load balancer in a target file: the HA topology checked from outside runs the HA scenario
/// a client can play (a revocation seen through the load balancer on both nodes) and skips the
/// ones that need faults, each with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ha_reference_conforms_through_its_load_balancer() {
    let topology = Topology::load(tollgate_harness::resolve_topology("ha")).unwrap();
    let address = tollgate_harness::address::private_address();
    let clock: SharedClock = Arc::new(SystemClock);
    let running = tollgate_harness::boot(
        &topology,
        tollgate_harness::BootOptions::new(7, clock, address),
    )
    .await
    .unwrap();
    let target = conform::describe_topology(&topology, address);
    assert_eq!(target.load_balancers.len(), 1);
    let report = conform::check_target(&options(&["ha"]), target, "reference")
        .await
        .unwrap();
    let result = |name: &str| {
        report
            .tests
            .iter()
            .find(|t| t.name == name)
            .map(|t| (t.result, t.reason.clone()))
            .unwrap()
    };
    assert_eq!(
        result("ha/revoked-token-is-refused-by-every-gateway-node.toml").0,
        Outcome::Passed,
        "{}",
        report.summary()
    );
    for test in &report.tests {
        assert_ne!(test.result, Outcome::Failed, "{}", report.summary());
        if test.result == Outcome::Skipped {
            assert!(test.reason.is_some(), "{}", test.name);
        }
    }
    running.shutdown().await;
}

/// The shipped target file for `tollgate up ha` loads and declares the topology's load balancer.
#[test]
fn the_shipped_ha_target_file_declares_the_load_balancer() {
    let target = TargetFile::load(&shipped_target("ha-up.toml")).unwrap();
    let lb = target.load_balancer("load-balancer").unwrap();
    assert_eq!(lb.http, "http://gw.wso2.com:8080");
    assert_eq!(target.gateways.len(), 2);
}

/// The shipped WSO2 example is checked as a user's would be: its two prerequisites (the
/// exported certificate, the password variable) are reported where the file names them.
#[test]
fn the_shipped_wso2_target_file_names_what_it_still_needs() {
    let errors = TargetFile::load(&shipped_target("wso2-all-in-one.toml"))
        .unwrap_err()
        .0;
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["control_plane.password_env", "control_plane.ca_file"]
    );
    assert!(
        errors[0].message.contains("APIM_ADMIN_PASSWORD"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].message.contains("wso2carbon.pem"),
        "{}",
        errors[1]
    );
}

/// What a run leaves (`--keep`, or a run killed before it cleaned up) is found by `--sweep`
/// by its prefix and deleted; nothing is left after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_deletes_what_a_kept_run_left_and_then_finds_nothing() {
    let (running, target) = reference().await;
    let mut kept = options(&["routing"]);
    kept.keep = true;
    let report = conform::check_target(&kept, target.clone(), "reference")
        .await
        .unwrap();
    assert!(report.tests.iter().all(|t| t.result != Outcome::Failed));
    let driver =
        tollgate_harness::driver::ExternalDriver::new(target, "sweep", Duration::ZERO).unwrap();
    let prefix = tollgate_harness::driver::external::NAME_PREFIX;
    let swept = conform::sweep(&driver, prefix).await.unwrap();
    assert!(swept >= report.tests.len(), "swept {swept}");
    assert_eq!(conform::sweep(&driver, prefix).await.unwrap(), 0);
    running.shutdown().await;
}

/// What a real WSO2 answers differently without being wrong must not fail a test: every JSON
/// object the gateways and the control plane answer carries a field the scenarios do not know,
/// header names come in title case and another order, and `deploy-revision` answers 200 where
/// the reference answers 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harmless_differences_such_as_extra_json_fields_still_pass() {
    fn harmless(path: &str, status: u16, body: &mut Vec<u8>) -> u16 {
        if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(body) {
            map.insert("x-wso2-extra".into(), serde_json::Value::Bool(true));
            *body = serde_json::to_vec(&map).unwrap();
        }
        match status {
            201 if path.contains("/deploy-revision") => 200,
            other => other,
        }
    }
    let (running, mut target) = reference().await;
    behind_proxies(&mut target, harmless).await;
    // The control plane through its servlet HTTP port (9763), which serves the same REST APIs.
    let client = tollgate_harness::driver::external::client_for(&target).unwrap();
    let servlet = target
        .control_plane
        .url
        .replace("https://", "http://")
        .replace(":9443", ":9763");
    let control_plane = proxy(servlet, client, harmless).await;
    target
        .resolve
        .insert("proxied-control-plane".into(), control_plane.ip());
    target.control_plane.url = format!("http://proxied-control-plane:{}", control_plane.port());
    let report = conform::check_target(
        &options(&["routing", "auth", "key-types", "devportal", "revisions"]),
        target,
        "reference",
    )
    .await
    .unwrap();
    let failed: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Failed)
        .map(|t| (&t.name, &t.first_failure))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let passed = report
        .tests
        .iter()
        .filter(|t| t.result == Outcome::Passed)
        .count();
    assert!(passed >= 25, "only {passed} passed:\n{}", report.summary());
    running.shutdown().await;
}

/// A scenario skipped half-way on a shared deployment (here after it denied the admin user, whom
/// every scenario acts as) leaves nothing active: its clean-up deletes the deny condition, and
/// the next scenario is served once the gateway has heard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_skipped_scenario_created_does_not_reach_the_next_one() {
    let (running, target) = reference().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/throttling");
    let mut both = options(&[]);
    both.paths = vec![
        root.join("a-user-deny-policy-is-stored-with-the-tenant-domain-and-blocks-that-user.toml"),
        root.join(
            "an-application-quota-seen-from-outside-refuses-within-its-limit-plus-slack.toml",
        ),
    ];
    let report = conform::check_target(&both, target, "reference")
        .await
        .unwrap();
    let results: Vec<Outcome> = report.tests.iter().map(|t| t.result).collect();
    assert_eq!(
        results,
        [Outcome::Skipped, Outcome::Passed],
        "{:#?}",
        report.tests
    );
    running.shutdown().await;
}
