//! Channel names: the first path segment of a webhook URL.
//!
//! `[a-z0-9-]{1,63}`: safe in a URL path and a DNS label without escaping, and
//! never starting with `_`, which keeps `/_hookhole/...` free for the relay.

/// Longest channel name (a DNS label's limit, so names could become subdomains).
pub const MAX_LEN: usize = 63;

/// Why a channel name was refused; the text is shown to users as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelNameError {
    #[error("channel name is empty")]
    Empty,
    #[error("channel name is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("channel name may only contain a-z, 0-9 and '-' (found {0:?})")]
    BadChar(char),
}

/// Checks a channel name against `[a-z0-9-]{1,63}`.
pub fn validate(name: &str) -> Result<(), ChannelNameError> {
    if name.is_empty() {
        return Err(ChannelNameError::Empty);
    }
    if name.len() > MAX_LEN {
        return Err(ChannelNameError::TooLong);
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        Some(c) => Err(ChannelNameError::BadChar(c)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["a", "stripe-dev", "0", &"x".repeat(63)] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_invalid_names() {
        assert_eq!(validate(""), Err(ChannelNameError::Empty));
        assert_eq!(validate(&"x".repeat(64)), Err(ChannelNameError::TooLong));
        assert_eq!(validate("_hookhole"), Err(ChannelNameError::BadChar('_')));
        assert_eq!(validate("Stripe"), Err(ChannelNameError::BadChar('S')));
        assert_eq!(validate("a/b"), Err(ChannelNameError::BadChar('/')));
        assert_eq!(validate("é"), Err(ChannelNameError::BadChar('é')));
    }
}
