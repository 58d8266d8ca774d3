//! Parsing what is on the wire: list headers, timestamps, encoded signatures.
//! Every function here takes untrusted input and returns an error rather
//! than panicking (they are property-tested for that).

use super::schema::{Encoding, ListFormat, TimestampUnit};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64 that accepts values with or without padding (Svix's
/// secrets are sometimes unpadded).
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn base64_lenient(text: &str) -> Option<Vec<u8>> {
    STANDARD_LENIENT.decode(text.trim()).ok()
}

/// A parsed list header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListValue<'a> {
    pub signatures: Vec<&'a str>,
    pub timestamp: Option<&'a str>,
}

fn key_matches(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix) && key.len() > prefix.len(),
        None => pattern == key,
    }
}

/// Splits a list header into its signatures and timestamp. Entries with
/// other keys are ignored (Stripe's `v0`, Paddle's unknown keys). Returns an
/// error when the value has no item of the expected shape.
pub fn list<'a>(value: &'a str, format: &ListFormat) -> Result<ListValue<'a>, String> {
    let mut parsed = ListValue::default();
    for item in value.split(format.item_sep.as_str()) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, val)) = item.split_once(format.kv_sep.as_str()) else {
            continue;
        };
        let (key, val) = (key.trim(), val.trim());
        if format.ts_key.as_deref() == Some(key) {
            parsed.timestamp.get_or_insert(val);
        } else if format.sig_keys.iter().any(|k| key_matches(k, key)) && !val.is_empty() {
            parsed.signatures.push(val);
        }
    }
    if parsed.signatures.is_empty() {
        return Err(format!(
            "no {} entry in the signature header",
            format.sig_keys.join("/")
        ));
    }
    Ok(parsed)
}

/// Decodes a signature as written on the wire; `None` when it is not
/// valid in that encoding (which counts as "no match", never a panic).
pub fn decode_signature(text: &str, encoding: Encoding) -> Option<Vec<u8>> {
    let text = text.trim();
    match encoding {
        Encoding::Hex => hex::decode(text).ok(),
        Encoding::Base64 => STANDARD.decode(text).ok().or_else(|| base64_lenient(text)),
        Encoding::Base64url => URL_SAFE
            .decode(text)
            .ok()
            .or_else(|| URL_SAFE_NO_PAD.decode(text).ok()),
    }
}

/// A timestamp as Unix seconds (fractions dropped); `None` for raw ones.
pub fn timestamp(text: &str, unit: TimestampUnit) -> Result<Option<i64>, String> {
    let text = text.trim();
    let secs = match unit {
        TimestampUnit::Raw => return Ok(None),
        TimestampUnit::S | TimestampUnit::Ms => {
            let n: i64 = text
                .parse()
                .map_err(|_| format!("timestamp {text:?} is not an integer"))?;
            Ok(if unit == TimestampUnit::Ms {
                n.div_euclid(1000)
            } else {
                n
            })
        }
        TimestampUnit::Rfc3339 => {
            rfc3339(text).ok_or_else(|| format!("timestamp {text:?} is not RFC 3339"))
        }
    };
    secs.map(Some)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to Unix seconds.
pub fn rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 19
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    // No zone at all (Orb sends ISO 8601 without one): UTC.
    let offset = match b.get(i) {
        None => 0,
        Some(zone) => match zone {
            b'Z' | b'z' if i + 1 == b.len() => 0,
            sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
                let minutes = digits(i + 1..i + 3)? * 60 + digits(i + 4..i + 6)?;
                if *sign == b'+' {
                    minutes * 60
                } else {
                    -minutes * 60
                }
            }
            _ => return None,
        },
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// algorithm), so no date library is needed for one conversion.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A top-level field of a JSON body, as text (numbers and strings).
pub fn json_field(body: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stripe() -> ListFormat {
        ListFormat {
            item_sep: ",".into(),
            kv_sep: "=".into(),
            sig_keys: vec!["v1".into()],
            ts_key: Some("t".into()),
        }
    }

    #[test]
    fn lists() {
        let v = list("t=1,v1=aa,v0=bb,v1=cc", &stripe()).unwrap();
        assert_eq!(v.signatures, ["aa", "cc"]);
        assert_eq!(v.timestamp, Some("1"));
        assert!(list("t=1,v0=bb", &stripe()).is_err());
        let sw = ListFormat {
            item_sep: " ".into(),
            kv_sep: ",".into(),
            sig_keys: vec!["v1".into()],
            ts_key: None,
        };
        assert_eq!(
            list("v1,abc= v1a,xyz v1,def", &sw).unwrap().signatures,
            ["abc=", "def"]
        );
        let convoy = ListFormat {
            sig_keys: vec!["v*".into()],
            ..stripe()
        };
        assert_eq!(
            list("v2=x,t=5,v1=y", &convoy).unwrap().signatures,
            ["x", "y"]
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            timestamp("1767225600", TimestampUnit::S),
            Ok(Some(1_767_225_600))
        );
        assert_eq!(
            timestamp("1767225600123", TimestampUnit::Ms),
            Ok(Some(1_767_225_600))
        );
        assert_eq!(timestamp("Tue, 1 Jan", TimestampUnit::Raw), Ok(None));
        assert_eq!(
            rfc3339("2026-01-01T00:00:00"),
            Some(1_767_225_600),
            "no zone: UTC"
        );
        assert!(timestamp("Infinity", TimestampUnit::S).is_err());
        assert_eq!(rfc3339("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(
            rfc3339("2025-12-31T23:59:30.123456789Z"),
            Some(1_767_225_570)
        );
        assert_eq!(rfc3339("2026-01-01T01:00:00+01:00"), Some(1_767_225_600));
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00+1",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:0",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn signatures_decode_leniently_but_safely() {
        assert_eq!(
            decode_signature("ABcd", Encoding::Hex),
            Some(vec![0xab, 0xcd])
        );
        assert_eq!(decode_signature("abc", Encoding::Hex), None);
        assert_eq!(decode_signature("/w==", Encoding::Base64), Some(vec![0xff]));
        assert_eq!(
            decode_signature("_w", Encoding::Base64url),
            Some(vec![0xff])
        );
        assert_eq!(decode_signature("zz!", Encoding::Base64), None);
    }

    fn any_format() -> impl Strategy<Value = ListFormat> {
        (
            prop::sample::select(vec![",", " ", ";"]),
            prop::sample::select(vec!["=", ","]),
            prop::sample::select(vec!["v1", "v*", "h1"]),
            prop::option::of(prop::sample::select(vec!["t", "ts"])),
        )
            .prop_map(|(item, kv, sig, ts)| ListFormat {
                item_sep: item.into(),
                kv_sep: kv.into(),
                sig_keys: vec![sig.into()],
                ts_key: ts.map(str::to_string),
            })
    }

    proptest! {
        #[test]
        fn parsers_never_panic(value in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..200), format in any_format()) {
            let _ = list(&value, &format);
            let _ = rfc3339(&value);
            let _ = timestamp(&value, TimestampUnit::S);
            let _ = timestamp(&value, TimestampUnit::Ms);
            let _ = timestamp(&value, TimestampUnit::Rfc3339);
            for encoding in [Encoding::Hex, Encoding::Base64, Encoding::Base64url] {
                let _ = decode_signature(&value, encoding);
            }
            let _ = json_field(&bytes, "webhookTimestamp");
        }
    }
}
