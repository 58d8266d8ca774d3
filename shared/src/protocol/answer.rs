//! Answer modes: what the relay tells a webhook's sender, and when.
//!
//! A client asks for a mode in its `hello`; the relay applies one mode per
//! channel, the strictest its clients ask for ([`Answer::strictest`]), and
//! tells every client the mode in force in its `welcome` and `listeners`
//! messages. On the wire and on the command line a mode is one word:
//! `local`, `now`, `now=204`, `within=5s`, `within=500ms`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The longest `within` wait: beyond the relay's response timeout (10 s by
/// default) a `within` is `local` anyway; this only bounds a typo.
pub const MAX_WITHIN_MS: u64 = 10 * 60 * 1000;

/// How the relay answers the sender of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Answer {
    /// The local server's answer, passed through (the sender waits for it).
    #[default]
    Local,
    /// `status` (202 unless asked otherwise, always 2xx) as soon as the
    /// relay has stored the delivery; the local answer is only recorded.
    Now { status: u16 },
    /// The local answer when it comes within `wait_ms`; otherwise `202`
    /// once the relay has stored the delivery.
    Within { wait_ms: u64 },
}

/// Why a mode does not parse; the message names what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AnswerError(String);

const ACCEPTED: &str = "local, now, now=STATUS (200-299) or within=DURATION (e.g. within=5s)";

impl Answer {
    /// `202 Accepted`: the delivery was taken, its outcome comes later.
    pub const NOW: Answer = Answer::Now { status: 202 };

    /// How much of the local answer the sender can get: the higher, the
    /// stricter (`local` > `within` > `now`; a longer wait is stricter).
    fn rank(self) -> (u8, u64, u16) {
        match self {
            Answer::Now { status } => (0, 0, status),
            Answer::Within { wait_ms } => (1, wait_ms, 0),
            Answer::Local => (2, 0, 0),
        }
    }

    /// The mode in force for a channel whose clients ask for `modes`: the
    /// strictest one, so no client gets less of the local answer than it
    /// asked for. `local` when there are none.
    pub fn strictest(modes: impl IntoIterator<Item = Answer>) -> Answer {
        modes
            .into_iter()
            .max_by_key(|mode| mode.rank())
            .unwrap_or_default()
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Answer::Local => f.write_str("local"),
            Answer::Now { status: 202 } => f.write_str("now"),
            Answer::Now { status } => write!(f, "now={status}"),
            Answer::Within { wait_ms } if wait_ms % 1000 == 0 => {
                write!(f, "within={}s", wait_ms / 1000)
            }
            Answer::Within { wait_ms } => write!(f, "within={wait_ms}ms"),
        }
    }
}

/// `5s`, `500ms`, `2m` in milliseconds.
fn millis(text: &str) -> Option<u64> {
    let (digits, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1000)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60_000)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

impl FromStr for Answer {
    type Err = AnswerError;

    fn from_str(text: &str) -> Result<Answer, AnswerError> {
        let bad = |why: String| Err(AnswerError(why));
        match text.split_once('=') {
            None if text == "local" => Ok(Answer::Local),
            None if text == "now" => Ok(Answer::NOW),
            Some(("now", status)) => match status.parse::<u16>() {
                Ok(status @ 200..=299) => Ok(Answer::Now { status }),
                _ => bad(format!(
                    "now={status}: the status must be a success, 200-299"
                )),
            },
            Some(("within", wait)) => match millis(wait) {
                Some(wait_ms @ 1..=MAX_WITHIN_MS) => Ok(Answer::Within { wait_ms }),
                Some(0) => bad(format!("within={wait}: the wait must be longer than 0")),
                Some(_) => bad(format!("within={wait}: the wait is at most 10m")),
                None => bad(format!(
                    "within={wait}: not a duration (use ms, s or m, e.g. within=5s)"
                )),
            },
            _ => bad(format!("unknown answer mode {text:?}: use {ACCEPTED}")),
        }
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A mode this build does not know (from a newer peer) reads as `local`,
/// the strictest: a peer never answers a sender earlier than asked.
impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Answer, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(text.parse().unwrap_or(Answer::Local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_alike() {
        for (text, mode) in [
            ("local", Answer::Local),
            ("now", Answer::NOW),
            ("now=200", Answer::Now { status: 200 }),
            ("within=5s", Answer::Within { wait_ms: 5000 }),
            ("within=250ms", Answer::Within { wait_ms: 250 }),
        ] {
            assert_eq!(text.parse::<Answer>(), Ok(mode), "{text}");
            assert_eq!(mode.to_string(), text);
        }
        assert_eq!("within=2m".parse(), Ok(Answer::Within { wait_ms: 120_000 }));
    }

    #[test]
    fn bad_modes_say_what_is_accepted() {
        for (text, says) in [
            ("later", "unknown answer mode \"later\": use local, now"),
            ("now=500", "200-299"),
            ("now=abc", "200-299"),
            ("within=0s", "longer than 0"),
            ("within=11m", "at most 10m"),
            ("within=5", "not a duration"),
            ("within=-5s", "not a duration"),
            ("within=", "not a duration"),
            ("local=1", "unknown answer mode"),
        ] {
            let error = text.parse::<Answer>().expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_strictest_mode_is_in_force() {
        let within = |ms| Answer::Within { wait_ms: ms };
        assert_eq!(Answer::strictest([]), Answer::Local);
        assert_eq!(Answer::strictest([Answer::NOW, within(1)]), within(1));
        assert_eq!(
            Answer::strictest([within(5000), Answer::Local, Answer::NOW]),
            Answer::Local
        );
        assert_eq!(Answer::strictest([within(1), within(9)]), within(9));
    }

    #[test]
    fn an_unknown_mode_from_a_newer_peer_reads_as_local() {
        let mode: Answer = serde_json::from_str(r#""eventually""#).unwrap();
        assert_eq!(mode, Answer::Local);
        assert_eq!(serde_json::to_string(&Answer::NOW).unwrap(), r#""now""#);
    }
}
