//! The `webhook` object: which provider, what is present when, and `late`
//! and the next step judged by the saved facts.

use super::*;
use hookhole_shared::signature::Status;

fn verdict(scheme: Option<&str>, candidates: &[&str]) -> Verdict {
    Verdict {
        scheme: scheme.map(str::to_string),
        status: Status::Unsigned,
        reason: String::new(),
        secret: None,
        timestamp_age_s: None,
        candidates: candidates.iter().map(|c| c.to_string()).collect(),
    }
}

#[test]
fn the_provider_is_the_scheme_else_the_first_candidate_else_the_flag() {
    let cases = [
        (
            verdict(Some("maple"), &["convoy", "maple"]),
            Some("x"),
            Some("maple"),
        ),
        (
            verdict(None, &["convoy", "maple"]),
            Some("x"),
            Some("convoy"),
        ),
        (verdict(None, &[]), Some("maestra"), Some("maestra")),
        (verdict(None, &[]), None, None),
    ];
    for (v, fallback, want) in cases {
        assert_eq!(provider_of(&v, fallback), want, "{v:?}");
    }
}

fn malomo(attempt: Option<u32>, arrival: Option<Arrival>) -> Recorded {
    Recorded {
        facts: WebhookFacts {
            provider: "malomo".into(),
            event_type: Some("orders:created".into()),
            event_id: Some("9f1c".into()),
            attempt,
            deadline_ms: Some(10_000),
        },
        arrival,
    }
}

fn heard(status: Option<u16>, duration_ms: u64) -> Outcome {
    Outcome {
        status,
        duration_ms,
    }
}

#[test]
fn an_answer_past_the_deadline_is_late_and_says_what_the_provider_does() {
    let registry = Registry::builtin();
    let first = Some(Arrival {
        duplicate_of: None,
        seen: 1,
    });
    let slow = Webhook::of(
        &registry,
        &malomo(Some(1), first.clone()),
        Some(&heard(Some(200), 11_000)),
    );
    assert_eq!(slow.late, Some(true));
    assert_eq!(slow.provider_name, "Malomo");
    let next = slow.next.as_deref().expect("a next step");
    assert!(
        next.starts_with("Malomo would time out after 10 s"),
        "{next}"
    );
    assert!(next.contains("attempt 2 of 10"), "{next}");
    assert_eq!(slow.marks(), "late");

    let quick = Webhook::of(
        &registry,
        &malomo(Some(1), first),
        Some(&heard(Some(200), 40)),
    );
    assert_eq!((quick.late, quick.next.as_deref()), (Some(false), None));
    assert_eq!(quick.marks(), "");
    // Not answered yet: the deadline is known, lateness is not.
    let pending = Webhook::of(&registry, &malomo(None, None), None);
    assert_eq!((pending.late, pending.deadline_ms), (None, Some(10_000)));
}

#[test]
fn the_json_object_has_the_documented_shape() {
    let registry = Registry::builtin();
    let dup = Some(Arrival {
        duplicate_of: Some("abc".into()),
        seen: 2,
    });
    let webhook = Webhook::of(
        &registry,
        &malomo(Some(3), dup),
        Some(&heard(Some(200), 12)),
    );
    assert_eq!(
        serde_json::to_string(&webhook).unwrap(),
        r#"{"provider":"malomo","type":"orders:created","id":"9f1c","attempt":3,"duplicate_of":"abc","seen":2,"deadline_ms":10000,"late":false}"#
    );
    assert_eq!(webhook.marks(), "dup×2");
    // Unknown fields are absent, not null.
    let bare = bare();
    let webhook = Webhook::of(&registry, &bare, Some(&heard(Some(500), 12)));
    assert_eq!(
        serde_json::to_string(&webhook).unwrap(),
        r#"{"provider":"acme"}"#
    );
}

#[test]
fn the_saved_deadline_judges_lateness() {
    // A delivery saved when Malomo's deadline was 20 s is judged by it.
    let registry = Registry::builtin();
    let mut recorded = malomo(Some(1), None);
    recorded.facts.deadline_ms = Some(20_000);
    let webhook = Webhook::of(&registry, &recorded, Some(&heard(Some(200), 11_000)));
    assert_eq!(webhook.late, Some(false));
}

#[test]
fn lines_for_people_name_only_what_is_known() {
    let registry = Registry::builtin();
    let dup = Some(Arrival {
        duplicate_of: Some("d0001".into()),
        seen: 3,
    });
    let webhook = Webhook::of(&registry, &malomo(Some(3), dup), Some(&heard(None, 11_000)));
    let lines: Vec<String> = webhook
        .lines()
        .into_iter()
        .map(|(label, text)| format!("{label}: {text}"))
        .collect();
    assert_eq!(lines[0], "Provider: Malomo (malomo)");
    assert_eq!(lines[1], "Event: orders:created");
    assert_eq!(lines[2], "Event id: 9f1c");
    assert_eq!(lines[3], "Attempt: 3");
    assert_eq!(lines[4], "Duplicate: of d0001 (seen 3 times)");
    assert_eq!(lines[5], "Deadline: 10 s: answered late");
    assert!(lines[6].starts_with("Next: Malomo would"), "{lines:?}");
    let bare = bare();
    let webhook = Webhook::of(&registry, &bare, None);
    assert_eq!(webhook.lines(), [("Provider", "acme".to_string())]);
}

/// A delivery of a provider without rules: its id and nothing else.
fn bare() -> Recorded {
    Recorded {
        facts: WebhookFacts {
            provider: "acme".into(),
            event_type: None,
            event_id: None,
            attempt: None,
            deadline_ms: None,
        },
        arrival: None,
    }
}

/// The one rule for what the provider heard: the relay's own answer when
/// it gave one (at once, or after the `within` wait), else the first
/// attempt's local answer; replays never count.
#[test]
fn the_provider_heard_the_relays_answer_when_the_relay_gave_one() {
    use crate::delivery::{Attempt, Kind, Outcome as Local, RelayAnswered, SenderHeard};
    let answered = |kind, number, status, duration_ms| Attempt {
        duration_ms: Some(duration_ms),
        ..Attempt::new(
            kind,
            number,
            0,
            Local::Answered {
                status,
                headers: Vec::new(),
                body: bytes::Bytes::new(),
            },
        )
    };
    let attempts = [
        answered(Kind::Original, 1, 500, 11_000),
        answered(Kind::Replay, 2, 200, 5),
    ];
    let local = provider_outcome(SenderHeard::Local, &attempts);
    assert_eq!(local, Some(heard(Some(500), 11_000)));
    let queued = SenderHeard::Relay {
        status: 202,
        why: RelayAnswered::Queued,
    };
    assert_eq!(
        provider_outcome(queued, &attempts),
        Some(heard(Some(202), 0))
    );
    let within = SenderHeard::Relay {
        status: 202,
        why: RelayAnswered::AnswerWithin { wait_ms: Some(300) },
    };
    assert_eq!(
        provider_outcome(within, &attempts),
        Some(heard(Some(202), 300)),
        "answered when the wait ran out"
    );
    // Before the first attempt ended, the relay's answer is known already.
    assert_eq!(provider_outcome(SenderHeard::Local, &[]), None);
    assert_eq!(provider_outcome(queued, &[]), Some(heard(Some(202), 0)));

    // Malomo, its 10 s deadline: the local 500 after 11 s is late and
    // retried; the relay's 202 in time satisfies it.
    let registry = Registry::builtin();
    let judged = |outcome: Option<Outcome>| {
        let w = Webhook::of(&registry, &malomo(Some(1), None), outcome.as_ref());
        (w.late, w.next.is_some())
    };
    assert_eq!(judged(local), (Some(true), true));
    assert_eq!(
        judged(provider_outcome(within, &attempts)),
        (Some(false), false)
    );
}
