//! End-to-end tests of the `baton` binary: real files, real processes. A failure prints the
//! command, its stdout and its stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    args: Vec<String>,
    output: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    fn describe(&self) -> String {
        format!(
            "command: baton {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

fn baton(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("BATON_POLICY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        output,
    }
}

/// A file in a folder of its own, removed when dropped.
struct TempFile {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempFile {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

fn temp_file(name: &str, content: &str) -> TempFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    TempFile { path, _dir: dir }
}

const GOOD: &str = r#"{"id":"g1","customer":{"id":"u1","name":"Ana","tier":"standard","lifetime_value":10,"timezone":"Europe/Lisbon"},"messages":[{"role":"customer","text":"I want to speak to a real person now","at":"2026-01-01T00:00:00Z"}]}"#;

#[test]
fn analyze_prints_one_decision_per_conversation_in_order() {
    let run = baton(&["analyze", "examples/conversations.jsonl"], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let ids: Vec<String> = run
        .stdout()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (1..=8).map(|i| format!("ex-{i:02}")).collect();
    assert_eq!(ids, expected, "{}", run.describe());
}

#[test]
fn analyze_reads_stdin_and_explains_with_evidence() {
    let run = baton(&["analyze", "-"], Some(GOOD));
    assert_eq!(run.code(), 0, "{}", run.describe());
    let d: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(d["escalate"], true);
    assert_eq!(d["at"], 0);
    assert_eq!(d["reasons"][0]["kind"], "explicit_request");
    assert_eq!(
        d["reasons"][0]["evidence"],
        "want to speak to a real person"
    );
}

#[test]
fn bad_lines_are_reported_with_line_and_field_and_the_rest_is_analysed() {
    let huge = format!(
        r#"{{"id":"h","customer":{{"id":"u","tier":"free"}},"messages":[{{"role":"customer","text":"{}","at":"2026-01-01T00:00:00Z"}}]}}"#,
        "a".repeat(70_000)
    );
    let lines = [
        GOOD.to_string(),
        "{not json".to_string(),
        GOOD.replace("\"customer\",\"text\"", "\"bot\",\"text\""),
        GOOD.replace("\"tier\":\"standard\"", "\"tier\":\"gold\""),
        String::new(),
        GOOD.replace(
            r#""at":"2026-01-01T00:00:00Z"}"#,
            r#""at":"2026-01-01T00:00:00Z","confidence":7}"#,
        ),
        huge,
        GOOD.replace("\"g1\"", "\"g2\""),
    ];
    let path = temp_file("bad.jsonl", &lines.join("\n"));
    let run = baton(&["analyze", path.to_str().unwrap()], None);
    assert_eq!(run.code(), 1, "{}", run.describe());
    let out = run.stdout();
    let ids: Vec<&str> = out
        .lines()
        .map(|l| if l.contains("\"g2\"") { "g2" } else { "g1" })
        .collect();
    assert_eq!(ids, ["g1", "g2"], "{}", run.describe());
    let err = run.stderr();
    for expected in [
        ":2: ",
        ":3: field `messages[0].role`: unknown variant `bot`",
        ":4: field `customer.tier`: unknown variant `gold`",
        ":6: field `messages[0].confidence`: 7 is outside 0..=1",
        ":7: field `messages[0].text`: 70000 bytes, more than the limit",
        "5 bad line(s) skipped",
    ] {
        assert!(
            err.contains(expected),
            "missing {expected:?}\n{}",
            run.describe()
        );
    }
}

#[test]
fn overlong_line_is_rejected_without_reading_it_whole() {
    let long = format!("{}\n{}\n", "x".repeat(5000), GOOD);
    let path = temp_file("long.jsonl", &long);
    let run = baton(
        &[
            "analyze",
            path.to_str().unwrap(),
            "--max-line-bytes",
            "1000",
        ],
        None,
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains(":1: line is longer than 1000 bytes"),
        "{}",
        run.describe()
    );
    assert_eq!(run.stdout().lines().count(), 1, "{}", run.describe());
}

#[test]
fn eval_reports_scores_and_lists_misses() {
    let run = baton(
        &["eval", "examples/conversations.jsonl", "--json", "--errors"],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    let r: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(r["conversations"], 8);
    for key in [
        "precision",
        "recall",
        "f1",
        "timing_exact",
        "reason_accuracy",
        "skill_accuracy",
    ] {
        assert!(
            r[key].as_f64().unwrap() >= 0.99,
            "{key}: {}",
            run.describe()
        );
    }
    assert!(r["confusion"]["vip"]["vip"] == 1);

    // A policy that ignores explicit requests must miss the one explicit request.
    let policy = std::fs::read_to_string(repo_root().join("policy/default.toml"))
        .unwrap()
        .replacen(
            "[explicit_request]\nenabled = true",
            "[explicit_request]\nenabled = false",
            1,
        );
    let path = temp_file("no-explicit.toml", &policy);
    let run = baton(
        &[
            "eval",
            "examples/conversations.jsonl",
            "--errors",
            "--policy",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(run.stdout().contains("- ex-02 ["), "{}", run.describe());
}

#[test]
fn sentiment_scores_each_line() {
    let run = baton(&["sentiment"], Some("The book was good.\nToday SUX!\n\n"));
    assert_eq!(run.code(), 0, "{}", run.describe());
    let lines: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["compound"], 0.4404);
    assert_eq!(lines[1]["compound"], -0.5461);
    assert_eq!(lines[2]["compound"], 0.0);
}

/// A long input is scored on several threads in chunks: the output must still be each line's
/// own score, in input order, with each bad line named by its number in the whole input.
#[test]
fn sentiment_of_a_long_input_is_each_lines_score_in_order() {
    let corpus = repo_root().join("data/intents");
    let mut texts: Vec<Vec<u8>> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.push(v["text"].as_str().unwrap().as_bytes().to_vec());
        }
    }
    assert!(texts.len() > 5_000, "the corpus should span many chunks");
    // An empty line; CRLF; invalid UTF-8 early, in a later chunk and last.
    texts.insert(9, Vec::new());
    texts[20].extend_from_slice(b"\r");
    let bad_at = [5, 4_000, texts.len() + 3];
    texts.insert(bad_at[0] - 1, b"caf\xe9 was great".to_vec());
    texts.insert(bad_at[1] - 1, b"\xff\xfe terrible service".to_vec());
    texts.push(b"good but \xc3".to_vec());
    let mut input = b"\xef\xbb\xbf".to_vec();
    for t in &texts {
        input.extend_from_slice(t);
        input.push(b'\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.txt");
    std::fs::write(&path, &input).unwrap();
    let run = baton(&["sentiment", path.to_str().unwrap()], None);
    assert_eq!(run.code(), 1, "{}", run.describe());

    let expected: String = texts
        .iter()
        .map(|t| {
            let text = String::from_utf8_lossy(t);
            let s = baton_core::sentiment::polarity_scores(text.trim_end_matches('\r')).rounded();
            serde_json::to_string(&s).unwrap() + "\n"
        })
        .collect();
    assert!(
        run.stdout() == expected,
        "output differs from scoring each line alone"
    );
    let stderr = run.stderr();
    let warned: Vec<&str> = stderr.lines().collect();
    let lines: Vec<String> = bad_at
        .iter()
        .map(|n| format!("line {n}: not valid UTF-8"))
        .collect();
    assert_eq!(warned.len(), 3, "{}", run.stderr());
    for (w, l) in warned.iter().zip(&lines) {
        assert!(w.starts_with(l.as_str()), "{w} should start with {l}");
    }
}

#[test]
fn policy_check_names_file_line_and_key() {
    let run = baton(&["policy", "check", "policy/default.toml"], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(run.stdout().contains("ok"));
    assert!(!run.stdout().contains("warning: \\w"), "{}", run.describe());

    // A pattern with Unicode's \w loads, with a warning naming its line.
    let source = std::fs::read_to_string(repo_root().join("policy/default.toml")).unwrap();
    let line = source
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains("[0-9A-Za-z_]"))
        .unwrap()
        + 1;
    let wide: String = source
        .lines()
        .enumerate()
        .map(|(i, l)| match i + 1 == line {
            true => l.replacen("[0-9A-Za-z_]", "\\w", 1) + "\n",
            false => l.to_string() + "\n",
        })
        .collect();
    let path = temp_file("wide.toml", &wide);
    let run = baton(&["policy", "check", path.to_str().unwrap()], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stdout()
            .contains(&format!("wide.toml:{line}: warning: \\w matches")),
        "{}",
        run.describe()
    );

    let bad = std::fs::read_to_string(repo_root().join("policy/default.toml"))
        .unwrap()
        .replacen("min_words = 60", "min_words = \"sixty\"", 1);
    let line = bad.lines().position(|l| l.contains("\"sixty\"")).unwrap() + 1;
    let path = temp_file("bad.toml", &bad);
    let run = baton(&["policy", "check", path.to_str().unwrap()], None);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains(&format!("bad.toml:{line}: ")),
        "{}",
        run.describe()
    );

    let run = baton(
        &[
            "analyze",
            "examples/conversations.jsonl",
            "--policy",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains(&format!("bad.toml:{line}")),
        "{}",
        run.describe()
    );
}

#[test]
fn missing_input_file_is_a_clear_error() {
    let run = baton(&["analyze", "no/such/file.jsonl"], None);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("cannot open no/such/file.jsonl"),
        "{}",
        run.describe()
    );
}

#[test]
fn simulate_is_seeded_and_compares_with_erlang_c() {
    let a = baton(&["simulate", "--seed", "3", "--json"], None);
    assert_eq!(a.code(), 0, "{}", a.describe());
    let b = baton(&["simulate", "--seed", "3", "--json"], None);
    assert_eq!(a.stdout(), b.stdout());
    let r: serde_json::Value = serde_json::from_str(&a.stdout()).unwrap();
    assert!(r["queued"].as_u64().unwrap() > 100);
    assert!(
        r["baton_error_share_of_mean_wait"].as_f64().unwrap()
            < r["erlang_error_share_of_mean_wait"].as_f64().unwrap()
    );
    let bad = baton(&["simulate", "--shifts", "4:x:3"], None);
    assert_eq!(bad.code(), 2, "{}", bad.describe());
    assert!(
        bad.stderr().contains("--shifts item 1 `4:x:3`"),
        "{}",
        bad.describe()
    );
}

#[test]
fn replay_shows_what_a_candidate_policy_would_change() {
    let policy = std::fs::read_to_string(repo_root().join("policy/default.toml"))
        .unwrap()
        .replacen(
            "[explicit_request]\nenabled = true",
            "[explicit_request]\nenabled = false",
            1,
        )
        // ex-02 asks for a person in a message that also says "this is getting me nowhere".
        .replacen(
            "[frustration]\nenabled = true",
            "[frustration]\nenabled = false",
            1,
        );
    assert_eq!(policy.matches("enabled = false").count(), 2);
    let path = temp_file("candidate.toml", &policy);
    let run = baton(
        &[
            "replay",
            "--policy",
            path.to_str().unwrap(),
            "--file",
            "examples/conversations.jsonl",
            "--json",
        ],
        None,
    );
    assert_eq!(run.code(), 0, "{}", run.describe());
    let r: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(r["conversations"], 8);
    assert_eq!(r["current_handoffs"], 7);
    assert_eq!(r["candidate_handoffs"], 6);
    assert_eq!(r["flips"][0]["id"], "ex-02");
    assert_eq!(r["current_scores"]["recall"], 1.0);
    assert!(r["candidate_scores"]["recall"].as_f64().unwrap() < 1.0);
    let none = baton(&["replay", "--policy", path.to_str().unwrap()], None);
    assert_eq!(none.code(), 2, "{}", none.describe());
}

#[test]
fn export_writes_resolved_conversations_from_a_database() {
    // An empty database exports nothing, and says so.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = dir.join("e.db");
    let k = baton(
        &[
            "keys",
            "create",
            "--db",
            db.to_str().unwrap(),
            "--role",
            "admin",
            "--name",
            "x",
        ],
        None,
    );
    assert_eq!(k.code(), 0, "{}", k.describe());
    let run = baton(&["export", "--db", db.to_str().unwrap()], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stderr().contains("exported 0 resolved conversation(s)"),
        "{}",
        run.describe()
    );
    let missing = baton(&["export", "--db", "no/such.db"], None);
    assert_eq!(missing.code(), 2, "{}", missing.describe());
}

#[test]
fn errors_name_the_file_line_not_the_json_line_and_a_bom_is_accepted() {
    let lines = [
        format!("\u{feff}{GOOD}"),
        GOOD.replace("\"g1\"", "\"g2\""),
        GOOD.replace("\"tier\":\"standard\",", ""),
    ];
    let path = temp_file("bom.jsonl", &lines.join("\n"));
    let run = baton(&["analyze", path.to_str().unwrap()], None);
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert_eq!(run.stdout().lines().count(), 2, "{}", run.describe());
    let err = run.stderr();
    assert!(
        err.contains("bom.jsonl:3: field `customer`: missing field `tier` (column "),
        "{}",
        run.describe()
    );
    assert!(!err.contains("line 1 column"), "{}", run.describe());
    assert!(!err.contains("bom.jsonl:1:"), "{}", run.describe());

    let run = baton(&["sentiment"], Some("\u{feff}The book was good.\n"));
    assert!(
        run.stdout().starts_with("{\"compound\":0.4404"),
        "{}",
        run.describe()
    );
}

#[test]
fn eval_of_a_file_without_labels_is_an_error() {
    for (name, content) in [("empty.jsonl", ""), ("unlabelled.jsonl", GOOD)] {
        let path = temp_file(name, content);
        let run = baton(&["eval", path.to_str().unwrap()], None);
        assert_eq!(run.code(), 2, "{}", run.describe());
        assert!(
            run.stderr().contains("no labelled conversation to score"),
            "{}",
            run.describe()
        );
        assert!(run.stdout().is_empty(), "{}", run.describe());
    }
}

/// Regression: `baton analyze big.jsonl | head -1` printed "Broken pipe" and exited 2.
#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let examples =
        std::fs::read_to_string(repo_root().join("examples/conversations.jsonl")).unwrap();
    let path = temp_file("big.jsonl", &examples.repeat(400));
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["analyze", path.to_str().unwrap()])
        .env_remove("BATON_POLICY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
    } // stdout closed here, as `head -1` does
    let output = child.wait_with_output().unwrap();
    assert!(first.starts_with("{\"id\":\"ex-01\""), "{first}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// Regression: `baton simulate | head -0` (and `replay`) panicked on the closed pipe; `analyze`,
/// `eval`, `sentiment` and `export` already ended quietly.
#[test]
fn simulate_and_replay_end_quietly_when_the_reader_has_gone() {
    support::assert_ends_quietly_into_closed_pipe(&["simulate"]);
    support::assert_ends_quietly_into_closed_pipe(&["simulate", "--json"]);
    let replay = [
        "replay",
        "--policy",
        "policy/default.toml",
        "--file",
        "examples/conversations.jsonl",
    ];
    support::assert_ends_quietly_into_closed_pipe(&replay);
    support::assert_ends_quietly_into_closed_pipe(&[&replay[..], &["--json"]].concat());
    support::assert_ends_quietly_into_closed_pipe(&["policy", "default"]);
}

#[test]
fn simulate_reports_customers_still_waiting_at_the_end_of_the_day() {
    let run = baton(&["simulate", "--shifts", "2:1:60"], None);
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert!(
        run.stdout()
            .contains("were still in the queue when the day ended"),
        "{}",
        run.describe()
    );
    let json = baton(&["simulate", "--shifts", "2:1:60", "--json"], None);
    let r: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert!(r["still_waiting_at_end"].as_u64().unwrap() > 50, "{r}");
    let calm = baton(&["simulate", "--shifts", "2:4:10"], None);
    assert!(
        calm.stdout().contains("still waiting   nobody"),
        "{}",
        calm.describe()
    );
}

#[test]
fn agent_keys_belong_to_an_existing_agent_and_other_roles_to_none() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("k.db");
    let db = db.to_str().unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec!["keys", "create", "--db", db, "--name", "x"];
        args.extend_from_slice(extra);
        baton(&args, None)
    };
    let no_agent = create(&["--role", "agent"]);
    assert_eq!(no_agent.code(), 2, "{}", no_agent.describe());
    assert!(
        no_agent.stderr().contains("--agent"),
        "{}",
        no_agent.describe()
    );
    let unknown = create(&["--role", "agent", "--agent", "agent-zoe"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.describe());
    assert!(
        unknown.stderr().contains("no agent `agent-zoe`"),
        "{}",
        unknown.describe()
    );
    let lead_with_agent = create(&["--role", "lead", "--agent", "agent-zoe"]);
    assert_eq!(lead_with_agent.code(), 2, "{}", lead_with_agent.describe());
    let lead = create(&["--role", "lead"]);
    assert_eq!(lead.code(), 0, "{}", lead.describe());
    assert!(lead.stdout().starts_with("baton_"), "{}", lead.describe());
    let list = baton(&["keys", "list", "--db", db], None);
    assert!(list.stdout().contains("lead"), "{}", list.describe());
}

/// One customer message as a conversation line.
fn one_message_line(id: &str, text: &str) -> String {
    serde_json::json!({
        "id": id,
        "customer": {"id": "c", "tier": "standard"},
        "messages": [{"role": "customer", "text": text, "at": "2026-01-01T10:00:00Z"}]
    })
    .to_string()
}

#[cfg(not(feature = "transformer"))]
#[test]
fn semantic_full_without_the_transformer_says_how_to_build_it() {
    let line = one_message_line("a", "can someone ring me about this");
    let run = baton(&["analyze", "--semantic", "full"], Some(&line));
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("--features transformer") && run.stdout().is_empty(),
        "{}",
        run.describe()
    );
}

#[test]
fn semantic_full_with_a_missing_model_folder_names_it() {
    let line = one_message_line("a", "can someone ring me about this");
    let run = baton(
        &["analyze", "--semantic", "full", "--model", "no/such/folder"],
        Some(&line),
    );
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("no/such/folder") && run.stdout().is_empty(),
        "{}",
        run.describe()
    );
}

/// Needs a build with the transformer and models/all-MiniLM-L6-v2 (scripts/ci-model.sh runs it).
#[cfg(feature = "transformer")]
#[test]
fn semantic_full_judges_near_threshold_sentences_on_the_transformer() {
    let model = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        model.join("model.safetensors").is_file(),
        "run scripts/fetch-model.sh first"
    );
    let lines = [
        one_message_line(
            "ask",
            "could somebody from your team phone me tomorrow, it's complicated",
        ),
        one_message_line("plain", "how do I change the delivery address on my order?"),
    ]
    .join("\n");
    let decide = |tier: &str| -> Vec<serde_json::Value> {
        let run = baton(&["analyze", "--semantic", tier], Some(&lines));
        assert_eq!(run.code(), 0, "{}", run.describe());
        run.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let full = decide("full");
    assert_eq!(full[0]["escalate"], true, "{full:?}");
    assert_eq!(
        full[0]["reasons"][0]["kind"], "explicit_request",
        "{full:?}"
    );
    assert_eq!(full[1]["escalate"], false, "{full:?}");
    // The evidence comes from the same banks either way; only the sentence's vector differs.
    let static_tier = decide("static");
    assert_eq!(static_tier[1]["escalate"], false, "{static_tier:?}");
}

/// `baton serve --semantic full` without a usable model: a warning naming why, then the server
/// answers on the static tier (the issue: fall back rather than refuse to start).
#[test]
fn semantic_full_serve_without_a_model_warns_and_serves_on_the_static_tier() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let mut child = support::baton()
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--semantic",
            "full",
            "--model",
            "no/such/folder",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = support::server_url(&mut child);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{answer}\n--- stderr\n{stderr}"
    );
    assert!(
        stderr.contains("WARN")
            && stderr.contains("no/such/folder")
            && stderr.contains("static meaning tier"),
        "{stderr}"
    );
}
