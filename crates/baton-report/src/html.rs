//! The report as a self-contained HTML page with SVG charts, from the `report.html` template.
//! Numbers are formatted here, so the page shows what `baton report` prints.

use minijinja::value::{Serde, Value};
use minijinja::{Environment, Error, Output, State};
use serde::Serialize;

use crate::{fmt_opt, Report, Suggestion};

const TEMPLATE: &str = include_str!("report.html");

#[derive(Serialize)]
struct Page<'r> {
    since: &'r str,
    until: &'r str,
    conversations: u64,
    handoff_rate: String,
    resolution: String,
    csat: String,
    repeat_contacts: String,
    mean_quality: String,
    charts: [Chart; 2],
    by_reason: Vec<ReasonRow<'r>>,
    weekly_review: Vec<ReviewRow<'r>>,
    suggestions: &'r [Suggestion],
    notes: &'r [String],
}

#[derive(Serialize)]
struct Chart {
    heading: &'static str,
    label: &'static str,
    width: String,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    x: String,
    y: String,
    height: String,
    text_x: String,
    label: String,
    short: String,
    n: u64,
}

#[derive(Serialize)]
struct ReasonRow<'r> {
    reason: &'r str,
    handoffs: u64,
    unnecessary: u64,
    mean_quality: String,
}

#[derive(Serialize)]
struct ReviewRow<'r> {
    score: String,
    handoff_id: &'r str,
    reason: &'r str,
    why: &'r str,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every value the template prints is escaped for text and double-quoted attributes (`& < > "`),
/// as the page always was: minijinja's own escaping would also rewrite `'` and `/`.
fn format(out: &mut Output, _: &mut State, value: &Value) -> Result<(), Error> {
    let text = value.to_string();
    let text = if value.is_safe() { text } else { esc(&text) };
    std::fmt::Write::write_str(out, &text).map_err(Error::from)
}

/// A bar chart of `items` (label, count), the tallest bar 100 units high; under each bar its
/// label from the sixth character (a day's `MM-DD`).
fn chart(heading: &'static str, label: &'static str, items: Vec<(String, u64)>) -> Chart {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    let width = (items.len().max(1) * 28) as f64;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, n))| {
            let h = (n as f64 / max) * 100.0;
            let x = i as f64 * 28.0 + 4.0;
            Bar {
                x: x.to_string(),
                y: (105.0 - h).to_string(),
                height: h.to_string(),
                text_x: (x + 10.0).to_string(),
                short: label.get(5..).unwrap_or(&label).to_string(),
                label,
                n,
            }
        })
        .collect();
    Chart {
        heading,
        label,
        width: width.to_string(),
        bars,
    }
}

/// The report as a self-contained HTML page with SVG charts.
pub fn html(r: &Report) -> String {
    let per_day = r
        .handoffs_per_day
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let histogram = r
        .quality_histogram
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("....{}", i * 10), *n))
        .collect();
    let page = Page {
        since: r.since.as_deref().unwrap_or("start"),
        until: r.until.as_deref().unwrap_or("now"),
        conversations: r.conversations,
        handoff_rate: format!("{:.1}", 100.0 * r.handoff_rate),
        resolution: fmt_opt(r.mean_resolution_seconds.map(|s| s / 60.0), " min"),
        csat: fmt_opt(r.mean_csat_after_handoff, ""),
        repeat_contacts: fmt_opt(r.repeat_contact_rate.map(|x| 100.0 * x), "%"),
        mean_quality: fmt_opt(r.mean_quality, ""),
        charts: [
            chart("Handoffs per day", "handoffs per day", per_day),
            chart(
                "Quality score distribution",
                "quality score distribution",
                histogram,
            ),
        ],
        by_reason: r
            .by_reason
            .iter()
            .map(|(reason, g)| ReasonRow {
                reason,
                handoffs: g.handoffs,
                unnecessary: g.unnecessary,
                mean_quality: fmt_opt(g.mean_quality, ""),
            })
            .collect(),
        weekly_review: r
            .weekly_review
            .iter()
            .map(|x| ReviewRow {
                score: format!("{:.1}", x.score),
                handoff_id: &x.handoff_id,
                reason: &x.reason,
                why: &x.why,
            })
            .collect(),
        suggestions: &r.suggestions,
        notes: &r.notes,
    };
    let mut env = Environment::new();
    env.set_formatter(format);
    env.template_from_named_str("report.html", TEMPLATE)
        .and_then(|t| t.render(Value::from(Serde(&page))))
        .expect("the report template renders any report (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Group, Reviewed};

    /// Every part of the page is filled in, and what users wrote is escaped.
    #[test]
    fn the_page_shows_every_part_and_escapes_user_text() {
        let mut r = Report {
            conversations: 3,
            handoffs: 2,
            handoff_rate: 2.0 / 3.0,
            mean_quality: Some(87.5),
            quality_histogram: [0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
            notes: vec!["first".into(), "second <b>".into()],
            ..Default::default()
        };
        r.handoffs_per_day.insert("2026-11-02".into(), 2);
        r.by_reason.insert(
            "cancellation".into(),
            Group {
                handoffs: 2,
                unnecessary: 1,
                mean_quality: Some(87.5),
                ..Default::default()
            },
        );
        r.weekly_review.push(Reviewed {
            handoff_id: "h-1".into(),
            conversation_id: "A".into(),
            reason: "cancellation".into(),
            score: 80.25,
            why: "efficiency 50% & \"slow\"".into(),
        });
        r.suggestions.push(Suggestion {
            change: "disable frustration".into(),
            handoffs_changed: 3,
            unnecessary_avoided: 1,
            necessary_lost: 0,
        });
        let page = html(&r);
        for part in [
            "<p>Period: start .. now</p>",
            r#"<div class="v">66.7%</div>"#,
            r#"<svg role="img" aria-label="handoffs per day" viewBox="0 0 28 130""#,
            "<title>2026-11-02: 2</title>",
            ">11-02</text>",
            "<tr><td>cancellation</td><td>2</td><td>1</td><td>87.5</td></tr>",
            "<td>80.2</td><td>h-1</td><td>cancellation</td><td>efficiency 50% &amp; &quot;slow&quot;</td>",
            "<li>disable frustration: changes 3 handoffs, 1 unnecessary avoided, 0 necessary lost</li>",
            "<p>first<br>second &lt;b&gt;</p></body></html>",
        ] {
            assert!(page.contains(part), "no {part} in\n{page}");
        }
    }
}
