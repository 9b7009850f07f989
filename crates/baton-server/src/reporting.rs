//! Reports for the API (`GET /v1/report`): one computation per period and filter at a time,
//! shared by every caller that asks while it runs, at most [`Settings::report_concurrency`]
//! computations at once, and stopped when nobody waits for it any more.
//!
//! A dashboard flood therefore costs one report per distinct period, not one per request, and a
//! closed tab stops its report at the next conversation.
//!
//! [`Settings::report_concurrency`]: crate::Settings::report_concurrency

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baton_core::Policy;
use baton_store::Store;
use futures_util::future::{BoxFuture, FutureExt, Shared, WeakShared};
use jiff::Timestamp;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use baton_report::{Filter, Report};

type JobFuture = BoxFuture<'static, Result<Arc<Report>, ApiError>>;
type Job = Shared<JobFuture>;

/// What makes two report requests the same: the period and the filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    since: Option<i64>,
    until: Option<i64>,
    team: Option<String>,
    skill: Option<String>,
    reason: Option<String>,
}

/// The reports being built, by period and filter.
pub struct Reports {
    /// Weak, so that a job nobody awaits any more is dropped (and so stopped) at once.
    running: Mutex<HashMap<Key, WeakShared<JobFuture>>>,
    permits: Arc<Semaphore>,
}

impl Reports {
    /// At most `concurrency` reports are computed at once (at least one); others wait their turn.
    pub fn new(concurrency: usize) -> Self {
        Self {
            running: Mutex::default(),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The report of `[since, until)` under `filter`: joins the computation already running for
    /// the same period and filter, or starts one. Dropping the returned future leaves the
    /// computation; the last one to leave stops it.
    pub async fn get(
        &self,
        store: Arc<dyn Store>,
        policy: Arc<Policy>,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        filter: Filter,
    ) -> Result<Arc<Report>, ApiError> {
        let key = Key {
            since: since.map(|t| t.as_millisecond()),
            until: until.map(|t| t.as_millisecond()),
            team: filter.team.clone(),
            skill: filter.skill.clone(),
            reason: filter.reason.clone(),
        };
        let job: Job = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            running.retain(|_, weak| weak.upgrade().is_some());
            match running.get(&key).and_then(WeakShared::upgrade) {
                Some(job) => job,
                None => {
                    let permits = self.permits.clone();
                    let job = async move {
                        let _permit = permits
                            .acquire_owned()
                            .await
                            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
                        let report =
                            baton_report::build(store.as_ref(), &policy, since, until, filter)
                                .await?;
                        Ok(Arc::new(report))
                    }
                    .boxed()
                    .shared();
                    if let Some(weak) = job.downgrade() {
                        running.insert(key, weak);
                    }
                    job
                }
            }
        };
        job.await
    }
}
