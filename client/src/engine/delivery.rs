//! One delivery, start to finish: check, verify, forward, save, answer,
//! report.

use super::to_message;
use crate::events::{DeliveryEvent, Event, Exchange};
use crate::forward::Forwarder;
use crate::history::{History, Writer};
use crate::outgoing;
use crate::verification::Verifier;
use hookhole_shared::body_digest;
use hookhole_shared::protocol::{ClientMessage, Delivery, Failure, FailureCode, Message as _};
use hookhole_shared::signature::Verdict;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What every delivery of a session needs (cheap to clone).
#[derive(Clone)]
pub(super) struct DeliveryContext {
    pub(super) forwarder: Forwarder,
    pub(super) verifier: Arc<Verifier>,
    pub(super) history: Option<Arc<History>>,
    pub(super) writer: Option<Writer>,
    pub(super) channel: String,
    pub(super) max_response: usize,
    pub(super) outbox: mpsc::Sender<Message>,
    pub(super) events: mpsc::Sender<Event>,
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

/// A signature check, done or under way. For a large body the HMAC (half
/// a millisecond per MiB) runs on another thread while this one checks the
/// body's hash and forwards it: the local server does not wait for a
/// verdict it never sees. A small body is checked at once, cheaper than a
/// thread hop.
enum Verifying {
    Done(Verdict),
    Aside(tokio::task::JoinHandle<Verdict>),
}

impl Verifying {
    fn start(verifier: &Arc<Verifier>, delivery: &Delivery) -> Verifying {
        if delivery.body.len() < VERIFY_ASIDE_FROM {
            return Verifying::Done(verifier.check(delivery));
        }
        let (verifier, delivery) = (verifier.clone(), delivery.clone());
        Verifying::Aside(tokio::task::spawn_blocking(move || {
            verifier.check(&delivery)
        }))
    }

    async fn verdict(self) -> Verdict {
        match self {
            Verifying::Done(verdict) => verdict,
            Verifying::Aside(task) => task.await.unwrap_or_else(|e| Verdict {
                reason: format!("the signature check failed: {e}"),
                ..crate::history::store::unverified()
            }),
        }
    }
}

/// Logs a failed history write; never a reason to drop the delivery.
fn saved<T>(what: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|e| tracing::warn!("history: cannot save the {what}: {e}"))
        .ok()
}

/// Verifies, forwards, saves the delivery with its answer, answers the
/// relay, acknowledges, reports. Nothing is answered or acknowledged before
/// the delivery is saved: whatever the relay hears back about is in the
/// history. A crash before that leaves the sender unanswered, and it retries.
pub(super) async fn handle_delivery(ctx: DeliveryContext, delivery: Delivery) {
    let signature = Verifying::start(&ctx.verifier, &delivery);
    let ack = ClientMessage::Ack {
        id: delivery.id.clone(),
        seq: delivery.seq,
    };
    // Only a queued delivery can be a resend (the relay resends what was
    // not acknowledged); a live one is new by construction.
    if delivery.queued && already_saved(&ctx.history, &ctx.channel, &delivery).await {
        // Saved (and forwarded) before a reconnect: acknowledge it again,
        // do not deliver it twice.
        let _ = ctx.outbox.send(to_message(ack.encode())).await;
        return;
    }
    let started_ms = delivery.received_at_ms;
    let started = Instant::now();
    // Checked on arrival: a malformed delivery (a path that would name
    // another host, a method or header name that is not a token) is
    // refused and recorded, and nothing is sent anywhere.
    let result = match outgoing::build(ctx.forwarder.target(), &delivery) {
        Err(malformed) => Err(malformed.failure(&delivery.id)),
        Ok(_) if !body_digest::matches(&delivery.body, &delivery.body_blake3) => Err(Failure {
            id: delivery.id.clone(),
            code: FailureCode::BodyMismatch,
            message: "body changed in transit (its BLAKE3 differs from the relay's)".to_string(),
        }),
        Ok(request) => {
            ctx.forwarder
                .send(&delivery.id, request, ctx.max_response)
                .await
        }
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let signature = signature.verdict().await;
    let (status, error) = match &result {
        Ok(response) => (Some(response.status), None),
        Err(failure) => (
            None,
            Some(format!("{}: {}", failure.code.as_str(), failure.message)),
        ),
    };
    // One value for the history's write and the event: nothing is copied.
    let exchange = Arc::new(Exchange {
        delivery,
        outcome: result,
    });
    // Saved before the answer (or the ack) goes out: whatever the relay hears
    // about is in the history. One write for the delivery and its attempt.
    if let Some(w) = &ctx.writer {
        let attempt = crate::delivery::Attempt::first(
            &exchange.outcome,
            ctx.forwarder.target(),
            started_ms,
            duration_ms,
        );
        saved(
            "delivery",
            w.record_exchange(&ctx.channel, exchange.clone(), &signature, attempt)
                .await,
        );
    }
    let delivery = &exchange.delivery;
    // A live delivery's sender waits for the answer, which also tells the
    // relay it is saved; a queued one's sender was answered `202` long ago,
    // and the relay only needs to hear it is saved, to free its buffer.
    // If the link dropped meanwhile, the relay has already answered the
    // sender; the event below still records what the local server did.
    // Bodies are `Bytes`: the clones below share the buffers.
    let reply = match &exchange.outcome {
        _ if delivery.queued => ack,
        Ok(response) => ClientMessage::Response(response.clone()),
        Err(failure) => ClientMessage::Failed(failure.clone()),
    };
    let _ = ctx.outbox.send(to_message(reply.encode())).await;
    let path = if delivery.path.is_empty() {
        "/".to_string()
    } else {
        delivery.path.clone()
    };
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
            exchange: Some(exchange),
        })))
        .await;
}
