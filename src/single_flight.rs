//! Single flight: of several callers asking for the same thing at once, one does the work and
//! every one of them gets its result; a finished result stays for a short window, so a caller
//! just behind (a second tab, a second copy of an extension) gets it too instead of starting
//! the work again. Used for refreshes of one handle: providers that rotate refresh tokens
//! accept each one once, so a second token request with the same handle would kill it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

pub struct Flights<T> {
    flights: Arc<Mutex<HashMap<String, Flight<T>>>>,
    window_millis: u64,
}

enum Flight<T> {
    Running(watch::Receiver<Option<T>>),
    /// Finished at this time (milliseconds since the epoch).
    Done(T, u64),
}

/// What joining a flight gives a caller.
pub enum Joined<T> {
    /// No flight for the key: this caller does the work and finishes the flight with it.
    Lead(Lead<T>, watch::Receiver<Option<T>>),
    /// A flight is running: its result arrives here.
    Wait(watch::Receiver<Option<T>>),
    /// A flight finished within the window: its result.
    Finished(T),
}

/// The duty to finish a flight. Dropped unfinished (the work panicked or was cancelled), the
/// flight ends without a result and its waiters see the channel close.
pub struct Lead<T> {
    key: String,
    result: watch::Sender<Option<T>>,
    flights: Arc<Mutex<HashMap<String, Flight<T>>>>,
    finished: bool,
}

fn lock<T>(map: &Mutex<HashMap<String, Flight<T>>>) -> MutexGuard<'_, HashMap<String, Flight<T>>> {
    // Every update is one map operation: a poisoned lock still guards a consistent map.
    map.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: Clone> Flights<T> {
    pub fn new(window_millis: u64) -> Self {
        Self {
            flights: Arc::default(),
            window_millis,
        }
    }

    pub fn join(&self, key: &str, now_millis: u64) -> Joined<T> {
        let mut flights = lock(&self.flights);
        match flights.get(key) {
            Some(Flight::Running(waiting)) => return Joined::Wait(waiting.clone()),
            Some(Flight::Done(result, at)) if now_millis < at + self.window_millis => {
                return Joined::Finished(result.clone());
            }
            _ => {}
        }
        let (result, waiting) = watch::channel(None);
        flights.insert(key.to_owned(), Flight::Running(waiting.clone()));
        Joined::Lead(
            Lead {
                key: key.to_owned(),
                result,
                flights: self.flights.clone(),
                finished: false,
            },
            waiting,
        )
    }

    /// Drops results older than the window; called periodically.
    pub fn sweep(&self, now_millis: u64) {
        let window = self.window_millis;
        lock(&self.flights).retain(|_, flight| match flight {
            Flight::Running(_) => true,
            Flight::Done(_, at) => now_millis < *at + window,
        });
    }
}

impl<T: Clone> Lead<T> {
    /// Hands the result to every waiter; `keep` leaves it for the window's later callers.
    pub fn finish(mut self, result: T, keep: bool, now_millis: u64) {
        self.finished = true;
        let mut flights = lock(&self.flights);
        if keep {
            flights.insert(self.key.clone(), Flight::Done(result.clone(), now_millis));
        } else {
            flights.remove(&self.key);
        }
        drop(flights);
        self.result.send_replace(Some(result));
    }
}

impl<T> Drop for Lead<T> {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.flights).remove(&self.key);
        }
    }
}

/// Waits for a flight's result; `None` if it ended without one.
pub async fn result_of<T: Clone>(mut waiting: watch::Receiver<Option<T>>) -> Option<T> {
    waiting
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|result| result.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn one_leads_the_others_wait_and_latecomers_get_the_result_in_the_window() {
        let flights = Flights::<u32>::new(1000);
        let Joined::Lead(lead, mine) = flights.join("k", 0) else {
            panic!("the first caller leads");
        };
        let Joined::Wait(theirs) = flights.join("k", 1) else {
            panic!("the second waits");
        };
        assert!(matches!(flights.join("other", 1), Joined::Lead(..)));
        lead.finish(7, true, 10);
        assert_eq!(result_of(mine).await, Some(7));
        assert_eq!(result_of(theirs).await, Some(7));
        assert!(matches!(flights.join("k", 500), Joined::Finished(7)));
        assert!(matches!(flights.join("k", 1010), Joined::Lead(..)));
    }

    #[actix_web::test]
    async fn an_abandoned_flight_ends_without_a_result() {
        let flights = Flights::<u32>::new(1000);
        let Joined::Lead(lead, mine) = flights.join("k", 0) else {
            panic!("leads");
        };
        drop(lead);
        assert_eq!(result_of(mine).await, None);
        assert!(matches!(flights.join("k", 1), Joined::Lead(..)));
    }

    #[actix_web::test]
    async fn a_result_not_kept_is_not_shared_later() {
        let flights = Flights::<u32>::new(1000);
        let Joined::Lead(lead, _) = flights.join("k", 0) else {
            panic!("leads");
        };
        lead.finish(1, false, 0);
        assert!(matches!(flights.join("k", 1), Joined::Lead(..)));
    }
}
