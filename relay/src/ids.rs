//! Random identifiers: delivery ids and relay-assigned channel names.

/// RFC 4648 base32 alphabet in lowercase: valid in channel names and URLs.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn random_base32<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // The OS random source failing is unrecoverable for a server that hands out
    // unguessable names; better to stop than to hand out predictable ones.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    let mut out = String::with_capacity(N * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// A 128-bit channel name (26 characters): unguessable, so a URL nobody was
/// told cannot be found by scanning.
pub fn channel_name() -> String {
    random_base32::<16>()
}

/// A 40-bit name (8 characters) for a relay in a cluster that was not
/// given one: distinct among a cluster's nodes, not a secret.
pub fn short_name() -> String {
    random_base32::<5>()
}

/// An 80-bit delivery id (16 characters).
pub fn delivery_id() -> String {
    random_base32::<10>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_are_valid_and_distinct() {
        let a = channel_name();
        let b = channel_name();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        hookhole_shared::channel::validate(&a).unwrap();
        assert_eq!(delivery_id().len(), 16);
    }
}
