//! The one glob rule in the tree: `hookhole history --event`, and the
//! `event`, `path` and `header` matchers of routes (`listen --route`).
//! `*` stands for any run of characters (`.` and `/` too), `?` for one;
//! letters match in either case. Matching is pattern × text steps at most,
//! whatever a user writes.

/// A glob, parsed once: `order.*`, `/github/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(Vec<char>);

impl Glob {
    /// Longest pattern taken: event types and paths are capped far below it.
    const MAX: usize = 1024;

    pub fn parse(text: &str) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("give an event type or a glob, e.g. 'order.*'".into());
        }
        if text.len() > Self::MAX {
            return Err(format!(
                "a pattern of {} bytes is longer than the {}-byte limit",
                text.len(),
                Self::MAX
            ));
        }
        Ok(Glob(text.chars().collect()))
    }

    /// Whether `text` matches: one pass with backtracking to the last `*`
    /// only, so at most pattern × text steps.
    pub fn matches(&self, text: &str) -> bool {
        let (pattern, text): (&[char], Vec<char>) = (&self.0, text.chars().collect());
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c.eq_ignore_ascii_case(&text[t]) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    // The last `*` takes one more character.
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        p = sp + 1;
                        t = st + 1;
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Glob {
        Glob::parse(text).unwrap()
    }

    #[test]
    fn event_globs_match_as_documented() {
        let cases = [
            ("order.*", "order.notification", true),
            ("order.*", "order.validation_requested", true),
            ("order.*", "orders:created", false),
            ("order.*", "order", false),
            ("*.created", "maple.order.created", true),
            ("orders:created", "ORDERS:CREATED", true),
            ("order.?otification", "order.notification", true),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("**x", "x", true),
            ("x", "xx", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob(pattern).matches(text), want, "{pattern} on {text}");
        }
    }

    #[test]
    fn an_empty_or_huge_pattern_is_refused() {
        let err = Glob::parse("").unwrap_err();
        assert!(err.contains("'order.*'"), "{err}");
        let err = Glob::parse(&"*".repeat(2000)).unwrap_err();
        assert!(err.contains("1024-byte limit"), "{err}");
    }

    /// The worst case a local user can write stays a bounded amount of
    /// work: pattern × text steps, not exponential.
    #[test]
    fn a_pathological_pattern_is_quick() {
        let pattern = glob(&format!("{}b", "*a".repeat(500)));
        let text = "a".repeat(256);
        let started = std::time::Instant::now();
        assert!(!pattern.matches(&text));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
