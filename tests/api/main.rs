//! The integration tests: one binary, a module per area (as zero2prod's `tests/api/main.rs`).

mod helpers;

mod abuse;
mod browser;
mod cli;
mod complete_outcomes;
mod concurrency;
mod config;
mod http_surface;
mod image;
mod operations;
mod properties;
mod replicas;
mod signin_flow;
mod tls;
mod websocket;
