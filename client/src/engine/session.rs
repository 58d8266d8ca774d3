//! One connected session: deliveries in, answers and heartbeats out, until
//! the link ends (and how it ended).

use super::delivery::{DeliveryContext, handle_delivery};
use super::early_answers::{EarlyAnswers, Expected};
use super::{End, EngineConfig, Ws, closed_by_relay, to_message};
use crate::events::Event;
use crate::netwatch::{Change, Watch};
use futures_util::{SinkExt, StreamExt};
use hookhole_shared::protocol::{
    ClientMessage, Delivery, Message as _, RelayMessage, Welcome, close,
};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_util::sync::CancellationToken;

/// Answers waiting to be written to the relay.
const OUTBOX_CAPACITY: usize = 256;

/// How long the relay has to answer a ping sent after a sleep or a network
/// change (at most three heartbeats, like any silence).
const PROBE_LIMIT: Duration = Duration::from_secs(5);
/// Serves one connected session until it ends.
pub(super) async fn serve(
    mut ws: Ws,
    welcome: &Welcome,
    config: &EngineConfig,
    events: &mpsc::Sender<Event>,
    watch: &mut Watch,
    shutdown: &CancellationToken,
) -> End {
    let (outbox_tx, mut outbox) = mpsc::channel::<Message>(OUTBOX_CAPACITY);
    let interval = match welcome.heartbeat_ms {
        Some(ms) => Duration::from_millis(ms.max(10)),
        None => Duration::from_secs(welcome.heartbeat_secs.max(1)),
    };
    // Three missed heartbeats: the link is dead even if TCP has not noticed.
    let silence_limit = interval * 3;
    // After a sleep or a network change the link may be dead without a
    // sound: a ping must be answered within this, not 45 s of silence.
    let answer_limit = silence_limit.min(PROBE_LIMIT);
    let mut probe: Option<(Instant, Change)> = None;
    let mut ticker = tokio::time::interval(interval);
    let heartbeat = to_message(ClientMessage::Heartbeat.encode());
    let context = DeliveryContext {
        forwarder: config.forwarder.clone(),
        verifier: config.verifier.clone(),
        provider: config.provider.clone().map(Into::into),
        routes: config.routes.clone(),
        history: config.history.clone(),
        writer: config.writer.clone(),
        channel: welcome.channel.clone(),
        // A bigger answer would exceed the relay's message limit and cost the link.
        max_response: usize::try_from(welcome.max_body).unwrap_or(usize::MAX),
        outbox: outbox_tx.clone(),
        events: events.clone(),
        retries: config.retries.clone(),
        early: EarlyAnswers::default(),
    };
    let (queued_tx, mut queued_rx) = mpsc::channel::<(Delivery, Expected)>(OUTBOX_CAPACITY);
    let in_order = context.clone();
    // Ends when the session does (its sender is dropped).
    tokio::spawn(async move {
        while let Some((delivery, expected)) = queued_rx.recv().await {
            handle_delivery(in_order.clone(), delivery, expected).await;
        }
    });
    // The answer mode in force: whether the relay may tell of a sender it
    // answered itself (an older relay says nothing: `local`).
    let mut in_force = welcome.answer.unwrap_or_default();
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = ws.next() => {
                last_heard = Instant::now();
                probe = None;
                match incoming {
                    Some(Ok(Message::Binary(bytes))) => match RelayMessage::decode_binary(bytes) {
                        Ok(RelayMessage::Delivery(delivery)) => {
                            // Registered before the next message is read:
                            // the relay's notice about it comes after it.
                            let expected =
                                context.early.expect(&delivery.id, in_force, delivery.answered);
                            // Answered early by the relay: forwarded at once,
                            // like a live one, and acknowledged once saved.
                            if delivery.queued && !delivery.answered {
                                // Kept while we were away: forwarded one at a time, in order.
                                let _ = queued_tx.send((delivery, expected)).await;
                            } else {
                                tokio::spawn(handle_delivery(context.clone(), delivery, expected));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => return protocol_error(&mut ws, e.to_string()).await,
                    },
                    Some(Ok(Message::Text(text))) => match RelayMessage::decode_text(text.as_str()) {
                        Ok(RelayMessage::Listeners { count, answer }) => {
                            let answer = answer.unwrap_or_default();
                            in_force = answer;
                            let _ = events.send(Event::Listeners { count, answer }).await;
                        }
                        Ok(RelayMessage::Heartbeat) => {
                            // try_send: a busy consumer may skip a heartbeat.
                            let _ = events.try_send(Event::Heartbeat);
                        }
                        Ok(RelayMessage::Answered { id, status, wait_ms }) => {
                            if !context.early.answered(&id, status, wait_ms) {
                                tracing::info!(
                                    id = %hookhole_shared::printable::line(&id),
                                    status,
                                    "the relay answered this delivery's sender itself after it was saved: its history keeps the local answer"
                                );
                            }
                        }
                        Ok(_) => {}
                        Err(e) => return protocol_error(&mut ws, e.to_string()).await,
                    },
                    Some(Ok(Message::Close(frame))) => return closed_by_relay(frame.as_ref()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return End::Lost(format!("connection to the relay lost: {e}")),
                    None => return End::Lost("connection to the relay lost".to_string()),
                }
            }
            Some(message) = outbox.recv() => {
                let mut result = ws.feed(message).await;
                while result.is_ok() {
                    match outbox.try_recv() {
                        Ok(next) => result = ws.feed(next).await,
                        Err(_) => break,
                    }
                }
                if let Err(e) = result.and(ws.flush().await) {
                    return End::Lost(format!("connection to the relay lost: {e}"));
                }
            }
            change = watch.next() => {
                tracing::info!("{change}: checking the link to the relay");
                if let Err(e) = ws.send(Message::Ping(Default::default())).await {
                    return End::Lost(format!("{change}; the link to the relay is gone: {e}"));
                }
                probe = Some((Instant::now(), change));
            }
            change = unanswered(probe, answer_limit) => {
                return End::Lost(format!(
                    "{change} and the relay did not answer within {}",
                    humantime::format_duration(answer_limit)
                ));
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() > silence_limit {
                    return End::Lost(format!(
                        "no heartbeat from the relay for {}",
                        humantime::format_duration(silence_limit)
                    ));
                }
                if let Err(e) = ws.send(heartbeat.clone()).await {
                    return End::Lost(format!("connection to the relay lost: {e}"));
                }
            }
            _ = shutdown.cancelled() => {
                let _ = ws
                    .close(Some(CloseFrame {
                        code: 1000.into(),
                        reason: "client shutting down".into(),
                    }))
                    .await;
                return End::Shutdown;
            }
        }
    }
}

/// Ends, with what prompted it, when a probe has gone unanswered for
/// `limit`; never without a probe.
async fn unanswered(probe: Option<(Instant, Change)>, limit: Duration) -> Change {
    match probe {
        Some((sent, change)) => {
            tokio::time::sleep_until(sent + limit).await;
            change
        }
        None => std::future::pending().await,
    }
}

async fn protocol_error(ws: &mut Ws, error: String) -> End {
    let _ = ws
        .close(Some(CloseFrame {
            code: close::PROTOCOL_ERROR.into(),
            reason: "malformed message".into(),
        }))
        .await;
    End::Lost(format!("malformed message from the relay: {error}"))
}
