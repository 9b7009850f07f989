//! Routing: which agent takes a handoff, in which order the queue is served, and how long a
//! queued customer will wait. Plain functions over plain data; the store applies them inside the
//! transaction that writes the assignment, so a handoff is never assigned twice and no agent goes
//! above capacity.

use serde::{Deserialize, Serialize};

use crate::policy::Priority;
use jiff::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seniority {
    Junior,
    Regular,
    Senior,
}

impl Seniority {
    pub fn as_str(self) -> &'static str {
        match self {
            Seniority::Junior => "junior",
            Seniority::Regular => "regular",
            Seniority::Senior => "senior",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "junior" => Some(Seniority::Junior),
            "regular" => Some(Seniority::Regular),
            "senior" => Some(Seniority::Senior),
            _ => None,
        }
    }
}

/// An agent as routing sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSlot<'a> {
    pub id: &'a str,
    pub skills: &'a [String],
    pub capacity: u32,
    pub active: u32,
    pub seniority: Seniority,
    /// Available and on shift.
    pub available: bool,
}

/// What a handoff needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Need<'a> {
    pub skill: &'a str,
    pub priority: Priority,
    pub vip: bool,
    /// Agents this handoff must not go to (e.g. one who let it time out).
    pub exclude: &'a [String],
}

/// The agent to assign, if any can take it now.
///
/// Returns an agent if and only if one is available, has the skill, is below capacity and is
/// not excluded. High and urgent priorities and VIPs go to a senior agent when one qualifies;
/// otherwise the least loaded agent (by share of capacity, then by count, then by id) wins.
pub fn choose_agent<'a>(need: &Need, agents: &[AgentSlot<'a>]) -> Option<&'a str> {
    let fits = |a: &&AgentSlot| {
        a.available
            && a.active < a.capacity
            && a.skills.iter().any(|s| s == need.skill)
            && !need.exclude.iter().any(|e| e == a.id)
    };
    let wants_senior = need.vip || need.priority >= Priority::High;
    agents
        .iter()
        .filter(fits)
        .min_by(|a, b| {
            let senior = |x: &AgentSlot| !(wants_senior && x.seniority == Seniority::Senior);
            let load = |x: &AgentSlot| x.active as f64 / x.capacity as f64;
            senior(a)
                .cmp(&senior(b))
                .then(load(a).total_cmp(&load(b)))
                .then(a.active.cmp(&b.active))
                .then(a.id.cmp(b.id))
        })
        .map(|a| a.id)
}

/// A queued handoff as the queue sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued<'a> {
    pub id: &'a str,
    pub skill: &'a str,
    pub priority: Priority,
    /// Milliseconds since it was queued (the order among equals: first come, first served).
    pub waited_ms: i64,
}

impl<'a> Queued<'a> {
    /// A handoff waiting since `since`, as the queue sees it at `now`.
    pub fn since(
        id: &'a str,
        skill: &'a str,
        priority: Priority,
        since: Timestamp,
        now: Timestamp,
    ) -> Self {
        Queued {
            id,
            skill,
            priority,
            waited_ms: now.as_millisecond() - since.as_millisecond(),
        }
    }
}

/// Queue rank: priority, raised one level for every `ageing_seconds` waited, so that a low
/// priority handoff is never starved. Higher is served first.
pub fn rank(q: &Queued, ageing_seconds: i64) -> i64 {
    let base = q.priority as i64;
    base + q.waited_ms.max(0) / (ageing_seconds.max(1) * 1000)
}

/// Orders a queue in place: highest rank first, then longest wait, then id.
pub fn order_queue(queue: &mut [Queued], ageing_seconds: i64) {
    queue.sort_by(|a, b| {
        rank(b, ageing_seconds)
            .cmp(&rank(a, ageing_seconds))
            .then(b.waited_ms.cmp(&a.waited_ms))
            .then(a.id.cmp(b.id))
    });
}

/// Expected wait of the handoff at 0-based `position` among those of its skill, when `agents` of
/// that skill are on shift, each taking `capacity` conversations at once, and a conversation
/// takes `handle_seconds` on average. `busy` is how many of those slots are taken now.
///
/// Slots free up at `agents * capacity / handle_seconds` per second on average; the customer
/// waits for `position + 1` of them, less any slot free now.
pub fn eta_seconds(
    position: usize,
    agents: u32,
    capacity: u32,
    busy: u32,
    handle_seconds: f64,
) -> Option<f64> {
    let slots = agents * capacity;
    if slots == 0 || handle_seconds <= 0.0 {
        return None;
    }
    let free_now = slots.saturating_sub(busy) as usize;
    if position < free_now {
        return Some(0.0);
    }
    let ahead = (position - free_now + 1) as f64;
    Some(ahead * handle_seconds / slots as f64)
}

/// Expected wait of the handoff at 0-based `position` among those of its skill, with these
/// agents of the skill on shift, as `(capacity, active)`. `None` when nobody is on shift.
pub fn queue_eta(position: usize, on_shift: &[(u32, u32)], handle_seconds: f64) -> Option<f64> {
    let agents = on_shift.len() as u32;
    if agents == 0 {
        return None;
    }
    let capacity: u32 = on_shift.iter().map(|(capacity, _)| capacity).sum();
    let busy: u32 = on_shift
        .iter()
        .map(|(capacity, active)| (*active).min(*capacity))
        .sum();
    // Mean capacity per agent keeps the formula's agents x capacity = total slots.
    eta_seconds(
        position,
        agents,
        capacity.div_ceil(agents),
        busy,
        handle_seconds,
    )
}

/// Mean seconds an agent spends on a handoff of a skill: the mean accept-to-resolve time of
/// `handled`, `(accepted, resolved)` of its latest resolved handoffs (at most `sample`), blended
/// with `default_seconds` until `sample` of them exist, so one quick case does not promise 5 s.
pub fn handle_seconds(
    handled: &[(jiff::Timestamp, jiff::Timestamp)],
    sample: usize,
    default_seconds: f64,
) -> f64 {
    let n = handled.len();
    let total: f64 = handled
        .iter()
        .map(|(accepted, resolved)| resolved.duration_since(*accepted).as_secs_f64().max(0.0))
        .sum();
    let weight = (n as f64 / sample.max(1) as f64).min(1.0);
    let observed = if n > 0 {
        total / n as f64
    } else {
        default_seconds
    };
    weight * observed + (1.0 - weight) * default_seconds
}

/// "about 2 minutes", "under a minute", "about 1 hour 10 minutes".
pub fn describe_wait(seconds: f64) -> String {
    let s = seconds.round() as i64;
    if s < 60 {
        return "under a minute".to_string();
    }
    let minutes = (s + 30) / 60;
    if minutes < 60 {
        return format!(
            "about {minutes} minute{}",
            if minutes == 1 { "" } else { "s" }
        );
    }
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 {
        format!("about {h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        format!(
            "about {h} hour{} {m} minutes",
            if h == 1 { "" } else { "s" }
        )
    }
}

/// The Erlang C probability that an arrival waits, and the mean wait in seconds, for `agents`
/// servers, arrival rate `lambda` per second and mean handle time `handle_seconds`. `None` when
/// the system is overloaded (traffic >= agents).
pub fn erlang_c(agents: u32, lambda: f64, handle_seconds: f64) -> Option<(f64, f64)> {
    let a = lambda * handle_seconds; // offered traffic in Erlangs
    let n = agents as f64;
    if agents == 0 || a >= n {
        return None;
    }
    // Sum_{k<n} a^k/k! computed iteratively, then the n-th term scaled by n/(n-a).
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..agents {
        term *= a / k as f64;
        sum += term;
    }
    let last = term * a / n * (n / (n - a));
    let p_wait = last / (sum + last);
    let mean_wait = p_wait * handle_seconds / (n - a);
    Some((p_wait, mean_wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_time_leans_on_the_default_until_the_sample_is_full() {
        let t = |s: i64| jiff::Timestamp::from_second(s).unwrap();
        assert_eq!(handle_seconds(&[], 10, 300.0), 300.0);
        // One 100 s case of a sample of 10: 0.1 x 100 + 0.9 x 300.
        assert!((handle_seconds(&[(t(0), t(100))], 10, 300.0) - 280.0).abs() < 1e-9);
        let full: Vec<_> = (0..10).map(|i| (t(i), t(i + 60))).collect();
        assert!((handle_seconds(&full, 10, 300.0) - 60.0).abs() < 1e-9);
        // A resolve stamped before its accept counts as no time, not negative time.
        assert_eq!(handle_seconds(&[(t(100), t(0))], 1, 300.0), 0.0);
    }

    #[test]
    fn the_queue_eta_needs_someone_on_shift_and_counts_free_slots() {
        assert_eq!(queue_eta(0, &[], 60.0), None);
        // Two agents, 3 slots each, 5 busy: the first in the queue takes the free slot now.
        assert_eq!(queue_eta(0, &[(3, 3), (3, 2)], 60.0), Some(0.0));
        assert_eq!(queue_eta(1, &[(3, 3), (3, 2)], 60.0), Some(10.0));
        // More active than capacity (capacity lowered meanwhile) counts as full, not more.
        assert_eq!(queue_eta(0, &[(1, 4)], 60.0), Some(60.0));
    }

    fn agent<'a>(
        id: &'a str,
        skills: &'a [String],
        active: u32,
        seniority: Seniority,
    ) -> AgentSlot<'a> {
        AgentSlot {
            id,
            skills,
            capacity: 3,
            active,
            seniority,
            available: true,
        }
    }

    #[test]
    fn skills_capacity_seniority_and_load() {
        let billing = vec!["billing".to_string()];
        let tech = vec!["technical".to_string()];
        let agents = [
            agent("a", &billing, 1, Seniority::Junior),
            agent("b", &billing, 0, Seniority::Regular),
            agent("c", &billing, 2, Seniority::Senior),
            agent("d", &tech, 0, Seniority::Senior),
            agent("e", &billing, 3, Seniority::Senior),
        ];
        let need = |priority, vip| Need {
            skill: "billing",
            priority,
            vip,
            exclude: &[],
        };
        assert_eq!(
            choose_agent(&need(Priority::Medium, false), &agents),
            Some("b")
        );
        assert_eq!(
            choose_agent(&need(Priority::High, false), &agents),
            Some("c")
        );
        assert_eq!(choose_agent(&need(Priority::Low, true), &agents), Some("c"));
        let excluded = vec!["b".to_string()];
        let n = Need {
            skill: "billing",
            priority: Priority::Low,
            vip: false,
            exclude: &excluded,
        };
        assert_eq!(choose_agent(&n, &agents), Some("a"));
        let n = Need {
            skill: "legal",
            priority: Priority::Low,
            vip: false,
            exclude: &[],
        };
        assert_eq!(choose_agent(&n, &agents), None);
    }

    #[test]
    fn ageing_lifts_low_priority() {
        let mut q = vec![
            Queued {
                id: "old-low",
                skill: "b",
                priority: Priority::Low,
                waited_ms: 1_000_000,
            },
            Queued {
                id: "new-high",
                skill: "b",
                priority: Priority::High,
                waited_ms: 10_000,
            },
            Queued {
                id: "new-med",
                skill: "b",
                priority: Priority::Medium,
                waited_ms: 5_000,
            },
        ];
        order_queue(&mut q, 300);
        assert_eq!(q[0].id, "old-low");
        order_queue(&mut q, 100_000);
        assert_eq!(q[0].id, "new-high");
    }

    #[test]
    fn eta_and_words() {
        assert_eq!(eta_seconds(0, 2, 3, 5, 300.0), Some(0.0));
        assert_eq!(eta_seconds(1, 2, 3, 6, 300.0), Some(100.0));
        assert_eq!(eta_seconds(0, 0, 3, 0, 300.0), None);
        assert_eq!(describe_wait(100.0), "about 2 minutes");
        assert_eq!(describe_wait(20.0), "under a minute");
        assert_eq!(describe_wait(4000.0), "about 1 hour 7 minutes");
    }

    #[test]
    fn erlang_c_matches_a_textbook_case() {
        // 10 agents, 2 calls per minute... classic: A = 8 Erlangs on 10 agents -> P(wait) ~ 0.409.
        let (p, _) = erlang_c(10, 8.0 / 180.0, 180.0).unwrap();
        assert!((p - 0.409).abs() < 0.005, "{p}");
        assert!(erlang_c(2, 1.0, 3.0).is_none());
    }
}
