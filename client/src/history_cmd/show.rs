//! `hookhole show`: one saved delivery, for people or as JSON (the JSON is
//! also `export --format json`'s).

use super::{ShowArgs, blocking, open_to_read, time};
use crate::delivery::{Attempt, StoredDelivery};
use crate::output;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookhole_shared::signature::Registry;
use serde_json::{Value, json};
use std::path::Path;

/// Body bytes in JSON: text as is, anything else as base64 (never lossy).
fn body_json(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!({ "text": text }),
        Err(_) => json!({ "base64": STANDARD.encode(body) }),
    }
}

fn attempt_json(a: &Attempt) -> Value {
    json!({
        "number": a.number,
        "kind": a.kind.as_str(),
        "started_at": time(a.started_ms),
        "duration_ms": a.duration_ms,
        "status": a.outcome.status(),
        "error": a.outcome.error().map(|(code, message)| format!("{code}: {message}")),
        "target": a.target,
        "response": { "headers": a.outcome.headers(), "body": body_json(a.outcome.body()) },
        "request_headers": a.request_headers,
        "request_body": a.request_body.as_deref().map(body_json),
        "signature": a.verdict,
    })
}

/// A delivery as JSON; its `webhook` object (absent without a provider)
/// is judged by the rules in `registry`.
pub fn delivery_json(d: &StoredDelivery, registry: &Registry) -> Value {
    let mut value = json!({
        "id": d.delivery.id,
        "channel": d.channel,
        "seq": d.delivery.seq,
        "received_at": time(d.delivery.received_at_ms),
        "method": d.delivery.method,
        "path": d.delivery.path,
        "query": d.delivery.query,
        "url": d.delivery.url,
        "headers": d.delivery.headers,
        "body": body_json(&d.delivery.body),
        "signature": d.verdict,
        "attempts": d.attempts.iter().map(attempt_json).collect::<Vec<_>>(),
    });
    if let Some(webhook) = d.webhook(registry) {
        value["webhook"] = json!(webhook);
    }
    if let Some(route) = &d.route {
        value["route"] = json!(route);
    }
    if !d.heard.is_local() {
        value["sender_heard"] = json!(d.heard);
    }
    value
}

pub fn show(args: &ShowArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let history = open_to_read(&args.at, config_file)?;
    let registry = crate::verification::registry(config_file)?;
    let d = blocking(&history, history.get(&args.id))?;
    if args.json {
        output::json(&delivery_json(&d, &registry), true)?;
        return Ok(());
    }
    let mut lines = vec![
        format!("{} {}", d.delivery.method, d.delivery.url),
        format!(
            "id {}  channel {}  seq {}  received {}",
            d.delivery.id,
            d.channel,
            d.delivery.seq,
            time(d.delivery.received_at_ms)
        ),
        format!(
            "signature: {} {}  {}",
            crate::present::badge(d.verdict.status),
            d.verdict.scheme.as_deref().unwrap_or("-"),
            d.verdict.reason
        ),
    ];
    if let Some(route) = &d.route {
        lines.push(format!("route: {}", route.taken(d.attempts.first())));
    }
    if let Some(heard) = d.heard.describe() {
        lines.push(format!("sender heard: {heard}"));
    }
    // What the delivery says as a webhook, and what its provider would do.
    if let Some(webhook) = d.webhook(&registry) {
        lines.extend(
            webhook
                .lines()
                .into_iter()
                .map(|(label, text)| format!("{}: {text}", label.to_lowercase())),
        );
    }
    lines.push(String::new());
    lines.extend(crate::present::header_lines(&d.delivery.headers));
    lines.push(String::new());
    lines.extend(crate::present::body::render(
        &d.delivery.headers,
        &d.delivery.body,
    ));
    for a in &d.attempts {
        lines.push(String::new());
        let result = match (a.outcome.status(), a.outcome.error()) {
            (Some(s), _) => s.to_string(),
            (None, Some(("interrupted", _))) => "interrupted".into(),
            (None, Some((code, message))) => format!("✗ {code}: {message}"),
            (None, None) => "… pending".into(),
        };
        lines.push(format!(
            "attempt {} ({}) at {}: {result}{}{}",
            a.number,
            a.kind.as_str(),
            time(a.started_ms),
            a.duration_ms
                .map(|d| format!(" in {d} ms"))
                .unwrap_or_default(),
            a.target
                .as_deref()
                .map(|t| format!(" to {t}"))
                .unwrap_or_default()
        ));
        lines.extend(crate::present::header_lines(a.outcome.headers()).map(|l| format!("  {l}")));
        if !a.outcome.body().is_empty() {
            lines.extend(
                crate::present::body::render(a.outcome.headers(), a.outcome.body())
                    .into_iter()
                    .map(|l| format!("  {l}")),
            );
        }
    }
    for line in lines {
        if !output::line(&line) {
            break;
        }
    }
    Ok(())
}
