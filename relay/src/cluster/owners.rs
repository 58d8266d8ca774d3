//! Channel ownership across the cluster: a KV bucket from channel name to
//! the owner id of the token that claimed it. A claim is a `create`, which
//! JetStream makes atomic: when two nodes claim one channel for two tokens
//! at once, exactly one wins.

use super::{Cluster, ClusterError, OWNERS_BUCKET};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;

pub async fn open(jetstream: &jetstream::Context) -> Result<kv::Store, ClusterError> {
    if let Ok(store) = jetstream.get_key_value(OWNERS_BUCKET).await {
        return Ok(store);
    }
    // The bucket's stream, made here rather than by `create_key_value`:
    // that first asks for the account's limits, whose answer from the
    // NATS 2.9 servers Debian ships the crate cannot read. The shape is a
    // KV bucket's (one value per key, no deletes, direct gets).
    let config = jetstream::stream::Config {
        name: format!("KV_{OWNERS_BUCKET}"),
        description: Some("hookhole: which token owns which channel".into()),
        subjects: vec![format!("$KV.{OWNERS_BUCKET}.>")],
        max_messages_per_subject: 1,
        discard: jetstream::stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot create the owners bucket: {e}")))?;
    jetstream
        .get_key_value(OWNERS_BUCKET)
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot open the owners bucket: {e}")))
}

/// Whether a claim held.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Free until now, or already this owner's.
    Held,
    /// Another token claimed it (on some node).
    Taken,
}

impl Cluster {
    /// Claims `channel` for `owner` in the cluster.
    pub async fn claim(&self, channel: &str, owner: &str) -> Result<Claim, ClusterError> {
        let owners = &self.store().await?.owners;
        match owners.create(channel, Bytes::from(owner.to_string())).await {
            Ok(_) => return Ok(Claim::Held),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(e) => return Err(ClusterError::Nats(format!("cannot claim: {e}"))),
        }
        let current = owners
            .get(channel)
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot read the owner: {e}")))?;
        let theirs = current.is_some_and(|held| crate::auth::same_owner(&held, owner));
        Ok(if theirs { Claim::Held } else { Claim::Taken })
    }

    /// What [`Cluster::claim`] would say, without claiming (a probe).
    pub async fn may_claim(&self, channel: &str, owner: &str) -> Result<Claim, ClusterError> {
        let owners = &self.store().await?.owners;
        let current = owners
            .get(channel)
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot read the owner: {e}")))?;
        let free_or_theirs = current.is_none_or(|held| crate::auth::same_owner(&held, owner));
        Ok(if free_or_theirs {
            Claim::Held
        } else {
            Claim::Taken
        })
    }

    /// Whether some token claimed `channel` on any node.
    pub async fn is_claimed(&self, channel: &str) -> Result<bool, ClusterError> {
        let owners = &self.store().await?.owners;
        owners
            .get(channel)
            .await
            .map(|held| held.is_some())
            .map_err(|e| ClusterError::Nats(format!("cannot read the owner: {e}")))
    }
}
