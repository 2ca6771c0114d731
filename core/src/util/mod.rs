//! Small shared helpers: Redis's number rules, glob patterns, a fast RNG.
pub mod geohash;
pub mod glob;
pub mod hugepage;
pub mod number;
pub mod rng;
