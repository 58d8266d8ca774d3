//! `hookhole history`, `show` and `replay`: the saved deliveries, from any
//! terminal, while a listener runs or after it stopped (`show` is in
//! [`show`], `export` in [`crate::export`]).

mod show;

pub use show::{delivery_json, show};

use crate::delivery::StoredDelivery;
use crate::forward::{DEFAULT_MAX_RESPONSE, Forwarder};
use crate::glob::Glob;
use crate::history::{History, Selection};
use crate::listen::{self, shared_settings};
use crate::output;
use crate::replay::{Mode, Replay, Replayer};
use crate::target::Target;
use crate::verification::Verifier;
use hookhole_host::settings::UsageError;
use hookhole_shared::signature::sign::rfc3339;
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
    /// Only deliveries whose event type matches GLOB (`*` any characters,
    /// `?` one; any case), e.g. 'order.*'
    #[arg(long, value_name = "GLOB", value_parser = Glob::parse)]
    pub event: Option<Glob>,
    /// Only deliveries whose event had arrived before (same provider and event id)
    #[arg(long)]
    pub duplicates: bool,
    /// Only deliveries answered after their provider's deadline
    #[arg(long)]
    pub late: bool,
    /// The most recent N (of those the filters above pick)
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
    let path = crate::delivery::shown_path(&d.path);
    match &d.query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

pub fn history(args: &HistoryArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let history = open_to_read(&args.at, config_file)?;
    let registry = crate::verification::registry(config_file)?;
    let selection = Selection {
        failed: args.failed,
        event: args.event.clone(),
        duplicates: args.duplicates,
        late: args.late,
    };
    let rows = blocking(
        &history,
        history.summaries(args.limit, &selection, &registry),
    )?;
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
        "EVENT",
        "STATUS",
        "SIGNATURE",
        "DUP/LATE",
        "#",
    ]));
    for r in &rows {
        let status = match (r.status, &r.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => format!("✗ {e}"),
            (None, None) => "…".into(),
        };
        let path = crate::delivery::shown_path(&r.path);
        let path = match &r.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let webhook = r.webhook.as_ref();
        let line = table_row([
            &r.id,
            &time(r.received_at_ms),
            &r.method,
            &path,
            webhook.and_then(|w| w.event_type.as_deref()).unwrap_or(""),
            &status,
            crate::present::badge(r.signature.status),
            &webhook.map(|w| w.marks()).unwrap_or_default(),
            &r.attempts.to_string(),
        ]);
        if !output::line(&line) {
            break;
        }
    }
    Ok(())
}

/// Display columns of each column of the `history` table but the last.
const COLUMNS: [usize; 8] = [17, 20, 7, 30, 24, 20, 12, 10];

/// One row of the `history` table: every cell cut or padded to its column
/// (`output::cell`), so a sender's path or event type, or a relay's id,
/// cannot shift the columns or wrap into something that reads as another
/// row.
fn table_row(cells: [&str; 9]) -> String {
    let mut line = String::new();
    for (text, width) in cells.iter().zip(COLUMNS) {
        line.push_str(&output::cell(text, width));
        line.push(' ');
    }
    line.push_str(&output::cell(cells[8], 6));
    line.trim_end().to_string()
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
        blocking(
            &history,
            history.summaries(usize::MAX, &Selection::failed(), &verifier.registry),
        )?
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
