//! Analysis against a fake OpenAI-compatible server: the request for each way of asking, how
//! answers are read wherever they come, the fallback to JSON mode for servers without tools or
//! response formats, retries, errors, and what must never leave heal (the key, secrets).

use std::time::Duration;

use heal::analyse::openai::{DEFAULT_MODEL, Structured};
use heal::analyse::{
    AnalyseError, Answer, AnswerForm, Category, Confidence, Conversation, MAX_ANSWERS, Model,
    OpenAi, OpenAiConfig, Prompt, analyse, report_fix_schema,
};
use heal::redact::Redactor;
use serde_json::{Value, json};

use crate::support::openai::{
    self as fake, COMPLETION_TOKENS, FakeOpenAI, PROMPT_TOKENS, Reply, tool_call_id,
};

const API_KEY: &str = "sk-proj-test-key-not-real-0123456789abcdef";
const WAIT: Duration = Duration::from_secs(10);

fn conversation() -> Conversation {
    Conversation::new(Prompt {
        system: "You are the analysis step of heal. Answer only by calling the report_fix tool."
            .to_string(),
        user: "ZeroDivisionError: division by zero\n  File \"app/calc.py\", line 15, in divide\n"
            .to_string(),
        form: AnswerForm::Tool,
    })
}

fn config(fake: &FakeOpenAI, structured: Structured) -> OpenAiConfig {
    OpenAiConfig {
        api_key: Some(API_KEY.to_string()),
        base_url: fake.base_url(),
        structured,
        max_retries: 2,
        backoff_initial: Duration::from_millis(1),
        request_timeout: Duration::from_secs(5),
        ..OpenAiConfig::new()
    }
}

fn model(fake: &FakeOpenAI, structured: Structured) -> OpenAi {
    OpenAi::new(config(fake, structured), Redactor::default()).unwrap()
}

fn good_fix() -> Value {
    json!({
        "fixable": true,
        "reason": "an empty list is divided by its length",
        "error_category": "logic",
        "root_cause": "app/calc.py:15 divides by len(items), which is 0 for no items",
        "affected_file": "app/calc.py",
        "confidence": "high",
        "explanation": "report([]) calls divide(0, 0); return 0 for no items",
        "changes_summary": "report: return 0 for an empty list",
        "edits": [{
            "file": "app/calc.py",
            "search": "    total = sum(items)\n",
            "replace": "    if not items:\n        return 0\n    total = sum(items)\n"
        }]
    })
}

/// The system message of a request.
fn system(request: &fake::Request) -> String {
    request.messages()[0]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_tool_call_answer_is_read_with_its_usage() {
    let fake = FakeOpenAI::start();
    fake.script([Reply::tool_call(good_fix())]);
    let mut conv = conversation();
    let (fix, usage) = analyse(&model(&fake, Structured::Tools), &mut conv)
        .await
        .unwrap();

    assert!(fix.fixable);
    assert_eq!(fix.error_category, Category::Logic);
    assert_eq!(fix.confidence, Confidence::High);
    assert_eq!(fix.edits[0].search, "    total = sum(items)\n");
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].model, fake::MODEL);
    assert_eq!(usage[0].input_tokens, PROMPT_TOKENS);
    assert_eq!(usage[0].output_tokens, COMPLETION_TOKENS);
    assert_eq!(usage[0].attempts, 1);
    assert_eq!(conv.usage(), usage.as_slice());
    assert_eq!(
        conv.last_tool_call().map(|c| c.input.clone()),
        Some(good_fix())
    );
}

#[tokio::test]
async fn json_in_the_content_is_read_from_a_fence_with_prose() {
    let fake = FakeOpenAI::start();
    fake.script([Reply::content(&format!(
        "Sure! Here is the fix:\n\n```json\n{:#}\n```\n\nLet me know if it helps.",
        good_fix()
    ))]);
    let mut conv = conversation();
    let (fix, usage) = analyse(&model(&fake, Structured::JsonSchema), &mut conv)
        .await
        .unwrap();
    assert_eq!(fix.affected_file, "app/calc.py");
    assert_eq!(usage[0].input_tokens, PROMPT_TOKENS);
}

#[tokio::test]
async fn the_json_schema_request_carries_the_schema() {
    let fake = FakeOpenAI::start();
    fake.script([Reply::json_content(good_fix())]);
    let config = OpenAiConfig {
        structured: Structured::JsonSchema,
        ..config(&fake, Structured::Tools)
    };
    let model = OpenAi::new(config, Redactor::default()).unwrap();
    analyse(&model, &mut conversation()).await.unwrap();

    let requests = fake.wait_requests_async(1, WAIT).await;
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.headers["content-type"], "application/json");
    let body = &request.body;
    assert_eq!(body["model"], DEFAULT_MODEL);
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(body["temperature"], 0);
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "report_fix");
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        report_fix_schema()
    );
    assert_eq!(body["response_format"]["json_schema"]["strict"], false);
    assert!(body.get("tools").is_none(), "{body}");
    assert!(body.get("tool_choice").is_none(), "{body}");
    let system = system(request);
    assert!(system.starts_with("You are the analysis step of heal."));
    assert!(
        system.contains("answer with exactly one JSON object"),
        "{system}"
    );
    assert_eq!(request.messages()[1]["role"], "user");
    assert!(
        request.messages()[1]["content"]
            .as_str()
            .unwrap()
            .starts_with("ZeroDivisionError")
    );
}

#[tokio::test]
async fn the_tools_request_carries_tools_and_a_tool_choice_naming_report_fix() {
    let fake = FakeOpenAI::start();
    fake.script([Reply::tool_call(good_fix())]);
    analyse(&model(&fake, Structured::Tools), &mut conversation())
        .await
        .unwrap();

    let body = &fake.requests()[0].body;
    assert_eq!(body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "report_fix");
    assert_eq!(
        body["tools"][0]["function"]["parameters"],
        report_fix_schema()
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "report_fix"}})
    );
    assert!(body.get("response_format").is_none(), "{body}");
    assert_eq!(
        body["messages"][0]["content"],
        "You are the analysis step of heal. Answer only by calling the report_fix tool.",
        "with tools, the system prompt is heal's as is"
    );
}

#[tokio::test]
async fn the_json_request_inlines_the_schema() {
    let fake = FakeOpenAI::start();
    fake.script([Reply::json_content(good_fix())]);
    analyse(&model(&fake, Structured::Json), &mut conversation())
        .await
        .unwrap();

    let request = &fake.requests()[0];
    assert_eq!(
        request.body["response_format"],
        json!({"type": "json_object", "schema": report_fix_schema()})
    );
    let system = system(request);
    let schema = serde_json::to_string_pretty(&report_fix_schema()).unwrap();
    assert!(system.contains(&schema), "{system}");
}

#[tokio::test]
async fn no_authorization_header_without_a_key_and_a_bearer_with_one() {
    let fake = FakeOpenAI::start();
    fake.respond_always(Reply::json_content(good_fix()));
    let keyless = OpenAiConfig {
        api_key: None,
        ..config(&fake, Structured::JsonSchema)
    };
    let keyless = OpenAi::new(keyless, Redactor::default()).unwrap();
    analyse(&keyless, &mut conversation()).await.unwrap();
    analyse(&model(&fake, Structured::JsonSchema), &mut conversation())
        .await
        .unwrap();

    let requests = fake.wait_requests_async(2, WAIT).await;
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

#[tokio::test]
async fn a_server_without_tools_or_response_formats_is_asked_in_json_mode_for_good() {
    let cases = [
        (
            Structured::Tools,
            Reply::error(400, "invalid_request_error", "tools are not supported"),
        ),
        (
            Structured::Tools,
            Reply::json(
                400,
                json!({"error": {"message": "Invalid value", "type": "invalid_request_error",
                    "param": "tool_choice", "code": null}}),
            ),
        ),
        (
            Structured::JsonSchema,
            Reply::json(
                422,
                json!({"detail": [{"loc": ["body", "response_format"],
                    "msg": "Input should be 'text' or 'json_object'", "type": "literal_error"}]}),
            ),
        ),
        (
            Structured::JsonSchema,
            Reply::error(501, "server_error", "Not Implemented"),
        ),
    ];
    for (structured, refusal) in cases {
        let case = format!("{structured:?} {}", refusal.body);
        let fake = FakeOpenAI::start();
        fake.script([refusal, Reply::json_content(good_fix())]);
        let model = model(&fake, structured);
        let mut conv = conversation();
        let (fix, usage) = analyse(&model, &mut conv)
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(fix.fixable, "{case}");
        assert_eq!(usage[0].attempts, 2, "{case}");
        assert_eq!(model.structured(), Structured::Json, "{case}");

        // Later questions go straight to JSON mode.
        conv.follow_up("Edit 1 could not be applied: search text not found.");
        fake.script([Reply::json_content(good_fix())]);
        let reply = model.ask(&mut conv).await.unwrap();
        assert!(matches!(reply.answer, Answer::Fix(_)), "{case}");

        let requests = fake.requests();
        assert_eq!(requests.len(), 3, "{case}");
        let first = &requests[0].body;
        assert!(
            first.get("tools").is_some() || first["response_format"]["type"] == "json_schema",
            "{case}"
        );
        for later in &requests[1..] {
            let body = &later.body;
            assert_eq!(
                body["response_format"],
                json!({"type": "json_object", "schema": report_fix_schema()}),
                "{case}"
            );
            assert!(body.get("tools").is_none(), "{case}");
            assert!(body.get("tool_choice").is_none(), "{case}");
            assert!(system(later).contains("JSON schema:"), "{case}");
        }
        let messages = requests[2].messages();
        assert_eq!(messages.len(), 4, "{case}");
        assert_eq!(messages[2]["role"], "assistant", "{case}");
        assert_eq!(
            messages[3],
            json!({"role": "user",
                "content": "Edit 1 could not be applied: search text not found."}),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_refused_parameter_that_is_not_structure_is_no_fallback() {
    let fake = FakeOpenAI::start();
    fake.respond_always(Reply::json(
        400,
        json!({"error": {"message": "Unsupported value: 'temperature' does not support 0 with \
            this model.", "type": "invalid_request_error", "param": "temperature",
            "code": "unsupported_value"}}),
    ));
    let model = model(&fake, Structured::Tools);
    let err = analyse(&model, &mut conversation()).await.unwrap_err();
    assert_eq!(fake.requests().len(), 1);
    assert!(
        matches!(err, AnalyseError::Refused { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(model.structured(), Structured::Tools);
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_the_server_asks() {
    let fake = FakeOpenAI::start();
    fake.script([
        Reply::error(429, "requests", "Rate limit reached for gpt-4o-mini")
            .header("retry-after-ms", "300"),
        Reply::error(429, "requests", "Rate limit reached for gpt-4o-mini")
            .header("retry-after", "1"),
        Reply::tool_call(good_fix()),
    ]);
    let mut conv = conversation();
    let (_, usage) = analyse(&model(&fake, Structured::Tools), &mut conv)
        .await
        .unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(usage[0].attempts, 3);
    // The backoff is 1 ms: only the server's headers explain these waits.
    let first_wait = requests[1].at - requests[0].at;
    assert!(first_wait >= Duration::from_millis(280), "{first_wait:?}");
    let second_wait = requests[2].at - requests[1].at;
    assert!(second_wait >= Duration::from_millis(950), "{second_wait:?}");
    assert!(usage[0].latency_ms >= 1250, "{:?}", usage[0]);
    assert_eq!(
        requests[0].raw, requests[2].raw,
        "a retry sends the same request"
    );
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    for status in [500, 502, 503, 409] {
        let fake = FakeOpenAI::start();
        fake.respond_always(Reply::error(
            status,
            "server_error",
            "The server had an error",
        ));
        let mut conv = conversation();
        let err = analyse(&model(&fake, Structured::JsonSchema), &mut conv)
            .await
            .unwrap_err();
        // max_retries 2: three attempts in all.
        assert_eq!(fake.requests().len(), 3, "{status}");
        assert_eq!(
            err.to_string(),
            format!(
                "openai is unavailable after 3 attempts; the last: http {status} server_error: \
                 The server had an error"
            )
        );
        assert!(
            conv.awaits_answer(),
            "the question can be asked again later"
        );
    }
}

#[tokio::test]
async fn timeouts_are_retried() {
    let fake = FakeOpenAI::start();
    fake.script([
        Reply::tool_call(good_fix()).delay(Duration::from_secs(5)),
        Reply::tool_call(good_fix()),
    ]);
    let config = OpenAiConfig {
        request_timeout: Duration::from_millis(300),
        ..config(&fake, Structured::Tools)
    };
    let model = OpenAi::new(config, Redactor::default()).unwrap();
    let (_, usage) = analyse(&model, &mut conversation()).await.unwrap();
    assert_eq!(usage[0].attempts, 2);
}

#[tokio::test]
async fn a_rejected_key_is_not_retried_and_names_openai_api_key() {
    for status in [401, 403] {
        let fake = FakeOpenAI::start();
        fake.respond_always(Reply::error(
            status,
            "invalid_request_error",
            "Incorrect API key provided: sk-proj-****cdef.",
        ));
        let err = analyse(&model(&fake, Structured::JsonSchema), &mut conversation())
            .await
            .unwrap_err();
        assert_eq!(fake.requests().len(), 1, "{status}");
        assert!(
            matches!(
                err,
                AnalyseError::Unauthorized {
                    key_var: "OPENAI_API_KEY",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "openai rejected the api key (http {status}: Incorrect API key provided: \
                 sk-proj-****cdef.): check OPENAI_API_KEY in .env, or set HEAL_PROVIDER=none to \
                 turn analysis off"
            )
        );
    }
}

#[tokio::test]
async fn an_unknown_model_and_other_client_errors_are_not_retried() {
    let cases = [
        (
            Reply::error(
                404,
                "invalid_request_error",
                "The model `gpt-nope` does not exist or you do not have access to it.",
            ),
            "openai does not know model `gpt-4o-mini` (http 404: The model `gpt-nope` does not \
             exist or you do not have access to it.): check the model name and the base url",
        ),
        (
            Reply::error(
                400,
                "invalid_request_error",
                "This model's maximum context length is 128000 tokens.",
            ),
            "openai refused the request (http 400 invalid_request_error: This model's maximum \
             context length is 128000 tokens.)",
        ),
        (
            Reply::json(
                429,
                json!({"error": {"message": "You exceeded your current quota.",
                    "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            ),
            "openai refused the request (http 429 insufficient_quota: You exceeded your current \
             quota.)",
        ),
    ];
    for (reply, expected) in cases {
        let fake = FakeOpenAI::start();
        fake.respond_always(reply);
        let model = model(&fake, Structured::JsonSchema);
        let err = analyse(&model, &mut conversation()).await.unwrap_err();
        assert_eq!(fake.requests().len(), 1, "{expected}");
        assert_eq!(err.to_string(), expected);
        assert_eq!(model.structured(), Structured::JsonSchema, "{expected}");
    }
}

#[tokio::test]
async fn garbage_content_twice_is_unusable() {
    let fake = FakeOpenAI::start();
    fake.respond_always(Reply::content(
        "The bug is in divide(): add a check for an empty list.",
    ));
    let mut conv = conversation();
    let err = analyse(&model(&fake, Structured::JsonSchema), &mut conv)
        .await
        .unwrap_err();

    assert_eq!(
        err,
        AnalyseError::Unusable {
            answers: MAX_ANSWERS,
            reason: "the answer is text only; it must call report_fix".to_string(),
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), MAX_ANSWERS as usize);
    assert_eq!(conv.usage().len(), MAX_ANSWERS as usize);
    let messages = requests[1].messages();
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[2],
        json!({"role": "assistant",
            "content": "The bug is in divide(): add a check for an empty list."})
    );
    assert_eq!(messages[3]["role"], "user");
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .starts_with("Your answer could not be used: the answer is text only"),
        "{}",
        messages[3]
    );
}

#[tokio::test]
async fn a_follow_up_to_a_tool_call_is_a_tool_message() {
    let fake = FakeOpenAI::start();
    let mut incomplete = good_fix();
    incomplete.as_object_mut().unwrap().remove("confidence");
    let first = fake::tool_call_response(incomplete);
    fake.script([
        Reply::json(200, first.clone()),
        Reply::tool_call(good_fix()),
    ]);
    let mut conv = conversation();
    let (fix, usage) = analyse(&model(&fake, Structured::Tools), &mut conv)
        .await
        .unwrap();
    assert!(fix.fixable);
    assert_eq!(usage.len(), 2);

    let requests = fake.requests();
    let messages = requests[1].messages();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["role"], "assistant");
    assert_eq!(messages[2]["content"], Value::Null);
    assert_eq!(
        messages[2]["tool_calls"][0]["id"],
        tool_call_id(&first).as_str()
    );
    assert_eq!(
        messages[3]["role"], "tool",
        "OpenAI requires a tool message after tool calls"
    );
    assert_eq!(messages[3]["tool_call_id"], tool_call_id(&first).as_str());
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .starts_with("Your answer could not be used: field `confidence` is missing."),
        "{}",
        messages[3]
    );
}

#[tokio::test]
async fn the_key_never_appears_in_an_error() {
    let echo = format!("Incorrect API key provided: {API_KEY}.");
    let replies = [
        Reply::error(401, "invalid_request_error", &echo),
        Reply::error(400, "invalid_request_error", &echo),
        Reply::error(404, "invalid_request_error", &echo),
        Reply::error(503, "server_error", &echo),
        Reply::json(200, json!({"error": echo})),
        Reply::json(200, json!(format!("not a completion {API_KEY}"))),
    ];
    for reply in replies {
        let fake = FakeOpenAI::start();
        fake.respond_always(reply);
        let err = analyse(&model(&fake, Structured::JsonSchema), &mut conversation())
            .await
            .unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(API_KEY), "{shown}");
            assert!(!shown.contains(&fake.base_url()), "{shown}");
        }
    }

    // Nor in the error of a server that cannot be reached, nor its address.
    let addr = crate::support::peer::closed_addr();
    let config = OpenAiConfig {
        api_key: Some(API_KEY.to_string()),
        base_url: format!("http://{addr}/v1?key={API_KEY}"),
        max_retries: 0,
        ..OpenAiConfig::new()
    };
    let model = OpenAi::new(config, Redactor::default()).unwrap();
    let err = analyse(&model, &mut conversation()).await.unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("openai is unavailable after 1 attempts; the last: cannot connect"),
        "{shown}"
    );
    assert!(!shown.contains(API_KEY), "{shown}");
    assert!(!shown.contains(&addr.to_string()), "{shown}");
}

#[tokio::test]
async fn secrets_never_reach_the_server() {
    const SECRET: &str = "payments-prod-9f8e7d6c5b4a";
    let fake = FakeOpenAI::start();
    fake.script([Reply::tool_call(good_fix())]);
    let redactor = Redactor::from_env([("PAYMENTS_API_TOKEN", SECRET)]);
    let model = OpenAi::new(config(&fake, Structured::Tools), redactor).unwrap();
    let mut conv = Conversation::new(Prompt {
        system: "rules".to_string(),
        user: format!("RuntimeError: charge failed for token={SECRET}"),
        form: AnswerForm::Tool,
    });
    analyse(&model, &mut conv).await.unwrap();
    let request = &fake.requests()[0];
    assert!(!request.raw.contains(SECRET), "{}", request.raw);
    assert!(!request.raw.contains(API_KEY), "{}", request.raw);
    assert!(request.raw.contains("token=[REDACTED]"), "{}", request.raw);
}
