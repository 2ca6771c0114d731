//! Ziplist: the compact blob of RDB types 10, 12, 13 and 14 (nodes), written
//! by Redis 2.6 to 6.2. emberkv only reads it.
//!
//! ```text
//! u32 zlbytes | u32 zltail (offset of the last entry) | u16 zllen (65535 = count) | entry* | 0xFF
//! entry = prevlen (1 byte < 254, or 0xFE + u32 LE) | encoding | data
//! ```

use super::listpack::LpItem;

/// Decodes a ziplist, checking sizes, the tail offset, every entry's
/// `prevlen` and the element count.
pub fn parse(blob: &[u8]) -> Result<Vec<LpItem<'_>>, String> {
    if blob.len() < 11 {
        return Err(format!(
            "ziplist of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let zlbytes = u32::from_le_bytes(blob[0..4].try_into().unwrap()) as usize;
    if zlbytes != blob.len() {
        return Err(format!(
            "ziplist header says {zlbytes} bytes but the blob has {}",
            blob.len()
        ));
    }
    let zltail = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes([blob[8], blob[9]]) as usize;
    let mut items = Vec::with_capacity(count.min(blob.len() / 2));
    let mut p = 10;
    let mut prev_len = 0usize;
    let mut last_start = None;
    loop {
        let Some(&b) = blob.get(p) else {
            return Err("ziplist has no 0xFF terminator".into());
        };
        if b == 0xFF {
            if p + 1 != blob.len() {
                return Err(format!(
                    "ziplist terminator at byte {p} is not the last byte"
                ));
            }
            break;
        }
        let start = p;
        let need = |from: usize, n: usize| -> Result<&[u8], String> {
            blob.get(from..from + n)
                .ok_or_else(|| format!("ziplist entry at byte {start} runs past the end"))
        };
        let prevlen = if b < 254 {
            p += 1;
            b as usize
        } else if b == 254 {
            let d = need(p + 1, 4)?;
            p += 5;
            u32::from_le_bytes(d.try_into().unwrap()) as usize
        } else {
            return Err(format!("invalid ziplist prevlen byte at byte {p}"));
        };
        if prevlen != prev_len {
            return Err(format!(
                "ziplist entry at byte {start}: prevlen {prevlen}, previous entry is {prev_len} bytes"
            ));
        }
        let e = need(p, 1)?[0];
        let item = match e >> 6 {
            0 => {
                let len = (e & 0x3f) as usize;
                let s = need(p + 1, len)?;
                p += 1 + len;
                LpItem::Str(s)
            }
            1 => {
                let d = need(p, 2)?;
                let len = (((d[0] & 0x3f) as usize) << 8) | d[1] as usize;
                let s = need(p + 2, len)?;
                p += 2 + len;
                LpItem::Str(s)
            }
            2 => {
                if e != 0x80 {
                    return Err(format!("invalid ziplist encoding 0x{e:02x} at byte {p}"));
                }
                let d = need(p + 1, 4)?;
                let len = u32::from_be_bytes(d.try_into().unwrap()) as usize;
                let s = need(p + 5, len)?;
                p += 5 + len;
                LpItem::Str(s)
            }
            _ => {
                let (v, n) = match e {
                    0xC0 => {
                        let d = need(p + 1, 2)?;
                        (i16::from_le_bytes([d[0], d[1]]) as i64, 2)
                    }
                    0xD0 => {
                        let d = need(p + 1, 4)?;
                        (i32::from_le_bytes(d.try_into().unwrap()) as i64, 4)
                    }
                    0xE0 => {
                        let d = need(p + 1, 8)?;
                        (i64::from_le_bytes(d.try_into().unwrap()), 8)
                    }
                    0xF0 => {
                        let d = need(p + 1, 3)?;
                        ((i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8) as i64, 3)
                    }
                    0xFE => (need(p + 1, 1)?[0] as i8 as i64, 1),
                    0xF1..=0xFD => ((e & 0x0f) as i64 - 1, 0),
                    _ => return Err(format!("invalid ziplist encoding 0x{e:02x} at byte {p}")),
                };
                p += 1 + n;
                LpItem::Int(v)
            }
        };
        items.push(item);
        prev_len = p - start;
        last_start = Some(start);
    }
    let expect_tail = last_start.unwrap_or(10);
    if zltail != expect_tail {
        return Err(format!(
            "ziplist tail offset {zltail} but the last entry is at byte {expect_tail}"
        ));
    }
    if count != 65535 && count != items.len() {
        return Err(format!(
            "ziplist header says {count} entries but it holds {}",
            items.len()
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist built by hand: "hi", 12 (immediate), -2 (int8), 300 (int16).
    fn sample() -> Vec<u8> {
        let entries: Vec<Vec<u8>> = vec![
            vec![0x02, b'h', b'i'],
            vec![0xFD],
            vec![0xFE, 0xFE],
            vec![0xC0, 0x2C, 0x01],
        ];
        let mut body = Vec::new();
        let mut prev = 0;
        let mut tail = 0;
        for e in &entries {
            tail = 10 + body.len();
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = e.len() + 1;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&(tail as u32).to_le_bytes());
        zl.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        zl
    }

    #[test]
    fn decodes() {
        let zl = sample();
        assert_eq!(
            parse(&zl).unwrap(),
            [
                LpItem::Str(b"hi"),
                LpItem::Int(12),
                LpItem::Int(-2),
                LpItem::Int(300)
            ]
        );
    }

    #[test]
    fn damaged_ziplists_error() {
        let zl = sample();
        for cut in 0..zl.len() {
            assert!(parse(&zl[..cut]).is_err());
        }
        for i in 0..zl.len() {
            for bit in 0..8 {
                let mut x = zl.clone();
                x[i] ^= 1 << bit;
                let _ = parse(&x);
            }
        }
    }
}
