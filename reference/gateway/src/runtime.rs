//! The gateway node's runtime home (WSO2's `<APIM_HOME>`) and the Synapse artifact folders in
//! it, as `InMemoryAPIDeployer` and `GatewayStartupListener` treat them (docs/wso2-behaviour.md §2.3).
//!
//! WSO2 keeps one file per deployed API in
//! `repository/deployment/server/synapse-configs/default/api/`, named
//! `<provider>--<name>_v<version>.xml` (`admin--PizzaShackAPI_v1.0.0.xml`), beside `endpoints/`,
//! `sequences/` and `local-entries/`. At start (`completingServerStartup` → `cleanDeployment`)
//! it deletes every file in those four folders that `[apim.sync_runtime_artifacts.gateway.skip_list]`
//! (plus its built-in list) does not name; what is left is deployed as it stands, and the
//! start-up sync then deploys the control plane's APIs, replacing any file of the same name.
//!
//! Tollgate does the same with its own artifact JSON ([`ApiArtifact`]) instead of Synapse XML,
//! so its file names end in `.json` (`admin--PizzaShackAPI_v1.0.0.json`). Files are written and
//! deleted by the sync task only, never on the request path, and read only at start (no hot
//! deployment).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use tollgate_config::model::SkipList;
use tollgate_protocol::artifact::ApiArtifact;

/// The Synapse configuration folder, relative to the runtime home.
pub const SYNAPSE_DEFAULT: &str = "repository/deployment/server/synapse-configs/default";

/// The folders `cleanDeployment` cleans, in its order.
pub const FOLDERS: [&str; 4] = ["api", "local-entries", "endpoints", "sequences"];

/// Tollgate's artifact files end in this (WSO2's Synapse files in `.xml`).
pub const API_FILE_SUFFIX: &str = ".json";

/// WSO2's built-in `<SkipList>` (`api-manager.xml.j2`): the `_OpenService_` API and the
/// gateway's own sequences, never deleted at start whatever the configuration says.
const BUILT_IN_APIS: [&str; 1] = ["_OpenService_.xml"];
const BUILT_IN_SEQUENCES: [&str; 18] = [
    "_auth_failure_handler_.xml",
    "_build_.xml",
    "_cors_request_handler_.xml",
    "dispatchSeq.xml",
    "fault.xml",
    "_graphql_failure_handler_.xml",
    "main.xml",
    "outDispatchSeq.xml",
    "_production_key_error_.xml",
    "_resource_mismatch_handler_.xml",
    "_sandbox_key_error_.xml",
    "_threat_fault_.xml",
    "_throttle_out_handler_.xml",
    "_token_fault_.xml",
    "webhooksFaultSequence.xml",
    "_block_api_handler_.xml",
    "_backend_failure_handler_.xml",
    "_opa_policy_failure_handler_.xml",
];

/// The file WSO2 names API `artifact` by: `APIUtil`'s qualified name
/// `<provider>--<name>:v<version>` (`@` in the provider as `-AT-`), as Synapse turns it into a
/// file name (`ServiceBusUtils.generateFileName`: `:` and other characters a path cannot hold
/// become `_`), with Tollgate's suffix: `admin--PizzaShackAPI_v1.0.0.json`.
pub fn api_file_name(artifact: &ApiArtifact) -> String {
    let provider = artifact.provider.replace('@', "-AT-");
    let qualified = format!("{provider}--{}:v{}", artifact.name, artifact.version);
    let safe: String = qualified
        .chars()
        .map(|c| match c {
            '/' | '\\' | '?' | '*' | '|' | ':' | '<' | '>' | ' ' | '"' | '\0' => '_',
            c => c,
        })
        .collect();
    // `..` alone would name the parent folder; no API name makes one, but a file name never may.
    let safe = if safe.chars().all(|c| c == '.') {
        safe.replace('.', "_")
    } else {
        safe
    };
    format!("{safe}{API_FILE_SUFFIX}")
}

/// What `cleanDeployment` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// Deleted files, relative to the Synapse folder (`api/Old_v1.json`).
    pub removed: Vec<String>,
    /// Files the skip list kept, relative to the Synapse folder.
    pub kept: Vec<String>,
    /// Files that could not be deleted, with the reason (WSO2 logs these at debug and goes on).
    pub failed: Vec<(String, String)>,
}

/// A custom API file left in `api/` after cleaning, read at start.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomApi {
    /// The file name in `api/`.
    pub file: String,
    pub artifact: ApiArtifact,
}

/// Why a file left in `api/` is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct UnreadableApi {
    pub path: PathBuf,
    pub reason: String,
}

/// One gateway node's runtime home and skip list.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeHome {
    root: PathBuf,
    /// Folder → file names kept at start (the configured list plus WSO2's built-in one).
    skip: [(&'static str, BTreeSet<String>); 4],
}

impl RuntimeHome {
    /// The home at `root` (created on first write), keeping what `skip_list` names at start.
    pub fn new(root: impl Into<PathBuf>, skip_list: &SkipList) -> Self {
        let set = |configured: &[String], built_in: &[&str]| -> BTreeSet<String> {
            configured
                .iter()
                .cloned()
                .chain(built_in.iter().map(|s| (*s).to_owned()))
                .collect()
        };
        Self {
            root: root.into(),
            skip: [
                ("api", set(&skip_list.apis, &BUILT_IN_APIS)),
                ("local-entries", set(&skip_list.local_entries, &[])),
                ("endpoints", set(&skip_list.endpoints, &[])),
                ("sequences", set(&skip_list.sequences, &BUILT_IN_SEQUENCES)),
            ],
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<home>/repository/deployment/server/synapse-configs/default/<folder>`.
    pub fn folder(&self, folder: &str) -> PathBuf {
        self.root.join(SYNAPSE_DEFAULT).join(folder)
    }

    /// The `api/` folder.
    pub fn api_dir(&self) -> PathBuf {
        self.folder("api")
    }

    fn skipped(&self, folder: &str, file: &str) -> bool {
        self.skip
            .iter()
            .any(|(f, names)| *f == folder && names.contains(file))
    }

    /// `InMemoryAPIDeployer#cleanDeployment`: every file in the four folders that the skip list
    /// does not name is deleted. A missing folder is nothing to clean; sub-folders are left (as
    /// `File.delete` leaves a non-empty one).
    pub fn clean_deployment(&self) -> Cleaned {
        let mut cleaned = Cleaned::default();
        for folder in FOLDERS {
            for (name, path) in files_in(&self.folder(folder)) {
                let relative = format!("{folder}/{name}");
                if self.skipped(folder, &name) {
                    cleaned.kept.push(relative);
                    continue;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => cleaned.removed.push(relative),
                    Err(error) => cleaned.failed.push((relative, error.to_string())),
                }
            }
        }
        cleaned
    }

    /// Every file in `api/` read as an API artifact (after [`clean_deployment`](Self::clean_deployment),
    /// the files the skip list kept), by file name. WSO2's built-in `_OpenService_.xml` is not
    /// Tollgate's to serve and is passed over.
    pub fn read_custom_apis(&self) -> Vec<Result<CustomApi, UnreadableApi>> {
        files_in(&self.api_dir())
            .into_iter()
            .filter(|(name, _)| !BUILT_IN_APIS.contains(&name.as_str()))
            .map(|(file, path)| read_api(file, path))
            .collect()
    }

    /// Writes API `artifact` as `api/<file>`: a temporary file renamed over the old one, so a
    /// reader (or a crash) never sees half a file.
    pub fn write_api(&self, file: &str, artifact: &ApiArtifact) -> io::Result<()> {
        let dir = self.api_dir();
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_vec_pretty(artifact).map_err(io::Error::other)?;
        // Not a name `api_file_name` makes (it ends in `.json`); cleaned at the next start.
        let partial = dir.join(format!(".{file}.partial"));
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, dir.join(file))
    }

    /// Deletes `api/<file>`; a file already gone is not an error.
    pub fn remove_api(&self, file: &str) -> io::Result<()> {
        match std::fs::remove_file(self.api_dir().join(file)) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// The regular files of `dir` (name, path), sorted by name; none if it cannot be read.
fn files_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    files.sort();
    files
}

fn read_api(file: String, path: PathBuf) -> Result<CustomApi, UnreadableApi> {
    let unreadable = |reason: String| UnreadableApi {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
    match serde_json::from_slice::<ApiArtifact>(&bytes) {
        Ok(artifact) => Ok(CustomApi { file, artifact }),
        Err(error) if bytes.trim_ascii_start().starts_with(b"<") => Err(unreadable(format!(
            "Synapse XML is not executed by Tollgate; an API file holds Tollgate's artifact JSON ({error})"
        ))),
        Err(error) => Err(unreadable(format!("not an API artifact: {error}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tollgate_protocol::artifact::{ArtifactEnvironment, Endpoints, EnvironmentType};

    static NEXT: AtomicU32 = AtomicU32::new(0);

    /// A fresh folder under the temp dir, removed on drop.
    pub(crate) struct Scratch(PathBuf);

    impl Scratch {
        pub(crate) fn new() -> Self {
            let dir = std::env::temp_dir().join(format!(
                "tollgate-runtime-test-{}-{}",
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

    fn artifact(provider: &str, name: &str, version: &str) -> ApiArtifact {
        ApiArtifact {
            api_id: format!("{name}-id"),
            revision_id: "r1".into(),
            revision_number: 1,
            name: name.into(),
            version: version.into(),
            context: format!("/{}/{version}", name.to_lowercase()),
            provider: provider.into(),
            lifecycle_status: "PUBLISHED".into(),
            environment: ArtifactEnvironment {
                name: "Default".into(),
                kind: EnvironmentType::Hybrid,
            },
            vhost: "localhost".into(),
            endpoints: Endpoints::default(),
            operations: Vec::new(),
            api_throttling_policy: None,
            policies: Vec::new(),
            transport: Vec::new(),
            security_scheme: Vec::new(),
            scopes: Vec::new(),
            max_tps: None,
            deployed_time: 0,
        }
    }

    fn put(home: &RuntimeHome, relative: &str, text: &str) {
        let path = home.root().join(SYNAPSE_DEFAULT).join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn file_names_are_wso2s_qualified_api_names() {
        let a = artifact("admin", "PizzaShackAPI", "1.0.0");
        assert_eq!(api_file_name(&a), "admin--PizzaShackAPI_v1.0.0.json");
        let a = artifact("bob@example.com", "My API", "v/2");
        assert_eq!(api_file_name(&a), "bob-AT-example.com--My_API_vv_2.json");
    }

    #[test]
    fn cleaning_keeps_what_the_skip_list_and_the_built_in_list_name() {
        let scratch = Scratch::new();
        let skip = SkipList {
            apis: vec!["Custom_v1.json".into()],
            endpoints: vec!["ep.xml".into()],
            sequences: vec![],
            local_entries: vec!["le.xml".into()],
        };
        let home = RuntimeHome::new(&scratch.0, &skip);
        for file in [
            "api/Custom_v1.json",
            "api/Other_v1.json",
            "api/_OpenService_.xml",
            "endpoints/ep.xml",
            "endpoints/other.xml",
            "sequences/main.xml",
            "sequences/mine.xml",
            "local-entries/le.xml",
            "local-entries/x.xml",
        ] {
            put(&home, file, "{}");
        }
        let cleaned = home.clean_deployment();
        assert_eq!(
            cleaned.removed,
            [
                "api/Other_v1.json",
                "local-entries/x.xml",
                "endpoints/other.xml",
                "sequences/mine.xml"
            ]
        );
        assert_eq!(
            cleaned.kept,
            [
                "api/Custom_v1.json",
                "api/_OpenService_.xml",
                "local-entries/le.xml",
                "endpoints/ep.xml",
                "sequences/main.xml"
            ]
        );
        assert!(cleaned.failed.is_empty());
        assert!(home.api_dir().join("Custom_v1.json").is_file());
        assert!(!home.api_dir().join("Other_v1.json").exists());
    }

    #[test]
    fn a_missing_home_is_nothing_to_clean_or_read() {
        let scratch = Scratch::new();
        let home = RuntimeHome::new(scratch.0.join("absent"), &SkipList::default());
        assert_eq!(home.clean_deployment(), Cleaned::default());
        assert!(home.read_custom_apis().is_empty());
    }

    #[test]
    fn kept_api_files_are_read_and_bad_ones_say_which_file_and_why() {
        let scratch = Scratch::new();
        let skip = SkipList {
            apis: vec![
                "Good.json".into(),
                "Broken.json".into(),
                "Synapse.xml".into(),
            ],
            ..SkipList::default()
        };
        let home = RuntimeHome::new(&scratch.0, &skip);
        let good = artifact("admin", "Good", "1");
        home.write_api("Good.json", &good).unwrap();
        put(&home, "api/Broken.json", "{\"apiId\": 1");
        put(&home, "api/Synapse.xml", "<api name=\"x\"/>");
        put(&home, "api/_OpenService_.xml", "<api/>");
        home.clean_deployment();
        let read = home.read_custom_apis();
        assert_eq!(read.len(), 3);
        let Err(broken) = &read[0] else {
            panic!("Broken.json read: {read:?}")
        };
        assert!(
            broken
                .to_string()
                .contains("Broken.json: not an API artifact")
        );
        assert_eq!(
            read[1],
            Ok(CustomApi {
                file: "Good.json".into(),
                artifact: good
            })
        );
        let Err(xml) = &read[2] else {
            panic!("Synapse.xml read: {read:?}")
        };
        assert!(
            xml.reason
                .starts_with("Synapse XML is not executed by Tollgate"),
            "{xml}"
        );
    }

    #[test]
    fn a_written_file_is_replaced_whole_and_removal_is_idempotent() {
        let scratch = Scratch::new();
        let home = RuntimeHome::new(&scratch.0, &SkipList::default());
        let mut a = artifact("admin", "A", "1");
        home.write_api("admin--A_v1.json", &a).unwrap();
        a.revision_id = "r2".into();
        home.write_api("admin--A_v1.json", &a).unwrap();
        let names: Vec<String> = files_in(&home.api_dir()).into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["admin--A_v1.json"]);
        let text = std::fs::read_to_string(home.api_dir().join("admin--A_v1.json")).unwrap();
        assert!(text.contains("\"revisionId\": \"r2\""));
        home.remove_api("admin--A_v1.json").unwrap();
        home.remove_api("admin--A_v1.json").unwrap();
        assert!(files_in(&home.api_dir()).is_empty());
    }
}
