//! `hookhole trigger`'s flags, and the values they parse into.

use super::{Options, set};
use hookhole_host::settings::{self, UsageError};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Path appended to the URL (the listener's or --to's), e.g. /webhooks/stripe
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
    /// How many to send (1 or more)
    #[arg(long, default_value_t = 1, value_parser = parse_count)]
    pub count: u32,
    /// At most this many per second, e.g. 5 or 5/s [default: one after another]
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Change one body byte after signing (the listener must show invalid)
    #[arg(long)]
    pub tamper: bool,
    /// Sign with a timestamp this old, e.g. 10m (the listener must show expired)
    #[arg(long, value_parser = parse_age)]
    pub age: Option<Age>,
    /// Extra header as 'Name: value' (repeatable; replaces one of the same name)
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Send this file's bytes as the body instead of the event's (still signed)
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Change a JSON body field before signing, e.g. data.object.amount=4200
    /// (repeatable; VALUE is JSON when it parses, else a string)
    // Parsed with the event's other settings (`trigger::options`): its
    // errors quote the flag clipped, where clap's would quote all of it.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Send each event twice, as the provider's retry would: the same event
    /// id, the next attempt number, a fresh signature
    #[arg(long)]
    pub duplicate: bool,
    /// Data dir of the listener to find [default: the platform data dir]
    #[arg(long, env = "HOOKHOLE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl TriggerArgs {
    /// How to send, from the flags (`--data-file` read here, bounded).
    pub fn options(&self) -> anyhow::Result<Options> {
        let extra_headers = self
            .headers
            .iter()
            .map(|h| crate::verify_cmd::parse_header(h))
            .collect::<Result<Vec<_>, _>>()?;
        let data = match &self.data_file {
            Some(path) => Some(
                hookhole_host::bounded_read::read_file(path, hookhole_host::bounded_read::BODY_MAX)
                    .map_err(|e| UsageError(format!("--data-file {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let set = self
            .set
            .iter()
            .map(|text| {
                set::parse(text).map_err(|e| UsageError(format!("--set {}: {e}", set::clip(text))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Options {
            tamper: self.tamper,
            age: self.age.clone().unwrap_or_default(),
            extra_headers,
            data,
            set,
        })
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("invalid rate {text:?}: expected e.g. 5 or 5/s")),
    }
}

fn parse_count(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err("--count 0 sends nothing: give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "invalid count {text:?}: expected a number, 1 or more"
        )),
    }
}

/// `--age` as the user wrote it (printed back as given: `10m`, not
/// `600s`) and as a duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Age {
    pub given: String,
    pub duration: Duration,
}

impl From<Duration> for Age {
    fn from(duration: Duration) -> Age {
        Age {
            given: humantime::format_duration(duration).to_string(),
            duration,
        }
    }
}

pub(super) fn parse_age(text: &str) -> Result<Age, String> {
    Ok(Age {
        given: text.trim().to_string(),
        duration: settings::parse_age(text)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive() {
        assert_eq!(parse_rate("5/s"), Ok(5.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn counts_start_at_one_and_ages_print_as_given() {
        assert_eq!(parse_count("3"), Ok(3));
        assert!(parse_count("0").unwrap_err().contains("1 or more"));
        assert!(parse_count("-1").is_err());
        let age = parse_age("10m").unwrap();
        assert_eq!((age.given.as_str(), age.duration.as_secs()), ("10m", 600));
        assert_eq!(parse_age("600s").unwrap().given, "600s");
    }
}
