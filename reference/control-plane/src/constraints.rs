//! The request-body constraints of WSO2's specs (`maxLength`, `minLength`, `pattern`, `enum`),
//! checked as the bean validation of WSO2's generated DTOs checks them (`@Size`, `@Pattern`)
//! and answered with its 400 ([`RestError::validation`]), Hibernate Validator's wording.

use crate::error::RestError;

/// Violations gathered over one body, answered together.
#[derive(Debug, Default)]
pub struct Constraints(Vec<(String, String)>);

impl Constraints {
    pub fn new() -> Self {
        Self::default()
    }

    /// `@Size(min, max)` on a string that is present.
    pub fn size(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) -> &mut Self {
        if let Some(v) = value {
            let n = v.chars().count();
            if n < min || n > max {
                self.0.push((
                    field.to_owned(),
                    format!("size must be between {min} and {max}"),
                ));
            }
        }
        self
    }

    /// `@Pattern` of the form "none of these characters" (how WSO2's specs write theirs):
    /// `regex` is the spec's text, for the message.
    pub fn none_of(
        &mut self,
        field: &str,
        value: Option<&str>,
        forbidden: &str,
        whitespace: bool,
        regex: &str,
    ) -> &mut Self {
        if let Some(v) = value
            && v.chars()
                .any(|c| forbidden.contains(c) || (whitespace && c.is_whitespace()))
        {
            self.0
                .push((field.to_owned(), format!("must match \"{regex}\"")));
        }
        self
    }

    /// A spec `enum` on a string that is present (Jackson refuses another value for an enum
    /// type; WSO2 answers 400 either way).
    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) -> &mut Self {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.0.push((
                field.to_owned(),
                format!("must be one of [{}]", allowed.join(", ")),
            ));
        }
        self
    }

    /// `@NotNull` on a required property.
    pub fn required(&mut self, field: &str, present: bool) -> &mut Self {
        if !present {
            self.0
                .push((field.to_owned(), "must not be null".to_owned()));
        }
        self
    }

    pub fn check(&mut self) -> Result<(), RestError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(RestError::validation(std::mem::take(&mut self.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_are_gathered_and_answered_as_wso2s_validation_error() {
        let e = Constraints::new()
            .size("name", Some(""), 1, 60)
            .none_of("version", Some("1 0"), "~!", true, "^[^~!\\s]+$")
            .one_of("type", Some("FTP"), &["HTTP", "WS"])
            .size("context", None, 1, 232)
            .check()
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, 400));
        assert_eq!(e.description, "Validation Error");
        assert_eq!(
            e.items,
            [
                (
                    "400_name".to_owned(),
                    "name: size must be between 1 and 60".to_owned()
                ),
                (
                    "400_version".to_owned(),
                    "version: must match \"^[^~!\\s]+$\"".to_owned()
                ),
                (
                    "400_type".to_owned(),
                    "type: must be one of [HTTP, WS]".to_owned()
                ),
            ]
        );
        assert!(
            Constraints::new()
                .size("a", Some("ok"), 1, 2)
                .check()
                .is_ok()
        );
    }
}
