//! PostgreSQL: connection and schema migrations. The `Store` implementation on PostgreSQL is not
//! written yet (issue 8); its schema is, and a test keeps it equal to the SQLite one.

use tokio_postgres::{Client, NoTls};

use crate::{Result, StoreError};

/// Every PostgreSQL migration, in order (a test checks the folder holds exactly these).
pub const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_init.sql",
    include_str!("../migrations/postgres/0001_init.sql"),
)];

/// Key of the advisory lock that serialises migrations of instances starting together.
const MIGRATION_LOCK: i64 = 0x6261_746f_6e00;

fn pg(e: tokio_postgres::Error) -> StoreError {
    StoreError::Other(format!("postgres: {e}"))
}

/// Connects to `url` (`postgres://user:password@host:port/database`) on loopback or a private
/// network (no TLS), driving the connection on the current tokio runtime.
pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(pg)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("postgres connection ended: {e}");
        }
    });
    Ok(client)
}

/// Brings the schema up to date; returns how many migrations were applied. Safe to run from
/// several instances at once: they take turns on an advisory lock, and each migration commits
/// with its version.
pub async fn migrate(client: &mut Client) -> Result<usize> {
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS baton_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg)?;
    let done: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM baton_migrations",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    let mut applied = 0;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= done {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Other(format!("postgres migration {name}: {e}")))?;
        tx.execute(
            "INSERT INTO baton_migrations (version, name) VALUES ($1, $2)",
            &[&version, name],
        )
        .await
        .map_err(pg)?;
        applied += 1;
    }
    tx.commit().await.map_err(pg)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let listed: Vec<&str> = super::MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, listed);
    }
}
