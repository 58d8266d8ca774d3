//! Who sent a webhook, as the local server is told in `X-Forwarded-*`,
//! `Forwarded` (RFC 7239) and `X-Real-IP`.
//!
//! Values a sender puts in these headers are never believed: anyone could
//! claim any address. A proxy named with `--trusted-proxy` (nginx on the
//! same host, a load balancer's range) is the exception: it set them itself,
//! so the relay passes on its chain of addresses and its scheme and host,
//! adding the proxy's own address, as proxies do.
//!
//! Frameworks read a client's address, scheme, port or path prefix from
//! more headers than these ([`CLAIMS`]); a sender's are removed, a trusted
//! proxy's passed on as they are. Names match whatever their case and with
//! `_` for `-`: WSGI, Rack and PHP servers turn both into the same variable
//! (`HTTP_X_FORWARDED_FOR`), so `X_Forwarded_For` would pose as the real one.

use ipnet::IpNet;
use std::net::IpAddr;

/// Headers the relay sets itself, from what it saw (or a trusted proxy's
/// word): every sender's spelling of them is removed.
const SET: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// Other headers common frameworks take a client's address, scheme, port
/// or path prefix from (Werkzeug's ProxyFix, Rack, Symfony and Laravel,
/// Spring, Express's request-ip, the usual PHP snippets, CDNs): passed on
/// only from a trusted proxy.
pub const CLAIMS: &[&str] = &[
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded",
    "forwarded-for",
    "x-original-forwarded-for",
    "x-client-ip",
    "client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    "x-appengine-user-ip",
    "front-end-https",
    "x-url-scheme",
];

/// `name` as a framework sees it: lowercase, `_` for `-`.
fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

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
    /// Whether a trusted proxy sent the request (its [`CLAIMS`] are kept).
    pub trusted: bool,
}

impl Origin {
    /// Whether a header named `name` is passed on as it came: not one the
    /// relay sets itself, and not a claim about the origin unless a trusted
    /// proxy made it.
    pub fn keeps(&self, name: &str) -> bool {
        let name = canonical(name);
        !SET.contains(&name.as_str()) && (self.trusted || !CLAIMS.contains(&name.as_str()))
    }
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
        trusted: trusted.iter().any(|net| net.contains(&peer)),
    };
    if !origin.trusted {
        return origin;
    }
    let (mut chain, mut elements) = (Vec::new(), Vec::new());
    let (mut proto, mut host, mut real_ip) = (None, None, None);
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value).trim().to_string();
        match canonical(name).as_str() {
            _ if value.is_empty() => {}
            "x-forwarded-for" => chain.push(value),
            "x-forwarded-proto" => proto = proto.or(Some(value)),
            "x-forwarded-host" => host = host.or(Some(value)),
            "forwarded" => elements.push(value),
            "x-real-ip" => real_ip = real_ip.or(Some(value)),
            _ => {}
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
                trusted: false,
            }
        );
        let kept: Vec<_> = list.iter().filter(|h| got.keeps(&h.name)).collect();
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
                trusted: true,
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
    fn claims_in_any_spelling_are_dropped_from_strangers_and_kept_from_proxies() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger = origin(pairs(&[]), peer, None, "http", &[]);
        let proxy = origin(
            pairs(&[]),
            peer,
            None,
            "http",
            &[parse_proxy("10.0.0.0/8").unwrap()],
        );
        for name in [
            "x_forwarded_for",
            "X_Real_IP",
            "x-forwarded-FOR",
            "Forwarded",
        ] {
            assert!(
                !stranger.keeps(name) && !proxy.keeps(name),
                "{name}: the relay sets it"
            );
        }
        for name in [
            "True-Client-IP",
            "cf_connecting_ip",
            "x-forwarded-port",
            "CLIENT-IP",
        ] {
            assert!(!stranger.keeps(name), "{name} from a stranger");
            assert!(proxy.keeps(name), "{name} from a trusted proxy");
        }
        assert!(stranger.keeps("x-forwarded-by-hand") && stranger.keeps("content-type"));
        // A trusted proxy's underscore spelling counts as the header it means.
        let said = [Header::new("x_real_ip", "203.0.113.7")];
        let trusted = [parse_proxy("10.0.0.0/8").unwrap()];
        assert_eq!(
            origin(pairs(&said), peer, None, "http", &trusted).real_ip,
            "203.0.113.7"
        );
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
