//! `baton eval --explain` and `--leave-one-domain-out`: what the meaning detectors heard in each
//! miss, and the per-domain tables.

use std::io::{self, Write};

use baton_core::eval::Report;
use baton_core::lodo::DomainScore;
use baton_core::semantic::{CLASSES, DETECTORS};
use baton_core::{Conversation, Policy, Role};

fn class_name(class: usize) -> &'static str {
    if class == 0 {
        "none"
    } else {
        DETECTORS[class - 1].as_str()
    }
}

/// For each miss, each customer sentence up to the labelled message (or the decided one, or
/// the end): the best detector's score against "none", and the three nearest bank lines.
pub fn misses(
    out: &mut impl Write,
    policy: &Policy,
    report: &Report,
    conversations: &[Conversation],
) -> io::Result<()> {
    let Some(sem) = &policy.semantic else {
        return writeln!(
            out,
            "\n(no [semantic] section in the policy: nothing to explain)"
        );
    };
    writeln!(
        out,
        "\nwhat the meaning detectors heard (threshold {:.2}, margin {:.2})",
        sem.config().threshold,
        sem.config().margin
    )?;
    let mut v = vec![0.0f32; sem.dims()];
    for miss in &report.misses {
        let Some(c) = conversations.iter().find(|c| c.id == miss.id) else {
            continue;
        };
        let last = miss
            .expected
            .at
            .or(miss.decision.at)
            .unwrap_or(c.messages.len().saturating_sub(1));
        writeln!(out, "- {} [{}]", miss.id, miss.kinds.join(", "))?;
        for (i, m) in c.messages.iter().enumerate().take(last + 1) {
            if m.role != Role::Customer {
                continue;
            }
            let norm = baton_core::text::normalize(&m.text);
            for range in sem.chunks(&norm) {
                let sentence = &norm[range];
                sem.embed(sentence, &mut v);
                let (scores, none) = sem.class_scores(&v);
                let best = (1..CLASSES)
                    .max_by(|a, b| scores[*a].total_cmp(&scores[*b]))
                    .unwrap_or(1);
                let fired = sem.fires(&v).is_some();
                // The intent MLP's best detector and probability, when the policy has it on.
                let mlp = sem
                    .mlp_scores(&v)
                    .and_then(|p| {
                        (1..CLASSES)
                            .max_by(|a, b| p[*a].total_cmp(&p[*b]))
                            .map(|c| {
                                format!("; mlp {} {:.2} vs none {:.2}", class_name(c), p[c], p[0])
                            })
                    })
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    @{i} \"{}\"\n        {} {:.2} vs none {:.2}{mlp}{}",
                    sentence,
                    class_name(best),
                    scores[best],
                    none[best],
                    if fired { "  FIRES" } else { "" }
                )?;
                let near: Vec<String> = sem
                    .nearest_any(&v, 3)
                    .into_iter()
                    .map(|(j, s)| {
                        let e = &sem.examples()[j];
                        format!(
                            "[{}{} {s:.2}] '{}'",
                            if e.counter { "not " } else { "" },
                            class_name(e.class),
                            e.text
                        )
                    })
                    .collect();
                writeln!(out, "        nearest: {}", near.join("; "))?;
            }
        }
    }
    Ok(())
}

/// The per-prefix table of the labelled file and the leave-one-domain-out table of the banks.
pub fn domains(
    out: &mut impl Write,
    prefixes: &[(String, Report)],
    lodo: &[DomainScore],
) -> io::Result<()> {
    writeln!(out, "\nby id prefix (conversations)")?;
    writeln!(
        out,
        "{:<8} {:>5} {:>6} {:>6} {:>6} {:>7} {:>7} {:>7} {:>4}",
        "prefix", "conv", "prec", "recall", "F1", "timing", "reason", "skill", "FP"
    )?;
    for (p, r) in prefixes {
        writeln!(
            out,
            "{:<8} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>7.3} {:>7.3} {:>7.3} {:>4}",
            p,
            r.conversations,
            r.precision,
            r.recall,
            r.f1,
            r.timing_exact,
            r.reason_accuracy,
            r.skill_accuracy,
            r.false_positives
        )?;
    }
    if lodo.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nleave one domain out (bank lines; detectors rebuilt without the domain)"
    )?;
    writeln!(
        out,
        "{:<20} {:>5} {:>6} {:>6} {:>6} {:>7} {:>6} {:>4}",
        "domain", "lines", "prec", "recall", "F1", "reason", "topic", "FP"
    )?;
    for d in lodo {
        writeln!(
            out,
            "{:<20} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>7.3} {:>6.3} {:>4}",
            d.domain,
            d.lines,
            d.precision,
            d.recall,
            d.f1,
            d.reason_accuracy,
            d.topic_accuracy,
            d.false_positives
        )?;
    }
    Ok(())
}
