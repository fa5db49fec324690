//! Kubernetes nodes (`kubectl get nodes -o json` or `-o yaml`, a List or one Node) with
//! NVIDIA GPU Feature Discovery (GFD) labels.
//!
//! The labels read, as GFD writes them (NVIDIA/k8s-device-plugin `internal/lm/nvml.go`,
//! `resource.go`, `mig-strategy.go`; `docs/gpu-feature-discovery/README.md`):
//! - `nvidia.com/gpu.product`: the NVML name with spaces as `-` (`NVIDIA-A100-SXM4-80GB`,
//!   `Tesla-T4`), `-MIG-<profile>` appended under the MIG `single` strategy
//!   (`-MIG-INVALID` when the node's MIG layout does not fit it), `-SHARED` appended when
//!   time-slicing or MPS shares the GPU without renaming the resource;
//! - `nvidia.com/gpu.count` (full GPUs; MIG devices under `single`; all physical GPUs under
//!   `mixed`), `nvidia.com/gpu.compute.major`/`.minor`, `nvidia.com/gpu.family`,
//!   `nvidia.com/gpu.memory`, `nvidia.com/mig.strategy`;
//! - under the MIG `mixed` strategy, per profile: `nvidia.com/mig-<profile>.count` and
//!   `.product` (`<model>-MIG-<profile>`);
//! - the driver: `nvidia.com/cuda.driver-version.full` (newer GFD), else
//!   `nvidia.com/cuda.driver-version.major`/`.minor`/`.revision`, else the deprecated
//!   `nvidia.com/cuda.driver.major`/`.minor`/`.rev` (the revision is empty for two-part
//!   versions such as `550.120`, and keeps its zero padding: `535.104.05`);
//! - the CUDA version the driver supports: `nvidia.com/cuda.runtime-version.full`, else
//!   `nvidia.com/cuda.runtime-version.major`/`.minor`, else `nvidia.com/cuda.runtime.major`/`.minor`.
//!
//! GFD labels one product per node, so a node shows more than one [`NodeGpu`] only under
//! the MIG `mixed` strategy: one entry for the whole GPUs left (`nvidia.com/gpu`
//! capacity) and one per MIG profile, all of the same model.
//!
//! Nodes with neither GFD labels nor `nvidia.com/*` capacity are CPU nodes (no GPUs, no
//! problem). Every other node is kept too: where its GPU or driver cannot be told (GPU
//! capacity but no GFD labels, a GPU the catalog does not know and no compute labels, a
//! malformed label) [`Node::problem`] is set and an `inventory-node-unknown` warning says
//! why; where something is odd but the node can still be judged (an unknown GPU with
//! compute labels, labels that disagree with the catalog or with each other, an invalid MIG
//! layout) an `inventory-suspect` warning says what was made of it.

mod json;
mod yaml;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::{byte_location, gfd, line_location, Node, NodeGpu, Parsed};
use crate::arch::Cc;
use crate::catalog;
use crate::diagnostic::{Diagnostic, Location};
use crate::error::{Error, Result};
use crate::version::Version;

/// The labels that name a node's pool, most specific first: GKE, EKS managed node groups,
/// eksctl, AKS (both spellings), Karpenter (v1 and v1alpha5).
pub const POOL_LABELS: &[&str] = &[
    "cloud.google.com/gke-nodepool",
    "eks.amazonaws.com/nodegroup",
    "alpha.eksctl.io/nodegroup-name",
    "kubernetes.azure.com/agentpool",
    "agentpool",
    "karpenter.sh/nodepool",
    "karpenter.sh/provisioner-name",
];

/// How deep JSON may nest before it is refused (a kubectl node nests about ten deep).
const MAX_DEPTH: usize = 128;

const HELP: &str = "write the file with `kubectl get nodes -o json > nodes.json` (or `-o yaml`); \
one node: `kubectl get node NAME -o json`";

/// A node as read, before its labels are interpreted. Strings are borrowed from the input
/// where they hold no escapes.
#[derive(Clone, Debug, Default)]
struct RawNode<'a> {
    /// The line where the node starts.
    line: usize,
    kind: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
    /// Only the labels [`keep_label`] keeps.
    labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Only the resources [`keep_resource`] keeps.
    capacity: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    allocatable: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Where the item ends in the input (JSON lists; 0 where not tracked).
    end: usize,
}

/// One JSON or YAML document, less its items: a List or a single Node (`root`).
#[derive(Clone, Debug, Default)]
struct RawDoc<'a> {
    kind: Option<Cow<'a, str>>,
    kind_line: usize,
    /// Whether it had `items` (each already handed over as it was read).
    has_items: bool,
    root: RawNode<'a>,
}

impl RawNode<'_> {
    /// Empties the node for the next item, keeping its buffers.
    fn reset(&mut self, line: usize) {
        self.line = line;
        self.kind = None;
        self.name = None;
        self.labels.clear();
        self.capacity.clear();
        self.allocatable.clear();
    }
}

/// What a reader hands over as it goes: each item of a List as soon as it is read (the
/// same buffers again for the next one, so a List of any length holds one raw node at a
/// time), and each document when it ends.
enum Read<'r, 'a> {
    Item(&'r mut RawNode<'a>),
    Document(RawDoc<'a>),
}

#[derive(Debug)]
struct SyntaxError {
    offset: usize,
    message: String,
}

/// Whether a label is kept on [`Node::labels`]: what GFD and the device plugin write, the
/// pool, the host name and the instance type, for nodeAffinity and for grouping.
fn keep_label(key: &str) -> bool {
    keep_label_bytes(key.as_bytes())
}

/// [`keep_label`] on a key's bytes, so the JSON scanner decodes only the keys it keeps.
fn keep_label_bytes(key: &[u8]) -> bool {
    // Most labels of a node (`feature.node.kubernetes.io/*`, `beta.*`, `topology.*`) start
    // with a letter none of the kept ones does.
    if !matches!(key.first(), Some(b'n' | b'k' | b'c' | b'e' | b'a')) {
        return false;
    }
    key.starts_with(b"nvidia.com/")
        || key == b"kubernetes.io/hostname"
        || key == b"node.kubernetes.io/instance-type"
        || POOL_LABELS.iter().any(|pool| pool.as_bytes() == key)
}

/// Whether a capacity or allocatable resource is kept: the device plugin's
/// (`nvidia.com/gpu`, `nvidia.com/mig-1g.5gb`, `nvidia.com/gpu.shared`).
fn keep_resource(key: &str) -> bool {
    key.starts_with("nvidia.com/")
}

/// A node list or a single node, JSON or YAML (told apart by the first character).
pub fn parse(file: &Path, bytes: &[u8]) -> Result<Parsed> {
    parse_releasing(file, bytes, &mut |_| {})
}

/// [`parse`], calling `release(offset)` after each List item of a JSON list: nothing before
/// `offset` is read again (see [`super::parse_releasing`]).
pub fn parse_releasing(
    file: &Path,
    bytes: &[u8],
    release: &mut dyn FnMut(usize),
) -> Result<Parsed> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let mut parsed = Parsed::default();
    // A fleet has a few GPU models on many nodes: look each product up once.
    let mut catalog_rows = HashMap::new();
    let mut refused: Option<Error> = None;
    let mut sink = |read: Read<'_, '_>| {
        if refused.is_some() {
            return;
        }
        let raw = match read {
            Read::Item(raw) => raw,
            Read::Document(mut doc) => match document(file, &doc) {
                Ok(true) => {
                    let node =
                        node_from(file, &mut doc.root, &mut catalog_rows, &mut parsed.problems);
                    parsed.nodes.push(node);
                    return;
                }
                Ok(false) => return,
                Err(e) => {
                    refused = Some(e);
                    return;
                }
            },
        };
        if let Some(kind) = raw.kind.as_deref().filter(|k| *k != "Node") {
            refused = Some(refusal(
                file,
                raw.line,
                format!("this item is a `{kind}`, not a Node: the file lists `{kind}` objects, not nodes"),
            ));
            return;
        }
        let node = node_from(file, raw, &mut catalog_rows, &mut parsed.problems);
        parsed.nodes.push(node);
        if raw.end > 0 {
            release(raw.end);
        }
    };
    match first {
        None => return Err(bad(file, bytes, 0, "the file is empty")),
        Some(b'{') => {
            json::parse(bytes, &mut sink).map_err(|e| bad(file, bytes, e.offset, &e.message))?;
        }
        Some(b'[') => {
            let at = bytes.iter().position(|&b| b == b'[').unwrap_or(0);
            return Err(bad(
                file,
                bytes,
                at,
                "a JSON array: kubectl writes a node list as an object with `\"kind\": \"List\"` and `\"items\"`",
            ));
        }
        Some(_) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| bad(file, bytes, e.valid_up_to(), "the file is not UTF-8 text"))?;
            yaml::parse(text, &mut sink).map_err(|e| bad(file, bytes, e.offset, &e.message))?;
        }
    }
    match refused {
        Some(e) => Err(e),
        None => Ok(parsed),
    }
}

fn refusal(file: &Path, line: usize, message: String) -> Error {
    Error::invalid(
        Diagnostic::error("bad-inventory", message)
            .at(Some(line_location(file, line)))
            .with_help(HELP),
    )
}

/// Whether a finished document is itself a Node (`true`) or a List whose items were
/// already read (`false`), or why it is not a node list.
fn document(file: &Path, doc: &RawDoc<'_>) -> Result<bool> {
    match (doc.kind.as_deref(), doc.has_items) {
        (Some("Node"), _) => Ok(true),
        (Some("List" | "NodeList"), _) | (None, true) => Ok(false),
        (Some(kind), _) => Err(refusal(
            file,
            doc.kind_line,
            format!("the file holds a `{kind}`, not Kubernetes nodes"),
        )),
        (None, false) => Err(refusal(
            file,
            doc.root.line,
            "no `kind`: expected a node list (`kind: List` with `items`) or a node (`kind: Node`)"
                .to_string(),
        )),
    }
}

fn bad(file: &Path, bytes: &[u8], offset: usize, message: &str) -> Error {
    let location = byte_location(file, bytes, offset);
    Error::invalid(
        Diagnostic::error(
            "bad-inventory",
            format!("not a Kubernetes node list: {message}"),
        )
        .at(Some(location))
        .with_help(HELP),
    )
}

/// The labels of one node, sorted by key, for lookups.
struct Labels<'r, 'a>(&'r [(Cow<'a, str>, Cow<'a, str>)]);

impl Labels<'_, '_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.0[i].1.as_ref())
    }

    /// A label that is present and not empty.
    fn value(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.trim().is_empty())
    }
}

/// What went wrong with one node's labels, gathered into its problem and warnings.
struct Findings<'p> {
    problems: Vec<String>,
    diagnostics: &'p mut Vec<Diagnostic>,
    location: &'p Location,
    name: &'p str,
}

impl Findings<'_> {
    /// A finding that keeps the verdict from being told: the node is judged unknown.
    fn problem(&mut self, message: String) {
        self.push("inventory-node-unknown", &message);
        self.problems.push(message);
    }

    /// Something odd that the node is still judged despite.
    fn warn(&mut self, message: &str) {
        self.push("inventory-suspect", message);
    }

    fn push(&mut self, code: &'static str, message: &str) {
        self.diagnostics.push(
            Diagnostic::warning(code, format!("node `{}`: {message}", self.name))
            .at(Some(self.location.clone()))
            .with_help(
                "check that GPU Feature Discovery runs on the node (it relabels within a minute), \
or correct the label: `kubectl label node NAME KEY=VALUE --overwrite`",
            ),
        );
    }
}

/// Catalog rows by GPU model as GFD wrote it.
type CatalogRows = HashMap<String, super::names::Identified>;

fn node_from(
    file: &Path,
    raw: &mut RawNode<'_>,
    catalog_rows: &mut CatalogRows,
    diagnostics: &mut Vec<Diagnostic>,
) -> Node {
    let RawNode {
        line,
        name,
        labels,
        capacity,
        allocatable,
        ..
    } = raw;
    let line = *line;
    let location = line_location(file, line);
    let name = match name.take() {
        Some(name) if !name.is_empty() => name.into_owned(),
        _ => format!("{}:{line}", file.display()),
    };
    // kubectl writes labels sorted; a hand-edited file may not.
    if !labels.is_sorted_by(|a, b| a.0 < b.0) {
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        labels.dedup_by(|later, earlier| later.0 == earlier.0);
    }
    let l = Labels(labels);
    let mut findings = Findings {
        problems: Vec::new(),
        diagnostics,
        location: &location,
        name: &name,
    };
    let resources = if capacity.is_empty() {
        allocatable
    } else {
        capacity
    };
    let gpus = gpus(&l, resources, catalog_rows, &mut findings);
    let (driver, driver_cuda) = if gpus.is_empty() {
        (driver(&l).ok().flatten(), driver_cuda(&l).ok().flatten())
    } else {
        let driver = match driver(&l) {
            Ok(Some(v)) => {
                if let Some(old) = old_driver(&l).filter(|old| *old != v) {
                    findings.warn(&format!(
                        "labels `nvidia.com/cuda.driver-version.*` say driver {v}, \
`nvidia.com/cuda.driver.*` say {old}: using {v}"
                    ));
                }
                Some(v)
            }
            Ok(None) => {
                if l.value(gfd::PRODUCT).is_some() {
                    findings.problem(
                        "no driver version label (`nvidia.com/cuda.driver-version.full` or \
`nvidia.com/cuda.driver.major`/`.minor`/`.rev`)"
                            .to_string(),
                    );
                }
                None
            }
            Err(message) => {
                findings.problem(message);
                None
            }
        };
        let driver_cuda = driver_cuda(&l).unwrap_or_else(|message| {
            findings.warn(&message);
            None
        });
        (driver, driver_cuda)
    };
    let pool = POOL_LABELS
        .iter()
        .find_map(|key| l.value(key))
        .map(str::to_string);
    let problem = (!findings.problems.is_empty()).then(|| findings.problems.join("; "));
    drop(findings);
    Node {
        name,
        location,
        pool,
        gpus,
        driver,
        driver_cuda,
        wsl: false,
        labels: labels
            .iter()
            .filter_map(|(k, v)| {
                let key = super::SCHEDULING_LABELS
                    .iter()
                    .chain(POOL_LABELS)
                    .find(|kept| **kept == k.as_ref())?;
                Some((*key, v.to_string()))
            })
            .collect(),
        problem,
    }
}

/// The driver version from the newest label form present.
fn driver(l: &Labels<'_, '_>) -> Result<Option<Version>, String> {
    const FULL: &str = gfd::DRIVER_FULL;
    if let Some(full) = l.value(FULL) {
        return full
            .parse()
            .map(Some)
            .map_err(|_| format!("label `{FULL}` is `{full}`, not a driver version"));
    }
    for [major_key, minor_key, rev_key] in gfd::DRIVER_FORMS {
        let Some(major) = l.get(major_key) else {
            continue;
        };
        let minor = l.get(minor_key).unwrap_or("");
        let rev = l.get(rev_key).unwrap_or("");
        let text = if rev.is_empty() {
            format!("{major}.{minor}")
        } else {
            format!("{major}.{minor}.{rev}")
        };
        return text.parse().map(Some).map_err(|_| {
            format!(
                "labels `{major_key}`/`{minor_key}`/`{rev_key}` are `{major}`/`{minor}`/`{rev}`, not a driver version"
            )
        });
    }
    Ok(None)
}

/// The driver version of the deprecated labels alone, to check the newer ones against.
fn old_driver(l: &Labels<'_, '_>) -> Option<Version> {
    let [major_key, minor_key, rev_key] = gfd::DRIVER_FORMS[1];
    let major = l.get(major_key)?;
    let minor = l.get(minor_key)?;
    match l.get(rev_key).unwrap_or("") {
        "" => format!("{major}.{minor}").parse().ok(),
        rev => format!("{major}.{minor}.{rev}").parse().ok(),
    }
}

/// The CUDA version the driver supports.
fn driver_cuda(l: &Labels<'_, '_>) -> Result<Option<Version>, String> {
    const FULL: &str = "nvidia.com/cuda.runtime-version.full";
    if let Some(full) = l.value(FULL) {
        return full
            .parse()
            .map(Some)
            .map_err(|_| format!("label `{FULL}` is `{full}`, not a CUDA version"));
    }
    const FORMS: [[&str; 2]; 2] = [
        [
            "nvidia.com/cuda.runtime-version.major",
            "nvidia.com/cuda.runtime-version.minor",
        ],
        [
            "nvidia.com/cuda.runtime.major",
            "nvidia.com/cuda.runtime.minor",
        ],
    ];
    for [major_key, minor_key] in FORMS {
        let Some(major) = l.get(major_key) else {
            continue;
        };
        let minor = l.get(minor_key).unwrap_or("");
        return format!("{major}.{minor}").parse().map(Some).map_err(|_| {
            format!(
                "labels `{major_key}`/`{minor_key}` are `{major}`/`{minor}`, not a CUDA version"
            )
        });
    }
    Ok(None)
}

/// The capability GFD wrote, when it wrote one that reads.
fn label_cc(l: &Labels<'_, '_>, findings: &mut Findings<'_>) -> Option<Cc> {
    const MAJOR: &str = gfd::COMPUTE_MAJOR;
    const MINOR: &str = gfd::COMPUTE_MINOR;
    match (l.get(MAJOR), l.get(MINOR)) {
        (None, None) => None,
        (major, minor) => {
            let (major, minor) = (major.unwrap_or(""), minor.unwrap_or(""));
            let cc = Cc::parse_dotted(&format!("{}.{}", major.trim(), minor.trim()));
            if cc.is_none() {
                findings.problem(format!(
                    "labels `{MAJOR}`/`{MINOR}` are `{major}`/`{minor}`, not a compute capability"
                ));
            }
            cc
        }
    }
}

/// A count label or resource quantity; `None` when absent, a warning when malformed.
fn count_of(value: Option<&str>, what: &str, findings: &mut Findings<'_>) -> Option<u32> {
    let value = value?;
    match value.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            findings.warn(&format!("{what} is `{value}`, not a count"));
            None
        }
    }
}

/// Splits GFD's product label into the model and the MIG profile, past any `-SHARED`.
fn gpus(
    l: &Labels<'_, '_>,
    resources: &[(Cow<'_, str>, Cow<'_, str>)],
    catalog_rows: &mut CatalogRows,
    findings: &mut Findings<'_>,
) -> Vec<NodeGpu> {
    let resource = |key: &str| {
        resources
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    };
    let full_capacity = count_of(
        resource("nvidia.com/gpu"),
        "capacity `nvidia.com/gpu`",
        findings,
    );
    let any_capacity = resources.iter().any(|(k, v)| {
        (k == "nvidia.com/gpu" || k.starts_with("nvidia.com/mig-")) && v.trim() != "0"
    });
    let cc_from_labels = label_cc(l, findings);
    let count_label = count_of(l.get(gfd::COUNT), "label `nvidia.com/gpu.count`", findings);

    let Some(product) = l.get(gfd::PRODUCT) else {
        // The GPU Operator marks GPU nodes `nvidia.com/gpu.present` before GFD has run.
        let present = l.get("nvidia.com/gpu.present") == Some("true");
        if !any_capacity && !present && cc_from_labels.is_none() {
            return Vec::new();
        }
        findings.problem(
            "the node has NVIDIA GPUs (`nvidia.com/gpu` capacity or `nvidia.com/gpu.present`) but \
no GPU Feature Discovery labels (`nvidia.com/gpu.product`): its GPU model cannot be told"
                .to_string(),
        );
        return vec![NodeGpu {
            reported: "nvidia.com/gpu".to_string(),
            gpu: None,
            cc: cc_from_labels,
            count: count_label.or(full_capacity).unwrap_or(1).max(1),
            mig: None,
        }];
    };
    let product = product.trim();
    if product.is_empty() {
        findings.problem("label `nvidia.com/gpu.product` is empty".to_string());
    }
    // The same product names nodes by the thousand: identify each once.
    let identified = match catalog_rows.get(product) {
        Some(known) => known.clone(),
        None => catalog_rows
            .entry(product.to_string())
            .or_insert_with(|| super::names::identify(product))
            .clone(),
    };
    let gpu = identified.gpu;
    let invalid_mig = product.to_ascii_uppercase().ends_with("-MIG-INVALID");
    let mig = if invalid_mig {
        Some("INVALID".to_string())
    } else {
        identified.mig
    };
    let model = super::names::base_name(product);
    let cc = match (cc_from_labels, gpu) {
        // Thor is labelled 11.0 by new drivers and 10.1 by old ones: one device.
        (Some(label), Some(row)) if !catalog::same_device(label, row.cc) => {
            findings.warn(&format!(
                "GPU Feature Discovery says `{product}` has compute capability {label}, the catalog \
says {} ({}): using {label}",
                row.cc, row.name
            ));
            Some(label)
        }
        (Some(label), _) => Some(label),
        (None, row) => row.map(|g| g.cc),
    };
    if gpu.is_none() && !product.is_empty() {
        match cc {
            Some(cc) => findings.warn(&format!(
                "GPU `{product}` is not in gpuarch's catalog; judged as compute capability {cc} \
from `nvidia.com/gpu.compute.major`/`.minor`"
            )),
            None => findings.problem(format!(
                "GPU `{product}` is not in gpuarch's catalog and the node has no \
`nvidia.com/gpu.compute.major`/`.minor` labels"
            )),
        }
    }
    if invalid_mig {
        findings.warn(
            "GPU Feature Discovery labels the MIG `single` strategy invalid on this node (GPUs with \
MIG on and off, or more than one MIG profile): it offers no `nvidia.com/gpu` to pods",
        );
    }

    // MIG `mixed`: one resource per profile, each labelled `nvidia.com/mig-<profile>.count`;
    // the whole GPUs left are the `nvidia.com/gpu` capacity.
    let mut profiles: Vec<(&str, u32, Option<&str>)> = Vec::new();
    for (key, value) in l.0 {
        let Some(profile) = key
            .strip_prefix("nvidia.com/mig-")
            .and_then(|k| k.strip_suffix(".count"))
        else {
            continue;
        };
        let what = format!("label `{key}`");
        if let Some(count) = count_of(Some(value), &what, findings).filter(|&n| n > 0) {
            let product = l.value(&format!("nvidia.com/mig-{profile}.product"));
            profiles.push((profile, count, product));
        }
    }
    let entry = |reported: String, count: u32, mig: Option<String>| NodeGpu {
        reported,
        gpu,
        cc,
        count: count.max(1),
        mig,
    };
    if profiles.is_empty() {
        let count = count_label.or(full_capacity).unwrap_or(1);
        return vec![entry(product.to_string(), count, mig)];
    }
    let mut out = Vec::new();
    if let Some(full) = full_capacity.filter(|&n| n > 0) {
        out.push(entry(product.to_string(), full, None));
    }
    for (profile, count, mig_product) in profiles {
        let reported = mig_product.map_or_else(|| format!("{model}-MIG-{profile}"), str::to_string);
        out.push(entry(reported, count, Some(profile.to_string())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Level;

    fn fixture(name: &str) -> (std::path::PathBuf, Vec<u8>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/inventories/kube")
            .join(name);
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes)
    }

    fn read(name: &str) -> Parsed {
        let (path, bytes) = fixture(name);
        parse(&path, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn node<'p>(parsed: &'p Parsed, name: &str) -> &'p Node {
        parsed
            .nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    fn error_of(text: &str) -> Diagnostic {
        match parse(Path::new("nodes.txt"), text.as_bytes()) {
            Ok(p) => panic!("{text:?} parsed to {} nodes", p.nodes.len()),
            Err(Error::Invalid(d)) => {
                assert_eq!(d.len(), 1);
                assert_eq!(d[0].code, "bad-inventory");
                let help = d[0].help.as_deref().unwrap();
                assert!(help.contains("kubectl get nodes -o json"), "{help}");
                d[0].clone()
            }
            Err(e) => panic!("{e}"),
        }
    }

    type Content<'n> = (
        &'n String,
        &'n Option<String>,
        &'n Vec<NodeGpu>,
        Option<String>,
        Option<Version>,
        &'n Vec<(&'static str, String)>,
        &'n Option<String>,
    );

    /// A node without its location, to compare the same node read from two files.
    fn content(n: &Node) -> Content<'_> {
        (
            &n.name,
            &n.pool,
            &n.gpus,
            n.driver.map(|v| v.to_string()),
            n.driver_cuda,
            &n.labels,
            &n.problem,
        )
    }

    #[test]
    fn json_and_yaml_of_the_same_nodes_read_the_same() {
        let json = read("fleet.json");
        let yaml = read("fleet.yaml");
        assert_eq!(json.nodes.len(), 11);
        assert_eq!(yaml.nodes.len(), 11);
        for (j, y) in json.nodes.iter().zip(&yaml.nodes) {
            if j.name.contains("fleet.json:") {
                assert!(y.name.contains("fleet.yaml:"), "{}", y.name);
                continue;
            }
            assert_eq!(content(j), content(y));
        }
        let messages = |p: &Parsed| {
            p.problems
                .iter()
                .map(|d| d.message.replace("fleet.json", "fleet.yaml"))
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&json), messages(&yaml));

        let (path, bytes) = fixture("fleet.yaml");
        let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
        let crlf = parse(&path, crlf.as_bytes()).unwrap();
        assert_eq!(crlf.nodes.len(), 11);
        for (y, c) in yaml.nodes.iter().zip(&crlf.nodes) {
            assert_eq!(y.location, c.location);
            assert_eq!(content(y), content(c));
        }
    }

    #[test]
    fn reads_driver_label_forms_pools_and_gpus() {
        let p = read("fleet.json");
        let t4 = node(&p, "gke-prod-gpu-t4-pool-5d3c9a1b-2xk9");
        assert_eq!(t4.pool.as_deref(), Some("gpu-t4-pool"));
        let driver = t4.driver.unwrap().to_string();
        assert_eq!(driver, "470.256.02", "old `cuda.driver.*` labels");
        assert_eq!(t4.driver_cuda, Some(Version::major_minor(11, 4)));
        assert_eq!(t4.gpus.len(), 1);
        assert_eq!(t4.gpus[0].name(), "Tesla T4");
        assert_eq!((t4.gpus[0].cc, t4.gpus[0].count), (Some(Cc::new(7, 5)), 1));
        assert_eq!(t4.problem, None);
        assert_eq!(t4.location.line, 4);

        let a10g = node(&p, "ip-10-0-12-34.us-west-2.compute.internal");
        assert_eq!(a10g.pool.as_deref(), Some("a10g-inference"));
        assert_eq!(a10g.driver.unwrap().to_string(), "535.183.01");
        assert_eq!(
            (a10g.gpus[0].name(), a10g.gpus[0].count),
            ("NVIDIA A10G", 4)
        );

        let eksctl = node(&p, "ip-10-0-40-7.us-west-2.compute.internal");
        assert_eq!(eksctl.pool.as_deref(), Some("a100-mig"));
        let mig = &eksctl.gpus[0];
        assert_eq!(mig.reported, "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
        assert_eq!(
            (mig.name(), mig.cc, mig.count),
            ("NVIDIA A100", Some(Cc::new(8, 0)), 56)
        );
        assert_eq!(mig.mig.as_deref(), Some("1g.5gb"));
        let driver = eksctl.driver.unwrap().to_string();
        assert_eq!(driver, "535.104.05", "zero padding kept");

        let aks = node(&p, "aks-a100x80-12345678-vmss000000");
        assert_eq!(aks.pool.as_deref(), Some("a100x80"));
        let mixed: Vec<_> = aks
            .gpus
            .iter()
            .map(|g| (g.reported.as_str(), g.count, g.mig.as_deref(), g.cc))
            .collect();
        let cc = Some(Cc::new(8, 0));
        assert_eq!(
            mixed,
            [
                ("NVIDIA-A100-SXM4-80GB", 4, None, cc),
                ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", 14, Some("1g.10gb"), cc),
                ("NVIDIA-A100-SXM4-80GB-MIG-3g.40gb", 4, Some("3g.40gb"), cc),
            ]
        );

        let shared = node(&p, "ip-10-0-77-3.us-west-2.compute.internal");
        assert_eq!(shared.pool.as_deref(), Some("t4-shared"));
        assert_eq!(
            (shared.gpus[0].name(), shared.gpus[0].count),
            ("Tesla T4", 1)
        );
        assert_eq!(shared.gpus[0].reported, "Tesla-T4-SHARED");
        let driver = shared.driver.unwrap().to_string();
        assert_eq!(driver, "550.120", "an empty revision");

        let cpu = node(&p, "gke-prod-system-0a1b2c3d-q1w2");
        assert!(cpu.gpus.is_empty());
        assert_eq!((cpu.driver, cpu.problem.as_deref()), (None, None));
        assert_eq!(cpu.pool.as_deref(), Some("system"));

        let keys: Vec<_> = t4.labels.iter().map(|(k, _)| *k).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted: {keys:?}");
        for kept in [
            "cloud.google.com/gke-nodepool",
            "kubernetes.io/hostname",
            "node.kubernetes.io/instance-type",
            "nvidia.com/gpu.product",
        ] {
            assert!(keys.contains(&kept), "{kept}");
        }
        assert!(!keys.contains(&"kubernetes.io/arch"));
        assert!(!keys.contains(&"beta.kubernetes.io/instance-type"));
    }

    #[test]
    fn keeps_every_node_it_cannot_judge_and_says_why() {
        let p = read("fleet.json");
        let warnings_for = |name: &str| {
            p.problems
                .iter()
                .filter(|d| d.message.starts_with(&format!("node `{name}`")))
                .collect::<Vec<_>>()
        };
        for d in &p.problems {
            assert_eq!(d.level, Level::Warning, "{d}");
            let judged_unknown = p.nodes.iter().any(|n| {
                n.problem.is_some() && d.message.starts_with(&format!("node `{}`", n.name))
            });
            let code = if judged_unknown {
                "inventory-node-unknown"
            } else {
                "inventory-suspect"
            };
            assert_eq!(d.code, code, "{d}");
        }

        let m10 = node(&p, "worker-m10");
        assert_eq!(
            (m10.gpus[0].gpu, m10.gpus[0].cc),
            (None, Some(Cc::new(5, 0)))
        );
        assert_eq!(m10.problem, None, "judged by the labels' capability");
        let w = warnings_for("worker-m10");
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("Tesla-M10"), "{}", w[0]);
        assert!(w[0].message.contains("5.0"), "{}", w[0]);
        assert_eq!(w[0].location.as_ref().unwrap().line, m10.location.line);

        let p4000 = node(&p, "worker-p4000");
        assert_eq!((p4000.gpus[0].gpu, p4000.gpus[0].cc), (None, None));
        assert!(p4000.problem.as_deref().unwrap().contains("Quadro-P4000"));

        let bad = node(&p, "worker-bad-labels");
        let problem = bad.problem.as_deref().unwrap();
        assert!(problem.contains("`x`/`9`"), "{problem}");
        assert!(problem.contains("`abc`"), "{problem}");
        assert_eq!(bad.gpus[0].cc, Some(Cc::new(8, 9)), "the catalog's");
        assert_eq!(bad.driver, None);
        assert_eq!(warnings_for("worker-bad-labels").len(), 2);

        let no_gfd = node(&p, "worker-no-gfd");
        let problem = no_gfd.problem.as_deref().unwrap();
        assert!(
            problem.contains("no GPU Feature Discovery labels"),
            "{problem}"
        );
        assert_eq!((no_gfd.gpus[0].gpu, no_gfd.gpus[0].count), (None, 2));

        let unnamed = p.nodes.last().unwrap();
        let (path, bytes) = fixture("fleet.json");
        let line = unnamed.location.line as usize;
        assert_eq!(unnamed.name, format!("{}:{line}", path.display()));
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "{");
        assert_eq!(unnamed.pool.as_deref(), Some("h100"));
        assert_eq!(unnamed.gpus[0].cc, Some(Cc::new(9, 0)));
    }

    #[test]
    fn reads_real_captures() {
        let rke2 = read("rke2-a16-vgpu.json");
        assert!(rke2.problems.is_empty(), "{:?}", rke2.problems);
        let nori = node(&rke2, "nori");
        assert_eq!(
            nori.gpus[0].name(),
            "NVIDIA A16",
            "vGPU profile after the model"
        );
        assert_eq!(nori.gpus[0].cc, Some(Cc::new(8, 6)));
        assert_eq!(nori.driver.unwrap().to_string(), "550.90.07");
        assert_eq!(nori.driver_cuda, Some(Version::major_minor(12, 4)));
        assert_eq!(nori.location.line, 4);

        let readme = read("gfd-readme-a100.yaml");
        assert!(readme.problems.is_empty(), "{:?}", readme.problems);
        let dgx = node(&readme, "dgx-2h-01");
        assert_eq!(dgx.gpus[0].name(), "NVIDIA A100");
        assert_eq!(dgx.driver.unwrap().to_string(), "455.06");
        assert_eq!(dgx.driver_cuda, Some(Version::major_minor(11, 1)));
        assert_eq!(dgx.pool, None);
        let machine = ("nvidia.com/gpu.machine", "NVIDIA DGX-2H".to_string());
        assert!(dgx.labels.contains(&machine));
        assert_eq!(dgx.location.line, 1);

        let kind = read("kind-v100.json");
        let worker = node(&kind, "k8s-device-plugin-cluster-worker");
        assert_eq!(worker.gpus[0].name(), "NVIDIA V100");
        assert_eq!(
            (worker.gpus[0].cc, worker.gpus[0].count),
            (Some(Cc::new(7, 0)), 8)
        );
        assert_eq!(worker.driver.unwrap().to_string(), "515.105.01");
    }

    #[test]
    fn labels_win_over_the_catalog_and_odd_mig_layouts_are_reported() {
        let text = r#"{"kind": "Node", "metadata": {"name": "n", "labels": {
            "nvidia.com/gpu.product": "Tesla-T4", "nvidia.com/gpu.compute.major": "8",
            "nvidia.com/gpu.compute.minor": "0", "nvidia.com/cuda.driver-version.full": "580.65.06"}}}"#;
        let p = parse(Path::new("n.json"), text.as_bytes()).unwrap();
        assert_eq!(p.nodes[0].gpus[0].cc, Some(Cc::new(8, 0)));
        assert_eq!(p.problems.len(), 1);
        assert!(
            p.problems[0].message.contains("catalog says 7.5"),
            "{}",
            p.problems[0]
        );
        assert_eq!(p.problems[0].code, "inventory-suspect");

        let text = r#"{"kind": "Node", "metadata": {"name": "n", "labels": {
            "nvidia.com/gpu.product": "NVIDIA-L4", "nvidia.com/cuda.driver-version.full": "580.65.06",
            "nvidia.com/cuda.driver.major": "570", "nvidia.com/cuda.driver.minor": "86",
            "nvidia.com/cuda.driver.rev": "15"}}}"#;
        let p = parse(Path::new("n.json"), text.as_bytes()).unwrap();
        assert_eq!(p.nodes[0].driver.unwrap().to_string(), "580.65.06");
        assert!(
            p.problems[0].message.contains("570.86.15"),
            "{}",
            p.problems[0]
        );

        let text = "kind: Node\nmetadata:\n  name: m\n  labels:\n    \
nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB-MIG-INVALID\n    nvidia.com/gpu.count: \"0\"\n    \
nvidia.com/cuda.driver-version.full: 535.104.05\n";
        let p = parse(Path::new("m.yaml"), text.as_bytes()).unwrap();
        let gpu = &p.nodes[0].gpus[0];
        assert_eq!(
            (gpu.name(), gpu.count, gpu.mig.as_deref()),
            ("NVIDIA A100", 1, Some("INVALID"))
        );
        assert!(
            p.problems[0].message.contains("invalid"),
            "{}",
            p.problems[0]
        );
        assert_eq!(p.nodes[0].problem, None);
    }

    #[test]
    fn empty_lists_are_no_nodes() {
        for text in [
            r#"{"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}"#,
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
            "kind: NodeList\n",
        ] {
            let p = parse(Path::new("empty"), text.as_bytes()).unwrap();
            assert!(p.nodes.is_empty() && p.problems.is_empty(), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_node_list_saying_where() {
        let pod = error_of("{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"x\"}\n}\n");
        assert!(pod.message.contains("`Pod`"), "{pod}");
        assert_eq!(pod.location.as_ref().unwrap().line, 2);

        let pods = error_of("kind: List\nitems:\n- kind: Node\n- kind: Pod\n  metadata: {}\n");
        assert!(pods.message.contains("`Pod`"), "{pods}");
        assert_eq!(pods.location.as_ref().unwrap().line, 4);

        let (_, bytes) = fixture("fleet.json");
        let cut = String::from_utf8(bytes[..3000].to_vec()).unwrap();
        let truncated = error_of(&cut);
        assert!(truncated.message.contains("ends too early"), "{truncated}");
        assert_eq!(
            truncated.location.unwrap().line as usize,
            cut.lines().count()
        );

        let syntax = error_of("{\"kind\": \"List\",\n \"items\": [}");
        let at = syntax.location.unwrap();
        assert_eq!((at.line, at.column), (2, 12), "{}", syntax.message);

        let deep = format!("{{\"spec\": {}", "[".repeat(10_000));
        assert!(error_of(&deep).message.contains("nested deeper"));

        for text in [
            "",
            "  \n",
            "[]",
            "just some text\n",
            "kind: Node\nmetadata:\n  name: a\n bad\n",
        ] {
            error_of(text);
        }
        let latin1 = b"kind: Node\nmetadata:\n  name: caf\xe9\n";
        assert!(parse(Path::new("x"), latin1).is_err());
    }

    #[test]
    fn gpu_nodes_without_gfd_labels_are_kept_as_unknown() {
        let text = r#"{"kind": "List", "items": [
            {"kind": "Node", "metadata": {"name": "plugin-only", "labels": null},
             "status": {"capacity": {"nvidia.com/gpu": "8"}}},
            {"kind": "Node", "metadata": {"name": "operator-only",
             "labels": {"nvidia.com/gpu.present": "true"}}},
            {"kind": "Node", "metadata": {"name": "cpu", "labels": {"nvidia.com/gpu.present": "false"}},
             "status": {"capacity": {"cpu": "8", "nvidia.com/gpu": "0"}}}]}"#;
        let p = parse(Path::new("g.json"), text.as_bytes()).unwrap();
        let counts: Vec<_> = p
            .nodes
            .iter()
            .map(|n| {
                (
                    n.gpus.iter().map(|g| g.count).sum::<u32>(),
                    n.problem.is_some(),
                )
            })
            .collect();
        assert_eq!(counts, [(8, true), (1, true), (0, false)]);
        assert_eq!(p.problems.len(), 2);
    }

    #[test]
    fn cut_or_mangled_files_are_errors_not_panics() {
        for name in ["fleet.json", "fleet.yaml", "gfd-readme-a100.yaml"] {
            let (path, bytes) = fixture(name);
            for cut in (0..bytes.len()).step_by(89) {
                let _ = parse(&path, &bytes[..cut]);
                let mut mangled = bytes.clone();
                mangled[cut] = b"\"{[:-\n \\x"[cut % 9];
                let _ = parse(&path, &mangled);
            }
        }
    }

    #[test]
    fn json_escapes_in_kept_strings_are_decoded() {
        let text = r#"{"kind":"Node","metadata":{"name":"gpu-\u00e9\ud83d\ude80","labels":{"nvidia.com/gpu.product":"Tesla\u002dT4"}}}"#;
        let p = parse(Path::new("e.json"), text.as_bytes()).unwrap();
        assert_eq!(p.nodes[0].name, "gpu-é🚀");
        assert_eq!(p.nodes[0].gpus[0].name(), "Tesla T4");
    }

    /// `GPUARCH_KUBE_BENCH=nodes.json cargo test --release -p gpuarch-build --features fleet
    /// --lib -- --ignored kube_parse_speed --nocapture`, with a file from
    /// `cargo xtask gen-inventory`; `GPUARCH_KUBE_BENCH_SAME=nodes.yaml` also checks that
    /// the same nodes written as YAML read the same.
    #[test]
    #[ignore = "a measurement, run by hand on a generated inventory"]
    fn kube_parse_speed() {
        let Ok(path) = std::env::var("GPUARCH_KUBE_BENCH") else {
            return;
        };
        let bytes = std::fs::read(&path).unwrap();
        let mut parsed = Parsed::default();
        for _ in 0..10 {
            let start = std::time::Instant::now();
            let next = parse(Path::new(&path), &bytes).unwrap();
            let took = start.elapsed();
            // Dropped outside the timing, as a process that exits after the verdict never
            // frees its nodes one by one.
            parsed = next;
            println!(
                "{} nodes, {} MB, {took:?}",
                parsed.nodes.len(),
                bytes.len() / 1_000_000
            );
        }
        if let Ok(other) = std::env::var("GPUARCH_KUBE_BENCH_SAME") {
            let same = parse(Path::new(&other), &std::fs::read(&other).unwrap()).unwrap();
            assert_eq!(parsed.nodes.len(), same.nodes.len());
            for (a, b) in parsed.nodes.iter().zip(&same.nodes) {
                assert_eq!(content(a), content(b));
            }
        }
    }
}
