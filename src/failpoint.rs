//! Failpoints: named places where the fault-injection tests kill heal (SIGKILL, as a power loss
//! or the OOM killer would), to prove the journal and recovery. Compiled in only with the
//! `failpoints` feature; without it [`hit`] is an empty inline function.
//!
//! `HEAL_FAILPOINT=<name>` arms one: the process kills itself the first time it gets there;
//! `<name>@<n>`, the n-th time.
//!
//! The same variable also turns on a switch, a safety layer turned off so a test can show that
//! the next one holds: `skip-scan` drops the scan of added lines from the scope policy, so a
//! hostile fix the scan would refuse reaches the proof and its sandbox (issue 12). A switch
//! exists only with the feature: [`switched_on`] has no stand-in without it, and its callers
//! are compiled in only with the feature too, so a normal build cannot turn a layer off.

/// Kills heal here when `HEAL_FAILPOINT` names this place (with the `failpoints` feature).
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Only one failpoint is armed per process, so one counter serves.
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Ok(armed) = std::env::var("HEAL_FAILPOINT") else {
        return;
    };
    let (armed, nth) = match armed.split_once('@') {
        Some((n, k)) => (n.to_string(), k.parse::<usize>().unwrap_or(1)),
        None => (armed, 1),
    };
    if armed == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        eprintln!("heal: failpoint {name}: killing heal");
        // SIGKILL to itself: no destructor, no flush, nothing heal could tidy up.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Whether `HEAL_FAILPOINT` turns on the switch `name` (only with the `failpoints` feature).
#[cfg(feature = "failpoints")]
pub fn switched_on(name: &str) -> bool {
    std::env::var("HEAL_FAILPOINT").is_ok_and(|armed| armed == name)
}

/// Without the `failpoints` feature, nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
