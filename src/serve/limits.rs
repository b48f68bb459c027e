//! What `heal serve` keeps in memory to bound its work: the hourly event budgets (per project
//! and per fingerprint) and the event ids seen last, so a resent event counts once.
//!
//! Pure: the caller passes the time. Nothing here survives a restart, by design: a restart
//! gives a noisy program a fresh hour, and an event resent across a restart is counted twice,
//! both harmless next to keeping a table on disk for every event.
//!
//! Decisions:
//! - **Fixed windows.** A budget's hour starts with its first event and ends an hour later; a
//!   window past its end starts again at the next event. Cheaper and easier to explain than a
//!   sliding window, and a burst at the window's edge costs at most twice the budget.
//! - **A fingerprint's wait is short.** The SDK honours `X-Sentry-Rate-Limits` for the whole
//!   `error` category, not for one error: asked to wait an hour, it would drop every other
//!   error of the program too. So a fingerprint over budget asks for at most
//!   [`FINGERPRINT_RETRY_CAP`]; the project over budget asks for the rest of its hour.
//! - **An event only counts when it is recorded.** A refused one takes nothing from either
//!   budget, so the record's occurrences are the events answered 200.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// The length of a budget's window.
pub const HOUR: Duration = Duration::from_secs(3600);

/// The longest wait asked of an SDK when one fingerprint is over its budget.
pub const FINGERPRINT_RETRY_CAP: Duration = Duration::from_secs(60);

/// How many fingerprints' windows are kept; past it the ended windows are dropped, and if
/// none has ended, all are (a few more events then get through, memory stays bounded).
const MAX_FINGERPRINTS: usize = 10_000;

/// How many event ids are remembered.
pub const SEEN_IDS: usize = 10_000;

/// The longest event id kept (the SDKs send 32 hex digits).
const MAX_ID: usize = 64;

/// Which budget refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Project,
    Fingerprint,
}

/// An event over budget: how long the sender should wait, and which budget it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
    pub scope: Scope,
}

impl Limited {
    /// Whole seconds, at least 1: `Retry-After: 0` would invite the SDK to send again at once.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u64,
}

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            start: now,
            count: 0,
        }
    }

    fn ended(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.start) >= HOUR
    }

    /// The window as it stands at `now`: a new one when this one has ended.
    fn current(&mut self, now: Instant) -> &mut Window {
        if self.ended(now) {
            *self = Window::new(now);
        }
        self
    }

    fn left(&self, now: Instant) -> Duration {
        HOUR.saturating_sub(now.saturating_duration_since(self.start))
    }
}

/// The hourly budgets of one project.
#[derive(Debug)]
pub struct Budgets {
    per_project: u64,
    per_fingerprint: u64,
    project: Window,
    fingerprints: HashMap<String, Window>,
}

impl Budgets {
    pub fn new(per_project: u64, per_fingerprint: u64, now: Instant) -> Budgets {
        Budgets {
            per_project,
            per_fingerprint,
            project: Window::new(now),
            fingerprints: HashMap::new(),
        }
    }

    /// Counts one event of `fingerprint` when both budgets have room; otherwise counts
    /// nothing and says how long to wait.
    pub fn take(&mut self, fingerprint: &str, now: Instant) -> Result<(), Limited> {
        let project = self.project.current(now);
        if project.count >= self.per_project {
            return Err(Limited {
                retry_after: project.left(now),
                scope: Scope::Project,
            });
        }
        if !self.fingerprints.contains_key(fingerprint)
            && self.fingerprints.len() >= MAX_FINGERPRINTS
        {
            self.fingerprints.retain(|_, w| !w.ended(now));
            if self.fingerprints.len() >= MAX_FINGERPRINTS {
                self.fingerprints.clear();
            }
        }
        let window = self
            .fingerprints
            .entry(fingerprint.to_string())
            .or_insert_with(|| Window::new(now))
            .current(now);
        if window.count >= self.per_fingerprint {
            return Err(Limited {
                retry_after: window.left(now).min(FINGERPRINT_RETRY_CAP),
                scope: Scope::Fingerprint,
            });
        }
        window.count += 1;
        self.project.count += 1;
        Ok(())
    }

    /// Gives back what [`Budgets::take`] counted, for an event that was then not recorded
    /// (the store failed).
    pub fn give_back(&mut self, fingerprint: &str) {
        self.project.count = self.project.count.saturating_sub(1);
        if let Some(w) = self.fingerprints.get_mut(fingerprint) {
            w.count = w.count.saturating_sub(1);
        }
    }
}

/// The last [`SEEN_IDS`] event ids, oldest forgotten first.
#[derive(Debug, Default)]
pub struct SeenIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl SeenIds {
    /// Notes `id`; `false` when it was already there (the event was seen).
    pub fn insert(&mut self, id: &str) -> bool {
        let id = normalize(id);
        if self.set.contains(&id) {
            return false;
        }
        if self.order.len() >= SEEN_IDS
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.set.insert(id);
        true
    }

    /// Forgets `id`, for an event that was then not recorded: its resend must count.
    pub fn remove(&mut self, id: &str) {
        let id = normalize(id);
        if self.set.remove(&id) {
            self.order.retain(|seen| *seen != id);
        }
    }
}

/// The SDKs write ids as 32 hex digits, others with dashes (a UUID): one event either way.
fn normalize(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .take(MAX_ID)
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_over_budget_waits_at_most_a_minute_and_others_go_on() {
        let t0 = Instant::now();
        let mut b = Budgets::new(1000, 2, t0);
        assert!(b.take("a", t0).is_ok());
        assert!(b.take("a", t0).is_ok());
        let limited = b.take("a", t0).unwrap_err();
        assert_eq!(limited.scope, Scope::Fingerprint);
        assert_eq!(limited.retry_after, FINGERPRINT_RETRY_CAP);
        assert!(b.take("b", t0).is_ok());
        // Near the window's end the wait is what is left of it.
        let late = t0 + HOUR - Duration::from_millis(1500);
        assert_eq!(b.take("a", late).unwrap_err().retry_after_secs(), 2);
        // A new hour, a new budget.
        assert!(b.take("a", t0 + HOUR).is_ok());
    }

    #[test]
    fn the_project_over_budget_waits_for_the_rest_of_its_hour() {
        let t0 = Instant::now();
        let mut b = Budgets::new(2, 100, t0);
        assert!(b.take("a", t0).is_ok());
        assert!(b.take("b", t0).is_ok());
        let later = t0 + Duration::from_secs(600);
        let limited = b.take("c", later).unwrap_err();
        assert_eq!(limited.scope, Scope::Project);
        assert_eq!(limited.retry_after_secs(), 3000);
        // A refused event counted nothing, and a given-back one frees its place.
        b.give_back("b");
        assert!(b.take("c", later).is_ok());
    }

    #[test]
    fn fingerprints_stay_bounded() {
        let t0 = Instant::now();
        let mut b = Budgets::new(u64::MAX, 1, t0);
        for i in 0..MAX_FINGERPRINTS + 5 {
            assert!(b.take(&i.to_string(), t0).is_ok());
        }
        assert!(b.fingerprints.len() <= MAX_FINGERPRINTS);
    }

    #[test]
    fn an_id_counts_once_until_forgotten() {
        let mut seen = SeenIds::default();
        assert!(seen.insert("8a2f0c3e4b5d6e7f8a9b0c1d2e3f4a5b"));
        assert!(!seen.insert("8A2F0C3E-4B5D-6E7F-8A9B-0C1D2E3F4A5B"));
        seen.remove("8a2f0c3e4b5d6e7f8a9b0c1d2e3f4a5b");
        assert!(seen.insert("8a2f0c3e4b5d6e7f8a9b0c1d2e3f4a5b"));
        for i in 0..SEEN_IDS {
            seen.insert(&format!("{i:032x}"));
        }
        assert_eq!(seen.order.len(), SEEN_IDS);
        assert_eq!(seen.set.len(), SEEN_IDS);
        // The oldest was forgotten.
        assert!(seen.insert("8a2f0c3e4b5d6e7f8a9b0c1d2e3f4a5b"));
    }
}
