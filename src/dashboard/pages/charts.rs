//! Charts as inline SVG, drawn on the server: no script, no library, nothing fetched.

use maud::{Markup, html};

use crate::record::query::DayByOutcome;

/// The outcomes of the chart of errors per day, bottom to top, with their colours' names.
pub const OUTCOMES: &[(&str, &str)] = &[
    ("fixed", "var(--fixed)"),
    ("skipped", "var(--skipped)"),
    ("rejected", "var(--rejected)"),
    ("failed", "var(--failed)"),
    ("open", "var(--open)"),
];

fn of(day: &DayByOutcome, outcome: &str) -> u64 {
    match outcome {
        "fixed" => day.fixed,
        "skipped" => day.skipped,
        "rejected" => day.rejected,
        "failed" => day.failed,
        _ => day.open,
    }
}

/// One coloured part of a day's bar.
struct Segment {
    outcome: &'static str,
    colour: &'static str,
    count: u64,
    y: f64,
    height: f64,
}

/// Stacked bars, one per day, oldest on the left.
pub fn per_day(days: &[DayByOutcome]) -> Markup {
    let (width, height) = (900.0, 140.0);
    let bar = width / days.len().max(1) as f64;
    let max = days
        .iter()
        .map(|d| OUTCOMES.iter().map(|(o, _)| of(d, o)).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bars: Vec<(&DayByOutcome, Vec<Segment>)> = days
        .iter()
        .map(|day| {
            let mut y = height;
            let segments = OUTCOMES
                .iter()
                .filter(|(o, _)| of(day, o) > 0)
                .map(|(outcome, colour)| {
                    let count = of(day, outcome);
                    let h = count as f64 / max * (height - 4.0);
                    y -= h;
                    Segment {
                        outcome,
                        colour,
                        count,
                        y,
                        height: h,
                    }
                })
                .collect();
            (day, segments)
        })
        .collect();
    html! {
        svg id="per-day" viewBox={ "0 0 " (width) " " (height + 14.0) } width="100%" role="img"
            aria-label="Errors per day for 30 days, by outcome" {
            @for (i, (day, segments)) in bars.iter().enumerate() {
                g data-day=(day.day) {
                    title { (day.day) ":" @for (o, _) in OUTCOMES { " " (o) " " (of(day, o)) } }
                    @for s in segments {
                        rect x=(format!("{:.1}", i as f64 * bar + 1.0)) y=(format!("{:.1}", s.y))
                            width=(format!("{:.1}", (bar - 2.0).max(1.0))) height=(format!("{:.1}", s.height))
                            fill=(s.colour) data-outcome=(s.outcome) data-count=(s.count) {}
                    }
                }
            }
            text x="0" y=(height + 12.0) { (days.first().map(|d| d.day.as_str()).unwrap_or("")) }
            text x=(width) y=(height + 12.0) text-anchor="end" { (days.last().map(|d| d.day.as_str()).unwrap_or("")) }
        }
    }
}

/// A small line of daily counts.
pub fn sparkline(counts: &[u64]) -> Markup {
    let (width, height) = (80.0, 18.0);
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = width / (counts.len().max(2) - 1) as f64;
    let points: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - 1.0 - *c as f64 / max * (height - 2.0)
            )
        })
        .collect();
    let total: u64 = counts.iter().sum();
    html! {
        svg class="spark" viewBox={ "0 0 " (width) " " (height) } width=(width) height=(height)
            role="img" aria-label={ (total) " in " (counts.len()) " days" } {
            polyline points=(points.join(" ")) fill="none" stroke="var(--open)" stroke-width="1.5" {}
        }
    }
}
