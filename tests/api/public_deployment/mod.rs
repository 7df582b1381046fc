//! Safe defaults for a public deployment (issue 16): per-address limits that one address or one
//! IPv6 /64 cannot dodge or turn on others, client addresses read through the proxies the
//! deployment files ship, the demo provider kept off public binds, strict production settings,
//! and the alert rules and dashboard naming metrics the broker really exports.

mod forwarded_for;
mod observability;
mod per_address;
