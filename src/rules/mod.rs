//! Instant fixes: small, deterministic repairs for errors whose fix is obvious from the error
//! and the failing file alone, tried before any model is asked.
//!
//! Pure: error and source text in, new source text out. No I/O, no clock, no model. Each rule
//! lives in its own file and returns `None` whenever it is not sure; a fix it does return has
//! been checked to change the file and to parse with tree-sitter without error or missing
//! nodes. It is still a proposal: the caller proves it like any other fix.
//!
//! Rules, tried in [`RULES`] order:
//! - [`did_you_mean`]: Python's own `Did you mean` hint for a NameError, an AttributeError or
//!   an ImportError, applied to the failing line.
//! - [`nearest_name`]: the same errors without a hint, when exactly one name in reach is a
//!   small edit away.
//! - [`unused_import`]: a missing module whose import binds nothing the file uses.
//! - [`missing_colon`], [`missing_comma`], [`tab_indent`]: three SyntaxErrors with one fix.

mod builtins;
mod did_you_mean;
mod location;
mod missing_colon;
mod missing_comma;
mod names;
mod nearest_name;
mod scope;
mod tab_indent;
mod tree;
mod unused_import;

#[cfg(test)]
mod tests;

use crate::analyse::answer::Category;
use crate::record::model::ErrorInfo;

pub use location::syntax_location;

/// What a rule gets: the error and the one file it may change.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    /// The error as recorded: type, message, traceback text, frames.
    pub error: &'a ErrorInfo,
    /// Project-relative path of the file where the error is: the last project frame, or the
    /// SyntaxError's file.
    pub file: &'a str,
    /// 1-based failing line in that file.
    pub line: u32,
    /// That file's current content.
    pub source: &'a str,
}

/// A sure fix: the whole new content of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFix {
    /// One of [`RULES`].
    pub rule: &'static str,
    /// The input's file.
    pub file: String,
    /// The whole new content of the file.
    pub after: String,
    /// One line for humans: what changed and where.
    pub summary: String,
    /// One line for humans: what is wrong in the code, that the change cures.
    pub cause: String,
    pub category: Category,
}

/// Every rule, in the order [`instant_fix`] tries them.
pub const RULES: &[&str] = &[
    did_you_mean::NAME,
    nearest_name::NAME,
    unused_import::NAME,
    missing_colon::NAME,
    missing_comma::NAME,
    tab_indent::NAME,
];

/// The first rule (in [`RULES`] order) among `enabled` that is sure of a fix; `None` when none
/// is.
pub fn instant_fix(input: &RuleInput, enabled: &[String]) -> Option<RuleFix> {
    RULES
        .iter()
        .filter(|rule| enabled.iter().any(|e| e == *rule))
        .find_map(|rule| run(rule, input))
}

fn run(rule: &str, input: &RuleInput) -> Option<RuleFix> {
    match rule {
        did_you_mean::NAME => did_you_mean::fix(input),
        nearest_name::NAME => nearest_name::fix(input),
        unused_import::NAME => unused_import::fix(input),
        missing_colon::NAME => missing_colon::fix(input),
        missing_comma::NAME => missing_comma::fix(input),
        tab_indent::NAME => tab_indent::fix(input),
        _ => None,
    }
}

/// What a rule proposes, before the checks every fix must pass.
struct Proposal {
    after: String,
    summary: String,
    cause: String,
    category: Category,
}

/// The checks shared by every rule: the fix changes the file, and the new file parses with
/// tree-sitter without error or missing nodes (a rule that left the file broken is not sure).
fn checked(rule: &'static str, input: &RuleInput, proposal: Proposal) -> Option<RuleFix> {
    if proposal.after == input.source || !tree::parses_cleanly(&proposal.after) {
        return None;
    }
    Some(RuleFix {
        rule,
        file: input.file.to_string(),
        after: proposal.after,
        summary: proposal.summary,
        cause: proposal.cause,
        category: proposal.category,
    })
}
