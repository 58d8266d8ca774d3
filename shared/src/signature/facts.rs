//! A provider's event rules, looked up by id, and one delivery's facts.
//!
//! A provider may have several presets (Maple signs directly, or through
//! Convoy with another envelope): the facts of a delivery are read with the
//! rules of the preset whose signature is on it, else of the provider's
//! first preset that has rules. The deadline and retries, which belong to
//! the provider rather than to one envelope, come from that first one.

use super::{Registry, Request};
use crate::webhook::{EventRules, WebhookFacts};

impl Registry {
    /// The `events` rules of provider `id` (the first preset of that id
    /// that has them).
    pub fn event_rules(&self, id: &str) -> Option<&EventRules> {
        self.by_id
            .get(id)?
            .iter()
            .find_map(|&index| self.presets[index].events.as_ref())
    }

    /// The provider's display name ("Malomo"): its first preset's.
    pub fn provider_name(&self, id: &str) -> Option<&str> {
        let first = *self.by_id.get(id)?.first()?;
        Some(self.presets[first].name.as_str())
    }

    /// The facts of `request` for provider `id` (`None` when the provider
    /// has no rules).
    pub fn webhook_facts(&self, id: &str, request: &Request<'_>) -> Option<WebhookFacts> {
        let mut with_rules = self
            .by_id
            .get(id)?
            .iter()
            .map(|&index| &self.presets[index])
            .filter(|preset| preset.events.is_some());
        let first = with_rules.next()?;
        let chosen = if first.is_present(request) {
            first
        } else {
            with_rules
                .find(|preset| preset.is_present(request))
                .unwrap_or(first)
        };
        let mut facts = chosen.events.as_ref()?.facts(id, request);
        // The deadline is the provider's, whatever the envelope: the same
        // one `late` and `next_step` are given.
        facts.deadline_ms = first.events.as_ref().and_then(|rules| rules.deadline_ms);
        Some(facts)
    }
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "facts_catalogue_tests.rs"]
mod catalogue_tests;

#[cfg(test)]
#[path = "facts_shapes_tests.rs"]
mod shapes_tests;
