//! What the customer is told when their conversation is handed to a person: one template of the
//! policy's `[texts]`, chosen from where the handoff stands and whether the team is open, so the
//! text never contradicts itself (no "our team is available 09:00-18:00, I can call you back"
//! while the team is open but nobody is free, no "right now" followed by a wait).

use jiff::Timestamp;

use crate::policy::Texts;
use crate::routing::describe_wait;
use crate::schedule::{local_text, Hours};

/// Where a handoff stands when the customer is told about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placed<'a> {
    /// An agent has it (assigned or already accepted).
    Assigned { agent: &'a str },
    /// Waiting in the team's queue; the estimated wait when there is one.
    Queued { eta_seconds: Option<f64> },
    /// A callback is scheduled at this time.
    Callback { at: Option<Timestamp> },
}

/// Everything the text depends on.
#[derive(Debug, Clone, Copy)]
pub struct Handover<'a> {
    /// The customer's name as given (the first word greets them).
    pub customer_name: &'a str,
    /// The customer's time zone, for the callback time.
    pub customer_timezone: Option<&'a str>,
    /// The team's name ("Billing").
    pub team: &'a str,
    /// The team's opening hours, when the policy has a team for the skill.
    pub hours: Option<&'a Hours>,
    /// When the handoff was made.
    pub at: Timestamp,
    /// The customer asked for a person (the decision's primary reason is `explicit_request`).
    pub explicit_request: bool,
    pub placed: Placed<'a>,
}

/// The customer-facing text for `h` from `texts`.
///
/// A callback while the team is open (nobody with the skill is free) uses `texts.no_agent`;
/// outside the hours, `texts.callback`, which quotes the hours. An explicit request that has to
/// wait uses `texts.explicit_request_queued`, which states the wait.
pub fn customer_text(texts: &Texts, h: &Handover) -> String {
    let first = h.customer_name.split_whitespace().next().unwrap_or("there");
    let eta = match h.placed {
        Placed::Queued {
            eta_seconds: Some(s),
        } => describe_wait(s),
        _ => "a few minutes".to_string(),
    };
    let callback_time = match h.placed {
        Placed::Callback { at: Some(t) } => local_text(t, h.customer_timezone),
        _ => String::new(),
    };
    let (agent, agent_or_team) = match h.placed {
        Placed::Assigned { agent } => (agent, format!("{agent} from our {} team", h.team)),
        _ => ("", format!("our {} team", h.team)),
    };
    let hours = h.hours.map(|x| x.text.as_str()).unwrap_or_default();
    let values = [
        ("first_name", first),
        ("team", h.team),
        ("agent", agent),
        ("agent_or_team", agent_or_team.as_str()),
        ("eta", eta.as_str()),
        ("hours", hours),
        ("callback_time", callback_time.as_str()),
    ];
    let open_now = h.hours.is_none_or(|x| x.is_open(h.at));
    let template = match h.placed {
        Placed::Callback { .. } if open_now => &texts.no_agent,
        Placed::Callback { .. } => &texts.callback,
        Placed::Assigned { .. } if h.explicit_request => &texts.explicit_request,
        Placed::Assigned { .. } => &texts.assigned,
        Placed::Queued { .. } if h.explicit_request => &texts.explicit_request_queued,
        Placed::Queued { .. } => &texts.queued,
    };
    Texts::fill(template, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours() -> Hours {
        Hours::new("Europe/London", &["mon-fri 09:00-18:00".into()]).unwrap()
    }

    fn text(placed: Placed, at: &str, explicit_request: bool) -> String {
        let policy = crate::Policy::default();
        let hours = hours();
        customer_text(
            &policy.texts,
            &Handover {
                customer_name: "Dana Reyes",
                customer_timezone: Some("Europe/London"),
                team: "Billing",
                hours: Some(&hours),
                at: at.parse().unwrap(),
                explicit_request,
                placed,
            },
        )
    }

    // Tuesday 2026-11-03 10:00 London: open. Saturday 2026-11-07: closed.
    const OPEN: &str = "2026-11-03T10:00:00Z";
    const CLOSED: &str = "2026-11-07T10:00:00Z";

    /// Every placement, open or closed, explicit or not: no text says two things at once.
    #[test]
    fn texts_never_contradict_themselves() {
        let soon: Timestamp = "2026-11-03T10:30:00Z".parse().unwrap();
        let monday: Timestamp = "2026-11-09T09:00:00Z".parse().unwrap();
        for explicit in [false, true] {
            for (placed, at) in [
                (
                    Placed::Assigned {
                        agent: "Sarah Chen",
                    },
                    OPEN,
                ),
                (
                    Placed::Queued {
                        eta_seconds: Some(420.0),
                    },
                    OPEN,
                ),
                (Placed::Queued { eta_seconds: None }, OPEN),
                (Placed::Callback { at: Some(soon) }, OPEN),
                (Placed::Callback { at: Some(monday) }, CLOSED),
            ] {
                let t = text(placed, at, explicit);
                let says = |s: &str| t.to_lowercase().contains(s);
                let case = format!("{placed:?} at {at}, explicit {explicit}: {t}");
                assert!(!t.contains('{'), "unfilled placeholder: {case}");
                let sentences: Vec<&str> = t.split(". ").collect();
                for (i, s) in sentences.iter().enumerate() {
                    assert!(!sentences[..i].contains(s), "repeats itself: {case}");
                }
                assert!(t.matches("connecting you").count() <= 1, "{case}");
                match placed {
                    Placed::Assigned { agent } => {
                        assert!(t.contains(agent), "{case}");
                        assert!(!says("wait") && !says("callback"), "{case}");
                    }
                    Placed::Queued { .. } => {
                        assert!(says("wait"), "a queued customer hears the wait: {case}");
                        assert!(!says("right now"), "'right now' and a wait: {case}");
                        assert!(!says("callback"), "{case}");
                    }
                    Placed::Callback { .. } if at == OPEN => {
                        // The team is open: quoting its hours as if it were closed contradicts
                        // the callback; the customer hears that nobody is free now.
                        assert!(!t.contains("mon-fri"), "{case}");
                        assert!(says("right now") && says("callback"), "{case}");
                        assert!(t.contains("Tuesday 3 November at 10:30"), "{case}");
                    }
                    Placed::Callback { .. } => {
                        assert!(t.contains("mon-fri 09:00-18:00"), "{case}");
                        assert!(t.contains("Monday 9 November at 09:00"), "{case}");
                        assert!(!says("right now"), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_explicit_request_that_waits_hears_the_wait_once() {
        let t = text(
            Placed::Queued {
                eta_seconds: Some(420.0),
            },
            OPEN,
            true,
        );
        assert_eq!(
            t,
            "Of course, Dana. I've asked our Billing team to take over and shared our conversation, so you won't need to repeat anything. Expected wait time is about 7 minutes; I'm happy to keep helping while you wait."
        );
    }
}
