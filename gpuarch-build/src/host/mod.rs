//! Host probing for `cargo gpuarch doctor`.
//!
//! (Stub: being written.)
