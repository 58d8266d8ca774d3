//! Who sent a webhook, as the local server is told in `X-Forwarded-*`,
//! `Forwarded` (RFC 7239) and `X-Real-IP`.
//!
//! Values a sender puts in these headers are never believed: anyone could
//! claim any address. A proxy named with `--trusted-proxy` (nginx on the
//! same host, a load balancer's range) is the exception: it set them itself,
//! so the relay passes on its chain of addresses and its scheme and host,
//! adding the proxy's own address, as proxies do.

use ipnet::IpNet;
use std::net::IpAddr;

/// Headers only the relay (or a trusted proxy) may set.
const HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// Parses `--trusted-proxy`: an address (`127.0.0.1`, `::1`) or a range
/// (`10.0.0.0/8`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or range (10.0.0.0/8)"))
}

/// Where a webhook came from, as the local server should hear it.
#[derive(Debug, PartialEq, Eq)]
pub struct Origin {
    /// The `X-Forwarded-For` value: client first, each proxy after.
    pub chain: String,
    /// The scheme the sender used (`https` behind a TLS-terminating proxy).
    pub proto: String,
    /// The host the sender called, if known.
    pub host: Option<String>,
    /// The `Forwarded` value: a trusted proxy's elements, then the relay's.
    pub forwarded: String,
    /// The `X-Real-IP` value: the sender's address as best known.
    pub real_ip: String,
}

/// Works out the origin of a request from `peer` with `headers` (names in
/// lowercase). The caller replaces the request's `X-Forwarded-*` with it.
pub fn origin<'a, H>(
    headers: H,
    peer: IpAddr,
    host: Option<&str>,
    scheme: &str,
    trusted: &[IpNet],
) -> Origin
where
    H: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    let peer = normalise(peer);
    let mut origin = Origin {
        chain: peer.to_string(),
        proto: scheme.to_string(),
        host: host.map(str::to_string),
        forwarded: element(peer, scheme, host),
        real_ip: peer.to_string(),
    };
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return origin;
    }
    let (mut chain, mut elements) = (Vec::new(), Vec::new());
    let (mut proto, mut host, mut real_ip) = (None, None, None);
    for (name, value) in headers.into_iter().filter(|(name, _)| is_forwarded(name)) {
        let value = String::from_utf8_lossy(value).trim().to_string();
        match name {
            _ if value.is_empty() => {}
            "x-forwarded-for" => chain.push(value),
            "x-forwarded-proto" => proto = proto.or(Some(value)),
            "x-forwarded-host" => host = host.or(Some(value)),
            "forwarded" => elements.push(value),
            _ => real_ip = real_ip.or(Some(value)),
        }
    }
    let client = chain
        .first()
        .and_then(|c| c.split(',').next())
        .map(|c| c.trim().to_string());
    if !chain.is_empty() {
        origin.chain = format!("{}, {peer}", chain.join(", "));
    }
    origin.real_ip = real_ip.or(client).unwrap_or(origin.real_ip);
    // The relay's own hop goes last, as each proxy adds its own.
    elements.push(format!("for={}", node(peer)));
    origin.forwarded = elements.join(", ");
    origin.proto = proto.unwrap_or(origin.proto);
    origin.host = host.or(origin.host);
    origin
}

/// The relay's `Forwarded` element for a sender it saw itself.
fn element(peer: IpAddr, scheme: &str, host: Option<&str>) -> String {
    let mut element = format!("for={};proto={scheme}", node(peer));
    if let Some(host) = host {
        element.push_str(&format!(";host={}", quoted(host)));
    }
    element
}

/// An address as a `Forwarded` node: IPv6 in brackets, quoted.
fn node(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    }
}

/// A quoted-string (RFC 7230): the value came from a header, so it holds
/// no line breaks; quotes and backslashes are escaped.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `name` is one of the headers only the relay (or a trusted proxy)
/// may set.
pub fn is_forwarded(name: &str) -> bool {
    HEADERS.contains(&name)
}

/// An IPv4 peer on a dual-stack socket arrives as `::ffff:a.b.c.d`: told
/// (and matched against `--trusted-proxy`) as the IPv4 address it is.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookhole_shared::headers::Header;

    fn pairs(list: &[Header]) -> impl Iterator<Item = (&str, &[u8])> {
        list.iter().map(|h| (h.name.as_str(), h.value.as_slice()))
    }

    fn headers() -> Vec<Header> {
        vec![
            Header::new("forwarded", "for=203.0.113.7;proto=https"),
            Header::new("x-real-ip", "203.0.113.7"),
            Header::new("x-forwarded-for", "203.0.113.7"),
            Header::new("x-forwarded-proto", "https"),
            Header::new("x-forwarded-host", "hooks.example.com"),
            Header::new("content-type", "application/json"),
        ]
    }

    #[test]
    fn a_stranger_s_forwarded_headers_are_replaced() {
        let list = headers();
        let peer: IpAddr = "198.51.100.1".parse().unwrap();
        let trusted = [parse_proxy("127.0.0.1").unwrap()];
        let got = origin(pairs(&list), peer, Some("relay:8080"), "http", &trusted);
        assert_eq!(
            got,
            Origin {
                chain: "198.51.100.1".into(),
                proto: "http".into(),
                host: Some("relay:8080".into()),
                forwarded: "for=198.51.100.1;proto=http;host=\"relay:8080\"".into(),
                real_ip: "198.51.100.1".into(),
            }
        );
        let kept: Vec<_> = list.iter().filter(|h| !is_forwarded(&h.name)).collect();
        assert_eq!(kept, [&Header::new("content-type", "application/json")]);
    }

    #[test]
    fn a_trusted_proxy_s_are_passed_on_with_its_own_address() {
        let mut list = headers();
        list.push(Header::new("x-forwarded-for", "10.1.1.1"));
        let trusted = [parse_proxy("10.0.0.0/8").unwrap()];
        let peer: IpAddr = "::ffff:10.2.3.4".parse().unwrap();
        let got = origin(pairs(&list), peer, Some("127.0.0.1:8080"), "http", &trusted);
        assert_eq!(
            got,
            Origin {
                chain: "203.0.113.7, 10.1.1.1, 10.2.3.4".into(),
                proto: "https".into(),
                host: Some("hooks.example.com".into()),
                forwarded: "for=203.0.113.7;proto=https, for=10.2.3.4".into(),
                real_ip: "203.0.113.7".into(),
            }
        );
        // A trusted proxy that says nothing leaves the relay's own view.
        let bare = vec![Header::new("content-type", "text/plain")];
        let got = origin(pairs(&bare), peer, None, "http", &trusted);
        assert_eq!(got.chain, "10.2.3.4");
        assert_eq!(
            (got.forwarded.as_str(), got.real_ip.as_str()),
            ("for=10.2.3.4", "10.2.3.4")
        );
        assert_eq!((got.proto.as_str(), got.host), ("http", None));
    }

    #[test]
    fn forwarded_nodes_and_hosts_are_quoted_where_the_rfc_wants() {
        let peer: IpAddr = "2001:db8::1".parse().unwrap();
        let got = origin(pairs(&[]), peer, Some("a\"b\\c"), "https", &[]);
        assert_eq!(
            got.forwarded,
            "for=\"[2001:db8::1]\";proto=https;host=\"a\\\"b\\\\c\""
        );
        assert_eq!(got.real_ip, "2001:db8::1");
    }

    #[test]
    fn proxies_are_addresses_or_ranges() {
        assert_eq!(
            parse_proxy("::1").unwrap(),
            "::1/128".parse::<IpNet>().unwrap()
        );
        assert!(parse_proxy(" 192.168.0.0/16 ").is_ok());
        let error = parse_proxy("nginx").unwrap_err();
        assert!(error.contains("not an IP address"), "{error}");
    }
}
