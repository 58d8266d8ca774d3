//! Signature verification of deliveries, on the client, against the exact
//! bytes that arrived.

use hookhole_relay::settings::{self, UsageError};
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::Delivery;
use hookhole_shared::signature::preset::Preset;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Registry, Request, Verdict, verify};
use std::path::Path;

/// The built-in schemes plus the `[[preset]]` tables of the config file
/// (same schema as `shared/src/signature/presets.json`).
pub fn registry(config_file: Option<&Path>) -> Result<Registry, UsageError> {
    let user: Vec<Preset> = settings::load_section(config_file, "preset")?;
    Registry::with_user_presets(user)
        .map_err(|e| UsageError(format!("[[preset]] in the config file: {e}")))
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
