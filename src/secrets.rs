//! One type per kind of secret, so that two of them cannot be swapped and still compile, and
//! none can reach a log line by accident: `Debug` and `Display` print `[redacted]`.
//!
//! Each wraps `secrecy::SecretString` (zeroised on drop); `expose()` is the one door to the
//! value, for the places that must send it (a token request, a frame, a store key). Serialising
//! is transparent, because the token frame and the store's sealed records need the real value.
//! Equality is constant-time (`subtle`), as a comparison of a secret should be.
//!
//! The PKCE verifier is deliberately not `Clone` (as in oauth2-rs): it is minted once, stored
//! with its pending authorization, and consumed once by the code exchange.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use subtle::ConstantTimeEq;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name(SecretString);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The real value, for the one place that must send or store it.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }

            pub fn is_empty(&self) -> bool {
                self.expose().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
            }
        }

        impl Eq for $name {}

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.expose())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

macro_rules! cloneable {
    ($($name:ident),*) => {
        $(impl Clone for $name {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        })*
    };
}

secret_type!(
    /// The 20-character ID a connection is registered under in the `SessionHub`. Whoever has
    /// it could receive another session's tokens if it ever left the broker in a URL, so it is
    /// a secret like the rest; logs carry its first characters only ([`SessionId::short`]).
    SessionId
);
secret_type!(
    /// The single-use secret of `?resume=`, handed out in each `hello`.
    ResumeSecret
);
secret_type!(
    /// The one-time sign-in link's ticket (`/signin/{ticket}`), never the session ID.
    Ticket
);
secret_type!(
    /// The OAuth `state` of one authorization attempt: single use, expiring (RFC 9700 §4.7).
    State
);
secret_type!(
    /// The PKCE code verifier (RFC 7636 §4.1). Not `Clone`: minted once, used once.
    PkceVerifier
);
secret_type!(
    /// The authorization code the provider redirected back with.
    AuthorizationCode
);
secret_type!(
    /// An access token, for the extension only.
    AccessToken
);
secret_type!(
    /// A refresh token: the broker keeps none; it travels sealed in a [`RefreshHandle`].
    RefreshToken
);
secret_type!(
    /// The opaque sealed refresh handle of a `signedin` frame.
    RefreshHandle
);
secret_type!(
    /// The confirmation code shown on the completion page and typed into the extension.
    ConfirmationCode
);
secret_type!(
    /// A sign-in link (`{callback_url}/signin/{ticket}`): it carries the ticket.
    SigninLink
);
secret_type!(
    /// The OpenID Connect `nonce` of one authorization (Core §3.1.2.1): single use, stored with
    /// its pending authorization, and required back in the ID token.
    Nonce
);
secret_type!(
    /// An ID token (a signed JWT), for the extension only, once validated.
    IdToken
);
secret_type!(
    /// A finished refresh as JSON (its new access token and sealed handle, or why it failed),
    /// shared by every caller of one single flight, in process and through the store.
    SharedRefresh
);

secret_type!(
    /// The value of the cookie a completion page sets, by which a reload in the same browser
    /// is told from the same URL replayed elsewhere. Only its keyed digest is stored.
    CompletionCookie
);

cloneable!(
    CompletionCookie,
    SharedRefresh,
    SessionId,
    ResumeSecret,
    Ticket,
    State,
    AuthorizationCode,
    AccessToken,
    RefreshToken,
    RefreshHandle,
    ConfirmationCode,
    SigninLink,
    Nonce,
    IdToken
);

impl SessionId {
    /// Enough of a session ID to follow it through logs without making it usable.
    pub fn short(&self) -> &str {
        let id = self.expose();
        &id[..id.len().min(6)]
    }
}

/// Session IDs are map keys in the hub's registry and the store.
impl std::hash::Hash for SessionId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.expose().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let token = AccessToken::new("BQD-very-secret");
        assert_eq!(format!("{token:?}"), "[redacted]");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(token.expose(), "BQD-very-secret");
        let verifier = PkceVerifier::new("v".repeat(43));
        assert_eq!(format!("{verifier:?}"), "[redacted]");
    }

    #[test]
    fn serialises_as_the_plain_string() {
        let token = RefreshToken::new("abc");
        assert_eq!(serde_json::to_string(&token).unwrap(), "\"abc\"");
        let back: RefreshToken = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, token);
    }

    #[test]
    fn a_session_id_logs_in_short_form() {
        let id = SessionId::new("AbCdEfGhIjKlMnOpQrSt");
        assert_eq!(id.short(), "AbCdEf");
        assert_eq!(format!("{id:?}"), "[redacted]");
        assert_eq!(SessionId::new("abc").short(), "abc");
    }
}
