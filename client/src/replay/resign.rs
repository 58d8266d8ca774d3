//! Re-signing a stored request with a fresh timestamp (`R`,
//! `hookhole replay --resign`).

use crate::verification::Verifier;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::sign::{Signing, sign};

/// What identifies the request being re-signed.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub method: &'a str,
    /// The public URL the provider called.
    pub url: &'a str,
    /// The delivery id, used as the message id when the request has none.
    pub id: &'a str,
    /// The scheme its signature was verified with.
    pub scheme: Option<&'a str>,
}

/// Replaces the signature headers of a request with fresh ones, signed at
/// `now` with the configured secret for its scheme. The message id the
/// provider sent is kept where the scheme signs one.
pub fn resign(
    headers: &mut Vec<Header>,
    body: &mut Bytes,
    about: About<'_>,
    verifier: &Verifier,
    now: i64,
) -> Result<(), String> {
    let About {
        method,
        url,
        id: fallback_id,
        scheme,
    } = about;
    let scheme = scheme.ok_or("no signature scheme was detected on this delivery")?;
    let secret = verifier
        .secrets
        .iter()
        .find(|s| s.provider == scheme)
        .ok_or_else(|| format!("no secret configured for {scheme}: pass --secret {scheme}=..."))?;
    let probe = hookhole_shared::signature::Request {
        method,
        url,
        headers,
        body,
    };
    let presets = verifier.registry.presets();
    let preset = presets
        .iter()
        .filter(|p| p.id == scheme)
        .find(|p| {
            p.with_params(&secret.params)
                .is_ok_and(|e| e.is_present(&probe))
        })
        .or_else(|| presets.iter().find(|p| p.id == scheme))
        .ok_or_else(|| format!("unknown scheme {scheme}"))?;
    let id = preset
        .id_header
        .as_deref()
        .and_then(|h| probe.header(h))
        .map_or_else(|| fallback_id.to_string(), str::to_string);
    let signed = sign(
        preset,
        secret,
        &Signing {
            body,
            url,
            headers,
            timestamp: now,
            id: &id,
        },
    )?;
    headers.retain(|h| {
        !signed
            .headers
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&h.name))
    });
    headers.extend(signed.headers);
    *body = Bytes::from(signed.body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::signature::secret::Secret;
    use hookhole_shared::signature::{Registry, Status};

    #[test]
    fn an_expired_delivery_verifies_again_after_resigning() {
        let verifier = Verifier {
            registry: Registry::builtin(),
            secrets: vec![Secret::new("stripe", "whsec_resign_test")],
        };
        let preset = verifier
            .registry
            .presets()
            .iter()
            .find(|p| p.id == "stripe")
            .unwrap();
        let body = Bytes::from_static(b"{\"id\":\"evt_1\"}");
        let old = sign(
            preset,
            &verifier.secrets[0],
            &Signing {
                body: &body,
                url: "https://x/ch",
                headers: &[],
                timestamp: 1_000,
                id: "e",
            },
        )
        .unwrap();
        let mut headers = vec![Header::new("content-type", "application/json")];
        headers.extend(old.headers);
        let stale = verifier.check_parts("POST", "https://x/ch", &headers, &body, 5_000);
        assert_eq!(stale.status, Status::Expired);
        let mut body = body;
        let about = |scheme| About {
            method: "POST",
            url: "https://x/ch",
            id: "e",
            scheme,
        };
        resign(
            &mut headers,
            &mut body,
            about(Some("stripe")),
            &verifier,
            5_000,
        )
        .unwrap();
        assert_eq!(
            headers
                .iter()
                .filter(|h| h.name == "stripe-signature")
                .count(),
            1,
            "replaced, not added"
        );
        assert_eq!(
            headers[0].name, "content-type",
            "other headers kept in place"
        );
        let fresh = verifier.check_parts("POST", "https://x/ch", &headers, &body, 5_000);
        assert_eq!(fresh.status, Status::Valid, "{}", fresh.reason);
        let err = resign(
            &mut headers,
            &mut body,
            about(Some("github")),
            &verifier,
            5_000,
        )
        .unwrap_err();
        assert!(err.contains("--secret github="), "{err}");
    }
}
