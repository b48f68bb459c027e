//! `/incidents/{id}`: one incident as its record tells it: the traceback with the source and
//! the locals the SDK sent, the tags, the analysis, the fix and its proof, the timeline, git,
//! and the Slack deliveries. Everything comes from the record as stored, which is redacted,
//! and every value is escaped (a message or a local is attacker-controlled).

use maud::{Markup, html};

use super::layout;
use crate::record::model::Record;

/// `fixed_at`: when the incident was first seen fixed (the store's column). `actions`: whether
/// `serve.token` is set, so the retry and revert forms are offered.
pub fn render(r: &Record, fixed_at: Option<&str>, actions: bool) -> Markup {
    let git = r.result.as_ref().and_then(|res| res.git.as_ref());
    layout::page(
        &r.id,
        html! {
            h1 { (r.error.exc_type) ": " span.muted { (r.error.message) } }
            p {
                (layout::status(r.status.as_str())) " "
                span #occurrences { (r.occurrences) " occurrences" } ", first seen "
                (layout::time(&r.created_at)) ", last seen " (layout::time(&r.last_seen_at))
                @if let Some(reason) = &r.reason { br; span #reason { (reason) } }
            }
            (action_forms(r, actions))
            @if !r.context.tags.is_empty() || r.error.sdk.is_some() {
                h2 { "Tags" }
                table #tags { tbody {
                    @for (k, v) in &r.context.tags { tr { th { (k) } td { (v) } } }
                    @if let Some(sdk) = &r.error.sdk {
                        @if let Some(v) = &sdk.release { tr { th { "release" } td { (v) } } }
                        @if let Some(v) = &sdk.environment { tr { th { "environment" } td { (v) } } }
                        @if let Some(v) = &sdk.user { tr { th { "user" } td { (v) } } }
                    }
                } }
            }
            h2 { "Traceback" }
            @for frame in r.error.frames.iter().rev() {
                div.frame {
                    p { strong { (frame.file) ":" (frame.line) } " in " code { (frame.function) } }
                    @if let Some(code) = &frame.code { pre { (code) } }
                    @if !frame.vars.is_empty() {
                        table.locals { tbody {
                            @for (k, v) in &frame.vars { tr { th { code { (k) } } td { code { (v) } } } }
                        } }
                    }
                }
            }
            details { summary { "as printed" } pre #traceback { (r.error.traceback) } }
            @if let Some(a) = &r.analysis {
                h2 { "Analysis" }
                table #analysis { tbody {
                    tr { th { "cause" } td { (a.root_cause) } }
                    tr { th { "category" } td { (a.error_category.as_str()) } }
                    tr { th { "confidence" } td { (a.confidence.as_str()) } }
                    tr { th { "explanation" } td { (a.explanation) } }
                } }
            }
            @if let Some(fix) = &r.fix {
                h2 { "Fix" }
                p #fix-source { "from " strong { (fix.source) } @if !fix.changes_summary.is_empty() { ": " (fix.changes_summary) } }
                @if let Some(diff) = &fix.diff { (render_diff(diff)) }
                @if let Some(note) = &fix.proof_note { p.muted { (note) } }
                h3 { "Proof" }
                table #proof {
                    thead { tr { th { "step" } th { "command" } th { "exit" } th { "result" } th { "duration" } th { "output" } } }
                    tbody {
                        @for s in &fix.validation {
                            tr data-step=(s.step) {
                                td { (s.step) }
                                td { code { (s.command) } }
                                td { @if let Some(e) = s.exit { (e) } @else { "–" } }
                                td class=(if s.passed { "passed" } else { "not-passed" }) {
                                    (if s.passed { "passed" } else { "failed" }) @if !s.detail.is_empty() { ": " (s.detail) }
                                }
                                td { (s.duration_ms) " ms" }
                                td { @if !s.output_tail.is_empty() { details { summary { "tail" } pre { (s.output_tail) } } } }
                            }
                        }
                    }
                }
                @if !fix.refused.is_empty() {
                    p.muted { (fix.refused.len()) " earlier candidate(s) refused (see the record's JSON)" }
                }
            }
            h2 { "Timeline" }
            table #timeline { tbody {
                tr data-event="detected" { th { "detected" } td { (layout::time(&r.created_at)) } }
                @for n in &r.notifications {
                    tr data-event={ "slack-" (n.message) } {
                        th { @if n.message == "alert" { "alerted" } @else { "slack " (n.message) } }
                        td { (layout::time(&n.at)) " " (if n.ok { "delivered" } else { "not delivered" }) }
                    }
                }
                @let stages = r.timings_in_order();
                @if !stages.is_empty() {
                    tr data-event="healing" {
                        th { "healing" }
                        td { @for (i, (stage, ms)) in stages.iter().enumerate() {
                            @if i > 0 { ", " } (stage) " " (format!("{:.1}", *ms as f64 / 1000.0)) " s"
                        } }
                    }
                }
                @if let Some(at) = fixed_at {
                    tr data-event="applied" { th { "proved and applied" } td { (layout::time(at)) } }
                }
                @if let Some(g) = git.filter(|g| g.commit.is_some()) {
                    tr data-event="committed" {
                        th { @if g.pushed { "committed and pushed" } @else { "committed" } }
                        td { (g.git) }
                    }
                }
                @if let Some(restart) = r.result.as_ref().and_then(|res| res.restart.as_ref()) {
                    tr data-event="restarted" { th { "restarted" } td { (layout::time(&restart.at)) } }
                }
                tr data-event="now" { th { (r.status.as_str()) } td { "now" @if let Some(reason) = &r.reason { ": " (reason) } } }
            } }
            @if let Some(g) = git {
                h2 { "Git" }
                p #git {
                    (g.git) " "
                    @if let Some(url) = g.pr_url.as_deref().filter(|u| is_web(u)) { a href=(url) { "pull request" } " " }
                    @if let Some(url) = g.commit_url.as_deref().filter(|u| is_web(u)) { a href=(url) { "commit" } }
                    @else if let Some(c) = &g.commit { code { (c) } }
                }
            }
            @if !r.notifications.is_empty() {
                h2 { "Slack deliveries" }
                table #slack {
                    thead { tr { th { "message" } th { "channel" } th { "try" } th { "at" } th { "result" } } }
                    tbody { @for n in &r.notifications { tr {
                        td { (n.message) } td { (n.channel) } td { (n.attempt) } td { (layout::time(&n.at)) }
                        td { @if n.ok { "delivered" } @else { "failed" @if let Some(e) = &n.error { ": " (e) } } }
                    } } }
                }
            }
            p.muted { "The record as JSON: " a href={ "/api/incidents/" (r.id) } { "/api/incidents/" (r.id) } }
        },
    )
}

/// Retry (an incident healing may try again) and revert (a fix in place), each a POST with
/// the dashboard token typed in; without `serve.token`, a note that the page is read-only.
fn action_forms(r: &Record, actions: bool) -> Markup {
    let retry = !r.status.is_fixed() && r.status.as_str() != "healing";
    let revert = r.status.is_fixed();
    html! {
        @if !actions {
            p.muted #read-only { "Read-only: set serve.token (HEAL_SERVE_TOKEN) to retry or revert from here." }
        } @else {
            @if retry {
                form #retry method="post" action={ "/incidents/" (r.id) "/retry" } {
                    input type="password" name="token" placeholder="dashboard token" required autocomplete="off";
                    " " button type="submit" { "Retry healing" }
                }
            }
            @if revert {
                form #revert method="post" action={ "/incidents/" (r.id) "/revert" } {
                    input type="password" name="token" placeholder="dashboard token" required autocomplete="off";
                    " " button type="submit" { "Revert the fix" }
                }
            }
        }
    }
}

/// A link target heal may render: a web page, never `javascript:` or a local path.
fn is_web(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

fn render_diff(diff: &str) -> Markup {
    html! {
        pre.diff #diff {
            @for line in diff.lines() {
                @let class = if line.starts_with("+++") || line.starts_with("---") {
                    "file"
                } else if line.starts_with('+') {
                    "add"
                } else if line.starts_with('-') {
                    "del"
                } else if line.starts_with("@@") {
                    "hunk"
                } else {
                    ""
                };
                span class=(class) { (line) } "\n"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_commit_or_pr_link_is_not_rendered_as_a_link() {
        let mut record: Record = serde_json::from_str(include_str!(
            "../../../tests/fixtures/records/pushed-then-reverted.json"
        ))
        .expect("the fixture reads");
        for hostile in [
            "javascript:alert(document.cookie)",
            " javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//evil.example/x",
        ] {
            let git = record
                .result_mut()
                .git
                .as_mut()
                .expect("the fixture has git");
            git.commit_url = Some(hostile.to_string());
            git.pr_url = Some(hostile.to_string());
            let page = render(&record, None, true).into_string().to_lowercase();
            assert!(!page.contains("href=\"javascript:"), "{hostile}");
            assert!(!page.contains("href=\" javascript:"), "{hostile}");
            assert!(!page.contains("href=\"data:"), "{hostile}");
            assert!(!page.contains("href=\"//evil"), "{hostile}");
            assert!(!page.contains("<script>alert"), "{hostile}");
        }
        let git = record
            .result_mut()
            .git
            .as_mut()
            .expect("the fixture has git");
        git.commit_url = Some("https://github.com/acme/app/commit/abc".into());
        let page = render(&record, None, true).into_string();
        assert!(page.contains("href=\"https://github.com/acme/app/commit/abc\""));
    }
}
