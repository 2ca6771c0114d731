//! Zipmap: the blob of RDB type 9 (small hashes, Redis 2.4 only). Read-only.
//!
//! ```text
//! zmlen(1) { len key len free value <free bytes> }* 0xFF
//! len = 1 byte if < 254, else 0xFE + u32 (LE in practice)
//! ```

type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes a zipmap into (field, value) pairs.
pub fn parse(blob: &[u8]) -> Result<Vec<Pair<'_>>, String> {
    if blob.len() < 2 {
        return Err(format!("zipmap of {} bytes is too short", blob.len()));
    }
    let mut p = 1;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<Option<usize>, String> {
        match blob.get(*p) {
            None => Err("zipmap runs past the end".into()),
            Some(255) => Ok(None),
            Some(254) => {
                let d = blob
                    .get(*p + 1..*p + 5)
                    .ok_or_else(|| "zipmap length runs past the end".to_string())?;
                *p += 5;
                Ok(Some(u32::from_le_bytes(d.try_into().unwrap()) as usize))
            }
            Some(&b) => {
                *p += 1;
                Ok(Some(b as usize))
            }
        }
    };
    let take = |p: &mut usize, n: usize| -> Result<&[u8], String> {
        let s = blob
            .get(*p..p.saturating_add(n))
            .ok_or_else(|| format!("zipmap entry at byte {p} runs past the end"))?;
        *p += n;
        Ok(s)
    };
    while let Some(klen) = len_at(&mut p)? {
        let key = take(&mut p, klen)?;
        let Some(vlen) = len_at(&mut p)? else {
            return Err(format!("zipmap field at byte {p} has no value"));
        };
        let free = take(&mut p, 1)?[0] as usize;
        let val = take(&mut p, vlen)?;
        take(&mut p, free)?;
        out.push((key, val));
    }
    if p + 1 != blob.len() {
        return Err(format!(
            "zipmap terminator at byte {p} is not the last byte"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_free_space() {
        let zm = [
            2, 2, b'f', b'1', 2, 1, b'v', b'1', 0, 1, b'g', 1, 0, b'x', 0xff,
        ];
        assert_eq!(
            parse(&zm).unwrap(),
            vec![(&b"f1"[..], &b"v1"[..]), (&b"g"[..], &b"x"[..])]
        );
        for cut in 0..zm.len() {
            assert!(parse(&zm[..cut]).is_err());
        }
    }
}
