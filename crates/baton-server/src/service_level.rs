//! Service level per team for the lead dashboard: who waits now and for how long, and how many
//! handoffs a person answered within the team's target today (in the team's own time zone).
//!
//! A handoff is *answered* when a person accepts it. Its wait starts when it was (last) queued,
//! or at its callback time, or when it was created.

use baton_core::Policy;
use baton_store::{Handoff, HandoffStatus};
use jiff::Timestamp;
use serde::Serialize;

/// One team's service level now and today, against its `target_seconds` from the policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamService {
    pub team: String,
    pub skill: String,
    /// Seconds within which a handoff should be answered (the policy's `teams.target_seconds`).
    pub target_seconds: u64,
    /// Handoffs waiting for a person now: queued, or offered and not accepted yet.
    pub waiting: u64,
    /// Of those, the ones already waiting longer than the target.
    pub waiting_past_target: u64,
    /// The longest wait among them, in seconds (none when nobody waits).
    pub longest_wait_seconds: Option<f64>,
    /// Handoffs a person accepted today.
    pub answered_today: u64,
    /// Of those, the ones accepted within the target.
    pub answered_within_target: u64,
    /// `answered_within_target / (answered_today + waiting_past_target)`; none when both are 0.
    pub service_level: Option<f64>,
    /// Handoffs past the target today: answered late, or still waiting past it.
    pub breaches_today: u64,
}

/// When the customer of `h` started waiting for the person who has (or will have) it.
fn wait_start(h: &Handoff) -> Timestamp {
    h.queued_at.or(h.callback_at).unwrap_or(h.created_at)
}

/// The service level of every team of `policy`, from `handoffs` (every open handoff and at least
/// those resolved today), at `now`.
pub fn by_team(policy: &Policy, handoffs: &[Handoff], now: Timestamp) -> Vec<TeamService> {
    policy
        .teams
        .iter()
        .map(|team| {
            let target = team.target_seconds as f64;
            let today = now
                .to_zoned(team.hours.timezone.clone())
                .start_of_day()
                .map_or(now, |z| z.timestamp());
            let mut s = TeamService {
                team: team.name.clone(),
                skill: team.skill.clone(),
                target_seconds: team.target_seconds,
                waiting: 0,
                waiting_past_target: 0,
                longest_wait_seconds: None,
                answered_today: 0,
                answered_within_target: 0,
                service_level: None,
                breaches_today: 0,
            };
            for h in handoffs.iter().filter(|h| h.skill == team.skill) {
                match h.status {
                    HandoffStatus::Queued | HandoffStatus::Assigned => {
                        let start = wait_start(h);
                        let waited = now.duration_since(start).as_secs_f64().max(0.0);
                        s.waiting += 1;
                        s.waiting_past_target += (waited > target) as u64;
                        s.longest_wait_seconds =
                            Some(s.longest_wait_seconds.unwrap_or(0.0).max(waited));
                    }
                    HandoffStatus::Accepted | HandoffStatus::Resolved => {
                        let Some(accepted) = h.accepted_at else {
                            continue;
                        };
                        if accepted < today {
                            continue;
                        }
                        // A later transfer re-queues it after the acceptance: count the first wait.
                        let start = Some(wait_start(h))
                            .filter(|s| *s <= accepted)
                            .unwrap_or(h.created_at);
                        s.answered_today += 1;
                        s.answered_within_target +=
                            (accepted.duration_since(start).as_secs_f64() <= target) as u64;
                    }
                    HandoffStatus::Callback => {}
                }
            }
            s.breaches_today = s.answered_today - s.answered_within_target + s.waiting_past_target;
            let offered = s.answered_today + s.waiting_past_target;
            s.service_level =
                (offered > 0).then(|| s.answered_within_target as f64 / offered as f64);
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff(status: HandoffStatus, created: &str, accepted: Option<&str>) -> Handoff {
        Handoff {
            id: format!("h-{created}"),
            conversation_id: "c".into(),
            status,
            skill: "billing".into(),
            team: "Billing".into(),
            priority: baton_core::Priority::Medium,
            reason: "explicit_request".into(),
            vip: false,
            agent_id: None,
            created_at: created.parse().unwrap(),
            queued_at: None,
            assigned_at: None,
            accepted_at: accepted.map(|a| a.parse().unwrap()),
            resolved_at: None,
            callback_at: None,
            resolution: None,
            necessary: None,
            missing: None,
            csat: None,
            transfers: 0,
            eta_seconds: None,
            notes: Vec::new(),
        }
    }

    #[test]
    fn waits_answers_and_breaches_are_counted_against_the_team_target() {
        let policy = Policy::default();
        let billing = policy.team("billing").unwrap();
        let target = billing.target_seconds as i64;
        let now: Timestamp = "2026-11-29T12:00:00Z".parse().unwrap();
        let ago = |s: i64| (now - jiff::SignedDuration::from_secs(s)).to_string();
        let handoffs = [
            // Waiting: one within the target, one past it.
            handoff(HandoffStatus::Queued, &ago(target / 2), None),
            handoff(HandoffStatus::Assigned, &ago(target * 3), None),
            // Answered today: one in time, one late (and resolved since).
            handoff(
                HandoffStatus::Accepted,
                &ago(600),
                Some(&ago(600 - target / 2)),
            ),
            handoff(
                HandoffStatus::Resolved,
                &ago(9000),
                Some(&ago(9000 - target * 2)),
            ),
            // Answered yesterday: not today's.
            handoff(
                HandoffStatus::Resolved,
                &ago(86_400 * 2),
                Some(&ago(86_400 * 2 - 5)),
            ),
        ];
        let teams = by_team(&policy, &handoffs, now);
        let b = teams.iter().find(|t| t.skill == "billing").unwrap();
        assert_eq!((b.waiting, b.waiting_past_target), (2, 1), "{b:?}");
        assert_eq!(b.longest_wait_seconds, Some((target * 3) as f64));
        assert_eq!(
            (b.answered_today, b.answered_within_target),
            (2, 1),
            "{b:?}"
        );
        assert_eq!(b.breaches_today, 2);
        assert_eq!(b.service_level, Some(1.0 / 3.0));
        // Every team is listed, with nothing to count for the others.
        assert_eq!(teams.len(), policy.teams.len());
        let t = teams.iter().find(|t| t.skill == "technical").unwrap();
        assert_eq!((t.waiting, t.service_level), (0, None));
    }
}
