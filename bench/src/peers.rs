//! Other tunnels measured beside hookhole in the same run, only when asked
//! (`--peers bore`): a peer is installed from its package registry on first
//! use, which a plain run (or CI) must never do.

/// A tunnel the benchmark can measure beside hookhole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// bore, a raw TCP tunnel: see [`crate::bore`].
    Bore,
}

/// The values `--peers` accepts, for its error message.
pub const ACCEPTED: &str = "bore";

impl Peer {
    fn named(name: &str) -> Option<Peer> {
        match name {
            "bore" => Some(Peer::Bore),
            _ => None,
        }
    }
}

/// The peers `args` ask for, each once: `--peers bore` or `--peers=bore`,
/// a comma-separated list; none without the flag. The error is the one
/// line to exit 2 with.
pub fn from_args(args: &[String]) -> Result<Vec<Peer>, String> {
    let mut peers = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let Some(rest) = arg.strip_prefix("--peers") else {
            continue;
        };
        let value = match rest.strip_prefix('=') {
            Some(value) => value,
            None if rest.is_empty() => args.next().map_or("", String::as_str),
            // `--peersfoo`: a misspelt flag, not some other flag.
            None => return Err(usage(arg)),
        };
        for name in value.split(',') {
            let peer = Peer::named(name).ok_or_else(|| usage(name))?;
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
    }
    Ok(peers)
}

/// `got` is the user's own argument: quoted (`{:?}`) so that no control
/// character of it reaches the terminal.
fn usage(got: &str) -> String {
    format!("--peers takes {ACCEPTED} (comma-separated), e.g. --peers bore; got {got:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Vec<Peer>, String> {
        from_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn bore_as_a_separate_value_or_after_an_equals_sign() {
        assert_eq!(parse(&[]), Ok(vec![]));
        assert_eq!(parse(&["--quick", "--check"]), Ok(vec![]));
        assert_eq!(parse(&["--peers", "bore"]), Ok(vec![Peer::Bore]));
        assert_eq!(parse(&["--quick", "--peers=bore"]), Ok(vec![Peer::Bore]));
        assert_eq!(
            parse(&["--peers=bore,bore", "--peers", "bore"]),
            Ok(vec![Peer::Bore])
        );
    }

    #[test]
    fn anything_else_is_refused_naming_the_accepted_peers() {
        for bad in [
            &["--peers", "rathole"][..],
            &["--peers"],
            &["--peers", "--quick"],
            &["--peers="],
            &["--peers=bore,"],
            &["--peers=Bore"],
            &["--peersbore"],
        ] {
            let error = parse(bad).expect_err(&format!("{bad:?} is refused"));
            assert!(error.contains("--peers takes bore"), "{error}");
        }
        let error = parse(&["--peers", "\x1b[2Jbore"]).expect_err("not a peer");
        assert!(!error.contains('\x1b'), "{error:?}");
    }
}
