//! Values that must never reach a log line, a page or a URL by accident.
//!
//! Access tokens, refresh tokens, authorization codes and PKCE verifiers are all `Sensitive`:
//! `Debug` and `Display` print `[redacted]`, so `{:?}` of any struct holding one is safe to log.
//! Serialising is transparent, because the token frame and the token request need the real value.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that must send it (a token request, a frame).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Sensitive {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Sensitive {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let token = Sensitive::new("BQD-very-secret");
        assert_eq!(format!("{token:?}"), "[redacted]");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(token.expose(), "BQD-very-secret");
    }

    #[test]
    fn serialises_as_the_plain_string() {
        let token = Sensitive::new("abc");
        assert_eq!(serde_json::to_string(&token).unwrap(), "\"abc\"");
    }
}
