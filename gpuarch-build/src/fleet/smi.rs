//! nvidia-smi output: `--query-gpu=... --format=csv` dumps and the plain table, every
//! layout generation, and the error text it prints instead.
//!
//! (Stub: being written.)

use std::path::Path;

use super::Parsed;
use crate::error::Result;
use crate::version::Version;

/// What nvidia-smi printed instead of GPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    NoDriver,
    /// "Failed to initialize NVML: Driver/library version mismatch", with the
    /// "NVML library version: X" line newer drivers add.
    VersionMismatch { nvml_library: Option<Version> },
    /// "No devices were found".
    NoDevices,
    /// `Field "compute_cap" is not a valid field to query.` (drivers before 510).
    InvalidField(String),
    /// Any other error line, as printed.
    Other(String),
}

/// Recognizes nvidia-smi's error text; `None` when `text` is ordinary output.
pub fn failure(_text: &str) -> Option<Failure> {
    None
}

/// A `--format=csv` dump (with or without header and units, `host: ` prefixes).
pub fn parse_csv(_file: &Path, _text: &str) -> Result<Parsed> {
    Ok(Parsed::default())
}

/// One or more plain `nvidia-smi` tables.
pub fn parse_table(_file: &Path, _text: &str) -> Result<Parsed> {
    Ok(Parsed::default())
}
