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

use crate::{
    Agent, AgentStatus, ApiKey, Append, Event, Handoff, HandoffStatus, Result, Role, Seniority,
    Store, StoreError, StoredConversation,
};

/// Most writes committed together.
const MAX_BATCH: usize = 512;
const READ_POOL: usize = 8;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(include_str!(
        "../migrations/sqlite/0001_init.sql"
    ))])
}

enum Write {
    PutCustomer(Customer, String),
    Append(Box<Append>),
    PutAgent(Agent, String),
    SetAgentStatus(String, AgentStatus, String),
    CreateKey(ApiKey),
    RevokeKey(String, String),
}

enum Written {
    Unit,
    Agent(Agent),
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
            None => open_connection(&self.path)?,
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
        Write::Append(a) => {
            append(conn, a)?;
            Ok(Written::Unit)
        }
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
        Write::SetAgentStatus(id, status, now) => {
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
            Ok(Written::Agent(load_agent(conn, id)?.ok_or_else(|| {
                StoreError::NotFound(format!("agent {id}"))
            })?))
        }
        Write::CreateKey(k) => {
            conn.execute(
                "INSERT INTO api_keys (id, name, role, secret_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k.id, k.name, k.role.as_str(), k.secret_hash, k.created_at],
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

fn append(conn: &Connection, a: &Append) -> Result<()> {
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
    match count {
        None => {
            if a.index != 0 {
                return Err(StoreError::Conflict(format!(
                    "conversation {} does not exist, so message {} cannot be appended",
                    a.conversation_id, a.index
                )));
            }
            conn.execute(
                "INSERT INTO conversations (id, customer_id, created_at, message_count, decision)
                 VALUES (?1, ?2, ?3, 1, ?4)",
                params![a.conversation_id, a.customer_id, a.now, decision],
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
                "UPDATE conversations SET message_count = message_count + 1, decision = ?2 WHERE id = ?1",
                params![a.conversation_id, decision],
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
    if let Some(h) = &a.handoff {
        conn.execute(
            "INSERT INTO handoffs (id, conversation_id, status, skill, priority, reason, agent_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![h.id, h.conversation_id, h.status.as_str(), h.skill, h.priority, h.reason, h.agent_id, h.created_at],
        )?;
        insert_event(
            conn,
            "handoff.created",
            &h.id,
            &serde_json::to_value(h)?,
            &a.now,
        )?;
    }
    if let Some((scope, response)) = &a.idempotency {
        conn.execute(
            "INSERT INTO idempotency (scope, response, created_at) VALUES (?1, ?2, ?3)",
            params![scope, response, a.now],
        )?;
    }
    Ok(())
}

fn insert_event(
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
    Ok(())
}

fn role_str(r: MessageRole) -> &'static str {
    match r {
        MessageRole::Customer => "customer",
        MessageRole::Ai => "ai",
        MessageRole::Agent => "agent",
    }
}

fn bad_row(what: &str, value: &str) -> rusqlite::Error {
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

fn agent_from_row(r: &rusqlite::Row) -> rusqlite::Result<Agent> {
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

const AGENT_COLUMNS: &str = "id, name, skills, capacity, seniority, team, status, active";

fn load_agent(conn: &Connection, id: &str) -> Result<Option<Agent>> {
    Ok(conn
        .query_row(
            &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
            [id],
            agent_from_row,
        )
        .optional()?)
}

const HANDOFF_COLUMNS: &str =
    "id, conversation_id, status, skill, priority, reason, agent_id, created_at";

fn handoff_from_row(r: &rusqlite::Row) -> rusqlite::Result<Handoff> {
    let status: String = r.get(2)?;
    Ok(Handoff {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        status: HandoffStatus::parse(&status).ok_or_else(|| bad_row("status", &status))?,
        skill: r.get(3)?,
        priority: r.get(4)?,
        reason: r.get(5)?,
        agent_id: r.get(6)?,
        created_at: r.get(7)?,
    })
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

    async fn append(&self, append: Append) -> Result<()> {
        self.write(Write::Append(Box::new(append)))
            .await
            .map(|_| ())
    }

    async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>> {
        let id = id.to_string();
        self.read(move |c| {
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
                        kb_articles: serde_json::from_str(&kb)
                            .map_err(|_| bad_row("kb_articles", &kb))?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let decision = decision.map(|d| serde_json::from_str(&d)).transpose()?;
            Ok(Some(StoredConversation {
                id,
                customer,
                messages,
                decision,
                created_at,
            }))
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
            Written::Unit => Err(StoreError::Other("unexpected write result".into())),
        }
    }

    async fn set_agent_status(&self, id: &str, status: AgentStatus, now: String) -> Result<Agent> {
        match self
            .write(Write::SetAgentStatus(id.to_string(), status, now))
            .await?
        {
            Written::Agent(a) => Ok(a),
            Written::Unit => Err(StoreError::Other("unexpected write result".into())),
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

    async fn create_key(&self, key: ApiKey) -> Result<()> {
        self.write(Write::CreateKey(key)).await.map(|_| ())
    }

    async fn key(&self, id: &str) -> Result<Option<ApiKey>> {
        let id = id.to_string();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_keys WHERE id = ?1",
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
                "SELECT id, name, role, secret_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
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

    async fn ping(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }
}
