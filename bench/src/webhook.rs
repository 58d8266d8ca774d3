//! The webhook every workload sends: a JSON body of a given size, signed
//! like Stripe's with the secret the client under test is given.

use crate::load::Request;
use bytes::Bytes;
use hookhole_shared::signature::preset::builtin;
use hookhole_shared::signature::secret::Secret;
use hookhole_shared::signature::sign::{Signing, sign};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Stripe secret the webhooks are signed with and the client verifies.
pub const SECRET: &str = "whsec_benchmark_secret_0001";

/// A webhook body of about `size` bytes and its headers, signed now.
pub fn signed(size: usize) -> anyhow::Result<(Vec<(String, String)>, Bytes)> {
    let pad = "x".repeat(size.saturating_sub(120));
    let body = Bytes::from(format!(
        "{{\"id\":\"evt_bench\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\",\"data\":{{\"pad\":\"{pad}\"}}}}"
    ));
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let preset = builtin()
        .iter()
        .find(|p| p.id == "stripe")
        .ok_or_else(|| anyhow::anyhow!("no stripe preset"))?;
    let signing = Signing {
        body: &body,
        url: "",
        headers: &[],
        timestamp: now,
        id: "evt_bench",
    };
    let signed =
        sign(preset, &Secret::new("stripe", SECRET), &signing).map_err(anyhow::Error::msg)?;
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(
        signed
            .headers
            .into_iter()
            .map(|h| (h.name.clone(), h.value_lossy().into_owned())),
    );
    Ok((headers, body))
}

/// Where the relay takes webhooks for the benchmark's channel.
pub fn tunnel_path() -> String {
    format!("/{}/hook", crate::setup::CHANNEL)
}

/// The signed webhook of `size` bytes, sent to `addr` at `path`.
pub fn request(addr: SocketAddr, path: &str, size: usize) -> anyhow::Result<Request> {
    let (headers, body) = signed(size)?;
    Ok(Request {
        addr,
        path: path.to_string(),
        headers,
        body,
    })
}

/// The signed webhook of `size` bytes, sent through the relay at `relay`.
pub fn through(relay: SocketAddr, size: usize) -> anyhow::Result<Request> {
    request(relay, &tunnel_path(), size)
}
