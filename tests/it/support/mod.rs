//! Test support: fake peers bound to 127.0.0.1:0 and helpers to drive the real binary.
#![allow(dead_code)]

pub mod anthropic;
pub mod git;
pub mod git_http;
pub mod github;
pub mod openai;
pub mod peer;
pub mod postgres;
pub mod project;
pub mod sentry;
pub mod slack;

pub use project::{Project, Stream, kill, wait_with_timeout};
