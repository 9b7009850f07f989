//! The decision after every message of every conversation of a file, one JSON per line, as
//! `baton serve` answers each posted message (`baton analyze` stops at the message that
//! escalates). Compares two builds' decisions on messages after the escalation, and times the
//! fold the server runs:
//!
//! `cargo run --release -p baton-core --example fold_all -- CONVERSATIONS.jsonl > decisions.jsonl`
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: fold_all CONVERSATIONS.jsonl")?;
    let policy = baton_core::Policy::default();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, line) in text.lines().enumerate() {
        let c = baton_core::model::parse_conversation(line, &Default::default())
            .map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        let mut state = baton_core::ConversationState::new();
        for m in &c.messages {
            state.push(&policy, &c.customer, m);
            let d = state.decision(&policy, &c.id, &c.customer);
            serde_json::to_writer(&mut out, &d)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
