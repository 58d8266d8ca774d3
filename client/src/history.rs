//! The delivery history: every delivery and every attempt at it, with full
//! request and response bytes, in the data dir. It survives restarts;
//! `hookhole history`/`show`/`replay`/`export` and the terminal UI read it.
//!
//! The record of truth is an append-only log of records ([`log`], their
//! contents in [`entries`]): a listener saves deliveries through [`Writer`]
//! (one thread, one `writev` per batch), and an SQLite database indexes
//! them behind it ([`index`], built by the indexer thread and caught up by
//! every reader). Reads and replayed attempts go through a [`History`] (one
//! connection behind a mutex, reached from async code with
//! `spawn_blocking`). WAL mode lets the commands read while a listener
//! indexes.
//!
//! Histories of older versions kept everything in the database, and bodies
//! over 64 KiB in files of their own ([`bodies`]); those rows are read
//! where they are.

mod appender;
pub mod bodies;
mod columns;
mod duplicates;
pub mod entries;
mod index;
mod indexer;
pub mod listing;
pub mod log;
mod lookup;
mod opening;
pub mod records;
mod retention;
mod schema;
pub mod store;
pub mod writer;

#[cfg(test)]
mod bodies_tests;

pub use listing::Selection;
pub use store::{Attempt, History, Keep, LookupError, StoredDelivery, Summary};
pub use writer::Writer;

/// The database file inside the data dir.
pub const FILE_NAME: &str = "history.sqlite";
