//! A mock OAuth provider: a real HTTP server (its own thread and actix system) whose token
//! endpoint the test steers: good tokens, 4xx, 5xx, a slow answer, or garbage. It records
//! every token request so tests can check client authentication and the PKCE verifier.

use super::http_double::HttpDouble;
use actix_web::{HttpRequest, HttpResponse, web};
use oauth_broker::settings::{ClientAuth, ProviderSettings};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CLIENT_ID: &str = "mock-client";
pub const CLIENT_SECRET: &str = "mock-secret-s3cr3t";

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// `access_token` = `at-{code}`, `refresh_token` = `rt-{code}` (or rotated on refresh).
    Tokens,
    /// Tokens with no refresh token.
    TokensWithoutRefresh,
    Status(u16, String),
    Slow(Duration),
    /// `Tokens`, each answer after this delay.
    SlowTokens(Duration),
    Garbage,
}

#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub form: HashMap<String, String>,
    pub authorization: Option<String>,
}

#[derive(Clone)]
pub struct MockProvider {
    pub base: String,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    _server: HttpDouble,
}

impl MockProvider {
    pub fn start() -> MockProvider {
        let behaviour = Arc::new(Mutex::new(Behaviour::Tokens));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (b, r) = (behaviour.clone(), requests.clone());
        let server = HttpDouble::start(2, move |cfg| {
            cfg.app_data(web::Data::new((b.clone(), r.clone())))
                .route("/token", web::post().to(token));
        });
        MockProvider {
            base: server.base.clone(),
            behaviour,
            requests,
            _server: server,
        }
    }

    pub fn provider_settings(&self) -> ProviderSettings {
        ProviderSettings {
            client_id: CLIENT_ID.into(),
            client_secret: Some(SecretString::from(CLIENT_SECRET)),
            authorize_url: Some(format!("{}/authorize", self.base)),
            token_url: Some(format!("{}/token", self.base)),
            api_url: Some(format!("{}/v1", self.base)),
            scopes: Some(vec!["user-top-read".into()]),
            client_auth: Some(ClientAuth::Basic),
            timeout_secs: 2,
            ..ProviderSettings::default()
        }
    }

    /// The environment that makes a broker process use this mock as provider `mock` (and
    /// leaves the demo provider out).
    pub fn broker_env(&self) -> HashMap<String, String> {
        [
            ("BROKER__PROVIDERS__MOCK__CLIENT_ID", CLIENT_ID.to_owned()),
            (
                "BROKER__PROVIDERS__MOCK__CLIENT_SECRET",
                CLIENT_SECRET.to_owned(),
            ),
            (
                "BROKER__PROVIDERS__MOCK__AUTHORIZE_URL",
                format!("{}/authorize", self.base),
            ),
            (
                "BROKER__PROVIDERS__MOCK__TOKEN_URL",
                format!("{}/token", self.base),
            ),
            ("BROKER__PROVIDERS__DEMO__ENABLED", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// How many refresh-token requests reached the token endpoint.
    pub fn refresh_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.form.get("grant_type").map(String::as_str) == Some("refresh_token"))
            .count()
    }
}

type Shared = (Arc<Mutex<Behaviour>>, Arc<Mutex<Vec<TokenRequest>>>);

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let form = form.into_inner();
    shared.1.lock().unwrap().push(TokenRequest {
        form: form.clone(),
        authorization: req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let behaviour = shared.0.lock().unwrap().clone();
    let seed = form
        .get("code")
        .or_else(|| form.get("refresh_token"))
        .cloned()
        .unwrap_or_default();
    if let Behaviour::SlowTokens(delay) = behaviour {
        actix_rt::time::sleep(delay).await;
    }
    match behaviour {
        Behaviour::Tokens | Behaviour::TokensWithoutRefresh | Behaviour::SlowTokens(_) => {
            let refresh = match form.get("grant_type").map(String::as_str) {
                Some("refresh_token") => format!("{seed}-rotated"),
                _ => format!("rt-{seed}"),
            };
            let mut body = serde_json::json!({
                "access_token": format!("at-{seed}"),
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "user-top-read",
            });
            if !matches!(behaviour, Behaviour::TokensWithoutRefresh) {
                body["refresh_token"] = refresh.into();
            }
            HttpResponse::Ok().json(body)
        }
        Behaviour::Status(status, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .content_type("application/json")
                .body(body)
        }
        Behaviour::Slow(delay) => {
            actix_rt::time::sleep(delay).await;
            HttpResponse::Ok().json(serde_json::json!({"access_token": "late"}))
        }
        Behaviour::Garbage => HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>surprise</html>"),
    }
}
