//! The delivery history: every delivery and every attempt at it, with full
//! request and response bytes, in an embedded SQLite database in the data
//! dir. It survives restarts; `hookhole history`/`show`/`replay`/`export`
//! and the terminal UI read it.
//!
//! A listener saves deliveries through [`Writer`] (one thread, one
//! transaction per batch) and a second thread checkpoints the WAL; reads and
//! replayed attempts go through a [`History`] (one connection behind a
//! mutex, reached from async code with `spawn_blocking`). WAL mode lets the
//! commands read while a listener writes.
//!
//! Bodies over 64 KiB are kept in files of their own beside the database
//! ([`bodies`]); the rows name them.

pub mod bodies;
mod checkpoint;
mod columns;
mod lookup;
mod opening;
pub mod records;
mod retention;
mod schema;
pub mod store;
pub mod writer;

#[cfg(test)]
mod bodies_tests;

pub use store::{Attempt, History, Keep, LookupError, StoredDelivery, Summary};
pub use writer::Writer;

/// The database file inside the data dir.
pub const FILE_NAME: &str = "history.sqlite";
