//! Routes as given, checked once at start-up: a `[[listen.route]]` table
//! and a `--route key=value,...` flag become the same list of keys and
//! values, and one builder checks them.
//!
//! Keys: `name`, `event`, `provider`, `path`, `method`, `header.NAME`,
//! `forward`, `respond` (a status), `respond.status`, `respond.body`,
//! `respond.header.NAME`. In the file, `header` and `respond` are tables
//! (`header = { "X-GitHub-Event" = "ping" }`, `respond = { status = 200,
//! headers = { ... }, body = "pong" }`).

use super::{Action, Answer, Label, Matchers, Route, Routes};
use crate::glob::Glob;
use crate::target::Target;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::Registry;

/// One route as given: its keys and values, in order.
pub type Given = Vec<(String, String)>;

/// The keys a route takes, for the error that names an unknown one.
const KEYS: &str = "name, event, provider, path, method, header.NAME, forward, respond, \
                    respond.status, respond.body, respond.header.NAME";

/// Longest route name: it is shown in the UI and in every JSON line.
const MAX_NAME: usize = 64;

/// `--route`'s value: `key=value` pairs separated by commas (a value
/// cannot hold a comma; the config file's tables can).
pub fn from_flag(text: &str) -> Result<Given, String> {
    text.split(',')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => Ok((key.trim().to_string(), value.to_string())),
            None => Err(format!(
                "expected key=value, got {}",
                crate::target::shown(pair)
            )),
        })
        .collect()
}

/// A `[[listen.route]]` table, flattened to the keys `--route` takes.
pub fn from_table(table: &toml::Table) -> Result<Given, String> {
    let mut given = Vec::new();
    for (key, value) in table {
        match (key.as_str(), value) {
            ("header", toml::Value::Table(headers)) => {
                for (name, value) in headers {
                    given.push((
                        format!("header.{name}"),
                        text(&format!("header.{name}"), value)?,
                    ));
                }
            }
            ("respond", toml::Value::Table(answer)) => {
                for (part, value) in answer {
                    match (part.as_str(), value) {
                        ("headers", toml::Value::Table(headers)) => {
                            for (name, value) in headers {
                                let key = format!("respond.header.{name}");
                                given.push((key.clone(), text(&key, value)?));
                            }
                        }
                        ("headers", _) => {
                            return Err(
                                "respond.headers: expected a table of names and values".into()
                            );
                        }
                        _ => {
                            let key = format!("respond.{part}");
                            given.push((key.clone(), text(&key, value)?));
                        }
                    }
                }
            }
            ("header", _) => return Err("header: expected a table of names and globs".into()),
            _ => given.push((key.clone(), text(key, value)?)),
        }
    }
    Ok(given)
}

/// A string, or an integer (a port, a status) as its digits.
fn text(key: &str, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        other => Err(format!(
            "{key}: expected a string, not a {}",
            other.type_str()
        )),
    }
}

/// The routes `given` describe, checked; an error names the route
/// (`{setting} 2`, and its name when it has one) and what is wrong.
pub fn build(given: &[Given], setting: &str, registry: &Registry) -> Result<Routes, String> {
    let mut routes: Vec<Route> = Vec::with_capacity(given.len());
    for (i, pairs) in given.iter().enumerate() {
        let number = u32::try_from(i + 1).map_err(|_| format!("too many routes ({setting})"))?;
        let name = pairs
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.as_str());
        let named = match name {
            Some(name) => format!("{setting} {number} ({})", crate::target::shown(name)),
            None => format!("{setting} {number}"),
        };
        let route = one(pairs, number, registry).map_err(|why| format!("{named}: {why}"))?;
        if let Some(earlier) = routes.iter().find(|r| shadows(r, &route)) {
            return Err(format!(
                "{named} can never match: {setting} {} before it takes every delivery it would",
                earlier.label.number
            ));
        }
        if let Some(earlier) = route
            .label
            .name
            .as_ref()
            .and_then(|name| routes.iter().find(|r| r.label.name.as_ref() == Some(name)))
        {
            return Err(format!(
                "{named}: {setting} {} has the same name",
                earlier.label.number
            ));
        }
        routes.push(route);
    }
    let needs_facts = routes
        .iter()
        .any(|r| r.matchers.event.is_some() || r.matchers.provider.is_some());
    Ok(Routes {
        routes,
        needs_facts,
    })
}

/// Whether `earlier` takes every delivery `later` would: it matches
/// anything, or it asks exactly what `later` asks.
fn shadows(earlier: &Route, later: &Route) -> bool {
    earlier.matchers.is_empty() || earlier.matchers == later.matchers
}

/// One route, checked on its own.
fn one(pairs: &Given, number: u32, registry: &Registry) -> Result<Route, String> {
    let mut matchers = Matchers::default();
    let mut name = None;
    let mut forward = None;
    let mut answer: Option<Answer> = None;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in pairs {
        if seen.contains(&key.as_str()) {
            return Err(format!("{key} is given twice"));
        }
        seen.push(key);
        let glob = |value: &str| {
            Glob::parse(value)
                .map_err(|why| format!("{key} {}: {why}", crate::target::shown(value)))
        };
        match key.as_str() {
            "name" => name = Some(check_name(value)?),
            "event" => matchers.event = Some(glob(value)?),
            "path" => {
                // Paths start with `/`: any other literal start never matches.
                if !value.starts_with(['/', '*', '?']) {
                    return Err(format!(
                        "path {} can never match: paths start with '/'",
                        crate::target::shown(value)
                    ));
                }
                matchers.path = Some(glob(value)?);
            }
            "method" => {
                http::Method::from_bytes(value.as_bytes()).map_err(|_| {
                    format!(
                        "method {} can never match: not a method token",
                        crate::target::shown(value)
                    )
                })?;
                matchers.method = Some(value.clone());
            }
            "provider" => {
                crate::secrets::known_provider("provider", value, registry).map_err(|e| e.0)?;
                matchers.provider = Some(value.clone());
            }
            "forward" => {
                forward = Some(Target::parse_setting("forward", value)?);
            }
            "respond" | "respond.status" => respond(&mut answer).status = check_status(value)?,
            "respond.body" => respond(&mut answer).body = Bytes::from(value.clone().into_bytes()),
            _ => {
                if let Some(header) = key.strip_prefix("header.") {
                    let header = check_header_name(key, header)?;
                    matchers.headers.push((header, glob(value)?));
                } else if let Some(header) = key.strip_prefix("respond.header.") {
                    let header = check_header_name(key, header)?;
                    if matches!(header.as_str(), "content-length" | "transfer-encoding") {
                        return Err(format!("{key}: hookhole sets it from the body"));
                    }
                    http::HeaderValue::from_str(value).map_err(|_| {
                        format!(
                            "{key}: the value {} is not a header value",
                            crate::target::shown(value)
                        )
                    })?;
                    respond(&mut answer)
                        .headers
                        .push(Header::new(header, value.as_bytes()));
                } else {
                    return Err(format!(
                        "unknown key {}; the keys are {KEYS}",
                        crate::target::shown(key)
                    ));
                }
            }
        }
    }
    let action = match (forward, answer) {
        (Some(target), None) => Action::Forward(target),
        (None, Some(answer)) => Action::Respond(answer),
        (None, None) => return Err("no action: give forward=URL or respond=STATUS".into()),
        (Some(_), Some(_)) => {
            return Err("two actions: give forward or respond, not both".into());
        }
    };
    Ok(Route {
        label: Label { number, name },
        matchers,
        action,
    })
}

/// The route's answer, made on its first `respond` key: `200`, no headers,
/// no body until they are given.
fn respond(answer: &mut Option<Answer>) -> &mut Answer {
    answer.get_or_insert_with(|| Answer {
        status: 200,
        headers: Vec::new(),
        body: Bytes::new(),
    })
}

fn check_name(value: &str) -> Result<String, String> {
    let printable = value
        .chars()
        .all(|c| !c.is_control() && !hookhole_shared::printable::is_hidden(c));
    if value.trim().is_empty() || value.chars().count() > MAX_NAME || !printable {
        return Err(format!(
            "name {}: give 1 to {MAX_NAME} printable characters",
            crate::target::shown(value)
        ));
    }
    Ok(value.to_string())
}

/// A status a sender can be answered with: 100 to 599.
fn check_status(value: &str) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(status @ 100..=599) => Ok(status),
        _ => Err(format!(
            "status {}: expected 100 to 599",
            crate::target::shown(value)
        )),
    }
}

/// A header name, lowercased; refused when it is not a token.
fn check_header_name(key: &str, name: &str) -> Result<String, String> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(|n| n.as_str().to_string())
        .map_err(|_| format!("{key}: {} is not a header name", crate::target::shown(name)))
}
