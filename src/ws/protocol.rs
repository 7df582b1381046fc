//! The WebSocket protocol: JSON text frames tagged by `"type"`, parsed in this one place
//! (docs/PROTOCOL.md describes it for people writing their own client).

use crate::oauth::oidc::IdClaims;
use crate::secrets::{
    AccessToken, ConfirmationCode, IdToken, RefreshHandle, ResumeSecret, SessionId, SigninLink,
};
use serde::{Deserialize, Serialize};

/// Frames the extension sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Asks for a sign-in link; `provider` defaults to the first configured one.
    Begin {
        #[serde(default)]
        provider: Option<String>,
    },
    /// The code the person read on the completion page.
    Confirm { code: ConfirmationCode },
    /// A sealed handle from an earlier `signedin`.
    Refresh { refresh: RefreshHandle },
    /// The client has the frame that carried this `id`: it is not sent again.
    Ack { id: FrameId },
}

/// The `id` of a frame routed through the hub. The broker sends strings; the contract does not
/// fix the JSON type, so an `ack` may carry a string or an integer, kept here as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrameId(pub String);

impl<'de> Deserialize<'de> for FrameId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) if !text.is_empty() && text.len() <= 64 => {
                Ok(FrameId(text))
            }
            serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Ok(FrameId(n.to_string())),
            _ => Err(serde::de::Error::custom(
                "an id is a string of at most 64 characters or an integer",
            )),
        }
    }
}

/// Frames the broker sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    Hello {
        session: SessionId,
        resume: ResumeSecret,
        providers: Vec<String>,
        heartbeat_secs: u64,
    },
    Signin {
        provider: String,
        url: SigninLink,
        expires_in: u64,
    },
    Confirm {
        provider: String,
        expires_in: u64,
    },
    Signedin {
        provider: String,
        access_token: AccessToken,
        token_type: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_in: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        refresh: Option<RefreshHandle>,
        /// OpenID Connect providers: the validated ID token, and who it says signed in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id_token: Option<IdToken>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claims: Option<IdClaims>,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidMessage,
    UnknownProvider,
    AccessDenied,
    Expired,
    ProviderError,
    BadCode,
    TooManyAttempts,
    RateLimited,
    ReauthRequired,
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownProvider => "unknown_provider",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::Expired => "expired",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::BadCode => "bad_code",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ReauthRequired => "reauth_required",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            provider: None,
        }
    }

    pub fn provider_error(code: ErrorCode, provider: &str, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            provider: Some(provider.to_owned()),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialise")
    }

    /// The frame with the `id` the hub gave it, for the client to acknowledge.
    pub fn to_json_with_id(&self, id: &str) -> String {
        let mut value = serde_json::to_value(self).expect("server frames always serialise");
        if let serde_json::Value::Object(fields) = &mut value {
            fields.insert("id".into(), id.into());
        }
        value.to_string()
    }

    /// A short label for logs and metrics; never the content.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Hello { .. } => "hello",
            ServerMessage::Signin { .. } => "signin",
            ServerMessage::Confirm { .. } => "confirm",
            ServerMessage::Signedin { .. } => "signedin",
            ServerMessage::Error { .. } => "error",
        }
    }
}

/// Why a client frame was not understood; the text goes back in an `invalid_message` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidMessage(pub String);

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, InvalidMessage> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| InvalidMessage("frames must be JSON objects".into()))?;
        let kind = value
            .get("type")
            .ok_or_else(|| InvalidMessage("frames need a \"type\" field".into()))?
            .as_str()
            .ok_or_else(|| InvalidMessage("\"type\" must be a string".into()))?;
        if !matches!(kind, "begin" | "confirm" | "refresh" | "ack") {
            return Err(InvalidMessage(
                "unknown \"type\"; expected begin, confirm, refresh or ack".into(),
            ));
        }
        let kind = kind.to_owned();
        serde_json::from_value(value).map_err(|_| {
            InvalidMessage(match kind.as_str() {
                "begin" => "begin takes an optional string \"provider\"".into(),
                "confirm" => "confirm needs a string \"code\"".into(),
                "ack" => "ack needs the \"id\" of the frame it acknowledges".into(),
                _ => "refresh needs a string \"refresh\" handle".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_frame_parses() {
        assert_eq!(
            ClientMessage::parse(r#"{"type":"begin"}"#),
            Ok(ClientMessage::Begin { provider: None })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"begin","provider":"demo"}"#),
            Ok(ClientMessage::Begin {
                provider: Some("demo".into())
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"confirm","code":"AB12"}"#),
            Ok(ClientMessage::Confirm {
                code: ConfirmationCode::new("AB12")
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"refresh","refresh":"v1.x"}"#),
            Ok(ClientMessage::Refresh {
                refresh: RefreshHandle::new("v1.x")
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ack","id":"f1"}"#),
            Ok(ClientMessage::Ack {
                id: FrameId("f1".into())
            })
        );
        assert_eq!(
            ClientMessage::parse(r#"{"type":"ack","id":7}"#),
            Ok(ClientMessage::Ack {
                id: FrameId("7".into())
            })
        );
    }

    #[test]
    fn a_routed_frame_carries_its_id() {
        let frame = ServerMessage::Confirm {
            provider: "demo".into(),
            expires_in: 300,
        };
        let json: serde_json::Value = serde_json::from_str(&frame.to_json_with_id("abc")).unwrap();
        assert_eq!(json["id"], "abc");
        assert_eq!(json["type"], "confirm");
    }

    #[test]
    fn malformed_frames_say_why() {
        for bad in [
            "",
            "nope",
            "[]",
            "{}",
            r#"{"type":1}"#,
            r#"{"type":"launch"}"#,
            r#"{"type":"confirm"}"#,
            r#"{"type":"confirm","code":5}"#,
            r#"{"type":"begin","provider":7}"#,
            r#"{"type":"refresh"}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","id":""}"#,
            r#"{"type":"ack","id":1.5}"#,
            r#"{"type":"ack","id":null}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_frames_have_the_contract_shape() {
        let frame = ServerMessage::Signedin {
            provider: "demo".into(),
            access_token: AccessToken::new("at"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            scope: None,
            refresh: None,
            id_token: None,
            claims: None,
        };
        let json: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(json["type"], "signedin");
        assert_eq!(json["access_token"], "at");
        assert!(json.get("refresh").is_none());
        let err = ServerMessage::error(ErrorCode::TooManyAttempts, "x").to_json();
        assert!(err.contains("\"code\":\"too_many_attempts\""));
        assert!(!format!("{frame:?}").contains("\"at\""));
    }
}
