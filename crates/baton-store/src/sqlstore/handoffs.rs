//! Handoff routing and lifecycle inside the writer's transaction: the store loads the rows,
//! [`baton_core::handoff::apply`] decides, and the outcome is written here in the same
//! transaction. Routing writes take turns (one writer thread on SQLite, the routing lock on
//! PostgreSQL), so a handoff is assigned at most once and an agent never goes above capacity.

use super::reads::{agents, load_agent};
use super::writes::insert_event;
use crate::sql::{bad_value, vals, Db, Row, Value};
use crate::{
    Actor, Agent, AgentStatus, Handoff, HandoffStatus, NewHandoff, Placement, Result,
    RoutingParams, StoreError, Transition,
};
use baton_core::event::EventKind;
use baton_core::handoff::{
    self, AgentChange, AgentLoad, Emit, IfMoved, LifecycleError, Next, Outcome,
};
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
        priority: r.parse(5, "priority", Priority::parse)?,
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

impl From<LifecycleError> for StoreError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::UnknownAgent { agent_id } => {
                StoreError::NotFound(format!("agent {agent_id}"))
            }
            e => StoreError::Conflict(e.to_string()),
        }
    }
}

/// What became of a decided transition.
enum Decided {
    Written(Box<Outcome>),
    /// Another write made it moot, and the core said to skip it.
    Skipped,
    /// The agent it assigns has no free slot: nothing was written.
    AgentFull(LifecycleError),
}

impl Decided {
    /// The outcome written, if any; a full agent is an error.
    fn written(self) -> Result<Option<Outcome>> {
        match self {
            Decided::Written(o) => Ok(Some(*o)),
            Decided::Skipped => Ok(None),
            Decided::AgentFull(e) => Err(e.into()),
        }
    }
}

/// Lets the core decide `t` on `h` as just read (loading the agent `t` names), and writes the
/// outcome.
fn decide(
    conn: &impl Db,
    mut h: Handoff,
    t: &Transition,
    by: Option<&Actor>,
    now: Timestamp,
) -> Result<Decided> {
    // A routing write holds the routing turn, so only accept (which does not) can move the
    // handoff between the read and the write, and only once: the second attempt holds.
    for _ in 0..3 {
        let target = match t.target_agent() {
            Some(a) => load_agent(conn, a)?.map(|a| AgentLoad {
                active: a.active,
                capacity: a.capacity,
            }),
            None => None,
        };
        let outcome = handoff::apply(&h, t, now, target.as_ref())?;
        match write(conn, &h, &outcome, by, now)? {
            Wrote::Done => return Ok(Decided::Written(Box::new(outcome))),
            Wrote::AgentFull(agent_id) => {
                return Ok(Decided::AgentFull(LifecycleError::AgentFull { agent_id }))
            }
            Wrote::Moved => {}
        }
        match &outcome.guard.if_moved {
            IfMoved::Refuse(e) => return Err(e.clone().into()),
            IfMoved::Skip => return Ok(Decided::Skipped),
            IfMoved::DecideAgain => h = must_load(conn, &h.id)?,
        }
    }
    Err(StoreError::Conflict(format!(
        "handoff {} keeps changing; try again",
        h.id
    )))
}

enum Wrote {
    Done,
    /// The stored handoff no longer matches the guard.
    Moved,
    /// This agent has no free slot.
    AgentFull(String),
}

/// Writes `o`, decided on `old`: takes the agents' slots it needs (all or nothing), then the
/// handoff's changed columns only if the stored row still matches the guard, then the other
/// agent changes and the events. Writes nothing unless it answers `Done`.
fn write(
    conn: &impl Db,
    old: &Handoff,
    o: &Outcome,
    by: Option<&Actor>,
    now: Timestamp,
) -> Result<Wrote> {
    let mut taken: Vec<&String> = Vec::new();
    for change in &o.agents {
        if let AgentChange::Take(agent) = change {
            // The capacity check is in the UPDATE that takes the slot.
            let took = conn.exec(
                "UPDATE agents SET active = active + 1 WHERE id = ?1 AND active < capacity",
                vals![agent],
            )?;
            if took == 0 {
                for a in &taken {
                    release(conn, a)?;
                }
                return Ok(Wrote::AgentFull(agent.clone()));
            }
            taken.push(agent);
        }
    }
    if !write_handoff(conn, old, o, now)? {
        for a in &taken {
            release(conn, a)?;
        }
        return Ok(Wrote::Moved);
    }
    for change in &o.agents {
        match change {
            AgentChange::Take(_) => {}
            AgentChange::Release(agent) => release(conn, agent)?,
            AgentChange::SetAway(agent) => {
                conn.exec(
                    "UPDATE agents SET status = 'away', updated_at = ?2 WHERE id = ?1 AND status = 'available'",
                    vals![agent, now],
                )?;
            }
        }
    }
    for e in &o.events {
        match e {
            Emit::Handoff {
                kind,
                extra,
                by_whom,
            } => {
                let mut payload = serde_json::to_value(&o.handoff)?;
                if let Some(obj) = payload.as_object_mut() {
                    obj.extend(extra.clone());
                    if *by_whom {
                        obj.insert("by".into(), serde_json::to_value(by)?);
                    }
                }
                insert_event(conn, *kind, &o.handoff.id, &payload, now)?;
            }
            Emit::Agent {
                kind,
                agent_id,
                payload,
            } => insert_event(conn, *kind, agent_id, payload, now)?,
        }
    }
    Ok(Wrote::Done)
}

fn release(conn: &impl Db, agent_id: &str) -> Result<()> {
    conn.exec(
        "UPDATE agents SET active = CASE WHEN active > 0 THEN active - 1 ELSE 0 END WHERE id = ?1",
        vals![agent_id],
    )?;
    Ok(())
}

/// The handoff's columns that `o` changes, written only if the row still matches the guard.
fn write_handoff(conn: &impl Db, old: &Handoff, o: &Outcome, now: Timestamp) -> Result<bool> {
    let new = &o.handoff;
    let mut changes: Vec<(&str, Value)> = Vec::new();
    macro_rules! changed {
        ($($field:ident),*) => {$(
            if new.$field != old.$field {
                changes.push((stringify!($field), new.$field.clone().into()));
            }
        )*};
    }
    if new.status != old.status {
        changes.push(("status", new.status.as_str().into()));
    }
    if new.priority != old.priority {
        changes.push(("priority", new.priority.as_str().into()));
    }
    changed!(
        skill,
        team,
        reason,
        vip,
        agent_id,
        queued_at,
        assigned_at,
        accepted_at,
        resolved_at,
        callback_at,
        resolution,
        necessary,
        missing,
        csat,
        transfers,
        eta_seconds
    );
    if new.notes != old.notes {
        changes.push(("notes", serde_json::to_string(&new.notes)?.into()));
    }
    if let Some(agent) = &o.exclude {
        let mut ex = excluded(conn, &old.id)?;
        ex.push(agent.clone());
        changes.push(("excluded", serde_json::to_string(&ex)?.into()));
    }
    changes.push(("updated_at", now.into()));
    let mut params: Vec<Value> = vec![old.id.clone().into()];
    let mut sets = Vec::new();
    for (column, value) in changes {
        params.push(value);
        sets.push(format!("{column} = ?{}", params.len()));
    }
    let mut sql = format!("UPDATE handoffs SET {} WHERE id = ?1", sets.join(", "));
    let guard = &o.guard;
    params.push(guard.status.as_str().into());
    sql += &format!(" AND status = ?{}", params.len());
    if let Some(agent) = &guard.agent_id {
        params.push(agent.clone().into());
        sql += &format!(" AND agent_id = ?{}", params.len());
    }
    if guard.unrated {
        sql += " AND csat IS NULL";
    }
    Ok(conn.exec(&sql, &params)? > 0)
}

/// Tries to give one handoff to an agent now. Returns the agent id when assigned.
fn try_route(conn: &impl Db, h: &Handoff, now: Timestamp) -> Result<Option<String>> {
    try_route_among(conn, h, now, &agents(conn)?, &excluded(conn, &h.id)?)
}

/// [`try_route`] with the agents and the handoff's excluded agents already read.
fn try_route_among(
    conn: &impl Db,
    h: &Handoff,
    now: Timestamp,
    all: &[Agent],
    exclude: &[String],
) -> Result<Option<String>> {
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
        priority: h.priority,
        vip: h.vip,
        exclude,
    };
    let Some(agent) = routing::choose_agent(&need, &slots) else {
        return Ok(None);
    };
    let agent = agent.to_string();
    let assign = Transition::Assign {
        agent_id: agent.clone(),
    };
    Ok(match decide(conn, h.clone(), &assign, None, now)? {
        Decided::Written(_) => Some(agent),
        Decided::Skipped | Decided::AgentFull(_) => None,
    })
}

pub(crate) fn route_queue(conn: &impl Db, now: Timestamp, params: RoutingParams) -> Result<usize> {
    // The queue is read only when some agent has a free slot, and then only the columns that
    // order it: a long queue behind full agents costs the sweep one read of the agents, not a
    // read of every queued handoff and of the agents again for each.
    let mut all = agents(conn)?;
    if !all.iter().any(|a| has_free_slot(a, None)) {
        return Ok(0);
    }
    let queued = queued(conn, None)?;
    let mut order: Vec<Queued> = queued.iter().map(|q| q.in_queue(now)).collect();
    routing::order_queue(&mut order, params.ageing_seconds);
    let mut routed = 0;
    for q in order {
        if !all.iter().any(|a| has_free_slot(a, Some(q.skill))) {
            continue;
        }
        let Some(h) = load_handoff(conn, q.id)? else {
            continue;
        };
        if try_route_among(conn, &h, now, &all, &excluded(conn, &h.id)?)?.is_some() {
            routed += 1;
            // The assignment changed an agent's load: read them again rather than guess.
            all = agents(conn)?;
            if !all.iter().any(|a| has_free_slot(a, None)) {
                break;
            }
        }
    }
    Ok(routed)
}

/// Whether `a` could take a handoff now (of `skill`, when given). A necessary condition of
/// [`routing::choose_agent`] choosing `a`, which also weighs exclusions and seniority.
fn has_free_slot(a: &Agent, skill: Option<&str>) -> bool {
    a.status == AgentStatus::Available
        && a.active < a.capacity
        && skill.is_none_or(|s| a.skills.iter().any(|k| k == s))
}

/// A queued handoff as the queue orders it: what [`Handoff::in_queue`] reads, nothing more.
struct QueuedRow {
    id: String,
    skill: String,
    priority: Priority,
    since: Timestamp,
}

impl QueuedRow {
    fn in_queue(&self, now: Timestamp) -> Queued<'_> {
        Queued::since(&self.id, &self.skill, self.priority, self.since, now)
    }
}

/// The queued handoffs (of `skill`, when given), as the queue orders them.
fn queued(conn: &impl Db, skill: Option<&str>) -> Result<Vec<QueuedRow>> {
    let row = |r: &Row| {
        Ok(QueuedRow {
            id: r.get(0)?,
            skill: r.get(1)?,
            priority: r.parse(2, "priority", Priority::parse)?,
            since: r.get(3)?,
        })
    };
    const COLUMNS: &str = "id, skill, priority, COALESCE(queued_at, created_at)";
    match skill {
        Some(skill) => conn.rows_as(
            &format!("SELECT {COLUMNS} FROM handoffs WHERE status = 'queued' AND skill = ?1"),
            vals![skill],
            row,
        ),
        None => conn.rows_as(
            &format!("SELECT {COLUMNS} FROM handoffs WHERE status = 'queued'"),
            vals![],
            row,
        ),
    }
}

/// How long a handoff of `skill` takes, from its latest resolved handoffs.
fn handle_seconds(conn: &impl Db, skill: &str, params: RoutingParams) -> Result<f64> {
    // The sample size is written into the statement, not bound: SQLite recompiles a statement
    // whose bound LIMIT changes its plan every time it runs (a fifth of a handoff's cost).
    let handled = conn.rows_as(
        &format!(
            "SELECT accepted_at, resolved_at FROM handoffs
             WHERE skill = ?1 AND status = 'resolved' AND accepted_at IS NOT NULL AND resolved_at IS NOT NULL
             ORDER BY resolved_at DESC LIMIT {}",
            params.handle_time_sample
        ),
        vals![skill],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(routing::handle_seconds(
        &handled,
        params.handle_time_sample,
        params.default_handle_seconds,
    ))
}

/// Where `h` stands: assigned agent's name, or queue position and expected wait.
pub(crate) fn placement(
    conn: &impl Db,
    h: Handoff,
    now: Timestamp,
    params: RoutingParams,
) -> Result<Placement> {
    placement_among(conn, h, now, params, agents(conn)?)
}

/// [`placement`] with the agents already read.
fn placement_among(
    conn: &impl Db,
    h: Handoff,
    now: Timestamp,
    params: RoutingParams,
    all: Vec<Agent>,
) -> Result<Placement> {
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
        let queue = queued(conn, Some(&h.skill))?;
        let mut order: Vec<Queued> = queue.iter().map(|q| q.in_queue(now)).collect();
        routing::order_queue(&mut order, params.ageing_seconds);
        let pos = order
            .iter()
            .position(|q| q.id == h.id)
            .unwrap_or(order.len());
        position = Some(pos);
        let on_shift: Vec<(u32, u32)> = with_skill.iter().map(|a| (a.capacity, a.active)).collect();
        eta = routing::queue_eta(pos, &on_shift, handle_seconds(conn, &h.skill, params)?);
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
    now: Timestamp,
    params: RoutingParams,
) -> Result<Placement> {
    let status = HandoffStatus::initial(new.callback_at);
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
    let created = serde_json::to_value(&h)?;
    insert_event(conn, EventKind::HandoffCreated, &h.id, &created, now)?;
    // What was written so far is this write's own; what follows reads and changes what every
    // routing write shares (agents' slots, the queue).
    conn.take_routing_turn()?;
    // Read once for routing and, if nobody can take it, for its place in the queue (a new
    // handoff has no agents excluded yet).
    if status == HandoffStatus::Queued {
        let all = agents(conn)?;
        if try_route_among(conn, &h, now, &all, &[])?.is_none() {
            let mut p = placement_among(conn, h, now, params, all)?;
            if let (0, Some(at)) = (p.agents_on_shift, &new.callback_if_nobody) {
                let park = Transition::NobodyOnShift { at: *at };
                decide(conn, p.handoff, &park, None, now)?.written()?;
                return placement(conn, must_load(conn, &new.id)?, now, params);
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
            // The placement just computed is the handoff's (only its wait was written since): not
            // read and computed again while the routing turn is held.
            p.handoff.eta_seconds = p.eta_seconds;
            return Ok(p);
        }
    }
    let h = must_load(conn, &new.id)?;
    placement(conn, h, now, params)
}

/// Applies a lifecycle transition asked for by `by`, then what follows it (the assignment a
/// transfer to an agent asks for, or routing), then serves the queue if a slot was freed.
pub(crate) fn transition(
    conn: &impl Db,
    id: &str,
    t: &Transition,
    by: &Actor,
    now: Timestamp,
    params: RoutingParams,
) -> Result<Placement> {
    if let Some(outcome) = decide(conn, must_load(conn, id)?, t, Some(by), now)?.written()? {
        match &outcome.next {
            Next::Nothing => {}
            Next::AssignTo(agent) => {
                let assign = Transition::Assign {
                    agent_id: agent.clone(),
                };
                decide(conn, outcome.handoff.clone(), &assign, None, now)?.written()?;
            }
            Next::Route => {
                try_route(conn, &outcome.handoff, now)?;
            }
        }
        if outcome.fills_queue {
            route_queue(conn, now, params)?;
        }
    }
    placement(conn, must_load(conn, id)?, now, params)
}

/// Timeouts and due callbacks (as the core finds them due), then the queue.
pub(crate) fn sweep(
    conn: &impl Db,
    now: Timestamp,
    timeout_seconds: i64,
    params: RoutingParams,
) -> Result<usize> {
    let mut changed = 0;
    // Only what may be due is read (times are stored at one width, so text order is time
    // order); `handoff::due` still decides. Offers and callbacks not due cost nothing, however
    // many are waiting.
    let cutoff = now - jiff::SignedDuration::from_secs(timeout_seconds.max(0));
    let candidates = conn.rows_as(
        &format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs
             WHERE (status = 'assigned' AND COALESCE(assigned_at, created_at) <= ?1)
                OR (status = 'callback' AND callback_at <= ?2)"
        ),
        vals![cutoff, now],
        handoff_from_row,
    )?;
    for h in candidates {
        if let Some(t) = handoff::due(&h, now, timeout_seconds) {
            if decide(conn, h, &t, None, now)?.written()?.is_some() {
                changed += 1;
            }
        }
    }
    changed += route_queue(conn, now, params)?;
    Ok(changed)
}
