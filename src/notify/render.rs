//! Rendering: pure functions from an incident's record to Slack messages (Block Kit blocks and
//! a plain-text fallback), and to the same alert as terminal text.
//!
//! No I/O here. Everything user-controlled (messages, tracebacks, paths, tags, the command) is
//! escaped for Slack's mrkdwn and trimmed to Slack's limits, so that a message is never
//! rejected, or rendered as a link or a mention, because of what a crashing program printed.
//! Nothing rendered may depend on the Slack target, so no URL or token can reach a message.

use super::slack::{Block, HEADER_TEXT_MAX, MAX_BLOCKS, SECTION_TEXT_MAX, Text};
use crate::record::model::{ExitInfo, Record, Status};
use crate::record::result::non_empty;

/// Cap on the `text` fallback. Slack accepts far more, but the fallback is only read in
/// notifications and by clients that cannot show blocks.
pub const TEXT_FALLBACK_MAX: usize = 3000;
/// How many sections the exception message may span: the message is shown in full up to
/// about 15,000 characters, then cut with a note.
const MESSAGE_SECTIONS_MAX: usize = 5;
/// Cap on the exception type and on one context value.
const VALUE_MAX: usize = 300;
/// Cap on the number of related exceptions shown, and on each one's line.
const RELATED_MAX: usize = 5;
const RELATED_LINE_MAX: usize = 200;
/// Room kept for a "… (N lines trimmed)" note.
const MARKER_MAX: usize = 40;

/// A message ready to send: the blocks, and the text Slack shows where it cannot show them.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub blocks: Vec<Block>,
}

/// The first message about an incident, as in the seed's "🚨 ERREUR DÉTECTÉE" alert.
pub fn alert(record: &Record) -> Message {
    render_alert(record, View::Alert)
}

/// The alert again, with the incident's current status and count, to replace the first
/// message in place (`chat.update`).
pub fn update(record: &Record) -> Message {
    render_alert(record, View::Update)
}

/// A later stage of an incident: one line of text that names the incident.
pub fn stage(record: &Record, text: &str) -> Message {
    let line = if text.contains(&record.id) {
        text.to_string()
    } else {
        format!("{text} ({})", record.id)
    };
    simple(&line)
}

/// The final report of a healing, as the seed's "✅ AUTO-FIX APPLIQUÉ" message: the analysis
/// (cause, category, confidence), the files changed, the explanation, a short diff, the actions
/// taken and the timings; or, for a fix not applied, why. Plain text: [`stage`] escapes it.
pub fn report_text(record: &Record) -> String {
    let reason = record.reason.clone().unwrap_or_default();
    let mut out = match record.status {
        Status::Applied | Status::Committed | Status::Pushed => {
            format!("✅ AUTO-FIX APPLIED - {}", record.id)
        }
        Status::Rejected => format!("🛑 FIX REJECTED - {}\n{reason}", record.id),
        Status::Failed => format!("❌ HEALING FAILED - {}\n{reason}", record.id),
        Status::Skipped => format!("⏸️ NOT FIXED - {}\n{reason}", record.id),
        other => format!("{} - {}\n{reason}", other.as_str(), record.id),
    };
    if !record.hosts.is_empty() {
        out.push_str(&format!(
            "\nSeen {}{}",
            occurrences(record.occurrences),
            on_hosts(record)
        ));
    }
    if let Some(analysis) = &record.analysis {
        out.push_str("\n\nAnalysis:");
        for (label, v) in [
            ("Cause", analysis.root_cause.as_str()),
            ("Category", analysis.error_category.as_str()),
            ("Confidence", analysis.confidence.as_str()),
        ] {
            out.push_str(&format!("\n• {label}: {v}"));
        }
    }
    let fix = record.fix.as_ref();
    let backups = fix.map(|f| f.backups.as_slice()).unwrap_or_default();
    if record.status.is_fixed() {
        let files: Vec<&str> = backups.iter().map(|b| b.file.as_str()).collect();
        out.push_str("\n\nFix applied:");
        out.push_str(&format!("\n• Files changed: {}", files.join(", ")));
        // A rule's explanation is its change; a model's says why the change cures the error.
        if let Some(fix) = fix {
            let (change, why) = (&fix.changes_summary, &fix.explanation);
            if change != why {
                out.push_str(&format!("\n• Fix: {change}\n• Why: {why}"));
            } else {
                out.push_str(&format!("\n• Fix: {change}"));
            }
        }
    }
    if let Some(diff) = fix.and_then(|f| f.diff.as_ref()) {
        let short: Vec<&str> = diff.lines().take(30).collect();
        out.push_str(&format!("\n\nChanges:\n```\n{}\n```", short.join("\n")));
    }
    if let Some(steps) = fix.map(|f| &f.validation).filter(|s| !s.is_empty()) {
        out.push_str("\n\nProof in an isolated copy:");
        for s in steps {
            out.push_str(&format!(
                "\n{} {}: {}",
                if s.passed { "✅" } else { "❌" },
                s.step,
                s.detail
            ));
        }
    }
    if let Some(baseline) = fix.and_then(|f| f.baseline.as_ref()) {
        out.push_str(&format!(
            "\nBaseline: the program as it was showed the error in {} of {} run(s)",
            baseline.reproduced, baseline.runs
        ));
    }
    if let Some(note) = fix.and_then(|f| f.proof_note.as_ref()) {
        out.push_str(&format!("\n⚠️ The proof was weaker: {note}"));
    }
    if let Some(chain) = record.result.as_ref().and_then(|r| r.chain.as_ref()) {
        out.push_str(&format!(
            "\n🔗 Crash chain: link {} of {} ({})",
            chain.position,
            chain.links.len(),
            chain.links.join(" → ")
        ));
    }
    if record.status.is_fixed() {
        out.push_str("\n\nActions taken:\n✅ Fix proved in an isolated copy");
        for b in backups {
            out.push_str(&format!("\n✅ Backup created: {}", b.backup));
        }
        out.push_str("\n✅ Fix applied");
        out.push_str(&git_lines(record));
        out.push_str("\n🔄 The program restarts with the fix.");
    }
    if !record.timings_ms.is_empty() {
        out.push_str(&format!("\n\nTimings: {}", timings(record)));
    }
    out
}

/// The stages' times in pipeline order, the whole healing last: `analyse 0 ms, prove 500 ms,
/// apply 1 ms, commit 56 ms, healing 511 ms`.
pub fn timings(record: &Record) -> String {
    record
        .timings_in_order()
        .iter()
        .map(|(stage, ms)| format!("{stage} {ms} ms"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the commit stage did, for the report: the short hash and its link, the pull request,
/// or why no commit was made.
fn git_lines(record: &Record) -> String {
    let mut out = String::new();
    let Some(git) = record.result.as_ref().and_then(|r| r.git.as_ref()) else {
        return out;
    };
    let said = Some(git.git.as_str()).filter(|s| !s.is_empty());
    let Some(commit) = non_empty(&git.commit) else {
        if let Some(why) = said {
            out.push_str(&format!("\n⚠️ Git: {why}"));
        }
        return out;
    };
    let short = commit.get(..8).unwrap_or(commit);
    let link = non_empty(&git.commit_url)
        .map(|u| format!(" {short} ({u})"))
        .unwrap_or_else(|| format!(" {short}"));
    out.push_str(&format!(
        "\n✅ Committed{link} on {}",
        non_empty(&git.branch).unwrap_or_default()
    ));
    if git.pushed {
        out.push_str(&format!(
            "\n✅ Pushed to {}",
            non_empty(&git.remote).unwrap_or("the remote")
        ));
    } else if let Some(why) = said {
        out.push_str(&format!("\n⚠️ {why}"));
    }
    if let Some(pr) = non_empty(&git.pr_url) {
        out.push_str(&format!("\n🔀 Pull request: {pr}"));
    }
    out
}

/// A message about heal itself.
pub fn notice(text: &str) -> Message {
    simple(text)
}

/// The alert as plain text for a terminal: the same content as the Slack message, unescaped.
pub fn alert_terminal(record: &Record) -> String {
    let m = Mode::Plain;
    let mut out = format!("{}\n\n", title(record));
    out.push_str(&format!(
        "Type: {}\n",
        head(&record.error.exc_type, VALUE_MAX, m)
    ));
    let pieces = split(
        message_of(record),
        usize::MAX,
        SECTION_TEXT_MAX,
        MESSAGE_SECTIONS_MAX,
        m,
    );
    out.push_str(&format!("Message: {}\n", pieces.concat()));
    let context = context_lines(record, m);
    if !context.is_empty() {
        out.push_str("\nContext:\n");
        for line in context {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let related = related_lines(record, m);
    if !related.is_empty() {
        out.push_str("\nRelated exceptions:\n");
        for line in related {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !record.error.traceback.trim().is_empty() {
        out.push_str("\nTraceback:\n");
        out.push_str(&tail_lines(&record.error.traceback, SECTION_TEXT_MAX, m));
        out.push('\n');
    }
    out.push('\n');
    if let Some(exit) = &record.context.exit {
        out.push_str(&crash_line(exit));
        out.push('\n');
    }
    out.push_str(&status_lines(record, View::Alert, m).join("\n"));
    out
}

/// Escapes the three characters Slack's mrkdwn gives a meaning to (links, mentions).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        Mode::Slack.push(&mut out, c);
    }
    out
}

/// Which version of the alert: the first message, or its later rewrite.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Alert,
    Update,
}

/// Where the text goes: Slack (escaped, measured as Slack measures) or a terminal (as is).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Slack,
    Plain,
}

impl Mode {
    /// The length `c` takes once rendered. Slack's limits are counted in UTF-16 code units
    /// at most, so counting those keeps an emoji-heavy text within them.
    fn cost(self, c: char) -> usize {
        match self {
            Mode::Plain => 1,
            Mode::Slack => match c {
                '&' => 5,
                '<' | '>' => 4,
                _ => c.len_utf16(),
            },
        }
    }

    /// The rendered length of raw text.
    fn cost_of(self, raw: &str) -> usize {
        raw.chars().map(|c| self.cost(c)).sum()
    }

    /// The length of text already rendered.
    fn width(self, rendered: &str) -> usize {
        match self {
            Mode::Plain => rendered.chars().count(),
            Mode::Slack => rendered.encode_utf16().count(),
        }
    }

    fn push(self, out: &mut String, c: char) {
        match (self, c) {
            (Mode::Slack, '&') => out.push_str("&amp;"),
            (Mode::Slack, '<') => out.push_str("&lt;"),
            (Mode::Slack, '>') => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }

    fn render(self, raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        for c in raw.chars() {
            self.push(&mut out, c);
        }
        out
    }

    fn bold(self, label: &str) -> String {
        match self {
            Mode::Slack => format!("*{label}*"),
            Mode::Plain => label.to_string(),
        }
    }

    fn code(self, rendered: &str) -> String {
        match self {
            Mode::Slack => format!("`{rendered}`"),
            Mode::Plain => rendered.to_string(),
        }
    }
}

fn simple(raw: &str) -> Message {
    let m = Mode::Slack;
    Message {
        text: head(raw, TEXT_FALLBACK_MAX, m),
        blocks: vec![section(head(raw, SECTION_TEXT_MAX, m))],
    }
}

fn section(rendered: String) -> Block {
    Block::Section {
        text: Text::mrkdwn(rendered),
    }
}

fn title(record: &Record) -> String {
    format!("🚨 ERROR DETECTED - {}", record.id)
}

fn message_of(record: &Record) -> &str {
    if record.error.message.trim().is_empty() {
        "(no message)"
    } else {
        &record.error.message
    }
}

fn render_alert(record: &Record, view: View) -> Message {
    let m = Mode::Slack;
    let mut blocks = vec![Block::Header {
        // plain_text is shown as is: no escaping.
        text: Text::plain(head(&title(record), HEADER_TEXT_MAX, Mode::Plain)),
    }];

    // The type, then the full message, spilling into more sections when it is long.
    let first = format!(
        "{} {}\n{} ",
        m.bold("Type:"),
        head(&record.error.exc_type, VALUE_MAX, m),
        m.bold("Message:")
    );
    let pieces = split(
        message_of(record),
        SECTION_TEXT_MAX.saturating_sub(m.width(&first)),
        SECTION_TEXT_MAX,
        MESSAGE_SECTIONS_MAX,
        m,
    );
    let mut pieces = pieces.into_iter();
    blocks.push(section(format!(
        "{first}{}",
        pieces.next().unwrap_or_default()
    )));
    blocks.extend(pieces.map(section));

    let context = context_lines(record, m);
    if !context.is_empty() {
        blocks.push(section(fit_lines(
            &m.bold("Context:"),
            &context,
            SECTION_TEXT_MAX,
            m,
        )));
    }
    let related = related_lines(record, m);
    if !related.is_empty() {
        blocks.push(section(fit_lines(
            &m.bold("Related exceptions:"),
            &related,
            SECTION_TEXT_MAX,
            m,
        )));
    }
    if !record.error.traceback.trim().is_empty() {
        let open = format!("{}\n```\n", m.bold("Traceback:"));
        let close = "\n```";
        let budget = SECTION_TEXT_MAX - m.width(&open) - m.width(close);
        // A ``` inside the traceback would close the code block early.
        let tb = record.error.traceback.replace("```", "`\u{200b}`\u{200b}`");
        blocks.push(section(format!(
            "{open}{}{close}",
            tail_lines(&tb, budget, m)
        )));
    }
    let mut last = Vec::new();
    if let Some(exit) = &record.context.exit {
        last.push(m.render(&crash_line(exit)));
    }
    last.extend(status_lines(record, view, m));
    blocks.push(section(fit_lines("", &last, SECTION_TEXT_MAX, m)));
    blocks.push(Block::Context {
        elements: vec![Text::mrkdwn(footer(record, m))],
    });
    // The layout above has at most a dozen blocks; this only guards later changes.
    blocks.truncate(MAX_BLOCKS);

    Message {
        text: fallback(record, view),
        blocks,
    }
}

/// The plain-text version for notifications: everything but the traceback.
fn fallback(record: &Record, view: View) -> String {
    let p = Mode::Plain;
    let mut s = format!(
        "{}\nType: {}\nMessage: {}\n",
        title(record),
        record.error.exc_type,
        head(message_of(record), 1000, p)
    );
    for line in context_lines(record, p) {
        s.push_str(&line);
        s.push('\n');
    }
    if let Some(exit) = &record.context.exit {
        s.push_str(&crash_line(exit));
        s.push('\n');
    }
    s.push_str(&status_lines(record, view, p).join("\n"));
    head(&s, TEXT_FALLBACK_MAX, Mode::Slack)
}

/// `• Label: value` lines, rendered: where the error happened, the run's tags, the command.
fn context_lines(record: &Record, m: Mode) -> Vec<String> {
    let c = &record.context;
    let mut items: Vec<(String, String, bool)> = Vec::new();
    if let Some(f) = &c.function {
        items.push(("Function".into(), f.clone(), false));
    }
    if let Some(module) = &c.module {
        items.push(("Module".into(), module.clone(), false));
    }
    if let Some(file) = &c.file {
        let at = match c.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        };
        items.push(("File".into(), at, false));
    }
    for (key, value) in &c.tags {
        items.push((capitalise(key), value.clone(), false));
    }
    if let Some(origin) = &record.error.origin {
        items.push((
            "Origin".into(),
            origin.trim_end_matches(':').to_string(),
            false,
        ));
    }
    if !c.command.is_empty() {
        items.push(("Command".into(), c.command.join(" "), true));
    }
    items
        .into_iter()
        .map(|(label, value, code)| {
            let value = head(&value, VALUE_MAX, m);
            let value = if code { m.code(&value) } else { value };
            format!("• {}: {value}", head(&label, VALUE_MAX, m))
        })
        .collect()
}

fn related_lines(record: &Record, m: Mode) -> Vec<String> {
    let related = &record.error.related;
    let mut lines: Vec<String> = related
        .iter()
        .take(RELATED_MAX)
        .map(|r| format!("• {}", head(r, RELATED_LINE_MAX, m)))
        .collect();
    if related.len() > RELATED_MAX {
        lines.push(format!("… and {} more", related.len() - RELATED_MAX));
    }
    lines
}

fn crash_line(exit: &ExitInfo) -> String {
    match (exit.signal, exit.code) {
        (Some(signal), _) => match crate::signal::name(signal) {
            Some(name) => format!("💥 The program crashed: killed by signal {signal} ({name})."),
            None => format!("💥 The program crashed: killed by signal {signal}."),
        },
        (None, Some(code)) => format!("💥 The program crashed with exit code {code}."),
        (None, None) => "💥 The program crashed.".to_string(),
    }
}

/// The closing lines: what heal did about the incident, rendered.
fn status_lines(record: &Record, view: View, m: Mode) -> Vec<String> {
    let reason = record
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(capitalise);
    let with = |icon: &str, fallback: &str| {
        Some(format!(
            "{icon} {}",
            reason.clone().unwrap_or_else(|| fallback.to_string())
        ))
    };
    let why = match record.status {
        Status::Detected => None,
        Status::Skipped => with(
            "⏸️",
            "Auto-healing is off: recorded and reported, not fixed.",
        ),
        Status::Healing => with("🔧", "Healing: analysing and proving a fix."),
        Status::Failed => with("❌", "Healing failed."),
        Status::Rejected => with("🛑", "The proposed fix was rejected; nothing was written."),
        Status::Applied => with("✅", "A proved fix was applied."),
        Status::Committed => with("✅", "A proved fix was applied and committed."),
        Status::Pushed => with("✅", "A proved fix was applied, committed and pushed."),
        Status::Regressed => with(
            "↩️",
            "The error came back after the fix; it was rolled back.",
        ),
        Status::Reverted => with("↩️", "The fix was reverted."),
        Status::Interrupted => with("⚠️", "heal was stopped while healing this incident."),
    };
    match view {
        View::Alert => match why {
            Some(why) => vec![head(&why, VALUE_MAX * 2, m)],
            None => vec![m.render(&format!(
                "⏳ Recorded: {}{}.",
                occurrences(record.occurrences),
                on_hosts(record)
            ))],
        },
        View::Update => {
            let mut lines = vec![format!(
                "{} {} — {}{}, last seen {}",
                m.bold("Status:"),
                record.status.as_str(),
                occurrences(record.occurrences),
                head(&on_hosts(record), VALUE_MAX, m),
                head(&record.last_seen_at, 64, m)
            )];
            lines.extend(why.map(|why| head(&why, VALUE_MAX * 2, m)));
            lines
        }
    }
}

/// Hosts shown by name in a fleet's messages; past them, a count.
const HOSTS_SHOWN: usize = 5;

/// ` on web-1`, or ` on 3 hosts: web-1 ×5, web-2 ×1, web-3 ×2`: which hosts of a fleet saw the
/// error, and how often; empty for a single host's store.
fn on_hosts(record: &Record) -> String {
    match record.hosts.as_slice() {
        [] => String::new(),
        [one] => format!(" on {}", one.host),
        many => {
            let mut named: Vec<String> = many
                .iter()
                .take(HOSTS_SHOWN)
                .map(|h| format!("{} ×{}", h.host, h.occurrences))
                .collect();
            if many.len() > HOSTS_SHOWN {
                named.push(format!("{} more", many.len() - HOSTS_SHOWN));
            }
            format!(" on {} hosts: {}", many.len(), named.join(", "))
        }
    }
}

fn occurrences(n: u64) -> String {
    if n == 1 {
        "1 occurrence".to_string()
    } else {
        format!("{n} occurrences")
    }
}

fn footer(record: &Record, m: Mode) -> String {
    let fingerprint: String = record.fingerprint.chars().take(12).collect();
    format!(
        "heal · first seen {} · fingerprint {}",
        head(&record.created_at, 64, m),
        m.code(&head(&fingerprint, 64, m))
    )
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `raw` rendered, cut to `max` with a trailing "…" when it is longer.
fn head(raw: &str, max: usize, m: Mode) -> String {
    if m.cost_of(raw) <= max {
        return m.render(raw);
    }
    let mut out = String::new();
    let mut used = 1; // the ellipsis
    for c in raw.chars() {
        let n = m.cost(c);
        if used + n > max {
            break;
        }
        used += n;
        m.push(&mut out, c);
    }
    out.push('…');
    out
}

/// The end of `raw` rendered, at most `max` long, with a leading "…" when it was cut.
fn tail(raw: &str, max: usize, m: Mode) -> String {
    if m.cost_of(raw) <= max {
        return m.render(raw);
    }
    let mut kept = Vec::new();
    let mut used = 1; // the ellipsis
    for c in raw.chars().rev() {
        let n = m.cost(c);
        if used + n > max {
            break;
        }
        used += n;
        kept.push(c);
    }
    let mut out = String::from("…");
    for c in kept.into_iter().rev() {
        m.push(&mut out, c);
    }
    out
}

/// Splits `raw` into rendered pieces: the first at most `first_max` long, the others `max`,
/// and no more than `pieces` of them; the last ends with a note when text was left out.
fn split(raw: &str, first_max: usize, max: usize, pieces: usize, m: Mode) -> Vec<String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() && out.len() < pieces {
        let limit = if out.is_empty() { first_max } else { max };
        let rest: usize = chars[i..].iter().map(|&c| m.cost(c)).sum();
        if rest <= limit {
            let mut piece = String::new();
            for &c in &chars[i..] {
                m.push(&mut piece, c);
            }
            out.push(piece);
            return out;
        }
        let last = out.len() + 1 == pieces;
        let reserve = if last { MARKER_MAX } else { 0 };
        let mut piece = String::new();
        let mut used = 0;
        while i < chars.len() {
            let n = m.cost(chars[i]);
            if used + n + reserve > limit {
                break;
            }
            used += n;
            m.push(&mut piece, chars[i]);
            i += 1;
        }
        if last {
            piece.push_str(&format!("… ({} characters trimmed)", chars.len() - i));
        }
        out.push(piece);
    }
    out
}

/// The end of a multi-line text that fits in `max` once rendered, in whole lines when it can,
/// after a line saying how many were left out. The end is what matters in a traceback: the
/// innermost frames and the exception itself.
fn tail_lines(raw: &str, max: usize, m: Mode) -> String {
    let lines: Vec<&str> = raw.trim_end().lines().collect();
    let full: usize =
        lines.iter().map(|l| m.cost_of(l)).sum::<usize>() + lines.len().saturating_sub(1);
    if full <= max {
        return lines
            .iter()
            .map(|l| m.render(l))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let budget = max.saturating_sub(MARKER_MAX);
    let mut used = 0;
    let mut first_kept = lines.len();
    for (i, line) in lines.iter().enumerate().rev() {
        let n = m.cost_of(line) + 1; // and its newline
        if used + n > budget {
            break;
        }
        used += n;
        first_kept = i;
    }
    if first_kept == lines.len() {
        // Not even the last line fits (a crash's stderr can be one huge line): keep its end.
        let before = lines.len() - 1;
        let note = if before > 0 {
            format!("… ({})\n", lines_trimmed(before))
        } else {
            String::new()
        };
        let last = lines.last().copied().unwrap_or_default();
        return format!("{note}{}", tail(last, budget, m));
    }
    let mut out = format!("… ({})", lines_trimmed(first_kept));
    for line in &lines[first_kept..] {
        out.push('\n');
        out.push_str(&m.render(line));
    }
    out
}

fn lines_trimmed(n: usize) -> String {
    if n == 1 {
        "1 line trimmed".to_string()
    } else {
        format!("{n} lines trimmed")
    }
}

/// `title` then as many of the rendered `lines` as fit in `max`, and a note for the rest.
fn fit_lines(title: &str, lines: &[String], max: usize, m: Mode) -> String {
    let mut out = title.to_string();
    let budget = max.saturating_sub(MARKER_MAX);
    for (i, line) in lines.iter().enumerate() {
        let sep = usize::from(!out.is_empty());
        if m.width(&out) + sep + m.width(line) > budget {
            out.push_str(&format!("\n… ({} more)", lines.len() - i));
            break;
        }
        if sep == 1 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analyse::{Category, Confidence};
    use crate::record::model::{Analysis, Context, ErrorInfo, Fix};

    fn record() -> Record {
        Record {
            id: "err_20260128_143022".into(),
            status: Status::Detected,
            reason: None,
            fingerprint: "0123456789abcdef0123".into(),
            occurrences: 1,
            created_at: "2026-01-28T14:30:22Z".into(),
            last_seen_at: "2026-01-28T14:30:22Z".into(),
            error: ErrorInfo {
                exc_type: "ImportError".into(),
                message: "No module named 'non_existent_module'".into(),
                traceback: "Traceback (most recent call last):\n  File \"engine/decision_engine.py\", line 15, in run_publish_cycle\n    from non_existent_module import something\nImportError: No module named 'non_existent_module'\n".into(),
                frames: vec![],
                related: vec![],
                origin: None,
                stream: None,
                sdk: None,
            },
            context: Context {
                function: Some("run_publish_cycle".into()),
                module: Some("engine.decision_engine".into()),
                file: Some("engine/decision_engine.py".into()),
                line: Some(15),
                command: vec!["python3".into(), "main.py".into()],
                tags: BTreeMap::from([("client".into(), "avego".into())]),
                exit: None,
                found_in_proof: None,
                test: None,
            },
            notifications: vec![],
            slack: None,
            analysis: None,
            fix: None,
            result: None,
            timings_ms: BTreeMap::new(),
            llm: None,
            heal_failures: 0,
            hosts: Vec::new(),
            followed: Vec::new(),
        }
    }

    #[test]
    fn a_fleets_messages_say_which_hosts_saw_the_error_and_how_often() {
        use crate::record::model::HostSeen;
        let mut r = record();
        let seen = |host: &str, n| HostSeen {
            host: host.into(),
            occurrences: n,
            first_seen_at: "2026-01-28T14:30:22Z".into(),
            last_seen_at: "2026-01-28T14:30:22Z".into(),
        };
        r.hosts = vec![seen("web-1", 1)];
        assert!(
            texts(&alert(&r))
                .join("\n")
                .contains("1 occurrence on web-1")
        );
        r.occurrences = 6;
        r.hosts = (1..=7).map(|i| seen(&format!("web-{i}"), 1)).collect();
        r.hosts[0].occurrences = 0;
        let all = texts(&update(&r)).join("\n");
        assert!(
            all.contains("6 occurrences on 7 hosts: web-1 ×0, web-2 ×1") && all.contains("2 more"),
            "{all}"
        );
        r.status = Status::Pushed;
        assert!(report_text(&r).contains("Seen 6 occurrences on 7 hosts"));
        // Without a fleet, nothing changes.
        r.hosts.clear();
        assert!(!texts(&alert(&r)).join("\n").contains(" on "));
    }

    fn texts(m: &Message) -> Vec<String> {
        m.blocks
            .iter()
            .flat_map(|b| match b {
                Block::Header { text } | Block::Section { text } => vec![text.clone()],
                Block::Context { elements } => elements.clone(),
                Block::Divider => vec![],
            })
            .map(|t| match t {
                Text::Plain { text, .. } | Text::Mrkdwn { text } => text,
            })
            .collect()
    }

    fn section_texts(m: &Message) -> Vec<String> {
        m.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Section {
                    text: Text::Mrkdwn { text },
                } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn alert_follows_the_seed() {
        let msg = alert(&record());
        let all = texts(&msg).join("\n");
        for needle in [
            "🚨 ERROR DETECTED - err_20260128_143022",
            "*Type:* ImportError",
            "*Message:* No module named 'non_existent_module'",
            "• Function: run_publish_cycle",
            "• Module: engine.decision_engine",
            "• File: engine/decision_engine.py:15",
            "• Client: avego",
            "• Command: `python3 main.py`",
            "```\nTraceback (most recent call last):",
            "    from non_existent_module import something",
            "⏳ Recorded: 1 occurrence.",
        ] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
        assert!(
            msg.text
                .starts_with("🚨 ERROR DETECTED - err_20260128_143022\nType: ImportError")
        );
        assert!(msg.text.contains("• Client: avego"));
    }

    #[test]
    fn user_text_is_escaped_for_mrkdwn() {
        let mut r = record();
        r.error.message = "<!channel> a & b <http://x|y>".into();
        r.error.traceback = "ValueError: <!here> & co\n".into();
        r.context.tags.insert("team".into(), "<@U123>".into());
        let msg = alert(&r);
        let all = texts(&msg).join("\n") + &msg.text;
        assert!(!all.contains('<') && !all.contains('>'), "{all}");
        assert!(all.contains("&lt;!channel&gt; a &amp; b"));
        assert!(all.contains("• Team: &lt;@U123&gt;"));
    }

    #[test]
    fn a_long_traceback_keeps_its_end_within_the_section_limit() {
        let mut r = record();
        let mut tb = String::from("Traceback (most recent call last):\n");
        for i in 0..500 {
            tb.push_str(&format!(
                "  File \"app/deep.py\", line {i}, in f{i} & <g>\n    f{}()\n",
                i + 1
            ));
        }
        tb.push_str("RecursionError: maximum recursion depth exceeded\n");
        r.error.traceback = tb;
        let msg = alert(&r);
        let tb_section = section_texts(&msg)
            .into_iter()
            .find(|t| t.starts_with("*Traceback:*"))
            .unwrap();
        assert!(tb_section.encode_utf16().count() <= SECTION_TEXT_MAX);
        assert!(tb_section.ends_with("RecursionError: maximum recursion depth exceeded\n```"));
        assert!(tb_section.contains("lines trimmed)"), "{tb_section}");
        assert!(tb_section.contains("in f499 &amp; &lt;g&gt;"));
        assert!(!tb_section.contains("Traceback (most recent call last)"));
        // The terminal version trims the same way.
        let term = alert_terminal(&r);
        assert!(term.contains("RecursionError: maximum recursion depth exceeded"));
        assert!(term.contains("in f499 & <g>"));
    }

    #[test]
    fn one_huge_line_keeps_its_end() {
        let mut r = record();
        r.error.traceback = format!("start\n{}THE END", "z".repeat(100_000));
        let msg = alert(&r);
        for t in section_texts(&msg) {
            assert!(t.encode_utf16().count() <= SECTION_TEXT_MAX);
        }
        let all = section_texts(&msg).join("\n");
        assert!(all.contains("… (1 line trimmed)\n…zzz"));
        assert!(all.contains("THE END\n```"));
    }

    #[test]
    fn a_long_message_is_shown_in_full_across_sections() {
        let mut r = record();
        r.error.message = format!("{}END", "é&".repeat(2000));
        let msg = alert(&r);
        let sections = section_texts(&msg);
        for s in &sections {
            assert!(s.encode_utf16().count() <= SECTION_TEXT_MAX, "{}", s.len());
        }
        let joined: String = sections.concat();
        assert_eq!(joined.matches("&amp;").count(), 2000);
        assert!(joined.contains("END"));
        assert!(msg.text.encode_utf16().count() <= TEXT_FALLBACK_MAX);
    }

    #[test]
    fn an_enormous_message_is_cut_with_a_note() {
        let mut r = record();
        r.error.message = "x".repeat(100_000);
        let msg = alert(&r);
        assert!(msg.blocks.len() <= MAX_BLOCKS);
        let all = section_texts(&msg).join("");
        assert!(all.contains("characters trimmed)"));
        for s in section_texts(&msg) {
            assert!(s.encode_utf16().count() <= SECTION_TEXT_MAX);
        }
    }

    #[test]
    fn crash_and_skipped_status_lines() {
        let mut r = record();
        r.status = Status::Skipped;
        r.context.exit = Some(ExitInfo {
            code: None,
            signal: Some(9),
        });
        let all = texts(&alert(&r)).join("\n");
        assert!(all.contains("killed by signal 9 (SIGKILL)"), "{all}");
        assert!(all.contains("⏸️ Auto-healing is off: recorded and reported, not fixed."));
        r.reason = Some("auto-healing is disabled (ENABLE_AUTO_HEALING=false)".into());
        r.context.exit = Some(ExitInfo {
            code: Some(1),
            signal: None,
        });
        let all = texts(&alert(&r)).join("\n");
        assert!(all.contains("crashed with exit code 1"));
        assert!(all.contains("⏸️ Auto-healing is disabled (ENABLE_AUTO_HEALING=false)"));
    }

    #[test]
    fn update_shows_status_count_and_last_seen() {
        let mut r = record();
        r.status = Status::Skipped;
        r.occurrences = 12;
        r.last_seen_at = "2026-01-28T15:00:00Z".into();
        let all = texts(&update(&r)).join("\n");
        assert!(
            all.contains("*Status:* skipped — 12 occurrences, last seen 2026-01-28T15:00:00Z"),
            "{all}"
        );
        assert!(all.contains("🚨 ERROR DETECTED - err_20260128_143022"));
    }

    // See: issue 15 (the line labelled "Cause:" showed the fix).
    #[test]
    fn r15_the_report_labels_the_cause_the_fix_and_why() {
        let mut r = record();
        r.status = Status::Pushed;
        r.analysis = Some(Analysis {
            root_cause: "`x` is a float and `+` needs two strings".into(),
            error_category: Category::Type,
            confidence: Confidence::High,
            ..Analysis::default()
        });
        r.fix = Some(Fix {
            changes_summary: "format the total with an f-string".into(),
            explanation: "An f-string formats the float.".into(),
            ..Fix::default()
        });
        let text = report_text(&r);
        for line in [
            "\n• Cause: `x` is a float and `+` needs two strings\n",
            "\n• Fix: format the total with an f-string\n",
            "\n• Why: An f-string formats the float.",
        ] {
            assert!(text.contains(line), "`{line}` missing:\n{text}");
        }
        // A rule's explanation is its change: said once.
        r.fix = Some(Fix {
            changes_summary: "replace `a` with `b`".into(),
            explanation: "replace `a` with `b`".into(),
            ..Fix::default()
        });
        let text = report_text(&r);
        assert_eq!(text.matches("replace `a` with `b`").count(), 1, "{text}");
        assert!(!text.contains("• Why:"), "{text}");
    }

    // See: issue 15 (the timings came in name order: analyse, apply, commit, healing, prove).
    #[test]
    fn r15_timings_come_in_pipeline_order_with_the_whole_healing_last() {
        let mut r = record();
        r.status = Status::Pushed;
        for (stage, ms) in [
            ("analyse", 1),
            ("apply", 2),
            ("commit", 3),
            ("healing", 4),
            ("later_stage", 5),
            ("prove", 6),
        ] {
            r.timings_ms.insert(stage.into(), ms);
        }
        let expected =
            "analyse 1 ms, prove 6 ms, apply 2 ms, commit 3 ms, later_stage 5 ms, healing 4 ms";
        assert_eq!(timings(&r), expected);
        assert!(report_text(&r).ends_with(&format!("\n\nTimings: {expected}")));
    }

    #[test]
    fn stage_names_the_incident() {
        let r = record();
        let msg = stage(&r, "🤖 analysing");
        assert_eq!(msg.text, "🤖 analysing (err_20260128_143022)");
        let msg = stage(&r, "🔧 fixing err_20260128_143022...");
        assert_eq!(msg.text, "🔧 fixing err_20260128_143022...");
        assert_eq!(msg.blocks.len(), 1);
    }

    #[test]
    fn terminal_alert_is_plain() {
        let out = alert_terminal(&record());
        assert!(out.starts_with("🚨 ERROR DETECTED - err_20260128_143022\n\nType: ImportError\n"));
        assert!(out.contains("\nContext:\n• Function: run_publish_cycle\n"));
        assert!(out.contains("• Command: python3 main.py\n"));
        assert!(out.contains("ImportError: No module named 'non_existent_module'\n"));
        assert!(!out.contains('*') && !out.contains("```"));
    }

    #[test]
    fn head_and_tail_never_split_an_escape() {
        assert_eq!(head("a&b", 7, Mode::Slack), "a&amp;b");
        assert_eq!(head("a&&b", 7, Mode::Slack), "a&amp;…");
        assert_eq!(head("a&b", 6, Mode::Slack), "a…");
        assert_eq!(tail("xa&b", 7, Mode::Slack), "…&amp;b");
        assert_eq!(tail("a&b", 6, Mode::Slack), "…b");
    }
}
