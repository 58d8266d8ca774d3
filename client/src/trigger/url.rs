//! Where `hookhole trigger` sends: `--to`, or the listener started from this
//! directory, with `--path` after the URL's path.

use super::TriggerArgs;
use crate::announce;
use hookhole_host::settings::UsageError;
use hookhole_shared::printable;
use std::path::Path;

/// The URL to send to: `--to`, or the listener started from this directory,
/// with `--path` after its path.
pub fn target(args: &TriggerArgs, data_dir: Option<&Path>) -> Result<String, UsageError> {
    let base = match (&args.to, data_dir) {
        (Some(to), _) => to.clone(),
        (None, Some(dir)) => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let Some((found, elsewhere)) = announce::find(dir, &cwd) else {
                return Err(UsageError(
                    "no running `hookhole listen` found: start one in this directory, or pass --to URL".into(),
                ));
            };
            if let Some(dir) = elsewhere {
                // The directory is any name a user gave it: escaped.
                eprintln!(
                    "{}",
                    printable::line(&format!("hookhole: using the listener started in {dir}"))
                );
            }
            found.public_url
        }
        (None, None) => {
            return Err(UsageError(
                "no data dir to find the listener in: pass --to URL".into(),
            ));
        }
    };
    let url = with_path(&base, &args.path)?;
    if url.starts_with("https://") {
        return Err(UsageError(
            "--to https:// is not supported yet; use the relay's http:// URL".into(),
        ));
    }
    if !url.starts_with("http://") {
        return Err(UsageError(format!("--to {url:?}: expected an http:// URL")));
    }
    if let Err(e) = url.parse::<http::Uri>() {
        return Err(UsageError(format!("{url:?} is not a URL: {e}")));
    }
    Ok(url)
}

/// `base` with `path` after its path and before its query: `http://h/a?q=1`
/// and `/b` make `http://h/a/b?q=1`.
fn with_path(base: &str, path: &str) -> Result<String, UsageError> {
    if path.is_empty() {
        return Ok(base.to_string());
    }
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(UsageError(format!(
            "--path {path:?}: expected a path starting with '/', e.g. /webhooks/stripe"
        )));
    }
    let (before, query) = base.split_at(base.find(['?', '#']).unwrap_or(base.len()));
    Ok(format!("{}{path}{query}", before.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_goes_after_the_urls_path_and_before_its_query() {
        let join = |base, path| with_path(base, path).map_err(|e| e.0);
        assert_eq!(join("http://h:1", "/x").unwrap(), "http://h:1/x");
        assert_eq!(join("http://h:1/", "/x").unwrap(), "http://h:1/x");
        assert_eq!(join("http://h/demo", "/a/b").unwrap(), "http://h/demo/a/b");
        assert_eq!(join("http://h/a?q=1", "/b").unwrap(), "http://h/a/b?q=1");
        assert_eq!(join("http://h/a?q=1", "").unwrap(), "http://h/a?q=1");
        assert!(join("http://h", "x").is_err());
        assert!(join("http://h", "/x?y").is_err());
    }
}
