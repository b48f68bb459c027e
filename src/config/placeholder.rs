//! Values that only look like settings: the examples `heal init` writes into `.env.example`
//! (`sk-ant-xxxx…`, `ghp_xxxx…`, the `T000/B000/XXXX` webhook) and values that are obviously
//! not real (`your-key-here`, `<token>`, `changeme`). After `cp .env.example .env` they would
//! otherwise count as set, and heal would spend its retries on them.

/// Whether `value` is a placeholder rather than a real credential or name.
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    if lower.is_empty() {
        return false;
    }
    // Words people put where a value goes.
    const WORDS: &[&str] = &[
        "your-",
        "your_",
        "changeme",
        "change-me",
        "change_me",
        "placeholder",
        "replace-me",
        "replace_me",
        "replace_with",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if v.contains('…') || v.contains("...") || (v.starts_with('<') && v.ends_with('>')) {
        return true;
    }
    // A run of four x's is never in a real key (`sk-ant-xxxxxxxx`, `ghp_xxxx`, `XXXX`).
    if lower.contains("xxxx") {
        return true;
    }
    // Slack's example webhook: T000/B000/XXXX, ids of zeros or X's and a secret of X's.
    if let Some(rest) = lower.split("/services/").nth(1) {
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        if let [team, channel, secret] = parts.as_slice() {
            let blank = |id: &str| id.chars().skip(1).all(|c| c == '0' || c == 'x');
            if blank(team)
                && blank(channel)
                && secret.len() >= 4
                && secret.chars().all(|c| c == 'x')
            {
                return true;
            }
        }
    }
    // A key made of one repeated character after its prefix (`sk-000000`, `ghp_aaaaaaaa`).
    let body = lower
        .trim_start_matches("sk-ant-")
        .trim_start_matches("sk-")
        .trim_start_matches("ghp_")
        .trim_start_matches("github_pat_")
        .trim_start_matches("xoxb-")
        .trim_start_matches("xoxp-");
    let mut chars = body.chars();
    if let Some(first) = chars.next() {
        if body.len() >= 4 && chars.all(|c| c == first) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::is_placeholder;

    #[test]
    fn the_examples_heal_init_writes_are_placeholders() {
        let example = crate::init::env_example();
        for line in example.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if [
                "ANTHROPIC_API_KEY",
                "GITHUB_TOKEN",
                "SLACK_WEBHOOK_URL",
                "GITHUB_REPO",
            ]
            .contains(&name)
            {
                assert!(is_placeholder(value), "{name}={value}");
            }
        }
    }

    #[test]
    fn obvious_fakes_are_placeholders_and_real_shapes_are_not() {
        for fake in [
            "your-api-key",
            "<token>",
            "changeme",
            "sk-...",
            "xoxb-…",
            "sk-ant-000000000000",
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        ] {
            assert!(is_placeholder(fake), "{fake}");
        }
        for real in [
            "sk-ant-api03-Zq7Xb2Lm9Rt4Vw1Ks8Nd3Pf6Hj0Cy5Ga",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF12/AbCdEfGhIjKlMnOpQrStUvWx",
            "acme/ads-agent",
            // A test server's webhook: short, but not the example.
            "http://127.0.0.1:9/services/T0/B0/x",
            "http://127.0.0.1:8080/v1",
        ] {
            assert!(!is_placeholder(real), "{real}");
        }
    }
}
