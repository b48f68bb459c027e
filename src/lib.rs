//! heal: a self-healing supervisor.
//!
//! `heal run -- COMMAND` supervises a program. The pipeline, one module per stage:
//!
//! 1. [`supervise`]: start the child, pass its output through, restart it by policy.
//! 2. [`detect`]: find and parse the tracebacks in its stderr (pure parsers).
//! 3. [`record`]: keep each incident in SQLite and as `storage/errors/{id}.json`.
//! 4. [`notify`]: tell the team on Slack, without ever holding up supervision.
//!
//! [`pipeline`] ties the stages together; [`config`] reads heal.toml, .env and the environment
//! once; [`cli`] is the edge. Analysis, proof, fix and commit come in later stages.
//! [`rules`] holds instant, deterministic fixes (no model) for errors whose fix is obvious.

pub mod analyse;
pub mod apply;
pub mod cli;
pub mod config;
pub mod demo;
pub mod detect;
pub mod http;
pub mod inspect;
pub mod notify;
pub mod pipeline;
pub mod prove;
pub mod record;
pub mod redact;
pub mod rules;
pub mod supervise;
