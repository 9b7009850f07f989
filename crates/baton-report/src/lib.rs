//! The handoff report: metrics over a period, the Handoff Quality Score of every handoff, the
//! weekly review, and the feedback loop with policy changes tried by replay. Used by
//! `baton report` and by the lead dashboard (`GET /v1/report`).
//!
//! `figures`, `scores` and `suggest` are plain functions over the store's rows; `build` is the
//! only part that reads the store, and `html` renders a built report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

mod build;
mod figures;
mod html;
mod scores;
mod suggest;

pub use build::{build, complete_scores, SUGGESTION_SAMPLE};
pub use figures::figures;
pub use html::html;
pub use scores::{metrics_of, score_handoff};

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

/// Which handoffs a report covers besides the period (all when unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub team: Option<String>,
    pub skill: Option<String>,
    pub reason: Option<String>,
}

/// A period's bound that is neither a date nor an RFC 3339 time (the text given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD) or an RFC 3339 time")]
pub struct BadBound(pub String);

/// A date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time.
pub fn parse_bound(s: &str) -> Result<Timestamp, BadBound> {
    s.parse::<Timestamp>()
        .or_else(|_| format!("{s}T00:00:00Z").parse::<Timestamp>())
        .map_err(|_| BadBound(s.to_string()))
}

pub fn fmt_opt(x: Option<f64>, unit: &str) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}{unit}"))
}

/// Set when the report being built is no longer wanted (its request went away): the CPU-bound
/// work stops at the next conversation instead of running to the end.
#[derive(Clone, Default)]
pub(crate) struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
