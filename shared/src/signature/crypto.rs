//! Keys and signature checks. MACs are compared with `Mac::verify_slice`
//! (constant time); public-key signatures with the curve crates' verifiers.

use super::parse::base64_lenient;
use super::schema::{Algorithm, KeyDecoding};
use hmac::{Hmac, Mac};
use std::borrow::Cow;

/// The key bytes for a secret, or why it cannot be one. A UTF-8 key is the
/// secret's own bytes, borrowed: most presets use one, on every delivery.
pub fn decode_key<'a>(secret: &'a str, decoding: &KeyDecoding) -> Result<Cow<'a, [u8]>, String> {
    let decoded = match decoding {
        KeyDecoding::Utf8 => return Ok(Cow::Borrowed(secret.as_bytes())),
        KeyDecoding::Hex => {
            hex::decode(secret.trim()).map_err(|_| "the secret is not hex".to_string())
        }
        KeyDecoding::Base64 => {
            base64_lenient(secret).ok_or_else(|| "the secret is not base64".to_string())
        }
        KeyDecoding::StripPrefixBase64(prefixes) => {
            let bare = prefixes
                .iter()
                .find_map(|p| secret.strip_prefix(p.as_str()))
                .unwrap_or(secret);
            base64_lenient(bare).ok_or_else(|| {
                format!(
                    "the secret is not {}<base64>",
                    prefixes.first().map_or("", String::as_str)
                )
            })
        }
    };
    decoded.map(Cow::Owned)
}

/// The MAC of `message` (HMAC algorithms only).
pub fn mac(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so new_from_slice cannot fail.
        let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }
    Some(match algorithm {
        Algorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, message),
        Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(key, message),
        Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(key, message),
        Algorithm::HmacMd5 => run::<Hmac<md5::Md5>>(key, message),
        // Plain digests: the key is already inside the message ({secret}).
        Algorithm::Sha1 => {
            use sha1::Digest as _;
            sha1::Sha1::digest(message).to_vec()
        }
        Algorithm::Sha256 => {
            use sha2::Digest as _;
            sha2::Sha256::digest(message).to_vec()
        }
        Algorithm::Ed25519
        | Algorithm::EcdsaP256Sha256
        | Algorithm::Static
        | Algorithm::BasicAuth => {
            return None;
        }
    })
}

/// Whether `signature` is valid for `message` under `key`, in constant time
/// for MACs.
pub fn check(algorithm: Algorithm, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    fn hmac_ok<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
        match <M as Mac>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(message);
                m.verify_slice(sig).is_ok()
            }
            Err(_) => false,
        }
    }
    match algorithm {
        Algorithm::HmacSha1 => hmac_ok::<Hmac<sha1::Sha1>>(key, message, signature),
        Algorithm::HmacSha256 => hmac_ok::<Hmac<sha2::Sha256>>(key, message, signature),
        Algorithm::HmacSha512 => hmac_ok::<Hmac<sha2::Sha512>>(key, message, signature),
        Algorithm::HmacMd5 => hmac_ok::<Hmac<md5::Md5>>(key, message, signature),
        Algorithm::Ed25519 => ed25519(key, message, signature),
        Algorithm::EcdsaP256Sha256 => ecdsa_p256(key, message, signature),
        Algorithm::Sha1 | Algorithm::Sha256 => {
            mac(algorithm, key, message).is_some_and(|digest| ct_eq(&digest, signature))
        }
        // Compared as whole header values by the engine.
        Algorithm::Static | Algorithm::BasicAuth => false,
    }
}

/// Constant-time equality: the time depends on the lengths only, never on
/// where the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn ed25519(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};
    let Ok(key_bytes) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key_bytes) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

/// `public_key` is a DER SubjectPublicKeyInfo, `signature` DER (SendGrid).
fn ecdsa_p256(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{DerSignature, VerifyingKey};
    use p256::pkcs8::DecodePublicKey;
    let Ok(key) = VerifyingKey::from_public_key_der(public_key) else {
        return false;
    };
    let Ok(sig) = DerSignature::from_bytes(signature) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

/// Whether the key can be used with the algorithm at all (a public key for
/// an HMAC preset, or a secret for Ed25519, is a configuration mismatch).
pub fn key_fits(algorithm: Algorithm, key: &[u8]) -> bool {
    match algorithm {
        Algorithm::Ed25519 => key.len() == 32,
        Algorithm::EcdsaP256Sha256 => {
            use p256::pkcs8::DecodePublicKey;
            p256::ecdsa::VerifyingKey::from_public_key_der(key).is_ok()
        }
        _ => !key.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_official_vector() {
        let sig = hex::decode("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
            .unwrap();
        let key = b"It's a Secret to Everybody";
        assert!(check(Algorithm::HmacSha256, key, b"Hello, World!", &sig));
        assert!(!check(Algorithm::HmacSha256, key, b"Hello, World?", &sig));
        assert!(!check(
            Algorithm::HmacSha256,
            key,
            b"Hello, World!",
            &sig[..31]
        ));
        assert_eq!(mac(Algorithm::HmacSha256, key, b"Hello, World!"), Some(sig));
    }

    #[test]
    fn key_decodings() {
        let d: KeyDecoding = "base64-strip-prefix:whsec_".parse().unwrap();
        assert_eq!(decode_key("whsec_AAEC", &d).unwrap(), [0, 1, 2].as_slice());
        assert_eq!(decode_key("AAEC", &d).unwrap(), [0, 1, 2].as_slice());
        assert!(decode_key("whsec_!!", &d).is_err());
        let hex = decode_key("0aff", &KeyDecoding::Hex).unwrap();
        assert_eq!(hex, [0x0a, 0xff].as_slice());
        assert_eq!(
            decode_key("k€y", &KeyDecoding::Utf8).unwrap(),
            "k€y".as_bytes()
        );
        assert!("rot13".parse::<KeyDecoding>().is_err());
        assert!("base64-strip-prefix:".parse::<KeyDecoding>().is_err());
    }

    #[test]
    fn wrong_key_shapes_are_rejected_not_panics() {
        assert!(!check(Algorithm::Ed25519, &[1, 2, 3], b"m", &[0; 64]));
        assert!(!check(
            Algorithm::EcdsaP256Sha256,
            b"not der",
            b"m",
            b"not der"
        ));
        assert!(!key_fits(Algorithm::Ed25519, &[0; 31]));
    }
}
