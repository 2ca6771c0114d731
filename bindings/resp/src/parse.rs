//! Request framing: RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and
//! inline commands (`GET k\r\n`, as telnet and `nc` users type them), with
//! Redis's limits and Redis's protocol error texts.
//!
//! Rules for whoever changes this:
//! - The parser is resumable: it keeps its position across reads, so a large
//!   argument arriving in many reads is scanned once, and nothing is reserved
//!   for a declared length before the bytes arrive (a client announcing a
//!   4 GB bulk gets an error, one announcing 100 MB gets memory only as it
//!   sends).
//! - Each error is what redis-server 7.0 answers for the same bytes; after
//!   one, the connection is closed.

/// Longest line (inline command, `*<count>` or `$<len>` header) without a
/// newline before the request is refused (Redis's PROTO_INLINE_MAX_SIZE).
pub(crate) const INLINE_MAX: usize = 64 * 1024;

/// What the parser needs to know about the connection.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk: u64,
    /// Before AUTH: at most 10 arguments of at most 16 KB each.
    pub authenticated: bool,
}

/// One complete command: its arguments, as ranges into the read buffer
/// (multibulk) or owned (inline, whose quoting is undone).
pub(crate) enum Args {
    Ranges,
    Inline(Vec<Vec<u8>>),
}

/// A protocol violation: the error reply text (without `-` and CRLF).
#[derive(Debug, PartialEq)]
pub(crate) struct ProtoError(pub String);

#[derive(Default)]
pub(crate) struct Parser {
    /// Where parsing continues in the buffer.
    pos: usize,
    /// Start of the command being parsed (bytes before it may be dropped).
    start: usize,
    /// Arguments still expected by the current multibulk (0: between commands).
    left: u64,
    /// Length of the bulk whose header was read, if any.
    bulk: Option<usize>,
    /// The current command's arguments (multibulk).
    ranges: Vec<(usize, usize)>,
}

impl Parser {
    /// Parses the next complete command in `buf`. `Ok(None)`: more bytes
    /// are needed. After `Ok(Some(Args::Ranges))`, `ranges()` gives the
    /// arguments until the next call. Empty commands (`*0`, blank lines)
    /// are skipped.
    pub fn next(&mut self, buf: &[u8], lim: Limits) -> Result<Option<Args>, ProtoError> {
        loop {
            if self.left == 0 {
                self.ranges.clear();
                self.start = self.pos;
                if self.pos >= buf.len() {
                    return Ok(None);
                }
                if buf[self.pos] != b'*' {
                    match self.inline(buf)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(Args::Inline(args))),
                    }
                }
                let Some((n, next)) = header(buf, self.pos, "too big mbulk count string")? else {
                    return Ok(None);
                };
                let n = n
                    .filter(|&n| n <= i32::MAX as i64)
                    .ok_or_else(|| err("invalid multibulk length"))?;
                if n > 10 && !lim.authenticated {
                    return Err(err("unauthenticated multibulk length"));
                }
                self.pos = next;
                if n <= 0 {
                    continue;
                }
                self.left = n as u64;
                // A small reservation only: the count is the client's word.
                self.ranges.reserve(self.left.min(16) as usize);
            }
            while self.left > 0 {
                let len = match self.bulk {
                    Some(len) => len,
                    None => {
                        let Some((n, next)) = header(buf, self.pos, "too big bulk count string")?
                        else {
                            return Ok(None);
                        };
                        if buf[self.pos] != b'$' {
                            return Err(ProtoError(format!(
                                "ERR Protocol error: expected '$', got '{}'",
                                buf[self.pos] as char
                            )));
                        }
                        let n = n
                            .filter(|&n| n >= 0 && n as u64 <= lim.max_bulk)
                            .ok_or_else(|| err("invalid bulk length"))?;
                        if n > 16384 && !lim.authenticated {
                            return Err(err("unauthenticated bulk length"));
                        }
                        self.pos = next;
                        self.bulk = Some(n as usize);
                        n as usize
                    }
                };
                // Redis skips the two bytes after the payload without looking.
                if buf.len() - self.pos < len + 2 {
                    return Ok(None);
                }
                self.ranges.push((self.pos, self.pos + len));
                self.pos += len + 2;
                self.bulk = None;
                self.left -= 1;
            }
            return Ok(Some(Args::Ranges));
        }
    }

    /// Puts the command just returned back, to be parsed again.
    pub fn rewind(&mut self) {
        self.pos = self.start;
        self.left = 0;
        self.bulk = None;
        self.ranges.clear();
    }

    /// The arguments of the last multibulk command.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }

    /// Bytes of the command being parsed (the query buffer Redis would hold).
    pub fn pending(&self, buf: &[u8]) -> usize {
        buf.len() - self.start
    }

    /// How much of a declared bulk is still to come (to size reads).
    pub fn wanted(&self, buf: &[u8]) -> usize {
        match self.bulk {
            Some(len) => (self.pos + len + 2).saturating_sub(buf.len()),
            None => 0,
        }
    }

    /// Moves the unconsumed bytes of `buf[..filled]` to the front; returns
    /// the new fill.
    pub fn compact(&mut self, buf: &mut [u8], filled: usize) -> usize {
        let k = self.start;
        if k == 0 {
            return filled;
        }
        buf.copy_within(k..filled, 0);
        self.pos -= k;
        self.start = 0;
        for r in &mut self.ranges {
            r.0 -= k;
            r.1 -= k;
        }
        filled - k
    }

    /// An inline command line: `Some(args)` (empty for a blank line).
    fn inline(&mut self, buf: &[u8]) -> Result<Option<Vec<Vec<u8>>>, ProtoError> {
        let rest = &buf[self.pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > INLINE_MAX {
                return Err(err("too big inline request"));
            }
            return Ok(None);
        };
        let line = if nl > 0 && rest[nl - 1] == b'\r' {
            &rest[..nl - 1]
        } else {
            &rest[..nl]
        };
        let args = split_args(line).ok_or_else(|| err("unbalanced quotes in request"))?;
        self.pos += nl + 1;
        Ok(Some(args))
    }
}

fn err(what: &str) -> ProtoError {
    ProtoError(format!("ERR Protocol error: {what}"))
}

/// A `*<n>\r\n` / `$<n>\r\n` header at `pos`: the number (None if not one)
/// and where the line ends. Like Redis, looks for `\r` and then needs one
/// more byte, without checking that it is `\n`.
fn header(
    buf: &[u8],
    pos: usize,
    too_big: &str,
) -> Result<Option<(Option<i64>, usize)>, ProtoError> {
    let rest = &buf[pos..];
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        if rest.len() > INLINE_MAX {
            return Err(err(too_big));
        }
        return Ok(None);
    };
    if cr + 1 >= rest.len() {
        return Ok(None);
    }
    Ok(Some((strict_i64(&rest[1..cr]), pos + cr + 2)))
}

/// Redis's string2ll: optional `-`, digits, no leading zeros, no `+`,
/// no spaces, within i64.
pub(crate) fn strict_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    if digits[0] == b'0' {
        return (digits.len() == 1 && !neg).then_some(0);
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Splits an inline command line the way redis-cli and Redis's inline
/// protocol do (sdssplitargs): whitespace-separated words, `"..."` with
/// `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` with `\'`; a closing quote
/// must be followed by whitespace or the end. `None`: unbalanced quotes.
/// Parsing stops at a NUL byte, as Redis's C string handling does.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(i) => &line[..i],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let (mut dq, mut sq) = (false, false);
        let mut cur = Vec::new();
        loop {
            let c = at(i);
            if dq {
                if c == b'\\'
                    && at(i + 1) == b'x'
                    && at(i + 2).is_ascii_hexdigit()
                    && at(i + 3).is_ascii_hexdigit()
                {
                    let hex = |h: u8| (h as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(hex(at(i + 2)) * 16 + hex(at(i + 3)));
                    i += 3;
                } else if c == b'\\' && i + 1 < line.len() {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        o => o,
                    });
                } else if c == b'"' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if i >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if sq {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < line.len() && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if i >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => dq = true,
                    b'\'' => sq = true,
                    _ => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits {
        max_bulk: 512 << 20,
        authenticated: true,
    };

    /// Every command in `input`, or the error that stops parsing.
    fn parse_all(input: &[u8], lim: Limits) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
        let mut p = Parser::default();
        let mut out = Vec::new();
        loop {
            match p.next(input, lim) {
                Ok(Some(Args::Ranges)) => out.push(
                    p.ranges()
                        .iter()
                        .map(|&(s, e)| input[s..e].to_vec())
                        .collect(),
                ),
                Ok(Some(Args::Inline(a))) => out.push(a),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.0)),
            }
        }
    }

    fn words(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline() {
        let (cmds, e) = parse_all(
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\n*-1\r\nECHO x\n",
            OPEN,
        );
        assert_eq!(e, None);
        assert_eq!(
            cmds,
            vec![
                words(&["GET", "k"]),
                words(&["PING"]),
                words(&["ECHO", "x"])
            ]
        );
    }

    #[test]
    fn errors_match_redis() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"*3000000000\r\n",
                "ERR Protocol error: invalid multibulk length",
            ),
            (b"*abc\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*01\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*+1\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*2\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
            (
                b"*1\r\n$4294967296\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\nfoo\r\n",
                "ERR Protocol error: expected '$', got 'f'",
            ),
            (
                b"SET a \"b\r\n",
                "ERR Protocol error: unbalanced quotes in request",
            ),
            (
                b"SET k 'a'b\r\n",
                "ERR Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_all(input, OPEN).1.as_deref(),
                Some(*want),
                "{input:?}"
            );
        }
        let long = vec![b'x'; INLINE_MAX + 1];
        assert_eq!(
            parse_all(&long, OPEN).1.unwrap(),
            "ERR Protocol error: too big inline request"
        );
        let mut count = b"*".to_vec();
        count.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(
            parse_all(&count, OPEN).1.unwrap(),
            "ERR Protocol error: too big mbulk count string"
        );
    }

    #[test]
    fn unauthenticated_limits() {
        let lim = Limits {
            authenticated: false,
            ..OPEN
        };
        assert_eq!(parse_all(b"*10\r\n", lim).1, None);
        assert_eq!(
            parse_all(b"*11\r\n", lim).1.unwrap(),
            "ERR Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(parse_all(b"*1\r\n$16384\r\n", lim).1, None);
        assert_eq!(
            parse_all(b"*1\r\n$16385\r\n", lim).1.unwrap(),
            "ERR Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn resumes_across_reads_and_compacts() {
        let full = b"*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n*1\r\n$4\r\nPING\r\n";
        let mut p = Parser::default();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in full.iter() {
            buf.push(b);
            while let Some(a) = p.next(&buf, OPEN).unwrap() {
                assert!(matches!(a, Args::Ranges));
                got.push(
                    p.ranges()
                        .iter()
                        .map(|&(s, e)| buf[s..e].to_vec())
                        .collect::<Vec<_>>(),
                );
            }
            let n = buf.len();
            let left = p.compact(&mut buf, n);
            buf.truncate(left);
        }
        assert_eq!(got, vec![words(&["ECHO", "0123456789"]), words(&["PING"])]);
        assert!(buf.is_empty());
    }

    #[test]
    fn payload_terminator_is_skipped_unchecked() {
        let (cmds, e) = parse_all(b"*1\r\n$4\r\nPINGxx\r\n", OPEN);
        assert_eq!((cmds, e), (vec![words(&["PING"])], None));
    }

    #[test]
    fn split_args_quoting() {
        assert_eq!(
            split_args(b"SET a \"b c\"").unwrap(),
            words(&["SET", "a", "b c"])
        );
        assert_eq!(
            split_args(b"ECHO \"\\x41\\n\"").unwrap(),
            words(&["ECHO", "A\n"])
        );
        assert_eq!(
            split_args(b"ECHO 'it\\'s'").unwrap(),
            words(&["ECHO", "it's"])
        );
        assert_eq!(split_args(b"  \t ").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(split_args(b"a\"b c\" d").unwrap(), words(&["ab c", "d"]));
        assert!(split_args(b"ECHO \"a\"\"b\"").is_none());
        assert!(split_args(b"ECHO 'a").is_none());
    }

    #[test]
    fn strict_integers() {
        assert_eq!(strict_i64(b"0"), Some(0));
        assert_eq!(strict_i64(b"-0"), None);
        assert_eq!(strict_i64(b"007"), None);
        assert_eq!(strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(strict_i64(b"9223372036854775808"), None);
        assert_eq!(strict_i64(b""), None);
        assert_eq!(strict_i64(b"1 "), None);
    }
}
