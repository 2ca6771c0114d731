//! The network parameters a listener obeys, read from the `Db`'s
//! configuration (so `Config::set` before opening and CONFIG SET at run time
//! both apply) and cached until the configuration version changes.

use std::sync::Arc;

use emberkv::Db;
use parking_lot::Mutex;

/// An output-buffer limit class: hard bytes, soft bytes, soft seconds (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct BufLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub requirepass_set: bool,
    pub maxclients: usize,
    /// Idle seconds before a client is closed (0: never).
    pub timeout: u64,
    pub protected_mode: bool,
    pub max_bulk: u64,
    pub max_query: u64,
    pub keepalive: u64,
    pub normal: BufLimit,
    pub pubsub: BufLimit,
}

impl Settings {
    fn load(db: &Db) -> Settings {
        let get = |n: &str| db.config_get(n).unwrap_or_default();
        let num = |n: &str, d: u64| get(n).parse::<u64>().unwrap_or(d);
        let (normal, pubsub) = buffer_limits(&get("client-output-buffer-limit"));
        Settings {
            requirepass_set: !get("requirepass").is_empty(),
            maxclients: num("maxclients", 10000) as usize,
            timeout: num("timeout", 0),
            protected_mode: get("protected-mode") != "no",
            max_bulk: num("proto-max-bulk-len", 512 << 20),
            max_query: num("client-query-buffer-limit", 1 << 30),
            keepalive: num("tcp-keepalive", 300),
            normal,
            pubsub,
        }
    }
}

/// `client-output-buffer-limit` as the engine shows it (bytes):
/// `normal H S T slave H S T pubsub H S T`.
pub(crate) fn buffer_limits(v: &str) -> (BufLimit, BufLimit) {
    let mut normal = BufLimit::default();
    let mut pubsub = BufLimit {
        hard: 32 << 20,
        soft: 8 << 20,
        soft_secs: 60,
    };
    let words: Vec<&str> = v.split_whitespace().collect();
    for w in words.chunks(4) {
        let [class, h, s, t] = w else { break };
        let n = |x: &str| x.parse::<u64>().unwrap_or(0);
        let l = BufLimit {
            hard: n(h),
            soft: n(s),
            soft_secs: n(t),
        };
        match *class {
            "normal" => normal = l,
            "pubsub" => pubsub = l,
            _ => {}
        }
    }
    (normal, pubsub)
}

/// The cache: (configuration version, settings).
pub(crate) struct SettingsCache {
    db: Db,
    cur: Mutex<(u64, Arc<Settings>)>,
}

impl SettingsCache {
    pub fn new(db: &Db) -> SettingsCache {
        let v = db.config_version();
        SettingsCache {
            db: db.clone(),
            cur: Mutex::new((v, Arc::new(Settings::load(db)))),
        }
    }

    /// The settings for the configuration as it is now.
    pub fn get(&self) -> (u64, Arc<Settings>) {
        let v = self.db.config_version();
        let mut cur = self.cur.lock();
        if cur.0 != v {
            *cur = (v, Arc::new(Settings::load(&self.db)));
        }
        cur.clone()
    }

    /// Cheap check for a connection holding version `v`.
    pub fn changed_since(&self, v: u64) -> bool {
        self.db.config_version() != v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_limits() {
        let (n, p) =
            buffer_limits("normal 1048576 0 0 slave 268435456 67108864 60 pubsub 100000 50 3");
        assert_eq!(
            n,
            BufLimit {
                hard: 1048576,
                soft: 0,
                soft_secs: 0
            }
        );
        assert_eq!(
            p,
            BufLimit {
                hard: 100000,
                soft: 50,
                soft_secs: 3
            }
        );
    }

    #[test]
    fn reads_the_db_config() {
        let mut cfg = emberkv::Config::default();
        cfg.set("requirepass", "x").unwrap();
        cfg.set("maxclients", "7").unwrap();
        let db = Db::open(cfg).unwrap();
        let cache = SettingsCache::new(&db);
        let (v, s) = cache.get();
        assert!(s.requirepass_set);
        assert_eq!(s.maxclients, 7);
        assert!(s.protected_mode);
        assert!(!cache.changed_since(v));
        db.execute(&["CONFIG", "SET", "timeout", "5"]);
        assert!(cache.changed_since(v));
        assert_eq!(cache.get().1.timeout, 5);
    }
}
