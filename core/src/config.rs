//! Configuration: `Config` given to `Db::open`, and the runtime parameter
//! registry behind CONFIG GET / CONFIG SET.
//!
//! Parameter names are redis.conf directive names. Only parameters that the
//! engine honours are registered; add a row to `PARAMS` together with the
//! code that reads it. Hot-path readers use the atomics in `Tunables`, kept
//! in step by `Params::set`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::clock::ManualClock;
use crate::error::{Error, ErrorKind};

/// What `Db::open` takes. `Config::default()` is in memory, no persistence.
#[derive(Clone, Debug)]
pub struct Config {
    /// Data directory (`dir`); `None` keeps everything in memory.
    pub dir: Option<PathBuf>,
    /// Number of databases (`databases`), 16 by default.
    pub databases: usize,
    /// Replaces the real clock (tests).
    pub clock: Option<ManualClock>,
    /// `appendonly`: log every write to the append-only file in
    /// `dir/appenddirname` (needs `dir`).
    pub appendonly: bool,
    /// `appendfsync`: when the append-only file is fsynced.
    pub appendfsync: AppendFsync,
    /// Every other redis.conf directive, by name, as text (`"hz" => "10"`).
    pub params: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            dir: None,
            databases: 16,
            clock: None,
            appendonly: false,
            appendfsync: AppendFsync::EverySec,
            params: BTreeMap::new(),
        }
    }
}

impl Config {
    /// In memory, no persistence.
    pub fn in_memory() -> Config {
        Config::default()
    }

    /// Sets a redis.conf directive by name; the value is checked when the
    /// Db opens (and here for the fields that are typed).
    pub fn set(&mut self, name: &str, value: &str) -> Result<&mut Config, Error> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "dir" => self.dir = Some(PathBuf::from(value)),
            "databases" => {
                self.databases = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=i32::MAX as usize).contains(n))
                    .ok_or_else(|| {
                        Error::new(ErrorKind::Config, format!("invalid databases '{value}'"))
                    })?
            }
            "appendonly" => {
                self.appendonly = check(find("appendonly").expect("registered"), value)
                    .map_err(|e| Error::new(ErrorKind::Config, format!("'{name}': {e}")))?
                    == 1
            }
            "appendfsync" => self.appendfsync = AppendFsync::parse(value).ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "'{name}': argument(s) must be one of the following: always, everysec, no"
                    ),
                )
            })?,
            _ => {
                let spec = find(&lname).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Config,
                        format!("unknown config parameter '{name}'"),
                    )
                })?;
                check(spec, value)
                    .map_err(|e| Error::new(ErrorKind::Config, format!("'{name}': {e}")))?;
                self.params.insert(spec.name.to_string(), value.to_string());
            }
        }
        Ok(self)
    }
}

/// `appendfsync`: when appended writes reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendFsync {
    /// Every write is fsynced before its command returns (group commit:
    /// concurrent writers share one fsync).
    Always,
    /// A background thread fsyncs once a second (about 1 s at risk on power loss).
    EverySec,
    /// Written at once, fsynced when the operating system decides.
    No,
}

impl AppendFsync {
    pub const NAMES: &'static [&'static str] = &["always", "everysec", "no"];

    pub fn parse(s: &str) -> Option<AppendFsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(AppendFsync::Always),
            "everysec" => Some(AppendFsync::EverySec),
            "no" => Some(AppendFsync::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// A byte count with Redis's memory units (`512mb`); shown in bytes.
    Mem {
        min: i64,
        max: i64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// A file name without a directory part (`appendfilename`, `appenddirname`).
    FileName,
    /// Bytes, with Redis's memory units (`64mb`); shown as plain bytes.
    Memory,
    KeyspaceEvents,
    /// `client-output-buffer-limit`: class hard soft seconds, repeated.
    BufferLimits,
    /// `save`: "seconds changes" pairs, or "" for none.
    Save,
    /// `replicaof`: emberkv is always a master, so only "" (none) is valid.
    NoReplication,
}

pub(crate) struct ParamSpec {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub default: &'static str,
    pub kind: Kind,
    pub mutable: bool,
    /// Index into `Tunables` for hot-path integers.
    pub tunable: Option<Tun>,
}

/// Hot-path integer parameters.
#[derive(Clone, Copy)]
pub(crate) enum Tun {
    Hz = 0,
    ListMaxListpackSize,
    HashMaxListpackEntries,
    HashMaxListpackValue,
    SetMaxIntsetEntries,
    SetMaxListpackEntries,
    SetMaxListpackValue,
    ZsetMaxListpackEntries,
    ZsetMaxListpackValue,
    NotifyFlags,
    AppendFsync,
    AutoAofRewritePercentage,
    AutoAofRewriteMinSize,
    AofLoadTruncated,
    AofTimestampEnabled,
    BusyReplyThreshold,
    SlowlogLogSlowerThan,
    SlowlogMaxLen,
    AcllogMaxLen,
    LatencyMonitorThreshold,
    HllSparseMaxBytes,
    Maxmemory,
    MaxmemoryPolicy,
    MaxmemorySamples,
    MaxmemoryEvictionTenacity,
    LfuLogFactor,
    LfuDecayTime,
    TrackingTableMaxKeys,
    Count,
}

const fn p(
    name: &'static str,
    default: &'static str,
    kind: Kind,
    mutable: bool,
    tunable: Option<Tun>,
) -> ParamSpec {
    ParamSpec {
        name,
        alias: None,
        default,
        kind,
        mutable,
        tunable,
    }
}

const fn pa(
    name: &'static str,
    alias: &'static str,
    default: &'static str,
    kind: Kind,
    tunable: Tun,
) -> ParamSpec {
    ParamSpec {
        name,
        alias: Some(alias),
        default,
        kind,
        mutable: true,
        tunable: Some(tunable),
    }
}

const INT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const INT32: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};

pub(crate) static PARAMS: &[ParamSpec] = &[
    p(
        "databases",
        "16",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        false,
        None,
    ),
    p(
        "hz",
        "10",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
        Some(Tun::Hz),
    ),
    p(
        "notify-keyspace-events",
        "",
        Kind::KeyspaceEvents,
        true,
        Some(Tun::NotifyFlags),
    ),
    p("dir", "", Kind::Str, false, None),
    p("appendonly", "no", Kind::Bool, true, None),
    p(
        "appendfsync",
        "everysec",
        Kind::Enum(AppendFsync::NAMES),
        true,
        Some(Tun::AppendFsync),
    ),
    p(
        "appendfilename",
        "appendonly.aof",
        Kind::FileName,
        false,
        None,
    ),
    p(
        "appenddirname",
        "appendonlydir",
        Kind::FileName,
        false,
        None,
    ),
    p(
        "auto-aof-rewrite-percentage",
        "100",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
        Some(Tun::AutoAofRewritePercentage),
    ),
    p(
        "auto-aof-rewrite-min-size",
        "64mb",
        Kind::Memory,
        true,
        Some(Tun::AutoAofRewriteMinSize),
    ),
    p(
        "aof-load-truncated",
        "yes",
        Kind::Bool,
        true,
        Some(Tun::AofLoadTruncated),
    ),
    p(
        "aof-timestamp-enabled",
        "no",
        Kind::Bool,
        true,
        Some(Tun::AofTimestampEnabled),
    ),
    // the slow log and the latency monitor (`slowlog.rs`, `latency.rs`)
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        true,
        Some(Tun::SlowlogLogSlowerThan),
    ),
    p(
        "slowlog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
        Some(Tun::SlowlogMaxLen),
    ),
    p(
        "acllog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
        Some(Tun::AcllogMaxLen),
    ),
    p(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
        Some(Tun::TrackingTableMaxKeys),
    ),
    p(
        "latency-monitor-threshold",
        "0",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
        Some(Tun::LatencyMonitorThreshold),
    ),
    // Redis's knobs for encodings emberkv does not have (compressed
    // quicklist nodes, stream listpack nodes): accepted and reported so
    // configs and tests that set them work; they change nothing here.
    p(
        "list-compress-depth",
        "0",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
        None,
    ),
    p(
        "stream-node-max-entries",
        "100",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        true,
        None,
    ),
    p("stream-node-max-bytes", "4096", Kind::Memory, true, None),
    p(
        "hll-sparse-max-bytes",
        "3000",
        Kind::Memory,
        true,
        Some(Tun::HllSparseMaxBytes),
    ),
    // maxmemory and eviction (`evict.rs`)
    p("maxmemory", "0", Kind::Memory, true, Some(Tun::Maxmemory)),
    p(
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(crate::evict::Policy::NAMES),
        true,
        Some(Tun::MaxmemoryPolicy),
    ),
    p(
        "maxmemory-samples",
        "5",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        true,
        Some(Tun::MaxmemorySamples),
    ),
    p(
        "maxmemory-eviction-tenacity",
        "10",
        Kind::Int { min: 0, max: 100 },
        true,
        Some(Tun::MaxmemoryEvictionTenacity),
    ),
    p("lfu-log-factor", "10", INT32, true, Some(Tun::LfuLogFactor)),
    p("lfu-decay-time", "1", INT32, true, Some(Tun::LfuDecayTime)),
    // Server directives that only a standalone server could change: shown
    // by CONFIG GET as Redis shows them, refused by CONFIG SET.
    p("daemonize", "no", Kind::Bool, false, None),
    ParamSpec {
        name: "replicaof",
        alias: Some("slaveof"),
        default: "",
        kind: Kind::NoReplication,
        mutable: false,
        tunable: None,
    },
    // RDB snapshots (`persist/save.rs`)
    p("save", "3600 1 300 100 60 10000", Kind::Save, true, None),
    p("dbfilename", "dump.rdb", Kind::FileName, false, None),
    p("rdbcompression", "yes", Kind::Bool, true, None),
    p("rdbchecksum", "yes", Kind::Bool, false, None),
    p("stop-writes-on-bgsave-error", "yes", Kind::Bool, true, None),
    p(
        "rdb-key-save-delay",
        "0",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        true,
        None,
    ),
    p("aof-use-rdb-preamble", "yes", Kind::Bool, true, None),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::BufferLimits,
        true,
        None,
    ),
    // Network directives: read by wire front ends (`bindings/resp`), kept
    // here so CONFIG GET / SET and `Config::set` know them.
    p("requirepass", "", Kind::Str, true, None),
    // ACL SAVE / LOAD's file (`acl.rs`); loaded at open when set
    p("aclfile", "", Kind::Str, false, None),
    p(
        "maxclients",
        "10000",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        true,
        None,
    ),
    p(
        "timeout",
        "0",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
        None,
    ),
    p("protected-mode", "yes", Kind::Bool, true, None),
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Mem {
            min: 1 << 20,
            max: i64::MAX,
        },
        true,
        None,
    ),
    p(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Mem {
            min: 1 << 20,
            max: i64::MAX,
        },
        true,
        None,
    ),
    p(
        "port",
        "6379",
        Kind::Int { min: 0, max: 65535 },
        false,
        None,
    ),
    p("bind", "127.0.0.1 -::1", Kind::Str, false, None),
    p("unixsocket", "", Kind::Str, false, None),
    p("unixsocketperm", "0", Kind::Str, false, None),
    p(
        "tcp-backlog",
        "511",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        false,
        None,
    ),
    p(
        "tcp-keepalive",
        "300",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        true,
        None,
    ),
    pa(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        "-2",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        Tun::ListMaxListpackSize,
    ),
    // scripts (`script/`): after this long other clients get -BUSY
    pa(
        "busy-reply-threshold",
        "lua-time-limit",
        "5000",
        INT,
        Tun::BusyReplyThreshold,
    ),
    pa(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        "512",
        INT,
        Tun::HashMaxListpackEntries,
    ),
    pa(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        "64",
        INT,
        Tun::HashMaxListpackValue,
    ),
    p(
        "set-max-intset-entries",
        "512",
        INT,
        true,
        Some(Tun::SetMaxIntsetEntries),
    ),
    p(
        "set-max-listpack-entries",
        "128",
        INT,
        true,
        Some(Tun::SetMaxListpackEntries),
    ),
    p(
        "set-max-listpack-value",
        "64",
        INT,
        true,
        Some(Tun::SetMaxListpackValue),
    ),
    pa(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        "128",
        INT,
        Tun::ZsetMaxListpackEntries,
    ),
    pa(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        "64",
        INT,
        Tun::ZsetMaxListpackValue,
    ),
];

pub(crate) fn find(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Validates a value; the error text is what follows Redis's
/// "CONFIG SET failed (possibly related to argument 'x') - ".
pub(crate) fn check(spec: &ParamSpec, value: &str) -> Result<i64, String> {
    match spec.kind {
        Kind::Int { min, max } => {
            let v: i64 = crate::util::number::parse_i64(value.as_bytes())
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v)
        }
        Kind::Mem { min, max } => {
            let v = mem_units(value)
                .and_then(|v| i64::try_from(v).ok())
                .ok_or_else(|| "argument must be a memory value".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v)
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok(1),
            "no" => Ok(0),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(names) => names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(value))
            .map(|i| i as i64)
            .ok_or_else(|| {
                "argument(s) must be one of the following: ".to_string() + &names.join(", ")
            }),
        Kind::Str => Ok(0),
        Kind::FileName => {
            if value.contains('/') {
                Err("must be a file name, not a path".into())
            } else if value.is_empty() || value == "." || value == ".." {
                Err("must be a non-empty file name".into())
            } else {
                Ok(0)
            }
        }
        Kind::Memory => mem_units(value)
            .filter(|v| *v <= i64::MAX as u64)
            .map(|v| v as i64)
            .ok_or_else(|| "argument must be a memory value".into()),
        Kind::BufferLimits => parse_buffer_limits(value).map(|_| 0),
        Kind::NoReplication if value.is_empty() => Ok(0),
        Kind::NoReplication => {
            Err("emberkv runs as a master only: replication is not supported".into())
        }
        Kind::Save => crate::persist::save::parse_save(value)
            .map(|_| 0)
            .ok_or_else(|| "Invalid save parameters".into()),
        Kind::KeyspaceEvents => crate::notify::parse_flags(value)
            .map(|f| f as i64)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
    }
}

/// Parses `client-output-buffer-limit` text into (class, hard, soft, secs)
/// entries; sizes take Redis's units (`32mb`, `8gb`, `1024`).
pub(crate) fn parse_buffer_limits(v: &str) -> Result<Vec<(String, u64, u64, u64)>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for w in words.chunks(4) {
        let class = w[0].to_ascii_lowercase();
        if !matches!(class.as_str(), "normal" | "slave" | "replica" | "pubsub") {
            return Err("Invalid client class specified in buffer limit configuration.".into());
        }
        let hard = mem_units(w[1])
            .ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let soft = mem_units(w[2])
            .ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
        let secs = w[3].parse::<u64>().map_err(
            |_| "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        )?;
        out.push((
            if class == "replica" {
                "slave".into()
            } else {
                class
            },
            hard,
            soft,
            secs,
        ));
    }
    Ok(out)
}

/// Redis's memory units: plain bytes, k/kb/m/mb/g/gb (k = 1000, kb = 1024).
pub(crate) fn mem_units(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1u64 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n.to_string(), *m)))
    .unwrap_or((l.clone(), 1));
    num.parse::<u64>().ok()?.checked_mul(mul)
}

/// Live parameter values.
pub(crate) struct Params {
    values: RwLock<BTreeMap<&'static str, String>>,
    tunables: [AtomicI64; Tun::Count as usize],
    /// Bumped by every change, so readers outside the engine can cache.
    version: AtomicU64,
}

impl Params {
    pub fn new(cfg: &Config) -> Result<Params, Error> {
        let params = Params {
            values: RwLock::new(BTreeMap::new()),
            tunables: std::array::from_fn(|_| AtomicI64::new(0)),
            version: AtomicU64::new(0),
        };
        for spec in PARAMS {
            let v = match spec.name {
                "databases" => cfg.databases.to_string(),
                "appendonly" => if cfg.appendonly { "yes" } else { "no" }.to_string(),
                "appendfsync" => cfg.appendfsync.name().to_string(),
                "dir" => cfg
                    .dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .or_else(|| {
                        std::env::current_dir()
                            .ok()
                            .map(|d| d.display().to_string())
                    })
                    .unwrap_or_default(),
                _ => cfg
                    .params
                    .get(spec.name)
                    .cloned()
                    .unwrap_or_else(|| spec.default.to_string()),
            };
            params
                .store(spec, &v)
                .map_err(|e| Error::new(ErrorKind::Config, format!("'{}': {e}", spec.name)))?;
        }
        Ok(params)
    }

    fn store(&self, spec: &'static ParamSpec, value: &str) -> Result<(), String> {
        let n = check(spec, value)?;
        if let Some(t) = spec.tunable {
            self.tunables[t as usize].store(n, Ordering::Relaxed);
        }
        let shown = match spec.kind {
            Kind::Bool => if n == 1 { "yes" } else { "no" }.to_string(),
            Kind::Enum(names) => names[n as usize].to_string(),
            Kind::Mem { .. } => n.to_string(),
            Kind::KeyspaceEvents => crate::notify::flags_to_string(n as u32),
            Kind::Memory => n.to_string(),
            Kind::BufferLimits => {
                // CONFIG SET changes only the classes named; show all three.
                let mut cur: Vec<(String, u64, u64, u64)> = self
                    .values
                    .read()
                    .get(spec.name)
                    .map(|v| parse_buffer_limits(v).unwrap_or_default())
                    .unwrap_or_default();
                for new in parse_buffer_limits(value)? {
                    match cur.iter_mut().find(|c| c.0 == new.0) {
                        Some(c) => *c = new,
                        None => cur.push(new),
                    }
                }
                cur.iter()
                    .map(|(c, h, s, t)| format!("{c} {h} {s} {t}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => value.to_string(),
        };
        self.values.write().insert(spec.name, shown);
        self.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// CONFIG SET of one parameter (already known to exist and be mutable).
    pub fn set(&self, spec: &'static ParamSpec, value: &str) -> Result<(), String> {
        self.store(spec, value)
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.values.read().get(name).cloned()
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// `requirepass` (empty: no password).
    pub fn requirepass(&self) -> String {
        self.get("requirepass").unwrap_or_default()
    }

    /// The pubsub class of `client-output-buffer-limit`.
    pub fn pubsub_limits(&self) -> crate::pubsub::Limits {
        let v = self.get("client-output-buffer-limit").unwrap_or_default();
        parse_buffer_limits(&v)
            .ok()
            .and_then(|l| l.into_iter().find(|c| c.0 == "pubsub"))
            .map(|(_, hard, soft, secs)| crate::pubsub::Limits {
                hard: hard as usize,
                soft: soft as usize,
                soft_secs: secs,
            })
            .unwrap_or_default()
    }

    /// All (name, value) pairs whose name or alias matches `pattern`
    /// (aliases are reported under the alias, as Redis does).
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        for spec in PARAMS {
            let v = values.get(spec.name).cloned().unwrap_or_default();
            if crate::util::glob::glob_match_nocase(pattern, spec.name.as_bytes()) {
                out.push((spec.name.to_string(), v.clone()));
            }
            if let Some(a) = spec.alias
                && crate::util::glob::glob_match_nocase(pattern, a.as_bytes())
            {
                out.push((a.to_string(), v));
            }
        }
        out
    }

    #[inline]
    pub fn tun(&self, t: Tun) -> i64 {
        self.tunables[t as usize].load(Ordering::Relaxed)
    }
}
