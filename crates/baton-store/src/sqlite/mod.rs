//! The embedded SQLite store: WAL, `synchronous = FULL`, migrations on open, and group commit.
//!
//! All writes go to one writer thread. It takes every write that is waiting, applies each in its
//! own savepoint (one failing write does not undo the others), commits once (one fsync for the
//! whole batch) and only then answers each caller. Under load, many requests share one fsync, so
//! durability does not cap throughput. Reads use a small pool of separate connections, which WAL
//! lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use baton_core::model::{Customer, Message, Role as MessageRole, Tier};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rusqlite_migration::{Migrations, M};
use tokio::sync::{mpsc, oneshot};

mod handoffs;
mod report_read;

use crate::{
    Agent, AgentStatus, ApiKey, Append, Delivery, Event, Handoff, HandoffScore, HandoffStatus,
    MetricsData, MetricsQuery, Placement, Result, Role, RoutingParams, Seniority, Store,
    StoreError, StoredConversation, Transition, WebhookEndpoint,
};
use handoffs::{handoff_from_row, HANDOFF_COLUMNS};

/// Most writes committed together.
const MAX_BATCH: usize = 512;
const READ_POOL: usize = 8;

/// Every migration, in order (a test checks the folder holds exactly these).
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "0002_handoff_lifecycle.sql",
        include_str!("../../migrations/sqlite/0002_handoff_lifecycle.sql"),
    ),
    (
        "0003_transfer_notes.sql",
        include_str!("../../migrations/sqlite/0003_transfer_notes.sql"),
    ),
    (
        "0004_desk.sql",
        include_str!("../../migrations/sqlite/0004_desk.sql"),
    ),
    (
        "0005_conversation_csat.sql",
        include_str!("../../migrations/sqlite/0005_conversation_csat.sql"),
    ),
    (
        "0006_metrics.sql",
        include_str!("../../migrations/sqlite/0006_metrics.sql"),
    ),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|(_, sql)| M::up(sql)).collect())
}

enum Write {
    PutCustomer(Customer, String),
    Append(Box<Append>),
    PutAgent(Agent, String),
    SetAgentStatus(String, AgentStatus, String, RoutingParams),
    CreateKey(ApiKey),
    RevokeKey(String, String),
    Transition(String, Transition, String, RoutingParams),
    Sweep(String, i64, RoutingParams),
    AddWebhook(WebhookEndpoint),
    ConversationCsat(String, u8, String),
    AddSuggestions(Vec<crate::Suggestion>, String),
    SuggestionStatus(String, String, String, String),
    RemoveWebhook(String),
    SaveScores(Vec<HandoffScore>),
    DeliveryResult {
        endpoint_id: String,
        event_seq: i64,
        delivered_at: Option<String>,
        next_attempt_at: Option<String>,
        error: Option<String>,
    },
}

enum Written {
    Unit,
    Agent(Agent),
    Placement(Option<Box<Placement>>),
    Count(usize),
}

type Job = (Write, oneshot::Sender<Result<Written>>);

pub struct SqliteStore {
    path: PathBuf,
    writes: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Bytes of the database a reader maps into memory: large reads (a year of metrics) then copy
/// no pages through `read()`. Mapped pages are the kernel's page cache, shared, not heap.
const READER_MMAP_BYTES: i64 = 1 << 30;

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = open_connection(path)?;
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut conn = open_connection(&path)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Other(format!("migrating {}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        std::thread::Builder::new()
            .name("baton-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            path,
            writes: tx,
            readers: Mutex::new(Vec::new()),
        })
    }

    async fn write(&self, w: Write) -> Result<Written> {
        let (tx, rx) = oneshot::channel();
        self.writes
            .send((w, tx))
            .await
            .map_err(|_| StoreError::Other("the writer thread has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Other("the writer thread has stopped".into()))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = match self.readers.lock().map_err(|_| poisoned())?.pop() {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r)
        })
        .await
        .map_err(|e| StoreError::Other(format!("read task failed: {e}")))?;
        let mut pool = self.readers.lock().map_err(|_| poisoned())?;
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        result
    }
}

fn unexpected() -> StoreError {
    StoreError::Other("unexpected write result".into())
}

fn poisoned() -> StoreError {
    StoreError::Other("connection pool lock poisoned".into())
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut results: Vec<Result<Written>> = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<()> {
            let mut tx =
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (write, _) in batch.iter() {
                results.push(apply_in_savepoint(&mut tx, write));
            }
            tx.commit()?;
            Ok(())
        })();
        metrics::counter!("baton_store_commits_total").increment(1);
        metrics::counter!("baton_store_writes_total").increment(batch.len() as u64);
        metrics::histogram!("baton_store_commit_batch_size").record(batch.len() as f64);
        for ((_, reply), result) in batch.drain(..).zip(
            results
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat_with(|| None)),
        ) {
            let answer = match (&committed, result) {
                (Ok(()), Some(r)) => r,
                (Err(e), _) => Err(StoreError::Other(format!("commit failed: {e}"))),
                (Ok(()), None) => Err(StoreError::Other("write was not applied".into())),
            };
            let _ = reply.send(answer);
        }
    }
}

fn apply_in_savepoint(tx: &mut Transaction, write: &Write) -> Result<Written> {
    let mut sp = tx.savepoint()?;
    match apply(&sp, write) {
        Ok(w) => {
            sp.commit()?;
            Ok(w)
        }
        Err(e) => {
            sp.rollback()?;
            Err(e)
        }
    }
}

fn apply(conn: &Connection, write: &Write) -> Result<Written> {
    match write {
        Write::PutCustomer(c, now) => {
            upsert_customer(conn, c, now)?;
            Ok(Written::Unit)
        }
        Write::Append(a) => Ok(Written::Placement(append(conn, a)?.map(Box::new))),
        Write::PutAgent(agent, now) => {
            conn.execute(
                "INSERT INTO agents (id, name, skills, capacity, seniority, team, status, active, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, skills = excluded.skills,
                   capacity = excluded.capacity, seniority = excluded.seniority, team = excluded.team,
                   updated_at = excluded.updated_at",
                params![
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
                "agent.updated",
                &agent.id,
                &serde_json::to_value(agent)?,
                now,
            )?;
            Ok(Written::Agent(load_agent(conn, &agent.id)?.ok_or_else(
                || StoreError::Other("agent vanished after upsert".into()),
            )?))
        }
        Write::SetAgentStatus(id, status, now, routing) => {
            let n = conn.execute(
                "UPDATE agents SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, status.as_str(), now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("agent {id}")));
            }
            insert_event(
                conn,
                "agent.status",
                id,
                &serde_json::json!({"status": status.as_str()}),
                now,
            )?;
            handoffs::route_queue(conn, now, *routing)?;
            Ok(Written::Agent(load_agent(conn, id)?.ok_or_else(|| {
                StoreError::NotFound(format!("agent {id}"))
            })?))
        }
        Write::CreateKey(k) => {
            conn.execute(
                "INSERT INTO api_keys (id, name, role, secret_hash, created_at, agent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.id, k.name, k.role.as_str(), k.secret_hash, k.created_at, k.agent_id],
            )?;
            Ok(Written::Unit)
        }
        Write::Transition(id, t, now, routing) => Ok(Written::Placement(Some(Box::new(
            handoffs::transition(conn, id, t, now, *routing)?,
        )))),
        Write::Sweep(now, timeout, routing) => Ok(Written::Count(handoffs::sweep(
            conn, now, *timeout, *routing,
        )?)),
        Write::AddSuggestions(list, now) => {
            for sg in list {
                if handoffs::load_handoff(conn, &sg.handoff_id)?.is_none() {
                    return Err(StoreError::NotFound(format!("handoff {}", sg.handoff_id)));
                }
                conn.execute(
                    "INSERT INTO suggestions (id, handoff_id, kind, source, text, url, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                    params![sg.id, sg.handoff_id, sg.kind, sg.source, sg.text, sg.url, sg.status, now],
                )?;
                insert_event(
                    conn,
                    "suggestion.added",
                    &sg.handoff_id,
                    &serde_json::to_value(sg)?,
                    now,
                )?;
            }
            Ok(Written::Unit)
        }
        Write::SuggestionStatus(handoff_id, id, status, now) => {
            let n = conn.execute(
                "UPDATE suggestions SET status = ?3, updated_at = ?4 WHERE handoff_id = ?1 AND id = ?2",
                params![handoff_id, id, status, now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "suggestion {id} of handoff {handoff_id}"
                )));
            }
            insert_event(
                conn,
                "suggestion.status",
                handoff_id,
                &serde_json::json!({"suggestion": id, "status": status}),
                now,
            )?;
            Ok(Written::Unit)
        }
        Write::ConversationCsat(id, score, now) => {
            let n = conn.execute(
                "UPDATE conversations SET csat = ?2 WHERE id = ?1 AND csat IS NULL",
                params![id, score],
            )?;
            if n == 0 {
                let exists: bool = conn.query_row(
                    "SELECT COUNT(*) > 0 FROM conversations WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                return Err(if exists {
                    StoreError::Conflict(format!("conversation {id} already has a CSAT score"))
                } else {
                    StoreError::NotFound(format!("conversation {id}"))
                });
            }
            insert_event(
                conn,
                "conversation.csat",
                id,
                &serde_json::json!({"score": score}),
                now,
            )?;
            Ok(Written::Unit)
        }
        Write::SaveScores(scores) => {
            report_read::save_scores(conn, scores)?;
            Ok(Written::Unit)
        }
        Write::AddWebhook(w) => {
            conn.execute(
                "INSERT INTO webhook_endpoints (id, url, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![w.id, w.url, w.secret, w.created_at],
            )?;
            Ok(Written::Unit)
        }
        Write::RemoveWebhook(id) => {
            conn.execute("DELETE FROM webhook_outbox WHERE endpoint_id = ?1", [id])?;
            if conn.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::NotFound(format!("webhook {id}")));
            }
            Ok(Written::Unit)
        }
        Write::DeliveryResult {
            endpoint_id,
            event_seq,
            delivered_at,
            next_attempt_at,
            error,
        } => {
            conn.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = ?3,
                   next_attempt_at = COALESCE(?4, next_attempt_at), last_error = ?5
                 WHERE endpoint_id = ?1 AND event_seq = ?2",
                params![endpoint_id, event_seq, delivered_at, next_attempt_at, error],
            )?;
            Ok(Written::Unit)
        }
        Write::RevokeKey(id, now) => {
            let n = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("key {id}")));
            }
            Ok(Written::Unit)
        }
    }
}

fn upsert_customer(conn: &Connection, c: &Customer, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO customers (id, name, tier, lifetime_value, timezone, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, tier = excluded.tier,
           lifetime_value = excluded.lifetime_value, timezone = excluded.timezone,
           updated_at = excluded.updated_at",
        params![
            c.id,
            c.name,
            c.tier.as_str(),
            c.lifetime_value,
            c.timezone,
            now
        ],
    )?;
    Ok(())
}

/// The bit of `conversations.roles` for a message's role.
fn role_bit(role: MessageRole) -> i64 {
    match role {
        MessageRole::Customer => 1,
        MessageRole::Ai => 2,
        MessageRole::Agent => 4,
    }
}

fn append(conn: &Connection, a: &Append) -> Result<Option<Placement>> {
    if let Some(c) = &a.customer {
        upsert_customer(conn, c, &a.now)?;
    }
    let count: Option<i64> = conn
        .query_row(
            "SELECT message_count FROM conversations WHERE id = ?1",
            [&a.conversation_id],
            |r| r.get(0),
        )
        .optional()?;
    let decision = serde_json::to_string(&a.decision)?;
    let topic = a.decision.get("topic").and_then(|t| t.as_str());
    match count {
        None => {
            if a.index != 0 {
                return Err(StoreError::Conflict(format!(
                    "conversation {} does not exist, so message {} cannot be appended",
                    a.conversation_id, a.index
                )));
            }
            conn.execute(
                "INSERT INTO conversations (id, customer_id, created_at, message_count, decision, started_ms, topic, roles)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7)",
                params![
                    a.conversation_id,
                    a.customer_id,
                    a.now,
                    decision,
                    a.message.at.as_millisecond(),
                    topic,
                    role_bit(a.message.role)
                ],
            )?;
        }
        Some(n) => {
            if n as usize != a.index {
                return Err(StoreError::Conflict(format!(
                    "conversation {} has {n} messages; message {} cannot be appended",
                    a.conversation_id, a.index
                )));
            }
            conn.execute(
                "UPDATE conversations SET message_count = message_count + 1, decision = ?2, topic = ?3,
                   roles = roles | ?4 WHERE id = ?1",
                params![a.conversation_id, decision, topic, role_bit(a.message.role)],
            )?;
        }
    }
    let m = &a.message;
    conn.execute(
        "INSERT INTO messages (conversation_id, idx, role, text, at, confidence, kb_articles)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            a.conversation_id,
            a.index as i64,
            role_str(m.role),
            m.text,
            m.at.to_string(),
            m.confidence,
            serde_json::to_string(&m.kb_articles)?
        ],
    )?;
    if let Some((kind, subject, payload)) = &a.extra_event {
        insert_event(conn, kind, subject, payload, &a.now)?;
    }
    let placement = match &a.handoff {
        Some(h) => Some(handoffs::create(
            conn,
            &a.conversation_id,
            h,
            &a.now,
            a.routing,
        )?),
        None => None,
    };
    if let Some((scope, respond)) = &a.idempotency {
        conn.execute(
            "INSERT INTO idempotency (scope, response, created_at) VALUES (?1, ?2, ?3)",
            params![scope, respond(placement.as_ref()), a.now],
        )?;
    }
    Ok(placement)
}

/// One stored conversation with its messages.
fn load_conversation(c: &Connection, id: &str) -> Result<Option<StoredConversation>> {
    let id = id.to_string();
    let Some((customer_id, created_at, decision)) = c
        .query_row(
            "SELECT customer_id, created_at, decision FROM conversations WHERE id = ?1",
            [&id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Ok(None);
    };
    let customer = load_customer(c, &customer_id)?
        .ok_or_else(|| StoreError::Other(format!("customer {customer_id} missing")))?;
    let mut stmt = c.prepare_cached(
        "SELECT role, text, at, confidence, kb_articles FROM messages
         WHERE conversation_id = ?1 ORDER BY idx",
    )?;
    let messages = stmt
        .query_map([&id], |r| {
            let role: String = r.get(0)?;
            let at: String = r.get(2)?;
            let kb: String = r.get(4)?;
            Ok(Message {
                role: match role.as_str() {
                    "customer" => MessageRole::Customer,
                    "ai" => MessageRole::Ai,
                    "agent" => MessageRole::Agent,
                    other => return Err(bad_row("role", other)),
                },
                text: r.get(1)?,
                at: at.parse().map_err(|_| bad_row("time", &at))?,
                confidence: r.get(3)?,
                kb_articles: serde_json::from_str(&kb).map_err(|_| bad_row("kb_articles", &kb))?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let decision = decision.map(|d| serde_json::from_str(&d)).transpose()?;
    let csat: Option<u8> =
        c.query_row("SELECT csat FROM conversations WHERE id = ?1", [&id], |r| {
            r.get(0)
        })?;
    Ok(Some(StoredConversation {
        id,
        customer,
        messages,
        decision,
        created_at,
        csat,
    }))
}

pub(super) fn insert_event(
    conn: &Connection,
    kind: &str,
    subject: &str,
    payload: &serde_json::Value,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO events (kind, subject, payload, at) VALUES (?1, ?2, ?3, ?4)",
        params![kind, subject, payload.to_string(), now],
    )?;
    // The webhook outbox is written in the same transaction as the event: no event is lost
    // between the commit and the delivery.
    conn.execute(
        "INSERT INTO webhook_outbox (endpoint_id, event_seq, next_attempt_at)
         SELECT id, last_insert_rowid(), ?1 FROM webhook_endpoints",
        [now],
    )?;
    Ok(())
}

fn role_str(r: MessageRole) -> &'static str {
    match r {
        MessageRole::Customer => "customer",
        MessageRole::Ai => "ai",
        MessageRole::Agent => "agent",
    }
}

pub(super) fn bad_row(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} `{value}` is not valid").into(),
    )
}

fn load_customer(conn: &Connection, id: &str) -> Result<Option<Customer>> {
    Ok(conn
        .query_row(
            "SELECT id, name, tier, lifetime_value, timezone FROM customers WHERE id = ?1",
            [id],
            |r| {
                let tier: String = r.get(2)?;
                Ok(Customer {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    tier: Tier::parse(&tier).ok_or_else(|| bad_row("tier", &tier))?,
                    lifetime_value: r.get(3)?,
                    timezone: r.get(4)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn agent_from_row(r: &rusqlite::Row) -> rusqlite::Result<Agent> {
    let skills: String = r.get(2)?;
    let seniority: String = r.get(4)?;
    let status: String = r.get(6)?;
    Ok(Agent {
        id: r.get(0)?,
        name: r.get(1)?,
        skills: serde_json::from_str(&skills).map_err(|_| bad_row("skills", &skills))?,
        capacity: r.get(3)?,
        seniority: Seniority::parse(&seniority).ok_or_else(|| bad_row("seniority", &seniority))?,
        team: r.get(5)?,
        status: AgentStatus::parse(&status).ok_or_else(|| bad_row("status", &status))?,
        active: r.get(7)?,
    })
}

pub(super) const AGENT_COLUMNS: &str =
    "id, name, skills, capacity, seniority, team, status, active";

pub(super) fn load_agent(conn: &Connection, id: &str) -> Result<Option<Agent>> {
    Ok(conn
        .query_row(
            &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
            [id],
            agent_from_row,
        )
        .optional()?)
}

fn suggestion_from_row(r: &rusqlite::Row) -> rusqlite::Result<crate::Suggestion> {
    Ok(crate::Suggestion {
        id: r.get(0)?,
        handoff_id: r.get(1)?,
        kind: r.get(2)?,
        source: r.get(3)?,
        text: r.get(4)?,
        url: r.get(5)?,
        status: r.get(6)?,
        created_at: r.get(7)?,
    })
}

fn seconds_between(a: &str, b: &str) -> Option<f64> {
    let (a, b): (jiff::Timestamp, jiff::Timestamp) = (a.parse().ok()?, b.parse().ok()?);
    Some(b.duration_since(a).as_secs_f64())
}

type SummaryRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<u8>,
    Option<bool>,
    String,
);

fn desk_summary(c: &Connection) -> Result<crate::DeskSummary> {
    let mut s = crate::DeskSummary {
        conversations: c.query_row("SELECT COUNT(*) FROM conversations", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
        ..Default::default()
    };
    let mut stmt = c.prepare_cached(
        "SELECT h.id, h.status, h.reason, h.created_at, h.accepted_at, h.resolved_at, h.csat, h.necessary, v.created_at
         FROM handoffs h JOIN conversations v ON v.id = h.conversation_id",
    )?;
    let rows = stmt.query_map([], |r| -> rusqlite::Result<SummaryRow> {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ))
    })?;
    let (mut to_handoff, mut resolution, mut csat, mut necessary) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let (id, status, reason, created, accepted, resolved, score, needed, started) = row?;
        s.handoffs += 1;
        *s.by_status.entry(status).or_default() += 1;
        *s.by_reason.entry(reason.clone()).or_default() += 1;
        to_handoff.extend(seconds_between(&started, &created));
        if let (Some(a), Some(r)) = (&accepted, &resolved) {
            resolution.extend(seconds_between(a, r));
        }
        if let Some(sc) = score {
            csat.push(sc as f64);
            s.lowest_csat.push((id, sc, reason));
        }
        necessary.extend(needed.map(|n| if n { 1.0 } else { 0.0 }));
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    s.handoff_rate = if s.conversations > 0 {
        s.handoffs as f64 / s.conversations as f64
    } else {
        0.0
    };
    s.mean_time_to_handoff_seconds = mean(&to_handoff);
    s.mean_resolution_seconds = mean(&resolution);
    s.mean_csat = mean(&csat);
    s.csat_count = csat.len() as u64;
    s.necessary_share = mean(&necessary);
    s.lowest_csat.sort_by_key(|(id, sc, _)| (*sc, id.clone()));
    s.lowest_csat.truncate(10);
    Ok(s)
}

fn key_from_row(r: &rusqlite::Row) -> rusqlite::Result<ApiKey> {
    let role: String = r.get(2)?;
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).ok_or_else(|| bad_row("role", &role))?,
        secret_hash: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
        agent_id: r.get(6)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_customer(&self, customer: Customer, now: String) -> Result<()> {
        self.write(Write::PutCustomer(customer, now))
            .await
            .map(|_| ())
    }

    async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let id = id.to_string();
        self.read(move |c| load_customer(c, &id)).await
    }

    async fn append(&self, append: Append) -> Result<Option<Placement>> {
        match self.write(Write::Append(Box::new(append))).await? {
            Written::Placement(p) => Ok(p.map(|p| *p)),
            _ => Err(unexpected()),
        }
    }

    async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>> {
        let id = id.to_string();
        self.read(move |c| load_conversation(c, &id)).await
    }

    async fn conversations_by_ids(&self, ids: Vec<String>) -> Result<Vec<StoredConversation>> {
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                out.extend(load_conversation(c, id)?);
            }
            Ok(out)
        })
        .await
    }

    async fn metrics(&self, query: MetricsQuery) -> Result<MetricsData> {
        self.read(move |c| report_read::read(c, &query)).await
    }

    async fn save_handoff_scores(&self, scores: Vec<HandoffScore>) -> Result<()> {
        self.write(Write::SaveScores(scores)).await.map(|_| ())
    }

    async fn conversations_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>> {
        self.read(move |c| {
            let after = after.unwrap_or_default();
            let mut stmt = c.prepare_cached(
                "SELECT v.id, v.created_at, v.decision, u.id, u.name, u.tier, u.lifetime_value, u.timezone, v.csat
                 FROM conversations v JOIN customers u ON u.id = v.customer_id
                 WHERE v.id > ?1 ORDER BY v.id LIMIT ?2",
            )?;
            let mut out: Vec<StoredConversation> = stmt
                .query_map(params![after, limit as i64], |r| {
                    let tier: String = r.get(5)?;
                    let decision: Option<String> = r.get(2)?;
                    Ok(StoredConversation {
                        id: r.get(0)?,
                        created_at: r.get(1)?,
                        decision: decision.and_then(|d| serde_json::from_str(&d).ok()),
                        customer: Customer {
                            id: r.get(3)?,
                            name: r.get(4)?,
                            tier: Tier::parse(&tier).ok_or_else(|| bad_row("tier", &tier))?,
                            lifetime_value: r.get(6)?,
                            timezone: r.get(7)?,
                        },
                        messages: Vec::new(),
                        csat: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let (Some(first), Some(last)) = (out.first().map(|c| c.id.clone()), out.last().map(|c| c.id.clone())) else {
                return Ok(out);
            };
            let mut stmt = c.prepare_cached(
                "SELECT conversation_id, role, text, at, confidence, kb_articles FROM messages
                 WHERE conversation_id >= ?1 AND conversation_id <= ?2 ORDER BY conversation_id, idx",
            )?;
            let mut rows = stmt.query(params![first, last])?;
            let mut i = 0;
            while let Some(r) = rows.next()? {
                let conv: String = r.get(0)?;
                while i < out.len() && out[i].id != conv {
                    i += 1;
                }
                if i == out.len() {
                    break;
                }
                let role: String = r.get(1)?;
                let at: String = r.get(3)?;
                let kb: String = r.get(5)?;
                out[i].messages.push(Message {
                    role: match role.as_str() {
                        "customer" => MessageRole::Customer,
                        "ai" => MessageRole::Ai,
                        "agent" => MessageRole::Agent,
                        other => return Err(bad_row("role", other).into()),
                    },
                    text: r.get(2)?,
                    at: at.parse().map_err(|_| bad_row("time", &at))?,
                    confidence: r.get(4)?,
                    kb_articles: serde_json::from_str(&kb).map_err(|_| bad_row("kb_articles", &kb))?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn idempotent_response(&self, scope: &str) -> Result<Option<String>> {
        let scope = scope.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT response FROM idempotency WHERE scope = ?1",
                [&scope],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    async fn put_agent(&self, agent: Agent, now: String) -> Result<Agent> {
        match self.write(Write::PutAgent(agent, now)).await? {
            Written::Agent(a) => Ok(a),
            _ => Err(unexpected()),
        }
    }

    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
        now: String,
        routing: RoutingParams,
    ) -> Result<Agent> {
        match self
            .write(Write::SetAgentStatus(id.to_string(), status, now, routing))
            .await?
        {
            Written::Agent(a) => Ok(a),
            _ => Err(unexpected()),
        }
    }

    async fn agent(&self, id: &str) -> Result<Option<Agent>> {
        let id = id.to_string();
        self.read(move |c| load_agent(c, &id)).await
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"))?;
            let rows = stmt.query_map([], agent_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>> {
        let id = id.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = ?1"),
                [&id],
                handoff_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn handoffs(&self, status: Option<HandoffStatus>) -> Result<Vec<Handoff>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE ?1 IS NULL OR status = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([status.map(|s| s.as_str())], handoff_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn handoff_of_conversation(&self, conversation_id: &str) -> Result<Option<Handoff>> {
        let id = conversation_id.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE conversation_id = ?1"),
                [id],
                handoff_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn transition(
        &self,
        id: &str,
        transition: Transition,
        now: String,
        routing: RoutingParams,
    ) -> Result<Placement> {
        match self
            .write(Write::Transition(id.to_string(), transition, now, routing))
            .await?
        {
            Written::Placement(Some(p)) => Ok(*p),
            _ => Err(unexpected()),
        }
    }

    async fn sweep(
        &self,
        now: String,
        timeout_seconds: i64,
        routing: RoutingParams,
    ) -> Result<usize> {
        match self
            .write(Write::Sweep(now, timeout_seconds, routing))
            .await?
        {
            Written::Count(n) => Ok(n),
            _ => Err(unexpected()),
        }
    }

    async fn placement(&self, id: &str, routing: RoutingParams) -> Result<Option<Placement>> {
        let id = id.to_string();
        self.read(move |c| match handoffs::load_handoff(c, &id)? {
            Some(h) => Ok(Some(handoffs::placement(
                c,
                h,
                &jiff::Timestamp::now().to_string(),
                routing,
            )?)),
            None => Ok(None),
        })
        .await
    }

    async fn add_suggestions(
        &self,
        suggestions: Vec<crate::Suggestion>,
        now: String,
    ) -> Result<()> {
        self.write(Write::AddSuggestions(suggestions, now))
            .await
            .map(|_| ())
    }

    async fn suggestions(&self, handoff_id: &str) -> Result<Vec<crate::Suggestion>> {
        let id = handoff_id.to_string();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, handoff_id, kind, source, text, url, status, created_at FROM suggestions
                 WHERE handoff_id = ?1 ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([&id], suggestion_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn set_suggestion_status(
        &self,
        handoff_id: &str,
        id: &str,
        status: &str,
        now: String,
    ) -> Result<crate::Suggestion> {
        self.write(Write::SuggestionStatus(
            handoff_id.into(),
            id.into(),
            status.into(),
            now,
        ))
        .await?;
        let (h, i) = (handoff_id.to_string(), id.to_string());
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, handoff_id, kind, source, text, url, status, created_at FROM suggestions
                 WHERE handoff_id = ?1 AND id = ?2",
                [&h, &i],
                suggestion_from_row,
            )?)
        })
        .await
    }

    async fn desk_summary(&self) -> Result<crate::DeskSummary> {
        self.read(desk_summary).await
    }

    async fn conversation_csat(&self, id: &str, score: u8, now: String) -> Result<()> {
        self.write(Write::ConversationCsat(id.to_string(), score, now))
            .await
            .map(|_| ())
    }

    async fn add_webhook(&self, endpoint: WebhookEndpoint) -> Result<()> {
        self.write(Write::AddWebhook(endpoint)).await.map(|_| ())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, url, secret, created_at FROM webhook_endpoints ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(WebhookEndpoint {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    secret: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn remove_webhook(&self, id: &str) -> Result<()> {
        self.write(Write::RemoveWebhook(id.to_string()))
            .await
            .map(|_| ())
    }

    async fn due_deliveries(&self, now: String, limit: usize) -> Result<Vec<Delivery>> {
        self.read(move |c| {
            // The oldest undelivered event of each endpoint, if its next attempt is due.
            let mut stmt = c.prepare_cached(
                "SELECT w.id, w.url, w.secret, w.created_at, e.seq, e.kind, e.subject, e.payload, e.at,
                        o.attempts, o.next_attempt_at
                 FROM webhook_outbox o
                 JOIN webhook_endpoints w ON w.id = o.endpoint_id
                 JOIN events e ON e.seq = o.event_seq
                 WHERE o.delivered_at IS NULL
                   AND o.event_seq = (SELECT MIN(event_seq) FROM webhook_outbox
                                      WHERE endpoint_id = o.endpoint_id AND delivered_at IS NULL)
                 LIMIT ?1",
            )?;
            let now_ts: jiff::Timestamp = now.parse().unwrap_or(jiff::Timestamp::MAX);
            let rows = stmt.query_map([limit as i64], |r| {
                let payload: String = r.get(7)?;
                let next: String = r.get(10)?;
                Ok((
                    Delivery {
                        endpoint: WebhookEndpoint {
                            id: r.get(0)?,
                            url: r.get(1)?,
                            secret: r.get(2)?,
                            created_at: r.get(3)?,
                        },
                        event: Event {
                            seq: r.get(4)?,
                            kind: r.get(5)?,
                            subject: r.get(6)?,
                            payload: serde_json::from_str(&payload)
                                .map_err(|_| bad_row("payload", &payload))?,
                            at: r.get(8)?,
                        },
                        attempts: r.get(9)?,
                    },
                    next,
                ))
            })?;
            let mut due = Vec::new();
            for row in rows {
                let (d, next) = row?;
                if next.parse::<jiff::Timestamp>().map_or(true, |t| t <= now_ts) {
                    due.push(d);
                }
            }
            Ok(due)
        })
        .await
    }

    async fn delivery_result(
        &self,
        endpoint_id: &str,
        event_seq: i64,
        delivered_at: Option<String>,
        next_attempt_at: Option<String>,
        error: Option<String>,
    ) -> Result<()> {
        self.write(Write::DeliveryResult {
            endpoint_id: endpoint_id.to_string(),
            event_seq,
            delivered_at,
            next_attempt_at,
            error,
        })
        .await
        .map(|_| ())
    }

    async fn create_key(&self, key: ApiKey) -> Result<()> {
        self.write(Write::CreateKey(key)).await.map(|_| ())
    }

    async fn key(&self, id: &str) -> Result<Option<ApiKey>> {
        let id = id.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, name, role, secret_hash, created_at, revoked_at, agent_id FROM api_keys WHERE id = ?1",
                [&id],
                key_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<ApiKey>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, name, role, secret_hash, created_at, revoked_at, agent_id FROM api_keys ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([], key_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, now: String) -> Result<()> {
        self.write(Write::RevokeKey(id.to_string(), now))
            .await
            .map(|_| ())
    }

    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, kind, subject, payload, at FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as i64], |r| {
                let payload: String = r.get(3)?;
                Ok(Event {
                    seq: r.get(0)?,
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                    payload: serde_json::from_str(&payload).map_err(|_| bad_row("payload", &payload))?,
                    at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn last_event_seq(&self) -> Result<i64> {
        self.read(
            |c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?),
        )
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_applied() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<String> = super::MIGRATIONS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(files, listed);
        super::migrations().validate().unwrap();
    }

    /// A database written before the metrics columns existed gets them filled by the migration.
    #[tokio::test]
    async fn metrics_columns_are_backfilled_for_older_databases() {
        use crate::{MetricsQuery, Store};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = super::open_connection(&path).unwrap();
            super::migrations().to_version(&mut conn, 5).unwrap();
            conn.execute_batch(
                "INSERT INTO customers VALUES ('u1', 'Dana', 'standard', 10, NULL, '2025-01-01T00:00:00Z');
                 INSERT INTO conversations (id, customer_id, created_at, message_count, decision, csat)
                   VALUES ('old', 'u1', '2025-01-01T00:00:00Z', 2, '{\"topic\":\"billing\"}', 3);
                 INSERT INTO messages VALUES ('old', 0, 'customer', 'hi', '2025-01-01T10:00:00.250Z', NULL, '[]');
                 INSERT INTO messages VALUES ('old', 1, 'agent', 'hello', '2025-01-01T10:01:00Z', NULL, '[]');",
            )
            .unwrap();
        }
        let store = super::SqliteStore::open(&path).unwrap();
        let at: jiff::Timestamp = "2025-01-01T10:00:00.250Z".parse().unwrap();
        let (started, topic, roles): (i64, String, i64) = super::open_connection(&path)
            .unwrap()
            .query_row(
                "SELECT started_ms, topic, roles FROM conversations WHERE id = 'old'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (started, topic.as_str(), roles),
            (at.as_millisecond(), "billing", 1 | 4)
        );
        let m = store
            .metrics(MetricsQuery {
                since_ms: Some(at.as_millisecond()),
                until_ms: Some(at.as_millisecond() + 1),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(m.conversations, 1);
        assert_eq!(m.csat_by_kind, vec![("human_only".to_string(), 3.0, 1)]);
    }
}
