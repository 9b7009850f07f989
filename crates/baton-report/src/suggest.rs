//! The feedback loop's arithmetic: policy changes worth trying, each replayed over handed-off
//! conversations with the humans' judgements as labels. No I/O.

use std::collections::HashMap;

use baton_core::model::Conversation;
use baton_core::replay::Replay;
use baton_core::{decide, Decision, Policy};

use crate::{Abandoned, Suggestion};

/// Policy changes worth trying, each a description and the changed policy. They are made by
/// editing a copy of the compiled policy (its matchers are shared, not compiled again), so trying
/// them costs only the replay. Only changes that can take handoffs away: they are replayed over
/// handed-off conversations (`baton replay` tries any change over every stored conversation).
pub(crate) fn candidates(policy: &Policy) -> Vec<(String, Policy)> {
    let mut out = Vec::new();
    let mut edit = |change: String, apply: &dyn Fn(&mut Policy)| {
        let mut p = policy.clone();
        apply(&mut p);
        out.push((change, p));
    };
    let t = policy.low_confidence.threshold;
    for d in [-0.10, -0.05] {
        let new = ((t + d) * 100.0).round() / 100.0;
        if (0.0..=1.0).contains(&new) {
            edit(
                format!("low_confidence.threshold {t:.2} -> {new:.2}"),
                &|p: &mut Policy| p.low_confidence.threshold = new,
            );
        }
    }
    let r = policy.message_length.ratio;
    edit(
        format!("message_length.ratio {r} -> {}", r + 1.0),
        &|p: &mut Policy| p.message_length.ratio = r + 1.0,
    );
    let mb = policy.sentiment_drop.message_below;
    let new_mb = ((mb - 0.1) * 10.0).round() / 10.0;
    if new_mb >= -1.0 {
        edit(
            format!("sentiment_drop.message_below {mb} -> {new_mb}"),
            &|p: &mut Policy| p.sentiment_drop.message_below = new_mb,
        );
    }
    let v = policy.vip.substantive_message;
    edit(
        format!("vip.substantive_message {v} -> {}", v + 1),
        &|p: &mut Policy| p.vip.substantive_message = v + 1,
    );
    type Disable = fn(&mut Policy);
    let rules: [(&str, bool, Disable); 4] = [
        ("frustration", policy.frustration.enabled, |p| {
            p.frustration.enabled = false
        }),
        ("sentiment_drop", policy.sentiment_drop.enabled, |p| {
            p.sentiment_drop.enabled = false
        }),
        ("message_length", policy.message_length.enabled, |p| {
            p.message_length.enabled = false
        }),
        ("repeated_question", policy.repeated_question.enabled, |p| {
            p.repeated_question.enabled = false
        }),
    ];
    for (rule, enabled, disable) in rules {
        if enabled {
            edit(format!("disable {rule}"), &disable);
        }
    }
    out
}

/// Every candidate change that changes something over `conversations`, best first (most
/// unnecessary handoffs avoided net of necessary ones lost). `labels`: the humans' judgement
/// (necessary or not) by conversation id. `None` when the report was abandoned.
pub(crate) fn replay_candidates(
    policy: &Policy,
    conversations: impl ExactSizeIterator<Item = Conversation>,
    labels: &HashMap<String, bool>,
    stop: &Abandoned,
) -> Option<Vec<Suggestion>> {
    let mut convs = Vec::with_capacity(conversations.len());
    for conv in conversations {
        if stop.is_set() {
            return None;
        }
        let current = decide(policy, &conv);
        convs.push((conv, current));
    }
    let candidates = candidates(policy);
    // Candidates are independent: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = candidates.len().div_ceil(threads.max(1)).max(1);
    let mut out = std::thread::scope(|scope| {
        let workers: Vec<_> = candidates
            .chunks(per)
            .map(|part| {
                let convs = &convs;
                scope.spawn(move || {
                    part.iter()
                        .map(|(change, candidate)| {
                            try_candidate(policy, change, candidate, convs, labels, stop)
                        })
                        .collect::<Option<Vec<_>>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect::<Option<Vec<Vec<_>>>>()
    })
    .map(|parts| parts.into_iter().flatten().flatten().collect::<Vec<_>>())?;
    out.sort_by(|a, b| {
        (b.unnecessary_avoided as i64 - b.necessary_lost as i64)
            .cmp(&(a.unnecessary_avoided as i64 - a.necessary_lost as i64))
            .then(a.handoffs_changed.cmp(&b.handoffs_changed))
            .then(a.change.cmp(&b.change))
    });
    Some(out)
}

/// `None` when the report was abandoned; `Some(None)` when the change changes nothing.
fn try_candidate(
    policy: &Policy,
    change: &str,
    candidate: &Policy,
    convs: &[(Conversation, Decision)],
    labels: &HashMap<String, bool>,
    stop: &Abandoned,
) -> Option<Option<Suggestion>> {
    let mut replay = Replay::new(policy, candidate, 0);
    let (mut avoided, mut lost) = (0, 0);
    for (conv, current) in convs {
        if stop.is_set() {
            return None;
        }
        let label = labels.get(conv.id.as_str()).copied();
        let (before, after) = replay.add_decided(conv, current.clone(), label);
        match (before.escalate, after.escalate, label) {
            (true, false, Some(false)) => avoided += 1,
            (true, false, Some(true)) => lost += 1,
            _ => {}
        }
    }
    let rep = replay.finish();
    let changed = rep.would_escalate_now + rep.would_no_longer_escalate + rep.other_changes;
    Some((changed > 0).then(|| Suggestion {
        change: change.to_string(),
        handoffs_changed: changed,
        unnecessary_avoided: avoided,
        necessary_lost: lost,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::model::{parse_conversation, InputLimits};
    use baton_core::policy::DEFAULT_POLICY;

    /// `source` as someone else might write it: no comments, keys in another order (the TOML
    /// crate's), padded `=` and indented lines, comment lines of its own.
    fn reformatted(source: &str) -> String {
        let table: toml::Table = source.parse().unwrap();
        let mut out = String::from("# our policy, reformatted\n");
        let mut in_string = false;
        for line in toml::to_string(&table).unwrap().lines() {
            if in_string {
                out.push_str(line);
            } else {
                out.push_str("#\n    ");
                out.push_str(&line.replacen(" = ", "   =   ", 1));
            }
            out.push('\n');
            in_string ^= line.matches("\"\"\"").count() % 2 == 1;
        }
        out
    }

    fn suggestions(policy: &Policy) -> Vec<Suggestion> {
        let limits = InputLimits::default();
        let convs: Vec<Conversation> = include_str!("../../../examples/conversations.jsonl")
            .lines()
            .map(|l| parse_conversation(l, &limits).unwrap())
            .collect();
        // Every other conversation judged unnecessary, so some change avoids or loses one.
        let labels = convs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i % 2 == 0))
            .collect();
        replay_candidates(policy, convs.into_iter(), &labels, &Abandoned::default()).unwrap()
    }

    /// Regression (issue 13): suggested changes are edits of the policy value, so a policy
    /// written differently from the shipped file gets the same suggestions.
    #[test]
    fn a_differently_formatted_policy_gets_the_same_suggestions() {
        let other = reformatted(DEFAULT_POLICY);
        assert_ne!(other, DEFAULT_POLICY);
        assert!(!other.contains("threshold = "), "{other}");
        let shipped = Policy::from_toml(DEFAULT_POLICY).unwrap();
        let theirs = Policy::from_toml(&other).unwrap();
        let changes = |p: &Policy| {
            candidates(p)
                .into_iter()
                .map(|(c, _)| c)
                .collect::<Vec<_>>()
        };
        assert_eq!(changes(&shipped), changes(&theirs));
        assert!(changes(&theirs)
            .iter()
            .any(|c| c.starts_with("low_confidence.threshold")));
        let (a, b) = (suggestions(&shipped), suggestions(&theirs));
        assert!(!a.is_empty());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
