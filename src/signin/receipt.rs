//! The receipt of a completion page, so that the browser that got the page can reload it: the
//! `state` is spent by then, and without this a reload (or the provider's redirect opened
//! twice) would destroy the code the person still has to type.
//!
//! The first answer sets a cookie with a fresh random value; the store keeps, under the `state`,
//! the session, the code shown and a keyed digest of that value. A reload that sends the
//! cookie back shows the same code (no second code exchange: the `state` is gone), or says the
//! sign-in is done once the code was typed. The same URL without the cookie (from anywhere
//! else) is a replay and gets nothing. The cookie's value alone opens nothing: it works only
//! with its `state`, for the page it came with; its name is a digest of the `state`, so two
//! sign-ins completed in one browser each keep theirs.

use crate::broker::Broker;
use crate::random;
use crate::sealing::DigestKey;
use crate::secrets::{CompletionCookie, ConfirmationCode, SessionId, State};
use crate::store::{CompletionReceipt, StoreError};
use subtle::ConstantTimeEq;

/// How long after the held tokens stop waiting a reload still says how the sign-in ended.
pub const RECEIPT_OUTLIVES_CODE_SECS: u64 = 600;

/// The cookie the completion page sets. Its attributes (`HttpOnly`, the path, `Secure`,
/// `SameSite`) are the web layer's to add.
#[derive(Debug)]
pub struct ReceiptCookie {
    pub name: String,
    pub value: CompletionCookie,
    pub max_age_secs: u64,
}

/// What a reload of a completion page, in the browser that got it, is to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reloaded {
    /// The tokens still wait for the code the page showed.
    AwaitingCode {
        code: ConfirmationCode,
        expires_in: u64,
    },
    /// The tokens reached the session: the sign-in is done.
    Delivered,
    /// They never will: the code ran out or was mistyped too often, or a newer sign-in of the
    /// same session replaced it.
    Over,
}

/// A reload that is not one: no receipt for this `state`, or not this browser's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotThisBrowsers {
    /// No receipt: the `state` was never answered, or long ago.
    Unknown,
    /// A receipt, but the cookie is missing or wrong: the URL is replayed from elsewhere.
    Replayed,
}

fn digests(broker: &Broker) -> DigestKey {
    broker
        .sealer
        .key()
        .digest_key("oauth-broker completion receipts v1")
}

/// The cookie's name for the page of this `state`.
pub fn cookie_name(broker: &Broker, state: &State) -> String {
    let digest = digests(broker).hex(&[b"name", state.expose().as_bytes()], 8);
    format!("oauth_broker_receipt_{digest}")
}

fn cookie_digest(broker: &Broker, state: &State, value: &str) -> String {
    digests(broker).hex(&[b"value", state.expose().as_bytes(), value.as_bytes()], 32)
}

/// Keeps the receipt of the page answered for `state` and returns the cookie that goes with it.
/// A store that cannot take it costs the reload only: the page is still answered, without it.
pub async fn keep(
    broker: &Broker,
    state: &State,
    session: &SessionId,
    provider: &str,
    code: Option<&ConfirmationCode>,
) -> Option<ReceiptCookie> {
    let signin = &broker.settings.signin;
    let value = random::completion_cookie();
    let receipt = CompletionReceipt {
        session: session.clone(),
        provider: provider.to_owned(),
        cookie_digest: cookie_digest(broker, state, value.expose()),
        code: code.cloned(),
        code_due_millis: crate::clock::deadline_millis(
            broker.clock.now_millis(),
            signin.confirm_ttl_secs,
        ),
        // Without a code the tokens go to the session with this very answer.
        delivered: code.is_none(),
    };
    let ttl = signin
        .confirm_ttl_secs
        .saturating_add(RECEIPT_OUTLIVES_CODE_SECS);
    match broker.store.keep_receipt(state, &receipt, ttl).await {
        Ok(()) => Some(ReceiptCookie {
            name: cookie_name(broker, state),
            value,
            max_age_secs: ttl,
        }),
        Err(_) => {
            log::warn!(
                "sign-in {}: could not keep the completion page's receipt (store unavailable); a reload will not show the code",
                session.short()
            );
            None
        }
    }
}

/// The code shown for `state` was typed: a reload now says the sign-in is done.
pub async fn note_delivered(broker: &Broker, state: &State) {
    let Ok(Some(mut receipt)) = broker.store.receipt(state).await else {
        return;
    };
    receipt.delivered = true;
    let _ = broker
        .store
        .keep_receipt(state, &receipt, RECEIPT_OUTLIVES_CODE_SECS)
        .await;
}

/// What a reload of the page for `state`, with `sent` as the browser's cookie, is to show.
pub async fn reload(
    broker: &Broker,
    provider_in_path: &str,
    state: &State,
    sent: Option<&str>,
) -> Result<Result<Reloaded, NotThisBrowsers>, StoreError> {
    let Some(receipt) = broker.store.receipt(state).await? else {
        return Ok(Err(NotThisBrowsers::Unknown));
    };
    let genuine = sent.is_some_and(|value| {
        let digest = cookie_digest(broker, state, value);
        bool::from(digest.as_bytes().ct_eq(receipt.cookie_digest.as_bytes()))
    });
    if !genuine || receipt.provider != provider_in_path {
        return Ok(Err(NotThisBrowsers::Replayed));
    }
    if receipt.delivered {
        return Ok(Ok(Reloaded::Delivered));
    }
    let Some(code) = receipt.code else {
        return Ok(Ok(Reloaded::Over));
    };
    if !broker.store.holds_code(&receipt.session, &code).await? {
        return Ok(Ok(Reloaded::Over));
    }
    let left_millis = receipt
        .code_due_millis
        .saturating_sub(broker.clock.now_millis());
    Ok(Ok(Reloaded::AwaitingCode {
        code,
        expires_in: left_millis.div_ceil(1000),
    }))
}
