//! Noticing when the link to the relay may have died without a sound: the
//! machine slept, or its network changed (another Wi-Fi, a VPN, a cable).
//! Either can leave a websocket that looks open while nothing arrives; the
//! engine then checks the link at once instead of waiting for 45 s of
//! silence, or stops waiting out a backoff that no longer applies.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How often the clocks and addresses are looked at.
const EVERY: Duration = Duration::from_secs(1);

/// A wall clock this far ahead of the monotonic one means the machine slept
/// (monotonic clocks stop during sleep); less is scheduling noise.
const SLEEP_MIN: Duration = Duration::from_secs(3);

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Woke,
    Network,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Change::Woke => "the machine woke from sleep",
            Change::Network => "the network changed",
        })
    }
}

/// The machine's addresses, or `None` when they cannot be read (then no
/// change is reported).
pub type Addresses = Arc<dyn Fn() -> Option<BTreeSet<IpAddr>> + Send + Sync>;

/// The addresses of every interface but loopback.
pub fn interface_addresses() -> Addresses {
    Arc::new(|| {
        let interfaces = if_addrs::get_if_addrs().ok()?;
        Some(
            interfaces
                .iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .collect(),
        )
    })
}

pub struct Watch {
    addresses: Addresses,
    ticker: tokio::time::Interval,
    last: Observation,
}

/// One look at the clocks and the addresses.
struct Observation {
    wall: SystemTime,
    mono: Instant,
    addresses: Option<BTreeSet<IpAddr>>,
}

impl Watch {
    pub fn new(addresses: Addresses) -> Watch {
        let mut ticker = tokio::time::interval(EVERY);
        // After a sleep, one tick, not a burst of missed ones.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let last = Observation {
            wall: SystemTime::now(),
            mono: Instant::now(),
            addresses: addresses(),
        };
        Watch {
            addresses,
            ticker,
            last,
        }
    }

    /// Waits for the next change. Cancel-safe: dropped in a `select!`, it
    /// keeps its schedule and its last observation.
    pub async fn next(&mut self) -> Change {
        loop {
            self.ticker.tick().await;
            let now = Observation {
                wall: SystemTime::now(),
                mono: Instant::now(),
                addresses: (self.addresses)(),
            };
            if let Some(change) = self.observe(now) {
                return change;
            }
        }
    }

    /// Compares an observation with the one before, and keeps it.
    fn observe(&mut self, mut now: Observation) -> Option<Change> {
        let wall = now.wall.duration_since(self.last.wall).unwrap_or_default();
        let slept = wall > now.mono.duration_since(self.last.mono) + SLEEP_MIN;
        let moved = match (&self.last.addresses, &now.addresses) {
            (Some(a), Some(b)) => a != b,
            // Unreadable this time: the next reading is compared with the
            // last good one.
            (Some(_), None) => {
                now.addresses = self.last.addresses.take();
                false
            }
            (None, _) => false,
        };
        self.last = now;
        if slept {
            Some(Change::Woke)
        } else if moved {
            Some(Change::Network)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Option<BTreeSet<IpAddr>> {
        Some(list.iter().map(|ip| ip.parse().unwrap()).collect())
    }

    fn at(wall: SystemTime, mono: Instant, addresses: Option<BTreeSet<IpAddr>>) -> Observation {
        Observation {
            wall,
            mono,
            addresses,
        }
    }

    #[tokio::test]
    async fn a_wall_clock_jump_is_a_wake_and_new_addresses_a_network_change() {
        let (wall, mono) = (SystemTime::now(), Instant::now());
        let mut watch = Watch::new(Arc::new(|| None));
        watch.last = at(wall, mono, ips(&["192.168.1.20"]));
        let second = Duration::from_secs(1);

        // A normal tick: nothing.
        let next = at(wall + second, mono + second, ips(&["192.168.1.20"]));
        assert_eq!(watch.observe(next), None);
        // An hour of wall time in one second of monotonic time: a sleep.
        let woke = at(
            wall + Duration::from_secs(3601),
            mono + 2 * second,
            ips(&["192.168.1.20"]),
        );
        assert_eq!(watch.observe(woke), Some(Change::Woke));
        // Another Wi-Fi: another address.
        let moved = at(
            wall + Duration::from_secs(3602),
            mono + 3 * second,
            ips(&["10.0.0.7"]),
        );
        assert_eq!(watch.observe(moved), Some(Change::Network));
        // Unreadable, then the same again: no change either time.
        let blind = at(wall + Duration::from_secs(3603), mono + 4 * second, None);
        assert_eq!(watch.observe(blind), None);
        let same = at(
            wall + Duration::from_secs(3604),
            mono + 5 * second,
            ips(&["10.0.0.7"]),
        );
        assert_eq!(watch.observe(same), None);
        // A VPN coming up adds an address.
        let vpn = at(
            wall + Duration::from_secs(3605),
            mono + 6 * second,
            ips(&["10.0.0.7", "100.64.0.3"]),
        );
        assert_eq!(watch.observe(vpn), Some(Change::Network));
        // The wall clock set back (NTP): not a wake.
        let back = at(
            wall + Duration::from_secs(3000),
            mono + 7 * second,
            ips(&["10.0.0.7", "100.64.0.3"]),
        );
        assert_eq!(watch.observe(back), None);
    }

    #[test]
    fn this_machine_has_readable_addresses() {
        // Loopback is left out; whatever else there is, the call works.
        let addresses = interface_addresses()().expect("getifaddrs works here");
        assert!(addresses.iter().all(|ip| !ip.is_loopback()));
    }
}
