//! `GET /complete/{provider}`: the redirect URI. Checks and consumes the `state`, exchanges
//! the code (client secret and PKCE verifier), and routes the outcome to the session that began
//! the sign-in through the hub; the page tells the person what happened.

use super::query::parse_unique;
use super::signin::unavailable;
use crate::broker::Broker;
use crate::oauth::{Provider, TokenClient};
use crate::pages::Page;
use crate::random;
use crate::sensitive::Sensitive;
use crate::store::{HeldGrant, PendingAuthorization, StoreError};
use crate::ws::connection::short;
use crate::ws::protocol::{ErrorCode, ServerMessage};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn finish(
    req: HttpRequest,
    path: web::Path<String>,
    broker: web::Data<Broker>,
    tokens: web::Data<TokenClient>,
) -> HttpResponse {
    if let Some(refusal) = super::signin::too_many_requests(&broker, &req).await {
        return refusal;
    }
    let provider_name = path.into_inner();
    let Ok(query) = parse_unique(req.query_string()) else {
        return rejected(&broker, &provider_name, "bad_query", bad_request_page());
    };
    let Some(state) = query.get("state").filter(|s| !s.is_empty()) else {
        return rejected(&broker, &provider_name, "missing_state", bad_request_page());
    };
    if state.len() > 64 || !state.chars().all(|c| c.is_ascii_alphanumeric()) {
        return rejected(
            &broker,
            &provider_name,
            "unknown_state",
            state_not_valid_page(),
        );
    }
    let pending = match broker.store.take_pending(state).await {
        Ok(Some(pending)) => pending,
        Ok(None) => {
            return rejected(
                &broker,
                &provider_name,
                "unknown_state",
                state_not_valid_page(),
            );
        }
        Err(_) => return unavailable(),
    };
    if pending.provider != provider_name {
        // The state was minted for another provider: a mix-up attack (RFC 9700 §4.4) or a
        // misregistered redirect URI. The attempt is over either way.
        let _ = tell(
            &broker,
            &pending.session,
            ServerMessage::provider_error(
                ErrorCode::ProviderError,
                &pending.provider,
                "The sign-in came back from the wrong place. Start again.",
            ),
        )
        .await;
        return rejected(
            &broker,
            &provider_name,
            "provider_mismatch",
            state_not_valid_page(),
        );
    }
    let Some(provider) = broker.providers.get(&pending.provider).cloned() else {
        return rejected(
            &broker,
            &provider_name,
            "unknown_provider",
            state_not_valid_page(),
        );
    };

    if let Some(error) = query.get("error") {
        return provider_refused(&broker, &provider, &pending, error).await;
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        let _ = tell(
            &broker,
            &pending.session,
            ServerMessage::provider_error(
                ErrorCode::ProviderError,
                &provider.name,
                "The provider sent no authorization code. Start again.",
            ),
        )
        .await;
        return rejected(&broker, &provider.name, "missing_code", bad_request_page());
    };

    let code = Sensitive::new(code.as_str());
    match tokens
        .exchange_code(&provider, &code, &pending.verifier)
        .await
    {
        Ok(tokens) => deliver(&broker, &provider, &pending.session, tokens).await,
        Err(e) => {
            log::warn!(
                "sign-in {} for {}: token exchange failed: {e}",
                short(&pending.session),
                provider.name
            );
            let _ = tell(
                &broker,
                &pending.session,
                ServerMessage::provider_error(
                    ErrorCode::ProviderError,
                    &provider.name,
                    format!(
                        "{} did not complete the sign-in. Try again in a moment.",
                        provider.label
                    ),
                ),
            )
            .await;
            metrics::counter!("oauth_broker_signins_failed_total", "provider" => provider.name.clone(), "reason" => e.reason())
                .increment(1);
            Page::problem("Sign-in failed", "Sign-in didn't complete")
                .para(format!(
                    "{} accepted your sign-in, but then could not hand over access ({}).",
                    provider.label,
                    e
                ))
                .para("Close this window, go back to your dashboard and press Sign in again. If it keeps happening, the provider may be having trouble.")
                .respond(StatusCode::BAD_GATEWAY)
        }
    }
}

async fn deliver(
    broker: &Broker,
    provider: &Provider,
    session: &str,
    tokens: crate::oauth::TokenSet,
) -> HttpResponse {
    if !broker.settings.signin.confirm_code {
        if tell(broker, session, broker.signedin(&provider.name, tokens))
            .await
            .is_err()
        {
            return unavailable();
        }
        metrics::counter!("oauth_broker_signins_completed_total", "provider" => provider.name.clone())
            .increment(1);
        log::info!("sign-in {} for {} completed", short(session), provider.name);
        return Page::ok("Signed in", "You're signed in")
            .para("Go back to your dashboard; it has your sign-in now.")
            .para("You can close this window.")
            .respond(StatusCode::OK);
    }
    let signin = &broker.settings.signin;
    let code = random::confirm_code();
    let grant = HeldGrant::new(&provider.name, tokens, &code, signin.confirm_attempts);
    if broker
        .store
        .hold_grant(session, &grant, signin.confirm_ttl_secs)
        .await
        .is_err()
    {
        return unavailable();
    }
    let told = tell(
        broker,
        session,
        ServerMessage::Confirm {
            provider: provider.name.clone(),
            expires_in: signin.confirm_ttl_secs,
        },
    )
    .await;
    if told.is_err() {
        return unavailable();
    }
    log::info!(
        "sign-in {} for {} awaiting confirmation code",
        short(session),
        provider.name
    );
    let minutes = signin.confirm_ttl_secs.div_ceil(60);
    Page::ok("Your confirmation code", "Almost done: type this code in your dashboard")
        .highlight(format!("{}-{}", &code[..4], &code[4..]))
        .para(format!(
            "Go back to your dashboard and type this code where it asks for it, within {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ))
        .para("The code makes sure your sign-in reaches your dashboard and nobody else's. Don't share it.")
        .respond(StatusCode::OK)
}

async fn provider_refused(
    broker: &Broker,
    provider: &Provider,
    pending: &PendingAuthorization,
    error: &str,
) -> HttpResponse {
    if error == "access_denied" {
        let _ = tell(
            broker,
            &pending.session,
            ServerMessage::provider_error(
                ErrorCode::AccessDenied,
                &provider.name,
                format!(
                    "You chose not to allow access at {}. Press Sign in to try again.",
                    provider.label
                ),
            ),
        )
        .await;
        metrics::counter!("oauth_broker_signins_failed_total", "provider" => provider.name.clone(), "reason" => "access_denied")
            .increment(1);
        return Page::problem("Sign-in cancelled", "You didn't allow access")
            .para(format!("Nothing was shared with the dashboard. If that was a mistake, go back to your dashboard and press Sign in again, then choose Allow at {}.", provider.label))
            .para("You can close this window.")
            .respond(StatusCode::OK);
    }
    let _ = tell(
        broker,
        &pending.session,
        ServerMessage::provider_error(
            ErrorCode::ProviderError,
            &provider.name,
            format!(
                "{} could not complete the sign-in. Try again in a moment.",
                provider.label
            ),
        ),
    )
    .await;
    metrics::counter!("oauth_broker_signins_failed_total", "provider" => provider.name.clone(), "reason" => "provider_error")
        .increment(1);
    Page::problem("Sign-in failed", "The provider reported a problem")
        .para(format!("{} could not complete the sign-in.", provider.label))
        .para("Close this window, go back to your dashboard and press Sign in again. If it keeps happening, ask whoever runs this service to check the provider's settings.")
        .respond(StatusCode::BAD_GATEWAY)
}

/// Hands a frame to the hub for the session, wherever it is; done once the frame is written
/// to the session's socket or parked for it.
async fn tell(broker: &Broker, session: &str, frame: ServerMessage) -> Result<(), StoreError> {
    broker.hub.token_ready(session, frame).await
}

fn rejected(
    broker: &Broker,
    provider: &str,
    reason: &'static str,
    page: HttpResponse,
) -> HttpResponse {
    metrics::counter!("oauth_broker_rejected_total", "reason" => reason).increment(1);
    // The provider name comes from the URL: only configured names become metric labels.
    let provider = match broker.providers.get(provider) {
        Some(p) => p.name.clone(),
        None => "unknown".to_owned(),
    };
    metrics::counter!("oauth_broker_signins_failed_total", "provider" => provider, "reason" => reason)
        .increment(1);
    page
}

fn bad_request_page() -> HttpResponse {
    Page::problem("Sign-in link incomplete", "This sign-in address is incomplete")
        .para("The address that brought you here is missing something the sign-in needs, or has it twice.")
        .para("Go back to your dashboard and press Sign in again.")
        .respond(StatusCode::BAD_REQUEST)
}

fn state_not_valid_page() -> HttpResponse {
    Page::problem("Sign-in expired", "This sign-in can't be completed")
        .para("It has expired, was already completed, or didn't start here. For your safety each sign-in works once.")
        .para("Go back to your dashboard and press Sign in again.")
        .respond(StatusCode::BAD_REQUEST)
}
