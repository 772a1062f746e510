//! storm
