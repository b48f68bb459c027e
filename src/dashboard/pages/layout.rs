//! The frame every page shares: the head (its style, written here, never from a CDN: a host
//! may have no internet), the navigation, and times shown in the viewer's zone (a `<time>`
//! holds UTC; a small script rewrites it locally, and without JavaScript UTC stays).

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Light and dark follow the system (`prefers-color-scheme`).
const STYLE: &str = r#"
:root { --bg:#fff; --fg:#1b1f24; --muted:#5b6570; --line:#d8dee4; --card:#f6f8fa;
  --fixed:#1a7f37; --skipped:#8c959f; --rejected:#bf8700; --failed:#cf222e; --open:#0969da; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --fg:#e6edf3; --muted:#8d96a0;
  --line:#30363d; --card:#161b22; --fixed:#3fb950; --skipped:#6e7681; --rejected:#d29922;
  --failed:#f85149; --open:#58a6ff; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:1.5em; align-items:center; padding:.7em 1.2em; border-bottom:1px solid var(--line); }
header a { color:var(--fg); text-decoration:none; font-weight:600; }
main { padding:1em 1.2em; max-width:1200px; }
a { color:var(--open); }
.tiles { display:grid; grid-template-columns:repeat(auto-fit, minmax(180px, 1fr)); gap:.8em; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:.8em; }
.tile .value { font-size:1.8em; font-weight:600; }
.tile .label { color:var(--muted); }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:.35em .5em; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:500; }
.status { padding:.05em .45em; border-radius:1em; border:1px solid var(--line); white-space:nowrap; }
.status.fixed { color:var(--fixed); } .status.skipped { color:var(--skipped); }
.status.rejected { color:var(--rejected); } .status.failed { color:var(--failed); }
.status.open { color:var(--open); }
pre { background:var(--card); border:1px solid var(--line); padding:.6em; overflow:auto; border-radius:6px; }
.diff .add { color:var(--fixed); } .diff .del { color:var(--failed); } .diff .hunk { color:var(--muted); }
.muted { color:var(--muted); }
form.filters { display:flex; flex-wrap:wrap; gap:.5em; margin-bottom:1em; }
form.filters input, form.filters select { padding:.3em; background:var(--bg); color:var(--fg); border:1px solid var(--line); border-radius:4px; }
.legend span { margin-right:1em; }
svg text { fill:var(--muted); font-size:10px; }
.passed { color:var(--fixed); } .not-passed { color:var(--failed); }
"#;

/// Rewrites each `<time datetime>` in the viewer's zone.
const LOCAL_TIMES: &str = r#"
for (const t of document.querySelectorAll('time[datetime]')) {
  const d = new Date(t.getAttribute('datetime'));
  if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute('datetime'); }
}
"#;

pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · heal" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/" { "heal" }
                    a href="/" { "Overview" }
                    a href="/incidents" { "Incidents" }
                    a href="/metrics" class="muted" { "Metrics" }
                }
                main { (body) }
                script { (PreEscaped(LOCAL_TIMES)) }
            }
        }
    }
}

/// A time, UTC as stored, shown in the viewer's zone where JavaScript runs.
pub fn time(rfc3339: &str) -> Markup {
    html! { time datetime=(rfc3339) { (rfc3339.replace('T', " ").replace('Z', " UTC")) } }
}

/// A status as a coloured pill, grouped as the chart groups them.
pub fn status(status: &str) -> Markup {
    let group = match status {
        "applied" | "committed" | "pushed" => "fixed",
        "skipped" => "skipped",
        "rejected" | "reverted" | "regressed" => "rejected",
        "failed" | "interrupted" => "failed",
        _ => "open",
    };
    html! { span class={ "status " (group) } data-status=(status) { (status) } }
}
