//! Context packages (snapshots over the shipped examples) and routing properties.

use baton_core::model::{parse_conversation, InputLimits};
use baton_core::routing::{choose_agent, AgentSlot, Need, Seniority};
use baton_core::{context, decide, Policy, Priority};
use proptest::prelude::*;

#[test]
fn context_packages_of_the_examples() {
    let policy = Policy::default();
    let packages: Vec<_> = include_str!("../../../examples/conversations.jsonl")
        .lines()
        .map(|l| parse_conversation(l, &InputLimits::default()).unwrap())
        .filter_map(|c| {
            let d = decide(&policy, &c);
            d.escalate.then(|| {
                let team = policy
                    .team(d.skill.as_deref().unwrap())
                    .unwrap()
                    .name
                    .clone();
                let mut p = context::build(&c, &d, &policy, Some("Sarah Chen"), &team);
                // What a queue row shows, built alone, is what the package says.
                let glance = context::glance(&c, &d, &policy);
                assert_eq!(glance.summary, p.summary);
                assert_eq!(glance.customer_state, p.customer_state);
                p.transcript.clear(); // the input itself: not worth a snapshot
                (c.id, p)
            })
        })
        .collect();
    assert_eq!(packages.len(), 7);
    insta::assert_json_snapshot!(packages);
}

fn agents() -> impl Strategy<Value = Vec<(u32, u32, u8, bool, u8)>> {
    // (capacity, active, seniority, available, skill mask)
    prop::collection::vec((1u32..4, 0u32..4, 0u8..3, any::<bool>(), 1u8..8), 0..12)
}

proptest! {
    /// Routing a stream of handoffs one at a time, as the store does, never exceeds any agent's
    /// capacity, and every assignment fits the handoff's skill and the agent's availability.
    #[test]
    fn routing_respects_skills_capacity_and_availability(
        spec in agents(),
        needs in prop::collection::vec((0usize..3, 0u8..4, any::<bool>()), 0..40),
    ) {
        let skills = ["billing", "technical", "general"];
        let ids: Vec<String> = (0..spec.len()).map(|i| format!("a{i}")).collect();
        let skill_lists: Vec<Vec<String>> = spec
            .iter()
            .map(|(.., mask)| (0..3).filter(|b| mask & (1 << b) != 0).map(|b| skills[b].to_string()).collect())
            .collect();
        let mut active: Vec<u32> = spec.iter().map(|(c, a, ..)| (*a).min(*c)).collect();
        for (skill, prio, vip) in needs {
            let slots: Vec<AgentSlot> = spec
                .iter()
                .enumerate()
                .map(|(i, (cap, _, sen, avail, _))| AgentSlot {
                    id: &ids[i],
                    skills: &skill_lists[i],
                    capacity: *cap,
                    active: active[i],
                    seniority: [Seniority::Junior, Seniority::Regular, Seniority::Senior][*sen as usize],
                    available: *avail,
                })
                .collect();
            let priority = [Priority::Low, Priority::Medium, Priority::High, Priority::Urgent][prio as usize];
            let need = Need { skill: skills[skill], priority, vip, exclude: &[] };
            let chosen = choose_agent(&need, &slots).map(str::to_string);
            let any_fits = slots.iter().any(|a| a.available && a.active < a.capacity && a.skills.iter().any(|s| s == skills[skill]));
            prop_assert_eq!(chosen.is_some(), any_fits);
            if let Some(id) = chosen {
                let i = ids.iter().position(|x| *x == id).unwrap();
                prop_assert!(spec[i].3, "assigned to an unavailable agent");
                prop_assert!(skill_lists[i].iter().any(|s| s == skills[skill]));
                active[i] += 1;
                prop_assert!(active[i] <= spec[i].0, "capacity exceeded");
            }
        }
    }
}
