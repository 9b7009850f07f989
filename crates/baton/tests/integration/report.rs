//! `baton report` over a seeded history with hand-computed answers.

use std::path::Path;
use std::process::Command;

use baton_core::model::{Customer, Message, Role, Tier};
use baton_core::{decide, Conversation, EscalationFacts, Policy};
use baton_store::sqlite::SqliteStore;
use baton_store::{
    Agent, AgentStatus, Append, NewHandoff, RoutingParams, Seniority, Store, Transition,
};

use crate::support;

const ROUTING: RoutingParams = RoutingParams {
    ageing_seconds: 600,
    default_handle_seconds: 420.0,
    handle_time_sample: 50,
};

fn customer(id: &str) -> Customer {
    Customer {
        id: id.into(),
        name: "Dana Reyes".into(),
        tier: Tier::Standard,
        lifetime_value: 100.0,
        currency: None,
        timezone: None,
    }
}

fn msg(role: Role, text: &str, at: &str) -> Message {
    Message {
        role,
        text: text.into(),
        at: at.parse().unwrap(),
        confidence: Some(0.9),
        kb_articles: vec![],
    }
}

/// Stores a conversation message by message, as the server would, with a handoff on escalation.
async fn store_conversation(
    store: &SqliteStore,
    policy: &Policy,
    id: &str,
    cust: &Customer,
    messages: Vec<Message>,
) -> Option<String> {
    let mut handoff = None;
    for (i, m) in messages.iter().enumerate() {
        let so_far = Conversation {
            id: id.into(),
            customer: cust.clone(),
            messages: messages[..=i].to_vec(),
            expected: None,
        };
        let d = decide(policy, &so_far);
        let new = (d.at == Some(i)).then(|| {
            let hid = format!("h-{id}");
            handoff = Some(hid.clone());
            NewHandoff {
                id: hid,
                skill: d.skill.clone().unwrap(),
                team: "Team".into(),
                priority: d.priority,
                reason: d.reasons[0].kind.clone(),
                vip: false,
                callback_at: None,
                callback_if_nobody: None,
                // Conversation A is stored as before the facts were kept: the report must compute
                // them from the transcript (and save them) with the same figures.
                facts: (id != "A")
                    .then(|| EscalationFacts::of(policy, &so_far.messages, i))
                    .flatten(),
            }
        });
        store
            .append(Append {
                conversation_id: id.into(),
                customer: (i == 0).then(|| cust.clone()),
                customer_id: cust.id.clone(),
                index: i,
                message: m.clone(),
                decision: serde_json::to_string(&d).unwrap(),
                topic: Some(d.topic.clone()),
                handoff: new,
                routing: ROUTING,
                extra_event: None,
                idempotency: None,
                now: m.at,
            })
            .await
            .unwrap();
    }
    handoff
}

/// The assigned agent accepts at `accept`, resolves at `resolve` (needed `necessary`, missing
/// "plan prices") and the customer gives `csat` ten minutes later.
async fn work(
    store: &SqliteStore,
    id: &str,
    accept: &str,
    resolve: &str,
    necessary: bool,
    csat: u8,
) {
    let agent = store.handoff(id).await.unwrap().unwrap().agent_id.unwrap();
    let csat_at: jiff::Timestamp = resolve.parse().unwrap();
    let steps = [
        (
            Transition::Accept { agent_id: agent },
            accept.parse::<jiff::Timestamp>().unwrap(),
        ),
        (
            Transition::Resolve {
                resolution: "handled".into(),
                necessary,
                missing: Some("Plan prices".into()),
            },
            csat_at,
        ),
        (
            Transition::Csat { score: csat },
            csat_at + jiff::SignedDuration::from_mins(10),
        ),
    ];
    for (t, at) in steps {
        store
            .transition(
                id,
                t,
                baton_store::Actor {
                    key_id: "k-test".into(),
                    role: baton_store::KeyRole::Lead,
                },
                at,
                ROUTING,
            )
            .await
            .unwrap();
    }
}

fn seed(db: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(db).unwrap();
        let policy = Policy::default();
        for skill in ["retention", "billing", "general"] {
            let a = Agent {
                id: format!("a-{skill}"),
                name: skill.into(),
                skills: vec![skill.into()],
                capacity: 5,
                seniority: Seniority::Senior,
                team: skill.into(),
                status: AgentStatus::Available,
                active: 0,
            };
            store
                .put_agent(a, "2026-11-01T00:00:00Z".parse().unwrap())
                .await
                .unwrap();
            store
                .set_agent_status(
                    &format!("a-{skill}"),
                    AgentStatus::Available,
                    baton_store::Actor {
                        key_id: "k-test".into(),
                        role: baton_store::KeyRole::Admin,
                    },
                    "2026-11-01T00:00:00Z".parse().unwrap(),
                    ROUTING,
                )
                .await
                .unwrap();
        }
        let c1 = customer("c1");
        // A: escalates at message 2 (cancellation), 60 s after the first message.
        let a = store_conversation(
            &store,
            &policy,
            "A",
            &c1,
            vec![
                msg(
                    Role::Customer,
                    "My internet was down all morning, it was awful. How much data do I have left?",
                    "2026-11-02T10:00:00Z",
                ),
                msg(Role::Ai, "You have 12 GB left.", "2026-11-02T10:00:20Z"),
                msg(
                    Role::Customer,
                    "Thanks. I want to cancel my internet subscription.",
                    "2026-11-02T10:01:00Z",
                ),
            ],
        )
        .await
        .unwrap();
        // B: the same customer, same topic (the internet, then cancelling it: A's topic whether
        // keywords alone or the topic head name it; "cancel my subscription" alone reads as
        // billing to the head since session 21), two days later: a repeat contact for A.
        let b = store_conversation(
            &store,
            &policy,
            "B",
            &c1,
            vec![msg(
                Role::Customer,
                "My internet dropped again this morning. I asked to cancel my subscription and it is still active",
                "2026-11-04T09:00:00Z",
            )],
        )
        .await
        .unwrap();
        // C: another customer, no escalation.
        store_conversation(
            &store,
            &policy,
            "C",
            &customer("c2"),
            vec![
                msg(
                    Role::Customer,
                    "Where is my parcel?",
                    "2026-11-03T12:00:00Z",
                ),
                msg(Role::Ai, "It arrives today.", "2026-11-03T12:00:05Z"),
            ],
        )
        .await;
        // A: accepted 10:05, resolved 10:35 (30 min), judged unnecessary, CSAT 2.
        work(
            &store,
            &a,
            "2026-11-02T10:05:00Z",
            "2026-11-02T10:35:00Z",
            false,
            2,
        )
        .await;
        // B: accepted 09:10, resolved 09:20 (10 min), necessary, CSAT 5.
        work(
            &store,
            &b,
            "2026-11-04T09:10:00Z",
            "2026-11-04T09:20:00Z",
            true,
            5,
        )
        .await;
        let t = |at: &str| at.parse::<jiff::Timestamp>().unwrap();
        // Conversation CSAT: A (handed off) 2, C (AI-only) 4; a second score is refused.
        store
            .conversation_csat("A", 2, t("2026-11-02T12:00:00Z"))
            .await
            .unwrap();
        store
            .conversation_csat("C", 4, t("2026-11-03T13:00:00Z"))
            .await
            .unwrap();
        assert!(store
            .conversation_csat("C", 5, t("2026-11-03T14:00:00Z"))
            .await
            .is_err());
    });
}

#[test]
fn report_figures_match_the_hand_computed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    seed(&db);
    let html = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "report",
            "--db",
            db.to_str().unwrap(),
            "--json",
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["conversations"], 3);
    assert_eq!(r["handoffs"], 2);
    assert!((r["handoff_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    // (30 min + 10 min) / 2 = 20 min.
    assert_eq!(r["mean_resolution_seconds"], 1200.0);
    assert_eq!(r["mean_csat_after_handoff"], 3.5);
    assert_eq!(r["csat_by_kind"]["handed_off"], serde_json::json!([2.0, 1]));
    assert_eq!(r["csat_by_kind"]["ai_only"], serde_json::json!([4.0, 1]));
    // A is followed by B (same customer, same topic, 2 days): 1 of 2 handed-off conversations.
    assert_eq!(r["repeat_contact_rate"], 0.5);
    assert_eq!(
        (r["judged"].clone(), r["judged_unnecessary"].clone()),
        (serde_json::json!(2), serde_json::json!(1))
    );
    assert_eq!(r["by_reason"]["cancellation"]["handoffs"], 2);
    assert_eq!(r["by_reason"]["cancellation"]["unnecessary"], 1);
    // A's customer was already upset at message 0; the cancellation came at message 2.
    assert_eq!(r["late_by_reason"], serde_json::json!({"cancellation": 1}));
    assert_eq!(r["missing"][0], serde_json::json!(["plan prices", 2]));
    // A took 2 customer messages and 60 s to escalate; B escalated on its first message.
    assert_eq!(
        r["time_to_handoff_by_complexity"]["2-3"],
        serde_json::json!([1, 60.0])
    );
    assert_eq!(
        r["time_to_handoff_by_complexity"]["1"],
        serde_json::json!([1, 0.0])
    );
    // A's quality: efficiency 15/30 = 0.5 is its weakest part; it is the lowest in the review.
    assert_eq!(r["weekly_review"][0]["conversation_id"], "A");
    assert!(
        r["weekly_review"][0]["why"]
            .as_str()
            .unwrap()
            .contains("efficiency 50%"),
        "{}",
        r["weekly_review"][0]
    );
    // A's facts and both scores (resolved straight through the store, not the server) were
    // computed from the transcripts and saved: a second report reads them back, the same.
    let again = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["report", "--db", db.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let r_again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(r_again, r);
    // A team filter keeps the denominator (all conversations) and only that team's handoffs.
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "report",
            "--db",
            db.to_str().unwrap(),
            "--json",
            "--team",
            "Nobody",
        ])
        .output()
        .unwrap();
    let r3: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r3["conversations"].clone(), r3["handoffs"].clone()),
        (serde_json::json!(3), serde_json::json!(0))
    );
    // Period filter: only B started on or after Nov 4.
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "report",
            "--db",
            db.to_str().unwrap(),
            "--json",
            "--since",
            "2026-11-04",
        ])
        .output()
        .unwrap();
    let r2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (r2["conversations"].clone(), r2["handoffs"].clone()),
        (serde_json::json!(1), serde_json::json!(1))
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Weekly review"));
}

/// Regression: `baton report --db FILE | head -0` panicked on the closed pipe (so did `replay
/// --db`).
#[test]
fn report_and_replay_end_quietly_when_the_reader_has_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    seed(&db);
    let db = db.to_str().unwrap();
    support::assert_ends_quietly_into_closed_pipe(&["report", "--db", db]);
    support::assert_ends_quietly_into_closed_pipe(&["report", "--db", db, "--json"]);
    support::assert_ends_quietly_into_closed_pipe(&[
        "replay",
        "--policy",
        "policy/default.toml",
        "--db",
        db,
    ]);
}

/// `baton export` writes what `baton analyze` and `baton eval` read back: the agents'
/// judgements become labels (necessary: the handoff's escalation; unnecessary: a false alarm).
#[test]
fn export_round_trips_through_analyze_and_eval() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    seed(&db);
    let file = dir.path().join("export.jsonl");
    let baton = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .env_remove("BATON_POLICY")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, _, err) = baton(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("exported 2 resolved conversation(s)"), "{err}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B"]);
    // A was judged unnecessary: a false alarm. B was necessary: cancellation at message 0.
    assert_eq!(lines[0]["expected"]["escalate"], false);
    assert!(lines[0]["expected"]["note"]
        .as_str()
        .unwrap()
        .contains("false alarm"));
    assert_eq!(
        (
            lines[1]["expected"]["escalate"].clone(),
            lines[1]["expected"]["at"].clone(),
            lines[1]["expected"]["reason"].clone(),
            lines[1]["expected"]["skill"].clone()
        ),
        (
            serde_json::json!(true),
            serde_json::json!(0),
            serde_json::json!("cancellation"),
            serde_json::json!("retention")
        )
    );
    assert!(lines[0]["customer"].get("name").is_none(), "{}", lines[0]);

    let (code, out, err) = baton(&["analyze", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let decided: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decided.len(), 2, "{out}");
    assert_eq!(
        (decided[0]["id"].as_str(), decided[1]["id"].as_str()),
        (Some("A"), Some("B"))
    );

    let (code, out, err) = baton(&["eval", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The engine still escalates both: B is a true positive, A (the false alarm) a false one.
    assert_eq!(r["conversations"], 2, "{r}");
    assert_eq!(
        (r["true_positives"].clone(), r["false_positives"].clone()),
        (serde_json::json!(1), serde_json::json!(1)),
        "{r}"
    );
    assert_eq!(r["timing_exact"], 1.0, "{r}");
}
