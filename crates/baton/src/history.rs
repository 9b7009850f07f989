//! `baton replay` (a candidate policy over history, before adopting it) and `baton export`
//! (resolved human conversations as training data).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use baton_core::model::Conversation;
use baton_core::replay::{Replay, ReplayReport};

use baton_server::Database;
use baton_store::HandoffStatus;
use clap::Args;

use crate::input::ConversationReader;

const PAGE: usize = 2000;

#[derive(Args)]
pub struct ReplayArgs {
    /// The candidate policy.
    #[arg(long)]
    policy: PathBuf,
    /// The policy in use now (default: the shipped one).
    #[arg(long)]
    current: Option<PathBuf>,
    /// Replay the conversations stored in this database; the agents' judgement of each handoff
    /// (`necessary`) serves as the label.
    #[arg(long, conflicts_with = "file")]
    db: Option<Database>,
    /// Or replay a conversation file; its `expected.escalate` serves as the label.
    #[arg(long)]
    file: Option<PathBuf>,
    /// How many changed conversations to list.
    #[arg(long, default_value_t = 50)]
    max_flips: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long)]
    db: Database,
    /// Output file (JSON Lines); stdout when absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A `--db` value: a parsed [`Database`], or a path still to parse (`baton report`'s flag).
pub trait DatabaseArg {
    fn database(&self) -> Result<Database>;
}

impl DatabaseArg for Database {
    fn database(&self) -> Result<Database> {
        Ok(self.clone())
    }
}

impl DatabaseArg for PathBuf {
    fn database(&self) -> Result<Database> {
        let text = self
            .to_str()
            .with_context(|| format!("database {} is not UTF-8", self.display()))?;
        Ok(text.parse()?)
    }
}

/// An existing database: an SQLite file that must exist, or a PostgreSQL URL.
pub async fn open_existing(
    db: &impl DatabaseArg,
) -> Result<std::sync::Arc<dyn baton_store::Store>> {
    let db = db.database()?;
    if let Database::Sqlite(path) = &db {
        if !path.exists() {
            bail!("database {} does not exist", path.display());
        }
    }
    crate::service::open_store(&db).await
}

pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let current = crate::load_policy(args.current.as_deref())?;
    let candidate = crate::load_policy(Some(&args.policy))?;
    let mut replay = Replay::new(&current, &candidate, args.max_flips);
    let mut bad = 0;
    match (&args.db, &args.file) {
        (Some(db), None) => {
            runtime()?.block_on(async {
                let store = open_existing(db).await?;
                let labels: HashMap<String, bool> = store
                    .handoffs(None)
                    .await?
                    .into_iter()
                    .filter_map(|h| h.necessary.map(|n| (h.conversation_id, n)))
                    .collect();
                let mut after = None;
                loop {
                    let page = store.conversations_page(after.clone(), PAGE).await?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.id.clone());
                    for c in page {
                        let label = labels.get(&c.id).copied();
                        let conv = Conversation {
                            id: c.id,
                            customer: c.customer,
                            messages: c.messages,
                            expected: None,
                        };
                        replay.add(&conv, label);
                    }
                }
                anyhow::Ok(())
            })?;
        }
        (None, Some(file)) => {
            let mut reader = ConversationReader::open(file, Default::default(), 16 << 20)?;
            while let Some(item) = reader.next_conversation() {
                match item {
                    Ok(c) => {
                        let label = c.expected.as_ref().map(|e| e.escalate);
                        replay.add(&c, label);
                    }
                    Err(e) => {
                        bad += 1;
                        eprintln!("{}:{}: {}", file.display(), e.line, e.message);
                    }
                }
            }
            reader.finish();
        }
        _ => bail!("give --db FILE (stored history) or --file FILE (a conversation file)"),
    }
    let report = replay.finish();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_replay(&mut out, &report)?;
    }
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_replay(out: &mut impl Write, r: &ReplayReport) -> std::io::Result<()> {
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
    writeln!(out, "conversations replayed   {}", r.conversations)?;
    writeln!(
        out,
        "handoff rate             {} now -> {} with the candidate ({} -> {} handoffs)",
        pct(r.current_handoff_rate),
        pct(r.candidate_handoff_rate),
        r.current_handoffs,
        r.candidate_handoffs
    )?;
    writeln!(
        out,
        "would change             {} newly escalated, {} no longer escalated, {} escalated differently",
        r.would_escalate_now, r.would_no_longer_escalate, r.other_changes
    )?;
    if r.current_scores.labelled > 0 {
        writeln!(
            out,
            "against {} labels        precision {} -> {}, recall {} -> {}",
            r.current_scores.labelled,
            opt(r.current_scores.precision),
            opt(r.candidate_scores.precision),
            opt(r.current_scores.recall),
            opt(r.candidate_scores.recall)
        )?;
    } else {
        writeln!(
            out,
            "no labels or feedback: precision and recall cannot be computed"
        )?;
    }
    for f in &r.flips {
        writeln!(
            out,
            "  {:<24} {}{}",
            f.id,
            f.change,
            f.label
                .map(|l| format!("   (label: {})", if l { "escalate" } else { "continue" }))
                .unwrap_or_default()
        )?;
    }
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let store = open_existing(&args.db).await?;
        let handoffs: HashMap<String, baton_store::Handoff> = store
            .handoffs(Some(HandoffStatus::Resolved))
            .await?
            .into_iter()
            .map(|h| (h.conversation_id.clone(), h))
            .collect();
        let out: Box<dyn Write> = match &args.out {
            Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = BufWriter::new(out);
        let mut after = None;
        let mut written = 0;
        loop {
            let page = store.conversations_page(after.clone(), PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for c in page {
                let Some(h) = handoffs.get(&c.id) else { continue };
                let record = serde_json::json!({
                    "id": c.id,
                    // The conversation-file customer without the name: enough for the engine.
                    "customer": {"id": c.customer.id, "tier": c.customer.tier,
                                 "lifetime_value": c.customer.lifetime_value, "currency": c.customer.currency,
                                 "timezone": c.customer.timezone},
                    "messages": c.messages,
                    "expected": expected(h, decided_at(c.decision.as_ref())),
                    "handoff": {
                        "reason": h.reason, "skill": h.skill, "team": h.team, "resolution": h.resolution,
                        "necessary": h.necessary, "missing": h.missing, "csat": h.csat, "transfers": h.transfers,
                    },
                });
                serde_json::to_writer(&mut out, &record)?;
                out.write_all(b"\n")?;
                written += 1;
            }
        }
        out.flush()?;
        eprintln!("exported {written} resolved conversation(s)");
        Ok(ExitCode::SUCCESS)
    })
}

/// The message a stored decision escalated at. Only that field is read (typed), so a decision
/// written by an older release, whose other fields differ, still gives it.
fn decided_at(decision: Option<&serde_json::Value>) -> Option<usize> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    struct DecidedAt {
        at: Option<usize>,
    }
    DecidedAt::deserialize(decision?).ok()?.at
}

/// The label an agent's judgement gives a handed-off conversation, in the conversation file's
/// `expected` form: necessary is an escalation at the handoff's message with its reason and
/// skill; unnecessary is a false alarm (no escalation); no judgement, no label.
fn expected(h: &baton_store::Handoff, at: Option<usize>) -> serde_json::Value {
    match h.necessary {
        Some(true) => serde_json::json!({
            "escalate": true, "at": at, "reason": h.reason, "skill": h.skill,
            "note": "the agent judged the handoff necessary",
        }),
        Some(false) => serde_json::json!({
            "escalate": false,
            "note": format!(
                "false alarm: the agent judged the handoff ({}{}) unnecessary",
                h.reason,
                at.map(|a| format!(" at message {a}")).unwrap_or_default()
            ),
        }),
        None => serde_json::Value::Null,
    }
}
