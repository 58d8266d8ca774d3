//! One delivery's facts, read with its provider's rules.

use super::pointer::{self, capped};
use super::{EventRules, FieldSource, WebhookFacts};
use crate::signature::Request;

impl EventRules {
    /// What `request` says about itself under these rules. Body fields are
    /// read in one pass over the body; a field that is missing, not a
    /// string or number, or in a body that is too large or not JSON is
    /// `None`.
    pub fn facts(&self, provider: &str, request: &Request<'_>) -> WebhookFacts {
        let sources = [&self.event_type, &self.type_detail, &self.id, &self.attempt];
        let pointers: Vec<&str> = sources
            .iter()
            .filter_map(|source| match source {
                Some(FieldSource::Body(pointer)) => Some(pointer.as_str()),
                _ => None,
            })
            .collect();
        let mut from_body = pointer::read(request.body, &pointers).into_iter();
        let mut values: [Option<String>; 4] = Default::default();
        for (value, source) in values.iter_mut().zip(sources) {
            *value = match source {
                None => None,
                Some(FieldSource::Header(name)) => {
                    request.header(name).map(|v| capped(v).to_string())
                }
                // In the order the pointers were listed above.
                Some(FieldSource::Body(_)) => from_body.next().flatten(),
            };
        }
        let [event_type, detail, id, attempt] = values;
        WebhookFacts {
            provider: provider.to_string(),
            event_type: event_type.map(|t| match detail {
                Some(detail) => capped(&format!("{t}.{detail}")).to_string(),
                None => t,
            }),
            event_id: id,
            attempt: attempt.as_deref().and_then(attempt_number),
            deadline_ms: self.deadline_ms,
        }
    }
}

/// An attempt number as sent: a positive integer that fits (`"3"`, `3`).
fn attempt_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|&n| n >= 1)
}
