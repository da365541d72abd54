//! Expectations against responses: each one that does not hold becomes a [`Mismatch`].

use crate::backend::BACKEND_HEADER;
use crate::client::ClientResponse;
use crate::report::{Mismatch, diff};
use serde_json::Value;
use std::collections::BTreeMap;
use tollgate_scenario::{
    CountExpect, Expect, JsonMatch, JsonTemplate, Template, TextMatch, Times, Var,
};

/// Looks up `${…}` values; `None` for a reference nothing has defined (yet).
pub(crate) type Lookup<'a> = &'a dyn Fn(&Var) -> Option<String>;

/// A reference without a value, as the step's error.
pub(crate) fn unknown(var: &Var) -> String {
    format!("{var} has no value: the step that defines it did not run or did not produce it")
}

pub(crate) fn render(template: &Template, lookup: Lookup<'_>) -> Result<String, String> {
    template.render(lookup).map_err(|v| unknown(&v))
}

pub(crate) fn render_json(template: &JsonTemplate, lookup: Lookup<'_>) -> Result<Value, String> {
    let mut f = |v: &Var| lookup(v);
    template.render(&mut f).map_err(|v| unknown(&v))
}

fn mismatch(
    what: impl Into<String>,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Mismatch {
    Mismatch {
        what: what.into(),
        expected: expected.into(),
        actual: actual.into(),
        diff: None,
    }
}

/// A mismatch between two texts, with a line diff when either spans lines or is long.
fn text_mismatch(what: impl Into<String>, expected: &str, actual: &str) -> Mismatch {
    let mut m = mismatch(what, expected, actual);
    if expected.contains('\n') || actual.contains('\n') || expected.len() + actual.len() > 80 {
        m.diff = Some(diff(&with_newline(expected), &with_newline(actual)));
    }
    m
}

fn with_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

fn json_mismatch(what: impl Into<String>, expected: &Value, actual: Option<&Value>) -> Mismatch {
    let expected_text = expected.to_string();
    let Some(actual) = actual else {
        return mismatch(what, expected_text, "(absent)");
    };
    let mut m = mismatch(what, expected_text, actual.to_string());
    if expected.is_object() || expected.is_array() || actual.is_object() || actual.is_array() {
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
        m.diff = Some(diff(
            &with_newline(&pretty(expected)),
            &with_newline(&pretty(actual)),
        ));
    }
    m
}

/// The response body as JSON, if it is JSON.
pub(crate) fn body_json(response: &ClientResponse) -> Option<Value> {
    serde_json::from_slice(&response.body).ok()
}

/// A JSON value as capture text: strings without quotes, anything else as JSON.
pub(crate) fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every expectation of `expect` that `response` does not meet; `Err` when a reference in the
/// expectation has no value.
pub(crate) fn check(
    expect: &Expect,
    response: &ClientResponse,
    lookup: Lookup<'_>,
) -> Result<Vec<Mismatch>, String> {
    let mut out = Vec::new();
    let status = response.status.as_u16();
    if let Some(want) = expect.status
        && !want.matches(status)
    {
        out.push(mismatch("status", want.to_string(), status.to_string()));
    }
    let json = body_json(response);
    let field = |name: &str| -> Result<String, String> {
        match &json {
            None => Err("(the body is not JSON)".into()),
            Some(doc) => doc
                .get(name)
                .map(as_text)
                .ok_or_else(|| format!("(no `{name}` field)")),
        }
    };
    if let Some(code) = &expect.code {
        match field("code") {
            Ok(actual) if &actual == code => {}
            Ok(actual) | Err(actual) => out.push(mismatch("code", code.clone(), actual)),
        }
    }
    for (name, template) in [
        ("message", &expect.message),
        ("description", &expect.description),
    ] {
        if let Some(template) = template {
            let want = render(template, lookup)?;
            match field(name) {
                Ok(actual) if actual == want => {}
                Ok(actual) | Err(actual) => out.push(text_mismatch(name, &want, &actual)),
            }
        }
    }
    for header in &expect.headers {
        let actual = response.header(&header.name);
        let what = format!("header {}", header.name);
        match &header.matcher {
            TextMatch::Equals(t) => {
                let want = render(t, lookup)?;
                if actual != Some(want.as_str()) {
                    out.push(mismatch(what, want, actual.unwrap_or("(absent)")));
                }
            }
            TextMatch::Contains(t) => {
                let want = render(t, lookup)?;
                if !actual.is_some_and(|a| a.contains(&want)) {
                    out.push(mismatch(
                        what,
                        format!("contains {want:?}"),
                        actual.unwrap_or("(absent)"),
                    ));
                }
            }
            TextMatch::Present => {
                if actual.is_none() {
                    out.push(mismatch(what, "present", "(absent)"));
                }
            }
            TextMatch::Absent => {
                if let Some(a) = actual {
                    out.push(mismatch(what, "absent", a));
                }
            }
        }
    }
    for entry in &expect.json {
        let what = format!("json {}", entry.path);
        let Some(doc) = &json else {
            out.push(mismatch(
                what,
                describe_match(&entry.matcher, lookup)?,
                "(the body is not JSON)",
            ));
            continue;
        };
        let actual = entry.path.select(doc);
        match &entry.matcher {
            JsonMatch::Equals(t) => {
                let want = render_json(t, lookup)?;
                if actual != Some(&want) {
                    out.push(json_mismatch(what, &want, actual));
                }
            }
            JsonMatch::Contains(t) => {
                let want = render_json(t, lookup)?;
                let holds = match (actual, &want) {
                    (Some(Value::String(s)), Value::String(w)) => s.contains(w.as_str()),
                    (Some(Value::Array(items)), w) => items.contains(w),
                    _ => false,
                };
                if !holds {
                    out.push(mismatch(
                        what,
                        format!("contains {want}"),
                        actual.map_or("(absent)".to_owned(), Value::to_string),
                    ));
                }
            }
            JsonMatch::Exists(want) => {
                if actual.is_some() != *want {
                    out.push(mismatch(
                        what,
                        if *want { "present" } else { "absent" },
                        actual.map_or("(absent)".to_owned(), Value::to_string),
                    ));
                }
            }
            JsonMatch::Length(want) => {
                let length = match actual {
                    Some(Value::Array(a)) => Some(a.len()),
                    Some(Value::Object(o)) => Some(o.len()),
                    Some(Value::String(s)) => Some(s.chars().count()),
                    _ => None,
                };
                if length != Some(*want) {
                    out.push(mismatch(
                        what,
                        format!("length {want}"),
                        match (length, actual) {
                            (Some(n), _) => format!("length {n}"),
                            (None, Some(v)) => format!("{v} (has no length)"),
                            (None, None) => "(absent)".to_owned(),
                        },
                    ));
                }
            }
        }
    }
    let text = response.text();
    if let Some(body) = &expect.body {
        let want = render(body, lookup)?;
        if want != text {
            out.push(text_mismatch("body", &want, &text));
        }
    }
    for part in &expect.body_contains {
        let want = render(part, lookup)?;
        if !text.contains(&want) {
            out.push(mismatch(
                "body",
                format!("contains {want:?}"),
                crate::report::excerpt(&text, 200),
            ));
        }
    }
    if let Some(backend) = &expect.backend {
        let actual = response.header(BACKEND_HEADER);
        if actual != Some(backend.as_str()) {
            out.push(mismatch(
                "backend",
                backend.clone(),
                actual.unwrap_or("(none: no mock backend served the response)"),
            ));
        }
    }
    Ok(out)
}

fn describe_match(matcher: &JsonMatch, lookup: Lookup<'_>) -> Result<String, String> {
    Ok(match matcher {
        JsonMatch::Equals(t) => render_json(t, lookup)?.to_string(),
        JsonMatch::Contains(t) => format!("contains {}", render_json(t, lookup)?),
        JsonMatch::Exists(true) => "present".into(),
        JsonMatch::Exists(false) => "absent".into(),
        JsonMatch::Length(n) => format!("length {n}"),
    })
}

/// What `expect_counts` says about N responses.
pub(crate) fn check_counts(
    counts: &CountExpect,
    responses: &[ClientResponse],
    lookup: Lookup<'_>,
) -> Result<Vec<Mismatch>, String> {
    let n = responses.len();
    match counts {
        CountExpect::Totals { status, backend } => {
            let mut out = Vec::new();
            if !status.is_empty() {
                let actual = histogram(responses.iter().map(|r| r.status.as_u16().to_string()));
                let want: Vec<(String, Times)> =
                    status.iter().map(|(s, t)| (s.to_string(), *t)).collect();
                out.extend(totals("status", &want, &actual, n));
            }
            if !backend.is_empty() {
                let actual = histogram(
                    responses
                        .iter()
                        .map(|r| r.header(BACKEND_HEADER).unwrap_or("(none)").to_owned()),
                );
                out.extend(totals("backend", backend, &actual, n));
            }
            Ok(out)
        }
        CountExpect::Sequence(runs) => {
            let exact: u32 = runs
                .iter()
                .filter_map(|r| match r.times {
                    Times::Exactly(k) => Some(k),
                    Times::Rest => None,
                })
                .sum();
            let has_rest = runs.iter().any(|r| r.times == Times::Rest);
            let exact = exact as usize;
            if exact > n || (!has_rest && exact != n) {
                return Ok(vec![mismatch(
                    "expect_counts.sequence",
                    format!(
                        "{exact} responses{}",
                        if has_rest { " or more" } else { "" }
                    ),
                    format!("{n} responses"),
                )]);
            }
            let mut out = Vec::new();
            let mut at = 0;
            let mut rest_left = n - exact;
            for (i, run) in runs.iter().enumerate() {
                let len = match run.times {
                    Times::Exactly(k) => k as usize,
                    // Only one `rest` gets the remainder; any other is empty.
                    Times::Rest => std::mem::take(&mut rest_left),
                };
                for (j, response) in responses.iter().enumerate().skip(at).take(len) {
                    for mut m in check(&run.expect, response, lookup)? {
                        m.what = format!("sequence[{i}], response {} of {n}: {}", j + 1, m.what);
                        out.push(m);
                    }
                }
                at += len;
            }
            Ok(out)
        }
    }
}

fn histogram(values: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for v in values {
        *map.entry(v).or_insert(0) += 1;
    }
    map
}

fn totals(
    what: &str,
    want: &[(String, Times)],
    actual: &BTreeMap<String, usize>,
    n: usize,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let show = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} × {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (key, times) in want {
        if let Times::Exactly(k) = times {
            let got = actual.get(key).copied().unwrap_or(0);
            if got != *k as usize {
                out.push(mismatch(
                    format!("expect_counts.{what} {key}"),
                    format!("{k} of {n}"),
                    format!("{got} of {n} ({})", show(actual)),
                ));
            }
        }
    }
    for (key, got) in actual {
        if !want.iter().any(|(k, _)| k == key) {
            out.push(mismatch(
                format!("expect_counts.{what} {key}"),
                "none (no entry accounts for it)",
                format!("{got} of {n} ({})", show(actual)),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method, StatusCode};
    use tollgate_scenario::{HeaderExpect, JsonExpect, JsonPath, Run, StatusMatch};

    fn response(status: u16, backend: Option<&str>, body: &str) -> ClientResponse {
        let mut headers = HeaderMap::new();
        if let Some(b) = backend {
            headers.insert(BACKEND_HEADER, HeaderValue::from_str(b).unwrap());
        }
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        ClientResponse {
            method: Method::GET,
            url: "http://localhost:8281/x".into(),
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn nothing(_: &Var) -> Option<String> {
        None
    }

    #[test]
    fn a_wso2_error_body_is_checked_field_by_field_code_as_text() {
        let r = response(
            401,
            None,
            r#"{"code":900901,"message":"Invalid Credentials","description":"x"}"#,
        );
        let expect = Expect {
            status: Some(StatusMatch::Exact(401)),
            code: Some("900901".into()),
            message: Some(Template::literal("Invalid Credentials")),
            headers: vec![HeaderExpect {
                name: "Content-Type".into(),
                matcher: TextMatch::Contains(Template::literal("json")),
            }],
            ..Expect::default()
        };
        assert_eq!(check(&expect, &r, &nothing).unwrap(), vec![]);
        let wrong = Expect {
            status: Some(StatusMatch::Class(2)),
            code: Some("900902".into()),
            ..Expect::default()
        };
        let found = check(&wrong, &r, &nothing).unwrap();
        let what: Vec<&str> = found.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(what, ["status", "code"]);
        assert_eq!(found[0].expected, "2xx");
    }

    #[test]
    fn an_unequal_json_object_comes_with_a_line_diff() {
        let r = response(200, None, r#"{"a":{"b":1,"c":2}}"#);
        let expect = Expect {
            json: vec![JsonExpect {
                path: JsonPath::parse("$.a").unwrap(),
                matcher: JsonMatch::Equals(JsonTemplate::Object(vec![
                    ("b".into(), JsonTemplate::Number(1.into())),
                    ("c".into(), JsonTemplate::Number(3.into())),
                ])),
            }],
            ..Expect::default()
        };
        let found = check(&expect, &r, &nothing).unwrap();
        let diff = found[0].diff.as_deref().unwrap();
        assert!(
            diff.contains("-  \"c\": 3") && diff.contains("+  \"c\": 2"),
            "{diff}"
        );
    }

    #[test]
    fn totals_count_each_status_and_rest_takes_the_remainder() {
        let responses: Vec<ClientResponse> = [200, 200, 429, 429, 429]
            .into_iter()
            .map(|s| response(s, Some("prod"), "{}"))
            .collect();
        let ok = CountExpect::Totals {
            status: vec![(200, Times::Exactly(2)), (429, Times::Rest)],
            backend: vec![("prod".into(), Times::Exactly(5))],
        };
        assert_eq!(check_counts(&ok, &responses, &nothing).unwrap(), vec![]);
        let wrong = CountExpect::Totals {
            status: vec![(200, Times::Exactly(3))],
            backend: vec![],
        };
        let found = check_counts(&wrong, &responses, &nothing).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].actual, "2 of 5 (200 × 2, 429 × 3)");
        assert!(found[1].what.ends_with("429"));
    }

    #[test]
    fn a_sequence_checks_runs_in_order_and_names_the_response() {
        let responses: Vec<ClientResponse> = [200, 200, 429]
            .into_iter()
            .map(|s| response(s, None, "{}"))
            .collect();
        let run = |times, status| Run {
            times,
            expect: Expect {
                status: Some(StatusMatch::Exact(status)),
                ..Expect::default()
            },
        };
        let ok = CountExpect::Sequence(vec![run(Times::Exactly(2), 200), run(Times::Rest, 429)]);
        assert_eq!(check_counts(&ok, &responses, &nothing).unwrap(), vec![]);
        let wrong = CountExpect::Sequence(vec![run(Times::Exactly(1), 200), run(Times::Rest, 429)]);
        let found = check_counts(&wrong, &responses, &nothing).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].what, "sequence[1], response 2 of 3: status");
        let short = CountExpect::Sequence(vec![run(Times::Exactly(2), 200)]);
        assert_eq!(check_counts(&short, &responses, &nothing).unwrap().len(), 1);
    }
}
