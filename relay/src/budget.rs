//! Connection budgets: webhook senders and clients are counted apart, so a
//! flood of one cannot lock the other out.
//!
//! A new connection is *unclassified* until its first request head has
//! arrived (within `--header-timeout`); at most `--max-connections` may be
//! unclassified at once. The head then says what it is: a websocket
//! upgrade at `/_hookhole/connect` counts against
//! `--max-client-connections`, anything else against `--max-connections`.
//! So at most twice `--max-connections` plus the client budget are open,
//! and stalled webhooks filling their budget still leave room for a client
//! to connect (and, once `--body-timeout` cuts them, for real webhooks).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
        })
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

    /// A slot for a newly accepted connection, if one is free.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        self.take(Class::Unclassified).then(|| Slot {
            budgets: self.clone(),
            class: Mutex::new(Class::Unclassified),
        })
    }
}

/// One connection's place in the budgets; given back when dropped (a
/// client's slot lives as long as its websocket session).
pub struct Slot {
    budgets: Arc<Budgets>,
    class: Mutex<Class>,
}

impl Slot {
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
        self.budgets.give_back(*current);
        *current = class;
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let class = *self.class.get_mut().unwrap_or_else(|p| p.into_inner());
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
                let slot = budgets.admit().unwrap();
                assert!(slot.classify(Class::Webhook));
                slot
            })
            .collect();
        assert_eq!(budgets.open(Class::Unclassified), 0);
        let third = budgets.admit().expect("room to read a head");
        assert!(!third.classify(Class::Webhook), "webhook budget full");
        assert!(third.classify(Class::Client), "a client still gets in");
        let fourth = budgets.admit().unwrap();
        assert!(!fourth.classify(Class::Client), "client budget full");
        drop(webhooks);
        assert!(fourth.classify(Class::Webhook));
        drop((third, fourth));
        for class in Class::ALL {
            assert_eq!(budgets.open(class), 0, "{class:?}");
        }
    }

    #[test]
    fn unclassified_connections_are_bounded() {
        let budgets = Budgets::new(1, 5);
        let first = budgets.admit().unwrap();
        assert!(budgets.admit().is_none());
        drop(first);
        assert!(budgets.admit().is_some());
    }
}
