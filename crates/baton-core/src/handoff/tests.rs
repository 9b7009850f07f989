use super::*;
use proptest::prelude::*;
use HandoffStatus::*;

const NOW: &str = "2026-11-27T10:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn t(at: &str) -> Timestamp {
    at.parse().unwrap()
}

/// A handoff as the store holds it in `status`: offered to or taken by `ann` when assigned,
/// accepted or resolved.
fn handoff(status: HandoffStatus) -> Handoff {
    let with_agent = matches!(status, Assigned | Accepted | Resolved);
    Handoff {
        id: "h1".into(),
        conversation_id: "c1".into(),
        status,
        skill: "billing".into(),
        team: "Billing".into(),
        priority: Priority::High,
        reason: "explicit_request".into(),
        vip: false,
        agent_id: with_agent.then(|| "ann".into()),
        created_at: t("2026-11-27T09:00:00Z"),
        queued_at: Some(t("2026-11-27T09:00:00Z")),
        assigned_at: with_agent.then(|| t("2026-11-27T09:59:00Z")),
        accepted_at: matches!(status, Accepted | Resolved).then(|| t("2026-11-27T09:59:30Z")),
        resolved_at: (status == Resolved).then(|| t("2026-11-27T09:59:50Z")),
        callback_at: (status == Callback).then(|| t("2026-11-27T09:30:00Z")),
        resolution: (status == Resolved).then(|| "refunded".into()),
        necessary: (status == Resolved).then_some(true),
        missing: None,
        csat: None,
        transfers: 0,
        eta_seconds: None,
        notes: Vec::new(),
    }
}

fn accept(agent: &str) -> Transition {
    Transition::Accept {
        agent_id: agent.into(),
    }
}

fn transfer(to_agent: Option<&str>) -> Transition {
    Transition::Transfer {
        to_agent: to_agent.map(String::from),
        to_skill: Some("tech".into()),
        to_team: Some("Tech".into()),
        note: "needs a refund".into(),
    }
}

fn resolve() -> Transition {
    Transition::Resolve {
        resolution: "refunded".into(),
        necessary: true,
        missing: Some("order history".into()),
    }
}

fn callback() -> Transition {
    Transition::Callback {
        at: t("2026-11-28T09:00:00Z"),
    }
}

const FREE: AgentLoad = AgentLoad {
    active: 1,
    capacity: 3,
};
const BUSY: AgentLoad = AgentLoad {
    active: 3,
    capacity: 3,
};

fn ok(h: &Handoff, t: &Transition) -> Outcome {
    apply(h, t, now(), Some(&FREE)).unwrap_or_else(|e| panic!("{t:?} on {:?}: {e}", h.status))
}

fn refused(h: &Handoff, t: &Transition) -> String {
    match apply(h, t, now(), Some(&FREE)) {
        Ok(o) => panic!("{t:?} on {:?} was accepted: {o:?}", h.status),
        Err(e) => e.to_string(),
    }
}

fn kinds(o: &Outcome) -> Vec<(EventKind, bool)> {
    o.events
        .iter()
        .map(|e| match e {
            Emit::Handoff { kind, by_whom, .. } => (*kind, *by_whom),
            Emit::Agent { kind, .. } => (*kind, false),
        })
        .collect()
}

#[test]
fn the_assigned_agent_accepts_unless_a_routing_write_moved_it_first() {
    let h = handoff(Assigned);
    let o = ok(&h, &accept("ann"));
    assert_eq!(o.handoff.status, Accepted);
    assert_eq!(o.handoff.accepted_at, Some(now()));
    assert_eq!(o.guard.agent_id.as_deref(), Some("ann"));
    assert_eq!(
        o.guard.if_moved,
        IfMoved::Refuse(LifecycleError::NoLongerAssigned {
            id: "h1".into(),
            agent_id: "ann".into()
        })
    );
    assert!(o.agents.is_empty() && !o.fills_queue && o.next == Next::Nothing);
    assert_eq!(kinds(&o), [(EventKind::HandoffAccepted, true)]);
    assert_eq!(
        refused(&h, &accept("bob")),
        "handoff h1 is assigned to ann, not to bob"
    );
    assert_eq!(
        refused(&handoff(Queued), &accept("ann")),
        "cannot accept handoff h1: it is queued"
    );
}

#[test]
fn a_transfer_queues_the_handoff_again_with_a_note_and_frees_the_slot() {
    let h = handoff(Accepted);
    let o = ok(&h, &transfer(None));
    let moved = &o.handoff;
    assert_eq!(moved.status, Queued);
    assert_eq!(
        (moved.skill.as_str(), moved.team.as_str()),
        ("tech", "Tech")
    );
    assert_eq!(moved.agent_id, None);
    assert_eq!((moved.assigned_at, moved.accepted_at), (None, None));
    assert_eq!(moved.queued_at, Some(now()));
    assert_eq!(moved.transfers, 1);
    assert_eq!(
        moved.notes,
        [TransferNote {
            at: now(),
            from: Some("ann".into()),
            note: "needs a refund".into(),
            to: "Tech".into(),
        }]
    );
    // Stored as the JSON object the notes always were.
    assert_eq!(
        serde_json::to_string(&moved.notes[0]).unwrap(),
        r#"{"at":"2026-11-27T10:00:00Z","from":"ann","note":"needs a refund","to":"Tech"}"#
    );
    assert_eq!(o.agents, [AgentChange::Release("ann".into())]);
    assert_eq!(o.next, Next::Route);
    assert!(o.fills_queue);
    let Emit::Handoff {
        kind,
        extra,
        by_whom,
    } = &o.events[0]
    else {
        panic!("{o:?}")
    };
    assert_eq!((*kind, *by_whom), (EventKind::HandoffTransferred, true));
    assert_eq!(
        Value::Object(extra.clone()),
        json!({"from_agent": "ann", "to_agent": null, "note": "needs a refund"})
    );
}

#[test]
fn a_transfer_to_an_agent_needs_a_free_slot_unless_it_already_has_the_handoff() {
    let h = handoff(Assigned);
    let o = ok(&h, &transfer(Some("bob")));
    assert_eq!(o.next, Next::AssignTo("bob".into()));
    assert_eq!(o.handoff.notes[0].to, "bob");
    assert_eq!(
        apply(&h, &transfer(Some("bob")), now(), Some(&BUSY))
            .unwrap_err()
            .to_string(),
        "agent bob is at capacity (3 of 3)"
    );
    assert!(apply(&h, &transfer(Some("ann")), now(), Some(&BUSY)).is_ok());
    assert_eq!(
        apply(&h, &transfer(Some("zed")), now(), None).unwrap_err(),
        LifecycleError::UnknownAgent {
            agent_id: "zed".into()
        }
    );
    // A queued handoff has no slot to free.
    assert!(ok(&handoff(Queued), &transfer(None)).agents.is_empty());
    for status in [Resolved, Callback] {
        assert_eq!(
            refused(&handoff(status), &transfer(None)),
            format!("cannot transfer handoff h1: it is {}", status.as_str())
        );
    }
}

#[test]
fn resolving_frees_the_slot_and_an_offer_resolved_counts_as_accepted_then() {
    let o = ok(&handoff(Assigned), &resolve());
    assert_eq!(o.handoff.status, Resolved);
    assert_eq!(o.handoff.resolved_at, Some(now()));
    assert_eq!(o.handoff.accepted_at, Some(now()));
    assert_eq!(o.handoff.resolution.as_deref(), Some("refunded"));
    assert_eq!(o.handoff.necessary, Some(true));
    assert_eq!(o.handoff.missing.as_deref(), Some("order history"));
    // The agent stays on it: the report says who resolved it.
    assert_eq!(o.handoff.agent_id.as_deref(), Some("ann"));
    assert_eq!(o.agents, [AgentChange::Release("ann".into())]);
    assert_eq!(kinds(&o), [(EventKind::HandoffResolved, true)]);
    let accepted = handoff(Accepted);
    assert_eq!(
        ok(&accepted, &resolve()).handoff.accepted_at,
        accepted.accepted_at
    );
    for status in [Queued, Resolved, Callback] {
        assert_eq!(
            refused(&handoff(status), &resolve()),
            format!("cannot resolve handoff h1: it is {}", status.as_str())
        );
    }
}

#[test]
fn a_callback_parks_anything_not_resolved() {
    let o = ok(&handoff(Accepted), &callback());
    assert_eq!(o.handoff.status, Callback);
    assert_eq!(o.handoff.agent_id, None);
    assert_eq!(o.handoff.callback_at, Some(t("2026-11-28T09:00:00Z")));
    assert_eq!(o.agents, [AgentChange::Release("ann".into())]);
    assert!(o.fills_queue);
    assert_eq!(kinds(&o), [(EventKind::HandoffCallback, true)]);
    let moved = ok(&handoff(Callback), &callback());
    assert_eq!(moved.handoff.callback_at, Some(t("2026-11-28T09:00:00Z")));
    assert_eq!(
        refused(&handoff(Resolved), &callback()),
        "cannot schedule a callback for handoff h1: it is resolved"
    );
}

#[test]
fn the_customer_rates_a_resolved_handoff_once() {
    let h = handoff(Resolved);
    let o = ok(&h, &Transition::Csat { score: 4 });
    assert_eq!(o.handoff.csat, Some(4));
    assert!(o.guard.unrated && !o.fills_queue);
    assert_eq!(
        o.guard.if_moved,
        IfMoved::Refuse(LifecycleError::AlreadyRated { id: "h1".into() })
    );
    assert_eq!(kinds(&o), [(EventKind::HandoffCsat, true)]);
    assert_eq!(
        refused(&o.handoff, &Transition::Csat { score: 5 }),
        "handoff h1 already has a CSAT score"
    );
    assert_eq!(
        refused(&handoff(Accepted), &Transition::Csat { score: 5 }),
        "handoff h1 is accepted: the customer rates a handoff once it is resolved"
    );
}

#[test]
fn routing_assigns_a_queued_handoff_taking_a_slot_first() {
    let o = ok(
        &handoff(Queued),
        &Transition::Assign {
            agent_id: "bob".into(),
        },
    );
    assert_eq!(o.handoff.status, Assigned);
    assert_eq!(o.handoff.agent_id.as_deref(), Some("bob"));
    assert_eq!(o.handoff.assigned_at, Some(now()));
    assert_eq!(o.agents, [AgentChange::Take("bob".into())]);
    assert!(!o.fills_queue);
    assert_eq!(kinds(&o), [(EventKind::HandoffAssigned, false)]);
    assert_eq!(
        refused(
            &handoff(Assigned),
            &Transition::Assign {
                agent_id: "bob".into()
            }
        ),
        "cannot assign handoff h1: it is assigned"
    );
}

#[test]
fn with_nobody_on_shift_a_new_handoff_waits_for_a_callback() {
    let at = t("2026-11-28T09:00:00Z");
    let o = ok(&handoff(Queued), &Transition::NobodyOnShift { at });
    assert_eq!(o.handoff.status, Callback);
    assert_eq!(o.handoff.callback_at, Some(at));
    assert_eq!(o.handoff.queued_at, None);
    assert!(!o.fills_queue);
    let Emit::Handoff { extra, by_whom, .. } = &o.events[0] else {
        panic!("{o:?}")
    };
    assert!(!by_whom);
    assert_eq!(extra["why"], "nobody with the skill is on shift");
    assert!(apply(
        &handoff(Assigned),
        &Transition::NobodyOnShift { at },
        now(),
        None
    )
    .is_err());
}

#[test]
fn an_offer_not_accepted_in_time_goes_back_to_the_queue_and_the_agent_away() {
    let h = handoff(Assigned); // offered 60 s before NOW
    let late = Transition::TimeOut {
        timeout_seconds: 60,
    };
    let o = ok(&h, &late);
    assert_eq!(o.handoff.status, Queued);
    assert_eq!(
        (o.handoff.agent_id.clone(), o.handoff.assigned_at),
        (None, None)
    );
    // Ageing counts from the first queueing.
    assert_eq!(o.handoff.queued_at, h.queued_at);
    assert_eq!(o.exclude.as_deref(), Some("ann"));
    assert_eq!(
        o.agents,
        [
            AgentChange::Release("ann".into()),
            AgentChange::SetAway("ann".into())
        ]
    );
    assert_eq!(o.guard.agent_id.as_deref(), Some("ann"));
    assert_eq!(o.guard.if_moved, IfMoved::Skip);
    assert_eq!(
        kinds(&o),
        [
            (EventKind::AgentStatus, false),
            (EventKind::HandoffTimedOut, false)
        ]
    );
    let Emit::Agent {
        payload, agent_id, ..
    } = &o.events[0]
    else {
        panic!("{o:?}")
    };
    assert_eq!(agent_id, "ann");
    assert_eq!(
        payload,
        &json!({"status": "away", "why": "did not accept a handoff in time"})
    );
    let early = Transition::TimeOut {
        timeout_seconds: 61,
    };
    assert!(matches!(
        apply(&h, &early, now(), None),
        Err(LifecycleError::NotDue { .. })
    ));
    assert_eq!(due(&h, now(), 60), Some(late));
    assert_eq!(due(&h, now(), 61), None);
}

#[test]
fn a_due_callback_goes_back_to_the_queue() {
    let h = handoff(Callback); // due at 09:30
    let o = ok(&h, &Transition::CallbackDue);
    assert_eq!(o.handoff.status, Queued);
    assert_eq!(o.handoff.queued_at, Some(now()));
    assert_eq!(kinds(&o), [(EventKind::HandoffCallbackDue, false)]);
    let early: Timestamp = "2026-11-27T09:29:59Z".parse().unwrap();
    assert!(apply(&h, &Transition::CallbackDue, early, None).is_err());
    assert_eq!(due(&h, early, 60), None);
    assert_eq!(due(&h, now(), 60), Some(Transition::CallbackDue));
    for status in [Queued, Accepted, Resolved] {
        assert_eq!(due(&handoff(status), now(), 0), None, "{status:?}");
    }
}

#[test]
fn an_agent_answers_an_offer_by_accepting_it_first() {
    assert_eq!(before_reply(&handoff(Assigned)), Ok(Some(accept("ann"))));
    assert_eq!(before_reply(&handoff(Accepted)), Ok(None));
    assert_eq!(
        before_reply(&handoff(Queued)).unwrap_err().to_string(),
        "handoff h1 is queued: only an assigned or accepted handoff can be answered"
    );
}

#[test]
fn the_queue_counts_the_wait_from_the_last_queueing() {
    let mut h = handoff(Queued); // queued at 09:00
    assert_eq!(h.in_queue(now()).waited_ms, 3_600_000);
    assert_eq!(h.in_queue(now()).priority, Priority::High);
    h.queued_at = None; // created at 09:00 as well
    h.created_at = t("2026-11-27T09:59:00Z");
    assert_eq!(h.in_queue(now()).waited_ms, 60_000);
}

#[test]
fn a_new_handoff_starts_queued_unless_the_team_is_closed() {
    assert_eq!(HandoffStatus::initial(None), Queued);
    assert_eq!(HandoffStatus::initial(Some(now())), Callback);
    for s in HandoffStatus::ALL {
        assert_eq!(HandoffStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

/// The legal moves, written out once more as a table to check `apply` against.
fn legal(from: HandoffStatus, t: &Transition) -> bool {
    match t {
        Transition::Accept { .. } | Transition::TimeOut { .. } => from == Assigned,
        Transition::Transfer { .. } => matches!(from, Queued | Assigned | Accepted),
        Transition::Resolve { .. } => matches!(from, Assigned | Accepted),
        Transition::Callback { .. } => from != Resolved,
        Transition::Csat { .. } => from == Resolved,
        Transition::Assign { .. } | Transition::NobodyOnShift { .. } => from == Queued,
        Transition::CallbackDue => from == Callback,
    }
}

/// Slots an agent holds for the handoff: an offer or an accepted handoff.
fn holds_slot(h: &Handoff) -> i32 {
    i32::from(matches!(h.status, Assigned | Accepted) && h.agent_id.is_some())
}

fn any_time() -> impl Strategy<Value = Timestamp> {
    (0i64..4_000_000_000).prop_map(|s| Timestamp::from_second(s).unwrap())
}

fn any_agent() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ann".to_string()),
        Just("bob".to_string()),
        "[a-z]{0,3}"
    ]
}

prop_compose! {
    /// Any handoff at all, consistent or not (what a damaged row could hold).
    fn any_handoff()(
        status in prop::sample::select(HandoffStatus::ALL.to_vec()),
        agent_id in prop::option::of(any_agent()),
        times in prop::collection::vec(prop::option::of(any_time()), 6),
        created_at in any_time(),
        csat in prop::option::of(1u8..=5),
        transfers in any::<u32>(),
        notes in 0usize..3,
    ) -> Handoff {
        let mut h = handoff(status);
        h.agent_id = agent_id;
        h.created_at = created_at;
        h.queued_at = times[0];
        h.assigned_at = times[1];
        h.accepted_at = times[2];
        h.resolved_at = times[3];
        h.callback_at = times[4];
        h.csat = csat;
        h.transfers = transfers;
        h.notes = (0..notes)
            .map(|i| TransferNote { at: now(), from: None, note: format!("n{i}"), to: "Tech".into() })
            .collect();
        h
    }
}

prop_compose! {
    /// A handoff as the store keeps it: an agent exactly while offered, taken or resolved.
    fn stored_handoff()(
        status in prop::sample::select(HandoffStatus::ALL.to_vec()),
        agent in any_agent(),
        offered_seconds_ago in 0i64..600,
        callback_in_seconds in -600i64..600,
        csat in prop::option::of(1u8..=5),
    ) -> Handoff {
        let mut h = handoff(status);
        if h.agent_id.is_some() {
            h.agent_id = Some(agent);
        }
        if status == Assigned {
            h.assigned_at = Some(now() - jiff::SignedDuration::from_secs(offered_seconds_ago));
        }
        if status == Callback {
            h.callback_at = Some(now() + jiff::SignedDuration::from_secs(callback_in_seconds));
        }
        if status == Resolved {
            h.csat = csat;
        }
        h
    }
}

fn any_transition() -> impl Strategy<Value = Transition> {
    prop_oneof![
        any_agent().prop_map(|agent_id| Transition::Accept { agent_id }),
        (
            prop::option::of(any_agent()),
            prop::option::of("[a-z]{1,6}"),
            prop::option::of("[A-Z][a-z]{0,5}"),
            ".{0,12}"
        )
            .prop_map(|(to_agent, to_skill, to_team, note)| Transition::Transfer {
                to_agent,
                to_skill,
                to_team,
                note
            }),
        (".{0,8}", any::<bool>(), prop::option::of(".{0,8}")).prop_map(
            |(resolution, necessary, missing)| Transition::Resolve {
                resolution,
                necessary,
                missing
            }
        ),
        any_time().prop_map(|at| Transition::Callback { at }),
        any::<u8>().prop_map(|score| Transition::Csat { score }),
        any_agent().prop_map(|agent_id| Transition::Assign { agent_id }),
        any_time().prop_map(|at| Transition::NobodyOnShift { at }),
        (-10i64..1_000).prop_map(|timeout_seconds| Transition::TimeOut { timeout_seconds }),
        Just(Transition::CallbackDue),
    ]
}

fn any_load() -> impl Strategy<Value = Option<AgentLoad>> {
    prop::option::of(
        (0u32..5, 0u32..5).prop_map(|(active, capacity)| AgentLoad { active, capacity }),
    )
}

fn any_now() -> impl Strategy<Value = Timestamp> {
    (-600i64..600).prop_map(|s| now() + jiff::SignedDuration::from_secs(s))
}

proptest! {
    /// On any input, even a damaged row: no panic, and a refusal by status is a typed error
    /// naming the handoff.
    #[test]
    fn apply_never_panics_and_refuses_illegal_moves_by_status(
        h in any_handoff(), t in any_transition(), now in any_now(), load in any_load()
    ) {
        match apply(&h, &t, now, load.as_ref()) {
            Ok(o) => {
                prop_assert!(legal(h.status, &t), "{t:?} accepted on {:?}", h.status);
                prop_assert_eq!(&o.guard.status, &h.status);
                prop_assert_eq!((&o.handoff.id, &o.handoff.conversation_id, &o.handoff.created_at),
                                (&h.id, &h.conversation_id, &h.created_at));
                prop_assert!(!o.events.is_empty());
            }
            Err(e) => {
                if !legal(h.status, &t) {
                    let by_status = matches!(&e,
                        LifecycleError::NotInThisStatus { status, .. }
                        | LifecycleError::NotResolved { status, .. } if *status == h.status);
                    prop_assert!(by_status, "{t:?} on {:?}: {e:?}", h.status);
                }
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// A resolved handoff accepts nothing but its CSAT, and that once.
    #[test]
    fn a_resolved_handoff_accepts_only_its_csat(
        csat in prop::option::of(1u8..=5), t in any_transition(), now in any_now(), load in any_load()
    ) {
        let h = Handoff { csat, ..handoff(Resolved) };
        let result = apply(&h, &t, now, load.as_ref());
        let first_rating = matches!(t, Transition::Csat { .. }) && h.csat.is_none();
        prop_assert_eq!(result.is_ok(), first_rating, "{:?}", result);
    }

    /// On a handoff as stored: every legal move is accepted (given a free agent), slots are
    /// conserved (taken minus freed is the change in slots held), and status follows the table.
    #[test]
    fn legal_moves_on_stored_handoffs_keep_agents_slots_right(
        h in stored_handoff(), t in any_transition(), now in any_now()
    ) {
        let result = apply(&h, &t, now, Some(&FREE));
        let due_now = not_due(&h, &t, now).is_none();
        let rated = matches!(t, Transition::Csat { .. }) && h.csat.is_some();
        let other_agent = matches!(&t, Transition::Accept { agent_id } if h.agent_id.as_ref() != Some(agent_id));
        prop_assert_eq!(result.is_ok(), legal(h.status, &t) && due_now && !rated && !other_agent,
                        "{:?} on {:?}: {:?}", t, h.status, result);
        if let Ok(o) = result {
            let taken = o.agents.iter().filter(|c| matches!(c, AgentChange::Take(_))).count() as i32;
            let freed = o.agents.iter().filter(|c| matches!(c, AgentChange::Release(_))).count() as i32;
            prop_assert_eq!(taken - freed, holds_slot(&o.handoff) - holds_slot(&h), "{:?}", o);
            if o.handoff.status == Resolved && h.status != Resolved {
                prop_assert!(o.handoff.accepted_at.is_some() && o.handoff.resolved_at.is_some());
            }
            if o.handoff.status == Queued {
                prop_assert!(o.handoff.agent_id.is_none());
            }
        }
    }

    /// `due` offers exactly what `apply` then accepts.
    #[test]
    fn what_the_sweep_finds_due_is_accepted(h in any_handoff(), now in any_now(), timeout in -10i64..1_000) {
        if let Some(t) = due(&h, now, timeout) {
            prop_assert!(apply(&h, &t, now, None).is_ok(), "{:?}", t);
        }
    }
}
