//! `hookhole trigger`: send a realistic, correctly signed webhook from any
//! provider, to the running listener or any URL.
//!
//! `args` holds the flags, [`catalogue`] the events, [`set`] the body edits
//! of `--set`, [`retry`] the second request of `--duplicate`, `url` where
//! they go and `answer` what came back (the server's answer, or the relay's
//! refusal); this file renders, signs and sends.

mod answer;
mod args;
pub mod catalogue;
mod fill;
pub mod retry;
pub mod set;
mod url;

pub use answer::{Answer, HttpClient, Tally, http_client, send};
pub use args::{Age, TriggerArgs};

use crate::listen;
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

/// One event rendered, with the user's body and headers, not yet signed:
/// what `--duplicate` sends again.
#[derive(Debug, Clone)]
pub struct Draft {
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    /// Unix seconds the event is signed at.
    pub at: i64,
    /// The rendering's ids and time (a retry keeps the ids).
    fill: Fill,
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
    let draft = draft(event, now, options)?;
    finish(event, registry, secret, url, &draft, options)
}

/// Renders one event at `now` (less `--age`), with `--data-file`, `--set`
/// and `--header` applied.
pub fn draft(event: &Event, now: i64, options: &Options) -> Result<Draft, String> {
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
    Ok(Draft {
        headers,
        body,
        at,
        fill,
    })
}

/// Signs `draft` at its time and (with `--tamper`) damages it.
pub fn finish(
    event: &Event,
    registry: &Registry,
    secret: Option<&Secret>,
    url: &str,
    draft: &Draft,
    options: &Options,
) -> Result<Prepared, String> {
    if event.provider != UNSIGNED && event.preset(registry).is_none() {
        return Err(format!("no signature scheme named {}", event.provider));
    }
    let mut headers = draft.headers.clone();
    let mut body = draft.body.clone();
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
        let id = format!("msg_{}", draft.fill.event_id);
        let signing = Signing {
            body: &body,
            url,
            headers: &headers,
            timestamp: draft.at,
            id: &id,
        };
        let signed = sign(preset, &secret, &signing)?;
        // `-H` replaces a signature header too (the others are in already).
        let replacing: Vec<Header> = options
            .extra_headers
            .iter()
            .filter(|e| named(&signed.headers, &e.name))
            .cloned()
            .collect();
        headers.extend(signed.headers);
        set_headers(&mut headers, &replacing);
        body = signed.body;
        how = if replacing.is_empty() {
            format!("signed as {}", preset.id)
        } else {
            // What arrives carries the user's signature, not ours. Named as
            // the user wrote them.
            let names: Vec<&str> = replacing.iter().map(|h| h.name.as_str()).collect();
            format!("{} from --header", names.join(", "))
        };
        if replacing.is_empty() && !options.age.duration.is_zero() {
            how.push_str(&format!(" {} ago", options.age.given));
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
    check_signable(event, &registry, secret)?;
    if args.tamper && event.signer(&registry).is_some_and(|p| !p.covers_body()) {
        eprintln!(
            "{}",
            printable::line(&format!(
                "hookhole: note: {} does not sign every byte of the body, so --tamper may change nothing it checks",
                event.provider
            ))
        );
    }
    let options = args.options()?;
    let url = url::target(args, shared.data_dir.as_deref())?;
    let rules = retry::rules(event, &registry);
    // Signed, with the event id and attempt it carries on the line.
    let ready = |draft: &Draft, again: bool| {
        let mut prepared =
            finish(event, &registry, secret, &url, draft, &options).map_err(UsageError)?;
        if args.duplicate {
            let facts = rules.map(|r| retry::facts(event, r, &prepared));
            prepared
                .how
                .push_str(&retry::describe(facts.as_ref(), again));
        }
        Ok::<_, UsageError>(prepared)
    };
    let line = |label: &str, p: &Prepared| {
        format!("{label} {} {} {} ({})", event.name, p.method, p.url, p.how)
    };
    let client = http_client();
    let started = tokio::time::Instant::now();
    let mut tally = Tally::default();
    for n in 1..=args.count {
        if let Some(rate) = args.rate {
            // Pacing a stream for load practice: the n-th event at n/rate s.
            tokio::time::sleep_until(started + Duration::from_secs_f64(f64::from(n - 1) / rate))
                .await;
        }
        let first = draft(event, unix_now(), &options).map_err(UsageError)?;
        let retry = match args.duplicate {
            true => Some(retry::next_attempt(&first, event, &registry).map_err(UsageError)?),
            false => None,
        };
        let prepared = ready(&first, false)?;
        tally
            .exchange(&client, &line(&format!("#{n}"), &prepared), &prepared)
            .await;
        if let Some(retry) = retry {
            // Signed when it is sent, as the provider's retry is.
            let at = unix_now() - options.age.duration.as_secs() as i64;
            let retry = retry::at_time(retry, event, &registry, at).map_err(UsageError)?;
            let prepared = ready(&retry, true)?;
            tally
                .exchange(&client, &line(&format!("#{n} again"), &prepared), &prepared)
                .await;
        }
    }
    tally.outcome()
}

/// A usage error when `event` is to be signed and cannot be: a public-key
/// scheme, or no secret.
fn check_signable(
    event: &Event,
    registry: &Registry,
    secret: Option<&Secret>,
) -> Result<(), UsageError> {
    match event.signer(registry) {
        Some(p) if !p.algorithm.is_symmetric() => Err(UsageError(format!(
            "{} uses public-key signatures: only the provider's private key can sign them",
            event.provider
        ))),
        Some(_) if secret.is_none() => Err(UsageError(format!(
            "no secret for {0}: pass --secret {0}=... (the one the listener verifies with) or put it in hookhole.toml under [listen] secret",
            event.provider
        ))),
        _ => Ok(()),
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
