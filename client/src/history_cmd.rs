//! `hookhole history`, `show` and `replay`: the saved deliveries, from any
//! terminal, while a listener runs or after it stopped (`export` is in
//! [`crate::export`]).

use crate::delivery::{Attempt, StoredDelivery};
use crate::forward::{DEFAULT_MAX_RESPONSE, Forwarder};
use crate::history::History;
use crate::listen::{self, shared_settings};
use crate::output;
use crate::replay::{Mode, Replay, Replayer};
use crate::target::Target;
use crate::verification::Verifier;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookhole_host::settings::UsageError;
use hookhole_shared::signature::sign::rfc3339;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
    /// Local server to send to [default: where the delivery's last attempt
    /// went, else forward of hookhole.toml]
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

fn path_and_query(d: &hookhole_shared::protocol::Delivery) -> String {
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
            crate::present::badge(r.signature.status),
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
            crate::present::badge(d.verdict.status),
            d.verdict.scheme.as_deref().unwrap_or("-"),
            d.verdict.reason
        ),
        String::new(),
    ];
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

/// Where a replay goes: `--forward`, else where the delivery's last
/// attempt went, else `forward` of hookhole.toml. Says which, as the
/// sentence after "replaying to URL".
fn replay_target(
    flag: Option<&str>,
    stored: &StoredDelivery,
    config_file: Option<&Path>,
) -> Result<(Target, &'static str), UsageError> {
    let (url, setting, why) = match (flag, stored.last_target()) {
        (Some(url), _) => (url.to_string(), "--forward", "--forward"),
        (None, Some(url)) => (
            url.to_string(),
            "the last attempt's target",
            "where its last attempt went",
        ),
        (None, None) => (
            listen::file_forward(config_file)?.ok_or_else(|| {
                UsageError(format!(
                    "{}: no local server to replay to: its attempts name none; pass --forward URL (or set forward in hookhole.toml)",
                    stored.delivery.id
                ))
            })?,
            "forward",
            "forward of hookhole.toml",
        ),
    };
    let target = Target::parse_setting(setting, &url).map_err(UsageError)?;
    Ok((target, why))
}

/// Runs `hookhole replay`; fails when any replay got no 2xx answer.
pub async fn replay(args: &ReplayArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    if args.ids.is_empty() && !args.failed {
        return Err(UsageError("name delivery ids to replay, or pass --failed".into()).into());
    }
    let history = Arc::new(open(&args.at, config_file)?);
    let registry = crate::verification::registry(config_file)?;
    let mut secrets = crate::secrets::resolve(&args.secret, &registry, None)?;
    secrets.extend(shared_settings(config_file, &registry, None)?.secrets);
    let verifier = Arc::new(Verifier { registry, secrets });

    let ids: Vec<String> = if args.failed {
        blocking(&history, history.summaries(usize::MAX, true))?
            .into_iter()
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
    let mode = if args.resign {
        Mode::Resigned
    } else {
        Mode::AsIs
    };
    let mut replayer: Option<Replayer> = None;
    let mut failures = 0;
    for id in ids {
        let stored = blocking(&history, history.get(&id))?;
        let (target, why) = replay_target(args.forward.as_deref(), &stored, config_file)?;
        // One forwarder (one connection pool) while the target stays.
        if replayer
            .as_ref()
            .is_none_or(|r| *r.forwarder.target() != target)
        {
            // On stderr, as `trigger` says which listener it uses: stdout
            // is one line per replay.
            eprintln!(
                "hookhole: replaying to {} ({why})",
                hookhole_shared::printable::line(&target.to_string())
            );
            replayer = Some(Replayer {
                forwarder: Forwarder::new(target, Duration::from_secs(30), DEFAULT_MAX_RESPONSE),
                verifier: verifier.clone(),
                history: Some(history.clone()),
            });
        }
        let replayer = replayer.as_ref().expect("set just above");
        let number = blocking(&history, history.next_attempt(&id).map_err(Into::into))?;
        let replay = Replay::of(&stored, number, mode.clone());
        let replayed = replayer
            .replay(replay)
            .await
            .map_err(|e| UsageError(format!("{id}: {e}; nothing was sent")))?;
        replayed
            .saved
            .map_err(|e| anyhow::anyhow!("{id}: cannot save the replay: {e}"))?;
        let a = &replayed.attempt;
        let outcome = match (a.outcome.status(), a.outcome.error()) {
            (Some(status), _) => format!("{status} in {} ms", a.duration_ms.unwrap_or(0)),
            (None, Some((code, message))) => format!("✗ {code}: {message}"),
            (None, None) => "…".into(),
        };
        failures += usize::from(a.outcome.failed().unwrap_or(true));
        output::line(&format!(
            "#{number} {id} {} {} ({}) -> {outcome}",
            stored.delivery.method,
            path_and_query(&stored.delivery),
            a.kind.as_str()
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
