//! `hookhole trigger`: send a realistic, correctly signed webhook from any
//! provider, to the running listener or any URL.
//!
//! `args` holds the flags, [`catalogue`] the events, [`set`] the body edits
//! of `--set`, `url` where they go and `answer` what came back (the
//! server's answer, or the relay's refusal); this file signs and sends.

mod answer;
mod args;
pub mod catalogue;
mod fill;
pub mod set;
mod url;

pub use answer::{Answer, HttpClient, http_client, send};
pub use args::{Age, TriggerArgs};

use crate::listen;
use crate::output::count;
use crate::secrets;
use catalogue::{Event, Fill, UNSIGNED};
use hookhole_host::settings::UsageError;
use hookhole_shared::headers::Header;
use hookhole_shared::printable;
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::sign::{Signing, sign};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How to send one event.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tamper: bool,
    pub age: Age,
    pub extra_headers: Vec<Header>,
    pub data: Option<Vec<u8>>,
    /// `--set` edits, applied in order to the body (the event's or
    /// `--data-file`'s) before signing.
    pub set: Vec<set::FieldSet>,
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
    let at = now - options.age.duration.as_secs() as i64;
    let fill = Fill::new(at);
    let (mut headers, mut body) = event.render(&fill)?;
    if let Some(data) = &options.data {
        body = data.clone();
    }
    if !options.set.is_empty() {
        body = set::apply(&body, &options.set)?;
    }
    // Before signing, so a scheme that signs headers signs the user's.
    set_headers(&mut headers, &options.extra_headers);
    if event.provider != UNSIGNED && event.preset(registry).is_none() {
        return Err(format!("no signature scheme named {}", event.provider));
    }
    let mut how = "unsigned".to_string();
    if let Some(preset) = event.signer(registry) {
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
        // Named as the user wrote them.
        let replaced: Vec<&str> = options
            .extra_headers
            .iter()
            .filter(|e| named(&signed.headers, &e.name))
            .map(|e| e.name.as_str())
            .collect();
        headers.extend(signed.headers);
        body = signed.body;
        how = if replaced.is_empty() {
            format!("signed as {}", preset.id)
        } else {
            // What arrives carries the user's signature, not ours.
            format!("{} from --header", replaced.join(", "))
        };
        if replaced.is_empty() && !options.age.duration.is_zero() {
            how.push_str(&format!(" {} ago", options.age.given));
        }
    }
    // Again after signing: `-H` replaces a signature header too.
    set_headers(&mut headers, &options.extra_headers);
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

/// Whether `headers` has one named `name` (header names ignore case).
fn named(headers: &[Header], name: &str) -> bool {
    headers.iter().any(|h| h.name.eq_ignore_ascii_case(name))
}

/// Puts each of `extra` in `headers`, replacing any of the same name.
fn set_headers(headers: &mut Vec<Header>, extra: &[Header]) {
    headers.retain(|h| !named(extra, &h.name));
    headers.extend(extra.iter().cloned());
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

fn list(events: &[Event], registry: &Registry) {
    let width = events.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for event in events {
        let note = match event.signer(registry) {
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

/// Runs `hookhole trigger`; errors when any request got no answer or the
/// relay refused it (exit 1; usage errors exit 2).
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
    match event.signer(&registry) {
        Some(p) if !p.algorithm.is_symmetric() => {
            return Err(UsageError(format!(
                "{} uses public-key signatures: only the provider's private key can sign them",
                event.provider
            ))
            .into());
        }
        Some(_) if secret.is_none() => {
            return Err(UsageError(format!(
                "no secret for {0}: pass --secret {0}=... (the one the listener verifies with) or put it in hookhole.toml under [listen] secret",
                event.provider
            ))
            .into());
        }
        _ => {}
    }
    if args.tamper && event.signer(&registry).is_some_and(|p| !p.covers_body()) {
        eprintln!(
            "{}",
            printable::line(&format!(
                "hookhole: note: {} does not sign every byte of the body, so --tamper may change nothing it checks",
                event.provider
            ))
        );
    }
    let url = url::target(args, shared.data_dir.as_deref())?;
    let extra_headers = args
        .headers
        .iter()
        .map(|h| crate::verify_cmd::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let data = match &args.data_file {
        Some(path) => Some(
            hookhole_host::bounded_read::read_file(path, hookhole_host::bounded_read::BODY_MAX)
                .map_err(|e| UsageError(format!("--data-file {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let options = Options {
        tamper: args.tamper,
        age: args.age.clone().unwrap_or_default(),
        extra_headers,
        data,
        set: args.set.clone(),
    };
    let client = http_client();
    let started = tokio::time::Instant::now();
    let (mut unanswered, mut refused) = (0, 0);
    for n in 1..=args.count {
        if let Some(rate) = args.rate {
            // Pacing a stream for load practice: the n-th request at n/rate s.
            tokio::time::sleep_until(started + Duration::from_secs_f64(f64::from(n - 1) / rate))
                .await;
        }
        let prepared =
            prepare(event, &registry, secret, &url, unix_now(), &options).map_err(UsageError)?;
        let answer = send(&client, &prepared).await;
        match &answer {
            Ok(a) if a.relay_refusal().is_some() => refused += 1,
            Ok(_) => {}
            Err(_) => unanswered += 1,
        }
        let sent = format!(
            "#{n} {} {} {} ({})",
            event.name, prepared.method, prepared.url, prepared.how
        );
        crate::output::line(&answer::report(&sent, &answer));
    }
    let sent = count(args.count as usize, "request", "requests");
    match (unanswered, refused) {
        (0, 0) => Ok(()),
        (0, refused) => anyhow::bail!("the relay refused {refused} of {sent}"),
        (unanswered, 0) => anyhow::bail!("{unanswered} of {sent} got no answer"),
        (unanswered, refused) => {
            anyhow::bail!("{unanswered} of {sent} got no answer and the relay refused {refused}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_one_byte() {
        let mut body = br#"{"a":"z9"}"#.to_vec();
        change_one_byte(&mut body);
        assert_eq!(body, br#"{"a":"z0"}"#);
        let mut empty = Vec::new();
        change_one_byte(&mut empty);
        assert_eq!(empty, b" ");
    }

    fn stripe() -> (Event, Registry, Secret) {
        let registry = Registry::builtin();
        let events = catalogue::catalogue(&registry);
        let event = catalogue::find(&events, "stripe")
            .expect("stripe is in the catalogue")
            .clone();
        (event, registry, Secret::new("stripe", "whsec_unit"))
    }

    #[test]
    fn a_header_that_replaces_the_signature_is_sent_alone_and_not_called_signed() {
        let (event, registry, secret) = stripe();
        let options = Options {
            extra_headers: vec![Header::new("stripe-signature", "t=1,v1=00")],
            ..Options::default()
        };
        let p = prepare(
            &event,
            &registry,
            Some(&secret),
            "http://h/",
            1_000,
            &options,
        )
        .unwrap();
        let sigs: Vec<_> = p
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("stripe-signature"))
            .collect();
        assert_eq!(sigs.len(), 1, "{:?}", p.headers);
        assert_eq!(sigs[0].value, b"t=1,v1=00");
        assert!(!p.how.contains("signed"), "{}", p.how);
        assert!(p.how.contains("from --header"), "{}", p.how);

        let options = Options {
            extra_headers: vec![Header::new("X-Trace", "1")],
            age: args::parse_age("10m").unwrap(),
            ..Options::default()
        };
        let p = prepare(
            &event,
            &registry,
            Some(&secret),
            "http://h/",
            1_000,
            &options,
        )
        .unwrap();
        assert_eq!(p.how, "signed as stripe 10m ago");
    }
}
