//! `hookhole history`, `show` and `replay`: the saved deliveries, from any
//! terminal, while a listener runs or after it stopped (`export` is in
//! [`crate::export`]).

use crate::forward::{DEFAULT_MAX_RESPONSE, Forwarder};
use crate::history::{History, StoredAttempt, StoredDelivery};
use crate::listen::{self, shared_settings};
use crate::output;
use crate::target::Target;
use crate::verification::Verifier;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookhole_relay::settings::UsageError;
use hookhole_shared::signature::sign::rfc3339;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct Where {
    /// The data dir holding the history [default: the listener's]
    #[arg(long, env = "HOOKHOLE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HistoryArgs {
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Only deliveries whose last attempt failed, or whose signature is invalid
    #[arg(long)]
    pub failed: bool,
    /// The most recent N
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub at: Where,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// Delivery id, or a unique prefix of one
    pub id: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub at: Where,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Delivery ids (or unique prefixes)
    pub ids: Vec<String>,
    /// Every delivery whose last attempt failed
    #[arg(long)]
    pub failed: bool,
    /// Re-sign each with a fresh timestamp (needs its provider's secret)
    #[arg(long)]
    pub resign: bool,
    /// Local server to send to [default: --forward of hookhole.toml]
    #[arg(long, value_name = "URL")]
    pub forward: Option<String>,
    /// PROVIDER=SECRET, for --resign [default: the listener's, from hookhole.toml]
    #[arg(
        long,
        short = 's',
        env = "HOOKHOLE_SECRET",
        value_name = "PROVIDER=SECRET"
    )]
    pub secret: Vec<String>,
    #[command(flatten)]
    pub at: Where,
}

pub(crate) fn open(at: &Where, config_file: Option<&Path>) -> Result<History, UsageError> {
    History::open_existing(&data_dir(at, config_file)?).map_err(UsageError)
}

/// For the commands that only read: works on a data dir they cannot write.
pub(crate) fn open_to_read(at: &Where, config_file: Option<&Path>) -> Result<History, UsageError> {
    History::open_read_only(&data_dir(at, config_file)?).map_err(UsageError)
}

fn data_dir(at: &Where, config_file: Option<&Path>) -> Result<PathBuf, UsageError> {
    let registry = crate::verification::registry(config_file)?;
    let shared = shared_settings(config_file, &registry, at.data_dir.clone())?;
    shared
        .data_dir
        .ok_or_else(|| UsageError("no data dir: pass --data-dir".into()))
}

/// A lookup's result, its error as one line (`History::explain`).
pub(crate) fn blocking<T>(
    history: &History,
    result: Result<T, crate::history::LookupError>,
) -> Result<T, UsageError> {
    result.map_err(|e| UsageError(history.explain(&e)))
}

pub(crate) fn time(ms: u64) -> String {
    rfc3339((ms / 1000) as i64)
}

fn target(d: &hookhole_shared::protocol::Delivery) -> String {
    let path = if d.path.is_empty() {
        "/"
    } else {
        d.path.as_str()
    };
    match &d.query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

pub fn history(args: &HistoryArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let history = open_to_read(&args.at, config_file)?;
    let rows = blocking(&history, history.summaries(args.limit, args.failed))?;
    if args.json {
        for row in &rows {
            if !output::json(row, false)? {
                break;
            }
        }
        return Ok(());
    }
    output::line(&table_row([
        "ID",
        "RECEIVED (UTC)",
        "METHOD",
        "PATH",
        "STATUS",
        "SIGNATURE",
        "#",
    ]));
    for r in &rows {
        let status = match (r.status, &r.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => format!("✗ {e}"),
            (None, None) => "…".into(),
        };
        let path = if r.path.is_empty() {
            "/"
        } else {
            r.path.as_str()
        };
        let path = match &r.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let line = table_row([
            &r.id,
            &time(r.received_at_ms),
            &r.method,
            &path,
            &status,
            crate::tui::model::badge(r.signature.status),
            &r.attempts.to_string(),
        ]);
        if !output::line(&line) {
            break;
        }
    }
    Ok(())
}

/// Display columns of each column of the `history` table but the last.
const COLUMNS: [usize; 6] = [17, 20, 7, 30, 20, 12];

/// One row of the `history` table: every cell cut or padded to its column
/// (`output::cell`), so a sender's path or a relay's id cannot shift the
/// columns or wrap into something that reads as another row.
fn table_row(cells: [&str; 7]) -> String {
    let mut line = String::new();
    for (text, width) in cells.iter().zip(COLUMNS) {
        line.push_str(&output::cell(text, width));
        line.push(' ');
    }
    line.push_str(&output::cell(cells[6], 6));
    line.trim_end().to_string()
}

/// Body bytes in JSON: text as is, anything else as base64 (never lossy).
fn body_json(body: &[u8]) -> Value {
    match std::str::from_utf8(body) {
        Ok(text) => json!({ "text": text }),
        Err(_) => json!({ "base64": STANDARD.encode(body) }),
    }
}

fn attempt_json(a: &StoredAttempt) -> Value {
    json!({
        "number": a.number,
        "kind": a.kind,
        "started_at": time(a.started_ms),
        "duration_ms": a.duration_ms,
        "status": a.status,
        "error": a.error_code.as_ref().map(|c| format!("{c}: {}", a.error_message.clone().unwrap_or_default())),
        "response": { "headers": a.response_headers, "body": body_json(&a.response_body) },
        "request_headers": a.request_headers,
        "request_body": a.request_body.as_deref().map(body_json),
        "signature": a.verdict,
    })
}

pub fn delivery_json(d: &StoredDelivery) -> Value {
    json!({
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
    })
}

pub fn show(args: &ShowArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let history = open_to_read(&args.at, config_file)?;
    let d = blocking(&history, history.get(&args.id))?;
    if args.json {
        output::json(&delivery_json(&d), true)?;
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
            crate::tui::model::badge(d.verdict.status),
            d.verdict.scheme.as_deref().unwrap_or("-"),
            d.verdict.reason
        ),
        String::new(),
    ];
    lines.extend(
        d.delivery
            .headers
            .iter()
            .map(|h| format!("{}: {}", h.name, h.value_lossy())),
    );
    lines.push(String::new());
    lines.extend(crate::tui::body::render(
        &d.delivery.headers,
        &d.delivery.body,
    ));
    for a in &d.attempts {
        lines.push(String::new());
        let result = match (a.status, &a.error_code) {
            (Some(s), _) => s.to_string(),
            (None, Some(c)) => format!("✗ {c}: {}", a.error_message.clone().unwrap_or_default()),
            (None, None) => "interrupted".into(),
        };
        lines.push(format!(
            "attempt {} ({}) at {}: {result}{}",
            a.number,
            a.kind,
            time(a.started_ms),
            a.duration_ms
                .map(|d| format!(" in {d} ms"))
                .unwrap_or_default()
        ));
        lines.extend(
            a.response_headers
                .iter()
                .map(|h| format!("  {}: {}", h.name, h.value_lossy())),
        );
        if !a.response_body.is_empty() {
            lines.extend(
                crate::tui::body::render(&a.response_headers, &a.response_body)
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

/// Runs `hookhole replay`; fails when any replay got no 2xx answer.
pub async fn replay(args: &ReplayArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    if args.ids.is_empty() && !args.failed {
        return Err(UsageError("name delivery ids to replay, or pass --failed".into()).into());
    }
    let history = std::sync::Arc::new(open(&args.at, config_file)?);
    let registry = crate::verification::registry(config_file)?;
    let (setting, forward) = match &args.forward {
        Some(f) => ("--forward", f.clone()),
        None => ("forward", listen::file_forward(config_file)?.ok_or_else(|| {
            UsageError("no local server to replay to: pass --forward URL (or set forward in hookhole.toml)".into())
        })?),
    };
    let forwarder = Forwarder::new(
        Target::parse_setting(setting, &forward).map_err(UsageError)?,
        Duration::from_secs(30),
        DEFAULT_MAX_RESPONSE,
    );
    let mut secrets = crate::secrets::resolve(&args.secret, &registry, None)?;
    secrets.extend(shared_settings(config_file, &registry, None)?.secrets);
    let verifier = Verifier { registry, secrets };

    let h = history.clone();
    let ids: Vec<String> = if args.failed {
        let all = blocking(&h, h.summaries(usize::MAX, false))?;
        all.into_iter()
            .filter(|s| s.status.is_none_or(|code| !(200..300).contains(&code)))
            .map(|s| s.id)
            .collect()
    } else {
        args.ids
            .iter()
            .map(|id| blocking(&history, history.resolve(id)))
            .collect::<Result<_, _>>()?
    };
    if ids.is_empty() {
        output::line("nothing to replay");
        return Ok(());
    }
    let mut failures = 0;
    for id in ids {
        let stored = blocking(&history, history.get(&id))?;
        let mut delivery = stored.delivery.clone();
        let number = blocking(&history, history.next_attempt(&id).map_err(Into::into))?;
        let started_ms = crate::trigger::unix_now() as u64 * 1000;
        let kind = if args.resign { "resigned" } else { "replay" };
        if args.resign {
            let about = crate::replay::About {
                method: &stored.delivery.method,
                url: &stored.delivery.url,
                id: &stored.delivery.id,
                scheme: stored.verdict.scheme.as_deref(),
            };
            crate::replay::resign(
                &mut delivery.headers,
                &mut delivery.body,
                about,
                &verifier,
                crate::trigger::unix_now(),
            )
            .map_err(|e| UsageError(format!("{id}: {e}")))?;
        }
        let started = Instant::now();
        let result = forwarder.forward(&delivery, usize::MAX).await;
        let mut attempt = StoredAttempt::from_result(
            kind,
            number,
            &result,
            started_ms,
            started.elapsed().as_millis() as u64,
        );
        if args.resign {
            attempt.sent(&delivery.headers, &delivery.body);
        }
        blocking(
            &history,
            history.record_attempt(&id, &attempt).map_err(Into::into),
        )?;
        let outcome = match &result {
            Ok(r) => format!("{} in {} ms", r.status, attempt.duration_ms.unwrap_or(0)),
            Err(f) => format!("✗ {}: {}", f.code.as_str(), f.message),
        };
        failures += usize::from(attempt.failed());
        output::line(&format!(
            "#{number} {id} {} {} ({kind}) -> {outcome}",
            delivery.method,
            target(&delivery)
        ));
    }
    if failures > 0 {
        anyhow::bail!(
            "{} did not get a 2xx answer",
            output::count(failures, "replay", "replays")
        );
    }
    Ok(())
}
