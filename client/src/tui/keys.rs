//! The one key table. The key handler (`input`), the hint bar
//! and the help screen ([`super::ui`]) are all read from [`KEYS`], so a
//! key cannot work without being listed, or be listed without working.
//!
//! Bindings follow what users know from mitmproxy, k9s and lazygit.

use super::app::Tab;
use crossterm::event::{KeyCode, KeyModifiers};

/// What a key asks the app to do while browsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    SwitchFocus,
    NextTab,
    PrevTab,
    ShowTab(Tab),
    /// Leave the detail pane, or clear the filter.
    Back,
    StartFilter,
    ToggleFailed,
    ToggleFollow,
    Replay,
    Resign,
    Edit,
    CopyCurl,
    CopyBody,
    /// Play the provider's retries of the selected delivery.
    PlayRetries,
    /// Cancel the selected delivery's next retry (and the ones after it).
    CancelRetries,
    Help,
    Quit,
}

/// One row of the help screen: the keys, what they do, and the hint bar's
/// short form when the hint bar shows it (key label, word).
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers, Action)],
    pub hint: Option<(&'static str, &'static str)>,
    pub help: &'static str,
}

const NONE: KeyModifiers = KeyModifiers::NONE;

/// Every key, in the order the help screen lists them and the hint bar
/// shows them (the hint bar drops from the end when narrow, so the most
/// used come first).
pub const KEYS: &[Binding] = &[
    Binding {
        keys: &[
            (KeyCode::Char('j'), NONE, Action::Down),
            (KeyCode::Char('k'), NONE, Action::Up),
            (KeyCode::Down, NONE, Action::Down),
            (KeyCode::Up, NONE, Action::Up),
        ],
        hint: Some(("j/k", "move")),
        help: "move in the list, or scroll the detail pane",
    },
    Binding {
        keys: &[
            (KeyCode::PageUp, NONE, Action::PageUp),
            (KeyCode::PageDown, NONE, Action::PageDown),
        ],
        hint: None,
        help: "a page at a time",
    },
    Binding {
        keys: &[
            (KeyCode::Char('g'), NONE, Action::First),
            (KeyCode::Char('G'), NONE, Action::Last),
            (KeyCode::Home, NONE, Action::First),
            (KeyCode::End, NONE, Action::Last),
        ],
        hint: None,
        help: "first / last delivery, or top / bottom of the detail",
    },
    Binding {
        keys: &[(KeyCode::Enter, NONE, Action::SwitchFocus)],
        hint: Some(("Enter", "focus")),
        help: "switch focus between list and detail",
    },
    Binding {
        keys: &[
            (KeyCode::Tab, NONE, Action::NextTab),
            (KeyCode::BackTab, NONE, Action::PrevTab),
            (KeyCode::Char('1'), NONE, Action::ShowTab(Tab::Request)),
            (KeyCode::Char('2'), NONE, Action::ShowTab(Tab::Response)),
            (KeyCode::Char('3'), NONE, Action::ShowTab(Tab::Signature)),
            (KeyCode::Char('4'), NONE, Action::ShowTab(Tab::Attempts)),
        ],
        hint: Some(("Tab", "tab")),
        help: "Request, Response, Signature, Attempts",
    },
    Binding {
        keys: &[(KeyCode::Char('/'), NONE, Action::StartFilter)],
        hint: Some(("/", "filter")),
        help: "filter by path, method, status, signature or body",
    },
    Binding {
        keys: &[(KeyCode::Esc, NONE, Action::Back)],
        hint: None,
        help: "leave the detail pane, or clear the filter",
    },
    Binding {
        keys: &[(KeyCode::Char('f'), NONE, Action::ToggleFailed)],
        hint: Some(("f", "failed")),
        help: "only failed (non-2xx, errors, invalid signatures)",
    },
    Binding {
        keys: &[(KeyCode::Char('F'), NONE, Action::ToggleFollow)],
        hint: Some(("F", "follow")),
        help: "follow the newest delivery",
    },
    Binding {
        keys: &[(KeyCode::Char('r'), NONE, Action::Replay)],
        hint: Some(("r", "replay")),
        help: "replay to the local server as it arrived",
    },
    Binding {
        keys: &[(KeyCode::Char('R'), NONE, Action::Resign)],
        hint: Some(("R", "re-sign")),
        help: "replay re-signed with a fresh timestamp",
    },
    Binding {
        keys: &[(KeyCode::Char('e'), NONE, Action::Edit)],
        hint: Some(("e", "edit")),
        help: "edit headers and body in $EDITOR, then replay",
    },
    Binding {
        keys: &[(KeyCode::Char('c'), NONE, Action::CopyCurl)],
        hint: Some(("c", "curl")),
        help: "copy as a curl command (to the local server)",
    },
    Binding {
        keys: &[(KeyCode::Char('y'), NONE, Action::CopyBody)],
        hint: Some(("y", "body")),
        help: "copy the body",
    },
    Binding {
        keys: &[(KeyCode::Char('p'), NONE, Action::PlayRetries)],
        hint: Some(("p", "retries")),
        help: "play the provider's retries on its schedule",
    },
    Binding {
        keys: &[(KeyCode::Char('x'), NONE, Action::CancelRetries)],
        hint: Some(("x", "cancel retry")),
        help: "cancel the next retry",
    },
    Binding {
        keys: &[(KeyCode::Char('?'), NONE, Action::Help)],
        hint: Some(("?", "help")),
        help: "this list (any key closes it)",
    },
    Binding {
        keys: &[
            (KeyCode::Char('q'), NONE, Action::Quit),
            (KeyCode::Char('c'), KeyModifiers::CONTROL, Action::Quit),
        ],
        hint: Some(("q", "quit")),
        help: "quit",
    },
];

/// The mouse, listed on the help screen after the keys.
pub const MOUSE_HELP: (&str, &str) = ("mouse", "click to select, wheel to scroll");

/// The action for a key. A binding with Ctrl matches only with Ctrl; the
/// others ignore modifiers (terminals report `G` with or without Shift).
pub fn action(code: KeyCode, modifiers: KeyModifiers) -> Option<Action> {
    let ctrl = modifiers.contains(KeyModifiers::CONTROL);
    let all = || KEYS.iter().flat_map(|b| b.keys.iter());
    all()
        .find(|(c, m, _)| *c == code && ctrl && m.contains(KeyModifiers::CONTROL))
        .or_else(|| all().find(|(c, m, _)| *c == code && m.is_empty()))
        .map(|&(_, _, action)| action)
}

/// The action that works in every mode (the filter being typed, help).
pub fn quits(code: KeyCode, modifiers: KeyModifiers) -> bool {
    modifiers.contains(KeyModifiers::CONTROL) && action(code, modifiers) == Some(Action::Quit)
}

/// A key as the help screen names it.
pub fn name(code: KeyCode, modifiers: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Down => "↓".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        other => format!("{other:?}"),
    };
    if modifiers.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{}", base.to_uppercase())
    } else {
        base
    }
}

/// The keys of a binding as the help screen lists them.
pub fn names(binding: &Binding) -> String {
    binding
        .keys
        .iter()
        .map(|&(code, modifiers, _)| name(code, modifiers))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The hint bar's entries (`j/k move`), most used first.
pub fn hints() -> impl Iterator<Item = String> {
    KEYS.iter()
        .filter_map(|b| b.hint)
        .map(|(key, word)| format!("{key} {word}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<_> = KEYS.iter().flat_map(|b| b.keys.iter()).collect();
        for (i, (code, m, _)) in all.iter().enumerate() {
            assert!(
                !all[i + 1..].iter().any(|(c, n, _)| c == code && n == m),
                "{code:?} {m:?} is bound twice"
            );
        }
    }

    #[test]
    fn every_key_in_the_table_maps_to_its_action() {
        for binding in KEYS {
            for &(code, modifiers, expected) in binding.keys {
                assert_eq!(action(code, modifiers), Some(expected), "{code:?}");
            }
        }
        assert_eq!(
            action(KeyCode::Char('c'), NONE),
            Some(Action::CopyCurl),
            "c without Ctrl copies"
        );
        assert!(quits(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert!(!quits(KeyCode::Char('q'), NONE), "q is a browsing key");
        assert_eq!(
            action(KeyCode::Char('G'), KeyModifiers::SHIFT),
            Some(Action::Last)
        );
        assert_eq!(action(KeyCode::Char('z'), NONE), None);
    }
}
