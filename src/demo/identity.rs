//! The demo provider as an OpenID Provider: its metadata (`/demo/.well-known/openid-configuration`),
//! its key set (`/demo/jwks`), and ID tokens signed with an Ed25519 key made at start (EdDSA,
//! RFC 8037), so the broker's whole OpenID Connect path runs offline.

use super::DemoProvider;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// The demo's issuer and signing key.
pub struct DemoIdentity {
    pub issuer: String,
    key: Ed25519KeyPair,
    kid: String,
}

impl DemoIdentity {
    /// A fresh key per process: the broker loads the key set from this same process, and a
    /// restart starts a new key, as a real provider's rotation would.
    pub fn new(issuer: String) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system RNG works");
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("a key ring just made");
        let kid = format!("demo-{}", &crate::random::opaque_token()[..8]);
        Self { issuer, key, kid }
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid,
                "x": URL_SAFE_NO_PAD.encode(self.key.public_key().as_ref()),
            }]
        })
    }

    /// A compact JWS (RFC 7515 §7.1) over `claims`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }
}

impl DemoIdentity {
    pub fn metadata(&self) -> serde_json::Value {
        let issuer = &self.issuer;
        serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/api/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["openid", "user-top-read"],
        "claims_supported": ["sub", "name", "email"],
        "authorization_response_iss_parameter_supported": true,
        })
    }
}

/// `GET /demo/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3).
pub async fn metadata(provider: web::Data<DemoProvider>) -> HttpResponse {
    match &provider.identity {
        Some(identity) => HttpResponse::Ok().json(identity.metadata()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `GET /demo/jwks`.
pub async fn jwks(provider: web::Data<DemoProvider>) -> HttpResponse {
    match &provider.identity {
        Some(identity) => HttpResponse::Ok().json(identity.jwks()),
        None => HttpResponse::NotFound().finish(),
    }
}
