//! Who listens where: the channel registry, fan-out, and matching answers to
//! the deliveries that are waiting for them.
//!
//! Every listener owns a map of deliveries it was sent and not yet answered,
//! each holding a clone of that delivery's reply sender. The ingress side
//! waits on the receiver: when a listener answers, the reply arrives; when a
//! listener disconnects, its map is dropped, its senders with it, and once
//! every listener is gone the receiver reports "closed" instead of hanging
//! until the timeout.

use hookhole_shared::protocol::{Answer, Failure, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Queue depth between the hub and one websocket writer. Beyond it senders
/// wait (within their response timeout): backpressure, not unbounded memory.
const OUTBOX_CAPACITY: usize = 256;

/// A listener's answer to a delivery.
#[derive(Debug)]
pub enum Reply {
    Response(Response),
    Failed(Failure),
    /// The client saved a queued delivery (its `ack`).
    Saved,
}

/// What the listeners of one live delivery made of it.
#[derive(Debug)]
pub enum Outcome {
    /// The first real HTTP response from any of them.
    Answered(Response),
    /// None answered; the first failure reported.
    Failed(Failure),
    /// None answered and none failed: they all left.
    Gone,
}

/// Waits for the listeners' replies on `rx` until one answers or all are
/// done. A failure only counts once no listener can answer any more: with
/// two clients, one whose local server is down must not hide the other's
/// good answer.
pub async fn first_reply(rx: &mut mpsc::Receiver<Reply>) -> Outcome {
    let mut first_failure: Option<Failure> = None;
    while let Some(reply) = rx.recv().await {
        match reply {
            Reply::Response(r) => return Outcome::Answered(r),
            Reply::Failed(f) => {
                first_failure.get_or_insert(f);
            }
            Reply::Saved => {}
        }
    }
    first_failure.map_or(Outcome::Gone, Outcome::Failed)
}

type Inflight = HashMap<String, mpsc::Sender<Reply>>;

/// One connected client on a channel.
pub struct Listener {
    pub id: u64,
    pub channel: String,
    /// The answer mode this client asked for in its hello.
    pub answer: Answer,
    outbox: mpsc::Sender<Message>,
    /// `None` once the connection has ended: nothing new may be registered.
    inflight: Mutex<Option<Inflight>>,
}

impl Listener {
    fn inflight(&self) -> MutexGuard<'_, Option<Inflight>> {
        // A poisoned lock means a panic while holding it; the map itself is
        // still consistent (single inserts/removes), so keep serving.
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a message for this listener's websocket.
    pub async fn send(&self, message: Message) -> bool {
        self.outbox.send(message).await.is_ok()
    }

    /// Registers `reply` for delivery `id` and queues its frame. Returns false
    /// when the listener is gone; the reply sender is then dropped.
    pub async fn deliver(&self, id: &str, frame: Message, reply: mpsc::Sender<Reply>) -> bool {
        match self.inflight().as_mut() {
            Some(map) => map.insert(id.to_string(), reply),
            None => return false,
        };
        if self.outbox.send(frame).await.is_ok() {
            true
        } else {
            self.forget(id);
            false
        }
    }

    /// Passes an answer to whoever waits for delivery `id`. Answers to
    /// deliveries nobody waits for any more (timed out) are dropped.
    pub fn answer(&self, id: &str, reply: Reply) {
        let waiting = self.inflight().as_mut().and_then(|map| map.remove(id));
        if let Some(tx) = waiting {
            // The waiter has capacity for one reply per listener.
            let _ = tx.try_send(reply);
        }
    }

    /// Drops the pending entry for `id` (the sender stopped waiting).
    pub fn forget(&self, id: &str) {
        if let Some(map) = self.inflight().as_mut() {
            map.remove(id);
        }
    }

    /// Deliveries sent and not yet answered.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.inflight().as_ref().map_or(0, |m| m.len())
    }

    /// Ends the listener: every delivery waiting on it stops waiting.
    fn close(&self) {
        self.inflight().take();
    }
}

#[derive(Default)]
struct Channel {
    listeners: Vec<Arc<Listener>>,
}

/// The registry of channels and their listeners.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, Channel>>,
    next_listener: AtomicU64,
    last_seq: AtomicU64,
}

/// Counts for the health endpoint.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct HubStats {
    pub channels: usize,
    pub clients: usize,
}

impl Hub {
    fn channels(&self) -> MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a listener to `channel`; returns it, its outbox receiver, and
    /// every listener now on the channel (to tell them the new count).
    pub fn join(
        &self,
        channel: &str,
        answer: Answer,
    ) -> (Arc<Listener>, mpsc::Receiver<Message>, Vec<Arc<Listener>>) {
        let (tx, rx) = mpsc::channel(OUTBOX_CAPACITY);
        let listener = Arc::new(Listener {
            id: self.next_listener.fetch_add(1, Ordering::Relaxed),
            channel: channel.to_string(),
            answer,
            outbox: tx,
            inflight: Mutex::new(Some(HashMap::new())),
        });
        let mut channels = self.channels();
        let entry = channels.entry(channel.to_string()).or_default();
        entry.listeners.push(listener.clone());
        let all = entry.listeners.clone();
        (listener, rx, all)
    }

    /// Removes a listener; returns the listeners left on its channel.
    pub fn leave(&self, listener: &Listener) -> Vec<Arc<Listener>> {
        listener.close();
        let mut channels = self.channels();
        let Some(entry) = channels.get_mut(&listener.channel) else {
            return Vec::new();
        };
        entry.listeners.retain(|l| l.id != listener.id);
        let rest = entry.listeners.clone();
        if rest.is_empty() {
            channels.remove(&listener.channel);
        }
        rest
    }

    /// The current listeners of `channel`, or `None` when nobody listens.
    pub fn route(&self, channel: &str) -> Option<Vec<Arc<Listener>>> {
        let channels = self.channels();
        let entry = channels.get(channel)?;
        (!entry.listeners.is_empty()).then(|| entry.listeners.clone())
    }

    /// The next delivery sequence number: increasing, and tied to the clock
    /// (microseconds) so it keeps increasing across relay restarts without
    /// being stored. Clients resume buffered deliveries by it.
    pub fn next_seq(&self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let mut last = self.last_seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_seq.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    pub fn stats(&self) -> HubStats {
        let channels = self.channels();
        HubStats {
            channels: channels.len(),
            clients: channels.values().map(|c| c.listeners.len()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leaving_releases_every_waiter() {
        let hub = Hub::default();
        let (listener, _rx, all) = hub.join("dev", Answer::Local);
        assert_eq!(all.len(), 1);
        let listeners = hub.route("dev").unwrap();
        let (a, b) = (hub.next_seq(), hub.next_seq());
        assert!(
            b > a && a > 1_700_000_000_000_000,
            "increasing, clock-based"
        );
        let (tx, mut rx) = mpsc::channel(1);
        assert!(listeners[0].deliver("d1", Message::text("x"), tx).await);
        assert_eq!(listener.pending(), 1);
        assert!(hub.leave(&listener).is_empty());
        // The only sender was in the listener's map: the waiter sees "closed".
        assert!(rx.recv().await.is_none());
        assert!(hub.route("dev").is_none());
        // A closed listener accepts nothing new.
        let (tx, _rx2) = mpsc::channel(1);
        assert!(!listener.deliver("d2", Message::text("x"), tx).await);
    }

    #[tokio::test]
    async fn answers_reach_the_waiter_once() {
        let hub = Hub::default();
        let (listener, _rx, _) = hub.join("dev", Answer::Local);
        let (tx, mut rx) = mpsc::channel(1);
        assert!(listener.deliver("d1", Message::text("x"), tx).await);
        let failure = |id: &str| {
            Reply::Failed(Failure {
                id: id.into(),
                code: hookhole_shared::protocol::FailureCode::LocalError,
                message: "m".into(),
            })
        };
        listener.answer("d1", failure("d1"));
        listener.answer("d1", failure("d1"));
        assert!(matches!(rx.recv().await, Some(Reply::Failed(_))));
        assert!(rx.recv().await.is_none());
        assert_eq!(hub.stats().clients, 1);
    }
}
