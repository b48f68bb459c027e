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

/// Arms [`hit`] to fire `after` from now, from another thread: for a place where heal waits on
/// something else (a push in flight), so the kill lands while it is under way.
#[cfg(feature = "failpoints")]
pub fn hit_soon(name: &'static str, after: std::time::Duration) {
    if std::env::var("HEAL_FAILPOINT").is_ok_and(|armed| armed.split('@').next() == Some(name)) {
        std::thread::spawn(move || {
            std::thread::sleep(after);
            hit(name);
        });
    }
}

/// Without the `failpoints` feature, nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit_soon(_name: &'static str, _after: std::time::Duration) {}

/// Without the `failpoints` feature, nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
