//! Single use of authorization codes (RFC 6749 §4.1.2: a code is redeemed at most once).
//!
//! Codes themselves are sealed and stateless, so any replica can redeem one; only this record of
//! redeemed codes is per process. With several replicas a code could therefore be redeemed once
//! per replica; that is acceptable for a demo stand-in, and a real provider keeps this record
//! centrally.

use std::collections::HashMap;

/// Codes live 60 seconds, so even a busy demo holds few; past this many live entries new
/// redemptions are refused rather than letting the set grow without bound.
pub const MAX_TRACKED_CODES: usize = 10_000;

/// Identifiers of redeemed codes, each kept until its code would have expired anyway.
#[derive(Debug, Default)]
pub struct RedeemedCodes {
    expiry_by_id: HashMap<String, u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Redemption {
    First,
    Replay,
    /// Too many live codes to track: refused, so single use is never silently given up.
    Full,
}

impl RedeemedCodes {
    /// Records the code `id` (expiring at `expires_at`) as redeemed, saying whether it was new.
    pub fn redeem(&mut self, id: &str, expires_at: u64, now: u64) -> Redemption {
        if self.expiry_by_id.contains_key(id) {
            return Redemption::Replay;
        }
        if self.expiry_by_id.len() >= MAX_TRACKED_CODES {
            // An expired code is refused by its own expiry, so forgetting it loses nothing.
            self.expiry_by_id.retain(|_, expiry| *expiry > now);
            if self.expiry_by_id.len() >= MAX_TRACKED_CODES {
                return Redemption::Full;
            }
        }
        self.expiry_by_id.insert(id.to_owned(), expires_at);
        Redemption::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_redeemed_once() {
        let mut codes = RedeemedCodes::default();
        assert_eq!(codes.redeem("a", 160, 100), Redemption::First);
        assert_eq!(codes.redeem("a", 160, 101), Redemption::Replay);
        assert_eq!(codes.redeem("b", 160, 101), Redemption::First);
    }

    #[test]
    fn the_set_is_bounded_and_forgets_only_expired_codes() {
        let mut codes = RedeemedCodes::default();
        for i in 0..MAX_TRACKED_CODES {
            assert_eq!(codes.redeem(&i.to_string(), 160, 100), Redemption::First);
        }
        assert_eq!(codes.redeem("late", 170, 110), Redemption::Full);
        // Once they have expired, room is made.
        assert_eq!(codes.redeem("later", 230, 170), Redemption::First);
        assert_eq!(codes.expiry_by_id.len(), 1);
    }
}
