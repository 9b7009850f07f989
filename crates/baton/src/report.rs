//! `baton report`: the handoff report of the stored history, as text, JSON or HTML.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use baton_report::{build, fmt_opt, html, parse_bound, Filter, Report};
use clap::Args;

#[derive(Args)]
pub struct ReportArgs {
    #[arg(long)]
    db: PathBuf,
    /// Only conversations started at or after this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only conversations started before this date or time.
    #[arg(long)]
    until: Option<String>,
    /// Only handoffs to this team (the handoff rate is then this team's share of all conversations).
    #[arg(long)]
    team: Option<String>,
    /// Only handoffs needing this skill.
    #[arg(long)]
    skill: Option<String>,
    /// Only handoffs with this primary reason kind (e.g. explicit_request).
    #[arg(long)]
    reason: Option<String>,
    /// The policy in use (default: the shipped one); suggestions are changes to it.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Also write a self-contained HTML report with charts.
    #[arg(long)]
    html: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let policy = std::sync::Arc::new(crate::load_policy(args.policy.as_deref())?);
    let since = args
        .since
        .as_deref()
        .map(parse_bound)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let until = args
        .until
        .as_deref()
        .map(parse_bound)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--until: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let filter = Filter {
        team: args.team.clone(),
        skill: args.skill.clone(),
        reason: args.reason.clone(),
    };
    let mut r = rt.block_on(async {
        let store = crate::history::open_existing(&args.db).await?;
        anyhow::Ok(build(store.as_ref(), &policy, since, until, filter).await?)
    })?;
    r.since = args.since.clone();
    r.until = args.until.clone();
    if let Some(path) = &args.html {
        std::fs::write(path, html(&r))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &r)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "period                    {} .. {}",
        r.since.as_deref().unwrap_or("start"),
        r.until.as_deref().unwrap_or("now")
    )?;
    writeln!(out, "conversations             {}", r.conversations)?;
    writeln!(
        out,
        "handoffs                  {} ({:.1}%)",
        r.handoffs,
        100.0 * r.handoff_rate
    )?;
    for (k, (n, s)) in &r.time_to_handoff_by_complexity {
        writeln!(
            out,
            "time to handoff ({k:>3} msg) {:.0} s over {n} handoffs",
            s
        )?;
    }
    writeln!(
        out,
        "resolution after handoff  {}",
        fmt_opt(r.mean_resolution_seconds.map(|s| s / 60.0), " min")
    )?;
    writeln!(
        out,
        "CSAT after handoff        {} ({} scores)",
        fmt_opt(r.mean_csat_after_handoff, ""),
        r.csat_count
    )?;
    for (k, (m, n)) in &r.csat_by_kind {
        writeln!(out, "CSAT {k:<20} {m:.2} ({n} scores)")?;
    }
    writeln!(
        out,
        "repeat contact rate       {}",
        fmt_opt(r.repeat_contact_rate.map(|x| 100.0 * x), "%")
    )?;
    writeln!(
        out,
        "handoff quality (mean)    {}",
        fmt_opt(r.mean_quality, "")
    )?;
    writeln!(
        out,
        "judged unnecessary        {} of {}",
        r.judged_unnecessary, r.judged
    )?;
    writeln!(out, "\nby reason: handoffs, unnecessary, mean quality")?;
    for (k, g) in &r.by_reason {
        writeln!(
            out,
            "  {k:<22} {:>5} {:>5} {:>6}",
            g.handoffs,
            g.unnecessary,
            fmt_opt(g.mean_quality, "")
        )?;
    }
    if !r.late_by_reason.is_empty() {
        writeln!(
            out,
            "\nlate triggers (customer already upset before the escalating message)"
        )?;
        for (k, n) in &r.late_by_reason {
            writeln!(out, "  {n:>4}  {k}")?;
        }
    }
    if !r.missing.is_empty() {
        writeln!(out, "\nwhat the humans needed that the AI lacked")?;
        for (m, n) in &r.missing {
            writeln!(out, "  {n:>4}  {m}")?;
        }
    }
    writeln!(out, "\nweekly review: lowest-scoring handoffs")?;
    for x in &r.weekly_review {
        writeln!(
            out,
            "  {:>5.1}  {}  ({}, {})  {}",
            x.score, x.handoff_id, x.conversation_id, x.reason, x.why
        )?;
    }
    writeln!(
        out,
        "\nsuggested policy changes (tried by replay over this period)"
    )?;
    if r.suggestions.is_empty() {
        writeln!(out, "  none")?;
    }
    for s in &r.suggestions {
        writeln!(
            out,
            "  {:<45} changes {:>4} handoffs: {} unnecessary avoided, {} necessary lost",
            s.change, s.handoffs_changed, s.unnecessary_avoided, s.necessary_lost
        )?;
    }
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}
