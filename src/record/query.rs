//! The dashboard's reads: a filtered, paginated list of incidents, daily counts for
//! sparklines, and the overview's figures. Each is a query on the indexed columns and the
//! daily counts of [`super::index`], never a scan of the records' documents.

use std::collections::BTreeMap;

use rusqlite::{params, params_from_iter, types::Value};
use serde::Serialize;

use super::{RecordError, Store, rfc3339};

/// The statuses an open incident may have (see [`super::model::Status::is_open`]).
pub const OPEN_STATUSES: &[&str] = &[
    "detected",
    "healing",
    "skipped",
    "failed",
    "rejected",
    "regressed",
    "interrupted",
];
/// A proved fix is in the live tree.
pub const FIXED_STATUSES: &[&str] = &["applied", "committed", "pushed"];

/// The most rows one page holds, whatever is asked.
pub const MAX_PER_PAGE: usize = 200;

/// What the list shows: every field optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One status, or `open` or `fixed` for their groups.
    pub status: Option<String>,
    pub exc_type: Option<String>,
    pub file: Option<String>,
    /// Found in the message (case-insensitive for ASCII).
    pub search: Option<String>,
    /// `key:value`: a tag the incident has (`client:acme`).
    pub tag: Option<String>,
    /// Last seen at or after, RFC 3339.
    pub since: Option<String>,
    /// Last seen before, RFC 3339.
    pub until: Option<String>,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

/// One incident as the list shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub id: String,
    pub status: String,
    pub exc_type: String,
    pub message: String,
    pub file: String,
    pub line: i64,
    pub occurrences: i64,
    pub created_at: String,
    pub last_seen_at: String,
    /// `rule`, `model`, or empty when no fix was sought.
    pub source: String,
}

/// A page of the list and how many incidents match in all.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub rows: Vec<Row>,
    pub total: u64,
    pub page: usize,
    pub per_page: usize,
}

/// Occurrences on one day (`YYYY-MM-DD`, UTC).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Day {
    pub day: String,
    pub count: u64,
}

/// The overview's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// When they were computed, RFC 3339.
    pub at: String,
    pub incidents_24h: u64,
    pub open: u64,
    /// Fixes in place (applied, committed, pushed) over healings that ended (those plus
    /// failed, rejected, regressed, reverted, interrupted), among incidents first seen in the
    /// last 30 days; `null` when none ended.
    pub fix_rate_30d: Option<f64>,
    pub fixed_30d: u64,
    pub attempted_30d: u64,
    /// Median seconds from first seen to first fixed, for incidents fixed in the last 30 days.
    pub median_resolve_s_30d: Option<u64>,
    /// Occurrences per day for 30 days, oldest first, by outcome (`fixed`, `skipped`,
    /// `rejected`, `failed`, `open`).
    pub per_day: Vec<DayByOutcome>,
    /// The most frequent error types of the last 7 days.
    pub top_types_7d: Vec<TypeCount>,
    /// Incidents first seen in the last 30 days at each step of a fix.
    pub funnel_30d: Funnel,
    /// Model calls in the last hour, by any heal of this project.
    pub model_calls_hour: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DayByOutcome {
    pub day: String,
    pub fixed: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub failed: u64,
    pub open: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TypeCount {
    pub exc_type: String,
    pub count: u64,
    pub last_seen_at: String,
    /// Occurrences per day over the 7 days, oldest first.
    pub days: Vec<u64>,
}

/// A period's incidents by outcome.
struct Outcomes {
    /// A proved fix is in the live tree.
    fixed: u64,
    /// heal tried a fix: fixed, or failed, refused, regressed, reverted or interrupted.
    attempted: u64,
    funnel: Funnel,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Funnel {
    pub detected: u64,
    /// A rule or a model proposed a fix.
    pub proposed: u64,
    /// The fix passed its proof and was applied (heal applies what it proves).
    pub applied: u64,
    /// Still in place: not regressed, not reverted.
    pub held: u64,
}

impl Store {
    /// The incidents matching `filter`, most recently seen first.
    pub fn incidents(&self, filter: &Filter) -> Result<Page, RecordError> {
        let (clause, args) = where_clause(filter);
        let per_page = filter.per_page.clamp(1, MAX_PER_PAGE);
        let page = filter.page.max(1);
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let total: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM incidents {clause}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))?;
        let mut args = args;
        args.push(Value::Integer(per_page as i64));
        args.push(Value::Integer(((page - 1) * per_page) as i64));
        let mut stmt = conn
            .prepare(&format!(
                "SELECT id, status, exc_type, message, file, line, occurrences, created_at,
                        last_seen_at, source
                 FROM incidents {clause} ORDER BY last_seen_at DESC, id DESC LIMIT ? OFFSET ?"
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(Row {
                    id: r.get(0)?,
                    status: r.get(1)?,
                    exc_type: r.get(2)?,
                    message: r.get(3)?,
                    file: r.get(4)?,
                    line: r.get(5)?,
                    occurrences: r.get(6)?,
                    created_at: r.get(7)?,
                    last_seen_at: r.get(8)?,
                    source: r.get(9)?,
                })
            })
            .map_err(|e| self.sql(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql(e))?;
        Ok(Page {
            rows,
            total: u64::try_from(total).unwrap_or(0),
            page,
            per_page,
        })
    }

    /// Occurrences per day of each of `ids` over the `days` days ending today (UTC), oldest
    /// first, a zero for a day without any.
    pub fn daily(
        &self,
        ids: &[String],
        days: u32,
        now: time::OffsetDateTime,
    ) -> Result<BTreeMap<String, Vec<u64>>, RecordError> {
        let calendar = calendar(now, days);
        let first = calendar.first().cloned().unwrap_or_default();
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare("SELECT day, count FROM occurrences_daily WHERE incident = ?1 AND day >= ?2")
            .map_err(|e| self.sql(e))?;
        let mut out = BTreeMap::new();
        for id in ids {
            let rows: Vec<(String, i64)> = stmt
                .query_map(params![id, first], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| self.sql(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.sql(e))?;
            out.insert(id.clone(), by_calendar(&calendar, &rows));
        }
        Ok(out)
    }

    /// The overview's figures at `now`.
    pub fn stats(&self, now: time::OffsetDateTime) -> Result<Stats, RecordError> {
        let day_ago = rfc3339(now - time::Duration::hours(24));
        let month_ago = rfc3339(now - time::Duration::days(30));
        let hour_ago = now.unix_timestamp() - 3600;
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let count = |query: &str, args: &[&dyn rusqlite::ToSql]| -> Result<u64, RecordError> {
            let n: i64 = conn
                .query_row(query, args, |r| r.get(0))
                .map_err(|e| self.sql(e))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let incidents_24h = count(
            "SELECT COUNT(*) FROM incidents WHERE created_at >= ?1",
            &[&day_ago],
        )?;
        let open = count(
            &format!(
                "SELECT COUNT(*) FROM incidents WHERE status IN ({})",
                quoted(OPEN_STATUSES)
            ),
            &[],
        )?;
        let model_calls_hour = count(
            "SELECT COUNT(*) FROM llm_calls WHERE at >= ?1",
            &[&hour_ago],
        )?;
        let month = self.outcomes_since(&conn, &month_ago)?;
        Ok(Stats {
            at: rfc3339(now),
            incidents_24h,
            open,
            fix_rate_30d: (month.attempted > 0)
                .then(|| month.fixed as f64 / month.attempted as f64),
            fixed_30d: month.fixed,
            attempted_30d: month.attempted,
            median_resolve_s_30d: self.median_resolve_s_since(&conn, &month_ago)?,
            per_day: self.occurrences_by_outcome(&conn, &calendar(now, 30))?,
            top_types_7d: self.top_types(&conn, &calendar(now, 7))?,
            funnel_30d: month.funnel,
            model_calls_hour,
        })
    }

    /// The incidents created since `since`, by status: the fix rate and the funnel.
    fn outcomes_since(
        &self,
        conn: &rusqlite::Connection,
        since: &str,
    ) -> Result<Outcomes, RecordError> {
        let sql = |e| self.sql(e);
        // Per status: (incidents, incidents a rule or a model proposed a fix for).
        let mut by_status: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut stmt = conn
            .prepare(
                "SELECT status, source != '', COUNT(*) FROM incidents
                 INDEXED BY incidents_created_facts
                 WHERE created_at >= ?1 GROUP BY status, source != ''",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (status, proposed, n) = row.map_err(sql)?;
            let entry = by_status.entry(status).or_default();
            let n = u64::try_from(n).unwrap_or(0);
            entry.0 += n;
            if proposed {
                entry.1 += n;
            }
        }
        let total = |statuses: &[&str]| -> u64 {
            statuses
                .iter()
                .filter_map(|s| by_status.get(*s))
                .map(|e| e.0)
                .sum()
        };
        let fixed = total(FIXED_STATUSES);
        Ok(Outcomes {
            fixed,
            attempted: fixed
                + total(&["failed", "rejected", "regressed", "reverted", "interrupted"]),
            funnel: Funnel {
                detected: by_status.values().map(|e| e.0).sum(),
                proposed: by_status.values().map(|e| e.1).sum(),
                applied: fixed + total(&["regressed", "reverted"]),
                held: fixed,
            },
        })
    }

    /// The median time from detection to fix of the incidents fixed since `since`.
    fn median_resolve_s_since(
        &self,
        conn: &rusqlite::Connection,
        since: &str,
    ) -> Result<Option<u64>, RecordError> {
        let sql = |e| self.sql(e);
        let mut stmt = conn
            .prepare("SELECT created_at, fixed_at FROM incidents WHERE fixed_at >= ?1")
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql)?;
        let mut spans = Vec::new();
        for row in rows {
            let (created, fixed) = row.map_err(sql)?;
            if let (Some(a), Some(b)) = (parse_time(&created), parse_time(&fixed)) {
                spans.push(u64::try_from((b - a).whole_seconds()).unwrap_or(0));
            }
        }
        Ok(median(&mut spans))
    }

    /// Occurrences on each of `days`, by the outcome of their incident.
    fn occurrences_by_outcome(
        &self,
        conn: &rusqlite::Connection,
        days: &[String],
    ) -> Result<Vec<DayByOutcome>, RecordError> {
        let sql = |e| self.sql(e);
        let mut per_day: Vec<DayByOutcome> = days
            .iter()
            .map(|d| DayByOutcome {
                day: d.clone(),
                fixed: 0,
                skipped: 0,
                rejected: 0,
                failed: 0,
                open: 0,
            })
            .collect();
        let mut stmt = conn
            .prepare(
                "SELECT day, status, SUM(count) FROM occurrences_daily
                 INDEXED BY occurrences_daily_status
                 WHERE day >= ?1 GROUP BY day, status",
            )
            .map_err(sql)?;
        let first = days.first().cloned().unwrap_or_default();
        let rows = stmt
            .query_map(params![first], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (day, status, n) = row.map_err(sql)?;
            let Some(slot) = per_day.iter_mut().find(|d| d.day == day) else {
                continue;
            };
            let n = u64::try_from(n).unwrap_or(0);
            match outcome(&status) {
                Outcome::Fixed => slot.fixed += n,
                Outcome::Skipped => slot.skipped += n,
                Outcome::Rejected => slot.rejected += n,
                Outcome::Failed => slot.failed += n,
                Outcome::Open => slot.open += n,
            }
        }
        Ok(per_day)
    }

    /// The ten most frequent error types over `days`, each with its count per day.
    fn top_types(
        &self,
        conn: &rusqlite::Connection,
        days: &[String],
    ) -> Result<Vec<TypeCount>, RecordError> {
        let sql = |e| self.sql(e);
        let first = days.first().cloned().unwrap_or_default();
        let mut top = Vec::new();
        let mut stmt = conn
            .prepare(
                "SELECT exc_type, SUM(count) FROM occurrences_daily WHERE day >= ?1
                 GROUP BY exc_type ORDER BY SUM(count) DESC, exc_type LIMIT 10",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map(params![first], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(sql)?;
        let mut per_type = conn
            .prepare(
                "SELECT day, SUM(count) FROM occurrences_daily INDEXED BY occurrences_daily_type
                 WHERE exc_type = ?1 AND day >= ?2 GROUP BY day",
            )
            .map_err(sql)?;
        let mut last_seen = conn
            .prepare("SELECT MAX(last_seen_at) FROM incidents WHERE exc_type = ?1")
            .map_err(sql)?;
        let types: Vec<(String, i64)> = rows.collect::<Result<_, _>>().map_err(sql)?;
        for (exc_type, n) in types {
            let counts: Vec<(String, i64)> = per_type
                .query_map(params![exc_type, first], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let last_seen_at: Option<String> = last_seen
                .query_row(params![exc_type], |r| r.get(0))
                .map_err(sql)?;
            top.push(TypeCount {
                exc_type,
                count: u64::try_from(n).unwrap_or(0),
                last_seen_at: last_seen_at.unwrap_or_default(),
                days: by_calendar(days, &counts),
            });
        }
        Ok(top)
    }

    /// Incidents by status and error type, for `/metrics`; the types past the `top` most
    /// frequent are counted as `other`, so the label set stays bounded whatever programs
    /// raise.
    pub fn counts_by_status_and_type(
        &self,
        top: usize,
    ) -> Result<Vec<(String, String, u64, u64)>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let sql = |e| self.sql(e);
        let mut stmt = conn
            .prepare(
                "SELECT exc_type FROM incidents GROUP BY exc_type ORDER BY COUNT(*) DESC, exc_type LIMIT ?1",
            )
            .map_err(sql)?;
        let kept: Vec<String> = stmt
            .query_map(params![top as i64], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let mut stmt = conn
            .prepare(
                "SELECT status, exc_type, COUNT(*), SUM(occurrences) FROM incidents
                 GROUP BY status, exc_type",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(sql)?;
        let mut merged: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for row in rows {
            let (status, exc_type, n, occurrences) = row.map_err(sql)?;
            let label = if kept.contains(&exc_type) {
                exc_type
            } else {
                "other".to_string()
            };
            let e = merged.entry((status, label)).or_default();
            e.0 += u64::try_from(n).unwrap_or(0);
            e.1 += u64::try_from(occurrences).unwrap_or(0);
        }
        Ok(merged
            .into_iter()
            .map(|((s, t), (n, o))| (s, t, n, o))
            .collect())
    }
}

/// How an incident's status shows in the chart of errors per day.
enum Outcome {
    Fixed,
    Skipped,
    Rejected,
    Failed,
    Open,
}

fn outcome(status: &str) -> Outcome {
    match status {
        "applied" | "committed" | "pushed" => Outcome::Fixed,
        "skipped" => Outcome::Skipped,
        "rejected" | "reverted" | "regressed" => Outcome::Rejected,
        "failed" | "interrupted" => Outcome::Failed,
        _ => Outcome::Open,
    }
}

/// The WHERE clause of `filter` and its arguments, in order.
fn where_clause(filter: &Filter) -> (String, Vec<Value>) {
    let mut parts: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    match text(&filter.status) {
        Some("open") => parts.push(format!("status IN ({})", quoted(OPEN_STATUSES))),
        Some("fixed") => parts.push(format!("status IN ({})", quoted(FIXED_STATUSES))),
        Some(s) => {
            parts.push("status = ?".into());
            args.push(Value::Text(s.to_string()));
        }
        None => {}
    }
    if let Some(t) = text(&filter.exc_type) {
        parts.push("exc_type = ?".into());
        args.push(Value::Text(t.to_string()));
    }
    if let Some(f) = text(&filter.file) {
        parts.push("file = ?".into());
        args.push(Value::Text(f.to_string()));
    }
    if let Some(q) = text(&filter.search) {
        // instr() and not LIKE: the user's % and _ are text, not wildcards.
        parts.push("instr(lower(message), lower(?)) > 0".into());
        args.push(Value::Text(q.to_string()));
    }
    if let Some(t) = text(&filter.tag) {
        let (key, value) = t.split_once(':').unwrap_or((t, ""));
        parts.push("id IN (SELECT incident FROM incident_tags WHERE key = ? AND value = ?)".into());
        args.push(Value::Text(key.trim().to_string()));
        args.push(Value::Text(value.trim().to_string()));
    }
    if let Some(s) = text(&filter.since) {
        parts.push("last_seen_at >= ?".into());
        args.push(Value::Text(s.to_string()));
    }
    if let Some(u) = text(&filter.until) {
        parts.push("last_seen_at < ?".into());
        args.push(Value::Text(u.to_string()));
    }
    let clause = if parts.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", parts.join(" AND "))
    };
    (clause, args)
}

/// The trimmed text of an optional filter field; `None` when empty.
fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `'a', 'b'`: heal's own constants only, never user input.
fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `days` days ending with `now`'s (UTC), oldest first, as `YYYY-MM-DD`.
pub fn calendar(now: time::OffsetDateTime, days: u32) -> Vec<String> {
    (0..days)
        .rev()
        .map(|back| rfc3339(now - time::Duration::days(i64::from(back)))[..10].to_string())
        .collect()
}

/// `(day, count)` rows as one count per day of `days`, in its order: a zero for a day without
/// a row; a row for a day outside it is left out.
fn by_calendar(days: &[String], rows: &[(String, i64)]) -> Vec<u64> {
    days.iter()
        .map(|day| {
            rows.iter()
                .find(|(d, _)| d == day)
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
        })
        .collect()
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn median(values: &mut [u64]) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[values.len() / 2])
}

impl Store {
    /// When the incident was first seen fixed (applied, committed or pushed), if it was.
    pub fn fixed_at(&self, id: &str) -> Result<Option<String>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        conn.query_row(
            "SELECT fixed_at FROM incidents WHERE id = ?1",
            params![id],
            |r| r.get::<_, Option<String>>(0),
        )
        .map_err(|e| self.sql(e))
    }

    /// Incidents a fix was sought for, by status and the fix's source (`rule`, `model`).
    pub fn healings_by_status_and_source(&self) -> Result<Vec<(String, String, u64)>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare(
                "SELECT status, source, COUNT(*) FROM incidents WHERE source != ''
                 GROUP BY status, source ORDER BY status, source",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::model::{Record, Status};

    const TEMPLATE: &str =
        include_str!("../../tests/fixtures/records/rule-proved-by-its-test.json");

    fn record(
        id: &str,
        fp: &str,
        exc_type: &str,
        message: &str,
        now: time::OffsetDateTime,
    ) -> Record {
        let mut r: Record = serde_json::from_str(TEMPLATE).expect("the fixture reads");
        r.id = id.to_string();
        r.fingerprint = fp.to_string();
        r.status = Status::Detected;
        r.fix = None;
        r.error.exc_type = exc_type.to_string();
        r.error.message = message.to_string();
        r.context.tags = [("client".to_string(), format!("c-{fp}"))].into();
        r.created_at = rfc3339(now);
        r.last_seen_at = rfc3339(now);
        r
    }

    /// Three incidents: a ZeroDivisionError seen 5 times and fixed by a rule, another
    /// ZeroDivisionError a model's fix was refused for, a KeyError only detected.
    fn seeded() -> (tempfile::TempDir, Store, time::OffsetDateTime) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open(dir.path()).expect("the store opens");
        let now = time::OffsetDateTime::now_utc();
        let seeds = [
            ("fp-a", "ZeroDivisionError", "division by zero"),
            ("fp-b", "ZeroDivisionError", "float division by zero (100%)"),
            ("fp-c", "KeyError", "'budget'"),
        ];
        let mut ids = Vec::new();
        for (fp, t, m) in seeds {
            let (r, new) = store
                .upsert(fp, 1, now, |id| record(&id, fp, t, m, now))
                .expect("upsert");
            assert!(new);
            ids.push(r.id);
        }
        store
            .upsert("fp-a", 4, now, |_| unreachable!("fp-a is open"))
            .expect("repeat");
        let template: Record = serde_json::from_str(TEMPLATE).expect("the fixture reads");
        store
            .update(&ids[0], |r| {
                r.status = Status::Applied;
                r.fix = template.fix.clone();
            })
            .expect("update");
        store
            .update(&ids[1], |r| {
                r.status = Status::Rejected;
                let mut fix = template.fix.clone().expect("the fixture has a fix");
                fix.source = "llm:gpt-4o-mini".into();
                r.fix = Some(fix);
            })
            .expect("update");
        (dir, store, now)
    }

    fn list(store: &Store, change: impl FnOnce(&mut Filter)) -> Page {
        let mut f = Filter {
            page: 1,
            per_page: 50,
            ..Filter::default()
        };
        change(&mut f);
        store.incidents(&f).expect("the list reads")
    }

    #[test]
    fn the_list_filters_by_status_type_file_and_message_and_pages() {
        let (_dir, store, _) = seeded();
        assert_eq!(list(&store, |_| {}).total, 3);
        let open = list(&store, |f| f.status = Some("open".into()));
        assert_eq!(open.total, 2);
        assert!(open.rows.iter().all(|r| r.status != "applied"));
        let fixed = list(&store, |f| f.status = Some("fixed".into()));
        assert_eq!(fixed.rows.len(), 1);
        assert_eq!(fixed.rows[0].occurrences, 5);
        assert_eq!(fixed.rows[0].source, "rule");
        assert_eq!(
            list(&store, |f| f.status = Some("rejected".into())).rows[0].source,
            "model"
        );
        assert_eq!(
            list(&store, |f| f.exc_type = Some("KeyError".into())).total,
            1
        );
        let file = fixed.rows[0].file.clone();
        assert!(!file.is_empty());
        assert_eq!(list(&store, |f| f.file = Some(file)).total, 3);
        assert_eq!(
            list(&store, |f| f.search = Some("DIVISION".into())).total,
            2
        );
        // The user's % is text, not a wildcard.
        assert_eq!(list(&store, |f| f.search = Some("%".into())).total, 1);
        assert_eq!(
            list(&store, |f| f.since = Some("2999-01-01T00:00:00Z".into())).total,
            0
        );
        let second = list(&store, |f| {
            f.per_page = 2;
            f.page = 2;
        });
        assert_eq!((second.total, second.rows.len()), (3, 1));
    }

    #[test]
    fn the_overview_counts_what_was_seeded() {
        let (_dir, store, now) = seeded();
        let s = store.stats(now).expect("stats");
        assert_eq!(s.incidents_24h, 3);
        assert_eq!(s.open, 2);
        assert_eq!((s.fixed_30d, s.attempted_30d), (1, 2));
        assert_eq!(s.fix_rate_30d, Some(0.5));
        assert!(s.median_resolve_s_30d.is_some());
        assert_eq!(s.per_day.len(), 30);
        let today = s.per_day.last().expect("today");
        assert_eq!(
            (today.fixed, today.rejected, today.open),
            (5, 1, 1),
            "{today:?}"
        );
        assert_eq!(s.top_types_7d[0].exc_type, "ZeroDivisionError");
        assert_eq!(s.top_types_7d[0].count, 6);
        assert_eq!(s.top_types_7d[0].days.last(), Some(&6));
        assert_eq!(
            s.funnel_30d,
            Funnel {
                detected: 3,
                proposed: 2,
                applied: 1,
                held: 1
            }
        );
        let daily = store
            .daily(
                &[list(&store, |f| f.status = Some("fixed".into())).rows[0]
                    .id
                    .clone()],
                14,
                now,
            )
            .expect("daily");
        let days = daily.values().next().expect("one incident");
        assert_eq!((days.len(), days.last()), (14, Some(&5)));
    }

    #[test]
    fn metrics_types_past_the_top_are_other() {
        let (_dir, store, _) = seeded();
        let counts = store.counts_by_status_and_type(1).expect("counts");
        assert!(counts.iter().any(|(_, t, _, _)| t == "other"), "{counts:?}");
        assert!(
            !counts.iter().any(|(_, t, _, _)| t == "KeyError"),
            "{counts:?}"
        );
    }

    /// A store written by a heal before the schema had a version: opened, its columns filled
    /// from the documents; one a newer heal wrote is refused with what to do.
    #[test]
    fn an_older_store_is_migrated_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        {
            let conn = rusqlite::Connection::open(dir.path().join("heal.db")).expect("db");
            conn.execute_batch(
                "CREATE TABLE incidents (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,
                 status TEXT NOT NULL, created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
                 occurrences INTEGER NOT NULL, doc TEXT NOT NULL);",
            )
            .expect("old schema");
            let r: Record = serde_json::from_str(TEMPLATE).expect("fixture");
            conn.execute(
                "INSERT INTO incidents VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.id,
                    r.fingerprint,
                    r.status.as_str(),
                    r.created_at,
                    r.last_seen_at,
                    r.occurrences as i64,
                    TEMPLATE
                ],
            )
            .expect("old row");
        }
        let store = Store::open(dir.path()).expect("the older store opens");
        let rows = list(&store, |_| {});
        assert_eq!(rows.total, 1);
        let row = &rows.rows[0];
        assert_eq!(
            (row.exc_type.as_str(), row.source.as_str()),
            ("NameError", "rule"),
            "{row:?}"
        );
        assert!(row.line > 0 && !row.file.is_empty(), "{row:?}");
        drop(store);
        // The store was migrated once: opening it again changes nothing.
        drop(Store::open(dir.path()).expect("opens again"));

        let conn = rusqlite::Connection::open(dir.path().join("heal.db")).expect("db");
        conn.pragma_update(None, "user_version", 99)
            .expect("pragma");
        drop(conn);
        let Err(e) = Store::open(dir.path()) else {
            panic!("a newer store was opened");
        };
        let text = e.to_string();
        assert!(
            text.contains("version 99, newer than this heal knows (1)"),
            "{text}"
        );
    }
}

/// The proof steps' durations as a histogram: per step, the count at or under each bound.
#[derive(Debug, Clone, PartialEq)]
pub struct StepHistogram {
    pub step: String,
    /// (upper bound in seconds, cumulative count); the last bound is +Inf.
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

/// The histogram's upper bounds, in seconds (a syntax check takes milliseconds, a test suite
/// minutes).
pub const STEP_BOUNDS: &[f64] = &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// What the model cost, over every incident's latest healing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelUsage {
    pub model: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
}

impl Store {
    /// Each proof step's durations, bucketed.
    pub fn step_histograms(&self) -> Result<Vec<StepHistogram>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare("SELECT step, duration_ms FROM proof_steps ORDER BY step")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.sql(e))?;
        let mut out: Vec<StepHistogram> = Vec::new();
        for row in rows {
            let (step, ms) = row.map_err(|e| self.sql(e))?;
            if out.last().is_none_or(|h| h.step != step) {
                out.push(StepHistogram {
                    step,
                    buckets: STEP_BOUNDS
                        .iter()
                        .map(|b| (*b, 0))
                        .chain([(f64::INFINITY, 0)])
                        .collect(),
                    sum_seconds: 0.0,
                    count: 0,
                });
            }
            let Some(h) = out.last_mut() else { continue };
            let secs = ms.max(0) as f64 / 1000.0;
            for (bound, n) in &mut h.buckets {
                if secs <= *bound {
                    *n += 1;
                }
            }
            h.sum_seconds += secs;
            h.count += 1;
        }
        Ok(out)
    }

    /// Slack attempts by message kind and whether they were delivered.
    pub fn deliveries(&self) -> Result<Vec<(String, bool, u64)>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare("SELECT message, ok, COUNT(*) FROM deliveries GROUP BY message, ok ORDER BY message, ok")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    /// The model's calls, tokens and time, by model, over every incident's latest healing.
    pub fn model_usage(&self) -> Result<Vec<ModelUsage>, RecordError> {
        let conn = self.conn.lock().map_err(|_| RecordError::Poisoned)?;
        let mut stmt = conn
            .prepare(
                "SELECT model, SUM(calls), SUM(input_tokens), SUM(output_tokens), SUM(latency_ms)
                 FROM model_usage GROUP BY model ORDER BY model",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
                Ok(ModelUsage {
                    model: r.get(0)?,
                    calls: n(1)?,
                    input_tokens: n(2)?,
                    output_tokens: n(3)?,
                    latency_ms: n(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}
