//! Frames too large for one NATS message.
//!
//! NATS carries messages up to the server's `max_payload` (1 MiB by
//! default, and its authors advise against raising it far), while a webhook
//! may be 25 MiB. A larger frame is put in the JetStream object store (which
//! splits it into chunks and checks its SHA-256 on the way out) and the
//! message carries only the object's name. No chunking protocol of ours.

use super::{BODIES_BUCKET, ClusterError};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, object_store};
use bytes::Bytes;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The header naming the object that holds a message's frame.
const OBJECT_HEADER: &str = "Hookhole-Object";

/// Room left in a message for its headers.
const HEADER_ROOM: usize = 16 * 1024;

pub struct Bodies {
    store: object_store::ObjectStore,
    /// Frames up to this size travel in the message itself.
    inline_max: usize,
}

impl Bodies {
    /// Opens (or creates) the bucket. Objects expire after `keep`: one
    /// whose message was lost (a node died between the two) does not stay.
    pub async fn open(
        jetstream: &jetstream::Context,
        client: &async_nats::Client,
        keep: Duration,
    ) -> Result<Bodies, ClusterError> {
        let config = object_store::Config {
            bucket: BODIES_BUCKET.to_string(),
            description: Some("hookhole: webhook frames above the NATS message size".into()),
            max_age: keep,
            ..Default::default()
        };
        let store = match jetstream.get_object_store(BODIES_BUCKET).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_object_store(config)
                .await
                .map_err(|e| ClusterError::Nats(format!("cannot open the bodies bucket: {e}")))?,
        };
        let inline_max = client.server_info().max_payload.saturating_sub(HEADER_ROOM);
        Ok(Bodies { store, inline_max })
    }

    /// The payload that carries `frame`: the frame itself when it fits in a
    /// message, otherwise nothing, with `headers` naming the object `name`
    /// it was put in.
    pub async fn pack(
        &self,
        name: &str,
        frame: Bytes,
        headers: &mut HeaderMap,
    ) -> Result<Bytes, ClusterError> {
        if frame.len() <= self.inline_max {
            return Ok(frame);
        }
        self.store
            .put(name, &mut frame.as_ref())
            .await
            .map_err(|e| ClusterError::Nats(format!("cannot store a large frame: {e}")))?;
        headers.insert(OBJECT_HEADER, name);
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
        let Some(name) = object_name(headers) else {
            return Ok(payload);
        };
        let object = self
            .store
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
        if let Some(name) = object_name(headers)
            && let Err(e) = self.store.delete(name).await
        {
            tracing::debug!("cannot delete frame {name}: {e}");
        }
    }
}

fn object_name(headers: Option<&HeaderMap>) -> Option<&str> {
    headers?.get(OBJECT_HEADER).map(|v| v.as_str())
}
