//! The handoff report: metrics over a period, the Handoff Quality Score of every handoff, the
//! weekly review, and the feedback loop with policy changes tried by replay. Used by
//! `baton report` and by the lead dashboard (`GET /v1/report`, `GET /report.html`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use baton_core::context;
use baton_core::model::Conversation;
use baton_core::quality::{self, HandoffFacts};
use baton_core::replay::Replay;
use baton_core::{decide, Decision, EscalationFacts, Policy};
use baton_store::{
    Handoff, HandoffMetrics, HandoffScore, HandoffStatus, MetricsQuery, Store, StoreError,
    StoredConversation,
};
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Group {
    pub handoffs: u64,
    pub unnecessary: u64,
    pub mean_quality: Option<f64>,
    #[serde(skip)]
    quality_sum: f64,
    #[serde(skip)]
    scored: u64,
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

/// The entry of `key`, allocating the key only the first time.
fn group<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

fn ts(s: &Option<String>) -> Option<Timestamp> {
    s.as_deref().and_then(|x| x.parse().ok())
}

/// Policy changes worth trying, each a description and the changed policy. They are made by
/// editing a copy of the compiled policy (its matchers are shared, not compiled again), so trying
/// them costs only the replay. Only changes that can take handoffs away: they are replayed over
/// handed-off conversations (`baton replay` tries any change over every stored conversation).
fn candidates(policy: &Policy) -> Vec<(String, Policy)> {
    let mut out = Vec::new();
    let mut edit = |change: String, apply: &dyn Fn(&mut Policy)| {
        let mut p = policy.clone();
        apply(&mut p);
        out.push((change, p));
    };
    let t = policy.low_confidence.threshold;
    for d in [-0.10, -0.05] {
        let new = ((t + d) * 100.0).round() / 100.0;
        if (0.0..=1.0).contains(&new) {
            edit(
                format!("low_confidence.threshold {t:.2} -> {new:.2}"),
                &|p: &mut Policy| p.low_confidence.threshold = new,
            );
        }
    }
    let r = policy.message_length.ratio;
    edit(
        format!("message_length.ratio {r} -> {}", r + 1.0),
        &|p: &mut Policy| p.message_length.ratio = r + 1.0,
    );
    let mb = policy.sentiment_drop.message_below;
    let new_mb = ((mb - 0.1) * 10.0).round() / 10.0;
    if new_mb >= -1.0 {
        edit(
            format!("sentiment_drop.message_below {mb} -> {new_mb}"),
            &|p: &mut Policy| p.sentiment_drop.message_below = new_mb,
        );
    }
    let v = policy.vip.substantive_message;
    edit(
        format!("vip.substantive_message {v} -> {}", v + 1),
        &|p: &mut Policy| p.vip.substantive_message = v + 1,
    );
    type Disable = fn(&mut Policy);
    let rules: [(&str, bool, Disable); 4] = [
        ("frustration", policy.frustration.enabled, |p| {
            p.frustration.enabled = false
        }),
        ("sentiment_drop", policy.sentiment_drop.enabled, |p| {
            p.sentiment_drop.enabled = false
        }),
        ("message_length", policy.message_length.enabled, |p| {
            p.message_length.enabled = false
        }),
        ("repeated_question", policy.repeated_question.enabled, |p| {
            p.repeated_question.enabled = false
        }),
    ];
    for (rule, enabled, disable) in rules {
        if enabled {
            edit(format!("disable {rule}"), &disable);
        }
    }
    out
}

/// Which handoffs a report covers besides the period (all when unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub team: Option<String>,
    pub skill: Option<String>,
    pub reason: Option<String>,
}

/// Most handed-off conversations (the period's most recent) that suggested policy changes are
/// replayed over: each candidate costs a full decision per conversation.
pub const SUGGESTION_SAMPLE: usize = 5_000;

/// Transcripts read per store call when scores have to be computed.
const LOAD_CHUNK: usize = 500;

fn conversation_of(c: StoredConversation) -> (Conversation, Option<Decision>) {
    let d = c
        .decision
        .and_then(|d| serde_json::from_value::<Decision>(d).ok());
    (
        Conversation {
            id: c.id,
            customer: c.customer,
            messages: c.messages,
            expected: None,
        },
        d,
    )
}

/// The escalation facts and the quality score of a handoff, from its transcript.
pub fn score_handoff(
    policy: &Policy,
    conv: &Conversation,
    stored: Option<Decision>,
    h: &HandoffMetrics,
) -> Option<(EscalationFacts, f64, String)> {
    let d = stored
        .filter(|d| d.escalate)
        .unwrap_or_else(|| decide(policy, conv));
    let at = d.at.unwrap_or(conv.messages.len().checked_sub(1)?);
    let facts = EscalationFacts::of(&conv.messages, at)?;
    let package = context::build(conv, &d, policy, None, &h.team);
    let q = quality::score(
        policy,
        &package,
        &conv.messages,
        &HandoffFacts {
            at,
            transfers: h.transfers,
            accepted_at: ts(&h.accepted_at),
            resolved_at: ts(&h.resolved_at),
        },
    );
    Some((facts, q.score, q.why_low()))
}

/// A handoff as the metrics see it.
pub fn metrics_of(h: &Handoff) -> HandoffMetrics {
    HandoffMetrics {
        id: h.id.clone(),
        conversation_id: h.conversation_id.clone(),
        status: h.status,
        skill: h.skill.clone(),
        team: h.team.clone(),
        reason: h.reason.clone(),
        created_at: h.created_at.clone(),
        accepted_at: h.accepted_at.clone(),
        resolved_at: h.resolved_at.clone(),
        necessary: h.necessary,
        missing: h.missing.clone(),
        csat: h.csat,
        transfers: h.transfers,
        facts: None,
        quality: None,
        repeat_contact: false,
    }
}

/// Set when the report being built is no longer wanted (its request went away): the work on
/// the blocking pool stops at the next conversation instead of running to the end.
#[derive(Clone, Default)]
struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Sets [`Abandoned`] when dropped: held by the future that builds a report, so dropping the
/// future (the request went away) stops its blocking work too.
struct AbandonOnDrop(Abandoned);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0 .0.store(true, Ordering::Relaxed);
    }
}

fn abandoned() -> StoreError {
    StoreError::Other("the report was abandoned".into())
}

/// Runs CPU-bound report work on the blocking pool, so it never holds up the async workers
/// (`/healthz` and every other request stay fast while a report is built).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Option<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Other(format!("report worker failed: {e}")))?
        .ok_or_else(abandoned)
}

/// Fills in the facts and scores the store does not hold yet (handoffs stored before they were
/// kept, open handoffs, a resolve whose score was not saved) and saves those that are final, so
/// each is computed once.
pub async fn complete_scores(
    store: &dyn Store,
    policy: &Arc<Policy>,
    handoffs: &mut [HandoffMetrics],
) -> Result<(), StoreError> {
    complete_scores_until(store, policy, handoffs, &Abandoned::default()).await
}

async fn complete_scores_until(
    store: &dyn Store,
    policy: &Arc<Policy>,
    handoffs: &mut [HandoffMetrics],
    stop: &Abandoned,
) -> Result<(), StoreError> {
    let need: Vec<usize> = (0..handoffs.len())
        .filter(|&i| handoffs[i].facts.is_none() || handoffs[i].quality.is_none())
        .collect();
    for chunk in need.chunks(LOAD_CHUNK) {
        let ids = chunk
            .iter()
            .map(|&i| handoffs[i].conversation_id.clone())
            .collect();
        let convs: HashMap<String, StoredConversation> = store
            .conversations_by_ids(ids)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let work: Vec<(usize, HandoffMetrics)> =
            chunk.iter().map(|&i| (i, handoffs[i].clone())).collect();
        let (policy, stop2) = (policy.clone(), stop.clone());
        let scored = blocking(move || {
            let mut out = Vec::with_capacity(work.len());
            for (i, h) in work {
                if stop2.is_set() {
                    return None;
                }
                let Some(c) = convs.get(&h.conversation_id) else {
                    continue;
                };
                let (conv, d) = conversation_of(c.clone());
                if let Some(s) = score_handoff(&policy, &conv, d, &h) {
                    out.push((i, s));
                }
            }
            Some(out)
        })
        .await?;
        let mut save = Vec::new();
        for (i, (facts, score, why)) in scored {
            let h = &mut handoffs[i];
            let final_score = h.status == HandoffStatus::Resolved;
            h.facts.get_or_insert(facts);
            h.quality = Some((score, why.clone()));
            save.push(HandoffScore {
                handoff_id: h.id.clone(),
                facts,
                quality: final_score.then_some((score, why)),
            });
        }
        if !save.is_empty() {
            store.save_handoff_scores(save).await?;
        }
    }
    Ok(())
}

/// Builds the report over conversations that started in `[since, until)` and the handoffs that
/// pass `filter`. The CPU-bound parts run on the blocking pool; dropping the returned future
/// stops them at the next conversation.
pub async fn build(
    store: &dyn Store,
    policy: &Arc<Policy>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    filter: Filter,
) -> Result<Report, StoreError> {
    let t0 = std::time::Instant::now();
    let guard = AbandonOnDrop(Abandoned::default());
    let stop = &guard.0;
    let window_days = policy.quality.repeat_contact_days as i64;
    let data = store
        .metrics(MetricsQuery {
            since_ms: since.map(|t| t.as_millisecond()),
            until_ms: until.map(|t| t.as_millisecond()),
            team: filter.team,
            skill: filter.skill,
            reason: filter.reason,
            repeat_window_ms: window_days * 86_400_000,
        })
        .await?;
    let mut handoffs = data.handoffs;
    complete_scores_until(store, policy, &mut handoffs, stop).await?;
    tracing::debug!(elapsed = ?t0.elapsed(), handoffs = handoffs.len(), "report: metrics read");
    let mut r = Report {
        since: since.map(|t| t.to_string()),
        until: until.map(|t| t.to_string()),
        conversations: data.conversations,
        handoffs: handoffs.len() as u64,
        ..Default::default()
    };
    r.csat_by_kind = data
        .csat_by_kind
        .into_iter()
        .map(|(kind, mean, n)| (kind, (mean, n)))
        .collect();
    let (mut resolution, mut csat, mut quality_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut repeat = 0u64;
    let mut missing: HashMap<String, u64> = HashMap::new();
    let mut per_day: HashMap<&str, u64> = HashMap::new();
    // (score, index) of every scored resolved handoff: only the lowest ten become review rows.
    let mut scored: Vec<(f64, usize)> = Vec::with_capacity(handoffs.len());
    for (i, h) in handoffs.iter().enumerate() {
        *per_day
            .entry(h.created_at.get(..10).unwrap_or("?"))
            .or_default() += 1;
        if let Some(f) = h.facts {
            let bucket = match f.customer_messages {
                0 | 1 => "1",
                2 | 3 => "2-3",
                _ => "4+",
            };
            let e = group(&mut r.time_to_handoff_by_complexity, bucket);
            e.0 += 1;
            e.1 += f.seconds_to_handoff;
            if f.late {
                *group(&mut r.late_by_reason, &h.reason) += 1;
            }
        }
        if let (Some(a), Some(b)) = (ts(&h.accepted_at), ts(&h.resolved_at)) {
            resolution.push(b.duration_since(a).as_secs_f64().max(0.0));
        }
        if let Some(s) = h.csat {
            csat.push(s as f64);
        }
        if let Some(n) = h.necessary {
            r.judged += 1;
            r.judged_unnecessary += (!n) as u64;
        }
        if let Some(m) = h
            .missing
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            *missing.entry(m.to_lowercase()).or_default() += 1;
        }
        repeat += h.repeat_contact as u64;
        let score = h.quality.as_ref().map(|q| q.0);
        if let Some(score) = score {
            quality_all.push(score);
            r.quality_histogram[((score / 10.0) as usize).min(9)] += 1;
            // Only finished work is reviewed: an open handoff's score is not final.
            if h.status == HandoffStatus::Resolved {
                scored.push((score, i));
            }
        }
        for (map, key) in [
            (&mut r.by_reason, &h.reason),
            (&mut r.by_skill, &h.skill),
            (&mut r.by_team, &h.team),
        ] {
            let g = group(map, key);
            g.handoffs += 1;
            g.unnecessary += (h.necessary == Some(false)) as u64;
            if let Some(score) = score {
                g.quality_sum += score;
                g.scored += 1;
            }
        }
    }
    r.handoffs_per_day = per_day
        .into_iter()
        .map(|(day, n)| (day.to_string(), n))
        .collect();
    let lowest = |a: &(f64, usize), b: &(f64, usize)| {
        a.0.total_cmp(&b.0)
            .then_with(|| handoffs[a.1].id.cmp(&handoffs[b.1].id))
    };
    if scored.len() > 10 {
        scored.select_nth_unstable_by(10, lowest);
        scored.truncate(10);
    }
    scored.sort_by(lowest);
    let review: Vec<Reviewed> = scored
        .into_iter()
        .map(|(score, i)| {
            let h = &handoffs[i];
            Reviewed {
                handoff_id: h.id.clone(),
                conversation_id: h.conversation_id.clone(),
                reason: h.reason.clone(),
                score,
                why: h.quality.as_ref().map(|q| q.1.clone()).unwrap_or_default(),
            }
        })
        .collect();
    for map in [&mut r.by_reason, &mut r.by_skill, &mut r.by_team] {
        for g in map.values_mut() {
            g.mean_quality =
                (g.scored > 0).then(|| (g.quality_sum / g.scored as f64 * 10.0).round() / 10.0);
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
    r.repeat_contact_rate = (!handoffs.is_empty()).then(|| repeat as f64 / handoffs.len() as f64);
    r.mean_quality = mean(&quality_all).map(|q| (q * 10.0).round() / 10.0);
    for v in r.time_to_handoff_by_complexity.values_mut() {
        v.1 /= v.0.max(1) as f64;
    }
    let mut missing: Vec<(String, u64)> = missing.into_iter().collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    r.missing = missing.into_iter().take(10).collect();
    r.weekly_review = review;
    if r.csat_by_kind.is_empty() {
        r.notes.push("No conversation CSAT yet (POST /v1/conversations/{id}/csat): handed-off, AI-only and human-only conversations cannot be compared.".into());
    }
    if r.judged == 0 {
        r.notes.push("No handoff has a human judgement (`necessary`) yet: suggestions need resolved handoffs.".into());
    } else {
        r.suggestions = suggestions(store, policy, &handoffs, &mut r.notes, stop).await?;
        tracing::debug!(elapsed = ?t0.elapsed(), "report: suggestions replayed");
    }
    Ok(r)
}

/// The feedback loop: policy changes tried by replay over the period's handed-off conversations
/// (the most recent [`SUGGESTION_SAMPLE`]), with the humans' judgements as labels.
async fn suggestions(
    store: &dyn Store,
    policy: &Arc<Policy>,
    handoffs: &[HandoffMetrics],
    notes: &mut Vec<String>,
    stop: &Abandoned,
) -> Result<Vec<Suggestion>, StoreError> {
    let sample = &handoffs[handoffs.len().saturating_sub(SUGGESTION_SAMPLE)..];
    if sample.len() < handoffs.len() {
        notes.push(format!(
            "Suggested changes were replayed over the period's {} most recent handoffs of {}.",
            sample.len(),
            handoffs.len()
        ));
    }
    let labels: HashMap<String, bool> = sample
        .iter()
        .filter_map(|h| Some((h.conversation_id.clone(), h.necessary?)))
        .collect();
    let mut stored = Vec::with_capacity(sample.len());
    for chunk in sample.chunks(LOAD_CHUNK) {
        let ids = chunk.iter().map(|h| h.conversation_id.clone()).collect();
        stored.extend(store.conversations_by_ids(ids).await?);
        if stop.is_set() {
            return Err(abandoned());
        }
    }
    let (policy, stop) = (policy.clone(), stop.clone());
    let mut out = blocking(move || {
        let mut convs = Vec::with_capacity(stored.len());
        for c in stored {
            if stop.is_set() {
                return None;
            }
            let conv = conversation_of(c).0;
            let current = decide(&policy, &conv);
            convs.push((conv, current));
        }
        let candidates = candidates(&policy);
        // Candidates are independent: spread them over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = candidates.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = candidates
                .chunks(per)
                .map(|part| {
                    let (convs, labels, policy, stop) = (&convs, &labels, &policy, &stop);
                    scope.spawn(move || {
                        part.iter()
                            .map(|(change, candidate)| {
                                try_candidate(policy, change, candidate, convs, labels, stop)
                            })
                            .collect::<Option<Vec<_>>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().ok().flatten())
                .collect::<Option<Vec<Vec<_>>>>()
        })
        .map(|parts| parts.into_iter().flatten().flatten().collect::<Vec<_>>())
    })
    .await?;
    out.sort_by(|a, b| {
        (b.unnecessary_avoided as i64 - b.necessary_lost as i64)
            .cmp(&(a.unnecessary_avoided as i64 - a.necessary_lost as i64))
            .then(a.handoffs_changed.cmp(&b.handoffs_changed))
            .then(a.change.cmp(&b.change))
    });
    Ok(out)
}

/// `None` when the report was abandoned; `Some(None)` when the change changes nothing.
fn try_candidate(
    policy: &Policy,
    change: &str,
    candidate: &Policy,
    convs: &[(Conversation, Decision)],
    labels: &HashMap<String, bool>,
    stop: &Abandoned,
) -> Option<Option<Suggestion>> {
    let mut replay = Replay::new(policy, candidate, 0);
    let (mut avoided, mut lost) = (0, 0);
    for (conv, current) in convs {
        if stop.is_set() {
            return None;
        }
        let label = labels.get(conv.id.as_str()).copied();
        let (before, after) = replay.add_decided(conv, current.clone(), label);
        match (before.escalate, after.escalate, label) {
            (true, false, Some(false)) => avoided += 1,
            (true, false, Some(true)) => lost += 1,
            _ => {}
        }
    }
    let rep = replay.finish();
    let changed = rep.would_escalate_now + rep.would_no_longer_escalate + rep.other_changes;
    Some((changed > 0).then(|| Suggestion {
        change: change.to_string(),
        handoffs_changed: changed,
        unnecessary_avoided: avoided,
        necessary_lost: lost,
    }))
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
