//! A delivery's webhook facts in its record's head: what the delivery said
//! about itself, and what the writer found about its event. Records of
//! builds before issue 19 have none.

use crate::webhook::{Arrival, Recorded};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A delivery's webhook facts, and whether its event arrived before.
#[derive(Serialize, Deserialize)]
pub(super) struct WebhookHead<'a> {
    provider: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_type: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen: Option<u32>,
}

impl<'a> WebhookHead<'a> {
    pub(super) fn of(w: &'a Recorded) -> WebhookHead<'a> {
        let f = &w.facts;
        WebhookHead {
            provider: Cow::Borrowed(&f.provider),
            event_type: f.event_type.as_deref().map(Cow::Borrowed),
            event_id: f.event_id.as_deref().map(Cow::Borrowed),
            attempt: f.attempt,
            deadline_ms: f.deadline_ms,
            duplicate_of: w
                .arrival
                .as_ref()
                .and_then(|a| a.duplicate_of.as_deref())
                .map(Cow::Borrowed),
            seen: w.arrival.as_ref().map(|a| a.seen),
        }
    }

    pub(super) fn recorded(self) -> Recorded {
        Recorded {
            facts: hookhole_shared::webhook::WebhookFacts {
                provider: self.provider.into_owned(),
                event_type: self.event_type.map(Cow::into_owned),
                event_id: self.event_id.map(Cow::into_owned),
                attempt: self.attempt,
                deadline_ms: self.deadline_ms,
            },
            arrival: self.seen.map(|seen| Arrival {
                duplicate_of: self.duplicate_of.map(Cow::into_owned),
                seen,
            }),
        }
    }
}
