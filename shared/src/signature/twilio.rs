//! Twilio (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed with the account
//! auth token, over the public URL followed by the POST parameters.
//!
//! This is code rather than a preset because the signed string is not a
//! template over the raw body: form bodies are decoded and re-ordered (sorted
//! by name, then by value, exact duplicates collapsed), JSON bodies are bound
//! only through a `bodySHA256` query parameter that must be checked
//! separately, and Twilio's own SDK accepts the URL with and without its
//! port. The rules follow twilio-python's `RequestValidator`.

use super::secret::Secret;
use super::{Attempt, Request, Status};
use crate::form;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

const HEADER: &str = "X-Twilio-Signature";

/// Whether the request carries a Twilio signature.
pub(super) fn is_present(request: &Request<'_>) -> bool {
    request.header(HEADER).is_some()
}

/// Checks `X-Twilio-Signature` against the auth token in `secret`.
pub(super) fn verify(request: &Request<'_>, secret: &Secret) -> Attempt {
    let Some(header) = request.header(HEADER) else {
        return Attempt::new(Status::Unsigned, "no X-Twilio-Signature header");
    };
    let Some(signature) = BASE64.decode(header).ok().filter(|b| b.len() == 20) else {
        let reason = "X-Twilio-Signature is not the base64 of 20 bytes (an HMAC-SHA1)";
        return Attempt::new(Status::Malformed, reason);
    };
    let covered = match Covered::of(request) {
        Ok(covered) => covered,
        Err(reason) => return Attempt::new(Status::Malformed, reason),
    };
    let params = match &covered {
        Covered::Form(signed, _) => signed.as_str(),
        _ => "",
    };
    let matched = url_variants(request.url).into_iter().find(|(url, _)| {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.value.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(url.as_bytes());
        mac.update(params.as_bytes());
        mac.verify_slice(&signature).is_ok()
    });
    let what = covered.describe();
    match (matched, matches!(covered, Covered::Hashed(false))) {
        (Some((_, how)), false) => Attempt::new(
            Status::Valid,
            format!("HMAC-SHA1 matches (auth token) over {how}{what}"),
        ),
        (Some(_), true) => Attempt::new(
            Status::Invalid,
            "the signature over the URL matches, but the body does not match bodySHA256 \
             in the URL (body changed after signing?)",
        ),
        (None, _) => Attempt::new(
            Status::Invalid,
            format!(
                "no match for HMAC-SHA1 over the public URL{what}; is the URL exactly the one \
                 configured at Twilio, and the auth token the account's current one?"
            ),
        ),
    }
}

/// What the signature covers besides the URL.
enum Covered {
    /// A form POST: the decoded parameters as signed (`name` + `value`, no
    /// separators, sorted by name then value, exact repeats collapsed as in
    /// Twilio's `duplicate` vector), and how many there are.
    Form(String, usize),
    /// The URL carries `bodySHA256` (JSON bodies): the MAC covers the URL
    /// only, so the body is bound by that hash alone. Holds whether it matches.
    Hashed(bool),
    /// Neither (a GET, or a body Twilio did not bind): holds the body length.
    UrlOnly(usize),
}

impl Covered {
    fn of(request: &Request<'_>) -> Result<Covered, String> {
        // The SDKs decide on bodySHA256 before looking at the content type.
        let query = request.url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        if let Some(claimed) = query.split('&').find_map(|p| p.strip_prefix("bodySHA256=")) {
            let claimed = hex::decode(claimed)
                .ok()
                .filter(|h| h.len() == 32)
                .ok_or("bodySHA256 in the URL is not a hex SHA-256 (64 hex digits)")?;
            // A plain comparison is fine: both sides are public, no key involved.
            let digest = Sha256::digest(request.body);
            return Ok(Covered::Hashed(digest.as_slice() == claimed));
        }
        if !form::is_form_type(request.header("content-type")) {
            return Ok(Covered::UrlOnly(request.body.len()));
        }
        let mut params: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, value) in form::parse(request.body)? {
            params.entry(name).or_default().insert(value);
        }
        // Strings order by code point here, as in the SDK's Python sort.
        let pairs: Vec<String> = params
            .iter()
            .flat_map(|(name, values)| values.iter().map(move |v| format!("{name}{v}")))
            .collect();
        Ok(Covered::Form(pairs.concat(), pairs.len()))
    }

    fn describe(&self) -> String {
        match self {
            Covered::Form(_, count) => format!(" + {count} sorted form params"),
            Covered::Hashed(true) => " with bodySHA256 (the body matches it)".into(),
            Covered::Hashed(false) => " with bodySHA256 (the body does not match it)".into(),
            Covered::UrlOnly(0) => " alone".into(),
            Covered::UrlOnly(len) => format!(
                " alone (the {len}-byte body is not covered: not a form, no bodySHA256 in the URL)"
            ),
        }
    }
}

/// The URL as given, then the SDK's retries: without its port, or with the
/// scheme's default port when it has none ("sig generation on back end is
/// inconsistent"). Each comes with a label for the reason.
fn url_variants(url: &str) -> Vec<(String, String)> {
    let mut variants = vec![(url.to_string(), "the URL as given".to_string())];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    // A port is the digits after the last colon; `[::1]` has colons but no port.
    let port_colon = authority[host_start..]
        .rfind(':')
        .map(|c| host_start + c)
        .filter(|&c| authority[c + 1..].bytes().all(|b| b.is_ascii_digit()));
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => "",
    };
    if let Some(colon) = port_colon {
        let without = format!("{scheme}://{}{tail}", &authority[..colon]);
        variants.push((without, "the URL without its port".into()));
    } else if !default.is_empty() && authority.len() > host_start {
        let with = format!("{scheme}://{authority}{default}{tail}");
        variants.push((with, format!("the URL with {default} added")));
    }
    variants
}

/// The `X-Twilio-Signature` Twilio would send for this request: HMAC-SHA1
/// over the URL and (for form posts) the sorted parameters, base64.
pub(super) fn sign(request: &Request<'_>, secret: &Secret) -> Result<String, String> {
    let params = match Covered::of(request)? {
        Covered::Form(signed, _) => signed,
        _ => String::new(),
    };
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.value.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(request.url.as_bytes());
    mac.update(params.as_bytes());
    Ok(BASE64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Header;
    use crate::signature::Status::{Invalid, Malformed, Unsigned, Valid};

    // twilio-python's vectors (tests/unit/test_request_validator.py), token 12345.
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const FORM: &str = "CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";
    const SIG: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const JSON_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const JSON: &str = r#"{"property": "value", "boolean": true}"#;
    const JSON_SIG: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    /// Verifies with token 12345 (a body starting with `{` is sent as JSON,
    /// any other as a form) and checks the status and a piece of the reason.
    fn expect(url: &str, signature: &str, body: &str, status: Status, says: &str) {
        let json = body.starts_with('{');
        let content_type = if json {
            "application/json"
        } else {
            form::FORM_TYPE
        };
        let headers = [
            Header::new("Content-Type", content_type),
            Header::new("x-twilio-signature", signature),
        ];
        let body = body.as_bytes();
        let request = Request {
            method: "POST",
            url,
            headers: &headers,
            body,
        };
        let attempt = verify(&request, &Secret::new("twilio", "12345"));
        let seen = (attempt.status, attempt.reason.contains(says));
        assert_eq!(seen, (status, true), "{url}: {}", attempt.reason);
        assert!(!attempt.reason.contains("12345"));
        assert_eq!(attempt.timestamp_age_s, None);
        assert_eq!(is_present(&request), status != Unsigned);
    }

    #[test]
    fn official_vectors_and_tampered_variants() {
        let port_1234 = URL.replace(".com", ".com:1234");
        let http_1234 = port_1234.replace("https", "http");
        let duplicates = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
        let json_tampered = JSON.replace("true", "false");
        let form_tampered = FORM.replace("Digits=1234", "Digits=1235");
        let local = "http://localhost:3000/myapp.php?foo=1&bar=2";
        let bad_hash = format!("{URL}&bodySHA256=xyz");
        // Computed with Python: `+`, `%26`, UTF-8 and blank values decoded.
        let decoded = "Body=Hello+w%C3%B6rld+%26+friends+%2B1&flag&e=";
        #[rustfmt::skip]
        let cases = [
            (URL, SIG, FORM, Valid, "over the URL as given + 5 sorted form params"),
            (port_1234.as_str(), SIG, FORM, Valid, "without its port"),
            (URL, "kvajT1Ptam85bY51eRf/AJRuM3w=", FORM, Valid, "with :443 added"),
            (http_1234.as_str(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", FORM, Valid, "URL as given"),
            (URL, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", duplicates, Valid, "4 sorted form params"),
            (JSON_URL, JSON_SIG, JSON, Valid, "the body matches it"),
            (URL, "InwGkZrMTgF4M8pXE0FhIOV7oaI=", decoded, Valid, "3 sorted form params"),
            (JSON_URL, JSON_SIG, json_tampered.as_str(), Invalid, "does not match bodySHA256"),
            (URL, SIG, form_tampered.as_str(), Invalid, "no match for HMAC-SHA1"),
            (local, SIG, FORM, Invalid, "is the URL exactly the one configured"),
            (URL, "not base64!", FORM, Malformed, "base64"),
            (URL, "AAAA", FORM, Malformed, "20 bytes"),
            (URL, SIG, "a=%zz", Malformed, "'%'"),
            (URL, SIG, "a=%f", Malformed, "'%'"),
            (URL, SIG, "a=%ff", Malformed, "UTF-8"),
            (bad_hash.as_str(), SIG, "{}", Malformed, "bodySHA256"),
            (URL, " ", FORM, Unsigned, "no X-Twilio-Signature"),
        ];
        for (url, signature, body, status, says) in cases {
            expect(url, signature, body, status, says);
        }
    }

    #[test]
    fn url_variants_handle_ports_userinfo_and_ipv6() {
        #[rustfmt::skip]
        let cases = [
            ("https://a.test/p?x", "https://a.test/p?x https://a.test:443/p?x"),
            ("http://u:pw@a.test:81", "http://u:pw@a.test:81 http://u:pw@a.test"),
            ("http://[::1]/p", "http://[::1]/p http://[::1]:80/p"),
            ("http://[::1]:3000/p", "http://[::1]:3000/p http://[::1]/p"),
            ("/relative", "/relative"),
        ];
        for (url, variants) in cases {
            let seen: Vec<String> = url_variants(url).into_iter().map(|(v, _)| v).collect();
            assert_eq!(seen.join(" "), variants);
        }
    }
}
