//! Reads: rows to the store's types, and the queries behind the `Store` methods that read.

use baton_core::event::EventKind;
use baton_core::model::{Currency, Customer, Message, Role as MessageRole, Tier};
use jiff::Timestamp;

use crate::sql::{bad_value, vals, Db, Row};
use crate::{
    Agent, AgentStatus, ApiKey, Delivery, Event, KeyRole, Result, Seniority, StoreError,
    StoredConversation, WebhookEndpoint,
};

pub(crate) fn load_customer(conn: &impl Db, id: &str) -> Result<Option<Customer>> {
    conn.row(
        "SELECT id, name, tier, lifetime_value, timezone, currency FROM customers WHERE id = ?1",
        vals![id],
    )?
    .map(|r| customer_from_row(&r, 0))
    .transpose()
}

/// A customer from columns `first..first + 6` (id, name, tier, lifetime_value, timezone,
/// currency).
fn customer_from_row(r: &Row, first: usize) -> Result<Customer> {
    let currency: Option<String> = r.get(first + 5)?;
    Ok(Customer {
        id: r.get(first)?,
        name: r.get(first + 1)?,
        tier: r.parse(first + 2, "tier", Tier::parse)?,
        lifetime_value: r.get(first + 3)?,
        timezone: r.get(first + 4)?,
        currency: currency
            .map(|c| Currency::parse(&c).map_err(|_| bad_value("currency", &c)))
            .transpose()?,
    })
}

pub(crate) const AGENT_COLUMNS: &str =
    "id, name, skills, capacity, seniority, team, status, active";

pub(crate) fn agent_from_row(r: &Row) -> Result<Agent> {
    let skills: String = r.get(2)?;
    Ok(Agent {
        id: r.get(0)?,
        name: r.get(1)?,
        skills: serde_json::from_str(&skills).map_err(|_| bad_value("skills", &skills))?,
        capacity: r.get(3)?,
        seniority: r.parse(4, "seniority", Seniority::parse)?,
        team: r.get(5)?,
        status: r.parse(6, "status", AgentStatus::parse)?,
        active: r.get(7)?,
    })
}

pub(crate) fn load_agent(conn: &impl Db, id: &str) -> Result<Option<Agent>> {
    conn.row(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"),
        vals![id],
    )?
    .map(|r| agent_from_row(&r))
    .transpose()
}

pub(crate) fn agents(conn: &impl Db) -> Result<Vec<Agent>> {
    conn.rows_as(
        &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id"),
        vals![],
        agent_from_row,
    )
}

const SUGGESTION_COLUMNS: &str = "id, handoff_id, kind, source, text, url, status, created_at";

fn suggestion_from_row(r: &Row) -> Result<crate::Suggestion> {
    Ok(crate::Suggestion {
        id: r.get(0)?,
        handoff_id: r.get(1)?,
        kind: r.parse(2, "suggestion kind", crate::SuggestionKind::parse)?,
        source: r.get(3)?,
        text: r.get(4)?,
        url: r.get(5)?,
        status: r.parse(6, "suggestion status", crate::SuggestionStatus::parse)?,
        created_at: r.get(7)?,
    })
}

pub(crate) fn suggestions(conn: &impl Db, handoff_id: &str) -> Result<Vec<crate::Suggestion>> {
    conn.rows_as(
        &format!(
            "SELECT {SUGGESTION_COLUMNS} FROM suggestions WHERE handoff_id = ?1 ORDER BY created_at, seq"
        ),
        vals![handoff_id],
        suggestion_from_row,
    )
}

pub(crate) fn suggestion(conn: &impl Db, handoff_id: &str, id: &str) -> Result<crate::Suggestion> {
    let r = conn
        .row(
            &format!(
                "SELECT {SUGGESTION_COLUMNS} FROM suggestions WHERE handoff_id = ?1 AND id = ?2"
            ),
            vals![handoff_id, id],
        )?
        .ok_or_else(|| StoreError::NotFound(format!("suggestion {id} of handoff {handoff_id}")))?;
    suggestion_from_row(&r)
}

fn message_from_row(r: &Row, first: usize) -> Result<Message> {
    let kb: String = r.get(first + 4)?;
    Ok(Message {
        role: r.parse(first, "role", |s| match s {
            "customer" => Some(MessageRole::Customer),
            "ai" => Some(MessageRole::Ai),
            "agent" => Some(MessageRole::Agent),
            _ => None,
        })?,
        text: r.get(first + 1)?,
        at: r.get(first + 2)?,
        confidence: r.get(first + 3)?,
        kb_articles: serde_json::from_str(&kb).map_err(|_| bad_value("kb_articles", &kb))?,
    })
}

/// One stored conversation with its messages.
pub(crate) fn load_conversation(c: &impl Db, id: &str) -> Result<Option<StoredConversation>> {
    let Some(r) = c.row(
        "SELECT v.id, v.created_at, v.decision, v.csat, u.id, u.name, u.tier, u.lifetime_value, u.timezone, u.currency
         FROM conversations v JOIN customers u ON u.id = v.customer_id WHERE v.id = ?1",
        vals![id],
    )?
    else {
        return Ok(None);
    };
    let mut conv = conversation_from_row(&r)?;
    conv.messages = c.rows_as(
        "SELECT role, text, at, confidence, kb_articles FROM messages
         WHERE conversation_id = ?1 ORDER BY idx",
        vals![id],
        |r| message_from_row(r, 0),
    )?;
    Ok(Some(conv))
}

/// A conversation without its messages from (id, created_at, decision, csat, customer...).
fn conversation_from_row(r: &Row) -> Result<StoredConversation> {
    let decision: Option<String> = r.get(2)?;
    Ok(StoredConversation {
        id: r.get(0)?,
        created_at: r.get(1)?,
        decision: decision.map(|d| serde_json::from_str(&d)).transpose()?,
        csat: r.get(3)?,
        customer: customer_from_row(r, 4)?,
        messages: Vec::new(),
    })
}

/// Conversations in id order after `after`, at most `limit`, with their messages.
pub(crate) fn conversations_page(
    c: &impl Db,
    after: &str,
    limit: usize,
) -> Result<Vec<StoredConversation>> {
    // The limit is written into the statement (see `due_deliveries`); callers pass one of a few
    // fixed page sizes, so each keeps one cached statement.
    let mut out = c.rows_as(
        &format!(
            "SELECT v.id, v.created_at, v.decision, v.csat, u.id, u.name, u.tier, u.lifetime_value, u.timezone, u.currency
             FROM conversations v JOIN customers u ON u.id = v.customer_id
             WHERE v.id > ?1 ORDER BY v.id LIMIT {limit}"
        ),
        vals![after],
        conversation_from_row,
    )?;
    let (Some(first), Some(last)) = (
        out.first().map(|c| c.id.clone()),
        out.last().map(|c| c.id.clone()),
    ) else {
        return Ok(out);
    };
    let mut i = 0;
    c.each(
        "SELECT role, text, at, confidence, kb_articles, conversation_id FROM messages
         WHERE conversation_id >= ?1 AND conversation_id <= ?2 ORDER BY conversation_id, idx",
        vals![first, last],
        &mut |r| {
            let conv: String = r.get(5)?;
            while i < out.len() && out[i].id != conv {
                i += 1;
            }
            if i < out.len() {
                out[i].messages.push(message_from_row(r, 0)?);
            }
            Ok(())
        },
    )?;
    Ok(out)
}

fn seconds_between(a: Timestamp, b: Timestamp) -> f64 {
    b.duration_since(a).as_secs_f64()
}

pub(crate) fn desk_summary(c: &impl Db) -> Result<crate::DeskSummary> {
    let mut s = crate::DeskSummary {
        conversations: c.scalar::<i64>("SELECT COUNT(*) FROM conversations", vals![])? as u64,
        ..Default::default()
    };
    let (mut to_handoff, mut resolution, mut csat, mut necessary) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    c.each(
        "SELECT h.id, h.status, h.reason, h.created_at, h.accepted_at, h.resolved_at, h.csat, h.necessary, v.created_at
         FROM handoffs h JOIN conversations v ON v.id = h.conversation_id",
        vals![],
        &mut |r| {
            let (id, status, reason): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let (created, accepted, resolved): (Timestamp, Option<Timestamp>, Option<Timestamp>) =
                (r.get(3)?, r.get(4)?, r.get(5)?);
            let (score, needed, started): (Option<u8>, Option<bool>, Timestamp) =
                (r.get(6)?, r.get(7)?, r.get(8)?);
            s.handoffs += 1;
            *s.by_status.entry(status).or_default() += 1;
            *s.by_reason.entry(reason.clone()).or_default() += 1;
            to_handoff.push(seconds_between(started, created));
            if let (Some(a), Some(r)) = (accepted, resolved) {
                resolution.push(seconds_between(a, r));
            }
            if let Some(sc) = score {
                csat.push(sc as f64);
                s.lowest_csat.push((id, sc, reason));
            }
            necessary.extend(needed.map(|n| if n { 1.0 } else { 0.0 }));
            Ok(())
        },
    )?;
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    s.handoff_rate = if s.conversations > 0 {
        s.handoffs as f64 / s.conversations as f64
    } else {
        0.0
    };
    s.mean_time_to_handoff_seconds = mean(&to_handoff);
    s.mean_resolution_seconds = mean(&resolution);
    s.mean_csat = mean(&csat);
    s.csat_count = csat.len() as u64;
    s.necessary_share = mean(&necessary);
    s.lowest_csat.sort_by_key(|(id, sc, _)| (*sc, id.clone()));
    s.lowest_csat.truncate(10);
    Ok(s)
}

const KEY_COLUMNS: &str = "id, name, role, secret_hash, created_at, revoked_at, agent_id";

fn key_from_row(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.parse(2, "role", KeyRole::parse)?,
        secret_hash: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
        agent_id: r.get(6)?,
    })
}

pub(crate) fn key(c: &impl Db, id: &str) -> Result<Option<ApiKey>> {
    c.row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
        vals![id],
    )?
    .map(|r| key_from_row(&r))
    .transpose()
}

pub(crate) fn keys(c: &impl Db) -> Result<Vec<ApiKey>> {
    c.rows_as(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"),
        vals![],
        key_from_row,
    )
}

fn endpoint_from_row(r: &Row) -> Result<WebhookEndpoint> {
    Ok(WebhookEndpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        secret: r.get(2)?,
        created_at: r.get(3)?,
    })
}

pub(crate) fn webhooks(c: &impl Db) -> Result<Vec<WebhookEndpoint>> {
    c.rows_as(
        "SELECT id, url, secret, created_at FROM webhook_endpoints ORDER BY created_at, id",
        vals![],
        endpoint_from_row,
    )
}

/// An event from columns `first..first + 5` (seq, kind, subject, payload, at).
fn event_from_row(r: &Row, first: usize) -> Result<Event> {
    let payload: String = r.get(first + 3)?;
    let kind: String = r.get(first + 1)?;
    Ok(Event {
        seq: r.get(first)?,
        kind: EventKind::parse(&kind).ok_or_else(|| bad_value("event kind", &kind))?,
        subject: r.get(first + 2)?,
        payload: serde_json::from_str(&payload).map_err(|_| bad_value("payload", &payload))?,
        at: r.get(first + 4)?,
    })
}

/// Events with `after < seq <= through`, oldest first, at most `limit`.
pub(crate) fn events_after(
    c: &impl Db,
    after: i64,
    through: i64,
    limit: usize,
) -> Result<Vec<Event>> {
    // The limit is written into the statement (see `due_deliveries`): the event stream reads with
    // one fixed batch size, and a bound limit made SQLite compile the statement on every read.
    c.rows_as(
        &format!(
            "SELECT seq, kind, subject, payload, at FROM events WHERE seq > ?1 AND seq <= ?2
             ORDER BY seq LIMIT {limit}"
        ),
        vals![after, through],
        |r| event_from_row(r, 0),
    )
}

pub(crate) fn handoff_events(c: &impl Db, handoff_id: &str) -> Result<Vec<Event>> {
    c.rows_as(
        "SELECT seq, kind, subject, payload, at FROM events WHERE subject = ?1 ORDER BY seq",
        vals![handoff_id],
        |r| event_from_row(r, 0),
    )
}

/// The oldest undelivered event of each endpoint, if its next attempt is due at `now` and no
/// instance holds it.
pub(crate) fn due_deliveries(c: &impl Db, now: Timestamp, limit: usize) -> Result<Vec<Delivery>> {
    // The limit is written into the statement, not bound: SQLite compiled this statement again
    // on every run when the limit was a parameter (about 30 us each, and the delivery loop runs
    // it after every write that adds events).
    let rows = c.rows_as(
        &format!(
            "SELECT w.id, w.url, w.secret, w.created_at, e.seq, e.kind, e.subject, e.payload, e.at,
                    o.attempts, o.next_attempt_at, o.leased_until
             FROM webhook_endpoints w
             JOIN webhook_outbox o ON o.endpoint_id = w.id
               AND o.event_seq = (SELECT MIN(x.event_seq) FROM webhook_outbox x
                                  WHERE x.endpoint_id = w.id AND x.delivered_at IS NULL)
             JOIN events e ON e.seq = o.event_seq
             ORDER BY w.created_at, w.id
             LIMIT {limit}"
        ),
        &[],
        |r| {
            let next: Timestamp = r.get(10)?;
            let leased: Option<Timestamp> = r.get(11)?;
            Ok((
                Delivery {
                    endpoint: endpoint_from_row(r)?,
                    event: event_from_row(r, 4)?,
                    attempts: r.get(9)?,
                },
                next,
                leased,
            ))
        },
    )?;
    Ok(rows
        .into_iter()
        .filter(|(_, next, leased)| *next <= now && leased.is_none_or(|l| l <= now))
        .map(|(d, _, _)| d)
        .collect())
}
