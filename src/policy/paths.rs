//! Which files heal never edits on its own, whatever the fix: third-party and generated code,
//! binary and oversized files, CI configuration, credentials and git's own files.
//!
//! Pure: it judges a path and the texts already read, and must never touch the file system.
//! It is a second line behind [`crate::apply::Scope`], which already refuses `.git`, heal's
//! storage and the user's blacklist; this list holds what no automatic fix should touch even
//! when the user's blacklist forgot it.

use std::sync::LazyLock;

use globset::{GlobBuilder, GlobMatcher};

/// The protected globs and why each is protected, matched against the project-relative path.
/// `*` also matches `/` and case is ignored, so a glob errs on the side of refusing (a
/// `Vendor/` folder on a case-insensitive disk is still vendored code).
pub(super) const PROTECTED_GLOBS: &[(&str, &str)] = &[
    ("**/vendor/**", "vendored third-party code"),
    ("**/node_modules/**", "vendored third-party code"),
    ("**/site-packages/**", "installed third-party code"),
    ("**/dist-packages/**", "installed third-party code"),
    ("**/*.min.js", "minified generated code"),
    ("**/__pycache__/**", "compiled Python"),
    ("**/*.pyc", "compiled Python"),
    (".github/**", "CI configuration"),
    (".gitlab-ci.yml", "CI configuration"),
    (".circleci/**", "CI configuration"),
    ("**/Jenkinsfile", "CI configuration"),
    ("**/.env*", "credentials or environment"),
    ("**/*.pem", "a key or certificate"),
    ("**/*.key", "a key or certificate"),
    ("**/id_rsa*", "a key or certificate"),
    ("**/credentials*", "credentials"),
    ("**/secrets/**", "secrets"),
    ("**/.git/**", "git's own files"),
];

/// The configuration files pytest reads.
const TEST_CONFIGURATION: &[&str] = &["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"];

/// Why `rel` is guarded as a test, if it is: `policy.test_files`, a file `verify.commands`
/// names, or (for a test run) pytest's configuration.
pub(super) fn test_guard(rel: &str, cfg: &super::PolicyConfig) -> Option<&'static str> {
    let path = normalize(rel);
    if matches_any(&path, &cfg.test_files) {
        return Some("policy.test_files");
    }
    if cfg.guarded.iter().any(|g| normalize(g) == path) {
        return Some("verify.commands runs it");
    }
    if cfg.protect_tests
        && (crate::testrun::is_test_file(&path) || TEST_CONFIGURATION.contains(&path.as_str()))
    {
        return Some("a test run is judged by it");
    }
    None
}

/// Whether `rel` matches one of `globs` (case-insensitive; a glob that does not compile
/// matches nothing).
pub(super) fn matches_any(rel: &str, globs: &[String]) -> bool {
    let path = normalize(rel);
    globs.iter().any(|g| {
        GlobBuilder::new(g)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .is_ok_and(|glob| glob.compile_matcher().is_match(&path))
    })
}

/// Markers that tools write at the top of files they generate; an edit there is lost at the
/// next generation, so the fix belongs in the generator.
const GENERATED_MARKERS: &[&str] = &["@generated", "DO NOT EDIT", "Code generated"];

/// How many lines from the top a generated marker may appear in.
const MARKER_LINES: usize = 5;

/// The compiled [`PROTECTED_GLOBS`], built once. A glob that fails to compile is left out;
/// the test `every_protected_glob_compiles` makes sure none does.
static MATCHERS: LazyLock<Vec<(GlobMatcher, &'static str)>> = LazyLock::new(|| {
    PROTECTED_GLOBS
        .iter()
        .filter_map(|(glob, why)| {
            let glob = GlobBuilder::new(glob).case_insensitive(true).build().ok()?;
            Some((glob.compile_matcher(), *why))
        })
        .collect()
});

/// Why `rel` may not be edited automatically, judged by its path and by both of its texts;
/// `None` when it may be.
pub(super) fn protected(
    rel: &str,
    before: &str,
    after: &str,
    max_bytes: u64,
) -> Option<&'static str> {
    let path = normalize(rel);
    if let Some((_, why)) = MATCHERS.iter().find(|(m, _)| m.is_match(&path)) {
        return Some(why);
    }
    // Both texts are judged: a fix must neither edit such a file nor turn a file into one.
    let texts = [before, after];
    if texts.iter().any(|t| t.contains('\0')) {
        return Some("binary content");
    }
    if texts.iter().any(|t| t.len() as u64 > max_bytes) {
        return Some("larger than the size limit");
    }
    if texts.iter().any(|t| is_generated(t)) {
        return Some("generated code");
    }
    None
}

fn is_generated(text: &str) -> bool {
    text.lines()
        .take(MARKER_LINES)
        .any(|line| GENERATED_MARKERS.iter().any(|m| line.contains(m)))
}

/// The path in the form the globs and the traceback comparison expect: `/` separators, no
/// leading `./`. The plan's paths already have this form; traceback paths may not.
pub(super) fn normalize(path: &str) -> String {
    let mut path = path.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_string();
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1_048_576;

    fn why(rel: &str) -> Option<&'static str> {
        protected(rel, "x = 1\n", "x = 2\n", MIB)
    }

    #[test]
    fn every_protected_glob_compiles() {
        assert_eq!(MATCHERS.len(), PROTECTED_GLOBS.len());
    }

    #[test]
    fn third_party_ci_and_credential_paths_are_protected() {
        for rel in [
            "vendor/lib.py",
            "app/vendor/lib/x.py",
            "web/node_modules/a/index.js",
            "static/app.min.js",
            ".venv/lib/python3.12/site-packages/requests/api.py",
            "/usr/lib/python3/dist-packages/x.py",
            "app/__pycache__/m.cpython-312.pyc",
            "m.pyc",
            ".github/workflows/ci.yml",
            ".gitlab-ci.yml",
            ".circleci/config.yml",
            "Jenkinsfile",
            ".env",
            "app/.env.production",
            "certs/server.pem",
            "tls.key",
            "home/id_rsa.pub",
            "aws/credentials",
            "config/secrets/db.py",
            ".git/config",
            "./.github/workflows/ci.yml",
        ] {
            assert!(why(rel).is_some(), "{rel} should be protected");
        }
    }

    #[test]
    fn ordinary_project_files_are_not_protected() {
        for rel in [
            "app/main.py",
            "vendoring.py",
            "src/github.py",
            "tests/test_env.py",
        ] {
            assert_eq!(why(rel), None, "{rel}");
        }
    }

    #[test]
    fn nul_byte_in_either_text_is_binary() {
        assert_eq!(protected("a.py", "x\0y", "x", MIB), Some("binary content"));
        assert_eq!(protected("a.py", "x", "x\0y", MIB), Some("binary content"));
    }

    #[test]
    fn oversized_text_is_protected() {
        assert_eq!(
            protected("a.py", "12345", "1", 4),
            Some("larger than the size limit")
        );
        assert_eq!(protected("a.py", "1234", "1", 4), None);
    }

    #[test]
    fn generated_marker_in_the_first_lines_is_protected() {
        let generated = "# Code generated by protoc. DO NOT EDIT.\nx = 1\n";
        assert_eq!(
            protected("a_pb2.py", generated, "x", MIB),
            Some("generated code")
        );
        let late = "a\nb\nc\nd\ne\n# @generated\n";
        assert_eq!(protected("a.py", late, late, MIB), None);
    }
}
