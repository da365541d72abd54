//! `topology.overrides`: a scenario's edits to its instances' `deployment.toml` files.
//!
//! The topology folder is copied to a fresh temporary folder and each edited file rewritten
//! there (the shipped files are never touched); the copy is removed when the scenario ends.
//! Each value replaces the dotted key's value (`apim.cors.allow_origins`), creating tables on
//! the way; an array of tables (`[[apim.gateway.environment]]`) is replaced whole.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A topology folder: the shipped one, or an edited copy that is removed on drop.
#[derive(Debug)]
pub(crate) struct PreparedTopology {
    pub(crate) dir: PathBuf,
    temporary: bool,
}

impl Drop for PreparedTopology {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a leftover folder in the temp dir is harmless.
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `dir` as is when there is nothing to change, else an edited copy.
pub(crate) fn prepare(
    dir: &Path,
    overrides: &BTreeMap<String, BTreeMap<String, Value>>,
) -> Result<PreparedTopology, String> {
    if overrides.is_empty() {
        return Ok(PreparedTopology {
            dir: dir.to_path_buf(),
            temporary: false,
        });
    }
    let topology = crate::Topology::load(dir).map_err(|e| e.to_string())?;
    let copy = std::env::temp_dir().join(format!(
        "tollgate-topology-{}-{}-{}",
        topology.name,
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let prepared = PreparedTopology {
        dir: copy.clone(),
        temporary: true,
    };
    copy_dir(dir, &copy).map_err(|e| format!("copying {}: {e}", dir.display()))?;
    for (instance, keys) in overrides {
        let found = topology
            .instance(instance)
            .ok_or_else(|| format!("overrides: the topology has no instance `{instance}`"))?;
        let relative = found.file.strip_prefix(dir).map_err(|_| {
            format!(
                "overrides: {} is outside the topology folder",
                found.file.display()
            )
        })?;
        let file = copy.join(relative);
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for (key, value) in keys {
            set(&mut table, key, value).map_err(|e| format!("overrides.{instance}.{key}: {e}"))?;
        }
        let edited = toml::to_string(&table).map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::write(&file, edited).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(prepared)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Sets dotted `key` in `table` to `value`.
fn set(table: &mut toml::Table, key: &str, value: &Value) -> Result<(), String> {
    let value = toml::Value::try_from(value)
        .map_err(|e| format!("{value} cannot be written in TOML ({e})"))?;
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().ok_or("an empty key")?;
    let mut at = table;
    for part in parts {
        let entry = at
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{part}` is not a table in the file")),
        };
    }
    at.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dotted_key_replaces_a_value_and_creates_missing_tables() {
        let mut table: toml::Table = toml::from_str("[server]\noffset = 1\n").unwrap();
        set(&mut table, "server.offset", &json!(2)).unwrap();
        set(&mut table, "apim.cors.allow_origins", &json!("https://x")).unwrap();
        set(
            &mut table,
            "apim.gateway.environment",
            &json!([{"name": "Default", "type": "hybrid"}]),
        )
        .unwrap();
        let text = toml::to_string(&table).unwrap();
        assert!(text.contains("offset = 2"), "{text}");
        assert!(text.contains("allow_origins = \"https://x\""), "{text}");
        assert!(text.contains("[[apim.gateway.environment]]"), "{text}");
    }

    #[test]
    fn a_key_through_a_plain_value_is_refused() {
        let mut table: toml::Table = toml::from_str("a = 1\n").unwrap();
        assert!(set(&mut table, "a.b", &json!(1)).is_err());
    }
}
