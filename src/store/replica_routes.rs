//! The route to the replica that holds a session. Each replica has an identity for its run and
//! a delivery channel of its own; a session's connection records where it is (replica and
//! connection) under a key of the session's, with an expiry its connection keeps refreshing.
//! A result parked for the session is announced on that replica's channel only, so the work of
//! a delivery does not grow with the number of replicas; a session resumed elsewhere ends its
//! older connection by a message on the older replica's channel.
//!
//! Pub/sub is at most once, so an announcement only saves waiting: the frame itself is parked
//! first, and a resume anywhere collects it. A replica that dies stops refreshing its sessions'
//! records, which then expire; until then announcements for them go to a channel nobody reads.
//!
//! Names are built here and only here, with Redis Cluster's hash tags in mind: the channel is
//! `{prefix}r:{<replica>}` (one slot per replica, for sharded pub/sub), the record is one of
//! the session's own keys, so it sits in the session's slot with its parked frames.
//!
//! The record is not sealed: it holds no secret, only where a session is connected. Whoever can
//! write to Redis could misdirect an announcement with it (the frame stays parked and sealed
//! under its session) or end a connection (the client resumes), nothing more than deleting keys.

use crate::random;
use crate::secrets::SessionId;
use std::fmt;

/// A replica's identity for this run.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReplicaId(String);

impl ReplicaId {
    pub fn random() -> Self {
        Self(random::replica_id())
    }

    /// Only what [`ReplicaId::random`] makes: alphanumerics, so it cannot break a channel name
    /// or the record's separator.
    fn parse(text: &str) -> Option<Self> {
        (!text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(text.to_owned()))
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplicaId({})", self.0)
    }
}

/// The delivery channel of a replica.
pub fn channel(prefix: &str, replica: &ReplicaId) -> String {
    format!("{prefix}r:{{{replica}}}")
}

/// Where a session is connected: the replica, and which of its connections (a serial unique
/// within the replica's run), so an ending meant for an older connection never closes a newer
/// one of the same session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub replica: ReplicaId,
    pub connection: u64,
}

impl Location {
    /// The record's value: `replica:connection`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.replica, self.connection)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (replica, connection) = text.split_once(':')?;
        Some(Self {
            replica: ReplicaId::parse(replica)?,
            connection: connection.parse().ok()?,
        })
    }
}

/// What a replica's channel carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A frame was parked for this session, connected on the replica that hears it.
    Parked(SessionId),
    /// The session was resumed on another replica: its connection `connection` here ends.
    Ended { session: SessionId, connection: u64 },
}

impl Announcement {
    pub fn encode(&self) -> String {
        match self {
            Announcement::Parked(session) => format!("p:{}", session.expose()),
            Announcement::Ended {
                session,
                connection,
            } => format!("e:{}:{connection}", session.expose()),
        }
    }

    /// Anything else on the channel (an older replica's format, a stray PUBLISH) is ignored.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(payload).ok()?;
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "p" => Some(Announcement::Parked(session(rest)?)),
            "e" => {
                let (id, connection) = rest.split_once(':')?;
                Some(Announcement::Ended {
                    session: session(id)?,
                    connection: connection.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

/// A session ID as the contract fixes it: 20 of `[A-Za-z0-9]`.
fn session(text: &str) -> Option<SessionId> {
    (text.len() == 20 && text.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| SessionId::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_channel_carries_its_identity_as_a_hash_tag() {
        let replica = ReplicaId::parse("AbC123").unwrap();
        assert_eq!(
            channel("oauth-broker:", &replica),
            "oauth-broker:r:{AbC123}"
        );
    }

    #[test]
    fn random_replica_ids_are_20_alphanumerics_and_differ() {
        let (a, b) = (ReplicaId::random(), ReplicaId::random());
        assert_eq!(a.to_string().len(), 20);
        assert_eq!(ReplicaId::parse(&a.to_string()), Some(a.clone()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_location_round_trips_and_refuses_anything_else() {
        let here = Location {
            replica: ReplicaId::random(),
            connection: 42,
        };
        assert_eq!(Location::parse(&here.encode()), Some(here));
        for bad in ["", "abc", "abc:", ":7", "a-b:7", "abc:x", "abc:7:8"] {
            assert_eq!(Location::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn announcements_round_trip() {
        let session = SessionId::new("A".repeat(20));
        for announcement in [
            Announcement::Parked(session.clone()),
            Announcement::Ended {
                session,
                connection: 7,
            },
        ] {
            let encoded = announcement.encode();
            assert_eq!(Announcement::parse(encoded.as_bytes()), Some(announcement));
        }
    }

    #[test]
    fn malformed_announcements_are_ignored() {
        let twenty = "B".repeat(20);
        for bad in [
            twenty.clone(),
            format!("p:{}", "B".repeat(19)),
            format!("p:{twenty}x"),
            format!("e:{twenty}"),
            format!("e:{twenty}:-1"),
            format!("x:{twenty}"),
            "p:bad/sessionidbad/12".to_owned(),
        ] {
            assert_eq!(Announcement::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(Announcement::parse(&[0xff, b':', b'a']), None);
    }
}
