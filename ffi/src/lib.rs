//! libemberkv: emberkv's C ABI (`include/emberkv.h`, generated from these
//! files by cbindgen; see `ffi/build.rs`).
//!
//! Rules for whoever adds a function (the header's preamble states them for
//! C users): prefix `ekv_`; opaque handles; fallible calls return an
//! `ekv_status` and write out-parameters only on `EKV_OK`; binary inputs are
//! pointer + length and are copied; every body runs inside
//! `status::guard` / `guard_value` (the panic boundary); NULL and bad
//! arguments are `EKV_ERR_MISUSE`; every `*_free` accepts NULL; each doc
//! comment states ownership and thread-safety, since it becomes the header.
//! Bindings hold no engine logic: arguments in, `Reply` out, nothing more.

// C names for C types.
#![allow(non_camel_case_types)]
// Every exported `unsafe fn` has the same safety contract, the C one, stated
// once in the header's preamble (cbindgen.toml): each pointer is NULL or
// valid for what its type and length say, and handles are live. A
// per-function "# Safety" section would repeat it in every C doc comment.
#![allow(clippy::missing_safety_doc)]

/// Counts allocations so `maxmemory` and INFO `used_memory` see real bytes
/// (feature `counting-alloc`, on by default: see Cargo.toml).
#[cfg(feature = "counting-alloc")]
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

mod db;
mod listen;
mod pubsub;
mod reply;
mod status;

pub use db::*;
pub use listen::*;
pub use pubsub::*;
pub use reply::*;
pub use status::*;
