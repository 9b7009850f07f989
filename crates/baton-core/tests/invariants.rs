//! Architecture invariant: baton-core does no I/O, so it must not depend on I/O crates.

#[test]
fn core_depends_on_no_io_crate() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("a [dependencies] table")
        .split("\n[")
        .next()
        .unwrap();
    for forbidden in [
        "tokio",
        "sqlx",
        "axum",
        "rusqlite",
        "hyper",
        "reqwest",
        "async-std",
    ] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(forbidden)),
            "baton-core must not depend on {forbidden}"
        );
    }
}
