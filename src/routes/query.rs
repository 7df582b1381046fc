//! Strict query-string reading for the pages that take outside input: a repeated, oversized or
//! undecodable parameter is an error (answered with a 400 page), never a guess.

use std::collections::HashMap;

/// Longer than any code, state or error description a provider sends.
const MAX_VALUE_LEN: usize = 4096;
const MAX_PARAMS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Repeated(String),
    TooLong,
    TooMany,
}

pub fn parse_unique(query: &str) -> Result<HashMap<String, String>, QueryError> {
    let mut out = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.len() > MAX_VALUE_LEN || key.len() > 64 {
            return Err(QueryError::TooLong);
        }
        if out.len() >= MAX_PARAMS {
            return Err(QueryError::TooMany);
        }
        if out.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(QueryError::Repeated(key.into_owned()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_oversized_parameters_are_refused() {
        assert!(parse_unique("a=1&b=2").is_ok());
        assert_eq!(
            parse_unique("state=1&state=2"),
            Err(QueryError::Repeated("state".into()))
        );
        assert_eq!(
            parse_unique(&format!("code={}", "x".repeat(5000))),
            Err(QueryError::TooLong)
        );
        let many: Vec<String> = (0..20).map(|i| format!("p{i}=1")).collect();
        assert_eq!(parse_unique(&many.join("&")), Err(QueryError::TooMany));
    }
}
