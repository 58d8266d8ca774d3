//! Resolving `listen`'s settings from flags, environment and the config
//! file, one piece at a time: `listen` takes them all at once
//! ([`ListenArgs::resolve`]) and stops at the first mistake; `hookhole
//! doctor` takes each piece on its own, so one bad setting does not hide
//! the state of the others, and both read the same flags the same way.

use super::file::ListenFile;
use super::{DEFAULT_FORWARD_TIMEOUT, DEFAULT_PORT, ListenArgs, ListenConfig, parse_answer};
use crate::engine;
use crate::history::Keep;
use crate::secrets;
use crate::target::Target;
use crate::verification::Verifier;
use hookhole_host::settings::{self, UsageError};
use hookhole_shared::protocol::{Answer, Token};
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::secret::Secret;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the config file gives `listen`: its `[listen]` section and the
/// providers its `[[preset]]`s add, read once.
pub struct FileSettings {
    /// The file read, if one was found.
    pub path: Option<PathBuf>,
    file: ListenFile,
    pub registry: Registry,
}

impl FileSettings {
    /// Reads the explicit config file, else the first found (none found:
    /// the defaults). A file that does not parse is a [`UsageError`]
    /// naming the file, and the line and column for a TOML mistake.
    pub fn load(config_file: Option<&Path>) -> Result<FileSettings, UsageError> {
        let path = settings::find(config_file);
        Ok(FileSettings {
            file: settings::load_section(path.as_deref(), "listen")?,
            registry: crate::verification::registry(path.as_deref())?,
            path,
        })
    }

    /// No file: flags, environment and built-in providers only.
    pub fn none() -> FileSettings {
        FileSettings {
            path: None,
            file: ListenFile::default(),
            registry: Registry::builtin(),
        }
    }

    /// Where the file's `@path` secrets are looked up.
    fn dir(&self) -> Option<&Path> {
        self.path.as_deref().and_then(Path::parent)
    }
}

/// One `--secret` or config file `secret` value, with where its `@path`
/// is looked up.
pub struct SecretSetting<'a> {
    pub text: &'a str,
    pub base: Option<&'a Path>,
    /// `--secret` or `secret` (the config file's).
    pub setting: &'static str,
}

impl ListenArgs {
    /// Everything `listen` needs, or the first mistake in it.
    pub fn resolve(&self, config_file: Option<&Path>) -> Result<ListenConfig, UsageError> {
        self.resolve_with(&FileSettings::load(config_file)?)
    }

    /// [`ListenArgs::resolve`] with the config file already read.
    pub fn resolve_with(&self, file: &FileSettings) -> Result<ListenConfig, UsageError> {
        let target = self.target(file)?;
        let channel = self.channel(file)?;
        let relays = self.relays(file)?;
        let rest = self.rest(file)?;
        let registry = file.registry.clone();
        let routes = self.routes(file)?;
        let mut secrets = Vec::new();
        for given in self.secret_settings(file) {
            secrets.extend(given.resolve(&registry)?);
        }
        let tls = self.tls(file, &relays)?;
        Ok(ListenConfig {
            retries: self.retries || file.file.retries.unwrap_or(false),
            retry_speed: rest.retry_speed,
            target,
            relays,
            channel,
            port: self.port(file),
            data_dir: self.data_dir(file),
            response_timeout: rest.response_timeout,
            forward_timeout: rest.forward_timeout,
            verifier: Verifier { registry, secrets },
            tui: !rest.headless && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            keep: rest.keep,
            token: self.token(file),
            tls,
            provider: rest.provider,
            routes,
            answer: rest.answer,
            utc_offset_s: 0,
        })
    }

    /// The local server (`--forward`, else the file's `forward`).
    pub fn target(&self, file: &FileSettings) -> Result<Target, UsageError> {
        let (setting, forward) = match (&self.forward, &file.file.forward) {
            (Some(flag), _) => ("--forward", flag),
            (None, Some(text)) => ("forward", text),
            (None, None) => return Err(UsageError(
                "--forward is required: the local server to send webhooks to, e.g. --forward http://127.0.0.1:3000".into(),
            )),
        };
        Target::parse_setting(setting, forward).map_err(UsageError)
    }

    /// The channel asked for, checked; `None`: the remembered or an assigned one.
    pub fn channel(&self, file: &FileSettings) -> Result<Option<String>, UsageError> {
        let channel = self.channel.clone().or(file.file.channel.clone());
        if let Some(name) = &channel {
            hookhole_shared::channel::validate(name)
                .map_err(|e| UsageError(format!("--channel {name:?}: {e}")))?;
        }
        Ok(channel)
    }

    /// The relays, checked; none: the embedded relay.
    pub fn relays(&self, file: &FileSettings) -> Result<Vec<String>, UsageError> {
        let (setting, relays) = match (&self.relay, &file.file.relay) {
            (flags, _) if !flags.is_empty() => ("--relay", flags),
            (_, listed) => ("relay", listed),
        };
        for url in relays {
            // An empty entry comes from a doubled comma in HOOKHOLE_RELAY.
            let named = if url.is_empty() { "\"\"" } else { url };
            engine::connect_url(url)
                .map_err(|why| UsageError(format!("{setting} {named}: {why}")))?;
        }
        Ok(relays.clone())
    }

    /// Trust for the `https://` relays among `relays` (`None` when there are none).
    pub fn tls(
        &self,
        file: &FileSettings,
        relays: &[String],
    ) -> Result<Option<Arc<rustls::ClientConfig>>, UsageError> {
        let secure = |url: &String| url.starts_with("https://") || url.starts_with("wss://");
        if !relays.iter().any(secure) {
            return Ok(None);
        }
        crate::relay_tls::client_config(
            self.ca_cert.as_deref().or(file.file.ca_cert.as_deref()),
            self.insecure(file),
        )
        .map(Some)
        .map_err(UsageError)
    }

    /// Whether certificates go unchecked (`--insecure`, the file's `insecure`).
    pub fn insecure(&self, file: &FileSettings) -> bool {
        self.insecure || file.file.insecure.unwrap_or(false)
    }

    /// The token for a remote relay.
    pub fn token(&self, file: &FileSettings) -> Option<Token> {
        self.token.clone().or(file.file.token.clone()).map(Token)
    }

    /// The embedded relay's port.
    pub fn port(&self, file: &FileSettings) -> u16 {
        self.port.or(file.file.port).unwrap_or(DEFAULT_PORT)
    }

    /// The data dir: the flag, the file's, else the platform's.
    pub fn data_dir(&self, file: &FileSettings) -> Option<PathBuf> {
        super::data_dir_of(self.data_dir.clone(), file.file.data_dir.clone())
    }

    /// `--route`s, else the file's `[[listen.route]]`s.
    pub fn routes(&self, file: &FileSettings) -> Result<crate::route::Routes, UsageError> {
        super::routes(&self.route, &file.file.route, &file.registry)
    }

    /// Every secret given, flags and environment first, then the file's:
    /// they add up.
    pub fn secret_settings<'a>(&'a self, file: &'a FileSettings) -> Vec<SecretSetting<'a>> {
        let flags = self.secret.iter().map(|text| SecretSetting {
            text,
            base: None,
            setting: "--secret",
        });
        let in_file = file.file.secret.iter().map(|text| SecretSetting {
            text,
            base: file.dir(),
            setting: "secret",
        });
        flags.chain(in_file).collect()
    }

    /// The settings no check of `hookhole doctor` is about (history kept,
    /// timeouts, answer mode, provider, retries): read and checked together.
    pub fn rest(&self, file: &FileSettings) -> Result<Rest, UsageError> {
        let file_settings = &file.file;
        let response_timeout = match self.response_timeout {
            Some(t) => Some(t),
            None => settings::file_duration(
                file_settings.response_timeout.as_deref(),
                "response-timeout",
            )?,
        };
        let forward_timeout = match self.forward_timeout {
            Some(t) => t,
            None => settings::file_duration(
                file_settings.forward_timeout.as_deref(),
                "forward-timeout",
            )?
            .unwrap_or(DEFAULT_FORWARD_TIMEOUT),
        };
        let keep = match (self.keep, &file_settings.keep) {
            (Some(keep), _) => keep,
            (None, Some(text)) => Keep::parse(text).map_err(UsageError)?,
            (None, None) => Keep::default(),
        };
        let provider = self.provider.clone().or(file_settings.provider.clone());
        if let Some(id) = &provider {
            secrets::known_provider("--provider", id, &file.registry)?;
        }
        let answer = match (self.answer, &file_settings.answer) {
            (Some(answer), _) => answer,
            (None, Some(text)) => parse_answer(text)
                .map_err(|e| UsageError(format!("answer in the config file: {e}")))?,
            (None, None) => Answer::Local,
        };
        let retry_speed = match (self.retry_speed, file_settings.retry_speed) {
            (Some(speed), _) => speed,
            (None, Some(n)) => u32::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| UsageError(format!("retry-speed = {n}: a whole number from 1")))?,
            (None, None) => crate::retries::DEFAULT_SPEED,
        };
        Ok(Rest {
            response_timeout,
            forward_timeout,
            headless: self.no_tui || file_settings.no_tui.unwrap_or(false),
            keep,
            provider,
            answer,
            retry_speed,
        })
    }
}

impl SecretSetting<'_> {
    /// The secret this value gives, or what is wrong with it.
    pub fn resolve(&self, registry: &Registry) -> Result<Vec<Secret>, UsageError> {
        secrets::resolve(
            std::slice::from_ref(&self.text.to_string()),
            registry,
            self.base,
        )
    }
}

/// [`ListenArgs::rest`]: the settings checked together.
pub struct Rest {
    response_timeout: Option<std::time::Duration>,
    forward_timeout: std::time::Duration,
    headless: bool,
    keep: Keep,
    provider: Option<String>,
    answer: Answer,
    retry_speed: u32,
}
