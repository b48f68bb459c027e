//! Reading the model's answer: the JSON schema of `report_fix` that providers send, the parser
//! that turns an answer's JSON into a [`ReportFix`], and the extraction of a JSON object from
//! free text (for models that answer in prose instead of calling the tool).
//!
//! Pure: values in, values out. The parser never fails on the first problem: it lists every
//! problem it finds, in words precise enough to be sent back to the model as is. It must never
//! accept an answer the rest of heal cannot trust (an empty `search`, a `fixable` fix without
//! edits).

use serde_json::{Map, Value, json};

use super::answer::{Category, Confidence, Edit, ReportFix};

/// The name of the tool the model must call.
pub const TOOL_NAME: &str = "report_fix";

/// What the tool is for, as the model reads it.
pub const TOOL_DESCRIPTION: &str = "Report the root cause of the error and, when a code change \
     fixes it, the exact edits. Call it exactly once, with every field filled in.";

/// How many `{` a free-text answer may hold before extraction stops looking: each try scans
/// the rest of the text, and a model's answer with more braces than this is not an answer.
const MAX_OBJECT_STARTS: usize = 64;

/// The JSON schema of [`ReportFix`], as `input_schema` of the `report_fix` tool (Anthropic) or
/// `parameters` of a function (OpenAI-compatible APIs). Every field is required.
pub fn report_fix_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "fixable": {
                "type": "boolean",
                "description": "true when a change to the project's code fixes the error; \
                    false for errors outside the code (a service down, a missing setting, \
                    bad input that must be refused) or when you cannot tell"
            },
            "reason": {
                "type": "string",
                "description": "one sentence: why it is fixable or not"
            },
            "error_category": {
                "type": "string",
                "enum": Category::ALL,
                "description": "what kind of error it is"
            },
            "root_cause": {
                "type": "string",
                "description": "the root cause, naming the file, function and line"
            },
            "affected_file": {
                "type": "string",
                "description": "repo-relative path of the file where the root cause is"
            },
            "confidence": {
                "type": "string",
                "enum": ["low", "medium", "high"],
                "description": "high: the cause is certain and the fix obviously right; \
                    medium: likely; low: a guess"
            },
            "explanation": {
                "type": "string",
                "description": "how the error happens and why the edits fix it"
            },
            "changes_summary": {
                "type": "string",
                "description": "one line describing the change, usable as a commit title"
            },
            "edits": {
                "type": "array",
                "description": "the changes; empty when not fixable",
                "items": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "description": "repo-relative path of the file to change"
                        },
                        "search": {
                            "type": "string",
                            "description": "exact text of the current file to replace, \
                                whole lines, without the line-number margin, unique in the file"
                        },
                        "replace": {
                            "type": "string",
                            "description": "the text that replaces `search`"
                        }
                    },
                    "required": ["file", "search", "replace"],
                    "additionalProperties": false
                }
            }
        },
        "required": [
            "fixable", "reason", "error_category", "root_cause", "affected_file",
            "confidence", "explanation", "changes_summary", "edits"
        ],
        "additionalProperties": false
    })
}

/// One thing wrong with an answer. The messages name the field the way the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("the answer must be a JSON object, got {got}")]
    NotObject { got: &'static str },
    #[error("field `{field}` is missing")]
    Missing { field: String },
    #[error("field `{field}`: expected {expected}, got {got}")]
    WrongType {
        field: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("field `{field}`: expected one of {}, got {got}", .allowed.join(", "))]
    NotOneOf {
        field: String,
        allowed: &'static [&'static str],
        /// The value as JSON (`"sure"`), so the model sees exactly what it sent.
        got: String,
    },
    #[error("field `{field}` is empty")]
    Empty { field: String },
    #[error("`fixable` is true but `edits` is empty: give the edits, or set `fixable` to false")]
    FixableWithoutEdits,
}

/// Everything wrong with an answer, in the order of the schema's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.0))]
pub struct AnswerError(pub Vec<Problem>);

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads a `report_fix` answer. Fields the schema does not know are ignored; enum values are
/// read case-insensitively (`"High"`), because small models capitalise them and nothing is
/// ambiguous about it. `edits` given as a JSON-encoded string is decoded: some models (Claude
/// among them, on long inputs) stringify nested arrays of a tool's input.
pub fn parse_report_fix(value: &Value) -> Result<ReportFix, AnswerError> {
    let Some(obj) = value.as_object() else {
        return Err(AnswerError(vec![Problem::NotObject { got: kind(value) }]));
    };
    let mut problems = Vec::new();
    let mut fields = Fields {
        obj,
        prefix: String::new(),
        problems: &mut problems,
    };
    let fixable = fields.bool("fixable");
    let reason = fields.string("reason");
    let error_category = fields.one_of("error_category", &Category::ALL, category);
    let root_cause = fields.string("root_cause");
    let affected_file = fields.string("affected_file");
    let confidence = fields.one_of("confidence", &CONFIDENCES, Confidence::parse);
    let explanation = fields.string("explanation");
    let changes_summary = fields.string("changes_summary");
    let edits = parse_edits(obj.get("edits"), &mut problems);
    if let (Some(true), Some(edits)) = (fixable, &edits)
        && edits.is_empty()
    {
        problems.push(Problem::FixableWithoutEdits);
    }
    match (
        fixable,
        reason,
        error_category,
        root_cause,
        affected_file,
        confidence,
        explanation,
        changes_summary,
        edits,
    ) {
        (
            Some(fixable),
            Some(reason),
            Some(error_category),
            Some(root_cause),
            Some(affected_file),
            Some(confidence),
            Some(explanation),
            Some(changes_summary),
            Some(edits),
        ) if problems.is_empty() => Ok(ReportFix {
            fixable,
            reason,
            error_category,
            root_cause,
            affected_file,
            confidence,
            explanation,
            changes_summary,
            edits,
        }),
        _ => Err(AnswerError(problems)),
    }
}

const CONFIDENCES: [&str; 3] = ["low", "medium", "high"];

fn category(s: &str) -> Option<Category> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

fn parse_edits(value: Option<&Value>, problems: &mut Vec<Problem>) -> Option<Vec<Edit>> {
    let decoded;
    let items = match value {
        None => {
            problems.push(Problem::Missing {
                field: "edits".to_string(),
            });
            return None;
        }
        Some(Value::Array(items)) => items,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => {
                decoded = items;
                &decoded
            }
            _ => {
                problems.push(wrong_type("edits", "an array", value));
                return None;
            }
        },
        Some(other) => {
            problems.push(wrong_type("edits", "an array", Some(other)));
            return None;
        }
    };
    let mut edits = Vec::with_capacity(items.len());
    let before = problems.len();
    for (i, item) in items.iter().enumerate() {
        let field = format!("edits[{i}]");
        let Some(obj) = item.as_object() else {
            problems.push(wrong_type(&field, "an object", Some(item)));
            continue;
        };
        let mut fields = Fields {
            obj,
            prefix: format!("{field}."),
            problems,
        };
        let file = fields.non_empty("file");
        let search = fields.non_empty("search");
        let replace = fields.string("replace");
        if let (Some(file), Some(search), Some(replace)) = (file, search, replace) {
            edits.push(Edit {
                file,
                search,
                replace,
            });
        }
    }
    (problems.len() == before).then_some(edits)
}

/// Reads the fields of one object, noting what is wrong with them.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    /// `edits[2].` for the fields of an edit, so messages name the exact place.
    prefix: String,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Fields<'a> {
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        let obj: &'a Map<String, Value> = self.obj;
        let value = obj.get(name);
        if value.is_none() {
            self.problems.push(Problem::Missing {
                field: format!("{}{name}", self.prefix),
            });
        }
        value
    }

    fn bool(&mut self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Value::Bool(b) => Some(*b),
            other => {
                let problem = wrong_type(
                    &format!("{}{name}", self.prefix),
                    "true or false",
                    Some(other),
                );
                self.problems.push(problem);
                None
            }
        }
    }

    fn string(&mut self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            other => {
                let problem =
                    wrong_type(&format!("{}{name}", self.prefix), "a string", Some(other));
                self.problems.push(problem);
                None
            }
        }
    }

    fn non_empty(&mut self, name: &str) -> Option<String> {
        let s = self.string(name)?;
        if s.trim().is_empty() {
            self.problems.push(Problem::Empty {
                field: format!("{}{name}", self.prefix),
            });
            return None;
        }
        Some(s)
    }

    fn one_of<T>(
        &mut self,
        name: &str,
        allowed: &'static [&'static str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(name)?.clone();
        let field = format!("{}{name}", self.prefix);
        let Value::String(s) = &value else {
            self.problems
                .push(wrong_type(&field, "a string", Some(&value)));
            return None;
        };
        let parsed = parse(&s.trim().to_ascii_lowercase());
        if parsed.is_none() {
            self.problems.push(Problem::NotOneOf {
                field,
                allowed,
                got: value.to_string(),
            });
        }
        parsed
    }
}

fn wrong_type(field: &str, expected: &'static str, got: Option<&Value>) -> Problem {
    Problem::WrongType {
        field: field.to_string(),
        expected,
        got: got.map_or("nothing", kind),
    }
}

/// The JSON type of a value, with its article, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why no JSON object could be taken from a free-text answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the answer holds no JSON object")]
    NoObject,
    #[error("the JSON object in the answer does not parse: {0}")]
    Invalid(String),
}

/// The JSON object a free-text answer carries: the first ```` ```json ```` (or bare ```` ``` ````)
/// fence holding an object, else the first balanced `{…}` that parses, prose around it
/// ignored. The error of the first object-looking text that failed to parse is kept, so the
/// model can be told what was wrong with it.
pub fn extract_json(text: &str) -> Result<Value, ExtractError> {
    let mut first_error = None;
    for body in fences(text) {
        let body = body.trim();
        if !body.starts_with('{') {
            continue;
        }
        match serde_json::from_str::<Value>(body) {
            Ok(value @ Value::Object(_)) => return Ok(value),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let starts = text.match_indices('{').map(|(i, _)| i);
    for start in starts.take(MAX_OBJECT_STARTS) {
        let Some(end) = balanced_end(&text[start..]) else {
            // Unbalanced from here: no later `{` can close either.
            first_error.get_or_insert_with(|| "the object is not closed".to_string());
            break;
        };
        match serde_json::from_str::<Value>(&text[start..start + end]) {
            Ok(value @ Value::Object(_)) => return Ok(value),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Err(first_error.map_or(ExtractError::NoObject, ExtractError::Invalid))
}

/// The bodies of the text's ```` ``` ```` fences, in order; the info string (`json`) is
/// dropped, an unclosed last fence runs to the end.
fn fences(text: &str) -> Vec<&str> {
    let mut bodies = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        // The info string runs to the end of the line.
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        match body.find("```") {
            Some(close) => {
                bodies.push(&body[..close]);
                rest = &body[close + 3..];
            }
            None => {
                bodies.push(body);
                break;
            }
        }
    }
    bodies
}

/// The length of the balanced `{…}` at the start of `text` (which starts with `{`), braces in
/// JSON strings ignored; `None` when it never closes.
fn balanced_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({
            "fixable": true,
            "reason": "a typo in a call",
            "error_category": "name",
            "root_cause": "app.py:3 calls prnt",
            "affected_file": "app.py",
            "confidence": "high",
            "explanation": "prnt is not defined; print is meant",
            "changes_summary": "call print, not prnt",
            "edits": [{"file": "app.py", "search": "prnt(x)", "replace": "print(x)"}]
        })
    }

    /// Parses `good()` changed by `change`, expecting exactly these problems.
    fn check(change: impl FnOnce(&mut Map<String, Value>), expected: &[&str]) {
        let mut value = good();
        change(value.as_object_mut().unwrap());
        match parse_report_fix(&value) {
            Ok(fix) if expected.is_empty() => assert!(fix.fixable || fix.edits.is_empty()),
            Ok(fix) => panic!("expected {expected:?}, parsed {fix:?}"),
            Err(e) => {
                let got: Vec<String> = e.0.iter().map(Problem::to_string).collect();
                assert_eq!(got, expected);
            }
        }
    }

    #[test]
    fn a_good_answer_parses() {
        let fix = parse_report_fix(&good()).unwrap();
        assert_eq!(
            fix,
            ReportFix {
                fixable: true,
                reason: "a typo in a call".into(),
                error_category: Category::Name,
                root_cause: "app.py:3 calls prnt".into(),
                affected_file: "app.py".into(),
                confidence: Confidence::High,
                explanation: "prnt is not defined; print is meant".into(),
                changes_summary: "call print, not prnt".into(),
                edits: vec![Edit {
                    file: "app.py".into(),
                    search: "prnt(x)".into(),
                    replace: "print(x)".into(),
                }],
            }
        );
    }

    #[test]
    fn problems_are_precise() {
        check(
            |o| {
                o.insert("confidence".into(), json!("sure"));
            },
            &[r#"field `confidence`: expected one of low, medium, high, got "sure""#],
        );
        check(
            |o| {
                o.remove("root_cause");
            },
            &["field `root_cause` is missing"],
        );
        check(
            |o| {
                o.insert("fixable".into(), json!("yes"));
            },
            &["field `fixable`: expected true or false, got a string"],
        );
        check(
            |o| {
                o.insert("error_category".into(), json!("bug"));
            },
            &[
                "field `error_category`: expected one of syntax, import, type, attribute, name, \
                 logic, api, config, external, other, got \"bug\"",
            ],
        );
        check(
            |o| {
                o.insert("edits".into(), json!(3));
            },
            &["field `edits`: expected an array, got a number"],
        );
        check(
            |o| {
                o.insert(
                    "edits".into(),
                    json!([{"file": "a.py", "search": "x", "replace": 1}, "x", {"file": "", "search": "y", "replace": ""}]),
                );
            },
            &[
                "field `edits[0].replace`: expected a string, got a number",
                "field `edits[1]`: expected an object, got a string",
                "field `edits[2].file` is empty",
            ],
        );
        check(
            |o| {
                o.insert("edits".into(), json!([]));
            },
            &["`fixable` is true but `edits` is empty: give the edits, or set `fixable` to false"],
        );
    }

    #[test]
    fn an_empty_search_is_refused() {
        // Only the `file` form's own reader makes an edit with an empty `search` (the whole
        // file); a `report_fix` answer never may.
        check(
            |o| {
                o.insert(
                    "edits".into(),
                    json!([{"file": "app.py", "search": "", "replace": "print(x)"}]),
                );
            },
            &["field `edits[0].search` is empty"],
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        check(
            |o| {
                o.remove("reason");
                o.insert("confidence".into(), json!(2));
                o.insert("edits".into(), Value::Null);
            },
            &[
                "field `reason` is missing",
                "field `confidence`: expected a string, got a number",
                "field `edits`: expected an array, got null",
            ],
        );
    }

    #[test]
    fn lenient_where_nothing_is_ambiguous() {
        check(
            |o| {
                o.insert("confidence".into(), json!(" High"));
                o.insert("error_category".into(), json!("Logic"));
                o.insert("extra".into(), json!("ignored"));
            },
            &[],
        );
        check(
            |o| {
                o.insert(
                    "edits".into(),
                    json!(r#"[{"file": "a.py", "search": "x", "replace": "y"}]"#),
                );
            },
            &[],
        );
        check(
            |o| {
                o.insert("fixable".into(), json!(false));
                o.insert("edits".into(), json!([]));
            },
            &[],
        );
    }

    #[test]
    fn not_an_object() {
        let e = parse_report_fix(&json!([1])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the answer must be a JSON object, got an array"
        );
    }

    #[test]
    fn the_schema_and_the_parser_agree() {
        let schema = report_fix_schema();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let properties = schema["properties"].as_object().unwrap();
        assert_eq!(required.len(), properties.len());
        for field in &required {
            assert!(properties.contains_key(*field), "{field}");
            // Each required field, removed, is reported missing.
            check(
                |o| {
                    o.remove(*field);
                },
                &[&format!("field `{field}` is missing")],
            );
        }
        assert_eq!(
            schema["properties"]["error_category"]["enum"],
            json!(Category::ALL)
        );
        assert_eq!(
            schema["properties"]["confidence"]["enum"],
            json!(["low", "medium", "high"])
        );
        assert_eq!(
            schema["properties"]["edits"]["items"]["required"],
            json!(["file", "search", "replace"])
        );
        for name in Category::ALL {
            assert!(category(name).is_some(), "{name}");
        }
    }

    #[test]
    fn json_is_extracted_from_prose() {
        let cases: &[(&str, Value)] = &[
            (
                "```json\n{\"a\": 1}\n```\nHope this helps!",
                json!({"a": 1}),
            ),
            ("Here:\n```\n{\"a\": \"}\"}\n```", json!({"a": "}"})),
            (
                "The fix is {\"a\": {\"b\": [1, 2]}} as you can see {}",
                json!({"a": {"b": [1, 2]}}),
            ),
            (
                "use {braces} then {\"a\": \"x\\\"}\"}",
                json!({"a": "x\"}"}),
            ),
            (
                "```python\nx = {1}\n```\n{\"ok\": true}",
                json!({"ok": true}),
            ),
            ("```json\n{\"unclosed\": 1}", json!({"unclosed": 1})),
        ];
        for (text, expected) in cases {
            assert_eq!(extract_json(text).as_ref(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn extraction_says_what_went_wrong() {
        assert_eq!(extract_json("no json here"), Err(ExtractError::NoObject));
        assert!(matches!(
            extract_json("{\"a\": 1,}"),
            Err(ExtractError::Invalid(_))
        ));
        assert!(matches!(
            extract_json("{\"a\": "),
            Err(ExtractError::Invalid(m)) if m == "the object is not closed"
        ));
        // A pathological answer is not scanned quadratically.
        let braces = "{".repeat(100_000);
        assert!(extract_json(&braces).is_err());
    }
}
