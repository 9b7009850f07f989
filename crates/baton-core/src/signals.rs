//! Per-message signals. Each is a plain function over a message's normalised text (and, where a
//! signal needs history, a small piece of folded conversation state) that returns the evidence:
//! the words that triggered it.

use rustc_hash::FxHashSet;

use crate::policy::{
    BusinessRule, Matcher, PhraseRule, Policy, RepeatedQuestionRule, ScreenHits, Screened, VipRule,
};
use crate::sentiment;
use crate::text;

/// The words that made a signal fire, with their byte range in the normalised text.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub text: String,
    pub start: usize,
}

impl Evidence {
    fn of(m: regex::Match) -> Self {
        Evidence {
            text: m.as_str().trim().to_string(),
            start: m.start(),
        }
    }
}

/// True when a negation ("no need to", "not") stands in the `window` bytes before `at`, within
/// the same sentence.
pub fn negated(norm: &str, at: usize, negations: &Matcher, window: usize) -> bool {
    if negations.is_empty() {
        return false;
    }
    let sentence_start = norm[..at].rfind(['.', '!', '?']).map_or(0, |p| p + 1);
    let mut start = at.saturating_sub(window).max(sentence_start);
    while !norm.is_char_boundary(start) {
        start -= 1;
    }
    negations.is_match(&norm[start..at])
}

/// The first match of `patterns` that is neither negated nor excluded. `exclusions` are checked
/// against the match and the two words after it.
pub fn first_match(
    norm: &str,
    patterns: Screened<'_>,
    negations: &Matcher,
    exclusions: &Matcher,
    window: usize,
) -> Option<Evidence> {
    patterns
        .find_iter(norm)
        .find(|m| {
            !negated(norm, m.start(), negations, window)
                && (exclusions.is_empty() || !exclusions.is_match(with_next_words(norm, m, 2)))
        })
        .map(Evidence::of)
}

fn with_next_words<'t>(norm: &'t str, m: &regex::Match, n: usize) -> &'t str {
    let rest = &norm[m.end()..];
    let mut end = m.end();
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in rest.char_indices() {
        if c.is_alphanumeric() || c == '\'' || c == '-' {
            in_word = true;
        } else {
            if in_word {
                words += 1;
                in_word = false;
                if words == n {
                    end = m.end() + i;
                    break;
                }
            }
            if matches!(c, '.' | '!' | '?' | ',' | ';') {
                end = m.end() + i;
                break;
            }
        }
        end = m.end() + i + c.len_utf8();
    }
    &norm[m.start()..end]
}

/// A phrase rule (explicit request for a human, frustration language): the first match that no
/// negation cancels.
pub fn phrase_rule(
    norm: &str,
    rule: &PhraseRule,
    window: usize,
    hits: Option<&ScreenHits>,
) -> Option<Evidence> {
    first_match(
        norm,
        screened(&rule.patterns, hits)?,
        &rule.negations,
        &Matcher::default(),
        window,
    )
}

/// `m` as the screen leaves it for this message (the whole list without `hits`); `None`
/// when it is empty or the screen rules it out.
fn screened<'m>(m: &'m Matcher, hits: Option<&'m ScreenHits>) -> Option<Screened<'m>> {
    if m.is_empty() {
        return None;
    }
    match hits {
        Some(h) => m.screened(h),
        None => Some(m.all()),
    }
}

/// A business rule with its own phrases, negations and exclusions (cancellation, legal,
/// transaction dispute), then its `whole_patterns` (negations apply, exclusions do not). With
/// `hits`, a list the message's screen rules out is not searched.
pub fn business_rule(
    norm: &str,
    rule: &BusinessRule,
    window: usize,
    hits: Option<&ScreenHits>,
) -> Option<Evidence> {
    let by_patterns = screened(&rule.patterns, hits).and_then(|patterns| {
        first_match(norm, patterns, &rule.negations, &rule.exclusions, window)
    });
    by_patterns.or_else(|| {
        screened(&rule.whole_patterns, hits).and_then(|patterns| {
            first_match(norm, patterns, &rule.negations, &Matcher::default(), window)
        })
    })
}

/// A sensitive topic: the index of the first category that matches, with its evidence.
pub fn sensitive_topic(
    norm: &str,
    policy: &Policy,
    hits: &crate::policy::ScreenHits,
) -> Option<(usize, Evidence)> {
    let rule = &policy.sensitive_topic;
    rule.categories.iter().enumerate().find_map(|(i, c)| {
        first_match(
            norm,
            c.patterns.screened(hits)?,
            &rule.negations,
            &rule.exclusions,
            policy.negation_window,
        )
        .map(|e| (i, e))
    })
}

/// Number of words of a message that are not pleasantries ("thanks", "perfect", ...).
pub fn content_words_beyond(norm: &str, pleasantries: &Matcher) -> usize {
    let mut count = 0;
    let mut last = 0;
    for m in pleasantries.find_iter(norm) {
        count += text::words(&norm[last..m.start()]).count();
        last = m.end();
    }
    count + text::words(&norm[last..]).count()
}

/// True when a customer message carries an issue (a question, or enough words that are not
/// thanks and goodbyes).
pub fn is_substantive(norm: &str, rule: &VipRule) -> bool {
    if norm.contains('?') {
        return true;
    }
    // "Found it, thanks!": thanks or a goodbye, nothing asked, nothing still wrong.
    if rule.closings.is_match(norm) && !rule.still_open.is_match(norm) {
        return false;
    }
    content_words_beyond(norm, &rule.pleasantries) >= rule.min_content_words
}

/// How strongly an AI reply hedges: strong hedges count 1, weak ones `weak_hedge_weight`.
/// Returns the score and the hedging words found.
pub fn hedging(norm: &str, policy: &Policy) -> (f64, Vec<String>) {
    let rule = &policy.low_confidence;
    let mut score = 0.0;
    let mut words = Vec::new();
    for m in rule.hedges.find_iter(norm) {
        score += 1.0;
        words.push(m.as_str().to_string());
    }
    for m in rule.weak_hedges.find_iter(norm) {
        score += rule.weak_hedge_weight;
        words.push(m.as_str().to_string());
    }
    (score, words)
}

/// The stems of a normalised text's content words (stopwords and numbers dropped).
fn content_words(norm: &str) -> impl Iterator<Item = &str> {
    text::words(norm)
        .filter(|w| w.chars().count() >= 2 && !text::is_stopword(w))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .map(text::stem)
}

/// Content-word stems of a normalised text (stopwords and numbers dropped).
pub fn content_stems(norm: &str) -> FxHashSet<String> {
    content_words(norm).map(str::to_string).collect()
}

/// [`content_stems`] as sorted, distinct 64-bit hashes: what a conversation's state keeps between
/// messages (8 bytes a word instead of a string in a hash set).
pub fn content_stem_ids(norm: &str) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut ids: Vec<u64> = content_words(norm)
        .map(|w| {
            let mut h = rustc_hash::FxHasher::default();
            w.hash(&mut h);
            h.finish()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// How many of the sorted ids `a` are in the sorted ids `b`.
pub fn shared_ids(a: &[u64], b: &[u64]) -> usize {
    a.iter().filter(|x| b.binary_search(x).is_ok()).count()
}

/// A question the customer asked: its kind (time, amount, yes/no, ...) and its concepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub kind: usize,
    pub concepts: Vec<u64>,
    /// The customer says they are asking again ("what I'm asking is", "to be clear").
    pub restated: bool,
    /// The message opened by accepting the answer ("Perfect. Does it fit?") and does not say it
    /// asks again: whatever it asks is new.
    pub accepted: bool,
    /// The question says it asks something new ("and if ...", "what about ..."): it is no repeat
    /// itself, but is remembered, so that asking it again later is one.
    pub followup: bool,
    pub text: String,
}

/// The questions in a customer message: sentences that end in "?", or clauses that open like a
/// question, unless they are follow-ups that ask something new ("and if ...", "what about ...").
/// With `hits`, the restatement markers the message's screen rules out are not searched.
pub fn questions(
    norm: &str,
    rule: &RepeatedQuestionRule,
    hits: Option<&ScreenHits>,
) -> Vec<Question> {
    let mut out = Vec::new();
    // "Sorry, back to the first thing. Am I allowed to ...?": the marker often has its own
    // sentence, and says the whole message asks again.
    let restated = screened(&rule.restatement_markers, hits).is_some_and(|m| m.is_match(norm));
    let accepted = !restated && rule.accepted_openers.is_match(norm);
    for range in text::sentences(norm) {
        let sentence = norm[range].trim();
        let body = sentence.trim_end_matches(['.', '!', '?', ' ']);
        let asked: Option<&str> = if sentence.ends_with('?') {
            // The question is the last clause that opens like one, or the whole sentence.
            Some(
                body.split([',', ';', ':'])
                    .map(str::trim)
                    .rfind(|c| rule.question_openers.is_match(c))
                    .filter(|c| c.split_whitespace().count() >= 3)
                    .unwrap_or(body),
            )
        } else {
            body.split([',', ';', ':'])
                .map(str::trim)
                .find(|c| rule.question_openers.is_match(c))
        };
        let Some(q) = asked else { continue };
        let followup = rule.followup_markers.is_match(q);
        let (kind, said) = rule
            .question_kinds
            .iter()
            .enumerate()
            .find_map(|(i, k)| k.patterns.find(q).map(|m| (i, m.range())))
            .unwrap_or((rule.question_kinds.len(), 0..0));
        // The words that name the kind ("which day", "how much") are the kind, not a concept:
        // "when does it come?" and "which day does it come?" share all their concepts.
        let mut concepts: Vec<u64> = text::words(&q[..said.start])
            .chain(text::words(&q[said.end..]))
            .filter(|w| w.chars().count() >= 2)
            .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
            .filter_map(|w| {
                let stem = text::stem(w);
                // A stopword counts when a synonym group names it ("get" meets "arrive").
                (!text::is_stopword(w) || rule.synonyms.contains_key(stem))
                    .then(|| concept_id(stem, rule))
            })
            .collect();
        concepts.sort_unstable();
        concepts.dedup();
        if concepts.is_empty() {
            continue;
        }
        out.push(Question {
            kind,
            concepts,
            restated,
            accepted,
            followup,
            text: q.to_string(),
        });
    }
    out
}

/// Synonym groups map to small ids; other words to a hash well above them.
fn concept_id(stem: &str, rule: &RepeatedQuestionRule) -> u64 {
    if let Some(&group) = rule.synonyms.get(stem) {
        return group as u64;
    }
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    stem.hash(&mut h);
    h.finish() | (1 << 63)
}

/// True when `now` asks `before` again: same kind, and enough shared concepts; never a follow-up
/// ("and if ...") or a question in a message that opened by accepting the answer. A question the
/// customer says is asked again may change its kind ("how do I change my language?" ... "sorry,
/// so where exactly do I switch it to Spanish?").
pub fn same_question(now: &Question, before: &Question, rule: &RepeatedQuestionRule) -> bool {
    if now.accepted || now.followup || (now.kind != before.kind && !now.restated) {
        return false;
    }
    let shared = now
        .concepts
        .iter()
        .filter(|c| before.concepts.binary_search(c).is_ok())
        .count();
    let smaller = now.concepts.len().min(before.concepts.len()).max(1);
    let min_overlap = if now.restated {
        rule.restated_min_overlap
    } else {
        rule.min_overlap
    };
    shared >= rule.min_shared && shared as f64 / smaller as f64 >= min_overlap
}

/// Each sentence of `original` (trimmed, as written) with its compound from `analyzer`.
pub fn scored_sentences<'a>(
    analyzer: &'a sentiment::Analyzer,
    original: &'a str,
) -> impl Iterator<Item = (f64, &'a str)> {
    text::sentences(original).map(move |range| {
        let s = original[range].trim();
        (analyzer.polarity_scores(s).compound, s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::default()
    }

    /// What `rule` hears in `t`, searched as the engine searches it: by the lines of its list
    /// that the policy's screen lets through.
    fn heard(p: &Policy, rule: &PhraseRule, t: &str) -> Option<Evidence> {
        let norm = text::normalize(t);
        let hits = p.screen.matches(&norm);
        phrase_rule(&norm, rule, p.negation_window, Some(&hits))
    }

    /// Whether the request rule hears `t` (with `p` compiled once per test).
    fn asks(p: &Policy, t: &str) -> bool {
        heard(p, &p.explicit_request, t).is_some()
    }

    /// Whether the frustration rule hears `t`.
    fn frustrated(p: &Policy, t: &str) -> bool {
        heard(p, &p.frustration, t).is_some()
    }

    fn explicit(text: &str) -> Option<String> {
        let p = policy();
        heard(&p, &p.explicit_request, text).map(|e| e.text)
    }

    #[test]
    fn explicit_requests_direct_and_indirect() {
        assert!(explicit("Can I talk to a real person please").is_some());
        assert!(explicit("is anybody actually working there I can talk to").is_some());
        assert!(explicit("Please, can somebody from your staff call me?").is_some());
        assert!(explicit("I want a human").is_some());
        assert!(explicit("agent please").is_some());
        assert!(explicit("I'd like to speak with a supervisor").is_some());
    }

    #[test]
    fn declined_or_other_sense_is_not_a_request() {
        assert_eq!(
            explicit("no need to pass me to a person btw, this is easy"),
            None
        );
        assert_eq!(
            explicit("I don't need to talk to an agent, just tell me"),
            None
        );
        assert_eq!(explicit("the delivery guy left it at the wrong door"), None);
        assert_eq!(explicit("the technician was great, really patient"), None);
    }

    fn business(rule: &str, text: &str) -> bool {
        business_in(&policy(), rule, text)
    }

    /// Whether business rule `rule` ("cancellation", "legal", else the dispute rule) of `p`
    /// hears `text`, by its patterns or its whole patterns.
    fn business_in(p: &Policy, rule: &str, text: &str) -> bool {
        let r = match rule {
            "cancellation" => &p.cancellation,
            "legal" => &p.legal_compliance,
            _ => &p.transaction_dispute,
        };
        let norm = text::normalize(text);
        let hits = p.screen.matches(&norm);
        business_rule(&norm, r, p.negation_window, Some(&hits)).is_some()
    }

    #[test]
    fn taken_off_the_books_or_the_last_issue_named_is_a_cancellation() {
        let cancels = |t: &str| business("cancellation", t);
        assert!(cancels(
            "Please stop the direct debit from May and take me off."
        ));
        assert!(cancels("You can take us off your round after that."));
        assert!(cancels(
            "Please don't take the January payment, and let the winter issue be the last one."
        ));
        assert!(!cancels("Can you take me off hold?"));
        assert!(!cancels("Let this be the last time the van is late."));
    }

    #[test]
    fn the_bank_asked_to_reverse_or_a_charge_for_what_never_happened_is_a_dispute() {
        let disputes = |t: &str| business("dispute", t);
        assert!(disputes(
            "I've already rung my bank and asked them to reverse the £62."
        ));
        assert!(disputes("I won't pay for a part that was never fitted."));
        assert!(!disputes("My bank card expired, can I update it?"));
        assert!(!disputes("I won't pay by card, can I use a transfer?"));
        assert!(business(
            "legal",
            "I've got photos and they're going to the Environment Agency this afternoon."
        ));
        assert!(!business(
            "legal",
            "We're going to the Lake District on Friday."
        ));
    }

    #[test]
    fn cancellation_of_the_relationship_not_of_an_order() {
        assert!(business(
            "cancellation",
            "I want to close my account and end the plan"
        ));
        assert!(business(
            "cancellation",
            "please cancel my premium subscription"
        ));
        assert!(!business(
            "cancellation",
            "can you cancel the international calling add-on on my plan"
        ));
        assert!(!business(
            "cancellation",
            "I need to cancel the technician appointment"
        ));
        assert!(!business(
            "cancellation",
            "I'm cancelling my gym membership, block their debit"
        ));
        assert!(!business(
            "cancellation",
            "I don't want to cancel my subscription"
        ));
    }

    #[test]
    fn legal_only_when_acting_against_us() {
        assert!(business(
            "legal",
            "My solicitor has advised me to start a claim"
        ));
        assert!(business("legal", "delete all my data under GDPR"));
        assert!(!business(
            "legal",
            "I'm a lawyer and need an invoice with my firm's name"
        ));
    }

    #[test]
    fn disputes_and_their_negation() {
        assert!(business(
            "dispute",
            "This charge is wrong and I want it removed"
        ));
        assert!(business(
            "dispute",
            "I've been charged twice for the booking"
        ));
        assert!(!business(
            "dispute",
            "I'm not worried about fraud, just curious"
        ));
        assert!(!business("dispute", "is that hold normal?"));
        // Money taken and a purchase denied, in either order, across sentences.
        assert!(business(
            "dispute",
            "There's a £312 order on my card from Tuesday. I've never ordered from you."
        ));
        assert!(business(
            "dispute",
            "I have never bought anything from you, so why is there a payment of $40?"
        ));
        assert!(!business(
            "dispute",
            "I've never ordered from you before, do you deliver to Ireland?"
        ));
    }

    #[test]
    fn calling_the_service_useless_or_a_waste_of_space_is_frustration() {
        let p = policy();
        assert!(frustrated(
            &p,
            "Honestly, dealing with you lot has been useless from start to finish."
        ));
        assert!(frustrated(&p, "Utterly useless, I've wasted two mornings."));
        assert!(frustrated(
            &p,
            "Honestly the app is a waste of space and so is this chat."
        ));
        assert!(!frustrated(&p, "The box wastes no space in the cupboard."));
        assert!(!frustrated(
            &p,
            "The old charger still works, so not useless yet."
        ));
    }

    #[test]
    fn sarcastic_praise_is_frustration_and_plain_praise_is_not() {
        let p = policy();
        assert!(frustrated(
            &p,
            "Great, the FAQ again. I've done it five times now."
        ));
        assert!(frustrated(
            &p,
            "Oh wonderful, a form. I filled one in last night."
        ));
        assert!(frustrated(&p, "I waited all day. Oh good, another link."));
        assert!(frustrated(&p, "Amazing how he never gets any closer."));
        assert!(frustrated(&p, "This is a complete waste of my evenings."));
        assert!(frustrated(
            &p,
            "Oh marvellous, a reading list. Exactly what I need at 2am."
        ));
        assert!(!frustrated(&p, "Oh great, thanks, that worked."));
        assert!(!frustrated(
            &p,
            "Great, the parcel arrived this morning, thanks!"
        ));
        assert!(!frustrated(&p, "Perfect, a link is all I needed."));
        assert!(!frustrated(&p, "Amazing how quickly it arrived."));
    }

    /// The sensitive category the rules find in `t`, if any.
    fn sensitive_category(p: &Policy, t: &str) -> Option<String> {
        let norm = text::normalize(t);
        sensitive_topic(&norm, p, &p.screen.matches(&norm))
            .map(|(i, _)| p.sensitive_topic.categories[i].name.clone())
    }

    /// Each text with whether `rule` (as in [`business`]) should find its matter.
    fn rule_cases(rule: &str, cases: &[(&str, bool)]) {
        for (t, want) in cases {
            assert_eq!(business(rule, t), *want, "{rule}: {t}");
        }
    }

    #[test]
    fn thoughts_of_suicide_told_without_the_word_are_a_sensitive_topic() {
        let p = policy();
        for (t, want) in [
            (
                "The last few nights I keep thinking everyone would be better off without me around.",
                Some("safety"),
            ),
            (
                "Honestly I don't know if I can hold on even that long.",
                Some("safety"),
            ),
            ("We're better off without the add-on, remove it.", None),
            ("Can you hold on while I find the order number?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn off_the_round_a_bill_refused_a_pen_used_a_failing_memory_and_an_unhelpful_reply() {
        rule_cases(
            "cancellation",
            &[
                (
                    "I'd like the direct debit stopped and to come off the list altogether.",
                    true,
                ),
                ("We've sold up, so you can take us off your round.", true),
                // (a mailing list alone is another rule's: "take me off the mailing list" is
                // heard as a cancellation, as the corpus has it)
                ("Did the price come off the list in the end?", false),
                // an upgrade added to one hire is an add-on (fresh-eval-107)
                (
                    "Please cancel the breakdown cover upgrade I added to next week's hire.",
                    false,
                ),
                ("Can you take £5 off the list price?", false),
            ],
        );
        rule_cases(
            "dispute",
            &[
                (
                    "Billing us for three hours is simply wrong and we won't pay it as it stands.",
                    true,
                ),
                ("That was never mentioned and I'm not paying that.", true),
                (
                    "What we agreed was £1,050 and nothing has changed. We won't be settling the extra.",
                    true,
                ),
                ("Will I be paying the difference by card or bank transfer?", false),
                ("I won't pay it until payday, is that ok?", false),
                ("Is it ok if I'm not paying by card this time?", false),
            ],
        );
        let p = policy();
        assert!(frustrated(
            &p,
            "Nobody came or rang. Your reply isn't helpful, it's what I was told last week."
        ));
        assert!(!frustrated(&p, "Your reply was helpful, thanks."));
        for (t, want) in [
            (
                "She came out all blotchy round the mouth and the school had to use her pen.",
                Some("medical"),
            ),
            (
                "She's been getting very confused this past year, the memory clinic says it's worse.",
                Some("medical"),
            ),
            ("Can I use my pen to sign the delivery note?", None),
            ("The new menu is getting very confusing.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn talked_through_with_staff_a_renewal_never_agreed_a_lunch_hour_spent_and_harm_foreseen() {
        let p = policy();
        for (t, want) in [
            (
                "Good. I'd still like to talk it through with an instructor before paying anything.",
                true,
            ),
            ("I'd really like to talk to Martin first. Can I speak with him?", true),
            ("I'll talk it through with my wife and book tomorrow.", false),
        ] {
            assert_eq!(asks(&p, t), want, "{t}");
        }
        rule_cases(
            "dispute",
            &[
                (
                    "Nobody asked me and I never agreed to renew anything. I want it put back.",
                    true,
                ),
                ("I did not agree to pay for people who have left.", true),
                (
                    "Do I need to agree to the renewal terms before paying?",
                    false,
                ),
            ],
        );
        assert!(frustrated(
            &p,
            "Fantastic. Really glad I've spent my lunch hour on this."
        ));
        assert!(!frustrated(
            &p,
            "I've spent my lunch hour reading your guide, it's great."
        ));
        for (t, want) in [
            (
                "She's fine, but a smaller dog could break a leg on that.",
                Some("safety"),
            ),
            (
                "Stones have started dropping onto the footpath and kids walk that way.",
                Some("safety"),
            ),
            ("The GP has put him on antibiotics.", Some("medical")),
            ("Break a leg at the show tonight!", None),
            (
                "How should I store the liquid antibiotics you gave us?",
                None,
            ),
            ("Stones dropped off at the depot, thanks.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn money_kept_by_amount_a_data_request_by_company_name_and_one_days_visit() {
        rule_cases(
            "dispute",
            &[
                ("Today I see you've kept $60 of my $100 bond for 'fin damage'.", true),
                (
                    "You've taken 30% as the deferred management fee, but his contract caps it at 24%.",
                    true,
                ),
                ("You've taken 20 minutes to reply, fine.", false),
                ("Have you kept my details on file?", false),
            ],
        );
        rule_cases(
            "legal",
            &[
                (
                    "I'd like a copy of everything Mindharbour holds about me.",
                    true,
                ),
                ("I'd like a copy of everything in the welcome pack.", false),
            ],
        );
        rule_cases(
            "cancellation",
            &[
                (
                    "Got to cancel Saturday's service on the Qashqai, my brother has sorted it.",
                    false,
                ),
                ("Please cancel my service from next month.", true),
            ],
        );
    }

    #[test]
    fn money_demanded_back_a_declared_dispute_a_childs_age_then_deed_and_a_high_temperature() {
        rule_cases(
            "dispute",
            &[
                ("Nothing was damaged. I want that money put back.", true),
                (
                    "Your crew didn't come on the 12th. We dispute those two days and want them taken off.",
                    true,
                ),
                ("How do I dispute an error on my credit report?", false),
                ("Can I get money back in cash at the till?", false),
            ],
        );
        let p = policy();
        for (t, want) in [
            (
                "Jack is my son. He's 15. He must have used my saved card.",
                Some("minor"),
            ),
            (
                "She's 9 and loves the Saturday class, can we book the next term?",
                None,
            ),
            (
                "My husband's been in bed for a week with a high temperature and a rattly chest.",
                Some("medical"),
            ),
            ("Can the oven run at a high temperature?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn an_agreement_ended_a_staff_visit_to_look_a_wound_that_will_not_heal_and_a_revelation() {
        rule_cases(
            "cancellation",
            &[
                (
                    "We'll bring the violin back on Saturday - can you cancel the rental agreement and stop the monthly payments?",
                    true,
                ),
                ("I'd like to end the storage agreement at the end of March.", true),
                (
                    "Can I swap the grey rug for the blue one without ending the whole agreement?",
                    false,
                ),
                ("Can you cancel the rental on Saturday? We found another van.", false),
            ],
        );
        let p = policy();
        assert!(asks(&p,
            "It's too fragile to bring in. Could one of your framers come out and have a look at it here?"
        ));
        assert!(!asks(
            &p,
            "Could one of your engineers come out on Tuesday to fit it?"
        ));
        assert!(frustrated(
            &p,
            "Oh wow, clear my cache, what a revelation. Any other pearls of wisdom?"
        ));
        assert!(!frustrated(&p, "Thanks, the map was a big help."));
        for (t, want) in [
            (
                "I'm diabetic and there's a sore on my foot that's gone greyish round the edges and has a smell to it.",
                Some("medical"),
            ),
            ("The cut on the leather strap has been stitched, looks great.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        let rq = &p.repeated_question;
        let again = questions(
            &text::normalize(
                "Sorry, I mean is the shoe heated and shaped to the hoof, or ready-made?",
            ),
            rq,
            None,
        );
        assert!(again[0].restated);
        let new = questions(&text::normalize("I mean, what about the price?"), rq, None);
        assert!(new.is_empty() || !new[0].restated);
    }

    #[test]
    fn no_money_coming_in_an_agency_already_told_a_fraud_trial_and_a_hedged_could_be() {
        let p = policy();
        for (t, want) in [
            (
                "The factory let forty of us go and I've got nothing coming in until the redundancy money lands.",
                Some("financial_hardship"),
            ),
            ("Is there nothing coming in on the 3pm delivery?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        rule_cases(
            "legal",
            &[
                (
                    "I've already rung the Environment Agency's incident line.",
                    true,
                ),
                (
                    "I've already sent a complaint to the registration body she's listed with.",
                    true,
                ),
                (
                    "Which registration body are your interpreters listed with?",
                    false,
                ),
            ],
        );
        rule_cases(
            "dispute",
            &[
                (
                    "I'm a paralegal sending court bundles for a fraud trial to the Crown Court.",
                    false,
                ),
                ("That payment is fraud, I never made it.", true),
            ],
        );
        assert!(asks(&p,
            "can whoever does the bookings ring round their freelancers properly, i text only so text me"
        ));
        assert!(asks(
            &p,
            "I'd rather one of your lads came round, stood in the garden and had a proper look."
        ));
        assert!(!asks(
            &p,
            "One of your lads came round on Monday and fitted it, all good."
        ));
        let rq = &p.repeated_question;
        let again = questions(
            &text::normalize(
                "OK so we only pay for those 40 minutes? Just checking before I tell finance.",
            ),
            rq,
            None,
        );
        assert!(again[0].restated);
        let (weak, _) = hedging(
            &text::normalize("They could be included in the plan, but I'm not sure."),
            &p,
        );
        let (strong_only, _) = hedging(&text::normalize("I'm not sure."), &p);
        assert!(weak > strong_only, "{weak} {strong_only}");
    }

    #[test]
    fn a_regulator_form_a_malignant_lump_a_near_miss_and_an_amount_that_cannot_be_theirs() {
        let p = policy();
        for (t, want) in [
            (
                "My wife was told last week that the lump is malignant.",
                Some("medical"),
            ),
            (
                "I need an operation on my spine and the surgeon wants me in.",
                Some("medical"),
            ),
            ("Can I take the lump sum instead of monthly payments?", None),
            ("Our tree surgeon is booked for Tuesday.", None),
            ("I need an operation manager login for the warehouse.", None),
            (
                "The forks dropped on their own. My lad was stood right beside the rack. Nobody's hurt but it's parked up.",
                Some("safety"),
            ),
            ("That panel could have killed someone.", Some("safety")),
            ("The party went great, nobody got hurt feelings!", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        rule_cases(
            "legal",
            &[
                (
                    "I've got the Ofwat complaint form filled in and it goes off tonight.",
                    true,
                ),
                (
                    "Where do I find the Ofcom complaints code you follow?",
                    false,
                ),
            ],
        );
        rule_cases(
            "dispute",
            &[
                ("Ninety-six cubic metres can't possibly be ours.", true),
                (
                    "The money's been sent to a bank account ending 7730 that isn't mine.",
                    true,
                ),
                (
                    "Damage charge? £340 for a scuff? That scuff was there when I collected the car.",
                    true,
                ),
                ("The scuff was there when I collected the car, just so you know.", false),
            ],
        );
        assert!(asks(&p, "pls can a real persn check my photos"));
        assert!(!asks(
            &p,
            "Your photos must show a real person, not a cartoon."
        ));
    }

    #[test]
    fn a_body_that_fails_someone_who_could_look_it_over_and_consent_only_with_money() {
        let p = policy();
        for (t, want) in [
            (
                "My physio says stop sleeping on it, my sciatica flared up badly and some mornings I can barely walk.",
                Some("medical"),
            ),
            ("Since the fall he can't walk far.", Some("medical")),
            ("My physio recommended hydrotherapy. How warm is the pool?", None),
            ("I can't walk there from the station, is there a bus?", None),
            ("The argument flared up again at the match.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        assert!(asks(
            &p,
            "Do you have anyone on the creator success side who could look over my draft page? A video call would be ideal."
        ));
        assert!(asks(&p, "Honestly a phone call would be so much easier."));
        assert!(!asks(
            &p,
            "My son is 12. Do you have someone who could do one hour a week online?"
        ));
        assert!(!asks(&p, "The video call is at 3pm, see you then."));
        rule_cases(
            "dispute",
            &[
                ("They took £40 from my card without my permission.", true),
                (
                    "Without my consent you renewed the plan and charged me again.",
                    true,
                ),
                (
                    "A project is using illustrations from my portfolio without my permission.",
                    false,
                ),
            ],
        );
        // "That's possible" hedges as "it's possible" does.
        let (score, _) = hedging(
            &text::normalize("That's possible if the sensor was affected, but I'm not sure whether it can be fixed in store."),
            &p,
        );
        assert!(score >= p.low_confidence.hedge_score, "{score}");
    }

    #[test]
    fn a_stay_in_hospital_an_injured_hand_a_bill_not_ours_and_a_question_set_straight() {
        let p = policy();
        for (t, want) in [
            (
                "The heat ruined two pens and I ended up in the medical tent.",
                Some("medical"),
            ),
            ("We had to take her to A&E on Sunday.", Some("medical")),
            ("Is there parking at the hospital entrance?", None),
            (
                "My 13-year-old sliced it on a rotary cutter. It's quite deep.",
                Some("safety"),
            ),
            (
                "My husband cut his hand badly on the hatchet.",
                Some("safety"),
            ),
            ("He says it's my job to cut it back.", None),
            ("Can you cut my fabric on the bias?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        rule_cases(
            "dispute",
            &[
                (
                    "That receipt says £210. There's no way that's ours, looks like we got someone else's bill.",
                    true,
                ),
                ("No way! That's ours? We won the raffle?", false),
            ],
        );
        let rq = &p.repeated_question;
        let again = questions(
            &text::normalize(
                "Sorry, just so I have it straight, for how many years is it guaranteed?",
            ),
            rq,
            None,
        );
        assert!(again.iter().any(|q| q.restated));
    }

    #[test]
    fn a_wasted_afternoon_said_sarcastically_still_unclear_and_an_answer_that_depends() {
        let p = policy();
        assert!(frustrated(
            &p,
            "It's 4.10. Oh marvellous, I took the afternoon off work for this. What a fantastic use of my time."
        ));
        assert!(frustrated(&p, "What a brilliant way to spend my Saturday."));
        assert!(!frustrated(
            &p,
            "I took the afternoon off for the fitting, see you at 2."
        ));
        assert!(!frustrated(
            &p,
            "What a lovely way to spend an afternoon, thank you!"
        ));
        let rq = &p.repeated_question;
        let again = questions(
            &text::normalize(
                "Sorry, I'm still not clear. What is the yearly cost for keeping them frozen?",
            ),
            rq,
            None,
        );
        assert!(again.iter().any(|q| q.restated));
        let first = questions(&text::normalize("What is the yearly cost?"), rq, None);
        assert!(!first.iter().any(|q| q.restated));
        // "I think" and "depends on" together hedge as much as two strong hedges' worth.
        let (depends, _) = hedging(
            &text::normalize("I think the limit depends on the horse."),
            &p,
        );
        assert!(depends >= p.low_confidence.hedge_score, "{depends}");
        let (could, _) = hedging(
            &text::normalize("It's possible the glacier lift is treated separately; it could depend on the pass."),
            &p,
        );
        assert!(could >= p.low_confidence.hedge_score, "{could}");
        let (plain, _) = hedging(&text::normalize("The price depends on the size."), &p);
        assert!(plain < p.low_confidence.hedge_score, "{plain}");
    }

    #[test]
    fn money_stopped_by_month_work_paid_for_not_done_and_a_visit_to_talk_it_through() {
        rule_cases(
            "cancellation",
            &[
                (
                    "I'm starting a master's. Can you stop the pass after December so nothing else comes out of my account?",
                    true,
                ),
                ("Please stop my Sugar Club payments after November's session.", true),
                (
                    "He passed away last week. Can you make sure nothing else is sent to him or taken from his bank?",
                    true,
                ),
                ("Can you stop the van at the side gate after 5?", false),
                ("Nothing else is sent to the old address, is it?", false),
            ],
        );
        rule_cases(
            "dispute",
            &[
                (
                    "So I've paid for work that wasn't done and I'd like that sorted.",
                    true,
                ),
                (
                    "I read an article about olive oil fraud. How can I tell yours is real?",
                    false,
                ),
                (
                    "I paid for the resole that was done last week, thanks.",
                    false,
                ),
            ],
        );
        let p = policy();
        assert!(asks(
            &p,
            "Any chance the orchard manager could ring me sometime to chat through the options?"
        ));
        assert!(asks(&p,
            "I think better if your sales man come to the yard and we discuss together, is possible?"
        ));
        assert!(!asks(
            &p,
            "Can someone come to the house on Saturday morning to do the inside of our Zafira?"
        ));
        assert!(!asks(&p, "The manager can ring the bell when she arrives."));
        for (t, want) in [
            (
                "And the moisture content? My recipe needs it under 18.5%.",
                None,
            ),
            (
                "Is it alright for my son to come? He's under 18 and on his own.",
                Some("minor"),
            ),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        let (score, _) = hedging(
            &text::normalize("It's possible a van could get through, though I can't say whether one covers your area."),
            &p,
        );
        assert!(score >= p.low_confidence.hedge_score, "{score}");
    }

    #[test]
    fn a_teenager_is_a_minor_when_the_message_says_why_the_age_matters_and_bee_hives_are_no_rash() {
        let p = policy();
        for (t, want) in [
            (
                "hi im 16, can i come to the late comedy night if my brother comes? ill pay with my own card",
                Some("minor"),
            ),
            (
                "hi im 14 and i used my mums card to get premium last night without asking her",
                Some("minor"),
            ),
            (
                "hey so im 15 and my parents said no but ive got my own money saved up",
                Some("minor"),
            ),
            (
                "hi im 16 and doing my geography coursework on local renewable energy. does the co-op publish the turbine's output?",
                None,
            ),
            (
                "hey im 14 and my art teacher said you do discount for students, does that count for school students?",
                None,
            ),
            // A payment that fails is still no hardship.
            ("I can't pay with my card, it keeps getting declined.", None),
            // Bees' hives are no rash.
            (
                "She wants to help with the hives next summer. Do you do bee suits?",
                None,
            ),
            (
                "He came up in hives all over after the new wipes.",
                Some("medical"),
            ),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn someone_from_any_team_asked_to_ring_is_a_request_and_a_regulator_by_name_is_legal() {
        let p = policy();
        assert!(asks(&p, "Can someone of the shop call us at the hotel?"));
        assert!(asks(&p, "could someone from the print lab call me back?"));
        assert!(!asks(&p, "Can someone from the shop deliver it on Friday?"));
        let legal = |t: &str| p.legal_compliance.patterns.is_match(&text::normalize(t));
        assert!(legal("I'm sending it all to the CQC tomorrow."));
        assert!(!legal("I'm sending it all to the office tomorrow."));
    }

    #[test]
    fn pleasantries_are_not_substantive() {
        let p = policy();
        let sub = |t: &str| is_substantive(&text::normalize(t), &p.vip);
        assert!(!sub("that worked, thank you!"));
        assert!(!sub("Perfetto, grazie mille."));
        assert!(sub("Also the wall is brick, not drywall"));
        // Thanks that close the exchange, however many words they take ...
        assert!(!sub(
            "Ah, I must have done it on the tablet. Found it, thanks!"
        ));
        assert!(!sub("Thanks, see you at the tables."));
        // ... unless something is still wrong or asked.
        assert!(sub("Thanks, but the invoice still shows the old address."));
        assert!(sub("Thanks. And can you move Friday's table to 8pm?"));
        // Without the keys (an older policy), words alone decide.
        let mut older = p.vip.clone();
        older.closings = Matcher::default();
        assert!(is_substantive(
            &text::normalize("Ah, I must have done it on the tablet. Found it, thanks!"),
            &older
        ));
    }

    #[test]
    fn repeated_question_in_other_words() {
        let p = policy();
        let rq = &p.repeated_question;
        let q1 = questions(&text::normalize("when does my data renew?"), rq, None);
        let q2 = questions(
            &text::normalize("ok but i have 0 gb now, which day exactly do i get my 15 gb back"),
            rq,
            None,
        );
        assert!(same_question(&q2[0], &q1[0], rq));
        let q3 = questions(&text::normalize("ok and if i go over?"), rq, None);
        assert!(q3[0].followup, "a follow-up asks something new");
        assert!(!same_question(&q3[0], &q1[0], rq));
        // ... but it is remembered: asked again in other words later, it is a repeat. An opening
        // question that starts with "if" is a question like any other.
        let opening = questions(
            &text::normalize("If it rains on the day of our tour does it still go ahead?"),
            rq,
            None,
        );
        let again = questions(
            &text::normalize("So does the tour still go ahead if it rains?"),
            rq,
            None,
        );
        assert!(same_question(&again[0], &opening[0], rq));
    }

    #[test]
    fn a_question_said_to_be_asked_again_may_change_its_kind() {
        let p = policy();
        let rq = &p.repeated_question;
        let ask = |t: &str| questions(&text::normalize(t), rq, None);
        let first = ask("How do I change my native language on my profile?");
        let again = ask("Sorry, so where exactly do I switch English to Spanish as my language?");
        assert!(again[0].restated);
        assert_ne!(
            again[0].kind, first[0].kind,
            "a `how` question, then a `where` one"
        );
        assert!(same_question(&again[0], &first[0], rq));
        // Unmarked, a question of another kind is another question.
        let new = ask("Where do I change my profile photo and my language?");
        assert!(!new[0].restated);
        assert!(!same_question(&new[0], &first[0], rq));
        // The marker in a sentence of its own marks the message's question.
        let back = ask("Sorry, back to the first thing. Am I allowed to change the language?");
        assert!(back[0].restated);
    }

    #[test]
    fn a_question_that_opens_by_accepting_the_answer_asks_something_new() {
        let p = policy();
        let rq = &p.repeated_question;
        let ask = |t: &str| first_question(t, rq);
        let first = ask("Do we each need our own bag, or can we share one?");
        // Accepted, then asked: new, even with the same words.
        let accepted = ask("Nice, that'll end the argument. Do we each need our own bag?");
        assert!(accepted.accepted);
        assert!(!same_question(&accepted, &first, rq));
        // The same words without the acceptance ask again.
        let again = ask("So do we each need our own bag?");
        assert!(!again.accepted);
        assert!(same_question(&again, &first, rq));
        // Accepted but said to be asked again: a repeat.
        let restated = ask("Thanks. So just to double check, do we each need our own bag?");
        assert!(restated.restated && !restated.accepted);
        assert!(same_question(&restated, &first, rq));
        // Without the key (an older policy), nothing is an acceptance.
        let mut older = rq.clone();
        older.accepted_openers = Matcher::default();
        assert!(!first_question("Nice. Do we each need our own bag?", &older).accepted);
    }

    #[test]
    fn saying_the_account_stays_means_no_cancellation() {
        let p = policy();
        let kept = |t: &str| p.cancellation.not_meant.is_match(&text::normalize(t));
        assert!(kept(
            "Can you cancel that one order? Leave the subscription exactly as it is."
        ));
        assert!(kept(
            "Could the magazine switch to the digital edition? I'd like to stay a member."
        ));
        assert!(!kept(
            "We're moving abroad, so I won't stay a member after March."
        ));
        assert!(!kept("Please close the account, I'm moving abroad."));
    }

    #[test]
    fn a_call_back_a_direct_line_and_the_person_spoken_to_before_are_requests() {
        let p = policy();
        for t in [
            "Could I get a call back this afternoon from whoever deals with refunds?",
            "Any chance of a callback? Typing all this is a pain.",
            "Please have the manager call me.",
            "Is there a human I can email directly?",
            "Can you ask the lady I spoke to last week to call me?",
            "Could I have the direct line for your accounts department?",
        ] {
            assert!(asks(&p, t), "{t}");
        }
        for t in [
            "I don't need a call back, the chat answered it.",
            "Please have the parcel left with a neighbour.",
            "Is there a direct train from the airport?",
        ] {
            assert!(!asks(&p, t), "{t}");
        }
    }

    #[test]
    fn notice_given_a_disowned_payment_a_device_smoking_and_a_stop_on_the_way() {
        rule_cases(
            "cancellation",
            &[
                ("Fine. Then please take this as my notice.", true),
                (
                    "I'd like it sorted so I'm no longer a member and the payments stop.",
                    true,
                ),
                (
                    "Can the coach stop at a motorway services on the way to Edinburgh?",
                    false,
                ),
                ("Please take this as my order for Friday.", false),
            ],
        );
        rule_cases(
            "dispute",
            &[
                (
                    "My card provider texted me about a £780 payment to you yesterday, and that wasn't me.",
                    true,
                ),
                ("I didn't ask for his name, I asked for his number.", false),
                ("I didn't ask for the insurance add-on, take it off.", true),
            ],
        );
        let p = policy();
        for (t, want) in [
            (
                "The heat mat started smoking under the tank and left a brown scorch mark.",
                Some("safety"),
            ),
            ("He started smoking again after the holidays, sadly.", None),
            (
                "My hand's puffed up, hot to the touch, and there's a red line creeping up my arm.",
                Some("medical"),
            ),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        assert!(asks(&p,
            "Whoever looks after block bookings at the club, I'd like to deal with them directly please."
        ));
    }

    #[test]
    fn probe_phrasings_of_leaving_disputing_and_hardship() {
        rule_cases(
            "cancellation",
            &[
                (
                    "Time to call it a day with the gym, I just don't go anymore.",
                    true,
                ),
                ("I want out of the plan, it's not worth the money.", true),
                (
                    "My mother has moved into a care home, so her meal deliveries need to end.",
                    true,
                ),
                (
                    "Let's call it a day for now, I'll try again tomorrow.",
                    false,
                ),
                ("The deliveries need to arrive before noon.", false),
            ],
        );
        rule_cases(
            "dispute",
            &[
                ("That late fee shouldn't be on there, I paid on time.", true),
                (
                    "Money has gone out of my account to you twice this month.",
                    true,
                ),
                ("I've contacted my bank to get that payment back.", true),
                ("The fee should be on the invoice, can you add it?", false),
            ],
        );
        let p = policy();
        for (t, want) in [
            (
                "The man who came to fix the boiler was drunk and shouting at me.",
                Some("safety"),
            ),
            (
                "I can barely afford food this week, let alone your bill.",
                Some("financial_hardship"),
            ),
            ("The wine was lovely, we drank the lot.", None),
            ("Can I afford the bigger box if I skip a week?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn probe_phrasings_of_frustration_with_the_answers() {
        let p = policy();
        for t in [
            "You're just repeating yourself now.",
            "That's the same answer you gave me ten minutes ago.",
            "Honestly, I'm losing my patience here.",
            "That's not what I asked, again.",
            "You clearly don't understand the problem.",
            "Why is this so difficult?",
            "Well that was a waste of ten minutes.",
            "Seriously? That's your answer?",
            "Can you stop giving me scripted replies?",
        ] {
            assert!(frustrated(&p, t), "{t}");
        }
        for t in [
            "Is that your answer for both models, or just the older one?",
            "Why is this one so much cheaper than the other?",
            "I understand, thanks. Same time next week then.",
        ] {
            assert!(!frustrated(&p, t), "{t}");
        }
    }

    #[test]
    fn a_talk_with_the_one_who_did_the_work_a_plan_brought_to_an_end_and_not_still_being_around() {
        let p = policy();
        for t in [
            "I'd want to chat with whichever coach I'd be working with first.",
            "Can I send photos to one of your techs and have them message me back?",
            "I'd rather whoever actually serviced it had a look.",
            "Put me onto your branch manager and we'll sort the rate.",
        ] {
            assert!(asks(&p, t), "{t}");
        }
        for t in [
            "Whichever coach I get is fine by me.",
            "Whoever delivered it left the gate open.",
            "Put me down for two tickets please.",
        ] {
            assert!(!asks(&p, t), "{t}");
        }
        rule_cases(
            "cancellation",
            &[
                (
                    "Once I move there's no need for the weekly collections or the monthly fee.",
                    true,
                ),
                (
                    "I'd like the direct debit and the plan brought to an end after this month.",
                    true,
                ),
                ("There's no need for a receipt, thanks.", false),
                ("The festival is coming to an end on Sunday.", false),
            ],
        );
        rule_cases(
            "legal",
            &[
                (
                    "I want a copy of every bit of information you've got stored on me.",
                    true,
                ),
                (
                    "My brother-in-law is a solicitor and he's drafting a letter to you.",
                    true,
                ),
                ("Can I see all the details of my booking?", false),
                ("I'm writing a thank-you card to the team.", false),
            ],
        );
        rule_cases(
            "dispute",
            &[
                ("Three of those weeks shouldn't be on there.", true),
                ("The fee is £2,360. That's double what it should be.", true),
                ("The extra days should be on the invoice too.", false),
                ("The new model is double what the old one cost.", false),
            ],
        );
        for (t, want) in [
            (
                "honestly not sure I'll still be around by thursday. everything feels pointless.",
                Some("safety"),
            ),
            (
                "The frame shudders with each gust. Should we be getting everyone out?",
                Some("safety"),
            ),
            (
                "Not sure I'll still be around at 6pm for the courier, can they come earlier?",
                None,
            ),
            ("Should we get everyone out of the car park by ten?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        assert!(frustrated(&p, "This isn't getting me anywhere."));
        assert!(frustrated(&p, "Every time I ask I get a brand new date."));
        assert!(!frustrated(
            &p,
            "Is this bus getting me anywhere near the station?"
        ));
    }

    #[test]
    fn safety_critical_probe_phrasings_are_a_sensitive_topic() {
        let p = policy();
        for (t, want) in [
            (
                "I don't see the point in carrying on with anything at the moment.",
                Some("safety"),
            ),
            (
                "I've been stockpiling my tablets and I keep thinking about taking them all.",
                Some("safety"),
            ),
            (
                "Nobody would even notice if I disappeared tomorrow.",
                Some("safety"),
            ),
            ("He said if I cancel he'll hurt me.", Some("safety")),
            (
                "Water is pouring through the ceiling onto the fuse board.",
                Some("safety"),
            ),
            (
                "The railing came away in my hand, I nearly went over.",
                Some("safety"),
            ),
            (
                "I'm in a refuge so please don't post anything.",
                Some("safety"),
            ),
            (
                "My daughter has swallowed one of the button batteries.",
                Some("medical"),
            ),
            ("I think my son is self-harming.", Some("medical")),
            (
                "I was told I have a few months left, so I'm sorting things out.",
                Some("medical"),
            ),
            (
                "I've had to start using a food bank.",
                Some("financial_hardship"),
            ),
            (
                "I've not eaten properly in a week because every penny goes on rent.",
                Some("financial_hardship"),
            ),
            (
                "Someone keeps asking my 11 year old for photos.",
                Some("minor"),
            ),
            // look-alikes
            (
                "Is there any point in carrying on with the subscription?",
                None,
            ),
            ("He'd kill me if I made him miss the match.", None),
            ("I have a few months left on my contract.", None),
            ("The tablets are easy to swallow.", None),
            ("I nearly fell asleep waiting for the page to load.", None),
            ("Someone asked my 11 year old what cake she wanted.", None),
            ("We donated the leftovers to the food bank.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn probe_phrasings_of_a_person_asked_for_and_of_stopping_everything() {
        let p = policy();
        for t in [
            "Is there a team I can speak to about this instead of a chatbot?",
            "Can one of the stylists message me directly?",
            "I need to talk to an actual engineer, not a script.",
            "I'd appreciate a call from someone who knows the system.",
        ] {
            assert!(asks(&p, t), "{t}");
        }
        for t in [
            "Is there a team discount I can use?",
            "We'd like to talk to a real estate agent first.",
            "I had a call from someone claiming to be you.",
        ] {
            assert!(!asks(&p, t), "{t}");
        }
        let cancels = |t: &str| {
            let norm = text::normalize(t);
            let c = &p.cancellation;
            business("cancellation", t) || c.whole_patterns.is_match(&norm)
        };
        assert!(cancels(
            "Can you stop everything from next month, I'm moving abroad."
        ));
        assert!(!cancels("Stop everything, I've found the order number."));
        assert!(p.cancellation.not_meant.is_match(&text::normalize(
            "I'd like to end my trial early and start the paid plan now."
        )));
    }

    #[test]
    fn enough_of_the_service_not_of_mushrooms_a_bottle_that_burst_and_a_stop_put_to_it() {
        let p = policy();
        assert!(frustrated(
            &p,
            "I've had enough. Nobody can tell me where my boxes are."
        ));
        assert!(frustrated(
            &p,
            "I've had enough of being sent round in loops."
        ));
        assert!(frustrated(&p, "Did you read what I wrote at all?"));
        assert!(!frustrated(
            &p,
            "I've had enough mushrooms to last a lifetime."
        ));
        assert!(!frustrated(
            &p,
            "Have you had enough time to read what I sent?"
        ));
        for (t, want) in [
            (
                "A bottle went off like a firework and my partner cut his hand clearing it up.",
                Some("safety"),
            ),
            ("Can you cut the hedge back by the gate?", None),
            ("The balloon burst at the party, the kids loved it.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        let stop = |t: &str| p.cancellation.whole_patterns.is_match(&text::normalize(t));
        assert!(stop(
            "Could you put a stop to the adoption after this month?"
        ));
        assert!(!stop("Could you put a stop to the reminder texts?"));
    }

    #[test]
    fn probe_phrasings_of_frustration_and_of_disputed_charges() {
        let p = policy();
        for t in [
            "Unbelievable. Third time I've explained this and still nothing.",
            "You people are impossible to deal with.",
            "Are you actually going to help or just keep sending me links?",
            "I'm so done with this, every answer is the same script.",
            "Honestly this is the worst service I've ever had.",
            "Why does nobody ever answer the actual question?",
            "Cheers for that, really useful, not.",
            "Seriously, what is the point of this chat?",
        ] {
            assert!(frustrated(&p, t), "{t}");
        }
        for t in [
            "Thanks, that was really useful!",
            "I'm done with this form, what's next?",
            "What is the point of this setting in the app?",
            "This is the third time I've ordered from you and I love it.",
        ] {
            assert!(!frustrated(&p, t), "{t}");
        }
        rule_cases(
            "dispute",
            &[
                ("You charged my card after I'd already cancelled.", true),
                ("I've been overcharged, the shelf price was lower.", true),
                ("This invoice is wrong, we never had the extra visit.", true),
                ("I'm not paying the late fee, it went out on time.", true),
                (
                    "The address on the invoice is wrong, can you fix it?",
                    false,
                ),
                ("I'm not paying by card, can I pay cash?", false),
            ],
        );
    }

    #[test]
    fn probe_phrasings_of_a_regulator_customer_services_and_getting_out_of_a_contract() {
        let p = policy();
        rule_cases(
            "legal",
            &[
                (
                    "Your ad was misleading and I've complained to the ASA.",
                    true,
                ),
                ("I complained to the shop manager about the queue.", false),
            ],
        );
        assert!(asks(&p, "I'd like to be transferred to customer services."));
        assert!(!asks(
            &p,
            "No, I don't want to be put through to customer service, just the hours."
        ));
        let whole = |t: &str| p.cancellation.whole_patterns.is_match(&text::normalize(t));
        assert!(whole("Cancel everything please, I'm moving overseas."));
        assert!(whole("How do I get out of my contract?"));
        assert!(!whole("Cancel everything in my basket except the shoes."));
        assert!(!whole("How do I get out of the car park after 10pm?"));
        assert!(whole(
            "I'm giving up the allotment at the end of the season."
        ));
        assert!(!whole("I'm giving up sugar, any low-sugar options?"));
        rule_cases(
            "dispute",
            &[
                (
                    "An admin fee? Nobody mentioned it and I'm not happy to pay it.",
                    true,
                ),
                ("I'm not going to pay by card, can I use cash?", false),
            ],
        );
    }

    #[test]
    fn probe_stories_of_a_child_on_the_card_an_operation_and_a_nurse_to_ring() {
        let p = policy();
        for (t, want) in [
            (
                "my grandson is 15, he is buying things from your app with my card, I did not know",
                Some("minor"),
            ),
            (
                "after the operation I am in wheelchair for 6 weeks and cannot come to the shop",
                Some("medical"),
            ),
            (
                "My daughter is 15 and wants to try the beginners' class with me.",
                None,
            ),
            ("I had my operation last year and I'm fully fit now.", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        assert!(asks(
            &p,
            "I'd feel much more comfortable if one of your nurses rang me back."
        ));
        assert!(!asks(
            &p,
            "It would be odd if someone called me at midnight."
        ));
    }

    #[test]
    fn session_29_stories_of_damage_already_there_money_not_there_and_a_whole_thing_closed() {
        let p = policy();
        for (rule, t, want) in [
            ("dispute", "You're charging me £250 for a scratch on the bumper. That scratch was already there when I picked it up.", true),
            ("dispute", "The £740 for the dent, that dent's marked on my collection sheet.", true),
            ("dispute", "ok so the receipt says £16.40 but my bank has taken £61.40 off me", true),
            ("dispute", "Found them. I'm not having that.", true),
            // The damage alone, with no charge, is a fault report; a receipt that agrees is fine.
            ("dispute", "The guitar has a crack near the bridge, it was there when it arrived.", false),
            ("dispute", "The receipt says £16.40 and that's what my bank took, thanks.", false),
            ("cancellation", "Could you just close the Curry Club altogether after that?", true),
            ("cancellation", "How do we stop the monthly payments for her pendant?", true),
            ("cancellation", "What do I have to do to hand mine back early?", true),
            ("cancellation", "Can you stop the emails altogether?", false),
            ("cancellation", "Can I send the sofa back early if I upgrade?", false),
            ("legal", "I want my name, email and signature wiped from everything on your side.", true),
            ("legal", "Can I wipe the old designs from my account before sharing it?", false),
            ("legal", "My brother-in-law is a solicitor and he's already written to your head office.", true),
            ("legal", "My solicitor needs an invoice with the firm's name on it.", false),
            ("legal", "I am instructing a solicitor tomorrow.", true),
            ("legal", "Fine, I'll let the Better Business Bureau know how you treat customers.", true),
            ("legal", "Our solicitor is buying the gift vouchers for the office party.", false),
            ("dispute", "There's a plan on my account from a shop in Coventry. I've never set foot in Coventry.", true),
            ("dispute", "I've never been in a float tank before, what should I wear?", false),
            ("dispute", "Nothing ran all month. So why are we paying £650 to manage nothing?", true),
            ("dispute", "I'm not paying a full day rate for three hours.", true),
            ("dispute", "What rate would I be paying for a full day?", false),
            ("dispute", "There's £120 from you on my card. I haven't booked anything since August.", true),
            ("dispute", "So why does my statement show two lots of £30 from you?", true),
            ("dispute", "We're disputing that invoice, please correct it.", true),
            ("dispute", "I'm not disputing the bill, I just want to understand it.", false),
            ("dispute", "I haven't booked anything yet, which slots are free?", false),
            ("cancellation", "I'm paying for a discount I never use, so I'd like out.", true),
            ("legal", "I've already sent my photos to the environmental health team at the council.", true),
            ("legal", "Environmental health are visiting us on Friday, can you send the certificate?", false),
            ("legal", "She wants a copy of everything that's held about her, and it all wiped afterwards.", true),
            ("cancellation", "December's pack can be the last thing you send me, please stop it after that.", true),
            ("cancellation", "Come 31 January that's us finished with Baitcheck.", true),
            ("cancellation", "Can I pause it for a month and start again after that?", false),
        ] {
            let heard = business_in(&p, rule, t);
            assert_eq!(heard, want, "{rule}: {t}");
        }
        for (t, want) in [
            ("We've lost the council contract and I honestly can't see where that money comes from by the 7th.", Some("financial_hardship")),
            ("I can't see where the money button is in the app.", None),
            ("There's a man in the car park who's been following me round the shop.", Some("safety")),
            ("The guide was following the map, not me.", None),
            ("There's a patch on my calf that's gone white and this morning it's blistered.", Some("medical")),
            ("I've felt low most days. Is that down to these tablets?", Some("medical")),
            ("Are the blister packs recyclable?", None),
            ("The dish is hanging at an angle right above the door the kids use.", Some("safety")),
            ("The new sign is hanging above the door now, it looks great.", None),
            ("This morning the skin next to my nose has gone a patchy greyish colour.", Some("medical")),
            ("I went down hard and my ankle's strapped up now.", Some("medical")),
            ("The sky has gone grey, is the flight still on?", None),
            ("The spare ankle harness was fraying where the webbing meets the buckle.", Some("safety")),
            ("The strap on my handbag is fraying, can you repair it?", None),
            ("We're living on universal credit and the bill is more than we get in a week.", Some("financial_hardship")),
            ("I'm on a zero hours contract and had no shifts for three weeks.", Some("financial_hardship")),
            ("I've had to choose between heating and eating this week.", Some("financial_hardship")),
            ("The bailiffs came yesterday and I can't cover this as well.", Some("financial_hardship")),
            ("I'm behind on everything since the business went under.", Some("financial_hardship")),
            ("What time does the bailiff open the gate at the top lake?", None),
            ("I'm off sick today so could the delivery come after 2pm?", None),
        ] {
            assert_eq!(sensitive_category(&p, t).as_deref(), want, "{t}");
        }
        assert!(asks(
            &p,
            "is possible somebody from your company go to her house and show her?"
        ));
        assert!(asks(
            &p,
            "Is there a living, breathing manager in that building?"
        ));
        assert!(!asks(
            &p,
            "Someone from your company came round yesterday and sorted it."
        ));
        assert!(frustrated(&p, "A voucher. This is no help at all."));
        assert!(!frustrated(
            &p,
            "No help needed at all, thanks, it works now."
        ));
        assert!(frustrated(
            &p,
            "Pointless. There are no slots until February."
        ));
        assert!(!frustrated(&p, "Is it pointless to book now?"));
    }

    /// The first question of a message.
    fn first_question(t: &str, rq: &RepeatedQuestionRule) -> Question {
        questions(&text::normalize(t), rq, None).remove(0)
    }

    #[test]
    fn the_words_that_name_a_kind_are_not_concepts_and_a_synonym_is_never_a_stopword() {
        let p = policy();
        let rq = &p.repeated_question;
        let q = |t: &str| first_question(t, rq);
        // "which day" is the kind (time), not a concept; "get" (a stopword) meets "come in".
        let before = q("when does my monthly credit come in?");
        assert!(same_question(
            &q("right, but which day do i get a new credit?"),
            &before,
            rq
        ));
        assert!(!same_question(
            &q("which day does the new studio open?"),
            &before,
            rq
        ));
    }

    #[test]
    fn two_of_five_concepts_shared_is_the_same_question_in_other_words() {
        let p = policy();
        let rq = &p.repeated_question;
        let q = |t: &str| first_question(t, rq);
        let before = q("when does the summer timetable for the junior tennis squad start?");
        let again = q("what date do junior squad lessons resume this autumn?");
        assert!(same_question(&again, &before, rq));
        // At the old 0.5 it was not: the two share "junior" and "squad" of five.
        let mut half = rq.clone();
        half.min_overlap = 0.5;
        assert!(!same_question(&again, &before, &half));
        // One word in common is still a new question.
        assert!(!same_question(
            &q("what date does the junior trophy ceremony take place?"),
            &before,
            rq
        ));
    }

    #[test]
    fn a_question_that_says_it_is_asked_again_needs_fewer_shared_concepts() {
        let p = policy();
        let rq = &p.repeated_question;
        let q = |t: &str| first_question(t, rq);
        let before = q("is the crematorium fee included in the price of my prepaid plan?");
        let again = "so to be clear, will my family have to pay anything extra to the crematorium on the day or not?";
        assert!(q(again).restated);
        assert!(same_question(&q(again), &before, rq));
        // The same words without saying so: a new question about the crematorium.
        let new = "will my family have to pay anything extra to the crematorium on the day?";
        assert!(!q(new).restated);
        assert!(!same_question(&q(new), &before, rq));
    }

    #[test]
    fn checking_what_the_answer_said_is_asking_again() {
        // session 29 (fresh-eval-86, -90): the customer checks the answer back, or insists.
        let p = policy();
        let rq = &p.repeated_question;
        let q = |t: &str| first_question(t, rq);
        for t in [
            "So before Thursday there's no need for me to buy special shoes, is that what you're saying?",
            "Today's the 18th. So is my case sitting there finished or not? That's all I need to know.",
            "Ok but has somebody actually received the controller at your end?",
        ] {
            assert!(q(t).restated, "{t}");
        }
        for t in [
            "What shoes do people usually wear, are they saying trainers are fine?",
            "Ok, has the price changed since last year?",
        ] {
            assert!(!q(t).restated, "{t}");
        }
    }

    #[test]
    fn a_statement_that_opens_with_an_auxiliary_is_not_a_question() {
        let p = policy();
        let rq = &p.repeated_question;
        let asked = |t: &str| questions(&text::normalize(t), rq, None).len();
        assert_eq!(
            asked("ok will pay annually."),
            0,
            "a verb follows: a statement"
        );
        assert_eq!(asked("can do that tomorrow"), 0);
        assert_eq!(
            asked("will it arrive today"),
            1,
            "a subject follows: a question"
        );
        assert_eq!(asked("ok so can someone check the meter"), 1);
        assert_eq!(
            asked("will pay annually?"),
            1,
            "a question mark still makes a question"
        );
    }
}
