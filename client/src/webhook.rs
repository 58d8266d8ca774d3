//! The client's side of a delivery's webhook facts (issue 19): which
//! provider a delivery is from, what the history keeps of it, and the
//! `webhook` object that the JSON lines, `history`, `show` and the terminal
//! UI show.
//!
//! What a delivery says about itself is read by the shared crate
//! ([`hookhole_shared::webhook`]); whether its event arrived before is
//! found by the history writer (`history/duplicates.rs`); `late` and the
//! provider's next step are computed here, from the saved facts and what
//! the provider heard ([`provider_outcome`]: the local answer, or the
//! relay's), with the shared crate's functions: the one place each of
//! them is decided.

pub mod attempt_number;

use crate::delivery::{Attempt, Kind, SenderHeard};
use hookhole_shared::signature::{Registry, Request, Verdict};
use hookhole_shared::webhook::{self, EventRules, Outcome, WebhookFacts};
use serde::Serialize;
use std::borrow::Cow;

/// The provider a delivery is from: the one whose scheme decided its
/// verdict, else the first whose signature header it carries, else the
/// listener's `--provider` (for senders that sign nothing, such as Maestra).
pub fn provider_of<'a>(verdict: &'a Verdict, fallback: Option<&'a str>) -> Option<&'a str> {
    verdict
        .scheme
        .as_deref()
        .or_else(|| verdict.candidates.first().map(String::as_str))
        .or(fallback)
}

/// What `request` says about itself, read with `provider`'s rules; a
/// provider without rules gives its id alone.
pub fn facts(registry: &Registry, provider: &str, request: &Request<'_>) -> WebhookFacts {
    registry
        .webhook_facts(provider, request)
        .unwrap_or_else(|| WebhookFacts {
            provider: provider.to_string(),
            event_type: None,
            event_id: None,
            attempt: None,
            deadline_ms: None,
        })
}

/// Whether a delivery's event arrived before, as the history writer found
/// it when it saved the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The id of the event's first delivery, when this one is not it.
    pub duplicate_of: Option<String>,
    /// Arrivals of the event so far, this one included.
    pub seen: u32,
}

/// A delivery's webhook facts as the history keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub facts: WebhookFacts,
    /// `None` without an event id, or when nothing was saved (no history).
    pub arrival: Option<Arrival>,
}

/// What the provider heard, the one rule `late`, its next step and its
/// retries are judged by: the relay's answer when the relay answered it
/// itself (at once, or after the `within` wait), else the local answer of
/// the first attempt (replays are hookhole's own; the provider never sees
/// them), `None` before that ended.
pub fn provider_outcome(heard: SenderHeard, attempts: &[Attempt]) -> Option<Outcome> {
    if let SenderHeard::Relay { status, why } = heard {
        return Some(Outcome {
            status: Some(status),
            duration_ms: why.wait_ms().unwrap_or(0),
        });
    }
    let first = attempts.iter().find(|a| a.kind == Kind::Original)?;
    Some(Outcome {
        status: first.outcome.status(),
        duration_ms: first.duration_ms?,
    })
}

/// The `webhook` object of a delivery: in `delivery` JSON lines,
/// `history --json` and `show --json`. A field is absent when unknown;
/// `late` is present whenever the deadline and the answer's time are.
/// Strings are as the sender sent them (capped): printed through
/// `hookhole_shared::printable`, like every other sender text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub provider: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<bool>,
    /// What the provider would do next ("Malomo would time out after 10 s
    /// and retry: attempt 2 of 10"); absent when it would be satisfied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The provider's name for people ("Malomo").
    #[serde(skip)]
    pub provider_name: String,
}

impl Webhook {
    /// The object for a delivery with these saved facts, whose local
    /// answer the provider heard as `outcome`. The deadline is the saved
    /// one (what the delivery was judged by when it arrived); the retry
    /// rules are the provider's in `registry`.
    pub fn of(registry: &Registry, recorded: &Recorded, outcome: Option<&Outcome>) -> Webhook {
        let facts = &recorded.facts;
        let name = registry
            .provider_name(&facts.provider)
            .unwrap_or(&facts.provider);
        let rules = rules_with_deadline(registry.event_rules(&facts.provider), facts.deadline_ms);
        let late = outcome.and_then(|o| webhook::late(&rules, o.duration_ms));
        let next = outcome.and_then(|o| webhook::next_step(name, &rules, facts.attempt, o));
        let arrival = recorded.arrival.as_ref();
        Webhook {
            provider: facts.provider.clone(),
            event_type: facts.event_type.clone(),
            event_id: facts.event_id.clone(),
            attempt: facts.attempt,
            duplicate_of: arrival.and_then(|a| a.duplicate_of.clone()),
            seen: arrival.map(|a| a.seen),
            deadline_ms: facts.deadline_ms,
            late,
            next,
            provider_name: name.to_string(),
        }
    }

    /// The facts this object was made from (the UI plays retries from it).
    pub fn recorded(&self) -> Recorded {
        Recorded {
            facts: WebhookFacts {
                provider: self.provider.clone(),
                event_type: self.event_type.clone(),
                event_id: self.event_id.clone(),
                attempt: self.attempt,
                deadline_ms: self.deadline_ms,
            },
            arrival: self.seen.map(|seen| Arrival {
                duplicate_of: self.duplicate_of.clone(),
                seen,
            }),
        }
    }

    /// Whether the event had arrived before this delivery.
    pub fn is_duplicate(&self) -> bool {
        self.duplicate_of.is_some()
    }

    pub fn is_late(&self) -> bool {
        self.late == Some(true)
    }

    /// The short marks a list row carries: `dup×N` for a duplicate (the
    /// event's Nth arrival), `late` past the deadline; empty for neither.
    pub fn marks(&self) -> String {
        let dup = self
            .is_duplicate()
            .then(|| format!("dup×{}", self.seen.unwrap_or(2)));
        let late = self.is_late().then_some("late".to_string());
        [dup, late]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The facts for people, one per line (`show`, the UI's detail pane),
    /// each a label and its text; only what is known.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "Provider",
            if self.provider_name == self.provider {
                self.provider.clone()
            } else {
                format!("{} ({})", self.provider_name, self.provider)
            },
        )];
        if let Some(t) = &self.event_type {
            out.push(("Event", t.clone()));
        }
        if let Some(id) = &self.event_id {
            out.push(("Event id", id.clone()));
        }
        if let Some(n) = self.attempt {
            out.push(("Attempt", n.to_string()));
        }
        match (&self.duplicate_of, self.seen) {
            (Some(first), seen) => out.push((
                "Duplicate",
                format!("of {first} (seen {} times)", seen.unwrap_or(2)),
            )),
            (None, Some(_)) => {
                out.push(("Duplicate", "no, the first arrival of this event".into()))
            }
            (None, None) => {}
        }
        if let Some(ms) = self.deadline_ms {
            let verdict = match self.late {
                Some(true) => ": answered late",
                Some(false) => ": answered in time",
                None => "",
            };
            let deadline = webhook::describe_deadline(ms);
            out.push(("Deadline", format!("{deadline}{verdict}")));
        }
        if let Some(next) = &self.next {
            out.push(("Next", next.clone()));
        }
        out
    }
}

/// The provider's rules, judged by `deadline_ms` (the saved deadline, which
/// may differ from the rules' when a preset changed since).
pub(crate) fn rules_with_deadline(
    rules: Option<&EventRules>,
    deadline_ms: Option<u64>,
) -> Cow<'_, EventRules> {
    match rules {
        Some(rules) if rules.deadline_ms == deadline_ms => Cow::Borrowed(rules),
        Some(rules) => Cow::Owned(EventRules {
            deadline_ms,
            ..rules.clone()
        }),
        None => Cow::Owned(EventRules {
            deadline_ms,
            ..EventRules::default()
        }),
    }
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
