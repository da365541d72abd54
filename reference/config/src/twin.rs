//! The twin: the file as typed, located values, before defaults and placeholders.
//!
//! The walker checks the parsed TOML against [`crate::schema`]: shapes (a string where a string
//! belongs, a table where a table belongs), unknown keys (warnings with a suggestion), and it
//! records where every key sits so later errors can point at it. Scalar types are checked by
//! [`crate::check`], because a string may still turn into an integer once placeholders resolve.

use std::collections::BTreeMap;

use toml_edit::{Item, TableLike, Value};

use crate::diagnostic::{Sink, did_you_mean};
use crate::schema::{Field, Kind};

/// A value and where it was written: its full key path and the byte offset of the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) key: String,
    pub(crate) at: usize,
}

/// A TOML scalar as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A TOML string: may hold placeholders.
    Text(String),
    Int(i64),
    Bool(bool),
    /// A float or a datetime, kept as written; only string keys accept it (as text).
    Other {
        text: String,
        type_name: &'static str,
    },
}

impl Scalar {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Text(_) => "string",
            Self::Int(_) => "integer",
            Self::Bool(_) => "boolean",
            Self::Other { type_name, .. } => type_name,
        }
    }

    /// The text WSO2's templates would render for it.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Other { text, .. } => text.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Scalar(Located<Scalar>),
    List(Located<Vec<Located<Scalar>>>),
    Table(TwinTable),
    Tables(Vec<TwinTable>),
    /// Accepted and not read (a WSO2 key Tollgate does not use).
    Opaque,
}

/// One table of the twin: known keys by canonical name (dynamic names for `[database.*]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TwinTable {
    pub(crate) key: String,
    pub(crate) at: usize,
    pub(crate) entries: BTreeMap<String, Node>,
}

impl TwinTable {
    pub(crate) fn scalar(&self, name: &str) -> Option<&Located<Scalar>> {
        match self.entries.get(name)? {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn list(&self, name: &str) -> Option<&Located<Vec<Located<Scalar>>>> {
        match self.entries.get(name)? {
            Node::List(l) => Some(l),
            _ => None,
        }
    }

    pub(crate) fn table(&self, name: &str) -> Option<&TwinTable> {
        match self.entries.get(name)? {
            Node::Table(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn tables(&self, name: &str) -> &[TwinTable] {
        match self.entries.get(name) {
            Some(Node::Tables(t)) => t,
            _ => &[],
        }
    }

    /// The table at a dotted path below this one (`apim.key_manager`).
    pub(crate) fn path(&self, path: &str) -> Option<&TwinTable> {
        path.split('.')
            .try_fold(self, |table, part| table.table(part))
    }

    /// The node at a dotted path (`super_admin.username`), through plain tables only.
    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        let (parent, last) = match path.rsplit_once('.') {
            Some((parent, last)) => (self.path(parent)?, last),
            None => (self, path),
        };
        parent.entries.get(last)
    }
}

/// The whole file: its twin and the byte offset of every key path seen.
#[derive(Debug, Clone)]
pub(crate) struct Twin {
    pub(crate) root: TwinTable,
    pub(crate) locations: BTreeMap<String, usize>,
}

pub(crate) fn read(root: &dyn TableLike, sink: &mut Sink<'_>) -> Twin {
    let mut walker = Walker {
        sink,
        locations: BTreeMap::new(),
    };
    let root = walker.table(root, crate::schema::ROOT, false, "", 0);
    Twin {
        root,
        locations: walker.locations,
    }
}

struct Walker<'s, 'a> {
    sink: &'s mut Sink<'a>,
    locations: BTreeMap<String, usize>,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn start(span: Option<std::ops::Range<usize>>) -> Option<usize> {
    span.map(|s| s.start)
}

fn item_type(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => value_type(v),
        Item::Table(_) => "table",
        Item::ArrayOfTables(_) => "array of tables",
    }
}

fn value_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Integer(_) => "integer",
        Value::Float(_) => "float",
        Value::Boolean(_) => "boolean",
        Value::Datetime(_) => "datetime",
        Value::Array(_) => "array",
        Value::InlineTable(_) => "table",
    }
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Str => "a string",
        Kind::Int => "an integer",
        Kind::Bool => "a boolean",
        Kind::List => "an array of strings",
        Kind::ListOrStr => "a string or an array of strings",
        Kind::Table(_) | Kind::OpenTable(_) | Kind::Map(_) => "a table",
        Kind::Tables(_) => "an array of tables ([[...]])",
        Kind::Accepted | Kind::Unsupported => "any value",
    }
}

fn scalar(value: &Value) -> Option<Scalar> {
    Some(match value {
        Value::String(s) => Scalar::Text(s.value().clone()),
        Value::Integer(i) => Scalar::Int(*i.value()),
        Value::Boolean(b) => Scalar::Bool(*b.value()),
        Value::Float(f) => Scalar::Other {
            text: f.value().to_string(),
            type_name: "float",
        },
        Value::Datetime(d) => Scalar::Other {
            text: d.value().to_string(),
            type_name: "datetime",
        },
        Value::Array(_) | Value::InlineTable(_) => return None,
    })
}

impl Walker<'_, '_> {
    fn table(
        &mut self,
        table: &dyn TableLike,
        fields: &'static [Field],
        open: bool,
        path: &str,
        at: usize,
    ) -> TwinTable {
        let mut twin = TwinTable {
            key: path.to_owned(),
            at,
            entries: BTreeMap::new(),
        };
        let mut spelled: BTreeMap<&'static str, String> = BTreeMap::new();
        for (name, item) in table.iter() {
            let full = join(path, name);
            let key_at = start(table.key(name).and_then(|k| k.span()))
                .or_else(|| start(item.span()))
                .unwrap_or(at);
            self.locations.insert(full.clone(), key_at);
            let Some(field) = fields.iter().find(|f| f.names.contains(&name)) else {
                if !open {
                    let hint =
                        did_you_mean(name, fields.iter().flat_map(|f| f.names.iter().copied()));
                    self.sink.warn(
                        key_at,
                        &full,
                        format!("unknown key, ignored (WSO2 ignores it too){hint}"),
                    );
                }
                continue;
            };
            if let Some(first) = spelled.insert(field.name(), name.to_owned()) {
                self.sink.error(
                    key_at,
                    &full,
                    format!("the same key as `{first}`, given twice"),
                );
                continue;
            }
            if let Some(node) = self.item(item, field.kind, &full, key_at) {
                twin.entries.insert(field.name().to_owned(), node);
            }
        }
        twin
    }

    fn item(&mut self, item: &Item, kind: Kind, path: &str, key_at: usize) -> Option<Node> {
        let value_at = start(item.span()).unwrap_or(key_at);
        let mismatch = |walker: &mut Self| {
            walker.sink.error(
                value_at,
                path,
                format!("expected {}, found {}", expected(kind), item_type(item)),
            );
            None
        };
        match kind {
            Kind::Str | Kind::Int | Kind::Bool => {
                let Some(value) = item.as_value().and_then(scalar) else {
                    return mismatch(self);
                };
                Some(Node::Scalar(Located {
                    value,
                    key: path.to_owned(),
                    at: value_at,
                }))
            }
            Kind::List | Kind::ListOrStr => match item.as_value() {
                Some(Value::Array(array)) => {
                    let mut items = Vec::new();
                    for (i, element) in array.iter().enumerate() {
                        let element_path = format!("{path}[{i}]");
                        let element_at = start(element.span()).unwrap_or(value_at);
                        self.locations.insert(element_path.clone(), element_at);
                        match scalar(element) {
                            Some(value) => items.push(Located {
                                value,
                                key: element_path,
                                at: element_at,
                            }),
                            None => self.sink.error(
                                element_at,
                                &element_path,
                                format!("expected a string, found {}", value_type(element)),
                            ),
                        }
                    }
                    Some(Node::List(Located {
                        value: items,
                        key: path.to_owned(),
                        at: value_at,
                    }))
                }
                Some(Value::String(s)) if matches!(kind, Kind::ListOrStr) => {
                    // WSO2's template prints the string as is; a comma list means the same.
                    let items = s
                        .value()
                        .split(',')
                        .map(str::trim)
                        .filter(|part| !part.is_empty())
                        .map(|part| Located {
                            value: Scalar::Text(part.to_owned()),
                            key: path.to_owned(),
                            at: value_at,
                        })
                        .collect();
                    Some(Node::List(Located {
                        value: items,
                        key: path.to_owned(),
                        at: value_at,
                    }))
                }
                _ => mismatch(self),
            },
            Kind::Table(fields) | Kind::OpenTable(fields) => {
                let Some(table) = item.as_table_like() else {
                    return mismatch(self);
                };
                let open = matches!(kind, Kind::OpenTable(_));
                Some(Node::Table(self.table(table, fields, open, path, value_at)))
            }
            Kind::Map(fields) => {
                let Some(table) = item.as_table_like() else {
                    return mismatch(self);
                };
                let mut twin = TwinTable {
                    key: path.to_owned(),
                    at: value_at,
                    entries: BTreeMap::new(),
                };
                for (name, inner) in table.iter() {
                    let full = join(path, name);
                    let inner_key_at = start(table.key(name).and_then(|k| k.span()))
                        .or_else(|| start(inner.span()))
                        .unwrap_or(value_at);
                    self.locations.insert(full.clone(), inner_key_at);
                    if let Some(node) = self.item(inner, Kind::Table(fields), &full, inner_key_at) {
                        twin.entries.insert(name.to_owned(), node);
                    }
                }
                Some(Node::Table(twin))
            }
            Kind::Tables(fields) => {
                let tables: Vec<(&dyn TableLike, usize)> = match item {
                    Item::ArrayOfTables(array) => array
                        .iter()
                        .map(|t| (t as &dyn TableLike, start(t.span()).unwrap_or(value_at)))
                        .collect(),
                    Item::Value(Value::Array(array))
                        if array.iter().all(|v| v.as_inline_table().is_some()) =>
                    {
                        array
                            .iter()
                            .filter_map(|v| {
                                let at = start(v.span()).unwrap_or(value_at);
                                v.as_inline_table().map(|t| (t as &dyn TableLike, at))
                            })
                            .collect()
                    }
                    _ => return mismatch(self),
                };
                let mut twins = Vec::new();
                for (i, (table, at)) in tables.into_iter().enumerate() {
                    let element_path = format!("{path}[{i}]");
                    self.locations.insert(element_path.clone(), at);
                    twins.push(self.table(table, fields, false, &element_path, at));
                }
                Some(Node::Tables(twins))
            }
            Kind::Accepted => Some(Node::Opaque),
            Kind::Unsupported => {
                self.sink.warn(
                    key_at,
                    path,
                    "a WSO2 key Tollgate does not implement; ignored",
                );
                Some(Node::Opaque)
            }
        }
    }
}
