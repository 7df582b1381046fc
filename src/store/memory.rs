//! The single-replica store: everything in this process, behind one mutex per kind of record.
//! Expired records are refused on read and swept periodically, so memory stays bounded by what
//! is live.

use super::{
    AwaitedCheck, AwaitedSignin, CompletionReceipt, ConfirmOutcome, HeldGrant,
    MAX_UNACKED_PER_SESSION, PendingAuthorization, SigninTicket, UnackedFrame, code_matches,
};
use crate::clock::SharedClock;
use crate::secrets::{ConfirmationCode, ResumeSecret, SessionId, State, Ticket};
use crate::telemetry::catalog::{self, UnackedEvent};
use std::collections::HashMap;
use std::sync::Mutex;

struct Expiring<T> {
    value: T,
    /// Milliseconds since the epoch; `None` while the record is tied to a live connection.
    expires_at: Option<u64>,
}

impl<T> Expiring<T> {
    fn live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

type Table<T> = Mutex<HashMap<String, Expiring<T>>>;

pub struct MemoryStore {
    clock: SharedClock,
    tickets: Table<SigninTicket>,
    pending: Table<PendingAuthorization>,
    held: Table<HeldGrant>,
    resume: Table<SessionId>,
    unacked: Table<Vec<UnackedFrame>>,
    awaited: Table<AwaitedSignin>,
    receipts: Table<CompletionReceipt>,
}

fn lock<T>(table: &Table<T>) -> std::sync::MutexGuard<'_, HashMap<String, Expiring<T>>> {
    // A panic while holding the lock cannot leave a table half-updated (every update is a
    // single map operation), so a poisoned lock is safe to keep using.
    table.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            tickets: Mutex::default(),
            pending: Mutex::default(),
            held: Mutex::default(),
            resume: Mutex::default(),
            unacked: Mutex::default(),
            awaited: Mutex::default(),
            receipts: Mutex::default(),
        }
    }

    fn deadline(&self, ttl_secs: u64) -> Option<u64> {
        Some(crate::clock::deadline_millis(
            self.clock.now_millis(),
            ttl_secs,
        ))
    }

    fn put<T>(&self, table: &Table<T>, key: &str, value: T, ttl_secs: u64) {
        let expires_at = self.deadline(ttl_secs);
        lock(table).insert(key.to_owned(), Expiring { value, expires_at });
    }

    fn take<T>(&self, table: &Table<T>, key: &str) -> Option<T> {
        let now = self.clock.now_millis();
        lock(table)
            .remove(key)
            .filter(|e| e.live(now))
            .map(|e| e.value)
    }

    pub fn put_ticket(&self, ticket: &Ticket, value: SigninTicket, ttl_secs: u64) {
        self.put(&self.tickets, ticket.expose(), value, ttl_secs);
    }

    pub fn take_ticket(&self, ticket: &Ticket) -> Option<SigninTicket> {
        self.take(&self.tickets, ticket.expose())
    }

    pub fn put_pending(&self, state: &State, value: PendingAuthorization, ttl_secs: u64) {
        self.put(&self.pending, state.expose(), value, ttl_secs);
    }

    pub fn take_pending(&self, state: &State) -> Option<PendingAuthorization> {
        self.take(&self.pending, state.expose())
    }

    pub fn hold_grant(&self, session: &SessionId, grant: HeldGrant, ttl_secs: u64) {
        self.put(&self.held, session.expose(), grant, ttl_secs);
    }

    pub fn holds_grant(&self, session: &SessionId) -> bool {
        let now = self.clock.now_millis();
        lock(&self.held)
            .get(session.expose())
            .is_some_and(|entry| entry.live(now))
    }

    pub fn confirm(&self, session: &SessionId, typed: &str) -> ConfirmOutcome {
        let session = session.expose();
        let now = self.clock.now_millis();
        let mut held = lock(&self.held);
        let Some(entry) = held.get_mut(session) else {
            return ConfirmOutcome::NothingHeld;
        };
        if !entry.live(now) {
            held.remove(session);
            return ConfirmOutcome::NothingHeld;
        }
        if code_matches(&entry.value.code, typed) {
            let grant = held.remove(session).expect("present").value;
            return ConfirmOutcome::Granted(Box::new(grant));
        }
        entry.value.attempts_left = entry.value.attempts_left.saturating_sub(1);
        if entry.value.attempts_left == 0 {
            held.remove(session);
            ConfirmOutcome::TooManyAttempts
        } else {
            ConfirmOutcome::WrongCode {
                attempts_left: entry.value.attempts_left,
            }
        }
    }

    pub fn register_resume(&self, secret: &ResumeSecret, session: &SessionId, _ttl_secs: u64) {
        // In one process the connection itself releases the secret when it drops, so no
        // expiry is needed while it is live.
        lock(&self.resume).insert(
            secret.expose().to_owned(),
            Expiring {
                value: session.clone(),
                expires_at: None,
            },
        );
    }

    pub fn release_resume(&self, secret: &ResumeSecret, grace_secs: u64) {
        let deadline = self.deadline(grace_secs);
        if let Some(entry) = lock(&self.resume).get_mut(secret.expose()) {
            entry.expires_at = deadline;
        }
    }

    pub fn take_resume(&self, secret: &ResumeSecret) -> Option<SessionId> {
        self.take(&self.resume, secret.expose())
    }

    /// Keeps a frame routed to a session until it is acknowledged or `ttl_secs` pass; beyond
    /// the bound the oldest frame gives way.
    pub fn keep_unacked(&self, session: &SessionId, id: &str, frame: &str, ttl_secs: u64) {
        let now = self.clock.now_millis();
        let deadline = self.deadline(ttl_secs);
        let mut unacked = lock(&self.unacked);
        let entry = unacked
            .entry(session.expose().to_owned())
            .or_insert(Expiring {
                value: Vec::new(),
                expires_at: deadline,
            });
        if !entry.live(now) {
            catalog::unacked_frames(UnackedEvent::Expired, entry.value.len() as u64);
            entry.value.clear();
        }
        entry.expires_at = deadline;
        entry.value.push(UnackedFrame {
            id: id.to_owned(),
            json: frame.to_owned(),
            sent: false,
        });
        if entry.value.len() > MAX_UNACKED_PER_SESSION {
            entry.value.remove(0);
            catalog::unacked_frames(UnackedEvent::Dropped, 1);
        }
    }

    /// Every frame of the session not acknowledged yet, oldest first.
    pub fn unacked(&self, session: &SessionId) -> Vec<UnackedFrame> {
        let now = self.clock.now_millis();
        lock(&self.unacked)
            .get(session.expose())
            .filter(|e| e.live(now))
            .map(|e| e.value.clone())
            .unwrap_or_default()
    }

    /// Notes that these frames were written to a connection (so a resume counts them as sent
    /// again).
    pub fn mark_sent(&self, session: &SessionId, ids: &[String]) {
        if let Some(entry) = lock(&self.unacked).get_mut(session.expose()) {
            for frame in entry.value.iter_mut().filter(|f| ids.contains(&f.id)) {
                frame.sent = true;
            }
        }
    }

    /// Forgets an acknowledged frame; answers whether it was kept.
    pub fn ack(&self, session: &SessionId, id: &str) -> bool {
        let now = self.clock.now_millis();
        let mut unacked = lock(&self.unacked);
        let Some(entry) = unacked.get_mut(session.expose()).filter(|e| e.live(now)) else {
            return false;
        };
        let before = entry.value.len();
        entry.value.retain(|f| f.id != id);
        let acked = entry.value.len() < before;
        if entry.value.is_empty() {
            unacked.remove(session.expose());
        }
        acked
    }

    /// Sets how long the session's unacknowledged frames wait from now: the grace period
    /// when its connection drops, longer again when it resumes.
    pub fn expire_unacked(&self, session: &SessionId, ttl_secs: u64) {
        let now = self.clock.now_millis();
        let deadline = self.deadline(ttl_secs);
        if let Some(entry) = lock(&self.unacked)
            .get_mut(session.expose())
            .filter(|e| e.live(now))
        {
            entry.expires_at = deadline;
        }
    }

    pub fn await_signin(&self, session: &SessionId, awaited: AwaitedSignin, ttl_secs: u64) {
        self.put(&self.awaited, session.expose(), awaited, ttl_secs);
    }

    pub fn take_due_signin(&self, session: &SessionId, now_millis: u64) -> AwaitedCheck {
        let live_at = self.clock.now_millis();
        let mut awaited = lock(&self.awaited);
        match awaited.get(session.expose()) {
            Some(entry) if entry.live(live_at) => {
                if entry.value.due_millis > now_millis {
                    return AwaitedCheck::Until(entry.value.due_millis);
                }
                let entry = awaited.remove(session.expose()).expect("present");
                AwaitedCheck::Due(entry.value)
            }
            _ => AwaitedCheck::Nothing,
        }
    }

    pub fn end_awaited_signin(&self, session: &SessionId) {
        lock(&self.awaited).remove(session.expose());
    }

    pub fn keep_receipt(&self, state: &State, receipt: CompletionReceipt, ttl_secs: u64) {
        self.put(&self.receipts, state.expose(), receipt, ttl_secs);
    }

    pub fn receipt(&self, state: &State) -> Option<CompletionReceipt> {
        let now = self.clock.now_millis();
        lock(&self.receipts)
            .get(state.expose())
            .filter(|e| e.live(now))
            .map(|e| e.value.clone())
    }

    pub fn holds_code(&self, session: &SessionId, code: &ConfirmationCode) -> bool {
        let now = self.clock.now_millis();
        lock(&self.held)
            .get(session.expose())
            .is_some_and(|e| e.live(now) && code_matches(&e.value.code, code.expose()))
    }

    /// Drops every expired record; called periodically. Frames that expired unacknowledged
    /// are counted in the metrics.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now_millis();
        let expired_frames: usize = lock(&self.unacked)
            .values()
            .filter(|e| !e.live(now))
            .map(|e| e.value.len())
            .sum();
        catalog::unacked_frames(UnackedEvent::Expired, expired_frames as u64);
        fn sweep_table<T>(table: &Table<T>, now: u64) -> usize {
            let mut map = lock(table);
            let before = map.len();
            map.retain(|_, e| e.live(now));
            before - map.len()
        }
        sweep_table(&self.tickets, now)
            + sweep_table(&self.pending, now)
            + sweep_table(&self.held, now)
            + sweep_table(&self.resume, now)
            + sweep_table(&self.unacked, now)
            + sweep_table(&self.awaited, now)
            + sweep_table(&self.receipts, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::AdjustableClock;
    use crate::secrets::{AccessToken, ConfirmationCode};
    use std::sync::Arc;

    fn store() -> (Arc<AdjustableClock>, MemoryStore) {
        let clock = Arc::new(AdjustableClock::default());
        (clock.clone(), MemoryStore::new(clock))
    }

    fn ticket() -> SigninTicket {
        SigninTicket {
            session: SessionId::new("s"),
            provider: "demo".into(),
        }
    }

    fn grant(code: &str, attempts: u32) -> HeldGrant {
        HeldGrant {
            provider: "demo".into(),
            access_token: AccessToken::new("at"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            scope: None,
            refresh_token: None,
            id_token: None,
            claims: None,
            code: ConfirmationCode::new(code),
            attempts_left: attempts,
            receipt: None,
        }
    }

    #[test]
    fn tickets_are_single_use() {
        let (_, s) = store();
        s.put_ticket(&Ticket::new("t"), ticket(), 60);
        assert_eq!(s.take_ticket(&Ticket::new("t")), Some(ticket()));
        assert_eq!(s.take_ticket(&Ticket::new("t")), None);
    }

    #[test]
    fn tickets_expire() {
        let (clock, s) = store();
        s.put_ticket(&Ticket::new("t"), ticket(), 60);
        clock.advance_secs(61);
        assert_eq!(s.take_ticket(&Ticket::new("t")), None);
    }

    #[test]
    fn wrong_codes_are_counted_and_end_the_attempt() {
        let (_, s) = store();
        s.hold_grant(&SessionId::new("s"), grant("ABCD2345", 2), 60);
        assert_eq!(
            s.confirm(&SessionId::new("s"), "XXXX"),
            ConfirmOutcome::WrongCode { attempts_left: 1 }
        );
        assert_eq!(
            s.confirm(&SessionId::new("s"), "XXXX"),
            ConfirmOutcome::TooManyAttempts
        );
        assert_eq!(
            s.confirm(&SessionId::new("s"), "ABCD2345"),
            ConfirmOutcome::NothingHeld
        );
    }

    #[test]
    fn the_right_code_releases_once_and_tolerates_typing() {
        let (_, s) = store();
        s.hold_grant(&SessionId::new("s"), grant("ABCD2345", 5), 60);
        assert!(matches!(
            s.confirm(&SessionId::new("s"), "abcd-2345 "),
            ConfirmOutcome::Granted(_)
        ));
        assert_eq!(
            s.confirm(&SessionId::new("s"), "ABCD2345"),
            ConfirmOutcome::NothingHeld
        );
    }

    #[test]
    fn resume_secrets_last_while_live_then_for_the_grace_only() {
        let (clock, s) = store();
        s.register_resume(&ResumeSecret::new("r"), &SessionId::new("s"), 0);
        clock.advance_secs(10_000);
        s.release_resume(&ResumeSecret::new("r"), 120);
        clock.advance_secs(119);
        assert_eq!(
            s.take_resume(&ResumeSecret::new("r")),
            Some(SessionId::new("s"))
        );
        s.register_resume(&ResumeSecret::new("r2"), &SessionId::new("s"), 0);
        s.release_resume(&ResumeSecret::new("r2"), 120);
        clock.advance_secs(121);
        assert_eq!(s.take_resume(&ResumeSecret::new("r2")), None);
    }

    #[test]
    fn unacked_frames_stay_in_order_until_acknowledged() {
        let (_, s) = store();
        let session = SessionId::new("s");
        s.keep_unacked(&session, "a", "fa", 60);
        s.keep_unacked(&session, "b", "fb", 60);
        let ids = |s: &MemoryStore| -> Vec<String> {
            s.unacked(&session).into_iter().map(|f| f.id).collect()
        };
        assert_eq!(ids(&s), ["a", "b"]);
        assert_eq!(ids(&s), ["a", "b"], "reading takes nothing");
        assert!(s.ack(&session, "a"));
        assert!(!s.ack(&session, "a"), "an ack counts once");
        assert_eq!(ids(&s), ["b"]);
    }

    #[test]
    fn unacked_frames_expire_and_are_bounded() {
        let (clock, s) = store();
        let session = SessionId::new("s");
        for i in 0..MAX_UNACKED_PER_SESSION + 3 {
            s.keep_unacked(&session, &i.to_string(), "f", 60);
        }
        let kept = s.unacked(&session);
        assert_eq!(kept.len(), MAX_UNACKED_PER_SESSION);
        assert_eq!(kept[0].id, "3", "the oldest give way");
        s.expire_unacked(&session, 10);
        clock.advance_secs(11);
        assert!(s.unacked(&session).is_empty());
    }

    fn awaited(due_millis: u64) -> AwaitedSignin {
        AwaitedSignin {
            provider: "demo".into(),
            step: super::super::AwaitedStep::Link,
            due_millis,
        }
    }

    #[test]
    fn an_awaited_signin_is_taken_once_and_only_when_due() {
        let (_, s) = store();
        let session = SessionId::new("s");
        s.await_signin(&session, awaited(5_000), 60);
        assert_eq!(
            s.take_due_signin(&session, 4_999),
            AwaitedCheck::Until(5_000)
        );
        assert_eq!(
            s.take_due_signin(&session, 5_000),
            AwaitedCheck::Due(awaited(5_000))
        );
        assert_eq!(s.take_due_signin(&session, 9_999), AwaitedCheck::Nothing);
    }

    #[test]
    fn a_later_step_replaces_the_awaited_signin_and_an_end_clears_it() {
        let (_, s) = store();
        let session = SessionId::new("s");
        s.await_signin(&session, awaited(5_000), 60);
        s.await_signin(&session, awaited(9_000), 60);
        assert_eq!(
            s.take_due_signin(&session, 6_000),
            AwaitedCheck::Until(9_000)
        );
        s.end_awaited_signin(&session);
        assert_eq!(s.take_due_signin(&session, 10_000), AwaitedCheck::Nothing);
    }

    #[test]
    fn held_codes_are_checked_without_using_an_attempt() {
        let (_, s) = store();
        let session = SessionId::new("s");
        s.hold_grant(&session, grant("ABCD2345", 1), 60);
        assert!(s.holds_code(&session, &ConfirmationCode::new("ABCD2345")));
        assert!(!s.holds_code(&session, &ConfirmationCode::new("ZZZZ2345")));
        assert!(matches!(
            s.confirm(&session, "ABCD2345"),
            ConfirmOutcome::Granted(_)
        ));
        assert!(!s.holds_code(&session, &ConfirmationCode::new("ABCD2345")));
    }

    #[test]
    fn sweep_drops_expired_records() {
        let (clock, s) = store();
        s.put_ticket(&Ticket::new("t"), ticket(), 1);
        s.keep_unacked(&SessionId::new("x"), "i", "f", 1);
        clock.advance_secs(2);
        assert_eq!(s.sweep(), 2);
    }
}
