//! The `baton` binary's integration tests, one module per concern, linked once.

mod cli;
mod crash;
mod demo;
mod faults_pg;
mod multi_instance;
#[path = "../../../baton-store/tests/integration/pg_common/mod.rs"]
mod pg_common;
mod report;
mod sockets;
mod support;
