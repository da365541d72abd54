//! Endpoint URL templates: `http://backend/echo/sub{uri.var.val}?q={query.param.q}`.
//!
//! When an endpoint URL holds a `{uri.var.*}` or `{query.param.*}` expression, API-M's velocity
//! template renders it as a Synapse `<http uri-template="…">` endpoint instead of an
//! `<address>`. WSO2's behaviour, and where it comes from:
//! - `uri.var.NAME` is the request's value of the resource's path variable `{NAME}` and
//!   `query.param.NAME` the request's query parameter, both **percent-decoded** when Synapse
//!   dispatches the resource (`+` stays `+`: it is not form decoding) — product-apim's
//!   `UriTemplateReservedCharacterEncodingTest` logs `APIM+WSO2`, `APIM WSO2` and `aaa!@!%`.
//! - `HTTPEndpoint#processUrlTemplate` (wso2-synapse, non-legacy mode) expands with RFC 6570:
//!   `{var}` is *simple* expansion — every byte but the unreserved set is percent-encoded
//!   (`APIM:WSO2` → `APIM%3AWSO2`, `+` → `%2B`, `(` → `%28`); `{+var}` is *reserved* expansion,
//!   which keeps reserved characters and existing `%XX` triplets. A template that *starts* with
//!   an expression is reserved-expanded (Synapse's special case for a variable holding a whole
//!   URL). A variable the request does not have expands to nothing; when the request has no
//!   variables at all Synapse sends the template as written.
//! - The request's path after the resource context is still appended (the Cucumber port of
//!   `APIResourceWithTemplateTestCase`: resource `/{val}`, endpoint `…/echo/sub{uri.var.val}`,
//!   request `/plainseg` → backend path `/echo/subplainseg/plainseg`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::borrow::Cow;

/// RFC 6570 simple expansion: everything but `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
const SIMPLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 6570 reserved expansion: the simple set less the reserved characters and `%`.
const RESERVED: &AsciiSet = &SIMPLE
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b'%');

const URI_VAR: &str = "uri.var.";
const QUERY_PARAM: &str = "query.param.";

/// A parsed endpoint URL template.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Variable { source: Source, reserved: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// `uri.var.NAME`: a path variable of the matched resource.
    Path(String),
    /// `query.param.NAME`: a query parameter of the request.
    Query(String),
}

/// What a request offers a template: the matched resource's path variables (raw, as on the
/// wire) and the request's raw query string.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variables<'a> {
    pub path: &'a [(&'a str, &'a str)],
    pub query: &'a str,
}

impl Variables<'_> {
    fn is_empty(&self) -> bool {
        self.path.is_empty() && self.query.is_empty()
    }

    fn lookup(&self, source: &Source) -> Option<Cow<'_, str>> {
        let raw = match source {
            Source::Path(name) => self.path.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
            Source::Query(name) => self.query.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode_str(key).decode_utf8_lossy() == name.as_str()).then_some(value)
            }),
        }?;
        Some(percent_decode_str(raw).decode_utf8_lossy())
    }
}

impl UrlTemplate {
    /// The template in `url`, or `None` when it holds no `{uri.var.*}` / `{query.param.*}`
    /// expression (an address endpoint, sent as it is).
    pub fn parse(url: &str) -> Option<Self> {
        if !url.contains("{uri.var.")
            && !url.contains("{+uri.var.")
            && !url.contains("{query.param.")
            && !url.contains("{+query.param.")
        {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = url;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            let expression = &rest[open + 1..close];
            let (reserved, name) = match expression.strip_prefix('+') {
                Some(name) => (true, name),
                None => (open == 0 && parts.is_empty(), expression),
            };
            let source = if let Some(n) = name.strip_prefix(URI_VAR) {
                Some(Source::Path(n.to_owned()))
            } else {
                name.strip_prefix(QUERY_PARAM)
                    .map(|n| Source::Query(n.to_owned()))
            };
            match source {
                Some(source) => {
                    if open > 0 {
                        parts.push(Part::Literal(rest[..open].to_owned()));
                    }
                    parts.push(Part::Variable { source, reserved });
                }
                // Not an expression Synapse fills: kept as written.
                None => parts.push(Part::Literal(rest[..=close].to_owned())),
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Some(Self { parts })
    }

    /// The template as written.
    pub fn as_written(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::Variable { source, reserved } => {
                    let (prefix, name) = match source {
                        Source::Path(n) => (URI_VAR, n),
                        Source::Query(n) => (QUERY_PARAM, n),
                    };
                    format!("{{{}{prefix}{name}}}", if *reserved { "+" } else { "" })
                }
            })
            .collect()
    }

    /// The URL for a request's variables.
    pub fn expand(&self, variables: Variables<'_>) -> String {
        if variables.is_empty() {
            return self.as_written();
        }
        let mut url = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => url.push_str(text),
                Part::Variable { source, reserved } => {
                    if let Some(value) = variables.lookup(source) {
                        let set = if *reserved { RESERVED } else { SIMPLE };
                        url.extend(utf8_percent_encode(&value, set));
                    }
                }
            }
        }
        url
    }
}

/// `base` (an endpoint URL, maybe with a query) with the request's path after the context
/// (`rest`: `/path?query`, `?query` or empty) appended: paths joined, queries joined with `&`.
pub fn append_rest(base: &str, rest: &str) -> String {
    let (base_path, base_query) = split_query(base);
    let (rest_path, rest_query) = split_query(rest);
    let mut url = String::with_capacity(base.len() + rest.len() + 1);
    url.push_str(
        base_path
            .strip_suffix('/')
            .filter(|_| rest_path.starts_with('/'))
            .unwrap_or(base_path),
    );
    url.push_str(rest_path);
    let queries = [base_query, rest_query];
    let mut queries = queries.iter().flatten().filter(|q| !q.is_empty());
    if let Some(first) = queries.next() {
        url.push('?');
        url.push_str(first);
        for more in queries {
            url.push('&');
            url.push_str(more);
        }
    }
    url
}

fn split_query(url: &str) -> (&str, Option<&str>) {
    match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: &str, path: &[(&str, &str)], query: &str) -> String {
        UrlTemplate::parse(template)
            .unwrap()
            .expand(Variables { path, query })
    }

    #[test]
    fn an_address_without_expressions_is_not_a_template() {
        assert_eq!(UrlTemplate::parse("http://b:9080/pizzashack"), None);
        assert_eq!(UrlTemplate::parse("http://b/{notavar}"), None);
    }

    #[test]
    fn a_plain_segment_is_substituted_into_the_path() {
        assert_eq!(
            expand("http://b/echo/sub{uri.var.val}", &[("val", "plainseg")], ""),
            "http://b/echo/subplainseg"
        );
    }

    #[test]
    fn an_encoded_segment_is_decoded_then_encoded_again_as_rfc_6570_simple_expansion() {
        // product-apim's APIResourceWithTemplateTestCase: the backend sees the encoding intact.
        assert_eq!(
            expand(
                "http://b/echo/sub{uri.var.val}",
                &[("val", "S2222-0496%2815%2927436-0")],
                ""
            ),
            "http://b/echo/subS2222-0496%2815%2927436-0"
        );
    }

    #[test]
    fn reserved_characters_in_a_query_parameter_are_percent_encoded() {
        // UriTemplateReservedCharacterEncodingTest: `:` → %3A, `+` → %2B, space and `%` kept
        // as their encodings.
        let t = "http://b/test?q={query.param.queryParam}";
        assert_eq!(
            expand(t, &[], "queryParam=APIM:WSO2"),
            "http://b/test?q=APIM%3AWSO2"
        );
        assert_eq!(
            expand(t, &[], "queryParam=APIM+WSO2"),
            "http://b/test?q=APIM%2BWSO2"
        );
        assert_eq!(
            expand(t, &[], "queryParam=APIM%20WSO2"),
            "http://b/test?q=APIM%20WSO2"
        );
        assert_eq!(
            expand(t, &[], "queryParam=aaa%21%40%21%25"),
            "http://b/test?q=aaa%21%40%21%25"
        );
    }

    #[test]
    fn reserved_expansion_keeps_reserved_characters() {
        assert_eq!(
            expand("http://b/{+uri.var.p}", &[("p", "a:b/c")], ""),
            "http://b/a:b/c"
        );
        assert_eq!(
            expand("{uri.var.full}/x", &[("full", "http://h:1/y")], ""),
            "http://h:1/y/x",
            "a template starting with an expression takes a whole URL"
        );
    }

    #[test]
    fn a_missing_variable_expands_to_nothing_and_no_variables_keep_the_template() {
        assert_eq!(
            expand("http://b/{uri.var.a}/{uri.var.b}", &[("a", "1")], ""),
            "http://b/1/"
        );
        assert_eq!(
            UrlTemplate::parse("http://b/{uri.var.a}")
                .unwrap()
                .expand(Variables::default()),
            "http://b/{uri.var.a}"
        );
    }

    #[test]
    fn the_rest_of_the_request_is_appended_and_queries_are_joined() {
        assert_eq!(
            append_rest("http://b/echo/subx", "/x"),
            "http://b/echo/subx/x"
        );
        assert_eq!(
            append_rest("http://b/find?term=a", "/search?q=1"),
            "http://b/find/search?term=a&q=1"
        );
        assert_eq!(append_rest("http://b/", "/m"), "http://b/m");
        assert_eq!(append_rest("http://b/p", ""), "http://b/p");
        assert_eq!(append_rest("http://b/p", "?x=1"), "http://b/p?x=1");
    }
}
