//! One exception, heard twice: under `heal run`, a program that reports through the Sentry SDK
//! both prints its traceback and sends an event for the same crash. Counted once: whichever
//! comes first is recorded as the occurrence, and the other, arriving within [`WINDOW`] with
//! the same fingerprint, is its twin. An event's twin still brings what the printout lacks (the
//! frames' locals, the SDK's report), merged into the record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How far apart the two halves of one exception may arrive: the SDK sends from a background
/// thread and flushes at exit, the printout goes through the pipe.
pub const WINDOW: Duration = Duration::from_secs(10);
/// At most this many unmatched halves are remembered per kind; the oldest are forgotten.
const MAX_WAITING: usize = 1024;

/// Fingerprints heard one way and waiting for their twin.
#[derive(Debug, Default)]
pub struct Twins {
    printed: HashMap<String, Instant>,
    reported: HashMap<String, Instant>,
}

/// How a half was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Printed,
    Reported,
}

impl Twins {
    /// Whether `fingerprint`, heard as `half` at `now`, is the twin of the other half heard
    /// within the window (then that half is matched and forgotten); otherwise it waits for its
    /// own twin.
    pub fn is_twin(&mut self, half: Half, fingerprint: &str, now: Instant) -> bool {
        let (mine, other) = match half {
            Half::Printed => (&mut self.printed, &mut self.reported),
            Half::Reported => (&mut self.reported, &mut self.printed),
        };
        if let Some(at) = other.remove(fingerprint)
            && now.saturating_duration_since(at) <= WINDOW
        {
            return true;
        }
        mine.retain(|_, at| now.saturating_duration_since(*at) <= WINDOW);
        if mine.len() >= MAX_WAITING
            && let Some(oldest) = mine
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            mine.remove(&oldest);
        }
        mine.insert(fingerprint.to_string(), now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_half_matches_one_twin_within_the_window_in_either_order() {
        let t0 = Instant::now();
        let mut twins = Twins::default();
        assert!(!twins.is_twin(Half::Printed, "a", t0));
        assert!(twins.is_twin(Half::Reported, "a", t0 + Duration::from_secs(1)));
        // Matched: the next event of the same error is an occurrence of its own.
        assert!(!twins.is_twin(Half::Reported, "a", t0 + Duration::from_secs(2)));
        assert!(twins.is_twin(Half::Printed, "a", t0 + Duration::from_secs(3)));
        // Another error is not a twin; nor is a half heard too long after.
        assert!(!twins.is_twin(Half::Printed, "b", t0));
        assert!(!twins.is_twin(Half::Reported, "c", t0));
        assert!(!twins.is_twin(Half::Reported, "b", t0 + WINDOW + Duration::from_secs(1)));
    }

    #[test]
    fn the_waiting_halves_are_bounded() {
        let t0 = Instant::now();
        let mut twins = Twins::default();
        for i in 0..MAX_WAITING + 10 {
            twins.is_twin(Half::Printed, &format!("f{i}"), t0);
        }
        assert!(twins.printed.len() <= MAX_WAITING);
    }
}
