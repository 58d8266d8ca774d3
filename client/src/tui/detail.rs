//! The detail pane's text for one delivery and tab.

use super::app::Tab;
use super::model::Record;
use crate::delivery::{Attempt, Outcome};
use crate::present::{badge, body, header_lines, status_line};
use hookhole_shared::signature::Status;

pub fn lines(record: &Record, tab: Tab, utc_offset_s: i64) -> Vec<String> {
    match tab {
        Tab::Request => request(record),
        Tab::Response => response(record),
        Tab::Signature => signature(record),
        Tab::Attempts => attempts(record, utc_offset_s),
    }
}

fn request(r: &Record) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(route) = &r.route {
        out.push(format!(
            "{:<11}{}",
            "Route:",
            route.taken(r.attempts.first())
        ));
    }
    if let Some(heard) = r.heard.describe() {
        out.push(format!("Sender heard: {heard}"));
    }
    out.extend(webhook(r));
    out.extend([format!("{} {}", r.method, r.url), String::new()]);
    out.extend(header_lines(&r.headers));
    out.push(String::new());
    out.push(format!("Body ({})", body::human_size(r.body.len())));
    out.extend(body::render(&r.headers, &r.body));
    out
}

/// What the delivery says as a webhook and what its provider would do,
/// above the request (nothing without a provider).
fn webhook(r: &Record) -> Vec<String> {
    let Some(w) = &r.webhook else {
        return Vec::new();
    };
    let mut out: Vec<String> = w
        .lines()
        .into_iter()
        .map(|(label, text)| format!("{:<11}{text}", format!("{label}:")))
        .collect();
    out.push(String::new());
    out
}

fn response(r: &Record) -> Vec<String> {
    let Some(last) = r.last() else {
        return vec!["No attempt yet.".into()];
    };
    let mut out = vec![format!(
        "Attempt {} ({}){}",
        last.number,
        last.kind.label(),
        last.duration_ms
            .map(|d| format!(", {d} ms"))
            .unwrap_or_default()
    )];
    out.push(String::new());
    match &last.outcome {
        Outcome::Pending => out.push("… waiting for the local server".into()),
        Outcome::Failed { .. } | Outcome::Interrupted | Outcome::NotSent(_) => {
            let (code, message) = last.outcome.error().unwrap_or_default();
            out.push(format!("No response: {code}"));
            out.push(message.to_string());
        }
        Outcome::Answered {
            status,
            headers: h,
            body: b,
        } => {
            out.push(status_line(*status));
            out.extend(header_lines(h));
            out.push(String::new());
            out.push(format!("Body ({})", body::human_size(b.len())));
            out.extend(body::render(h, b));
        }
    }
    out
}

fn signature(r: &Record) -> Vec<String> {
    let v = &r.verdict;
    let mut out = vec![
        format!(
            "Scheme:     {}",
            v.scheme.as_deref().unwrap_or("(none detected)")
        ),
        format!("Status:     {}", badge(v.status)),
        format!("Reason:     {}", v.reason),
    ];
    if let Some(age) = v.timestamp_age_s {
        out.push(format!("Timestamp:  {age} s old when received"));
    }
    if let Some(secret) = &v.secret {
        out.push(format!("Matched:    {secret}"));
    }
    if !v.candidates.is_empty() {
        out.push(format!("Candidates: {}", v.candidates.join(", ")));
    }
    out.push(String::new());
    out.push(
        match v.status {
            Status::NoSecret => "Pass --secret PROVIDER=SECRET (or add it to hookhole.toml) to verify these.",
            Status::Expired => "The secret is right; the delivery is older than the provider's window. R re-signs it with a fresh timestamp.",
            Status::Invalid => "Wrong secret, or the body was changed after signing.",
            Status::Malformed => "The signature header is present but cannot be parsed.",
            Status::Unsigned => "No signature header this hookhole knows (`hookhole providers` lists them).",
            Status::Valid => "Verified against the exact bytes that arrived.",
        }
        .to_string(),
    );
    out
}

/// `HH:MM:SS` in local time.
pub fn clock(ms: u64, utc_offset_s: i64) -> String {
    let secs = (ms / 1000) as i64 + utc_offset_s;
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

fn attempts(r: &Record, utc_offset_s: i64) -> Vec<String> {
    let mut out = Vec::new();
    for a in &r.attempts {
        out.push(attempt_line(a, utc_offset_s));
        if let Some(v) = &a.verdict {
            out.push(format!(
                "     signature: {} ({})",
                badge(v.status),
                v.reason
            ));
        }
    }
    out.push(String::new());
    out.push(
        "r replays as-is, R re-signs with a fresh timestamp, e edits in $EDITOR first.".into(),
    );
    out
}

fn attempt_line(a: &Attempt, utc_offset_s: i64) -> String {
    let result = match (&a.outcome, a.outcome.error()) {
        (Outcome::Answered { status, .. }, _) => status_line(*status),
        (_, Some((code, message))) => format!("{code}: {message}"),
        (_, None) => "… pending".to_string(),
    };
    let took = a.duration_ms.map(|d| format!("{d} ms")).unwrap_or_default();
    format!(
        "#{:<3} {:<17} {}  {:<30} {took}",
        a.number,
        a.kind.label(),
        clock(a.started_ms, utc_offset_s),
        result
    )
}
