//! Signed-content templates: `{timestamp}.{body}`, `v0:{timestamp}:{body}`,
//! `{url}{body}`, `{header:NAME}`, `{param:NAME}`, `{secret}`, `{body_sha256}`. Parsed when a preset is
//! loaded, so a typo in a preset is an error at startup, not a silent
//! "invalid" on every delivery.

/// One piece of a signed-content template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Body,
    Timestamp,
    Id,
    Url,
    Header(String),
    Param(String),
    /// The secret itself, for plain keyed hashes (`sha256({secret}{body})`).
    Secret,
    /// Lowercase hex SHA-256 of the body (Tebex signs this, not the body).
    BodySha256,
}

/// Splits a template into parts; unknown placeholders are errors.
pub fn parse_template(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in template {template:?}"))?
            + start;
        let name = &rest[start + 1..end];
        parts.push(match name {
            "body" => Part::Body,
            "timestamp" => Part::Timestamp,
            "id" => Part::Id,
            "url" => Part::Url,
            "secret" => Part::Secret,
            "body_sha256" => Part::BodySha256,
            _ => match name.split_once(':') {
                Some(("header", h)) if !h.is_empty() => Part::Header(h.to_string()),
                Some(("param", p)) if !p.is_empty() => Part::Param(p.to_string()),
                _ => {
                    return Err(format!(
                        "unknown placeholder {{{name}}} in template {template:?}"
                    ));
                }
            },
        });
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("v0:{timestamp}:{body}").unwrap(),
            vec![
                Part::Text("v0:".into()),
                Part::Timestamp,
                Part::Text(":".into()),
                Part::Body
            ]
        );
        assert_eq!(
            parse_template("{header:X-Id}{param:subscription_id}").unwrap(),
            vec![
                Part::Header("X-Id".into()),
                Part::Param("subscription_id".into())
            ]
        );
        assert!(parse_template("{nope}").is_err());
        assert!(parse_template("{body").is_err());
        assert!(parse_template("{header:}").is_err());
    }
}
