//! The record's typed parts read what earlier heals wrote. The fixtures in
//! `tests/fixtures/records/` are `errors/{id}.json` files written before `analysis`, `fix` and
//! `result` were typed (by heal's own integration tests): each must read, and write back as
//! the same JSON (keys may come in another order; JSON objects have none).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::analysis::Analysis;
use super::fix::Fix;
use super::model::{Record, Status};
use super::result::ResultInfo;
use crate::analyse::{Category, Confidence};

/// Each fixture, by name: between them, every field of `analysis`, `fix` and `result`.
const FIXTURES: &[(&str, &str)] = &[
    (
        "model-candidates-refused",
        include_str!("../../tests/fixtures/records/model-candidates-refused.json"),
    ),
    (
        "chain-stopped",
        include_str!("../../tests/fixtures/records/chain-stopped.json"),
    ),
    (
        "instant-refused",
        include_str!("../../tests/fixtures/records/instant-refused.json"),
    ),
    (
        "not-a-code-bug",
        include_str!("../../tests/fixtures/records/not-a-code-bug.json"),
    ),
    (
        "pushed-then-reverted",
        include_str!("../../tests/fixtures/records/pushed-then-reverted.json"),
    ),
    (
        "reverted-without-commit",
        include_str!("../../tests/fixtures/records/reverted-without-commit.json"),
    ),
    (
        "recovered",
        include_str!("../../tests/fixtures/records/recovered.json"),
    ),
    (
        "rule-proved-by-its-test",
        include_str!("../../tests/fixtures/records/rule-proved-by-its-test.json"),
    ),
];

fn read(text: &str) -> (Value, Record) {
    let value: Value = serde_json::from_str(text).expect("fixture is JSON");
    let record: Record = serde_json::from_str(text).expect("fixture reads as a record");
    (value, record)
}

/// One typed part of `record`, read from its JSON (`None` when it is `null`), and checked to
/// write back as it was.
fn part<T: DeserializeOwned + Serialize>(name: &str, record: &Value, key: &str) -> Option<T> {
    let json = &record[key];
    if json.is_null() {
        return None;
    }
    let typed: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("{name}: `{key}` does not read: {e}"));
    let again = serde_json::to_value(&typed).expect("part writes");
    assert_eq!(&again, json, "{name}: `{key}` written back differently");
    Some(typed)
}

struct Parts {
    analysis: Option<Analysis>,
    fix: Option<Fix>,
    result: Option<ResultInfo>,
}

fn parts(name: &str, text: &str) -> Parts {
    let (value, _) = read(text);
    Parts {
        analysis: part(name, &value, "analysis"),
        fix: part(name, &value, "fix"),
        result: part(name, &value, "result"),
    }
}

#[test]
fn records_written_before_the_parts_were_typed_read_and_write_back_the_same() {
    for (name, text) in FIXTURES {
        parts(name, text);
        let (value, record) = read(text);
        let again = serde_json::to_value(&record).expect("record writes");
        assert_eq!(again, value, "{name}: written back differently");
        // What the store does with every record it saves: its redaction passes through JSON.
        let mut redacted = record.clone();
        redacted.redact(&crate::redact::Redactor::default());
        assert_eq!(redacted, record, "{name}: changed by an empty redaction");
    }
}

#[test]
fn the_fixtures_hold_every_part_the_readers_use() {
    let (name, text) = FIXTURES[0];
    let p = parts(name, text);
    let analysis = p.analysis.expect("analysis");
    assert_eq!(analysis.error_category, Category::Logic);
    assert_eq!(analysis.confidence, Confidence::High);
    assert_eq!(analysis.edit_form.as_deref(), Some("search_replace"));
    let fix = p.fix.expect("fix");
    assert_eq!(fix.candidates[0].chosen, Some(3));
    assert_eq!(fix.candidates[0].tried.len(), 2);
    assert!(fix.refused[0].failure.contains("the same error again"));
    assert_eq!(fix.baseline.as_ref().map(|b| b.runs), Some(2));
    assert!(fix.validation.iter().all(|s| s.passed));
    assert_eq!(fix.backups[0].file, "app.py");
    let result = p.result.expect("result");
    assert_eq!(result.status, Some(Status::Applied));
    let git = result.git.expect("the commit stage's fields");
    assert_eq!(git.git_mode, "push");
    assert_eq!(git.commit, None);

    let (name, text) = FIXTURES[1];
    let p = parts(name, text);
    let chain = p.result.and_then(|r| r.chain).expect("chain");
    assert_eq!(chain.position, 1);
    assert_eq!(chain.stopped_at.as_deref(), Some(chain.links[1].as_str()));
    assert_eq!(p.fix.and_then(|f| f.rule).as_deref(), Some("unused-import"));
    assert!(p.analysis.is_some_and(|a| a.source.is_some()));

    let (name, text) = FIXTURES[2];
    let result = parts(name, text).result.expect("result");
    assert!(result.instant.is_some_and(|i| !i.passed));
    assert!(result.git.is_none(), "no commit stage ran");

    let (name, text) = FIXTURES[3];
    assert!(parts(name, text).result.is_some_and(|r| r.not_a_code_bug));

    let (name, text) = FIXTURES[4];
    let revert = parts(name, text).result.and_then(|r| r.revert_commit);
    assert!(matches!(revert, Some(Some(_))), "{revert:?}");

    let (name, text) = FIXTURES[5];
    let revert = parts(name, text).result.and_then(|r| r.revert_commit);
    assert_eq!(revert, Some(None), "a revert with no commit keeps its null");

    let (name, text) = FIXTURES[6];
    assert!(
        parts(name, text)
            .result
            .is_some_and(|r| r.recovery.is_some())
    );

    let (name, text) = FIXTURES[7];
    let fix = parts(name, text).fix.expect("fix");
    assert!(fix.baseline.is_some_and(|b| b.tests.is_some()));
}

#[test]
fn parts_missing_fields_still_read() {
    let analysis: Analysis =
        serde_json::from_value(json!({"root_cause": "a typo"})).expect("analysis");
    assert_eq!(analysis.root_cause, "a typo");
    let fix: Fix = serde_json::from_value(json!({
        "source": "llm:x", "baseline": {"runs": 2}, "validation": [{"step": "rerun"}]
    }))
    .expect("fix");
    assert_eq!(
        fix.baseline.as_ref().map(|b| (b.runs, b.reused)),
        Some((2, false))
    );
    assert_eq!(fix.validation[0].step, "rerun");
    let result: ResultInfo =
        serde_json::from_value(json!({"status": "applied", "commit": "abc"})).expect("result");
    // Without the commit stage's own fields, a stray `commit` is not a commit stage.
    assert!(result.git.is_none());
}

#[test]
fn a_record_without_parts_keeps_them_null() {
    let (mut value, _) = read(FIXTURES[3].1);
    for part in ["analysis", "fix", "result"] {
        value[part] = Value::Null;
    }
    let record: Record = serde_json::from_value(value.clone()).expect("record");
    assert_eq!(serde_json::to_value(&record).expect("writes"), value);
}

#[test]
fn categories_are_named_as_the_answer_spells_them() {
    for name in Category::ALL {
        let category: Category = serde_json::from_value(json!(name)).expect("category");
        assert_eq!(category.as_str(), name);
    }
}
