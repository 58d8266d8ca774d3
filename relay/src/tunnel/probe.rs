//! A probing hello (`hookhole doctor`): answered with what joining would
//! give, then closed, without ever making the link a listener, so no
//! delivery can be offered to it and no other client hears of it.

use super::admission::may_claim;
use super::{Ws, close_with, to_message, total_listeners};
use crate::state::RelayState;
use futures_util::SinkExt;
use hookhole_shared::protocol::{Message as _, Probed, RelayMessage, VERSION};

/// The standard "normal closure": the probe was answered.
const NORMAL: u16 = 1000;

/// Answers a probe for `channel` (the hello was admitted: version, token
/// and name are good) and closes the link.
pub(super) async fn answer(
    state: &RelayState,
    ws: &mut Ws,
    channel: String,
    owner: Option<&str>,
    base: &str,
) {
    let refused = may_claim(state, &channel, owner).await.err();
    // Another token's channel: nothing beyond "taken", as for a join.
    let listeners = match refused {
        Some(_) => 0,
        None => {
            let here = state.hub.route(&channel).map_or(0, |l| l.len());
            total_listeners(state, &channel, here)
        }
    };
    tracing::info!(%channel, refused = refused.is_some(), "probe answered");
    let probed = RelayMessage::Probed(Probed {
        version: VERSION,
        public_url: format!("{base}/{channel}"),
        channel,
        refused,
        listeners,
    });
    if ws.send(to_message(probed.encode())).await.is_ok() {
        close_with(ws, NORMAL, "probe answered").await;
    }
}
