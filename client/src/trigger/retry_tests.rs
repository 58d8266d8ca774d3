use super::super::catalogue::{self, Event};
use super::super::{Options, draft, finish};
use super::*;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::{Status, verify};

const NOW: i64 = 1_767_225_600;
const URL: &str = "http://127.0.0.1:9/hooks";

fn catalogued(name: &str) -> (Event, Registry) {
    let registry = Registry::builtin();
    let event = catalogue::find(&catalogue::catalogue(&registry), name)
        .unwrap()
        .clone();
    (event, registry)
}

/// The first request and its retry (sent at `retry_now`), signed with `secret`.
fn both(name: &str, secret: &Secret, options: &Options, retry_now: i64) -> (Prepared, Prepared) {
    let (event, registry) = catalogued(name);
    let first = draft(&event, NOW, options).unwrap();
    let retry = next_attempt(&first, &event, &registry).unwrap();
    let retry = at_time(retry, &event, &registry, retry_now).unwrap();
    let sign = |d: &Draft| finish(&event, &registry, Some(secret), URL, d, options).unwrap();
    (sign(&first), sign(&retry))
}

fn header<'a>(p: &'a Prepared, name: &str) -> Option<&'a str> {
    p.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| std::str::from_utf8(&h.value).unwrap())
}

fn status(p: &Prepared, secret: &Secret, now: i64) -> Status {
    let request = Request {
        method: &p.method,
        url: &p.url,
        headers: &p.headers,
        body: &p.body,
    };
    verify(
        &Registry::builtin(),
        &request,
        std::slice::from_ref(secret),
        now,
    )
    .status
}

fn facts_of(name: &str, p: &Prepared) -> WebhookFacts {
    let (event, registry) = catalogued(name);
    facts(&event, rules(&event, &registry).unwrap(), p)
}

#[test]
fn a_malomo_retry_has_the_same_webhook_id_the_next_attempt_and_a_valid_signature() {
    let secret = Secret::new("malomo", "malomo_retry_secret");
    let (first, retry) = both("malomo", &secret, &Options::default(), NOW);
    assert_eq!(header(&first, "Malomo-Attempt-Number"), Some("1"));
    assert_eq!(header(&retry, "Malomo-Attempt-Number"), Some("2"));
    let id = header(&first, "Malomo-Webhook-Id").unwrap();
    assert_eq!(header(&retry, "Malomo-Webhook-Id"), Some(id));
    assert_eq!(first.body, retry.body);
    for p in [&first, &retry] {
        assert_eq!(status(p, &secret, NOW), Status::Valid);
    }
    let facts = facts_of("malomo", &retry);
    assert_eq!(
        (facts.event_id.as_deref(), facts.attempt),
        (Some(id), Some(2))
    );
    assert_eq!(
        describe(Some(&facts), true),
        format!("; event {id} again, attempt 2")
    );
}

#[test]
fn a_stripe_retry_has_the_same_body_and_a_later_signed_timestamp_even_in_the_same_second() {
    let secret = Secret::new("stripe", "whsec_retry");
    // Sent within the first's second: signed a second later all the same.
    let (first, retry) = both("stripe", &secret, &Options::default(), NOW);
    assert_eq!(first.body, retry.body);
    let t = |p: &Prepared| {
        header(p, "Stripe-Signature")
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(t(&first), format!("t={NOW}"));
    assert_eq!(t(&retry), format!("t={}", NOW + 1));
    for p in [&first, &retry] {
        assert_eq!(status(p, &secret, NOW + 1), Status::Valid);
    }
    // Sent later: signed when sent.
    let (_, later) = both("stripe", &secret, &Options::default(), NOW + 90);
    assert_eq!(t(&later), format!("t={}", NOW + 90));
    let facts = facts_of("stripe", &first);
    assert!(facts.event_id.as_deref().unwrap().starts_with("evt_"));
    assert_eq!(facts_of("stripe", &retry).event_id, facts.event_id);
    assert_eq!(facts.attempt, None, "Stripe does not number attempts");
}

#[test]
fn an_id_in_a_header_or_added_by_the_signer_is_the_same_on_the_retry() {
    let secret = Secret::new("github", "gh_retry");
    let (first, retry) = both("github.push", &secret, &Options::default(), NOW + 5);
    let delivery = header(&first, "X-GitHub-Delivery").unwrap();
    assert_eq!(header(&retry, "X-GitHub-Delivery"), Some(delivery));
    assert_eq!(status(&retry, &secret, NOW + 5), Status::Valid);

    // Standard Webhooks' webhook-id is made while signing, from the event.
    let secret = Secret::new(
        "standard-webhooks",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let (first, retry) = both("standard-webhooks", &secret, &Options::default(), NOW + 5);
    assert_eq!(header(&first, "webhook-id"), header(&retry, "webhook-id"));
    assert_ne!(
        header(&first, "webhook-timestamp"),
        header(&retry, "webhook-timestamp")
    );
    assert_eq!(status(&retry, &secret, NOW + 5), Status::Valid);
}

#[test]
fn an_attempt_in_the_body_is_written_there_counting_on_from_what_was_sent() {
    let secret = Secret::new("intercom", "intercom_retry");
    // Not numbered on the first: the retry is attempt 2.
    let (first, retry) = both("intercom", &secret, &Options::default(), NOW);
    assert_eq!(facts_of("intercom", &first).attempt, None);
    assert_eq!(facts_of("intercom", &retry).attempt, Some(2));
    assert_eq!(
        facts_of("intercom", &retry).event_id,
        facts_of("intercom", &first).event_id
    );
    assert_eq!(status(&retry, &secret, NOW), Status::Valid);
    // Numbered by the user: the next one.
    let options = Options {
        set: vec![set::parse("delivery_attempts=3").unwrap()],
        ..Options::default()
    };
    let (_, retry) = both("intercom", &secret, &options, NOW);
    assert_eq!(facts_of("intercom", &retry).attempt, Some(4));
}

#[test]
fn a_timestamp_the_scheme_reads_from_the_body_is_renewed_on_the_retry() {
    let secret = Secret::new("linear", "lin_wh_retry");
    let (first, retry) = both("linear", &secret, &Options::default(), NOW + 30);
    let stamp = |p: &Prepared| {
        let body: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
        body["webhookTimestamp"].as_i64().unwrap()
    };
    assert_eq!(stamp(&first), NOW * 1000);
    assert_eq!(stamp(&retry), (NOW + 30) * 1000);
    assert_eq!(status(&retry, &secret, NOW + 30), Status::Valid);
    assert_eq!(
        header(&first, "Linear-Delivery"),
        header(&retry, "Linear-Delivery")
    );
}

#[test]
fn a_retry_that_cannot_be_numbered_is_refused_before_anything_is_sent() {
    let (event, registry) = catalogued("intercom");
    let options = Options {
        data: Some(b"a=1&b=2".to_vec()),
        ..Options::default()
    };
    let first = draft(&event, NOW, &options).unwrap();
    let err = next_attempt(&first, &event, &registry).unwrap_err();
    assert!(
        err.starts_with("--duplicate: the attempt number goes at body:/delivery_attempts, but the body is not JSON"),
        "{err}"
    );
    // A provider that numbers nothing needs nothing from the body.
    let (event, registry) = catalogued("stripe");
    let first = draft(&event, NOW, &options).unwrap();
    assert_eq!(
        next_attempt(&first, &event, &registry).unwrap().body,
        b"a=1&b=2"
    );
}

#[test]
fn the_line_says_which_event_and_attempt_or_that_there_is_no_id() {
    let facts = WebhookFacts {
        provider: "stripe".into(),
        event_type: None,
        event_id: Some("evt_1".into()),
        attempt: None,
        deadline_ms: None,
    };
    assert_eq!(describe(Some(&facts), false), "; event evt_1");
    assert_eq!(describe(Some(&facts), true), "; event evt_1 again");
    let none = WebhookFacts {
        event_id: None,
        ..facts
    };
    assert_eq!(describe(Some(&none), true), "; no event id");
    assert_eq!(describe(None, false), "; no event id");
}
