//! `hookhole export`: saved deliveries as HAR 1.2 ([`crate::har`]), JSON
//! with exact bodies, or curl commands ([`crate::present::curl`]) that send the
//! local server what the listener forwarded.

use crate::history::{Selection, StoredDelivery};
use crate::history_cmd::{Where, blocking, delivery_json, open_to_read, time};
use crate::listen;
use crate::output;
use crate::target::Target;
use hookhole_host::settings::UsageError;
use hookhole_shared::printable::to_json_pretty;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Har,
    Curl,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write here instead of standard output (owner-only, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// For --format curl: the local server the commands send to
    /// [default: --forward of hookhole.toml]
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    #[arg(long)]
    pub failed: bool,
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[command(flatten)]
    pub at: Where,
}

pub fn export(args: &ExportArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    // Resolved first: a missing target is a usage error before any work.
    let curl_to = match args.format {
        Format::Curl => Some(curl_target(args, config_file)?),
        Format::Har | Format::Json => None,
    };
    let history = open_to_read(&args.at, config_file)?;
    let registry = crate::verification::registry(config_file)?;
    let selection = Selection {
        failed: args.failed,
        ..Selection::default()
    };
    let ids: Vec<String> = blocking(
        &history,
        history.summaries(args.limit, &selection, &registry),
    )?
    .into_iter()
    .map(|s| s.id)
    .collect();
    let deliveries: Vec<StoredDelivery> = ids
        .iter()
        .map(|id| blocking(&history, history.get(id)))
        .collect::<Result<_, _>>()?;
    let text = match (args.format, &curl_to) {
        (_, Some(target)) => curl_script(&deliveries, target),
        // Same meaning as plain serde_json; hidden characters are written
        // as \uXXXX so the export is also safe to print to a terminal.
        (Format::Har, None) => to_json_pretty(&crate::har::har(&deliveries))?,
        (_, None) => to_json_pretty(
            &deliveries
                .iter()
                .map(|d| delivery_json(d, &registry))
                .collect::<Vec<_>>(),
        )?,
    };
    match &args.out {
        Some(path) => hookhole_host::private_files::write(path, (text + "\n").as_bytes())
            .map_err(|e| UsageError(format!("--out {}: {e}", path.display())))?,
        None => {
            output::text(&(text + "\n"));
        }
    }
    Ok(())
}

/// Where exported curl commands send: `--to`, else the configured forward
/// target. Never the sender's `Host` or the public URL.
fn curl_target(args: &ExportArgs, config_file: Option<&Path>) -> Result<Target, UsageError> {
    let (flag, url) = match &args.to {
        Some(to) => ("--to", to.clone()),
        None => (
            "forward",
            listen::file_forward(config_file)?.ok_or_else(|| {
                UsageError(
                    "no local server to send to: pass --to URL (or set forward in hookhole.toml)"
                        .into(),
                )
            })?,
        ),
    };
    Target::parse_setting(flag, &url).map_err(UsageError)
}

/// One curl command per delivery, each under a comment naming it; a
/// delivery the forwarder would refuse gets the refusal instead.
fn curl_script(deliveries: &[StoredDelivery], target: &Target) -> String {
    deliveries
        .iter()
        .map(|d| {
            let about = crate::present::curl::comment(&format!(
                "{} {}",
                d.delivery.id,
                time(d.delivery.received_at_ms)
            ));
            match crate::present::curl::for_delivery(target, &d.delivery) {
                Ok(command) => format!("{about}\n{command}\n"),
                Err(e) => format!(
                    "{about}\n{}\n",
                    crate::present::curl::comment(&format!("not exported: {e}"))
                ),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
