//! awkward
