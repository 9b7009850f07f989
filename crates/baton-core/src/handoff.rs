//! The handoff lifecycle: which changes a handoff accepts in which status, and what each one
//! changes (status and times, transfer notes, agents' slots and status, the events to write).
//! [`apply`] decides; the store only loads the handoff, calls it and writes the [`Outcome`] in
//! the same transaction. Time is passed in.
//!
//! queued -(assign)-> assigned -(accept)-> accepted -(resolve)-> resolved -(CSAT, once).
//! An offer not accepted in time goes back to the queue (time out); transfer queues an open
//! handoff again (for a team, or straight to an agent); a callback parks anything not resolved
//! until it is due, when it is queued again.

use crate::event::EventKind;
use crate::policy::Priority;
use crate::reason::ReasonName;
use crate::routing::Queued;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandoffStatus {
    /// Waiting for an agent with the skill.
    Queued,
    /// Given to an agent who has not accepted yet.
    Assigned,
    /// The agent took it.
    Accepted,
    Resolved,
    /// The team is closed: a callback is scheduled at `callback_at`.
    Callback,
}

impl HandoffStatus {
    pub const ALL: [HandoffStatus; 5] = [
        HandoffStatus::Queued,
        HandoffStatus::Assigned,
        HandoffStatus::Accepted,
        HandoffStatus::Resolved,
        HandoffStatus::Callback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Queued => "queued",
            HandoffStatus::Assigned => "assigned",
            HandoffStatus::Accepted => "accepted",
            HandoffStatus::Resolved => "resolved",
            HandoffStatus::Callback => "callback",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        HandoffStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The status a new handoff starts in: a callback when the team is closed, else queued.
    pub fn initial(callback_at: Option<Timestamp>) -> Self {
        if callback_at.is_some() {
            HandoffStatus::Callback
        } else {
            HandoffStatus::Queued
        }
    }
}

/// A handoff of a conversation to a human team, with its lifecycle. Times are written as RFC
/// 3339 (in JSON and in the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub id: String,
    pub conversation_id: String,
    pub status: HandoffStatus,
    pub skill: String,
    pub team: String,
    pub priority: Priority,
    /// The primary reason's kind (a built-in kind or a custom rule's name).
    pub reason: ReasonName,
    pub vip: bool,
    pub agent_id: Option<String>,
    pub created_at: Timestamp,
    pub queued_at: Option<Timestamp>,
    pub assigned_at: Option<Timestamp>,
    pub accepted_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub callback_at: Option<Timestamp>,
    pub resolution: Option<String>,
    /// The human's judgement: was the escalation needed?
    pub necessary: Option<bool>,
    /// What the human needed that the AI lacked.
    pub missing: Option<String>,
    pub csat: Option<u8>,
    pub transfers: u32,
    /// Expected wait quoted when it was queued.
    pub eta_seconds: Option<f64>,
    /// Warm-transfer notes, oldest first.
    pub notes: Vec<TransferNote>,
}

impl Handoff {
    /// The handoff as the queue sees it at `now`: waiting since it was queued (or created).
    pub fn in_queue(&self, now: Timestamp) -> Queued<'_> {
        let since = self.queued_at.unwrap_or(self.created_at);
        Queued::since(&self.id, &self.skill, self.priority, since, now)
    }
}

/// A warm-transfer note. Fields in alphabetical order: it is written as the JSON object the
/// notes have always been stored as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferNote {
    pub at: Timestamp,
    /// The agent who had it, if any.
    pub from: Option<String>,
    pub note: String,
    /// The agent it went to, or the team.
    pub to: String,
}

/// A lifecycle change of a handoff: the first five are asked for by people, the rest are made by
/// the service itself (routing, the sweep, a new handoff nobody can take).
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The assigned agent takes it.
    Accept {
        agent_id: String,
    },
    /// Warm transfer to an agent or to another skill's team, with a note.
    Transfer {
        to_agent: Option<String>,
        to_skill: Option<String>,
        to_team: Option<String>,
        note: String,
    },
    Resolve {
        resolution: String,
        necessary: bool,
        missing: Option<String>,
    },
    /// Schedule (or move) a callback.
    Callback {
        at: Timestamp,
    },
    Csat {
        score: u8,
    },
    /// Routing offers a queued handoff to an agent (who takes a slot of its capacity).
    Assign {
        agent_id: String,
    },
    /// A new handoff could not be routed and nobody with the skill is on shift: call back at
    /// `at` instead of queueing without an end.
    NobodyOnShift {
        at: Timestamp,
    },
    /// The agent did not accept within `timeout_seconds`: back to the queue, the agent set away
    /// and never offered this handoff again.
    TimeOut {
        timeout_seconds: i64,
    },
    /// The scheduled callback is due: back to the queue.
    CallbackDue,
}

impl Transition {
    /// The verb of "cannot {verb} handoff ...".
    fn verb(&self) -> &'static str {
        match self {
            Transition::Accept { .. } => "accept",
            Transition::Transfer { .. } => "transfer",
            Transition::Resolve { .. } => "resolve",
            Transition::Callback { .. } | Transition::NobodyOnShift { .. } => {
                "schedule a callback for"
            }
            Transition::Csat { .. } => "rate",
            Transition::Assign { .. } => "assign",
            Transition::TimeOut { .. } => "time out",
            Transition::CallbackDue => "release the callback of",
        }
    }

    /// The agent whose load [`apply`] needs: the one a transfer goes to.
    pub fn target_agent(&self) -> Option<&str> {
        match self {
            Transition::Transfer { to_agent, .. } => to_agent.as_deref(),
            _ => None,
        }
    }

    /// Whether it moves handoffs to or from agents (and so must take turns with routing);
    /// accept and CSAT do not.
    pub fn routes(&self) -> bool {
        !matches!(self, Transition::Accept { .. } | Transition::Csat { .. })
    }
}

/// An agent's load, as [`apply`] needs it for a transfer to that agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentLoad {
    pub active: u32,
    pub capacity: u32,
}

/// Why a transition is refused. The messages name the handoff, its status and what would be
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("cannot {verb} handoff {id}: it is {}", status.as_str())]
    NotInThisStatus {
        id: String,
        verb: &'static str,
        status: HandoffStatus,
    },
    #[error("handoff {id} is assigned to {}, not to {agent_id}", assigned.as_deref().unwrap_or("nobody"))]
    AssignedToAnother {
        id: String,
        assigned: Option<String>,
        agent_id: String,
    },
    #[error("handoff {id} is no longer assigned to {agent_id}")]
    NoLongerAssigned { id: String, agent_id: String },
    #[error("handoff {id} is {}: the customer rates a handoff once it is resolved", status.as_str())]
    NotResolved { id: String, status: HandoffStatus },
    #[error("handoff {id} already has a CSAT score")]
    AlreadyRated { id: String },
    #[error("agent {agent_id} is at capacity ({active} of {capacity})")]
    AgentAtCapacity {
        agent_id: String,
        active: u32,
        capacity: u32,
    },
    /// The agent's last slot went between the check and the write.
    #[error("agent {agent_id} is at capacity")]
    AgentFull { agent_id: String },
    #[error("no agent {agent_id}")]
    UnknownAgent { agent_id: String },
    #[error("handoff {id} is {}: only an assigned or accepted handoff can be answered", status.as_str())]
    NotAnswerable { id: String, status: HandoffStatus },
    #[error("handoff {id} is not due: {why}")]
    NotDue { id: String, why: &'static str },
}

/// A change to an agent that goes with a transition, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChange {
    /// Takes one of the agent's slots, only if one is free (checked in the write itself); the
    /// transition fails with [`LifecycleError::AgentFull`] otherwise.
    Take(String),
    /// Frees one of the agent's slots.
    Release(String),
    /// Sets the agent away, if it is available.
    SetAway(String),
}

/// An event a transition writes, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Emit {
    /// About the handoff (its subject): the handoff as written, with `extra` added, and `by`
    /// (who asked for the change) when `by_whom`.
    Handoff {
        kind: EventKind,
        extra: Map<String, Value>,
        by_whom: bool,
    },
    /// About an agent (its subject).
    Agent {
        kind: EventKind,
        agent_id: String,
        payload: Value,
    },
}

/// What to do when the stored handoff no longer matches the one decided on (a write that does
/// not take the routing turn, accept, moved it meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMoved {
    /// Refuse with this error.
    Refuse(LifecycleError),
    /// Do nothing: the change is moot.
    Skip,
    /// Read the handoff again and decide again.
    DecideAgain,
}

/// The condition under which the outcome is written: the stored handoff is still in `status`
/// (and still with `agent_id`, and still unrated, when asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub status: HandoffStatus,
    pub agent_id: Option<String>,
    pub unrated: bool,
    pub if_moved: IfMoved,
}

/// What happens to the handoff right after the change is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Nothing,
    /// Apply [`Transition::Assign`] to this agent; fail if it has no free slot.
    AssignTo(String),
    /// Offer it to the best free agent, if any.
    Route,
}

/// Everything a transition changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The handoff after the change.
    pub handoff: Handoff,
    pub guard: Guard,
    pub agents: Vec<AgentChange>,
    /// An agent never to offer this handoff again.
    pub exclude: Option<String>,
    pub events: Vec<Emit>,
    pub next: Next,
    /// A slot was freed or a handoff queued: serve the queue afterwards.
    pub fills_queue: bool,
}

/// An event about the handoff; `by_whom` when someone asked for the change.
fn emit(by_whom: bool, kind: EventKind, extra: Value) -> Emit {
    Emit::Handoff {
        kind,
        extra: match extra {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        by_whom,
    }
}

/// Why `h` is not due for `t` at `now`, or `None` when it is.
fn not_due(h: &Handoff, t: &Transition, now: Timestamp) -> Option<&'static str> {
    match t {
        Transition::TimeOut { timeout_seconds } => {
            let since = h.assigned_at.unwrap_or(h.created_at);
            ((now - since).get_seconds() < *timeout_seconds)
                .then_some("the agent still has time to accept")
        }
        Transition::CallbackDue => match h.callback_at {
            Some(c) if c <= now => None,
            Some(_) => Some("its callback is later"),
            None => Some("it has no callback time"),
        },
        _ => None,
    }
}

/// What the sweep does to `h` at `now`: time out an offer not accepted within
/// `timeout_seconds`, or release a due callback. Returns `Some` if and only if [`apply`] accepts
/// the returned transition for `h` at `now`.
pub fn due(h: &Handoff, now: Timestamp, timeout_seconds: i64) -> Option<Transition> {
    let t = match h.status {
        HandoffStatus::Assigned => Transition::TimeOut { timeout_seconds },
        HandoffStatus::Callback => Transition::CallbackDue,
        _ => return None,
    };
    not_due(h, &t, now).is_none().then_some(t)
}

/// Decides `t` on `h` at `now`. `target` is the load of the agent `t` names
/// ([`Transition::target_agent`]), `None` when there is no such agent.
///
/// Returns the outcome if and only if `t` is legal for `h`: accept only an offer to that agent;
/// transfer an open handoff (queued, assigned, accepted) to a team or an agent with a free slot;
/// resolve an assigned or accepted one; schedule a callback for anything not resolved; rate a
/// resolved one once; assign a queued one; time out or release a callback only when due. A
/// resolved handoff accepts nothing but its CSAT.
pub fn apply(
    h: &Handoff,
    t: &Transition,
    now: Timestamp,
    target: Option<&AgentLoad>,
) -> Result<Outcome, LifecycleError> {
    use HandoffStatus::*;
    let refuse = || {
        Err(LifecycleError::NotInThisStatus {
            id: h.id.clone(),
            verb: t.verb(),
            status: h.status,
        })
    };
    let at = now;
    let mut new = h.clone();
    let mut out = Outcome {
        handoff: h.clone(),
        guard: Guard {
            status: h.status,
            agent_id: None,
            unrated: false,
            if_moved: IfMoved::DecideAgain,
        },
        agents: Vec::new(),
        exclude: None,
        events: Vec::new(),
        next: Next::Nothing,
        fills_queue: t.routes(),
    };
    let release = |out: &mut Outcome| {
        if let Some(a) = &h.agent_id {
            out.agents.push(AgentChange::Release(a.clone()));
        }
    };
    match t {
        Transition::Accept { agent_id } => {
            if h.status != Assigned {
                return refuse();
            }
            if h.agent_id.as_deref() != Some(agent_id.as_str()) {
                return Err(LifecycleError::AssignedToAnother {
                    id: h.id.clone(),
                    assigned: h.agent_id.clone(),
                    agent_id: agent_id.clone(),
                });
            }
            new.status = Accepted;
            new.accepted_at = Some(at);
            // Accept does not take the routing turn: a timeout or a transfer may have moved it.
            out.guard.agent_id = Some(agent_id.clone());
            out.guard.if_moved = IfMoved::Refuse(LifecycleError::NoLongerAssigned {
                id: h.id.clone(),
                agent_id: agent_id.clone(),
            });
            out.events
                .push(emit(true, EventKind::HandoffAccepted, json!({})));
        }
        Transition::Transfer {
            to_agent,
            to_skill,
            to_team,
            note,
        } => {
            if !matches!(h.status, Assigned | Accepted | Queued) {
                return refuse();
            }
            if let Some(a) = to_agent {
                let load = target.ok_or_else(|| LifecycleError::UnknownAgent {
                    agent_id: a.clone(),
                })?;
                // The agent who has it keeps its slot through the transfer.
                if load.active >= load.capacity && h.agent_id.as_deref() != Some(a.as_str()) {
                    return Err(LifecycleError::AgentAtCapacity {
                        agent_id: a.clone(),
                        active: load.active,
                        capacity: load.capacity,
                    });
                }
            }
            release(&mut out);
            if let Some(skill) = to_skill {
                new.skill = skill.clone();
            }
            if let Some(team) = to_team {
                new.team = team.clone();
            }
            new.notes.push(TransferNote {
                at,
                from: h.agent_id.clone(),
                note: note.clone(),
                to: to_agent.clone().unwrap_or_else(|| new.team.clone()),
            });
            new.status = Queued;
            new.agent_id = None;
            new.assigned_at = None;
            new.accepted_at = None;
            new.queued_at = Some(at);
            new.transfers = h.transfers.saturating_add(1);
            out.events.push(emit(
                true,
                EventKind::HandoffTransferred,
                json!({"from_agent": h.agent_id, "to_agent": to_agent, "note": note}),
            ));
            out.next = match to_agent {
                Some(a) => Next::AssignTo(a.clone()),
                None => Next::Route,
            };
        }
        Transition::Resolve {
            resolution,
            necessary,
            missing,
        } => {
            if !matches!(h.status, Assigned | Accepted) {
                return refuse();
            }
            release(&mut out);
            new.status = Resolved;
            new.accepted_at = Some(h.accepted_at.unwrap_or(at));
            new.resolved_at = Some(at);
            new.resolution = Some(resolution.clone());
            new.necessary = Some(*necessary);
            new.missing = missing.clone();
            out.events
                .push(emit(true, EventKind::HandoffResolved, json!({})));
        }
        Transition::Callback { at: when } => {
            if h.status == Resolved {
                return refuse();
            }
            release(&mut out);
            new.status = Callback;
            new.agent_id = None;
            new.callback_at = Some(*when);
            out.events
                .push(emit(true, EventKind::HandoffCallback, json!({})));
        }
        Transition::Csat { score } => {
            if h.status != Resolved {
                return Err(LifecycleError::NotResolved {
                    id: h.id.clone(),
                    status: h.status,
                });
            }
            let rated = LifecycleError::AlreadyRated { id: h.id.clone() };
            if h.csat.is_some() {
                return Err(rated);
            }
            new.csat = Some(*score);
            // Once, even when two ratings race (CSAT does not take the routing turn).
            out.guard.unrated = true;
            out.guard.if_moved = IfMoved::Refuse(rated);
            out.events
                .push(emit(true, EventKind::HandoffCsat, json!({})));
        }
        Transition::Assign { agent_id } => {
            if h.status != Queued {
                return refuse();
            }
            out.agents.push(AgentChange::Take(agent_id.clone()));
            new.status = Assigned;
            new.agent_id = Some(agent_id.clone());
            new.assigned_at = Some(at);
            out.events
                .push(emit(false, EventKind::HandoffAssigned, json!({})));
            // Routing serves the queue itself.
            out.fills_queue = false;
        }
        Transition::NobodyOnShift { at: when } => {
            if h.status != Queued {
                return refuse();
            }
            new.status = Callback;
            new.callback_at = Some(*when);
            new.queued_at = None;
            out.events.push(emit(
                false,
                EventKind::HandoffCallback,
                json!({"why": "nobody with the skill is on shift"}),
            ));
            // Nobody can take it, and nothing was freed.
            out.fills_queue = false;
        }
        Transition::TimeOut { .. } => {
            if h.status != Assigned {
                return refuse();
            }
            if let Some(why) = not_due(h, t, now) {
                return Err(LifecycleError::NotDue {
                    id: h.id.clone(),
                    why,
                });
            }
            let agent = h.agent_id.clone().unwrap_or_default();
            new.status = Queued;
            new.agent_id = None;
            new.assigned_at = None;
            // Unless the agent accepted it meanwhile (accept does not take the routing turn).
            out.guard.agent_id = Some(agent.clone());
            out.guard.if_moved = IfMoved::Skip;
            out.exclude = Some(agent.clone());
            out.agents.push(AgentChange::Release(agent.clone()));
            out.agents.push(AgentChange::SetAway(agent.clone()));
            out.events.push(Emit::Agent {
                kind: EventKind::AgentStatus,
                agent_id: agent.clone(),
                payload: json!({"status": "away", "why": "did not accept a handoff in time"}),
            });
            out.events.push(emit(
                false,
                EventKind::HandoffTimedOut,
                json!({"agent": agent}),
            ));
        }
        Transition::CallbackDue => {
            if h.status != Callback {
                return refuse();
            }
            if let Some(why) = not_due(h, t, now) {
                return Err(LifecycleError::NotDue {
                    id: h.id.clone(),
                    why,
                });
            }
            new.status = Queued;
            new.queued_at = Some(at);
            out.events
                .push(emit(false, EventKind::HandoffCallbackDue, json!({})));
        }
    }
    out.handoff = new;
    Ok(out)
}

/// Whether an agent may reply to `h` now, and how: an offered handoff is accepted first.
/// Returns the transition to apply before the reply (`None` when already accepted), or an error
/// naming the status if the handoff cannot be answered.
pub fn before_reply(h: &Handoff) -> Result<Option<Transition>, LifecycleError> {
    match h.status {
        HandoffStatus::Assigned => Ok(Some(Transition::Accept {
            agent_id: h.agent_id.clone().unwrap_or_default(),
        })),
        HandoffStatus::Accepted => Ok(None),
        status => Err(LifecycleError::NotAnswerable {
            id: h.id.clone(),
            status,
        }),
    }
}

#[cfg(test)]
mod tests;
