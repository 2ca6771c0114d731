//! redis.conf: the file format (one directive per line, `#` comments,
//! Redis's quoting, `include`) and command-line flags (`--port 6380 --save ""`),
//! turned into an ordered list of directives with their source line.

use std::path::Path;

/// One directive: name (lowercase), arguments, and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    /// The line as written, and its number in the combined input (Redis
    /// counts command-line options as lines after the file's).
    pub line: String,
    pub lineno: usize,
}

/// A configuration error, printed the way redis-server prints it.
#[derive(Debug)]
pub struct ConfError {
    pub lineno: usize,
    pub line: String,
    pub msg: String,
}

impl ConfError {
    pub fn new(d: &Directive, msg: impl Into<String>) -> ConfError {
        ConfError {
            lineno: d.lineno,
            line: d.line.clone(),
            msg: msg.into(),
        }
    }

    pub fn report(&self) -> String {
        format!(
            "\n*** FATAL CONFIG FILE ERROR (emberkv-server {}) ***\nReading the configuration file, at line {}\n>>> '{}'\n{}\n",
            emberkv_resp_version(),
            self.lineno,
            self.line,
            self.msg
        )
    }
}

fn emberkv_resp_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Parses config text; `include` directives are followed (relative to the
/// current directory, as Redis does).
pub fn parse_text(
    text: &str,
    first_line: usize,
    out: &mut Vec<Directive>,
    depth: usize,
) -> Result<usize, ConfError> {
    let mut lineno = first_line;
    for raw in text.lines() {
        lineno += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words = split(line).ok_or_else(|| ConfError {
            lineno,
            line: line.to_string(),
            msg: "Unbalanced quotes in configuration line".into(),
        })?;
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        let d = Directive {
            name: name.to_ascii_lowercase(),
            args: args.to_vec(),
            line: line.to_string(),
            lineno,
        };
        if d.name == "include" {
            if d.args.len() != 1 || depth > 16 {
                return Err(ConfError::new(
                    &d,
                    "Bad directive or wrong number of arguments",
                ));
            }
            let text = std::fs::read_to_string(&d.args[0]).map_err(|e| {
                ConfError::new(
                    &d,
                    format!("Fatal error, can't open config file '{}': {e}", d.args[0]),
                )
            })?;
            parse_text(&text, 0, out, depth + 1)?;
            continue;
        }
        out.push(d);
    }
    Ok(lineno)
}

/// Redis's word splitting for config lines (the inline-command rules).
fn split(line: &str) -> Option<Vec<String>> {
    // Same quoting as the wire's inline commands.
    let words = emberkv_split(line.as_bytes())?;
    Some(
        words
            .into_iter()
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .collect(),
    )
}

fn emberkv_split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    emberkv_resp::split_args(line)
}

/// What the command line holds: a config file (or `-` for stdin) and
/// `--name arg...` options.
pub struct CommandLine {
    pub file: Option<String>,
    pub options: Vec<(String, Vec<String>)>,
}

pub fn parse_command_line(args: &[String]) -> Result<CommandLine, String> {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = rest.first()
        && !first.starts_with("--")
    {
        file = Some(first.clone());
        rest = &rest[1..];
    }
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            options.push((name.to_ascii_lowercase(), Vec::new()));
        } else if a == "-" && file.is_none() {
            file = Some("-".into());
        } else {
            match options.last_mut() {
                Some((_, v)) => v.push(a.clone()),
                None => return Err(format!("Invalid option '{a}'")),
            }
        }
    }
    Ok(CommandLine { file, options })
}

/// The directives of a command line, the file's first, options after
/// (later ones win).
pub fn load(cl: &CommandLine) -> Result<Vec<Directive>, ConfError> {
    let mut out = Vec::new();
    let mut lineno = 0;
    if let Some(f) = &cl.file {
        let text = if f == "-" {
            std::io::read_to_string(std::io::stdin())
        } else {
            std::fs::read_to_string(Path::new(f))
        }
        .map_err(|e| ConfError {
            lineno: 0,
            line: String::new(),
            msg: format!("Fatal error, can't open config file '{f}': {e}"),
        })?;
        lineno = parse_text(&text, 0, &mut out, 0)?;
    }
    for (name, args) in &cl.options {
        lineno += 1;
        let shown: Vec<String> = args.iter().map(|a| quote(a)).collect();
        out.push(Directive {
            name: name.clone(),
            args: args.clone(),
            line: format!("{name} {}", shown.join(" ")).trim_end().to_string(),
            lineno,
        });
    }
    Ok(out)
}

/// Redis shows command-line arguments quoted (`'save ""'`).
fn quote(a: &str) -> String {
    let mut s = String::from("\"");
    for c in a.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c)
            }
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_flags() {
        let mut out = Vec::new();
        parse_text(
            "# comment\nport 7000\n\nsave 900 1\nrequirepass \"a b\"\nbind 127.0.0.1 -::1\n",
            0,
            &mut out,
            0,
        )
        .unwrap();
        let names: Vec<_> = out.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["port", "save", "requirepass", "bind"]);
        assert_eq!(out[2].args, ["a b"]);
        assert_eq!(out[1].lineno, 4);
        let cl = parse_command_line(&[
            "x.conf".into(),
            "--port".into(),
            "6380".into(),
            "--save".into(),
            "".into(),
        ])
        .unwrap();
        assert_eq!(cl.file.as_deref(), Some("x.conf"));
        assert_eq!(
            cl.options,
            vec![
                ("port".to_string(), vec!["6380".to_string()]),
                ("save".to_string(), vec![String::new()])
            ]
        );
        assert!(
            parse_command_line(&["--port".into(), "1".into()])
                .unwrap()
                .file
                .is_none()
        );
    }

    #[test]
    fn bad_quotes() {
        let mut out = Vec::new();
        let e = parse_text("port 1\nrequirepass \"abc\n", 0, &mut out, 0).unwrap_err();
        assert_eq!(e.lineno, 2);
        assert!(e.report().contains("Unbalanced quotes"));
    }
}
