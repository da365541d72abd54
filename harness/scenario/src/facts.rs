//! What a scenario may name in its topology: instances, mock backends, gateway environments.
//!
//! Read straight from the topology folder (`topology.toml` and each instance's
//! `deployment.toml`) with `toml_edit`, without the harness's topology loader: this crate stays
//! independent of the harness, and only names are needed here. A folder that cannot be read
//! yields no facts, and names go unchecked: the topology loader reports that folder's problems
//! when the scenario runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names a scenario can use against one topology.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopologyFacts {
    /// `[[instance]] name`s of `topology.toml`.
    pub instances: BTreeSet<String>,
    /// `[[backend]] name`s of `topology.toml`.
    pub backends: BTreeSet<String>,
    /// `[[load_balancer]] name`s of `topology.toml`.
    pub load_balancers: BTreeSet<String>,
    /// The Traffic Managers inside control-plane instances, as faults name them:
    /// `traffic-manager` when one instance runs a control plane, else `{instance}-traffic-manager`.
    pub traffic_managers: BTreeSet<String>,
    /// `[[apim.gateway.environment]] name`s of every instance's `deployment.toml` (WSO2's
    /// single `Default` environment when none declares any).
    pub environments: BTreeSet<String>,
}

/// The folder of topologies (`scenarios/topologies/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub dir: PathBuf,
}

impl Catalog {
    /// The nearest `topologies/` folder beside the scenario file or above it: a file under
    /// `scenarios/examples/` finds `scenarios/topologies/`.
    pub fn discover(scenario_file: &Path) -> Option<Self> {
        let start = scenario_file.parent()?;
        let start = if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            start
        };
        start
            .ancestors()
            .map(|dir| dir.join("topologies"))
            .find(|dir| dir.is_dir())
            .map(|dir| Self { dir })
    }

    /// Folder names that hold a `topology.toml`, sorted.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("topology.toml").is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// The facts of topology `name`, if its `topology.toml` reads.
    pub fn facts(&self, name: &str) -> Option<TopologyFacts> {
        let root = self.dir.join(name);
        let text = std::fs::read_to_string(root.join("topology.toml")).ok()?;
        let document = toml_edit::Document::parse(text).ok()?;
        let mut facts = TopologyFacts::default();
        let mut dirs = Vec::new();
        let mut names = Vec::new();
        for instance in tables(document.get("instance")) {
            if let Some(name) = instance.get("name").and_then(toml_edit::Item::as_str) {
                facts.instances.insert(name.to_owned());
                names.push(name.to_owned());
                let dir = instance
                    .get("dir")
                    .and_then(toml_edit::Item::as_str)
                    .unwrap_or(name);
                dirs.push(root.join(dir));
            }
        }
        for backend in tables(document.get("backend")) {
            if let Some(name) = backend.get("name").and_then(toml_edit::Item::as_str) {
                facts.backends.insert(name.to_owned());
            }
        }
        for lb in tables(document.get("load_balancer")) {
            if let Some(name) = lb.get("name").and_then(toml_edit::Item::as_str) {
                facts.load_balancers.insert(name.to_owned());
            }
        }
        let mut control_planes = Vec::new();
        for (name, dir) in names.iter().zip(dirs) {
            let Ok(text) = std::fs::read_to_string(dir.join("deployment.toml")) else {
                continue;
            };
            let Ok(config) = toml_edit::Document::parse(text) else {
                continue;
            };
            let role = config
                .get("server")
                .and_then(|server| server.get("server_role"))
                .and_then(toml_edit::Item::as_str)
                .unwrap_or("default");
            if role == "control-plane" || role == "default" {
                control_planes.push(name.clone());
            }
            let environments = config
                .get("apim")
                .and_then(|apim| apim.get("gateway"))
                .and_then(|gateway| gateway.get("environment"));
            for environment in tables(environments) {
                if let Some(name) = environment.get("name").and_then(toml_edit::Item::as_str) {
                    facts.environments.insert(name.to_owned());
                }
            }
        }
        let single = control_planes.len() == 1;
        for name in control_planes {
            facts.traffic_managers.insert(if single {
                "traffic-manager".to_owned()
            } else {
                format!("{name}-traffic-manager")
            });
        }
        if facts.environments.is_empty() {
            facts.environments.insert("Default".to_owned());
        }
        Some(facts)
    }
}

/// The tables of an array of tables (`[[x]]`) or an inline array of tables.
fn tables(item: Option<&toml_edit::Item>) -> Vec<&dyn toml_edit::TableLike> {
    match item {
        Some(toml_edit::Item::ArrayOfTables(array)) => array
            .iter()
            .map(|t| t as &dyn toml_edit::TableLike)
            .collect(),
        Some(toml_edit::Item::Value(toml_edit::Value::Array(array))) => array
            .iter()
            .filter_map(toml_edit::Value::as_inline_table)
            .map(|t| t as &dyn toml_edit::TableLike)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/guide/one-api-served-by-two-gateways-as-the-guide-shows.toml");
        Catalog::discover(&here).unwrap()
    }

    #[test]
    fn the_shipped_topologies_are_found_from_an_example_file() {
        let names = catalog().names();
        assert!(names.contains(&"guide".to_owned()), "{names:?}");
        assert!(names.contains(&"guide-sandbox".to_owned()), "{names:?}");
    }

    #[test]
    fn the_guide_names_its_instances_backends_and_environments() {
        let facts = catalog().facts("guide").unwrap();
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
        assert_eq!(
            list(&facts.instances),
            ["control-plane", "default-gateway", "production-gateway"]
        );
        assert_eq!(
            list(&facts.backends),
            ["pizzashack-production", "pizzashack-sandbox"]
        );
        assert_eq!(list(&facts.environments), ["Default", "Production Gateway"]);
        assert!(catalog().facts("no-such-topology").is_none());
    }

    #[test]
    fn the_ha_topology_names_its_load_balancer() {
        let facts = catalog().facts("ha").unwrap();
        assert!(facts.load_balancers.contains("load-balancer"));
        assert_eq!(
            facts.traffic_managers.iter().collect::<Vec<_>>(),
            ["traffic-manager"]
        );
        assert!(facts.instances.contains("gateway-2"));
    }
}
