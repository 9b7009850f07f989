//! The report's figures from the period's handoff rows: no I/O.

use std::collections::{BTreeMap, HashMap};

use baton_store::{HandoffMetrics, HandoffStatus};

use crate::{Report, Reviewed};

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The entry of `key`, allocating the key only the first time.
fn group<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// Everything in the report but its period and suggested changes: `conversations` started in the
/// period, their CSAT by kind as `(kind, mean, count)`, and the period's `handoffs` (oldest first,
/// with their facts and scores filled in where they could be).
pub fn figures(
    conversations: u64,
    csat_by_kind: Vec<(String, f64, u64)>,
    handoffs: &[HandoffMetrics],
) -> Report {
    let mut r = Report {
        conversations,
        handoffs: handoffs.len() as u64,
        ..Default::default()
    };
    r.csat_by_kind = csat_by_kind
        .into_iter()
        .map(|(kind, mean, n)| (kind, (mean, n)))
        .collect();
    let (mut resolution, mut csat, mut quality_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut repeat = 0u64;
    let mut missing: HashMap<String, u64> = HashMap::new();
    let mut per_day: HashMap<jiff::civil::Date, u64> = HashMap::new();
    // (score, index) of every scored resolved handoff: only the lowest ten become review rows.
    let mut scored: Vec<(f64, usize)> = Vec::with_capacity(handoffs.len());
    for (i, h) in handoffs.iter().enumerate() {
        *per_day
            .entry(h.created_at.to_zoned(jiff::tz::TimeZone::UTC).date())
            .or_default() += 1;
        if let Some(f) = h.facts {
            let bucket = match f.customer_messages {
                0 | 1 => "1",
                2 | 3 => "2-3",
                _ => "4+",
            };
            let e = group(&mut r.time_to_handoff_by_complexity, bucket);
            e.0 += 1;
            e.1 += f.seconds_to_handoff;
            if f.late {
                *group(&mut r.late_by_reason, h.reason.as_str()) += 1;
            }
        }
        if let (Some(a), Some(b)) = (h.accepted_at, h.resolved_at) {
            resolution.push(b.duration_since(a).as_secs_f64().max(0.0));
        }
        if let Some(s) = h.csat {
            csat.push(s as f64);
        }
        if let Some(n) = h.necessary {
            r.judged += 1;
            r.judged_unnecessary += (!n) as u64;
        }
        if let Some(m) = h
            .missing
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            *missing.entry(m.to_lowercase()).or_default() += 1;
        }
        repeat += h.repeat_contact as u64;
        let score = h.quality.as_ref().map(|q| q.0);
        if let Some(score) = score {
            quality_all.push(score);
            r.quality_histogram[((score / 10.0) as usize).min(9)] += 1;
            // Only finished work is reviewed: an open handoff's score is not final.
            if h.status == HandoffStatus::Resolved {
                scored.push((score, i));
            }
        }
        for (map, key) in [
            (&mut r.by_reason, h.reason.as_str()),
            (&mut r.by_skill, h.skill.as_str()),
            (&mut r.by_team, h.team.as_str()),
        ] {
            let g = group(map, key);
            g.handoffs += 1;
            g.unnecessary += (h.necessary == Some(false)) as u64;
            if let Some(score) = score {
                g.quality_sum += score;
                g.scored += 1;
            }
        }
    }
    r.handoffs_per_day = per_day
        .into_iter()
        .map(|(day, n)| (day.to_string(), n))
        .collect();
    let lowest = |a: &(f64, usize), b: &(f64, usize)| {
        a.0.total_cmp(&b.0)
            .then_with(|| handoffs[a.1].id.cmp(&handoffs[b.1].id))
    };
    if scored.len() > 10 {
        scored.select_nth_unstable_by(10, lowest);
        scored.truncate(10);
    }
    scored.sort_by(lowest);
    r.weekly_review = scored
        .into_iter()
        .map(|(score, i)| {
            let h = &handoffs[i];
            Reviewed {
                handoff_id: h.id.clone(),
                conversation_id: h.conversation_id.clone(),
                reason: h.reason.to_string(),
                score,
                why: h.quality.as_ref().map(|q| q.1.clone()).unwrap_or_default(),
            }
        })
        .collect();
    for map in [&mut r.by_reason, &mut r.by_skill, &mut r.by_team] {
        for g in map.values_mut() {
            g.mean_quality =
                (g.scored > 0).then(|| (g.quality_sum / g.scored as f64 * 10.0).round() / 10.0);
        }
    }
    r.handoff_rate = if r.conversations > 0 {
        r.handoffs as f64 / r.conversations as f64
    } else {
        0.0
    };
    r.mean_resolution_seconds = mean(&resolution);
    r.mean_csat_after_handoff = mean(&csat);
    r.csat_count = csat.len() as u64;
    r.repeat_contact_rate = (!handoffs.is_empty()).then(|| repeat as f64 / handoffs.len() as f64);
    r.mean_quality = mean(&quality_all).map(|q| (q * 10.0).round() / 10.0);
    for v in r.time_to_handoff_by_complexity.values_mut() {
        v.1 /= v.0.max(1) as f64;
    }
    let mut missing: Vec<(String, u64)> = missing.into_iter().collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    r.missing = missing.into_iter().take(10).collect();
    if r.csat_by_kind.is_empty() {
        r.notes.push("No conversation CSAT yet (POST /v1/conversations/{id}/csat): handed-off, AI-only and human-only conversations cannot be compared.".into());
    }
    if r.judged == 0 {
        r.notes.push("No handoff has a human judgement (`necessary`) yet: suggestions need resolved handoffs.".into());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::EscalationFacts;

    fn handoff(id: &str, status: HandoffStatus, quality: Option<f64>) -> HandoffMetrics {
        HandoffMetrics {
            id: id.into(),
            conversation_id: format!("c-{id}"),
            status,
            skill: "billing".into(),
            team: "Billing".into(),
            reason: "cancellation".into(),
            created_at: "2026-11-02T09:00:00Z".parse().unwrap(),
            accepted_at: Some("2026-11-02T09:05:00Z".parse().unwrap()),
            resolved_at: Some("2026-11-02T09:15:00Z".parse().unwrap()),
            necessary: None,
            missing: None,
            csat: None,
            transfers: 0,
            facts: None,
            quality: quality.map(|q| (q, format!("why {id}"))),
            repeat_contact: false,
        }
    }

    #[test]
    fn figures_add_up_over_the_handoffs() {
        let mut a = handoff("a", HandoffStatus::Resolved, Some(42.0));
        a.necessary = Some(false);
        a.missing = Some(" Plan prices ".into());
        a.csat = Some(2);
        a.repeat_contact = true;
        a.facts = Some(EscalationFacts {
            at: 2,
            customer_messages: 2,
            seconds_to_handoff: 60.0,
            late: true,
        });
        let mut b = handoff("b", HandoffStatus::Resolved, Some(90.0));
        b.necessary = Some(true);
        b.missing = Some("plan prices".into());
        b.created_at = "2026-11-03T10:00:00Z".parse().unwrap();
        // Open: scored (10 falls in the 10-20 bucket), but not reviewed (its score is not final).
        let c = handoff("c", HandoffStatus::Assigned, Some(10.0));
        let r = figures(4, vec![("handed_off".into(), 2.0, 1)], &[a, b, c]);
        assert_eq!((r.conversations, r.handoffs), (4, 3));
        assert_eq!(r.handoff_rate, 0.75);
        assert_eq!(r.mean_resolution_seconds, Some(600.0));
        assert_eq!((r.mean_csat_after_handoff, r.csat_count), (Some(2.0), 1));
        assert_eq!(r.csat_by_kind["handed_off"], (2.0, 1));
        assert_eq!(r.repeat_contact_rate, Some(1.0 / 3.0));
        assert_eq!((r.judged, r.judged_unnecessary), (2, 1));
        assert_eq!(r.late_by_reason["cancellation"], 1);
        assert_eq!(r.time_to_handoff_by_complexity["2-3"], (1, 60.0));
        assert_eq!(r.missing, vec![("plan prices".to_string(), 2)]);
        assert_eq!(r.mean_quality, Some(47.3));
        assert_eq!(r.quality_histogram, [0, 1, 0, 0, 1, 0, 0, 0, 0, 1]);
        assert_eq!(r.handoffs_per_day["2026-11-02"], 2);
        let g = &r.by_reason["cancellation"];
        assert_eq!(
            (g.handoffs, g.unnecessary, g.mean_quality),
            (3, 1, Some(47.3))
        );
        let review: Vec<_> = r
            .weekly_review
            .iter()
            .map(|x| x.handoff_id.as_str())
            .collect();
        assert_eq!(review, ["a", "b"]);
        assert_eq!(r.weekly_review[0].why, "why a");
        // CSAT by kind is there and some handoff is judged: no note.
        assert!(r.notes.is_empty(), "{:?}", r.notes);
    }

    #[test]
    fn an_empty_period_says_what_it_cannot_tell() {
        let r = figures(0, Vec::new(), &[]);
        assert_eq!((r.handoff_rate, r.repeat_contact_rate), (0.0, None));
        assert_eq!(r.notes.len(), 2, "{:?}", r.notes);
    }
}
