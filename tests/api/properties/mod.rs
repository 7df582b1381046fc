//! Properties of everything that parses outside input: WebSocket frames, the `/complete` and
//! `/signin` query strings and paths, sealed refresh handles, resume secrets, `Origin` values and
//! typed confirmation codes. The pure parsers first, then the same inputs over real HTTP and a
//! real WebSocket against one app they all share (`shared_app`).
//!
//! Whatever the input, the answer is a refusal the contract names (a 400 page, an `error`
//! frame), never a panic, a 500 or a dropped socket.

mod frames;
mod over_http;
mod over_websocket;
mod queries;
mod resume_origins_codes;
mod sealed_handles;
mod shared_app;
mod strategies;

/// The key the shared app seals refresh handles with, so the tests can forge near-misses.
const SEAL_KEY: [u8; 32] = [0x5e; 32];

/// Case counts: the pure parsers are cheap; every HTTP or WebSocket case is a real request.
const PURE_CASES: u32 = 1024;
const HTTP_CASES: u32 = 256;
const WS_CASES: u32 = 256;
