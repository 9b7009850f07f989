//! The store on PostgreSQL, for several Baton instances sharing one database.
//!
//! The logic is the SQLite store's ([`crate::sqlstore`]); what differs is how work runs. Each
//! read is one read-only transaction on a pooled connection; each write is one transaction of its
//! own (a plain message, with no handoff, event or idempotency record, is one statement:
//! `PLAIN_APPEND`). Three transaction-scoped advisory locks make writes of every instance take turns where
//! they must, and only there:
//!
//! - the routing lock, by the writes that decide where handoffs go, so that a handoff is assigned
//!   at most once and no agent goes above capacity. Transfer, resolve, callback, agent status and
//!   the sweep take it first thing ([`Turn::Routing`]). An escalation takes it only after writing
//!   its message and its new handoff, just before routing ([`Db::take_routing_turn`]): those rows
//!   are its own, no routing write waits for a row it holds (routing writes change agents and
//!   handoffs already committed), so the lock is held for the routing and the commit alone.
//!   Message appends without a new handoff, accept, CSAT, suggestions and the rest do not take
//!   it: two instances appending to one conversation meet at the messages' primary key (the loser
//!   gets `Conflict`), and accept and CSAT change a handoff only if it is still as they found it.
//! - the deliveries lock, by webhook delivery claims, so two instances never claim one delivery.
//!
//! Events need no lock of their own. Writes commit side by side, so one can commit an event
//! numbered 10 after another committed 11; a reader moving on past the newest event it has seen
//! (an SSE stream reading "after N") would skip 10. So each write that adds events first
//! *claims* the numbers above the last one drawn so far (a shared advisory lock whose key is that
//! number plus one, held until it ends), then draws its numbers; and [`PgBackend::events_after`]
//! returns only events up to the last number drawn before it looked, and below the lowest claim
//! still held. Any number at or below that bound was drawn before the reader looked, so by a
//! write that had claimed before: it has ended (its events are visible, or gone with its
//! rollback) or its claim is held and stops the reader below it. Until 2026-11-30 an exclusive
//! lock was held from the first event to the commit, and the commits of every write with events
//! took turns (BENCHMARKS.md, "Which PostgreSQL writes take a lock").

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, Config, NoTls, Statement};

use crate::sql::{to_dollar_placeholders, Db, Kind, NewEvent, Row, Value};
use crate::sqlstore::writes::customer_upsert_tail;
use crate::sqlstore::{reads, Backend, SqlStore, Turn, Write};
use crate::{Event, Result, StoreError};

/// Every PostgreSQL migration, in order (a test checks the folder holds exactly these).
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_audit.sql",
        include_str!("../migrations/postgres/0002_audit.sql"),
    ),
    (
        "0003_customer_currency.sql",
        include_str!("../migrations/postgres/0003_customer_currency.sql"),
    ),
    (
        "0004_fixed_width_times.sql",
        include_str!("../migrations/postgres/0004_fixed_width_times.sql"),
    ),
];

/// Key of the advisory lock that serialises migrations of instances starting together.
const MIGRATION_LOCK: i64 = 0x6261_746f_6e00;
/// Key of the advisory lock routing writes take (see the module's documentation).
pub const ROUTING_LOCK: i64 = 0x6261_746f_6e01;
/// Claims on event numbers (see the module's documentation): the claim on numbers above `n` is
/// the shared advisory lock `EVENT_CLAIMS + n + 1`. In `pg_locks` a 64-bit key shows as
/// `classid` (high half) and `objid` (low half); numbers stay below 2^48.
const EVENT_CLAIMS: i64 = 0x4261 << 48;
/// The last event number drawn by any transaction, committed or not (0 before the first).
const LAST_DRAWN: &str =
    "COALESCE(pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')::regclass), 0)";
/// The events of one write, numbered in the order given (`VALUES_LIST` becomes one `(?, ?, ?, ?)`
/// row of kind, subject, payload and time per event), their webhook deliveries (the SQLite store's
/// `write_event`, for every event at once) and the notice to listening instances, delivered at
/// commit. A data-modifying `WITH` part runs to completion whether or not the rest reads it.
/// (An `unnest` of four arrays, tried first, cost PostgreSQL more CPU per message than the
/// separate statements it replaced: BENCHMARKS.md, session 33.)
const WRITE_EVENTS: &str = "WITH e AS (
       INSERT INTO events (kind, subject, payload, at) VALUES VALUES_LIST
       RETURNING seq, at
     ), o AS (
       INSERT INTO webhook_outbox (endpoint_id, event_seq, next_attempt_at)
       SELECT w.id, e.seq, e.at FROM e CROSS JOIN webhook_endpoints w
     )
     SELECT pg_notify('baton_events', '')";

/// Key of the advisory lock webhook delivery claims take.
const DELIVERIES_LOCK: i64 = 0x6261_746f_6e03;
/// The channel that event-writing transactions notify at commit.
const EVENTS_CHANNEL: &str = "baton_events";
/// Connections per instance unless the caller chooses (`pg_pool` in the server's settings): at
/// most this many transactions run at once, the rest wait their turn here, in arrival order. On
/// the 2-core bench machine the maximum latency of three instances grew with the pool (2: 294
/// ms, 4: 427-516 ms, 8: 782 ms, 16: 1.74 s) at the same rate (BENCHMARKS.md): more
/// connections than the database has cores only queue inside PostgreSQL, where the routing
/// lock's waiters are not served in order.
pub const DEFAULT_POOL: usize = 4;

fn pg(e: postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::Conflict(format!(
            "already exists: {}",
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        ));
    }
    StoreError::backend("postgres: ", e)
}

/// Brings the schema up to date; returns how many migrations were applied. Safe to run from
/// several instances at once: they take turns on an advisory lock, and each migration commits
/// with its version.
pub fn migrate(client: &mut Client) -> Result<usize> {
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    let exists: bool = tx
        .query_one("SELECT to_regclass('baton_migrations') IS NOT NULL", &[])
        .map_err(pg)?
        .get(0);
    if !exists {
        tx.batch_execute(
            "CREATE TABLE baton_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(pg)?;
    }
    let done: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM baton_migrations",
            &[],
        )
        .map_err(pg)?
        .get(0);
    let mut applied = 0;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= done {
            continue;
        }
        tx.batch_execute(sql)
            .map_err(|e| StoreError::backend(format!("postgres migration {name}: "), e))?;
        tx.execute(
            "INSERT INTO baton_migrations (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .map_err(pg)?;
        applied += 1;
    }
    tx.commit().map_err(pg)?;
    Ok(applied)
}

/// A connection with its prepared statements.
pub struct PgConn {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
    /// The events of the write in progress, written at its end (see the module's documentation).
    events: RefCell<Vec<NewEvent>>,
}

impl PgConn {
    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .borrow_mut()
            .prepare(&to_dollar_placeholders(sql))
            .map_err(pg)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Writes a write's events in the order they were added, with their webhook deliveries, and
    /// tells every listening instance at commit: one statement (one round trip), however many
    /// events (an escalation adds two or three; each was two statements before 2026-12-02). The
    /// statement is prepared once per number of events.
    fn write_events(&self, events: &[NewEvent]) -> Result<()> {
        let rows: Vec<String> = (0..events.len())
            .map(|i| {
                format!(
                    "(?{}, ?{}, ?{}, ?{})",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect();
        let sql = WRITE_EVENTS.replace("VALUES_LIST", &rows.join(", "));
        let mut params = Vec::with_capacity(4 * events.len());
        for e in events {
            params.extend([
                Value::Text(e.kind.as_str().into()),
                Value::Text(e.subject.clone()),
                Value::Text(e.payload.clone()),
                Value::from(e.at),
            ]);
        }
        self.exec(&sql, &params).map(drop)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.client.borrow_mut().batch_execute(sql).map_err(pg)
    }

    /// Runs `f` in a transaction, committed when it returns `Ok`.
    fn transaction<T>(&self, begin: &str, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                // A broken connection is dropped by the pool; the error that matters is `e`.
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Value::Int(i), _) => i.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), _) => f.to_sql(ty, out),
            (Value::Bool(b), &Type::INT8) => (*b as i64).to_sql(ty, out),
            (Value::Bool(b), _) => b.to_sql(ty, out),
            (Value::Text(s), _) => s.to_sql(ty, out),
            (Value::Blob(b), _) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn value_of(row: &postgres::Row, i: usize) -> Result<Value> {
    let ty = row.columns()[i].type_().clone();
    let bad = |e: postgres::Error| pg(e);
    Ok(match ty {
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(bad)?
            .map(Value::Bool),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(bad)?
            .map(|v| Value::Int(v.into())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(bad)?
            .map(|v| Value::Int(v.into())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(bad)?
            .map(Value::Int),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(i)
            .map_err(bad)?
            .map(|v| Value::Real(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(bad)?
            .map(Value::Real),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(bad)?
            .map(Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map_err(|e| {
                StoreError::backend(
                    format!("column {i} has type {ty}, which the store does not read: "),
                    e,
                )
            })?
            .map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

impl Db for PgConn {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn deferred_events(&self) -> Option<&RefCell<Vec<NewEvent>>> {
        Some(&self.events)
    }

    fn take_routing_turn(&self) -> Result<()> {
        self.exec(
            "SELECT pg_advisory_xact_lock(?1)",
            &[Value::Int(ROUTING_LOCK)],
        )
        .map(drop)
    }

    fn exec(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let stmt = self.statement(sql)?;
        let p: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let n = self.client.borrow_mut().execute(&stmt, &p).map_err(pg)?;
        Ok(n as usize)
    }

    fn each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let stmt = self.statement(sql)?;
        let p: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.client.borrow_mut().query(&stmt, &p).map_err(pg)?;
        let mut row = Row::default();
        for r in &rows {
            row.0.clear();
            for i in 0..r.len() {
                row.0.push(value_of(r, i)?);
            }
            each(&row)?;
        }
        Ok(())
    }
}

/// Pooled connections to one PostgreSQL database.
pub struct PgBackend {
    config: Config,
    idle: Mutex<Vec<PgConn>>,
    permits: tokio::sync::Semaphore,
}

/// The store on PostgreSQL.
pub type PostgresStore = SqlStore<PgBackend>;

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, no TLS: loopback or a
    /// private network) with [`DEFAULT_POOL`] connections, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_pool(url, DEFAULT_POOL).await
    }

    /// [`connect`](Self::connect) with at most `pool` connections open at once (at least 1).
    pub async fn connect_with_pool(url: &str, pool: usize) -> Result<Self> {
        if pool == 0 {
            return Err(StoreError::Other(
                "the PostgreSQL connection pool needs at least 1 connection (pg_pool = 0)".into(),
            ));
        }
        let config: Config = url
            .parse()
            .map_err(|e| StoreError::backend(format!("`{url}` is not a PostgreSQL URL: "), e))?;
        let backend = PgBackend {
            config,
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(pool),
        };
        backend
            .run(|c| {
                migrate(&mut c.client.borrow_mut())?;
                c.statements.borrow_mut().clear();
                Ok(())
            })
            .await?;
        Ok(SqlStore { backend })
    }
}

impl PgBackend {
    /// Runs `f` with a connection, off the async threads; a connection that broke is dropped.
    /// Connections are opened and closed on blocking threads only: the client blocks on a
    /// runtime of its own, which must never happen on an async thread.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&PgConn) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StoreError::backend("connection pool: ", e))?;
        let pooled = self
            .idle
            .lock()
            .map_err(|_| StoreError::Other("connection pool lock poisoned".into()))?
            .pop();
        let config = self.config.clone();
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let conn = match pooled {
                Some(c) => c,
                None => match config.connect(NoTls) {
                    Ok(client) => PgConn {
                        client: RefCell::new(client),
                        statements: RefCell::new(HashMap::new()),
                        events: RefCell::new(Vec::new()),
                    },
                    Err(e) => return (None, Err(pg(e))),
                },
            };
            let r = f(&conn);
            let alive = !conn.client.borrow().is_closed();
            (alive.then_some(conn), r)
        })
        .await
        .map_err(|e| StoreError::backend("database task failed: ", e))?;
        if let Some(conn) = conn {
            // At most `pool` connections exist (one per permit), so the pool always has room.
            self.idle
                .lock()
                .map_err(|_| StoreError::Other("connection pool lock poisoned".into()))?
                .push(conn);
        }
        result
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        // Closing a connection blocks on the client's own runtime, which must not happen on an
        // async thread: close the idle ones on a thread of their own.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("baton-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

/// A plain append in one statement, committed on its own (session 32): the conversation row
/// updated only if it holds `?8` messages (or created when `?8` is 0 and it does not exist), the
/// customer upserted and the message inserted only if that happened. One round trip where the
/// general write takes five or six (BEGIN, the customer, the conversation read, its update, the
/// message, COMMIT), each a trip through the client's runtime and a PostgreSQL backend. It writes
/// what `sqlstore::writes::append` writes for such a message (the topic is written even when it
/// is unchanged: PostgreSQL writes a new row version either way). The foreign keys are checked
/// at the end of the statement, so a new conversation's new customer is there by then.
const PLAIN_APPEND: &str = concat!(
    "WITH conv_upd AS (
    UPDATE conversations SET message_count = message_count + 1, decision = CAST(?4 AS TEXT),
      topic = CAST(?6 AS TEXT), roles = roles | CAST(?7 AS BIGINT)
    WHERE id = CAST(?1 AS TEXT) AND CAST(?8 AS BIGINT) > 0 AND message_count = CAST(?8 AS BIGINT)
    RETURNING 1
  ), conv_new AS (
    INSERT INTO conversations (id, customer_id, created_at, message_count, decision, started_ms, topic, roles)
    SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), 1, CAST(?4 AS TEXT),
      CAST(?5 AS BIGINT), CAST(?6 AS TEXT), CAST(?7 AS BIGINT)
    WHERE CAST(?8 AS BIGINT) = 0
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
  ), fits AS (
    SELECT 1 FROM conv_upd UNION ALL SELECT 1 FROM conv_new
  ), cust AS (
    INSERT INTO customers (id, name, tier, lifetime_value, timezone, currency, updated_at)
    SELECT CAST(?14 AS TEXT), CAST(?15 AS TEXT), CAST(?16 AS TEXT), CAST(?17 AS DOUBLE PRECISION),
      CAST(?18 AS TEXT), CAST(?19 AS TEXT), CAST(?3 AS TEXT)
    WHERE CAST(?14 AS TEXT) IS NOT NULL AND EXISTS (SELECT 1 FROM fits)",
    customer_upsert_tail!(),
    "
  )
  INSERT INTO messages (conversation_id, idx, role, text, at, confidence, kb_articles)
  SELECT CAST(?1 AS TEXT), CAST(?8 AS BIGINT), CAST(?9 AS TEXT), CAST(?10 AS TEXT),
    CAST(?11 AS TEXT), CAST(?12 AS DOUBLE PRECISION), CAST(?13 AS TEXT)
  WHERE EXISTS (SELECT 1 FROM fits)"
);

#[async_trait]
impl Backend for PgBackend {
    type Conn = PgConn;

    async fn append_plain(&self, a: &crate::Append) -> Result<bool> {
        let m = &a.message;
        let c = a.customer.as_ref();
        let params: Vec<Value> = vec![
            a.conversation_id.as_str().into(),
            a.customer_id.as_str().into(),
            a.now.into(),
            a.decision.as_str().into(),
            m.at.as_millisecond().into(),
            a.topic.clone().into(),
            crate::sqlstore::writes::role_bit(m.role).into(),
            a.index.into(),
            crate::sqlstore::writes::role_str(m.role).into(),
            m.text.as_str().into(),
            m.at.into(),
            m.confidence.into(),
            serde_json::to_string(&m.kb_articles)?.into(),
            c.map(|c| c.id.clone()).into(),
            c.map(|c| c.name.clone()).into(),
            c.map(|c| c.tier.as_str()).into(),
            c.map(|c| c.lifetime_value).into(),
            c.and_then(|c| c.timezone.clone()).into(),
            c.and_then(|c| c.currency.as_ref().map(|x| x.as_str().to_string()))
                .into(),
        ];
        let written = self.run(move |c| c.exec(PLAIN_APPEND, &params)).await?;
        Ok(written == 1)
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&PgConn) -> Result<T> + Send + 'static,
    {
        self.run(|c| c.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f))
            .await
    }

    /// Events up to the last number drawn before looking and below every claim still held (see
    /// the module's documentation). Three statements in this order, each with its own snapshot:
    /// the last number drawn, then the claims, then the events.
    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>> {
        self.run(move |c| {
            c.transaction("BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY", |c| {
                let drawn: i64 = c.scalar(&format!("SELECT {LAST_DRAWN}"), &[])?;
                let lowest_claim: i64 = c.scalar(
                    &format!(
                        "SELECT COALESCE(MIN(((classid::bigint) << 32) | objid::bigint), {})
                         FROM pg_locks
                         WHERE locktype = 'advisory' AND objsubid = 1
                           AND database = (SELECT oid FROM pg_database
                                           WHERE datname = current_database())
                           AND classid::bigint BETWEEN {} AND {}",
                        i64::MAX,
                        EVENT_CLAIMS >> 32,
                        (EVENT_CLAIMS >> 32) | 0xffff,
                    ),
                    &[],
                )?;
                let through = drawn.min(lowest_claim.saturating_sub(EVENT_CLAIMS + 1));
                reads::events_after(c, after, through, limit)
            })
        })
        .await
    }

    fn watch_events(&self, wake: std::sync::Weak<tokio::sync::Notify>) {
        let config = self.config.clone();
        let spawned = std::thread::Builder::new()
            .name("baton-pg-listen".into())
            .spawn(move || listen(config, wake));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the PostgreSQL event listener; streams poll");
        }
    }

    async fn write<W: Write>(&self, w: W) -> Result<W::Output> {
        self.run(move |c| {
            c.events.borrow_mut().clear();
            c.transaction("BEGIN", |c| {
                match w.turn() {
                    Turn::Routing => c.take_routing_turn()?,
                    Turn::Deliveries => {
                        c.exec(
                            "SELECT pg_advisory_xact_lock(?1)",
                            &[Value::Int(DELIVERIES_LOCK)],
                        )?;
                    }
                    Turn::None => {}
                }
                let written = w.apply(c)?;
                let events = std::mem::take(&mut *c.events.borrow_mut());
                if !events.is_empty() {
                    // Claim the numbers above the last one drawn, then draw: readers stop below
                    // this claim until the transaction ends.
                    // One statement: the number is read before the lock is taken.
                    c.exec(
                        &format!(
                            "SELECT pg_advisory_xact_lock_shared(CAST(?1 AS BIGINT) + {LAST_DRAWN} + 1)"
                        ),
                        &[Value::Int(EVENT_CLAIMS)],
                    )?;
                    c.write_events(&events)?;
                }
                Ok(written)
            })
        })
        .await
    }
}

/// Listens for committed events until `wake`'s owner is gone, reconnecting after errors.
fn listen(config: Config, wake: std::sync::Weak<tokio::sync::Notify>) {
    while wake.strong_count() > 0 {
        let mut client = match config.connect(NoTls) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "event listener cannot connect; retrying");
                std::thread::sleep(std::time::Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}")) {
            tracing::warn!(error = %e, "event listener cannot LISTEN; retrying");
            std::thread::sleep(std::time::Duration::from_secs(1));
            continue;
        }
        loop {
            let mut notifications = client.notifications();
            let mut it = notifications.timeout_iter(std::time::Duration::from_secs(1));
            match postgres::fallible_iterator::FallibleIterator::next(&mut it) {
                Ok(Some(_)) => match wake.upgrade() {
                    Some(w) => w.notify_waiters(),
                    None => return,
                },
                Ok(None) if wake.strong_count() == 0 => return,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_are_announced_on_the_channel_listeners_hear() {
        assert!(super::WRITE_EVENTS.contains(&format!("pg_notify('{}'", super::EVENTS_CHANNEL)));
    }

    #[test]
    fn every_migration_file_is_listed() {
        crate::assert_migrations_listed("migrations/postgres", super::MIGRATIONS);
    }
}
