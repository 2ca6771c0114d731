//! Small shared helpers: Redis's number rules, glob patterns, a fast RNG,
//! `sdscatrepr` quoting.
pub mod glob;
pub mod hugepage;
pub mod number;
pub mod repr;
pub mod rng;
