//! The configured local target, and the only way a delivery becomes a URL.
//!
//! The scheme, host and port always come from `--forward`; a delivery only
//! contributes the path after the channel and the query. A path like
//! `//evil.example/x` stays a path on the target, never a new host.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` of the local server.
    pub authority: String,
    /// Path prefix from `--forward`, without a trailing slash (may be empty).
    pub base_path: String,
}

impl Target {
    /// Parses `--forward`: a full `http://host:port/prefix` URL, `host:port/prefix`,
    /// or just a port (`3000` means `http://127.0.0.1:3000`).
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            check_port(text, text)?;
            return Target::parse(&format!("http://127.0.0.1:{text}"));
        }
        let rest = if let Some(rest) = text.strip_prefix("http://") {
            rest
        } else if text.starts_with("https://") {
            return Err(format!(
                "--forward {text}: https local servers are not supported yet; forward to the plain-HTTP port of your dev server"
            ));
        } else if text.contains("://") {
            return Err(format!(
                "--forward {text}: only http:// URLs can be forwarded to"
            ));
        } else {
            text
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!(
                "--forward {text}: expected http://HOST:PORT[/PATH]"
            ));
        }
        if path.contains(['?', '#']) {
            return Err(format!(
                "--forward {text}: the forward URL cannot have a query or fragment; the webhook's own query is passed on"
            ));
        }
        let uri: http::Uri = format!("http://{authority}{path}")
            .parse()
            .map_err(|e| format!("--forward {text}: {e}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--forward {text}: missing host"))?;
        if authority.host().is_empty() {
            return Err(format!("--forward {text}: missing host"));
        }
        // `http::Uri` keeps a port it cannot read as a u16 as "no port"
        // (so 99999 would mean port 80), and port 0 is no server at all.
        // The authority has no user info (refused above): what follows the
        // host is nothing or `:PORT`.
        if let Some(port) = authority.as_str()[authority.host().len()..].strip_prefix(':') {
            check_port(text, port)?;
        }
        let authority = authority.to_string();
        Ok(Target {
            authority,
            base_path: path.trim_end_matches('/').to_string(),
        })
    }

    /// The URL a delivery with this path and query is forwarded to.
    pub fn url_for(&self, path: &str, query: Option<&str>) -> String {
        let mut url = format!("http://{}{}{}", self.authority, self.base_path, path);
        if self.base_path.is_empty() && path.is_empty() {
            url.push('/');
        }
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

/// A port a server can listen on: 1 to 65535.
fn check_port(text: &str, port: &str) -> Result<(), String> {
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!(
            "--forward {text}: invalid port {port:?}: expected 1 to 65535"
        )),
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
    fn joins_prefix_path_and_query() {
        let t = Target::parse("http://127.0.0.1:3000/base").unwrap();
        assert_eq!(
            t.url_for("/x/y", Some("q=1")),
            "http://127.0.0.1:3000/base/x/y?q=1"
        );
        assert_eq!(t.url_for("", None), "http://127.0.0.1:3000/base");
        let root = Target::parse("http://127.0.0.1:3000").unwrap();
        assert_eq!(root.url_for("", None), "http://127.0.0.1:3000/");
        assert_eq!(root.url_for("", Some("")), "http://127.0.0.1:3000/?");
    }

    #[test]
    fn delivery_paths_cannot_change_the_host() {
        let t = Target::parse("http://127.0.0.1:3000").unwrap();
        for path in [
            "//evil.example/x",
            "/@evil.example",
            "/../../x",
            "/%2F%2Fevil",
        ] {
            let uri: http::Uri = t.url_for(path, None).parse().unwrap();
            assert_eq!(
                uri.authority().unwrap().as_str(),
                "127.0.0.1:3000",
                "{path}"
            );
        }
    }
}
