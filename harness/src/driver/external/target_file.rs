//! `target.toml`: a deployment someone else runs, described for `tollgate conform`.
//!
//! ```toml
//! [implementation]                     # who made what is checked (the report's header)
//! organization = "WSO2"
//! project = "API Manager"
//! version = "4.2.0"                    # a concrete version, not "latest"
//! url = "https://wso2.com/api-manager/"
//! contact = ["apim-team@example.com"]
//!
//! [control_plane]
//! url = "https://localhost:9443"       # Publisher, Developer Portal, Admin, Key Manager
//! username = "admin"
//! password = "admin"                   # or password_env = "APIM_ADMIN_PASSWORD"
//! ca_file = "wso2carbon.pem"           # certificates to trust (PEM), beside Tollgate's own;
//!                                      # or insecure_tls = true to accept any (curl -k)
//!
//! [resolve]                            # optional: a hostname -> the IP it reaches (curl's --resolve)
//! "gw.wso2.com" = "10.0.0.7"
//!
//! [[gateway]]                          # one per gateway; `instance` is the scenario name it stands for
//! instance = "production-gateway"
//! environment = "Production Gateway"
//! type = "production"                  # production, sandbox or hybrid
//! http = "http://localhost:8281"
//! https = "https://localhost:8244"
//!
//! [[load_balancer]]                    # optional: one per load balancer in front of gateway nodes;
//! name = "lb"                          # `name` is the scenario's (topology's) load balancer
//! http = "http://gw.wso2.com:80"
//! https = "https://gw.wso2.com:443"
//!
//! [backends.pizzashack-production]     # mock backends the harness serves for the target
//! bind = "0.0.0.0:9080"                # where the harness listens (omit: already served)
//! url = "http://harness.example.com:9080/pizzashack"   # how the target reaches it
//!
//! [features]
//! supported = ["gateway-routing", "key-types", "token-auth", "control-plane"]
//! ```
//!
//! Every mistake names the file, line, column and key; relative paths are from the file's folder.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A loaded, checked target file.
#[derive(Debug, Clone)]
pub struct TargetFile {
    pub file: PathBuf,
    pub implementation: Implementation,
    pub control_plane: ControlPlane,
    pub resolve: BTreeMap<String, IpAddr>,
    pub gateways: Vec<Gateway>,
    /// Load balancers in front of gateway nodes, by the topology's name for them.
    pub load_balancers: Vec<LoadBalancer>,
    pub backends: BTreeMap<String, Backend>,
    /// Features the implementation declares it supports (the report lists the rest as
    /// unsupported); every feature when the file does not say.
    pub supported: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Implementation {
    pub organization: String,
    pub project: String,
    pub version: String,
    pub url: String,
    pub contact: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ControlPlane {
    pub url: String,
    pub username: String,
    pub password: String,
    /// PEM certificates to trust besides Tollgate's built-in one.
    pub trusted_pems: Vec<String>,
    /// `insecure_tls = true`: accept any certificate (as `curl -k`).
    pub insecure_tls: bool,
}

/// The gateway types WSO2 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayType {
    Production,
    Sandbox,
    Hybrid,
}

#[derive(Debug, Clone)]
pub struct Gateway {
    /// The scenario instance name it stands for (`production-gateway`).
    pub instance: String,
    /// The WSO2 environment it serves (`Production Gateway`).
    pub environment: String,
    pub kind: GatewayType,
    pub http: String,
    pub https: String,
    /// Its management URL, for `http` steps with `via`.
    pub management: Option<String>,
}

/// A load balancer in front of gateway nodes: requests `via` its name go to its URLs.
#[derive(Debug, Clone)]
pub struct LoadBalancer {
    pub name: String,
    pub http: String,
    pub https: String,
}

#[derive(Debug, Clone)]
pub struct Backend {
    /// Where the harness listens; `None` when something else already serves it under that
    /// name (the reference's own mock backends in a self-check).
    pub bind: Option<SocketAddr>,
    /// How the target reaches it: what API endpoints point at.
    pub url: String,
}

/// A problem in a target file, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {}{message}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct TargetFileError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The dotted key path (`gateway[0].type`); empty when the TOML itself does not parse (the
    /// message then names the key).
    pub key: String,
    pub message: String,
}

/// Every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct TargetFileErrors(pub Vec<TargetFileError>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    implementation: RawImplementation,
    control_plane: RawControlPlane,
    #[serde(default)]
    resolve: BTreeMap<String, Spanned<String>>,
    #[serde(rename = "gateway", default)]
    gateways: Vec<RawGateway>,
    #[serde(rename = "load_balancer", default)]
    load_balancers: Vec<RawLoadBalancer>,
    #[serde(default)]
    backends: BTreeMap<String, RawBackend>,
    #[serde(default)]
    features: Option<RawFeatures>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImplementation {
    organization: String,
    project: String,
    version: Spanned<String>,
    url: String,
    #[serde(default)]
    contact: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControlPlane {
    url: Spanned<String>,
    username: String,
    password: Option<String>,
    password_env: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    #[serde(default)]
    insecure_tls: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    instance: String,
    environment: String,
    #[serde(rename = "type")]
    kind: Spanned<String>,
    http: Spanned<String>,
    https: Spanned<String>,
    management: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoadBalancer {
    name: String,
    http: Spanned<String>,
    https: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    bind: Option<Spanned<String>>,
    url: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeatures {
    supported: Vec<String>,
}

/// Line and column (1-based) of byte `offset` in `text`.
fn locate(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl TargetFile {
    /// Reads and checks `file`; every problem at once.
    pub fn load(file: &Path) -> Result<Self, TargetFileErrors> {
        let name = file.display().to_string();
        let at = |line, column, key: &str, message: String| TargetFileError {
            file: name.clone(),
            line,
            column,
            key: key.to_owned(),
            message,
        };
        let bytes = std::fs::read(file).map_err(|e| {
            TargetFileErrors(vec![at(1, 1, "", format!("cannot read the file: {e}"))])
        })?;
        let text = tollgate_config::utf8_text(bytes).map_err(|(line, column)| {
            TargetFileErrors(vec![at(
                line,
                column,
                "",
                "the file is not UTF-8: this byte is not valid UTF-8".into(),
            )])
        })?;
        let raw: Raw = toml::from_str(&text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| locate(&text, s.start));
            TargetFileErrors(vec![at(line, column, "", e.message().to_owned())])
        })?;
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut errors = Vec::new();
        let mut spanned_error = |span: std::ops::Range<usize>, key: &str, message: String| {
            let (line, column) = locate(&text, span.start);
            errors.push(at(line, column, key, message));
        };

        let version = raw.implementation.version.get_ref();
        if version.is_empty() || version.eq_ignore_ascii_case("latest") {
            spanned_error(
                raw.implementation.version.span(),
                "implementation.version",
                format!(
                    "a concrete version is needed (the report is about one release), not \"{version}\""
                ),
            );
        }

        let mut check_url = |value: &Spanned<String>, key: &str| {
            let url = value.get_ref();
            let ok = url.parse::<http::Uri>().ok().is_some_and(|u| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            });
            if !ok {
                spanned_error(
                    value.span(),
                    key,
                    format!("expected an http:// or https:// URL with a host, found \"{url}\""),
                );
            }
            url.trim_end_matches('/').to_owned()
        };
        let control_url = check_url(&raw.control_plane.url, "control_plane.url");
        let gateways_checked: Vec<(String, String, Option<String>)> = raw
            .gateways
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    check_url(&g.http, &format!("gateway[{i}].http")),
                    check_url(&g.https, &format!("gateway[{i}].https")),
                    g.management
                        .as_ref()
                        .map(|m| check_url(m, &format!("gateway[{i}].management"))),
                )
            })
            .collect();
        let load_balancers: Vec<LoadBalancer> = raw
            .load_balancers
            .iter()
            .enumerate()
            .map(|(i, lb)| LoadBalancer {
                name: lb.name.clone(),
                http: check_url(&lb.http, &format!("load_balancer[{i}].http")),
                https: check_url(&lb.https, &format!("load_balancer[{i}].https")),
            })
            .collect();
        let backend_urls: BTreeMap<String, String> = raw
            .backends
            .iter()
            .map(|(name, b)| {
                (
                    name.clone(),
                    check_url(&b.url, &format!("backends.{name}.url")),
                )
            })
            .collect();

        let password = match (&raw.control_plane.password, &raw.control_plane.password_env) {
            (Some(password), None) => Some(password.clone()),
            (None, Some(var)) => match std::env::var(var.get_ref()) {
                Ok(password) => Some(password),
                Err(_) => {
                    spanned_error(
                        var.span(),
                        "control_plane.password_env",
                        format!("the environment variable `{}` is not set", var.get_ref()),
                    );
                    None
                }
            },
            _ => {
                spanned_error(
                    raw.control_plane.url.span(),
                    "control_plane",
                    "give the admin's password as one of `password` or `password_env`".into(),
                );
                None
            }
        };
        let mut trusted_pems = Vec::new();
        if let Some(ca) = &raw.control_plane.ca_file {
            let path = dir.join(ca.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => trusted_pems.push(pem),
                Ok(_) => spanned_error(
                    ca.span(),
                    "control_plane.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ),
                Err(e) => spanned_error(
                    ca.span(),
                    "control_plane.ca_file",
                    format!("cannot read {}: {e}", path.display()),
                ),
            }
        }

        let mut resolve = BTreeMap::new();
        for (host, ip) in &raw.resolve {
            match ip.get_ref().parse::<IpAddr>() {
                Ok(addr) => {
                    resolve.insert(host.to_ascii_lowercase(), addr);
                }
                Err(_) => spanned_error(
                    ip.span(),
                    &format!("resolve.\"{host}\""),
                    format!("expected an IP address, found \"{}\"", ip.get_ref()),
                ),
            }
        }

        let mut gateways = Vec::new();
        for (i, (g, (http, https, management))) in
            raw.gateways.iter().zip(gateways_checked).enumerate()
        {
            let kind = match g.kind.get_ref().as_str() {
                "production" => Some(GatewayType::Production),
                "sandbox" => Some(GatewayType::Sandbox),
                "hybrid" => Some(GatewayType::Hybrid),
                other => {
                    spanned_error(
                        g.kind.span(),
                        &format!("gateway[{i}].type"),
                        format!("expected production, sandbox or hybrid, found \"{other}\""),
                    );
                    None
                }
            };
            if let Some(kind) = kind {
                gateways.push(Gateway {
                    instance: g.instance.clone(),
                    environment: g.environment.clone(),
                    kind,
                    http,
                    https,
                    management,
                });
            }
        }

        let mut backends = BTreeMap::new();
        for (name, b) in &raw.backends {
            let bind = match &b.bind {
                None => None,
                Some(bind) => match bind.get_ref().parse::<SocketAddr>() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        spanned_error(
                            bind.span(),
                            &format!("backends.{name}.bind"),
                            format!("expected ip:port, found \"{}\"", bind.get_ref()),
                        );
                        continue;
                    }
                },
            };
            backends.insert(
                name.clone(),
                Backend {
                    bind,
                    url: backend_urls.get(name).cloned().unwrap_or_default(),
                },
            );
        }

        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.line, e.column));
            return Err(TargetFileErrors(errors));
        }
        Ok(Self {
            file: file.to_path_buf(),
            implementation: Implementation {
                organization: raw.implementation.organization,
                project: raw.implementation.project,
                version: raw.implementation.version.into_inner(),
                url: raw.implementation.url,
                contact: raw.implementation.contact,
            },
            control_plane: ControlPlane {
                url: control_url,
                username: raw.control_plane.username,
                password: password.unwrap_or_default(),
                trusted_pems,
                insecure_tls: raw.control_plane.insecure_tls,
            },
            resolve,
            gateways,
            load_balancers,
            backends,
            supported: raw.features.map(|f| f.supported),
        })
    }

    /// The gateway standing for scenario instance `instance`.
    pub fn gateway(&self, instance: &str) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.instance == instance)
    }

    /// The load balancer the topology calls `name`.
    pub fn load_balancer(&self, name: &str) -> Option<&LoadBalancer> {
        self.load_balancers.iter().find(|lb| lb.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<TargetFile, TargetFileErrors> {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-target-file-{}-{}",
            std::process::id(),
            crate::address::private_address()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("target.toml");
        std::fs::write(&file, text).unwrap();
        let loaded = TargetFile::load(&file);
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    const GOOD: &str = r#"[implementation]
organization = "WSO2"
project = "API Manager"
version = "4.2.0"
url = "https://wso2.com/api-manager/"

[control_plane]
url = "https://localhost:9443/"
username = "admin"
password = "admin"

[[gateway]]
instance = "production-gateway"
environment = "Production Gateway"
type = "production"
http = "http://localhost:8281"
https = "https://localhost:8244"

[backends.pizzashack-production]
bind = "127.0.0.1:9080"
url = "http://localhost:9080/pizzashack"
"#;

    #[test]
    fn a_good_file_loads() {
        let target = load(GOOD).unwrap();
        assert_eq!(target.control_plane.url, "https://localhost:9443");
        assert_eq!(
            target.gateway("production-gateway").unwrap().kind,
            GatewayType::Production
        );
        assert_eq!(
            target.backends["pizzashack-production"].bind,
            Some("127.0.0.1:9080".parse().unwrap())
        );
        assert_eq!(target.supported, None);
    }

    #[test]
    fn mistakes_are_located_by_line_column_and_key() {
        let bad = GOOD
            .replace("version = \"4.2.0\"", "version = \"latest\"")
            .replace("type = \"production\"", "type = \"prod\"")
            .replace("bind = \"127.0.0.1:9080\"", "bind = \"9080\"");
        let errors = load(&bad).unwrap_err().0;
        let keys: Vec<(&str, usize, usize)> = errors
            .iter()
            .map(|e| (e.key.as_str(), e.line, e.column))
            .collect();
        assert_eq!(
            keys,
            [
                ("implementation.version", 4, 11),
                ("gateway[0].type", 15, 8),
                ("backends.pizzashack-production.bind", 20, 8),
            ]
        );
        assert!(errors[1].message.contains("production, sandbox or hybrid"));
    }

    #[test]
    fn an_unknown_key_is_refused_where_it_is() {
        let errors = load(&GOOD.replace("username = \"admin\"", "user = \"admin\"")).unwrap_err();
        let e = &errors.0[0];
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("unknown field `user`"), "{e}");
    }

    #[test]
    fn a_load_balancer_is_read_and_its_urls_checked() {
        let with_lb = format!(
            "{GOOD}\n[[load_balancer]]\nname = \"load-balancer\"\nhttp = \"http://gw.wso2.com:8080/\"\nhttps = \"gw.wso2.com:8443\"\n"
        );
        let errors = load(&with_lb).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "load_balancer[0].https");
        let fixed = with_lb.replace("\"gw.wso2.com:8443\"", "\"https://gw.wso2.com:8443\"");
        let target = load(&fixed).unwrap();
        let lb = target.load_balancer("load-balancer").unwrap();
        assert_eq!(lb.http, "http://gw.wso2.com:8080");
        assert_eq!(lb.https, "https://gw.wso2.com:8443");
    }
}
