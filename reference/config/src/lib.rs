//! WSO2 API Manager's `deployment.toml`, read the way WSO2 reads it, checked, and located.
//!
//! Every Tollgate node is configured by a real `deployment.toml`: the keys, defaults, role
//! inference, placeholders and port offsets of WSO2 API-M 4.x (docs/wso2-behaviour.md §1–§2). A file
//! with mistakes gets *every* error at once, each naming file, line, column and key path
//! (`deployment.toml:14:8: apim.gateway.environment[1].type: unknown environment type ...`);
//! keys WSO2 would ignore are warnings, with a "did you mean" when a known key is close.
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | the checked model nodes are built from ([`DeploymentConfig`]) |
//! | [`ports`] | every listener port of an instance from its offset ([`Ports`]) |
//! | `schema` | the catalogue of known keys, their shapes and WSO2's defaults |
//! | `twin` | the file as typed, located values (before defaults and placeholders) |
//! | `placeholder` | `$ref{…}`, `${…}`, `$env{…}`, `$sys{…}` ([`Vars`] injects env and sys) |
//! | `check` | twin → model: scalar types, defaults, role inference, vhosts, validation |
//! | `diagnostic` | [`Diagnostic`], [`ConfigErrors`], locations and suggestions |
//! | `url` | splitting endpoint URLs as `java.net.URL` does for `VHost.fromEndpointUrls` |
//!
//! # How a key flows: file → twin → checked model
//!
//! 1. `toml_edit` parses the text and keeps the byte span of every key and value (a syntax error
//!    stops here, as one diagnostic at the parser's position).
//! 2. The twin walker matches each key against the schema: a known key becomes a located value
//!    (`Located { value, key: "server.offset", at }`), an unknown key a warning, a table where a
//!    string belongs an error. Nothing is defaulted or resolved yet.
//! 3. The checker reads the twin section by section: the offset and `[transport]` ports first
//!    (the `${…port}` placeholders depend on them), then every other key, resolving
//!    placeholders, converting scalars (`offset = "one"` is an error located at its value),
//!    applying WSO2's default when the key is absent and the role's inference
//!    (`control-plane` → `sync_runtime_artifacts.gateway.enable = false`), and building each
//!    environment's vhosts. Errors accumulate; the model is returned only when there are none.

pub mod model;
pub mod ports;

mod check;
mod diagnostic;
mod placeholder;
mod schema;
mod twin;
mod url;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use diagnostic::{ConfigErrors, Diagnostic, Location, SourceMap};
pub use model::DeploymentConfig;
pub use placeholder::Vars;
pub use ports::{PortOverflow, Ports};

use diagnostic::{Sink, did_you_mean};

/// A checked file: its model, the warnings it raised, and where each key sits.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: DeploymentConfig,
    /// Keys WSO2 would ignore (or that Tollgate does not implement), by position.
    pub warnings: Vec<Diagnostic>,
    pub file: PathBuf,
    /// Every key path the file sets (`apim.gateway.environment[0].name`,
    /// `apim.sync_runtime_artifacts.gateway.gateway_labels[1]`) and where.
    pub locations: BTreeMap<String, Location>,
    /// The instance's listener ports (offset and `[transport]` overrides applied).
    pub ports: Ports,
}

impl Loaded {
    /// Where the file sets `key`, if it does.
    pub fn location(&self, key: &str) -> Option<Location> {
        self.locations.get(key).copied()
    }

    /// A diagnostic about `key` of this file, located at the key or, when the file does not set
    /// it, at the nearest enclosing key it does set (else line 1, column 1).
    pub fn diagnostic(&self, key: &str, message: impl Into<String>) -> Diagnostic {
        let mut probe = key;
        let location = loop {
            if let Some(location) = self.location(probe) {
                break location;
            }
            match probe.rfind(['.', '[']) {
                Some(i) => probe = &probe[..i],
                None => break Location { line: 1, column: 1 },
            }
        };
        Diagnostic {
            file: self.file.clone(),
            line: location.line,
            column: location.column,
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Reads and checks a file; `$env{…}` comes from this process's environment.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_with(path, &Vars::from_process())
}

/// Reads and checks a file with injected environment variables and system properties.
pub fn load_with(path: &Path, vars: &Vars) -> Result<Loaded, ConfigErrors> {
    match std::fs::read(path).map(utf8_text) {
        Ok(Ok(source)) => parse_with(&source, path, vars),
        Ok(Err((line, column))) => Err(ConfigErrors(vec![Diagnostic {
            file: path.to_path_buf(),
            line,
            column,
            key: String::new(),
            message: "the file is not UTF-8: this byte is not valid UTF-8".to_owned(),
        }])),
        Err(err) => Err(ConfigErrors(vec![Diagnostic {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the file: {err}"),
        }])),
    }
}

/// A file's bytes as text, or the line and column (1-based, in characters) of its first byte
/// that is not UTF-8, so that error names a place like every other.
pub fn utf8_text(bytes: Vec<u8>) -> Result<String, (usize, usize)> {
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = std::str::from_utf8(&valid[line_start..]).map_or(0, |s| s.chars().count());
        (line, column + 1)
    })
}

/// Checks `source`; `file` is used only in messages. No environment variables or system
/// properties are visible (deterministic): use [`parse_with`] to give some.
pub fn parse(source: &str, file: &Path) -> Result<Loaded, ConfigErrors> {
    parse_with(source, file, &Vars::default())
}

/// Checks `source` with injected `$env{…}` / `$sys{…}` values.
pub fn parse_with(source: &str, file: &Path, vars: &Vars) -> Result<Loaded, ConfigErrors> {
    let mut sink = Sink::new(file, source);
    let document = match toml_edit::Document::parse(source) {
        Ok(document) => document,
        Err(err) => {
            let at = err.span().map_or(0, |span| span.start);
            sink.error(at, "", format!("invalid TOML: {}", err.message()));
            return Err(ConfigErrors(sink.errors));
        }
    };
    let twin = twin::read(document.as_table(), &mut sink);
    let (config, ports) = check::build(&twin, vars, &mut sink);
    let Sink {
        map,
        mut errors,
        mut warnings,
        ..
    } = sink;
    for list in [&mut errors, &mut warnings] {
        list.sort();
        list.dedup();
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let locations = twin
        .locations
        .iter()
        .map(|(key, at)| (key.clone(), map.locate(*at)))
        .collect();
    Ok(Loaded {
        config,
        warnings,
        file: file.to_path_buf(),
        locations,
        ports,
    })
}

/// Each gateway label that names no environment of the control plane's `deployment.toml`, as a
/// diagnostic located in the gateway's file. WSO2 starts such a gateway: it deploys nothing until
/// an environment of that name is created through the Admin API (then what is deployed there).
pub fn check_gateway_labels(control_plane: &Loaded, gateway: &Loaded) -> Vec<Diagnostic> {
    let (mut typos, others) = split_gateway_labels(control_plane, gateway);
    typos.extend(others);
    typos
}

/// [`check_gateway_labels`] in two: labels that look like a typo of a declared environment
/// (the same name in another case, or a near miss), and the others, which may name an
/// environment created at run time through the Admin API.
pub fn split_gateway_labels(
    control_plane: &Loaded,
    gateway: &Loaded,
) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let names: Vec<&str> = control_plane
        .config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let near_miss = |label: &str| {
        names.iter().any(|n| n.eq_ignore_ascii_case(label))
            || !did_you_mean(label, names.iter().copied()).is_empty()
    };
    let unknown: Vec<&String> = gateway
        .config
        .sync_gateway
        .gateway_labels
        .iter()
        .filter(|l| !names.contains(&l.as_str()))
        .collect();
    let diagnostics = label_diagnostics(control_plane, gateway);
    let mut typos = Vec::new();
    let mut others = Vec::new();
    for (label, diagnostic) in unknown.into_iter().zip(diagnostics) {
        if near_miss(label) {
            typos.push(diagnostic);
        } else {
            others.push(diagnostic);
        }
    }
    (typos, others)
}

fn label_diagnostics(control_plane: &Loaded, gateway: &Loaded) -> Vec<Diagnostic> {
    let names: Vec<&str> = control_plane
        .config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let declared = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let labels_key = "apim.sync_runtime_artifacts.gateway.gateway_labels";
    let defaulted = gateway.location(labels_key).is_none();
    gateway
        .config
        .sync_gateway
        .gateway_labels
        .iter()
        .enumerate()
        .filter(|(_, label)| !names.contains(&label.as_str()))
        .map(|(i, label)| {
            let hint = names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(label))
                .map(|n| format!("; did you mean \"{n}\"? (labels are case-sensitive)"))
                .unwrap_or_else(|| did_you_mean(label, names.iter().copied()));
            let default_note = if defaulted {
                " (gateway_labels is not set, so it defaults to [\"Default\"])"
            } else {
                ""
            };
            let declared = if declared.is_empty() {
                "none".to_owned()
            } else {
                declared.clone()
            };
            gateway.diagnostic(
                &format!("{labels_key}[{i}]"),
                format!(
                    "gateway label \"{label}\"{default_note} names no environment of the control plane {}, which declares {declared}{hint}",
                    control_plane.file.display()
                ),
            )
        })
        .collect()
}
