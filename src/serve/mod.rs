//! `heal serve`: the ingest server the Sentry SDKs report to, and the healing of what they
//! report.
//!
//! A program given the DSN `heal serve` prints (`sentry_sdk.init(dsn=...)`) posts its errors
//! here. Each event becomes a [`crate::record::build::Finding`] through [`crate::ingest`], and
//! then takes the path a printed traceback takes under `heal run`: the same fingerprint,
//! record, redaction and alert ([`record`]), in the same store, so a `heal run` and a
//! `heal serve` on one project share their incidents.
//!
//! - [`key`]: the project key, configured or generated once and kept.
//! - [`limits`]: the hourly budgets and the ids seen, in memory.
//! - [`routes`]: the HTTP routes and how each refusal is answered.
//! - [`record`]: the finding into the store, to the team, and to the healer.
//! - [`heal`]: the healer, proving with `serve.rerun_command`.
//! - [`restart`]: `serve.restart_command` after a fix was applied.
//!
//! Invariants: it binds loopback unless told otherwise, and never listens beyond it without a
//! configured key (a generated one is on disk for anyone who can read the storage folder, and
//! the DSN is printed). A store failure is answered 503 and the server stays up. It stops on
//! SIGINT, SIGTERM or SIGHUP through the services' one shutdown.

pub mod heal;
pub mod key;
pub mod limits;
pub mod record;
pub mod restart;
pub mod routes;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;
use crate::pipeline::services::{Ending, Services};
use crate::record::build::RunContext;
use crate::record::{RecordError, Store};
use key::{KeyError, KeySource};
use limits::{Budgets, SeenIds};
use record::{Recorder, Sink};
use routes::{App, Memory, PROJECT_ID};

/// The address `heal serve` listens on when not told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "--listen {addr} is not a loopback address, and no project key is configured: set serve.key in heal.toml (or HEAL_SERVE_KEY) to a long random value before listening beyond this machine, or listen on 127.0.0.1"
    )]
    OpenWithoutKey { addr: SocketAddr },
    #[error(transparent)]
    Store(#[from] RecordError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// `verify.sandbox = "required"` and no sandbox starts: heal serve does not start.
    #[error(transparent)]
    Sandbox(#[from] crate::prove::jail::JailError),
    #[error(
        "cannot listen on {addr}: {source}; choose another address with --listen (another heal serve may be running there)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install a signal handler: {0}")]
    Signal(#[source] std::io::Error),
    #[error("the server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// Refuses a bind beyond loopback without a configured key; a configuration error (exit 2).
pub fn check_listen(config: &Config, addr: SocketAddr) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || config.serve.key.as_deref().is_some_and(|k| !k.is_empty()) {
        Ok(())
    } else {
        Err(ServeError::OpenWithoutKey { addr })
    }
}

/// Runs the server until SIGINT, SIGTERM or SIGHUP. Prints the DSN on stdout once it listens.
pub async fn run(config: Arc<Config>, listen: SocketAddr) -> Result<(), ServeError> {
    check_listen(&config, listen)?;
    let store = Arc::new(Store::open_for(&config)?);
    let (key, source) = key::project_key(config.serve.key.as_deref(), &config.storage_dir)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: listen,
        source,
    })?;
    let stop = stop_signal()?;
    let dsn = crate::ingest::dsn(&key, &local.to_string(), PROJECT_ID);
    // The DSN alone on stdout, so a script can take it (`heal serve | head -1`); the rest is
    // heal's log on stderr.
    println!("{dsn}");
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
    tracing::info!(
        "heal serve listens on {local} for the project in {}; give your program this DSN (sentry_sdk.init(dsn=...) or SENTRY_DSN): {dsn}{}",
        config.root.display(),
        match source {
            KeySource::Configured => " (its key is serve.key)",
            KeySource::Kept => " (its key is kept in the storage folder's serve.key)",
            KeySource::Generated =>
                " (its key was generated and is kept in the storage folder's serve.key)",
        }
    );
    tracing::info!(
        "the dashboard at http://{local}/ (the records as JSON at /api/incidents and /api/stats, Prometheus metrics at /metrics)"
    );
    if local.ip().is_unspecified() {
        tracing::info!(
            "the DSN names {}: programs on other machines use this machine's address instead",
            local.ip()
        );
    }
    // The key is a secret every stage's redactor must know: a program may print its DSN.
    let config = Arc::new(Config {
        redactor: config.redactor.with_secret(&key),
        ..(*config).clone()
    });
    let mut services = Services::start(config.clone(), Some(store.clone()));
    let healing = heal::Healing::start(&config, &store, &mut services).await?;
    let recorder = Recorder {
        store,
        behind: Arc::default(),
        notifier: services.notifier.clone(),
        redactor: config.redactor.clone(),
        run: RunContext {
            command: Vec::new(),
            tags: Default::default(),
            skip_reason: (!config.auto_healing).then(|| {
                "auto-healing is disabled (ENABLE_AUTO_HEALING=false): detected, recorded and reported only"
                    .to_string()
            }),
        },
        healing: healing.as_ref().map(|h| h.queue.clone()),
    };
    let app = app(
        &config,
        key,
        &local,
        Sink::Store(Box::new(recorder.clone())),
    );
    // The exports a burst left behind the database, brought up to date once a second.
    let exporter = {
        let (behind, store) = (recorder.behind.clone(), recorder.store.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(record::EXPORT_EVERY);
            loop {
                tick.tick().await;
                behind.write(&store).await;
            }
        })
    };
    let (behind, export_store) = (recorder.behind.clone(), recorder.store.clone());
    // The router holds the only other queue to the healer: gone with it.
    drop(recorder);
    // On a fleet's store the pages read a copy of the fleet's incidents, kept by the mirror
    // below, so the dashboard's indexed queries serve the fleet's figures.
    let view = match export_store.shared() {
        Some(_) => Arc::new(Store::open(&config.storage_dir.join("fleet-view"))?),
        None => export_store.clone(),
    };
    let dashboard = Arc::new(crate::dashboard::Dashboard {
        store: export_store.clone(),
        view: view.clone(),
        config: config.clone(),
        queue: healing.as_ref().map(|h| h.queue.clone()),
        max_calls_per_hour: config.healing.max_calls_per_hour,
        ingest: app.clone(),
    });
    // On a fleet's store: what this host kept while the database was down is delivered, and
    // a healing heal serve heals what the fleet's agents report.
    let fleet_stop = tokio_util::sync::CancellationToken::new();
    let mut fleet_tasks = Vec::new();
    if export_store.shared().is_some() {
        fleet_tasks.push(tokio::spawn(crate::fleet::mirror(
            config.clone(),
            export_store.clone(),
            view,
            fleet_stop.clone(),
        )));
        fleet_tasks.push(tokio::spawn(crate::fleet::deliver(
            config.clone(),
            export_store.clone(),
            fleet_stop.clone(),
        )));
        if let Some(queue) = healing.as_ref().map(|h| h.queue.clone()) {
            fleet_tasks.push(tokio::spawn(crate::fleet::offer_waiting(
                config.clone(),
                export_store.clone(),
                move |id| {
                    queue.heal(&id);
                    true
                },
                fleet_stop.clone(),
            )));
        }
    }
    let routes = routes::router(app).merge(crate::dashboard::router(dashboard));
    let served = axum::serve(listener, routes)
        .with_graceful_shutdown(stop)
        .await;
    tracing::info!("heal serve stops");
    fleet_stop.cancel();
    for task in fleet_tasks {
        let _ = task.await;
    }
    exporter.abort();
    behind.write(&export_store).await;
    if let Some(healing) = healing {
        healing.stop().await;
    }
    // The router (and the notifier's clone in it) is gone: Slack's queue drains, bounded.
    services.shutdown(Ending::Finished).await;
    served.map_err(ServeError::Serve)
}

/// The routes' shared state for the project of `config`, listening at `local`.
fn app(config: &Config, key: String, local: &SocketAddr, sink: Sink) -> Arc<App> {
    Arc::new(App {
        key,
        dsn: crate::ingest::dsn("KEY", &local.to_string(), PROJECT_ID),
        roots: roots(&config.root),
        sink,
        events_per_hour: config.serve.events_per_hour,
        events_per_fingerprint_hour: config.serve.events_per_fingerprint_hour,
        memory: Mutex::new(Memory {
            budgets: Budgets::new(
                config.serve.events_per_hour,
                config.serve.events_per_fingerprint_hour,
                Instant::now(),
            ),
            seen: SeenIds::default(),
        }),
        counts: Default::default(),
    })
}

/// The ingest of one `heal run`: on loopback, with a key of its own, its findings sent to the
/// run's incidents task. The child gets [`RunIngest::dsn`] as `SENTRY_DSN`.
pub struct RunIngest {
    pub dsn: String,
    /// The key, for the redactor: a program printing its DSN must not leak it.
    pub key: String,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunIngest {
    /// Listens on 127.0.0.1 (a port of the system's choice) for `heal run`.
    pub async fn start(
        config: &Config,
        detected: tokio::sync::mpsc::Sender<crate::supervise::Detected>,
    ) -> Result<RunIngest, ServeError> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener = tokio::net::TcpListener::bind(any)
            .await
            .map_err(|source| ServeError::Bind { addr: any, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr: any, source })?;
        let key = key::fresh_key()?;
        let dsn = crate::ingest::dsn(&key, &local.to_string(), PROJECT_ID);
        let app = app(config, key.clone(), &local, Sink::Run(detected));
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, routes::router(app))
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::warn!(
                    "the run's ingest stopped: {e}; errors the program reports through its SDK are no longer received"
                );
            }
        });
        Ok(RunIngest {
            dsn,
            key,
            stop,
            task,
        })
    }

    /// Stops taking events and waits for the ones in flight (bounded), so the incidents task's
    /// channel closes.
    pub async fn stop(self) {
        self.stop.cancel();
        let task = self.task;
        if tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .is_err()
        {
            tracing::warn!("the run's ingest did not stop within 5 s");
        }
    }
}

/// The first SIGINT, SIGTERM or SIGHUP. Installed before the DSN is printed, so a signal sent
/// as soon as it shows is never missed.
fn stop_signal() -> Result<impl Future<Output = ()> + Send + 'static, ServeError> {
    let listen = |kind: SignalKind| signal(kind).map_err(ServeError::Signal);
    let mut int = listen(SignalKind::interrupt())?;
    let mut term = listen(SignalKind::terminate())?;
    let mut hup = listen(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    })
}

/// The project root as given and, when it differs, canonical: an SDK reports the paths the
/// program saw, which may go through a symlink either way.
fn roots(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![root.to_string_lossy().into_owned()];
    if let Ok(canonical) = std::fs::canonicalize(root) {
        let c = canonical.to_string_lossy().into_owned();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}
