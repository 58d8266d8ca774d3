//! A certificate's serial number and validity, read from its DER.
//!
//! Only these three fields of the TBSCertificate are needed, to decide
//! when to renew and to report it; a full X.509 parser (and its ASN.1
//! stack) would be the largest dependency of the relay for that. The
//! reader is strict and bounded: a length that runs past its container,
//! a long-form length over four bytes or a time that is not one of the
//! two X.509 forms is an error, never a panic.
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
//!     [0] version OPTIONAL, serialNumber INTEGER, signature SEQUENCE,
//!     issuer SEQUENCE, validity SEQUENCE { notBefore Time, notAfter Time }, ... } ... }
//! Time ::= UTCTime "YYMMDDHHMMSSZ" | GeneralizedTime "YYYYMMDDHHMMSSZ"
//! ```

use std::time::SystemTime;

/// What the relay needs to know about a certificate it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// The serial number, as colon-free lower-case hex.
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads the serial and validity of a DER certificate.
pub fn read(der: &[u8]) -> Result<Validity, &'static str> {
    let (certificate, _) = take(der, SEQUENCE)?;
    let (mut tbs, _) = take(certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = take(tbs, VERSION)?.1;
    }
    let (serial, rest) = take(tbs, INTEGER)?;
    let (_signature, rest) = take(rest, SEQUENCE)?;
    let (_issuer, rest) = take(rest, SEQUENCE)?;
    let (validity, _) = take(rest, SEQUENCE)?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    if serial.is_empty() {
        return Err("empty serial number");
    }
    Ok(Validity {
        serial: hex::encode(serial),
        not_before,
        not_after,
    })
}

/// The contents of the element at the start of `der` with tag `tag`, and
/// what follows it.
fn take(der: &[u8], tag: u8) -> Result<(&[u8], &[u8]), &'static str> {
    let (&found, rest) = der.split_first().ok_or("truncated certificate")?;
    if found != tag {
        return Err("not an X.509 certificate");
    }
    let (&first, mut rest) = rest.split_first().ok_or("truncated certificate")?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err("bad length in the certificate");
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |length, b| (length << 8) | usize::from(*b))
    };
    if rest.len() < length {
        return Err("truncated certificate");
    }
    Ok(rest.split_at(length))
}

/// A UTCTime or GeneralizedTime at the start of `der`.
fn time(der: &[u8]) -> Result<(SystemTime, &[u8]), &'static str> {
    let tag = *der.first().ok_or("truncated certificate")?;
    let (text, rest) = take(der, tag)?;
    let text = std::str::from_utf8(text).map_err(|_| "bad time in the certificate")?;
    let full = match (tag, text.len()) {
        // RFC 5280 4.1.2.5.1: two-digit years from 50 are 19xx.
        (UTC_TIME, 13) => {
            let century = if text < "50" { "20" } else { "19" };
            format!("{century}{text}")
        }
        (GENERALIZED_TIME, 15) => text.to_string(),
        _ => return Err("bad time in the certificate"),
    };
    if !full.ends_with('Z') || !full[..14].bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad time in the certificate");
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[0..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    let at = humantime::parse_rfc3339(&rfc3339).map_err(|_| "bad time in the certificate")?;
    Ok((at, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn made(not_before: (i32, u8, u8), not_after: (i32, u8, u8), serial: &[u8]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["relay.example".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn day(unix_days: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_days * 86_400)
    }

    #[test]
    fn reads_the_serial_and_both_time_forms() {
        // 2024-03-01 is day 19783; 2051-01-01 (GeneralizedTime from 2050
        // on) is day 29585.
        let der = made((2024, 3, 1), (2051, 1, 1), &[0x0a, 0xbc, 0xde]);
        let validity = read(&der).unwrap();
        assert_eq!(validity.serial, "0abcde");
        assert_eq!(validity.not_before, day(19_783));
        assert_eq!(validity.not_after, day(29_585));
    }

    #[test]
    fn damaged_certificates_are_errors_not_panics() {
        let der = made((2024, 3, 1), (2025, 3, 1), &[1, 2, 3]);
        for cut in 0..der.len() {
            assert!(read(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(read(b"").is_err());
        assert!(read(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(read(&[0x30, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
        assert!(read(&[0x30, 0x80]).is_err());
        let mut flipped = der.clone();
        flipped[0] = 0x31;
        assert_eq!(read(&flipped), Err("not an X.509 certificate"));
    }
}
