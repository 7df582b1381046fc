//! oauth-broker: signs Tableau dashboard extensions in to OAuth 2.0 providers over a WebSocket,
//! keeping the client secret on the server.
//!
//! One sign-in, top to bottom: `ws` (the extension's connection and the `SessionHub`),
//! `routes::signin` (ticket to provider), `routes::complete` (provider back to broker, code
//! exchange through `oauth`), `store` (tickets, states, held grants, resumable sessions), and the
//! frame handed back through the hub to the connection.

pub mod access_log;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod limits;
pub mod oauth;
pub mod pages;
pub mod random;
pub mod routes;
pub mod seal;
pub mod sensitive;
pub mod server;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod validation;
pub mod ws;
