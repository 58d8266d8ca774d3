//! Which names `--domain` accepts: DNS names a public CA can issue for
//! over TLS-ALPN-01 or HTTP-01. No IP addresses (Let's Encrypt issues for
//! names), no wildcards (they need DNS-01, which the relay cannot answer),
//! no single labels (no public CA issues for `localhost`).

/// The longest DNS name (RFC 1035, without the root's trailing dot).
const MAX_NAME: usize = 253;
/// The longest label between two dots.
const MAX_LABEL: usize = 63;

/// Checks one `--domain` and returns it in the form kept and sent to the
/// CA: lower case, without a trailing dot.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    if name.is_empty() {
        return Err("empty domain".into());
    }
    if name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') {
        return Err(format!(
            "{}: an IP address; give the DNS name that points at this machine",
            shown(text)
        ));
    }
    if name.contains('*') {
        return Err(format!(
            "{}: wildcards need the DNS-01 challenge, which the relay does not answer; list each name",
            shown(text)
        ));
    }
    if !name.is_ascii() {
        return Err(format!(
            "{}: give an internationalised name in its punycode (xn--) form",
            shown(text)
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("domain longer than {MAX_NAME} characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "{}: a single label; a CA issues certificates for full names like relay.example.com",
            shown(text)
        ));
    }
    for label in &labels {
        let fits = (1..=MAX_LABEL).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !fits {
            return Err(format!(
                "{}: each part between dots needs 1 to {MAX_LABEL} letters, digits or inner hyphens",
                shown(text)
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{}: the last part is a number", shown(text)));
    }
    Ok(name)
}

/// The name as given, quoted and made printable for an error line.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    format!("\"{}\"", hookhole_shared::printable::line(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_kept_lower_case_without_the_trailing_dot() {
        for (given, kept) in [
            ("relay.example.com", "relay.example.com"),
            ("Relay.Example.COM.", "relay.example.com"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a-b.c1.test", "a-b.c1.test"),
        ] {
            assert_eq!(parse_domain(given).as_deref(), Ok(kept));
        }
    }

    #[test]
    fn addresses_wildcards_single_labels_and_bad_labels_are_refused() {
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = format!("{}.example", ["abc"; 70].join("."));
        for (bad, why) in [
            ("", "empty"),
            (".", "empty"),
            ("127.0.0.1", "IP address"),
            ("::1", "IP address"),
            ("[::1]", "IP address"),
            ("*.example.com", "wildcards"),
            ("localhost", "single label"),
            ("bücher.example", "punycode"),
            ("-a.example", "inner hyphens"),
            ("a-.example", "inner hyphens"),
            ("a..example", "inner hyphens"),
            ("a_b.example", "inner hyphens"),
            ("relay.example.com:443", "inner hyphens"),
            ("a/b.example", "inner hyphens"),
            (long_label.as_str(), "inner hyphens"),
            (long_name.as_str(), "longer than"),
            ("1.2.3.4.5", "a number"),
            ("relay\u{1b}[31m.example", "inner hyphens"),
        ] {
            let error = parse_domain(bad).unwrap_err();
            assert!(error.contains(why), "{bad:?}: {error}");
            assert!(!error.contains('\u{1b}'), "printable: {error:?}");
        }
    }
}
