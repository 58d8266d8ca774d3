//! `hookhole verify`: verify one request offline, e.g. a body and headers
//! copied from a provider's dashboard or a log.

use crate::secrets;
use crate::verification::Verifier;
use hookhole_host::bounded_read;
use hookhole_host::settings::UsageError;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::Status;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Secret: PROVIDER=SECRET[,key=value...] (repeatable; @path and env:NAME work)
    #[arg(long, short = 's', value_name = "PROVIDER=SECRET")]
    pub secret: Vec<String>,
    /// A request header as 'Name: value' (repeatable)
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// File holding the exact body bytes ('-' for standard input)
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
    /// The public URL the provider called (Twilio, Square and Maple sign it)
    #[arg(long, default_value = "")]
    pub url: String,
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Verify as of this Unix time (seconds) instead of now
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub now: Option<i64>,
}

/// Prints the verdict as JSON on stdout and a summary on stderr; returns
/// whether the signature is valid.
pub fn run(args: &VerifyArgs, config_file: Option<&Path>) -> anyhow::Result<bool> {
    let registry = crate::verification::registry(config_file)?;
    let secrets = secrets::resolve(&args.secret, &registry, None)?;
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let body = if args.body_file.as_os_str() == "-" {
        bounded_read::read_limited(std::io::stdin().lock(), bounded_read::BODY_MAX)
    } else {
        bounded_read::read_file(&args.body_file, bounded_read::BODY_MAX)
    }
    .map_err(|e| UsageError(format!("--body-file {}: {e}", args.body_file.display())))?;
    let now = args.now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    });
    let verifier = Verifier { registry, secrets };
    let verdict = verifier.check_parts(&args.method, &args.url, &headers, &body, now);
    crate::output::json(&verdict, false)?;
    // The reason can quote header values: escaped like every other output.
    eprintln!(
        "{}",
        hookhole_shared::printable::line(&format!(
            "{} {}  {}",
            badge(verdict.status),
            verdict.scheme.as_deref().unwrap_or("-"),
            verdict.reason
        ))
    );
    Ok(verdict.status == Status::Valid)
}

pub fn parse_header(text: &str) -> Result<Header, UsageError> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| UsageError(format!("--header {text:?}: expected 'Name: value'")))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UsageError(format!(
            "--header {text:?}: invalid header name"
        )));
    }
    Ok(Header::new(name.to_ascii_lowercase(), value.trim()))
}

/// The symbol and word shown for a status (never colour alone).
pub fn badge(status: Status) -> String {
    let symbol = match status {
        Status::Valid => "✓",
        Status::Invalid => "✗",
        Status::Expired => "⏱",
        Status::Unsigned => "–",
        Status::NoSecret => "?",
        Status::Malformed => "!",
    };
    format!("{symbol} {}", status.as_str())
}
