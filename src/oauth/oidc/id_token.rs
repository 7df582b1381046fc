//! ID token validation (OpenID Connect Core §3.1.3.7): the signature with the issuer's key
//! named by `kid` (RS256, ES256 or EdDSA only, never `none` or an HMAC with a public key),
//! `iss` exactly the issuer, `aud` containing our client ID, `azp` our client ID when present
//! (and required with several audiences), `exp` not passed and `iat` not in the future beyond
//! [`CLOCK_SKEW_SECS`], and `nonce` equal to the one this authorization sent.
//!
//! Signature, `iss` and `aud` are checked by `jsonwebtoken`; times are checked here against
//! the broker's clock, so tests move time instead of sleeping.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Tolerated difference between our clock and the issuer's.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// ID tokens are a few KiB; a larger one is refused before any parsing.
const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

const ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// What this validation expects beyond the issuer.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The authorization's nonce; `None` for a token from a refresh, which carries none of
    /// ours (Core §12.2).
    pub nonce: Option<&'a str>,
    pub now_secs: u64,
}

/// The claims the extension gets in `signedin`: who signed in, and what they chose to share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    Many(Vec<String>),
    // jsonwebtoken already checked it is ours; only how many there are matters here. Second:
    // `IgnoredAny` would take a list too.
    One(serde::de::IgnoredAny),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum IdTokenError {
    #[error("the token endpoint sent no ID token")]
    Missing,
    #[error("the issuer's metadata is not loaded yet")]
    NotLoaded,
    #[error("the ID token is not a well-formed JWT")]
    Malformed,
    #[error("the ID token is signed with an algorithm the broker does not accept")]
    Algorithm,
    #[error("the ID token names a key the issuer does not publish")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token is from another issuer")]
    Issuer,
    #[error("the ID token is for another client")]
    Audience,
    #[error("the ID token's authorized party is another client")]
    AuthorizedParty,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is issued in the future")]
    IssuedInFuture,
    #[error("the ID token's nonce is missing or not this sign-in's")]
    Nonce,
}

impl IdTokenError {
    /// A short stable label for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            IdTokenError::Missing => "id_token_missing",
            IdTokenError::NotLoaded => "oidc_not_loaded",
            IdTokenError::Malformed => "id_token_malformed",
            IdTokenError::Algorithm => "id_token_algorithm",
            IdTokenError::UnknownKey => "id_token_unknown_key",
            IdTokenError::Signature => "id_token_signature",
            IdTokenError::Issuer => "id_token_issuer",
            IdTokenError::Audience => "id_token_audience",
            IdTokenError::AuthorizedParty => "id_token_azp",
            IdTokenError::Expired => "id_token_expired",
            IdTokenError::IssuedInFuture => "id_token_iat",
            IdTokenError::Nonce => "id_token_nonce",
        }
    }
}

pub fn validate(
    token: &str,
    issuer: &str,
    expected: &Expected<'_>,
    keys: &JwkSet,
) -> Result<IdClaims, IdTokenError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(IdTokenError::Malformed);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(IdTokenError::Algorithm);
    }
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        // Without a `kid` only a set of one key is unambiguous.
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or(IdTokenError::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| IdTokenError::Signature)?;

    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidAlgorithm => IdTokenError::Signature,
            ErrorKind::InvalidIssuer => IdTokenError::Issuer,
            ErrorKind::InvalidAudience => IdTokenError::Audience,
            ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => IdTokenError::Issuer,
            ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => IdTokenError::Audience,
            _ => IdTokenError::Malformed,
        })?;
    let claims = data.claims;

    if claims.exp + CLOCK_SKEW_SECS <= expected.now_secs {
        return Err(IdTokenError::Expired);
    }
    if claims.iat > expected.now_secs + CLOCK_SKEW_SECS {
        return Err(IdTokenError::IssuedInFuture);
    }
    let several_audiences = matches!(&claims.aud, Audience::Many(list) if list.len() > 1);
    match &claims.azp {
        Some(azp) if azp != expected.client_id => return Err(IdTokenError::AuthorizedParty),
        None if several_audiences => return Err(IdTokenError::AuthorizedParty),
        _ => {}
    }
    if let Some(sent) = expected.nonce {
        let matches = claims
            .nonce
            .as_deref()
            .is_some_and(|got| bool::from(got.as_bytes().ct_eq(sent.as_bytes())));
        if !matches {
            return Err(IdTokenError::Nonce);
        }
    }
    Ok(IdClaims {
        sub: claims.sub,
        email: claims.email,
        name: claims.name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

    const ISSUER: &str = "https://idp.example.com";
    const NOW: u64 = 1_800_000_000;

    struct Signer {
        key: EcdsaKeyPair,
    }

    impl Signer {
        fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let key =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            Self { key }
        }

        fn keys(&self) -> JwkSet {
            let point = self.key.public_key().as_ref();
            serde_json::from_value(serde_json::json!({"keys": [{
                "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "k1",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }]}))
            .unwrap()
        }

        fn sign(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = self
                .key
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": ISSUER, "sub": "u1", "aud": "client", "iat": NOW, "exp": NOW + 300,
            "nonce": "n1", "email": "a@example.com",
        })
    }

    fn header() -> serde_json::Value {
        serde_json::json!({"alg": "ES256", "kid": "k1"})
    }

    fn expected() -> Expected<'static> {
        Expected {
            client_id: "client",
            nonce: Some("n1"),
            now_secs: NOW,
        }
    }

    fn check(
        signer: &Signer,
        header: serde_json::Value,
        claims: serde_json::Value,
    ) -> Result<IdClaims, IdTokenError> {
        validate(
            &signer.sign(header, claims),
            ISSUER,
            &expected(),
            &signer.keys(),
        )
    }

    #[test]
    fn a_good_token_gives_its_claims() {
        let s = Signer::new();
        let got = check(&s, header(), claims()).unwrap();
        assert_eq!(got.sub, "u1");
        assert_eq!(got.email.as_deref(), Some("a@example.com"));
        assert_eq!(got.name, None);
    }

    #[test]
    fn none_and_hmac_are_refused() {
        let s = Signer::new();
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert!(validate(&unsigned, ISSUER, &expected(), &s.keys()).is_err());
        assert_eq!(
            check(
                &s,
                serde_json::json!({"alg": "HS256", "kid": "k1"}),
                claims()
            ),
            Err(IdTokenError::Algorithm)
        );
    }

    #[test]
    fn each_wrong_claim_is_named() {
        let s = Signer::new();
        let with = |k: &str, v: serde_json::Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        assert_eq!(
            check(&s, header(), with("iss", "https://evil.example".into())),
            Err(IdTokenError::Issuer)
        );
        assert_eq!(
            check(&s, header(), with("aud", "other".into())),
            Err(IdTokenError::Audience)
        );
        assert_eq!(
            check(
                &s,
                header(),
                with("aud", serde_json::json!(["client", "other"]))
            ),
            Err(IdTokenError::AuthorizedParty),
            "several audiences need azp"
        );
        assert_eq!(
            check(&s, header(), with("azp", "other".into())),
            Err(IdTokenError::AuthorizedParty)
        );
        assert!(check(&s, header(), with("azp", "client".into())).is_ok());
        assert_eq!(
            check(&s, header(), with("exp", (NOW - CLOCK_SKEW_SECS).into())),
            Err(IdTokenError::Expired)
        );
        assert!(
            check(
                &s,
                header(),
                with("exp", (NOW - CLOCK_SKEW_SECS + 1).into())
            )
            .is_ok(),
            "within the skew"
        );
        assert_eq!(
            check(
                &s,
                header(),
                with("iat", (NOW + CLOCK_SKEW_SECS + 1).into())
            ),
            Err(IdTokenError::IssuedInFuture)
        );
        assert_eq!(
            check(&s, header(), with("nonce", "n2".into())),
            Err(IdTokenError::Nonce)
        );
        let mut no_nonce = claims();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            check(&s, header(), no_nonce.clone()),
            Err(IdTokenError::Nonce)
        );
        let token = s.sign(header(), no_nonce);
        let refresh = Expected {
            nonce: None,
            ..expected()
        };
        assert!(
            validate(&token, ISSUER, &refresh, &s.keys()).is_ok(),
            "refresh: no nonce asked"
        );
        let mut no_sub = claims();
        no_sub.as_object_mut().unwrap().remove("sub");
        assert_eq!(check(&s, header(), no_sub), Err(IdTokenError::Malformed));
    }

    #[test]
    fn keys_must_match() {
        let s = Signer::new();
        assert_eq!(
            check(
                &s,
                serde_json::json!({"alg": "ES256", "kid": "k9"}),
                claims()
            ),
            Err(IdTokenError::UnknownKey)
        );
        let other = Signer::new();
        let token = other.sign(header(), claims());
        assert_eq!(
            validate(&token, ISSUER, &expected(), &s.keys()),
            Err(IdTokenError::Signature)
        );
        assert_eq!(
            validate("not.a.jwt", ISSUER, &expected(), &s.keys()),
            Err(IdTokenError::Malformed)
        );
    }
}
