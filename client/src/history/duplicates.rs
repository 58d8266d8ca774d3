//! Which deliveries repeat an event: the history writer's memory of events
//! by (provider, event id), so that marking a retry as a duplicate of the
//! first delivery costs no SQLite query in the common case.
//!
//! The writer sees every delivery in order, so it is the one place that
//! can count arrivals. It keeps:
//!
//! - `recent`: the latest [`RECENT`] events, each with its first
//!   delivery's id and its arrivals so far: a retry minutes later (the
//!   usual case) is answered here.
//! - `known`: a 64-bit keyed hash of every event in the history (up to
//!   [`KNOWN`]): an event whose hash is not there is new, without a query.
//!   That is what almost every delivery is.
//!
//! Only an event that is known but no longer recent (a retry hours later,
//! or a hash collision) is looked up in the index, through the `lookup`
//! the writer passes in, which catches the index up first. A history with
//! more events than [`KNOWN`] makes `known` incomplete: every event missing
//! from `recent` is then looked up.
//!
//! Events of deliveries pruned since stay in `known` (it never shrinks):
//! the index says they are gone, at the cost of a query.

use super::store::History;
use crate::webhook::Arrival;
use rusqlite::{OptionalExtension as _, params};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher as _;

/// Events remembered whole (about 150 bytes each).
pub const RECENT: usize = 4096;

/// Event hashes remembered (16 bytes each, with the set's overhead): far
/// more than the 10,000 deliveries kept by default.
pub const KNOWN: usize = 1 << 20;

/// An event remembered whole.
struct Event {
    provider: Box<str>,
    event_id: Box<str>,
    first: Box<str>,
    seen: u32,
}

/// The last arrival of an event, as the index holds it: its first
/// delivery's id and its arrivals so far.
pub type Found = Option<(String, u32)>;

pub struct Duplicates {
    /// Keyed with a random seed: a sender cannot choose ids that collide.
    hasher: RandomState,
    recent: HashMap<u64, Event>,
    /// `recent`'s hashes, oldest first.
    order: VecDeque<u64>,
    known: HashSet<u64>,
    /// Whether `known` holds every event of the history.
    complete: bool,
}

impl Duplicates {
    /// Starts from the events the history holds (`(provider, event id)`
    /// pairs; `complete` says whether that is all of them).
    pub fn new<'a>(events: impl IntoIterator<Item = (&'a str, &'a str)>) -> Duplicates {
        let mut d = Duplicates {
            hasher: RandomState::new(),
            recent: HashMap::new(),
            order: VecDeque::new(),
            known: HashSet::new(),
            complete: true,
        };
        for (provider, event_id) in events {
            d.know(d.hash(provider, event_id));
        }
        d
    }

    fn hash(&self, provider: &str, event_id: &str) -> u64 {
        // The lengths keep ("ab", "c") and ("a", "bc") apart.
        self.hasher
            .hash_one((provider.len(), provider, event_id.len(), event_id))
    }

    fn know(&mut self, hash: u64) {
        if self.known.len() >= KNOWN {
            self.complete = false;
            return;
        }
        self.known.insert(hash);
    }

    /// Records that delivery `delivery_id` brought event `event_id` of
    /// `provider`, and says whether the event arrived before. `lookup`
    /// asks the index, only when memory cannot tell.
    pub fn arrive(
        &mut self,
        provider: &str,
        event_id: &str,
        delivery_id: &str,
        lookup: impl FnOnce(&str, &str) -> Found,
    ) -> Arrival {
        let hash = self.hash(provider, event_id);
        if let Some(e) = self.recent.get_mut(&hash)
            && &*e.provider == provider
            && &*e.event_id == event_id
        {
            e.seen = e.seen.saturating_add(1);
            return Arrival {
                duplicate_of: Some(e.first.to_string()),
                seen: e.seen,
            };
        }
        let found = match self.complete && !self.known.contains(&hash) {
            true => None,
            false => lookup(provider, event_id),
        };
        let arrival = match found {
            Some((first, seen)) => Arrival {
                duplicate_of: Some(first),
                seen: seen.saturating_add(1),
            },
            None => Arrival {
                duplicate_of: None,
                seen: 1,
            },
        };
        self.know(hash);
        self.remember(hash, provider, event_id, delivery_id, &arrival);
        arrival
    }

    fn remember(
        &mut self,
        hash: u64,
        provider: &str,
        event_id: &str,
        delivery_id: &str,
        arrival: &Arrival,
    ) {
        let event = Event {
            provider: provider.into(),
            event_id: event_id.into(),
            first: arrival
                .duplicate_of
                .as_deref()
                .unwrap_or(delivery_id)
                .into(),
            seen: arrival.seen,
        };
        // A colliding event takes the slot: the other one is looked up.
        if self.recent.insert(hash, event).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    /// Takes back an arrival that was not saved after all (the log write
    /// failed): the next one of the event is not counted after it. Undone
    /// newest first.
    pub fn undo(&mut self, provider: &str, event_id: &str, arrival: &Arrival) {
        let hash = self.hash(provider, event_id);
        let Some(e) = self.recent.get_mut(&hash) else {
            return;
        };
        if &*e.provider != provider || &*e.event_id != event_id {
            return;
        }
        if arrival.seen <= 1 {
            self.recent.remove(&hash);
            self.order.retain(|&h| h != hash);
        } else {
            e.seen = arrival.seen - 1;
        }
    }
}

/// The index's side of the duplicate check.
impl History {
    /// The events the index holds, as `(provider, event id)`: at most one
    /// more than [`KNOWN`] (which tells [`Duplicates`] it has not all).
    pub(super) fn event_keys(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT provider, event_id FROM deliveries
             WHERE event_id IS NOT NULL AND provider IS NOT NULL LIMIT ?1",
        )?;
        stmt.query_map(params![KNOWN as i64 + 1], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect()
    }

    /// The last arrival of an event in the index (without catching it up):
    /// its first delivery's id (the one it names as the first, which may
    /// have been pruned since, else its own) and the arrivals it counted.
    pub(super) fn last_arrival(&self, provider: &str, event_id: &str) -> rusqlite::Result<Found> {
        let row: Option<(String, Option<String>, Option<u32>)> = self
            .conn()
            .prepare_cached(
                "SELECT id, duplicate_of, seen FROM deliveries
                 WHERE provider = ?1 AND event_id = ?2 AND event_id IS NOT NULL
                 ORDER BY pk DESC LIMIT 1",
            )?
            .query_row(params![provider, event_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        Ok(row.map(|(id, first, seen)| (first.unwrap_or(id), seen.unwrap_or(1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &str, _: &str) -> Found {
        panic!("the index was asked")
    }

    #[test]
    fn a_new_event_and_its_retries_need_no_lookup() {
        let mut d = Duplicates::new([]);
        let first = d.arrive("maple", "evt_1", "d1", never);
        assert_eq!(
            first,
            Arrival {
                duplicate_of: None,
                seen: 1
            }
        );
        for (n, id) in [(2, "d2"), (3, "d3")] {
            let again = d.arrive("maple", "evt_1", id, never);
            assert_eq!(
                again,
                Arrival {
                    duplicate_of: Some("d1".into()),
                    seen: n
                }
            );
        }
        // Same id, other provider: another event.
        assert_eq!(d.arrive("malomo", "evt_1", "d4", never).seen, 1);
    }

    #[test]
    fn an_event_in_the_history_but_not_recent_is_looked_up() {
        let mut d = Duplicates::new([("maple", "old")]);
        let mut asked = Vec::new();
        let arrival = d.arrive("maple", "old", "d9", |p, e| {
            asked.push((p.to_string(), e.to_string()));
            Some(("d1".into(), 4))
        });
        assert_eq!(asked, [("maple".to_string(), "old".to_string())]);
        assert_eq!(arrival.duplicate_of.as_deref(), Some("d1"));
        assert_eq!(arrival.seen, 5);
        // Remembered now: the next retry is not looked up.
        assert_eq!(d.arrive("maple", "old", "d10", never).seen, 6);
        // Known but gone from the index (pruned): new again.
        let mut d = Duplicates::new([("maple", "gone")]);
        assert_eq!(d.arrive("maple", "gone", "d2", |_, _| None).seen, 1);
    }

    #[test]
    fn an_event_forgotten_from_recent_is_found_through_the_index() {
        let mut d = Duplicates::new([]);
        d.arrive("maple", "evt_0", "d0", never);
        for n in 1..=RECENT {
            d.arrive("maple", &format!("evt_{n}"), &format!("d{n}"), never);
        }
        let mut asked = false;
        let arrival = d.arrive("maple", "evt_0", "dx", |_, _| {
            asked = true;
            Some(("d0".into(), 1))
        });
        assert!(asked, "evt_0 left the recent events");
        assert_eq!(arrival.seen, 2);
    }

    #[test]
    fn an_arrival_that_was_not_saved_is_taken_back() {
        let mut d = Duplicates::new([]);
        let first = d.arrive("maple", "e", "d1", never);
        let second = d.arrive("maple", "e", "d2", never);
        d.undo("maple", "e", &second);
        assert_eq!(d.arrive("maple", "e", "d3", never).seen, 2);
        let mut d = Duplicates::new([]);
        let first_lost = d.arrive("maple", "e", "d1", never);
        d.undo("maple", "e", &first_lost);
        // Still known (a hash is never taken back): looked up, not found.
        let again = d.arrive("maple", "e", "d2", |_, _| None);
        assert_eq!((again.duplicate_of, again.seen), (None, 1));
        let _ = first;
    }
}
