//! The report as a self-contained HTML page with SVG charts.

use crate::{fmt_opt, Report};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bars(items: &[(String, u64)], title: &str) -> String {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let w = (items.len().max(1) * 28) as f64;
    let mut svg = format!(
        r#"<svg role="img" aria-label="{}" viewBox="0 0 {w} 130" width="{w}" height="130">"#,
        esc(title)
    );
    for (i, (label, n)) in items.iter().enumerate() {
        let h = (*n as f64 / max) * 100.0;
        let x = i as f64 * 28.0 + 4.0;
        svg.push_str(&format!(
            r##"<rect x="{x}" y="{}" width="20" height="{h}" fill="#0969da"><title>{}: {n}</title></rect><text x="{}" y="128" font-size="8" text-anchor="middle">{}</text>"##,
            105.0 - h,
            esc(label),
            x + 10.0,
            esc(label.get(5..).unwrap_or(label))
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// The report as a self-contained HTML page with SVG charts.
pub fn html(r: &Report) -> String {
    let per_day: Vec<(String, u64)> = r
        .handoffs_per_day
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let hist: Vec<(String, u64)> = r
        .quality_histogram
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("....{}", i * 10), *n))
        .collect();
    let mut rows = String::new();
    for x in &r.weekly_review {
        rows.push_str(&format!(
            "<tr><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            x.score,
            esc(&x.handoff_id),
            esc(&x.reason),
            esc(&x.why)
        ));
    }
    let mut sugg = String::new();
    for s in &r.suggestions {
        sugg.push_str(&format!(
            "<li>{}: changes {} handoffs, {} unnecessary avoided, {} necessary lost</li>",
            esc(&s.change),
            s.handoffs_changed,
            s.unnecessary_avoided,
            s.necessary_lost
        ));
    }
    let mut reasons = String::new();
    for (k, g) in &r.by_reason {
        reasons.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            g.handoffs,
            g.unnecessary,
            fmt_opt(g.mean_quality, "")
        ));
    }
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Baton handoff report</title>
<style>body{{font:15px system-ui,sans-serif;margin:2rem;max-width:1000px}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}}.tiles{{display:flex;flex-wrap:wrap;gap:1rem}}.tile{{border:1px solid #ddd;border-radius:8px;padding:.5rem 1rem}}.v{{font-size:1.5rem;font-weight:600}}</style></head><body>
<h1>Baton handoff report</h1><p>Period: {} .. {}</p>
<div class="tiles"><div class="tile">Conversations<div class="v">{}</div></div><div class="tile">Handoff rate<div class="v">{:.1}%</div></div>
<div class="tile">Resolution after handoff<div class="v">{}</div></div><div class="tile">CSAT after handoff<div class="v">{}</div></div>
<div class="tile">Repeat contacts<div class="v">{}</div></div><div class="tile">Mean quality<div class="v">{}</div></div></div>
<h2>Handoffs per day</h2>{}<h2>Quality score distribution</h2>{}
<h2>By reason</h2><table><tr><th>Reason</th><th>Handoffs</th><th>Unnecessary</th><th>Mean quality</th></tr>{}</table>
<h2>Weekly review: lowest-scoring handoffs</h2><table><tr><th>Score</th><th>Handoff</th><th>Reason</th><th>Why</th></tr>{}</table>
<h2>Suggested policy changes</h2><ul>{}</ul>
<p>{}</p></body></html>"#,
        esc(r.since.as_deref().unwrap_or("start")),
        esc(r.until.as_deref().unwrap_or("now")),
        r.conversations,
        100.0 * r.handoff_rate,
        fmt_opt(r.mean_resolution_seconds.map(|s| s / 60.0), " min"),
        fmt_opt(r.mean_csat_after_handoff, ""),
        fmt_opt(r.repeat_contact_rate.map(|x| 100.0 * x), "%"),
        fmt_opt(r.mean_quality, ""),
        bars(&per_day, "handoffs per day"),
        bars(&hist, "quality score distribution"),
        reasons,
        rows,
        sugg,
        r.notes
            .iter()
            .map(|n| esc(n))
            .collect::<Vec<_>>()
            .join("<br>")
    )
}
