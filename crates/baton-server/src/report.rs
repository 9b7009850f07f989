//! The handoff report: metrics over a period, the Handoff Quality Score of every handoff, the
//! weekly review, and the feedback loop with policy changes tried by replay. Used by
//! `baton report` and by the lead dashboard (`GET /v1/report`, `GET /report.html`).

use std::collections::{BTreeMap, HashMap};

use baton_core::context;
use baton_core::model::{Conversation, Role};
use baton_core::quality::{self, HandoffFacts};
use baton_core::replay::Replay;
use baton_core::{decide, Decision, Policy};
use baton_store::{Handoff, Store, StoreError};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Group {
    pub handoffs: u64,
    pub unnecessary: u64,
    pub mean_quality: Option<f64>,
    #[serde(skip)]
    quality_sum: f64,
}

#[derive(Debug, Serialize)]
pub struct Reviewed {
    pub handoff_id: String,
    pub conversation_id: String,
    pub reason: String,
    pub score: f64,
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct Suggestion {
    pub change: String,
    pub handoffs_changed: usize,
    pub unnecessary_avoided: usize,
    pub necessary_lost: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub since: Option<String>,
    pub until: Option<String>,
    pub conversations: u64,
    pub handoffs: u64,
    pub handoff_rate: f64,
    /// Mean seconds from the first message to the message that escalated, by how many customer
    /// messages it took (a proxy for complexity: "1", "2-3", "4+").
    pub time_to_handoff_by_complexity: BTreeMap<String, (u64, f64)>,
    pub mean_resolution_seconds: Option<f64>,
    pub mean_csat_after_handoff: Option<f64>,
    pub csat_count: u64,
    /// Conversation CSAT (`POST /v1/conversations/{id}/csat`) by kind: handed off, AI-only (no
    /// handoff, no human message), human-only (no AI message): (mean, count).
    pub csat_by_kind: BTreeMap<String, (f64, u64)>,
    /// Share of handed-off customers who came back about the same topic within the window.
    pub repeat_contact_rate: Option<f64>,
    pub by_reason: BTreeMap<String, Group>,
    pub by_skill: BTreeMap<String, Group>,
    pub by_team: BTreeMap<String, Group>,
    pub judged_unnecessary: u64,
    pub judged: u64,
    /// Handoffs whose customer was already clearly upset (red) at an earlier message than the one
    /// that escalated: the trigger fired late. By reason.
    pub late_by_reason: BTreeMap<String, u64>,
    /// What the humans needed that the AI lacked, most frequent first.
    pub missing: Vec<(String, u64)>,
    pub mean_quality: Option<f64>,
    /// Quality scores in ten buckets (0-10, ..., 90-100).
    pub quality_histogram: [u64; 10],
    pub handoffs_per_day: BTreeMap<String, u64>,
    pub weekly_review: Vec<Reviewed>,
    pub suggestions: Vec<Suggestion>,
    /// What the report cannot say and why.
    pub notes: Vec<String>,
}

/// A date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time.
pub fn parse_bound(s: &str) -> Result<Timestamp, String> {
    s.parse::<Timestamp>()
        .or_else(|_| format!("{s}T00:00:00Z").parse::<Timestamp>())
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn ts(s: &Option<String>) -> Option<Timestamp> {
    s.as_deref().and_then(|x| x.parse().ok())
}

/// Policy changes worth trying: each a text edit of the policy file and a description.
fn candidate_edits(source: &str, policy: &Policy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let t = policy.low_confidence.threshold;
    for d in [-0.10, -0.05, 0.05] {
        let new = ((t + d) * 100.0).round() / 100.0;
        if (0.0..=1.0).contains(&new) {
            out.push((
                format!("low_confidence.threshold {t:.2} -> {new:.2}"),
                source.replacen(
                    &format!("threshold = {t:.2}"),
                    &format!("threshold = {new:.2}"),
                    1,
                ),
            ));
        }
    }
    let r = policy.message_length.ratio;
    out.push((
        format!("message_length.ratio {r} -> {}", r + 1.0),
        source.replacen(
            &format!("ratio = {r:.1}"),
            &format!("ratio = {:.1}", r + 1.0),
            1,
        ),
    ));
    let mb = policy.sentiment_drop.message_below;
    out.push((
        format!("sentiment_drop.message_below {mb} -> {}", mb - 0.1),
        source.replacen(
            &format!("message_below = {mb}"),
            &format!("message_below = {:.1}", mb - 0.1),
            1,
        ),
    ));
    let v = policy.vip.substantive_message;
    out.push((
        format!("vip.substantive_message {v} -> {}", v + 1),
        source.replacen(
            &format!("substantive_message = {v}"),
            &format!("substantive_message = {}", v + 1),
            1,
        ),
    ));
    for rule in [
        "frustration",
        "sentiment_drop",
        "message_length",
        "repeated_question",
    ] {
        out.push((
            format!("disable {rule}"),
            source.replacen(
                &format!("[{rule}]\nenabled = true"),
                &format!("[{rule}]\nenabled = false"),
                1,
            ),
        ));
    }
    out.retain(|(_, s)| s != source);
    out
}

/// Builds the report over conversations that started in `[since, until)`. `policy_source` is the
/// text of `policy` (suggested changes are edits of it).
pub async fn build(
    store: &dyn Store,
    policy: &Policy,
    policy_source: &str,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<Report, StoreError> {
    let since_text = since.map(|t| t.to_string());
    let until_text = until.map(|t| t.to_string());
    let source = policy_source;
    let handoffs: HashMap<String, Handoff> = store
        .handoffs(None)
        .await?
        .into_iter()
        .map(|h| (h.conversation_id.clone(), h))
        .collect();
    let mut conversations = Vec::new();
    let mut after = None;
    loop {
        let page = store.conversations_page(after.clone(), 2000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        conversations.extend(page);
    }
    let mut r = Report {
        since: since_text,
        until: until_text,
        ..Default::default()
    };
    let in_range = |t: Option<Timestamp>| {
        t.is_some_and(|t| since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u))
    };
    // Per customer: (start, topic) of every conversation, for repeat contacts.
    let mut contacts: HashMap<String, Vec<(Timestamp, String)>> = HashMap::new();
    let mut decided: Vec<(Conversation, Decision)> = Vec::new();
    let mut by_kind: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in conversations {
        if let (Some(score), true) = (c.csat, in_range(c.messages.first().map(|m| m.at))) {
            let has = |role: Role| c.messages.iter().any(|m| m.role == role);
            let kind = if handoffs.contains_key(&c.id) {
                "handed_off"
            } else if !has(Role::Ai) && has(Role::Agent) {
                "human_only"
            } else {
                "ai_only"
            };
            by_kind
                .entry(kind.to_string())
                .or_default()
                .push(score as f64);
        }
        let conv = Conversation {
            id: c.id.clone(),
            customer: c.customer.clone(),
            messages: c.messages,
            expected: None,
        };
        let d = match c.decision.map(serde_json::from_value::<Decision>) {
            Some(Ok(d)) => d,
            _ => decide(policy, &conv),
        };
        if let Some(t) = conv.messages.first().map(|m| m.at) {
            contacts
                .entry(conv.customer.id.clone())
                .or_default()
                .push((t, d.topic.clone()));
        }
        if in_range(conv.messages.first().map(|m| m.at)) {
            decided.push((conv, d));
        }
    }
    let window = jiff::SignedDuration::from_hours(24 * policy.quality.repeat_contact_days as i64);
    let (mut resolution, mut csat, mut quality_all) = (Vec::new(), Vec::new(), Vec::new());
    let (mut repeat, mut repeat_base) = (0u64, 0u64);
    let mut missing: HashMap<String, u64> = HashMap::new();
    let mut review = Vec::new();
    let mut labels: HashMap<String, bool> = HashMap::new();
    for (conv, d) in &decided {
        r.conversations += 1;
        let Some(h) = handoffs.get(&conv.id) else {
            continue;
        };
        r.handoffs += 1;
        let day = h.created_at.get(..10).unwrap_or("?").to_string();
        *r.handoffs_per_day.entry(day).or_default() += 1;
        let at = d.at.unwrap_or(conv.messages.len().saturating_sub(1));
        if let (Some(first), Some(trigger)) = (conv.messages.first(), conv.messages.get(at)) {
            let asked = conv.messages[..=at]
                .iter()
                .filter(|m| m.role == Role::Customer)
                .count();
            let bucket = match asked {
                0 | 1 => "1",
                2 | 3 => "2-3",
                _ => "4+",
            }
            .to_string();
            let e = r
                .time_to_handoff_by_complexity
                .entry(bucket)
                .or_insert((0, 0.0));
            e.0 += 1;
            e.1 += trigger.at.duration_since(first.at).as_secs_f64().max(0.0);
        }
        if let (Some(a), Some(b)) = (ts(&h.accepted_at), ts(&h.resolved_at)) {
            resolution.push(b.duration_since(a).as_secs_f64().max(0.0));
        }
        if let Some(s) = h.csat {
            csat.push(s as f64);
        }
        if let Some(n) = h.necessary {
            r.judged += 1;
            labels.insert(conv.id.clone(), n);
            if !n {
                r.judged_unnecessary += 1;
            }
        }
        if let Some(m) = h
            .missing
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            *missing.entry(m.to_lowercase()).or_default() += 1;
        }
        // Repeat contact: a later conversation of the same customer and topic within the window.
        if let Some(start) = conv.messages.first().map(|m| m.at) {
            repeat_base += 1;
            if contacts.get(&conv.customer.id).is_some_and(|cs| {
                cs.iter()
                    .any(|(t, topic)| *t > start && *t <= start + window && *topic == d.topic)
            }) {
                repeat += 1;
            }
        }
        let package = context::build(conv, d, policy, None, &h.team);
        if package
            .sentiment
            .iter()
            .any(|p| p.message < at && p.colour == context::Colour::Red)
        {
            *r.late_by_reason.entry(h.reason.clone()).or_default() += 1;
        }
        let facts = HandoffFacts {
            at,
            transfers: h.transfers,
            accepted_at: ts(&h.accepted_at),
            resolved_at: ts(&h.resolved_at),
        };
        let q = quality::score(policy, &package, &conv.messages, &facts);
        quality_all.push(q.score);
        r.quality_histogram[((q.score / 10.0) as usize).min(9)] += 1;
        for (map, key) in [
            (&mut r.by_reason, h.reason.clone()),
            (&mut r.by_skill, h.skill.clone()),
            (&mut r.by_team, h.team.clone()),
        ] {
            let g = map.entry(key).or_default();
            g.handoffs += 1;
            g.unnecessary += (h.necessary == Some(false)) as u64;
            g.quality_sum += q.score;
        }
        review.push(Reviewed {
            handoff_id: h.id.clone(),
            conversation_id: conv.id.clone(),
            reason: h.reason.clone(),
            score: q.score,
            why: q.why_low(),
        });
    }
    for map in [&mut r.by_reason, &mut r.by_skill, &mut r.by_team] {
        for g in map.values_mut() {
            g.mean_quality =
                (g.handoffs > 0).then(|| (g.quality_sum / g.handoffs as f64 * 10.0).round() / 10.0);
        }
    }
    r.handoff_rate = if r.conversations > 0 {
        r.handoffs as f64 / r.conversations as f64
    } else {
        0.0
    };
    r.mean_resolution_seconds = mean(&resolution);
    r.mean_csat_after_handoff = mean(&csat);
    r.csat_count = csat.len() as u64;
    r.repeat_contact_rate = (repeat_base > 0).then(|| repeat as f64 / repeat_base as f64);
    r.mean_quality = mean(&quality_all).map(|q| (q * 10.0).round() / 10.0);
    for v in r.time_to_handoff_by_complexity.values_mut() {
        v.1 /= v.0.max(1) as f64;
    }
    let mut missing: Vec<(String, u64)> = missing.into_iter().collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    r.missing = missing.into_iter().take(10).collect();
    review.sort_by(|a, b| {
        a.score
            .total_cmp(&b.score)
            .then(a.handoff_id.cmp(&b.handoff_id))
    });
    review.truncate(10);
    r.weekly_review = review;
    r.csat_by_kind = by_kind
        .into_iter()
        .map(|(k, v)| (k, (mean(&v).unwrap_or(0.0), v.len() as u64)))
        .collect();
    if r.csat_by_kind.is_empty() {
        r.notes.push("No conversation CSAT yet (POST /v1/conversations/{id}/csat): handed-off, AI-only and human-only conversations cannot be compared.".into());
    }

    // The feedback loop: try policy changes by replay over this period's conversations.
    if labels.is_empty() {
        r.notes.push("No handoff has a human judgement (`necessary`) yet: suggestions need resolved handoffs.".into());
    } else {
        for (change, text) in candidate_edits(source, policy) {
            let Ok(candidate) = Policy::from_toml(&text) else {
                continue;
            };
            let mut replay = Replay::new(policy, &candidate, 0);
            let (mut avoided, mut lost) = (0, 0);
            for (conv, _) in &decided {
                let label = labels.get(&conv.id).copied();
                let (before, after) = replay.add(conv, label);
                match (before.escalate, after.escalate, label) {
                    (true, false, Some(false)) => avoided += 1,
                    (true, false, Some(true)) => lost += 1,
                    _ => {}
                }
            }
            let rep = replay.finish();
            let changed = rep.would_escalate_now + rep.would_no_longer_escalate + rep.other_changes;
            if changed > 0 {
                r.suggestions.push(Suggestion {
                    change,
                    handoffs_changed: changed,
                    unnecessary_avoided: avoided,
                    necessary_lost: lost,
                });
            }
        }
        r.suggestions.sort_by(|a, b| {
            (b.unnecessary_avoided as i64 - b.necessary_lost as i64)
                .cmp(&(a.unnecessary_avoided as i64 - a.necessary_lost as i64))
                .then(a.handoffs_changed.cmp(&b.handoffs_changed))
        });
    }

    Ok(r)
}

pub fn fmt_opt(x: Option<f64>, unit: &str) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}{unit}"))
}

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
