//! Where everything goes, as a pure function of the terminal size, shared
//! by drawing and by input (mouse clicks, page sizes) so they never disagree.

use ratatui::layout::Rect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub list: Rect,
    pub detail: Rect,
    pub hints: Rect,
}

impl Areas {
    /// Status bar (2 lines) on top, key hints (1 line) at the bottom; the
    /// list and the detail pane share the rest, side by side on wide
    /// terminals, stacked on narrow ones.
    pub fn of(width: u16, height: u16) -> Areas {
        let status_h = 2.min(height);
        let hints_h = u16::from(height > status_h);
        let body_h = height.saturating_sub(status_h + hints_h);
        let status = Rect::new(0, 0, width, status_h);
        let hints = Rect::new(0, height.saturating_sub(hints_h), width, hints_h);
        let (list, detail) = if width >= 140 {
            let list_w = width * 11 / 20;
            (
                Rect::new(0, status_h, list_w, body_h),
                Rect::new(list_w, status_h, width - list_w, body_h),
            )
        } else {
            // Two fifths for the list, but never fewer than three rows of
            // deliveries (border and header take three lines) when it fits.
            let list_h = (body_h * 2 / 5).max(body_h.saturating_sub(3).min(6));
            (
                Rect::new(0, status_h, width, list_h),
                Rect::new(0, status_h + list_h, width, body_h - list_h),
            )
        };
        Areas {
            status,
            list,
            detail,
            hints,
        }
    }

    /// Rows of deliveries the list shows (inside its border, below the header).
    pub fn list_rows(&self) -> usize {
        usize::from(self.list.height.saturating_sub(3))
    }

    /// Lines of text the detail pane shows (inside its border and tab bar).
    pub fn detail_rows(&self) -> usize {
        usize::from(self.detail.height.saturating_sub(3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_fit_every_size() {
        for (w, h) in [(40, 12), (80, 24), (300, 100), (1, 1), (0, 0)] {
            let a = Areas::of(w, h);
            for r in [a.status, a.list, a.detail, a.hints] {
                assert!(r.x + r.width <= w && r.y + r.height <= h, "{w}x{h}: {r:?}");
            }
        }
        assert_eq!(Areas::of(80, 24).list_rows(), 5);
        assert_eq!(
            Areas::of(40, 12).list_rows(),
            3,
            "short terminals still list deliveries"
        );
        assert!(
            Areas::of(300, 100).list.width < 300,
            "side by side when wide"
        );
    }
}
