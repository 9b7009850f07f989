//! PostgreSQL schema tests against a real server (see `pg_common`).

use crate::pg_common;

use std::collections::BTreeMap;

use baton_store::postgres::{migrate, MIGRATIONS};
use baton_store::sqlite::SqliteStore;

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

#[test]
fn migrations_apply_once_even_from_instances_starting_together() {
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    // Three "instances" migrate the same database at once: the advisory lock lets one apply.
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || migrate(&mut client(&url)).unwrap())
        })
        .collect();
    let mut applied: Vec<usize> = runs.into_iter().map(|r| r.join().unwrap()).collect();
    applied.sort();
    assert_eq!(applied, vec![0, 0, MIGRATIONS.len()]);
    let versions: i64 = client(&url)
        .query_one("SELECT count(*) FROM baton_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, MIGRATIONS.len() as i64);
}

/// Tables and their columns, from SQLite's catalogue.
fn sqlite_schema() -> BTreeMap<String, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let names: Vec<String> = tables
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .map(|t| {
            let mut cols: Vec<String> = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            cols.sort();
            (t, cols)
        })
        .collect()
}

#[test]
fn the_postgres_schema_has_the_sqlite_tables_and_columns() {
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    let mut c = client(&url);
    migrate(&mut c).unwrap();
    let rows = c
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'baton_migrations'
             ORDER BY 1, 2",
            &[],
        )
        .unwrap();
    let mut pg: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        pg.entry(r.get(0)).or_default().push(r.get(1));
    }
    assert_eq!(
        pg,
        sqlite_schema(),
        "tables and columns differ between PostgreSQL and SQLite"
    );
}

/// Connections open to `url`'s database, other than the one asking.
fn connections(url: &str) -> i64 {
    let db = url.rsplit('/').next().unwrap().to_string();
    client(url)
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db],
        )
        .unwrap()
        .get(0)
}

/// `pg_pool` bounds the connections an instance opens, however many requests arrive at once:
/// with 2, a burst of 64 concurrent reads leaves 2 open (the pool keeps them); with 8 the same
/// burst opens more than 2, so the burst does overlap and the bound is what holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pool_bounds_the_connections_an_instance_opens() {
    use baton_store::postgres::PostgresStore;
    use baton_store::Store;
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    for (pool, within) in [(2usize, 1..=2i64), (8, 3..=8)] {
        let store =
            std::sync::Arc::new(PostgresStore::connect_with_pool(&url, pool).await.unwrap());
        let reads: Vec<_> = (0..64)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.agents().await.unwrap() })
            })
            .collect();
        for r in reads {
            r.await.unwrap();
        }
        let u = url.clone();
        let open = tokio::task::spawn_blocking(move || connections(&u))
            .await
            .unwrap();
        assert!(
            within.contains(&open),
            "pool {pool}: {open} connections open, expected {within:?}"
        );
        drop(store);
        // Idle connections close on a thread of their own: wait until they are gone.
        let u = url.clone();
        tokio::task::spawn_blocking(move || {
            for _ in 0..100 {
                if connections(&u) == 0 {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            panic!("the dropped store's connections did not close");
        })
        .await
        .unwrap();
    }
    let err = PostgresStore::connect_with_pool(&url, 0)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("pg_pool = 0"), "{err}");
}
