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
    pub event: Option<EventGlob>,
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

/// A glob on event types (`--event 'order.*'`): `*` stands for any run of
/// characters (dots too), `?` for one; letters match in either case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGlob(Vec<char>);

impl EventGlob {
    /// Longest pattern taken: event types are capped far below it.
    const MAX: usize = 1024;

    pub fn parse(text: &str) -> Result<EventGlob, String> {
        if text.is_empty() {
            return Err("give an event type or a glob, e.g. 'order.*'".into());
        }
        if text.len() > Self::MAX {
            return Err(format!(
                "a pattern of {} bytes is longer than the {}-byte limit",
                text.len(),
                Self::MAX
            ));
        }
        Ok(EventGlob(text.chars().collect()))
    }

    /// Whether `text` matches: one pass with backtracking to the last `*`
    /// only, so at most pattern × text steps.
    pub fn matches(&self, text: &str) -> bool {
        let (pattern, text): (&[char], Vec<char>) = (&self.0, text.chars().collect());
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c.eq_ignore_ascii_case(&text[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    // The last `*` takes one more character.
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        p = sp + 1;
                        t = st + 1;
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
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

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> EventGlob {
        EventGlob::parse(text).unwrap()
    }

    #[test]
    fn event_globs_match_as_documented() {
        let cases = [
            ("order.*", "order.notification", true),
            ("order.*", "order.validation_requested", true),
            ("order.*", "orders:created", false),
            ("order.*", "order", false),
            ("*.created", "maple.order.created", true),
            ("orders:created", "ORDERS:CREATED", true),
            ("order.?otification", "order.notification", true),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**x", "x", true),
            ("x", "xx", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob(pattern).matches(text), want, "{pattern} on {text}");
        }
    }

    #[test]
    fn an_empty_or_huge_pattern_is_refused() {
        let err = EventGlob::parse("").unwrap_err();
        assert!(err.contains("'order.*'"), "{err}");
        let err = EventGlob::parse(&"*".repeat(2000)).unwrap_err();
        assert!(err.contains("1024-byte limit"), "{err}");
    }

    /// The worst case a local user can write stays a bounded amount of
    /// work: pattern × text steps, not exponential.
    #[test]
    fn a_pathological_pattern_is_quick() {
        let pattern = glob(&format!("{}b", "*a".repeat(500)));
        let text = "a".repeat(256);
        let started = std::time::Instant::now();
        assert!(!pattern.matches(&text));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
