//! Failpoints: named places where the fault-injection tests kill heal (SIGKILL, as a power loss
//! or the OOM killer would), to prove the journal and recovery. Compiled in only with the
//! `failpoints` feature; without it [`hit`] is an empty inline function.
//!
//! `HEAL_FAILPOINT=<name>` arms one: the process kills itself the first time it gets there;
//! `<name>@<n>`, the n-th time.

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

/// Without the `failpoints` feature, nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
