//! Turning `--secret` arguments into secrets: reading `@path` files and
//! `env:NAME` variables, and refusing provider names we do not know (a typo
//! would otherwise show every delivery as `no_secret`).

use hookhole_host::bounded_read::{SECRET_FILE_MAX, read_text_file};
use hookhole_host::settings::UsageError;
use hookhole_shared::signature::Registry;
use hookhole_shared::signature::secret::{Secret, SecretSource, SecretSpec};
use std::path::Path;

/// Parses and resolves every `--secret` value. `base` is where relative
/// `@path`s are looked up (the config file's directory for file entries).
pub fn resolve(
    specs: &[String],
    registry: &Registry,
    base: Option<&Path>,
) -> Result<Vec<Secret>, UsageError> {
    specs
        .iter()
        .map(|text| {
            let spec = SecretSpec::parse(text).map_err(|e| UsageError(format!("--secret: {e}")))?;
            known_provider("--secret", &spec.provider, registry)?;
            // Settings the provider cannot use (`algorithm=rot13`, a missing
            // `header=`) are refused now, not found on every delivery later.
            for preset in registry.presets().iter().filter(|p| p.id == spec.provider) {
                preset
                    .with_params(&spec.params)
                    .map_err(|e| UsageError(format!("--secret {}: {e}", spec.provider)))?;
            }
            let value = match &spec.source {
                SecretSource::Literal(v) => v.clone(),
                SecretSource::File(path) => {
                    let path = match base {
                        Some(dir) if Path::new(path).is_relative() => dir.join(path),
                        _ => Path::new(path).to_path_buf(),
                    };
                    let text = read_text_file(&path, SECRET_FILE_MAX).map_err(|e| {
                        UsageError(format!(
                            "--secret {}: cannot read {}: {e}",
                            spec.provider,
                            path.display()
                        ))
                    })?;
                    text.trim_end_matches(['\r', '\n']).to_string()
                }
                SecretSource::Env(name) => std::env::var(name).map_err(|_| {
                    UsageError(format!(
                        "--secret {}: environment variable {name} is not set",
                        spec.provider
                    ))
                })?,
            };
            if value.is_empty() {
                return Err(UsageError(format!(
                    "--secret {}: the secret is empty",
                    spec.provider
                )));
            }
            Ok(spec.resolve(value))
        })
        .collect()
}

/// Refuses a provider id the registry does not know, naming the setting
/// and a near miss: a typo would otherwise go unnoticed on every delivery.
pub fn known_provider(setting: &str, id: &str, registry: &Registry) -> Result<(), UsageError> {
    if registry.knows(id) {
        return Ok(());
    }
    Err(UsageError(format!(
        "{setting}: unknown provider {id:?}{}; `hookhole providers` lists them",
        suggestion(id, registry)
    )))
}

/// ` (did you mean "stripe"?)` for a near miss.
fn suggestion(name: &str, registry: &Registry) -> String {
    let best = registry
        .presets()
        .iter()
        .map(|p| (edit_distance(name, &p.id), p.id.as_str()))
        .min();
    match best {
        Some((d, id)) if d <= 2 => format!(" (did you mean {id:?}?)"),
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_literal_file_and_env() {
        let registry = Registry::builtin();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gh.txt"), "from-a-file\n").unwrap();
        let specs = vec![
            "stripe=whsec_literal".to_string(),
            "github=@gh.txt".to_string(),
            "maple=env:PATH,subscription_id=dws_1".to_string(),
        ];
        let secrets = resolve(&specs, &registry, Some(dir.path())).unwrap();
        assert_eq!(secrets[0].value, "whsec_literal");
        assert_eq!(secrets[1].value, "from-a-file");
        assert_eq!(secrets[2].value, std::env::var("PATH").unwrap());
        assert_eq!(secrets[2].params["subscription_id"], "dws_1");
    }

    #[test]
    fn explains_what_is_wrong() {
        let registry = Registry::builtin();
        let err = resolve(&["strpe=x".into()], &registry, None).unwrap_err();
        assert!(err.0.contains("did you mean \"stripe\""), "{}", err.0);
        let err = resolve(&["github=@/nonexistent/x".into()], &registry, None).unwrap_err();
        assert!(err.0.contains("cannot read"), "{}", err.0);
        let err = resolve(
            &["github=env:HOOKHOLE_TEST_UNSET_VAR".into()],
            &registry,
            None,
        )
        .unwrap_err();
        assert!(err.0.contains("not set"), "{}", err.0);
        for (spec, says) in [
            ("github=x,algorithm=rot13", "unknown algorithm \"rot13\""),
            (
                "generic=x,header=X-Sig,encoding=rot13",
                "unknown encoding \"rot13\"",
            ),
            ("github=x,tolerance=abc", "whole seconds"),
            ("maple=x", "needs subscription_id"),
        ] {
            let err = resolve(&[spec.into()], &registry, None).unwrap_err();
            assert!(err.0.starts_with("--secret"), "{}", err.0);
            assert!(err.0.contains(says), "{spec}: {}", err.0);
        }
        assert!(!err.0.contains("whsec"), "{}", err.0);
    }
}
