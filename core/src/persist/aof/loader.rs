//! Loading: the base, then each incremental file, replayed through the
//! normal command path on an internal client (the log is off meanwhile and
//! keys do not expire while loading, as in Redis).
//!
//! Damage handling follows Redis 7.0's loader:
//! - a file that ends inside a command (or inside MULTI without EXEC) is
//!   "truncated": when it is the last file and `aof-load-truncated yes`, it is
//!   cut back on disk to the end of the last complete command (before the
//!   MULTI) with Redis's warnings; otherwise opening fails;
//! - anything else (bad format, unknown command, missing file) fails the
//!   open with `ErrorKind::Corrupt`, naming the file and the byte offset.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::client::ClientState;
use crate::commands;
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::reply::Reply;

use super::manifest::Manifest;

/// Sizes of what was loaded (after any truncation).
pub(crate) struct Sizes {
    pub base: u64,
    pub incrs: u64,
}

/// Loads every live file of the manifest, in order.
pub(crate) fn load_all(
    eng: &Engine,
    aofdir: &Path,
    m: &Manifest,
    truncated_ok: bool,
) -> Result<Sizes, Error> {
    let files: Vec<_> = m.live_files().collect();
    let mut sizes = Sizes { base: 0, incrs: 0 };
    let mut failed = 0u64;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = aofdir.join(&f.name);
        if !path.is_file() {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "The AOF file {} listed in the manifest doesn't exist ({})",
                    f.name,
                    path.display()
                ),
            ));
        }
        // a fresh client per file (database 0), as Redis's loader does
        let mut cl = ClientState::internal();
        let size = load_file(
            eng,
            &mut cl,
            &path,
            &f.name,
            last,
            truncated_ok,
            &mut failed,
        )?;
        if i == 0 && m.base.is_some() {
            sizes.base = size;
        } else {
            sizes.incrs += size;
        }
    }
    if failed > 0 {
        eprintln!(
            "emberkv: {failed} command(s) in the append only file answered with an error while loading"
        );
    }
    Ok(sizes)
}

/// How reading one command ended.
enum Read1 {
    /// A complete command.
    Cmd(Vec<Vec<u8>>),
    /// End of file at a command boundary.
    Eof,
    /// End of file inside a command.
    Short,
    /// Not the AOF format: what was wrong.
    Bad(&'static str),
}

/// A reader that counts the bytes it consumed.
struct Src<R> {
    r: R,
    off: u64,
}

impl<R: BufRead> Src<R> {
    /// Reads a line up to `\n` (included). `Ok(false)` at EOF mid-line.
    fn line(&mut self, out: &mut Vec<u8>, limit: usize) -> std::io::Result<bool> {
        out.clear();
        let n = (&mut self.r).take(limit as u64).read_until(b'\n', out)?;
        self.off += n as u64;
        Ok(out.ends_with(b"\n"))
    }

    fn exact(&mut self, out: &mut Vec<u8>, n: u64) -> std::io::Result<bool> {
        out.clear();
        let got = (&mut self.r).take(n).read_to_end(out)?;
        self.off += got as u64;
        Ok(got as u64 == n)
    }
}

/// Parses `<prefix><digits>\r\n`.
fn header_number(line: &[u8]) -> Option<u64> {
    let body = line.strip_suffix(b"\r\n")?;
    let digits = &body[1..];
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn read_command<R: BufRead>(src: &mut Src<R>, line: &mut Vec<u8>) -> std::io::Result<Read1> {
    loop {
        let complete = src.line(line, 1 << 16)?;
        if line.is_empty() {
            return Ok(Read1::Eof);
        }
        if line[0] == b'#' {
            if !complete && line.len() < 1 << 16 {
                return Ok(Read1::Eof); // an annotation at the very end
            }
            // annotations (#TS:…) are skipped whole
            while !line.ends_with(b"\n") {
                if !src.line(line, 1 << 16)? && line.is_empty() {
                    return Ok(Read1::Eof);
                }
            }
            continue;
        }
        if line[0] != b'*' {
            return Ok(Read1::Bad("expected '*'"));
        }
        if !complete {
            return Ok(Read1::Short);
        }
        let Some(argc) = header_number(line).filter(|&n| n >= 1) else {
            return Ok(Read1::Bad("bad argument count"));
        };
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            if !src.line(line, 64)? {
                return Ok(if line.len() >= 64 {
                    Read1::Bad("argument length line too long")
                } else {
                    Read1::Short
                });
            }
            if line[0] != b'$' {
                return Ok(Read1::Bad("expected '$'"));
            }
            let Some(len) = header_number(line) else {
                return Ok(Read1::Bad("bad argument length"));
            };
            let mut arg = Vec::new();
            if !src.exact(&mut arg, len)? {
                return Ok(Read1::Short);
            }
            if !src.exact(line, 2)? {
                return Ok(Read1::Short);
            }
            if line != b"\r\n" {
                return Ok(Read1::Bad("argument not followed by CRLF"));
            }
            argv.push(arg);
        }
        return Ok(Read1::Cmd(argv));
    }
}

/// Loads one file; returns its size after loading (it may be cut back).
fn load_file(
    eng: &Engine,
    cl: &mut ClientState,
    path: &Path,
    name: &str,
    last: bool,
    truncated_ok: bool,
    failed: &mut u64,
) -> Result<u64, Error> {
    let io = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size == 0 {
        return Ok(0);
    }
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut start = 0u64;
    if r.fill_buf().map_err(io)?.starts_with(b"REDIS") {
        // RDB base (or an RDB preamble followed by commands)
        // keys already expired are kept: the AOF that follows decides
        let rd = crate::persist::rdb::RdbReader::new(&mut r, name, Some(size))?;
        let used = crate::persist::save::load(eng, rd, name, false)?.bytes;
        start = used;
        if start == size {
            return Ok(size);
        }
        let f = File::open(path).map_err(io)?;
        r = BufReader::with_capacity(1 << 16, f);
        std::io::copy(&mut (&mut r).take(start), &mut std::io::sink()).map_err(io)?;
    }
    let mut src = Src { r, off: start };
    let mut line = Vec::new();
    let mut valid_up_to = start;
    let mut before_multi = start;
    let corrupt = |off: u64, why: &str| {
        Error::new(
            ErrorKind::Corrupt,
            format!(
                "Bad file format reading the append only file {name} at offset {off} ({why}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
            ),
        )
    };
    let short = loop {
        let at = src.off;
        match read_command(&mut src, &mut line).map_err(io)? {
            Read1::Eof => {
                if cl.multi.is_some() {
                    eprintln!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
                    break true;
                }
                break false;
            }
            Read1::Short => break true,
            Read1::Bad(why) => return Err(corrupt(at, why)),
            Read1::Cmd(argv) => {
                let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
                match commands::resolve(&args) {
                    Ok(spec) => {
                        if spec.name == "multi" {
                            before_multi = at;
                        }
                    }
                    Err(Reply::Error(e)) if e.starts_with("ERR unknown command") => {
                        return Err(Error::new(
                            ErrorKind::Corrupt,
                            format!(
                                "Unknown command '{}' reading the append only file {name} at offset {at}",
                                String::from_utf8_lossy(&argv[0])
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(corrupt(at, &reply_text(&e)));
                    }
                }
                let reply = commands::dispatch(eng, cl, &args);
                if let Reply::Error(e) = &reply {
                    if args[0].eq_ignore_ascii_case(b"select") {
                        // the following commands would go to the wrong database
                        return Err(corrupt(at, &format!("SELECT failed: {e}")));
                    }
                    *failed += 1;
                }
                if cl.multi.is_none() {
                    valid_up_to = src.off;
                }
            }
        }
    };
    if !short {
        return Ok(size);
    }
    let cut = if cl.multi.take().is_some() {
        before_multi
    } else {
        valid_up_to
    };
    if !last {
        return Err(Error::new(
            ErrorKind::Corrupt,
            format!(
                "Fatal error: the truncated file is not the last file: {name} ends inside a command (last complete command ends at offset {cut})"
            ),
        ));
    }
    if !truncated_ok {
        return Err(Error::new(
            ErrorKind::Corrupt,
            format!(
                "Unexpected end of file reading the append only file {name} (last complete command ends at offset {cut}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."
            ),
        ));
    }
    eprintln!("!!! Warning: short read while loading the AOF file {name}!!!");
    eprintln!("!!! Truncating the AOF {name} at offset {cut} !!!");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    f.set_len(cut).and_then(|_| f.sync_all()).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("Error truncating the AOF file {name}: {e}"),
        )
    })?;
    eprintln!("AOF {name} loaded anyway because aof-load-truncated is enabled");
    Ok(cut)
}

fn reply_text(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.clone(),
        _ => String::new(),
    }
}
