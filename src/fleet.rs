//! A fleet's two background duties in `heal run`, on the shared store (PostgreSQL):
//!
//! - a **healer** offers its healing queue the incidents that wait for one: those the agents
//!   reported (agents never heal), and those whose healer died (its lease ran out). The claim
//!   in the store settles which healer heals each: one healing per error for the fleet.
//! - an **agent** follows the fixes: when a fix for an error its program hit is pushed, it
//!   pulls it into its own checkout (`git pull --ff-only`, never over local changes) and has
//!   its program restarted on it. The record says which hosts followed, and when.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::commit::git::{Cmd, Git};
use crate::config::Config;
use crate::notify::Notifier;
use crate::record::model::Followed;
use crate::record::{Store, off_thread, rfc3339};

/// Incidents offered to the healer per look.
const OFFER_BATCH: i64 = 16;

/// Healer: every `poll`, offers the healer (`offer`, false once it is gone) the incidents that
/// wait for one, until cancelled.
/// An incident offered is offered again only after a lease's length (it may have been taken
/// by another healer, whose lease then decides).
pub async fn offer_waiting(
    config: Arc<Config>,
    store: Arc<Store>,
    offer: impl Fn(String) -> bool,
    cancel: CancellationToken,
) {
    let mut offered: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.fleet.poll) => {}
        }
        let shared = store.clone();
        let Some(waiting) =
            off_thread(
                "look for incidents waiting for a healer",
                move || match shared.shared() {
                    Some(pg) => Ok(pg.waiting(OFFER_BATCH)?),
                    None => Ok(Vec::new()),
                },
            )
            .await
        else {
            continue;
        };
        offered.retain(|_, at| at.elapsed() < config.fleet.lease);
        for id in waiting {
            if offered.contains_key(&id) {
                continue;
            }
            tracing::info!("incident {id}: waiting for a healer in the fleet's store: healing it");
            if !offer(id.clone()) {
                return;
            }
            offered.insert(id, Instant::now());
        }
    }
}

/// How an agent has its program restarted on a fix it pulled, and sees that it was.
pub struct Restarts {
    pub ask: mpsc::UnboundedSender<String>,
    /// The count of the program's starts so far.
    pub starts: tokio::sync::watch::Receiver<u64>,
}

/// How long an agent waits for its program to start again on a fix it pulled (a program in
/// its restart backoff starts at the end of it).
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Agent: every `poll`, pulls each pushed fix of an error this host saw and asks for a
/// restart of the program on it, until cancelled.
pub async fn follow(
    config: Arc<Config>,
    store: Arc<Store>,
    notifier: Option<Notifier>,
    mut restarts: Restarts,
    cancel: CancellationToken,
) {
    // Incidents whose pull was refused, said once each.
    let mut refused: HashMap<String, String> = HashMap::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.fleet.poll) => {}
        }
        let shared = store.clone();
        let Some(fixes) = off_thread("look for fixes to follow", move || match shared.shared() {
            Some(pg) => pg.to_follow(),
            None => Ok(Vec::new()),
        })
        .await
        else {
            continue;
        };
        for record in fixes {
            match pull(&config).await {
                Ok(commit) => {
                    // Recorded once the program has started on the pulled code: until then,
                    // its errors are the old code's, and count on this fix's incident.
                    let before = *restarts.starts.borrow_and_update();
                    let _ = restarts.ask.send(record.id.clone());
                    let restarted = tokio::select! {
                        r = tokio::time::timeout(
                            RESTART_WAIT,
                            restarts.starts.wait_for(|n| *n > before),
                        ) => matches!(r, Ok(Ok(_))),
                        _ = cancel.cancelled() => false,
                    };
                    let host = config.fleet.host.clone();
                    let followed = Followed {
                        host: host.clone(),
                        at: rfc3339(time::OffsetDateTime::now_utc()),
                        commit: commit.clone(),
                        restarted,
                    };
                    let store = store.clone();
                    let id = record.id.clone();
                    let saved = off_thread("record that this host followed the fix", move || {
                        store.update(&id, |r| {
                            if !r.followed.iter().any(|f| f.host == followed.host) {
                                r.followed.push(followed);
                            }
                        })
                    })
                    .await;
                    let what = if restarted {
                        "its program was restarted on it"
                    } else {
                        "its program did not start again"
                    };
                    tracing::info!(
                        "incident {}: followed its fix ({}): {what}",
                        record.id,
                        short(&commit)
                    );
                    if let (Some(n), Some(record)) = (&notifier, saved) {
                        n.stage(
                            &record,
                            &format!("🔁 {host} pulled the fix ({}): {what}", short(&commit)),
                        );
                    }
                }
                Err(why) => {
                    if refused.get(&record.id) != Some(&why) {
                        let text = format!(
                            "incident {}: the fix was pushed, but this host does not follow it: {why}",
                            record.id
                        );
                        tracing::warn!("{text}");
                        if let Some(n) = &notifier {
                            n.notice(&format!("⚠️ {} {text}", config.fleet.host));
                        }
                        refused.insert(record.id.clone(), why);
                    }
                }
            }
        }
    }
}

/// Pulls the checkout's branch from its upstream, fast-forward only, refusing local changes
/// to tracked files. Returns the commit the checkout is at.
async fn pull(config: &Config) -> Result<String, String> {
    let git = match Git::open(&config.root).await {
        Ok(Some(git)) => git,
        Ok(None) => return Err("the project is not in a git repository".to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let changed = git
        .git(["status", "--porcelain", "--untracked-files=no"])
        .await
        .map_err(|e| e.to_string())?;
    if !changed.trim().is_empty() {
        let files: Vec<&str> = changed.lines().map(|l| l.get(3..).unwrap_or(l)).collect();
        return Err(format!(
            "its checkout has local changes ({}): commit or discard them, then `git pull --ff-only`",
            files.join(", ")
        ));
    }
    git.run(Cmd::new(["pull", "--ff-only", "--quiet"]).timeout(config.git.push_timeout))
        .await
        .map_err(|e| e.to_string())?;
    git.git(["rev-parse", "HEAD"])
        .await
        .map_err(|e| e.to_string())
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Any host of a fleet: every `poll`, delivers what it kept while the fleet's store was down,
/// until cancelled. A server still down is tried again at the next look, quietly: the outage
/// was said when it began.
pub async fn deliver(config: Arc<Config>, store: Arc<Store>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.fleet.poll) => {}
        }
        let store = store.clone();
        let done = tokio::task::spawn_blocking(move || {
            if store.buffered()? == 0 {
                return Ok(0);
            }
            store.deliver_buffered()
        })
        .await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(crate::record::RecordError::Postgres(e))) if e.is_unreachable() => {
                tracing::debug!("{e}");
            }
            Ok(Err(e)) => tracing::error!("cannot deliver the incidents kept on this host: {e}"),
            Err(e) => tracing::error!("cannot deliver the incidents kept on this host: {e}"),
        }
    }
}

/// How far back each look of the mirror reaches before the previous one: a write committed
/// late (its transaction began before the previous look) is still copied.
const MIRROR_OVERLAP: f64 = 30.0;

/// heal serve on a fleet's store: every `poll`, copies the project's incidents written since
/// the last look (and the last hour's model calls) into `view`, the dashboard's store, until
/// cancelled.
pub async fn mirror(
    config: Arc<Config>,
    store: Arc<Store>,
    view: Arc<Store>,
    cancel: CancellationToken,
) {
    let mut since = 0.0_f64;
    loop {
        let (store, view2) = (store.clone(), view.clone());
        let from = since;
        let looked = tokio::task::spawn_blocking(move || {
            let Some(pg) = store.shared() else {
                return Ok(from);
            };
            let changes = pg.changed_since(from)?;
            for record in &changes.records {
                view2.mirror(record)?;
            }
            let hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
            view2.mirror_llm_calls(hour_ago, &pg.llm_calls(hour_ago)?)?;
            Ok::<_, crate::record::RecordError>(changes.read_at - MIRROR_OVERLAP)
        })
        .await;
        match looked {
            Ok(Ok(next)) => since = next.max(since),
            Ok(Err(crate::record::RecordError::Postgres(e))) if e.is_unreachable() => {
                tracing::debug!("{e}");
            }
            Ok(Err(e)) => {
                tracing::error!("cannot copy the fleet's incidents for the dashboard: {e}")
            }
            Err(e) => tracing::error!("cannot copy the fleet's incidents for the dashboard: {e}"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.fleet.poll) => {}
        }
    }
}
