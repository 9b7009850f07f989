//! `baton`: the command line. Decides when an AI support conversation should go to a human.

mod explain;
mod history;
mod input;
mod model;
mod report;
mod sentiment_lines;
mod service;

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use baton_core::eval::{Evaluator, Report};
use baton_core::model::InputLimits;
use baton_core::{decide, Policy};
use clap::{Args, Parser, Subcommand};

use crate::input::{ConversationReader, LineError};

#[derive(Parser)]
#[command(
    name = "baton",
    version,
    about = "Decides when an AI support conversation should be handed to a human, and explains why.",
    after_help = "Examples:\n  baton analyze examples/conversations.jsonl\n  baton eval data.jsonl --errors\n  echo 'this is useless' | baton sentiment\n  baton policy check my-policy.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print one decision (JSON) per conversation of a conversation file (JSON Lines).
    ///
    /// Bad lines are reported on stderr with their line number and field; the other lines are
    /// still analysed and the exit code is 1.
    Analyze {
        /// Conversation file, or - for stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Score decisions against the `expected` labels of a conversation file.
    Eval {
        /// Labelled conversation file, or - for stdin.
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// List every miss with its evidence.
        #[arg(long)]
        errors: bool,
        /// With --errors: for each miss, what the meaning detectors heard in the customer's
        /// messages up to the labelled one (scores and nearest examples).
        #[arg(long)]
        explain: bool,
        /// Also score each id prefix of the file (its domains) on its own, and each domain of the
        /// policy's example banks with the detectors rebuilt without that domain's lines.
        #[arg(long)]
        leave_one_domain_out: bool,
        #[command(flatten)]
        common: Common,
    },
    /// VADER sentiment of each input line: {"compound","pos","neu","neg"} per line.
    ///
    /// The scores equal vaderSentiment 3.3.2's. A long input is scored on every core; the output
    /// keeps the input's order. A line that is not valid UTF-8 is scored with replacement
    /// characters, named on stderr by its line number, and makes the exit status 1.
    Sentiment {
        /// Text file with one text per line; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Run the HTTP API on the embedded SQLite store.
    Serve(service::ServeArgs),
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        command: service::KeysCommand,
    },
    /// Start a server with a seeded team, replay the examples through the API, print URLs and keys.
    Demo(service::DemoArgs),
    /// Simulate a day of one team: the wait quoted at queueing vs the wait that followed, next to
    /// the Erlang C estimate for the same parameters.
    Simulate(SimulateArgs),
    /// Re-run a candidate policy over stored conversations (or a file) next to the current one:
    /// handoff rate, conversations that would flip, precision and recall where labels exist.
    Replay(history::ReplayArgs),
    /// Write resolved handed-off conversations as a conversation file (JSON Lines) that analyze,
    /// eval and replay read back, labelled by the agents' judgements (`expected`).
    Export(history::ExportArgs),
    /// Handoff metrics, quality scores, the weekly review and suggested policy changes, from the
    /// stored history (text, --json, or --html FILE with charts).
    Report(report::ReportArgs),
    /// Work with the embedding model: distil the static table from the transformer.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
}

#[derive(Args)]
struct SimulateArgs {
    /// Random seed: the same seed gives the same day.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Shifts as HOURS:AGENTS:ARRIVALS_PER_HOUR, comma-separated.
    #[arg(long, default_value = "4:4:34,4:6:55,4:3:26")]
    shifts: String,
    /// Conversations one agent handles at once.
    #[arg(long, default_value_t = 1)]
    capacity: u32,
    /// Mean and standard deviation of the (log-normal) handle time, in minutes.
    #[arg(long, default_value_t = 6.0)]
    handle_minutes: f64,
    #[arg(long, default_value_t = 4.0)]
    handle_sd_minutes: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Policy whose routing defaults (default handle time, sample size) the quotes use.
    #[arg(long)]
    policy: Option<PathBuf>,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file; errors name the key and line.
    Check { file: PathBuf },
    /// Print the shipped default policy (a commented starting point).
    Default,
}

#[derive(Args)]
struct Common {
    /// Escalation policy (TOML). Default: the shipped policy/default.toml.
    #[arg(long, env = "BATON_POLICY")]
    policy: Option<PathBuf>,
    /// Longest accepted message text, in bytes.
    #[arg(long, default_value_t = InputLimits::default().max_text_bytes)]
    max_text_bytes: usize,
    /// Longest accepted line, in bytes.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_line_bytes: usize,
    /// The meaning tier: `static` (the compiled-in table, microseconds per message) or `full`
    /// (sentences near a detector's threshold are judged again on all-MiniLM-L6-v2's own vectors,
    /// about 15 ms each; needs a build with `--features transformer` and the model folder).
    #[arg(long, value_enum, default_value_t = model::Tier::Static)]
    semantic: model::Tier,
    /// The sentence-transformers folder for `--semantic full` (scripts/fetch-model.sh).
    #[arg(long, env = "BATON_MODEL", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
}

impl Common {
    /// The policy (`--policy`), with the transformer attached for `--semantic full`.
    fn policy(&self) -> Result<Policy> {
        let mut policy = load_policy(self.policy.as_deref())?;
        model::attach(&mut policy, self.semantic, &self.model)?;
        Ok(policy)
    }

    fn limits(&self) -> InputLimits {
        InputLimits {
            max_text_bytes: self.max_text_bytes,
            ..InputLimits::default()
        }
    }
}

pub(crate) fn load_policy(path: Option<&Path>) -> Result<Policy> {
    match path {
        None => Ok(Policy::default()),
        Some(p) => {
            let source = fs::read_to_string(p)
                .with_context(|| format!("cannot read policy file {}", p.display()))?;
            parse_policy(p, &source).map_err(|e| anyhow::anyhow!(policy_error(p, &e)))
        }
    }
}

/// Parses a policy file, reading the example banks it names relative to its folder.
fn parse_policy(path: &Path, source: &str) -> Result<Policy, baton_core::PolicyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    Policy::from_toml_with(source, &mut |name: &str| {
        let bank = dir.join(name);
        fs::read_to_string(&bank).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot read {}: {e}", bank.display()))
        })
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`baton analyze ... | head -1`): nothing left to say to anyone.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baton: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// True if `e` comes from writing to a closed pipe.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| c.downcast_ref::<serde_json::Error>()?.io_error_kind())
            == Some(io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Analyze { file, common } => analyze(&file, &common),
        Command::Eval {
            file,
            json,
            errors,
            explain,
            leave_one_domain_out,
            common,
        } => eval(
            &file,
            &common,
            EvalOutput {
                json,
                errors: errors || explain,
                explain,
                leave_one_domain_out,
            },
        ),
        Command::Sentiment { file } => sentiment_lines::run(file.as_deref()),
        Command::Serve(args) => service::serve(args),
        Command::Keys { command } => service::keys(command),
        Command::Demo(args) => service::demo(args),
        Command::Simulate(args) => simulate(args),
        Command::Replay(args) => history::replay(args),
        Command::Export(args) => history::export(args),
        Command::Report(args) => report::report(args),
        Command::Model { command } => model::run(command),
        Command::Policy { command } => match command {
            PolicyCommand::Check { file } => policy_check(&file),
            PolicyCommand::Default => {
                io::stdout().write_all(baton_core::policy::DEFAULT_POLICY.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}

fn simulate(args: SimulateArgs) -> Result<ExitCode> {
    use baton_core::simulate::{run, Scenario, Shift};
    let policy = load_policy(args.policy.as_deref())?;
    let mut shifts = Vec::new();
    for (i, part) in args.shifts.split(',').enumerate() {
        let f: Vec<&str> = part.trim().split(':').collect();
        let parsed = match f.as_slice() {
            [h, a, r] => h.parse().ok().zip(a.parse().ok()).zip(r.parse().ok()),
            _ => None,
        };
        let ((hours, agents), arrivals_per_hour) = parsed.with_context(|| {
            format!(
                "--shifts item {} `{part}` is not HOURS:AGENTS:ARRIVALS_PER_HOUR (e.g. 4:6:55)",
                i + 1
            )
        })?;
        shifts.push(Shift {
            hours,
            agents,
            arrivals_per_hour,
        });
    }
    let scenario = Scenario {
        seed: args.seed,
        shifts,
        capacity: args.capacity,
        handle_mean_seconds: args.handle_minutes * 60.0,
        handle_sd_seconds: args.handle_sd_minutes * 60.0,
        default_handle_seconds: policy.routing.default_handle_seconds,
        handle_time_sample: policy.routing.handle_time_sample,
    };
    let r = run(&scenario)?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "simulated day (seed {}): {} arrivals, {} had to queue",
        args.seed, r.arrivals, r.queued
    )?;
    writeln!(
        out,
        "wait of queued customers: mean {:.0} s, median {:.0} s",
        r.mean_wait_seconds, r.median_wait_seconds
    )?;
    writeln!(
        out,
        "Baton's quote   median abs error {:>5.0} s ({:.0}% of the mean wait), mean abs error {:.0} s",
        r.baton_median_abs_error_seconds,
        100.0 * r.baton_error_share_of_mean_wait,
        r.baton_mean_abs_error_seconds
    )?;
    writeln!(
        out,
        "Erlang C        median abs error {:>5.0} s ({:.0}% of the mean wait), mean abs error {:.0} s{}",
        r.erlang_median_abs_error_seconds,
        100.0 * r.erlang_error_share_of_mean_wait,
        r.erlang_mean_abs_error_seconds,
        if r.erlang_undefined > 0 {
            format!(" ({} queued customers in overloaded hours have no Erlang C answer)", r.erlang_undefined)
        } else {
            String::new()
        }
    )?;
    if r.still_waiting_at_end > 0 {
        writeln!(
        out,
            "still waiting   {} customer(s) were still in the queue when the day ended (the longest for {}); they are not in the figures above",
            r.still_waiting_at_end,
            baton_core::routing::describe_wait(r.still_waiting_longest_seconds).trim_start_matches("about ")
        )?;
    } else {
        writeln!(
            out,
            "still waiting   nobody: every customer was served before the day ended"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report_bad_line(file: &Path, e: &LineError) {
    eprintln!("{}:{}: {}", file.display(), e.line, e.message);
}

fn analyze(file: &Path, common: &Common) -> Result<ExitCode> {
    let policy = common.policy()?;
    let mut reader = ConversationReader::open(file, common.limits(), common.max_line_bytes)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut bad = 0usize;
    while let Some(item) = reader.next_conversation() {
        match item {
            Ok(conversation) => {
                let decision = decide(&policy, &conversation);
                serde_json::to_writer(&mut out, &decision)?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                bad += 1;
                out.flush()?;
                report_bad_line(file, &e);
            }
        }
    }
    out.flush()?;
    reader.finish();
    if bad > 0 {
        eprintln!("baton: {bad} bad line(s) skipped; the others were analysed");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

struct EvalOutput {
    json: bool,
    errors: bool,
    explain: bool,
    leave_one_domain_out: bool,
}

fn eval(file: &Path, common: &Common, output: EvalOutput) -> Result<ExitCode> {
    let policy = common.policy()?;
    let mut reader = ConversationReader::open(file, common.limits(), common.max_line_bytes)?;
    let mut evaluator = Evaluator::new();
    let mut by_prefix: std::collections::BTreeMap<String, Evaluator> = Default::default();
    let mut conversations = Vec::new();
    let mut bad = 0usize;
    let mut unlabelled = 0usize;
    while let Some(item) = reader.next_conversation() {
        match item {
            Ok(conversation) => {
                let Some(expected) = conversation.expected.clone() else {
                    unlabelled += 1;
                    continue;
                };
                let decision = decide(&policy, &conversation);
                evaluator.add(&expected, &decision);
                if output.leave_one_domain_out {
                    let prefix = conversation
                        .id
                        .split_once('-')
                        .map_or(conversation.id.as_str(), |(p, _)| p);
                    by_prefix
                        .entry(prefix.to_string())
                        .or_default()
                        .add(&expected, &decision);
                }
                if output.explain {
                    conversations.push(conversation);
                }
            }
            Err(e) => {
                bad += 1;
                report_bad_line(file, &e);
            }
        }
    }
    reader.finish();
    let report = evaluator.finish();
    if report.conversations == 0 {
        anyhow::bail!(
            "{}: no labelled conversation to score ({unlabelled} without `expected`, {bad} bad line(s)); eval needs conversations with an `expected` field",
            file.display()
        );
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let lodo = if output.leave_one_domain_out {
        baton_core::lodo::leave_one_domain_out(&policy)
    } else {
        Vec::new()
    };
    let prefixes: Vec<(String, Report)> = by_prefix
        .into_iter()
        .map(|(p, e)| (p, e.finish()))
        .collect();
    if output.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(o) = value.as_object_mut() {
            if !output.errors {
                o.remove("misses");
            }
            if output.leave_one_domain_out {
                let mut per_prefix = serde_json::Map::new();
                for (p, r) in &prefixes {
                    let mut v = serde_json::to_value(r)?;
                    v.as_object_mut().map(|o| o.remove("misses"));
                    per_prefix.insert(p.clone(), v);
                }
                o.insert("by_id_prefix".into(), per_prefix.into());
                o.insert("leave_one_domain_out".into(), serde_json::to_value(&lodo)?);
            }
        }
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report, output.errors)?;
        if output.explain {
            explain::misses(&mut out, &policy, &report, &conversations)?;
        }
        if output.leave_one_domain_out {
            explain::domains(&mut out, &prefixes, &lodo)?;
        }
    }
    if unlabelled > 0 {
        eprintln!("baton: {unlabelled} conversation(s) without `expected` were not scored");
    }
    if bad > 0 {
        eprintln!("baton: {bad} bad line(s) skipped");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(out: &mut impl Write, r: &Report, errors: bool) -> io::Result<()> {
    writeln!(out, "conversations      {}", r.conversations)?;
    writeln!(
        out,
        "escalation         precision {:.3}  recall {:.3}  F1 {:.3}   (TP {} FP {} FN {} TN {})",
        r.precision,
        r.recall,
        r.f1,
        r.true_positives,
        r.false_positives,
        r.false_negatives,
        r.true_negatives
    )?;
    writeln!(
        out,
        "timing (of TP)     exact {:.3}  early {:.3}  late {:.3}",
        r.timing_exact, r.timing_early, r.timing_late
    )?;
    writeln!(out, "reason accuracy    {:.3}", r.reason_accuracy)?;
    writeln!(out, "skill accuracy     {:.3}", r.skill_accuracy)?;
    writeln!(
        out,
        "\nconfusion (rows: expected primary reason, columns: predicted)"
    )?;
    let mut columns: Vec<&String> = r.confusion.values().flat_map(|row| row.keys()).collect();
    columns.sort();
    columns.dedup();
    let width = r
        .confusion
        .keys()
        .map(|k| k.len())
        .max()
        .unwrap_or(4)
        .max(8);
    write!(out, "{:width$} ", "")?;
    for (i, _) in columns.iter().enumerate() {
        write!(out, "{:>4}", format!("c{i}"))?;
    }
    writeln!(out)?;
    for (expected, row) in &r.confusion {
        write!(out, "{expected:width$} ")?;
        for c in &columns {
            match row.get(*c) {
                Some(n) => write!(out, "{n:>4}")?,
                None => write!(out, "{:>4}", ".")?,
            }
        }
        writeln!(out)?;
    }
    for (i, c) in columns.iter().enumerate() {
        writeln!(out, "  c{i} = {c}")?;
    }
    if errors {
        writeln!(out, "\nmisses ({})", r.misses.len())?;
        for m in &r.misses {
            let d = &m.decision;
            writeln!(
                out,
                "- {} [{}]\n    expected: escalate={} at={:?} reason={} skill={}{}",
                m.id,
                m.kinds.join(", "),
                m.expected.escalate,
                m.expected.at,
                m.expected.reason.as_deref().unwrap_or("-"),
                m.expected.skill.as_deref().unwrap_or("-"),
                m.expected
                    .note
                    .as_deref()
                    .map(|n| format!("  ({n})"))
                    .unwrap_or_default()
            )?;
            writeln!(
                out,
                "    decided:  escalate={} at={:?} skill={} topic={}",
                d.escalate,
                d.at,
                d.skill.as_deref().unwrap_or("-"),
                d.topic
            )?;
            for reason in &d.reasons {
                writeln!(
                    out,
                    "      {} @{}: {} | evidence: \"{}\"",
                    reason.kind, reason.message, reason.detail, reason.evidence
                )?;
            }
        }
    }
    Ok(())
}

fn policy_check(file: &Path) -> Result<ExitCode> {
    let source = fs::read_to_string(file)
        .with_context(|| format!("cannot read policy file {}", file.display()))?;
    match parse_policy(file, &source) {
        Ok(p) => {
            println!(
                "{}: ok ({} reasons in order, {} custom rule(s), skills: {})",
                file.display(),
                p.order.len(),
                p.custom_rules.len(),
                p.skills.join(", ")
            );
            for line in baton_core::policy::unicode_word_class_lines(&source) {
                println!(
                    "{}:{line}: warning: \\w matches letters of every alphabet and multiplies the \
                     memory of the list's matcher; write [0-9A-Za-z_] (or (?-u:\\w))",
                    file.display()
                );
            }
            if let Some(sem) = &p.semantic {
                let warnings = sem.bank_warnings();
                let mut out = io::stdout().lock();
                writeln!(
                    out,
                    "{}: example banks: {} lines, {} warning(s)",
                    file.display(),
                    sem.examples().len(),
                    warnings.len()
                )?;
                const SHOWN: usize = 25;
                for w in warnings.iter().take(SHOWN) {
                    writeln!(out, "  warning: {w}")?;
                }
                if warnings.len() > SHOWN {
                    writeln!(out, "  ... and {} more", warnings.len() - SHOWN)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", policy_error(file, &e));
            Ok(ExitCode::from(1))
        }
    }
}

/// `FILE:LINE: key: message`, the form editors jump to.
fn policy_error(file: &Path, e: &baton_core::PolicyError) -> String {
    let place = match e.line {
        Some(l) => format!("{}:{l}", file.display()),
        None => file.display().to_string(),
    };
    if e.key.is_empty() {
        format!("{place}: {}", e.message)
    } else {
        format!("{place}: {}: {}", e.key, e.message)
    }
}

/// True when progress should be drawn (stderr is a terminal).
pub(crate) fn progress_wanted() -> bool {
    io::stderr().is_terminal()
}
