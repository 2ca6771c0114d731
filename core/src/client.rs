//! `Client`: one connection's state — selected database, protocol version,
//! name, MULTI queue, WATCHed keys — and the entry point `execute`.
//!
//! A Client belongs to one thread at a time (`&mut self`); share the `Db`,
//! not the Client. Per-client counters are plain integers flushed into the
//! engine's statistics in batches, so busy threads never contend on them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;

use crate::commands::{self, CommandSpec};
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::reply::Reply;

/// What CLIENT LIST / CLIENT INFO show of a client, shared with the engine.
#[derive(Debug, Default)]
pub(crate) struct ClientInfo {
    pub id: u64,
    pub created_ms: u64,
    pub meta: Mutex<ClientMeta>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ClientMeta {
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: String,
    pub last_ms: u64,
}

pub(crate) struct ClientState {
    pub id: u64,
    pub db: usize,
    /// 2 or 3 (HELLO).
    pub resp: u8,
    /// Registered with the engine (CLIENT LIST); internal clients are not.
    pub info: Option<Arc<ClientInfo>>,
    // counters not yet flushed into the engine
    calls: u64,
    hits: u64,
    misses: u64,
    failed: u64,
    rejected: u64,
}

const FLUSH_EVERY: u64 = 256;

impl ClientState {
    /// A client the engine uses itself (Db::execute, background work).
    pub fn internal() -> ClientState {
        ClientState { id: 0, db: 0, resp: 2, info: None, calls: 0, hits: 0, misses: 0, failed: 0, rejected: 0 }
    }

    pub fn note_call(&mut self, hits: u64, misses: u64, failed: bool) {
        self.calls += 1;
        self.hits += hits;
        self.misses += misses;
        self.failed += failed as u64;
    }

    pub fn note_rejected(&mut self) {
        self.rejected += 1;
    }

    pub fn due_flush(&self) -> bool {
        self.calls >= FLUSH_EVERY || self.info.is_none()
    }

    /// Moves the local counters into the engine's statistics.
    pub fn flush_stats(&mut self, eng: &Engine) {
        let s = &eng.stats;
        for (local, global) in [
            (&mut self.calls, &s.total_commands),
            (&mut self.hits, &s.keyspace_hits),
            (&mut self.misses, &s.keyspace_misses),
            (&mut self.failed, &s.failed_calls),
            (&mut self.rejected, &s.rejected_calls),
        ] {
            if *local > 0 {
                global.fetch_add(*local, Ordering::Relaxed);
                *local = 0;
            }
        }
    }

    /// Hook before normal execution (MULTI queueing, subscribed-mode
    /// restrictions). `Some` is the reply instead of running the command.
    pub fn intercept(&mut self, _eng: &Engine, _spec: &'static CommandSpec, _argv: &[&[u8]]) -> Option<Reply> {
        None
    }

    /// Updates the shared metadata (CLIENT LIST) after SELECT / HELLO / SETNAME.
    pub fn sync_meta(&self, f: impl FnOnce(&mut ClientMeta)) {
        if let Some(info) = &self.info {
            f(&mut info.meta.lock());
        }
    }
}

/// One connection to a `Db`.
pub struct Client {
    eng: Arc<Engine>,
    st: ClientState,
}

impl Client {
    pub(crate) fn new(eng: Arc<Engine>) -> Client {
        let id = eng.next_client_id();
        let info = Arc::new(ClientInfo { id, created_ms: eng.clock.now_ms(), meta: Mutex::new(ClientMeta { resp: 2, ..Default::default() }) });
        eng.clients.lock().insert(id, info.clone());
        eng.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let st = ClientState { id, info: Some(info), ..ClientState::internal() };
        Client { eng, st }
    }

    /// Runs one command: `argv[0]` is the command name. Command errors are
    /// `Reply::Error`; a closed engine answers with an error reply too (use
    /// `try_execute` to tell them apart).
    pub fn execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        execute_with(&self.eng, &mut self.st, argv)
    }

    /// Like `execute`, but a closed engine is `Err`.
    pub fn try_execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Reply, Error> {
        if self.eng.is_closed() {
            return Err(Error::new(ErrorKind::Closed, "the database is closed"));
        }
        Ok(self.execute(argv))
    }

    /// This client's id (CLIENT ID).
    pub fn id(&self) -> u64 {
        self.st.id
    }

    /// The protocol version HELLO selected (2 or 3).
    pub fn protocol(&self) -> u8 {
        self.st.resp
    }

    /// The selected database.
    pub fn selected_db(&self) -> usize {
        self.st.db
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.st.flush_stats(&self.eng);
        self.eng.clients.lock().remove(&self.st.id);
    }
}

/// Converts argv without allocating for short commands, then dispatches.
pub(crate) fn execute_with<A: AsRef<[u8]>>(eng: &Engine, st: &mut ClientState, argv: &[A]) -> Reply {
    if eng.is_closed() {
        return Reply::error("ERR the database is closed");
    }
    const N: usize = 8;
    let reply = if argv.len() <= N {
        let mut buf: [&[u8]; N] = [&[]; N];
        for (d, a) in buf.iter_mut().zip(argv) {
            *d = a.as_ref();
        }
        commands::dispatch(eng, st, &buf[..argv.len()])
    } else {
        let v: Vec<&[u8]> = argv.iter().map(|a| a.as_ref()).collect();
        commands::dispatch(eng, st, &v)
    };
    if st.due_flush() {
        st.flush_stats(eng);
    }
    reply
}
