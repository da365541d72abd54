//! The Docker Engine, as the container driver uses it (bollard over the local socket).
//!
//! Everything the driver creates carries [`LABEL_HARNESS`] and [`LABEL_OWNER`] (the harness
//! process's id): a run that was interrupted leaves labelled containers and networks behind, and
//! the next driver to start removes those whose owner process is gone ([`Engine::sweep`]).

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam,
    IpamConfig, Network, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// On everything the driver creates.
pub const LABEL_HARNESS: &str = "io.tollgate.harness";
/// The process id of the harness that created it.
pub const LABEL_OWNER: &str = "io.tollgate.owner-pid";

/// A connection to the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
}

/// What one container is made of.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub args: Vec<String>,
    pub network: String,
    pub ip: Ipv4Addr,
    /// DNS names on the network (the topology's hostnames for this instance).
    pub aliases: Vec<String>,
    /// Container port → host port on 127.0.0.1.
    pub ports: Vec<(u16, u16)>,
    /// Host folder → container folder, read-only.
    pub mounts: Vec<(String, String)>,
}

fn labels() -> HashMap<String, String> {
    HashMap::from([
        (LABEL_HARNESS.to_owned(), "1".to_owned()),
        (LABEL_OWNER.to_owned(), std::process::id().to_string()),
    ])
}

fn failed(what: &str) -> impl Fn(bollard::errors::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Engine {
    /// The local engine, if one answers (API version negotiated: this machine's engine speaks
    /// 1.41, older than bollard's default).
    pub async fn connect() -> Result<Self, String> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(failed("connecting to the Docker engine"))?
            .with_timeout(Duration::from_secs(120));
        let docker = tokio::time::timeout(Duration::from_secs(5), docker.negotiate_version())
            .await
            .map_err(|_| "the Docker engine does not answer within 5 s".to_owned())?
            .map_err(failed("no Docker engine answers"))?;
        docker
            .ping()
            .await
            .map_err(failed("pinging the Docker engine"))?;
        Ok(Self { docker })
    }

    /// The containers (all, running or not) and networks carrying `label` (`key` or `key=value`).
    async fn labelled(
        &self,
        label: String,
    ) -> Result<(Vec<ContainerSummary>, Vec<Network>), String> {
        let filters = HashMap::from([("label".to_owned(), vec![label])]);
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(failed("listing containers"))?;
        let networks = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(failed("listing networks"))?;
        Ok((containers, networks))
    }

    /// Removes labelled containers and networks whose owner process is no longer running.
    pub async fn sweep(&self) -> Result<usize, String> {
        let (containers, networks) = self.labelled(LABEL_HARNESS.to_owned()).await?;
        let orphaned = |labels: Option<&HashMap<String, String>>| {
            labels
                .and_then(|l| l.get(LABEL_OWNER))
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_none_or(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        };
        let mut removed = 0;
        for container in containers {
            if orphaned(container.labels.as_ref())
                && let Some(id) = container.id
            {
                self.remove_container(&id).await;
                removed += 1;
            }
        }
        for network in networks {
            if orphaned(network.labels.as_ref())
                && let Some(id) = network.id
            {
                self.remove_network(&id).await;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Names of the containers and networks process `pid` created (for tests of the clean-up).
    pub async fn resources_of(&self, pid: u32) -> Result<Vec<String>, String> {
        let (containers, networks) = self.labelled(format!("{LABEL_OWNER}={pid}")).await?;
        let mut names: Vec<String> = containers
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .chain(networks.into_iter().filter_map(|n| n.name))
            .collect();
        names.sort();
        Ok(names)
    }

    pub async fn has_image(&self, name: &str) -> bool {
        self.docker.inspect_image(name).await.is_ok()
    }

    /// Builds `name` from a tar `context` (never pulls: the Dockerfile is `FROM scratch`).
    pub async fn build_image(&self, name: &str, context: Vec<u8>) -> Result<(), String> {
        let labels = HashMap::from([(LABEL_HARNESS.to_owned(), "1".to_owned())]);
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(name)
            .rm(true)
            .labels(&labels)
            .build();
        let mut build =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        while let Some(step) = build.next().await {
            let info = step.map_err(failed("building the image"))?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(format!("building the image: {error}"));
            }
        }
        Ok(())
    }

    /// Creates a network on `subnet` (a /24; its .1 is the host's side).
    pub async fn create_network(&self, name: &str, subnet: Ipv4Addr) -> Result<(), String> {
        let gateway = gateway_of(subnet);
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            labels: Some(labels()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("{subnet}/24")),
                    gateway: Some(gateway.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker
            .create_network(request)
            .await
            .map(|_| ())
            .map_err(failed("creating the network"))
    }

    /// Best effort: the network may already be gone.
    pub async fn remove_network(&self, name: &str) {
        if let Err(error) = self.docker.remove_network(name).await {
            tracing::debug!(%error, network = name, "removing a network");
        }
    }

    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<(), String> {
        let port_bindings = spec
            .ports
            .iter()
            .map(|(inside, outside)| {
                (
                    format!("{inside}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(outside.to_string()),
                    }]),
                )
            })
            .collect();
        let endpoint = EndpointSettings {
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some(spec.ip.to_string()),
                ..Default::default()
            }),
            aliases: Some(spec.aliases.clone()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.args.clone()),
            labels: Some(labels()),
            exposed_ports: Some(spec.ports.iter().map(|(p, _)| format!("{p}/tcp")).collect()),
            stop_timeout: Some(5),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                binds: Some(
                    spec.mounts
                        .iter()
                        .map(|(from, to)| format!("{from}:{to}:ro"))
                        .collect(),
                ),
                network_mode: Some(spec.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(spec.network.clone(), endpoint)])),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&spec.name)
                        .build(),
                ),
                body,
            )
            .await
            .map(|_| ())
            .map_err(failed(&format!("creating container {}", spec.name)))
    }

    pub async fn start(&self, name: &str) -> Result<(), String> {
        self.docker
            .start_container(name, None)
            .await
            .map_err(failed(&format!("starting {name}")))
    }

    /// SIGKILL: a crash.
    pub async fn kill(&self, name: &str) -> Result<(), String> {
        self.docker
            .kill_container(
                name,
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal("SIGKILL")
                        .build(),
                ),
            )
            .await
            .map_err(failed(&format!("killing {name}")))
    }

    /// SIGTERM, SIGKILL after 5 s: a clean stop.
    pub async fn stop(&self, name: &str) -> Result<(), String> {
        self.docker
            .stop_container(
                name,
                Some(StopContainerOptionsBuilder::default().t(5).build()),
            )
            .await
            .map_err(failed(&format!("stopping {name}")))
    }

    pub async fn pause(&self, name: &str) -> Result<(), String> {
        self.docker
            .pause_container(name)
            .await
            .map_err(failed(&format!("pausing {name}")))
    }

    pub async fn unpause(&self, name: &str) -> Result<(), String> {
        self.docker
            .unpause_container(name)
            .await
            .map_err(failed(&format!("unpausing {name}")))
    }

    pub async fn disconnect(&self, network: &str, container: &str) -> Result<(), String> {
        let request = NetworkDisconnectRequest {
            container: container.to_owned(),
            force: Some(true),
        };
        self.docker
            .disconnect_network(network, request)
            .await
            .map_err(failed(&format!("disconnecting {container}")))
    }

    /// Connects `container` again with its address and aliases.
    pub async fn reconnect(
        &self,
        network: &str,
        container: &str,
        ip: Ipv4Addr,
        aliases: &[String],
    ) -> Result<(), String> {
        let request = NetworkConnectRequest {
            container: container.to_owned(),
            endpoint_config: Some(EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(ip.to_string()),
                    ..Default::default()
                }),
                aliases: Some(aliases.to_vec()),
                ..Default::default()
            }),
        };
        self.docker
            .connect_network(network, request)
            .await
            .map_err(failed(&format!("reconnecting {container}")))
    }

    /// Writes `content` to `dir/relative` in the container (its folders created as needed),
    /// as `docker cp` does: a running, stopped or killed container alike.
    pub async fn put_file(
        &self,
        container: &str,
        dir: &str,
        relative: &str,
        content: &[u8],
    ) -> Result<(), String> {
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(&mut header, relative, content)
            .map_err(|e| format!("packing {relative}: {e}"))?;
        let tar = archive
            .into_inner()
            .map_err(|e| format!("packing {relative}: {e}"))?;
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(failed(&format!("copying {relative} into {container}")))
    }

    /// The content of file `path` in the container; `None` when there is no such file.
    pub async fn get_file(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>, String> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .docker
            .download_from_container(container, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(None),
                Err(e) => return Err(format!("copying {path} out of {container}: {e}")),
            }
        }
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entries = archive
            .entries()
            .map_err(|e| format!("reading the archive of {path}: {e}"))?;
        let Some(entry) = entries.next() else {
            return Ok(None);
        };
        let mut entry = entry.map_err(|e| format!("reading the archive of {path}: {e}"))?;
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content)
            .map_err(|e| format!("reading {path}: {e}"))?;
        Ok(Some(content))
    }

    pub async fn is_running(&self, name: &str) -> bool {
        self.docker
            .inspect_container(name, None)
            .await
            .ok()
            .and_then(|c| c.state)
            .and_then(|s| s.running)
            .unwrap_or(false)
    }

    /// Best effort, forced (a running container is killed first).
    pub async fn remove_container(&self, name: &str) {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        if let Err(error) = self.docker.remove_container(name, Some(options)).await {
            tracing::debug!(%error, container = name, "removing a container");
        }
    }

    /// Waits until the container's output holds `count` lines equal to `line`: the node prints
    /// `Ready.` once per start, when it is ready. The engine keeps a container's output across
    /// restarts, so the n-th start waits for the n-th line and never mistakes an older one.
    /// Fails when the output ends first (the process exited), with its last lines.
    pub async fn await_line(
        &self,
        name: &str,
        line: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        let options = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .tail("all")
            .build();
        let mut logs = self.docker.logs(name, Some(options));
        let mut seen = 0;
        let mut last: std::collections::VecDeque<String> = Default::default();
        let mut partial = String::new();
        let waited = tokio::time::timeout(timeout, async {
            while let Some(chunk) = logs.next().await {
                let chunk = chunk.map_err(failed(&format!("reading the output of {name}")))?;
                partial.push_str(&chunk.to_string());
                while let Some(end) = partial.find('\n') {
                    let text: String = partial.drain(..=end).collect();
                    let text = text.trim_end();
                    if text == line {
                        seen += 1;
                        if seen >= count {
                            return Ok(());
                        }
                    }
                    last.push_back(text.to_owned());
                    if last.len() > 20 {
                        last.pop_front();
                    }
                }
            }
            Err(format!(
                "{name} exited before it was ready; its last output:\n{}",
                last.iter().cloned().collect::<Vec<_>>().join("\n")
            ))
        })
        .await;
        match waited {
            Ok(result) => result,
            Err(_) => Err(format!("{name} was not ready within {timeout:?}")),
        }
    }
}

/// The host's address on a /24 subnet: its `.1`.
pub fn gateway_of(subnet: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = subnet.octets();
    Ipv4Addr::new(a, b, c, 1)
}
