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

    /// `@Size(min, max)` on a list that is present (`minItems`/`maxItems`; Hibernate's default
    /// max is `Integer.MAX_VALUE`).
    pub fn items(&mut self, field: &str, len: Option<usize>, min: usize, max: usize) -> &mut Self {
        if let Some(n) = len
            && (n < min || n > max)
        {
            self.0.push((
                field.to_owned(),
                format!("size must be between {min} and {max}"),
            ));
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

    /// `@NotNull` on a required property typed as one of the spec's enums. WSO2's generated
    /// enums read a value they do not know as `null` (`fromValue` returns `null`), so an
    /// unknown value is a missing one; on an optional enum it is silently dropped.
    pub fn required_enum(
        &mut self,
        field: &str,
        value: Option<&str>,
        allowed: &[&str],
    ) -> &mut Self {
        self.required(field, value.is_some_and(|v| allowed.contains(&v)))
    }

    /// `@NotNull` on a required property.
    pub fn required(&mut self, field: &str, present: bool) -> &mut Self {
        if !present {
            self.0
                .push((field.to_owned(), "must not be null".to_owned()));
        }
        self
    }

    /// `@Pattern` checked by a predicate (a pattern not of the "none of" form); `regex` is the
    /// spec's text, for the message.
    pub fn pattern(
        &mut self,
        field: &str,
        value: Option<&str>,
        matches: impl Fn(&str) -> bool,
        regex: &str,
    ) -> &mut Self {
        if let Some(v) = value
            && !matches(v)
        {
            self.0
                .push((field.to_owned(), format!("must match \"{regex}\"")));
        }
        self
    }

    /// `@NotNull` on a required query parameter. WSO2's `ValidationInInterceptor` validates the
    /// resource method's parameters (`ExecutableValidator.validateParameters`) before its
    /// beans; Hibernate names a parameter `<method>.arg<index>` (no `-parameters` at compile).
    pub fn required_param(&mut self, method: &str, index: usize, present: bool) -> &mut Self {
        self.required(&format!("{method}.arg{index}"), present)
    }

    pub fn check(&mut self) -> Result<(), RestError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(RestError::validation(std::mem::take(&mut self.0)))
        }
    }
}

/// The spec's host-name pattern (`APIRevisionDeployment.vhost`, `VHost.host`):
/// `^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$`,
/// dot-separated labels of letters, digits and inner hyphens.
pub const HOST_NAME_PATTERN: &str = "^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])$";

pub fn is_host_name(v: &str) -> bool {
    v.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
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
        assert!(is_host_name("mg.wso2.com") && is_host_name("a") && is_host_name("a-b.c1"));
        assert!(
            !is_host_name("")
                && !is_host_name("a..b")
                && !is_host_name("-a")
                && !is_host_name("a_b")
        );
        assert!(!is_host_name("a.b.") && !is_host_name("a b"));
        let e = Constraints::new()
            .required_param("changeAPILifecycle", 0, false)
            .pattern("vhost", Some("x_y"), is_host_name, HOST_NAME_PATTERN)
            .check()
            .unwrap_err();
        assert_eq!(e.items[0].1, "changeAPILifecycle.arg0: must not be null");
        assert!(
            e.items[1]
                .1
                .starts_with("vhost: must match \"^(([a-zA-Z0-9]")
        );
        assert!(
            Constraints::new()
                .size("a", Some("ok"), 1, 2)
                .check()
                .is_ok()
        );
    }
}
