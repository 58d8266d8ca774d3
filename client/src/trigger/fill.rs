//! The values that fill an event's placeholders: its time and fresh ids.

/// Values for one rendering of an event.
#[derive(Debug, Clone)]
pub struct Fill {
    /// Unix seconds: the event's time (now, or earlier with `--age`).
    pub now: i64,
    pub event_id: String,
    pub uuid: String,
    /// A second UUID, for an event that has two (Shopify's event and
    /// webhook ids).
    pub uuid2: String,
}

impl Fill {
    pub fn new(now: i64) -> Self {
        let mut bytes = [0u8; 40];
        // Without randomness (a broken system) ids repeat, and the events
        // look like duplicates of each other: harmless for a test event.
        let _ = getrandom::fill(&mut bytes);
        let event_id: String = bytes[..12]
            .iter()
            .map(|b| char::from(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"[usize::from(b % 32)]))
            .collect();
        Fill {
            now,
            event_id,
            uuid: uuid_v4(&bytes[8..24]),
            uuid2: uuid_v4(&bytes[24..40]),
        }
    }

    /// The same ids at another time: the same event, sent again later.
    pub fn later(&self, now: i64) -> Fill {
        Fill {
            now,
            ..self.clone()
        }
    }

    /// One placeholder as the JSON value it renders to (`{{now}}` is a
    /// number, `{{now_iso}}` a string).
    pub fn json_value(&self, placeholder: &str) -> String {
        self.render(&format!("\"{placeholder}\""))
    }

    /// Replaces `{{now}}`, `{{now_ms}}`, `{{now_iso}}`, `{{event_id}}`,
    /// `{{uuid}}`, `{{uuid2}}`; a numeric placeholder that is a whole JSON string
    /// (`"{{now}}"`) becomes a JSON number.
    pub fn render(&self, text: &str) -> String {
        let now = self.now.to_string();
        let now_ms = (self.now * 1000).to_string();
        text.replace("\"{{now}}\"", &now)
            .replace("\"{{now_ms}}\"", &now_ms)
            .replace("{{now_ms}}", &now_ms)
            .replace(
                "{{now_iso}}",
                &hookhole_shared::signature::sign::rfc3339(self.now),
            )
            .replace("{{now}}", &now)
            .replace("{{event_id}}", &self.event_id)
            .replace("{{uuid}}", &self.uuid)
            .replace("{{uuid2}}", &self.uuid2)
    }
}

/// A version-4 UUID from 16 random bytes (RFC 9562 version and variant
/// bits).
fn uuid_v4(random: &[u8]) -> String {
    let mut u = [0u8; 16];
    u.copy_from_slice(random);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_placeholders_become_numbers() {
        let fill = Fill::new(100);
        assert_eq!(
            fill.render(r#"{"a":"{{now}}","b":"{{now}}.5","c":"{{now_ms}}"}"#),
            r#"{"a":100,"b":"100.5","c":100000}"#
        );
        assert_eq!(fill.uuid.len(), 36);
        assert_eq!(&fill.uuid[14..15], "4");
    }
}
