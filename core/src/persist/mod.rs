//! Persistence: the file formats emberkv shares with Redis.
//!
//! - [`rdb`]: RDB snapshots (read any Redis dump from RDB 1 to 12, write
//!   RDB 10), DUMP/RESTORE payloads. It works on its own intermediate
//!   representation ([`rdb::RdbValue`]); converting to and from the engine's
//!   value types, SAVE/BGSAVE and loading at `Db::open` live with the engine.

pub mod rdb;
