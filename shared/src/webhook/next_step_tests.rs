//! What each provider would do next, in the words the UI and JSON lines
//! show, from the built-in table's documented facts.

use super::*;
use crate::signature::Registry;
use crate::webhook::{FieldSource, RetryPolicy, late};

fn step(id: &str, attempt: Option<u32>, status: Option<u16>, duration_ms: u64) -> Option<String> {
    let registry = Registry::builtin();
    let rules = registry.event_rules(id).expect("rules");
    let name = registry.provider_name(id).expect("name");
    next_step(
        name,
        rules,
        attempt,
        &Outcome {
            status,
            duration_ms,
        },
    )
}

#[test]
fn malomo_late_on_its_first_attempt_would_retry() {
    assert_eq!(
        step("malomo", Some(1), Some(200), 11_000).as_deref(),
        Some("Malomo would time out after 10 s and retry: attempt 2 of 10")
    );
    assert_eq!(
        step("malomo", Some(3), Some(500), 20).as_deref(),
        Some("Malomo would retry: attempt 4 of 10")
    );
    assert_eq!(
        step("malomo", Some(10), None, 20).as_deref(),
        Some("Malomo would give up: that was attempt 10 of 10")
    );
    // In time and 2xx: nothing to say; exactly the deadline is in time.
    assert_eq!(step("malomo", Some(1), Some(204), 10_000), None);
    let rules = Registry::builtin().event_rules("malomo").cloned().unwrap();
    assert_eq!(late(&rules, 10_001), Some(true));
}

#[test]
fn github_does_not_retry() {
    assert_eq!(
        step("github", None, Some(500), 30).as_deref(),
        Some("GitHub does not retry")
    );
    assert_eq!(
        step("github", None, None, 30).as_deref(),
        Some("GitHub does not retry")
    );
    assert_eq!(
        step("github", None, Some(200), 12_000).as_deref(),
        Some("GitHub would time out after 10 s and not retry")
    );
    assert_eq!(step("github", None, Some(200), 300), None);
}

#[test]
fn the_generic_api_disables_the_webhook_after_its_last_attempt() {
    assert_eq!(
        step("generic", Some(5), Some(500), 30).as_deref(),
        Some("Generic HMAC would give up: that was attempt 5 of 5; then it disables the webhook")
    );
    assert_eq!(
        step("generic", Some(1), Some(200), 6_000).as_deref(),
        Some("Generic HMAC would time out after 5 s and retry in 1 min: attempt 2 of 5")
    );
    assert_eq!(
        step("generic", Some(4), Some(502), 30).as_deref(),
        Some("Generic HMAC would retry in 2 h: attempt 5 of 5")
    );
    // The generic API sends no attempt number: the whole schedule is said.
    assert_eq!(
        step("generic", None, Some(500), 30).as_deref(),
        Some(
            "Generic HMAC would retry (up to 5 attempts, waiting 1 min, 5 min, 30 min, 2 h); then it disables the webhook"
        )
    );
}

#[test]
fn maestra_retries_server_errors_only() {
    assert_eq!(
        step("maestra", None, Some(400), 30).as_deref(),
        Some("Maestra does not retry a 400")
    );
    assert_eq!(
        step("maestra", None, Some(503), 30).as_deref(),
        Some("Maestra would retry (up to 4 attempts, for up to 6 min)")
    );
    assert_eq!(
        step("maestra", None, Some(429), 30).as_deref(),
        Some("Maestra would retry (up to 4 attempts, for up to 6 min)")
    );
    assert_eq!(
        step("maestra", None, None, 30).as_deref(),
        Some("Maestra would retry (up to 4 attempts, for up to 6 min)")
    );
}

#[test]
fn stripe_and_slack_say_what_their_documentation_says() {
    assert_eq!(
        step("stripe", None, Some(500), 30).as_deref(),
        Some("Stripe would retry (for up to 3 days)")
    );
    // No deadline is documented for Stripe: a slow 200 satisfies it.
    assert_eq!(step("stripe", None, Some(200), 60_000), None);
    assert_eq!(
        step("slack", None, Some(200), 3_500).as_deref(),
        Some(
            "Slack would time out after 3 s and retry (up to 4 attempts, waiting 0 s, 1 min, 5 min)"
        )
    );
}

/// A policy that says only a deadline still explains a late answer; one
/// that says nothing stays silent.
#[test]
fn what_is_not_documented_is_not_said() {
    let deadline_only = EventRules {
        deadline_ms: Some(1_500),
        ..EventRules::default()
    };
    let outcome = |status, duration_ms| Outcome {
        status,
        duration_ms,
    };
    assert_eq!(
        next_step("Acme", &deadline_only, None, &outcome(Some(200), 2_000)).as_deref(),
        Some("Acme would time out after 1.5 s")
    );
    assert_eq!(
        next_step("Acme", &deadline_only, None, &outcome(Some(500), 20)),
        None
    );
    let nothing = EventRules {
        id: Some(FieldSource::Header("X-Id".into()).into()),
        ..EventRules::default()
    };
    assert_eq!(next_step("Acme", &nothing, None, &outcome(None, 20)), None);
    // More attempts than documented: still the last one.
    let three = EventRules {
        retries: Some(RetryPolicy {
            attempts: Some(3),
            delays_s: vec![],
            within_s: None,
            on: RetryOn::AnyFailure,
            then: None,
        }),
        ..EventRules::default()
    };
    assert_eq!(
        next_step("Acme", &three, Some(7), &outcome(Some(500), 20)).as_deref(),
        Some("Acme would give up: that was attempt 7 of 3")
    );
}
