//! What `--version` prints after the program's name, for both binaries:
//! the release and the protocol it speaks, `0.1.0 (protocol 2)`.
//!
//! The protocol version says which relays and clients work together (a
//! relay refuses a client of another protocol), so a user comparing two
//! installs needs it more than the release number.
//!
//! clap takes the version as a `&'static str`; the protocol version is a
//! number in `hookhole-shared`, so the text is put together by a `const fn`
//! when the crate compiles rather than typed twice.

use hookhole_shared::protocol;

/// `0.1.0 (protocol 2)`. The release is the workspace's version, which
/// every crate shares (`version.workspace = true`).
pub const VERSION: &str = match std::str::from_utf8(&TEXT) {
    Ok(text) => text,
    Err(_) => panic!("the version text is ASCII"),
};

const RELEASE: &str = concat!(env!("CARGO_PKG_VERSION"), " (protocol ");
const LEN: usize = RELEASE.len() + digits(protocol::VERSION) + 1;
const TEXT: [u8; LEN] = version_text();

const fn digits(mut n: u32) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

const fn version_text() -> [u8; LEN] {
    let mut text = [0u8; LEN];
    let release = RELEASE.as_bytes();
    let mut i = 0;
    while i < release.len() {
        text[i] = release[i];
        i += 1;
    }
    // The protocol number's digits, last first, then the closing bracket.
    let mut n = protocol::VERSION;
    let mut at = LEN - 2;
    loop {
        text[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
        at -= 1;
    }
    text[LEN - 1] = b')';
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_release_and_the_protocol() {
        let expected = format!(
            "{} (protocol {})",
            env!("CARGO_PKG_VERSION"),
            protocol::VERSION
        );
        assert_eq!(VERSION, expected);
    }

    #[test]
    fn numbers_of_any_length_are_counted() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(u32::MAX), 10);
    }
}
