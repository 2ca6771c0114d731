//! Engine failures: opening, I/O, corruption, a closed engine. Redis-level
//! command errors are not here: they are `Reply::Error` values.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration value is unknown or invalid.
    Config,
    /// Reading or writing a file failed.
    Io,
    /// A data file is damaged or not in a format we read.
    Corrupt,
    /// A value or feature that this format version cannot express (e.g.
    /// hash-field TTLs in an RDB 10 file).
    Unsupported,
    /// The engine (or the subscription) was closed.
    Closed,
    /// A subscriber fell too far behind and was disconnected
    /// (`client-output-buffer-limit pubsub`).
    Overflow,
}

/// An engine failure: a kind plus a message naming the file, offset or
/// parameter involved.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    msg: String,
}

impl Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Error {
        Error {
            kind,
            msg: msg.into(),
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
    }
}
