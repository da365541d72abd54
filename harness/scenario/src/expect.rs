//! Expectations on responses, counts over repeated requests, and captures.

use crate::jsonpath::JsonPath;
use crate::template::{JsonTemplate, Template};

/// `expect = { … }`: what one response must look like. Every field that is set must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expect {
    pub status: Option<StatusMatch>,
    /// The WSO2 error code in the JSON body's `code` field (`"900901"`), compared as text: the
    /// gateway writes it as a string, the REST APIs as a number.
    pub code: Option<String>,
    /// The JSON body's `message` field.
    pub message: Option<Template>,
    /// The JSON body's `description` field.
    pub description: Option<Template>,
    /// Header names as written; compare case-insensitively.
    pub headers: Vec<HeaderExpect>,
    pub json: Vec<JsonExpect>,
    /// The whole body, exactly.
    pub body: Option<Template>,
    /// Texts the body contains.
    pub body_contains: Vec<Template>,
    /// The mock backend that served the response (by its `X-Tollgate-Backend` header).
    pub backend: Option<String>,
}

/// `status = 200` or `status = "4xx"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusMatch {
    Exact(u16),
    /// `"2xx"` … `"5xx"`: the hundreds digit.
    Class(u16),
}

impl StatusMatch {
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Exact(s) => s == status,
            Self::Class(c) => status / 100 == c,
        }
    }
}

impl std::fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(s) => write!(f, "{s}"),
            Self::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// One `headers` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderExpect {
    pub name: String,
    pub matcher: TextMatch,
}

/// How a header value is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum TextMatch {
    /// `"Name" = "value"`.
    Equals(Template),
    /// `"Name" = { contains = "…" }`.
    Contains(Template),
    /// `"Name" = { exists = true }`.
    Present,
    /// `"Name" = { exists = false }`.
    Absent,
}

/// One `json` entry: `"$.path" = value` or `"$.path" = { matcher = … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonExpect {
    pub path: JsonPath,
    pub matcher: JsonMatch,
}

/// How a JSON value is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonMatch {
    /// Equal to this value (a plain value, or `{ equals = … }`).
    Equals(JsonTemplate),
    /// A string containing this text, or an array containing this element.
    Contains(JsonTemplate),
    /// `{ exists = true }` / `{ exists = false }`.
    Exists(bool),
    /// An array, object or string of this length.
    Length(usize),
}

/// `expect_counts`: what N repeated responses add up to.
#[derive(Debug, Clone, PartialEq)]
pub enum CountExpect {
    /// `{ status = { 200 = 10, 429 = "rest" } }` (and/or `backend = { … }`): how many of each,
    /// in any order.
    Totals {
        status: Vec<(u16, Times)>,
        backend: Vec<(String, Times)>,
    },
    /// `{ sequence = [{ times = 10, status = 200 }, { times = "rest", status = 429 }] }`: runs
    /// of consecutive responses, in order; each run is an [`Expect`] for its responses.
    Sequence(Vec<Run>),
}

/// How many responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Times {
    Exactly(u32),
    /// All the responses no other entry accounts for (zero or more).
    Rest,
}

/// One run of a [`CountExpect::Sequence`].
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub times: Times,
    pub expect: Expect,
}

/// `capture = { name = "$.json.path" }`: a value from the response, as text, for `${name}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub name: String,
    pub source: CaptureSource,
}

/// Where a capture reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSource {
    /// `"$.a.b"`: a JSON value (strings without quotes, anything else as JSON text).
    Json(JsonPath),
    /// `"header:Location"`.
    Header(String),
    /// `"body"`: the whole body.
    Body,
    /// `"status"`.
    Status,
}
