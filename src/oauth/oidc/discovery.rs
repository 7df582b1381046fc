//! OpenID Provider metadata (OpenID Connect Discovery 1.0 §3) and the checks it must pass: the
//! `issuer` it states is exactly the configured one (§4.3), and its endpoints are URLs.

use crate::oauth::fetch::FetchError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 9207 §3: the authorization response will carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the metadata document {0}")]
    Metadata(FetchError),
    #[error("the metadata names issuer {found:?}, not the configured one")]
    WrongIssuer { found: String },
    #[error("the metadata's {0} is not an http(s) URL")]
    BadEndpoint(&'static str),
    #[error("the key set (jwks_uri) {0}")]
    Keys(FetchError),
}

impl Metadata {
    pub fn check(&self, issuer: &str) -> Result<(), DiscoveryError> {
        if self.issuer != issuer {
            return Err(DiscoveryError::WrongIssuer {
                found: self.issuer.chars().take(200).collect(),
            });
        }
        for (name, value) in [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("jwks_uri", &self.jwks_uri),
        ] {
            match url::Url::parse(value) {
                Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {}
                _ => return Err(DiscoveryError::BadEndpoint(name)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(issuer: &str) -> Metadata {
        Metadata {
            issuer: issuer.into(),
            authorization_endpoint: "https://idp.example.com/authorize".into(),
            token_endpoint: "https://idp.example.com/token".into(),
            jwks_uri: "https://idp.example.com/jwks".into(),
            authorization_response_iss_parameter_supported: false,
        }
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        assert!(
            metadata("https://idp.example.com")
                .check("https://idp.example.com")
                .is_ok()
        );
        assert!(matches!(
            metadata("https://idp.example.com/").check("https://idp.example.com"),
            Err(DiscoveryError::WrongIssuer { .. })
        ));
    }

    #[test]
    fn endpoints_must_be_urls() {
        let mut m = metadata("https://idp.example.com");
        m.jwks_uri = "javascript:alert(1)".into();
        assert_eq!(
            m.check("https://idp.example.com"),
            Err(DiscoveryError::BadEndpoint("jwks_uri"))
        );
    }
}
