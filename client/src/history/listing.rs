//! The summaries of `hookhole history`: the most recent deliveries, or the
//! most recent of those a [`Selection`] picks (`--failed`, `--event GLOB`,
//! `--duplicates`, `--late`, together when combined).

use super::lookup::Files;
use super::records::Summary;
use super::store::{History, LookupError};
use crate::delivery::{self, StoredDelivery};
use crate::webhook::Webhook;
use hookhole_shared::signature::Registry;

/// Which deliveries a listing shows: those that pass every filter set.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// By [`crate::delivery::failed`].
    pub failed: bool,
    /// Whose event type matches.
    pub event: Option<crate::glob::Glob>,
    /// Whose event had arrived before.
    pub duplicates: bool,
    /// Answered after the provider's deadline.
    pub late: bool,
}

impl Selection {
    /// The failed deliveries (`--failed`).
    pub fn failed() -> Selection {
        Selection {
            failed: true,
            ..Selection::default()
        }
    }

    fn picks_all(&self) -> bool {
        !self.failed && self.event.is_none() && !self.duplicates && !self.late
    }

    fn picks(&self, d: &StoredDelivery, webhook: Option<&Webhook>) -> bool {
        (!self.failed || d.failed())
            && self.event.as_ref().is_none_or(|glob| {
                webhook
                    .and_then(|w| w.event_type.as_deref())
                    .is_some_and(|t| glob.matches(t))
            })
            && (!self.duplicates || webhook.is_some_and(Webhook::is_duplicate))
            && (!self.late || webhook.is_some_and(Webhook::is_late))
    }
}

impl History {
    /// Summaries for `hookhole history`, oldest first: the `limit` most
    /// recent of those `selection` picks; `registry` judges their webhook
    /// facts (lateness, the provider's next step).
    pub fn summaries(
        &self,
        limit: usize,
        selection: &Selection,
        registry: &Registry,
    ) -> Result<Vec<Summary>, LookupError> {
        self.fresh();
        let scan = if selection.picks_all() {
            limit
        } else {
            usize::MAX
        };
        let mut out = Vec::new();
        for pk in self.recent_pks(scan)? {
            // A listing reads no body files: they may be large, or gone.
            let (d, body_bytes) = self.load_with(pk, Files::Skip)?;
            let webhook = d.webhook(registry);
            if !selection.picks(&d, webhook.as_ref()) {
                continue;
            }
            // The attempt that decides, not one never sent after it.
            let last = delivery::deciding(&d.attempts);
            out.push(Summary {
                id: d.delivery.id.clone(),
                channel: d.channel.clone(),
                seq: d.delivery.seq,
                received_at_ms: d.delivery.received_at_ms,
                method: d.delivery.method.clone(),
                path: d.delivery.path.clone(),
                query: d.delivery.query.clone(),
                status: last.and_then(|a| a.outcome.status()),
                error: last
                    .and_then(|a| a.outcome.error())
                    .map(|(code, _)| code.to_string()),
                attempts: d.attempts.len() as u32,
                body_bytes,
                failed: d.failed(),
                signature: d.verdict.clone(),
                webhook,
                route: d.route.clone(),
                sender_heard: d.heard,
            });
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}

#[cfg(test)]
impl History {
    /// [`History::summaries`] of all or of the failed deliveries, judged by
    /// the built-in rules.
    pub fn summaries_of(&self, limit: usize, failed: bool) -> Result<Vec<Summary>, LookupError> {
        let selection = Selection {
            failed,
            ..Selection::default()
        };
        self.summaries(limit, &selection, &Registry::builtin())
    }
}
