//! The embedded SQLite store: WAL, `synchronous = FULL`, migrations on open, and group commit.
//!
//! All writes go to one writer thread. It takes every write that is waiting, applies each in its
//! own savepoint (one failing write does not undo the others), commits once (one fsync for the
//! whole batch) and only then answers each caller. Under load, many requests share one fsync, so
//! durability does not cap throughput. Reads use a small pool of separate connections, which WAL
//! lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{Db, Kind, Row, Value};
use crate::sqlstore::{Backend, SqlStore, Write};
use crate::{Result, StoreError};

/// Most writes committed together.
const MAX_BATCH: usize = 512;
/// Most reads running at once, each on its own connection; more wait for one. Connections are
/// kept once opened: opening one parses the schema and closing it unmaps its memory, which
/// cost more than most reads.
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
    (
        "0007_suggestion_order.sql",
        include_str!("../../migrations/sqlite/0007_suggestion_order.sql"),
    ),
    (
        "0008_delivery_leases.sql",
        include_str!("../../migrations/sqlite/0008_delivery_leases.sql"),
    ),
    (
        "0009_audit.sql",
        include_str!("../../migrations/sqlite/0009_audit.sql"),
    ),
    (
        "0010_customer_currency.sql",
        include_str!("../../migrations/sqlite/0010_customer_currency.sql"),
    ),
    (
        "0011_fixed_width_times.sql",
        include_str!("../../migrations/sqlite/0011_fixed_width_times.sql"),
    ),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|(_, sql)| M::up(sql)).collect())
}

/// A write waiting for the writer thread, with where its result goes.
trait Job: Send {
    /// Applies the write to the open transaction, keeping its result until the commit: in a
    /// savepoint of its own when `isolated` (its failure then undoes it alone). Whether it
    /// succeeded.
    fn apply(&mut self, conn: &Connection, isolated: bool) -> bool;
    /// Answers the caller: the write's result if `committed` is `Ok`, else why not.
    fn answer(self: Box<Self>, committed: &std::result::Result<(), Arc<StoreError>>);
}

struct Pending<W: Write> {
    write: W,
    result: Option<Result<W::Output>>,
    reply: oneshot::Sender<Result<W::Output>>,
}

impl<W: Write> Job for Pending<W> {
    fn apply(&mut self, conn: &Connection, isolated: bool) -> bool {
        let result = match isolated {
            true => apply_in_savepoint(conn, &self.write),
            false => self.write.apply(conn),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, committed: &std::result::Result<(), Arc<StoreError>>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(r)) => r,
            // Every write of the batch fails with the same commit error, kept as its source.
            (Err(e), _) => Err(StoreError::backend("commit failed: ", e.clone())),
            (Ok(()), None) => Err(StoreError::Other("write was not applied".into())),
        };
        let _ = self.reply.send(answer);
    }
}

/// The store on an SQLite file.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// One writer thread (group commit) and a pool of readers on one SQLite file.
pub struct SqliteBackend {
    path: PathBuf,
    writes: mpsc::Sender<Box<dyn Job>>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection (`READ_POOL`).
    reading: tokio::sync::Semaphore,
    counts: Arc<CommitCounts>,
}

/// What the writer thread has done since the store was opened.
#[derive(Debug, Default)]
struct CommitCounts {
    commits: AtomicU64,
    writes: AtomicU64,
}

/// Prepared statements kept per connection: more than the store has, so none is compiled twice
/// (rusqlite keeps 16 by default, fewer than the writer cycles through).
const STATEMENT_CACHE: usize = 256;

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
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
            .map_err(|e| StoreError::backend(format!("migrating {}: ", path.display()), e))?;
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>(4096);
        let counts = Arc::new(CommitCounts::default());
        let writer_counts = counts.clone();
        std::thread::Builder::new()
            .name("baton-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, &writer_counts))
            .map_err(|e| StoreError::backend("cannot start the writer thread: ", e))?;
        Ok(SqlStore {
            backend: SqliteBackend {
                path,
                writes: tx,
                readers: Mutex::new(Vec::new()),
                reading: tokio::sync::Semaphore::new(READ_POOL),
                counts,
            },
        })
    }

    /// (commits, writes) made by this store since it was opened: with group commit, concurrent
    /// writers make fewer commits than writes.
    pub fn commit_counts(&self) -> (u64, u64) {
        let c = &self.backend.counts;
        (
            c.commits.load(Ordering::Relaxed),
            c.writes.load(Ordering::Relaxed),
        )
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Conn = Connection;

    async fn write<W: Write>(&self, write: W) -> Result<W::Output> {
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(Box::new(Pending {
                write,
                result: None,
                reply,
            }))
            .await
            .map_err(|_| StoreError::Other("the writer thread has stopped".into()))?;
        rx.await
            .map_err(|e| StoreError::backend("the writer thread has stopped: ", e))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        // With a permit, at most READ_POOL - 1 connections are out: the pool never grows past it.
        let _permit = self
            .reading
            .acquire()
            .await
            .map_err(|_| StoreError::Other("the read pool is closed".into()))?;
        let conn = self.readers.lock().map_err(|_| poisoned())?.pop();
        let path = self.path.clone();
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let conn = match conn {
                Some(c) => c,
                None => open_reader(&path)?,
            };
            let r = f(&conn);
            Ok::<_, StoreError>((conn, r))
        })
        .await
        .map_err(|e| StoreError::backend("read task failed: ", e))??;
        self.readers.lock().map_err(|_| poisoned())?.push(conn);
        result
    }
}

/// Binds `params` to `?1`, `?2`, ... of `stmt`.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<()> {
    for (i, v) in params.iter().enumerate() {
        let at = i + 1;
        match v {
            Value::Null => stmt.raw_bind_parameter(at, rusqlite::types::Null)?,
            Value::Int(x) => stmt.raw_bind_parameter(at, x)?,
            Value::Real(x) => stmt.raw_bind_parameter(at, x)?,
            Value::Text(x) => stmt.raw_bind_parameter(at, x)?,
            Value::Bool(x) => stmt.raw_bind_parameter(at, *x as i64)?,
            Value::Blob(x) => stmt.raw_bind_parameter(at, x)?,
        }
    }
    Ok(())
}

impl Db for Connection {
    fn kind(&self) -> Kind {
        Kind::Sqlite
    }

    fn exec(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let mut stmt = self.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        Ok(stmt.raw_execute()?)
    }

    fn each(
        &self,
        sql: &str,
        params: &[Value],
        each: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        let n = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut row = Row(Vec::with_capacity(n));
        while let Some(r) = rows.next()? {
            row.0.clear();
            for i in 0..n {
                row.0.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(x) => Value::Int(x),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            each(&row)?;
        }
        Ok(())
    }
}

fn poisoned() -> StoreError {
    StoreError::Other("connection pool lock poisoned".into())
}

fn writer_loop(conn: Connection, mut rx: mpsc::Receiver<Box<dyn Job>>, counts: &CommitCounts) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(&conn, &mut batch).map_err(Arc::new);
        counts.commits.fetch_add(1, Ordering::Relaxed);
        counts
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        metrics::counter!("baton_store_commits_total").increment(1);
        metrics::counter!("baton_store_writes_total").increment(batch.len() as u64);
        metrics::histogram!("baton_store_commit_batch_size").record(batch.len() as f64);
        for job in batch.drain(..) {
            job.answer(&committed);
        }
    }
}

/// Applies every write of `batch` in one transaction (each job keeps its write's result); `Ok` if
/// the transaction committed. Transaction control runs as cached statements, which SQLite does not
/// parse again for every write.
///
/// Optimistic: the writes run one after the other without savepoints, since a savepoint copies
/// every page a write first touches into a sub-journal (about 6% of the server's CPU under
/// ingest load). If one fails, the transaction is rolled back and the whole batch applied again,
/// each write in its own savepoint, so that a failed write undoes only itself and the others
/// commit as before.
fn commit_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<()> {
    run(conn, "BEGIN IMMEDIATE")?;
    if !batch.iter_mut().all(|job| job.apply(conn, false)) {
        if !conn.is_autocommit() {
            run(conn, "ROLLBACK")?;
        }
        run(conn, "BEGIN IMMEDIATE")?;
        for job in batch.iter_mut() {
            job.apply(conn, true);
        }
    }
    let committed = run(conn, "COMMIT");
    if committed.is_err() && !conn.is_autocommit() {
        let _ = run(conn, "ROLLBACK");
    }
    committed
}

fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)?.raw_execute()?;
    Ok(())
}

fn apply_in_savepoint<W: Write>(conn: &Connection, write: &W) -> Result<W::Output> {
    run(conn, "SAVEPOINT one_write")?;
    match write.apply(conn) {
        Ok(w) => {
            run(conn, "RELEASE one_write")?;
            Ok(w)
        }
        Err(e) => {
            // Undo this write only, then leave the savepoint; the others of the batch stay.
            run(conn, "ROLLBACK TO one_write")?;
            run(conn, "RELEASE one_write")?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_applied() {
        crate::assert_migrations_listed("migrations/sqlite", super::MIGRATIONS);
        super::migrations().validate().unwrap();
    }

    /// A database file migrated only to `version`, with `sql` run on it (rows as an older
    /// release wrote them). The folder is deleted when the first value is dropped.
    fn older_database(version: usize, sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = super::open_connection(&path).unwrap();
        super::migrations().to_version(&mut conn, version).unwrap();
        conn.execute_batch(sql).unwrap();
        (dir, path)
    }

    /// A database written before the metrics columns existed gets them filled by the migration.
    #[tokio::test]
    async fn metrics_columns_are_backfilled_for_older_databases() {
        use crate::{MetricsQuery, Store};
        let (_dir, path) = older_database(
            5,
            "INSERT INTO customers VALUES ('u1', 'Dana', 'standard', 10, NULL, '2025-01-01T00:00:00Z');
                 INSERT INTO conversations (id, customer_id, created_at, message_count, decision, csat)
                   VALUES ('old', 'u1', '2025-01-01T00:00:00Z', 2, '{\"topic\":\"billing\"}', 3);
                 INSERT INTO messages VALUES ('old', 0, 'customer', 'hi', '2025-01-01T10:00:00.250Z', NULL, '[]');
                 INSERT INTO messages VALUES ('old', 1, 'agent', 'hello', '2025-01-01T10:01:00Z', NULL, '[]');",
        );
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

    /// Times stored before they had a fixed width are rewritten, so that text order is time order
    /// again (here: the key list, ordered by creation time).
    #[tokio::test]
    async fn older_times_are_rewritten_to_a_fixed_width() {
        use crate::Store;
        let (_dir, path) = older_database(
            10,
            "INSERT INTO api_keys (id, name, role, secret_hash, created_at) VALUES
                   ('k1', 'later', 'admin', x'00', '2025-01-01T10:00:00.55Z'),
                   ('k2', 'first', 'admin', x'01', '2025-01-01T10:00:00Z'),
                   ('k3', 'second', 'admin', x'02', '2025-01-01T10:00:00.5Z'),
                   ('k4', 'odd', 'admin', x'03', 'not a time');",
        );
        let store = super::SqliteStore::open(&path).unwrap();
        let stored: Vec<(String, String)> = super::open_connection(&path)
            .unwrap()
            .prepare("SELECT id, created_at FROM api_keys ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want = [
            ("k1", "2025-01-01T10:00:00.550000000Z"),
            ("k2", "2025-01-01T10:00:00.000000000Z"),
            ("k3", "2025-01-01T10:00:00.500000000Z"),
            ("k4", "not a time"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(stored, want);
        // The unparseable row is reported by name, not skipped or turned into 1970.
        let e = store.keys().await.unwrap_err().to_string();
        assert!(e.contains("not a time"), "{e}");
        super::open_connection(&path)
            .unwrap()
            .execute("DELETE FROM api_keys WHERE id = 'k4'", [])
            .unwrap();
        let names: Vec<String> = store
            .keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, ["first", "second", "later"]);
    }
}
