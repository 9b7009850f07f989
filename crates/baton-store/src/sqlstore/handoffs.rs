//! Handoff routing and lifecycle inside the writer's transaction. Everything here runs on the
//! single writer thread, inside the batch's transaction, so two routings never interleave: a
//! handoff is assigned at most once and an agent never goes above capacity.

use super::reads::{agent_from_row, load_agent, AGENT_COLUMNS};
use super::writes::insert_event;
use crate::sql::{bad_value, vals, Db, Row};
use crate::{
    Actor, Agent, AgentStatus, Handoff, HandoffStatus, NewHandoff, Placement, Result,
    RoutingParams, StoreError, Transition,
};
use baton_core::event::EventKind;
use baton_core::routing::{self, AgentSlot, Need, Queued};
use baton_core::Priority;
use jiff::Timestamp;

pub(crate) const HANDOFF_COLUMNS: &str = "id, conversation_id, status, skill, team, priority, reason, vip, agent_id, \
     created_at, queued_at, assigned_at, accepted_at, resolved_at, callback_at, resolution, necessary, missing, csat, \
     transfers, eta_seconds, excluded, notes";

pub(crate) fn handoff_from_row(r: &Row) -> Result<Handoff> {
    let status: String = r.get(2)?;
    Ok(Handoff {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        status: HandoffStatus::parse(&status).ok_or_else(|| bad_value("status", &status))?,
        skill: r.get(3)?,
        team: r.get(4)?,
        priority: r.get(5)?,
        reason: r.get(6)?,
        vip: r.get(7)?,
        agent_id: r.get(8)?,
        created_at: r.get(9)?,
        queued_at: r.get(10)?,
        assigned_at: r.get(11)?,
        accepted_at: r.get(12)?,
        resolved_at: r.get(13)?,
        callback_at: r.get(14)?,
        resolution: r.get(15)?,
        necessary: r.get(16)?,
        missing: r.get(17)?,
        csat: r.get(18)?,
        transfers: r.get(19)?,
        eta_seconds: r.get(20)?,
        notes: {
            let raw: String = r.get(22)?;
            serde_json::from_str(&raw).map_err(|_| bad_value("notes", &raw))?
        },
    })
}

fn excluded(conn: &impl Db, id: &str) -> Result<Vec<String>> {
    let raw: String = conn.scalar("SELECT excluded FROM handoffs WHERE id = ?1", vals![id])?;
    Ok(serde_json::from_str(&raw)?)
}

pub(crate) fn load_handoff(conn: &impl Db, id: &str) -> Result<Option<Handoff>> {
    conn.row(
        &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = ?1"),
        vals![id],
    )?
    .map(|r| handoff_from_row(&r))
    .transpose()
}

fn must_load(conn: &impl Db, id: &str) -> Result<Handoff> {
    load_handoff(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("handoff {id}")))
}

fn agents(conn: &impl Db) -> Result<Vec<Agent>> {
    conn.rows_as(
        &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
        vals![],
        agent_from_row,
    )
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

fn priority(s: &str) -> Priority {
    Priority::parse(s).unwrap_or(Priority::Medium)
}

fn event(
    conn: &impl Db,
    kind: EventKind,
    h: &Handoff,
    extra: serde_json::Value,
    now: &str,
) -> Result<()> {
    let mut payload = serde_json::to_value(h)?;
    if let (Some(obj), serde_json::Value::Object(more)) = (payload.as_object_mut(), extra) {
        obj.extend(more);
    }
    insert_event(conn, kind, &h.id, &payload, now)
}

/// Assigns `handoff` to `agent_id` (capacity checked in the UPDATE itself).
fn assign(conn: &impl Db, handoff_id: &str, agent_id: &str, now: &str) -> Result<bool> {
    let took = conn.exec(
        "UPDATE agents SET active = active + 1 WHERE id = ?1 AND active < capacity",
        vals![agent_id],
    )?;
    if took == 0 {
        return Ok(false);
    }
    conn.exec(
        "UPDATE handoffs SET status = 'assigned', agent_id = ?2, assigned_at = ?3, updated_at = ?3 WHERE id = ?1",
        vals![handoff_id, agent_id, now],
    )?;
    let h = must_load(conn, handoff_id)?;
    event(
        conn,
        EventKind::HandoffAssigned,
        &h,
        serde_json::json!({}),
        now,
    )?;
    Ok(true)
}

fn release_agent(conn: &impl Db, agent_id: &str) -> Result<()> {
    conn.exec(
        "UPDATE agents SET active = CASE WHEN active > 0 THEN active - 1 ELSE 0 END WHERE id = ?1",
        vals![agent_id],
    )?;
    Ok(())
}

/// Tries to give one handoff to an agent now. Returns the agent id when assigned.
fn try_route(conn: &impl Db, h: &Handoff, now: &str) -> Result<Option<String>> {
    let all = agents(conn)?;
    let exclude = excluded(conn, &h.id)?;
    let slots: Vec<AgentSlot> = all
        .iter()
        .map(|a| AgentSlot {
            id: &a.id,
            skills: &a.skills,
            capacity: a.capacity,
            active: a.active,
            seniority: a.seniority,
            available: a.status == AgentStatus::Available,
        })
        .collect();
    let need = Need {
        skill: &h.skill,
        priority: priority(&h.priority),
        vip: h.vip,
        exclude: &exclude,
    };
    match routing::choose_agent(&need, &slots) {
        Some(agent) => {
            let agent = agent.to_string();
            Ok(assign(conn, &h.id, &agent, now)?.then_some(agent))
        }
        None => Ok(None),
    }
}

/// Serves the queue: highest rank first, each to the best agent free now.
pub(crate) fn route_queue(conn: &impl Db, now: &str, params: RoutingParams) -> Result<usize> {
    let queued = queued(conn)?;
    let now_ts = ts(now);
    let mut order: Vec<Queued> = queued
        .iter()
        .map(|h| Queued {
            id: &h.id,
            skill: &h.skill,
            priority: priority(&h.priority),
            waited_ms: now_ts.as_millisecond()
                - ts(h.queued_at.as_deref().unwrap_or(&h.created_at)).as_millisecond(),
        })
        .collect();
    routing::order_queue(&mut order, params.ageing_seconds);
    let mut routed = 0;
    for q in order {
        let h = queued
            .iter()
            .find(|h| h.id == q.id)
            .expect("from the same list");
        if try_route(conn, h, now)?.is_some() {
            routed += 1;
        }
    }
    Ok(routed)
}

fn queued(conn: &impl Db) -> Result<Vec<Handoff>> {
    conn.rows_as(
        &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE status = 'queued' ORDER BY created_at, id"),
        vals![],
        handoff_from_row,
    )
}

/// Mean accept-to-resolve time of the last resolved handoffs of `skill`, or the default.
fn handle_seconds(conn: &impl Db, skill: &str, params: RoutingParams) -> Result<f64> {
    let rows = conn.rows_as(
        "SELECT accepted_at, resolved_at FROM handoffs
         WHERE skill = ?1 AND status = 'resolved' AND accepted_at IS NOT NULL AND resolved_at IS NOT NULL
         ORDER BY resolved_at DESC LIMIT ?2",
        vals![skill, params.handle_time_sample as i64],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
    )?;
    let mut total = 0.0;
    let mut n = 0usize;
    for (a, b) in rows {
        total += ts(&b).duration_since(ts(&a)).as_secs_f64().max(0.0);
        n += 1;
    }
    // Blend with the default until enough samples exist, so one quick case does not promise 5 s.
    let weight = (n as f64 / params.handle_time_sample.max(1) as f64).min(1.0);
    let observed = if n > 0 {
        total / n as f64
    } else {
        params.default_handle_seconds
    };
    Ok(weight * observed + (1.0 - weight) * params.default_handle_seconds)
}

/// Where `h` stands: assigned agent's name, or queue position and expected wait.
pub(crate) fn placement(
    conn: &impl Db,
    h: Handoff,
    now: &str,
    params: RoutingParams,
) -> Result<Placement> {
    let all = agents(conn)?;
    let with_skill: Vec<&Agent> = all
        .iter()
        .filter(|a| a.status == AgentStatus::Available && a.skills.contains(&h.skill))
        .collect();
    let agents_on_shift = with_skill.len() as u32;
    let agent_name = h
        .agent_id
        .as_ref()
        .and_then(|id| all.iter().find(|a| &a.id == id))
        .map(|a| a.name.clone());
    let (mut position, mut eta) = (None, None);
    if h.status == HandoffStatus::Queued {
        let queue = queued(conn)?;
        let now_ts = ts(now);
        let mut order: Vec<Queued> = queue
            .iter()
            .filter(|q| q.skill == h.skill)
            .map(|q| Queued {
                id: &q.id,
                skill: &q.skill,
                priority: priority(&q.priority),
                waited_ms: now_ts.as_millisecond()
                    - ts(q.queued_at.as_deref().unwrap_or(&q.created_at)).as_millisecond(),
            })
            .collect();
        routing::order_queue(&mut order, params.ageing_seconds);
        let pos = order
            .iter()
            .position(|q| q.id == h.id)
            .unwrap_or(order.len());
        position = Some(pos);
        let capacity: u32 = with_skill.iter().map(|a| a.capacity).sum();
        let busy: u32 = with_skill.iter().map(|a| a.active.min(a.capacity)).sum();
        let handle = handle_seconds(conn, &h.skill, params)?;
        // Mean capacity per agent keeps the formula's agents x capacity = total slots.
        eta = match agents_on_shift {
            0 => None,
            n => routing::eta_seconds(pos, n, capacity.div_ceil(n), busy, handle),
        };
    }
    Ok(Placement {
        handoff: h,
        agent_name,
        position,
        eta_seconds: eta,
        agents_on_shift,
    })
}

/// Creates a handoff for `conversation_id` and routes it (or schedules its callback).
pub(crate) fn create(
    conn: &impl Db,
    conversation_id: &str,
    new: &NewHandoff,
    now: &str,
    params: RoutingParams,
) -> Result<Placement> {
    let status = if new.callback_at.is_some() {
        HandoffStatus::Callback
    } else {
        HandoffStatus::Queued
    };
    conn.exec(
        "INSERT INTO handoffs (id, conversation_id, status, skill, team, priority, reason, vip, created_at, updated_at, queued_at, callback_at,
           trigger_index, customer_messages, seconds_to_handoff, late, started_ms, customer_id, topic)
         SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT),
           CAST(?5 AS TEXT), CAST(?6 AS TEXT), CAST(?7 AS TEXT), CAST(?8 AS BOOLEAN),
           CAST(?9 AS TEXT), CAST(?9 AS TEXT), CAST(?10 AS TEXT), CAST(?11 AS TEXT),
           CAST(?12 AS BIGINT), CAST(?13 AS BIGINT), CAST(?14 AS DOUBLE PRECISION), CAST(?15 AS BOOLEAN),
           c.started_ms, c.customer_id, c.topic
         FROM conversations c WHERE c.id = ?2",
        vals![
            new.id,
            conversation_id,
            status.as_str(),
            new.skill,
            new.team,
            new.priority.as_str(),
            new.reason,
            new.vip,
            now,
            (status == HandoffStatus::Queued).then_some(now),
            new.callback_at,
            new.facts.map(|f| f.at as i64),
            new.facts.map(|f| f.customer_messages as i64),
            new.facts.map(|f| f.seconds_to_handoff),
            new.facts.map(|f| f.late)
        ],
    )?;
    let h = must_load(conn, &new.id)?;
    event(
        conn,
        EventKind::HandoffCreated,
        &h,
        serde_json::json!({}),
        now,
    )?;
    if status == HandoffStatus::Queued && try_route(conn, &h, now)?.is_none() {
        let p = placement(conn, h, now, params)?;
        if let (0, Some(at)) = (p.agents_on_shift, &new.callback_if_nobody) {
            conn.exec(
                "UPDATE handoffs SET status = 'callback', callback_at = ?2, queued_at = NULL WHERE id = ?1",
                vals![new.id, at],
            )?;
            let h = must_load(conn, &new.id)?;
            event(
                conn,
                EventKind::HandoffCallback,
                &h,
                serde_json::json!({"why": "nobody with the skill is on shift"}),
                now,
            )?;
            return placement(conn, h, now, params);
        }
        conn.exec(
            "UPDATE handoffs SET eta_seconds = ?2 WHERE id = ?1",
            vals![new.id, p.eta_seconds],
        )?;
        insert_event(
            conn,
            EventKind::QueueChanged,
            &p.handoff.skill,
            &serde_json::json!({"skill": p.handoff.skill, "handoff": p.handoff.id, "position": p.position, "eta_seconds": p.eta_seconds}),
            now,
        )?;
    }
    let h = must_load(conn, &new.id)?;
    placement(conn, h, now, params)
}

/// Applies a lifecycle transition.
pub(crate) fn transition(
    conn: &impl Db,
    id: &str,
    t: &Transition,
    by: &Actor,
    now: &str,
    params: RoutingParams,
) -> Result<Placement> {
    let h = must_load(conn, id)?;
    let conflict = |what: &str| {
        Err(StoreError::Conflict(format!(
            "cannot {what} handoff {id}: it is {}",
            h.status.as_str()
        )))
    };
    match t {
        Transition::Accept { agent_id } => {
            if h.status != HandoffStatus::Assigned {
                return conflict("accept");
            }
            if h.agent_id.as_deref() != Some(agent_id.as_str()) {
                return Err(StoreError::Conflict(format!(
                    "handoff {id} is assigned to {}, not to {agent_id}",
                    h.agent_id.as_deref().unwrap_or("nobody")
                )));
            }
            // Only if it is still offered to this agent: accept does not take the routing turn
            // (PostgreSQL), so a timeout or a transfer may have moved it since it was read.
            let n = conn.exec(
                "UPDATE handoffs SET status = 'accepted', accepted_at = ?2, updated_at = ?2
                 WHERE id = ?1 AND status = 'assigned' AND agent_id = ?3",
                vals![id, now, agent_id],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "handoff {id} is no longer assigned to {agent_id}"
                )));
            }
            event(
                conn,
                EventKind::HandoffAccepted,
                &must_load(conn, id)?,
                serde_json::json!({"by": by}),
                now,
            )?;
        }
        Transition::Transfer {
            to_agent,
            to_skill,
            to_team,
            note,
        } => {
            if !matches!(
                h.status,
                HandoffStatus::Assigned | HandoffStatus::Accepted | HandoffStatus::Queued
            ) {
                return conflict("transfer");
            }
            if let Some(a) = to_agent {
                let agent = load_agent(conn, a)?
                    .ok_or_else(|| StoreError::NotFound(format!("agent {a}")))?;
                if agent.active >= agent.capacity && h.agent_id.as_deref() != Some(a.as_str()) {
                    return Err(StoreError::Conflict(format!(
                        "agent {a} is at capacity ({} of {})",
                        agent.active, agent.capacity
                    )));
                }
            }
            if let Some(prev) = &h.agent_id {
                release_agent(conn, prev)?;
            }
            let skill = to_skill.clone().unwrap_or_else(|| h.skill.clone());
            let team = to_team.clone().unwrap_or_else(|| h.team.clone());
            let mut notes = h.notes.clone();
            notes.push(serde_json::json!({
                "at": now, "from": h.agent_id, "to": to_agent.clone().unwrap_or_else(|| team.clone()), "note": note
            }));
            conn.exec(
                "UPDATE handoffs SET notes = ?2 WHERE id = ?1",
                vals![id, serde_json::to_string(&notes)?],
            )?;
            conn.exec(
                "UPDATE handoffs SET status = 'queued', agent_id = NULL, assigned_at = NULL, accepted_at = NULL,
                   skill = ?2, team = ?3, queued_at = ?4, transfers = transfers + 1, updated_at = ?4 WHERE id = ?1",
                vals![id, skill, team, now],
            )?;
            let moved = must_load(conn, id)?;
            event(
                conn,
                EventKind::HandoffTransferred,
                &moved,
                serde_json::json!({"from_agent": h.agent_id, "to_agent": to_agent, "note": note, "by": by}),
                now,
            )?;
            match to_agent {
                Some(a) => {
                    if !assign(conn, id, a, now)? {
                        return Err(StoreError::Conflict(format!("agent {a} is at capacity")));
                    }
                }
                None => {
                    try_route(conn, &moved, now)?;
                }
            }
        }
        Transition::Resolve {
            resolution,
            necessary,
            missing,
        } => {
            if !matches!(h.status, HandoffStatus::Assigned | HandoffStatus::Accepted) {
                return conflict("resolve");
            }
            if let Some(a) = &h.agent_id {
                release_agent(conn, a)?;
            }
            conn.exec(
                "UPDATE handoffs SET status = 'resolved', resolved_at = ?2, accepted_at = COALESCE(accepted_at, ?2),
                   resolution = ?3, necessary = ?4, missing = ?5, updated_at = ?2 WHERE id = ?1",
                vals![id, now, resolution, necessary, missing],
            )?;
            event(
                conn,
                EventKind::HandoffResolved,
                &must_load(conn, id)?,
                serde_json::json!({"by": by}),
                now,
            )?;
        }
        Transition::Callback { at } => {
            if matches!(h.status, HandoffStatus::Resolved) {
                return conflict("schedule a callback for");
            }
            if let Some(a) = &h.agent_id {
                release_agent(conn, a)?;
            }
            conn.exec(
                "UPDATE handoffs SET status = 'callback', agent_id = NULL, callback_at = ?2, updated_at = ?3 WHERE id = ?1",
                vals![id, at, now],
            )?;
            event(
                conn,
                EventKind::HandoffCallback,
                &must_load(conn, id)?,
                serde_json::json!({"by": by}),
                now,
            )?;
        }
        Transition::Csat { score } => {
            if h.status != HandoffStatus::Resolved {
                return Err(StoreError::Conflict(format!(
                    "handoff {id} is {}: the customer rates a handoff once it is resolved",
                    h.status.as_str()
                )));
            }
            if h.csat.is_some() {
                return Err(StoreError::Conflict(format!(
                    "handoff {id} already has a CSAT score"
                )));
            }
            // Once, even when two ratings race (CSAT does not take the routing turn).
            let n = conn.exec(
                "UPDATE handoffs SET csat = ?2, updated_at = ?3
                 WHERE id = ?1 AND status = 'resolved' AND csat IS NULL",
                vals![id, score, now],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(format!(
                    "handoff {id} already has a CSAT score"
                )));
            }
            event(
                conn,
                EventKind::HandoffCsat,
                &must_load(conn, id)?,
                serde_json::json!({"by": by}),
                now,
            )?;
        }
    }
    // Transfer, resolve and callback free a slot or queue the handoff: fill the queue. Accept
    // and CSAT change nobody's load (and do not hold the routing turn to do it).
    if !matches!(t, Transition::Accept { .. } | Transition::Csat { .. }) {
        route_queue(conn, now, params)?;
    }
    placement(conn, must_load(conn, id)?, now, params)
}

/// Timeouts and due callbacks, then the queue.
pub(crate) fn sweep(
    conn: &impl Db,
    now: &str,
    timeout_seconds: i64,
    params: RoutingParams,
) -> Result<usize> {
    let now_ts = ts(now);
    let mut changed = 0;
    let candidates = conn.rows_as(
        &format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE status IN ('assigned', 'callback')"),
        vals![],
        handoff_from_row,
    )?;
    for h in candidates {
        match h.status {
            HandoffStatus::Assigned => {
                let since = ts(h.assigned_at.as_deref().unwrap_or(&h.created_at));
                if (now_ts - since).get_seconds() < timeout_seconds {
                    continue;
                }
                let agent = h.agent_id.clone().unwrap_or_default();
                let mut ex = excluded(conn, &h.id)?;
                ex.push(agent.clone());
                // Unless the agent accepted it meanwhile (accept does not take the routing turn).
                let n = conn.exec(
                    "UPDATE handoffs SET status = 'queued', agent_id = NULL, assigned_at = NULL, excluded = ?2, updated_at = ?3
                     WHERE id = ?1 AND status = 'assigned' AND agent_id = ?4",
                    vals![h.id, serde_json::to_string(&ex)?, now, agent],
                )?;
                if n == 0 {
                    continue;
                }
                release_agent(conn, &agent)?;
                conn.exec(
                    "UPDATE agents SET status = 'away', updated_at = ?2 WHERE id = ?1 AND status = 'available'",
                    vals![agent, now],
                )?;
                insert_event(
                    conn,
                    EventKind::AgentStatus,
                    &agent,
                    &serde_json::json!({"status": "away", "why": "did not accept a handoff in time"}),
                    now,
                )?;
                event(
                    conn,
                    EventKind::HandoffTimedOut,
                    &must_load(conn, &h.id)?,
                    serde_json::json!({"agent": agent}),
                    now,
                )?;
                changed += 1;
            }
            HandoffStatus::Callback
                if h.callback_at.as_deref().is_some_and(|c| ts(c) <= now_ts) =>
            {
                conn.exec(
                    "UPDATE handoffs SET status = 'queued', queued_at = ?2, updated_at = ?2 WHERE id = ?1",
                    vals![h.id, now],
                )?;
                event(
                    conn,
                    EventKind::HandoffCallbackDue,
                    &must_load(conn, &h.id)?,
                    serde_json::json!({}),
                    now,
                )?;
                changed += 1;
            }
            _ => {}
        }
    }
    changed += route_queue(conn, now, params)?;
    Ok(changed)
}
