//! `/incidents`: the list, filtered by a plain GET form (it works without JavaScript), each row
//! with its sparkline, and pages.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::overview::urlencode;
use super::{charts, layout};
use crate::dashboard::api::ListQuery;
use crate::record::query::Page;

/// The statuses the filter offers: the groups first, then each.
const STATUSES: &[&str] = &[
    "open",
    "fixed",
    "detected",
    "healing",
    "skipped",
    "failed",
    "rejected",
    "applied",
    "committed",
    "pushed",
    "regressed",
    "reverted",
    "interrupted",
];

pub fn render(query: &ListQuery, page: &Page, daily: &BTreeMap<String, Vec<u64>>) -> Markup {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let pages = page.total.div_ceil(page.per_page as u64).max(1);
    layout::page(
        "Incidents",
        html! {
            h1 { "Incidents" }
            form.filters method="get" action="/incidents" {
                select name="status" aria-label="status" {
                    option value="" { "any status" }
                    @for s in STATUSES {
                        option value=(s) selected[query.status.as_deref() == Some(*s)] { (s) }
                    }
                }
                input name="type" placeholder="type (KeyError)" value=(value(&query.exc_type));
                input name="file" placeholder="file" value=(value(&query.file));
                input name="q" placeholder="search the message" value=(value(&query.q));
                input name="tag" placeholder="tag (client:acme)" value=(value(&query.tag));
                input name="since" placeholder="seen since (2026-11-01)" value=(value(&query.since));
                input name="until" placeholder="seen before" value=(value(&query.until));
                button type="submit" { "Filter" }
            }
            p #count.muted { (page.total) @if page.total == 1 { " incident" } @else { " incidents" } @if pages > 1 { ", page " (page.page) " of " (pages) } }
            table #incidents {
                thead { tr {
                    th { "type and message" } th { "file" } th { "count" } th { "14 days" }
                    th { "first seen" } th { "last seen" } th { "status" }
                } }
                tbody {
                    @for r in &page.rows {
                        tr data-id=(r.id) {
                            td {
                                a href={ "/incidents/" (r.id) } { strong { (r.exc_type) } }
                                div.muted { (truncate(&r.message, 140)) }
                            }
                            td { (r.file) @if r.line > 0 { ":" (r.line) } }
                            td.count { (r.occurrences) }
                            td { (charts::sparkline(daily.get(&r.id).map(Vec::as_slice).unwrap_or(&[]))) }
                            td { (layout::time(&r.created_at)) }
                            td { (layout::time(&r.last_seen_at)) }
                            td { (layout::status(&r.status)) }
                        }
                    }
                }
            }
            nav.pages {
                @if page.page > 1 {
                    a rel="prev" href=(link(query, page.page - 1)) { "← newer" } " "
                }
                @if (page.page as u64) < pages {
                    a rel="next" href=(link(query, page.page + 1)) { "older →" }
                }
            }
        },
    )
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max).chain(['…']).collect()
}

/// The list's URL with the same filters, at `page`.
fn link(q: &ListQuery, page: usize) -> String {
    let mut parts = vec![format!("page={page}")];
    for (name, value) in [
        ("status", &q.status),
        ("type", &q.exc_type),
        ("file", &q.file),
        ("q", &q.q),
        ("tag", &q.tag),
        ("since", &q.since),
        ("until", &q.until),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{name}={}", urlencode(v)));
        }
    }
    if let Some(n) = q.per_page {
        parts.push(format!("per_page={n}"));
    }
    format!("/incidents?{}", parts.join("&"))
}
