//! `percall` with emberkv's counting allocator installed, as the shipped
//! binaries have it: the difference to `percall` is what counting every
//! allocation costs per command (see `percall.rs` for how to count).

#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

#[path = "percall.rs"]
mod percall;

fn main() {
    percall::main()
}
