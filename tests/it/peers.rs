//! The fake peers for pull-request mode work as heal will need them: `FakeGitHub` answers the
//! pulls endpoint like GitHub, `GitHttp` is a real git server that takes a token over HTTP.

use std::path::Path;

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::git::{git, git_output};
use crate::support::git_http::GitHttp;
use crate::support::github::{FakeGitHub, Reply};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "ghp_fakeTOKEN123";

async fn open_pull(api: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{api}{path}"))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header("user-agent", "heal-test")
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn pull(head: &str, draft: bool) -> Value {
    json!({"title": "heal: fix crash", "head": head, "base": "main", "body": "details", "draft": draft})
}

#[tokio::test]
async fn github_opens_pull_requests() {
    let github = FakeGitHub::start();
    let api = github.api_url();
    assert!(!api.ends_with('/'));

    let (status, first) = open_pull(
        &api,
        "/repos/acme/app/pulls",
        Some(TOKEN),
        pull("heal/fix-1", true),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["number"], 1);
    assert_eq!(first["html_url"], "https://github.com/acme/app/pull/1");
    assert_eq!(first["state"], "open");
    assert_eq!(first["draft"], true);
    assert_eq!(first["head"]["ref"], "heal/fix-1");
    assert_eq!(first["base"]["ref"], "main");
    assert!(
        first["url"]
            .as_str()
            .unwrap()
            .ends_with("/repos/acme/app/pulls/1")
    );

    let (status, second) = open_pull(
        &api,
        "/repos/acme/app/pulls",
        Some(TOKEN),
        pull("heal/fix-2", false),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(second["number"], 2);
    assert_eq!(second["draft"], false);

    let requests = github.wait_requests_async(2, WAIT).await;
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/repos/acme/app/pulls");
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(requests[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(
        requests[0].header("x-github-api-version"),
        Some("2022-11-28")
    );
    assert_eq!(requests[1].body["head"], "heal/fix-2");
}

#[tokio::test]
async fn github_answers_from_script() {
    let github = FakeGitHub::start();
    let api = github.api_url();
    github.script([Reply::json(
        422,
        json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest",
            "code": "custom", "message": "A pull request already exists for acme:heal/fix-1."}]}),
    )]);
    let path = "/repos/acme/app/pulls";

    let (status, body) = open_pull(&api, path, Some(TOKEN), pull("heal/fix-1", false)).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");

    // The script used up, the default again.
    let (status, body) = open_pull(&api, path, Some(TOKEN), pull("heal/fix-1", false)).await;
    assert_eq!(status, 201);
    assert_eq!(body["number"], 1);

    github.respond_always(401, json!({"message": "Bad credentials"}));
    for _ in 0..2 {
        let (status, body) = open_pull(&api, path, Some("wrong"), pull("heal/x", false)).await;
        assert_eq!(status, 401);
        assert_eq!(body["message"], "Bad credentials");
    }
    assert_eq!(github.requests().len(), 4);
}

#[tokio::test]
#[should_panic(expected = "received bad requests")]
async fn github_flags_requests_heal_should_not_send() {
    let github = FakeGitHub::start();
    let api = github.api_url();
    let (status, _) = open_pull(&api, "/repos/acme/app/pulls", None, pull("heal/x", false)).await;
    assert_eq!(status, 401);
    let (status, _) = open_pull(&api, "/repos/acme/app/issues", Some(TOKEN), json!({})).await;
    assert_eq!(status, 404);
    github.wait_requests_async(2, WAIT).await;
    // Dropping the fake panics with both problems.
}

fn commit(work: &Path, file: &str, message: &str) {
    std::fs::write(work.join(file), message).unwrap();
    git(work, &["add", file]);
    git(work, &["commit", "--quiet", "-m", message]);
}

fn helper(password: &str) -> String {
    format!("credential.helper=!f() {{ echo username=x; echo password={password}; }}; f")
}

#[test]
fn git_http_takes_pushes_with_the_token_only() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let bare = GitHttp::bare_repo(&served, "proj");
    let bare = bare.to_str().unwrap();
    let server = GitHttp::start(&served, Some(TOKEN));
    let url = server.url("proj");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/proj.git"));
    let with_token = helper(TOKEN);

    // Clone (empty) and push with the token from a credential helper.
    git(
        tmp.path(),
        &["-c", &with_token, "clone", "--quiet", &url, "work"],
    );
    let work = tmp.path().join("work");
    commit(&work, "a.txt", "first commit");
    git(
        &work,
        &["-c", &with_token, "push", "--quiet", "origin", "HEAD:main"],
    );
    let log = git(
        tmp.path(),
        &["--git-dir", bare, "log", "--format=%s", "main"],
    );
    assert_eq!(log.trim(), "first commit");
    assert_eq!(server.authorized_pushes(), 1);

    // The token went in Authorization headers, never in a path or a body.
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.header("authorization").is_none()),
        "git first asks without credentials"
    );
    let push = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == "/proj.git/git-receive-pack")
        .expect("the push");
    let basic = push
        .header("authorization")
        .expect("the push carried credentials");
    assert!(basic.starts_with("Basic "), "{basic}");
    for request in &requests {
        assert!(!request.path.contains(TOKEN) && !request.raw.contains(TOKEN));
    }

    // Without credentials, or with a wrong token, the push is refused.
    commit(&work, "b.txt", "second commit");
    let out = git_output(&work, &["push", "origin", "HEAD:main"]);
    assert!(
        !out.status.success(),
        "a push without credentials went through"
    );
    let out = git_output(
        &work,
        &["-c", &helper("wrong"), "push", "origin", "HEAD:main"],
    );
    assert!(
        !out.status.success(),
        "a push with a wrong token went through"
    );
    let log = git(
        tmp.path(),
        &["--git-dir", bare, "log", "--format=%s", "main"],
    );
    assert_eq!(log.trim(), "first commit");
    assert_eq!(server.authorized_pushes(), 1);

    // With the token again, it lands.
    git(
        &work,
        &["-c", &with_token, "push", "--quiet", "origin", "HEAD:main"],
    );
    let log = git(
        tmp.path(),
        &["--git-dir", bare, "log", "--format=%s", "main"],
    );
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["second commit", "first commit"]
    );
    assert_eq!(server.authorized_pushes(), 2);
}

#[test]
fn git_http_without_a_token_serves_anyone() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = GitHttp::bare_repo(tmp.path(), "open");
    let server = GitHttp::start(tmp.path(), None);
    git(
        tmp.path(),
        &["clone", "--quiet", &server.url("open"), "work"],
    );
    let work = tmp.path().join("work");
    commit(&work, "a.txt", "anonymous");
    git(&work, &["push", "--quiet", "origin", "HEAD:main"]);
    let log = git(
        tmp.path(),
        &[
            "--git-dir",
            bare.to_str().unwrap(),
            "log",
            "--format=%s",
            "main",
        ],
    );
    assert_eq!(log.trim(), "anonymous");
    assert_eq!(server.authorized_pushes(), 1);
    // And fetches back what it took.
    git(
        tmp.path(),
        &["clone", "--quiet", &server.url("open"), "again"],
    );
    assert!(tmp.path().join("again/a.txt").exists());
}
