//! The deliveries the UI holds, within its memory budget, and the
//! selection, the filter and the detail pane that follow from them.

use super::super::detail;
use super::super::filter::Filter;
use super::{App, Connection, Follow, MAX_HELD, MAX_RECORDS, Show};
use crate::events::{Event, LinkState, RetriedEvent};
use crate::tui::model::Record;
use hookhole_shared::printable;

impl App {
    /// Puts deliveries of earlier runs before the ones of this run (a
    /// delivery already shown is not added twice).
    pub(super) fn load(&mut self, earlier: Vec<Record>) {
        let mut earlier: Vec<Record> = earlier
            .into_iter()
            .filter(|r| !self.index.contains_key(&r.id))
            .collect();
        if earlier.is_empty() {
            return;
        }
        earlier.append(&mut self.records);
        self.records = earlier;
        self.held = self.records.iter().map(Record::held_bytes).sum();
        if !self.trim() {
            self.reindex();
        }
        if self.selected.is_none() {
            self.select_row(self.visible.len().saturating_sub(1));
        }
    }

    pub(super) fn engine(&mut self, event: Event) {
        match event {
            Event::Ready {
                public_url,
                listeners,
                forward,
                relay,
                answer,
                ..
            } => {
                self.link.answer = answer;
                self.link.public_url = public_url;
                self.link.relay = relay;
                self.link.forward = forward;
                self.link.listeners = listeners;
                self.link.state = Connection::Connected;
                self.link.last_heard_ms = Some(self.now_ms);
            }
            Event::Listeners { count, answer } => {
                self.link.listeners = count;
                self.link.answer = answer;
            }
            Event::Heartbeat => self.link.last_heard_ms = Some(self.now_ms),
            Event::Connection(c) => {
                self.link.state = match c.state {
                    LinkState::Connected => Connection::Connected,
                    LinkState::Reconnecting => Connection::Reconnecting,
                    LinkState::Failed => Connection::Refused,
                };
                self.link.reason = c.reason;
                if let Some(answer) = c.answer {
                    self.link.answer = answer;
                }
                self.link.retry_at_ms = c.retry_in_ms.map(|ms| self.now_ms + ms);
                self.link.next_relay = c.next_relay;
                // Connected to a relay: its URL is where webhooks go now.
                if let (Some(url), Some(relay)) = (c.public_url, c.relay) {
                    self.link.public_url = url;
                    self.link.relay = relay;
                }
                if let Some(n) = c.listeners {
                    self.link.listeners = n;
                }
                if self.link.state == Connection::Connected {
                    self.link.last_heard_ms = Some(self.now_ms);
                }
            }
            Event::Delivery(d) => {
                self.link.last_heard_ms = Some(self.now_ms);
                self.push(Record::from_event(&d));
            }
            Event::Retried(retried) => {
                let RetriedEvent { delivery, made, .. } = *retried;
                self.retry_made(&delivery.id, made);
            }
            Event::RetryScheduled {
                id,
                provider_attempt,
                in_ms,
                ..
            } => {
                let due = self.now_ms + in_ms;
                self.retries_due.insert(id, (due, provider_attempt));
                self.rebuild_detail();
            }
            Event::RetriesEnded { id, message, .. } => {
                self.retries_due.remove(&id);
                self.notify(printable::line_owned(message));
            }
        }
    }

    pub(super) fn push(&mut self, record: Record) {
        self.held += record.held_bytes();
        let pos = self.records.len();
        self.index.insert(record.id.clone(), pos);
        self.records.push(record);
        if self.matches(&self.records[pos]) {
            self.visible.push(pos);
        }
        self.trim();
        if self.follow == Follow::Newest || self.selected.is_none() {
            self.select_row(self.visible.len().saturating_sub(1));
        } else {
            self.keep_selection_in_view();
        }
    }

    /// Drops the oldest deliveries once more than [`MAX_RECORDS`] or
    /// [`MAX_HELD`] bytes of bodies are kept, down to nine tenths of both
    /// (so the list is not rebuilt on every delivery); the newest stays.
    /// True when it dropped any (and rebuilt the index).
    pub(super) fn trim(&mut self) -> bool {
        if self.records.len() <= MAX_RECORDS && self.held <= MAX_HELD {
            return false;
        }
        let (count_goal, held_goal) = (MAX_RECORDS / 10 * 9, MAX_HELD / 10 * 9);
        let mut dropped = 0;
        while dropped + 1 < self.records.len()
            && (self.records.len() - dropped > count_goal || self.held > held_goal)
        {
            self.held = self.held.saturating_sub(self.records[dropped].held_bytes());
            dropped += 1;
        }
        self.records.drain(..dropped);
        self.reindex();
        true
    }

    pub(super) fn reindex(&mut self) {
        self.index = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.refilter();
    }

    /// Whether a record passes the `/` filter and the `f` toggle.
    pub(super) fn matches(&self, r: &Record) -> bool {
        Filter::new(&self.filter, self.show).matches(r)
    }

    pub(super) fn refilter(&mut self) {
        let filter = Filter::new(&self.filter, self.show);
        self.visible = (0..self.records.len())
            .filter(|&i| filter.matches(&self.records[i]))
            .collect();
        match self.selected_row() {
            Some(_) => self.keep_selection_in_view(),
            None => self.select_row(self.visible.len().saturating_sub(1)),
        }
    }

    /// Something about the record at `pos` changed (an attempt finished).
    pub(super) fn changed(&mut self, pos: usize) {
        if self.show == Show::FailedOnly {
            self.refilter();
        }
        if self.index.get(self.selected.as_deref().unwrap_or("")) == Some(&pos) {
            self.rebuild_detail();
        }
    }

    /// Selects the `row`-th visible delivery (clamped).
    pub(super) fn select_row(&mut self, row: usize) {
        let before = self.selected.clone();
        self.selected = match self
            .visible
            .get(row.min(self.visible.len().saturating_sub(1)))
        {
            Some(&pos) => Some(self.records[pos].id.clone()),
            None => None,
        };
        if self.selected != before {
            self.detail_scroll = 0;
        }
        self.keep_selection_in_view();
        self.rebuild_detail();
    }

    pub(super) fn move_selection(&mut self, delta: isize) {
        let row = self.selected_row().unwrap_or(0) as isize + delta;
        self.select_row(row.max(0) as usize);
    }

    pub(super) fn keep_selection_in_view(&mut self) {
        let rows = self.areas().list_rows().max(1);
        let row = self.selected_row().unwrap_or(0);
        if row < self.offset {
            self.offset = row;
        } else if row >= self.offset + rows {
            self.offset = row + 1 - rows;
        }
        self.offset = self.offset.min(self.visible.len().saturating_sub(rows));
    }

    /// The detail pane's text, each line escaped once here (so every tab,
    /// body view and header is covered) rather than on every frame.
    pub(super) fn rebuild_detail(&mut self) {
        let lines = match self.selected_record() {
            Some(r) => detail::lines(r, self.tab, self.utc_offset_s),
            // The empty state is drawn from the link (`ui`), not held here.
            None => Vec::new(),
        };
        self.detail = lines.into_iter().map(printable::line_owned).collect();
    }
}
