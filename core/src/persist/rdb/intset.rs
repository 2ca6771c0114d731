//! Intset: the blob of RDB type 11 (sets whose members are all integers).
//!
//! ```text
//! u32 encoding (2, 4 or 8 bytes per element) | u32 length | length × intN (LE, strictly ascending)
//! ```

/// Decodes an intset, checking its encoding, size and strict ordering.
pub fn parse(blob: &[u8]) -> Result<Vec<i64>, String> {
    if blob.len() < 8 {
        return Err(format!(
            "intset of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let enc = u32::from_le_bytes(blob[0..4].try_into().unwrap()) as usize;
    let len = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    if !matches!(enc, 2 | 4 | 8) {
        return Err(format!("intset encoding {enc} is not 2, 4 or 8"));
    }
    if (blob.len() - 8) as u64 != enc as u64 * len as u64 {
        return Err(format!(
            "intset of {len} × {enc}-byte members needs {} bytes, the blob has {}",
            8 + enc as u64 * len as u64,
            blob.len()
        ));
    }
    let mut out = Vec::with_capacity(len);
    for c in blob[8..].chunks_exact(enc) {
        let v = match enc {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return Err("intset members are not strictly ascending".into());
        }
        out.push(v);
    }
    Ok(out)
}

/// Encodes sorted, distinct integers as an intset of the narrowest width.
pub fn build(sorted: &[i64]) -> Vec<u8> {
    let enc: usize = sorted.iter().fold(2, |w, &v| {
        if v < i32::MIN as i64 || v > i32::MAX as i64 {
            8
        } else if (v < i16::MIN as i64 || v > i16::MAX as i64) && w < 4 {
            4
        } else {
            w
        }
    });
    let mut out = Vec::with_capacity(8 + enc * sorted.len());
    out.extend_from_slice(&(enc as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        match enc {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        for set in [
            vec![-5i64, 1, 32767],
            vec![-100000, 1, 100000],
            vec![i64::MIN, 1, 5000000000, i64::MAX],
            vec![],
        ] {
            let b = build(&set);
            assert_eq!(parse(&b).unwrap(), set);
        }
        assert_eq!(build(&[1, 40000])[0], 4);
        assert_eq!(build(&[1, 1 << 40])[0], 8);
    }

    #[test]
    fn rejects_bad() {
        assert!(parse(&build(&[1, 2])[..11]).is_err());
        let mut b = build(&[1, 2]);
        b[8] = 5; // 5, 2: not ascending
        assert!(parse(&b).is_err());
        let mut b = build(&[1, 2]);
        b[0] = 3;
        assert!(parse(&b).is_err());
    }
}
