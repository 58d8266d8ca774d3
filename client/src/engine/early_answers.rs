//! The relay's notices that it answered a sender itself
//! ([`RelayMessage::Answered`]), matched to the deliveries this session is
//! still forwarding, so each is saved with what its sender heard.
//!
//! The session registers a delivery ([`EarlyAnswers::expect`]) before it
//! starts handling it, when a notice may come (answer mode `within`, or a
//! delivery the relay answered already), and the notice, which comes after
//! the delivery on the same ordered link, marks it. The delivery's task takes the mark
//! just before it saves the delivery ([`Expected::take`]); from then on a
//! notice for it finds nothing. That happens under `within` when the local
//! answer comes at the moment the wait runs out (the client saved it as
//! the relay answered `202`): the history then keeps the local answer, and
//! the notice is logged. The gap is milliseconds wide; closing it would
//! need a record that amends a saved delivery, which the log does not
//! have.
//!
//! Only ids registered here are kept, and each only while its delivery is
//! in flight: a relay's notices for other ids cost a lookup, never memory.
//!
//! [`RelayMessage::Answered`]: hookhole_shared::protocol::RelayMessage::Answered

use crate::delivery::{RelayAnswered, SenderHeard};
use hookhole_shared::protocol::Answer;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a notice said: the status the sender got, and the `within` wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Notice {
    status: u16,
    wait_ms: Option<u64>,
}

/// The deliveries in flight whose sender the relay may answer (cheap to
/// clone: one table per session).
#[derive(Clone, Default)]
pub(super) struct EarlyAnswers {
    in_flight: Arc<Mutex<HashMap<String, Option<Notice>>>>,
}

impl EarlyAnswers {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Notice>>> {
        // Inserts and removes only: a panic elsewhere leaves it consistent.
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers delivery `id`, about to be handled, when a notice about
    /// it may come: the relay answered it already (`now`: the notice gives
    /// the status), or the mode in force is `within`. Under `local` none
    /// comes, and the common path takes no lock. Dropping the handle
    /// forgets it.
    pub(super) fn expect(&self, id: &str, in_force: Answer, answered: bool) -> Expected {
        let noticed = answered || matches!(in_force, Answer::Within { .. });
        if noticed {
            self.table().insert(id.to_string(), None);
        }
        Expected {
            table: self.clone(),
            id: noticed.then(|| id.to_string()),
        }
    }

    /// The relay says it answered delivery `id`'s sender with `status`;
    /// false when that delivery is not in flight (saved already, or never
    /// sent to this session).
    pub(super) fn answered(&self, id: &str, status: u16, wait_ms: Option<u64>) -> bool {
        match self.table().get_mut(id) {
            Some(slot) => {
                *slot = Some(Notice { status, wait_ms });
                true
            }
            None => false,
        }
    }
}

/// A delivery registered in [`EarlyAnswers`].
pub(super) struct Expected {
    table: EarlyAnswers,
    /// `None` once taken: the drop that follows has nothing to remove.
    id: Option<String>,
}

impl Expected {
    /// What the sender heard, as it is known just before the delivery is
    /// saved: the delivery frame's `queued`/`answered` marks, with the
    /// status a notice gave; a notice alone means the `within` wait ran
    /// out. No notice can change it after this.
    pub(super) fn take(mut self, queued: bool, answered: bool) -> SenderHeard {
        let notice = self
            .id
            .take()
            .and_then(|id| self.table.table().remove(&id))
            .flatten();
        match (SenderHeard::on_arrival(queued, answered), notice) {
            (SenderHeard::Relay { why, .. }, Some(n)) if why == RelayAnswered::AnswerNow => {
                SenderHeard::Relay {
                    status: n.status,
                    why,
                }
            }
            (SenderHeard::Local, Some(n)) => SenderHeard::Relay {
                status: n.status,
                why: RelayAnswered::AnswerWithin { wait_ms: n.wait_ms },
            },
            (on_arrival, _) => on_arrival,
        }
    }
}

impl Drop for Expected {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            self.table.table().remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(status: u16, why: RelayAnswered) -> SenderHeard {
        SenderHeard::Relay { status, why }
    }

    const WITHIN: Answer = Answer::Within { wait_ms: 300 };

    #[test]
    fn a_notice_before_the_save_marks_the_delivery() {
        let early = EarlyAnswers::default();
        let live = early.expect("d1", WITHIN, false);
        assert!(early.answered("d1", 202, Some(300)));
        let within = RelayAnswered::AnswerWithin { wait_ms: Some(300) };
        assert_eq!(live.take(false, false), relay(202, within));

        // Under `now` the notice gives the status the sender got.
        let now = early.expect("d2", Answer::NOW, true);
        assert!(early.answered("d2", 204, None));
        assert_eq!(now.take(false, true), relay(204, RelayAnswered::AnswerNow));
    }

    #[test]
    fn without_a_notice_the_delivery_frame_decides() {
        let early = EarlyAnswers::default();
        assert_eq!(
            early.expect("d1", WITHIN, false).take(false, false),
            SenderHeard::Local
        );
        assert_eq!(
            early.expect("d2", Answer::NOW, true).take(false, true),
            relay(202, RelayAnswered::AnswerNow)
        );
        assert_eq!(
            early.expect("d3", Answer::Local, false).take(true, false),
            relay(202, RelayAnswered::Queued)
        );
    }

    /// The known gap: a notice after the save changes nothing, and nothing
    /// is kept for it.
    #[test]
    fn a_notice_after_the_save_or_for_an_unknown_id_is_not_kept() {
        let early = EarlyAnswers::default();
        let live = early.expect("d1", WITHIN, false);
        assert_eq!(live.take(false, false), SenderHeard::Local);
        assert!(!early.answered("d1", 202, Some(300)));
        assert!(!early.answered("never-sent", 202, None));
        let dropped = early.expect("d2", WITHIN, false);
        drop(dropped);
        assert!(!early.answered("d2", 202, None));
        assert!(early.table().is_empty());
    }

    /// Under `local` no notice can come: nothing is registered (no lock on
    /// the common path), and a stray notice finds nothing.
    #[test]
    fn under_local_nothing_is_registered() {
        let early = EarlyAnswers::default();
        let live = early.expect("d1", Answer::Local, false);
        assert!(early.table().is_empty());
        assert!(!early.answered("d1", 202, Some(300)));
        assert_eq!(live.take(false, false), SenderHeard::Local);
    }
}
