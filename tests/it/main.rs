//! The integration tests: one binary, so the crate is linked once.
//! `support` holds the fake peers (Slack, Anthropic, ...) and the builder that drives the real
//! `heal` binary.

mod support;

mod analyse;
mod apply;
mod corpus;
mod crash;
mod dashboard;
mod demo;
mod detect;
mod faults;
mod file_form;
mod first_hour;
mod fleet;
mod git;
mod git_races;
mod heal;
mod help;
mod instant;
mod load;
mod notify;
mod openai;
mod orphan;
mod peers;
mod proof;
mod prove;
mod quality;
mod real_model;
mod run;
mod sandbox;
mod secrets;
mod serve;
mod shutdown;
mod store;
mod streams;
mod terminal;
mod testruns;
