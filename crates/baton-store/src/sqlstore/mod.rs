//! The store on an SQL database, written once: [`SqlStore`] implements [`Store`] over a
//! [`Backend`] that runs reads on a connection and writes in transactions. SQLite
//! ([`crate::sqlite`]) and PostgreSQL ([`crate::postgres`]) are the two backends.

pub(crate) mod handoffs;
pub(crate) mod metrics;
pub(crate) mod reads;
pub(crate) mod writes;

use async_trait::async_trait;
use baton_core::model::Customer;
use jiff::Timestamp;

use crate::sql::{vals, Db};
use crate::{
    Actor, Agent, AgentStatus, ApiKey, Append, Delivery, Event, Handoff, HandoffScore,
    HandoffStatus, IdempotentReply, MetricsData, MetricsQuery, Placement, Result, RoutingParams,
    Store, StoredConversation, Transition, WebhookEndpoint,
};
use writes::{
    AddSuggestions, AddWebhook, ChangeHandoff, ClaimDeliveries, ConversationCsat, CreateKey,
    DeliveryResult, PutAgent, PutCustomer, RemoveWebhook, RevokeKey, SaveScores, SetAgentStatus,
    SetSuggestionStatus, Sweep,
};
pub use writes::{Turn, Write};

/// How a database runs the store's work.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    type Conn: Db;
    /// Runs `f` on a connection (off the async threads).
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Self::Conn) -> Result<T> + Send + 'static;
    /// Applies a write in a transaction; `Ok` means committed.
    async fn write<W: Write>(&self, w: W) -> Result<W::Output>;
    /// A plain append (no handoff, no event, no idempotency record: [`Append::is_plain`]) written
    /// at once if the backend can do it in fewer round trips than [`Backend::write`]: `Ok(true)`
    /// when written; `Ok(false)` when nothing was written (the backend has no such path, or the
    /// message does not fit what the store holds, and the caller's [`Backend::write`] then says
    /// why).
    async fn append_plain(&self, a: &Append) -> Result<bool> {
        let _ = a;
        Ok(false)
    }
    /// See [`Store::watch_events`].
    fn watch_events(&self, wake: std::sync::Weak<tokio::sync::Notify>) {
        let _ = wake;
    }
    /// See [`Store::events_after`]: every event that commits later has a higher sequence
    /// number than those returned. With one writer (SQLite) that holds for all of them.
    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        self.read(move |c| reads::events_after(c, after, i64::MAX, limit))
            .await
    }
}

/// The store over a backend.
pub struct SqlStore<B: Backend> {
    pub(crate) backend: B,
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn put_customer(&self, customer: Customer, now: Timestamp) -> Result<()> {
        self.backend.write(PutCustomer { customer, now }).await
    }

    async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let id = id.to_string();
        self.backend
            .read(move |c| reads::load_customer(c, &id))
            .await
    }

    async fn append(&self, append: Append) -> Result<Option<Placement>> {
        if append.is_plain() && self.backend.append_plain(&append).await? {
            return Ok(None);
        }
        self.backend.write(append).await
    }

    async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>> {
        let id = id.to_string();
        self.backend
            .read(move |c| reads::load_conversation(c, &id))
            .await
    }

    async fn conversations_by_ids(&self, ids: Vec<String>) -> Result<Vec<StoredConversation>> {
        self.backend
            .read(move |c| {
                let mut out = Vec::with_capacity(ids.len());
                for id in &ids {
                    out.extend(reads::load_conversation(c, id)?);
                }
                Ok(out)
            })
            .await
    }

    async fn metrics(&self, query: MetricsQuery) -> Result<MetricsData> {
        self.backend.read(move |c| metrics::read(c, &query)).await
    }

    async fn save_handoff_scores(&self, scores: Vec<HandoffScore>) -> Result<()> {
        self.backend.write(SaveScores { scores }).await
    }

    async fn conversations_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>> {
        self.backend
            .read(move |c| reads::conversations_page(c, &after.unwrap_or_default(), limit))
            .await
    }

    async fn idempotent_response(&self, scope: &str) -> Result<Option<IdempotentReply>> {
        let scope = scope.to_string();
        self.backend
            .read(move |c| {
                c.row(
                    "SELECT response, request FROM idempotency WHERE scope = ?1",
                    vals![scope],
                )?
                .map(|r| {
                    Ok(IdempotentReply {
                        response: r.get(0)?,
                        request: r.get(1)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn put_agent(&self, agent: Agent, now: Timestamp) -> Result<Agent> {
        self.backend.write(PutAgent { agent, now }).await
    }

    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
        by: Actor,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Agent> {
        self.backend
            .write(SetAgentStatus {
                id: id.to_string(),
                status,
                by,
                now,
                routing,
            })
            .await
    }

    async fn agent(&self, id: &str) -> Result<Option<Agent>> {
        let id = id.to_string();
        self.backend.read(move |c| reads::load_agent(c, &id)).await
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        self.backend.read(reads::agents).await
    }

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>> {
        let id = id.to_string();
        self.backend
            .read(move |c| handoffs::load_handoff(c, &id))
            .await
    }

    async fn handoffs(&self, status: Option<HandoffStatus>) -> Result<Vec<Handoff>> {
        self.backend
            .read(move |c| {
                c.rows_as(
                    &format!(
                        "SELECT {} FROM handoffs WHERE CAST(?1 AS TEXT) IS NULL OR status = ?1 ORDER BY created_at, id",
                        handoffs::HANDOFF_COLUMNS
                    ),
                    vals![status.map(|s| s.as_str())],
                    handoffs::handoff_from_row,
                )
            })
            .await
    }

    async fn handoffs_open_or_resolved_since(&self, since: Timestamp) -> Result<Vec<Handoff>> {
        self.backend
            .read(move |c| {
                c.rows_as(
                    &format!(
                        "SELECT {} FROM handoffs WHERE status <> 'resolved' OR resolved_at >= ?1 ORDER BY created_at, id",
                        handoffs::HANDOFF_COLUMNS
                    ),
                    vals![since],
                    handoffs::handoff_from_row,
                )
            })
            .await
    }

    async fn handoff_of_conversation(&self, conversation_id: &str) -> Result<Option<Handoff>> {
        let id = conversation_id.to_string();
        self.backend
            .read(move |c| {
                c.row(
                    &format!(
                        "SELECT {} FROM handoffs WHERE conversation_id = ?1",
                        handoffs::HANDOFF_COLUMNS
                    ),
                    vals![id],
                )?
                .map(|r| handoffs::handoff_from_row(&r))
                .transpose()
            })
            .await
    }

    async fn transition(
        &self,
        id: &str,
        transition: Transition,
        by: Actor,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Placement> {
        self.backend
            .write(ChangeHandoff {
                id: id.to_string(),
                transition,
                by,
                now,
                routing,
            })
            .await
    }

    async fn sweep(
        &self,
        now: Timestamp,
        timeout_seconds: i64,
        routing: RoutingParams,
    ) -> Result<usize> {
        self.backend
            .write(Sweep {
                now,
                timeout_seconds,
                routing,
            })
            .await
    }

    async fn placement(
        &self,
        id: &str,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Option<Placement>> {
        let id = id.to_string();
        self.backend
            .read(move |c| match handoffs::load_handoff(c, &id)? {
                Some(h) => Ok(Some(handoffs::placement(c, h, now, routing)?)),
                None => Ok(None),
            })
            .await
    }

    async fn add_suggestions(
        &self,
        suggestions: Vec<crate::Suggestion>,
        now: Timestamp,
    ) -> Result<()> {
        self.backend
            .write(AddSuggestions { suggestions, now })
            .await
    }

    async fn suggestions(&self, handoff_id: &str) -> Result<Vec<crate::Suggestion>> {
        let id = handoff_id.to_string();
        self.backend.read(move |c| reads::suggestions(c, &id)).await
    }

    async fn set_suggestion_status(
        &self,
        handoff_id: &str,
        id: &str,
        status: crate::SuggestionStatus,
        now: Timestamp,
    ) -> Result<crate::Suggestion> {
        self.backend
            .write(SetSuggestionStatus {
                handoff_id: handoff_id.into(),
                suggestion_id: id.into(),
                status,
                now,
            })
            .await
    }

    async fn desk_summary(&self) -> Result<crate::DeskSummary> {
        self.backend.read(reads::desk_summary).await
    }

    async fn conversation_csat(&self, id: &str, score: u8, now: Timestamp) -> Result<()> {
        self.backend
            .write(ConversationCsat {
                conversation_id: id.to_string(),
                score,
                now,
            })
            .await
    }

    async fn add_webhook(&self, endpoint: WebhookEndpoint) -> Result<()> {
        self.backend.write(AddWebhook { endpoint }).await
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>> {
        self.backend.read(reads::webhooks).await
    }

    async fn remove_webhook(&self, id: &str) -> Result<()> {
        self.backend
            .write(RemoveWebhook { id: id.to_string() })
            .await
    }

    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>> {
        let lease_until = now + jiff::SignedDuration::from_secs(crate::DELIVERY_LEASE_SECONDS);
        self.backend
            .write(ClaimDeliveries {
                now,
                lease_until,
                limit,
            })
            .await
    }

    async fn delivery_result(
        &self,
        endpoint_id: &str,
        event_seq: i64,
        delivered_at: Option<Timestamp>,
        next_attempt_at: Option<Timestamp>,
        error: Option<String>,
    ) -> Result<()> {
        self.backend
            .write(DeliveryResult {
                endpoint_id: endpoint_id.to_string(),
                event_seq,
                delivered_at,
                next_attempt_at,
                error,
            })
            .await
    }

    async fn create_key(&self, key: ApiKey) -> Result<()> {
        self.backend.write(CreateKey { key }).await
    }

    async fn key(&self, id: &str) -> Result<Option<ApiKey>> {
        let id = id.to_string();
        self.backend.read(move |c| reads::key(c, &id)).await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        self.backend.read(reads::keys).await
    }

    async fn revoke_key(&self, id: &str, now: Timestamp) -> Result<()> {
        self.backend
            .write(RevokeKey {
                id: id.to_string(),
                now,
            })
            .await
    }

    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        self.backend.events_after(after, limit).await
    }

    async fn handoff_events(&self, handoff_id: &str) -> Result<Vec<Event>> {
        let id = handoff_id.to_string();
        self.backend
            .read(move |c| reads::handoff_events(c, &id))
            .await
    }

    async fn last_event_seq(&self) -> Result<i64> {
        self.backend
            .read(|c| c.scalar("SELECT COALESCE(MAX(seq), 0) FROM events", vals![]))
            .await
    }

    fn watch_events(&self, wake: std::sync::Weak<tokio::sync::Notify>) {
        self.backend.watch_events(wake)
    }

    async fn ping(&self) -> Result<()> {
        self.backend
            .read(|c| c.scalar::<i64>("SELECT 1", vals![]).map(|_| ()))
            .await
    }
}
