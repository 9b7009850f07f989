//! The report of a period from the store: the only part that reads or writes it. The CPU-bound
//! work runs on tokio's blocking pool, and only while someone waits for the report.

use std::collections::HashMap;
use std::sync::Arc;

use baton_core::Policy;
use baton_store::{
    HandoffMetrics, HandoffScore, HandoffStatus, MetricsQuery, Store, StoreError,
    StoredConversation,
};
use jiff::Timestamp;

use crate::figures::figures;
use crate::scores::{conversation_of, score_handoff};
use crate::suggest::replay_candidates;
use crate::{Abandoned, Filter, Report, Suggestion};

/// Most handed-off conversations (the period's most recent) that suggested policy changes are
/// replayed over: each candidate costs a full decision per conversation.
pub const SUGGESTION_SAMPLE: usize = 5_000;

/// Transcripts read per store call when scores have to be computed.
const LOAD_CHUNK: usize = 500;

/// Sets [`Abandoned`] when dropped: held by the future that builds a report, so dropping the
/// future (the request went away) stops its blocking work too.
struct AbandonOnDrop(Abandoned);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.set();
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
        .map_err(|e| StoreError::backend("report worker failed: ", e))?
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
        ..figures(data.conversations, data.csat_by_kind, &handoffs)
    };
    if r.judged > 0 {
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
    blocking(move || {
        let convs = stored.into_iter().map(|c| conversation_of(c).0);
        replay_candidates(&policy, convs, &labels, &stop)
    })
    .await
}
