//! Reader cases no fixture covers (files from Redis 7.2/7.4, modules,
//! cluster slot info), built by hand here, plus writer round trips.

use super::writer::{put_len, put_string};
use super::*;

fn file(version: u32, body: &[u8]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    f.extend_from_slice(body);
    f.push(opcodes::EOF);
    let crc = crc64::crc64(0, &f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn read(bytes: &[u8]) -> Result<RdbFile, Error> {
    let mut r = RdbReader::new(bytes, "test.rdb", Some(bytes.len() as u64))?;
    let mut out = RdbFile {
        version: r.version(),
        ..RdbFile::default()
    };
    while let Some(item) = r.next_item()? {
        match item {
            RdbItem::Entry(e) => out.entries.push(e),
            RdbItem::Aux { key, value } => out.aux.push((key, value)),
            RdbItem::Function(f) => out.functions.push(f),
            RdbItem::ModuleAux { module, .. } => out.module_aux.push(module),
            RdbItem::ResizeDb { .. } => {}
        }
    }
    Ok(out)
}

fn s(out: &mut Vec<u8>, x: &[u8]) {
    put_string(out, x, false);
}

fn b(x: &str) -> Vec<u8> {
    x.as_bytes().to_vec()
}

#[test]
fn hash_field_expiry_types() {
    let mut body = Vec::new();
    // Type 24 (7.4 GA): minExpire, then (ttl, field, value); ttl 0 = none,
    // else expireAt = ttl + minExpire - 1.
    body.push(types::HASH_METADATA);
    s(&mut body, b"h24");
    body.extend_from_slice(&5_000_000_000_000u64.to_le_bytes());
    put_len(&mut body, 2);
    put_len(&mut body, 0);
    s(&mut body, b"f1");
    s(&mut body, b"v1");
    put_len(&mut body, 11);
    s(&mut body, b"f2");
    s(&mut body, b"v2");
    // Type 25: minExpire, listpack of (field, value, ttl) triples.
    body.push(types::HASH_LISTPACK_EX);
    s(&mut body, b"h25");
    body.extend_from_slice(&0u64.to_le_bytes());
    let mut lp = listpack::Builder::new();
    for x in ["a", "1", "0", "b", "2", "6000000000000"] {
        lp.push(x.as_bytes());
    }
    s(&mut body, &lp.finish());
    // Type 25 without any TTL: a plain hash.
    body.push(types::HASH_LISTPACK_EX);
    s(&mut body, b"plain");
    body.extend_from_slice(&0u64.to_le_bytes());
    let mut lp = listpack::Builder::new();
    for x in ["a", "1", "0"] {
        lp.push(x.as_bytes());
    }
    s(&mut body, &lp.finish());
    // Type 22 (pre-GA): absolute ttl, no minExpire.
    body.push(types::HASH_METADATA_PRE_GA);
    s(&mut body, b"h22");
    put_len(&mut body, 1);
    put_len(&mut body, 7_000_000_000_000);
    s(&mut body, b"f");
    s(&mut body, b"v");
    let f = read(&file(12, &body)).unwrap();
    assert_eq!(
        f.entries[0].value,
        RdbValue::HashTtl(vec![
            (b("f1"), b("v1"), None),
            (b("f2"), b("v2"), Some(5_000_000_000_010)),
        ])
    );
    assert_eq!(
        f.entries[1].value,
        RdbValue::HashTtl(vec![
            (b("a"), b("1"), None),
            (b("b"), b("2"), Some(6_000_000_000_000)),
        ])
    );
    assert_eq!(f.entries[2].value, RdbValue::Hash(vec![(b("a"), b("1"))]));
    assert_eq!(
        f.entries[3].value,
        RdbValue::HashTtl(vec![(b("f"), b("v"), Some(7_000_000_000_000))])
    );
    // RDB 10 cannot carry field TTLs: the writer refuses rather than drop them.
    let e = dump_payload(&f.entries[0].value).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn set_listpack_stream_v3_slot_info_and_seconds_expiry() {
    let mut body = Vec::new();
    // SLOT_INFO (7.4 cluster): three lengths, ignored.
    body.push(opcodes::SLOT_INFO);
    put_len(&mut body, 42);
    put_len(&mut body, 1);
    put_len(&mut body, 0);
    body.push(opcodes::EXPIRETIME);
    body.extend_from_slice(&2_000_000_000u32.to_le_bytes());
    body.push(types::SET_LISTPACK);
    s(&mut body, b"set");
    let mut lp = listpack::Builder::new();
    for x in ["x", "7", "-1"] {
        lp.push(x.as_bytes());
    }
    s(&mut body, &lp.finish());
    // A stream of type 21: consumers carry an active time.
    let entries = vec![StreamEntry {
        id: StreamId::new(5, 1),
        fields: vec![(b("f"), b("v"))],
    }];
    let nodes = stream::encode_nodes(
        &entries,
        stream::NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        },
    );
    body.push(types::STREAM_LISTPACKS_3);
    s(&mut body, b"st");
    put_len(&mut body, 1);
    s(&mut body, &nodes[0].0.to_be_bytes());
    s(&mut body, &nodes[0].1);
    for v in [1u64, 5, 1, 5, 1, 0, 0, 1, 1] {
        put_len(&mut body, v); // length, last id, first id, max deleted, entries added, groups
    }
    s(&mut body, b"g");
    for v in [5u64, 1, 1, 1] {
        put_len(&mut body, v); // last delivered, entries read, PEL size
    }
    body.extend_from_slice(&StreamId::new(5, 1).to_be_bytes());
    body.extend_from_slice(&123u64.to_le_bytes());
    put_len(&mut body, 2);
    put_len(&mut body, 1);
    s(&mut body, b"c");
    body.extend_from_slice(&100u64.to_le_bytes());
    body.extend_from_slice(&200u64.to_le_bytes());
    put_len(&mut body, 1);
    body.extend_from_slice(&StreamId::new(5, 1).to_be_bytes());
    let f = read(&file(11, &body)).unwrap();
    assert_eq!(f.entries[0].expire_at_ms, Some(2_000_000_000_000));
    assert_eq!(
        f.entries[0].value,
        RdbValue::Set(vec![b("x"), b("7"), b("-1")])
    );
    let RdbValue::Stream(st) = &f.entries[1].value else {
        panic!()
    };
    assert_eq!(st.entries, entries);
    let g = &st.groups[0];
    assert_eq!(g.entries_read, Some(1));
    assert_eq!(g.pel[0].delivery_count, 2);
    assert_eq!(g.consumers[0].seen_time_ms, 100);
    assert_eq!(g.consumers[0].active_time_ms, 200);
    // Written back as RDB 10 (type 19) and read again: same stream.
    let p = dump_payload(&f.entries[1].value).unwrap();
    assert_eq!(p[0], types::STREAM_LISTPACKS_2);
    let RdbValue::Stream(back) = parse_payload(&p).unwrap() else {
        panic!()
    };
    assert_eq!(back.entries, st.entries);
    assert_eq!(back.groups[0].consumers[0].active_time_ms, 100); // v2 has none: seen time
}

#[test]
fn modules_are_skipped_or_kept_opaque() {
    // Module id for "mymodtype" with encver 3.
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = b"mymodtype".iter().fold(0u64, |acc, c| {
        (acc << 6) | CHARSET.iter().position(|x| x == c).unwrap() as u64
    }) << 10
        | 3;
    assert_eq!(module_name(id), ("mymodtype".to_string(), 3));
    let fields = |body: &mut Vec<u8>| {
        put_len(body, 2); // UINT
        put_len(body, 77);
        put_len(body, 1); // SINT
        put_len(body, 5);
        put_len(body, 3); // FLOAT
        body.extend_from_slice(&1.5f32.to_le_bytes());
        put_len(body, 4); // DOUBLE
        body.extend_from_slice(&2.5f64.to_le_bytes());
        put_len(body, 5); // STRING
        s(body, b"payload");
        put_len(body, 0); // EOF
    };
    let mut body = Vec::new();
    body.push(opcodes::MODULE_AUX);
    put_len(&mut body, id);
    put_len(&mut body, 2);
    put_len(&mut body, 1);
    fields(&mut body);
    body.push(types::MODULE_2);
    s(&mut body, b"mk");
    put_len(&mut body, id);
    fields(&mut body);
    body.push(types::STRING);
    s(&mut body, b"after");
    s(&mut body, b"ok");
    let f = read(&file(10, &body)).unwrap();
    assert_eq!(f.module_aux, vec!["mymodtype".to_string()]);
    let RdbValue::Module(m) = &f.entries[0].value else {
        panic!()
    };
    assert_eq!(m.name(), "mymodtype");
    assert_eq!(
        m.fields,
        vec![
            ModuleField::UInt(77),
            ModuleField::SInt(5),
            ModuleField::Float(1.5),
            ModuleField::Double(2.5),
            ModuleField::Str(b("payload")),
        ]
    );
    assert_eq!(f.entries[1].value, RdbValue::Str(b("ok")));
    // Written back, byte for byte the same value.
    let p = dump_payload(&f.entries[0].value).unwrap();
    assert_eq!(parse_payload(&p).unwrap(), f.entries[0].value);
}

#[test]
fn refusals_are_clean_errors() {
    for (body, want) in [
        (vec![opcodes::FUNCTION_PRE_GA], "pre-release function"),
        (vec![types::MODULE_PRE_GA, 1, b'k'], "type 6"),
        (vec![8, 1, b'k'], "unknown RDB type 8"),
        (vec![types::STRING, 0xC5], "unknown string encoding"),
        (vec![types::STRING, 0x82], "invalid length byte"),
        (
            vec![types::SET, 1, b'k', 2, 1, b'a', 1, b'a'],
            "duplicate set member",
        ),
        (
            vec![types::LIST, 1, b'k', 0x81, 0, 0, 0, 1, 0, 0, 0, 0],
            "remaining",
        ),
    ] {
        let e = read(&file(10, &body)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupt);
        assert!(e.to_string().contains(want), "{want}: {e}");
        assert!(
            e.to_string().contains("test.rdb: corrupt RDB at offset"),
            "{e}"
        );
    }
    // A NaN score in a type 3 zset.
    let e = read(&file(9, &[types::ZSET, 1, b'z', 1, 1, b'm', 253])).unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
    // No EOF marker.
    let e = read(b"REDIS0010").unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    // Unknown source length: a huge declared string must fail at the real
    // end of input, not allocate first.
    let mut huge = b"REDIS0010".to_vec();
    huge.extend_from_slice(&[
        types::STRING,
        1,
        b'k',
        0x81,
        0,
        0,
        0,
        0x10,
        0,
        0,
        0,
        0,
        1,
        2,
        3,
    ]);
    let mut r = RdbReader::new(&huge[..], "stream", None).unwrap();
    let e = r.next_item().unwrap_err();
    assert!(e.to_string().contains("end of file"), "{e}");
}

#[test]
fn writer_encodings_follow_redis_7_0() {
    let opts = WriteOptions::default();
    let t = |v: RdbValue| writer::encode_value(&v, &opts).unwrap()[0];
    let strs = |xs: &[&str]| xs.iter().map(|x| b(x)).collect::<Vec<_>>();
    assert_eq!(t(RdbValue::Str(b("x"))), types::STRING);
    assert_eq!(t(RdbValue::List(strs(&["a"]))), types::LIST_QUICKLIST_2);
    assert_eq!(t(RdbValue::Set(strs(&["1", "-5"]))), types::SET_INTSET);
    assert_eq!(t(RdbValue::Set(strs(&["1", "x"]))), types::SET);
    assert_eq!(t(RdbValue::Set(strs(&["007"]))), types::SET);
    let many: Vec<Vec<u8>> = (0..513).map(|i: i32| i.to_string().into_bytes()).collect();
    assert_eq!(t(RdbValue::Set(many)), types::SET);
    assert_eq!(t(RdbValue::ZSet(vec![(b("m"), 1.0)])), types::ZSET_LISTPACK);
    assert_eq!(
        t(RdbValue::ZSet(vec![(vec![b'm'; 65], 1.0)])),
        types::ZSET_2
    );
    assert_eq!(
        t(RdbValue::Hash(vec![(b("f"), b("v"))])),
        types::HASH_LISTPACK
    );
    assert_eq!(
        t(RdbValue::Hash(vec![(b("f"), vec![b'v'; 65])])),
        types::HASH
    );
    // String encodings, as Redis: ints in int32 as INT8/16/32, others raw.
    let enc = |x: &str| {
        let mut o = Vec::new();
        put_string(&mut o, x.as_bytes(), true);
        o
    };
    assert_eq!(enc("-128"), [0xC0, 0x80]);
    assert_eq!(enc("32767"), [0xC1, 0xff, 0x7f]);
    assert_eq!(enc("2147483647"), [0xC2, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(enc("2147483648")[0], 10);
    assert_eq!(enc("007")[0], 3);
    assert_eq!(enc(&"a".repeat(20))[0], 20);
    assert_eq!(enc(&"a".repeat(21))[0], 0xC3);
    // Zset listpack scores: integers as ints, others %.17g, sorted.
    let z = RdbValue::ZSet(vec![(b("b"), 0.1), (b("a"), f64::INFINITY), (b("c"), -3.0)]);
    let p = dump_payload(&z).unwrap();
    let RdbValue::ZSet(back) = parse_payload(&p).unwrap() else {
        panic!()
    };
    assert_eq!(
        back,
        vec![(b("c"), -3.0), (b("b"), 0.1), (b("a"), f64::INFINITY)]
    );
    assert!(dump_payload(&RdbValue::ZSet(vec![(b("n"), f64::NAN)])).is_err());
    assert_eq!(
        dump_payload(&RdbValue::List(vec![])).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    // The file writer skips empty collections, as Redis's loader would.
    let mut w = RdbWriter::new(Vec::new());
    w.select_db(0, 2, 0).unwrap();
    w.entry(b"empty", &RdbValue::Set(vec![]), None).unwrap();
    w.entry(b"k", &RdbValue::Str(b("v")), None).unwrap();
    let f = read(&w.finish().unwrap()).unwrap();
    assert_eq!(f.entries.len(), 1);
}

#[test]
fn writer_round_trip_with_aux_functions_and_lru() {
    let mut w = RdbWriter::with_options(
        Vec::new(),
        WriteOptions {
            aof_base: true,
            ctime: Some(1_700_000_000),
            ..WriteOptions::default()
        },
    );
    w.aux(b"custom", b"x").unwrap();
    w.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .unwrap();
    let mut e = RdbEntry::new(
        2,
        b("k"),
        RdbValue::List((0..5000).map(|i: i32| i.to_string().into_bytes()).collect()),
    );
    e.lru_idle = Some(30);
    e.expire_at_ms = Some(4_102_444_800_000);
    w.write_entry(&e).unwrap();
    let mut e2 = RdbEntry::new(5, b("z"), RdbValue::Str(vec![b'q'; 1000]));
    e2.lfu_freq = Some(9);
    w.write_entry(&e2).unwrap();
    let bytes = w.finish().unwrap();
    assert_eq!(
        crc64::crc64(0, &bytes),
        0,
        "a valid trailer makes the whole-file CRC 0"
    );
    let f = read(&bytes).unwrap();
    assert_eq!(f.entries, vec![e, e2]);
    assert_eq!(f.functions.len(), 1);
    let aux: Vec<(String, String)> = f
        .aux
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into(),
                String::from_utf8_lossy(v).into(),
            )
        })
        .collect();
    assert!(aux.contains(&("aof-base".into(), "1".into())));
    assert!(aux.contains(&("ctime".into(), "1700000000".into())));
    assert!(aux.contains(&("custom".into(), "x".into())));
}

/// `flat_lists` reads the same elements as the default `List` form, for
/// every quicklist node kind (listpack nodes with integers and strings,
/// compressed nodes, plain nodes for big elements).
#[test]
fn flat_lists_hold_the_same_elements() {
    let mut elems: Vec<Vec<u8>> = (0..3000).map(|i: i32| i.to_string().into_bytes()).collect();
    elems.extend(
        (0..500).map(|i| format!("message {i} with some text, hello hello hello").into_bytes()),
    );
    elems.push(vec![b'x'; 20_000]); // a plain node
    elems.push(b"-17".to_vec());
    let mut w = RdbWriter::new(Vec::new());
    w.write_entry(&RdbEntry::new(0, b("l"), RdbValue::List(elems.clone())))
        .unwrap();
    let bytes = w.finish().unwrap();
    let opts = ReadOptions {
        flat_lists: true,
        ..Default::default()
    };
    let mut r =
        RdbReader::with_options(&bytes[..], "t.rdb", Some(bytes.len() as u64), opts).unwrap();
    let mut got = None;
    while let Some(item) = r.next_item().unwrap() {
        if let RdbItem::Entry(e) = item {
            got = Some(e.value);
        }
    }
    let Some(RdbValue::ListFlat(flat)) = got else {
        panic!("expected a flat list: {got:?}")
    };
    let flat: Vec<Vec<u8>> = flat.iter().map(|e| e.to_vec()).collect();
    assert_eq!(flat, elems);
    assert_eq!(
        read(&bytes).unwrap().entries[0].value,
        RdbValue::List(elems)
    );
}
