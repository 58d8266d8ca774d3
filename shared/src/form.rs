//! `application/x-www-form-urlencoded` bodies, decoded one way for everyone
//! who reads them: the Twilio, Plivo and legacy Mailgun verifiers (which sign
//! the decoded parameters) and the event facts read from a form field
//! (`form:NAME`), so a field means the same to both.
//!
//! Decoding is strict: `+` is a space, `%XX` a byte, and a `%` not followed
//! by two hex digits or a result that is not UTF-8 is an error, never a
//! guess. Pairs are split on `&`; empty pairs are skipped and a pair without
//! `=` has an empty value, as in the providers' own SDKs.

use std::borrow::Cow;

/// The media type of a form body.
pub(crate) const FORM_TYPE: &str = "application/x-www-form-urlencoded";

/// Why a form body cannot be decoded. The texts are part of verifier
/// reasons, so they name the body and the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    #[error("form body has a '%' not followed by two hex digits")]
    BadEscape,
    #[error("form body decodes to bytes that are not UTF-8")]
    NotUtf8,
}

/// Whether a `Content-Type` value names a form (parameters such as
/// `charset` ignored, the type compared without case).
pub(crate) fn is_form_type(content_type: Option<&str>) -> bool {
    let mime = content_type.unwrap_or_default().split(';').next();
    mime.unwrap_or_default()
        .trim()
        .eq_ignore_ascii_case(FORM_TYPE)
}

/// The decoded (name, value) pairs in body order. Borrowed from the body
/// when a component has nothing to decode, the common case.
pub(crate) fn pairs(
    body: &[u8],
) -> impl Iterator<Item = Result<(Cow<'_, str>, Cow<'_, str>), FormError>> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
}

/// Every pair, owned, or the first decoding error as the verifiers report it.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    pairs(body)
        .map(|pair| {
            pair.map(|(name, value)| (name.into_owned(), value.into_owned()))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// The first value of each of `names`, in their order. The whole body is
/// decoded, so a malformed pair anywhere is an error: a half-decoded body
/// never yields a plausible-looking value.
pub(crate) fn first_values<'b>(
    body: &'b [u8],
    names: &[&str],
) -> Result<Vec<Option<Cow<'b, str>>>, FormError> {
    let mut found = vec![None; names.len()];
    for pair in pairs(body) {
        let (name, value) = pair?;
        for (slot, wanted) in found.iter_mut().zip(names) {
            if slot.is_none() && name == *wanted {
                *slot = Some(value.clone());
            }
        }
    }
    Ok(found)
}

fn decode(raw: &[u8]) -> Result<Cow<'_, str>, FormError> {
    if !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| FormError::NotUtf8);
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.iter().copied();
    while let Some(b) = input.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                // `!` stands in for a missing digit so that hex decoding rejects it.
                let escape = [input.next().unwrap_or(b'!'), input.next().unwrap_or(b'!')];
                let mut byte = [0u8];
                hex::decode_to_slice(escape, &mut byte).map_err(|_| FormError::BadEscape)?;
                bytes.extend(byte);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_plus_escapes_and_bare_names() {
        let body = b"Body=Hello+w%C3%B6rld+%26+friends+%2B1&flag&e=&&To=%2B1415";
        let seen = parse(body).unwrap();
        let expected = [
            ("Body", "Hello w\u{f6}rld & friends +1"),
            ("flag", ""),
            ("e", ""),
            ("To", "+1415"),
        ];
        assert_eq!(seen.len(), expected.len());
        for ((name, value), (n, v)) in seen.iter().zip(expected) {
            assert_eq!((name.as_str(), value.as_str()), (n, v));
        }
    }

    #[test]
    fn a_bad_escape_or_bytes_that_are_not_utf8_are_errors() {
        for (body, error) in [
            (&b"a=%zz"[..], FormError::BadEscape),
            (b"a=%f", FormError::BadEscape),
            (b"a=%", FormError::BadEscape),
            (b"%4=b", FormError::BadEscape),
            (b"a=%ff", FormError::NotUtf8),
            (b"a=\xff", FormError::NotUtf8),
        ] {
            assert_eq!(first_values(body, &["a"]).unwrap_err(), error, "{body:?}");
            assert!(parse(body).unwrap_err().contains(&error.to_string()));
        }
    }

    #[test]
    fn the_first_value_of_each_name_is_kept_and_borrowed_when_plain() {
        let body = b"Status=sent&MessageUUID=abc&Status=delivered&Note=a%20b";
        let found = first_values(body, &["Status", "Missing", "Note", "MessageUUID"]).unwrap();
        let texts: Vec<Option<&str>> = found.iter().map(|v| v.as_deref()).collect();
        assert_eq!(texts, [Some("sent"), None, Some("a b"), Some("abc")]);
        assert!(matches!(found[0], Some(Cow::Borrowed(_))));
        // A name is compared decoded, as the provider wrote it.
        let encoded = first_values(b"Message%53id=SM1", &["MessageSid"]).unwrap();
        assert_eq!(encoded[0].as_deref(), Some("SM1"));
    }

    #[test]
    fn the_form_type_ignores_parameters_and_case() {
        assert!(is_form_type(Some(FORM_TYPE)));
        assert!(is_form_type(Some(
            " Application/X-WWW-Form-Urlencoded ; charset=utf-8"
        )));
        assert!(!is_form_type(Some("application/json")));
        assert!(!is_form_type(Some("multipart/form-data; boundary=x")));
        assert!(!is_form_type(None));
    }
}
