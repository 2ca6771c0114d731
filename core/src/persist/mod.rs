//! Persistence: the file formats emberkv shares with Redis, and the
//! machinery that writes them while the engine keeps running.
//!
//! - [`rdb`]: RDB snapshots (read any Redis dump from RDB 1 to 12, write
//!   RDB 10), DUMP/RESTORE payloads. It works on its own intermediate
//!   representation ([`rdb::RdbValue`]); `convert` maps it to and from the
//!   engine's value types.
//! - `aof`: the append-only file (Redis 7 multi-part layout).
//! - `snapshot`: the point-in-time view of the keyspace that background
//!   saves and AOF rewrites read.

pub(crate) mod aof;
pub(crate) mod convert;
pub mod rdb;
pub(crate) mod save;
pub(crate) mod snapshot;
