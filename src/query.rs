//! Strict reading of query strings and form bodies, for every request that takes outside input
//! (the redirect back from a provider, `/ws?resume=`, the demo provider's endpoints): a
//! parameter at most once (RFC 6749 §3.1 and §3.2: which copy to trust is unknowable), bounded
//! in size and number, and one sent without a value treated as omitted.

use std::collections::HashMap;

/// Longer than any code, state, sealed blob or error description a provider sends.
const MAX_VALUE_LEN: usize = 4096;
const MAX_NAME_LEN: usize = 64;
const MAX_PARAMS: usize = 16;

/// The parameters of a query string or form body, by name.
#[derive(Debug, Default)]
pub struct StrictQuery {
    values: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the parameter {0:?} appears more than once")]
    Repeated(String),
    #[error("a parameter is too long")]
    TooLong,
    #[error("there are too many parameters")]
    TooMany,
}

impl StrictQuery {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(encoded: &[u8]) -> Result<Self, QueryError> {
        let mut values = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(encoded) {
            if value.len() > MAX_VALUE_LEN || name.len() > MAX_NAME_LEN {
                return Err(QueryError::TooLong);
            }
            if values.len() >= MAX_PARAMS {
                return Err(QueryError::TooMany);
            }
            if values
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                let name: String = name.chars().take(40).collect();
                return Err(QueryError::Repeated(name));
            }
        }
        Ok(Self { values })
    }

    /// The value of `name`; an empty one counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every parameter as given, empty ones too.
    pub fn into_map(self) -> HashMap<String, String> {
        self.values
    }

    /// Every parameter name given, empty or not.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Decodes one form-urlencoded component, as both halves of HTTP Basic client credentials are
/// encoded (RFC 6749 §2.3.1). `None` when the escapes do not decode to UTF-8.
pub fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = component.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(
            StrictQuery::parse(b"a=1&b=2&a=3").err(),
            Some(QueryError::Repeated("a".into()))
        );
        assert_eq!(
            StrictQuery::parse(b"a=&a=1").err(),
            Some(QueryError::Repeated("a".into()))
        );
    }

    #[test]
    fn oversized_and_too_many_parameters_are_refused() {
        assert_eq!(
            StrictQuery::parse(format!("code={}", "x".repeat(5000)).as_bytes()).err(),
            Some(QueryError::TooLong)
        );
        let many: Vec<String> = (0..20).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            StrictQuery::parse(many.join("&").as_bytes()).err(),
            Some(QueryError::TooMany)
        );
    }

    #[test]
    fn empty_values_count_as_absent() {
        let params = StrictQuery::parse(b"a=&b=x%20y+z").unwrap();
        assert_eq!(params.get("a"), None);
        assert_eq!(params.get("b"), Some("x y z"));
        assert_eq!(params.names().count(), 2);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%2Bb+c%3A").as_deref(), Some("a+b c:"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("bad%2"), None);
        assert_eq!(form_decode("bad%zz"), None);
        assert_eq!(form_decode("%ff"), None);
        assert_eq!(form_decode("%+1"), None);
    }
}
