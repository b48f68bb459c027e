//! `/metrics` in the Prometheus text exposition format (version 0.0.4). Written by hand: a few
//! families, computed from the store at each scrape, which a registry of a metrics crate would
//! only copy. Every name has the `heal_` prefix; label values are heal's own words (statuses,
//! `rule`/`model`, answers) except the error type, which is bounded to the [`TOP_TYPES`] most
//! frequent, the rest counted as `other`: a program's exceptions must not grow the series
//! without end. No id or message is ever a label.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Dashboard;
use crate::record::RecordError;

/// Error types with a series of their own.
pub const TOP_TYPES: usize = 20;

pub async fn metrics(State(d): State<Arc<Dashboard>>) -> Response {
    let store = d.view.clone();
    let read = tokio::task::spawn_blocking(move || {
        let incidents = store.counts_by_status_and_type(TOP_TYPES)?;
        let healings = store.healings_by_status_and_source()?;
        let calls =
            store.llm_calls_since(time::OffsetDateTime::now_utc().unix_timestamp() - 3600)?;
        let read = Read {
            steps: store.step_histograms()?,
            deliveries: store.deliveries()?,
            usage: store.model_usage()?,
        };
        Ok::<_, RecordError>((incidents, healings, calls, read))
    })
    .await;
    let (
        incidents,
        healings,
        calls,
        Read {
            steps,
            deliveries,
            usage,
        },
    ) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => return unavailable(&e),
        Err(e) => return unavailable(&e),
    };
    let mut out = Exposition::default();
    out.family(
        "heal_incidents",
        "gauge",
        "Incidents in the store, by status and error type (types past the 20 most frequent are 'other').",
    );
    for (status, exc_type, n, _) in &incidents {
        out.sample(
            "heal_incidents",
            &[("status", status), ("type", exc_type)],
            *n,
        );
    }
    out.family(
        "heal_incident_occurrences",
        "gauge",
        "Occurrences of the incidents in the store, by status and error type.",
    );
    for (status, exc_type, _, occurrences) in &incidents {
        out.sample(
            "heal_incident_occurrences",
            &[("status", status), ("type", exc_type)],
            *occurrences,
        );
    }
    out.family(
        "heal_healings",
        "gauge",
        "Incidents a fix was sought for, by how they ended (their status) and where the fix came from (rule or model).",
    );
    for (status, source, n) in &healings {
        out.sample(
            "heal_healings",
            &[("outcome", status), ("source", source)],
            *n,
        );
    }
    out.family(
        "heal_proof_step_duration_seconds",
        "histogram",
        "How long each step of the kept fixes' proofs took, by step.",
    );
    for h in &steps {
        for (bound, n) in &h.buckets {
            let le = if bound.is_infinite() {
                "+Inf".to_string()
            } else {
                bound.to_string()
            };
            out.sample(
                "heal_proof_step_duration_seconds_bucket",
                &[("step", &h.step), ("le", &le)],
                *n,
            );
        }
        out.sample_f64(
            "heal_proof_step_duration_seconds_sum",
            &[("step", &h.step)],
            h.sum_seconds,
        );
        out.sample(
            "heal_proof_step_duration_seconds_count",
            &[("step", &h.step)],
            h.count,
        );
    }
    out.family(
        "heal_slack_deliveries",
        "gauge",
        "Slack delivery attempts recorded, by message (alert, stage, update, notice) and result.",
    );
    for (message, ok, n) in &deliveries {
        let result = if *ok { "delivered" } else { "failed" };
        out.sample(
            "heal_slack_deliveries",
            &[("message", message), ("result", result)],
            *n,
        );
    }
    out.family(
        "heal_model_calls",
        "gauge",
        "Model calls of every incident's latest healing, by model.",
    );
    for u in &usage {
        out.sample("heal_model_calls", &[("model", &short(&u.model))], u.calls);
    }
    out.family(
        "heal_model_tokens",
        "gauge",
        "Tokens of every incident's latest healing, by model and direction (in, out).",
    );
    for u in &usage {
        let model = short(&u.model);
        out.sample(
            "heal_model_tokens",
            &[("model", &model), ("direction", "in")],
            u.input_tokens,
        );
        out.sample(
            "heal_model_tokens",
            &[("model", &model), ("direction", "out")],
            u.output_tokens,
        );
    }
    out.family(
        "heal_model_latency_seconds",
        "gauge",
        "Time spent waiting for the model in every incident's latest healing, by model.",
    );
    for u in &usage {
        out.sample_f64(
            "heal_model_latency_seconds",
            &[("model", &short(&u.model))],
            u.latency_ms as f64 / 1000.0,
        );
    }
    out.family(
        "heal_incident_queue",
        "gauge",
        "Incidents waiting for healing or being healed (status detected or healing).",
    );
    let queued: u64 = incidents
        .iter()
        .filter(|(status, _, _, _)| status == "detected" || status == "healing")
        .map(|(_, _, n, _)| n)
        .sum();
    out.sample("heal_incident_queue", &[], queued);
    out.family(
        "heal_model_calls_last_hour",
        "gauge",
        "Model calls made in the last hour by any heal of this project.",
    );
    out.sample("heal_model_calls_last_hour", &[], calls);
    out.family(
        "heal_model_calls_limit_per_hour",
        "gauge",
        "MAX_CLAUDE_CALLS_PER_HOUR.",
    );
    out.sample("heal_model_calls_limit_per_hour", &[], d.max_calls_per_hour);
    out.family(
        "heal_ingest_requests_total",
        "counter",
        "Requests of the Sentry SDKs since heal serve started, by how they were answered.",
    );
    let counts = &d.ingest.counts;
    for (result, counter) in [
        ("accepted", &counts.accepted),
        ("refused", &counts.refused),
        ("limited", &counts.limited),
        ("failed", &counts.failed),
    ] {
        out.sample(
            "heal_ingest_requests_total",
            &[("result", result)],
            counter.load(Ordering::Relaxed),
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.text,
    )
        .into_response()
}

/// What the healing families read from the store.
struct Read {
    steps: Vec<crate::record::query::StepHistogram>,
    deliveries: Vec<(String, bool, u64)>,
    usage: Vec<crate::record::query::ModelUsage>,
}

/// The text being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.sample_text(name, labels, &value.to_string());
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.sample_text(name, labels, &format!("{value}"));
    }

    fn sample_text(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = write!(self.text, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }
}

/// A model's name as a label: a server names its own model, so it is cut short.
fn short(model: &str) -> String {
    model.chars().take(64).collect()
}

/// A label value's escapes: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A HELP line's escapes: backslash and line feed.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!("/metrics could not read the store: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("heal could not read its store: {e}"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition::default();
        out.sample("heal_x", &[("type", "a\"b\\c\nd")], 1);
        assert_eq!(out.text, "heal_x{type=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
