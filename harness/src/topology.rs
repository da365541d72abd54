//! Topologies: a folder of instances, each configured by its own `deployment.toml`.
//!
//! ```text
//! scenarios/topologies/guide/
//!   topology.toml                      name, instances, host map, mock backends
//!   control-plane/deployment.toml      server_role = "control-plane", offset 0
//!   production-gateway/deployment.toml server_role = "gateway-worker", offset 1
//!   default-gateway/deployment.toml    server_role = "gateway-worker", offset 2
//! ```
//!
//! `topology.toml`:
//!
//! ```toml
//! name = "guide"
//! description = "…"
//! [[instance]]            # start order; roles come from each deployment.toml
//! name = "control-plane"
//! dir = "control-plane"
//! [hosts]                 # hostname -> instance ("*" = all instances share the host)
//! "localhost" = "*"
//! "gw.wso2.com" = "default-gateway"
//! [[backend]]             # mock backends an API's endpoints point at
//! name = "pizzashack-production"
//! endpoint = "production"
//! url = "http://localhost:9080/pizzashack"
//! [[load_balancer]]       # the HA cluster's front (tollgate-load-balancer)
//! name = "load-balancer"
//! fronts = ["gateway-1", "gateway-2"]   # gateway instances, in pool order
//! http = 8080             # -> each node's passthrough HTTP
//! https = 8443            # -> each node's passthrough HTTPS (re-encrypted)
//! hosts = ["gw.wso2.com"] # hostnames that reach it (not also in [hosts])
//! ```
//!
//! Loading checks everything it can before anything is bound, and reports every problem at
//! once: each `deployment.toml` through `tollgate-config`, each gateway's labels against the
//! control plane's environments, unknown instances in `[hosts]`, and ports two instances (or a
//! backend) would both bind.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use tollgate_config::Loaded;
use tollgate_config::model::{DeploymentConfig, ServerRole};
use tollgate_node::PortRole;

/// The file in a topology folder that describes it.
pub const TOPOLOGY_FILE: &str = "topology.toml";
/// The file in each instance folder.
pub const DEPLOYMENT_FILE: &str = "deployment.toml";

/// A loaded, checked topology.
#[derive(Debug, Clone)]
pub struct Topology {
    pub name: String,
    pub description: String,
    /// The topology folder.
    pub root: PathBuf,
    /// In start order: every control-plane-running instance first, then the rest in file order.
    pub instances: Vec<Instance>,
    /// Hostname (lower case) → what answers for it.
    pub hosts: BTreeMap<String, HostTarget>,
    pub backends: Vec<BackendSpec>,
    /// `[[load_balancer]]`s, started after the gateways they front.
    pub load_balancers: Vec<LoadBalancerSpec>,
    /// Config warnings (deprecated keys, ignored keys, …), already formatted with file:line:col.
    pub warnings: Vec<String>,
}

/// One node of the topology.
#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    /// The instance folder.
    pub dir: PathBuf,
    /// Its `deployment.toml`.
    pub file: PathBuf,
    pub config: DeploymentConfig,
    /// Every listener the instance's role needs, with the port (offset applied).
    pub ports: Vec<(PortRole, u16)>,
}

impl Instance {
    pub fn role(&self) -> ServerRole {
        self.config.server.server_role
    }

    pub fn port(&self, role: PortRole) -> Option<u16> {
        self.ports.iter().find(|(r, _)| *r == role).map(|(_, p)| *p)
    }
}

/// What a hostname in `[hosts]` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostTarget {
    /// `"*"`: the host every instance shares (the guide's single server).
    All,
    Instance(String),
}

/// A mock backend from `[[backend]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendSpec {
    /// `pizzashack-production`: what its responses say in `"backend"` and `X-Tollgate-Backend`.
    pub name: String,
    /// `production` or `sandbox`: which endpoint of an API it stands for.
    pub endpoint: String,
    /// What an API's endpoint points at: `http://localhost:9080/pizzashack`.
    pub url: String,
    pub host: String,
    pub port: u16,
}

/// A load balancer from `[[load_balancer]]`: `tollgate-load-balancer`'s gateway cluster
/// (round robin, health checks on each node's management port, idempotent retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerSpec {
    /// Its name in the topology: `via`, fault steps and the fault plane use it.
    pub name: String,
    /// Gateway instances it forwards to, in pool order.
    pub fronts: Vec<String>,
    /// Plain HTTP front port (forwarded to each node's passthrough HTTP).
    pub http: u16,
    /// HTTPS front port (forwarded to each node's passthrough HTTPS).
    pub https: u16,
    /// Hostnames that reach it (lower case).
    pub hosts: Vec<String>,
}

impl LoadBalancerSpec {
    /// Its front URL as clients write it: its first hostname (else `localhost`) and port.
    pub fn url(&self, https: bool) -> String {
        let host = self.hosts.first().map_or("localhost", String::as_str);
        if https {
            format!("https://{host}:{}", self.https)
        } else {
            format!("http://{host}:{}", self.http)
        }
    }
}

/// Something wrong with a topology. [`TopologyErrors`] carries all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologyError {
    /// The topology file could not be read or parsed.
    File { file: PathBuf, message: String },
    /// A diagnostic from a `deployment.toml` (file:line:col: key: message).
    Config(tollgate_config::Diagnostic),
    /// A problem in `topology.toml` itself.
    Topology { file: PathBuf, message: String },
    /// Two listeners of the topology would bind the same port.
    PortCollision {
        port: u16,
        first: PortOwner,
        second: PortOwner,
    },
}

/// Who binds a port: an instance's listener, or a mock backend (declared in `topology.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortOwner {
    pub name: String,
    /// `management HTTPS`, `gateway HTTP`, `mock backend`, …
    pub what: String,
    /// The file that gives it the port.
    pub file: PathBuf,
}

impl fmt::Display for PortOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.what, self.file.display())
    }
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { file, message } => write!(f, "{}: {message}", file.display()),
            Self::Config(diagnostic) => write!(f, "{diagnostic}"),
            Self::Topology { file, message } => write!(f, "{}: {message}", file.display()),
            Self::PortCollision {
                port,
                first,
                second,
            } => write!(
                f,
                "port {port} would be bound twice: by {first} and by {second}"
            ),
        }
    }
}

/// Every problem found in a topology, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TopologyErrors(pub Vec<TopologyError>);

impl fmt::Display for TopologyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// The serde twin of `topology.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "instance", default)]
    instances: Vec<InstanceFile>,
    #[serde(default)]
    hosts: BTreeMap<String, String>,
    #[serde(rename = "backend", default)]
    backends: Vec<BackendFile>,
    #[serde(rename = "load_balancer", default)]
    load_balancers: Vec<LoadBalancerFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadBalancerFile {
    name: String,
    fronts: Vec<String>,
    http: u16,
    https: u16,
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceFile {
    name: String,
    /// Defaults to the instance name.
    dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendFile {
    name: String,
    endpoint: String,
    url: String,
}

/// The pool of load balancer `lb` as the guide writes its URLs (`http://localhost:8281`, health
/// checks on `https://localhost:9444`): the host map decides where they lead.
pub fn gateway_nodes(
    instances: &[Instance],
    lb: &LoadBalancerSpec,
) -> Result<Vec<tollgate_load_balancer::GatewayNode>, String> {
    let mut nodes = Vec::new();
    for front in &lb.fronts {
        let port = |role| {
            instances
                .iter()
                .find(|i| &i.name == front)
                .and_then(|i| i.port(role))
                .ok_or_else(|| format!("`{front}` has no {role} port"))
        };
        nodes.push(tollgate_load_balancer::GatewayNode {
            name: front.clone(),
            http: format!("http://localhost:{}", port(PortRole::PassthruHttp)?),
            https: format!("https://localhost:{}", port(PortRole::PassthruHttps)?),
            management: format!("https://localhost:{}", port(PortRole::MgmtHttps)?),
        });
    }
    Ok(nodes)
}

impl Topology {
    /// Loads the topology in folder `root` (or the folder of `root` if it names a
    /// `topology.toml`).
    pub fn load(root: impl AsRef<Path>) -> Result<Self, TopologyErrors> {
        let mut root = root.as_ref().to_path_buf();
        if root.file_name().is_some_and(|n| n == TOPOLOGY_FILE) {
            root.pop();
        }
        let file = root.join(TOPOLOGY_FILE);
        let text = std::fs::read(&file)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|bytes| {
                tollgate_config::utf8_text(bytes).map_err(|(line, column)| {
                    format!("line {line}, column {column}: the file is not UTF-8: this byte is not valid UTF-8")
                })
            })
            .map_err(|message| {
                TopologyErrors(vec![TopologyError::File {
                    file: file.clone(),
                    message,
                }])
            })?;
        let parsed: TopologyFile = toml::from_str(&text).map_err(|e| {
            TopologyErrors(vec![TopologyError::File {
                file: file.clone(),
                message: e.to_string().trim_end().to_owned(),
            }])
        })?;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let topology_error = |message: String| TopologyError::Topology {
            file: file.clone(),
            message,
        };

        if parsed.instances.is_empty() {
            errors.push(topology_error(
                "no [[instance]]: a topology needs at least one".into(),
            ));
        }
        let mut loaded: Vec<(String, PathBuf, Loaded)> = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, instance) in parsed.instances.iter().enumerate() {
            if !names.insert(instance.name.clone()) {
                errors.push(topology_error(format!(
                    "instance[{i}].name: `{}` is used by an earlier instance",
                    instance.name
                )));
                continue;
            }
            let dir = root.join(instance.dir.as_deref().unwrap_or(&instance.name));
            let deployment = dir.join(DEPLOYMENT_FILE);
            match tollgate_config::load(&deployment) {
                Ok(one) => {
                    warnings.extend(one.warnings.iter().map(ToString::to_string));
                    loaded.push((instance.name.clone(), dir, one));
                }
                Err(config_errors) => {
                    errors.extend(config_errors.0.into_iter().map(TopologyError::Config));
                }
            }
        }

        // Every gateway's labels should name environments of a control plane of this topology.
        // A near miss of a declared one is an error (a typo); another name is a warning: it may
        // name an environment a scenario creates through the Admin API (docs/rest-apis.md), and
        // WSO2 starts such a gateway.
        let control_planes: Vec<&Loaded> = loaded
            .iter()
            .filter(|(_, _, l)| l.config.server.server_role.runs_control_plane())
            .map(|(_, _, l)| l)
            .collect();
        for (name, _, gateway) in &loaded {
            let role = gateway.config.server.server_role;
            if role != ServerRole::GatewayWorker {
                continue;
            }
            match control_planes.as_slice() {
                [] => errors.push(topology_error(format!(
                    "instance `{name}` is a gateway but no instance runs a control plane"
                ))),
                [cp, ..] => {
                    let (typos, others) = tollgate_config::split_gateway_labels(cp, gateway);
                    errors.extend(typos.into_iter().map(TopologyError::Config));
                    warnings.extend(others.iter().map(ToString::to_string));
                }
            }
        }

        let mut instances = Vec::new();
        for (name, dir, one) in loaded {
            match tollgate_node::required_ports(&one.config) {
                Ok(ports) => instances.push(Instance {
                    name,
                    dir,
                    file: one.file.clone(),
                    config: one.config,
                    ports,
                }),
                Err(error) => errors.push(TopologyError::Topology {
                    file: one.file.clone(),
                    message: format!("instance `{name}`: {error}"),
                }),
            }
        }
        // Control planes first: gateways pull their artifacts from one at start.
        instances.sort_by_key(|i| !i.role().runs_control_plane());

        let mut hosts = BTreeMap::new();
        for (host, target) in &parsed.hosts {
            let target = if target == "*" {
                HostTarget::All
            } else if names.contains(target) {
                HostTarget::Instance(target.clone())
            } else {
                errors.push(topology_error(format!(
                    "hosts.\"{host}\": no instance named `{target}` (instances: {})",
                    names.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
                continue;
            };
            hosts.insert(host.to_ascii_lowercase(), target);
        }

        let mut backends = Vec::new();
        for (i, backend) in parsed.backends.iter().enumerate() {
            match parse_http_url(&backend.url) {
                Ok((host, port)) => backends.push(BackendSpec {
                    name: backend.name.clone(),
                    endpoint: backend.endpoint.clone(),
                    url: backend.url.clone(),
                    host,
                    port,
                }),
                Err(message) => {
                    errors.push(topology_error(format!("backend[{i}].url: {message}")));
                }
            }
        }

        let mut load_balancers: Vec<LoadBalancerSpec> = Vec::new();
        for (i, lb) in parsed.load_balancers.iter().enumerate() {
            let mut ok = true;
            if names.contains(&lb.name) || load_balancers.iter().any(|other| other.name == lb.name)
            {
                errors.push(topology_error(format!(
                    "load_balancer[{i}].name: `{}` is already the name of an instance or load balancer",
                    lb.name
                )));
                ok = false;
            }
            if lb.fronts.is_empty() {
                errors.push(topology_error(format!(
                    "load_balancer[{i}].fronts: a load balancer fronts at least one gateway"
                )));
                ok = false;
            }
            for front in &lb.fronts {
                let gateway = instances
                    .iter()
                    .find(|inst| &inst.name == front)
                    .is_some_and(|inst| inst.role().runs_gateway());
                if !gateway {
                    errors.push(topology_error(format!(
                        "load_balancer[{i}].fronts: `{front}` is not a gateway instance of this topology"
                    )));
                    ok = false;
                }
            }
            let lb_hosts: Vec<String> = lb.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
            for host in &lb_hosts {
                if hosts.contains_key(host) {
                    errors.push(topology_error(format!(
                        "load_balancer[{i}].hosts: `{host}` is also in [hosts]: a hostname reaches one thing"
                    )));
                    ok = false;
                }
            }
            if ok {
                load_balancers.push(LoadBalancerSpec {
                    name: lb.name.clone(),
                    fronts: lb.fronts.clone(),
                    http: lb.http,
                    https: lb.https,
                    hosts: lb_hosts,
                });
            }
        }

        errors.extend(port_collisions(
            &instances,
            &backends,
            &load_balancers,
            &file,
        ));
        if !errors.is_empty() {
            return Err(TopologyErrors(errors));
        }
        Ok(Self {
            name: parsed.name,
            description: parsed.description,
            root,
            instances,
            hosts,
            backends,
            load_balancers,
            warnings,
        })
    }

    pub fn instance(&self, name: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The instances that run a control plane (`control-plane` or `default` role).
    pub fn control_planes(&self) -> impl Iterator<Item = &Instance> {
        self.instances
            .iter()
            .filter(|i| i.role().runs_control_plane())
    }

    /// The gateway instances whose labels include `environment`, in topology order.
    pub fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.instances
            .iter()
            .filter(|i| i.role().runs_gateway())
            .filter(|i| {
                i.config
                    .sync_gateway
                    .gateway_labels
                    .iter()
                    .any(|l| l == environment)
            })
            .map(|i| i.name.clone())
            .collect()
    }

    pub fn backend(&self, name: &str) -> Option<&BackendSpec> {
        self.backends.iter().find(|b| b.name == name)
    }

    pub fn load_balancer(&self, name: &str) -> Option<&LoadBalancerSpec> {
        self.load_balancers.iter().find(|l| l.name == name)
    }

    /// Every member of the topology, as scenarios and faults name them: the instances (start
    /// order), the Traffic Manager inside each control plane, the load balancers, the mock
    /// backends. The one place these names are made; both drivers ask here.
    pub fn members(&self) -> Vec<Member> {
        let instances = self.instances.iter().map(|i| Member {
            name: i.name.clone(),
            kind: MemberKind::Instance,
        });
        let control_planes: Vec<&Instance> = self.control_planes().collect();
        let single = control_planes.len() == 1;
        let traffic_managers = control_planes.into_iter().map(|i| Member {
            name: if single {
                TRAFFIC_MANAGER.to_owned()
            } else {
                format!("{}-{TRAFFIC_MANAGER}", i.name)
            },
            kind: MemberKind::TrafficManager {
                control_plane: i.name.clone(),
            },
        });
        let load_balancers = self.load_balancers.iter().map(|l| Member {
            name: l.name.clone(),
            kind: MemberKind::LoadBalancer,
        });
        let backends = self.backends.iter().map(|b| Member {
            name: b.name.clone(),
            kind: MemberKind::Backend,
        });
        instances
            .chain(traffic_managers)
            .chain(load_balancers)
            .chain(backends)
            .collect()
    }

    /// The member named `name`.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.members().into_iter().find(|m| m.name == name)
    }

    /// The name of the Traffic Manager inside control-plane instance `instance`.
    pub fn traffic_manager_of(&self, instance: &str) -> Option<String> {
        self.members().into_iter().find_map(|m| match m.kind {
            MemberKind::TrafficManager { control_plane } if control_plane == instance => {
                Some(m.name)
            }
            _ => None,
        })
    }
}

/// The Traffic Manager's member name when one instance runs a control plane;
/// `{instance}-traffic-manager` when several do.
pub const TRAFFIC_MANAGER: &str = "traffic-manager";

/// Something of a topology that scenarios name and faults hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub kind: MemberKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    /// A node with its own `deployment.toml`.
    Instance,
    /// The Traffic Manager inside control-plane instance `control_plane`: its listeners (binary
    /// receiver, decisions) answer under the member's own name, so it can be cut, paused or
    /// stopped on its own where the driver can.
    TrafficManager { control_plane: String },
    /// A `[[load_balancer]]` fronting gateway instances.
    LoadBalancer,
    /// A mock backend API endpoints point at.
    Backend,
}

/// `http://host:port/path` → (host, port). Mock backends speak plain HTTP only.
fn parse_http_url(url: &str) -> Result<(String, u16), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("`{url}`: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("`{url}`: mock backends serve plain http://"));
    }
    let host = uri
        .host()
        .ok_or_else(|| format!("`{url}`: no host"))?
        .to_owned();
    Ok((host, uri.port_u16().unwrap_or(80)))
}

/// All instances share one host (in-process: one address), so every port must be unique.
fn port_collisions(
    instances: &[Instance],
    backends: &[BackendSpec],
    load_balancers: &[LoadBalancerSpec],
    topology_file: &Path,
) -> Vec<TopologyError> {
    let mut owners: BTreeMap<u16, PortOwner> = BTreeMap::new();
    let mut errors = Vec::new();
    let listeners = instances
        .iter()
        .flat_map(|i| {
            i.ports.iter().map(|(role, port)| {
                let owner = PortOwner {
                    name: i.name.clone(),
                    what: role.to_string(),
                    file: i.file.clone(),
                };
                (*port, owner)
            })
        })
        .chain(backends.iter().map(|b| {
            let owner = PortOwner {
                name: b.name.clone(),
                what: "mock backend".to_owned(),
                file: topology_file.to_path_buf(),
            };
            (b.port, owner)
        }))
        .chain(load_balancers.iter().flat_map(|lb| {
            [
                (lb.http, "load balancer HTTP"),
                (lb.https, "load balancer HTTPS"),
            ]
            .map(|(port, what)| {
                let owner = PortOwner {
                    name: lb.name.clone(),
                    what: what.to_owned(),
                    file: topology_file.to_path_buf(),
                };
                (port, owner)
            })
        }));
    for (port, owner) in listeners {
        match owners.get(&port) {
            Some(first) => errors.push(TopologyError::PortCollision {
                port,
                first: first.clone(),
                second: owner,
            }),
            None => {
                owners.insert(port, owner);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls_give_host_and_port() {
        assert_eq!(
            parse_http_url("http://localhost:9080/pizzashack"),
            Ok(("localhost".to_owned(), 9080))
        );
        assert!(parse_http_url("https://localhost:9080/").is_err());
    }

    /// The scenario crate names members from the files on its own (it does not depend on the
    /// harness); its names must be the ones the drivers use, for every shipped topology.
    #[test]
    fn the_scenario_readers_member_names_are_the_topologys() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/topologies");
        let catalog = tollgate_scenario::Catalog { dir: dir.clone() };
        let names = catalog.names();
        assert!(names.len() >= 3, "{names:?}");
        for name in names {
            let topology = Topology::load(dir.join(&name)).unwrap();
            let facts = catalog.facts(&name).unwrap();
            let of = |want: fn(&MemberKind) -> bool| -> std::collections::BTreeSet<String> {
                topology
                    .members()
                    .into_iter()
                    .filter(|m| want(&m.kind))
                    .map(|m| m.name)
                    .collect()
            };
            assert_eq!(
                facts.instances,
                of(|k| *k == MemberKind::Instance),
                "{name}"
            );
            assert_eq!(facts.backends, of(|k| *k == MemberKind::Backend), "{name}");
            assert_eq!(
                facts.load_balancers,
                of(|k| *k == MemberKind::LoadBalancer),
                "{name}"
            );
            assert_eq!(
                facts.traffic_managers,
                of(|k| matches!(k, MemberKind::TrafficManager { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn a_topology_file_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
        let dir =
            std::env::temp_dir().join(format!("tollgate-utf8-topology-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(TOPOLOGY_FILE), b"[topology]\nname = \"g\xc0\"\n").unwrap();
        let errors = Topology::load(&dir).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = errors.0[0].to_string();
        assert!(
            text.contains("line 2, column 10: the file is not UTF-8"),
            "{text}"
        );
    }
}
