//! Fleets: the GPUs and drivers that already exist somewhere else (nvidia-smi dumps,
//! nvidia-smi tables, Kubernetes nodes with GPU Feature Discovery labels) read into one
//! model, turned into targets and a driver floor, and judged node group by node group.
//!
//! Every input node is kept: a node whose GPU or driver cannot be told is reported, never
//! dropped.

pub mod affinity;
pub mod kube;
pub mod names;
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
    /// The node's labels that scheduling constraints are written on ([`SCHEDULING_LABELS`]
    /// and the pool labels), as written, sorted by key.
    pub labels: Vec<(&'static str, String)>,
    /// Why the node's GPUs or driver could not be read (nvidia-smi error text, malformed
    /// labels): the node is kept, and judged "unknown".
    pub problem: Option<String>,
}

/// The labels a node keeps for nodeAffinity and reports: what a verdict depends on (GPU
/// Feature Discovery's capability and driver labels, both generations), the product, and
/// the node's identity. A fleet of 10,000 nodes keeps these and nothing else.
pub const SCHEDULING_LABELS: &[&str] = &[
    gfd::HOSTNAME,
    "node.kubernetes.io/instance-type",
    gfd::DRIVER_FULL,
    gfd::DRIVER_FORMS[0][0],
    gfd::DRIVER_FORMS[0][1],
    gfd::DRIVER_FORMS[0][2],
    gfd::DRIVER_FORMS[1][0],
    gfd::DRIVER_FORMS[1][1],
    gfd::DRIVER_FORMS[1][2],
    gfd::COMPUTE_MAJOR,
    gfd::COMPUTE_MINOR,
    gfd::COUNT,
    "nvidia.com/gpu.machine",
    gfd::PRODUCT,
    "nvidia.com/mig.strategy",
];

/// The node labels verdicts rest on, named once: GPU Feature Discovery's
/// (NVIDIA/k8s-device-plugin `internal/lm/nvml.go`, `resource.go`) and the node's name.
pub mod gfd {
    pub const PRODUCT: &str = "nvidia.com/gpu.product";
    pub const COUNT: &str = "nvidia.com/gpu.count";
    pub const COMPUTE_MAJOR: &str = "nvidia.com/gpu.compute.major";
    pub const COMPUTE_MINOR: &str = "nvidia.com/gpu.compute.minor";
    pub const DRIVER_FULL: &str = "nvidia.com/cuda.driver-version.full";
    /// The driver's major, minor and revision: the current labels, then the deprecated
    /// ones (GFD before v0.15).
    pub const DRIVER_FORMS: [[&str; 3]; 2] = [
        [
            "nvidia.com/cuda.driver-version.major",
            "nvidia.com/cuda.driver-version.minor",
            "nvidia.com/cuda.driver-version.revision",
        ],
        [
            "nvidia.com/cuda.driver.major",
            "nvidia.com/cuda.driver.minor",
            "nvidia.com/cuda.driver.rev",
        ],
    ];
    pub const HOSTNAME: &str = "kubernetes.io/hostname";
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

/// The line and column of a byte offset in a file that may not be UTF-8 (columns count
/// characters, invalid bytes as one each).
pub(crate) fn byte_location(file: &Path, bytes: &[u8], offset: usize) -> Location {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Location {
        file: file.to_path_buf(),
        line: before.iter().filter(|&&b| b == b'\n').count() as u32 + 1,
        column: String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count() as u32
            + 1,
    }
}

/// The location of `line` (1-based) in `file`, column 1.
pub(crate) fn line_location(file: &Path, line: usize) -> Location {
    Location {
        file: file.to_path_buf(),
        line: line as u32,
        column: 1,
    }
}

/// What an inventory may be, for the help of a file that is none of it.
pub const INPUT_HELP: &str = "pass nvidia-smi output (its table, or --query-gpu=... --format=csv) or `kubectl get nodes -o json`";

/// The kind of inventory a file holds, told from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `kubectl get nodes -o json` or `-o yaml`.
    Kubernetes,
    /// Plain `nvidia-smi` output.
    SmiTable,
    /// `nvidia-smi --query-gpu=... --format=csv` (or its error text).
    SmiCsv,
}

/// Tells an inventory's format: JSON (`{`) or YAML (`apiVersion:`, `kind:`, `items:` at the
/// start of a line) is Kubernetes; a table border or an `NVIDIA-SMI x.y` header is a table;
/// anything else is read as CSV (which also recognizes nvidia-smi's error text).
pub fn sniff(bytes: &[u8]) -> Format {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    // `[` alone is not enough: a shell prompt (`[user@host ~]$ nvidia-smi`) starts many
    // pasted tables.
    let json_array = trimmed
        .strip_prefix('[')
        .is_some_and(|rest| matches!(rest.trim_start().chars().next(), Some('{' | ']') | None));
    if trimmed.starts_with('{') || json_array {
        return Format::Kubernetes;
    }
    let yaml_key = |line: &str| {
        ["apiVersion:", "kind:", "items:", "metadata:"]
            .iter()
            .any(|k| line.starts_with(k))
    };
    if text.lines().any(yaml_key) {
        return Format::Kubernetes;
    }
    if text
        .lines()
        .any(|l| l.contains("NVIDIA-SMI ") && (l.contains("Version") || l.starts_with('|')))
        || text
            .lines()
            .any(|l| l.starts_with("+---") || l.starts_with("|==="))
    {
        return Format::SmiTable;
    }
    Format::SmiCsv
}

/// Reads one inventory file's bytes (`path` names it in messages).
pub fn parse(path: &Path, bytes: &[u8]) -> crate::error::Result<Parsed> {
    parse_releasing(path, bytes, &mut |_| {})
}

/// [`parse`], calling `release(offset)` as the reader moves past each Kubernetes node: the
/// bytes before `offset` are never read again, so a caller that mapped the file can drop
/// those pages and hold one node's worth of a 100 MB inventory at a time.
pub fn parse_releasing(
    path: &Path,
    bytes: &[u8],
    release: &mut dyn FnMut(usize),
) -> crate::error::Result<Parsed> {
    match sniff(bytes) {
        Format::Kubernetes => kube::parse_releasing(path, bytes, release),
        format => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                crate::error::Error::invalid(
                    Diagnostic::error(
                        "bad-inventory",
                        format!(
                            "{} is not UTF-8 text (byte {})",
                            path.display(),
                            e.valid_up_to()
                        ),
                    )
                    .with_help(INPUT_HELP)
                    .at(Some(byte_location(path, bytes, e.valid_up_to()))),
                )
            })?;
            if format == Format::SmiTable {
                smi::parse_table(path, text)
            } else {
                smi::parse_csv(path, text)
            }
        }
    }
}

impl Inventory {
    /// Adds one file's nodes.
    pub fn add(&mut self, path: &Path, parsed: Parsed) {
        self.files.push(path.to_path_buf());
        self.nodes.extend(parsed.nodes);
        self.problems.extend(parsed.problems);
    }

    /// The distinct GPUs of the fleet, each with the first node that has it: the catalog
    /// name where known, else the capability (`7.5`).
    pub fn gpus(&self) -> Vec<(String, Location)> {
        let mut out: Vec<(String, Location)> = Vec::new();
        for node in &self.nodes {
            for gpu in &node.gpus {
                let name = match (gpu.gpu, gpu.cc) {
                    (Some(row), Some(cc)) if row.cc == cc => row.name.to_string(),
                    (_, Some(cc)) => cc.to_string(),
                    (Some(row), None) => row.name.to_string(),
                    (None, None) => continue,
                };
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, node.location.clone()));
                }
            }
        }
        out
    }

    /// The oldest driver of any GPU node, per OS (WSL nodes report their Windows driver),
    /// with the node that has it.
    pub fn oldest_driver(&self, os: crate::catalog::Os) -> Option<(Version, Location)> {
        self.nodes
            .iter()
            .filter(|n| !n.gpus.is_empty() && n.wsl == (os == crate::catalog::Os::Windows))
            .filter_map(|n| n.driver.map(|d| (d, n.location.clone())))
            .min_by(|a, b| a.0.cmp(&b.0))
    }

    /// Makes the fleet part of a manifest: its GPUs join the targets (located at the node
    /// that has them) and its oldest driver lowers the floor. Returns a note naming what the
    /// manifest did not already have.
    pub fn apply_to(&self, manifest: &mut crate::manifest::Manifest) -> Option<Diagnostic> {
        use crate::manifest::Located;
        let known: Vec<Cc> = manifest
            .gpus
            .iter()
            .filter_map(|g| crate::target::resolve(std::slice::from_ref(g), None).ok())
            .flatten()
            .map(|t| t.cc)
            .collect();
        let mut added = Vec::new();
        for (name, location) in self.gpus() {
            let resolved = crate::target::resolve(&[Located::bare(name.clone())], None);
            let covered = resolved
                .as_ref()
                .is_ok_and(|ts| ts.iter().all(|t| known.contains(&t.cc)));
            if !manifest.gpus.iter().any(|g| g.value == name) {
                manifest
                    .gpus
                    .push(Located::new(name.clone(), Some(location)));
                if !covered {
                    added.push(name);
                }
            }
        }
        for os in crate::catalog::Os::ALL {
            if let Some((driver, location)) = self.oldest_driver(os) {
                let floor = manifest.min_driver.slot_mut(os);
                if floor.as_ref().is_none_or(|f| driver < f.value) {
                    *floor = Some(Located::new(driver, Some(location)));
                }
            }
        }
        (!added.is_empty() && !known.is_empty()).then(|| {
            Diagnostic::note(
                "inventory-adds-targets",
                format!(
                    "the inventory has GPUs the manifest does not name: {} (judged as targets too)",
                    added.join(", ")
                ),
            )
            .with_help("add them to the manifest's `gpus` to plan for them without the inventory")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_tells_the_formats_apart() {
        assert_eq!(sniff(b"  {\"kind\": \"List\"}"), Format::Kubernetes);
        assert_eq!(
            sniff(b"[{\"kind\": \"Node\"}]"),
            Format::Kubernetes,
            "refused there, with the reason"
        );
        assert_eq!(
            sniff(b"apiVersion: v1\nitems: []\nkind: List\n"),
            Format::Kubernetes
        );
        assert_eq!(
            sniff(b"[me@gpu-1 ~]$ nvidia-smi\n+-----+\n| NVIDIA-SMI 331.62  Driver Version: 331.62 |\n"),
            Format::SmiTable,
            "a shell prompt is not a JSON array"
        );
        assert_eq!(
            sniff(b"name, compute_cap, driver_version\nTesla T4, 7.5, 535.183.01\n"),
            Format::SmiCsv
        );
        assert_eq!(
            sniff(b"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
            Format::SmiCsv
        );
    }
}
