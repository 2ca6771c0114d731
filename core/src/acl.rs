//! Access control lists: users, their rules, the permission check every
//! command passes, and the ACL LOG.
//!
//! Users are immutable `Arc<User>` values in one table; ACL SETUSER builds a
//! changed copy and swaps it in, so a failed SETUSER leaves the user as it was
//! and a client's snapshot is never half-changed. Every change bumps `epoch`.
//!
//! The cost rule: a client remembers in `ClientState::acl_seen` the epoch at
//! which it found its user unrestricted (`u64::MAX` when restricted). The
//! command path compares that with `epoch` — one predictable branch — and
//! only on a difference calls the out-of-line `check`, which refreshes the
//! client's user (deleted or disabled: the client is cut off) and checks the
//! command, its keys and its channels.
//!
//! Key permissions: the command table has no per-key read/write flags, so
//! the keys of write commands need W and the keys of other commands R.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::client::{ClientInfo, ClientState};
use crate::commands::{self, CommandSpec, flag};
use crate::config::Tun;
use crate::db::Engine;
use crate::reply::Reply;
use crate::util::glob::glob_match;

/// Redis's command categories, in its order (ACL CAT).
pub(crate) const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const KEY_R: u8 = 1;
const KEY_W: u8 = 2;

/// Why a command was refused (Redis's ACL_DENIED_*; higher wins across selectors).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Denied {
    Cmd,
    Key,
    Auth,
    Channel,
}

impl Denied {
    fn reason(self) -> &'static str {
        match self {
            Denied::Cmd => "command",
            Denied::Key => "key",
            Denied::Auth => "auth",
            Denied::Channel => "channel",
        }
    }
}

/// One selector: which commands, keys and channels it allows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    /// One bit per `cmdstats` index (commands and subcommands).
    bits: Vec<u64>,
    /// `+@all` was the last all-or-nothing rule (Redis: can run future commands).
    future: bool,
    /// `+cmd|arg` first-argument allowances of commands without subcommands.
    first_args: BTreeMap<u16, Vec<Vec<u8>>>,
    /// The command rules as given, compacted (Redis 7.2's description).
    rules: Vec<String>,
    allkeys: bool,
    keys: Vec<(u8, Vec<u8>)>,
    allchannels: bool,
    channels: Vec<Vec<u8>>,
}

/// A user (ACL SETUSER).
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: Vec<u8>,
    /// Identity across changes: a user deleted and created again is another.
    uid: u64,
    pub enabled: bool,
    pub nopass: bool,
    /// 0: neither, 1: sanitize-payload, 2: skip-sanitize-payload.
    sanitize: u8,
    passwords: Vec<[u8; 32]>,
    root: Selector,
    selectors: Vec<Selector>,
}

fn n_specs() -> usize {
    let mut n = 0;
    while crate::cmdstats::spec_at(n as u16).is_some() {
        n += 1;
    }
    n
}

static N_SPECS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(n_specs);

fn idx(spec: &'static CommandSpec) -> usize {
    crate::cmdstats::index_of(spec) as usize
}

impl Selector {
    fn empty() -> Selector {
        Selector {
            bits: vec![0; N_SPECS.div_ceil(64)],
            ..Default::default()
        }
    }

    fn full() -> Selector {
        let mut s = Selector::empty();
        s.set_all(true);
        s.allkeys = true;
        s.allchannels = true;
        s
    }

    fn bit(&self, i: usize) -> bool {
        self.bits
            .get(i / 64)
            .is_some_and(|w| w >> (i % 64) & 1 != 0)
    }

    fn set_bit(&mut self, i: usize, on: bool) {
        if let Some(w) = self.bits.get_mut(i / 64) {
            if on {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    fn set_all(&mut self, on: bool) {
        for w in &mut self.bits {
            *w = if on { u64::MAX } else { 0 };
        }
        self.future = on;
        self.first_args.clear();
        self.rules.clear();
    }

    fn all_commands(&self) -> bool {
        (0..*N_SPECS).all(|i| self.bit(i))
    }

    /// A command and all its subcommands.
    fn set_command(&mut self, spec: &'static CommandSpec, on: bool) {
        self.set_bit(idx(spec), on);
        self.first_args.remove(&(idx(spec) as u16));
        for s in spec.subcommands {
            self.set_bit(idx(s), on);
        }
    }

    /// Replaces earlier rules about the same thing with `rule`.
    fn update_rules(&mut self, rule: String, covers: impl Fn(&str) -> bool) {
        self.rules.retain(|r| !covers(&r[1..]));
        self.rules.push(rule);
    }

    /// Applies one rule; `Err` is Redis's message for it.
    fn apply(&mut self, op: &[u8]) -> Result<(), &'static str> {
        let lower = op.to_ascii_lowercase();
        match lower.as_slice() {
            b"allkeys" | b"resetkeys" => {
                self.allkeys = lower == b"allkeys";
                self.keys.clear();
                return Ok(());
            }
            b"allchannels" | b"resetchannels" => {
                self.allchannels = lower == b"allchannels";
                self.channels.clear();
                return Ok(());
            }
            b"allcommands" | b"+@all" => {
                self.set_all(true);
                return Ok(());
            }
            b"nocommands" | b"-@all" => {
                self.set_all(false);
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') => self.add_key(KEY_R | KEY_W, &op[1..]),
            Some(b'%') => {
                let tilde = op.iter().position(|&c| c == b'~').ok_or(SYNTAX)?;
                let mut fl = 0;
                for c in &op[1..tilde] {
                    fl |= match c.to_ascii_uppercase() {
                        b'R' => KEY_R,
                        b'W' => KEY_W,
                        _ => return Err(SYNTAX),
                    };
                }
                if fl == 0 {
                    return Err(SYNTAX);
                }
                self.add_key(fl, &op[tilde + 1..])
            }
            Some(b'&') => {
                if self.allchannels {
                    return Err(ERR_CHANNELS_AFTER_ALL);
                }
                if &op[1..] == b"*" {
                    self.allchannels = true;
                    self.channels.clear();
                } else if !self.channels.iter().any(|c| c == &op[1..]) {
                    self.channels.push(op[1..].to_vec());
                }
                Ok(())
            }
            Some(&sign @ (b'+' | b'-')) => self.apply_command(sign == b'+', &lower[1..]),
            _ => Err(SYNTAX),
        }
    }

    fn add_key(&mut self, fl: u8, pat: &[u8]) -> Result<(), &'static str> {
        if self.allkeys {
            return Err(ERR_KEYS_AFTER_ALL);
        }
        if pat == b"*" && fl == KEY_R | KEY_W {
            self.allkeys = true;
            self.keys.clear();
            return Ok(());
        }
        match self.keys.iter_mut().find(|(_, p)| p == pat) {
            Some(k) => k.0 |= fl,
            None => self.keys.push((fl, pat.to_vec())),
        }
        Ok(())
    }

    fn apply_command(&mut self, on: bool, name: &[u8]) -> Result<(), &'static str> {
        let text = String::from_utf8_lossy(name).into_owned();
        let rule = format!("{}{text}", if on { '+' } else { '-' });
        if let Some(cat) = name.strip_prefix(b"@") {
            let cat = std::str::from_utf8(cat).map_err(|_| UNKNOWN)?;
            if !CATEGORIES.contains(&cat) {
                return Err(UNKNOWN);
            }
            for (i, spec) in all_specs() {
                if in_category(spec, cat) {
                    self.set_bit(i, on);
                }
            }
            self.update_rules(rule, |r| r == text);
            return Ok(());
        }
        let mut parts = name.splitn(3, |&c| c == b'|');
        let cmd = parts.next().unwrap_or_default();
        let sub = parts.next();
        if parts.next().is_some() {
            return Err("Allowing first-arg of a subcommand is not supported");
        }
        let spec = commands::find_command(cmd).ok_or(UNKNOWN)?;
        match sub {
            None => {
                self.set_command(spec, on);
                let base = spec.name;
                self.update_rules(rule, |r| {
                    r == base || r.strip_prefix(base).is_some_and(|t| t.starts_with('|'))
                });
            }
            Some(sub) if !spec.subcommands.is_empty() => {
                let s = commands::find_sub(spec, sub).ok_or(UNKNOWN)?;
                self.set_bit(idx(s), on);
                self.update_rules(rule, |r| r == text);
            }
            Some(arg) => {
                if !on || arg.is_empty() {
                    return Err(SYNTAX);
                }
                let i = idx(spec);
                if !self.bit(i) {
                    let args = self.first_args.entry(i as u16).or_default();
                    if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                        args.push(arg.to_vec());
                    }
                }
                self.update_rules(rule, |r| r == text);
            }
        }
        Ok(())
    }

    /// Redis's description: keys, channels, commands.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.allchannels {
            parts.push("&*".to_string());
        } else {
            parts.push("resetchannels".to_string());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    fn describe_keys(&self) -> String {
        let each = self.keys.iter().map(|(fl, p)| {
            let prefix = match *fl {
                KEY_R => "%R~",
                KEY_W => "%W~",
                _ => "~",
            };
            (prefix, p.as_slice())
        });
        describe_patterns(self.allkeys, "~*", each)
    }

    fn describe_channels(&self) -> String {
        let each = self.channels.iter().map(|c| ("&", c.as_slice()));
        describe_patterns(self.allchannels, "&*", each)
    }

    fn describe_commands(&self) -> String {
        let mut s = String::from(if self.future { "+@all" } else { "-@all" });
        for r in &self.rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    fn describe_map(&self) -> Reply {
        Reply::Map(vec![
            (
                Reply::bulk("commands"),
                Reply::bulk(self.describe_commands()),
            ),
            (Reply::bulk("keys"), Reply::bulk(self.describe_keys())),
            (
                Reply::bulk("channels"),
                Reply::bulk(self.describe_channels()),
            ),
        ])
    }

    fn unrestricted(&self) -> bool {
        self.allkeys && self.allchannels && self.all_commands()
    }

    /// The check of one selector: `Err((why, argv index))`.
    fn check(&self, spec: &'static CommandSpec, argv: &[&[u8]]) -> Result<(), (Denied, usize)> {
        if spec.flags & flag::NO_AUTH == 0 {
            let i = idx(spec);
            let allowed = self.bit(i)
                || self.first_args.get(&(i as u16)).is_some_and(|args| {
                    argv.get(1)
                        .is_some_and(|a| args.iter().any(|x| x.eq_ignore_ascii_case(a)))
                });
            if !allowed {
                return Err((Denied::Cmd, 0));
            }
        }
        if !self.allkeys {
            let need = if spec.is_write() { KEY_W } else { KEY_R };
            for p in spec.key_positions(argv) {
                let key = argv[p];
                if !self
                    .keys
                    .iter()
                    .any(|(fl, pat)| fl & need == need && glob_match(pat, key))
                {
                    return Err((Denied::Key, p));
                }
            }
        }
        if !self.allchannels {
            let (from, literal) = match spec.name {
                "publish" | "spublish" => (1..2.min(argv.len()), false),
                "subscribe" | "ssubscribe" => (1..argv.len(), false),
                "psubscribe" => (1..argv.len(), true),
                _ => (0..0, false),
            };
            for p in from {
                if !self.channel_ok(argv[p], literal) {
                    return Err((Denied::Channel, p));
                }
            }
        }
        Ok(())
    }

    /// Whether this selector lets its user use channel `ch`, or, `literal`,
    /// the pattern `ch` (which must be one of its own patterns verbatim).
    fn channel_ok(&self, ch: &[u8], literal: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|pat| {
                if literal {
                    pat == ch
                } else {
                    glob_match(pat, ch)
                }
            })
    }
}

/// `all` as `star`, else each pattern after its prefix, space-separated.
fn describe_patterns<'a>(
    all: bool,
    star: &str,
    each: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> String {
    if all {
        return star.into();
    }
    let v: Vec<String> = each
        .map(|(prefix, p)| format!("{prefix}{}", String::from_utf8_lossy(p)))
        .collect();
    v.join(" ")
}

const SYNTAX: &str = "Syntax error";
const UNKNOWN: &str = "Unknown command or category name in ACL";
const ERR_KEYS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
const ERR_CHANNELS_AFTER_ALL: &str = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels";

fn all_specs() -> impl Iterator<Item = (usize, &'static CommandSpec)> {
    (0..*N_SPECS).filter_map(|i| crate::cmdstats::spec_at(i as u16).map(|s| (i, s)))
}

/// Whether a command table row is in a category (`acl_categories`).
pub(crate) fn in_category(spec: &'static CommandSpec, cat: &str) -> bool {
    crate::commands::server::acl_categories(spec)
        .iter()
        .any(|r| matches!(r, Reply::Simple(s) if s.strip_prefix('@') == Some(cat)))
}

impl User {
    fn new(name: &[u8], uid: u64) -> User {
        User {
            name: name.to_vec(),
            uid,
            enabled: false,
            nopass: false,
            sanitize: 0,
            passwords: Vec::new(),
            root: Selector::empty(),
            selectors: Vec::new(),
        }
    }

    fn default_user(uid: u64) -> User {
        User {
            enabled: true,
            nopass: true,
            root: Selector::full(),
            ..User::new(b"default", uid)
        }
    }

    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Passes every check: the fast path may skip them.
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    pub fn password_ok(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256(pass)))
    }

    /// Applies one SETUSER argument (a selector `(...)` already merged).
    fn apply(&mut self, op: &[u8]) -> Result<(), String> {
        let lower = op.to_ascii_lowercase();
        let e = |m: &str| m.to_string();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"skip-sanitize-payload" => self.sanitize = 2,
            b"sanitize-payload" => self.sanitize = 1,
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                let keep = (self.name.clone(), self.uid);
                *self = User::new(&keep.0, keep.1);
                self.sanitize = 1;
            }
            _ => match op.first() {
                Some(b'>') => {
                    let h = sha256(&op[1..]);
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                Some(b'#') => {
                    let h = parse_hash(&op[1..]).ok_or_else(|| e(BAD_HASH))?;
                    if !self.passwords.contains(&h) {
                        self.passwords.push(h);
                    }
                    self.nopass = false;
                }
                Some(b'<') => {
                    let h = sha256(&op[1..]);
                    let n = self.passwords.len();
                    self.passwords.retain(|p| *p != h);
                    if n == self.passwords.len() {
                        return Err(e(NO_SUCH_PASS));
                    }
                }
                Some(b'!') => {
                    let h = parse_hash(&op[1..]).ok_or_else(|| e(BAD_HASH))?;
                    let n = self.passwords.len();
                    self.passwords.retain(|p| *p != h);
                    if n == self.passwords.len() {
                        return Err(e(NO_SUCH_PASS));
                    }
                }
                Some(b'(') if op.ends_with(b")") => {
                    let mut s = Selector::empty();
                    for rule in op[1..op.len() - 1]
                        .split(|&c| c == b' ')
                        .filter(|r| !r.is_empty())
                    {
                        s.apply(rule).map_err(e)?;
                    }
                    self.selectors.push(s);
                }
                _ => self.root.apply(op).map_err(e)?,
            },
        }
        Ok(())
    }

    /// `ACL LIST`'s line (without `user `'s name prefix handled here too).
    pub fn describe(&self) -> String {
        let mut s = format!(
            "user {} {}",
            self.name_str(),
            if self.enabled { "on" } else { "off" }
        );
        if self.nopass {
            s.push_str(" nopass");
        }
        match self.sanitize {
            1 => s.push_str(" sanitize-payload"),
            2 => s.push_str(" skip-sanitize-payload"),
            _ => {}
        }
        for p in &self.passwords {
            s.push_str(" #");
            s.push_str(&hex(p));
        }
        s.push(' ');
        s.push_str(&self.root.describe());
        for sel in &self.selectors {
            s.push_str(" (");
            s.push_str(&sel.describe());
            s.push(')');
        }
        s
    }

    /// `ACL GETUSER`'s map.
    fn getuser(&self) -> Reply {
        fn b(x: impl AsRef<[u8]>) -> Reply {
            Reply::bulk(x)
        }
        let mut flags = vec![b(if self.enabled { "on" } else { "off" })];
        if self.nopass {
            flags.push(b("nopass"));
        }
        match self.sanitize {
            1 => flags.push(b("sanitize-payload")),
            2 => flags.push(b("skip-sanitize-payload")),
            _ => {}
        }
        Reply::Map(vec![
            (b("flags"), Reply::Array(flags)),
            (
                b("passwords"),
                Reply::Array(self.passwords.iter().map(|p| b(hex(p))).collect()),
            ),
            (b("commands"), b(self.root.describe_commands())),
            (b("keys"), b(self.root.describe_keys())),
            (b("channels"), b(self.root.describe_channels())),
            (
                b("selectors"),
                Reply::Array(self.selectors.iter().map(Selector::describe_map).collect()),
            ),
        ])
    }

    /// `Selector::channel_ok` of any of its selectors.
    fn channel_ok(&self, ch: &[u8], literal: bool) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.channel_ok(ch, literal))
    }

    /// The check across selectors: the root first, the most relevant error wins.
    pub fn check(&self, spec: &'static CommandSpec, argv: &[&[u8]]) -> Result<(), (Denied, usize)> {
        let mut worst: Option<(Denied, usize)> = None;
        for s in std::iter::once(&self.root).chain(&self.selectors) {
            match s.check(spec, argv) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if worst.is_none_or(|w| e.0 > w.0) {
                        worst = Some(e);
                    }
                }
            }
        }
        Err(worst.unwrap_or((Denied::Cmd, 0)))
    }
}

const BAD_HASH: &str = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
const NO_SUCH_PASS: &str = "The password you are trying to remove from the user does not exist";

fn parse_hash(h: &[u8]) -> Option<[u8; 32]> {
    if h.len() != 64 || !h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let v = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        *o = v(h[2 * i]) << 4 | v(h[2 * i + 1]);
    }
    Some(out)
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One ACL LOG entry (Redis 7.2's fields).
struct LogEntry {
    count: u64,
    reason: Denied,
    context: &'static str,
    object: Vec<u8>,
    username: Vec<u8>,
    client_info: String,
    id: u64,
    created_ms: u64,
    updated_ms: u64,
}

/// The engine's user table, ACL LOG and denial counters.
pub(crate) struct Acl {
    epoch: AtomicU64,
    users: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    next_uid: AtomicU64,
    log: Mutex<(VecDeque<LogEntry>, u64)>,
    /// INFO stats `acl_access_denied_{auth,cmd,key,channel}`.
    pub denied: [AtomicU64; 4],
    /// The `requirepass` last applied to the default user (params version, value).
    requirepass: Mutex<(u64, String)>,
}

/// Entries alike within this long are merged (Redis's 60 s).
const LOG_GROUP_MS: u64 = 60_000;

impl Default for Acl {
    fn default() -> Acl {
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), Arc::new(User::default_user(1)));
        Acl {
            epoch: AtomicU64::new(1),
            users: RwLock::new(users),
            next_uid: AtomicU64::new(2),
            log: Mutex::new((VecDeque::new(), 0)),
            denied: Default::default(),
            requirepass: Mutex::new((u64::MAX, String::new())),
        }
    }
}

impl Acl {
    /// Changes whenever any user changes: clients holding an older view
    /// re-check their user.
    #[inline(always)]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// `user` as it is now: `None` once deleted (even if a user of that name
    /// was made again) or disabled.
    pub fn current(&self, user: &User) -> Option<Arc<User>> {
        self.get(&user.name)
            .filter(|u| u.uid == user.uid && u.enabled)
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default")
            .unwrap_or_else(|| Arc::new(User::default_user(1)))
    }

    pub fn names(&self) -> Vec<Vec<u8>> {
        self.users.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// ACL SETUSER: all rules apply or none.
    pub fn setuser(&self, name: &[u8], ops: &[&[u8]]) -> Result<Arc<User>, String> {
        let merged = merge_selectors(ops)?;
        let mut users = self.users.write();
        let mut u = match users.get(name) {
            Some(u) => (**u).clone(),
            None => User::new(name, self.next_uid.fetch_add(1, Ordering::Relaxed)),
        };
        for op in &merged {
            u.apply(op).map_err(|m| {
                format!(
                    "ERR Error in ACL SETUSER modifier '{}': {m}",
                    String::from_utf8_lossy(op)
                )
            })?;
        }
        let u = Arc::new(u);
        users.insert(name.to_vec(), u.clone());
        drop(users);
        self.bump();
        Ok(u)
    }

    pub fn deluser(&self, name: &[u8]) -> bool {
        let gone = self.users.write().remove(name).is_some();
        if gone {
            self.bump();
        }
        gone
    }

    /// Replaces the whole table (ACL LOAD); `default` is kept if absent.
    fn replace(&self, mut users: BTreeMap<Vec<u8>, Arc<User>>) {
        let mut cur = self.users.write();
        if !users.contains_key(b"default".as_slice()) {
            let d = cur
                .get(b"default".as_slice())
                .cloned()
                .unwrap_or_else(|| Arc::new(User::default_user(1)));
            users.insert(b"default".to_vec(), d);
        }
        *cur = users;
        drop(cur);
        self.bump();
    }

    pub fn count_denied(&self, why: Denied) {
        let i = match why {
            Denied::Auth => 0,
            Denied::Cmd => 1,
            Denied::Key => 2,
            Denied::Channel => 3,
        };
        self.denied[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds (or merges into) an ACL LOG entry and counts the denial.
    /// Records a denial in ACL LOG, merged into a recent one that matches,
    /// keeping the newest `acllog-max-len` entries.
    pub fn log(
        &self,
        eng: &Engine,
        reason: Denied,
        context: &'static str,
        object: &[u8],
        username: &[u8],
        client_info: String,
    ) {
        self.count_denied(reason);
        let now_ms = eng.clock.now_ms();
        let max_len = eng.params.tun(Tun::AcllogMaxLen).max(0) as usize;
        let mut g = self.log.lock();
        let (entries, next_id) = &mut *g;
        if let Some(pos) = entries.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms.saturating_sub(e.updated_ms) < LOG_GROUP_MS
        }) {
            let mut e = entries.remove(pos).expect("position found");
            e.count += 1;
            e.updated_ms = now_ms;
            e.client_info = client_info;
            entries.push_front(e);
            return;
        }
        entries.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            client_info,
            id: *next_id,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        *next_id += 1;
        entries.truncate(max_len);
    }

    fn log_reply(&self, now_ms: u64, count: usize) -> Reply {
        let g = self.log.lock();
        fn b(x: impl AsRef<[u8]>) -> Reply {
            Reply::bulk(x)
        }
        Reply::Array(
            g.0.iter()
                .take(count)
                .map(|e| {
                    Reply::Map(vec![
                        (b("count"), Reply::Int(e.count as i64)),
                        (b("reason"), b(e.reason.reason())),
                        (b("context"), b(e.context)),
                        (b("object"), b(&e.object)),
                        (b("username"), b(&e.username)),
                        (
                            b("age-seconds"),
                            Reply::Double(now_ms.saturating_sub(e.created_ms) as f64 / 1000.0),
                        ),
                        (b("client-info"), b(&e.client_info)),
                        (b("entry-id"), Reply::Int(e.id as i64)),
                        (b("timestamp-created"), Reply::Int(e.created_ms as i64)),
                        (b("timestamp-last-updated"), Reply::Int(e.updated_ms as i64)),
                    ])
                })
                .collect(),
        )
    }

    /// Gives the default user `requirepass` when it changed (CONFIG SET or
    /// at open), as Redis 6+ does: a password, or `nopass` when empty.
    pub fn sync_requirepass(&self, eng: &Engine) {
        let v = eng.params.version();
        let mut seen = self.requirepass.lock();
        if seen.0 == v {
            return;
        }
        let pass = eng.params.requirepass();
        seen.0 = v;
        if pass == seen.1 {
            return;
        }
        seen.1 = pass.clone();
        let rule = if pass.is_empty() {
            b"nopass".to_vec()
        } else {
            [b">".as_slice(), pass.as_bytes()].concat()
        };
        let _ = self.setuser(b"default", &[b"resetpass", &rule]);
    }
}

/// Joins `(` … `)` selector arguments split across argv, as Redis does.
fn merge_selectors<'a>(ops: &[&'a [u8]]) -> Result<Vec<std::borrow::Cow<'a, [u8]>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    let mut start = Vec::new();
    for op in ops {
        if let Some(acc) = open.as_mut() {
            acc.push(b' ');
            acc.extend_from_slice(op);
            if op.ends_with(b")") {
                out.push(std::borrow::Cow::Owned(open.take().unwrap_or_default()));
            }
        } else if op.first() == Some(&b'(') && !op.ends_with(b")") {
            open = Some(op.to_vec());
            start = op.to_vec();
        } else {
            out.push(std::borrow::Cow::Borrowed(*op));
        }
    }
    if open.is_some() {
        return Err(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&start)
        ));
    }
    Ok(out)
}

/// Whether a client with the default user and no AUTH passes (`nopass`, on).
pub(crate) fn default_open(eng: &Engine) -> bool {
    eng.acl.sync_requirepass(eng);
    let d = eng.acl.default_user();
    d.enabled && d.nopass
}

/// AUTH / HELLO AUTH: the user if the password is right. A failure is
/// logged and counted.
pub(crate) fn authenticate(
    eng: &Engine,
    cl: &ClientState,
    user: &[u8],
    pass: &[u8],
) -> Result<Arc<User>, Reply> {
    eng.acl.sync_requirepass(eng);
    match eng.acl.get(user) {
        Some(u) if u.password_ok(pass) => Ok(u),
        _ => {
            eng.acl.log(
                eng,
                Denied::Auth,
                "toplevel",
                b"auth",
                user,
                client_info(eng, cl),
            );
            Err(Reply::error(
                "WRONGPASS invalid username-password pair or user is disabled.",
            ))
        }
    }
}

/// Makes `u` the client's user (AUTH, HELLO AUTH, RESET).
pub(crate) fn set_user(cl: &mut ClientState, u: Arc<User>) {
    let name = u.name.clone();
    cl.user = Some(u);
    cl.acl_seen = u64::MAX;
    cl.acl_refreshed = 0;
    cl.sync_meta(|m| m.user = name);
}

fn client_info(eng: &Engine, cl: &ClientState) -> String {
    match &cl.info {
        Some(info) => crate::commands::server::client_line(eng, info)
            .trim_end()
            .to_string(),
        None => String::new(),
    }
}

/// The text a denial answers with (Redis 7.2's), `verbose` as ACL DRYRUN.
fn denial_text(why: Denied, user: &User, spec: &CommandSpec, arg: &[u8], verbose: bool) -> String {
    match why {
        Denied::Cmd => format!(
            "User {} has no permissions to run the '{}' command",
            user.name_str(),
            spec.name
        ),
        Denied::Key if verbose => format!(
            "User {} has no permissions to access the '{}' key",
            user.name_str(),
            String::from_utf8_lossy(arg)
        ),
        Denied::Channel if verbose => format!(
            "User {} has no permissions to access the '{}' channel",
            user.name_str(),
            String::from_utf8_lossy(arg)
        ),
        Denied::Key => "No permissions to access a key".into(),
        Denied::Channel => "No permissions to access a channel".into(),
        Denied::Auth => "authentication failed".into(),
    }
}

/// What a client whose user was deleted or disabled is answered.
pub(crate) const CUT_OFF: &str =
    "ERR client killed: its user was deleted or disabled (AUTH again to continue)";

/// Whether the client's user may run `argv` (`context`: "toplevel", "multi"
/// at EXEC, "lua" in a script): `Some` is the error reply refusing it. One
/// comparison while the client's user is known unrestricted at the current
/// ACL epoch (see the module's comment); `check_slow` otherwise.
#[inline(always)]
pub(crate) fn check(
    eng: &Engine,
    cl: &mut ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    context: &'static str,
) -> Option<String> {
    if cl.acl_seen == eng.acl.epoch() {
        return None;
    }
    check_slow(eng, cl, spec, argv, context)
}

#[cold]
#[inline(never)]
fn check_slow(
    eng: &Engine,
    cl: &mut ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    context: &'static str,
) -> Option<String> {
    let epoch = eng.acl.epoch();
    let Some(cur) = cl.user.as_ref() else {
        // the engine's own clients are not subject to users
        cl.acl_seen = epoch;
        return None;
    };
    if cl.acl_refreshed != epoch {
        match eng.acl.current(cur) {
            Some(u) => {
                cl.user = Some(u);
                cl.acl_refreshed = epoch;
            }
            None => {
                // cut off: only AUTH / HELLO / RESET may bring it back
                cl.acl_seen = u64::MAX;
                return (spec.flags & flag::NO_AUTH == 0).then(|| CUT_OFF.to_string());
            }
        }
    }
    let u = cl.user.clone()?;
    if u.unrestricted() {
        cl.acl_seen = epoch;
        return None;
    }
    cl.acl_seen = u64::MAX;
    let (why, pos) = u.check(spec, argv).err()?;
    let object: &[u8] = if why == Denied::Cmd {
        spec.name.as_bytes()
    } else {
        argv[pos]
    };
    eng.acl
        .log(eng, why, context, object, &u.name, client_info(eng, cl));
    Some(match context {
        "lua" => format!(
            "ERR ACL failure in script: {}",
            denial_text(why, &u, spec, argv[pos], true)
        ),
        "multi" => format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {}",
            match why {
                Denied::Cmd => "no permission to execute the command or subcommand",
                Denied::Key => "no permission to touch the specified keys",
                Denied::Channel => "no permission to access one of the channels used as arguments",
                Denied::Auth => "no permission",
            }
        ),
        _ => format!("NOPERM {}", denial_text(why, &u, spec, argv[pos], false)),
    })
}

/// Whether the client's user may run `argv` now (`redis.acl_check_cmd`):
/// nothing is logged.
pub(crate) fn allowed(
    eng: &Engine,
    cl: &ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
) -> bool {
    let Some(cur) = &cl.user else { return true };
    eng.acl
        .current(cur)
        .is_some_and(|u| u.check(spec, argv).is_ok())
}

/// Disconnects the clients of `name` (deleted or disabled): network clients
/// through their kill hook; embedded clients find out at their next command.
fn kill_clients_of(eng: &Engine, name: &[u8]) {
    kill_clients_where(eng, name, |_| true);
}

/// Disconnects the clients of `user` subscribed to a channel, pattern or
/// shard channel it may no longer use, as Redis does after ACL SETUSER.
/// Embedded clients (no connection to close) lose their subscription: it
/// ends with a Closed error.
fn kill_revoked_subscribers(eng: &Engine, user: &User) {
    kill_clients_where(eng, &user.name, |c| {
        let Some(sub) = c.sub.get().and_then(std::sync::Weak::upgrade) else {
            return false;
        };
        if sub.all_held(|ch, pattern| user.channel_ok(ch, pattern)) {
            return false;
        }
        if c.kill.lock().is_none() {
            eng.pubsub.forget(&sub);
            sub.shut(crate::Error::new(
                crate::ErrorKind::Closed,
                "subscription closed: the user lost the permission for one of its channels",
            ));
        }
        true
    });
}

/// Disconnects the clients of user `name` for which `select` holds.
fn kill_clients_where(eng: &Engine, name: &[u8], select: impl Fn(&ClientInfo) -> bool) {
    let clients: Vec<_> = eng.clients.lock().values().cloned().collect();
    for c in clients {
        let user_matches = c.meta.lock().user_name() == name;
        if !user_matches || !select(&c) {
            continue;
        }
        let hook = c.kill.lock().clone();
        if let Some(hook) = hook {
            hook();
            eng.blocking.unblock_client(
                c.id,
                Some(Reply::error("UNBLOCKED client killed by ACL change")),
            );
        }
    }
}

/// SHA-256 (FIPS 180-4): password hashes as Redis keeps them.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    let mut out = [0u8; 32];
    for (i, x) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

// ---- ACL command helpers (used by `commands/acl.rs`) ----

pub(crate) fn setuser_and_kill(eng: &Engine, name: &[u8], ops: &[&[u8]]) -> Result<(), String> {
    let u = eng.acl.setuser(name, ops)?;
    if !u.enabled {
        kill_clients_of(eng, name);
    } else {
        kill_revoked_subscribers(eng, &u);
    }
    Ok(())
}

pub(crate) fn deluser_and_kill(eng: &Engine, name: &[u8]) -> bool {
    let gone = eng.acl.deluser(name);
    if gone {
        kill_clients_of(eng, name);
    }
    gone
}

pub(crate) fn getuser(eng: &Engine, name: &[u8]) -> Reply {
    eng.acl.sync_requirepass(eng);
    match eng.acl.get(name) {
        Some(u) => u.getuser(),
        None => Reply::Nil,
    }
}

pub(crate) fn log_reply(eng: &Engine, count: usize) -> Reply {
    eng.acl.log_reply(eng.clock.now_ms(), count)
}

pub(crate) fn log_reset(eng: &Engine) {
    eng.acl.log.lock().0.clear();
}

/// ACL DRYRUN: `Ok(None)` allowed, `Ok(Some(text))` refused.
pub(crate) fn dryrun(eng: &Engine, user: &[u8], argv: &[&[u8]]) -> Result<Option<String>, Reply> {
    let u = eng.acl.get(user).ok_or_else(|| {
        Reply::Error(format!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(user)
        ))
    })?;
    let spec = commands::named_command(argv).ok_or_else(|| {
        Reply::Error(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(argv[0])
        ))
    })?;
    let spec = commands::resolve(argv).map_err(|_| {
        Reply::Error(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ))
    })?;
    Ok(u.check(spec, argv)
        .err()
        .map(|(why, pos)| denial_text(why, &u, spec, argv[pos], true)))
}

/// ACL LOAD from `aclfile`: every line `user <name> <rules...>`; nothing
/// changes when any line is bad.
pub(crate) fn load_file(eng: &Engine, path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("ERR Error loading ACLs, opening file '{path}': {e}"))?;
    let staging = Acl::default();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&[u8]> = line.split_ascii_whitespace().map(str::as_bytes).collect();
        if words.len() < 2 || words[0] != b"user" {
            return Err(format!(
                "ERR /{path}:{}: line should start with user keyword",
                n + 1
            ));
        }
        if !seen.insert(words[1].to_vec()) {
            return Err(format!(
                "ERR {path}:{}: Duplicate user '{}' found",
                n + 1,
                String::from_utf8_lossy(words[1])
            ));
        }
        if words[1] == b"default" {
            staging.setuser(b"default", &[b"reset"]).ok();
        }
        staging
            .setuser(words[1], &words[2..])
            .map_err(|e| format!("ERR {path}:{}: {}", n + 1, e.trim_start_matches("ERR ")))?;
    }
    let mut users = std::mem::take(&mut *staging.users.write());
    // every loaded user is a new one (its clients are cut off), but the
    // default user's clients stay
    let default_uid = eng.acl.default_user().uid;
    for (name, u) in users.iter_mut() {
        let mut v = (**u).clone();
        v.uid = if name == b"default" {
            default_uid
        } else {
            eng.acl.next_uid.fetch_add(1, Ordering::Relaxed)
        };
        *u = Arc::new(v);
    }
    let old = eng.acl.names();
    eng.acl.replace(users);
    for name in old.iter().filter(|n| n.as_slice() != b"default") {
        kill_clients_of(eng, name);
    }
    Ok(())
}

pub(crate) fn save_file(eng: &Engine, path: &str) -> Result<(), String> {
    let mut text = String::new();
    for u in eng.acl.all() {
        text.push_str(&u.describe());
        text.push('\n');
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("ERR There was an error trying to save the ACLs. Please check the server logs for more information: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_digests() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // `ACL SETUSER foo >pw` on redis-server 7.0 shows this hash
        assert_eq!(
            hex(&sha256(b"pw")),
            "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            hex(&sha256(&long)),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
    }
}
