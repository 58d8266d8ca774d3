//! The delivery history: every delivery and every attempt at it, with full
//! request and response bytes, in an embedded SQLite database in the data
//! dir. It survives restarts; `hookhole history`/`show`/`replay`/`export`
//! and the terminal UI read it.
//!
//! One connection behind a mutex: writes are small and SQLite serialises
//! them anyway. WAL mode lets the commands read while a listener writes.
//! Async callers go through `spawn_blocking`.

mod checkpoint;
pub mod records;
mod schema;
pub mod store;
pub mod writer;

pub use store::{History, Keep, LookupError, StoredAttempt, StoredDelivery, Summary};
pub use writer::Writer;

/// The database file inside the data dir.
pub const FILE_NAME: &str = "history.sqlite";
