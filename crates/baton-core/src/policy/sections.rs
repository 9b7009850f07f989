//! One function per section of the policy file: each checks its section and compiles it, with
//! errors that name the key and the line.

use toml::Spanned;

use super::file::{
    CustomRuleFile, LowConfidenceFile, MessageLengthFile, PriorityFile, QualityFile,
    RepeatedQuestionFile, RoutingFile, SensitiveFile, SentimentDropFile, ShippedChurnRisk,
    TeamFile, TopicsFile, VipFile,
};
use super::{
    ChurnRiskRule, Compiler, CustomRule, LowConfidenceRule, MessageLengthRule, PolicyError,
    Priority, PriorityRules, QualityRules, QuestionKind, RepeatedQuestionRule, RoutingRules,
    SensitiveCategory, SensitiveRule, SentimentDropRule, Team, Topic, Topics, VipRule,
    DEFAULT_POLICY,
};
use crate::model::Tier;
use crate::reason::ReasonKind;

impl Compiler<'_> {
    /// `skills`: the names every `skill` key must be one of.
    pub(super) fn skill_names(&self, list: &[Spanned<String>]) -> Result<Vec<String>, PolicyError> {
        let mut skills = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let name = s.get_ref();
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') {
                return Err(self.err(
                    Some(s.span()),
                    &format!("skills[{i}]"),
                    format!("`{name}` is not a skill name (lower-case letters and _)"),
                ));
            }
            skills.push(name.clone());
        }
        Ok(skills)
    }

    /// `order`: the reasons by precedence; those it leaves out follow, built-in then custom.
    pub(super) fn order(
        &self,
        list: &[Spanned<String>],
        custom_names: &[String],
    ) -> Result<Vec<ReasonKind>, PolicyError> {
        let mut order = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let kind = ReasonKind::parse(r.get_ref(), custom_names).ok_or_else(|| {
                self.err(
                    Some(r.span()),
                    &format!("order[{i}]"),
                    format!(
                        "unknown reason `{}`; expected a built-in reason ({}) or a custom rule name",
                        r.get_ref(),
                        ReasonKind::BUILT_IN
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if order.contains(&kind) {
                return Err(self.err(
                    Some(r.span()),
                    &format!("order[{i}]"),
                    format!("`{}` is listed twice", r.get_ref()),
                ));
            }
            order.push(kind);
        }
        // Reasons missing from the order still count, after the listed ones.
        for kind in ReasonKind::BUILT_IN {
            if !order.contains(&kind) {
                order.push(kind);
            }
        }
        for i in 0..custom_names.len() {
            if !order.contains(&ReasonKind::Custom(i as u16)) {
                order.push(ReasonKind::Custom(i as u16));
            }
        }
        Ok(order)
    }

    /// `[[custom_rules]]`: the support lead's own reasons.
    pub(super) fn custom_rules(
        &self,
        list: &[CustomRuleFile],
        topics: &TopicsFile,
    ) -> Result<Vec<CustomRule>, PolicyError> {
        let custom_names: Vec<&String> = list.iter().map(|r| r.name.get_ref()).collect();
        let mut custom_rules = Vec::new();
        for (i, r) in list.iter().enumerate() {
            let key = format!("custom_rules[{i}]");
            let name = r.name.get_ref();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            {
                return Err(self.err(
                    Some(r.name.span()),
                    &format!("{key}.name"),
                    format!("`{name}` is not a reason name (lower-case letters, digits and _)"),
                ));
            }
            if ReasonKind::BUILT_IN.iter().any(|k| k.as_str() == name)
                || custom_names[..i].contains(&name)
            {
                return Err(self.err(
                    Some(r.name.span()),
                    &format!("{key}.name"),
                    format!("`{name}` is already a reason name"),
                ));
            }
            if r.phrases.is_empty() && r.patterns.is_empty() {
                return Err(self.err(
                    Some(r.name.span()),
                    &key,
                    "a custom rule needs `phrases` or `patterns`".into(),
                ));
            }
            let phrases = self.phrases(&format!("{key}.phrases"), &r.phrases)?;
            let patterns = self.patterns(&format!("{key}.patterns"), &r.patterns)?;
            // One matcher: phrases become escaped patterns.
            let mut all = Vec::new();
            for m in [&phrases, &patterns] {
                if let Some(re) = &m.regex {
                    all.push(Spanned::new(0..0, re.as_str().to_string()));
                }
            }
            let priority = match &r.priority {
                None => None,
                Some(p) => Some(Priority::parse(p.get_ref()).ok_or_else(|| {
                    self.err(
                        Some(p.span()),
                        &format!("{key}.priority"),
                        format!(
                            "unknown priority `{}`; expected low, medium, high or urgent",
                            p.get_ref()
                        ),
                    )
                })?),
            };
            let topic_names: Vec<&str> = topics.list.iter().map(|t| t.name.as_str()).collect();
            let mut rule_topics = Vec::new();
            for t in &r.topics {
                if t.get_ref() != &topics.default_topic
                    && !topic_names.contains(&t.get_ref().as_str())
                {
                    return Err(self.err(
                        Some(t.span()),
                        &format!("{key}.topics"),
                        format!("unknown topic `{}`", t.get_ref()),
                    ));
                }
                rule_topics.push(t.get_ref().clone());
            }
            custom_rules.push(CustomRule {
                name: name.clone(),
                detail: r
                    .detail
                    .clone()
                    .unwrap_or_else(|| format!("custom rule {name}")),
                skill: self.skill(&format!("{key}.skill"), &r.skill)?,
                priority,
                patterns: self.patterns(&key, &all)?,
                tiers: self.tiers(&format!("{key}.tiers"), &r.tiers)?,
                topics: rule_topics,
            });
        }
        Ok(custom_rules)
    }

    /// `[sensitive_topic]` and its categories.
    pub(super) fn sensitive(&self, s: &SensitiveFile) -> Result<SensitiveRule, PolicyError> {
        let mut categories = Vec::new();
        for (i, cat) in s.categories.iter().enumerate() {
            let key = format!("sensitive_topic.categories[{i}]");
            categories.push(SensitiveCategory {
                name: cat.name.clone(),
                skill: self.skill(&format!("{key}.skill"), &cat.skill)?,
                patterns: self.screened_patterns(&format!("{key}.patterns"), &cat.patterns)?,
            });
        }
        Ok(SensitiveRule {
            enabled: s.enabled,
            negations: self.patterns("sensitive_topic.negations", &s.negations)?,
            exclusions: self.patterns("sensitive_topic.exclusions", &s.exclusions)?,
            categories,
        })
    }

    /// `[vip]`.
    pub(super) fn vip(&self, v: &VipFile) -> Result<VipRule, PolicyError> {
        let min_lifetime_value = *v.min_lifetime_value.get_ref();
        if !(min_lifetime_value >= 0.0 && min_lifetime_value.is_finite()) {
            return Err(self.err(
                Some(v.min_lifetime_value.span()),
                "vip.min_lifetime_value",
                format!("{min_lifetime_value} must be 0 (off) or a positive amount"),
            ));
        }
        Ok(VipRule {
            enabled: v.enabled,
            skill: self.skill("vip.skill", &v.skill)?,
            tiers: self.tiers("vip.tiers", &v.tiers)?,
            min_lifetime_value,
            substantive_message: self
                .positive("vip.substantive_message", &v.substantive_message)?,
            min_content_words: v.min_content_words,
            pleasantries: self.phrases("vip.pleasantries", &v.pleasantries)?,
            closings: self.patterns("vip.closings", &v.closings)?,
            still_open: self.patterns("vip.still_open", &v.still_open)?,
        })
    }

    /// `[low_confidence]`.
    pub(super) fn low_confidence(
        &self,
        l: &LowConfidenceFile,
    ) -> Result<LowConfidenceRule, PolicyError> {
        Ok(LowConfidenceRule {
            enabled: l.enabled,
            threshold: self.fraction("low_confidence.threshold", &l.threshold)?,
            consecutive: self.positive("low_confidence.consecutive", &l.consecutive)?,
            hedges: self.patterns("low_confidence.hedges", &l.hedges)?,
            weak_hedges: self.patterns("low_confidence.weak_hedges", &l.weak_hedges)?,
            weak_hedge_weight: self
                .positive("low_confidence.weak_hedge_weight", &l.weak_hedge_weight)?,
            hedge_score: self.positive("low_confidence.hedge_score", &l.hedge_score)?,
            restatement_overlap: self
                .fraction("low_confidence.restatement_overlap", &l.restatement_overlap)?,
            restatement_min_words: l.restatement_min_words,
            affirmative_openers: self
                .patterns("low_confidence.affirmative_openers", &l.affirmative_openers)?,
            negative_openers: self
                .patterns("low_confidence.negative_openers", &l.negative_openers)?,
            contradiction_min_shared: self.positive(
                "low_confidence.contradiction_min_shared",
                &l.contradiction_min_shared,
            )?,
            contradiction_markers: self.patterns(
                "low_confidence.contradiction_markers",
                &l.contradiction_markers,
            )?,
        })
    }

    /// `[repeated_question]`, its question kinds and synonym groups.
    pub(super) fn repeated_question(
        &self,
        rq: &RepeatedQuestionFile,
    ) -> Result<RepeatedQuestionRule, PolicyError> {
        let mut synonyms = rustc_hash::FxHashMap::default();
        for (group, words) in rq.synonyms.iter().enumerate() {
            for w in words {
                let norm = crate::text::normalize(w);
                synonyms.insert(crate::text::stem(&norm).to_string(), group as u32);
            }
        }
        let mut question_kinds = Vec::new();
        for (i, k) in rq.question_kinds.iter().enumerate() {
            question_kinds.push(QuestionKind {
                name: k.name.clone(),
                patterns: self.patterns(
                    &format!("repeated_question.question_kinds[{i}].patterns"),
                    &k.patterns,
                )?,
            });
        }
        let min_overlap = self.fraction("repeated_question.min_overlap", &rq.min_overlap)?;
        Ok(RepeatedQuestionRule {
            enabled: rq.enabled,
            min_overlap,
            min_shared: self.positive("repeated_question.min_shared", &rq.min_shared)?,
            memory: self.positive("repeated_question.memory", &rq.memory)?,
            question_openers: self
                .patterns("repeated_question.question_openers", &rq.question_openers)?,
            followup_markers: self
                .patterns("repeated_question.followup_markers", &rq.followup_markers)?,
            restatement_markers: self.screened_patterns(
                "repeated_question.restatement_markers",
                &rq.restatement_markers,
            )?,
            // Absent (a policy written before it): a restated question needs what any other does.
            restated_min_overlap: match &rq.restated_min_overlap {
                Some(v) => self.fraction("repeated_question.restated_min_overlap", v)?,
                None => min_overlap,
            },
            accepted_openers: self
                .patterns("repeated_question.accepted_openers", &rq.accepted_openers)?,
            question_kinds,
            synonyms,
        })
    }

    /// `[sentiment_drop]`.
    pub(super) fn sentiment_drop(
        &self,
        sd: &SentimentDropFile,
    ) -> Result<SentimentDropRule, PolicyError> {
        Ok(SentimentDropRule {
            enabled: sd.enabled,
            prior_negative_below: self.compound(
                "sentiment_drop.prior_negative_below",
                &sd.prior_negative_below,
            )?,
            sentence_below: self.compound("sentiment_drop.sentence_below", &sd.sentence_below)?,
            emotion_sentence_below: sd
                .emotion_sentence_below
                .as_ref()
                .map(|v| self.compound("sentiment_drop.emotion_sentence_below", v))
                .transpose()?,
            message_below: self.compound("sentiment_drop.message_below", &sd.message_below)?,
            emotion_terms: self
                .screened_patterns("sentiment_drop.emotion_terms", &sd.emotion_terms)?,
            prior_complaints: self
                .patterns("sentiment_drop.prior_complaints", &sd.prior_complaints)?,
            analyzer: {
                let valence = self.valences("sentiment_drop.valence", &sd.valence)?;
                (!valence.is_empty()).then(|| {
                    std::sync::Arc::new(crate::sentiment::analyzer().with_valence(&valence))
                })
            },
        })
    }

    /// `[message_length]`.
    pub(super) fn message_length(
        &self,
        ml: &MessageLengthFile,
    ) -> Result<MessageLengthRule, PolicyError> {
        if ml.min_words == 0 {
            return Err(self
                .err(None, "message_length.min_words", "must be above 0".into())
                .with_line(self.line_of_key("message_length", "min_words")));
        }
        Ok(MessageLengthRule {
            enabled: ml.enabled,
            ratio: self.positive("message_length.ratio", &ml.ratio)?,
            min_words: ml.min_words,
        })
    }

    /// `[topics]` (the topic head's weight is set once `[semantic]` is read: 0 here).
    pub(super) fn topics(&self, t: &TopicsFile) -> Result<Topics, PolicyError> {
        let mut list = Vec::new();
        for (i, topic) in t.list.iter().enumerate() {
            list.push(Topic {
                name: topic.name.clone(),
                label: topic.label.clone(),
                skill: self.skill(&format!("topics.list[{i}].skill"), &topic.skill)?,
                keywords: self
                    .patterns(&format!("topics.list[{i}].keywords"), &topic.keywords)?
                    .counting(),
            });
        }
        Ok(Topics {
            default_topic: t.default_topic.clone(),
            default_label: t.default_label.clone(),
            default_skill: self.skill("topics.default_skill", &t.default_skill)?,
            ai_weight: self.fraction("topics.ai_weight", &t.ai_weight)?,
            first_message_weight: self
                .positive("topics.first_message_weight", &t.first_message_weight)?,
            list,
            semantic_weight: 0.0,
            conversation_weight: 0.0,
        })
    }

    /// `[priority]`: points and thresholds.
    pub(super) fn priority(
        &self,
        p: &PriorityFile,
        custom_names: &[String],
    ) -> Result<PriorityRules, PolicyError> {
        let mut tier_points = [0; 5];
        for (name, points) in &p.tier_points {
            let tier = Tier::parse(name).ok_or_else(|| {
                self.err(
                    Some(points.span()),
                    &format!("priority.tier_points.{name}"),
                    format!("unknown tier `{name}`"),
                )
            })?;
            tier_points[tier as usize] = *points.get_ref();
        }
        let mut reason_points = Vec::new();
        for (name, points) in &p.reason_points {
            let kind = ReasonKind::parse(name, custom_names).ok_or_else(|| {
                self.err(
                    Some(points.span()),
                    &format!("priority.reason_points.{name}"),
                    format!("unknown reason `{name}`"),
                )
            })?;
            reason_points.push((kind, *points.get_ref()));
        }
        if !(p.urgent_at >= p.high_at && p.high_at >= p.medium_at) {
            return Err(self
                .err(
                    None,
                    "priority.urgent_at",
                    format!(
                        "thresholds must satisfy urgent_at >= high_at >= medium_at (got {}, {}, {})",
                        p.urgent_at, p.high_at, p.medium_at
                    ),
                )
                .with_line(self.line_of_key("priority", "urgent_at")));
        }
        Ok(PriorityRules {
            tier_points,
            high_value_above: p.high_value_above,
            high_value_points: p.high_value_points,
            negative_sentiment_below: p.negative_sentiment_below,
            negative_sentiment_points: p.negative_sentiment_points,
            positive_sentiment_above: p.positive_sentiment_above,
            positive_sentiment_points: p.positive_sentiment_points,
            urgency_points: p.urgency_points,
            urgency: self.patterns("priority.urgency", &p.urgency)?,
            reason_points,
            urgent_at: p.urgent_at,
            high_at: p.high_at,
            medium_at: p.medium_at,
        })
    }

    /// `[routing]`.
    pub(super) fn routing(&self, r: &RoutingFile) -> Result<RoutingRules, PolicyError> {
        Ok(RoutingRules {
            accept_timeout_seconds: self
                .positive("routing.accept_timeout_seconds", &r.accept_timeout_seconds)?,
            ageing_seconds: self.positive("routing.ageing_seconds", &r.ageing_seconds)?,
            default_handle_seconds: self
                .positive("routing.default_handle_seconds", &r.default_handle_seconds)?,
            handle_time_sample: self
                .positive("routing.handle_time_sample", &r.handle_time_sample)?,
            no_agent_callback_minutes: self.positive(
                "routing.no_agent_callback_minutes",
                &r.no_agent_callback_minutes,
            )?,
        })
    }

    /// `[[teams]]`: one team per skill, each skill with a team.
    pub(super) fn teams(&self, list: &[TeamFile]) -> Result<Vec<Team>, PolicyError> {
        let mut teams = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let key = format!("teams[{i}]");
            let skill = self.skill(&format!("{key}.skill"), &t.skill)?;
            if teams.iter().any(|x: &Team| x.skill == skill) {
                return Err(self.err(
                    Some(t.skill.span()),
                    &format!("{key}.skill"),
                    format!("skill `{skill}` already has a team"),
                ));
            }
            let rules: Vec<String> = t.hours.iter().map(|h| h.get_ref().clone()).collect();
            let hours = crate::schedule::Hours::new(t.timezone.get_ref(), &rules).map_err(|e| {
                let span = if matches!(e, crate::schedule::ScheduleError::UnknownTimeZone(_)) {
                    t.timezone.span()
                } else {
                    t.hours.first().map_or(t.timezone.span(), |h| h.span())
                };
                self.err(Some(span), &format!("{key}.hours"), e.to_string())
            })?;
            teams.push(Team {
                name: t.name.clone(),
                skill,
                hours,
                target_seconds: self
                    .positive(&format!("{key}.target_seconds"), &t.target_seconds)?,
            });
        }
        for s in &self.skills {
            if !teams.iter().any(|t| &t.skill == s) {
                return Err(self.err(
                    None,
                    "teams",
                    format!("skill `{s}` has no team; add a [[teams]] entry for it"),
                ));
            }
        }
        Ok(teams)
    }

    /// `[quality]`: the Handoff Quality Score's weights (normalised to sum 1) and targets.
    pub(super) fn quality(&self, q: &QualityFile) -> Result<QualityRules, PolicyError> {
        let mut weights = [0.0; 4];
        for (i, (key, w)) in [
            ("quality.context_weight", &q.context_weight),
            ("quality.routing_weight", &q.routing_weight),
            ("quality.smoothness_weight", &q.smoothness_weight),
            ("quality.efficiency_weight", &q.efficiency_weight),
        ]
        .into_iter()
        .enumerate()
        {
            weights[i] = self.fraction(key, w)?;
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(self.err(
                Some(q.context_weight.span()),
                "quality",
                "the weights must not all be 0".into(),
            ));
        }
        Ok(QualityRules {
            weights: weights.map(|w| w / total),
            target_resolution_minutes: self.positive(
                "quality.target_resolution_minutes",
                &q.target_resolution_minutes,
            )?,
            repeat_overlap: self.fraction("quality.repeat_overlap", &q.repeat_overlap)?,
            repeat_contact_days: self
                .positive("quality.repeat_contact_days", &q.repeat_contact_days)?,
        })
    }
}

/// The shipped default's `[churn_risk]`, for policy files written before the section existed.
pub(super) fn shipped_churn_risk() -> Result<ChurnRiskRule, PolicyError> {
    let shipped: ShippedChurnRisk = toml::from_str(DEFAULT_POLICY)
        .expect("the shipped default policy has a [churn_risk] section");
    Compiler {
        source: DEFAULT_POLICY,
        skills: Vec::new(),
    }
    .churn_risk(&shipped.churn_risk)
}
