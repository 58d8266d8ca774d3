//! `hookhole doctor`: what stands between the user and a working `hookhole
//! listen` with the same flags, environment and config file, one line per
//! check with a verdict and a fix.
//!
//! It takes `listen`'s own flags ([`ListenArgs`], flattened) and resolves
//! them piece by piece with `listen`'s resolver, so a setting means the
//! same in both and one bad setting does not hide the state of the rest.
//! Every network step has [`STEP`] to finish: doctor never hangs.
//!
//! It never takes a delivery: the relay's token and channel are checked by
//! probes ([`probe`]), which the relay answers without making them
//! listeners.
//!
//! - [`report`]: the lines, as text or JSON lines, and the exit verdict.
//! - [`relay`]: a remote relay, step by step; [`health`]: its protocol
//!   version; [`probe`]: the probing hello.
//! - [`local`]: the forward and route targets, the embedded relay's port,
//!   the data dir.

use crate::listen::{FileSettings, ListenArgs};
use crate::memory::ChannelMemory;
use crate::route::Action;
use report::{Check, Report};
use std::path::Path;
use std::time::Duration;

mod health;
mod local;
mod probe;
mod relay;
mod report;

pub use report::Verdict;

/// How long each network step (connect, TLS handshake, health, probe,
/// forward) may take.
pub const STEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Print one JSON object per check, one per line, instead of text
    #[arg(long)]
    pub json: bool,
}

/// Some check failed (each is printed already): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(String);

/// Runs every check and prints it as it is made; `Err(Failed)` when any
/// check failed.
pub async fn run(args: &DoctorArgs, config_file: Option<&Path>) -> anyhow::Result<()> {
    let mut report = Report::new(args.json);
    let listen = &args.listen;
    let file = config(config_file, &mut report);
    report.add(match listen.rest(&file) {
        Ok(_) => Check::ok(
            "settings",
            "history, timeouts, answer mode and retries are valid",
        ),
        Err(e) => Check::fail("settings", e.0, "correct the setting named"),
    });
    relays(listen, &file, &mut report).await;
    forward(listen, &file, &mut report).await;
    report.add(local::data_dir(listen.data_dir(&file).as_deref()));
    secrets(listen, &file, &mut report);
    let failures = report.failures();
    if !report.json() {
        crate::output::line(&report.summary());
    }
    match failures {
        0 => Ok(()),
        n => Err(Failed(format!(
            "{} failed",
            crate::output::count(n, "check", "checks")
        ))
        .into()),
    }
}

/// The config file: which one was read, or why it cannot be. A bad file
/// leaves the other checks to flags and environment alone.
fn config(config_file: Option<&Path>, report: &mut Report) -> FileSettings {
    match FileSettings::load(config_file) {
        Ok(file) => {
            report.add(match &file.path {
                Some(path) => Check::ok("config", format!("read {}", path.display())),
                None => Check::ok(
                    "config",
                    format!(
                        "none found (looked for ./{} and in the platform config dir)",
                        hookhole_host::settings::FILE_NAME
                    ),
                ),
            });
            file
        }
        Err(e) => {
            report.add(Check::fail(
                "config",
                format!("{}; the other checks use flags and environment only", e.0),
                "correct the file at the line and column named, or pass --config with another",
            ));
            FileSettings::none()
        }
    }
}

/// The relays `listen` would use, or the embedded relay.
async fn relays(listen: &ListenArgs, file: &FileSettings, report: &mut Report) {
    let relays = match listen.relays(file) {
        Ok(relays) => relays,
        Err(e) => {
            return report.add(Check::fail("relay", e.0, "give the relay's http(s) URL"));
        }
    };
    if relays.is_empty() {
        return report.add(local::embedded_port(listen.port(file)).await);
    }
    let tls = match listen.tls(file, &relays) {
        Ok(tls) => tls,
        Err(e) => {
            return report.add(Check::fail(
                "tls",
                e.0,
                "pass --ca-cert with a PEM file holding the relay's certificate",
            ));
        }
    };
    let asked = match listen.channel(file) {
        Ok(asked) => asked,
        Err(e) => {
            return report.add(Check::fail(
                "channel",
                e.0,
                "use lowercase letters, digits and '-'",
            ));
        }
    };
    let memory = listen.data_dir(file).map(|dir| ChannelMemory::new(&dir));
    for url in &relays {
        // As `listen` does: the channel asked for, else the one this relay
        // assigned last time.
        let channel = asked.clone().map(|name| (name, false)).or_else(|| {
            let key = crate::engine::relays::Relay::new(url.as_str()).memory_key;
            memory
                .as_ref()
                .and_then(|m| m.get(&key))
                .map(|name| (name, true))
        });
        let setup = relay::Setup {
            tls: tls.clone(),
            insecure: listen.insecure(file),
            token: listen.token(file),
            channel,
        };
        relay::check(url, &setup, report).await;
    }
}

/// The forward target, and every route's own target.
async fn forward(listen: &ListenArgs, file: &FileSettings, report: &mut Report) {
    match listen.target(file) {
        Ok(target) => {
            let check = local::answers("forward", &target).await;
            report.add(check.on(target.to_string()));
        }
        Err(e) => report.add(Check::fail(
            "forward",
            e.0,
            "pass --forward with your server's address, e.g. --forward 3000",
        )),
    }
    let routes = match listen.routes(file) {
        Ok(routes) => routes,
        Err(e) => {
            return report.add(Check::fail(
                "route",
                e.0,
                "correct the route (docs/routes.md)",
            ));
        }
    };
    for route in routes.iter() {
        if let Action::Forward(target) = &route.action {
            let check = local::answers("route", target).await;
            report.add(check.on(format!("{} to {target}", route.label)));
        }
    }
}

/// Each secret given: it parses, names a known provider (else the closest
/// one is suggested) and its value can be read. Never shows the value.
fn secrets(listen: &ListenArgs, file: &FileSettings, report: &mut Report) {
    let given = listen.secret_settings(file);
    if given.is_empty() {
        return report.add(Check::ok(
            "secret",
            "none given: signatures are shown as not checked",
        ));
    }
    for (n, secret) in given.iter().enumerate() {
        // The provider, never the value: text before `=` only.
        let subject = match secret.text.split_once('=') {
            Some((provider, _)) => format!("{} {}", secret.setting, provider.trim()),
            None => format!("{} {}", secret.setting, n + 1),
        };
        report.add(match secret.resolve(&file.registry) {
            Ok(_) => Check::ok("secret", "parsed; the provider is known and the value readable"),
            Err(e) => Check::fail(
                "secret",
                e.0,
                "correct it: PROVIDER=SECRET[,key=value...]; `hookhole providers` lists the providers",
            ),
        }
        .on(subject));
    }
}
