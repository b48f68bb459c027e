//! The command line: `heal run`, `heal serve`, `heal list`, `heal show`, `heal doctor`.
//!
//! This is the edge: errors become `anyhow` with what to do next, printed as `heal: ...`.
//! Exit codes: the child's status for `run`, 2 for a configuration or usage error, 1 otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::config::{Config, Overrides};
use crate::inspect;
use crate::pipeline::{self, RunOptions};
use crate::record::Store;

#[derive(Debug, Parser)]
#[command(
    name = "heal",
    version,
    about = "A self-healing supervisor: runs your program, catches its errors and tells the team, \
             fixes them (instant rules, or a model), proves each fix in a sandboxed copy, \
             applies and commits it, and restarts the program"
)]
struct Cli {
    /// The project root (default: the git top-level of the current folder, else the folder).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a program under heal: pass its output through, catch its errors, fix them, restart
    /// it.
    ///
    /// Settings come from heal.toml and .env, read from the project root (the git top-level
    /// of the current folder, or --root), then from the environment, which overrides both.
    /// `heal init` writes a commented heal.toml; `heal doctor` shows every setting and where it
    /// came from.
    ///
    /// Exit status: the program's last exit status (128 + N when signal N ended it); 2 for a
    /// configuration or usage error; 1 when heal itself fails.
    ///
    /// Ctrl-C (SIGINT; SIGTERM and SIGHUP alike): heal passes the signal to the program (its
    /// whole process group), does not restart it, and sends SIGKILL if it has not stopped
    /// within restart.stop_grace_s. A healing in progress is cancelled: nothing is applied
    /// once the signal came, and a fix already being applied (it takes milliseconds) is
    /// finished first, so no fix is ever left half-applied. heal waits briefly for a commit or
    /// push in flight; one still unfinished is finished at heal's next start.
    Run {
        /// A label of your choosing put on every incident, shown in alerts and records, like
        /// client=acme (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// When to restart the program: never, on-failure (default) or always.
        #[arg(long, value_name = "POLICY")]
        restart: Option<String>,
        /// The program and its arguments, after `--`.
        #[arg(required = true, last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Receive the errors your programs report through a Sentry SDK, record them and tell the
    /// team, like the errors `heal run` catches.
    ///
    /// Runs for the project in the current folder (or --root), with its settings and its
    /// store, shared with any `heal run` on it. Prints the DSN to give the program
    /// (`sentry_sdk.init(dsn=...)`, or SENTRY_DSN) on stdout: http://KEY@127.0.0.1:8787/1. The
    /// key is serve.key in heal.toml (HEAL_SERVE_KEY), else one generated at the first start
    /// and kept in the storage folder's serve.key.
    ///
    /// Each error is counted against an hourly budget (serve.events_per_fingerprint_hour per
    /// error, serve.events_per_hour in all); past it the SDK is asked to wait (429), which it
    /// honours. The same event sent twice counts once. Messages without an exception are
    /// accepted and not recorded.
    ///
    /// New errors are healed as under `heal run`: serve.rerun_command (like `python3 main.py
    /// --once`) is what the proof re-runs to reproduce one, and serve.restart_command (like
    /// `systemctl restart ads-agent`) runs after a fix is applied. With neither
    /// serve.rerun_command nor verify.commands, errors are recorded and alerted, not fixed.
    ///
    /// Exit status: 0 once stopped by Ctrl-C (SIGINT; SIGTERM and SIGHUP alike); 2 for a
    /// configuration or usage error (a non-loopback --listen with no serve.key); 1 when heal
    /// itself fails (the address is taken, the storage folder is not writable).
    Serve {
        /// The address to listen on. Anything but loopback needs serve.key to be set.
        #[arg(long, value_name = "ADDR", default_value = crate::serve::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
    },
    /// List incidents, newest first.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one incident.
    Show {
        /// The incident's id, like err_20261130_031500, as `heal list` shows.
        id: String,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run an incident through healing again (resets its failure count).
    Retry {
        /// The incident's id, like err_20261130_031500, as `heal list` shows.
        id: String,
    },
    /// Undo an incident's fix: `git revert` its commit (pushed like the fix), or restore the
    /// files from its backups when it was never committed.
    Revert {
        /// The incident's id, like err_20261130_031500, as `heal list` shows.
        id: String,
    },
    /// Copy this project's records (its SQLite store in the storage folder) into a fleet's
    /// PostgreSQL store, each incident once, under its own id where it is free; running it
    /// again adds nothing twice. Then set database_url (HEAL_DATABASE_URL) to that URL on every
    /// host of the project.
    Migrate {
        /// The PostgreSQL URL, like postgres://heal:PASSWORD@db.internal:5432/heal.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// List the auto-fix commits: hash, date, incident, error type, files.
    Log {
        /// Only commits more recent than this, as git reads it ("1 day ago", "2026-01-28").
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Print the effective configuration and where each value came from, then check what heal
    /// needs (python3, git, the repository, the storage folder, .gitignore, Slack), each ok,
    /// warning or error with what to do. Exits 1 when a check is an error.
    Doctor {
        /// Also ask the model endpoint whether it answers (one request, bounded by 10 s).
        #[arg(long)]
        online: bool,
    },
    /// Write a commented heal.toml (every key at its default) and a .env.example into the
    /// project; never overwrites.
    Init,
    /// Run heal on a small crashing example in a temporary folder, with nothing configured;
    /// the folder is removed at the end.
    Demo {
        /// Keep the temporary folder (the example, its git history, heal's records) and print
        /// where it is.
        #[arg(long)]
        keep: bool,
    },
}

/// `heal run python3 main.py`: clap sees `python3` as an argument of heal's. Says to put `--`
/// before the program's command, with the line as it should have been.
fn missing_separator(error: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    if !matches!(
        error.kind(),
        ErrorKind::UnknownArgument | ErrorKind::MissingRequiredArgument
    ) {
        return None;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = args.iter().position(|a| a == "run")?;
    if args.iter().any(|a| a == "--") {
        return None;
    }
    // heal's own options stay before `--`; the first word that is not one starts the command.
    let mut before: Vec<&str> = Vec::new();
    let mut rest = args[run + 1..].iter().map(String::as_str).peekable();
    while let Some(arg) = rest.peek() {
        match *arg {
            "--tag" | "--restart" | "--root" => {
                before.push(rest.next()?);
                before.push(rest.next()?);
            }
            a if a.starts_with("--tag=")
                || a.starts_with("--restart=")
                || a.starts_with("--root=") =>
            {
                before.push(rest.next()?);
            }
            _ => break,
        }
    }
    let command: Vec<&str> = rest.collect();
    if command.is_empty() {
        return Some(
            "heal run needs the program's command after `--`, like `heal run -- python3 main.py`"
                .to_string(),
        );
    }
    let mut fixed = vec!["heal", "run"];
    fixed.extend(before);
    fixed.push("--");
    fixed.extend(command);
    Some(format!(
        "put `--` before the program's command, so heal does not read it as its own options: `{}`",
        fixed.join(" ")
    ))
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE (for example client=acme)")),
    }
}

/// Runs the command line; returns the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(hint) = missing_separator(&e) {
                eprintln!("heal: {hint}");
                return ExitCode::from(2);
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // `heal demo` tells one story, in order, on stdout: its narration, heal's messages, the
    // Slack messages and the program's output (both streams). Everywhere else heal's own
    // messages go to stderr, apart from the program's stdout.
    init_logging(match cli.command {
        Command::Demo { .. } => BoxMakeWriter::new(std::io::stdout),
        _ => BoxMakeWriter::new(std::io::stderr),
    });
    if let Command::Init = cli.command {
        // No configuration is loaded: init is how a project gets one.
        let root = match &cli.root {
            Some(root) => root.clone(),
            None => match std::env::current_dir() {
                Ok(dir) => crate::config::project_root(&dir),
                Err(e) => return finish(Err(e.into())),
            },
        };
        return finish(crate::init::init(&root).map_err(Into::into).map(|done| {
            for f in done.written {
                println!("wrote {}", f.display());
            }
            if !done.ignored.is_empty() {
                println!(
                    "added to .gitignore: {} (your secrets and heal's records stay out of git)",
                    done.ignored.join(", ")
                );
            }
            println!("next: copy .env.example to .env and fill it in, then `heal doctor`");
            0
        }));
    }
    if let Command::Demo { keep } = cli.command {
        if cli.root.is_some() {
            eprintln!("heal: heal demo runs in its own temporary folder; --root does not apply");
            return ExitCode::from(2);
        }
        let options = crate::demo::DemoOptions { keep };
        return finish(runtime().and_then(|rt| rt.block_on(crate::demo::run(options))));
    }
    let restart = match &cli.command {
        Command::Run { restart, .. } => restart.clone(),
        _ => None,
    };
    let overrides = Overrides {
        root: cli.root.clone(),
        restart,
    };
    let config = match Config::load(&overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("heal: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    finish(dispatch(cli.command, config))
}

fn finish(result: anyhow::Result<i32>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code.clamp(0, 255)).unwrap_or(1)),
        Err(e) => {
            eprintln!("heal: {}", crate::term::escape(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start heal's runtime")
}

fn dispatch(command: Command, config: Config) -> anyhow::Result<i32> {
    match command {
        Command::Run { tags, command, .. } => {
            for s in config.placeholders() {
                tracing::warn!(
                    "{} in {} still holds the example value, so it is treated as unset: put the real value there, or remove the line",
                    s.key.env,
                    s.source
                );
            }
            let runtime = runtime()?;
            let options = RunOptions {
                command,
                tags: tags.into_iter().collect::<BTreeMap<_, _>>(),
                pass_through: crate::supervise::PassThrough::AsWritten,
            };
            let code = match runtime.block_on(pipeline::run(config, options)) {
                Ok(code) => code,
                Err(pipeline::PipelineError::Sandbox(e)) => {
                    eprintln!("heal: configuration error: {e}");
                    return Ok(2);
                }
                Err(e) => return Err(e.into()),
            };
            // Slack senders still retrying past the drain deadline must not keep heal alive.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            Ok(code)
        }
        Command::Serve { listen } => {
            if let Err(e) = crate::serve::check_listen(&config, listen) {
                eprintln!("heal: configuration error: {e}");
                return Ok(2);
            }
            for s in config.placeholders() {
                tracing::warn!(
                    "{} in {} still holds the example value, so it is treated as unset: put the real value there, or remove the line",
                    s.key.env,
                    s.source
                );
            }
            let runtime = runtime()?;
            runtime
                .block_on(crate::serve::run(Arc::new(config), listen))
                .context("heal serve failed")?;
            // Slack senders still retrying past the drain deadline must not keep heal alive.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            Ok(0)
        }
        Command::List { limit } => {
            let store = open_store(&config)?;
            print!("{}", inspect::list(&store.list(limit)?));
            Ok(0)
        }
        Command::Show { id, json } => {
            let store = open_store(&config)?;
            let record = store.get(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            } else {
                print!("{}", inspect::show(&record));
            }
            Ok(0)
        }
        Command::Retry { id } => {
            let store = Arc::new(open_store(&config)?);
            let record =
                runtime()?.block_on(crate::pipeline::retry(Arc::new(config), store, &id))?;
            print!("{}", inspect::show(&record));
            Ok(if record.status.is_fixed() { 0 } else { 1 })
        }
        Command::Revert { id } => {
            let store = Arc::new(open_store(&config)?);
            let record =
                runtime()?.block_on(crate::pipeline::revert(Arc::new(config), store, &id))?;
            let line = format!(
                "{}: {}",
                record.id,
                record.reason.as_deref().unwrap_or("reverted")
            );
            println!("{}", crate::term::escape(&line));
            Ok(0)
        }
        Command::Migrate { to } => {
            if !config.storage_dir.join("heal.db").exists() {
                anyhow::bail!(
                    "no records in {} to migrate: run it in the project's folder, or pass --root",
                    config.storage_dir.display()
                );
            }
            let local = crate::record::Store::open(&config.storage_dir)?;
            let fleet = &config.fleet;
            let pg = crate::record::postgres::Postgres::open(
                &to,
                crate::record::postgres::Identity::of(fleet),
                crate::record::postgres::Lease::of(fleet),
                local.errors_dir().to_path_buf(),
            )?;
            let report = crate::record::postgres::migrate(&local, &pg)?;
            println!(
                "{}",
                crate::term::escape(&format!(
                    "project {} from {} to {}: {report}
next: set database_url (HEAL_DATABASE_URL) to this URL on every host of the project",
                    fleet.project,
                    fleet.host,
                    pg.at()
                ))
            );
            Ok(0)
        }
        Command::Log { since } => {
            let entries = runtime()?.block_on(crate::commit::history::fix_commits(
                &config.root,
                since.as_deref(),
            ))?;
            let rendered = crate::commit::history::render(&entries);
            print!("{}", crate::term::escape(&rendered));
            Ok(0)
        }
        Command::Doctor { online } => {
            print!("{}", config.describe());
            println!("{}", tests_line(&config)?);
            println!("{}", sandbox_line(&config));
            println!("\nchecks:");
            let checks = runtime()?.block_on(crate::doctor::checks(&config, online));
            for check in &checks {
                println!("{}", crate::term::escape(&check.to_string()));
            }
            let errors = checks
                .iter()
                .filter(|c| c.level == crate::doctor::Level::Error)
                .count();
            Ok(if errors > 0 { 1 } else { 0 })
        }
        // Both are run before a configuration is loaded (see `main`).
        Command::Demo { .. } | Command::Init => Ok(0),
    }
}

/// What `heal doctor` says of the proof's sandbox: which one, and why.
fn sandbox_line(config: &Config) -> String {
    let mode = config.healing.jail.mode.as_str();
    match crate::prove::jail::Jail::start(
        &config.healing.jail,
        &config.root,
        &crate::config::secret_names(),
        &[],
    ) {
        Ok(jail) if jail.missing().is_some() => format!(
            "sandbox: {} (verify.sandbox = {mode}); model fixes are refused until it works, or verify.sandbox = \"off\"",
            jail.describe()
        ),
        Ok(jail) => format!("sandbox: {} (verify.sandbox = {mode})", jail.describe()),
        Err(e) => format!("sandbox: ERROR: {e}"),
    }
}

/// What `heal doctor` says of the project's own tests: the command the proof will run, or why
/// none.
fn tests_line(config: &Config) -> anyhow::Result<String> {
    let h = &config.healing;
    if !h.verify_commands.is_empty() {
        return Ok(
            "tests: verify.commands is set, so heal runs those and looks for no other tests"
                .to_string(),
        );
    }
    if !h.auto_tests {
        return Ok("tests: not looked for (verify.auto_tests = false)".to_string());
    }
    let root = config.root.clone();
    let found = runtime()?.block_on(async move {
        crate::prove::suite::Suite::discover(&root, std::ffi::OsStr::new("python3")).await
    });
    Ok(match found {
        Some(suite) => format!(
            "tests: `{}` found; run on the unchanged code and after each fix, a test that passed and no longer does refuses the fix",
            suite.command_line()
        ),
        None => "tests: none found (no pytest tests or configuration, no tests/ folder); list checks in verify.commands".to_string(),
    })
}

fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.fleet.database_url.is_none() && !config.storage_dir.join("heal.db").exists() {
        anyhow::bail!(
            "no records in {}: run a program with `heal run -- COMMAND` first, or pass --root",
            config.storage_dir.display()
        );
    }
    Ok(Store::open_for(config)?)
}

/// heal's own messages go to `writer` (stderr, but for `heal demo`), prefixed `heal:` so they
/// can be told apart from the program's. HEAL_LOG sets the level (`info` by default; `debug`,
/// `warn`, ...).
fn init_logging(writer: BoxMakeWriter) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .event_format(HealFormat)
        .try_init();
}

/// `heal: message`, `heal: warning: message`, `heal: error: message`.
struct HealFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for HealFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        writer.write_str("heal: ")?;
        if level == tracing::Level::ERROR {
            writer.write_str("error: ")?;
        } else if level == tracing::Level::WARN {
            writer.write_str("warning: ")?;
        }
        // The message may quote a program's or a model's text: formatted apart, then written
        // with its control characters escaped.
        let mut message = String::new();
        ctx.field_format().format_fields(
            tracing_subscriber::fmt::format::Writer::new(&mut message),
            event,
        )?;
        writer.write_str(&crate::term::escape(&message))?;
        writeln!(writer)
    }
}
