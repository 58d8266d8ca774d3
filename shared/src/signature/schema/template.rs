//! Signed-content templates: `{timestamp}.{body}`, `v0:{timestamp}:{body}`,
//! `{url}{body}`, `{header:NAME}`, `{param:NAME}`, `{secret}`,
//! `{body_sha256}`. Parsed when a preset is loaded, so a typo in a preset is
//! an error at startup, not a silent "invalid" on every delivery, and no
//! delivery parses one again.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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

/// A parsed template. It keeps the text it was written as, which is what
/// messages quote and what `hookhole providers --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// Splits a template into parts; unknown placeholders are errors.
    pub fn parse(template: &str) -> Result<Template, String> {
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
            parts.push(placeholder(&rest[start + 1..end], template)?);
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            text: template.to_string(),
            parts,
        })
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the template contains `part` (`Part::Timestamp`, `Part::Url`...).
    pub fn signs(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }

    /// Whether changing a body byte changes what is signed.
    pub fn signs_body(&self) -> bool {
        self.signs(&Part::Body) || self.signs(&Part::BodySha256)
    }
}

fn placeholder(name: &str, template: &str) -> Result<Part, String> {
    Ok(match name {
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
    })
}

/// What most providers sign: the raw body.
impl Default for Template {
    fn default() -> Self {
        Template {
            text: "{body}".to_string(),
            parts: vec![Part::Body],
        }
    }
}

impl FromStr for Template {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Template::parse(text)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> Result<Vec<Part>, String> {
        Template::parse(text).map(|t| t.parts)
    }

    #[test]
    fn templates() {
        assert_eq!(
            parts("v0:{timestamp}:{body}").unwrap(),
            vec![
                Part::Text("v0:".into()),
                Part::Timestamp,
                Part::Text(":".into()),
                Part::Body
            ]
        );
        assert_eq!(
            parts("{header:X-Id}{param:subscription_id}").unwrap(),
            vec![
                Part::Header("X-Id".into()),
                Part::Param("subscription_id".into())
            ]
        );
        assert!(parts("{nope}").is_err());
        assert!(parts("{body").is_err());
        assert!(parts("{header:}").is_err());
    }

    #[test]
    fn a_template_prints_as_it_was_written() {
        for text in ["{timestamp}.{body}", "a}b{url}", "", "{body_sha256}"] {
            let template = Template::parse(text).unwrap();
            assert_eq!(String::from(template.clone()), text);
            let json = serde_json::to_string(&template).unwrap();
            assert_eq!(serde_json::from_str::<Template>(&json).unwrap(), template);
        }
        assert_eq!(Template::default(), Template::parse("{body}").unwrap());
    }
}
