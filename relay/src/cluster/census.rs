//! How many clients a channel has on every node.
//!
//! A node holding clients of a channel tells the others its count on the
//! channel's `census` subject whenever it changes, and again every few
//! seconds; a node that starts holding a channel asks the others to tell
//! theirs. Counts not repeated in time are dropped, so a node that died
//! stops counting. Each client is told the channel's total, and the node a
//! webhook arrives at knows how many nodes to expect answers from. A count
//! carries the answer mode the node's clients ask for, so that every node
//! holding the channel applies the same, strictest, mode (`answer`).

use super::live::{CENSUS_SUFFIX, channel_subject};
use crate::state::RelayState;
use hookhole_shared::protocol::Answer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often each node repeats its counts.
const REPEAT: Duration = Duration::from_secs(5);
/// A count not repeated for this long is dropped (a node that died).
const EXPIRY: Duration = Duration::from_secs(16);
/// Nodes counted per channel at most: whatever reaches NATS cannot grow
/// this node's memory without bound.
const MAX_NODES: usize = 256;

#[derive(serde::Serialize, serde::Deserialize)]
struct Count {
    node: String,
    clients: u32,
    /// Asks every other node to tell its count now.
    #[serde(default)]
    ask: bool,
    /// The mode this node's clients ask for, as it can apply it; absent
    /// from a node of an older version, which applies `local`.
    #[serde(default)]
    answer: Answer,
}

/// What a node said of its clients of a channel.
struct Said {
    clients: u32,
    answer: Answer,
    at: Instant,
}

/// Per node: what it last said of its clients of a channel.
type Nodes = HashMap<String, Said>;

/// Other nodes' counts, per channel this node holds.
#[derive(Default)]
pub struct Census {
    channels: Mutex<HashMap<String, Nodes>>,
}

impl Census {
    fn channels(&self) -> MutexGuard<'_, HashMap<String, Nodes>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clients of `channel` on other nodes.
    pub fn clients_elsewhere(&self, channel: &str) -> u32 {
        self.channels().get(channel).map_or(0, |nodes| {
            nodes
                .values()
                .fold(0u32, |sum, said| sum.saturating_add(said.clients))
        })
    }

    /// Other nodes holding clients of `channel`.
    pub fn nodes_elsewhere(&self, channel: &str) -> usize {
        self.channels().get(channel).map_or(0, |nodes| {
            nodes.values().filter(|said| said.clients > 0).count()
        })
    }

    /// The answer modes of the other nodes holding `channel`.
    pub fn answers_elsewhere(&self, channel: &str) -> Vec<Answer> {
        self.channels().get(channel).map_or_else(Vec::new, |nodes| {
            nodes
                .values()
                .filter(|said| said.clients > 0)
                .map(|said| said.answer)
                .collect()
        })
    }

    /// Tells the other nodes this node's count for `channel` (and, with
    /// `ask`, asks for theirs). The count is 0 once the node lets go.
    pub fn tell(&self, state: &Arc<RelayState>, channel: &str, ask: bool) {
        let Some(cluster) = &state.cluster else {
            return;
        };
        let listeners = state.hub.route(channel).unwrap_or_default();
        let clients = listeners.len() as u32;
        if clients == 0 {
            self.channels().remove(channel);
        }
        let count = Count {
            node: cluster.node().to_string(),
            clients,
            ask,
            answer: crate::answer::here(state, &listeners),
        };
        let payload = serde_json::to_vec(&count).unwrap_or_default();
        let (client, subject) = (
            cluster.client.clone(),
            channel_subject(channel, CENSUS_SUFFIX),
        );
        tokio::spawn(async move {
            // Lost while NATS is away; repeated every few seconds anyway.
            let _ = client.publish(subject, payload.into()).await;
        });
    }

    /// Takes another node's count.
    pub fn receive(&self, state: &Arc<RelayState>, channel: &str, message: &async_nats::Message) {
        let Some(cluster) = &state.cluster else {
            return;
        };
        let Ok(count) = serde_json::from_slice::<Count>(&message.payload) else {
            return;
        };
        // Our own, or not a node name (one that could be anything).
        if count.node == cluster.node() || super::settings::parse_node(&count.node).is_err() {
            return;
        }
        let changed = {
            let mut channels = self.channels();
            let nodes = channels.entry(channel.to_string()).or_default();
            let before = nodes
                .get(&count.node)
                .map(|said| (said.clients, said.answer));
            if count.clients == 0 {
                nodes.remove(&count.node);
            } else if before.is_none() && nodes.len() >= MAX_NODES {
                return;
            } else {
                let said = Said {
                    clients: count.clients,
                    answer: count.answer,
                    at: Instant::now(),
                };
                nodes.insert(count.node.clone(), said);
            }
            before.unwrap_or_default() != (count.clients, count.answer)
        };
        if count.ask {
            self.tell(state, channel, false);
        }
        if changed {
            announce(state, channel);
        }
    }

    /// Drops counts not repeated in time; the channels whose total changed.
    fn expire(&self) -> Vec<String> {
        let mut changed = Vec::new();
        for (channel, nodes) in self.channels().iter_mut() {
            let before = nodes.len();
            nodes.retain(|_, said| said.at.elapsed() < EXPIRY);
            if nodes.len() != before {
                changed.push(channel.clone());
            }
        }
        changed
    }
}

/// Tells this node's clients of `channel` the channel's total and the
/// answer mode in force.
fn announce(state: &Arc<RelayState>, channel: &str) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let Some(listeners) = state.hub.route(channel) else {
        return;
    };
    let total = listeners.len() as u32 + cluster.census.clients_elsewhere(channel);
    let mode = crate::answer::in_force(state, channel, &listeners);
    let message = crate::tunnel::listeners_message(total, mode);
    tokio::spawn(async move {
        for listener in listeners {
            listener.send(message.clone()).await;
        }
    });
}

/// Repeats this node's counts and drops the others' stale ones, for the
/// relay's life.
pub async fn refresh(state: Arc<RelayState>) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let mut ticker = tokio::time::interval(REPEAT);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = cluster.stop.cancelled() => return,
        }
        for channel in cluster.interest.held() {
            cluster.census.tell(&state, &channel, false);
        }
        for channel in cluster.census.expire() {
            announce(&state, &channel);
        }
    }
}
