//! The one place that runs the schemes written as code ([`Custom`]): how
//! each is found, verified and signed, and what it covers. The modules
//! beside this one (`twilio`, `plivo`, `mailgun`, `adyen`, `jwt`) hold the
//! schemes themselves; everything else asks through here.

use super::schema::{Custom, Direction, Preset};
use super::secret::Secret;
use super::sign::{Signed, Signing};
use super::{Attempt, Request, adyen, jwt, mailgun, plivo, twilio};
use crate::headers::Header;

impl Custom {
    /// Whether the scheme is found and checked by its code alone: the
    /// preset's header, template and key settings do not apply (a JWT
    /// preset still names its header and claims).
    pub fn is_code_only(self) -> bool {
        match self {
            Custom::Twilio | Custom::Mailgun | Custom::Adyen | Custom::Plivo => true,
            Custom::JwtHs256 => false,
        }
    }

    /// For a code-only scheme, whether its signature is on the request (a
    /// JWT is found by its preset's header, not here).
    pub(super) fn finds(self, request: &Request<'_>) -> bool {
        match self {
            Custom::Twilio => twilio::is_present(request),
            Custom::Mailgun => mailgun::is_present(request),
            Custom::Adyen => adyen::is_present(request),
            Custom::Plivo => plivo::is_present(request),
            Custom::JwtHs256 => false,
        }
    }

    pub(super) fn verify(
        self,
        preset: &Preset,
        request: &Request<'_>,
        secret: &Secret,
        now: i64,
    ) -> Attempt {
        match self {
            Custom::Twilio => twilio::verify(request, secret),
            Custom::Mailgun => mailgun::verify(request, secret, now),
            Custom::Adyen => adyen::verify(request, secret),
            Custom::Plivo => plivo::verify(request, secret),
            Custom::JwtHs256 => jwt::verify(preset, request, secret, now),
        }
    }

    /// What the provider would send: the headers to add and the body
    /// (Mailgun and Adyen put their signatures inside it).
    pub(super) fn sign(
        self,
        preset: &Preset,
        secret: &Secret,
        signing: &Signing<'_>,
    ) -> Result<Signed, String> {
        // What URL-signing schemes (Twilio, Plivo) sign.
        let request = Request {
            method: "POST",
            url: signing.url,
            headers: signing.headers,
            body: signing.body,
        };
        let headers = |headers: Vec<Header>| Signed {
            headers,
            body: signing.body.to_vec(),
        };
        let body = |body: Vec<u8>| Signed {
            headers: Vec::new(),
            body,
        };
        Ok(match self {
            Custom::JwtHs256 => {
                let token = jwt::sign(preset, secret, signing.body, signing.timestamp);
                let prefix = preset.prefix.as_deref().unwrap_or("");
                Signed::in_header(preset, format!("{prefix}{token}"), signing.body)
            }
            Custom::Twilio => {
                Signed::in_header(preset, twilio::sign(&request, secret)?, signing.body)
            }
            Custom::Plivo => headers(
                plivo::sign(&request, secret, signing.id)?
                    .into_iter()
                    .map(|(name, value)| Header::new(name.to_ascii_lowercase(), value))
                    .collect(),
            ),
            Custom::Adyen => body(adyen::sign(signing.body, secret)?),
            Custom::Mailgun => body(mailgun::sign(
                signing.body,
                secret,
                signing.timestamp,
                signing.id,
            )?),
        })
    }

    /// Whether changing a body byte breaks the signature.
    pub(super) fn covers_body(self, preset: &Preset) -> bool {
        match self {
            Custom::JwtHs256 => preset.jwt_body_hash_claim.is_some(),
            // Mailgun signs timestamp + token; Adyen eight fields of each
            // item, not the rest.
            Custom::Mailgun | Custom::Adyen => false,
            // Form bodies are covered (decoded): what hookhole trigger sends.
            Custom::Twilio | Custom::Plivo => true,
        }
    }

    /// Seconds after signing when a signature is reported `expired`, if it
    /// ever is.
    pub(super) fn expires_after(self) -> Option<i64> {
        match self {
            Custom::JwtHs256 => Some(jwt::LIFETIME_S),
            Custom::Mailgun => Some(mailgun::TOLERANCE_S),
            Custom::Twilio | Custom::Adyen | Custom::Plivo => None,
        }
    }

    /// The timestamp window the scheme checks on its own (not through a
    /// preset's timestamp rule): Mailgun's.
    pub fn window(self) -> Option<(i64, Direction)> {
        match self {
            Custom::Mailgun => Some((mailgun::TOLERANCE_S, Direction::PastOnly)),
            Custom::Twilio | Custom::Adyen | Custom::Plivo | Custom::JwtHs256 => None,
        }
    }

    /// Where in the body the signature travels, for schemes with no header.
    pub fn body_field(self) -> Option<&'static str> {
        match self {
            Custom::Mailgun => Some("signature"),
            Custom::Adyen => Some("additionalData.hmacSignature"),
            Custom::Twilio | Custom::Plivo | Custom::JwtHs256 => None,
        }
    }

    /// What identifies the scheme in messages, when not its preset's header.
    pub(super) fn header_label(self) -> Option<&'static str> {
        match self {
            Custom::Plivo => Some("X-Plivo-Signature-V3 or -V2"),
            _ if self.body_field().is_some() => Some("signature in the body"),
            _ => None,
        }
    }
}
