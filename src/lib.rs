//! oauth-broker: signs Tableau dashboard extensions in to OAuth 2.0 providers over a WebSocket,
//! keeping the client secret on the server.
//!
//! One sign-in, top to bottom: the extension's WebSocket (`ws::connection`, registered with the
//! `ws::hub::SessionHub` actor) asks for a link (`signin::begin`); the link is opened
//! (`routes::signin` → `signin::authorize`); the provider redirects back (`routes::complete` →
//! `signin::complete`, code exchange through `oauth`); `/complete` sends `TokenReady` to the
//! hub, which forwards the frame to the session's connection; the person types the code
//! (`signin::confirm`); later the extension renews (`signin::refresh`).
//!
//! Layers, imports running one way: the web layer (`routes`, `ws`, `transport`, `pages`,
//! `access_log`) over the sign-in steps (`signin`, sharing `broker::Broker`) over the OAuth
//! client (`oauth`), the store (`store`), sealing (`sealing`), limits, secrets, randomness,
//! the clock, the query parser and telemetry. `startup` and `cli` assemble them.

pub mod access_log;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod limits;
pub mod oauth;
pub mod pages;
pub mod query;
pub mod random;
pub mod routes;
pub mod sealing;
pub mod secrets;
pub mod settings;
pub mod signin;
pub mod single_flight;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod transport;
pub mod validation;
pub mod ws;
