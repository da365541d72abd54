//! `tollgate run` as a user meets it: exit codes, the report on stdout, JSON and JUnit files.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

async fn tollgate(args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .args(args)
        .current_dir(tollgate_harness::workspace_root().unwrap())
        .env("CI", "true")
        .env_remove("TOLLGATE_SEED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("tollgate run did not exit within 120 s")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-run-{tag}-{}-{}",
        std::process::id(),
        tollgate_harness::address::private_address()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_passing_run_exits_0_and_writes_json_and_junit() {
    let dir = temp_dir("ok");
    let (json, junit) = (dir.join("report.json"), dir.join("report.xml"));
    let (code, stdout, stderr) = tollgate(&[
        "run",
        "harness/tests/fixtures/passes.toml",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed, 0 failed, 0 skipped"), "{stdout}");
    // Plain progress lines, not a bar, under CI=true.
    assert!(
        stderr.contains("ok      harness/tests/fixtures/passes.toml"),
        "{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["totals"]["passed"], 1);
    let parsed = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(&junit).unwrap(),
    ))
    .unwrap();
    assert_eq!((parsed.tests, parsed.failures), (1, 0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_failing_run_exits_1_and_prints_the_diff_and_the_replay_command() {
    let (code, stdout, _) =
        tollgate(&["run", "harness/tests/fixtures/deliberately-wrong.toml"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("+  \"host\": \"localhost:9080\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "replay: tollgate run harness/tests/fixtures/deliberately-wrong.toml --seed 5 --driver inproc"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_driver_that_cannot_do_what_is_asked_is_refused_with_exit_2() {
    let (code, _, stderr) = tollgate(&["run", "--driver", "external"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tollgate conform --target"), "{stderr}");
    let (code, _, stderr) = tollgate(&["up", "--driver", "sim"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tollgate run --driver sim"), "{stderr}");
}

#[tokio::test]
async fn bad_scenario_files_print_every_located_error_and_exit_2() {
    let dir = temp_dir("bad");
    std::fs::write(
        dir.join("one.toml"),
        "[scenario]\nname = \"x\"\ntopology = \"guide\"\ntags = [\"throttle\"]\n\n[[step]]\nexpct = 1\n",
    )
    .unwrap();
    std::fs::write(dir.join("two.toml"), "[scenario]\nname = 3\n").unwrap();
    let (code, _, stderr) = tollgate(&["run", dir.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("one.toml:4:"), "{stderr}");
    assert!(stderr.contains("one.toml:7:"), "{stderr}");
    assert!(stderr.contains("two.toml:2:"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
