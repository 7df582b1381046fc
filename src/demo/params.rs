//! Request parameters read the strict way a real provider reads them: every parameter at most
//! once (RFC 6749 §3.1 and §3.2), and one sent without a value treated as omitted.

use std::collections::HashMap;

/// The parameters of a query string or form body, by name.
#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
}

/// A parameter appeared more than once; which copy to trust is unknowable, so refuse.
#[derive(Debug, PartialEq, Eq)]
pub struct Repeated(pub String);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(encoded: &[u8]) -> Result<Self, Repeated> {
        let mut values = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in url::form_urlencoded::parse(encoded) {
            if !seen.insert(name.to_string()) {
                return Err(Repeated(name.into_owned()));
            }
            if !value.is_empty() {
                values.insert(name.into_owned(), value.into_owned());
            }
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
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
            Params::parse(b"a=1&b=2&a=3").err(),
            Some(Repeated("a".into()))
        );
        assert_eq!(Params::parse(b"a=&a=1").err(), Some(Repeated("a".into())));
    }

    #[test]
    fn empty_values_count_as_absent() {
        let params = Params::parse(b"a=&b=x%20y+z").unwrap();
        assert_eq!(params.get("a"), None);
        assert_eq!(params.get("b"), Some("x y z"));
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
