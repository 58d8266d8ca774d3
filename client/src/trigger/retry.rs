//! `--duplicate`: an event sent again the way its provider retries it.
//!
//! A retry is the first request's headers and body again, so it carries the
//! same event id wherever the provider puts it (a body field such as
//! Stripe's `id`, a header such as GitHub's `X-GitHub-Delivery`); the next
//! attempt number where the provider's `events.attempt` rule reads one
//! (Malomo's `Malomo-Attempt-Number` header, Intercom's
//! `delivery_attempts` field); and a fresh signature at a later time (with
//! the body's timestamp field renewed where the scheme reads it there).
//! Which fields those are comes from the provider's event rules, never from
//! a list of providers here.

use super::catalogue::{Event, timestamp_placeholder};
use super::{Draft, Prepared, set};
use hookhole_host::bounded_read::BODY_MAX;
use hookhole_shared::signature::preset::TimestampSource;
use hookhole_shared::signature::{Registry, Request};
use hookhole_shared::webhook::{EventRules, WebhookFacts};

/// Where this event's facts are: the rules of its own preset (a variant
/// may carry its id elsewhere, as Maple via Convoy does), else its
/// provider's.
pub fn rules<'r>(event: &Event, registry: &'r Registry) -> Option<&'r EventRules> {
    event
        .preset(registry)
        .and_then(|p| p.events.as_ref())
        .or_else(|| registry.event_rules(&event.provider))
}

/// What `prepared` says about itself under `rules`.
pub fn facts(event: &Event, rules: &EventRules, prepared: &Prepared) -> WebhookFacts {
    let request = Request {
        method: &prepared.method,
        url: &prepared.url,
        headers: &prepared.headers,
        body: &prepared.body,
    };
    rules.facts(&event.provider, &request)
}

/// The retry of `first`: the same request with the next attempt number
/// where the provider numbers attempts. Made before `first` is sent, so a
/// retry that cannot be made stops the run before anything is sent.
pub fn next_attempt(first: &Draft, event: &Event, registry: &Registry) -> Result<Draft, String> {
    let mut retry = first.clone();
    let numbered = rules(event, registry).and_then(|r| Some((r, r.attempt.as_ref()?)));
    if let Some((rules, source)) = numbered {
        let request = Request {
            method: &event.method,
            url: "",
            headers: &first.headers,
            body: &first.body,
        };
        // Not numbered on the first (a user's body): it was attempt 1.
        let was = rules.facts(&event.provider, &request).attempt.unwrap_or(1);
        let next = was
            .checked_add(1)
            .ok_or_else(|| format!("--duplicate: attempt {was} has no next number"))?;
        crate::webhook::attempt_number::write(&mut retry.headers, &mut retry.body, source, next)
            .map_err(|why| format!("--duplicate: {why}"))?;
    }
    // Checked now at the first's time; renewed with the retry's own time
    // when it is sent.
    at_time(retry, event, registry, first.at + 1)
}

/// `retry` to be signed at `at` (at least a second after the first, so a
/// signed timestamp differs even when both go out within one second), its
/// body's timestamp renewed where the scheme reads the timestamp there.
pub fn at_time(
    mut retry: Draft,
    event: &Event,
    registry: &Registry,
    at: i64,
) -> Result<Draft, String> {
    let first_at = retry.fill.now;
    retry.at = at.max(first_at + 1);
    let body_timestamp = event
        .signer(registry)
        .and_then(|p| p.timestamp.as_ref())
        .and_then(|rule| match &rule.source {
            TimestampSource::Body(field) => Some((field, rule.unit)),
            _ => None,
        });
    if let Some((field, unit)) = body_timestamp {
        let value = retry
            .fill
            .later(retry.at)
            .json_value(timestamp_placeholder(unit));
        retry.body = set::set_path(&retry.body, std::slice::from_ref(field), &value, BODY_MAX)
            .map_err(|refusal| {
                format!(
                    "--duplicate: the signed timestamp goes in the body's {field:?}, but {refusal}"
                )
            })?;
    }
    Ok(retry)
}

/// What the printed line adds with `--duplicate`: the event id (`again` on
/// the retry) and the attempt number, as the request carries them.
pub fn describe(facts: Option<&WebhookFacts>, again: bool) -> String {
    let Some(facts) = facts else {
        return "; no event id".to_string();
    };
    let mut note = match &facts.event_id {
        Some(id) if again => format!("; event {id} again"),
        Some(id) => format!("; event {id}"),
        None => "; no event id".to_string(),
    };
    if let Some(attempt) = facts.attempt {
        note.push_str(&format!(", attempt {attempt}"));
    }
    note
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
