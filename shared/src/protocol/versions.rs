//! A relay and a client of different protocol versions: which side is
//! behind, in words both ends agree on.
//!
//! The relay closes a `hello` of another version with `4001` and a reason
//! naming both versions and the side to upgrade ([`refusal`]); an older
//! client shows that reason as it is. A client reads the relay's version
//! back out of the reason ([`relay_version`]), in this release's words or
//! in a version-1 relay's (`unsupported protocol version 2; this relay
//! speaks version 1`), and tells the user in its own words which side to
//! upgrade.

use std::cmp::Ordering;

/// The side that speaks the older protocol: the one to upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    Relay,
    Client,
}

impl Upgrade {
    /// Which side to upgrade; `None` when both speak the same version.
    pub fn between(relay: u32, client: u32) -> Option<Upgrade> {
        match relay.cmp(&client) {
            Ordering::Less => Some(Upgrade::Relay),
            Ordering::Greater => Some(Upgrade::Client),
            Ordering::Equal => None,
        }
    }
}

/// The relay's close reason (with `4001`) for a `hello` of version
/// `client`: what an older client, which knows none of this, shows.
pub fn refusal(relay: u32, client: u32) -> String {
    let upgrade = match Upgrade::between(relay, client) {
        Some(Upgrade::Client) => "upgrade hookhole (the client)",
        Some(Upgrade::Relay) | None => "upgrade the relay",
    };
    format!("this relay speaks protocol {relay} and the client {client}: {upgrade}")
}

/// The words before the relay's version in a `4001` reason: [`refusal`]'s,
/// then a version-1 relay's.
const RELAY_SPEAKS: [&str; 2] = ["this relay speaks protocol ", "this relay speaks version "];

/// The relay's protocol version, as its `4001` close reason states it.
pub fn relay_version(reason: &str) -> Option<u32> {
    RELAY_SPEAKS.iter().find_map(|words| {
        let (_, rest) = reason.split_once(words)?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a version-1 relay (every release before protocol 2) says.
    const V1_RELAY: &str = "unsupported protocol version 2; this relay speaks version 1";

    #[test]
    fn the_refusal_names_both_versions_and_the_side_to_upgrade() {
        assert_eq!(
            refusal(2, 1),
            "this relay speaks protocol 2 and the client 1: upgrade hookhole (the client)"
        );
        assert_eq!(
            refusal(2, 3),
            "this relay speaks protocol 2 and the client 3: upgrade the relay"
        );
        // The longest fits a close frame's reason (123 bytes).
        assert!(refusal(u32::MAX, u32::MAX - 1).len() <= 120);
    }

    #[test]
    fn the_relay_version_is_read_from_either_release_s_words() {
        assert_eq!(relay_version(V1_RELAY), Some(1));
        assert_eq!(relay_version(&refusal(3, 2)), Some(3));
        assert_eq!(relay_version(&refusal(2, 1)), Some(2));
    }

    #[test]
    fn a_reason_without_a_readable_version_gives_none() {
        for reason in [
            "",
            "unsupported protocol version 2",
            "this relay speaks version ",
            "this relay speaks version x",
            "this relay speaks protocol 99999999999",
            "this relay speaks protocol -1",
        ] {
            assert_eq!(relay_version(reason), None, "{reason}");
        }
    }

    #[test]
    fn the_older_side_is_the_one_to_upgrade() {
        assert_eq!(Upgrade::between(1, 2), Some(Upgrade::Relay));
        assert_eq!(Upgrade::between(2, 1), Some(Upgrade::Client));
        assert_eq!(Upgrade::between(2, 2), None);
    }
}
