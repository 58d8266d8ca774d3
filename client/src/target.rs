//! The configured local target, and the only way a delivery becomes a URL;
//! also the check of the relay URL, which follows the same host and port rule.
//!
//! The scheme, host and port always come from `--forward`; a delivery only
//! contributes the path after the channel and the query. A path like
//! `//evil.example/x` stays a path on the target, never a new host.

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` of the local server.
    pub authority: String,
    /// Path prefix from `--forward`, without a trailing slash (may be empty).
    pub base_path: String,
}

impl Target {
    /// Parses a forward target: a full `http://host:port/prefix` URL,
    /// `host:port/prefix`, or just a port (`3000` means
    /// `http://127.0.0.1:3000`). The error says what is wrong, without
    /// naming a flag: [`Target::parse_setting`] adds which one.
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            check_port(text)?;
            return Target::parse(&format!("http://127.0.0.1:{text}"));
        }
        let rest = if let Some(rest) = text.strip_prefix("http://") {
            rest
        } else if text.starts_with("https://") {
            return Err("https local servers are not supported yet; forward to the plain-HTTP port of your dev server".into());
        } else if text.contains("://") {
            return Err("only http:// URLs can be forwarded to".into());
        } else {
            text
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err("expected http://HOST:PORT[/PATH]".into());
        }
        if path.contains(['?', '#']) {
            return Err("the forward URL cannot have a query or fragment; the webhook's own query is passed on".into());
        }
        let uri: http::Uri = format!("http://{authority}{path}")
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let authority = uri.authority().ok_or("missing host")?;
        check_authority(authority)?;
        Ok(Target {
            authority: authority.to_string(),
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    /// [`Target::parse`] for the value of `setting` (`--forward`, `--to`,
    /// the config file's `forward`): the error names the setting and the
    /// value.
    pub fn parse_setting(setting: &str, text: &str) -> Result<Target, String> {
        Target::parse(text).map_err(|why| format!("{setting} {}: {why}", text.trim()))
    }

    /// The URI a delivery with this path and query is forwarded to, built
    /// from parts: scheme and authority from `--forward`, never from the
    /// delivery, whose path and query are checked on their own first. A
    /// joined string would let `@other:3999/x` or `0/x` (no leading `/`)
    /// become part of the authority.
    pub fn uri_for(&self, path: &str, query: Option<&str>) -> Result<Uri, BadTarget> {
        if !path.is_empty() && !path.starts_with('/') {
            return Err(BadTarget::PathStart(shown(path)));
        }
        // `?` and `#` would move the query or cut the rest off as a fragment.
        if path.contains(['?', '#']) || !carried(path) {
            return Err(BadTarget::Path(shown(path)));
        }
        if let Some(q) = query.filter(|q| q.contains('#') || !carried(&format!("/?{q}"))) {
            return Err(BadTarget::Query(shown(q)));
        }
        let mut text = format!("{}{path}", self.base_path);
        if text.is_empty() {
            text.push('/');
        }
        if let Some(q) = query {
            text.push('?');
            text.push_str(q);
        }
        let path_and_query =
            PathAndQuery::try_from(text.as_str()).map_err(|_| BadTarget::Path(shown(path)))?;
        let authority = Authority::try_from(self.authority.as_str())
            .map_err(|_| BadTarget::Authority(shown(&self.authority)))?;
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority)
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| BadTarget::Path(shown(path)))
    }

    /// The `Host` header for this target: its authority, without the
    /// default port (as HTTP clients write it).
    pub fn host_header(&self) -> String {
        match self.authority.strip_suffix(":80") {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => self.authority.clone(),
        }
    }
}

/// Whether `text` survives as a URI path and query unchanged: every byte
/// one the URI parser accepts, nothing cut off.
fn carried(text: &str) -> bool {
    let with_slash = if text.starts_with('/') {
        text.to_string()
    } else {
        format!("/{text}")
    };
    PathAndQuery::try_from(with_slash.as_str()).is_ok_and(|p| p.as_str() == with_slash)
}

/// Why a delivery's path or query cannot be sent to the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTarget {
    #[error("the path {0} does not start with '/'")]
    PathStart(String),
    #[error("the path {0} has a byte a URI path cannot carry")]
    Path(String),
    #[error("the query {0} has a byte a URI query cannot carry")]
    Query(String),
    #[error("the forward target {0} is not a valid authority")]
    Authority(String),
}

/// Untrusted text for an error message: quoted with every control and
/// formatting character escaped (`{:?}`), and cut to 64 characters so a
/// hostile value cannot fill a log line.
pub fn shown(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{:?}...", &text[..end]),
        None => format!("{text:?}"),
    }
}

/// Checks `--relay`: an `http://`, `https://`, `ws://` or `wss://` URL
/// with a host and, if it names a port, one from 1 to 65535. Without this,
/// `http::Uri` reads port 99999 as no port (so port 80) and port 0 has the
/// client retry forever. The error does not name the flag.
pub fn check_relay(text: &str) -> Result<(), String> {
    const SCHEMES: [&str; 4] = ["http://", "https://", "ws://", "wss://"];
    if !SCHEMES.iter().any(|scheme| text.starts_with(scheme)) {
        return Err("expected an http:// or https:// URL".into());
    }
    let uri: Uri = text
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    check_authority(uri.authority().ok_or("missing host")?)
}

/// The one rule for a host and port typed by the user: a host, and a port,
/// when given, from 1 to 65535. `http::Uri` keeps a port it cannot read as
/// a u16 as "no port" (so 99999 would mean port 80), and port 0 is no
/// server at all.
fn check_authority(authority: &Authority) -> Result<(), String> {
    if authority.host().is_empty() {
        return Err("missing host".into());
    }
    // What follows the host (after any user info) is nothing or `:PORT`.
    let text = authority.as_str();
    let host_and_port = text.rsplit_once('@').map_or(text, |(_, rest)| rest);
    match host_and_port[authority.host().len()..].strip_prefix(':') {
        Some(port) => check_port(port),
        None => Ok(()),
    }
}

/// A port a server can listen on: 1 to 65535.
fn check_port(port: &str) -> Result<(), String> {
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!("invalid port {port:?}: expected 1 to 65535")),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthand_forms() {
        let t = Target::parse("3000").unwrap();
        assert_eq!(t.to_string(), "http://127.0.0.1:3000");
        let t = Target::parse("localhost:4000/hooks/").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.base_path.as_str()),
            ("localhost:4000", "/hooks")
        );
        let t = Target::parse("http://127.0.0.1:3000/base").unwrap();
        assert_eq!(t.base_path, "/base");
        let t = Target::parse("http://[::1]:65535").unwrap();
        assert_eq!(t.authority, "[::1]:65535");
        assert_eq!(Target::parse("http://[::1]").unwrap().authority, "[::1]");
    }

    #[test]
    fn refuses_what_it_cannot_forward_to() {
        for bad in [
            "https://x:1",
            "ftp://x",
            "http://",
            "http://u@x:1",
            "http://x:1/a?b=1",
            "",
            "0",
            "99999",
            "http://127.0.0.1:99999",
            "localhost:0",
            "localhost:",
            "localhost:abc",
            "http://:3000",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_setting_they_are_given() {
        let error = Target::parse_setting("--to", " 99999 ").unwrap_err();
        assert_eq!(
            error,
            r#"--to 99999: invalid port "99999": expected 1 to 65535"#
        );
        assert!(!Target::parse("0").unwrap_err().contains("--forward"));
    }

    #[test]
    fn relay_urls_need_a_known_scheme_a_host_and_a_real_port() {
        for good in [
            "http://127.0.0.1:8080",
            "https://relay.example.com",
            "ws://[::1]:1/prefix/",
            "wss://relay.example.com:65535",
        ] {
            assert_eq!(check_relay(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("http://127.0.0.1:99999", "invalid port \"99999\""),
            ("http://127.0.0.1:0", "invalid port \"0\""),
            ("https://relay.example.com:", "invalid port \"\""),
            ("http://u:p@relay.example.com:0", "invalid port \"0\""),
            ("http://[::1]:70000", "invalid port \"70000\""),
            ("http://:8080", "missing host"),
            ("relay.example.com", "expected an http:// or https:// URL"),
            (
                "ftp://relay.example.com",
                "expected an http:// or https:// URL",
            ),
        ] {
            let error = check_relay(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn joins_prefix_path_and_query() {
        let t = Target::parse("http://127.0.0.1:3000/base").unwrap();
        let uri = |path, query| t.uri_for(path, query).unwrap().to_string();
        assert_eq!(
            uri("/x/y", Some("q=1")),
            "http://127.0.0.1:3000/base/x/y?q=1"
        );
        assert_eq!(uri("", None), "http://127.0.0.1:3000/base");
        let root = Target::parse("http://127.0.0.1:3000").unwrap();
        let uri = |path, query| root.uri_for(path, query).unwrap().to_string();
        assert_eq!(uri("", None), "http://127.0.0.1:3000/");
        assert_eq!(uri("", Some("")), "http://127.0.0.1:3000/?");
        // Kept byte for byte: no normalisation of dot segments or escapes,
        // and the characters real clients send unescaped.
        assert_eq!(
            uri("/a/../%2F/{\"x\"}", Some("a=[1]&b=%00")),
            "http://127.0.0.1:3000/a/../%2F/{\"x\"}?a=[1]&b=%00"
        );
        assert_eq!(uri("/caf\u{e9}", None), "http://127.0.0.1:3000/caf\u{e9}");
    }

    #[test]
    fn delivery_paths_cannot_change_the_host() {
        for base in ["http://127.0.0.1:3000", "http://127.0.0.1:3000/base"] {
            let t = Target::parse(base).unwrap();
            for path in [
                "//evil.example/x",
                "/@evil.example",
                "/../../x",
                "/%2F%2Fevil",
                "/:3999/x",
            ] {
                let uri = t.uri_for(path, Some("@evil.example")).unwrap();
                assert_eq!(
                    uri.authority().unwrap().as_str(),
                    "127.0.0.1:3000",
                    "{path}"
                );
                assert_eq!(uri.scheme_str(), Some("http"));
            }
        }
    }

    #[test]
    fn paths_without_a_leading_slash_are_refused() {
        // Each of these, joined to "http://127.0.0.1:3000", names another
        // host or port: 127.0.0.1:3999 (userinfo), port 30000, or
        // 127.0.0.1:3000.evil.example.
        let t = Target::parse("http://127.0.0.1:3000").unwrap();
        for path in [
            "@127.0.0.1:3999/x",
            "0/x",
            ".evil.example/x",
            "x",
            ":1/x",
            "?a",
            "#a",
        ] {
            assert!(
                matches!(t.uri_for(path, None), Err(BadTarget::PathStart(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn bytes_a_uri_cannot_carry_are_refused() {
        let t = Target::parse("http://127.0.0.1:3000").unwrap();
        for path in [
            "/a b",
            "/a\r\nHost: x",
            "/a\0",
            "/a?b",
            "/a#b",
            "/\u{7f}",
            "/\t",
        ] {
            assert!(
                matches!(t.uri_for(path, None), Err(BadTarget::Path(_))),
                "{path:?}"
            );
        }
        for query in ["a b", "a#b", "a\nb", "\u{1b}[2J"] {
            assert!(
                matches!(t.uri_for("/x", Some(query)), Err(BadTarget::Query(_))),
                "{query:?}"
            );
        }
    }

    #[test]
    fn errors_quote_and_cut_what_was_sent() {
        let t = Target::parse("http://127.0.0.1:3000").unwrap();
        let error = t.uri_for("\u{1b}]0;x\u{7}", None).unwrap_err().to_string();
        assert_eq!(
            error,
            r#"the path "\u{1b}]0;x\u{7}" does not start with '/'"#
        );
        assert!(!error.contains("127.0.0.1"), "{error}");
        let long = format!("x{}", "a".repeat(1000));
        let error = t.uri_for(&long, None).unwrap_err().to_string();
        assert!(error.len() < 120, "{error}");
        assert_eq!(shown("\u{202e}"), r#""\u{202e}""#);
    }

    #[test]
    fn host_header_drops_only_the_default_port() {
        let host = |t: &str| Target::parse(t).unwrap().host_header();
        assert_eq!(host("3000"), "127.0.0.1:3000");
        assert_eq!(host("http://localhost:80/x"), "localhost");
        assert_eq!(host("http://[::1]:8080"), "[::1]:8080");
        assert_eq!(host("http://example:8080"), "example:8080");
    }
}
