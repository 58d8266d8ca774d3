use super::*;
use crate::forward::Forwarder;
use crate::replay::Request;
use crate::verification::Verifier;
use crate::webhook::Recorded;
use bytes::Bytes;
use hookhole_shared::headers::Header;
use hookhole_shared::signature::Registry;
use hookhole_shared::webhook::WebhookFacts;
use std::time::Duration;

/// A retrier whose retries would go to port 9 on loopback (nothing
/// listens there: a retry made would be reported as a failed delivery).
fn retrier(speed: u32) -> (Retrier, mpsc::Receiver<Event>, CancellationToken) {
    let target = crate::target::Target::parse("9").unwrap();
    let replayer = Replayer {
        forwarder: Forwarder::new(target, Duration::from_secs(1), 1024),
        verifier: Arc::new(Verifier {
            registry: Registry::builtin(),
            secrets: Vec::new(),
        }),
        history: None,
    };
    let (tx, rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    (Retrier::new(replayer, tx, speed, stop.clone()), rx, stop)
}

fn malomo_plan() -> Plan {
    Plan {
        replay: Replay {
            id: "d1".into(),
            number: 2,
            url: "http://relay/ch".into(),
            scheme: None,
            request: Request {
                method: "POST".into(),
                path: "/".into(),
                query: None,
                headers: vec![Header::new("malomo-attempt-number", "1")],
                body: Bytes::from_static(b"{}"),
            },
            mode: Mode::AsIs,
            target: None,
        },
        seq: 1,
        recorded: Recorded {
            facts: WebhookFacts {
                provider: "malomo".into(),
                event_type: None,
                event_id: None,
                attempt: Some(1),
                deadline_ms: Some(10_000),
            },
            arrival: None,
        },
        route: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_retry_is_never_sent() {
    let (retrier, mut events, _stop) = retrier(1);
    retrier.play(malomo_plan()).unwrap();
    let Some(Event::RetryScheduled {
        id,
        attempt,
        provider_attempt,
        in_ms,
    }) = events.recv().await
    else {
        panic!("the first retry is scheduled first");
    };
    assert_eq!((id.as_str(), attempt, provider_attempt), ("d1", 2, 2));
    // Malomo: 10 attempts within 24 h, doubling: the first wait is
    // 86400 / 511 s, at speed 1.
    assert_eq!(in_ms, 169_080, "{in_ms}");
    assert!(
        retrier.play(malomo_plan()).is_err(),
        "one schedule per delivery"
    );
    assert!(retrier.cancel("d1"));
    let Some(Event::RetriesEnded { why, message, .. }) = events.recv().await else {
        panic!("cancelled");
    };
    assert_eq!(why, Ended::Cancelled, "{message}");
    // Far past every wait: nothing more comes (a retry sent to port 9
    // would be a `delivery` line), and the schedule is gone.
    tokio::time::advance(Duration::from_secs(90_000)).await;
    assert!(events.try_recv().is_err());
    assert!(!retrier.cancel("d1"), "nothing left to cancel");
}

#[tokio::test(start_paused = true)]
async fn stopping_hookhole_ends_the_schedules_without_a_line() {
    let (retrier, mut events, stop) = retrier(60);
    retrier.play(malomo_plan()).unwrap();
    assert!(matches!(
        events.recv().await,
        Some(Event::RetryScheduled { .. })
    ));
    stop.cancel();
    drop(retrier);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .is_none(),
        "the task ended and dropped its sender"
    );
}

#[tokio::test]
async fn a_provider_without_documented_retries_is_not_played() {
    let (retrier, _events, _stop) = retrier(60);
    let mut plan = malomo_plan();
    plan.recorded.facts.provider = "twilio".into();
    let refused = retrier.play(plan).unwrap_err();
    assert!(refused.contains("documents no retries"), "{refused}");
}
