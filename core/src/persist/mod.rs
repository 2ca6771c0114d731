//! Persistence: the append-only file (`aof/`) and the point-in-time view of
//! the keyspace that background saves read (`snapshot`).

pub(crate) mod aof;
pub(crate) mod snapshot;
