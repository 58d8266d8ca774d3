//! Routes: which local server takes a delivery, or which answer it gets
//! without one (`[[listen.route]]` in `hookhole.toml`, `listen --route`).
//!
//! A route has matchers (`event`, `provider`, `path`, `method`, `header`)
//! and one action (`forward` to a target, or `respond` with a fixed
//! answer). Every matcher given must match; the first route that matches
//! takes the delivery; a delivery no route takes goes to `--forward`.
//! Routes are checked once, at start-up ([`parse`]): a route with a bad
//! value, no action or two, or one that can never match stops the start.
//!
//! Matching is cheap: globs on strings the delivery already holds, and the
//! provider and event type the verifier reads anyway; no body is parsed
//! for it.

pub mod parse;

use crate::glob::Glob;
use crate::target::Target;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::protocol::{Delivery, Response};
use hookhole_shared::webhook::WebhookFacts;
use serde::{Serialize, Serializer};
use std::fmt;

/// The routes in force, in order (none: every delivery goes to `--forward`).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<Route>,
    /// Whether some route matches on the provider or the event type, which
    /// must then be read before the delivery is forwarded.
    needs_facts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub label: Label,
    matchers: Matchers,
    pub action: Action,
}

/// Which route took a delivery: its number (from 1, in the order the routes
/// are given) and its `name`, if it has one. JSON shows the name when there
/// is one, else the number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub number: u32,
    pub name: Option<String>,
}

/// What a route does with the deliveries it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The same exact-bytes forwarding as `--forward`, to this target.
    Forward(Target),
    /// This answer, at once; nothing is forwarded.
    Respond(Answer),
}

/// A route's fixed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Bytes,
}

/// What a route asks of a delivery; `None` or empty: anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Matchers {
    event: Option<Glob>,
    /// A provider id, compared in either case.
    provider: Option<String>,
    path: Option<Glob>,
    /// A method token, compared in either case.
    method: Option<String>,
    /// Header names (compared in either case) and globs on their values;
    /// a header sent several times matches when one of its values does.
    headers: Vec<(String, Glob)>,
}

impl Routes {
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether a delivery's provider and event type must be known before a
    /// route can be picked for it.
    pub fn needs_facts(&self) -> bool {
        self.needs_facts
    }

    /// The first route that takes `delivery`, whose webhook facts are
    /// `facts` (read only when [`Routes::needs_facts`]).
    pub fn pick(&self, delivery: &Delivery, facts: Option<&WebhookFacts>) -> Option<&Route> {
        self.routes
            .iter()
            .find(|route| route.matchers.matches(delivery, facts))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}

impl Matchers {
    fn is_empty(&self) -> bool {
        *self == Matchers::default()
    }

    fn matches(&self, d: &Delivery, facts: Option<&WebhookFacts>) -> bool {
        let path = crate::delivery::shown_path(&d.path);
        self.method
            .as_ref()
            .is_none_or(|m| m.eq_ignore_ascii_case(&d.method))
            && self.path.as_ref().is_none_or(|glob| glob.matches(path))
            && self.headers.iter().all(|(name, glob)| {
                d.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case(name)
                        && std::str::from_utf8(&h.value).is_ok_and(|v| glob.matches(v))
                })
            })
            && self
                .provider
                .as_ref()
                .is_none_or(|p| facts.is_some_and(|f| f.provider.eq_ignore_ascii_case(p)))
            && self.event.as_ref().is_none_or(|glob| {
                facts
                    .and_then(|f| f.event_type.as_deref())
                    .is_some_and(|t| glob.matches(t))
            })
    }
}

impl Answer {
    /// The answer to the delivery `id`, as if the local server gave it.
    pub fn response(&self, id: &str) -> Response {
        Response {
            id: id.to_string(),
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

impl Label {
    /// What the route did with a delivery, from its first attempt: `orders
    /// (route 1) -> http://127.0.0.1:4000`, or `route 2: answered`.
    pub fn taken(&self, first: Option<&crate::delivery::Attempt>) -> String {
        let what = match first.and_then(|a| a.target.as_deref()) {
            Some(target) => format!("-> {target}"),
            None => "answered without forwarding".to_string(),
        };
        let what = hookhole_shared::printable::line_owned(what);
        match &self.name {
            Some(name) => format!(
                "{} (route {}) {what}",
                hookhole_shared::printable::line(name),
                self.number
            ),
            None => format!("route {} {what}", self.number),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}"),
            None => write!(f, "route {}", self.number),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.name {
            Some(name) => s.serialize_str(name),
            None => s.serialize_u32(self.number),
        }
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
