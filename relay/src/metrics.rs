//! Counters for `GET /_hookhole/metrics` (Prometheus text format): every
//! rejection by its error code, deliveries, and the relay's current state.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One metric in the Prometheus text format: its help and type lines, then
/// a line per sample (`lines` are what follows the name: labels and value).
pub fn write_metric(out: &mut String, name: &str, kind: &str, help: &str, lines: &[String]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for line in lines {
        out.push_str(&format!("{name}{line}\n"));
    }
}

#[derive(Default)]
pub struct Metrics {
    pub delivered: AtomicU64,
    pub queued: AtomicU64,
    /// Webhook body bytes received.
    pub bytes: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Time from a webhook's arrival to its answer, for answered deliveries.
    latency: Mutex<Histogram>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn observe(&self, seconds: f64) {
        let mut h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// A delivery went to clients (whatever they answered).
    pub fn count_delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reject(&self, code: &'static str) {
        *self
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(code)
            .or_insert(0) += 1;
    }

    /// The text exposition, with the gauges the caller knows.
    pub fn render(
        &self,
        channels: usize,
        clients: usize,
        buffered: usize,
        budgets: &crate::budget::Budgets,
    ) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
            write_metric(&mut out, name, kind, help, &lines);
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
            "hookhole_bytes_total",
            "counter",
            "Webhook body bytes received.",
            vec![format!(" {}", self.bytes.load(Ordering::Relaxed))],
        );
        let h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let mut buckets: Vec<String> = BUCKETS
            .iter()
            .zip(h.counts.iter())
            .map(|(bound, n)| format!("_bucket{{le=\"{bound}\"}} {n}"))
            .collect();
        buckets.push(format!("_bucket{{le=\"+Inf\"}} {}", h.count));
        buckets.push(format!("_sum {}", h.sum));
        buckets.push(format!("_count {}", h.count));
        drop(h);
        metric(
            "hookhole_delivery_seconds",
            "histogram",
            "Time from a webhook's arrival to its answer.",
            buckets,
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
            "hookhole_connections",
            "gauge",
            "Open connections: still sending their first request head, webhooks, client links.",
            crate::budget::Class::ALL
                .iter()
                .map(|c| format!("{{class=\"{}\"}} {}", c.name(), budgets.open(*c)))
                .collect(),
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
