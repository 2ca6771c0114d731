//! A small blocking RESP2/RESP3 client, for bindings that attach to a
//! listening emberkv (or any Redis server) and give the same API as the
//! embedded client: replies come back as [`emberkv::Reply`] and pub/sub
//! messages as [`emberkv::Message`], so a binding's conversion code serves
//! both.
//!
//! - [`Target::parse`]: `unix:///path.sock`, `tcp://host:port`,
//!   `redis://[[user]:password@]host[:port][/db]` (and `?db=`/`?password=`
//!   query parameters on any of them).
//! - [`Connection`]: one socket; [`Connection::execute`] writes a command
//!   and reads its reply; [`Connection::execute_many`] pipelines a batch in
//!   one write. After an I/O or protocol error the connection is
//!   [`broken`](Connection::is_broken) and every later call fails: drop it
//!   and open another (as redis-py does).
//! - [`Subscriber`]: a connection in subscribed mode with a reader thread
//!   that queues the pushed messages (pushed, not polled). The queue is
//!   bounded: when it is full the reader stops reading, the socket fills
//!   and the server's `client-output-buffer-limit pubsub` applies, as for
//!   any slow Redis subscriber.
//!
//! Failures are `ErrorKind::Io` (connect, read, write, the server closed the
//! connection), `ErrorKind::Config` (a bad URL) and `ErrorKind::Closed`
//! (a closed subscriber); Redis error replies are `Ok(Reply::Error)`.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use emberkv::{Error, ErrorKind, Message, MessageKind, Reply};
use parking_lot::{Condvar, Mutex};

use crate::Addr;

/// Where to connect and how to log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: Addr,
    pub username: Option<String>,
    pub password: Option<String>,
    /// SELECTed after connecting (0: none sent).
    pub db: u32,
    /// Connect timeout (`None`: the OS's).
    pub connect_timeout: Option<Duration>,
}

fn config_err(msg: String) -> Error {
    Error::new(ErrorKind::Config, msg)
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            let v = (h * 16 + l) as u8;
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// Parses a URL (see the module documentation). A bare `host:port` or
    /// `/path.sock` is accepted as well.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let bad = |why: &str| {
            config_err(format!(
                "invalid URL '{url}' ({why}); expected unix:///path.sock, tcp://host:port or redis://[:password@]host[:port][/db]"
            ))
        };
        let (rest, query) = match url.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (url, None),
        };
        let mut t = Target {
            addr: Addr::Tcp(([127, 0, 0, 1], 6379).into()),
            username: None,
            password: None,
            db: 0,
            connect_timeout: None,
        };
        if let Some(p) = rest
            .strip_prefix("unix://")
            .or_else(|| rest.strip_prefix("unix:"))
            .or_else(|| rest.strip_prefix("redis+unix://"))
        {
            // unix://[:password@]/path
            let (auth, path) = match p.find('/') {
                Some(0) => (None, p),
                Some(i) if p[..i].ends_with('@') => (Some(&p[..i - 1]), &p[i..]),
                _ => return Err(bad("a Unix socket path must be absolute")),
            };
            if path.len() < 2 {
                return Err(bad("no socket path"));
            }
            t.addr = Addr::Unix(pct_decode(path).into());
            if let Some(a) = auth {
                t.set_auth(a);
            }
        } else if rest.starts_with('/') {
            t.addr = Addr::Unix(rest.into());
        } else {
            let hp = if let Some(h) = rest.strip_prefix("redis://") {
                h
            } else if let Some(h) = rest.strip_prefix("tcp://") {
                h
            } else if rest.starts_with("rediss://") {
                return Err(bad("TLS (rediss://) is not supported"));
            } else if rest.contains("://") {
                return Err(bad("unknown scheme"));
            } else {
                rest
            };
            let (auth, hp) = match hp.rsplit_once('@') {
                Some((a, h)) => (Some(a), h),
                None => (None, hp),
            };
            if let Some(a) = auth {
                t.set_auth(a);
            }
            let (hostport, path) = match hp.split_once('/') {
                Some((h, p)) => (h, p),
                None => (hp, ""),
            };
            if !path.is_empty() {
                t.db = path
                    .parse()
                    .map_err(|_| bad("the database must be a number"))?;
            }
            let hostport = if hostport.is_empty() {
                "127.0.0.1:6379".to_string()
            } else if hostport.ends_with(']') || !hostport.contains(':') {
                format!("{hostport}:6379")
            } else {
                hostport.to_string()
            };
            let host = hostport
                .rsplit_once(':')
                .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                .unwrap_or("");
            if host.is_empty() {
                return Err(bad("no host"));
            }
            let a = hostport
                .to_socket_addrs()
                .map_err(|e| bad(&format!("cannot resolve the host: {e}")))?
                .next()
                .ok_or_else(|| bad("the host has no address"))?;
            t.addr = Addr::Tcp(a);
        }
        for kv in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = pct_decode(v);
            match k {
                "db" => t.db = v.parse().map_err(|_| bad("db must be a number"))?,
                "password" => t.password = Some(v),
                "username" | "user" => t.username = Some(v),
                "socket_connect_timeout" | "connect_timeout" => {
                    let s: f64 = v.parse().map_err(|_| bad("bad timeout"))?;
                    if s > 0.0 && s.is_finite() {
                        t.connect_timeout = Some(Duration::from_secs_f64(s));
                    }
                }
                // other client-side parameters (decode_responses, …) belong
                // to the binding that passed the URL on
                _ => {}
            }
        }
        Ok(t)
    }

    fn set_auth(&mut self, a: &str) {
        match a.split_once(':') {
            Some((u, p)) => {
                self.username = (!u.is_empty()).then(|| pct_decode(u));
                self.password = Some(pct_decode(p));
            }
            // redis://password@host is how some clients spell a password alone
            None => self.password = Some(pct_decode(a)),
        }
    }
}

/// A connected socket of either family.
#[derive(Debug)]
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn connect(t: &Target) -> io::Result<Stream> {
        Ok(match &t.addr {
            Addr::Tcp(a) => {
                let s = match t.connect_timeout {
                    Some(d) => TcpStream::connect_timeout(a, d)?,
                    None => TcpStream::connect(a)?,
                };
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Addr::Unix(p) => Stream::Unix(UnixStream::connect(p)?),
        })
    }
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }
    fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(b),
            Stream::Unix(s) => s.read(b),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(b),
            Stream::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends `argv` as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    use std::io::Write as _;
    let _ = write!(out, "*{}\r\n", argv.len());
    for a in argv {
        let a = a.as_ref();
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses one reply from `buf`. `Ok(None)`: incomplete (the second value is
/// a lower bound of the bytes still needed, when known).
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut p = Parser { buf, pos: 0 };
    match p.value(0) {
        Ok(r) => Ok(Some((r, p.pos))),
        Err(ParseErr::Incomplete) => Ok(None),
        Err(ParseErr::Bad(m)) => Err(m),
    }
}

enum ParseErr {
    Incomplete,
    Bad(String),
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

const MAX_DEPTH: usize = 512;

impl Parser<'_> {
    fn line(&mut self) -> Result<&[u8], ParseErr> {
        let rest = &self.buf[self.pos..];
        let Some(i) = rest.iter().position(|&b| b == b'\n') else {
            return Err(ParseErr::Incomplete);
        };
        if i == 0 || rest[i - 1] != b'\r' {
            return Err(ParseErr::Bad("line not ended by CRLF".into()));
        }
        self.pos += i + 1;
        Ok(&rest[..i - 1])
    }

    fn int(&mut self) -> Result<i64, ParseErr> {
        let l = self.line()?;
        crate::parse::strict_i64(l)
            .ok_or_else(|| ParseErr::Bad(format!("bad integer '{}'", String::from_utf8_lossy(l))))
    }

    fn text(&mut self) -> Result<String, ParseErr> {
        Ok(String::from_utf8_lossy(self.line()?).into_owned())
    }

    fn blob(&mut self) -> Result<Option<Vec<u8>>, ParseErr> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        let n = n as usize;
        let rest = &self.buf[self.pos..];
        if rest.len() < n + 2 {
            return Err(ParseErr::Incomplete);
        }
        if &rest[n..n + 2] != b"\r\n" {
            return Err(ParseErr::Bad("bulk string not ended by CRLF".into()));
        }
        self.pos += n + 2;
        Ok(Some(rest[..n].to_vec()))
    }

    fn items(&mut self, n: usize, depth: usize) -> Result<Vec<Reply>, ParseErr> {
        // never trust a length for an allocation: grow as items arrive
        let mut v = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            v.push(self.value(depth + 1)?);
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Reply, ParseErr> {
        if depth > MAX_DEPTH {
            return Err(ParseErr::Bad("reply nested too deeply".into()));
        }
        let Some(&t) = self.buf.get(self.pos) else {
            return Err(ParseErr::Incomplete);
        };
        self.pos += 1;
        Ok(match t {
            b'+' => Reply::Simple(self.text()?),
            b'-' => Reply::Error(self.text()?),
            b':' => Reply::Int(self.int()?),
            b'$' => match self.blob()? {
                Some(b) => Reply::bulk_vec(b),
                None => Reply::Nil,
            },
            b'*' | b'~' | b'>' => {
                let n = self.int()?;
                if n < 0 {
                    return Ok(Reply::NilArray);
                }
                let v = self.items(n as usize, depth)?;
                match t {
                    b'*' => Reply::Array(v),
                    b'~' => Reply::Set(v),
                    _ => Reply::Push(v),
                }
            }
            b'%' => {
                let n = self.int()?.max(0) as usize;
                let mut v = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    let val = self.value(depth + 1)?;
                    v.push((k, val));
                }
                Reply::Map(v)
            }
            b'|' => {
                // attributes: skip them, the value follows
                let n = self.int()?.max(0) as usize;
                for _ in 0..2 * n {
                    self.value(depth + 1)?;
                }
                return self.value(depth);
            }
            b'_' => {
                self.line()?;
                Reply::Nil
            }
            b'#' => Reply::Bool(self.line()? == b"t"),
            b',' => {
                let s = self.text()?;
                let d = match s.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    _ => s
                        .parse()
                        .map_err(|_| ParseErr::Bad(format!("bad double '{s}'")))?,
                };
                Reply::Double(d)
            }
            b'(' => Reply::BigNumber(self.text()?),
            b'!' => match self.blob()? {
                Some(b) => Reply::Error(String::from_utf8_lossy(&b).into_owned()),
                None => Reply::Nil,
            },
            b'=' => match self.blob()? {
                Some(b) if b.len() >= 4 && b[3] == b':' => {
                    let fmt = if &b[..3] == b"mkd" { "mkd" } else { "txt" };
                    Reply::Verbatim(fmt, b[4..].to_vec())
                }
                Some(b) => Reply::Verbatim("txt", b),
                None => Reply::Nil,
            },
            other => {
                return Err(ParseErr::Bad(format!(
                    "unknown reply type byte '{}'",
                    (other as char).escape_default()
                )));
            }
        })
    }
}

/// The buffered reading half shared by [`Connection`] and the subscriber's
/// reader thread.
struct Reader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
        }
    }

    fn read_reply(&mut self, s: &mut Stream) -> Result<Reply, Error> {
        loop {
            if self.end > self.start {
                match parse_reply(&self.buf[self.start..self.end]) {
                    Ok(Some((r, n))) => {
                        self.start += n;
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                        return Ok(r);
                    }
                    Ok(None) => {}
                    Err(m) => {
                        return Err(Error::new(ErrorKind::Io, format!("protocol error: {m}")));
                    }
                }
            }
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
            match s.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        "Connection closed by server.".to_string(),
                    ));
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::new(ErrorKind::Io, "Timeout reading from socket"));
                }
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("Error while reading from socket: {e}"),
                    ));
                }
            }
        }
    }
}

fn io_err(what: &str, t: &Addr, e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what} {t}: {e}"))
}

/// One connection (see the module documentation).
pub struct Connection {
    stream: Stream,
    reader: Reader,
    wbuf: Vec<u8>,
    resp3: bool,
    id: Option<u64>,
    broken: bool,
    db: u32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("stream", &self.stream)
            .finish()
    }
}

impl Connection {
    /// Connects, authenticates (AUTH) and selects the database.
    pub fn open(t: &Target) -> Result<Connection, Error> {
        let stream = Stream::connect(t).map_err(|e| io_err("cannot connect to", &t.addr, e))?;
        let mut c = Connection {
            stream,
            reader: Reader::new(),
            wbuf: Vec::with_capacity(256),
            resp3: false,
            id: None,
            broken: false,
            db: 0,
        };
        if let Some(p) = &t.password {
            let r = match &t.username {
                Some(u) => c.execute(&["AUTH", u.as_str(), p.as_str()])?,
                None => c.execute(&["AUTH", p.as_str()])?,
            };
            if let Reply::Error(e) = r {
                return Err(Error::new(ErrorKind::Io, format!("AUTH failed: {e}")));
            }
        }
        if t.db != 0 {
            let n = t.db.to_string();
            if let Reply::Error(e) = c.execute(&["SELECT", n.as_str()])? {
                return Err(Error::new(ErrorKind::Config, format!("SELECT {n}: {e}")));
            }
        }
        Ok(c)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.broken = true;
        self.stream.shutdown();
        e
    }

    fn check(&self) -> Result<(), Error> {
        if self.broken {
            return Err(Error::new(
                ErrorKind::Io,
                "the connection was lost on an earlier error",
            ));
        }
        Ok(())
    }

    fn write_buf(&mut self) -> Result<(), Error> {
        let r = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        if self.wbuf.capacity() > 1 << 20 {
            self.wbuf = Vec::with_capacity(256);
        }
        r.map_err(|e| {
            self.fail(Error::new(
                ErrorKind::Io,
                format!("Error while writing to socket: {e}"),
            ))
        })
    }

    /// The next reply that is not an out-of-band push (RESP3 pushes such as
    /// invalidation messages are skipped on a command connection).
    pub fn read_reply(&mut self) -> Result<Reply, Error> {
        self.check()?;
        loop {
            match self.reader.read_reply(&mut self.stream) {
                Ok(Reply::Push(_)) => continue,
                Ok(r) => return Ok(r),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    fn note_protocol<A: AsRef<[u8]>>(&mut self, argv: &[A], r: &Reply) {
        let name = argv[0].as_ref();
        if name.eq_ignore_ascii_case(b"HELLO") && !r.is_error() {
            if let Some(v) = argv.get(1) {
                self.resp3 = v.as_ref() == b"3";
            }
        } else if name.eq_ignore_ascii_case(b"RESET") && !r.is_error() {
            self.resp3 = false;
            self.db = 0;
        } else if name.eq_ignore_ascii_case(b"SELECT")
            && !r.is_error()
            && let Some(n) = argv
                .get(1)
                .and_then(|v| std::str::from_utf8(v.as_ref()).ok())
            && let Ok(n) = n.parse()
        {
            self.db = n;
        }
    }

    /// Runs one command and returns its reply.
    pub fn execute<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Result<Reply, Error> {
        self.check()?;
        if argv.is_empty() {
            return Ok(Reply::error("ERR empty command"));
        }
        encode_command(&mut self.wbuf, argv);
        self.write_buf()?;
        let r = self.read_reply()?;
        self.note_protocol(argv, &r);
        Ok(r)
    }

    /// Runs commands back to back in one write (a pipeline); one reply each.
    pub fn execute_many<C: AsRef<[A]>, A: AsRef<[u8]>>(
        &mut self,
        cmds: &[C],
    ) -> Result<Vec<Reply>, Error> {
        self.check()?;
        for c in cmds {
            let argv = c.as_ref();
            if !argv.is_empty() {
                encode_command(&mut self.wbuf, argv);
            }
        }
        self.write_buf()?;
        let mut out = Vec::with_capacity(cmds.len());
        for c in cmds {
            let argv = c.as_ref();
            if argv.is_empty() {
                out.push(Reply::error("ERR empty command"));
                continue;
            }
            let r = self.read_reply()?;
            self.note_protocol(argv, &r);
            out.push(r);
        }
        Ok(out)
    }

    /// The database selected (by the target or a SELECT since).
    pub fn selected_db(&self) -> u32 {
        self.db
    }

    /// 3 after a successful `HELLO 3`, else 2.
    pub fn protocol(&self) -> u8 {
        if self.resp3 { 3 } else { 2 }
    }

    /// The server's id for this connection (CLIENT ID, asked once).
    pub fn id(&mut self) -> Result<u64, Error> {
        if let Some(id) = self.id {
            return Ok(id);
        }
        match self.execute(&["CLIENT", "ID"])? {
            Reply::Int(i) => {
                self.id = Some(i as u64);
                Ok(i as u64)
            }
            other => Err(Error::new(
                ErrorKind::Io,
                format!("CLIENT ID answered {other:?}"),
            )),
        }
    }

    /// Whether an I/O or protocol error ended this connection.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Read timeout for replies (`None`: wait as long as needed).
    pub fn set_read_timeout(&mut self, d: Option<Duration>) -> Result<(), Error> {
        self.stream
            .set_read_timeout(d)
            .map_err(|e| Error::new(ErrorKind::Io, format!("set_read_timeout: {e}")))
    }

    /// A handle that can shut this connection's socket down from another
    /// thread (waking a call blocked in a read).
    pub fn closer(&self) -> Result<Closer, Error> {
        Ok(Closer(self.stream.try_clone().map_err(|e| {
            Error::new(ErrorKind::Io, format!("cannot clone the socket: {e}"))
        })?))
    }
}

/// Shuts a connection down from another thread.
pub struct Closer(Stream);

impl Closer {
    pub fn close(&self) {
        self.0.shutdown();
    }
}

/// Messages a subscriber holds before its reader stops reading.
const SUB_QUEUE: usize = 64 * 1024;

#[derive(Default)]
struct SubQueue {
    msgs: VecDeque<Message>,
    closed: Option<Error>,
    /// (Un)subscribe confirmations received so far.
    confirmed: u64,
}

struct SubShared {
    q: Mutex<SubQueue>,
    /// Signalled when a message is queued or the subscriber closes.
    ready: Condvar,
    /// Signalled when the consumer took a message (room in the queue).
    room: Condvar,
    waker: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

#[derive(Default)]
struct Held {
    channels: HashSet<Vec<u8>>,
    patterns: HashSet<Vec<u8>>,
    shard: HashSet<Vec<u8>>,
}

/// A remote subscription with the engine `Subscription`'s methods (see the
/// module documentation). Thread-safe.
pub struct Subscriber {
    /// The socket's writing half, and the confirmations asked for so far.
    writer: Mutex<(Stream, u64)>,
    shared: Arc<SubShared>,
    held: Mutex<Held>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

fn message_of(r: Reply) -> Option<Message> {
    let (Reply::Push(v) | Reply::Array(v)) = r else {
        return None;
    };
    let mut it = v.into_iter();
    let kind = it.next()?;
    let kind = match kind.as_bytes()? {
        b"message" => MessageKind::Message,
        b"pmessage" => MessageKind::PMessage,
        b"smessage" => MessageKind::SMessage,
        b"subscribe" => MessageKind::Subscribe,
        b"unsubscribe" => MessageKind::Unsubscribe,
        b"psubscribe" => MessageKind::PSubscribe,
        b"punsubscribe" => MessageKind::PUnsubscribe,
        b"ssubscribe" => MessageKind::SSubscribe,
        b"sunsubscribe" => MessageKind::SUnsubscribe,
        _ => return None,
    };
    let bytes = |r: Option<Reply>| -> Vec<u8> {
        r.and_then(|r| r.as_bytes().map(<[u8]>::to_vec))
            .unwrap_or_default()
    };
    Some(match kind {
        MessageKind::Message | MessageKind::SMessage => Message {
            kind,
            pattern: None,
            channel: bytes(it.next()),
            payload: bytes(it.next()),
            count: 0,
        },
        MessageKind::PMessage => Message {
            kind,
            pattern: Some(bytes(it.next())),
            channel: bytes(it.next()),
            payload: bytes(it.next()),
            count: 0,
        },
        _ => Message {
            kind,
            pattern: None,
            channel: bytes(it.next()),
            payload: Vec::new(),
            count: it.next().and_then(|c| c.as_int()).unwrap_or(0),
        },
    })
}

fn read_loop(mut stream: Stream, shared: Arc<SubShared>) {
    let mut reader = Reader::new();
    let err = loop {
        match reader.read_reply(&mut stream) {
            Ok(r) => {
                let Some(m) = message_of(r) else { continue };
                let mut q = shared.q.lock();
                if !matches!(
                    m.kind,
                    MessageKind::Message | MessageKind::PMessage | MessageKind::SMessage
                ) {
                    q.confirmed += 1;
                }
                while q.msgs.len() >= SUB_QUEUE && q.closed.is_none() {
                    shared.room.wait(&mut q);
                }
                if q.closed.is_some() {
                    return;
                }
                q.msgs.push_back(m);
                drop(q);
                shared.ready.notify_all();
                let w = shared.waker.lock().clone();
                if let Some(w) = w {
                    w();
                }
            }
            Err(e) => break e,
        }
    };
    let mut q = shared.q.lock();
    if q.closed.is_none() {
        q.closed = Some(err);
    }
    drop(q);
    shared.ready.notify_all();
    let w = shared.waker.lock().clone();
    if let Some(w) = w {
        w();
    }
}

impl Subscriber {
    /// Connects (AUTH, no SELECT: pub/sub ignores databases) and starts
    /// the reader thread.
    pub fn open(t: &Target) -> Result<Subscriber, Error> {
        let t = Target { db: 0, ..t.clone() };
        let c = Connection::open(&t)?;
        let writer = c
            .stream
            .try_clone()
            .map_err(|e| io_err("cannot clone the socket of", &t.addr, e))?;
        let stream = c.stream;
        let shared = Arc::new(SubShared {
            q: Mutex::new(SubQueue::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
            waker: Mutex::new(None),
        });
        let s2 = shared.clone();
        let h = std::thread::Builder::new()
            .name("emberkv-remote-sub".into())
            .spawn(move || read_loop(stream, s2))
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start a thread: {e}")))?;
        Ok(Subscriber {
            writer: Mutex::new((writer, 0)),
            shared,
            held: Mutex::new(Held::default()),
            reader: Mutex::new(Some(h)),
        })
    }

    /// Sends the command and waits until the server has confirmed it
    /// (`replies` confirmations), so that, as with the engine's own
    /// subscriptions, a message published after this returns is received.
    fn send<A: AsRef<[u8]>>(&self, cmd: &str, names: &[A], replies: usize) {
        let mut buf = Vec::new();
        let mut argv: Vec<&[u8]> = vec![cmd.as_bytes()];
        argv.extend(names.iter().map(|n| n.as_ref()));
        encode_command(&mut buf, &argv);
        let target = {
            let mut w = self.writer.lock();
            if let Err(e) = w.0.write_all(&buf) {
                drop(w);
                let mut q = self.shared.q.lock();
                if q.closed.is_none() {
                    q.closed = Some(Error::new(
                        ErrorKind::Io,
                        format!("Error while writing to socket: {e}"),
                    ));
                }
                drop(q);
                self.shared.ready.notify_all();
                return;
            }
            w.1 += replies as u64;
            w.1
        };
        // bounded: a server that never confirms must not hang the caller
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut q = self.shared.q.lock();
        while q.confirmed < target && q.closed.is_none() {
            if self.shared.ready.wait_until(&mut q, deadline).timed_out() {
                break;
            }
        }
    }

    fn track<A: AsRef<[u8]>>(
        &self,
        which: fn(&mut Held) -> &mut HashSet<Vec<u8>>,
        add: bool,
        names: &[A],
    ) -> usize {
        // confirmations the command gets: one per name; for "all", one per
        // name held (at least one)
        let mut h = self.held.lock();
        let set = which(&mut h);
        let replies = if names.is_empty() {
            set.len().max(1)
        } else {
            names.len()
        };
        if add {
            set.extend(names.iter().map(|n| n.as_ref().to_vec()));
        } else if names.is_empty() {
            set.clear();
        } else {
            for n in names {
                set.remove(n.as_ref());
            }
        }
        replies
    }

    pub fn subscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        if channels.is_empty() {
            return;
        }
        let n = self.track(|h| &mut h.channels, true, channels);
        self.send("SUBSCRIBE", channels, n);
    }
    pub fn psubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) {
        if patterns.is_empty() {
            return;
        }
        let n = self.track(|h| &mut h.patterns, true, patterns);
        self.send("PSUBSCRIBE", patterns, n);
    }
    pub fn ssubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        if channels.is_empty() {
            return;
        }
        let n = self.track(|h| &mut h.shard, true, channels);
        self.send("SSUBSCRIBE", channels, n);
    }
    /// No names: from every channel.
    pub fn unsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        let n = self.track(|h| &mut h.channels, false, channels);
        self.send("UNSUBSCRIBE", channels, n);
    }
    pub fn punsubscribe<A: AsRef<[u8]>>(&self, patterns: &[A]) {
        let n = self.track(|h| &mut h.patterns, false, patterns);
        self.send("PUNSUBSCRIBE", patterns, n);
    }
    pub fn sunsubscribe<A: AsRef<[u8]>>(&self, channels: &[A]) {
        let n = self.track(|h| &mut h.shard, false, channels);
        self.send("SUNSUBSCRIBE", channels, n);
    }

    /// Channels, patterns and shard channels asked for (counted here, so
    /// it is right before the server's confirmations arrive).
    pub fn channel_count(&self) -> usize {
        let h = self.held.lock();
        h.channels.len() + h.patterns.len() + h.shard.len()
    }

    fn take(&self, q: &mut SubQueue) -> Option<Message> {
        let m = q.msgs.pop_front()?;
        self.shared.room.notify_one();
        Some(m)
    }

    /// The next message, waiting as long as needed.
    pub fn recv(&self) -> Result<Message, Error> {
        let mut q = self.shared.q.lock();
        loop {
            if let Some(m) = self.take(&mut q) {
                return Ok(m);
            }
            if let Some(e) = &q.closed {
                return Err(e.clone());
            }
            self.shared.ready.wait(&mut q);
        }
    }

    /// The next message, or `None` after `d` without one.
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<Message>, Error> {
        let deadline = Instant::now() + d;
        let mut q = self.shared.q.lock();
        loop {
            if let Some(m) = self.take(&mut q) {
                return Ok(Some(m));
            }
            if let Some(e) = &q.closed {
                return Err(e.clone());
            }
            if self.shared.ready.wait_until(&mut q, deadline).timed_out() {
                return Ok(self.take(&mut q));
            }
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Result<Option<Message>, Error> {
        let mut q = self.shared.q.lock();
        match self.take(&mut q) {
            Some(m) => Ok(Some(m)),
            None => match &q.closed {
                Some(e) => Err(e.clone()),
                None => Ok(None),
            },
        }
    }

    /// `f` is called (on the reader thread) after each message is queued
    /// and when the subscriber closes; it must be quick.
    pub fn set_waker(&self, f: impl Fn() + Send + Sync + 'static) {
        *self.shared.waker.lock() = Some(Arc::new(f));
    }

    /// Closes the connection, stops the reader thread (joined) and wakes
    /// any waiting `recv`. Idempotent.
    pub fn close(&self) {
        {
            let mut q = self.shared.q.lock();
            if q.closed.is_none() {
                q.closed = Some(Error::new(ErrorKind::Closed, "subscription closed"));
            }
        }
        self.shared.ready.notify_all();
        self.shared.room.notify_all();
        self.writer.lock().0.shutdown();
        let h = self.reader.lock().take();
        if let Some(h) = h
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        let w = self.shared.waker.lock().take();
        if let Some(w) = w {
            w();
        }
    }

    /// Whether the subscriber was closed (by `close` or a lost
    /// connection), and why.
    pub fn closed_reason(&self) -> Option<Error> {
        self.shared.q.lock().closed.clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("unix:///tmp/a.sock").unwrap();
        assert_eq!(t.addr, Addr::Unix("/tmp/a.sock".into()));
        let t = Target::parse("unix:///tmp/a.sock?db=3&password=p%40ss").unwrap();
        assert_eq!((t.db, t.password.as_deref()), (3, Some("p@ss")));
        let t = Target::parse("redis://:secret@127.0.0.1:6390/2").unwrap();
        assert_eq!(t.addr, Addr::Tcp("127.0.0.1:6390".parse().unwrap()));
        assert_eq!(
            (t.db, t.password.as_deref(), t.username),
            (2, Some("secret"), None)
        );
        let t = Target::parse("redis://u:p@localhost").unwrap();
        assert_eq!(t.addr.port(), Some(6379));
        assert_eq!(t.username.as_deref(), Some("u"));
        let t = Target::parse("tcp://127.0.0.1:7000").unwrap();
        assert_eq!(t.addr.port(), Some(7000));
        let t = Target::parse("redis://[::1]:7001/0").unwrap();
        assert_eq!(t.addr.port(), Some(7001));
        for bad in [
            "rediss://h:1",
            "http://x",
            "unix://",
            "unix://relative.sock",
            "redis://h:1/x",
            "redis://nonexistent.invalid:1",
            "tcp://127.0.0.1:99999",
        ] {
            let e = Target::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
        }
    }

    #[test]
    fn parses_resp2_and_resp3() {
        let cases: &[(&[u8], Reply)] = &[
            (b"+OK\r\n", Reply::ok()),
            (b"-ERR x\r\n", Reply::error("ERR x")),
            (b":-5\r\n", Reply::Int(-5)),
            (b"$-1\r\n", Reply::Nil),
            (b"*-1\r\n", Reply::NilArray),
            (b"$3\r\na\0b\r\n", Reply::bulk(b"a\0b")),
            (
                b"*2\r\n$1\r\na\r\n:1\r\n",
                Reply::Array(vec![Reply::bulk("a"), Reply::Int(1)]),
            ),
            (b"_\r\n", Reply::Nil),
            (b"#t\r\n", Reply::Bool(true)),
            (b",1.5\r\n", Reply::Double(1.5)),
            (b",inf\r\n", Reply::Double(f64::INFINITY)),
            (b"(123\r\n", Reply::BigNumber("123".into())),
            (
                b"%1\r\n+a\r\n:1\r\n",
                Reply::Map(vec![(Reply::simple("a"), Reply::Int(1))]),
            ),
            (b"~1\r\n:1\r\n", Reply::Set(vec![Reply::Int(1)])),
            (b">1\r\n:1\r\n", Reply::Push(vec![Reply::Int(1)])),
            (
                b"=7\r\ntxt:abc\r\n",
                Reply::Verbatim("txt", b"abc".to_vec()),
            ),
            (b"!5\r\nERR x\r\n", Reply::error("ERR x")),
            (b"|1\r\n+k\r\n+v\r\n:7\r\n", Reply::Int(7)),
        ];
        for (wire, want) in cases {
            let (r, n) = parse_reply(wire).unwrap().unwrap();
            assert_eq!(&r, want, "{}", String::from_utf8_lossy(wire));
            assert_eq!(n, wire.len());
            for cut in 0..wire.len() {
                assert!(parse_reply(&wire[..cut]).unwrap().is_none());
            }
        }
        for bad in [&b"?x\r\n"[..], b":x\r\n", b"$1\r\nab\r\n", b"+a\n"] {
            assert!(parse_reply(bad).is_err());
        }
        // a huge announced length allocates nothing
        assert!(parse_reply(b"*2147483647\r\n:1\r\n").unwrap().is_none());
    }
}
