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
