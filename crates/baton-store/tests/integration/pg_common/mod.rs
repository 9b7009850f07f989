//! A fresh database on the PostgreSQL test server: `.ci/run` starts one (scripts/postgres.sh)
//! and sets `BATON_TEST_POSTGRES`. A plain `cargo nextest run` leaves these tests out (listed as
//! skipped, `.config/nextest.toml`); run with `--ignore-default-filter` but without the server,
//! they say so and pass, except under `CI=true`, where they fail.

/// The URL of a new, empty database, or `None` when no test server is configured.
pub fn fresh_database_url() -> Option<String> {
    let Ok(base) = std::env::var("BATON_TEST_POSTGRES") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: set BATON_TEST_POSTGRES (scripts/postgres.sh)"
        );
        eprintln!("BATON_TEST_POSTGRES is not set: skipping (run scripts/postgres.sh)");
        return None;
    };
    let name = format!(
        "baton_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    // The sync client runs its own runtime: keep it off the test's async threads.
    let create = name.clone();
    let admin_url = base.clone();
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("connect to the PostgreSQL test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {create}"))
            .unwrap();
    })
    .join()
    .unwrap();
    let (server, _) = base
        .rsplit_once('/')
        .expect("BATON_TEST_POSTGRES looks like postgres://user:password@host:port/database");
    Some(format!("{server}/{name}"))
}
