//! placeholder until the engine's pub/sub lands
