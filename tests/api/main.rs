//! The integration tests: one binary, a module per area (as zero2prod's `tests/api/main.rs`).
//!
//! One binary is one process, running the tests on parallel threads: what is global to a
//! process is shared by all of them. The metrics recorder is (a test that needs exact deltas
//! runs alone in a child process, `helpers::own_process`); servers the helpers start stop when
//! their guard drops rather than when the process exits; every port is the system's choice
//! (port 0) except the image test's, which only that test binds.

mod helpers;

mod abuse;
mod browser;
mod browser_client;
mod browser_completion;
mod browser_layout;
mod browser_recovery;
mod browser_tableau;
mod cli;
mod complete_outcomes;
mod concurrency;
mod config;
mod extension;
mod http_surface;
mod image;
mod layers;
mod openid;
mod operations;
mod properties;
mod protocol;
mod providers;
mod public_deployment;
mod redis_cluster;
mod redis_sentinel;
mod redis_tls;
mod refresh;
pub(crate) mod replicas;
mod signin_expiry;
mod signin_flow;
mod tls;
mod urls_from_configuration;
mod websocket;
