//! Located errors: every problem in a scenario file, with file, line, column and key path.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column (the column counts characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a scenario file.
///
/// `path` names the key the way a reader finds it: `step[4].expect.status`, with 0-based step
/// indexes (`step[0]` is the first `[[step]]`). A problem about the file as a whole (it cannot be
/// read) has line 0, column 0 and an empty path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    /// `file:line:col: path: message`, as rustc prints a location.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        if self.line == 0 {
            return write!(f, "{file}: {}", self.message);
        }
        write!(f, "{file}:{}:{}: ", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in one scenario file (never only the first), sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl ScenarioErrors {
    /// The errors, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ScenarioError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a ScenarioErrors {
    type Item = &'a ScenarioError;
    type IntoIter = std::slice::Iter<'a, ScenarioError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ScenarioErrors {
    /// One error per line; the last line counts them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for error in &self.0 {
            writeln!(f, "{error}")?;
        }
        let n = self.0.len();
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })
    }
}

/// Turns byte offsets of one source into lines and columns. A copy of `tollgate-config`'s, on
/// purpose (this crate depends on nothing of Tollgate's); the harness's `copies` test pins the
/// two equal.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            source,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of byte `offset`, clamped to the source.
    pub fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.source.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let column = self
            .source
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        Location {
            line: line.max(1),
            column: column + 1,
        }
    }
}

/// The closest candidate within two edits, or the candidate that is the same word in another
/// case style (`authType` for `auth_type`, `displayOnDevportal` for `display_on_devportal`).
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let folded = fold(word);
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = if fold(candidate) == folded {
                0
            } else {
                strsim::levenshtein(word, candidate)
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?`, or nothing.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    suggest(word, candidates).map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

/// Lowercase without `_` and `-`: the same word in snake, kebab or camel case.
fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_character_columns() {
        let map = SourceMap::new("a = 1\nbé = \"x\"\n");
        assert_eq!(map.locate(0), Location { line: 1, column: 1 });
        assert_eq!(map.locate(6), Location { line: 2, column: 1 });
        assert_eq!(map.locate(10), Location { line: 2, column: 4 });
    }

    #[test]
    fn suggestions_cover_typos_and_other_case_styles() {
        assert_eq!(suggest("expct", ["expect", "capture"]), Some("expect"));
        assert_eq!(suggest("authType", ["auth_type"]), Some("auth_type"));
        assert_eq!(
            suggest("displayOnDevportal", ["display_on_devportal"]),
            Some("display_on_devportal")
        );
        assert_eq!(suggest("completely_else", ["expect"]), None);
    }

    #[test]
    fn errors_render_as_file_line_column_path_message() {
        let error = ScenarioError {
            file: PathBuf::from("a.toml"),
            line: 3,
            column: 10,
            path: "step[4].expect.status".into(),
            message: "expected an integer".into(),
        };
        assert_eq!(
            error.to_string(),
            "a.toml:3:10: step[4].expect.status: expected an integer"
        );
        let whole = ScenarioError {
            line: 0,
            column: 0,
            path: String::new(),
            message: "cannot read".into(),
            ..error
        };
        assert_eq!(whole.to_string(), "a.toml: cannot read");
    }
}
