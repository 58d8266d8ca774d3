//! `hookhole trigger`: send a realistic, correctly signed webhook from any
//! provider, to the running listener or any URL.

pub mod catalogue;

use crate::announce;
use crate::listen;
use crate::secrets;
use bytes::Bytes;
use catalogue::{Event, Fill, UNSIGNED};
use hookhole_relay::settings::{self, UsageError};
use hookhole_shared::headers::Header;
use hookhole_shared::printable;
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::sign::{Signing, sign};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, clap::Args)]
pub struct TriggerArgs {
    /// PROVIDER or PROVIDER.EVENT, e.g. stripe, github.push, maple.order.notification
    pub event: Option<String>,
    /// List the events
    #[arg(long)]
    pub list: bool,
    /// Where to send [default: the listener running from this directory]
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Path appended to the listener's URL, e.g. /webhooks/stripe
    #[arg(long, default_value = "")]
    pub path: String,
    /// PROVIDER=SECRET[,key=value...] [default: the listener's secrets in hookhole.toml]
    #[arg(
        long,
        short = 's',
        env = "HOOKHOLE_SECRET",
        value_name = "PROVIDER=SECRET"
    )]
    pub secret: Vec<String>,
    /// How many to send
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// At most this many per second, e.g. 5 or 5/s [default: one after another]
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Change one body byte after signing (the listener must show invalid)
    #[arg(long)]
    pub tamper: bool,
    /// Sign with a timestamp this old, e.g. 10m (the listener must show expired)
    #[arg(long, value_parser = settings::parse_age)]
    pub age: Option<Duration>,
    /// Extra header as 'Name: value' (repeatable; replaces one of the same name)
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send this file's bytes as the body instead of the event's (still signed)
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Data dir of the listener to find [default: the platform data dir]
    #[arg(long, env = "HOOKHOLE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("invalid rate {text:?}: expected e.g. 5 or 5/s")),
    }
}

/// How to send one event.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tamper: bool,
    pub age: Duration,
    pub extra_headers: Vec<Header>,
    pub data: Option<Vec<u8>>,
}

/// A request ready to send, and how it was made (for the printed line).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub how: String,
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Renders, signs and (with `--tamper`) damages one event. Pure: the clock
/// is `now`.
pub fn prepare(
    event: &Event,
    registry: &Registry,
    secret: Option<&Secret>,
    url: &str,
    now: i64,
    options: &Options,
) -> Result<Prepared, String> {
    let at = now - options.age.as_secs() as i64;
    let fill = Fill::new(at);
    let (mut headers, mut body) = event.render(&fill)?;
    if let Some(data) = &options.data {
        body = data.clone();
    }
    for extra in &options.extra_headers {
        headers.retain(|h| !h.name.eq_ignore_ascii_case(&extra.name));
        headers.push(extra.clone());
    }
    let mut how = "unsigned".to_string();
    if event.provider != UNSIGNED {
        let preset = event
            .preset(registry)
            .ok_or_else(|| format!("no signature scheme named {}", event.provider))?;
        let mut secret = secret
            .ok_or_else(|| format!("no secret for {}", event.provider))?
            .clone();
        for (key, value) in &event.params {
            secret
                .params
                .entry(key.clone())
                .or_insert_with(|| value.clone());
        }
        let id = format!("msg_{}", fill.event_id);
        let signing = Signing {
            body: &body,
            url,
            headers: &headers,
            timestamp: at,
            id: &id,
        };
        let signed = sign(preset, &secret, &signing)?;
        headers.extend(signed.headers);
        body = signed.body;
        how = format!("signed as {}", preset.id);
        if !options.age.is_zero() {
            how.push_str(&format!(" {} ago", humantime::format_duration(options.age)));
        }
    }
    if options.tamper {
        change_one_byte(&mut body);
        how.push_str(", then 1 body byte changed");
    }
    Ok(Prepared {
        method: event.method.clone(),
        url: url.to_string(),
        headers,
        body,
        how,
    })
}

/// Changes the last letter or digit of the body (keeping JSON and form
/// bodies well-formed), or appends a byte to an empty body.
fn change_one_byte(body: &mut Vec<u8>) {
    match body.iter().rposition(u8::is_ascii_alphanumeric) {
        Some(i) => {
            body[i] = match body[i] {
                b'9' => b'0',
                b'z' => b'a',
                b'Z' => b'A',
                other => other + 1,
            }
        }
        None => body.push(b' '),
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub elapsed: Duration,
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub async fn send(client: &HttpClient, prepared: &Prepared) -> Result<Answer, String> {
    let mut builder = http::Request::builder()
        .method(prepared.method.as_str())
        .uri(prepared.url.as_str());
    for h in &prepared.headers {
        builder = builder.header(h.name.as_str(), h.value.as_slice());
    }
    let request = builder
        .body(Full::new(Bytes::from(prepared.body.clone())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
        .await
        .map_err(|_| "no answer within 60 s".to_string())?
        .map_err(|e| {
            let mut cause: &dyn std::error::Error = &e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            format!("cannot reach {}: {cause}", prepared.url)
        })?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
        .to_bytes();
    Ok(Answer {
        status,
        body,
        elapsed: started.elapsed(),
    })
}

/// One line: what was sent and what came back.
fn report(n: u32, event: &Event, prepared: &Prepared, answer: &Result<Answer, String>) -> String {
    let sent = format!(
        "#{n} {} {} {} ({})",
        event.name, prepared.method, prepared.url, prepared.how
    );
    match answer {
        Ok(a) => {
            let reason = http::StatusCode::from_u16(a.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            // The relay's own errors say what went wrong; show that.
            let detail = serde_json::from_slice::<serde_json::Value>(&a.body)
                .ok()
                .and_then(|v| {
                    v.get("error")
                        .and_then(|e| e.as_str())
                        .map(|e| format!(": {e}"))
                })
                .unwrap_or_default();
            format!(
                "{sent} -> {} {reason}{detail} in {} ms",
                a.status,
                a.elapsed.as_millis()
            )
        }
        Err(e) => format!("{sent} -> failed: {e}"),
    }
}

fn list(events: &[Event], registry: &Registry) {
    let width = events.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for event in events {
        let note = match event.preset(registry) {
            Some(p) if !p.algorithm.is_symmetric() => {
                "  (public-key scheme: cannot be signed here)"
            }
            _ => "",
        };
        if !crate::output::line(&format!(
            "{:<width$}  {}{note}",
            event.name, event.description
        )) {
            return;
        }
    }
}

/// The URL to send to: `--to`, or the listener started from this directory.
fn target(args: &TriggerArgs, data_dir: Option<&Path>) -> Result<String, UsageError> {
    let url = match (&args.to, data_dir) {
        (Some(to), _) => to.clone(),
        (None, Some(dir)) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let Some((found, elsewhere)) = announce::find(dir, &cwd) else {
                return Err(UsageError(
                    "no running `hookhole listen` found: start one in this directory, or pass --to URL".into(),
                ));
            };
            if let Some(dir) = elsewhere {
                // The directory is any name a user gave it: escaped.
                eprintln!(
                    "{}",
                    printable::line(&format!("hookhole: using the listener started in {dir}"))
                );
            }
            format!("{}{}", found.public_url, args.path)
        }
        (None, None) => {
            return Err(UsageError(
                "no data dir to find the listener in: pass --to URL".into(),
            ));
        }
    };
    if url.starts_with("https://") {
        return Err(UsageError(
            "--to https:// is not supported yet; use the relay's http:// URL".into(),
        ));
    }
    if !url.starts_with("http://") {
        return Err(UsageError(format!("--to {url:?}: expected an http:// URL")));
    }
    Ok(url)
}

/// Runs `hookhole trigger`; errors when any request got no answer.
pub async fn run(args: &TriggerArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let registry = crate::verification::registry(config_file)?;
    let events = catalogue::catalogue(&registry);
    let Some(wanted) = args.event.as_deref().filter(|_| !args.list) else {
        list(&events, &registry);
        return Ok(());
    };
    let event = catalogue::find(&events, wanted).map_err(UsageError)?;
    let shared = listen::shared_settings(config_file, &registry, args.data_dir.clone())?;
    let mut all_secrets = secrets::resolve(&args.secret, &registry, None)?;
    all_secrets.extend(shared.secrets);
    let secret = all_secrets.iter().find(|s| s.provider == event.provider);
    if event.provider != UNSIGNED {
        match event.preset(&registry) {
            Some(p) if !p.algorithm.is_symmetric() => {
                return Err(UsageError(format!(
                    "{} uses public-key signatures: only the provider's private key can sign them",
                    event.provider
                ))
                .into());
            }
            _ if secret.is_none() => {
                return Err(UsageError(format!(
                    "no secret for {0}: pass --secret {0}=... (the one the listener verifies with) or put it in hookhole.toml under [listen] secret",
                    event.provider
                ))
                .into());
            }
            _ => {}
        }
    }
    if args.tamper && event.preset(&registry).is_some_and(|p| !p.covers_body()) {
        eprintln!(
            "{}",
            printable::line(&format!(
                "hookhole: note: {} does not sign every byte of the body, so --tamper may change nothing it checks",
                event.provider
            ))
        );
    }
    let url = target(args, shared.data_dir.as_deref())?;
    let extra_headers = args
        .headers
        .iter()
        .map(|h| crate::verify_cmd::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let data = match &args.data_file {
        Some(path) => Some(
            hookhole_relay::bounded_read::read_file(path, hookhole_relay::bounded_read::BODY_MAX)
                .map_err(|e| UsageError(format!("--data-file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let options = Options {
        tamper: args.tamper,
        age: args.age.unwrap_or_default(),
        extra_headers,
        data,
    };
    let client = http_client();
    let started = tokio::time::Instant::now();
    let mut failures = 0;
    for n in 1..=args.count {
        if let Some(rate) = args.rate {
            // Pacing a stream for load practice: the n-th request at n/rate s.
            tokio::time::sleep_until(started + Duration::from_secs_f64(f64::from(n - 1) / rate))
                .await;
        }
        let prepared =
            prepare(event, &registry, secret, &url, unix_now(), &options).map_err(UsageError)?;
        let answer = send(&client, &prepared).await;
        failures += u32::from(answer.is_err());
        crate::output::line(&report(n, event, &prepared, &answer));
    }
    if failures > 0 {
        anyhow::bail!("{failures} of {} requests got no answer", args.count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_tampering() {
        assert_eq!(parse_rate("5/s"), Ok(5.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
        let mut body = br#"{"a":"z9"}"#.to_vec();
        change_one_byte(&mut body);
        assert_eq!(body, br#"{"a":"z0"}"#);
        let mut empty = Vec::new();
        change_one_byte(&mut empty);
        assert_eq!(empty, b" ");
    }
}
