//! The provider catalogue (`src/oauth/presets.json`): checked against its schema, listed by
//! `oauth-broker providers`, resolved by `check-config` with `params` filled in and refused
//! when a value is missing or would move a URL elsewhere; and presets' quirks (scope
//! separator, PKCE, client authentication, extra parameters) as the provider sees them,
//! through the mock provider.

mod catalogue;
mod command_line;
mod quirks_on_the_wire;
