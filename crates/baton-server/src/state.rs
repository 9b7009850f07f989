//! What every handler shares: the store, the policy, the settings, the caches, and where the
//! server reads the time and makes ids.

use std::sync::Arc;

use baton_core::Policy;
use baton_store::Store;
use jiff::Timestamp;

use crate::{auth, events, glances, live, metrics, reporting, webhooks, Settings};

/// Where the server reads the time.
type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Everything a handler needs, behind one `Arc`: axum clones the state for every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares (read through it).
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub policy: Arc<Policy>,
    pub settings: Arc<Settings>,
    pub conversations: Arc<live::Conversations>,
    pub keys: Arc<auth::KeyCache>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Woken after every write that adds events (SSE streams and webhook delivery wait on it).
    pub events: Arc<tokio::sync::Notify>,
    /// What queue rows show of each handoff's context, kept until its conversation changes.
    pub glances: Arc<glances::Glances>,
    /// Reports being built for the API, shared between callers of the same period.
    pub reports: Arc<reporting::Reports>,
    pub rate_limits: Arc<auth::RateLimits>,
    /// Cancelled when the server shuts down: event streams end with a `reconnect` event.
    pub stopping: tokio_util::sync::CancellationToken,
    clock: Clock,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, policy: Policy, settings: Settings) -> Self {
        let events: Arc<tokio::sync::Notify> = Arc::default();
        let conversations = Arc::new(live::Conversations::new(settings.live_conversations));
        let key_cache_ttl = std::time::Duration::from_millis(settings.key_cache_ms);
        // Events other instances commit wake this one's streams too (PostgreSQL).
        store.watch_events(Arc::downgrade(&events));
        Self(Arc::new(Shared {
            rate_limits: Arc::new(auth::RateLimits::new(settings.rate_limit_per_second)),
            reports: Arc::new(reporting::Reports::new(settings.report_concurrency)),
            glances: Arc::default(),
            store,
            policy: Arc::new(policy),
            settings: Arc::new(settings),
            conversations,
            keys: Arc::new(auth::KeyCache::new(key_cache_ttl)),
            metrics: metrics::handle(),
            events,
            stopping: tokio_util::sync::CancellationToken::new(),
            clock: Arc::new(Timestamp::now),
        }))
    }

    /// The same state reading the time from `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.0).clock = Arc::new(clock);
        self
    }

    /// The time now: every handler and worker reads it here.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// A new random 128-bit id in hex (handoffs, webhooks and suggestions use a prefix of it).
    pub fn new_id(&self) -> String {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rng().fill_bytes(&mut b);
        hex::encode(b)
    }

    /// The policy's routing parameters, as the store takes them.
    pub fn routing(&self) -> baton_store::RoutingParams {
        let r = &self.policy.routing;
        baton_store::RoutingParams {
            ageing_seconds: r.ageing_seconds as i64,
            default_handle_seconds: r.default_handle_seconds,
            handle_time_sample: r.handle_time_sample,
        }
    }

    /// Starts the background workers: the routing sweep and webhook delivery.
    pub fn spawn_workers(&self) {
        tokio::spawn(events::sweep_loop(self.clone()));
        tokio::spawn(webhooks::delivery_loop(self.clone()));
    }
}
