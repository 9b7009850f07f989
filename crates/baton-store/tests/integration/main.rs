//! baton-store's integration tests, linked once.

mod conformance;
mod pg_common;
mod postgres;
