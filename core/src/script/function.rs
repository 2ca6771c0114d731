//! FUNCTION libraries: the registry behind FUNCTION LOAD/DELETE/LIST/
//! DUMP/RESTORE/FLUSH and FCALL, as Redis 7.2 keeps it.
//!
//! Libraries run in a Lua VM of their own (created on the first load,
//! dropped by FUNCTION FLUSH; SCRIPT FLUSH never touches it). Library names
//! are case-sensitive, function names are not (Redis's dict types).
//! Every change goes through `load_library`/`delete`/`restore`/`flush`,
//! which keep `Scripts::counts` (read by FUNCTION STATS while a function
//! runs and holds this registry's lock) in step.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use mlua::Function;

use super::vm::Vm;
use super::{FLAG_NAMES, RunState, flag_of};

/// What FUNCTION LIST shows of one function.
pub(crate) struct FnInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: u32,
}

pub(crate) struct Library {
    pub name: String,
    /// The whole source, `#!lua` line included (what DUMP and RDB store).
    pub code: Vec<u8>,
    pub functions: Vec<FnInfo>,
}

/// A function FCALL can run.
pub(crate) struct Callable {
    pub name: String,
    pub flags: u32,
    pub callback: Function,
    lib: String,
}

#[derive(Default)]
pub(crate) struct Functions {
    pub vm: Option<Vm>,
    pub libs: BTreeMap<String, Library>,
    /// Lowercased name → function.
    funcs: HashMap<String, Callable>,
}

/// What FUNCTION RESTORE does with libraries already loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Flush,
    Append,
    Replace,
}

const NAME_RULE: &str =
    "can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A library's `#!<engine> name=<name>` line, split as Redis's
/// `sdssplitargs` does (quotes allowed): (engine, name, offset of the
/// newline that ends the line).
fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("ERR Invalid library metadata")?;
    let parts = split_args(&code[..end]).ok_or("ERR Invalid library metadata")?;
    let Some((first, rest)) = parts.split_first() else {
        return Err("ERR Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2.min(first.len())..]).into_owned();
    let mut name = None;
    for part in rest {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("ERR Library name was not given")?;
    Ok((engine, name, end))
}

/// Whitespace-separated words, "double" and 'single' quoted ones
/// unquoted (no escapes but `\"` inside double quotes); None when a quote
/// is not closed or not followed by a space.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut word = Vec::new();
        let mut quote = None;
        loop {
            let Some(&c) = line.get(i) else {
                if quote.is_some() {
                    return None;
                }
                break;
            };
            match quote {
                Some(q) if c == q => {
                    i += 1;
                    if line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return None;
                    }
                    break;
                }
                Some(b'"') if c == b'\\' && i + 1 < line.len() => {
                    word.push(line[i + 1]);
                    i += 2;
                }
                Some(_) => {
                    word.push(c);
                    i += 1;
                }
                None if c.is_ascii_whitespace() => break,
                None if c == b'"' || c == b'\'' => {
                    quote = Some(c);
                    i += 1;
                }
                None => {
                    word.push(c);
                    i += 1;
                }
            }
        }
        out.push(word);
    }
    Some(out)
}

/// A library compiled and run, not yet linked.
struct Loaded {
    lib: Library,
    callables: Vec<Callable>,
}

impl Functions {
    pub fn counts(&self) -> (usize, usize) {
        (self.libs.len(), self.funcs.len())
    }

    pub fn get(&self, name: &[u8]) -> Option<&Callable> {
        self.funcs
            .get(&String::from_utf8_lossy(name).to_ascii_lowercase())
    }

    fn vm(&mut self, run: &std::sync::Arc<RunState>) -> Result<&mut Vm, String> {
        if self.vm.is_none() {
            self.vm = Some(Vm::new(run.clone(), true).map_err(|e| format!("ERR {e}"))?);
        }
        Ok(self.vm.as_mut().expect("just set"))
    }

    /// Compiles `code` and runs it to collect its functions (Redis's
    /// checks, in Redis's order, up to the collision checks).
    fn compile(&mut self, code: &[u8], run: &std::sync::Arc<RunState>) -> Result<Loaded, String> {
        let (engine, name, end) = metadata(code)?;
        if !valid_name(&name) {
            return Err(format!("ERR Library names {NAME_RULE}"));
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("ERR Engine '{engine}' not found"));
        }
        let vm = self.vm(run)?;
        *run.load_started.lock() = Some(std::time::Instant::now());
        let registered = vm.load_library(&code[end..]);
        *run.load_started.lock() = None;
        let mut lib = Library {
            name: name.clone(),
            code: code.to_vec(),
            functions: Vec::new(),
        };
        let mut callables: Vec<Callable> = Vec::new();
        for r in registered? {
            if !valid_name(&r.name) {
                // Redis 7.2 words it so for function names too
                return Err(format!("ERR Library names {NAME_RULE}"));
            }
            if lib.functions.iter().any(|f| f.name == r.name) {
                return Err("ERR Function already exists in the library".into());
            }
            let flags = r
                .flags
                .iter()
                .map(|f| flag_of(f).unwrap_or(0))
                .fold(0, |a, b| a | b);
            lib.functions.push(FnInfo {
                name: r.name.clone(),
                description: r.description,
                flags,
            });
            callables.push(Callable {
                name: r.name,
                flags,
                callback: r.callback,
                lib: name.clone(),
            });
        }
        if callables.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Loaded { lib, callables })
    }

    /// The name of a function of another library than `except` that
    /// `loaded` would shadow.
    fn collision(&self, loaded: &Loaded, except: Option<&str>) -> Option<String> {
        loaded.callables.iter().find_map(|c| {
            let other = self.funcs.get(&c.name.to_ascii_lowercase())?;
            (Some(other.lib.as_str()) != except).then(|| c.name.clone())
        })
    }

    fn link(&mut self, loaded: Loaded) {
        for c in loaded.callables {
            self.funcs.insert(c.name.to_ascii_lowercase(), c);
        }
        self.libs.insert(loaded.lib.name.clone(), loaded.lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.funcs.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// FUNCTION LOAD [REPLACE]: the library's name, or Redis's error.
    pub fn load(
        &mut self,
        code: &[u8],
        replace: bool,
        run: &std::sync::Arc<RunState>,
    ) -> Result<String, String> {
        if let Ok((engine, name, _)) = metadata(code)
            && !replace
            && valid_name(&name)
            && engine.eq_ignore_ascii_case("lua")
            && self.libs.contains_key(&name)
        {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let loaded = self.compile(code, run)?;
        let name = loaded.lib.name.clone();
        if self.libs.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        if let Some(f) = self.collision(&loaded, Some(&name)) {
            return Err(format!("ERR Function {f} already exists"));
        }
        self.unlink(&name);
        self.link(loaded);
        Ok(name)
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> bool {
        self.unlink(&String::from_utf8_lossy(name)).is_some()
    }

    /// FUNCTION RESTORE's libraries (already checked: version, CRC):
    /// all or nothing.
    pub fn restore(
        &mut self,
        codes: &[Vec<u8>],
        policy: Policy,
        run: &std::sync::Arc<RunState>,
    ) -> Result<(), String> {
        // compiled first in a VM of their own: a bad library changes nothing
        let mut fresh = Functions::default();
        for code in codes {
            let loaded = fresh.compile(code, run)?;
            if fresh.libs.contains_key(&loaded.lib.name) {
                return Err(format!("ERR Library {} already exists", loaded.lib.name));
            }
            if let Some(f) = fresh.collision(&loaded, None) {
                return Err(format!("ERR Function {f} already exists"));
            }
            fresh.link(loaded);
        }
        if policy == Policy::Flush {
            *self = fresh;
            return Ok(());
        }
        let replaced: Vec<&str> = fresh
            .libs
            .keys()
            .filter(|n| self.libs.contains_key(*n))
            .map(String::as_str)
            .collect();
        if let Some(n) = replaced.first()
            && policy == Policy::Append
        {
            return Err(format!("ERR Library {n} already exists"));
        }
        for (key, c) in &fresh.funcs {
            if let Some(other) = self.funcs.get(key)
                && !replaced.contains(&other.lib.as_str())
            {
                return Err(format!("ERR Function {} already exists", c.name));
            }
        }
        // checked: linking into this VM cannot fail but on a timeout
        let mut staged = Vec::new();
        for lib in fresh.libs.values() {
            staged.push(self.compile(&lib.code, run)?);
        }
        for loaded in staged {
            self.unlink(&loaded.lib.name);
            self.link(loaded);
        }
        Ok(())
    }

    /// The libraries' sources, for DUMP, RDB and AOF rewrite.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }
}

/// A function's flags as FUNCTION LIST names them.
pub(crate) fn flag_names(flags: u32) -> impl Iterator<Item = &'static str> {
    FLAG_NAMES
        .iter()
        .filter(move |(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_parsed_as_redis() {
        let m = |s: &str| metadata(s.as_bytes()).map(|(e, n, _)| (e, n));
        assert_eq!(m("#!lua name=foo\nx"), Ok(("lua".into(), "foo".into())));
        assert_eq!(m("#!lua name=\"foo\"\nx"), Ok(("lua".into(), "foo".into())));
        assert_eq!(m("#! name=foo\nx"), Ok(("".into(), "foo".into())));
        assert_eq!(m("#!lua name=\"a b\"\nx"), Ok(("lua".into(), "a b".into())));
        assert_eq!(
            m("lua name=foo\n").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            m("#!lua name=foo").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            m("#!lua name=a foo=bar\n").unwrap_err(),
            "ERR Invalid metadata value given: foo=bar"
        );
        assert_eq!(m("#!lua\n").unwrap_err(), "ERR Library name was not given");
        assert_eq!(
            m("#!lua name=a name=b\n").unwrap_err(),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
    }

    #[test]
    fn names_are_letters_digits_underscores() {
        assert!(valid_name("a_B9"));
        assert!(!valid_name(""));
        assert!(!valid_name("a-b"));
        assert!(!valid_name("a\0b"));
    }
}
