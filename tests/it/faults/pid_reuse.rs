//! pid_reuse
