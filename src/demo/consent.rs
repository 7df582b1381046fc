//! The authorization endpoint (RFC 6749 §4.1.1 with PKCE, RFC 7636): `GET /demo/authorize`
//! checks the request and shows the consent page; `POST /demo/consent` takes the Allow or Deny
//! and sends the browser back to the broker with a code or `access_denied`.
//!
//! The page carries the checked request sealed in a hidden field, so the second step needs no
//! server state and nothing in it can be altered on the way.

use super::sealed::Kind;
use super::token::CodeGrant;
use super::{CLIENT_NAME, DemoProvider};
use crate::pages::{Page, escape, strict_headers};
use crate::query::StrictQuery as Params;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use url::Url;

/// How long the consent page may stay open before Allow no longer works.
const CONSENT_TTL_SECS: u64 = 600;
/// Codes live 60 seconds, like Spotify's (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL_SECS: u64 = 60;
/// `state` and `scope` travel inside the sealed consent request; bounded so it stays small.
const MAX_STATE_LEN: usize = 1024;
const MAX_SCOPE_LEN: usize = 1024;

/// A checked authorization request, sealed into the consent page.
#[derive(Debug, Serialize, Deserialize)]
struct ConsentRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    code_challenge: Option<String>,
    /// OpenID Connect: returned in the ID token.
    #[serde(default)]
    nonce: Option<String>,
    expires_at: u64,
}

/// Why an authorization request is refused, and so how the refusal is delivered.
#[derive(Debug)]
enum Refusal {
    /// The client or redirect URI cannot be trusted (or the request is malformed), so the user
    /// gets a page and is never sent anywhere (RFC 6749 §4.1.2.1, first paragraph).
    Page(String),
    /// The redirect URI is registered: the error goes back to the client (§4.1.2.1).
    Redirect {
        redirect_uri: String,
        state: String,
        error: &'static str,
    },
}

/// `GET /demo/authorize`.
pub async fn authorize(provider: web::Data<DemoProvider>, req: HttpRequest) -> HttpResponse {
    match provider.check_authorization_request(req.query_string()) {
        Ok(request) => {
            log::info!("demo authorize request accepted: showing the consent page");
            provider.consent_page(&request)
        }
        Err(Refusal::Page(reason)) => {
            log::info!("demo authorize request refused with a page: {reason}");
            Page::problem("Demo music service", "This sign-in request is not valid")
                .para(reason)
                .para("Start the sign-in again from the dashboard.")
                .respond(StatusCode::BAD_REQUEST)
        }
        Err(Refusal::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            log::info!("demo authorize request refused: {error}");
            redirect_back(&redirect_uri, &[("error", error), ("state", &state)])
        }
    }
}

/// `POST /demo/consent`: the user's Allow or Deny.
pub async fn decide(provider: web::Data<DemoProvider>, body: web::Bytes) -> HttpResponse {
    let Ok(form) = Params::parse(&body) else {
        return bad_consent("The form repeats a field.");
    };
    let Some(request) = form.get("request").and_then(|sealed| {
        provider
            .sealer
            .open::<ConsentRequest>(Kind::Consent, sealed)
    }) else {
        log::info!("demo consent refused: the request blob is missing or was altered");
        return bad_consent("The consent form was altered or does not belong to this service.");
    };
    if request.client_id != provider.client_id
        || !provider.is_registered_redirect_uri(&request.redirect_uri)
    {
        log::info!("demo consent refused: the client's configuration changed");
        return bad_consent("The application's registration changed since this page was shown.");
    }
    let now = provider.now();
    if now >= request.expires_at {
        log::info!("demo consent refused: the consent page expired");
        return bad_consent("This consent page has expired.");
    }
    match form.get("decision") {
        Some("allow") => {
            let grant = CodeGrant {
                id: crate::random::opaque_token(),
                client_id: request.client_id,
                redirect_uri: request.redirect_uri.clone(),
                scope: request.scope,
                code_challenge: request.code_challenge,
                nonce: request.nonce,
                expires_at: now + CODE_TTL_SECS,
            };
            let code = provider.sealer.seal(Kind::Code, &grant);
            log::info!("demo consent allowed: code issued");
            let mut params = vec![("code", code.as_str()), ("state", request.state.as_str())];
            // RFC 9207: say who answers, so the client can tell providers apart.
            if let Some(identity) = &provider.identity {
                params.push(("iss", identity.issuer.as_str()));
            }
            redirect_back(&request.redirect_uri, &params)
        }
        Some("deny") => {
            log::info!("demo consent denied");
            let mut params = vec![
                ("error", "access_denied"),
                ("state", request.state.as_str()),
            ];
            if let Some(identity) = &provider.identity {
                params.push(("iss", identity.issuer.as_str()));
            }
            redirect_back(&request.redirect_uri, &params)
        }
        _ => bad_consent("The form carries no decision."),
    }
}

impl DemoProvider {
    fn check_authorization_request(&self, query: &str) -> Result<ConsentRequest, Refusal> {
        let params = Params::parse(query.as_bytes()).map_err(|refused| {
            Refusal::Page(format!("The sign-in request is malformed: {refused}."))
        })?;
        let required = |name: &str| {
            params
                .get(name)
                .ok_or_else(|| Refusal::Page(format!("The parameter {name} is missing.")))
        };

        if required("client_id")? != self.client_id {
            return Err(Refusal::Page("The client_id is not registered.".into()));
        }
        let redirect_uri = required("redirect_uri")?;
        if !self.is_registered_redirect_uri(redirect_uri) {
            return Err(Refusal::Page(
                "The redirect_uri is not registered for this application.".into(),
            ));
        }
        let state = required("state")?;
        if state.len() > MAX_STATE_LEN {
            return Err(Refusal::Page("The state parameter is too long.".into()));
        }
        let response_type = required("response_type")?;

        // From here the redirect URI is trusted, so errors go back to the client.
        let refuse = |error| Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.to_owned(),
            error,
        };
        if response_type != "code" {
            return Err(refuse("unsupported_response_type"));
        }
        let code_challenge = match (
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        ) {
            (None, None) => None,
            (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
                Some(challenge.to_owned())
            }
            // `plain` (the RFC 7636 default when the method is absent) is refused, as RFC 9700
            // §2.1.1 asks, and so is a method without a challenge.
            _ => return Err(refuse("invalid_request")),
        };
        let scope = params.get("scope").unwrap_or_default();
        if scope.len() > MAX_SCOPE_LEN || !is_scope(scope) {
            return Err(refuse("invalid_scope"));
        }
        let nonce = params.get("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_STATE_LEN) {
            return Err(refuse("invalid_request"));
        }

        Ok(ConsentRequest {
            client_id: self.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.to_owned(),
            state: state.to_owned(),
            code_challenge,
            nonce: nonce.map(str::to_owned),
            expires_at: self.now() + CONSENT_TTL_SECS,
        })
    }

    fn consent_page(&self, request: &ConsentRequest) -> HttpResponse {
        let sealed = self.sealer.seal(Kind::Consent, request);
        let mut html = format!(
            "<p>Demo music service: <strong>{}</strong> wants to read your top artists.</p>\n",
            escape(CLIENT_NAME)
        );
        if !request.scope.is_empty() {
            html.push_str(&format!(
                "<p>Requested scope: <code>{}</code></p>\n",
                escape(&request.scope)
            ));
        }
        html.push_str(&format!(
            "<form method=\"post\" action=\"consent\">\n\
             <input type=\"hidden\" name=\"request\" value=\"{}\">\n\
             <button type=\"submit\" name=\"decision\" value=\"allow\" id=\"allow\" \
             class=\"primary\">Allow</button>\n\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\n\
             </form>\n",
            escape(&sealed)
        ));
        let page = Page::ok("Demo music service", "Allow access?")
            .para("This is the broker's built-in demo provider: no real account is involved.")
            .trusted_html(html);
        // Browsers apply `form-action` to the redirect that follows the POST too, so the
        // redirect URI's origin is allowed next to our own (they differ when, say, the page is
        // on localhost and the broker's callback on 127.0.0.1).
        let mut form_action = String::from("'self'");
        if let Ok(url) = Url::parse(&request.redirect_uri) {
            let origin = url.origin();
            if origin.is_tuple() {
                form_action.push(' ');
                form_action.push_str(&origin.ascii_serialization());
            }
        }
        let mut builder = HttpResponse::build(StatusCode::OK);
        strict_headers(&mut builder, &form_action);
        builder
            .content_type("text/html; charset=utf-8")
            .body(page.render())
    }
}

/// `303 See Other` to a registered redirect URI with `params` appended, properly encoded.
fn redirect_back(redirect_uri: &str, params: &[(&str, &str)]) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        // Registered URIs come from configuration; one that does not parse is a setup mistake.
        log::warn!("demo provider: a registered redirect URI is not a valid URL");
        return Page::problem("Demo music service", "The application is misconfigured")
            .para("Its registered redirect URI is not a valid URL.")
            .respond(StatusCode::INTERNAL_SERVER_ERROR);
    };
    url.query_pairs_mut().extend_pairs(params);
    let mut builder = HttpResponse::build(StatusCode::SEE_OTHER);
    strict_headers(&mut builder, "'none'");
    builder
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

fn bad_consent(reason: &str) -> HttpResponse {
    Page::problem("Demo music service", "This consent form cannot be used")
        .para(reason)
        .para("Start the sign-in again from the dashboard.")
        .respond(StatusCode::BAD_REQUEST)
}

/// An S256 challenge is base64url without padding of a 32-byte digest: 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 6749 §3.3: scope tokens of `%x21 / %x23-5B / %x5D-7E`, separated by single spaces.
fn is_scope(scope: &str) -> bool {
    scope.is_empty()
        || scope.split(' ').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        })
}
