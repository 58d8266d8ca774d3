//! One delivery's facts, read with its provider's rules.

use super::pointer::{self, capped};
use super::{EventRules, FieldSource, JOIN, MAX_PARTS, MAX_SCANNED_BODY, WebhookFacts};
use crate::form;
use crate::signature::Request;

// Every body source of one preset (type, detail, the id's parts, attempt)
// is read in a single pass of the pointer reader.
const _: () = assert!(3 + MAX_PARTS <= pointer::MAX_POINTERS);

impl EventRules {
    /// What `request` says about itself under these rules. Body fields are
    /// read in one pass over the body; a field that is missing, not a
    /// string or number, or in a body that is too large or not JSON (not a
    /// form, for form fields) is `None`.
    pub fn facts(&self, provider: &str, request: &Request<'_>) -> WebhookFacts {
        let id_parts = self.id.as_ref().map_or(&[][..], |rule| rule.parts());
        let sources: Vec<Option<&FieldSource>> = [self.event_type.as_ref()]
            .into_iter()
            .chain([self.type_detail.as_ref(), self.attempt.as_ref()])
            .chain(id_parts.iter().map(Some))
            .collect();
        let mut values = read(request, &sources).into_iter();
        let mut next = || values.next().flatten();
        let (event_type, detail, attempt) = (next(), next(), next());
        let id_values: Vec<Option<String>> = id_parts.iter().map(|_| next()).collect();
        WebhookFacts {
            provider: provider.to_string(),
            event_type: event_type.map(|t| match detail {
                Some(detail) => capped(&format!("{t}.{detail}")).to_string(),
                None => t,
            }),
            event_id: joined(id_values),
            attempt: attempt.as_deref().and_then(attempt_number),
            deadline_ms: self.deadline_ms,
        }
    }
}

/// The value of each source, in order: headers directly, body pointers in
/// one pass over the JSON, form fields in one pass over the form.
fn read(request: &Request<'_>, sources: &[Option<&FieldSource>]) -> Vec<Option<String>> {
    let pointers: Vec<&str> = sources
        .iter()
        .filter_map(|source| match source {
            Some(FieldSource::Body(pointer)) => Some(pointer.as_str()),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = sources
        .iter()
        .filter_map(|source| match source {
            Some(FieldSource::Form(name)) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    // Both in the order the sources were listed above.
    let mut from_body = pointer::read(request.body, &pointers).into_iter();
    let mut from_form = form_fields(request, &names).into_iter();
    sources
        .iter()
        .map(|source| match source {
            None => None,
            Some(FieldSource::Header(name)) => request.header(name).map(|v| capped(v).to_string()),
            Some(FieldSource::Body(_)) => from_body.next().flatten(),
            Some(FieldSource::Form(_)) => from_form.next().flatten(),
        })
        .collect()
}

/// The first value of each named field of a form body, decoded and capped.
/// Nothing when the body is not a form (by its Content-Type), is too large,
/// or does not decode; an empty value is no value, as for headers (an empty
/// id would make every such delivery look like one event).
fn form_fields(request: &Request<'_>, names: &[&str]) -> Vec<Option<String>> {
    let nothing = || vec![None; names.len()];
    if names.is_empty()
        || request.body.len() > MAX_SCANNED_BODY
        || !form::is_form_type(request.header("content-type"))
    {
        return nothing();
    }
    match form::first_values(request.body, names) {
        Ok(values) => values
            .into_iter()
            .map(|v| v.filter(|v| !v.is_empty()).map(|v| capped(&v).to_string()))
            .collect(),
        Err(_) => nothing(),
    }
}

/// One part's value as it is; several joined with [`JOIN`] and capped, or
/// nothing when any part is missing.
fn joined(values: Vec<Option<String>>) -> Option<String> {
    let mut parts = values.into_iter();
    let mut id = parts.next()??;
    for part in parts {
        id.push(JOIN);
        id.push_str(&part?);
    }
    // Each part is capped already; the whole is cut again, in place.
    let end = capped(&id).len();
    id.truncate(end);
    Some(id)
}

/// An attempt number as sent: a positive integer that fits (`"3"`, `3`).
fn attempt_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|&n| n >= 1)
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
