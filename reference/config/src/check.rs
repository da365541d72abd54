//! Twin → checked model: scalar types, WSO2's defaults, role inference, placeholders, vhosts.
//!
//! Every problem goes to the [`Sink`] with the key's location and the build carries on, so one
//! run reports every error of the file (vector's config compiler does the same).

use std::collections::BTreeMap;

use crate::diagnostic::{Sink, did_you_mean};
use crate::model::{
    Cors, Database, DeploymentConfig, Environment, EnvironmentType, EventHub, Jwt, JwtEncoding,
    KeyManagerConfig, Keystore, Server, ServerRole, SkipList, SuperAdmin,
    SyncRuntimeArtifactsGateway, Throttling, Transport, Truststore, UrlGroup, UrlGroupKind,
    UserStore, VHost,
};
use crate::placeholder::{Resolver, Vars};
use crate::ports::Ports;
use crate::schema;
use crate::twin::{Located, Node, Scalar, Twin, TwinTable};
use crate::url;

/// The model and its ports, as far as the file allows: every problem goes to `sink`, and the
/// caller discards the model when there is an error.
pub(crate) fn build(twin: &Twin, vars: &Vars, sink: &mut Sink<'_>) -> (DeploymentConfig, Ports) {
    let mut checker = Checker {
        root: &twin.root,
        locations: &twin.locations,
        sink,
        resolver: Resolver {
            twin: &twin.root,
            vars,
            ports: None,
        },
    };
    checker.config()
}

struct Checker<'t, 's, 'a> {
    root: &'t TwinTable,
    locations: &'t BTreeMap<String, usize>,
    sink: &'s mut Sink<'a>,
    resolver: Resolver<'t>,
}

static EMPTY: TwinTable = TwinTable {
    key: String::new(),
    at: 0,
    entries: BTreeMap::new(),
};

/// A table of the file and its dotted path, or the empty table when the file has none.
#[derive(Clone, Copy)]
struct At<'t> {
    table: &'t TwinTable,
    path: &'static str,
}

const ROLES: [&str; 4] = [
    "default",
    "control-plane",
    "gateway-worker",
    "traffic-manager",
];
const ENV_TYPES: [&str; 3] = ["hybrid", "production", "sandbox"];

impl<'t> Checker<'t, '_, '_> {
    fn at(&self, path: &'static str) -> At<'t> {
        // A file without the table reads as an empty one, so defaults apply uniformly.
        let table = self.root.path(path).unwrap_or(&EMPTY);
        At { table, path }
    }

    /// Byte offset of a key, else of the nearest enclosing key the file has, else 0.
    fn offset_of(&self, key: &str) -> usize {
        let mut key = key;
        loop {
            if let Some(at) = self.locations.get(key) {
                return *at;
            }
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => return 0,
            }
        }
    }

    // ---- scalars -------------------------------------------------------------------------

    fn text(&mut self, value: &Located<Scalar>) -> Option<String> {
        match &value.value {
            Scalar::Text(raw) => match self.resolver.resolve(raw) {
                Ok(resolved) => Some(resolved),
                Err(message) => {
                    self.sink.error(value.at, &value.key, message);
                    None
                }
            },
            other => Some(other.text()),
        }
    }

    fn int(&mut self, value: &Located<Scalar>) -> Option<i64> {
        match &value.value {
            Scalar::Int(i) => Some(*i),
            Scalar::Text(_) => {
                let text = self.text(value)?;
                match text.trim().parse::<i64>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.sink.error(
                            value.at,
                            &value.key,
                            format!("expected an integer, found \"{text}\""),
                        );
                        None
                    }
                }
            }
            other => {
                self.sink.error(
                    value.at,
                    &value.key,
                    format!("expected an integer, found {}", other.type_name()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, value: &Located<Scalar>) -> Option<bool> {
        match &value.value {
            Scalar::Bool(b) => Some(*b),
            Scalar::Text(_) => {
                // WSO2's own defaults are the strings "true" / "false".
                let text = self.text(value)?;
                match text.trim().to_ascii_lowercase().as_str() {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => {
                        self.sink.error(
                            value.at,
                            &value.key,
                            format!("expected a boolean (true or false), found \"{text}\""),
                        );
                        None
                    }
                }
            }
            other => {
                self.sink.error(
                    value.at,
                    &value.key,
                    format!("expected a boolean, found {}", other.type_name()),
                );
                None
            }
        }
    }

    fn port(&mut self, value: &Located<Scalar>) -> Option<u16> {
        let number = self.int(value)?;
        match u16::try_from(number) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                self.sink.error(
                    value.at,
                    &value.key,
                    format!("{number} is not a port: expected 1 to 65535"),
                );
                None
            }
        }
    }

    fn strings(&mut self, list: &Located<Vec<Located<Scalar>>>) -> Vec<String> {
        let mut out = Vec::new();
        for item in &list.value {
            match &item.value {
                Scalar::Text(_) => out.extend(self.text(item)),
                other => self.sink.error(
                    item.at,
                    &item.key,
                    format!("expected a string, found {}", other.type_name()),
                ),
            }
        }
        out
    }

    // ---- keys with defaults ----------------------------------------------------------------

    /// A string key, or WSO2's default (resolved) for it.
    fn string(&mut self, at: At<'_>, name: &str) -> String {
        if let Some(value) = at.table.scalar(name) {
            let value = value.clone();
            return self.text(&value).unwrap_or_default();
        }
        self.default_text(&format!("{}.{name}", at.path))
    }

    fn default_text(&mut self, path: &str) -> String {
        let Some(raw) = schema::default_at(path) else {
            return String::new();
        };
        // A default fails only through a `$ref` to a key of the file that failed itself, and
        // that key's own error names the cause: reporting it again here would only repeat it.
        self.resolver.resolve(raw).unwrap_or_default()
    }

    fn optional_string(&mut self, table: &TwinTable, name: &str) -> Option<String> {
        let value = table.scalar(name)?.clone();
        self.text(&value)
    }

    fn flag(&mut self, at: At<'_>, name: &str, fallback: bool) -> bool {
        match at.table.scalar(name).cloned() {
            Some(value) => self.boolean(&value).unwrap_or(fallback),
            None => fallback,
        }
    }

    fn list_or(&mut self, table: &TwinTable, name: &str, fallback: &[&str]) -> Vec<String> {
        match table.list(name).cloned() {
            Some(list) => self.strings(&list),
            None => fallback.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Resolved URL strings of a list key, each checked to be a URL.
    fn urls(&mut self, table: &TwinTable, name: &str) -> Option<Vec<String>> {
        let list = table.list(name)?.clone();
        let mut out = Vec::new();
        for item in &list.value {
            if let Some(text) = self.strings_one(item) {
                if let Err(message) = url::parse(&text) {
                    self.sink.error(item.at, &item.key, message);
                }
                out.push(text);
            }
        }
        Some(out)
    }

    fn strings_one(&mut self, item: &Located<Scalar>) -> Option<String> {
        match &item.value {
            Scalar::Text(_) => self.text(item),
            other => {
                self.sink.error(
                    item.at,
                    &item.key,
                    format!("expected a string, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A URL-valued string key (or its default), checked.
    fn url_string(&mut self, at: At<'_>, name: &str) -> String {
        let value = self.string(at, name);
        let Some(located) = at.table.scalar(name) else {
            return value;
        };
        if value.is_empty() {
            return value;
        }
        if let Err(message) = url::parse(&value) {
            let (offset, key) = (located.at, located.key.clone());
            self.sink.error(offset, &key, message);
        }
        value
    }

    // ---- sections --------------------------------------------------------------------------

    fn config(&mut self) -> (DeploymentConfig, Ports) {
        // Ports first: `${mgt.transport.https.port}` and friends depend on them.
        let server_at = self.at("server");
        let offset = match server_at.table.scalar("offset").cloned() {
            None => 0,
            Some(value) => match self.int(&value) {
                Some(n) => match u16::try_from(n) {
                    Ok(offset) => offset,
                    Err(_) => {
                        self.sink.error(
                            value.at,
                            &value.key,
                            format!("offset {n} is out of range: expected 0 to 65535"),
                        );
                        0
                    }
                },
                None => 0,
            },
        };
        let transport = self.transport();
        let ports = self.ports(offset, &transport);
        self.resolver.ports = Some(ports);

        let server = self.server(offset);
        let role = server.server_role;
        let super_admin = self.super_admin();
        let user_store = UserStore {
            kind: self.string(self.at("user_store"), "type"),
        };
        let databases = self.databases();
        let keystore_tls = self.keystore();
        let truststore = self.truststore();
        let environments = self.environments();
        let key_manager = self.key_manager();
        let throttling = self.throttling(role, &server, ports);
        let sync_gateway = self.sync_gateway(role);
        let event_hub = self.event_hub(&server, ports);
        let cors = self.cors();
        let jwt = self.jwt();
        let config = DeploymentConfig {
            server,
            super_admin,
            user_store,
            databases,
            keystore_tls,
            truststore,
            environments,
            key_manager,
            throttling,
            sync_gateway,
            event_hub,
            cors,
            jwt,
            transport,
        };
        (config, ports)
    }

    fn ports(&mut self, offset: u16, transport: &Transport) -> Ports {
        let base = Ports {
            mgmt_https: transport.https_port.unwrap_or(Ports::BASE.mgmt_https),
            servlet_http: transport.http_port.unwrap_or(Ports::BASE.servlet_http),
            passthru_http: transport
                .passthru_http_port
                .unwrap_or(Ports::BASE.passthru_http),
            passthru_https: transport
                .passthru_https_port
                .unwrap_or(Ports::BASE.passthru_https),
            ..Ports::BASE
        };
        match base.shifted(offset) {
            Ok(ports) => ports,
            Err(overflow) => {
                // Name the key that set the base when the file set it, else the offset.
                let base_key = match overflow.name {
                    "mgmt_https" => "transport.https.properties.port",
                    "servlet_http" => "transport.http.properties.port",
                    "passthru_http" => "transport.passthru_http.listener.parameters.port",
                    "passthru_https" => "transport.passthru_https.listener.parameters.port",
                    _ => "server.offset",
                };
                let key = if self.locations.contains_key(base_key) {
                    base_key
                } else {
                    "server.offset"
                };
                let at = match self.root.node(key) {
                    Some(Node::Scalar(value)) => value.at,
                    _ => self.offset_of(key),
                };
                self.sink.error(at, key, overflow.to_string());
                Ports::BASE
            }
        }
    }

    fn transport(&mut self) -> Transport {
        let read = |checker: &mut Self, path: &str| -> Option<u16> {
            let (parent, name) = path.rsplit_once('.')?;
            let value = checker.root.path(parent)?.scalar(name)?.clone();
            checker.port(&value)
        };
        Transport {
            http_port: read(self, "transport.http.properties.port"),
            https_port: read(self, "transport.https.properties.port"),
            http_proxy_port: read(self, "transport.http.properties.proxyPort"),
            https_proxy_port: read(self, "transport.https.properties.proxyPort"),
            passthru_http_port: read(self, "transport.passthru_http.listener.parameters.port"),
            passthru_https_port: read(self, "transport.passthru_https.listener.parameters.port"),
        }
    }

    fn server(&mut self, offset: u16) -> Server {
        let at = self.at("server");
        let role_text = self.string(at, "server_role");
        let server_role = match role_text.as_str() {
            "default" => ServerRole::Default,
            "control-plane" => ServerRole::ControlPlane,
            "gateway-worker" => ServerRole::GatewayWorker,
            "traffic-manager" => ServerRole::TrafficManager,
            other => {
                let why = if other == "api-key-manager-deprecated" {
                    "WSO2's deprecated key-manager profile is not run by Tollgate (the control plane holds the key manager)".to_owned()
                } else {
                    format!(
                        "unknown server_role \"{other}\": expected one of {}{}",
                        ROLES.join(", "),
                        did_you_mean(other, ROLES)
                    )
                };
                let offset_at = self.offset_of("server.server_role");
                let value_at = at.table.scalar("server_role").map_or(offset_at, |v| v.at);
                self.sink.error(value_at, "server.server_role", why);
                ServerRole::Default
            }
        };
        Server {
            hostname: self.string(at, "hostname"),
            node_ip: self.string(at, "node_ip"),
            server_role,
            offset,
            mode: self.string(at, "mode"),
        }
    }

    fn super_admin(&mut self) -> SuperAdmin {
        let at = self.at("super_admin");
        SuperAdmin {
            username: self.string(at, "username"),
            password: self.string(at, "password"),
            create_admin_account: self.flag(at, "create_admin_account", true),
        }
    }

    fn databases(&mut self) -> BTreeMap<String, Database> {
        let Some(databases) = self.root.table("database") else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (name, node) in &databases.entries {
            let Node::Table(table) = node else { continue };
            let database = Database {
                kind: self.optional_string(table, "type"),
                hostname: self.optional_string(table, "hostname"),
                name: self.optional_string(table, "name"),
                port: self.optional_string(table, "port"),
                username: self.optional_string(table, "username"),
                password: self.optional_string(table, "password"),
                url: self.optional_string(table, "url"),
            };
            out.insert(name.clone(), database);
        }
        out
    }

    fn keystore(&mut self) -> Keystore {
        let at = self.at("keystore.tls");
        Keystore {
            file_name: self.string(at, "file_name"),
            kind: self.string(at, "type"),
            password: self.string(at, "password"),
            alias: self.string(at, "alias"),
            key_password: self.string(at, "key_password"),
        }
    }

    fn truststore(&mut self) -> Truststore {
        let at = self.at("truststore");
        Truststore {
            file_name: self.string(at, "file_name"),
            kind: self.string(at, "type"),
            password: self.string(at, "password"),
        }
    }

    fn environments(&mut self) -> Vec<Environment> {
        let Some(gateway) = self.root.path("apim.gateway") else {
            return Vec::new();
        };
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for table in gateway.tables("environment") {
            // Names are checked for duplicates even when the rest of the environment is wrong,
            // so one run reports both.
            let Some(name) = self.optional_string(table, "name") else {
                self.environment(table);
                continue;
            };
            if let Some(first_line) = seen.get(&name) {
                let at = table.scalar("name").map_or(table.at, |n| n.at);
                self.sink.error(
                    at,
                    &format!("{}.name", table.key),
                    format!(
                        "duplicate environment name \"{name}\" (first declared on line {first_line}); names must be unique (WSO2 keeps the first and logs an error)"
                    ),
                );
                continue;
            }
            seen.insert(name, self.sink.map.locate(table.at).line);
            out.extend(self.environment(table));
        }
        out
    }

    fn environment(&mut self, table: &TwinTable) -> Option<Environment> {
        let name = match table.scalar("name").cloned() {
            Some(value) => {
                let name = self.text(&value)?;
                if name.trim().is_empty() {
                    self.sink.error(
                        value.at,
                        &value.key,
                        "an environment name must not be empty (it is the gateway label)",
                    );
                    return None;
                }
                name
            }
            None => {
                self.sink.error(
                    table.at,
                    &format!("{}.name", table.key),
                    "missing required key: every environment needs a name (it is the gateway label)",
                );
                return None;
            }
        };
        let kind = match table.scalar("type").cloned() {
            // An omitted `type` may render empty in WSO2's template (UNCONFIRMED, §9); the model
            // class defaults to hybrid, and so do we.
            None => EnvironmentType::Hybrid,
            Some(value) => match self.text(&value)?.as_str() {
                "hybrid" => EnvironmentType::Hybrid,
                "production" => EnvironmentType::Production,
                "sandbox" => EnvironmentType::Sandbox,
                other => {
                    // WSO2 validates nothing and compares literally, so a typo silently makes a
                    // gateway refuse every key; refusing the file is kinder.
                    let lower = other.to_ascii_lowercase();
                    let hint = if ENV_TYPES.contains(&lower.as_str()) {
                        format!("; did you mean \"{lower}\"? (WSO2 compares it case-sensitively)")
                    } else {
                        did_you_mean(other, ENV_TYPES)
                    };
                    self.sink.error(
                        value.at,
                        &value.key,
                        format!(
                            "unknown environment type \"{other}\": expected one of {}{hint}",
                            ENV_TYPES.join(", ")
                        ),
                    );
                    return None;
                }
            },
        };
        let display_name = self
            .optional_string(table, "display_name")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone());
        let bool_or =
            |checker: &mut Self, key: &str, fallback: bool| match table.scalar(key).cloned() {
                Some(value) => checker.boolean(&value).unwrap_or(fallback),
                None => fallback,
            };
        // An omitted `display_in_api_console` may render as an empty attribute and so `false`
        // in WSO2 (UNCONFIRMED, §9); an absent attribute means true, which we take.
        let display_in_api_console = bool_or(self, "display_in_api_console", true);
        let show_as_token_endpoint_url = bool_or(self, "show_as_token_endpoint_url", false);
        let provider = self
            .optional_string(table, "provider")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "wso2".to_owned());
        let mut vhosts = Vec::new();
        vhosts.extend(self.vhost(table));
        for virtual_host in table.tables("virtual_host") {
            vhosts.extend(self.vhost(virtual_host));
        }
        let visibility = self.list_or(table, "visibility", &[]);
        Some(Environment {
            display_name,
            kind,
            description: self
                .optional_string(table, "description")
                .unwrap_or_default(),
            display_in_api_console,
            show_as_token_endpoint_url,
            provider,
            service_url: self.optional_string(table, "service_url"),
            username: self.optional_string(table, "username"),
            password: self.optional_string(table, "password"),
            http_endpoint: self.optional_string(table, "http_endpoint"),
            https_endpoint: self.optional_string(table, "https_endpoint"),
            ws_endpoint: self.optional_string(table, "ws_endpoint"),
            wss_endpoint: self.optional_string(table, "wss_endpoint"),
            vhosts,
            visibility,
            name,
        })
    }

    /// `VHost.fromEndpointUrls`: host and context from the https URL, else the http one.
    fn vhost(&mut self, table: &TwinTable) -> Option<VHost> {
        let mut vhost = VHost {
            host: String::new(),
            http_context: String::new(),
            http_port: 80,
            https_port: 443,
            ws_host: String::new(),
            ws_port: Ports::BASE.ws,
            wss_host: String::new(),
            wss_port: Ports::BASE.wss,
            websub_http_port: Ports::BASE.websub_http,
            websub_https_port: Ports::BASE.websub_https,
        };
        if table.scalar("http_endpoint").is_none() && table.scalar("https_endpoint").is_none() {
            self.sink.error(
                table.at,
                &table.key,
                "Error while building VHost, missing required HTTP or HTTPS endpoint (set http_endpoint or https_endpoint)",
            );
            return None;
        }
        let mut ok = true;
        let mut https_seen = false;
        for key in [
            "https_endpoint",
            "http_endpoint",
            "ws_endpoint",
            "wss_endpoint",
            "websub_event_receiver_http_endpoint",
            "websub_event_receiver_https_endpoint",
        ] {
            let Some(value) = table.scalar(key).cloned() else {
                continue;
            };
            let Some(text) = self.text(&value) else {
                ok = false;
                continue;
            };
            if text.trim().is_empty() {
                // An empty endpoint is an absent one (for ws/wss WSO2 then uses the http host).
                continue;
            }
            let parsed = match url::parse(&text) {
                Ok(parsed) => parsed,
                Err(message) => {
                    self.sink.error(value.at, &value.key, message);
                    ok = false;
                    continue;
                }
            };
            let scheme = parsed.scheme.to_ascii_lowercase();
            let websub = key.starts_with("websub");
            let gateway = key == "http_endpoint" || key == "https_endpoint";
            let context = parsed.path.trim_end_matches('/');
            match (scheme.as_str(), gateway, websub) {
                ("https", true, _) => {
                    vhost.https_port = parsed.port.unwrap_or(443);
                    vhost.host = parsed.host.to_owned();
                    vhost.http_context = context.to_owned();
                    https_seen = true;
                }
                ("http", true, _) => {
                    vhost.http_port = parsed.port.unwrap_or(80);
                    if !https_seen {
                        vhost.host = parsed.host.to_owned();
                        vhost.http_context = context.to_owned();
                    }
                }
                ("ws", false, false) => {
                    vhost.ws_host = parsed.host.to_owned();
                    vhost.ws_port = parsed.port.unwrap_or(Ports::BASE.ws);
                }
                ("wss", false, false) => {
                    vhost.wss_host = parsed.host.to_owned();
                    vhost.wss_port = parsed.port.unwrap_or(Ports::BASE.wss);
                }
                ("http", false, true) => {
                    vhost.websub_http_port = parsed.port.unwrap_or(Ports::BASE.websub_http);
                }
                ("https", false, true) => {
                    vhost.websub_https_port = parsed.port.unwrap_or(Ports::BASE.websub_https);
                }
                _ => {
                    let expected = if gateway || websub {
                        "an http:// or https://"
                    } else {
                        "a ws:// or wss://"
                    };
                    self.sink.error(
                        value.at,
                        &value.key,
                        format!("\"{text}\" has scheme \"{scheme}\": expected {expected} URL"),
                    );
                    ok = false;
                }
            }
        }
        if ok && vhost.host.is_empty() {
            self.sink.error(
                table.at,
                &table.key,
                "Error while building VHost, missing required HTTP or HTTPS endpoint (http_endpoint and https_endpoint are empty)",
            );
            return None;
        }
        if vhost.ws_host.is_empty() {
            vhost.ws_host.clone_from(&vhost.host);
        }
        if vhost.wss_host.is_empty() {
            vhost.wss_host.clone_from(&vhost.host);
        }
        ok.then_some(vhost)
    }

    fn key_manager(&mut self) -> KeyManagerConfig {
        let at = self.at("apim.key_manager");
        KeyManagerConfig {
            service_url: self.url_string(at, "service_url"),
            username: self.string(at, "username"),
            password: self.string(at, "password"),
            kind: self.string(at, "type"),
        }
    }

    fn throttling(&mut self, role: ServerRole, server: &Server, ports: Ports) -> Throttling {
        let at = self.at("apim.throttling");
        // infer.json: a control plane neither publishes request events nor listens for
        // decisions; a traffic manager also drops blacklist conditions. Explicit keys win.
        let (publishing, decisions, blacklist) = match role {
            ServerRole::Default | ServerRole::GatewayWorker => (true, true, true),
            ServerRole::ControlPlane => (false, false, true),
            ServerRole::TrafficManager => (false, false, false),
        };
        let throttle_decision_endpoints = self
            .urls(at.table, "throttle_decision_endpoints")
            .unwrap_or_else(|| vec![format!("tcp://{}:{}", server.node_ip, ports.amqp)]);
        let url_groups = self.url_groups(at, server, ports);
        Throttling {
            username: self.string(at, "username"),
            password: self.string(at, "password"),
            service_url: self.url_string(at, "service_url"),
            throttle_decision_endpoints,
            url_groups,
            enable_data_publishing: self.flag(at, "enable_data_publishing", publishing),
            enable_decision_connection: self.flag(at, "enable_decision_connection", decisions),
            enable_unlimited_tier: self.flag(at, "enable_unlimited_tier", true),
            enable_advanced_throttling: self.flag(at, "enable_advanced_throttling", true),
            enable_blacklist_condition: self.flag(at, "enable_blacklist_condition", blacklist),
        }
    }

    fn url_groups(&mut self, at: At<'_>, server: &Server, ports: Ports) -> Vec<UrlGroup> {
        let groups = at.table.tables("url_group");
        if !groups.is_empty() {
            let mut out = Vec::new();
            for group in groups {
                let urls = self.urls(group, "traffic_manager_urls").unwrap_or_default();
                if urls.is_empty() {
                    let key = format!("{}.traffic_manager_urls", group.key);
                    let offset = group
                        .list("traffic_manager_urls")
                        .map_or(group.at, |l| l.at);
                    self.sink.error(
                        offset,
                        &key,
                        "a url_group needs at least one traffic manager URL",
                    );
                }
                let auth_urls = self
                    .urls(group, "traffic_manager_auth_urls")
                    .unwrap_or_default();
                // `type == "loadbalance"` only; anything else, or nothing, is failover (§2.5).
                let kind = match self.optional_string(group, "type").as_deref() {
                    Some("loadbalance") => UrlGroupKind::LoadBalance,
                    _ => UrlGroupKind::Failover,
                };
                out.push(UrlGroup {
                    traffic_manager_urls: urls,
                    traffic_manager_auth_urls: auth_urls,
                    kind,
                });
            }
            return out;
        }
        if let Some(receiver) = at.table.scalar("receiver_url").cloned() {
            let urls = self
                .text(&receiver)
                .map(|t| receiver_groups(&t))
                .unwrap_or_default();
            let auth = match at.table.scalar("receiver_auth_url").cloned() {
                Some(value) => self
                    .text(&value)
                    .map(|t| receiver_groups(&t))
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            return urls
                .into_iter()
                .enumerate()
                .map(|(i, (kind, urls))| UrlGroup {
                    traffic_manager_urls: urls,
                    traffic_manager_auth_urls: auth
                        .get(i)
                        .map(|(_, a)| a.clone())
                        .unwrap_or_default(),
                    kind,
                })
                .collect();
        }
        // `tcp://${carbon.local.ip}:${receiver.url.port}` / `ssl://...:${auth.url.port}`.
        vec![UrlGroup {
            traffic_manager_urls: vec![format!("tcp://{}:{}", server.node_ip, ports.tm_binary)],
            traffic_manager_auth_urls: vec![format!(
                "ssl://{}:{}",
                server.node_ip, ports.tm_binary_ssl
            )],
            kind: UrlGroupKind::Failover,
        }]
    }

    fn sync_gateway(&mut self, role: ServerRole) -> SyncRuntimeArtifactsGateway {
        let at = self.at("apim.sync_runtime_artifacts.gateway");
        let skip = at.table.table("skip_list").unwrap_or(&EMPTY);
        let skip_list = SkipList {
            apis: self.list_or(skip, "apis", &[]),
            endpoints: self.list_or(skip, "endpoints", &[]),
            sequences: self.list_or(skip, "sequences", &[]),
            local_entries: self.list_or(skip, "local_entries", &[]),
        };
        SyncRuntimeArtifactsGateway {
            gateway_labels: self.list_or(at.table, "gateway_labels", &["Default"]),
            // infer.json: a control plane does not sync gateway artifacts.
            enable: self.flag(at, "enable", role != ServerRole::ControlPlane),
            artifact_retriever: self.string(at, "artifact_retriever"),
            data_retrieval_mode: self.string(at, "data_retrieval_mode"),
            skip_list,
        }
    }

    fn event_hub(&mut self, server: &Server, ports: Ports) -> EventHub {
        let at = self.at("apim.event_hub");
        let service_url = self.url_string(at, "service_url");
        EventHub {
            enable: self.flag(at, "enable", true),
            service_url: strip_services(&service_url),
            username: self.string(at, "username"),
            password: self.string(at, "password"),
            event_listening_endpoints: self
                .urls(at.table, "event_listening_endpoints")
                // Tollgate's choice (no WSO2 default found): this node's own broker, as for
                // `throttle_decision_endpoints`.
                .unwrap_or_else(|| vec![format!("tcp://{}:{}", server.node_ip, ports.amqp)]),
        }
    }

    fn cors(&mut self) -> Cors {
        let at = self.at("apim.cors");
        Cors {
            enable: self.flag(at, "enable", Cors::DEFAULT_ENABLE),
            allow_origins: self.list_or(at.table, "allow_origins", Cors::DEFAULT_ALLOW_ORIGINS),
            allow_methods: self.list_or(at.table, "allow_methods", Cors::DEFAULT_ALLOW_METHODS),
            allow_headers: self.list_or(at.table, "allow_headers", Cors::DEFAULT_ALLOW_HEADERS),
            allow_credentials: self.flag(at, "allow_credentials", Cors::DEFAULT_ALLOW_CREDENTIALS),
            expose_headers: self.list_or(at.table, "expose_headers", Cors::DEFAULT_EXPOSE_HEADERS),
        }
    }
}

impl Checker<'_, '_, '_> {
    fn jwt(&mut self) -> Jwt {
        let at = self.at("apim.jwt");
        let defaults = Jwt::default();
        let choice = |checker: &mut Self, name: &str, allowed: &[&str]| -> Option<String> {
            let value = at.table.scalar(name).cloned()?;
            let text = checker.text(&value)?;
            if allowed.contains(&text.as_str()) {
                return Some(text);
            }
            checker.sink.error(
                value.at,
                &value.key,
                format!(
                    "unknown {name} \"{text}\": expected one of {}{}",
                    allowed.join(", "),
                    did_you_mean(&text, allowed.iter().copied())
                ),
            );
            None
        };
        let encoding = match choice(self, "encoding", &["base64", "base64url"]).as_deref() {
            Some("base64url") => JwtEncoding::Base64Url,
            _ => JwtEncoding::Base64,
        };
        // WSO2 falls back to SHA256withRSA for any other value; naming it is kinder.
        let signed = choice(self, "signing_algorithm", &["SHA256withRSA", "NONE"]).as_deref()
            != Some("NONE");
        let generator = at.table.table("gateway_generator").cloned();
        Jwt {
            enable: self.flag(at, "enable", defaults.enable),
            header: self.string(at, "header"),
            encoding,
            claim_dialect: self.string(at, "claim_dialect"),
            signed,
            enable_user_claims: self.flag(at, "enable_user_claims", defaults.enable_user_claims),
            use_sha256_hash: self.flag(at, "use_sha256_hash", defaults.use_sha256_hash),
            use_kid: self.flag(at, "use_kid_property", defaults.use_kid),
            excluded_claims: generator
                .map(|g| self.list_or(&g, "excluded_claims", &[]))
                .unwrap_or_default(),
        }
    }
}

/// WSO2 strips `/services` from the event hub's service URL: the rest is the base of
/// `/internal/data/v1`.
fn strip_services(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    trimmed
        .strip_suffix("/services")
        .unwrap_or(trimmed)
        .trim_end_matches('/')
        .to_owned()
}

/// Data-bridge receiver syntax: `{a|b},{c,d}` (`|` failover, `,` load balance inside braces,
/// groups separated by `,`), or one plain URL.
fn receiver_groups(raw: &str) -> Vec<(UrlGroupKind, Vec<String>)> {
    let raw = raw.trim();
    if !raw.starts_with('{') {
        return vec![(UrlGroupKind::Failover, vec![raw.to_owned()])];
    }
    raw.split('}')
        .map(|part| part.trim_start_matches(',').trim().trim_start_matches('{'))
        .filter(|part| !part.is_empty())
        .map(|group| {
            if group.contains('|') {
                let urls = group.split('|').map(|u| u.trim().to_owned()).collect();
                (UrlGroupKind::Failover, urls)
            } else {
                let urls: Vec<String> = group.split(',').map(|u| u.trim().to_owned()).collect();
                let kind = if urls.len() > 1 {
                    UrlGroupKind::LoadBalance
                } else {
                    UrlGroupKind::Failover
                };
                (kind, urls)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_hub_base_drops_services() {
        assert_eq!(
            strip_services("https://localhost:9443/services/"),
            "https://localhost:9443"
        );
        assert_eq!(
            strip_services("https://cp:9443/services"),
            "https://cp:9443"
        );
        assert_eq!(strip_services("https://cp:9443/"), "https://cp:9443");
    }

    #[test]
    fn receiver_urls_split_into_groups_as_the_data_bridge_reads_them() {
        assert_eq!(
            receiver_groups("{tcp://a:9611|tcp://b:9611},{tcp://c:9611,tcp://d:9611}"),
            vec![
                (
                    UrlGroupKind::Failover,
                    vec!["tcp://a:9611".to_owned(), "tcp://b:9611".to_owned()]
                ),
                (
                    UrlGroupKind::LoadBalance,
                    vec!["tcp://c:9611".to_owned(), "tcp://d:9611".to_owned()]
                ),
            ]
        );
        assert_eq!(
            receiver_groups("tcp://a:9611"),
            vec![(UrlGroupKind::Failover, vec!["tcp://a:9611".to_owned()])]
        );
    }
}
