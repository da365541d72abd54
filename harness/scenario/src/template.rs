//! Templates: strings with `${…}` references to values earlier steps produced.
//!
//! | reference | value |
//! |---|---|
//! | `${name}` | a capture (`capture = { name = "$.id" }`) or a token step's `as = "name"` |
//! | `${api.pizza.id}` | the id the Publisher gave API `pizza` |
//! | `${app.shop.id}` | the id the Developer Portal gave application `shop` |
//! | `${key.shop-prod.consumer_key}` / `.consumer_secret` / `.token` / `.key_mapping_id` | from `generate_keys` |
//!
//! `$${` writes a literal `${`.

use std::fmt;

/// A string with `${…}` references, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var(Var),
}

/// What a `${…}` refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// `${name}`: a capture or a named token.
    Capture(String),
    /// `${api.NAME.id}`.
    ApiId(String),
    /// `${app.NAME.id}`.
    AppId(String),
    /// `${key.NAME.FIELD}`.
    Key(String, KeyField),
}

/// What `generate_keys` hands back, per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyField {
    ConsumerKey,
    ConsumerSecret,
    /// The access token the Developer Portal issued with the keys.
    Token,
    KeyMappingId,
}

impl KeyField {
    const ALL: [(&'static str, Self); 4] = [
        ("consumer_key", Self::ConsumerKey),
        ("consumer_secret", Self::ConsumerSecret),
        ("token", Self::Token),
        ("key_mapping_id", Self::KeyMappingId),
    ];

    pub fn name(self) -> &'static str {
        crate::model::spelling(&Self::ALL, self)
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Capture(name) => write!(f, "${{{name}}}"),
            Self::ApiId(name) => write!(f, "${{api.{name}.id}}"),
            Self::AppId(name) => write!(f, "${{app.{name}.id}}"),
            Self::Key(name, field) => write!(f, "${{key.{name}.{}}}", field.name()),
        }
    }
}

/// Why a template does not parse: a message and the byte offset in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Whether `name` may name a capture or an entity: letters, digits, `_` and `-`, not empty.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Template {
    /// A template without references (text is taken as written, `$` and all).
    pub fn literal(text: impl Into<String>) -> Self {
        let text = text.into();
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(text.clone())]
        };
        Self {
            source: text,
            parts,
        }
    }

    /// Parses `${…}` references; `$${` is a literal `${`.
    pub(crate) fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let after = &rest[at..];
            if let Some(escaped) = after.strip_prefix("$${") {
                text.push_str("${");
                rest = escaped;
                offset += at + 3;
            } else if let Some(inner) = after.strip_prefix("${") {
                let Some(end) = inner.find('}') else {
                    return Err(TemplateError {
                        offset: offset + at,
                        message: "`${` is not closed by `}` (write `$${` for a literal `${`)"
                            .into(),
                    });
                };
                let var = parse_var(&inner[..end]).map_err(|message| TemplateError {
                    offset: offset + at,
                    message,
                })?;
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Var(var));
                rest = &inner[end + 1..];
                offset += at + 2 + end + 1;
            } else {
                text.push('$');
                rest = &after[1..];
                offset += at + 1;
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written in the file.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The references, in order.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v),
            Part::Text(_) => None,
        })
    }

    /// The text, when the template has no references.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(_) => return None,
            }
        }
        Some(out)
    }

    /// Substitutes every reference through `lookup`; the first unknown reference is the error.
    pub fn render(&self, mut lookup: impl FnMut(&Var) -> Option<String>) -> Result<String, Var> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&lookup(v).ok_or_else(|| v.clone())?),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A JSON value whose strings are [`Template`]s (request bodies, JSON expectations).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Template),
    Array(Vec<JsonTemplate>),
    /// Keys in file order.
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Every reference inside, in order.
    pub fn vars(&self) -> Vec<&Var> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<&'a Var>) {
        match self {
            Self::String(t) => out.extend(t.vars()),
            Self::Array(items) => items.iter().for_each(|i| i.collect_vars(out)),
            Self::Object(entries) => entries.iter().for_each(|(_, v)| v.collect_vars(out)),
            Self::Null | Self::Bool(_) | Self::Number(_) => {}
        }
    }

    /// The JSON value with every reference substituted; the first unknown one is the error.
    pub fn render(
        &self,
        lookup: &mut impl FnMut(&Var) -> Option<String>,
    ) -> Result<serde_json::Value, Var> {
        use serde_json::Value;
        Ok(match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(t) => Value::String(t.render(&mut *lookup)?),
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(lookup)?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

fn parse_var(inner: &str) -> Result<Var, String> {
    let inner = inner.trim();
    let segments: Vec<&str> = inner.split('.').collect();
    let entity = |kind: &str, name: &str| -> Result<String, String> {
        if is_name(name) {
            Ok(name.to_owned())
        } else {
            Err(format!(
                "`${{{inner}}}`: `{name}` is not a {kind} name (letters, digits, `_`, `-`)"
            ))
        }
    };
    match segments.as_slice() {
        [name] if is_name(name) => Ok(Var::Capture((*name).to_owned())),
        ["api", name, "id"] => Ok(Var::ApiId(entity("api", name)?)),
        ["app", name, "id"] => Ok(Var::AppId(entity("app", name)?)),
        ["key", name, field] => {
            let name = entity("key", name)?;
            KeyField::ALL
                .iter()
                .find(|(n, _)| n == field)
                .map(|(_, f)| Var::Key(name, *f))
                .ok_or_else(|| {
                    let names: Vec<&str> = KeyField::ALL.iter().map(|(n, _)| *n).collect();
                    match crate::error::suggest(field, names.iter().copied()) {
                        Some(s) => {
                            format!("`${{{inner}}}`: a key has no `{field}`; did you mean `{s}`?")
                        }
                        None => format!(
                            "`${{{inner}}}`: a key has no `{field}` (it has {})",
                            names.join(", ")
                        ),
                    }
                })
        }
        ["api" | "app", _, _] => Err(format!(
            "`${{{inner}}}`: only `.id` can be read from {}; capture other fields with `capture`",
            segments[0]
        )),
        _ if inner.is_empty() => Err("`${}` names nothing".into()),
        _ => Err(format!(
            "`${{{inner}}}` is not a reference: use `${{name}}` for a capture, or \
             `${{api.NAME.id}}`, `${{app.NAME.id}}`, `${{key.NAME.consumer_key}}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_text_and_render_through_a_lookup() {
        let t = Template::parse("/apis/${api.pizza.id}?k=${key.shop-prod.consumer_key}&t=${tok}")
            .unwrap();
        let vars: Vec<String> = t.vars().map(ToString::to_string).collect();
        assert_eq!(
            vars,
            ["${api.pizza.id}", "${key.shop-prod.consumer_key}", "${tok}"]
        );
        let rendered = t
            .render(|v| match v {
                Var::ApiId(_) => Some("A1".into()),
                Var::Key(_, KeyField::ConsumerKey) => Some("CK".into()),
                Var::Capture(_) => Some("T".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(rendered, "/apis/A1?k=CK&t=T");
    }

    #[test]
    fn a_dollar_without_brace_and_an_escaped_reference_stay_text() {
        let t = Template::parse("cost $5 and $${literal}").unwrap();
        assert_eq!(t.as_literal().unwrap(), "cost $5 and ${literal}");
    }

    #[test]
    fn malformed_references_are_errors_with_their_offset() {
        assert_eq!(Template::parse("ab${x").unwrap_err().offset, 2);
        assert!(
            Template::parse("${key.k.consumer_ky}")
                .unwrap_err()
                .message
                .contains("did you mean `consumer_key`?")
        );
        assert!(Template::parse("${api.p.name}").is_err());
        assert!(Template::parse("${}").is_err());
    }
}
