//! What `heal list` and `heal show` print: records made readable. Pure formatting. The text
//! is the program's and the model's: control characters in it come out escaped
//! ([`crate::term::escape`]).

use std::fmt::Write as _;

use crate::record::model::Record;

/// One line per incident, newest first: id, time, type, status, file:line, occurrences.
pub fn list(records: &[Record]) -> String {
    if records.is_empty() {
        return "no incidents recorded\n".to_string();
    }
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.created_at.clone(),
                r.error.exc_type.clone(),
                r.status.as_str().to_string(),
                place(r),
                r.occurrences.to_string(),
            ]
        })
        .collect();
    let header = ["ID", "TIME", "TYPE", "STATUS", "WHERE", "COUNT"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                let _ = write!(l, "{cell:>w$}");
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&cells);
    }
    crate::term::escape(&out).into_owned()
}

fn place(r: &Record) -> String {
    match (&r.context.file, r.context.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => "-".to_string(),
    }
}

/// One incident, for a person.
pub fn show(r: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", r.id, r.status.as_str());
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "reason:      {reason}");
    }
    let _ = writeln!(
        out,
        "error:       {}: {}",
        r.error.exc_type,
        first_line(&r.error.message)
    );
    for line in r.error.message.lines().skip(1) {
        let _ = writeln!(out, "             {line}");
    }
    let _ = writeln!(out, "where:       {}", place(r));
    if let Some(f) = &r.context.function {
        let _ = writeln!(out, "function:    {f}");
    }
    if let Some(m) = &r.context.module {
        let _ = writeln!(out, "module:      {m}");
    }
    let _ = writeln!(out, "command:     {}", r.context.command.join(" "));
    for (k, v) in &r.context.tags {
        let _ = writeln!(out, "tag:         {k}={v}");
    }
    if let Some(exit) = &r.context.exit {
        let how = match (exit.code, exit.signal) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "ended".to_string(),
        };
        let _ = writeln!(out, "crash:       {how}");
    }
    let _ = writeln!(
        out,
        "seen:        {} time(s), first {}, last {}",
        r.occurrences, r.created_at, r.last_seen_at
    );
    for rel in &r.error.related {
        let _ = writeln!(out, "related:     {rel}");
    }
    if let Some(analysis) = &r.analysis {
        let _ = writeln!(out, "cause:       {}", analysis.root_cause);
        let _ = writeln!(
            out,
            "analysis:    {} confidence, category {}",
            analysis.confidence.as_str(),
            analysis.error_category.as_str()
        );
    }
    if let Some(fix) = &r.fix {
        let _ = writeln!(
            out,
            "fix:         {}, {} attempt(s)",
            fix.source, fix.attempts
        );
        let _ = writeln!(out, "change:      {}", fix.changes_summary);
        if let Some(b) = &fix.baseline {
            let _ = writeln!(
                out,
                "baseline:    the program as it was showed the error in {} of {} run(s)",
                b.reproduced, b.runs
            );
        }
        if let Some(note) = &fix.proof_note {
            let _ = writeln!(out, "weaker:      {note}");
        }
        for refused in &fix.refused {
            let first = refused.failure.lines().next().unwrap_or("");
            let _ = writeln!(out, "refused:     attempt {}: {first}", refused.attempt);
        }
        for step in &fix.validation {
            let _ = writeln!(
                out,
                "proof:       {} {}: {}",
                if step.passed { "ok  " } else { "FAIL" },
                step.step,
                step.detail
            );
        }
        for b in &fix.backups {
            let _ = writeln!(out, "backup:      {} -> {}", b.file, b.backup);
        }
    }
    if !r.timings_ms.is_empty() {
        let _ = writeln!(out, "timings:     {}", crate::notify::render::timings(r));
    }
    if let Some(llm) = &r.llm {
        let _ = writeln!(
            out,
            "model:       {}, {} in / {} out tokens, {} ms",
            llm.model, llm.input_tokens, llm.output_tokens, llm.latency_ms
        );
    }
    let sent = r.notifications.iter().filter(|n| n.ok).count();
    if !r.notifications.is_empty() {
        let _ = writeln!(
            out,
            "slack:       {} attempt(s), {} delivered",
            r.notifications.len(),
            sent
        );
    }
    let _ = writeln!(out, "\n{}", r.error.traceback.trim_end());
    if let Some(diff) = r.fix.as_ref().and_then(|f| f.diff.as_ref()) {
        let _ = writeln!(out, "\n{}", diff.trim_end());
    }
    crate::term::escape(&out).into_owned()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
