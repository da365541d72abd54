//! Scenario files: the TOML language in which a person says what to do to a topology and what
//! must come back, the checked model the runner executes, and the parser that turns one into the
//! other, reporting every mistake in a file at once with its place
//! (`file:line:col: step[4].expect.status: message`).
//!
//! A scenario names a topology (a folder under `scenarios/topologies/`), then lists steps:
//! control-plane actions in WSO2's words (publish, revision, deploy, application, subscribe,
//! generate keys, token, revoke), requests through a gateway with expectations, raw REST calls,
//! clock advances, waits on convergence, injected faults, background load and files put on (or
//! checked on) a node's disk (`artifact`). The language is documented for its users in
//! `scenarios/README.md`; this crate is its reference.
//!
//! Reading is serde-free, on purpose: serde stops at the first error and forgets where values
//! were written, and a scenario file must report *every* error with line, column and key path,
//! unknown keys with a suggestion, and names used before they are defined. The file is parsed
//! with `toml_edit` (which keeps byte spans), converted once into a small spanned tree, and read
//! in one pass in step order so that references are checked against what earlier steps define.
//! [`load`] also finds the `topologies/` folder near the file and checks the topology's name and
//! the instance, backend and environment names the steps use; [`parse`] touches no files.
//!
//! | module | what it holds |
//! |---|---|
//! | [`model`] | [`Scenario`], [`Step`], the [`Action`] enum and one struct per step kind |
//! | [`expect`] | [`Expect`], counts over repeats ([`CountExpect`]), [`Capture`] |
//! | [`template`] | `${…}` references in strings ([`Template`], [`Var`], [`JsonTemplate`]) |
//! | [`jsonpath`] | the small JSONPath used by expectations and captures ([`JsonPath`]) |
//! | [`throttle`] | throttle keys a `wait` watches ([`ThrottleKey`]) |
//! | [`time`] | durations (`"1m30s"`) and clock marks (`"next-minute"`) |
//! | [`error`] | located errors ([`ScenarioError`], [`ScenarioErrors`]) |
//! | [`facts`] | names a topology offers (instances, backends, environments), read from its folder |
//! | `tree` | the file as a spanned TOML tree |
//! | `read` | the reader: tree -> model, every check |
//!
//! The runner that executes a [`Scenario`] lives in the harness; this crate depends on nothing
//! of Tollgate's, so any runner (or another gateway's test suite) can read the same files.

pub mod error;
pub mod expect;
pub mod facts;
pub mod jsonpath;
pub mod model;
mod read;
pub mod template;
pub mod throttle;
pub mod time;
mod tree;

use std::path::Path;

pub use error::{Location, ScenarioError, ScenarioErrors};
pub use expect::{
    Capture, CaptureSource, CountExpect, Expect, HeaderExpect, JsonExpect, JsonMatch, Run,
    StatusMatch, TextMatch, Times,
};
pub use facts::{Catalog, TopologyFacts};
pub use jsonpath::JsonPath;
pub use model::*;
pub use template::{JsonTemplate, KeyField, Part, Template, Var};
pub use throttle::ThrottleKey;
pub use time::{ClockMark, parse_duration};

/// Reads and checks a scenario file. The nearest `topologies/` folder beside or above the file
/// ([`Catalog::discover`]) is used to check topology, instance, backend and environment names.
pub fn load(path: impl AsRef<Path>) -> Result<Scenario, ScenarioErrors> {
    let path = path.as_ref();
    load_with(path, Catalog::discover(path).as_ref())
}

/// Reads and checks a scenario file against the topologies of `catalog` (none: names of the
/// topology go unchecked).
pub fn load_with(path: &Path, catalog: Option<&Catalog>) -> Result<Scenario, ScenarioErrors> {
    match std::fs::read(path).map(utf8_text) {
        Ok(Ok(source)) => parse_with(&source, path, catalog),
        Ok(Err((line, column))) => Err(ScenarioErrors(vec![ScenarioError {
            file: path.to_path_buf(),
            line,
            column,
            path: String::new(),
            message: "the file is not UTF-8: this byte is not valid UTF-8".to_owned(),
        }])),
        Err(err) => Err(ScenarioErrors(vec![ScenarioError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            path: String::new(),
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

/// Checks `source`; `file` is used in messages and kept in [`Scenario::file`]. Names of the
/// topology's instances, backends and environments are not checked (no file system access):
/// [`load`] and [`parse_with`] check them.
pub fn parse(source: &str, file: &Path) -> Result<Scenario, ScenarioErrors> {
    parse_with(source, file, None)
}

/// Checks `source`, and the topology's names against `catalog`.
pub fn parse_with(
    source: &str,
    file: &Path,
    catalog: Option<&Catalog>,
) -> Result<Scenario, ScenarioErrors> {
    let mut reader = read::Reader::new(file, source).with_catalog(catalog.cloned());
    let document = match toml_edit::Document::parse(source) {
        Ok(document) => document,
        Err(err) => {
            let at = err.span().map_or(0, |span| span.start);
            let message = err.message().trim_end().replace('\n', "; ");
            reader.error(at, "", format!("invalid TOML: {message}"));
            return Err(ScenarioErrors(reader.into_errors()));
        }
    };
    let root = tree::root(document.as_table());
    let scenario = reader.scenario(&root);
    match scenario {
        Some(scenario) if !reader.has_errors() => Ok(scenario),
        _ => {
            let errors = reader.into_errors();
            if errors.is_empty() {
                // Every path that returns None records an error first; this is a guard, not a
                // case anyone should see.
                return Err(ScenarioErrors(vec![ScenarioError {
                    file: file.to_path_buf(),
                    line: 0,
                    column: 0,
                    path: String::new(),
                    message: "the scenario could not be read".into(),
                }]));
            }
            Err(ScenarioErrors(errors))
        }
    }
}
