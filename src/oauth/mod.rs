//! The OAuth 2.0 client: provider presets, authorization URLs with PKCE, and the token
//! endpoint (code exchange and refresh) over awc. It knows nothing of sessions or sockets.

pub mod authorize;
pub mod catalogue_listing;
pub mod exchange;
pub mod fetch;
pub mod oidc;
pub mod pkce;
pub mod presets;
pub mod provider;

pub use exchange::{ExchangeError, TokenClient, TokenSet};
pub use provider::{Provider, Providers};
