//! Frames too large for one NATS message.
//!
//! NATS carries messages up to the server's `max_payload` (1 MiB by
//! default, and its authors advise against raising it far), while a webhook
//! may be 25 MiB. A larger frame is put in the JetStream object store (which
//! splits it into chunks and checks its SHA-256 on the way out) and the
//! message carries only the object's name. No chunking protocol of ours.
//!
//! Two buckets: frames passing between nodes (a live delivery, a client's
//! answer) live for seconds and are kept in memory; stored deliveries must
//! outlive a NATS restart and are kept on disk. Writing every large live
//! frame to disk was half of nats-server's work for 1 MiB deliveries.

use super::{BODIES_BUCKET, ClusterError, FRAMES_BUCKET};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, object_store};
use bytes::Bytes;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The headers naming the object that holds a message's frame, by bucket.
const KEPT_HEADER: &str = "Hookhole-Object";
const PASSING_HEADER: &str = "Hookhole-Frame";

/// How long a frame passing between nodes may take to be read.
const PASSING_KEEP: Duration = Duration::from_secs(300);

/// How long a frame is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Read by another node within seconds (memory).
    Passing,
    /// Kept until a client saves it (disk).
    Kept,
}

/// Room left in a message for its headers.
const HEADER_ROOM: usize = 16 * 1024;

pub struct Bodies {
    kept: object_store::ObjectStore,
    passing: object_store::ObjectStore,
    /// Frames up to this size travel in the message itself.
    inline_max: usize,
}

async fn bucket(
    jetstream: &jetstream::Context,
    name: &str,
    storage: jetstream::stream::StorageType,
    keep: Duration,
) -> Result<object_store::ObjectStore, ClusterError> {
    if let Ok(store) = jetstream.get_object_store(name).await {
        return Ok(store);
    }
    let config = object_store::Config {
        bucket: name.to_string(),
        description: Some("hookhole: webhook frames above the NATS message size".into()),
        max_age: keep,
        storage,
        ..Default::default()
    };
    jetstream
        .create_object_store(config)
        .await
        .map_err(|e| ClusterError::Nats(format!("cannot open the {name} bucket: {e}")))
}

impl Bodies {
    /// Opens (or creates) the buckets. Kept objects expire after `keep`:
    /// one whose message was lost (a node died between the two) does not
    /// stay.
    pub async fn open(
        jetstream: &jetstream::Context,
        client: &async_nats::Client,
        keep: Duration,
    ) -> Result<Bodies, ClusterError> {
        use jetstream::stream::StorageType;
        let kept = bucket(jetstream, BODIES_BUCKET, StorageType::File, keep).await?;
        let passing = bucket(jetstream, FRAMES_BUCKET, StorageType::Memory, PASSING_KEEP).await?;
        let inline_max = client.server_info().max_payload.saturating_sub(HEADER_ROOM);
        Ok(Bodies {
            kept,
            passing,
            inline_max,
        })
    }

    fn bucket(&self, lifetime: Lifetime) -> (&object_store::ObjectStore, &'static str) {
        match lifetime {
            Lifetime::Passing => (&self.passing, PASSING_HEADER),
            Lifetime::Kept => (&self.kept, KEPT_HEADER),
        }
    }

    /// The payload that carries `frame`: the frame itself when it fits in a
    /// message, otherwise nothing, with `headers` naming the object `name`
    /// it was put in, in the bucket its `lifetime` calls for.
    pub async fn pack(
        &self,
        name: &str,
        frame: Bytes,
        headers: &mut HeaderMap,
        lifetime: Lifetime,
    ) -> Result<Bytes, ClusterError> {
        if frame.len() <= self.inline_max {
            return Ok(frame);
        }
        let (store, header) = self.bucket(lifetime);
        store
            .put(name, &mut frame.as_ref())
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot store a large frame: {e}")))?;
        headers.insert(header, name);
        Ok(Bytes::new())
    }

    /// The frame a message carries, read from the object store when the
    /// message names an object; at most `max` bytes.
    pub async fn unpack(
        &self,
        headers: Option<&HeaderMap>,
        payload: Bytes,
        max: usize,
    ) -> Result<Bytes, ClusterError> {
        let Some((lifetime, name)) = object_name(headers) else {
            return Ok(payload);
        };
        let object = self
            .bucket(lifetime)
            .0
            .get(name)
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot fetch frame {name}: {e}")))?;
        let mut frame = Vec::new();
        // The object store checks the SHA-256 it recorded as the last chunk
        // is read: a damaged object is an error here, not a wrong body.
        object
            .take(max as u64 + 1)
            .read_to_end(&mut frame)
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot read frame {name}: {e}")))?;
        if frame.len() > max {
            return Err(ClusterError::Nats(format!(
                "frame {name} is larger than the relay accepts"
            )));
        }
        Ok(Bytes::from(frame))
    }

    /// Deletes the object a message named, once nobody needs it.
    pub async fn discard(&self, headers: Option<&HeaderMap>) {
        if let Some((lifetime, name)) = object_name(headers)
            && let Err(e) = self.bucket(lifetime).0.delete(name).await
        {
            tracing::debug!("cannot delete frame {name}: {e}");
        }
    }
}

/// Whether a message's frame is in an object (to delete afterwards).
pub fn names_an_object(headers: &HeaderMap) -> bool {
    object_name(Some(headers)).is_some()
}

/// The bucket and name of the object holding a message's frame, if any.
fn object_name(headers: Option<&HeaderMap>) -> Option<(Lifetime, &str)> {
    let headers = headers?;
    if let Some(name) = headers.get(PASSING_HEADER) {
        return Some((Lifetime::Passing, name.as_str()));
    }
    headers
        .get(KEPT_HEADER)
        .map(|name| (Lifetime::Kept, name.as_str()))
}
