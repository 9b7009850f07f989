//! Baton's decision engine: pure functions over plain data. No I/O, no async, no clock reads;
//! time comes in with the messages.
//!
//! - [`model`]: conversations, customers, messages, and the conversation-file parser.
//! - [`sentiment`]: VADER sentiment.
//! - [`signals`]: per-message signals with evidence.
//! - [`policy`]: the escalation policy file, validated and compiled.
//! - [`engine`]: conversation state folded message by message, and the [`engine::Decision`].
//! - [`eval`]: scoring decisions against labels.
//! - [`handoff`]: the handoff lifecycle: which change is legal in which status, and what it
//!   changes ([`handoff::apply`]).
//! - [`event`]: the kinds of entry in the event log.

pub mod context;
pub mod customer_text;
mod detectors;
pub mod engine;
pub mod eval;
pub mod event;
pub mod handoff;
pub mod lodo;
pub mod model;
pub mod policy;
pub mod quality;
pub mod reason;
pub mod replay;
pub mod routing;
pub mod schedule;
pub mod semantic;
pub mod sentiment;
pub mod signals;
pub mod simulate;
pub mod text;

pub use engine::{decide, ConversationState, Decision, EscalationFacts};
pub use model::{Conversation, Customer, Message, Role, Tier};
pub use policy::{Policy, PolicyError, Priority};
