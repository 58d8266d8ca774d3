//! The events `hookhole trigger` can send: curated ones with realistic
//! headers and payloads (`events.json`, `samples/`), plus a `PROVIDER.test`
//! event for every other provider we verify, so each one can be tried.
//! Their placeholders are filled by [`Fill`].

pub use super::fill::Fill;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::preset::{Preset, TimestampSource, TimestampUnit};
use hookhole_shared::webhook::{EventRules, FieldSource};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Sample payloads, byte for byte as providers document them but for the
/// event ids their providers dedupe on (`{{event_id}}`, `{{uuid}}`): fresh
/// for every event sent, so that only `--duplicate` sends one event twice.
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

    /// The provider's preset for this event (its variant's), if any: the
    /// signing scheme, or the event facts of a sender that does not sign.
    pub fn preset<'r>(&self, registry: &'r Registry) -> Option<&'r Preset> {
        let of_provider = || registry.presets().iter().filter(|p| p.id == self.provider);
        of_provider()
            .find(|p| p.variant == self.variant)
            .or_else(|| of_provider().next())
    }

    /// The preset that signs this event: `None` when it is sent unsigned
    /// (provider `none`, or a sender such as Maestra that does not sign).
    pub fn signer<'r>(&self, registry: &'r Registry) -> Option<&'r Preset> {
        self.preset(registry).filter(|p| !p.facts_only)
    }
}

/// How a body timestamp in `unit` is written in a template (rendered by
/// [`Fill`]: a number for seconds and milliseconds when it is the whole
/// JSON string).
pub fn timestamp_placeholder(unit: TimestampUnit) -> &'static str {
    match unit {
        TimestampUnit::Ms => "{{now_ms}}",
        TimestampUnit::Rfc3339 => "{{now_iso}}",
        TimestampUnit::S | TimestampUnit::Raw => "{{now}}",
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
        body[field.as_str()] = timestamp_placeholder(rule.unit).into();
    }
    let mut headers = vec![
        ("User-Agent".into(), "hookhole-trigger".into()),
        ("Content-Type".into(), "application/json".into()),
    ];
    if let Some(rules) = &preset.events {
        with_facts(rules, &mut headers, &mut body);
    }
    Event {
        name: format!("{}.test", preset.id),
        provider: preset.id.clone(),
        variant: preset.variant.clone(),
        description: format!("A test event signed like {}", preset.name),
        method: post(),
        headers,
        body: Some(body),
        body_text: None,
        sample: None,
        params: BTreeMap::new(),
    }
}

/// The event's type, a fresh id and attempt 1, put where the provider's
/// rules read them, so a test event has the facts a real one has (and
/// `--duplicate` an id to repeat).
fn with_facts(rules: &EventRules, headers: &mut Vec<(String, String)>, body: &mut Value) {
    // An id joined from several fields (Adyen's eventCode:pspReference) is
    // left to the event's own body: a fresh value in each part would
    // overwrite its type.
    let id = rules.id.as_ref().and_then(|rule| rule.single());
    let facts = [
        (
            rules.event_type.as_ref(),
            "test.event",
            Value::from("test.event"),
        ),
        (id, "{{uuid}}", Value::from("evt_{{event_id}}")),
        (rules.attempt.as_ref(), "1", Value::from(1)),
    ];
    for (source, in_header, in_body) in facts {
        match source {
            Some(FieldSource::Header(name)) => {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                headers.push((name.clone(), in_header.into()));
            }
            Some(source @ FieldSource::Body(_)) => {
                let keys = source.body_keys().expect("a body source has keys");
                put(body, &keys, in_body);
            }
            // A test event's body is JSON: a form field has no place in it.
            Some(FieldSource::Form(_)) | None => {}
        }
    }
}

/// `value` at `keys` in `body`, making the objects (or, for index 0, the
/// array) on the way; left out where a value of ours is in the way.
fn put(body: &mut Value, keys: &[String], value: Value) {
    let mut at = body;
    for key in keys {
        if at.is_null() {
            *at = match key.as_str() {
                "0" => Value::Array(vec![Value::Null]),
                _ => Value::Object(serde_json::Map::new()),
            };
        }
        at = match at {
            Value::Object(map) => map.entry(key.clone()).or_insert(Value::Null),
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    *at = value;
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
            if event.provider == "maestra" {
                // Known by its provider for its facts, sent unsigned.
                assert!(event.signer(&registry).is_none(), "{}", event.name);
            }
            let text = String::from_utf8(body).unwrap();
            assert!(!text.contains("{{"), "{}: unfilled placeholder", event.name);
        }
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
