//! Signature verification of deliveries, on the client, against the exact
//! bytes that arrived.

use hookhole_host::settings::{self, UsageError};
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::preset::{Preset, PresetError};
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Request, Verdict, verify};
use hookhole_shared::webhook::WebhookFacts;
use serde::Deserialize as _;
use std::path::Path;

/// The built-in schemes plus the `[[preset]]` tables of the config file
/// (same schema as `shared/src/signature/presets.json`). Each table is read
/// on its own, so a bad field is reported with the preset it is in.
pub fn registry(config_file: Option<&Path>) -> Result<Registry, UsageError> {
    let tables: Vec<toml::Table> = settings::load_section(config_file, "preset")?;
    let refused = |e: PresetError| UsageError(format!("[[preset]] in the config file: {e}"));
    let user = tables
        .into_iter()
        .enumerate()
        .map(|(index, table)| {
            let id = match table.get("id").and_then(toml::Value::as_str) {
                Some(id) => id.to_string(),
                None => format!("number {}", index + 1),
            };
            Preset::deserialize(toml::Value::Table(table)).map_err(|e| {
                let message = e
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                refused(PresetError::Invalid { id, message })
            })
        })
        .collect::<Result<Vec<Preset>, UsageError>>()?;
    Registry::with_user_presets(user).map_err(refused)
}

#[derive(Debug, Clone)]
pub struct Verifier {
    pub registry: Registry,
    pub secrets: Vec<Secret>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            registry: Registry::builtin(),
            secrets: Vec::new(),
        }
    }
}

impl Verifier {
    /// Verifies a delivery as of the moment the relay received it, so a
    /// replay later still reports whether the original was fresh.
    pub fn check(&self, delivery: &Delivery) -> Verdict {
        self.check_parts(
            &delivery.method,
            &delivery.url,
            &delivery.headers,
            &delivery.body,
            (delivery.received_at_ms / 1000) as i64,
        )
    }

    /// The verdict of a delivery and what it says about itself as a
    /// webhook, read with the rules of the provider the verdict names (else
    /// `fallback`, the listener's `--provider`); no provider, no facts.
    pub fn inspect(
        &self,
        delivery: &Delivery,
        fallback: Option<&str>,
    ) -> (Verdict, Option<WebhookFacts>) {
        let verdict = self.check(delivery);
        let facts = crate::webhook::provider_of(&verdict, fallback).map(|provider| {
            let request = Request {
                method: &delivery.method,
                url: &delivery.url,
                headers: &delivery.headers,
                body: &delivery.body,
            };
            crate::webhook::facts(&self.registry, provider, &request)
        });
        (verdict, facts)
    }

    pub fn check_parts(
        &self,
        method: &str,
        url: &str,
        headers: &[Header],
        body: &[u8],
        now: i64,
    ) -> Verdict {
        let request = Request {
            method,
            url,
            headers,
            body,
        };
        verify(&self.registry, &request, &self.secrets, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::signature::Status;

    const ACME: &str = "[[preset]]\nid = \"acme\"\nname = \"Acme\"\nsecret_hint = \"x\"\nheader = \"X-Acme-Signature\"\n";

    fn load(extra: &str) -> Result<Registry, UsageError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookhole.toml");
        std::fs::write(&path, format!("{ACME}{extra}")).unwrap();
        registry(Some(&path))
    }

    /// A bad field is refused when the table is loaded, on one line that
    /// names the preset and the field.
    #[test]
    fn a_bad_user_preset_is_refused_naming_the_preset_and_the_field() {
        let cases = [
            (
                "algorithm = \"rot13\"\n",
                "unknown variant `rot13`",
                "`algorithm`",
            ),
            (
                "key_decoding = \"rot13\"\n",
                "unknown key_decoding \"rot13\"",
                "`key_decoding`",
            ),
            (
                "template = \"{nope}.{body}\"\n",
                "unknown placeholder {nope}",
                "`template`",
            ),
            (
                "template = \"{timestamp}.{body}\"\n[preset.timestamp]\nsource = \"head:X-Ts\"\nunit = \"s\"\n",
                "timestamp source \"head:X-Ts\" must be",
                "`timestamp.source`",
            ),
            (
                "template = \"{timestamp}.{body}\"\n",
                "no timestamp rule",
                "{timestamp}",
            ),
            (
                "template = \"{timestamp}.{body}\"\n[preset.timestamp]\nsource = \"list:t\"\nunit = \"s\"\n",
                "names no ts_key",
                "list:t",
            ),
            (
                "[preset.events]\ntype = \"body:type\"\n",
                "needs a JSON pointer starting with '/'",
                "`events.type`",
            ),
            (
                "[preset.events.retries]\nattempts = 0\non = \"any_failure\"\n",
                "must be at least 1",
                "events.retries.attempts",
            ),
            (
                "[preset.events]\nid = [\"form:Sid\", \"body:x\"]\n",
                "source \"body:x\" needs a JSON pointer starting with '/'",
                "`events.id`",
            ),
            (
                "[preset.events]\nid = [\"form:Sid\"]\n",
                "write a single source as a string",
                "`events.id`",
            ),
        ];
        for (extra, says, field) in cases {
            let err = load(extra).unwrap_err().0;
            assert!(
                err.starts_with("[[preset]] in the config file: preset acme: "),
                "{extra}: {err}"
            );
            assert!(err.contains(says) && err.contains(field), "{extra}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = load("[[preset]]\nname = \"No id\"\n").unwrap_err().0;
        assert!(err.contains("preset number 2: missing field `id`"), "{err}");
    }

    /// The `[[preset]]` example of docs/events.md loads, and its facts are
    /// read from a delivery as the page says; its documented error line is
    /// the real one.
    #[test]
    fn the_events_example_of_the_docs_loads_and_reads_a_delivery() {
        let docs = include_str!("../../docs/events.md");
        let example = docs
            .split("<!-- events-example:start -->\n```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("the example is between its markers");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookhole.toml");
        std::fs::write(&path, example).unwrap();
        let registry = registry(Some(&path)).unwrap();
        let headers = [
            Header::new("x-acme-signature", "00"),
            Header::new("x-acme-delivery", "dlv_7"),
            Header::new("x-acme-attempt", "2"),
        ];
        let request = Request {
            method: "POST",
            url: "https://x.test/",
            headers: &headers,
            body: br#"{"event":{"name":"invoice","action":"paid"}}"#,
        };
        let facts = registry.webhook_facts("acme", &request).unwrap();
        assert_eq!(facts.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(facts.event_id.as_deref(), Some("dlv_7"));
        assert_eq!((facts.attempt, facts.deadline_ms), (Some(2), Some(8000)));
        let rules = registry.event_rules("acme").unwrap();
        let outcome = hookhole_shared::webhook::Outcome {
            status: Some(503),
            duration_ms: 20,
        };
        assert_eq!(
            hookhole_shared::webhook::next_step("Acme", rules, facts.attempt, &outcome).as_deref(),
            Some("Acme would retry in 2 min: attempt 3 of 6")
        );

        std::fs::write(&path, example.replace("body:/event/name", "body:type")).unwrap();
        let err = registry_error(&path);
        assert!(
            docs.contains(&err),
            "docs/events.md shows the real error: {err}"
        );
    }

    /// Form fields and an id joined from two sources, written in TOML as
    /// docs/events.md shows, read from a form delivery.
    #[test]
    fn a_user_preset_reads_form_fields_and_a_joined_id() {
        let extra =
            "[preset.events]\ntype = \"form:Status\"\nid = [\"form:Sid\", \"header:X-Env\"]\n";
        let registry = load(extra).unwrap();
        let headers = [
            Header::new("x-acme-signature", "00"),
            Header::new("content-type", "application/x-www-form-urlencoded"),
            Header::new("x-env", "live"),
        ];
        let request = Request {
            method: "POST",
            url: "https://x.test/",
            headers: &headers,
            body: b"Sid=S%201&Status=sent",
        };
        let facts = registry.webhook_facts("acme", &request).unwrap();
        assert_eq!(facts.event_type.as_deref(), Some("sent"));
        assert_eq!(facts.event_id.as_deref(), Some("S 1:live"));
    }

    fn registry_error(path: &Path) -> String {
        registry(Some(path)).unwrap_err().0
    }

    /// A user preset that loads is used as written: its template, key
    /// decoding and timestamp source, parsed once, verify a delivery.
    #[test]
    fn a_user_preset_verifies_with_its_parsed_fields() {
        let extra = "template = \"{timestamp}.{body}\"\nkey_decoding = \"base64-strip-prefix:ak_\"\n\
                     [preset.timestamp]\nsource = \"header:X-Acme-Time\"\nunit = \"s\"\ntolerance_s = 60\n";
        let registry = load(extra).unwrap();
        let key = b"acme-key-bytes";
        let mac = {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            mac.update(b"1767225590.{}");
            hex::encode(mac.finalize().into_bytes())
        };
        let headers = [
            Header::new("x-acme-time", "1767225590"),
            Header::new("x-acme-signature", mac),
        ];
        use base64::Engine as _;
        let secret = format!(
            "ak_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let verifier = Verifier {
            registry,
            secrets: vec![Secret::new("acme", secret)],
        };
        let check = |now| verifier.check_parts("POST", "https://x.test/", &headers, b"{}", now);
        let valid = check(1_767_225_600);
        assert_eq!(
            (valid.status, valid.timestamp_age_s),
            (Status::Valid, Some(10)),
            "{valid:?}"
        );
        assert_eq!(check(1_767_225_700).status, Status::Expired);
    }
}
