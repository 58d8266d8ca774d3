//! The events `hookhole trigger` can send: curated ones with realistic
//! headers and payloads (`events.json`, `samples/`), plus a `PROVIDER.test`
//! event for every other provider we verify, so each one can be tried.

use hookhole_shared::headers::Header;
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::preset::{Preset, TimestampSource, TimestampUnit};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Sample payloads, byte for byte as providers document them.
const SAMPLES: &[(&str, &str)] = &[
    (
        "generic-resource.updated.json",
        include_str!("samples/generic-resource.updated.json"),
    ),
    (
        "maestra-customer.updated.json",
        include_str!("samples/maestra-customer.updated.json"),
    ),
    (
        "malomo-orders.created.json",
        include_str!("samples/malomo-orders.created.json"),
    ),
    (
        "maple-convoy-order.created.json",
        include_str!("samples/maple-convoy-order.created.json"),
    ),
    (
        "maple-order.notification.json",
        include_str!("samples/maple-order.notification.json"),
    ),
    (
        "maple-order.validation_requested.json",
        include_str!("samples/maple-order.validation_requested.json"),
    ),
    (
        "maple-webhook.test.json",
        include_str!("samples/maple-webhook.test.json"),
    ),
];

/// A provider name that is not a signature scheme: the event is sent unsigned.
pub const UNSIGNED: &str = "none";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// `PROVIDER.EVENT`, e.g. `stripe.payment_intent.succeeded`.
    pub name: String,
    /// The signing scheme's provider id, or `none`.
    pub provider: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub description: String,
    #[serde(default = "post")]
    pub method: String,
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    #[serde(default)]
    pub body_text: Option<String>,
    #[serde(default)]
    pub sample: Option<String>,
    /// Secret settings this event needs unless the secret has them
    /// (`header` for generic).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

fn post() -> String {
    "POST".to_string()
}

/// Values for one rendering of an event.
#[derive(Debug, Clone)]
pub struct Fill {
    /// Unix seconds: the event's time (now, or earlier with `--age`).
    pub now: i64,
    pub event_id: String,
    pub uuid: String,
}

impl Fill {
    pub fn new(now: i64) -> Self {
        let mut bytes = [0u8; 24];
        // Without randomness ids repeat, which is harmless for a test event.
        let _ = getrandom::fill(&mut bytes);
        let event_id: String = bytes[..12]
            .iter()
            .map(|b| char::from(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"[usize::from(b % 32)]))
            .collect();
        // A version-4 UUID from the last 16 bytes (RFC 9562 version and variant bits).
        let mut u = [0u8; 16];
        u.copy_from_slice(&bytes[8..24]);
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        let h = hex::encode(u);
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        Fill {
            now,
            event_id,
            uuid,
        }
    }

    /// Replaces `{{now}}`, `{{now_ms}}`, `{{now_iso}}`, `{{event_id}}`,
    /// `{{uuid}}`; a numeric placeholder that is a whole JSON string
    /// (`"{{now}}"`) becomes a JSON number.
    fn render(&self, text: &str) -> String {
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
    }
}

impl Event {
    /// The headers and body to send, placeholders filled.
    pub fn render(&self, fill: &Fill) -> Result<(Vec<Header>, Vec<u8>), String> {
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| Header::new(n.to_ascii_lowercase(), fill.render(v)))
            .collect();
        let raw = match (&self.body, &self.body_text, &self.sample) {
            (Some(json), _, _) => json.to_string(),
            (_, Some(text), _) => text.clone(),
            (_, _, Some(name)) => SAMPLES
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, text)| (*text).to_string())
                .ok_or_else(|| format!("event {}: no sample named {name}", self.name))?,
            _ => String::new(),
        };
        Ok((headers, fill.render(&raw).into_bytes()))
    }

    /// The preset that signs this event, if any.
    pub fn preset<'r>(&self, registry: &'r Registry) -> Option<&'r Preset> {
        let of_provider = || registry.presets().iter().filter(|p| p.id == self.provider);
        of_provider()
            .find(|p| p.variant == self.variant)
            .or_else(|| of_provider().next())
    }
}

/// A `PROVIDER.test` event for a provider with no curated event: a small
/// JSON body (with the body timestamp the scheme reads, if any).
fn default_event(preset: &Preset) -> Event {
    let mut body = serde_json::json!({
        "id": "evt_{{event_id}}",
        "type": "test.event",
        "created_at": "{{now_iso}}",
        "data": { "message": "Test webhook from hookhole trigger", "provider": preset.id },
    });
    if let Some(rule) = &preset.timestamp
        && let TimestampSource::Body(field) = &rule.source
    {
        body[field.as_str()] = serde_json::Value::String(match rule.unit {
            TimestampUnit::Ms => "{{now_ms}}".into(),
            TimestampUnit::Rfc3339 => "{{now_iso}}".into(),
            TimestampUnit::S | TimestampUnit::Raw => "{{now}}".into(),
        });
    }
    Event {
        name: format!("{}.test", preset.id),
        provider: preset.id.clone(),
        variant: preset.variant.clone(),
        description: format!("A test event signed like {}", preset.name),
        method: post(),
        headers: vec![
            ("User-Agent".into(), "hookhole-trigger".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: Some(body),
        body_text: None,
        sample: None,
        params: BTreeMap::new(),
    }
}

/// Every event: the curated ones, then one per remaining provider.
pub fn catalogue(registry: &Registry) -> Vec<Event> {
    let mut events: Vec<Event> =
        serde_json::from_str(include_str!("events.json")).unwrap_or_default();
    let mut seen: Vec<String> = events.iter().map(|e| e.provider.clone()).collect();
    // A sender that does not sign has no signed test event to offer.
    for preset in registry.presets().iter().filter(|p| !p.facts_only) {
        if !seen.contains(&preset.id) {
            seen.push(preset.id.clone());
            events.push(default_event(preset));
        }
    }
    events
}

/// Finds `PROVIDER.EVENT`, or the first event of `PROVIDER`.
pub fn find<'a>(events: &'a [Event], wanted: &str) -> Result<&'a Event, String> {
    events
        .iter()
        .find(|e| e.name == wanted)
        .or_else(|| events.iter().find(|e| e.provider == wanted))
        .or_else(|| {
            events
                .iter()
                .find(|e| e.name.starts_with(&format!("{wanted}.")))
        })
        .ok_or_else(|| {
            let near: Vec<&str> = events
                .iter()
                .filter(|e| {
                    e.name
                        .starts_with(wanted.split('.').next().unwrap_or_default())
                })
                .map(|e| e.name.as_str())
                .take(5)
                .collect();
            if near.is_empty() {
                format!("no event {wanted:?}; `hookhole trigger --list` shows them")
            } else {
                format!("no event {wanted:?}; did you mean {}?", near.join(", "))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curated_events_parse_and_every_provider_has_one() {
        let curated: Vec<Event> = serde_json::from_str(include_str!("events.json")).unwrap();
        assert!(curated.len() >= 20);
        let registry = Registry::builtin();
        let all = catalogue(&registry);
        for preset in registry.presets().iter().filter(|p| !p.facts_only) {
            assert!(all.iter().any(|e| e.provider == preset.id), "{}", preset.id);
        }
        for event in &all {
            let (_, body) = event.render(&Fill::new(1_767_225_600)).unwrap();
            if event.provider != UNSIGNED {
                assert!(event.preset(&registry).is_some(), "{}", event.name);
            }
            let text = String::from_utf8(body).unwrap();
            assert!(!text.contains("{{"), "{}: unfilled placeholder", event.name);
        }
    }

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

    #[test]
    fn lookup_by_name_provider_or_prefix() {
        let all = catalogue(&Registry::builtin());
        assert_eq!(
            find(&all, "stripe").unwrap().name,
            "stripe.payment_intent.succeeded"
        );
        assert_eq!(find(&all, "maple.webhook.test").unwrap().provider, "maple");
        assert_eq!(
            find(&all, "acmepay").unwrap_err(),
            "no event \"acmepay\"; `hookhole trigger --list` shows them"
        );
        assert!(
            find(&all, "stripe.nope")
                .unwrap_err()
                .contains("did you mean")
        );
    }
}
