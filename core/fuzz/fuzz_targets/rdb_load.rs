//! Fuzzes the RDB loader: any bytes must give items or a clean error,
//! never a panic, a hang or an allocation sized by garbage.
//!
//! `cd core/fuzz && cargo +nightly fuzz run rdb_load -- -max_total_time=600`
//! (seed corpus: `mkdir -p corpus/rdb_load && cp ../../../shared/fixtures/rdb/*.rdb corpus/rdb_load/`).
#![no_main]

use emberkv::persist::rdb::{RdbReader, ReadOptions, parse_payload};
use libfuzzer_sys::fuzz_target;

fn load(data: &[u8], known_len: bool, verify_checksum: bool, flat_lists: bool) {
    let opts = ReadOptions {
        verify_checksum,
        flat_lists,
        ..ReadOptions::default()
    };
    let total = known_len.then_some(data.len() as u64);
    if let Ok(mut r) = RdbReader::with_options(data, "fuzz", total, opts) {
        while let Ok(Some(_)) = r.next_item() {}
    }
}

fuzz_target!(|data: &[u8]| {
    // The CRC check would reject nearly every mutant at the end; without it
    // the decoders see the damage as real files would present it.
    load(data, true, false, false);
    load(data, false, false, false);
    // how `Db::open` reads a dump
    load(data, true, false, true);
    let _ = parse_payload(data);
});
