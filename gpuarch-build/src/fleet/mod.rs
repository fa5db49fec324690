//! Fleets: the GPUs and drivers that already exist somewhere else (nvidia-smi dumps,
//! nvidia-smi tables, Kubernetes nodes with GPU Feature Discovery labels) read into one
//! model, turned into targets and a driver floor, and judged node group by node group.
//!
//! Every input node is kept: a node whose GPU or driver cannot be told is reported, never
//! dropped.

pub mod kube;
pub mod smi;
pub mod verdict;

use std::path::{Path, PathBuf};

use crate::arch::Cc;
use crate::catalog::GpuInfo;
use crate::diagnostic::{Diagnostic, Location};
use crate::version::Version;

/// One host or Kubernetes node, as an inventory describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's name (Kubernetes), the host prefix (`host: ...` lines), or where it was
    /// read (`fleet.csv`, `fleet.csv:7`, `hosts.txt (table 3)`).
    pub name: String,
    /// Where the node starts in its file.
    pub location: Location,
    /// The node pool it belongs to, from the cloud's pool label (`cloud.google.com/gke-nodepool`,
    /// `eks.amazonaws.com/nodegroup`, `kubernetes.azure.com/agentpool`, `karpenter.sh/nodepool`, ...).
    pub pool: Option<String>,
    /// One entry per distinct GPU model on the node; empty when the node has no GPU.
    pub gpus: Vec<NodeGpu>,
    /// The kernel driver version ("Driver Version", "KMD Version", GFD `cuda.driver*`).
    pub driver: Option<Version>,
    /// The CUDA version the driver reports ("CUDA Version", GFD `cuda.runtime*`).
    pub driver_cuda: Option<Version>,
    /// Windows driver under WSL: `driver` is the Windows version.
    pub wsl: bool,
    /// The node's labels that matter for scheduling (`nvidia.com/*`, pool labels,
    /// `kubernetes.io/hostname`), as written, for nodeAffinity.
    pub labels: Vec<(String, String)>,
    /// Why the node's GPUs or driver could not be read (nvidia-smi error text, malformed
    /// labels): the node is kept, and judged "unknown".
    pub problem: Option<String>,
}

/// One GPU model on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeGpu {
    /// The name as the inventory wrote it (`NVIDIA A100-SXM4-80GB`, `Tesla-T4`,
    /// `NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`, `Tesla V100-SXM2...`).
    pub reported: String,
    /// The catalog row the name means, where one does.
    pub gpu: Option<&'static GpuInfo>,
    /// The capability: from the inventory where it says (compute_cap column, GFD
    /// `gpu.compute.major/minor`), else from the catalog row.
    pub cc: Option<Cc>,
    /// How many GPUs of this model (at least 1).
    pub count: u32,
    /// The MIG profile (`1g.5gb`) or `enabled`, where MIG is on.
    pub mig: Option<String>,
}

impl NodeGpu {
    /// The name to show: the catalog's, else what the inventory wrote.
    pub fn name(&self) -> &str {
        self.gpu.map_or(self.reported.as_str(), |g| g.name)
    }
}

/// What one inventory file held.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    /// What was odd but not fatal, each at its file and line (unknown GPUs, malformed
    /// labels, CSV rows that could not be read).
    pub problems: Vec<Diagnostic>,
}

/// Every node of every inventory file given.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub files: Vec<PathBuf>,
    pub nodes: Vec<Node>,
    pub problems: Vec<Diagnostic>,
}

/// The location of `line` (1-based) in `file`, column 1.
pub(crate) fn line_location(file: &Path, line: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line: line as u32,
        column: 1,
    }
}
