//! The signing side: what a provider would send for a body, built from the
//! same preset the verifier uses. Tests round-trip every preset
//! through it; `hookhole trigger` and re-signed replays use it too.

use super::Request;
use super::crypto;
use super::engine::signed_content;
use super::schema::{Algorithm, Encoding, Part, Preset, TimestampSource, TimestampUnit};
use super::secret::Secret;
use crate::headers::Header;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// What to sign: the body, the public URL, the time and the message id.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub body: &'a [u8],
    pub url: &'a str,
    /// Headers the request carries anyway (`Content-Type`, event headers):
    /// signed when the template names them.
    pub headers: &'a [Header],
    /// Unix seconds to put in the timestamp, if the scheme has one.
    pub timestamp: i64,
    /// The message id, for schemes that sign one.
    pub id: &'a str,
}

/// What to send: the headers to add, and the body (Mailgun puts its
/// signature inside the body; everyone else sends it unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

impl Signed {
    /// The body unchanged, and `value` in the preset's header.
    pub(super) fn in_header(preset: &Preset, value: String, body: &[u8]) -> Signed {
        Signed {
            headers: vec![Header::new(preset.header.to_ascii_lowercase(), value)],
            body: body.to_vec(),
        }
    }
}

/// Signs a request as the provider of `preset` would, with `secret`.
/// Public-key schemes are refused: they need the provider's private key.
pub fn sign(preset: &Preset, secret: &Secret, signing: &Signing<'_>) -> Result<Signed, String> {
    let preset = preset.with_params(&secret.params)?;
    if let Some(custom) = preset.custom {
        return custom.sign(&preset, secret, signing);
    }
    let prefix = preset.prefix.as_deref().unwrap_or("");
    match preset.algorithm {
        Algorithm::Static => {
            let value = format!("{prefix}{}", secret.value);
            return Ok(Signed::in_header(&preset, value, signing.body));
        }
        Algorithm::BasicAuth => {
            let value = format!("Basic {}", STANDARD.encode(&secret.value));
            return Ok(Signed::in_header(&preset, value, signing.body));
        }
        a if !a.is_symmetric() => {
            return Err(format!(
                "{} cannot be signed here: it needs the provider's private key",
                preset.name
            ));
        }
        _ => {}
    }
    let mut headers = Vec::new();
    let ts_text = preset.timestamp.as_ref().map(|rule| match rule.unit {
        TimestampUnit::S | TimestampUnit::Raw => signing.timestamp.to_string(),
        TimestampUnit::Ms => (signing.timestamp * 1000).to_string(),
        TimestampUnit::Rfc3339 => rfc3339(signing.timestamp),
    });
    if let (Some(rule), Some(text)) = (&preset.timestamp, &ts_text)
        && let TimestampSource::Header(name) = &rule.source
    {
        headers.push(Header::new(name.to_ascii_lowercase(), text.as_str()));
    }
    if let Some(name) = &preset.id_header {
        headers.push(Header::new(name.to_ascii_lowercase(), signing.id));
    }
    // Other headers the template signs (a nonce, a delivery id): the
    // request's own when it has them, else the message id.
    for part in preset.template.parts() {
        if let Part::Header(name) = part {
            let present = headers
                .iter()
                .chain(signing.headers)
                .any(|h| h.name.eq_ignore_ascii_case(name));
            if !present {
                headers.push(Header::new(name.to_ascii_lowercase(), signing.id));
            }
        }
    }
    let mut all = signing.headers.to_vec();
    all.extend(headers.iter().cloned());
    let request = Request {
        method: "POST",
        url: signing.url,
        headers: &all,
        body: signing.body,
    };
    let content = signed_content(
        &preset,
        &request,
        secret,
        ts_text.as_deref(),
        Some(signing.id),
    )?;
    let key = crypto::decode_key(&secret.value, &preset.key_decoding)?;
    let mac = crypto::mac(preset.algorithm, &key, &content).ok_or("not a MAC scheme")?;
    let encoded = match preset.encoding {
        Encoding::Hex => hex::encode(mac),
        Encoding::Base64 => STANDARD.encode(mac),
        Encoding::Base64url => URL_SAFE_NO_PAD.encode(mac),
    };
    let signature = format!("{prefix}{encoded}");
    let value = match &preset.list {
        None => signature,
        Some(list) => {
            let sig_key = list
                .sig_keys
                .first()
                .map_or("v1", String::as_str)
                .replace('*', "1");
            let entry = format!("{sig_key}{}{signature}", list.kv_sep);
            match (&list.ts_key, &ts_text) {
                (Some(ts_key), Some(ts)) => {
                    format!("{ts_key}{}{ts}{}{entry}", list.kv_sep, list.item_sep)
                }
                _ => entry,
            }
        }
    };
    headers.push(Header::new(preset.header.to_ascii_lowercase(), value));
    Ok(Signed {
        headers,
        body: signing.body.to_vec(),
    })
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
