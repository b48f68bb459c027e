//! `/`: the seed's four questions (errors per day, the auto-fix success rate, the most frequent
//! error types, the mean time to resolve), and what heal adds: the fix funnel and the model's
//! budget.

use maud::{Markup, html};

use super::{charts, layout};
use crate::record::query::Stats;

/// `hosts`: a fleet's hosts and their last report (`None` on a single host's store).
pub fn render(
    stats: &Stats,
    max_calls_per_hour: u64,
    hosts: Option<&[crate::record::postgres::HostReport]>,
) -> Markup {
    let rate = stats
        .fix_rate_30d
        .map(|r| format!("{:.0}%", r * 100.0))
        .unwrap_or_else(|| "–".into());
    let resolve = stats
        .median_resolve_s_30d
        .map(duration)
        .unwrap_or_else(|| "–".into());
    let f = &stats.funnel_30d;
    layout::page(
        "Overview",
        html! {
            h1 { "Overview" }
            section.tiles {
                div.tile #incidents-24h { div.value { (stats.incidents_24h) } div.label { "incidents in the last 24 h" } }
                div.tile #open { div.value { (stats.open) } div.label { "open incidents" } }
                div.tile #fix-rate {
                    div.value { (rate) }
                    div.label { "auto-fix success, 30 days (" (stats.fixed_30d) " of " (stats.attempted_30d) " healings)" }
                }
                div.tile #time-to-resolve { div.value { (resolve) } div.label { "median time to resolve, 30 days" } }
                div.tile #model-calls {
                    div.value { (stats.model_calls_hour) " / " (max_calls_per_hour) }
                    div.label { "model calls this hour (MAX_CLAUDE_CALLS_PER_HOUR)" }
                }
            }
            h2 { "Errors per day" }
            p.legend {
                @for (o, colour) in charts::OUTCOMES {
                    span { svg width="10" height="10" { rect width="10" height="10" fill=(colour) {} } " " (o) }
                }
            }
            (charts::per_day(&stats.per_day))
            h2 { "Most frequent error types, 7 days" }
            @if stats.top_types_7d.is_empty() {
                p.muted { "No error in the last 7 days." }
            } @else {
                table #top-types {
                    thead { tr { th { "type" } th { "occurrences" } th { "7 days" } th { "last seen" } } }
                    tbody {
                        @for t in &stats.top_types_7d {
                            tr {
                                td { a href={ "/incidents?type=" (urlencode(&t.exc_type)) } { (t.exc_type) } }
                                td.count { (t.count) }
                                td { (charts::sparkline(&t.days)) }
                                td { (layout::time(&t.last_seen_at)) }
                            }
                        }
                    }
                }
            }
            @if let Some(hosts) = hosts {
                h2 { "Hosts of the fleet" }
                @if hosts.is_empty() {
                    p.muted { "No host has reported an error yet." }
                } @else {
                    table #hosts {
                        thead { tr { th { "host" } th { "incidents" } th { "occurrences" } th { "last report" } } }
                        tbody {
                            @for h in hosts {
                                tr {
                                    td.host { (h.host) }
                                    td.count { (h.incidents) }
                                    td.count { (h.occurrences) }
                                    td { (layout::time(&h.last_seen_at)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Fix funnel, 30 days" }
            table #funnel {
                tbody {
                    tr { th { "detected" } td { (f.detected) } }
                    tr { th { "a fix proposed" } td { (f.proposed) } }
                    tr { th { "proved and applied" } td { (f.applied) } }
                    tr { th { "held (not regressed, not reverted)" } td { (f.held) } }
                }
            }
            p.muted { "Figures at " (layout::time(&stats.at)) ". The same as JSON: " a href="/api/stats" { "/api/stats" } "." }
        },
    )
}

/// `95 s`, `12 min`, `3.5 h`, `2.1 d`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{:.1} h", secs as f64 / 3600.0),
        _ => format!("{:.1} d", secs as f64 / 86400.0),
    }
}

/// A query string's value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
