//! Every write the store makes, each a type that implements [`Write`] (with its own result),
//! applied inside a transaction: the SQLite backend applies a batch in one transaction (each in a
//! savepoint), the PostgreSQL one each in its own transaction.

use baton_core::event::EventKind;
use baton_core::model::{Customer, Role as MessageRole};
use jiff::Timestamp;

use super::handoffs;
use super::reads::load_agent;
use crate::sql::{vals, Db, NewEvent};
use crate::{
    Actor, Agent, AgentStatus, ApiKey, Append, AppendEvent, Delivery, HandoffScore, HandoffStatus,
    Placement, Result, RoutingParams, StoreError, Suggestion, SuggestionStatus, Transition,
    WebhookEndpoint,
};

/// One kind of write, with its own result: applied inside a transaction by the backend (see
/// the module documentation), its result returned once committed.
pub trait Write: Send + 'static {
    type Output: Send + 'static;
    /// What it must take turns on with other instances' writes (PostgreSQL).
    fn turn(&self) -> Turn {
        Turn::None
    }
    fn apply(&self, conn: &impl Db) -> Result<Self::Output>;
}

/// What a write must take turns on with the same kind of write from every other instance
/// (PostgreSQL; SQLite has one writer). Events are not here: whichever write adds them, they are
/// written last and take turns only for that (see [`crate::postgres`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Nothing shared: the rows it changes are locked by the statements themselves, and a
    /// conditional update refuses a change that another write made first.
    None,
    /// Decides where handoffs go (assigns, offers, queues, frees an agent's slot and refills it):
    /// one at a time, so that no handoff is assigned twice and no agent goes above capacity.
    Routing,
    /// Claims webhook deliveries: two instances never claim the same one.
    Deliveries,
}

pub struct PutCustomer {
    pub customer: Customer,
    pub now: Timestamp,
}

impl Write for PutCustomer {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        upsert_customer(conn, &self.customer, self.now)
    }
}

impl Write for Append {
    type Output = Option<Placement>;
    // An escalation routes its new handoff, but it writes the message and the handoff first and
    // takes its turn only then (`handoffs::create`): those rows are its own, and no routing write
    // waits for them, so the turn is held for the routing alone.
    fn apply(&self, conn: &impl Db) -> Result<Option<Placement>> {
        append(conn, self)
    }
}

pub struct PutAgent {
    pub agent: Agent,
    pub now: Timestamp,
}

impl Write for PutAgent {
    type Output = Agent;
    fn apply(&self, conn: &impl Db) -> Result<Agent> {
        let (agent, now) = (&self.agent, self.now);
        conn.exec(
            "INSERT INTO agents (id, name, skills, capacity, seniority, team, status, active, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, skills = excluded.skills,
               capacity = excluded.capacity, seniority = excluded.seniority, team = excluded.team,
               updated_at = excluded.updated_at",
            vals![
                agent.id,
                agent.name,
                serde_json::to_string(&agent.skills)?,
                agent.capacity,
                agent.seniority.as_str(),
                agent.team,
                agent.status.as_str(),
                now
            ],
        )?;
        insert_event(
            conn,
            EventKind::AgentUpdated,
            &agent.id,
            &serde_json::to_value(agent)?,
            now,
        )?;
        load_agent(conn, &agent.id)?
            .ok_or_else(|| StoreError::Other("agent vanished after upsert".into()))
    }
}

pub struct SetAgentStatus {
    pub id: String,
    pub status: AgentStatus,
    pub by: Actor,
    pub now: Timestamp,
    pub routing: RoutingParams,
}

impl Write for SetAgentStatus {
    type Output = Agent;
    fn turn(&self) -> Turn {
        Turn::Routing
    }
    fn apply(&self, conn: &impl Db) -> Result<Agent> {
        let SetAgentStatus {
            id,
            status,
            by,
            now,
            routing,
        } = self;
        let n = conn.exec(
            "UPDATE agents SET status = ?2, updated_at = ?3 WHERE id = ?1",
            vals![id, status.as_str(), now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("agent {id}")));
        }
        insert_event(
            conn,
            EventKind::AgentStatus,
            id,
            &serde_json::json!({"status": status.as_str(), "by": by}),
            *now,
        )?;
        handoffs::route_queue(conn, *now, *routing)?;
        load_agent(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("agent {id}")))
    }
}

pub struct CreateKey {
    pub key: ApiKey,
}

impl Write for CreateKey {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let k = &self.key;
        conn.exec(
            "INSERT INTO api_keys (id, name, role, secret_hash, created_at, agent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vals![k.id, k.name, k.role.as_str(), k.secret_hash, k.created_at, k.agent_id],
        )?;
        Ok(())
    }
}

pub struct RevokeKey {
    pub id: String,
    pub now: Timestamp,
}

impl Write for RevokeKey {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let n = conn.exec(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            vals![self.id, self.now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("key {}", self.id)));
        }
        Ok(())
    }
}

/// A lifecycle change of a handoff.
pub struct ChangeHandoff {
    pub id: String,
    pub transition: Transition,
    pub by: Actor,
    pub now: Timestamp,
    pub routing: RoutingParams,
}

impl Write for ChangeHandoff {
    type Output = Placement;
    // Accept and CSAT move no handoff to or from an agent: their writes are guarded (the core's
    // `Guard`), so they are refused if a routing write moved the handoff first.
    fn turn(&self) -> Turn {
        if self.transition.routes() {
            Turn::Routing
        } else {
            Turn::None
        }
    }
    fn apply(&self, conn: &impl Db) -> Result<Placement> {
        handoffs::transition(
            conn,
            &self.id,
            &self.transition,
            &self.by,
            self.now,
            self.routing,
        )
    }
}

pub struct Sweep {
    pub now: Timestamp,
    pub timeout_seconds: i64,
    pub routing: RoutingParams,
}

impl Write for Sweep {
    /// How many handoffs changed.
    type Output = usize;
    fn turn(&self) -> Turn {
        Turn::Routing
    }
    fn apply(&self, conn: &impl Db) -> Result<usize> {
        handoffs::sweep(conn, self.now, self.timeout_seconds, self.routing)
    }
}

pub struct AddSuggestions {
    pub suggestions: Vec<Suggestion>,
    pub now: Timestamp,
}

impl Write for AddSuggestions {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let now = self.now;
        for sg in &self.suggestions {
            // Changes nothing but locks the handoff's row (PostgreSQL) until the commit, so
            // two batches for one handoff number their suggestions in turn: suggestions do
            // not take the routing turn.
            let found = conn.exec(
                "UPDATE handoffs SET updated_at = updated_at WHERE id = ?1",
                vals![sg.handoff_id],
            )?;
            if found == 0 {
                return Err(StoreError::NotFound(format!("handoff {}", sg.handoff_id)));
            }
            conn.exec(
                "INSERT INTO suggestions (id, handoff_id, kind, source, text, url, status, created_at, updated_at, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8,
                   (SELECT COALESCE(MAX(seq), 0) + 1 FROM suggestions WHERE handoff_id = ?2))",
                vals![sg.id, sg.handoff_id, sg.kind.as_str(), sg.source, sg.text, sg.url, sg.status.as_str(), now],
            )?;
            insert_event(
                conn,
                EventKind::SuggestionAdded,
                &sg.handoff_id,
                &serde_json::to_value(sg)?,
                now,
            )?;
        }
        Ok(())
    }
}

/// What the agent did with a suggestion.
pub struct SetSuggestionStatus {
    pub handoff_id: String,
    pub suggestion_id: String,
    pub status: SuggestionStatus,
    pub now: Timestamp,
}

impl Write for SetSuggestionStatus {
    /// The suggestion as changed.
    type Output = Suggestion;
    fn apply(&self, conn: &impl Db) -> Result<Suggestion> {
        let SetSuggestionStatus {
            handoff_id,
            suggestion_id: id,
            status,
            now,
        } = self;
        let n = conn.exec(
            "UPDATE suggestions SET status = ?3, updated_at = ?4 WHERE handoff_id = ?1 AND id = ?2",
            vals![handoff_id, id, status.as_str(), now],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "suggestion {id} of handoff {handoff_id}"
            )));
        }
        insert_event(
            conn,
            EventKind::SuggestionStatus,
            handoff_id,
            &serde_json::json!({"suggestion": id, "status": status.as_str()}),
            *now,
        )?;
        super::reads::suggestion(conn, handoff_id, id)
    }
}

pub struct ConversationCsat {
    pub conversation_id: String,
    pub score: u8,
    pub now: Timestamp,
}

impl Write for ConversationCsat {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let ConversationCsat {
            conversation_id: id,
            score,
            now,
        } = self;
        let n = conn.exec(
            "UPDATE conversations SET csat = ?2 WHERE id = ?1 AND csat IS NULL",
            vals![id, score],
        )?;
        if n == 0 {
            let exists: i64 = conn.scalar(
                "SELECT COUNT(*) FROM conversations WHERE id = ?1",
                vals![id],
            )?;
            return Err(if exists > 0 {
                StoreError::Conflict(format!("conversation {id} already has a CSAT score"))
            } else {
                StoreError::NotFound(format!("conversation {id}"))
            });
        }
        insert_event(
            conn,
            EventKind::ConversationCsat,
            id,
            &serde_json::json!({"score": score}),
            *now,
        )
    }
}

pub struct SaveScores {
    pub scores: Vec<HandoffScore>,
}

impl Write for SaveScores {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        super::metrics::save_scores(conn, &self.scores)
    }
}

pub struct AddWebhook {
    pub endpoint: WebhookEndpoint,
}

impl Write for AddWebhook {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let w = &self.endpoint;
        conn.exec(
            "INSERT INTO webhook_endpoints (id, url, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
            vals![w.id, w.url, w.secret, w.created_at],
        )?;
        Ok(())
    }
}

pub struct RemoveWebhook {
    pub id: String,
}

impl Write for RemoveWebhook {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        let id = &self.id;
        conn.exec(
            "DELETE FROM webhook_outbox WHERE endpoint_id = ?1",
            vals![id],
        )?;
        if conn.exec("DELETE FROM webhook_endpoints WHERE id = ?1", vals![id])? == 0 {
            return Err(StoreError::NotFound(format!("webhook {id}")));
        }
        Ok(())
    }
}

pub struct ClaimDeliveries {
    pub now: Timestamp,
    pub lease_until: Timestamp,
    pub limit: usize,
}

impl Write for ClaimDeliveries {
    type Output = Vec<Delivery>;
    fn turn(&self) -> Turn {
        Turn::Deliveries
    }
    fn apply(&self, conn: &impl Db) -> Result<Vec<Delivery>> {
        let due = super::reads::due_deliveries(conn, self.now, self.limit)?;
        for d in &due {
            conn.exec(
                "UPDATE webhook_outbox SET leased_until = ?3 WHERE endpoint_id = ?1 AND event_seq = ?2",
                vals![d.endpoint.id, d.event.seq, self.lease_until],
            )?;
        }
        Ok(due)
    }
}

pub struct DeliveryResult {
    pub endpoint_id: String,
    pub event_seq: i64,
    pub delivered_at: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub error: Option<String>,
}

impl Write for DeliveryResult {
    type Output = ();
    fn apply(&self, conn: &impl Db) -> Result<()> {
        conn.exec(
            "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = ?3,
               next_attempt_at = COALESCE(?4, next_attempt_at), last_error = ?5, leased_until = NULL
             WHERE endpoint_id = ?1 AND event_seq = ?2",
            vals![
                self.endpoint_id,
                self.event_seq,
                self.delivered_at,
                self.next_attempt_at,
                self.error
            ],
        )?;
        Ok(())
    }
}

/// Stores customer `c`; a customer stored as it is already is left alone (most messages carry
/// their customer unchanged, and rewriting the row would cost a page in every commit).
/// The end of an insert into `customers` that makes it an upsert: the stored row changes only
/// when something differs (an unchanged customer is not rewritten). A macro, so that statements
/// built with `concat!` share it (PostgreSQL's one-statement append).
macro_rules! customer_upsert_tail {
    () => {
        " ON CONFLICT(id) DO UPDATE SET name = excluded.name, tier = excluded.tier,
           lifetime_value = excluded.lifetime_value, timezone = excluded.timezone,
           currency = excluded.currency, updated_at = excluded.updated_at
         WHERE customers.name IS DISTINCT FROM excluded.name
           OR customers.tier IS DISTINCT FROM excluded.tier
           OR customers.lifetime_value IS DISTINCT FROM excluded.lifetime_value
           OR customers.timezone IS DISTINCT FROM excluded.timezone
           OR customers.currency IS DISTINCT FROM excluded.currency"
    };
}
pub(crate) use customer_upsert_tail;

fn upsert_customer(conn: &impl Db, c: &Customer, now: Timestamp) -> Result<()> {
    conn.exec(
        concat!(
            "INSERT INTO customers (id, name, tier, lifetime_value, timezone, currency, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            customer_upsert_tail!()
        ),
        vals![
            c.id,
            c.name,
            c.tier.as_str(),
            c.lifetime_value,
            c.timezone,
            c.currency.as_ref().map(|c| c.as_str()),
            now
        ],
    )?;
    Ok(())
}

/// The bit of `conversations.roles` for a message's role.
pub(crate) fn role_bit(role: MessageRole) -> i64 {
    match role {
        MessageRole::Customer => 1,
        MessageRole::Ai => 2,
        MessageRole::Agent => 4,
    }
}

pub(crate) fn role_str(r: MessageRole) -> &'static str {
    match r {
        MessageRole::Customer => "customer",
        MessageRole::Ai => "ai",
        MessageRole::Agent => "agent",
    }
}

fn append(conn: &impl Db, a: &Append) -> Result<Option<Placement>> {
    if let Some(c) = &a.customer {
        upsert_customer(conn, c, a.now)?;
    }
    let row = conn.row(
        "SELECT message_count, topic FROM conversations WHERE id = ?1",
        vals![a.conversation_id],
    )?;
    let count: Option<(i64, Option<String>)> = row
        .map(|r| -> Result<_> { Ok((r.get(0)?, r.get(1)?)) })
        .transpose()?;
    match count {
        None => {
            if a.index != 0 {
                return Err(StoreError::Conflict(format!(
                    "conversation {} does not exist, so message {} cannot be appended",
                    a.conversation_id, a.index
                )));
            }
            conn.exec(
                "INSERT INTO conversations (id, customer_id, created_at, message_count, decision, started_ms, topic, roles)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)",
                vals![
                    a.conversation_id,
                    a.customer_id,
                    a.now,
                    a.decision,
                    a.message.at.as_millisecond(),
                    a.topic,
                    role_bit(a.message.role)
                ],
            )?;
        }
        Some((n, topic)) => {
            if n as usize != a.index {
                return Err(StoreError::Conflict(format!(
                    "conversation {} has {n} messages; message {} cannot be appended",
                    a.conversation_id, a.index
                )));
            }
            // The topic is written only when it changes: writing the same value still deletes
            // and re-inserts the row's entry in the `conversations_repeat` index.
            if topic == a.topic {
                conn.exec(
                    "UPDATE conversations SET message_count = message_count + 1, decision = ?2,
                       roles = roles | ?3 WHERE id = ?1",
                    vals![a.conversation_id, a.decision, role_bit(a.message.role)],
                )?;
            } else {
                conn.exec(
                    "UPDATE conversations SET message_count = message_count + 1, decision = ?2, topic = ?3,
                       roles = roles | ?4 WHERE id = ?1",
                    vals![a.conversation_id, a.decision, a.topic, role_bit(a.message.role)],
                )?;
            }
        }
    }
    let m = &a.message;
    conn.exec(
        "INSERT INTO messages (conversation_id, idx, role, text, at, confidence, kb_articles)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        vals![
            a.conversation_id,
            a.index as i64,
            role_str(m.role),
            m.text,
            m.at,
            m.confidence,
            serde_json::to_string(&m.kb_articles)?
        ],
    )?;
    match &a.extra_event {
        Some(AppendEvent::Given(kind, subject, payload)) => {
            insert_event(conn, *kind, subject, payload, a.now)?;
        }
        Some(AppendEvent::OnHandoff(handoff_id)) => {
            // Read in the transaction, so the event names the handoff as the message finds it.
            let row = conn.row(
                "SELECT status, agent_id FROM handoffs WHERE id = ?1",
                vals![handoff_id],
            )?;
            if let Some(row) = row {
                let status: String = row.get(0)?;
                let agent_id: Option<String> = row.get(1)?;
                if status != HandoffStatus::Resolved.as_str() {
                    let payload = serde_json::json!({
                        "handoff_id": handoff_id, "conversation_id": a.conversation_id,
                        "index": a.index, "role": role_str(m.role), "status": status,
                        "agent_id": agent_id,
                    });
                    insert_event(
                        conn,
                        EventKind::message(m.role),
                        &a.conversation_id,
                        &payload,
                        a.now,
                    )?;
                }
            }
        }
        None => {}
    }
    let placement = match &a.handoff {
        Some(h) => Some(handoffs::create(
            conn,
            &a.conversation_id,
            h,
            a.now,
            a.routing,
        )?),
        None => None,
    };
    if let Some(i) = &a.idempotency {
        conn.exec(
            "INSERT INTO idempotency (scope, response, created_at, request) VALUES (?1, ?2, ?3, ?4)",
            vals![i.scope, (i.respond)(placement.as_ref()), a.now, i.request],
        )?;
    }
    Ok(placement)
}

pub(crate) fn insert_event(
    conn: &impl Db,
    kind: EventKind,
    subject: &str,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    let event = NewEvent {
        kind,
        subject: subject.to_string(),
        payload: payload.to_string(),
        at: now,
    };
    match conn.deferred_events() {
        Some(later) => {
            later.borrow_mut().push(event);
            Ok(())
        }
        None => write_event(conn, &event),
    }
}

/// Writes `e` with its sequence number, and its webhook deliveries.
pub(crate) fn write_event(conn: &impl Db, e: &NewEvent) -> Result<()> {
    let seq: i64 = conn.scalar(
        "INSERT INTO events (kind, subject, payload, at) VALUES (?1, ?2, ?3, ?4) RETURNING seq",
        vals![e.kind.as_str(), e.subject, e.payload, e.at],
    )?;
    // The webhook outbox is written in the same transaction as the event: no event is lost
    // between the commit and the delivery.
    conn.exec(
        "INSERT INTO webhook_outbox (endpoint_id, event_seq, next_attempt_at)
         SELECT id, CAST(?1 AS BIGINT), CAST(?2 AS TEXT) FROM webhook_endpoints",
        vals![seq, e.at],
    )?;
    Ok(())
}
