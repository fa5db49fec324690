//! Fleet verdicts: nodes grouped (pool, GPU models, driver), each group judged once.
//!
//! (Stub: being written.)

use super::Node;
use crate::arch::{Cc, CodeSet};
use crate::coverage::Verdict;
use crate::diagnostic::Diagnostic;
use crate::toolkit::Toolkit;
use crate::version::Version;

/// How a node group fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Every GPU model of the group runs the build under the group's driver.
    Runs,
    /// Some GPU model cannot (no code for it, or the driver is too old).
    Fails,
    /// A GPU or the driver could not be told.
    Unknown,
    /// The nodes have no GPU.
    NoGpu,
}

/// One GPU model of a group, judged.
#[derive(Clone, Debug)]
pub struct GpuOutcome {
    pub name: String,
    pub cc: Option<Cc>,
    pub status: Status,
    /// The coverage verdict under the group's driver, where the capability is known.
    pub verdict: Option<Verdict>,
    /// Why, in words: "sm_80 cubin", "the CUDA 12.4 runtime needs driver >= 525.60.13".
    pub reason: String,
}

/// Nodes that share a pool, GPU models and driver, judged together.
#[derive(Clone, Debug)]
pub struct Group {
    /// The pool name where there is one, else the GPU models and driver.
    pub name: String,
    /// Indices into the node list.
    pub nodes: Vec<usize>,
    pub driver: Option<Version>,
    pub gpus: Vec<GpuOutcome>,
    pub status: Status,
    /// The first reason the group fails or is unknown; empty when it runs.
    pub reason: String,
}

/// Every group, and a diagnostic per group that cannot run (`node-cannot-run`).
#[derive(Clone, Debug, Default)]
pub struct FleetVerdict {
    pub groups: Vec<Group>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Judges `codes` (built by `toolkit`, where known) on every node.
pub fn judge(_nodes: &[Node], _codes: &CodeSet, _toolkit: Option<&Toolkit>) -> FleetVerdict {
    FleetVerdict::default()
}
