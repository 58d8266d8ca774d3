//! `--domain` and its companions: flags, environment and the `[relay]`
//! section of `hookhole.toml`, checked into [`AcmeSettings`].

use super::domain::parse_domain;
use hookhole_host::settings::UsageError;
use std::path::PathBuf;

/// Let's Encrypt's production directory: the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Its staging directory, for trying a setup without its rate limits.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct AcmeArgs {
    /// Serve HTTPS for this DNS name with a certificate obtained and renewed
    /// automatically from an ACME CA (Let's Encrypt by default); repeatable,
    /// comma-separated in the environment. Its DNS must point here and port
    /// 443 reach --listen
    #[arg(long = "domain", env = "HOOKHOLE_RELAY_DOMAIN", value_name = "NAME",
          value_delimiter = ',', value_parser = parse_domain)]
    pub domains: Vec<String>,
    /// Contact address the CA may mail about the certificates (expiry,
    /// policy changes) [default: none]
    #[arg(long, env = "HOOKHOLE_RELAY_ACME_EMAIL", value_name = "ADDR",
          value_parser = parse_email)]
    pub acme_email: Option<String>,
    /// The ACME CA's directory URL, e.g. Let's Encrypt staging
    /// (https://acme-staging-v02.api.letsencrypt.org/directory) while testing
    /// [default: Let's Encrypt production]
    #[arg(long, env = "HOOKHOLE_RELAY_ACME_DIRECTORY", value_name = "URL",
          value_parser = parse_directory)]
    pub acme_directory: Option<String>,
    /// Trust this CA certificate (PEM) for the ACME directory's own HTTPS,
    /// for a company or test CA
    #[arg(long, env = "HOOKHOLE_RELAY_ACME_CA_CERT", value_name = "PATH")]
    pub acme_ca_cert: Option<PathBuf>,
    /// Also listen for plain HTTP on this port (80 behind the firewall):
    /// the CA's HTTP-01 challenges are answered there instead of TLS-ALPN-01
    /// on --listen, and every other request is redirected to https (308)
    #[arg(long, env = "HOOKHOLE_RELAY_HTTP_PORT", value_name = "PORT",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: Option<u16>,
}

/// The same settings from the `[relay]` section of `hookhole.toml`
/// (`domain = ["relay.example.com"]`, `acme-email = "..."`, ...).
#[derive(Debug, Default)]
pub struct AcmeFile {
    pub domain: Vec<String>,
    pub acme_email: Option<String>,
    pub acme_directory: Option<String>,
    pub acme_ca_cert: Option<PathBuf>,
    pub http_port: Option<u16>,
}

/// What `--domain` and its companions ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The names to certify, checked by [`parse_domain`]; at least one.
    pub domains: Vec<String>,
    /// A contact for the CA's expiry and policy mail.
    pub email: Option<String>,
    /// The CA's directory URL.
    pub directory: String,
    /// A CA certificate to trust for the directory's own HTTPS (a private
    /// or test CA).
    pub ca_cert: Option<PathBuf>,
    /// HTTP-01 on this port instead of TLS-ALPN-01 on the relay's own.
    pub http_port: Option<u16>,
}

impl AcmeArgs {
    /// `None` without `--domain`. `other_tls` says whether another
    /// certificate source was asked for: the two exclude each other.
    pub fn resolve(
        &self,
        file: AcmeFile,
        other_tls: bool,
    ) -> Result<Option<AcmeSettings>, UsageError> {
        let in_file = |key: &str, e: String| UsageError(format!("{key} in the config file: {e}"));
        let mut domains = if self.domains.is_empty() {
            file.domain
                .iter()
                .map(|d| parse_domain(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| in_file("domain", e))?
        } else {
            self.domains.clone()
        };
        domains.sort();
        domains.dedup();
        let email = match (&self.acme_email, file.acme_email) {
            (Some(email), _) => Some(email.clone()),
            (None, Some(email)) => Some(parse_email(&email).map_err(|e| in_file("acme-email", e))?),
            (None, None) => None,
        };
        let directory = match (&self.acme_directory, file.acme_directory) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(url)) => {
                Some(parse_directory(&url).map_err(|e| in_file("acme-directory", e))?)
            }
            (None, None) => None,
        };
        let ca_cert = self.acme_ca_cert.clone().or(file.acme_ca_cert);
        let http_port = match self.http_port.or(file.http_port) {
            Some(0) => return Err(UsageError("http-port: give 1 to 65535".into())),
            port => port,
        };
        if domains.is_empty() {
            if email.is_some() || directory.is_some() || ca_cert.is_some() || http_port.is_some() {
                return Err(UsageError(
                    "--acme-email, --acme-directory, --acme-ca-cert and --http-port need --domain"
                        .into(),
                ));
            }
            return Ok(None);
        }
        if other_tls {
            return Err(UsageError(
                "--domain obtains its certificate from an ACME CA: leave out --tls-cert, --tls-key and --tls-self-signed"
                    .into(),
            ));
        }
        Ok(Some(AcmeSettings {
            domains,
            email,
            directory: directory.unwrap_or_else(|| LETS_ENCRYPT.to_string()),
            ca_cert,
            http_port,
        }))
    }
}

/// Checks `--acme-email`: one plain address, as the CA will mail it.
pub fn parse_email(text: &str) -> Result<String, String> {
    let (local, domain) = text.split_once('@').ok_or("an email address needs an @")?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"@<>()[]\\,;:\"".contains(&b))
    };
    if !plain(local) || !plain(domain) || text.len() > 254 {
        return Err("not a plain email address (like ops@example.com)".into());
    }
    parse_domain(domain).map_err(|e| format!("the email's domain: {e}"))?;
    Ok(text.to_string())
}

/// Checks `--acme-directory`: an https:// URL without credentials.
pub fn parse_directory(text: &str) -> Result<String, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("not a URL ({e})"))?;
    if uri.scheme_str() != Some("https") || uri.host().is_none_or(str::is_empty) {
        return Err("the ACME directory must be an https:// URL".into());
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("no credentials allowed in the URL".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_directories_are_checked() {
        assert_eq!(
            parse_email("ops@example.com").as_deref(),
            Ok("ops@example.com")
        );
        for bad in [
            "ops",
            "@example.com",
            "ops@",
            "a b@example.com",
            "ops@localhost",
            "<x>@example.com",
            "a@b@example.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert!(parse_directory(LETS_ENCRYPT).is_ok());
        for bad in [
            "http://ca.test/dir",
            "ca.test/dir",
            "https://",
            "https://u:p@ca.test/dir",
        ] {
            assert!(parse_directory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_excludes_other_certificates_and_its_companions_need_it() {
        let none = AcmeArgs::default();
        assert_eq!(none.resolve(AcmeFile::default(), true).unwrap(), None);
        let lonely = AcmeArgs {
            http_port: Some(80),
            ..AcmeArgs::default()
        };
        let error = lonely.resolve(AcmeFile::default(), false).unwrap_err();
        assert!(error.0.contains("need --domain"), "{}", error.0);

        let args = AcmeArgs {
            domains: vec!["relay.example".into(), "relay.example".into()],
            ..AcmeArgs::default()
        };
        let error = args.resolve(AcmeFile::default(), true).unwrap_err();
        assert!(error.0.contains("leave out --tls-cert"), "{}", error.0);
        let settings = args.resolve(AcmeFile::default(), false).unwrap().unwrap();
        assert_eq!(settings.domains, ["relay.example"]);
        assert_eq!(settings.directory, LETS_ENCRYPT);

        let file = AcmeFile {
            domain: vec!["Relay.Example.".into()],
            acme_email: Some("ops@example.com".into()),
            ..AcmeFile::default()
        };
        let settings = AcmeArgs::default().resolve(file, false).unwrap().unwrap();
        assert_eq!(settings.domains, ["relay.example"]);
        assert_eq!(settings.email.as_deref(), Some("ops@example.com"));
        let bad = AcmeFile {
            domain: vec!["*.example".into()],
            ..AcmeFile::default()
        };
        let error = AcmeArgs::default().resolve(bad, false).unwrap_err();
        assert!(
            error.0.starts_with("domain in the config file"),
            "{}",
            error.0
        );
    }
}
