//! The metrics read: one pass over the handoffs of a period through `handoffs_started` (each row
//! carries its conversation's customer, topic and start, so no join), a count and the CSAT
//! comparison through `conversations_started` / `conversations_csat`, and repeat contacts as a
//! probe per handoff on the covering index `conversations_repeat`. No transcript is read.

use baton_core::EscalationFacts;

use crate::sql::{bad_value, vals, Db, Kind};
use crate::{HandoffMetrics, HandoffScore, HandoffStatus, MetricsData, MetricsQuery, Result};

pub(crate) fn read(c: &impl Db, q: &MetricsQuery) -> Result<MetricsData> {
    let since = q.since_ms.unwrap_or(i64::MIN);
    let until = q.until_ms.unwrap_or(i64::MAX);
    // SQLite's planner is told which index to use; PostgreSQL's chooses well by itself.
    let (csat_index, started_index, repeat_index, order) = match c.kind() {
        Kind::Sqlite => (
            "INDEXED BY conversations_csat",
            "INDEXED BY handoffs_started",
            "INDEXED BY conversations_repeat",
            "h.started_ms, h.rowid",
        ),
        Kind::Postgres => ("", "", "", "h.started_ms, h.id"),
    };
    let conversations: i64 = c.scalar(
        "SELECT count(*) FROM conversations WHERE started_ms >= ?1 AND started_ms < ?2",
        vals![since, until],
    )?;
    let csat_by_kind = c.rows_as(
        &format!(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM handoffs h WHERE h.conversation_id = c.id) THEN 'handed_off'
                         WHEN c.roles & 2 = 0 AND c.roles & 4 != 0 THEN 'human_only'
                         ELSE 'ai_only' END AS kind,
                    CAST(avg(c.csat) AS DOUBLE PRECISION), count(*)
             FROM conversations c {csat_index}
             WHERE c.csat IS NOT NULL AND c.started_ms >= ?1 AND c.started_ms < ?2
             GROUP BY kind ORDER BY kind"
        ),
        vals![since, until],
        |r| Ok((r.get::<String>(0)?, r.get(1)?, r.get::<i64>(2)? as u64)),
    )?;
    let handoffs = c.rows_as(
        &format!(
            "SELECT h.id, h.conversation_id, h.status, h.skill, h.team, h.reason, h.created_at,
                    h.accepted_at, h.resolved_at, h.necessary, h.missing, h.csat, h.transfers,
                    h.trigger_index, h.customer_messages, h.seconds_to_handoff, h.late,
                    h.quality, h.quality_why,
                    EXISTS (SELECT 1 FROM conversations n {repeat_index}
                            WHERE n.customer_id = h.customer_id AND n.topic = h.topic
                              AND n.started_ms > h.started_ms AND n.started_ms <= h.started_ms + ?3)
             FROM handoffs h {started_index}
             WHERE h.started_ms >= ?1 AND h.started_ms < ?2
               AND (CAST(?4 AS TEXT) IS NULL OR h.team = ?4)
               AND (CAST(?5 AS TEXT) IS NULL OR h.skill = ?5)
               AND (CAST(?6 AS TEXT) IS NULL OR h.reason = ?6)
             ORDER BY {order}"
        ),
        vals![since, until, q.repeat_window_ms, q.team, q.skill, q.reason],
        |r| {
            let facts = match (
                r.get::<Option<i64>>(13)?,
                r.get::<Option<i64>>(14)?,
                r.get::<Option<f64>>(15)?,
                r.get::<Option<bool>>(16)?,
            ) {
                (Some(at), Some(n), Some(seconds), Some(late)) => Some(EscalationFacts {
                    at: at as usize,
                    customer_messages: n as usize,
                    seconds_to_handoff: seconds,
                    late,
                }),
                _ => None,
            };
            let quality = match (r.get::<Option<f64>>(17)?, r.get::<Option<String>>(18)?) {
                (Some(score), Some(why)) => Some((score, why)),
                _ => None,
            };
            let status: String = r.get(2)?;
            Ok(HandoffMetrics {
                id: r.get(0)?,
                conversation_id: r.get(1)?,
                status: HandoffStatus::parse(&status)
                    .ok_or_else(|| bad_value("status", &status))?,
                skill: r.get(3)?,
                team: r.get(4)?,
                reason: r.get(5)?,
                created_at: r.get(6)?,
                accepted_at: r.get(7)?,
                resolved_at: r.get(8)?,
                necessary: r.get(9)?,
                missing: r.get(10)?,
                csat: r.get(11)?,
                transfers: r.get(12)?,
                facts,
                quality,
                repeat_contact: r.get(19)?,
            })
        },
    )?;
    Ok(MetricsData {
        conversations: conversations as u64,
        csat_by_kind,
        handoffs,
    })
}

pub(crate) fn save_scores(c: &impl Db, scores: &[HandoffScore]) -> Result<()> {
    for s in scores {
        let f = s.facts;
        c.exec(
            "UPDATE handoffs SET trigger_index = ?2, customer_messages = ?3, seconds_to_handoff = ?4,
               late = ?5, quality = COALESCE(?6, quality), quality_why = COALESCE(?7, quality_why)
             WHERE id = ?1",
            vals![
                s.handoff_id,
                f.at as i64,
                f.customer_messages as i64,
                f.seconds_to_handoff,
                f.late,
                s.quality.as_ref().map(|q| q.0),
                s.quality.as_ref().map(|q| q.1.clone())
            ],
        )?;
    }
    Ok(())
}
