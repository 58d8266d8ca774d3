//! The checks of one remote relay, in the order a connection meets them:
//! reachable (TCP), TLS verifies, protocol version (`/_hookhole/health`),
//! token accepted and channel claimable (probes, [`super::probe`]). A
//! step that fails leaves the later ones `skip`, each line saying why.

use super::STEP;
use super::health;
use super::probe::{self, Outcome};
use super::report::{Check, Report};
use hookhole_shared::protocol::{Token, close};
use std::sync::Arc;
use tokio::net::TcpStream;

/// The checks after reachability, in order: what is left when one fails.
const STEPS: [&str; 4] = ["tls", "protocol", "token", "channel"];

/// What `listen` would present to the relay.
pub struct Setup {
    /// Trust for `https://` relays (`--ca-cert`, `--insecure`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub insecure: bool,
    pub token: Option<Token>,
    /// The channel `listen` would ask for, and whether it is the one
    /// remembered in the data dir rather than given.
    pub channel: Option<(String, bool)>,
}

/// Where the relay is: from its URL, already checked by `listen`'s rules.
pub(super) struct Place {
    ws_url: String,
    host: String,
    port: u16,
    secure: bool,
    /// `host[:port]` as the `Host` header.
    pub(super) authority: String,
    /// The URL's path before `/_hookhole/...`.
    pub(super) base_path: String,
}

impl Place {
    fn of(url: &str) -> Result<Place, String> {
        let ws_url = crate::engine::connect_url(url)?;
        let uri: http::Uri = ws_url.parse().map_err(|e| format!("{e}"))?;
        let secure = uri.scheme_str() == Some("wss");
        let authority = uri.authority().ok_or("missing host")?;
        let path = uri.path();
        Ok(Place {
            host: authority.host().trim_matches(['[', ']']).to_string(),
            port: authority
                .port_u16()
                .unwrap_or(if secure { 443 } else { 80 }),
            authority: authority.as_str().to_string(),
            base_path: path
                .strip_suffix(hookhole_shared::protocol::CONNECT_PATH)
                .unwrap_or("")
                .to_string(),
            secure,
            ws_url,
        })
    }
}

/// Checks the relay at `url` with what `listen` would present.
pub async fn check(url: &str, setup: &Setup, report: &mut Report) {
    let add = |report: &mut Report, check: Check| report.add(check.on(url));
    let skip_from = |report: &mut Report, step: &str, why: &str| {
        let rest = STEPS.iter().skip_while(|s| **s != step);
        for step in rest {
            report.add(Check::skip(step, why).on(url));
        }
    };
    let place = match Place::of(url) {
        Ok(place) => place,
        Err(why) => {
            add(
                report,
                Check::fail("relay", why, "give the relay's http(s) URL with --relay"),
            );
            return skip_from(report, "tls", "the relay URL is not valid");
        }
    };
    let connected =
        tokio::time::timeout(STEP, TcpStream::connect((place.host.as_str(), place.port))).await;
    let tcp = match connected {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            let detail = format!("cannot connect to {}:{}: {e}", place.host, place.port);
            add(
                report,
                Check::fail("relay", detail, unreachable_fix(&place)),
            );
            return skip_from(report, "tls", "the relay is not reachable");
        }
        Err(_) => {
            let detail = format!(
                "no connection to {}:{} within {}",
                place.host,
                place.port,
                secs()
            );
            add(
                report,
                Check::fail("relay", detail, unreachable_fix(&place)),
            );
            return skip_from(report, "tls", "the relay is not reachable");
        }
    };
    add(
        report,
        Check::ok(
            "relay",
            format!("reachable at {}:{}", place.host, place.port),
        ),
    );
    let health = match (place.secure, &setup.tls) {
        (true, Some(tls)) => match handshake(tcp, &place, tls.clone()).await {
            Ok(stream) => {
                add(report, tls_verified(&place, setup.insecure));
                health::get(stream, &place).await
            }
            Err(check) => {
                add(report, check);
                return skip_from(report, "protocol", "TLS did not verify");
            }
        },
        _ => {
            add(report, plain(&place));
            health::get(tcp, &place).await
        }
    };
    add(report, health::protocol(health));
    let target = probe::Target {
        ws_url: &place.ws_url,
        tls: setup.tls.clone().filter(|_| place.secure),
        token: setup.token.clone(),
        within: STEP,
    };
    // The token first, on a channel the relay picks: a refusal then says
    // nothing about the channel, and an older relay that joins instead of
    // answering joins a channel no sender knows.
    let first = probe::probe(&target, None).await;
    let (token, older) = token_check(&first, setup.token.is_some());
    let accepted = token.verdict == super::report::Verdict::Ok;
    add(report, token);
    if !accepted {
        return skip_from(report, "channel", "the relay did not admit the probe");
    }
    let channel = match (&setup.channel, older) {
        (_, true) => Check::warn(
            "channel",
            "not checked: the relay predates probes, and checking would join the channel",
            "upgrade the relay; `hookhole listen` says whether the channel is yours",
        ),
        (None, false) => Check::ok(
            "channel",
            "none asked: the relay assigns one (remembered in the data dir for the next runs)",
        ),
        (Some((name, remembered)), false) => channel_check(
            &probe::probe(&target, Some(name.clone())).await,
            name,
            *remembered,
        ),
    };
    add(report, channel);
}

pub(super) fn secs() -> String {
    humantime::format_duration(STEP).to_string()
}

fn unreachable_fix(place: &Place) -> String {
    format!(
        "check the host in --relay, that the relay runs, and that a firewall lets port {} through",
        place.port
    )
}

/// The TLS handshake with `listen`'s trust; a refusal names its reason.
async fn handshake(
    tcp: TcpStream,
    place: &Place,
    tls: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Check> {
    let name = rustls::pki_types::ServerName::try_from(place.host.clone()).map_err(|e| {
        Check::fail(
            "tls",
            format!("{:?} is not a TLS server name: {e}", place.host),
            "use the relay's DNS name or IP address in --relay",
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls);
    match tokio::time::timeout(STEP, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(match crate::relay_tls::Refusal::of(&e) {
            Some(refusal) => Check::fail(
                "tls",
                format!("the relay's certificate is refused: {}", refusal.reason),
                refusal.fix,
            ),
            None => Check::fail(
                "tls",
                format!("the TLS handshake failed: {e}"),
                "check that the relay serves HTTPS on this port (an http:// relay needs http:// in --relay)",
            ),
        }),
        Err(_) => Err(Check::fail(
            "tls",
            format!("no TLS handshake within {}", secs()),
            "check that the relay serves HTTPS on this port",
        )),
    }
}

fn tls_verified(place: &Place, insecure: bool) -> Check {
    if insecure {
        return Check::warn(
            "tls",
            "encrypted, but the certificate is not checked (--insecure)",
            "pass --ca-cert PATH with the relay's certificate instead of --insecure",
        );
    }
    Check::ok(
        "tls",
        format!("the certificate is valid for {}", place.host),
    )
}

/// The TLS line of an `http://` relay: fine on this machine, a warning
/// when webhooks and their signatures cross a network in the clear.
fn plain(place: &Place) -> Check {
    let loopback = place.host == "localhost"
        || place
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return Check::ok("tls", "not used: an http:// relay on this machine");
    }
    Check::warn(
        "tls",
        "not used: the link to the relay is not encrypted",
        "use an https:// relay (docs/relay.md, \"HTTPS\") unless this network is trusted",
    )
}

/// The token line from the first probe, and whether the relay predates
/// probes.
fn token_check(outcome: &Outcome, given: bool) -> (Check, bool) {
    let admitted = if given {
        "accepted"
    } else {
        "none needed: the relay admits clients without a token"
    };
    match outcome {
        Outcome::Answered(_) => (Check::ok("token", admitted), false),
        Outcome::Joined => (Check::ok("token", admitted), true),
        Outcome::Refused { code, reason } if *code == close::UNAUTHORIZED => {
            let fix = if given {
                "check --token (or HOOKHOLE_TOKEN, or token in the config file): the relay does not accept it"
            } else {
                "pass --token (or HOOKHOLE_TOKEN) with a token the relay's operator gave you"
            };
            (
                Check::fail("token", format!("refused: {reason}"), fix),
                false,
            )
        }
        Outcome::Refused { code, reason } if *code == close::UNSUPPORTED_VERSION => (
            Check::fail(
                "token",
                format!("the relay refused this client's protocol: {reason}"),
                "upgrade the older of relay and hookhole",
            ),
            false,
        ),
        Outcome::Refused { code, reason } => (
            Check::fail(
                "token",
                format!("the relay closed the probe ({code}: {reason})"),
                "try again; if it persists, ask the relay's operator",
            ),
            false,
        ),
        Outcome::Failed(why) => (
            Check::fail(
                "token",
                format!("the probe got no answer: {why}"),
                "try again; if it persists, ask the relay's operator",
            ),
            false,
        ),
    }
}

/// The channel line from the probe of `name`.
fn channel_check(outcome: &Outcome, name: &str, remembered: bool) -> Check {
    let which = if remembered {
        format!("{name} (remembered from an earlier run)")
    } else {
        name.to_string()
    };
    match outcome {
        Outcome::Answered(probed) => match &probed.refused {
            None => {
                let listeners =
                    crate::output::count(probed.listeners as usize, "listener", "listeners");
                Check::ok(
                    "channel",
                    format!("{which} can be claimed with this token ({listeners} on it now)"),
                )
            }
            Some(why) => Check::fail(
                "channel",
                format!("{which}: {why}"),
                "choose another --channel, or use the token that claimed this one",
            ),
        },
        // After a first probe answered, a join here is a relay changed
        // under us: it left at once.
        Outcome::Joined => Check::warn(
            "channel",
            format!("{which}: joined, as a relay older than probes does, and left at once"),
            "upgrade the relay",
        ),
        Outcome::Refused { code, reason } => Check::fail(
            "channel",
            format!("{which}: refused ({code}: {reason})"),
            "choose another --channel, or drop it to have the relay assign one",
        ),
        Outcome::Failed(why) => Check::fail(
            "channel",
            format!("{which}: the probe got no answer: {why}"),
            "try again; if it persists, ask the relay's operator",
        ),
    }
}
