//! Restart belongs to the supervisor: `heal serve` supervises no program, so after a fix is
//! applied it runs the user's `serve.restart_command` (`systemctl restart ads-agent`), and
//! keeps how it ended in the record (`result.restart`) and tells the team.
//!
//! The command is the user's own, like the program `heal run` starts: it runs in the live
//! project with heal's environment, in its own process group, killed at
//! `serve.restart_timeout_s`. Its output is kept as a bounded tail, redacted.

use std::ffi::OsString;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::notify::Notifier;
use crate::prove::jail::Jail;
use crate::prove::run;
use crate::record::result::RestartNote;
use crate::record::{Store, off_thread};

/// Runs `serve.restart_command` for each incident whose fix was applied, in turn, until the
/// healer is gone.
pub async fn restarts(
    mut applied: mpsc::UnboundedReceiver<String>,
    config: Arc<Config>,
    store: Arc<Store>,
    notifier: Option<Notifier>,
) {
    let jail = Jail::none();
    while let Some(id) = applied.recv().await {
        let Some(command) = config.serve.restart_command.clone() else {
            let text = "the fix is applied on disk; no serve.restart_command is set, so the program runs the old code until it is restarted";
            tracing::info!("incident {id}: {text}");
            let (get_store, get_id) = (store.clone(), id.clone());
            let record = off_thread("read the incident", move || get_store.get(&get_id)).await;
            if let (Some(n), Some(record)) = (&notifier, record) {
                n.stage(&record, &format!("ℹ️ {text}"));
            }
            continue;
        };
        let note = restart(&command, &config, &jail).await;
        let ok = note.succeeded();
        tracing::info!(
            "incident {id}: `{command}` {}",
            if ok {
                "restarted the program"
            } else {
                "failed"
            }
        );
        let text = if ok {
            format!("🔄 restarted with `{command}`")
        } else {
            format!(
                "⚠️ `{command}` failed ({}): the fix is applied on disk but the program may still run the old code",
                describe(&note)
            )
        };
        let (save_store, redactor) = (store.clone(), config.redactor.clone());
        let saved = off_thread("record the restart", move || {
            save_store.update(&id, |r| {
                r.result_mut().restart = Some(note);
                r.redact(&redactor);
            })
        })
        .await;
        if let (Some(n), Some(record)) = (&notifier, saved) {
            n.stage(&record, &text);
        }
    }
}

/// Runs `command` with `sh -c` in the project, bounded by `serve.restart_timeout_s`.
async fn restart(command: &str, config: &Config, jail: &Jail) -> RestartNote {
    let at = crate::record::rfc3339(time::OffsetDateTime::now_utc());
    let args = [OsString::from("-c"), OsString::from(command)];
    let ran = run::execute(&run::Spec {
        program: "sh".as_ref(),
        args: &args,
        cwd: &config.root,
        env: &[],
        timeout: config.serve.restart_timeout,
        jail,
        writable: &[],
    })
    .await;
    match ran {
        Ok(outcome) => RestartNote {
            command: command.to_string(),
            at,
            exit_code: outcome.exit,
            timed_out: outcome.timed_out,
            duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            output_tail: outcome.output_tail,
        },
        Err(e) => RestartNote {
            command: command.to_string(),
            at,
            exit_code: None,
            timed_out: false,
            duration_ms: 0,
            output_tail: format!("it could not start: {e}"),
        },
    }
}

fn describe(note: &RestartNote) -> String {
    if note.timed_out {
        "still running after serve.restart_timeout_s, killed".to_string()
    } else {
        match note.exit_code {
            Some(code) => format!("exit {code}"),
            None if note.output_tail.starts_with("it could not start") => note.output_tail.clone(),
            None => "ended by a signal".to_string(),
        }
    }
}
