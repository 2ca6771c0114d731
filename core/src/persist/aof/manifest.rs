//! The manifest of Redis 7's multi-part AOF: which files make up the log,
//! in which order. One line per file, `file <name> seq <n> type b|i|h`,
//! parsed as Redis does (sdssplitargs, pairs in any order, unknown pairs
//! ignored, `#` lines are comments), written as Redis writes it.
//!
//! Rules: at most one base (`b`), listed first when written; increments
//! (`i`) strictly increasing in seq and loaded in order; history (`h`)
//! files are no longer part of the data and are deleted.

use crate::error::{Error, ErrorKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileType {
    Base,
    Incr,
    History,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::Incr => 'i',
            FileType::History => 'h',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileInfo {
    pub name: String,
    pub seq: u64,
    pub kind: FileType,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub base: Option<FileInfo>,
    pub incrs: Vec<FileInfo>,
    pub history: Vec<FileInfo>,
}

/// Redis's longest manifest line (AOF_ANNOTATION_LINE_MAX_LEN).
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses manifest text; `what` names the file in errors.
    pub fn parse(text: &[u8], what: &str) -> Result<Manifest, Error> {
        let bad = |line: usize, why: &str| {
            Error::new(
                ErrorKind::Corrupt,
                format!("{why} (AOF manifest {what}, line {line})"),
            )
        };
        let mut m = Manifest::default();
        let mut max_seq = 0u64;
        let mut lines = 0;
        for (n, raw) in text.split_inclusive(|&b| b == b'\n').enumerate() {
            let n = n + 1;
            if raw.len() >= MAX_LINE {
                return Err(bad(n, "The AOF manifest file contains too long line"));
            }
            if raw.first() == Some(&b'#') {
                continue;
            }
            if !raw.ends_with(b"\n") {
                // Redis reads lines with fgets and needs the newline
                return Err(bad(n, "The AOF manifest file is invalid format"));
            }
            let line = trim(raw);
            if line.is_empty() {
                return Err(bad(n, "Invalid AOF manifest file format"));
            }
            let args =
                split_args(line).ok_or_else(|| bad(n, "Invalid AOF manifest file format"))?;
            if args.len() < 6 || !args.len().is_multiple_of(2) {
                return Err(bad(n, "Invalid AOF manifest file format"));
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for kv in args.chunks(2) {
                let key = String::from_utf8_lossy(&kv[0]).to_ascii_lowercase();
                match key.as_str() {
                    "file" => {
                        let v = String::from_utf8(kv[1].clone())
                            .map_err(|_| bad(n, "File name is not valid UTF-8"))?;
                        if v.is_empty() || v.contains('/') || v == "." || v == ".." {
                            return Err(bad(n, "File can't be a path, just a filename"));
                        }
                        name = Some(v);
                    }
                    "seq" => seq = atoll(&kv[1]),
                    "type" => kind = kv[1].first().copied(),
                    _ => {}
                }
            }
            let (Some(name), true, Some(kind)) = (name, seq > 0, kind) else {
                return Err(bad(n, "Invalid AOF manifest file format"));
            };
            lines += 1;
            let kind = match kind {
                b'b' => FileType::Base,
                b'i' => FileType::Incr,
                b'h' => FileType::History,
                _ => return Err(bad(n, "Unknown AOF file type")),
            };
            let info = FileInfo { name, seq, kind };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return Err(bad(n, "Found duplicate base file information"));
                    }
                    m.base = Some(info);
                }
                FileType::Incr => {
                    if seq <= max_seq {
                        return Err(bad(n, "Found a non-monotonic sequence number"));
                    }
                    max_seq = seq;
                    m.incrs.push(info);
                }
                FileType::History => m.history.push(info),
            }
        }
        if lines == 0 {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("Found an empty AOF manifest ({what})"),
            ));
        }
        Ok(m)
    }

    /// The manifest text, as Redis writes it: base, history, increments.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in all {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                repr_name(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// The base's sequence number (0 = none yet).
    pub fn base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq)
    }

    /// The last increment's sequence number (0 = none yet).
    pub fn incr_seq(&self) -> u64 {
        self.incrs.last().map_or(0, |i| i.seq)
    }

    /// Every file that holds data, in load order.
    pub fn live_files(&self) -> impl Iterator<Item = &FileInfo> {
        self.base.iter().chain(self.incrs.iter())
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// C's atoll: optional sign, leading digits, the rest ignored.
fn atoll(b: &[u8]) -> u64 {
    let mut v: u64 = 0;
    for &c in b.iter().skip_while(|c| c.is_ascii_whitespace()) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add((c - b'0') as u64);
    }
    v
}

/// Redis's sdssplitargs: words, "double quoted with \xHH escapes" or
/// 'single quoted'. None on unbalanced quotes.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(out);
        }
        let mut cur = Vec::new();
        match line[i] {
            b'"' => {
                i += 1;
                loop {
                    if i >= n {
                        return None;
                    }
                    let c = line[i];
                    if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                        let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                        if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            cur.push(v);
                            i += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && i + 1 < n {
                        cur.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            o => o,
                        });
                        i += 2;
                        continue;
                    }
                    if c == b'"' {
                        i += 1;
                        if i < n && !line[i].is_ascii_whitespace() {
                            return None;
                        }
                        break;
                    }
                    cur.push(c);
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    if i >= n {
                        return None;
                    }
                    let c = line[i];
                    if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                        cur.push(b'\'');
                        i += 2;
                        continue;
                    }
                    if c == b'\'' {
                        i += 1;
                        if i < n && !line[i].is_ascii_whitespace() {
                            return None;
                        }
                        break;
                    }
                    cur.push(c);
                    i += 1;
                }
            }
            _ => {
                while i < n && !line[i].is_ascii_whitespace() {
                    cur.push(line[i]);
                    i += 1;
                }
            }
        }
        out.push(cur);
    }
}

/// A file name as Redis writes it in the manifest: quoted with escapes when
/// it holds spaces, quotes, backslashes or unprintable bytes.
fn repr_name(name: &str) -> String {
    let needs = name
        .bytes()
        .any(|c| matches!(c, b'\\' | b'"') || !(0x21..=0x7e).contains(&c));
    if !needs {
        return name.to_string();
    }
    let mut s = String::new();
    crate::util::repr::push_repr(&mut s, name.as_bytes());
    s
}

/// File names, as Redis 7 makes them.
pub(crate) fn base_name(prefix: &str, seq: u64, rdb: bool) -> String {
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

pub(crate) fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

pub(crate) fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

pub(crate) fn temp_manifest_name(prefix: &str) -> String {
    format!("temp-{prefix}.manifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_manifest() {
        let m = Manifest::parse(
            b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
            "t",
        )
        .unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(
            m.format(),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
    }

    #[test]
    fn pairs_in_any_order_comments_and_unknown_keys() {
        let m = Manifest::parse(
            b"# comment\ntype i seq 3 file a.3.incr.aof extra x\nfile a.4.incr.aof seq 4 type i\nfile old seq 1 type h\n",
            "t",
        )
        .unwrap();
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.history.len(), 1);
        assert!(m.base.is_none());
    }

    #[test]
    fn rejects_damage() {
        for bad in [
            &b""[..],
            b"\n",
            b"file a seq 1\n",
            b"file a seq 1 type x\n",
            b"file a/b seq 1 type i\n",
            b"file a seq 2 type i\nfile b seq 2 type i\n",
            b"file a seq 1 type b\nfile b seq 2 type b\n",
            b"file \"a seq 1 type b\n",
            b"file a seq 0 type i\n",
            b"file a seq 1 type i",
        ] {
            assert!(
                Manifest::parse(bad, "t").is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn quoted_names_roundtrip() {
        let m = Manifest {
            base: Some(FileInfo {
                name: "my file\"x".into(),
                seq: 1,
                kind: FileType::Base,
            }),
            incrs: vec![],
            history: vec![],
        };
        let text = m.format();
        assert_eq!(text, "file \"my file\\\"x\" seq 1 type b\n");
        assert_eq!(Manifest::parse(text.as_bytes(), "t").unwrap(), m);
    }
}
