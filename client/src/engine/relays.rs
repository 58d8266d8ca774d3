//! The relays a client may use, and which one the next attempt goes to.
//!
//! The client connects to the first relay of its list. Whenever a link is
//! lost or an attempt fails, the next attempt goes to the next relay, round
//! robin, after the usual backoff: a relay that is down costs one attempt
//! per round, and the backoff still spaces out the attempts when they all
//! are down.
//!
//! A relay that closes the link with "going away" (close code 1001) is
//! shutting down on purpose (an upgrade, a node taken out of a cluster):
//! with more than one relay the client moves to the next one at once. So
//! that two relays cannot bounce a client between them as fast as the
//! network allows (each welcoming it and going away at once), the quick
//! moves without a settled link in between are limited to one round of the
//! other relays; after that the backoff applies again. With one relay,
//! going away waits out the backoff like any other loss: there is nowhere
//! else to go, and the relay is restarting.

use std::time::Duration;

/// A link that lasted this long was a real one: the relay going away
/// after it is a restart, not a relay bouncing the client. Short enough
/// that a rolling restart (nodes restarted one after another, each taking
/// seconds to drain) finds every link settled.
pub const SETTLED: Duration = Duration::from_secs(5);

/// One relay the client may connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The base URL as the user gave it (`http://`, `https://`, `ws://`,
    /// `wss://`), checked at start.
    pub url: String,
    /// Under which key a channel this relay assigns is remembered: its URL,
    /// or `embedded` for the embedded relay, whose port may change between
    /// runs.
    pub memory_key: String,
}

impl Relay {
    /// A relay known by its URL (the channel it assigns is remembered under
    /// the URL, without a trailing `/`).
    pub fn new(url: impl Into<String>) -> Relay {
        let url = url.into();
        Relay {
            memory_key: url.trim_end_matches('/').to_string(),
            url,
        }
    }

    /// The URL as the user reads it: without a trailing `/`, and without any
    /// user name or password it carries, which must not reach a log or the
    /// screen.
    pub fn name(&self) -> String {
        let url = self.url.trim_end_matches('/');
        // Checked at start: a URL that does not parse never gets here.
        let Ok(uri) = url.parse::<http::Uri>() else {
            return url.to_string();
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return url.to_string();
        };
        let host = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host)| host);
        let path = uri.path_and_query().map_or("", |p| p.as_str());
        let path = if path == "/" { "" } else { path };
        format!("{scheme}://{host}{path}")
    }
}

/// How a link (or an attempt at one) ended, as far as choosing the next
/// relay goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The relay could not be reached, or the handshake failed.
    Unreachable,
    /// The link was lost after `lasted`.
    Lost { lasted: Duration },
    /// The relay closed the link with "going away" after `lasted`.
    GoingAway { lasted: Duration },
}

/// When the next attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// At once: the relay left was going away, and another is there.
    AtOnce,
    /// After the backoff delay.
    Backoff,
}

/// The list, where the next attempt goes, and how many quick moves were
/// made since a link last settled.
#[derive(Debug)]
pub struct Rotation {
    relays: Vec<Relay>,
    /// Each relay's websocket URL, in the same order.
    urls: Vec<String>,
    current: usize,
    quick_moves: usize,
}

impl Rotation {
    /// Checks every URL before the first attempt (a bad one late in the
    /// list must not surface only when the first relay fails); an empty
    /// list has nothing to connect to.
    pub fn new(relays: Vec<Relay>) -> Result<Rotation, String> {
        if relays.is_empty() {
            return Err("no relay to connect to".to_string());
        }
        let urls = relays
            .iter()
            .map(|relay| {
                super::connect_url(&relay.url)
                    .map_err(|why| format!("--relay {}: {why}", relay.name()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Rotation {
            relays,
            urls,
            current: 0,
            quick_moves: 0,
        })
    }

    /// The relay the next attempt goes to.
    pub fn current(&self) -> &Relay {
        &self.relays[self.current]
    }

    /// Its websocket URL.
    pub fn connect_url(&self) -> &str {
        &self.urls[self.current]
    }

    /// Moves on to the next relay after the current one's link or attempt
    /// ended so; says whether the next attempt may skip the backoff.
    pub fn advance(&mut self, ending: Ending) -> Pace {
        let others = self.relays.len() - 1;
        self.current = (self.current + 1) % self.relays.len();
        let lasted = match ending {
            Ending::Unreachable => Duration::ZERO,
            Ending::Lost { lasted } | Ending::GoingAway { lasted } => lasted,
        };
        if lasted >= SETTLED {
            self.quick_moves = 0;
        }
        match ending {
            Ending::GoingAway { .. } if self.quick_moves < others => {
                self.quick_moves += 1;
                Pace::AtOnce
            }
            _ => Pace::Backoff,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(urls: &[&str]) -> Rotation {
        Rotation::new(urls.iter().map(|u| Relay::new(*u)).collect()).unwrap()
    }

    const LONG: Duration = SETTLED;
    const SHORT: Duration = Duration::from_millis(10);

    #[test]
    fn every_loss_or_failure_moves_to_the_next_relay_in_turn() {
        let mut r = rotation(&["http://a", "http://b", "http://c"]);
        assert_eq!(r.current().url, "http://a");
        let mut seen = Vec::new();
        for ending in [
            Ending::Unreachable,
            Ending::Lost { lasted: LONG },
            Ending::Unreachable,
            Ending::Lost { lasted: SHORT },
        ] {
            assert_eq!(r.advance(ending), Pace::Backoff);
            seen.push(r.current().url.clone());
        }
        assert_eq!(seen, ["http://b", "http://c", "http://a", "http://b"]);
    }

    #[test]
    fn going_away_moves_at_once_when_there_is_another_relay() {
        let mut r = rotation(&["http://a", "http://b"]);
        assert_eq!(r.advance(Ending::GoingAway { lasted: SHORT }), Pace::AtOnce);
        assert_eq!(r.current().url, "http://b");
        // A rolling restart: b settled, then went away too.
        assert_eq!(r.advance(Ending::GoingAway { lasted: LONG }), Pace::AtOnce);
        assert_eq!(r.current().url, "http://a");
    }

    #[test]
    fn with_one_relay_going_away_waits_out_the_backoff() {
        let mut r = rotation(&["http://a"]);
        for _ in 0..3 {
            assert_eq!(r.advance(Ending::GoingAway { lasted: LONG }), Pace::Backoff);
            assert_eq!(r.current().url, "http://a");
        }
    }

    #[test]
    fn relays_that_keep_going_away_at_once_cannot_bounce_the_client_fast() {
        let mut r = rotation(&["http://a", "http://b", "http://c"]);
        let quick = Ending::GoingAway { lasted: SHORT };
        // One round of the other relays at once, then the backoff...
        assert_eq!(r.advance(quick), Pace::AtOnce);
        assert_eq!(r.advance(quick), Pace::AtOnce);
        assert_eq!(r.advance(quick), Pace::Backoff);
        assert_eq!(r.advance(quick), Pace::Backoff);
        // ...failures in between do not start a new round...
        assert_eq!(r.advance(Ending::Unreachable), Pace::Backoff);
        assert_eq!(r.advance(quick), Pace::Backoff);
        // ...a link that settled does.
        assert_eq!(r.advance(Ending::GoingAway { lasted: LONG }), Pace::AtOnce);
        assert_eq!(r.advance(quick), Pace::AtOnce);
        assert_eq!(r.advance(quick), Pace::Backoff);
    }

    #[test]
    fn an_empty_list_or_a_bad_url_has_no_rotation() {
        assert_eq!(
            Rotation::new(Vec::new()).unwrap_err(),
            "no relay to connect to"
        );
        let error = Rotation::new(vec![Relay::new("http://a"), Relay::new("http://b:0")]);
        assert_eq!(
            error.unwrap_err(),
            r#"--relay http://b:0: invalid port "0": expected 1 to 65535"#
        );
        let r = rotation(&["http://a/", "https://b"]);
        assert_eq!(r.connect_url(), "ws://a/_hookhole/connect");
    }

    #[test]
    fn names_leave_out_credentials_and_the_trailing_slash() {
        let name = |url: &str| Relay::new(url).name();
        assert_eq!(name("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
        assert_eq!(
            name("https://user:pass@relay.example.com:8443/prefix/"),
            "https://relay.example.com:8443/prefix"
        );
        assert_eq!(
            name("wss://a@b@relay.example.com"),
            "wss://relay.example.com"
        );
        // A `@` after the authority is not user info.
        assert_eq!(name("http://relay?x@evil"), "http://relay?x@evil");
        assert_eq!(Relay::new("http://x/").memory_key, "http://x");
    }
}
