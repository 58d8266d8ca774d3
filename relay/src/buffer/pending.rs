//! What the offline buffer holds, kept in memory beside the database: per
//! channel (sequence numbers and frame sizes) and in all, so acks of live
//! deliveries cost no database write and the limits cost no query.

use std::collections::{BTreeMap, HashMap};

/// What is buffered, per channel and in all.
#[derive(Default)]
pub(super) struct Pending {
    channels: HashMap<String, Held>,
    pub(super) count: u64,
    pub(super) bytes: u64,
}

impl Pending {
    pub(super) fn new(channels: HashMap<String, Held>) -> Pending {
        let count = channels.values().map(|h| h.sizes.len() as u64).sum();
        let bytes = channels.values().map(|h| h.bytes).sum();
        Pending {
            channels,
            count,
            bytes,
        }
    }

    pub(super) fn names(&self) -> Vec<String> {
        self.channels.keys().cloned().collect()
    }

    pub(super) fn get(&self, channel: &str) -> Option<&Held> {
        self.channels.get(channel)
    }

    /// Changes one channel's entry, keeping the totals, and forgets the
    /// channel once nothing is left in it.
    pub(super) fn change<R>(&mut self, channel: &str, f: impl FnOnce(&mut Held) -> R) -> R {
        let held = self.channels.entry(channel.to_string()).or_default();
        let (count, bytes) = (held.sizes.len() as u64, held.bytes);
        let result = f(held);
        self.count = self.count - count + held.sizes.len() as u64;
        self.bytes = self.bytes - bytes + held.bytes;
        if held.sizes.is_empty() {
            self.channels.remove(channel);
        }
        result
    }
}

/// One channel's buffered deliveries: sequence number to frame size.
#[derive(Default)]
pub(super) struct Held {
    pub(super) sizes: BTreeMap<u64, u64>,
    pub(super) bytes: u64,
}

impl Held {
    pub(super) fn insert(&mut self, seq: u64, size: u64) {
        if let Some(old) = self.sizes.insert(seq, size) {
            self.bytes -= old;
        }
        self.bytes += size;
    }

    pub(super) fn remove(&mut self, seq: u64) -> bool {
        match self.sizes.remove(&seq) {
            Some(size) => {
                self.bytes -= size;
                true
            }
            None => false,
        }
    }
}
