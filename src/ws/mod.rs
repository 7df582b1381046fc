//! The only code that knows about sockets: the per-connection actor, the `SessionHub` actor
//! that routes results to the right connection, the JSON protocol between extension and
//! broker, and the frames each sign-in outcome becomes. The byte-level serving of an upgraded
//! socket is the transport's (`crate::transport::upgrade`).

pub mod answers;
pub mod connection;
pub mod hub;
pub mod protocol;
