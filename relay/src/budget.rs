//! Connection budgets: webhook senders and clients are counted apart, so a
//! flood of one cannot lock the other out.
//!
//! A new connection is *unclassified* until its first request head has
//! arrived (within `--header-timeout`). The head then says what it is: a
//! websocket upgrade at `/_hookhole/connect` counts against
//! `--max-client-connections`, anything else against `--max-connections`.
//! So stalled webhooks filling their budget still leave room for a client
//! to connect (and, once `--body-timeout` cuts them, for real webhooks).
//!
//! At most `--max-connections` wait for their head at once, but a new
//! connection is never refused for that: it evicts the connection that has
//! waited longest, which is closed. Refusing would let senders that send
//! half a head and reconnect every `--header-timeout` lock everyone out;
//! evicting, a real client or webhook (its head arrives within
//! milliseconds) loses only if the attacker opens the whole budget within
//! those milliseconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What a connection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No request head yet.
    Unclassified,
    /// Webhook senders (and health, metrics): anything but a client link.
    Webhook,
    /// A client's websocket link.
    Client,
}

/// The open connections of each class, and how many each may have.
pub struct Budgets {
    open: [AtomicUsize; 3],
    max: [usize; 3],
    waiting: Mutex<Waiting>,
}

/// The unclassified connections, oldest first, each with the token that
/// evicts it. Ids only grow, so the queue is sorted by them.
#[derive(Default)]
struct Waiting {
    next: u64,
    queue: VecDeque<(u64, CancellationToken)>,
}

impl Waiting {
    fn remove(&mut self, id: u64) {
        if let Ok(i) = self.queue.binary_search_by_key(&id, |(id, _)| *id) {
            self.queue.remove(i);
        }
    }
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Unclassified, Class::Webhook, Class::Client];

    /// The name in the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Class::Unclassified => "unclassified",
            Class::Webhook => "webhook",
            Class::Client => "client",
        }
    }
}

fn index(class: Class) -> usize {
    match class {
        Class::Unclassified => 0,
        Class::Webhook => 1,
        Class::Client => 2,
    }
}

impl Budgets {
    /// `webhooks` bounds both the unclassified and the webhook connections.
    pub fn new(webhooks: usize, clients: usize) -> Arc<Budgets> {
        Arc::new(Budgets {
            open: Default::default(),
            max: [webhooks, webhooks, clients],
            waiting: Mutex::default(),
        })
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, class: Class) -> bool {
        let i = index(class);
        self.open[i]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max[i]).then_some(n + 1)
            })
            .is_ok()
    }

    fn give_back(&self, class: Class) {
        self.open[index(class)].fetch_sub(1, Ordering::AcqRel);
    }

    /// Open connections of `class`.
    pub fn open(&self, class: Class) -> usize {
        self.open[index(class)].load(Ordering::Acquire)
    }

    /// A slot for a newly accepted connection; when as many as allowed
    /// are waiting for their head, the one that has waited longest is
    /// evicted (its [`Slot::eviction`] is cancelled).
    pub fn admit(self: &Arc<Self>) -> Slot {
        let eviction = CancellationToken::new();
        let id = {
            let mut waiting = self.waiting();
            if waiting.queue.len() >= self.max[index(Class::Unclassified)]
                && let Some((_, oldest)) = waiting.queue.pop_front()
            {
                oldest.cancel();
            }
            let id = waiting.next;
            waiting.next += 1;
            waiting.queue.push_back((id, eviction.clone()));
            id
        };
        self.open[index(Class::Unclassified)].fetch_add(1, Ordering::AcqRel);
        Slot {
            budgets: self.clone(),
            class: Mutex::new(Class::Unclassified),
            id,
            eviction,
        }
    }
}

/// One connection's place in the budgets; given back when dropped (a
/// client's slot lives as long as its websocket session).
pub struct Slot {
    budgets: Arc<Budgets>,
    class: Mutex<Class>,
    /// Its place among the unclassified.
    id: u64,
    eviction: CancellationToken,
}

impl Slot {
    /// Cancelled when a newer connection evicts this one while it still
    /// waits for its head.
    pub fn eviction(&self) -> CancellationToken {
        self.eviction.clone()
    }

    /// Moves the connection to `class`; `false` (and nothing moved) when
    /// that budget is full.
    pub fn classify(&self, class: Class) -> bool {
        let mut current = self.class.lock().unwrap_or_else(|p| p.into_inner());
        if *current == class {
            return true;
        }
        if !self.budgets.take(class) {
            return false;
        }
        if *current == Class::Unclassified {
            self.budgets.waiting().remove(self.id);
        }
        self.budgets.give_back(*current);
        *current = class;
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let class = *self.class.get_mut().unwrap_or_else(|p| p.into_inner());
        if class == Class::Unclassified {
            self.budgets.waiting().remove(self.id);
        }
        self.budgets.give_back(class);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_webhooks_leave_room_for_clients_and_slots_come_back() {
        let budgets = Budgets::new(2, 1);
        let webhooks: Vec<Slot> = (0..2)
            .map(|_| {
                let slot = budgets.admit();
                assert!(slot.classify(Class::Webhook));
                slot
            })
            .collect();
        assert_eq!(budgets.open(Class::Unclassified), 0);
        let third = budgets.admit();
        assert!(!third.classify(Class::Webhook), "webhook budget full");
        assert!(third.classify(Class::Client), "a client still gets in");
        let fourth = budgets.admit();
        assert!(!fourth.classify(Class::Client), "client budget full");
        drop(webhooks);
        assert!(fourth.classify(Class::Webhook));
        drop((third, fourth));
        for class in Class::ALL {
            assert_eq!(budgets.open(class), 0, "{class:?}");
        }
    }

    #[test]
    fn a_full_unclassified_budget_evicts_its_oldest_connection() {
        let budgets = Budgets::new(2, 5);
        let (first, second) = (budgets.admit(), budgets.admit());
        assert!(!first.eviction().is_cancelled());
        let third = budgets.admit();
        assert!(first.eviction().is_cancelled(), "the oldest goes");
        assert!(!second.eviction().is_cancelled());
        // A classified connection no longer waits, and cannot be evicted.
        assert!(second.classify(Class::Client));
        let fourth = budgets.admit();
        assert!(!third.eviction().is_cancelled(), "room was made by second");
        let _fifth = budgets.admit();
        assert!(third.eviction().is_cancelled());
        assert!(!second.eviction().is_cancelled() && !fourth.eviction().is_cancelled());
        // An evicted connection counts until its task lets go of it.
        assert_eq!(budgets.open(Class::Unclassified), 4);
        drop((first, third));
        assert_eq!(budgets.open(Class::Unclassified), 2);
        assert_eq!(budgets.waiting().queue.len(), 2);
    }
}
