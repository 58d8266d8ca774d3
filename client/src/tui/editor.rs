//! Requests as text, edited in `$EDITOR` before a replay (`e`).

use super::app::Edited;
use bytes::Bytes;
use hookhole_shared::headers::Header;

const BANNER: &str =
    "# Edit the request; save and quit to replay it. Delete everything to cancel.\n";

/// The request as editable text: request line, headers, blank line, body.
pub fn to_text(request: &Edited) -> Result<String, String> {
    let body = std::str::from_utf8(&request.body)
        .map_err(|_| "the body is binary; only text bodies can be edited".to_string())?;
    let mut text = String::from(BANNER);
    let target = match &request.query {
        Some(q) => format!("{}?{q}", request.path),
        None => request.path.clone(),
    };
    text.push_str(&format!("{} {target}\n", request.method));
    for h in &request.headers {
        text.push_str(&format!("{}: {}\n", h.name, h.value_lossy()));
    }
    text.push('\n');
    text.push_str(body);
    Ok(text)
}

/// Reads the edited text back. Editors add a final newline: it is dropped
/// unless the original body ended with one.
pub fn from_text(text: &str, original: &Edited) -> Result<Edited, String> {
    let text = text.strip_prefix(BANNER).unwrap_or(text);
    if text.trim().is_empty() {
        return Err("the file was emptied".to_string());
    }
    let (head, mut body) = text
        .split_once("\n\n")
        .unwrap_or((text.trim_end_matches('\n'), ""));
    if body.ends_with('\n') && !original.body.ends_with(b"\n") {
        body = &body[..body.len() - 1];
    }
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let (method, target) = request_line
        .split_once(' ')
        .ok_or_else(|| format!("the first line must be METHOD /path, got {request_line:?}"))?;
    let target = target.trim();
    if !target.starts_with('/') {
        return Err(format!("the path must start with '/', got {target:?}"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: {line:?}"))?;
        headers.push(Header::new(
            name.trim().to_ascii_lowercase(),
            value.trim_start(),
        ));
    }
    Ok(Edited {
        method: method.trim().to_ascii_uppercase(),
        path: if path == "/" && original.path.is_empty() {
            String::new()
        } else {
            path
        },
        query,
        headers,
        body: Bytes::copy_from_slice(body.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Edited {
        Edited {
            method: "POST".into(),
            path: "/hooks".into(),
            query: Some("a=1".into()),
            headers: vec![
                Header::new("content-type", "application/json"),
                Header::new("x-dup", "one"),
            ],
            body: Bytes::from_static(b"{\"a\":1}"),
        }
    }

    #[test]
    fn text_round_trips_unchanged() {
        let original = sample();
        let text = to_text(&original).unwrap();
        assert_eq!(from_text(&text, &original).unwrap(), original);
        // An editor's final newline is not added to the body.
        assert_eq!(
            from_text(&format!("{text}\n"), &original).unwrap(),
            original
        );
    }

    #[test]
    fn edits_are_read_and_mistakes_explained() {
        let original = sample();
        let text = to_text(&original)
            .unwrap()
            .replace("{\"a\":1}", "{\"a\":2}")
            .replace("x-dup: one", "x-dup: two");
        let edited = from_text(&text, &original).unwrap();
        assert_eq!(edited.body.as_ref(), b"{\"a\":2}");
        assert_eq!(edited.headers[1], Header::new("x-dup", "two"));
        assert!(from_text("", &original).is_err());
        assert!(
            from_text("POST hooks\n\n", &original)
                .unwrap_err()
                .contains("start with '/'")
        );
        let binary = Edited {
            body: Bytes::from_static(&[0xff]),
            ..sample()
        };
        assert!(to_text(&binary).is_err());
    }
}
