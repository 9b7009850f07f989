//! The rule detectors of customer messages: phrase lists searched line by line behind the policy's
//! screen, negation-aware (`signals`), and the policy's custom rules. They keep no state.

use super::{Detector, Found, Observation};
use crate::policy::PhraseRule;
use crate::reason::ReasonKind;
use crate::signals;

/// The customer asks for a person.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExplicitRequest;

impl Detector for ExplicitRequest {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        found.extend(phrase_finding(
            obs,
            &obs.policy.explicit_request,
            ReasonKind::ExplicitRequest,
            "customer asked for a human",
        ));
    }
}

/// What a phrase rule (explicit request, frustration) finds in a customer message: nothing when
/// it is off, or when it waits for the AI's reply (`after_reply`) and this is the opening
/// message. The lines the message's screen rules out are not searched.
fn phrase_finding(
    obs: &Observation<'_>,
    rule: &PhraseRule,
    kind: ReasonKind,
    detail: &str,
) -> Option<Found> {
    let said = obs.said.as_ref()?;
    if !rule.enabled || (rule.after_reply && obs.customer_messages == 0) {
        return None;
    }
    signals::phrase_rule(obs.norm, rule, obs.policy.negation_window, Some(said.hits))
        .map(|e| Found::rule(kind, detail, e, None))
}

/// Cancellation, legal or compliance matters and disputed charges: each its own team.
#[derive(Debug, Clone, Default)]
pub(crate) struct BusinessRules;

impl Detector for BusinessRules {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let policy = obs.policy;
        for (kind, rule, detail) in [
            (
                ReasonKind::Cancellation,
                &policy.cancellation,
                "customer wants to cancel or close the account or subscription",
            ),
            (
                ReasonKind::LegalCompliance,
                &policy.legal_compliance,
                "legal or compliance matter",
            ),
            (
                ReasonKind::TransactionDispute,
                &policy.transaction_dispute,
                "customer disputes a charge",
            ),
        ] {
            let Some(said) = obs.said.as_ref().filter(|_| rule.enabled) else {
                continue;
            };
            let found_here =
                signals::business_rule(obs.norm, rule, policy.negation_window, Some(said.hits));
            if let Some(e) = found_here {
                found.push(Found::rule(kind, detail, e, Some(rule.skill.clone())));
            }
        }
    }
}

/// Medical, hardship, safety, minors: the first category that matches names the team.
#[derive(Debug, Clone, Default)]
pub(crate) struct SensitiveTopic;

impl Detector for SensitiveTopic {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let (policy, Some(said)) = (obs.policy, &obs.said) else {
            return;
        };
        if policy.sensitive_topic.enabled {
            if let Some((i, e)) = signals::sensitive_topic(obs.norm, policy, said.hits) {
                let cat = &policy.sensitive_topic.categories[i];
                found.push(Found::rule(
                    ReasonKind::SensitiveTopic,
                    &format!("sensitive topic: {}", cat.name.replace('_', " ")),
                    e,
                    Some(cat.skill.clone()),
                ));
            }
        }
    }
}

/// The policy's `[[custom_rules]]`, each limited to tiers and topics, with its own team and
/// priority.
#[derive(Debug, Clone, Default)]
pub(crate) struct CustomRules;

impl Detector for CustomRules {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        if obs.said.is_none() {
            return;
        }
        for (i, rule) in obs.policy.custom_rules.iter().enumerate() {
            if !rule.tiers.is_empty() && !rule.tiers.contains(&obs.customer.tier) {
                continue;
            }
            if !rule.topics.is_empty()
                && !rule
                    .topics
                    .iter()
                    .any(|t| t == obs.topic.best(obs.policy).0)
            {
                continue;
            }
            if let Some(m) = rule.patterns.find(obs.norm) {
                found.push(Found {
                    kind: ReasonKind::Custom(i as u16),
                    detail: rule.detail.clone(),
                    evidence: m.as_str().trim().to_string(),
                    skill: Some(rule.skill.clone()),
                    priority: rule.priority,
                    heard: false,
                });
            }
        }
    }
}

/// The customer uses frustration language.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frustration;

impl Detector for Frustration {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        found.extend(phrase_finding(
            obs,
            &obs.policy.frustration,
            ReasonKind::Frustration,
            "customer uses frustration language",
        ));
    }
}
