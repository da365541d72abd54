//! A small JSONPath: enough to point at one value of a REST response.
//!
//! ```text
//! $                                    the whole document
//! $.list[0].name                       a key, an index, a key
//! $['key with spaces']                 a quoted key
//! $.endpointURLs[?(@.environmentName == 'Default')].URLs.http
//!                                      the first array element whose field equals a value
//! ```
//!
//! A path selects at most one value (the first filter match); it never fans out.

use serde_json::Value;
use std::fmt;

/// A parsed path. `Display` gives it back as written.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    source: String,
    segments: Vec<Segment>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `[?(@.a.b == value)]`: the first element of an array whose `path` equals `value`.
    Filter {
        path: Vec<Segment>,
        value: Value,
    },
}

impl JsonPath {
    /// Parses `$…`; the error says what is wrong.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parser = Parser {
            text: source,
            at: 0,
        };
        if !parser.eat("$") {
            return Err(format!(
                "`{source}` is not a JSON path: it starts with `$` (e.g. \"$.list[0].name\")"
            ));
        }
        let segments = parser
            .segments(false)
            .map_err(|e| format!("`{source}` is not a JSON path: {e}"))?;
        Ok(Self {
            source: source.to_owned(),
            segments,
        })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The value at this path, if there is one.
    pub fn select<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        select(&self.segments, document)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn select<'v>(segments: &[Segment], mut value: &'v Value) -> Option<&'v Value> {
    for segment in segments {
        value = match segment {
            Segment::Key(key) => value.as_object()?.get(key)?,
            Segment::Index(i) => value.as_array()?.get(*i)?,
            Segment::Filter { path, value: want } => value
                .as_array()?
                .iter()
                .find(|element| select(path, element) == Some(want))?,
        };
    }
    Some(value)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn skip_spaces(&mut self) {
        let spaces = self.rest().len() - self.rest().trim_start().len();
        self.at += spaces;
    }

    /// Segments until the end (or, inside a filter, until ` ==`).
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, String> {
        let mut segments = Vec::new();
        loop {
            if self.rest().is_empty() || (in_filter && self.rest().trim_start().starts_with("==")) {
                return Ok(segments);
            }
            if self.eat(".") {
                let name: String = self
                    .rest()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '$')
                    .collect();
                if name.is_empty() {
                    return Err("a `.` is followed by a key name".into());
                }
                self.at += name.len();
                segments.push(Segment::Key(name));
            } else if self.eat("[") {
                segments.push(self.bracket(in_filter)?);
            } else {
                return Err(format!("unexpected `{}`", self.rest()));
            }
        }
    }

    fn bracket(&mut self, in_filter: bool) -> Result<Segment, String> {
        if let Some(quote) = ['\'', '"']
            .into_iter()
            .find(|q| self.rest().starts_with(*q))
        {
            self.at += 1;
            let end = self
                .rest()
                .find(quote)
                .ok_or("a quoted key is not closed")?;
            let key = self.rest()[..end].to_owned();
            self.at += end + 1;
            if !self.eat("]") {
                return Err("`]` expected after a quoted key".into());
            }
            return Ok(Segment::Key(key));
        }
        if self.rest().starts_with("?(") {
            if in_filter {
                return Err("filters do not nest".into());
            }
            self.at += 2;
            self.skip_spaces();
            if !self.eat("@") {
                return Err("a filter starts with `@` (e.g. `[?(@.name == 'x')]`)".into());
            }
            let path = self.segments(true)?;
            self.skip_spaces();
            if !self.eat("==") {
                return Err("a filter compares with `==`".into());
            }
            self.skip_spaces();
            let end = self.rest().find(")]").ok_or("a filter ends with `)]`")?;
            let literal = self.rest()[..end].trim().to_owned();
            self.at += end + 2;
            let value = filter_value(&literal)?;
            return Ok(Segment::Filter { path, value });
        }
        let digits: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            return Err("`[` is followed by an index, a quoted key or a filter `?(…)`".into());
        }
        self.at += digits.len();
        if !self.eat("]") {
            return Err("`]` expected after an index".into());
        }
        let index = digits.parse().map_err(|_| "the index is too large")?;
        Ok(Segment::Index(index))
    }
}

/// `'text'`, `"text"`, a number, `true`, `false` or `null`.
fn filter_value(literal: &str) -> Result<Value, String> {
    for quote in ['\'', '"'] {
        if let Some(inner) = literal
            .strip_prefix(quote)
            .and_then(|s| s.strip_suffix(quote))
        {
            return Ok(Value::String(inner.to_owned()));
        }
    }
    serde_json::from_str(literal)
        .ok()
        .filter(|v: &Value| !v.is_array() && !v.is_object())
        .ok_or_else(|| {
            format!(
                "`{literal}`: a filter compares with a quoted string, a number, true, false or null"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_indexes_and_quoted_keys_select_one_value() {
        let doc = json!({"list": [{"name": "a"}, {"name": "b"}], "odd key": 1});
        let at = |p: &str| JsonPath::parse(p).unwrap().select(&doc).cloned();
        assert_eq!(at("$.list[1].name"), Some(json!("b")));
        assert_eq!(at("$['odd key']"), Some(json!(1)));
        assert_eq!(at("$"), Some(doc.clone()));
        assert_eq!(at("$.list[5]"), None);
        assert_eq!(at("$.missing"), None);
    }

    #[test]
    fn a_filter_picks_the_first_matching_element() {
        let doc = json!({"endpointURLs": [
            {"environmentName": "Production Gateway", "URLs": {"http": "http://localhost:8281/p"}},
            {"environmentName": "Default", "URLs": {"http": "http://localhost:8282/p"}}
        ]});
        let path =
            JsonPath::parse("$.endpointURLs[?(@.environmentName == 'Default')].URLs.http").unwrap();
        assert_eq!(path.select(&doc), Some(&json!("http://localhost:8282/p")));
    }

    #[test]
    fn malformed_paths_say_what_is_wrong() {
        for bad in [
            "list",
            "$.",
            "$[",
            "$[x]",
            "$['a'",
            "$[?(@.a = 1)]",
            "$[?(@.a == [1])]",
        ] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }
}
