//! baton-server's integration tests, one module per concern, linked once.

mod api;
mod authz;
mod browser;
mod common;
mod handoffs;
mod hostile;
