//! Text for a terminal. What heal prints about an incident quotes the program's messages and
//! the model's answers: attacker-controlled text. Raw, an escape sequence in it could rewrite
//! the user's terminal (move the cursor, hide lines, set the title, rewrite the clipboard), and
//! a `\r` could print over what heal said. Every control character is shown escaped instead,
//! except `\n` and `\t`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with control characters made visible: C0 controls and DEL as `\xNN` (`\r` as `\r`,
/// NUL as `\0`), C1 controls and the bidirectional overrides (which reorder what is shown, the
/// "Trojan Source" trick) as `\u{NNNN}`. `\n` and `\t` are kept.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// Longest summary [`summary`] gives, in characters.
const SUMMARY_CHARS: usize = 200;

/// `text` as one line of heal's terminal output: its first line, cut to 200 characters, and a
/// pointer to the rest when something was left out. The detail (a proof's output tail, a
/// traceback) belongs in the record and `heal show`; the terminal gets one line per event.
pub fn summary(text: &str, id: &str) -> String {
    let first = text.lines().next().unwrap_or_default().trim_end();
    let mut line: String = first.chars().take(SUMMARY_CHARS).collect();
    let cut = line.len() < first.len();
    if cut {
        line.push('…');
    }
    if cut || text.trim_end().contains('\n') {
        line.push_str(&format!(" (the details: heal show {id})"));
    }
    line
}

fn needs_escape(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true,
        // Bidirectional embeddings, overrides and isolates.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped_and_the_rest_is_kept() {
        assert_eq!(escape("plain\ttext\nnext"), "plain\ttext\nnext");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}]0;pwned\u{7}b\rc\0d\u{7f}"),
            "a\\x1b]0;pwned\\x07b\\rc\\0d\\x7f"
        );
        assert_eq!(escape("x\u{9b}31m y\u{202e}z"), "x\\u{009b}31m y\\u{202e}z");
        assert_eq!(escape("café ✓"), "café ✓");
    }

    #[test]
    fn a_summary_is_one_line_and_points_at_the_rest() {
        assert_eq!(summary("short", "err_1"), "short");
        let long = summary(
            "failed: x\nCommand: python3 main.py\nLast output:\n...",
            "err_1",
        );
        assert_eq!(long, "failed: x (the details: heal show err_1)");
        let cut = summary(&"é".repeat(300), "err_1");
        assert!(!cut.contains('\n') && cut.ends_with("(the details: heal show err_1)"));
        assert_eq!(cut.chars().filter(|c| *c == 'é').count(), 200);
    }
}
