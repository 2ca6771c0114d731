//! Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET, …):
//! `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes; binary-safe. Matching is
//! iterative with single-star backtracking, so a hostile pattern costs
//! O(pattern × subject), never exponential time.

/// Does `subject` match `pattern`?
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    glob_match_opts(pattern, subject, false)
}

/// Case-insensitive (ASCII) variant, as CONFIG GET and COMMAND LIST FILTERBY PATTERN use.
pub fn glob_match_nocase(pattern: &[u8], subject: &[u8]) -> bool {
    glob_match_opts(pattern, subject, true)
}

fn glob_match_opts(p: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after the star, subject index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            if p[pi] == b'*' {
                while pi < p.len() && p[pi] == b'*' {
                    pi += 1;
                }
                if pi == p.len() {
                    return true;
                }
                star = Some((pi, si));
                continue;
            }
            if si < s.len()
                && let Some(next) = match_one(p, pi, s[si], nocase)
            {
                pi = next;
                si += 1;
                continue;
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more byte.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Matches one pattern element at `pi` (not a star) against byte `c`;
/// returns the index just past that element on a match.
fn match_one(p: &[u8], mut pi: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match p[pi] {
        b'?' => Some(pi + 1),
        b'[' => {
            pi += 1;
            let not = pi < p.len() && p[pi] == b'^';
            if not {
                pi += 1;
            }
            let mut matched = false;
            loop {
                if pi >= p.len() {
                    break; // unterminated class: ends at the pattern's end
                }
                if p[pi] == b'\\' && pi + 1 < p.len() {
                    pi += 1;
                    if eq(p[pi], c) {
                        matched = true;
                    }
                    pi += 1;
                } else if p[pi] == b']' {
                    pi += 1;
                    break;
                } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                    let (mut lo, mut hi) = (p[pi], p[pi + 2]);
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let cc = if nocase { c.to_ascii_lowercase() } else { c };
                    let (l2, h2) = if nocase {
                        (lo.to_ascii_lowercase(), hi.to_ascii_lowercase())
                    } else {
                        (lo, hi)
                    };
                    if cc >= l2 && cc <= h2 {
                        matched = true;
                    }
                    pi += 3;
                } else {
                    if eq(p[pi], c) {
                        matched = true;
                    }
                    pi += 1;
                }
            }
            if not {
                matched = !matched;
            }
            matched.then_some(pi)
        }
        b'\\' if pi + 1 < p.len() => eq(p[pi + 1], c).then_some(pi + 2),
        lit => eq(lit, c).then_some(pi + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"h?llo", b"hello"));
        assert!(glob_match(b"h*llo", b"heeeello"));
        assert!(glob_match(b"h[ae]llo", b"hallo"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert!(glob_match(b"h[a-b]llo", b"hbllo"));
        assert!(glob_match(b"h[b-a]llo", b"hbllo"));
        assert!(glob_match(b"a\\*b", b"a*b"));
        assert!(!glob_match(b"a\\*b", b"axb"));
        assert!(glob_match(b"user:*:name", b"user:42:name"));
        assert!(!glob_match(b"user:*:name", b"user:42:names"));
        assert!(glob_match(b"*a*b*c", b"xxaxxbxxc"));
        assert!(glob_match(b"[\\]]", b"]"));
        assert!(glob_match(b"a[bc", b"ab"));
        assert!(glob_match_nocase(b"MaX*", b"maxmemory"));
        assert!(!glob_match(b"a", b"ab"));
        assert!(glob_match(b"\x00*", b"\x00\xff"));
    }

    #[test]
    fn pathological_is_fast() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 5000];
        assert!(!glob_match(p, &s));
    }
}
