//! Writing a provider's attempt number into a request, where its
//! `events.attempt` rule reads it: the one implementation behind `hookhole
//! trigger --duplicate` and the retries `listen --retries` plays.

use hookhole_host::bounded_read::BODY_MAX;
use hookhole_shared::headers::Header;
use hookhole_shared::webhook::FieldSource;

/// `headers` and `body` with `attempt` at `source`: a header's value
/// replaced where it is (or added), a body field written where the rule
/// reads it. A body that cannot take the field (not a JSON object, say) is
/// refused with why, and nothing is changed.
pub fn write(
    headers: &mut Vec<Header>,
    body: &mut Vec<u8>,
    source: &FieldSource,
    attempt: u32,
) -> Result<(), String> {
    match source {
        FieldSource::Header(name) => {
            let value = attempt.to_string();
            match headers
                .iter_mut()
                .find(|h| h.name.eq_ignore_ascii_case(name))
            {
                Some(header) => header.value = value.into_bytes(),
                None => headers.push(Header::new(name.to_ascii_lowercase(), value)),
            }
        }
        // No built-in preset reads its attempt from a form; a user's might,
        // and a form is not rewritten field by field here.
        FieldSource::Form(name) => {
            return Err(format!(
                "the attempt number is read from the form field {name}, which hookhole cannot number"
            ));
        }
        FieldSource::Body(_) => {
            let keys = source.body_keys().expect("a body source has keys");
            *body = crate::trigger::set::set_path(body, &keys, &attempt.to_string(), BODY_MAX)
                .map_err(|refusal| format!("the attempt number goes at {source}, but {refusal}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_replaced_in_place_and_a_body_field_rewritten() {
        let source = FieldSource::Header("Malomo-Attempt-Number".into());
        let mut headers = vec![
            Header::new("malomo-attempt-number", "1"),
            Header::new("x-other", "a"),
        ];
        let mut body = b"{}".to_vec();
        write(&mut headers, &mut body, &source, 3).unwrap();
        assert_eq!(headers[0].value, b"3");
        assert_eq!(headers.len(), 2, "replaced, not added");

        let source: FieldSource = "body:/delivery_attempts".parse().unwrap();
        let mut body = br#"{"delivery_attempts":1,"x":2}"#.to_vec();
        write(&mut headers, &mut body, &source, 2).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["delivery_attempts"], 2);
        assert_eq!(value["x"], 2);

        let mut text = b"not json".to_vec();
        let refused = write(&mut headers, &mut text, &source, 2).unwrap_err();
        assert!(refused.contains("not JSON"), "{refused}");
        assert_eq!(text, b"not json", "unchanged");
    }
}
