//! heal: a self-healing supervisor.
//!
//! `heal run -- COMMAND` supervises a program. The pipeline, one module per stage:
//!
//! 1. [`supervise`]: start the child, pass its output through, restart it by policy.
//! 2. [`detect`]: find and parse the tracebacks in its stderr (pure parsers); [`ingest`] reads
//!    the same errors from the Sentry SDK's requests (pure, bounded; no server calls it yet).
//! 3. [`record`]: keep each incident in SQLite and as `storage/errors/{id}.json`.
//! 4. [`notify`]: tell the team on Slack, without ever holding up supervision.
//! 5. [`analyse`]: ask a model for a fix, as a typed answer.
//! 6. [`prove`]: try the fix in an isolated copy (syntax, the project's checks, a re-run).
//! 7. [`apply`]: write the proved fix to the live tree, with backups.
//! 8. [`commit`]: commit it, push it or propose it as a pull request.
//!
//! Before a model, [`rules`] tries instant, deterministic fixes for errors whose cure Python
//! names; [`policy`] bounds what any fix may touch. [`pipeline`] ties the stages together and
//! restarts the program; [`config`] reads heal.toml, .env and the environment once; [`cli`] is
//! the edge.

pub mod analyse;
pub mod apply;
pub mod cli;
pub mod commit;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod detect;
pub mod doctor;
pub mod failpoint;
pub mod fleet;
pub mod http;
pub mod ingest;
pub mod init;
pub mod inspect;
pub mod notify;
pub mod pipeline;
pub mod policy;
pub mod prove;
pub mod record;
pub mod redact;
pub mod rules;
pub mod serve;
pub mod signal;
pub mod supervise;
pub mod term;
pub mod testrun;
pub mod triage;
