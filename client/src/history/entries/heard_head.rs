//! What a delivery's sender heard, in its record's head: present only when
//! the relay answered it itself (`{"status":202,"why":"queued"}`, and
//! `wait_ms` under `within`). Records of the local answer, and of builds
//! before it was recorded, have none, and read back as the local answer.

use super::damaged;
use crate::delivery::{RelayAnswered, SenderHeard};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io;

#[derive(Serialize, Deserialize)]
pub(super) struct HeardHead<'a> {
    status: u16,
    why: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wait_ms: Option<u64>,
}

impl HeardHead<'static> {
    /// The head's field for `heard`: none for the local answer.
    pub(super) fn of(heard: SenderHeard) -> Option<HeardHead<'static>> {
        match heard {
            SenderHeard::Local => None,
            SenderHeard::Relay { status, why } => Some(HeardHead {
                status,
                why: Cow::Borrowed(why.as_str()),
                wait_ms: why.wait_ms(),
            }),
        }
    }
}

/// What the head says the sender heard; a reason this build does not know
/// is refused, as an unknown attempt kind is.
pub(super) fn heard(head: Option<HeardHead<'_>>) -> io::Result<SenderHeard> {
    let Some(h) = head else {
        return Ok(SenderHeard::Local);
    };
    let why = RelayAnswered::parse(&h.why, h.wait_ms).ok_or_else(|| {
        damaged(format!(
            "names an unknown reason {:?} for the relay's answer",
            super::printable(&h.why)
        ))
    })?;
    Ok(SenderHeard::Relay {
        status: h.status,
        why,
    })
}
