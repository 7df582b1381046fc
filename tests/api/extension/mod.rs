//! What an extension author and a dashboard author rely on outside the sign-in itself: the
//! manifest as served, the page's framing policy, and the JavaScript client module.

mod client_module;
mod manifest_and_framing;
