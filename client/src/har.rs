//! HAR 1.2 export (the HTTP Archive format browsers' dev tools read): one
//! entry per attempt, so replays show up next to the original.
//!
//! Bodies that are not UTF-8 are base64: HAR 1.2 has `encoding` for
//! response content; for request bodies the custom field `_encoding`
//! (custom fields start with `_`) says the same.

use crate::history::{Attempt, StoredDelivery};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookhole_shared::headers::{self, Header};
use hookhole_shared::signature::sign::rfc3339;
use serde_json::{Value, json};

fn headers_json(list: &[Header]) -> Vec<Value> {
    list.iter()
        .map(|h| json!({ "name": h.name, "value": h.value_lossy() }))
        .collect()
}

fn mime(list: &[Header]) -> String {
    headers::get(list, "content-type")
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn text_and_encoding(body: &[u8]) -> (String, Option<&'static str>) {
    match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), None),
        Err(_) => (STANDARD.encode(body), Some("base64")),
    }
}

fn query_string(query: Option<&str>) -> Vec<Value> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            json!({ "name": name, "value": value })
        })
        .collect()
}

fn entry(d: &StoredDelivery, a: &Attempt) -> Value {
    let request_headers = a.request_headers.as_deref().unwrap_or(&d.delivery.headers);
    let request_body = a.request_body.as_deref().unwrap_or(&d.delivery.body);
    let (req_text, req_encoding) = text_and_encoding(request_body);
    let mut post_data = json!({ "mimeType": mime(request_headers), "text": req_text });
    if let Some(enc) = req_encoding {
        post_data["_encoding"] = json!(enc);
    }
    let (response_headers, response_body) = (a.outcome.headers(), a.outcome.body());
    let (res_text, res_encoding) = text_and_encoding(response_body);
    let mut content = json!({
        "size": response_body.len(),
        "mimeType": mime(response_headers),
        "text": res_text,
    });
    if let Some(enc) = res_encoding {
        content["encoding"] = json!(enc);
    }
    let status = a.outcome.status().unwrap_or(0);
    let time = a.duration_ms.unwrap_or(0);
    let mut request = json!({
        "method": d.delivery.method,
        "url": d.delivery.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers_json(request_headers),
        "queryString": query_string(d.delivery.query.as_deref()),
        "headersSize": -1,
        "bodySize": request_body.len(),
    });
    if !request_body.is_empty() {
        request["postData"] = post_data;
    }
    let mut value = json!({
        "startedDateTime": rfc3339((a.started_ms / 1000) as i64).replace('Z', &format!(".{:03}Z", a.started_ms % 1000)),
        "time": time,
        "request": request,
        "response": {
            "status": status,
            "statusText": http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or(""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers_json(response_headers),
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": response_body.len(),
        },
        "cache": {},
        "timings": { "send": 0, "wait": time, "receive": 0 },
        "_hookhole": { "id": d.delivery.id, "attempt": a.number, "kind": a.kind.as_str(), "signature": d.verdict },
    });
    if let Some((code, message)) = a.outcome.error() {
        value["response"]["_error"] = json!(format!("{code}: {message}"));
    }
    value
}

/// The HAR document for these deliveries and all their attempts.
pub fn har(deliveries: &[StoredDelivery]) -> Value {
    let entries: Vec<Value> = deliveries
        .iter()
        .flat_map(|d| d.attempts.iter().map(move |a| entry(d, a)))
        .collect();
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "hookhole", "version": env!("CARGO_PKG_VERSION") },
            "entries": entries,
        }
    })
}
