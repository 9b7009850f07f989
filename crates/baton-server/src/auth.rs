//! API keys: `baton_<id>_<secret>`. The store keeps the SHA-256 of the secret, never the secret;
//! the check compares hashes in constant time. Verified keys are cached for
//! [`Settings::key_cache_ms`](crate::Settings::key_cache_ms) (1 s by default) so requests need no
//! database read each: a key revoked elsewhere (another instance, `baton keys revoke`) stops
//! working within that time; one revoked through [`revoke_key`] stops at once on this instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use baton_store::{Actor, ApiKey, Handoff, KeyRole, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AppState;

const PREFIX: &str = "baton_";

/// The support bot: posts messages, manages customers, CSAT and its AI's suggestions.
pub(crate) const BOT: &[KeyRole] = &[KeyRole::Integrator, KeyRole::Admin];
/// Everyone with a key.
pub(crate) const ANY: &[KeyRole] = &[
    KeyRole::Integrator,
    KeyRole::Agent,
    KeyRole::Lead,
    KeyRole::Admin,
];
/// The people at the desk. An agent acts on its own handoffs only ([`Caller::may_act_on`]).
pub(crate) const DESK: &[KeyRole] = &[KeyRole::Agent, KeyRole::Lead, KeyRole::Admin];
/// Those who see every handoff, the dashboard and the reports.
pub(crate) const SUPERVISORS: &[KeyRole] = &[KeyRole::Lead, KeyRole::Admin];
/// Keys, agents, metrics.
pub(crate) const ADMINS: &[KeyRole] = &[KeyRole::Admin];
/// Reads conversations and customers: the bot and the supervisors (an agent reads the
/// conversation of its own handoffs only).
pub(crate) const READERS: &[KeyRole] = &[KeyRole::Integrator, KeyRole::Lead, KeyRole::Admin];

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: KeyRole,
    pub name: String,
    /// The agent an agent key belongs to.
    pub agent_id: Option<String>,
}

impl Caller {
    /// `Ok` if the caller's role is one of `roles`, 403 otherwise.
    pub fn require(&self, roles: &[KeyRole]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a key with role `{}` may not do this; needs one of: {}",
                self.role.as_str(),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

impl Caller {
    /// Who this caller is, as recorded on the events it causes.
    pub fn actor(&self) -> Actor {
        Actor {
            key_id: self.key_id.clone(),
            role: self.role,
        }
    }

    /// Whether the caller sees and acts on every handoff (leads and admins).
    pub fn supervises(&self) -> bool {
        SUPERVISORS.contains(&self.role)
    }

    /// The agent an agent key acts as; 403 for an agent key tied to no agent.
    pub fn own_agent(&self) -> Result<&str, ApiError> {
        self.agent_id.as_deref().ok_or_else(|| {
            ApiError::forbidden(
                "this agent key belongs to no agent; create one with `baton keys create --role agent --agent ID`",
            )
        })
    }

    /// `Ok` if the caller may act on handoff `h`: supervisors on every handoff, an agent on the
    /// handoffs assigned or offered to its own agent. 403 otherwise (also for other roles).
    pub fn may_act_on(&self, h: &Handoff) -> Result<(), ApiError> {
        if self.supervises() {
            return Ok(());
        }
        if self.role != KeyRole::Agent {
            return Err(ApiError::forbidden(format!(
                "a key with role `{}` may not act on handoffs",
                self.role.as_str()
            )));
        }
        let me = self.own_agent()?;
        if h.agent_id.as_deref() == Some(me) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "handoff {} is {}, not to you ({me})",
                h.id,
                match &h.agent_id {
                    Some(a) => format!("assigned to {a}"),
                    None => format!("{} and assigned to nobody", h.status.as_str()),
                }
            )))
        }
    }

    /// `Ok` if the caller may change agent `agent_id` (its status): supervisors any, an agent
    /// itself only.
    pub fn may_act_as(&self, agent_id: &str) -> Result<(), ApiError> {
        if self.supervises() {
            return Ok(());
        }
        let me = self.own_agent()?;
        if me == agent_id {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this key belongs to agent {me}, not {agent_id}"
            )))
        }
    }
}

/// A new key: the stored record and the full key string (shown once).
pub struct NewKey {
    pub record: ApiKey,
    pub key: String,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Makes a key with a random id and a 256-bit random secret.
pub fn generate_key(name: &str, role: KeyRole, now: jiff::Timestamp) -> NewKey {
    generate_agent_key(name, role, None, now)
}

/// Makes a key; an agent key may name the agent it belongs to.
pub fn generate_agent_key(
    name: &str,
    role: KeyRole,
    agent_id: Option<String>,
    now: jiff::Timestamp,
) -> NewKey {
    let mut rng = rand::rng();
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let secret = hex::encode(secret);
    NewKey {
        key: format!("{PREFIX}{id}_{secret}"),
        record: ApiKey {
            id,
            name: name.to_string(),
            role,
            secret_hash: hash(&secret),
            created_at: now,
            revoked_at: None,
            agent_id,
        },
    }
}

/// Splits `baton_<id>_<secret>`.
fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (ok(id) && ok(secret)).then_some((id, secret))
}

/// Verified keys by id, each trusted for the cache's time to live.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, ApiKey)>>,
    /// Keys revoked through this instance: never served from the cache again, even if a request
    /// that read the key just before the revocation committed puts it back.
    revoked: Mutex<std::collections::HashSet<String>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(Duration::from_millis(
            crate::Settings::default().key_cache_ms,
        ))
    }
}

impl KeyCache {
    /// A cache whose entries are read again from the store after `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
            revoked: Mutex::default(),
        }
    }

    async fn lookup(&self, store: &dyn Store, id: &str) -> Result<Option<ApiKey>, ApiError> {
        let revoked_here = self.revoked.lock().is_ok_and(|r| r.contains(id));
        if let (false, Ok(entries)) = (revoked_here, self.entries.lock()) {
            if let Some((at, key)) = entries.get(id) {
                if at.elapsed() < self.ttl {
                    return Ok(Some(key.clone()));
                }
            }
        }
        let key = store.key(id).await?;
        if let (Some(k), Ok(mut entries)) = (&key, self.entries.lock()) {
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(id.to_string(), (Instant::now(), k.clone()));
        }
        Ok(key)
    }

    /// Key `id` is being revoked: from now on it is always read from the store.
    pub fn revoking(&self, id: &str) {
        if let Ok(mut revoked) = self.revoked.lock() {
            revoked.insert(id.to_string());
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id);
        }
    }
}

/// Revokes key `id` in the store and forgets it here: on this instance the key stops working at
/// once (on others within their cache time). `NotFound` if there is no such key.
pub async fn revoke_key(state: &AppState, id: &str, now: jiff::Timestamp) -> Result<(), ApiError> {
    state.keys.revoking(id);
    Ok(state.store.revoke_key(id, now).await?)
}

/// Checks a full key string against the store.
pub async fn verify(state: &AppState, presented: &str) -> Result<Caller, ApiError> {
    let invalid = || ApiError::unauthorized("invalid API key");
    let (id, secret) = parse_key(presented).ok_or_else(invalid)?;
    let key = state
        .keys
        .lookup(state.store.as_ref(), id)
        .await?
        .ok_or_else(invalid)?;
    let matches: bool = key.secret_hash.ct_eq(&hash(secret)).into();
    if !matches {
        return Err(invalid());
    }
    if key.revoked_at.is_some() {
        return Err(ApiError::unauthorized("this API key has been revoked"));
    }
    Ok(Caller {
        key_id: key.id,
        role: key.role,
        name: key.name,
        agent_id: key.agent_id,
    })
}

/// Requests per key per second, with bursts of twice the rate.
pub struct RateLimits {
    limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
}

impl RateLimits {
    pub fn new(per_second: u32) -> Self {
        let limiter = std::num::NonZeroU32::new(per_second).map(|rate| {
            let burst = rate.saturating_mul(std::num::NonZeroU32::new(2).expect("2 is not 0"));
            governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
        });
        Self { limiter }
    }

    /// `Err(429)` with the seconds to wait when `key_id` is over its rate.
    pub fn check(&self, key_id: &str) -> Result<(), ApiError> {
        let Some(l) = &self.limiter else {
            return Ok(());
        };
        match l.check_key(&key_id.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ));
                Err(ApiError::too_many_requests(wait.as_secs() + 1))
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing `Authorization: Bearer <key>` header")
            })?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not ASCII"))?;
        let key = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <key>`"))?;
        let caller = verify(state, key.trim()).await?;
        state.rate_limits.check(&caller.key_id)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_hash() {
        let k = generate_key("bot", KeyRole::Integrator, jiff::Timestamp::UNIX_EPOCH);
        let (id, secret) = parse_key(&k.key).unwrap();
        assert_eq!(id, k.record.id);
        assert_eq!(hash(secret), k.record.secret_hash);
        assert!(parse_key("baton_zz_01").is_none());
        assert!(parse_key("nope").is_none());
    }
}
