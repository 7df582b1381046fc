//! A mock OpenID Provider: a real HTTP server (its own thread and actix system) with its own
//! keys. It serves discovery (which a test can turn off, as a provider down at start), a key
//! set, and a token endpoint whose ID token the test steers: good, or wrong in one way each
//! (signature, `aud`, `nonce`, expiry, an unpublished `kid`, `iss`), and can rotate a new key
//! in. ES256 and EdDSA keys, signed with `ring`.

use super::http_double::HttpDouble;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_broker::settings::{ClientAuth, ProviderSettings};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub const CLIENT_ID: &str = "oidc-client";
pub const CLIENT_SECRET: &str = "oidc-secret-5ecr3t";

/// What the next ID token is like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdTokenPlan {
    Good,
    /// Signed with EdDSA instead of ES256.
    GoodEdDsa,
    BadSignature,
    WrongAudience,
    WrongNonce,
    NoNonce,
    Expired,
    /// Signed with a key whose `kid` the key set does not (yet) publish.
    UnpublishedKey,
    WrongIssuer,
    Absent,
}

struct Keys {
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    /// Published once rotated in.
    next: EcdsaKeyPair,
}

struct State {
    discovery_up: bool,
    next_published: bool,
    plan: IdTokenPlan,
    nonce: Option<String>,
    iss_in_response: bool,
    token_requests: Vec<HashMap<String, String>>,
    jwks_requests: usize,
}

#[derive(Clone)]
pub struct MockOpenId {
    /// The issuer: the server's base URL.
    pub issuer: String,
    state: Arc<Mutex<State>>,
    _server: HttpDouble,
}

fn ec_key(rng: &SystemRandom) -> EcdsaKeyPair {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), rng).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl MockOpenId {
    pub fn start() -> MockOpenId {
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref())
            .unwrap();
        let keys = Arc::new(Keys {
            ec: ec_key(&rng),
            ed,
            next: ec_key(&rng),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            discovery_up: true,
            next_published: false,
            plan: IdTokenPlan::Good,
            nonce: None,
            iss_in_response: true,
            token_requests: Vec::new(),
            jwks_requests: 0,
        }));
        let shared = Shared {
            issuer: issuer.clone(),
            state: state.clone(),
            keys: keys.clone(),
        };
        let server = HttpDouble::start_on(listener, 1, move |cfg| {
            cfg.app_data(web::Data::new(shared.clone()))
                .route("/.well-known/openid-configuration", web::get().to(metadata))
                .route("/jwks", web::get().to(jwks))
                .route("/token", web::post().to(token));
        });
        MockOpenId {
            issuer,
            state,
            _server: server,
        }
    }

    /// Provider settings with `issuer` only: endpoints and keys come from discovery.
    pub fn provider_settings(&self) -> ProviderSettings {
        ProviderSettings {
            issuer: Some(self.issuer.clone()),
            client_id: CLIENT_ID.into(),
            client_secret: Some(SecretString::from(CLIENT_SECRET)),
            api_url: Some(format!("{}/api", self.issuer)),
            scopes: Some(vec!["email".into()]),
            client_auth: Some(ClientAuth::Basic),
            timeout_secs: 2,
            ..ProviderSettings::default()
        }
    }

    pub fn set_discovery_up(&self, up: bool) {
        self.state.lock().unwrap().discovery_up = up;
    }

    pub fn plan(&self, plan: IdTokenPlan) {
        self.state.lock().unwrap().plan = plan;
    }

    /// The nonce the next ID token carries (the one the broker sent, read from its redirect).
    pub fn set_nonce(&self, nonce: &str) {
        self.state.lock().unwrap().nonce = Some(nonce.to_owned());
    }

    /// Publishes the key `UnpublishedKey` signs with, as a provider rotating keys does.
    pub fn rotate_in_new_key(&self) {
        self.state.lock().unwrap().next_published = true;
    }

    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.state.lock().unwrap().token_requests.clone()
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.lock().unwrap().jwks_requests
    }
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    state: Arc<Mutex<State>>,
    keys: Arc<Keys>,
}

async fn metadata(shared: web::Data<Shared>) -> HttpResponse {
    let state = shared.state.lock().unwrap();
    if !state.discovery_up {
        return HttpResponse::ServiceUnavailable().body("down for maintenance");
    }
    let issuer = &shared.issuer;
    HttpResponse::Ok().json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["ES256", "EdDSA"],
        "authorization_response_iss_parameter_supported": state.iss_in_response,
    }))
}

fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> serde_json::Value {
    // An uncompressed P-256 point: 0x04, then x and y, 32 bytes each.
    let point = key.public_key().as_ref();
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    })
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    let mut state = shared.state.lock().unwrap();
    state.jwks_requests += 1;
    let mut keys = vec![
        ec_jwk(&shared.keys.ec, "ec-1"),
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "ed-1",
            "x": URL_SAFE_NO_PAD.encode(shared.keys.ed.public_key().as_ref()),
        }),
    ];
    if state.next_published {
        keys.push(ec_jwk(&shared.keys.next, "ec-2"));
    }
    HttpResponse::Ok().json(serde_json::json!({ "keys": keys }))
}

enum Signer<'a> {
    Ec(&'a EcdsaKeyPair, &'a str),
    Ed(&'a Ed25519KeyPair, &'a str),
}

fn sign(signer: Signer<'_>, claims: &serde_json::Value) -> String {
    let (alg, kid) = match &signer {
        Signer::Ec(_, kid) => ("ES256", *kid),
        Signer::Ed(_, kid) => ("EdDSA", *kid),
    };
    let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match signer {
        Signer::Ec(key, _) => key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        Signer::Ed(key, _) => key.sign(input.as_bytes()).as_ref().to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn token(
    form: web::Form<HashMap<String, String>>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let form = form.into_inner();
    let (plan, nonce) = {
        let mut state = shared.state.lock().unwrap();
        state.token_requests.push(form.clone());
        (state.plan, state.nonce.clone())
    };
    let seed = form
        .get("code")
        .or_else(|| form.get("refresh_token"))
        .cloned()
        .unwrap_or_default();
    let now = now();
    let mut claims = serde_json::json!({
        "iss": shared.issuer,
        "sub": "user-4711",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 600,
        "email": "jane@example.com",
        "name": "Jane Example",
    });
    let refreshing = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    if let (Some(nonce), false) = (&nonce, refreshing) {
        claims["nonce"] = nonce.clone().into();
    }
    let keys = &shared.keys;
    let id_token = match plan {
        IdTokenPlan::Good => Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims)),
        IdTokenPlan::GoodEdDsa => Some(sign(Signer::Ed(&keys.ed, "ed-1"), &claims)),
        IdTokenPlan::BadSignature => {
            // Claims changed after signing: the signature no longer covers them.
            let good = sign(Signer::Ec(&keys.ec, "ec-1"), &claims);
            let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
            claims["sub"] = "someone-else".into();
            parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
            Some(parts.join("."))
        }
        IdTokenPlan::WrongAudience => {
            claims["aud"] = "another-client".into();
            Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims))
        }
        IdTokenPlan::WrongNonce => {
            claims["nonce"] = "not-the-nonce-that-was-sent".into();
            Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims))
        }
        IdTokenPlan::NoNonce => {
            claims.as_object_mut().unwrap().remove("nonce");
            Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims))
        }
        IdTokenPlan::Expired => {
            claims["iat"] = (now - 7200).into();
            claims["exp"] = (now - 3600).into();
            Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims))
        }
        IdTokenPlan::UnpublishedKey => Some(sign(Signer::Ec(&keys.next, "ec-2"), &claims)),
        IdTokenPlan::WrongIssuer => {
            claims["iss"] = "https://impostor.example.com".into();
            Some(sign(Signer::Ec(&keys.ec, "ec-1"), &claims))
        }
        IdTokenPlan::Absent => None,
    };
    let mut body = serde_json::json!({
        "access_token": format!("at-{seed}"),
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid email",
        "refresh_token": format!("rt-{seed}"),
    });
    if let Some(id_token) = id_token {
        body["id_token"] = id_token.into();
    }
    HttpResponse::Ok().json(body)
}
