//! emberkv: Redis, embedded. Redis's data types, commands, expiry,
//! persistence and pub/sub, linked into the program that uses it.
//!
//! ```
//! let db = emberkv::Db::in_memory();
//! let mut c = db.client();
//! assert_eq!(c.execute(&["SET", "greeting", "hello"]), emberkv::Reply::ok());
//! assert_eq!(c.execute(&["GET", "greeting"]), emberkv::Reply::bulk("hello"));
//! ```

mod acl;
pub mod alloc;
mod blocking;
mod bytes_reply;
mod client;
mod clock;
mod cmdstats;
mod commands;
mod config;
mod db;
mod error;
mod evict;
mod hooks;
mod keyspace;
mod latency;
mod monitor;
mod notify;
mod pause;
#[doc(hidden)] // public for the persistence tests; not a stable API
pub mod persist;
mod pubsub;
mod push;
mod reply;
mod script;
mod slowlog;
mod tracking;
mod types;
mod util;

pub use client::{BlockProbe, Client};
pub use clock::ManualClock;
pub use config::{AppendFsync, Config};
pub use db::Db;
pub use error::{Error, ErrorKind};
pub use pubsub::{Message, MessageKind, Subscription};
pub use reply::{Bytes, Reply};

/// The Redis version whose behaviour emberkv matches (INFO `redis_version`).
pub const REDIS_VERSION: &str = "7.2.4";
/// emberkv's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Whether the command `argv` may keep its caller for long: it can block
/// waiting for data (BLPOP, BRPOP, XREAD BLOCK, ...) or run unbounded work
/// (EVAL and the other script commands, DEBUG SLEEP). Decided from the
/// command table's flags, case-insensitively, without running anything.
/// Front ends that serve many connections on one thread (the RESP listener)
/// run such commands on a thread of their own.
pub fn command_may_hold_caller(argv: &[&[u8]]) -> bool {
    commands::holds_caller(argv)
}

/// Redis's glob matching (KEYS, SCAN MATCH, PSUBSCRIBE), exposed for bindings and tests.
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    util::glob::glob_match(pattern, subject)
}
