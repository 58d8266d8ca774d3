//! Who may join which channel: a client's hello checked (version, token,
//! channel name), and the channel claimed for the token's owner, on this
//! relay and, in a cluster, on every node.

use super::truncate;
use crate::state::RelayState;
use hookhole_shared::protocol::{Hello, VERSION, close, versions};

/// Whether `name` has the shape of a relay-assigned name (26 characters of
/// base32, 128 bits): unguessable, so holding it is the permission.
fn looks_assigned(name: &str) -> bool {
    name.len() == 26
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// Claims `channel` for `owner` (a token's channel): on this relay, and in
/// a cluster first on every node (the cluster's record decides; this
/// relay's own is what it goes by while NATS is away).
pub(super) async fn claim(
    state: &RelayState,
    channel: &str,
    owner: Option<&str>,
) -> Result<(), (u16, String)> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let claim_here = || {
        state
            .owners
            .claim(channel, owner, state.config.limits.channels_per_token)
            .map_err(|reason| (close::UNAUTHORIZED, reason))
    };
    let Some(cluster) = &state.cluster else {
        return claim_here();
    };
    // This relay's own limits first: a claim it would refuse is not made
    // across the cluster either.
    state
        .owners
        .check_claim(channel, owner, state.config.limits.channels_per_token)
        .map_err(|reason| (close::UNAUTHORIZED, reason))?;
    match cluster.claim(channel, owner).await {
        Ok(crate::cluster::Claim::Held) => claim_here(),
        Ok(crate::cluster::Claim::Taken) => Err((
            close::UNAUTHORIZED,
            format!("channel {channel} belongs to another token"),
        )),
        Err(_) if state.owners.is_owned_by(channel, owner) => Ok(()),
        Err(e) => Err((
            close::TRY_AGAIN_LATER,
            truncate(&format!("cannot check who owns the channel: {e}")).to_string(),
        )),
    }
}

/// Whether `owner` may claim `channel` (a probe): the same rules as
/// [`claim`], on this relay and in a cluster on every node, without
/// claiming it. The error is the reason a join would be refused with.
pub(super) async fn may_claim(
    state: &RelayState,
    channel: &str,
    owner: Option<&str>,
) -> Result<(), String> {
    let Some(owner) = owner else {
        return Ok(());
    };
    state
        .owners
        .check_claim(channel, owner, state.config.limits.channels_per_token)?;
    let Some(cluster) = &state.cluster else {
        return Ok(());
    };
    match cluster.may_claim(channel, owner).await {
        Ok(crate::cluster::Claim::Held) => Ok(()),
        Ok(crate::cluster::Claim::Taken) => {
            Err(format!("channel {channel} belongs to another token"))
        }
        Err(e) => Err(format!("cannot check who owns the channel now: {e}")),
    }
}

/// Checks a hello; returns the channel to join (and the token's owner id,
/// if any) or a close code and reason.
pub(super) fn admit(
    state: &RelayState,
    hello: &Hello,
) -> Result<(String, Option<String>), (u16, String)> {
    if hello.version != VERSION {
        return Err((
            close::UNSUPPORTED_VERSION,
            versions::refusal(VERSION, hello.version),
        ));
    }
    let tokens = &state.config.tokens;
    let owner = if tokens.is_empty() {
        None
    } else {
        let presented = hello
            .token
            .as_ref()
            .map(|t| t.0.as_str())
            .unwrap_or_default();
        match tokens.check(presented) {
            Some(owner) => Some(owner),
            None if hello.token.is_none() => {
                return Err((
                    close::UNAUTHORIZED,
                    "this relay requires a token: pass --token".into(),
                ));
            }
            None => {
                return Err((
                    close::UNAUTHORIZED,
                    "the token is not accepted by this relay".into(),
                ));
            }
        }
    };
    let channel = match &hello.channel {
        Some(name) => {
            hookhole_shared::channel::validate(name)
                .map_err(|e| (close::INVALID_CHANNEL, e.to_string()))?;
            if owner.is_none() && state.config.anonymous_random_only && !looks_assigned(name) {
                return Err((
                    close::UNAUTHORIZED,
                    "without a token this relay assigns random channel names only: drop --channel, or use a token".into(),
                ));
            }
            name.clone()
        }
        None => crate::ids::channel_name(),
    };
    Ok((channel, owner))
}
