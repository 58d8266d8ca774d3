//! One delivery, start to finish: check, verify, forward, save, answer,
//! report.

use super::early_answers::Expected;
use super::to_message;
use crate::events::{DeliveryEvent, Event, Exchange};
use crate::forward::Forwarder;
use crate::history::{History, Writer};
use crate::outgoing;
use crate::route::{Action, Route, Routes};
use crate::verification::Verifier;
use crate::webhook::{Recorded, Webhook};
use hookhole_shared::body_digest;
use hookhole_shared::protocol::{ClientMessage, Delivery, Failure, FailureCode, Message as _};
use hookhole_shared::signature::Verdict;
use hookhole_shared::webhook::WebhookFacts;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What every delivery of a session needs (cheap to clone).
#[derive(Clone)]
pub(super) struct DeliveryContext {
    pub(super) forwarder: Forwarder,
    pub(super) verifier: Arc<Verifier>,
    /// The listener's `--provider`: of deliveries whose verdict names none.
    pub(super) provider: Option<Arc<str>>,
    pub(super) routes: Arc<Routes>,
    pub(super) history: Option<Arc<History>>,
    pub(super) writer: Option<Writer>,
    pub(super) channel: String,
    pub(super) max_response: usize,
    pub(super) outbox: mpsc::Sender<Message>,
    pub(super) events: mpsc::Sender<Event>,
    pub(super) retries: Option<crate::retries::Retrier>,
    /// The relay's notices that it answered a sender itself.
    pub(super) early: super::early_answers::EarlyAnswers,
}

/// Whether the history holds this delivery already.
async fn already_saved(history: &Option<Arc<History>>, channel: &str, d: &Delivery) -> bool {
    let Some(history) = history.clone() else {
        return false;
    };
    let (channel, seq, id) = (channel.to_string(), d.seq, d.id.clone());
    tokio::task::spawn_blocking(move || history.contains(&channel, seq, &id).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// Bodies from this size on are verified on another thread.
const VERIFY_ASIDE_FROM: usize = 64 * 1024;

/// What a delivery is: its signature verdict, and what it says about
/// itself as a webhook (read with the rules of the provider the verdict
/// names).
type Inspected = (Verdict, Option<WebhookFacts>);

/// A signature check (and the facts read with it), done or under way. For
/// a large body the HMAC (half a millisecond per MiB) runs on another
/// thread while this one checks the body's hash and forwards it: the local
/// server does not wait for a verdict it never sees. A small body is
/// checked at once, cheaper than a thread hop.
// The large variant lives on the stack for one delivery: boxing it would
// cost an allocation on every one.
#[allow(clippy::large_enum_variant)]
enum Verifying {
    Done(Inspected),
    Aside(tokio::task::JoinHandle<Inspected>),
}

impl Verifying {
    fn start(ctx: &DeliveryContext, delivery: &Delivery) -> Verifying {
        if delivery.body.len() < VERIFY_ASIDE_FROM {
            return Verifying::Done(ctx.verifier.inspect(delivery, ctx.provider.as_deref()));
        }
        let (verifier, provider, delivery) =
            (ctx.verifier.clone(), ctx.provider.clone(), delivery.clone());
        Verifying::Aside(tokio::task::spawn_blocking(move || {
            verifier.inspect(&delivery, provider.as_deref())
        }))
    }

    /// The facts a route is picked by, when some route needs them: then a
    /// check under way is waited for (the delivery cannot be forwarded
    /// before its route is known).
    async fn for_routes(self, routes: &Routes) -> Verifying {
        match self {
            Verifying::Aside(_) if routes.needs_facts() => Verifying::Done(self.verdict().await),
            done_or_not_needed => done_or_not_needed,
        }
    }

    /// The facts, when they are known already.
    fn facts(&self) -> Option<&WebhookFacts> {
        match self {
            Verifying::Done((_, facts)) => facts.as_ref(),
            Verifying::Aside(_) => None,
        }
    }

    async fn verdict(self) -> Inspected {
        match self {
            Verifying::Done(inspected) => inspected,
            Verifying::Aside(task) => task.await.unwrap_or_else(|e| {
                let verdict = Verdict {
                    reason: format!("the signature check failed: {e}"),
                    ..crate::history::store::unverified()
                };
                (verdict, None)
            }),
        }
    }
}

/// Logs a failed history write; never a reason to drop the delivery.
fn saved<T>(what: &str, result: Result<T, String>) {
    if let Err(e) = result {
        tracing::warn!("history: cannot save the {what}: {e}");
    }
}

/// Saves a delivery with its first attempt and its webhook facts, in one
/// write, when there is a history; returns the facts with whether the
/// delivery's event arrived before (which only the writer can tell).
async fn save(
    ctx: &DeliveryContext,
    exchange: &Arc<Exchange>,
    signature: &Verdict,
    facts: Option<WebhookFacts>,
    attempt: crate::delivery::Attempt,
    route: Option<crate::route::Label>,
) -> Option<Recorded> {
    let Some(w) = &ctx.writer else {
        return facts.map(|facts| Recorded {
            facts,
            arrival: None,
        });
    };
    let written = w
        .record_exchange(
            &ctx.channel,
            exchange.clone(),
            signature,
            facts,
            attempt,
            route,
        )
        .await;
    saved("delivery", written.saved);
    written.webhook
}

/// Verifies, forwards, saves the delivery with its answer and what its
/// sender heard (`expected`: registered for the relay's notice), answers
/// the relay, acknowledges, reports. Nothing is answered or acknowledged
/// before the delivery is saved: whatever the relay hears back about is in
/// the history. A crash before that leaves the sender unanswered, and it
/// retries.
pub(super) async fn handle_delivery(ctx: DeliveryContext, delivery: Delivery, expected: Expected) {
    let signature = Verifying::start(&ctx, &delivery);
    let ack = ClientMessage::Ack {
        id: delivery.id.clone(),
        seq: delivery.seq,
    };
    // Only a queued delivery can be a resend (the relay resends what was
    // not acknowledged); a live one is new by construction, and so is one
    // the relay answered early (its resends come queued).
    if delivery.queued && already_saved(&ctx.history, &ctx.channel, &delivery).await {
        // Saved (and forwarded) before a reconnect: acknowledge it again,
        // do not deliver it twice.
        let _ = ctx.outbox.send(to_message(ack.encode())).await;
        return;
    }
    let started_ms = delivery.received_at_ms;
    let started = Instant::now();
    let signature = signature.for_routes(&ctx.routes).await;
    let route: Option<&Route> = ctx.routes.pick(&delivery, signature.facts());
    // Where it goes: the route's target, else `--forward`'s; a route that
    // answers has none.
    let target = match route.map(|r| &r.action) {
        Some(Action::Forward(target)) => Some(target),
        Some(Action::Respond(_)) => None,
        None => Some(ctx.forwarder.target()),
    };
    // Checked on arrival: a malformed delivery (a path that would name
    // another host, a method or header name that is not a token) is
    // refused and recorded, and nothing is sent anywhere.
    let result = match outgoing::build(target.unwrap_or(ctx.forwarder.target()), &delivery) {
        Err(malformed) => Err(malformed.failure(&delivery.id)),
        Ok(_) if !body_digest::matches(&delivery.body, &delivery.body_blake3) => Err(Failure {
            id: delivery.id.clone(),
            code: FailureCode::BodyMismatch,
            message: "body changed in transit (its BLAKE3 differs from the relay's)".to_string(),
        }),
        Ok(request) => match route.map(|r| &r.action) {
            Some(Action::Respond(answer)) => Ok(answer.response(&delivery.id)),
            Some(Action::Forward(target)) => {
                let forwarder = ctx.forwarder.to(target);
                forwarder
                    .send(&delivery.id, request, ctx.max_response)
                    .await
            }
            None => {
                ctx.forwarder
                    .send(&delivery.id, request, ctx.max_response)
                    .await
            }
        },
    };
    let route = route.map(|r| r.label.clone());
    let duration_ms = started.elapsed().as_millis() as u64;
    let (signature, facts) = signature.verdict().await;
    let (status, error) = match &result {
        Ok(response) => (Some(response.status), None),
        Err(failure) => (
            None,
            Some(format!("{}: {}", failure.code.as_str(), failure.message)),
        ),
    };
    let heard = expected.take(delivery.queued, delivery.answered);
    // One value for the history's write and the event: nothing is copied.
    let exchange = Arc::new(Exchange {
        delivery,
        outcome: result,
        heard,
    });
    // Saved before the answer (or the ack) goes out: whatever the relay hears
    // about is in the history.
    let first = crate::delivery::Attempt::first(&exchange.outcome, target, started_ms, duration_ms);
    // What the provider heard: lateness, its next step and its retries are
    // judged by it.
    let provider = crate::webhook::provider_outcome(heard, std::slice::from_ref(&first));
    let recorded = save(&ctx, &exchange, &signature, facts, first, route.clone()).await;
    let delivery = &exchange.delivery;
    // A live delivery's sender waits for the answer, which also tells the
    // relay it is saved; a queued one's sender was answered `202` long ago,
    // as was an answered one's (answer mode `now`), and the relay only
    // needs to hear it is saved, to free its buffer.
    // If the link dropped meanwhile, the relay has already answered the
    // sender; the event below still records what the local server did.
    // Bodies are `Bytes`: the clones below share the buffers.
    let reply = match &exchange.outcome {
        _ if delivery.queued || delivery.answered => ack,
        Ok(response) => ClientMessage::Response(response.clone()),
        Err(failure) => ClientMessage::Failed(failure.clone()),
    };
    let _ = ctx.outbox.send(to_message(reply.encode())).await;
    // Judged after the answer went out: the sender does not wait for it.
    // A provider's retry takes the route its first attempt took; a route
    // that answered by itself is what the provider heard: nothing to retry.
    let retry = match (&ctx.retries, &recorded, target, provider) {
        (Some(retrier), Some(recorded), Some(target), Some(provider)) => {
            let plan = retry_plan(&exchange, &signature, recorded, target.clone(), &route);
            Some((retrier, plan, provider))
        }
        _ => None,
    };
    let webhook =
        recorded.map(|recorded| Webhook::of(&ctx.verifier.registry, &recorded, provider.as_ref()));
    let path = crate::delivery::shown_path(&delivery.path).to_string();
    let _ = ctx
        .events
        .send(Event::Delivery(Box::new(DeliveryEvent {
            id: delivery.id.clone(),
            seq: delivery.seq,
            attempt: 1,
            method: delivery.method.clone(),
            path,
            query: delivery.query.clone(),
            status,
            error,
            duration_ms,
            body_bytes: delivery.body.len(),
            signature,
            webhook,
            route,
            sender_heard: heard,
            target: target.map(ToString::to_string),
            exchange: Some(exchange.clone()),
        })))
        .await;
    if let Some((retrier, plan, provider)) = retry {
        retrier.after_first(plan, &provider).await;
    }
}

/// The provider's retries of this delivery, should its provider retry it
/// (`listen --retries`). The copies are cheap: bodies are `Bytes`.
fn retry_plan(
    exchange: &Exchange,
    signature: &Verdict,
    recorded: &Recorded,
    target: crate::target::Target,
    route: &Option<crate::route::Label>,
) -> crate::retries::Plan {
    let d = &exchange.delivery;
    crate::retries::Plan {
        replay: crate::replay::Replay {
            id: d.id.clone(),
            number: 2,
            url: d.url.clone(),
            scheme: signature.scheme.clone(),
            request: crate::replay::Request {
                method: d.method.clone(),
                path: d.path.clone(),
                query: d.query.clone(),
                headers: d.headers.clone(),
                body: d.body.clone(),
            },
            mode: crate::replay::Mode::AsIs,
            target: Some(target),
        },
        seq: d.seq,
        recorded: recorded.clone(),
        route: route.clone(),
    }
}
