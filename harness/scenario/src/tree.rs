//! The file as written: a small TOML tree where every value and every key keeps its byte span.
//!
//! `toml_edit` gives spans but has four shapes of "table" (`Table`, `InlineTable`, implicit
//! dotted tables, arrays of tables); the reader wants one. Converting once keeps the reader
//! simple and lets `[[step]]` and `step = [{ … }]` read the same.

use std::ops::Range;

/// A value and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) span: Range<usize>,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<Entry>),
}

/// One `key = value` of a table, in file order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_span: Range<usize>,
    pub(crate) value: Node,
}

impl Kind {
    /// The TOML type name, for "expected X, found Y".
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Str(_) => "a string",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Bool(_) => "a boolean",
            Self::Datetime(_) => "a datetime",
            Self::Array(_) => "an array",
            Self::Table(_) => "a table",
        }
    }
}

impl Node {
    /// What the value is, quoted briefly for messages: `"two hundred"`, `12`, `a table`.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Kind::Str(s) => {
                let short: String = s.chars().take(40).collect();
                let ellipsis = if short.len() < s.len() { "…" } else { "" };
                format!("\"{short}{ellipsis}\"")
            }
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Bool(b) => b.to_string(),
            Kind::Datetime(d) => d.clone(),
            other => other.type_name().to_owned(),
        }
    }

    pub(crate) fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Table(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Converts a parsed document's root table.
pub(crate) fn root(table: &toml_edit::Table) -> Node {
    table_node(table, 0..0)
}

fn table_node(table: &toml_edit::Table, fallback: Range<usize>) -> Node {
    let span = table.span().unwrap_or(fallback);
    let entries = table
        .iter()
        .filter_map(|(key, item)| {
            let key_span = table
                .key(key)
                .and_then(toml_edit::Key::span)
                .unwrap_or_else(|| span.clone());
            entry(key, key_span, item)
        })
        .collect();
    Node {
        span,
        kind: Kind::Table(entries),
    }
}

fn entry(key: &str, key_span: Range<usize>, item: &toml_edit::Item) -> Option<Entry> {
    let value = item_node(item, key_span.clone())?;
    Some(Entry {
        key: key.to_owned(),
        key_span,
        value,
    })
}

fn item_node(item: &toml_edit::Item, fallback: Range<usize>) -> Option<Node> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(value_node(value, fallback)),
        toml_edit::Item::Table(table) => Some(table_node(table, fallback)),
        toml_edit::Item::ArrayOfTables(tables) => {
            let span = tables.span().unwrap_or_else(|| fallback.clone());
            let items = tables
                .iter()
                .map(|table| table_node(table, fallback.clone()))
                .collect();
            Some(Node {
                span,
                kind: Kind::Array(items),
            })
        }
    }
}

fn value_node(value: &toml_edit::Value, fallback: Range<usize>) -> Node {
    use toml_edit::Value;
    let span = value.span().unwrap_or_else(|| fallback.clone());
    let kind = match value {
        Value::String(s) => Kind::Str(s.value().clone()),
        Value::Integer(i) => Kind::Int(*i.value()),
        Value::Float(f) => Kind::Float(*f.value()),
        Value::Boolean(b) => Kind::Bool(*b.value()),
        Value::Datetime(d) => Kind::Datetime(d.value().to_string()),
        Value::Array(array) => {
            Kind::Array(array.iter().map(|v| value_node(v, span.clone())).collect())
        }
        Value::InlineTable(table) => Kind::Table(
            table
                .iter()
                .map(|(key, item)| {
                    let key_span = table
                        .key(key)
                        .and_then(toml_edit::Key::span)
                        .unwrap_or_else(|| span.clone());
                    Entry {
                        key: key.to_owned(),
                        value: value_node(item, key_span.clone()),
                        key_span,
                    }
                })
                .collect(),
        ),
    };
    Node { span, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_header_tables_read_the_same_with_spans() {
        let source = "[[step]]\nname = \"a\"\n\n[[step]]\nrequest = { path = \"/x\" }\n";
        let document = toml_edit::Document::parse(source).unwrap();
        let root = root(document.as_table());
        let steps = &root.entries().unwrap()[0];
        assert_eq!(steps.key, "step");
        let Kind::Array(items) = &steps.value.kind else {
            panic!("{steps:?}")
        };
        assert_eq!(items.len(), 2);
        let request = &items[1].entries().unwrap()[0];
        assert_eq!(&source[request.key_span.clone()], "request");
        let path = &request.value.entries().unwrap()[0];
        assert_eq!(&source[path.value.span.clone()], "\"/x\"");
    }
}
