//! Counters for `GET /_hookhole/metrics` (Prometheus text format): every
//! rejection by its error code, deliveries, and the relay's current state.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub delivered: AtomicU64,
    pub queued: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn reject(&self, code: &'static str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_insert(0) += 1;
    }

    /// The text exposition, with the gauges the caller knows.
    pub fn render(&self, channels: usize, clients: usize, buffered: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for line in lines {
                out.push_str(&format!("{name}{line}\n"));
            }
        };
        metric(
            "hookhole_deliveries_total",
            "counter",
            "Webhooks sent to clients live.",
            vec![format!(" {}", self.delivered.load(Ordering::Relaxed))],
        );
        metric(
            "hookhole_queued_total",
            "counter",
            "Webhooks kept for absent clients.",
            vec![format!(" {}", self.queued.load(Ordering::Relaxed))],
        );
        let rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner());
        metric(
            "hookhole_rejections_total",
            "counter",
            "Requests answered with a relay error, by error code.",
            rejected
                .iter()
                .map(|(code, n)| format!("{{code=\"{code}\"}} {n}"))
                .collect(),
        );
        metric(
            "hookhole_channels",
            "gauge",
            "Channels with a client.",
            vec![format!(" {channels}")],
        );
        metric(
            "hookhole_clients",
            "gauge",
            "Connected clients.",
            vec![format!(" {clients}")],
        );
        metric(
            "hookhole_buffered",
            "gauge",
            "Deliveries waiting for a client.",
            vec![format!(" {buffered}")],
        );
        out
    }
}
