//! Re-signing a stored request with a fresh timestamp (`R`,
//! `hookhole replay --resign`).

use super::{Replay, Request};
use crate::verification::Verifier;
use hookhole_shared::signature::sign::{Signing, sign};

/// Replaces the signature headers of `request` with fresh ones, signed at
/// `now` with the configured secret for the scheme `replay`'s delivery was
/// verified with. The message id the provider sent is kept where the scheme
/// signs one; the delivery id stands in where it sent none.
pub fn resign(
    replay: &Replay,
    request: &mut Request,
    verifier: &Verifier,
    now: i64,
) -> Result<(), String> {
    let (url, fallback_id) = (replay.url.as_str(), replay.id.as_str());
    let Request {
        method,
        headers,
        body,
        ..
    } = request;
    let scheme = replay.scheme.as_deref();
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
    *body = bytes::Bytes::from(signed.body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hookhole_shared::headers::Header;
    use hookhole_shared::signature::secret::Secret;
    use hookhole_shared::signature::sign::{Signing, sign};
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
        let replay = |scheme: &str| Replay {
            id: "e".into(),
            number: 2,
            url: "https://x/ch".into(),
            scheme: Some(scheme.into()),
            request: Request {
                method: "POST".into(),
                path: "/".into(),
                query: None,
                headers: headers.clone(),
                body: body.clone(),
            },
            mode: super::super::Mode::Resigned,
            target: None,
        };
        let stripe = replay("stripe");
        let mut request = stripe.request.clone();
        resign(&stripe, &mut request, &verifier, 5_000).unwrap();
        let Request { headers, body, .. } = &request;
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
        let fresh = verifier.check_parts("POST", "https://x/ch", headers, body, 5_000);
        assert_eq!(fresh.status, Status::Valid, "{}", fresh.reason);
        let github = replay("github");
        let err = resign(&github, &mut request, &verifier, 5_000).unwrap_err();
        assert!(err.contains("--secret github="), "{err}");
    }
}
