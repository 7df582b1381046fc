//! The only code that knows about sockets: the per-connection actor, the `SessionHub` that
//! routes results to the right connection, and the JSON protocol between extension and broker.

pub mod connection;
pub mod hub;
pub mod protocol;
pub mod upgrade;
