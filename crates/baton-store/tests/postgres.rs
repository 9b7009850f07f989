//! PostgreSQL schema tests against a real server: `.ci/run` starts one (scripts/postgres.sh) and
//! sets `BATON_TEST_POSTGRES`. Without it the tests say so and pass, except under `CI=true`.

use std::collections::BTreeMap;

use baton_store::postgres::{migrate, MIGRATIONS};
use baton_store::sqlite::SqliteStore;
use tokio_postgres::{Client, Config, NoTls};

/// A connection to a fresh, empty database on the test server, or `None` when there is none.
async fn fresh_database() -> Option<Client> {
    let Ok(url) = std::env::var("BATON_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: set BATON_TEST_POSTGRES (scripts/postgres.sh)"
        );
        eprintln!("BATON_TEST_POSTGRES is not set: skipping (run scripts/postgres.sh)");
        return None;
    };
    let config: Config = url
        .parse()
        .expect("BATON_TEST_POSTGRES is a postgres:// URL");
    let (admin, conn) = config
        .connect(NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(conn);
    let name = format!(
        "baton_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut config = config;
    config.dbname(&name);
    let (client, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    Some(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_even_from_instances_starting_together() {
    let Some(client) = fresh_database().await else {
        return;
    };
    // Three "instances" migrate the same database at once: the advisory lock lets one apply.
    let url_db: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    let base: Config = std::env::var("BATON_TEST_POSTGRES")
        .unwrap()
        .parse()
        .unwrap();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut c = base.clone();
        c.dbname(&url_db);
        runs.push(tokio::spawn(async move {
            let (mut client, conn) = c.connect(NoTls).await.unwrap();
            tokio::spawn(conn);
            migrate(&mut client).await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for r in runs {
        applied.push(r.await.unwrap());
    }
    applied.sort();
    assert_eq!(applied, vec![0, 0, MIGRATIONS.len()]);
    let versions: i64 = client
        .query_one("SELECT count(*) FROM baton_migrations", &[])
        .await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_schema_has_the_sqlite_tables_and_columns() {
    let Some(mut client) = fresh_database().await else {
        return;
    };
    migrate(&mut client).await.unwrap();
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> 'baton_migrations'
             ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let mut pg: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        pg.entry(r.get(0)).or_default().push(r.get(1));
    }
    let lite = sqlite_schema();
    assert_eq!(
        pg, lite,
        "tables and columns differ between PostgreSQL and SQLite"
    );
}
