//! The meaning detector: each customer message judged by the semantic banks (`semantic`). It adds
//! a reason only when no rule found the same kind on the message, and holds the message's vector
//! for the engine to fold into the conversation's topic.

use super::{Detector, Found, Observation};
use crate::reason::ReasonKind;
use crate::semantic::{CLASSES, DETECTORS};

#[derive(Debug, Clone, Default)]
pub(crate) struct Meaning {
    /// The last customer message's vector, until the engine takes it for the conversation's
    /// topic (so a state cloned between messages carries none).
    vector: Option<Vec<f32>>,
}

impl Meaning {
    /// The vector of the message just observed, once.
    pub(crate) fn take_vector(&mut self) -> Option<Vec<f32>> {
        self.vector.take()
    }
}

/// Whether the conversation's topic reads message vectors: one of the topic heads is weighed.
pub(crate) fn topic_reads_vectors(policy: &crate::policy::Policy) -> bool {
    policy.semantic.is_some()
        && (policy.topics.semantic_weight > 0.0 || policy.topics.conversation_weight > 0.0)
}

/// A message's vector for the conversation's topic, without judging its sentences: the vector
/// [`Meaning`] holds after observing a customer message; for a conversation already decided
/// (the decision reads the topic still, never a detector's findings) and for the AI's replies.
/// `None` when the topic reads no vectors or the text has none.
pub(crate) fn topic_vector(policy: &crate::policy::Policy, norm: &str) -> Option<Vec<f32>> {
    let sem = policy.semantic.as_ref()?;
    if !topic_reads_vectors(policy) {
        return None;
    }
    let mut whole = vec![0.0f32; sem.dims()];
    sem.message_vector(norm, &mut whole);
    whole.iter().any(|x| *x != 0.0).then_some(whole)
}

/// Whether a meaning of kind `kind` found on this message would be kept: its section is on, no
/// rule found the kind already, and the section does not wait for the AI's reply. (What the
/// customer said they do not mean and a declined offer of a person are checked once a meaning
/// is found: they cost a search of the text, and most messages have no meaning to check.)
fn wants(
    obs: &Observation<'_>,
    found: &[Found],
    frustration_after_reply: bool,
    kind: ReasonKind,
) -> bool {
    let policy = obs.policy;
    let first = obs.customer_messages == 0;
    if found.iter().any(|f| f.kind == kind) {
        return false;
    }
    match kind {
        ReasonKind::ExplicitRequest => {
            policy.explicit_request.enabled && !(policy.explicit_request.after_reply && first)
        }
        // Frustration with the service needs an answer to be frustrated with: an annoyed
        // opening message is a problem report, and the AI gets its chance.
        ReasonKind::Frustration => {
            policy.frustration.enabled
                && !(first && (frustration_after_reply || policy.frustration.after_reply))
        }
        ReasonKind::SensitiveTopic => policy.sensitive_topic.enabled,
        ReasonKind::Cancellation => policy.cancellation.enabled,
        ReasonKind::LegalCompliance => policy.legal_compliance.enabled,
        ReasonKind::TransactionDispute => policy.transaction_dispute.enabled,
        _ => false,
    }
}

impl Detector for Meaning {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let (policy, Some(sem)) = (obs.policy, &obs.policy.semantic) else {
            return;
        };
        if obs.said.is_none() {
            return;
        }
        // The kinds whose finding would be kept: the others are not searched for in the bank.
        let wanted: [bool; CLASSES] = std::array::from_fn(|c| {
            c > 0
                && wants(
                    obs,
                    found,
                    sem.config().frustration_after_reply,
                    DETECTORS[c - 1],
                )
        });
        let mut whole = vec![0.0f32; sem.dims()];
        let meanings = sem.judge(obs.norm, &mut whole, &wanted);
        self.vector =
            (topic_reads_vectors(policy) && whole.iter().any(|x| *x != 0.0)).then_some(whole);
        for m in meanings {
            // The customer said they do not mean it: "cancel the add-on but keep my plan".
            let business = match m.kind {
                ReasonKind::Cancellation => Some(&policy.cancellation),
                ReasonKind::LegalCompliance => Some(&policy.legal_compliance),
                ReasonKind::TransactionDispute => Some(&policy.transaction_dispute),
                _ => None,
            };
            if business.is_some_and(|r| r.not_meant.is_match(obs.norm)) {
                continue;
            }
            // A declined offer of a person reads like a request to a bank of examples ("no need
            // to transfer me to an agent"): the request rule's negations in the sentence that
            // fired silence it.
            if m.kind == ReasonKind::ExplicitRequest
                && obs
                    .norm
                    .get(m.sentence.clone())
                    .is_some_and(|sentence| policy.explicit_request.negations.is_match(sentence))
            {
                continue;
            }
            let evidence = sem.evidence(&m);
            let (detail, skill) = match m.kind {
                ReasonKind::ExplicitRequest => ("customer asked for a human".to_string(), None),
                ReasonKind::Frustration => {
                    ("customer is frustrated with the service".to_string(), None)
                }
                ReasonKind::Cancellation => (
                    "customer wants to cancel or close the account or subscription".to_string(),
                    Some(policy.cancellation.skill.clone()),
                ),
                ReasonKind::LegalCompliance => (
                    "legal or compliance matter".to_string(),
                    Some(policy.legal_compliance.skill.clone()),
                ),
                ReasonKind::TransactionDispute => (
                    "customer disputes a charge".to_string(),
                    Some(policy.transaction_dispute.skill.clone()),
                ),
                ReasonKind::SensitiveTopic => {
                    let rule = &policy.sensitive_topic;
                    // The kind of sensitive topic of the nearest example names the category.
                    let wanted = match sem.examples()[m.nearest].sensitive.as_deref() {
                        Some("hardship") => "financial_hardship",
                        Some(other) => other,
                        None => "",
                    };
                    let category = rule.categories.iter().find(|c| c.name == wanted);
                    let skill = category
                        .map_or_else(|| policy.topics.default_skill.clone(), |c| c.skill.clone());
                    let name = category.map_or("sensitive matter", |c| c.name.as_str());
                    (
                        format!("sensitive topic: {}", name.replace('_', " ")),
                        Some(skill),
                    )
                }
                _ => continue,
            };
            found.push(Found {
                kind: m.kind,
                detail,
                evidence,
                skill,
                priority: None,
                heard: true,
            });
        }
    }
}
