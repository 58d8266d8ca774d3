//! Provider retries played locally (`listen --retries`, the UI's `p`):
//! when the local answer would disappoint the provider, the delivery is
//! sent again on the provider's documented schedule ([`schedule`]),
//! compressed by `--retry-speed`, each retry through the one replay path
//! ([`crate::replay::Mode::Retry`]: the next attempt number, a fresh
//! signature), until the provider would be satisfied, would stop, or its
//! schedule ends, where the last line says what it does then.
//!
//! Each delivery's retries run in their own task, on tokio time (tests
//! pause it), cancelled by [`Retrier::cancel`] or when hookhole stops.

pub mod schedule;

use crate::delivery::{Attempt, Kind};
use crate::events::{DeliveryEvent, Event, RetriedEvent};
use crate::replay::{Mode, Replay, Replayer};
use crate::webhook::{Recorded, Webhook};
use hookhole_shared::webhook::{self, EventRules};
use schedule::Heard;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `--retry-speed`'s default: an hour of the provider's schedule plays in
/// a minute.
pub const DEFAULT_SPEED: u32 = 60;

/// Deliveries whose retries play at once. Each holds its request in
/// memory until its schedule ends (hours at low speeds): a local server
/// failing under a flood must not make that unbounded.
pub const MAX_PLAYING: usize = 256;

/// Why a delivery's retries ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// A 2xx within the deadline: the provider stops.
    Answered,
    /// An answer the provider does not retry (a 400 for `server_errors`).
    NotRetried,
    /// The schedule ran out: the provider gives up (and does `then`).
    GaveUp,
    /// Cancelled by the user (`x`).
    Cancelled,
    /// A retry could not be made (its attempt number cannot be written).
    Refused,
}

/// A delivery whose retries are to be played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The delivery as it arrived; `number` is the history number of the
    /// first retry (its `mode` is set for each retry).
    pub replay: Replay,
    pub seq: u64,
    /// Its provider and the attempt number it carried.
    pub recorded: Recorded,
    /// The route its first attempt took: its retries go there too.
    pub route: Option<crate::route::Label>,
}

/// Plays retries (cheap to clone).
#[derive(Clone)]
pub struct Retrier {
    replayer: Replayer,
    events: mpsc::Sender<Event>,
    speed: u32,
    playing: Arc<Mutex<HashMap<String, CancellationToken>>>,
    stop: CancellationToken,
}

/// A provider's rules (with the delivery's saved deadline) and its name.
struct Rules<'r> {
    rules: Cow<'r, EventRules>,
    name: &'r str,
}

impl Retrier {
    /// Retries report on `events`; all stop when `stop` is cancelled.
    pub fn new(
        replayer: Replayer,
        events: mpsc::Sender<Event>,
        speed: u32,
        stop: CancellationToken,
    ) -> Retrier {
        Retrier {
            replayer,
            events,
            speed,
            playing: Arc::default(),
            stop,
        }
    }

    fn rules<'r>(&'r self, recorded: &Recorded) -> Option<Rules<'r>> {
        let registry = &self.replayer.verifier.registry;
        let provider = recorded.facts.provider.as_str();
        let rules = crate::webhook::rules_with_deadline(
            registry.event_rules(provider),
            recorded.facts.deadline_ms,
        );
        rules.retries.as_ref()?;
        let name = registry.provider_name(provider).unwrap_or("the provider");
        Some(Rules { rules, name })
    }

    /// After a delivery's first attempt: plays its retries when its
    /// provider would retry what it `heard` ([`crate::webhook::provider_outcome`]:
    /// the local answer, or the relay's own) (`listen --retries`); says so
    /// when it would not retry a failure. Nothing for a satisfied provider.
    pub async fn after_first(&self, plan: Plan, heard: &webhook::Outcome) {
        let Some(Rules { rules, name }) = self.rules(&plan.recorded) else {
            return;
        };
        let on = rules.retries.as_ref().expect("rules() has retries").on;
        let late = webhook::late(&rules, heard.duration_ms);
        match schedule::heard(heard.status, late, on) {
            Heard::Satisfied => {}
            Heard::Final => {
                let attempt = plan.recorded.facts.attempt;
                let message = webhook::next_step(name, &rules, attempt, heard)
                    .unwrap_or_else(|| format!("{name} does not retry this answer"));
                let ended = ended(&plan, Ended::NotRetried, attempt.unwrap_or(1), message);
                let _ = self.events.send(ended).await;
            }
            Heard::Retried => {
                if let Err(why) = self.play(plan.clone()) {
                    let attempts = plan.recorded.facts.attempt.unwrap_or(1);
                    let ended = ended(&plan, Ended::Refused, attempts, why);
                    let _ = self.events.send(ended).await;
                }
            }
        }
    }

    /// Starts playing `plan`'s retries, from the attempt after the one it
    /// carried; why not when its provider documents none, they are already
    /// playing, or too many deliveries' are.
    pub fn play(&self, plan: Plan) -> Result<(), String> {
        let provider = &plan.recorded.facts.provider;
        if self.rules(&plan.recorded).is_none() {
            return Err(format!("{provider} documents no retries"));
        }
        let token = {
            let mut playing = self.playing.lock().expect("never poisoned: no panics held");
            if playing.contains_key(&plan.replay.id) {
                return Err("its retries are already playing".to_string());
            }
            if playing.len() >= MAX_PLAYING {
                return Err(format!(
                    "retries of {MAX_PLAYING} deliveries are playing already"
                ));
            }
            let token = self.stop.child_token();
            playing.insert(plan.replay.id.clone(), token.clone());
            token
        };
        tokio::spawn(self.clone().run(plan, token));
        Ok(())
    }

    /// Cancels the retries of delivery `id`; false when none are playing.
    pub fn cancel(&self, id: &str) -> bool {
        let playing = self.playing.lock().expect("never poisoned: no panics held");
        playing.get(id).inspect(|token| token.cancel()).is_some()
    }

    async fn run(self, plan: Plan, token: CancellationToken) {
        let end = self.retries(&plan, &token).await;
        self.playing
            .lock()
            .expect("never poisoned: no panics held")
            .remove(&plan.replay.id);
        if let Some(end) = end {
            let _ = self.events.send(end).await;
        }
    }

    /// The retries, one after another; the event that ends them (`None`
    /// when hookhole stops).
    async fn retries(&self, plan: &Plan, token: &CancellationToken) -> Option<Event> {
        let Rules { rules, name } = self.rules(&plan.recorded)?;
        let policy = rules.retries.as_ref()?;
        let mut provider_attempt = plan.recorded.facts.attempt.unwrap_or(1).max(1);
        let waits = schedule::waits_s(policy);
        let left = waits.iter().skip(provider_attempt as usize - 1);
        for (number, &wait) in (plan.replay.number..).zip(left) {
            let delay = schedule::compressed(wait, self.speed);
            let scheduled = Event::RetryScheduled {
                id: plan.replay.id.clone(),
                attempt: number,
                provider_attempt: provider_attempt + 1,
                in_ms: delay.as_millis() as u64,
            };
            let _ = self.events.send(scheduled).await;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = token.cancelled() => {
                    return (!self.stop.is_cancelled()).then(|| {
                        let message = format!("retries cancelled before attempt {}", provider_attempt + 1);
                        ended(plan, Ended::Cancelled, provider_attempt, message)
                    });
                }
            }
            provider_attempt += 1;
            let replay = Replay {
                number,
                mode: Mode::Retry {
                    at: rules.attempt.clone(),
                    attempt: provider_attempt,
                },
                ..plan.replay.clone()
            };
            let attempt = match self.replayer.replay(replay).await {
                Ok(made) => {
                    if let Err(e) = made.saved {
                        tracing::warn!("history: cannot save the retry: {e}");
                    }
                    made.attempt
                }
                Err(refused) => {
                    let refused = refused.to_string();
                    return Some(ended(plan, Ended::Refused, provider_attempt - 1, refused));
                }
            };
            let duration_ms = attempt.duration_ms.unwrap_or(0);
            let late = webhook::late(&rules, duration_ms);
            let heard = schedule::heard(attempt.outcome.status(), late, policy.on);
            let outcome = webhook::Outcome {
                status: attempt.outcome.status(),
                duration_ms,
            };
            let next = webhook::next_step(name, &rules, Some(provider_attempt), &outcome);
            let _ = self
                .events
                .send(self.retried(plan, attempt, provider_attempt, &outcome))
                .await;
            match heard {
                Heard::Retried => {}
                Heard::Satisfied => {
                    let message = format!(
                        "attempt {provider_attempt} answered in time: {name} stops retrying"
                    );
                    return Some(ended(plan, Ended::Answered, provider_attempt, message));
                }
                Heard::Final => {
                    let message = next.unwrap_or_else(|| format!("{name} stops retrying"));
                    return Some(ended(plan, Ended::NotRetried, provider_attempt, message));
                }
            }
        }
        let message = format!(
            "{name} gives up after attempt {provider_attempt}{}",
            policy.then_clause()
        );
        let mut end = ended(plan, Ended::GaveUp, provider_attempt, message);
        if let Event::RetriesEnded { then, .. } = &mut end {
            then.clone_from(&policy.then);
        }
        Some(end)
    }

    /// A retry's `delivery` line (and the attempt, for the UI).
    fn retried(
        &self,
        plan: &Plan,
        attempt: Attempt,
        provider_attempt: u32,
        heard: &webhook::Outcome,
    ) -> Event {
        let request = &plan.replay.request;
        let mut recorded = plan.recorded.clone();
        recorded.facts.attempt = Some(provider_attempt);
        let registry = &self.replayer.verifier.registry;
        let error = attempt
            .outcome
            .error()
            .map(|(code, message)| format!("{code}: {message}"));
        let delivery = DeliveryEvent {
            id: plan.replay.id.clone(),
            seq: plan.seq,
            attempt: attempt.number,
            method: request.method.clone(),
            path: crate::delivery::shown_path(&request.path).to_string(),
            query: request.query.clone(),
            status: attempt.outcome.status(),
            error,
            duration_ms: heard.duration_ms,
            body_bytes: attempt
                .request_body
                .as_ref()
                .map_or(request.body.len(), Vec::len),
            signature: attempt
                .verdict
                .clone()
                .unwrap_or_else(crate::history::store::unverified),
            webhook: Some(Webhook::of(registry, &recorded, Some(heard))),
            route: plan.route.clone(),
            // A retry is hookhole's own: only the local server hears it.
            sender_heard: crate::delivery::SenderHeard::Local,
            target: plan.replay.target.as_ref().map(ToString::to_string),
            exchange: None,
        };
        Event::Retried(Box::new(RetriedEvent {
            delivery,
            kind: Kind::Retry,
            made: attempt,
        }))
    }
}

fn ended(plan: &Plan, why: Ended, provider_attempts: u32, message: String) -> Event {
    Event::RetriesEnded {
        id: plan.replay.id.clone(),
        why,
        provider_attempts,
        message,
        then: None,
    }
}

#[cfg(test)]
#[path = "retries/retries_tests.rs"]
mod tests;
