//! Located diagnostics: every error and warning names file, line, column and key path.

use std::fmt;
use std::path::{Path, PathBuf};

/// One error or warning about a `deployment.toml`.
///
/// `key` is the full key path (`apim.gateway.environment[1].type`, 0-based indexes); `line` and
/// `column` are 1-based (column counts characters). A diagnostic that is about the file as a
/// whole (it cannot be read) has line 0, column 0 and an empty key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        if self.line == 0 {
            return write!(f, "{file}: {}", self.message);
        }
        write!(f, "{file}:{}:{}: ", self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in one file (never only the first), sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// Turns byte offsets of one source into lines and columns. Public so the harness can pin the
/// scenario crate's copy (`tollgate_scenario::error::SourceMap`) to this one.
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

/// Collects the diagnostics of one file.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    pub(crate) file: &'a Path,
    pub(crate) map: SourceMap<'a>,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a Path, source: &'a str) -> Self {
        Self {
            file,
            map: SourceMap::new(source),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn diagnostic(&self, at: usize, key: &str, message: String) -> Diagnostic {
        let Location { line, column } = self.map.locate(at);
        Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.to_owned(),
            message,
        }
    }

    pub(crate) fn error(&mut self, at: usize, key: &str, message: impl Into<String>) {
        let diagnostic = self.diagnostic(at, key, message.into());
        self.errors.push(diagnostic);
    }

    pub(crate) fn warn(&mut self, at: usize, key: &str, message: impl Into<String>) {
        let diagnostic = self.diagnostic(at, key, message.into());
        self.warnings.push(diagnostic);
    }
}

/// `did you mean "x"?` for the closest candidate within edit distance 2 (case counts 1).
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Formats the suggestion suffix: `; did you mean "x"?`, or nothing.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    suggest(word, candidates).map_or_else(String::new, |s| format!("; did you mean \"{s}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_one_based_lines_and_character_columns() {
        let map = SourceMap::new("a = 1\nbé = \"x\"\n");
        assert_eq!(map.locate(0), Location { line: 1, column: 1 });
        assert_eq!(map.locate(6), Location { line: 2, column: 1 });
        // `=` after a two-byte character is the 4th character of line 2.
        assert_eq!(map.locate(10), Location { line: 2, column: 4 });
    }

    #[test]
    fn suggestions_are_offered_within_two_edits_only() {
        assert_eq!(strsim::levenshtein("gateway_label", "gateway_labels"), 1);
        assert_eq!(
            suggest("gateway_label", ["gateway_labels", "enable"]),
            Some("gateway_labels")
        );
        assert_eq!(suggest("hostnam", ["hostname"]), Some("hostname"));
        assert_eq!(suggest("completely_else", ["hostname"]), None);
    }

    #[test]
    fn file_level_diagnostics_print_without_position() {
        let diagnostic = Diagnostic {
            file: PathBuf::from("x.toml"),
            line: 0,
            column: 0,
            key: String::new(),
            message: "cannot read".into(),
        };
        assert_eq!(diagnostic.to_string(), "x.toml: cannot read");
    }
}
