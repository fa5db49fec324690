//! `--inventory FILE`: fleets read from disk, judged by the library, and rendered node
//! group by node group (text) and node by node (JSON).

use std::path::PathBuf;

use clap::Args;
use gpuarch_build::diagnostic::{Diagnostic, Level};
use gpuarch_build::fleet::affinity::NodeAffinity;
use gpuarch_build::fleet::verdict::{FleetVerdict, Status};
use gpuarch_build::fleet::{self, Inventory};
use gpuarch_build::Error;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::render::Output;

#[derive(Args, Clone, Default)]
pub struct FleetArgs {
    /// The hosts or nodes to run on: nvidia-smi CSV or table output, or `kubectl get nodes -o json|yaml`. Repeatable. Its GPUs join the targets, its oldest driver lowers the floor, and each node group gets a verdict.
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventory: Vec<PathBuf>,
}

/// Judges a fleet for a code set (plan or arch list) built by `toolkit`.
pub fn judged(
    inventory: Inventory,
    codes: &gpuarch_build::CodeSet,
    toolkit: Option<&gpuarch_build::Toolkit>,
) -> FleetReport {
    let verdict = gpuarch_build::fleet::verdict::judge(&inventory.nodes, codes, toolkit);
    FleetReport {
        inventory,
        verdict,
        affinity: None,
    }
}

/// Judges a fleet with the verdict supplied (built artifacts, container by container) and
/// writes the nodeAffinity that keeps a workload on the nodes that run it.
pub fn judged_with_affinity(
    inventory: Inventory,
    toolkit: Option<&gpuarch_build::Toolkit>,
    verdict_of: &mut dyn FnMut(
        gpuarch_build::Cc,
        Option<(gpuarch_build::Version, gpuarch_build::Os)>,
    ) -> gpuarch_build::Verdict,
) -> FleetReport {
    let verdict = gpuarch_build::fleet::verdict::judge_by(&inventory.nodes, toolkit, verdict_of);
    let affinity = gpuarch_build::fleet::affinity::node_affinity(
        &inventory.nodes,
        &verdict,
        toolkit,
        verdict_of,
    );
    FleetReport {
        inventory,
        verdict,
        affinity: Some(affinity),
    }
}

/// One node group as JSON (`fleet.groups[]`, and `doctor`'s verdict).
pub fn group_json(g: &gpuarch_build::fleet::verdict::Group) -> Value {
    json!({
        "name": g.name,
        "status": g.status.name(),
        "nodes": g.nodes.len(),
        "driver": g.driver.map(|d| d.to_string()),
        "hardware": g.hardware(),
        "reason": g.reason,
        "gpus": g.gpus.iter().map(|o| json!({
            "name": o.name,
            "cc": o.cc.map(|c| c.to_string()),
            "count": o.count,
            "mig": o.mig,
            "status": o.status.name(),
            "covered_by": o.verdict.as_ref().and_then(|v| v.code()).map(|c| c.to_string()),
            "reason": o.reason,
        })).collect::<Vec<_>>(),
    })
}

/// Reads every inventory file; `None` when none was given.
pub fn read(args: &FleetArgs) -> Result<Option<Inventory>, Error> {
    if args.inventory.is_empty() {
        return Ok(None);
    }
    let mut inventory = Inventory::default();
    for path in &args.inventory {
        let bytes = crate::files::map(path).map_err(|message| {
            Error::invalid(Diagnostic::error("bad-inventory", message).with_help(fleet::INPUT_HELP))
        })?;
        // A 10,000-node list is about 100 MB: drop each stretch of pages once the reader is
        // past it, every 8 MiB, so memory stays near one stretch of the file.
        let mut released = 0;
        let parsed = fleet::parse_releasing(path, &bytes, &mut |offset| {
            if offset >= released + (8 << 20) {
                bytes.release_before(offset);
                released = offset;
            }
        })?;
        inventory.add(path, parsed);
    }
    if inventory.nodes.is_empty() {
        return Err(Error::invalid(
            Diagnostic::error(
                "bad-inventory",
                format!(
                    "no node in {}",
                    args.inventory
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_help("the inventory lists no host or node; check the command that wrote it"),
        ));
    }
    Ok(Some(inventory))
}

/// A judged fleet, ready to render.
pub struct FleetReport {
    pub inventory: Inventory,
    pub verdict: FleetVerdict,
    /// The scheduling constraint (`verify --inventory`), or why none can be written.
    pub affinity: Option<Result<NodeAffinity, String>>,
}

impl FleetReport {
    /// Inventory problems, then the verdict's.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut all: Vec<Diagnostic> = self.inventory.problems.clone();
        all.extend(self.verdict.diagnostics.iter().cloned());
        gpuarch_build::diagnostic::sort_by_level(&mut all);
        all
    }

    pub fn has_errors(&self) -> bool {
        self.verdict.has_errors()
    }

    /// One CI case per node group, located at its first node.
    pub fn cases(&self) -> Vec<crate::pipeline::Case> {
        use crate::pipeline::{Case, CaseStatus};
        self.verdict
            .groups
            .iter()
            .map(|g| Case {
                suite: "node groups".into(),
                name: format!(
                    "{} ({} node{})",
                    g.name,
                    g.nodes.len(),
                    if g.nodes.len() == 1 { "" } else { "s" }
                ),
                status: match g.status {
                    Status::Runs => CaseStatus::Pass,
                    Status::Fails => CaseStatus::Fail,
                    Status::Unknown | Status::NoGpu => CaseStatus::Skip,
                },
                detail: format!("{}: {}", g.hardware(), g.reason),
                location: Some(self.inventory.nodes[g.nodes[0]].location.clone()),
            })
            .collect()
    }

    pub fn text(&self, out: &Output) {
        let nodes = &self.inventory.nodes;
        let no_gpu = nodes
            .iter()
            .filter(|n| n.gpus.is_empty() && n.problem.is_none())
            .count();
        outln!();
        outln!(
            "{}: {} inventor{}, {} node{}{} in {} group{}",
            out.paint("fleet", "1"),
            self.inventory.files.len(),
            if self.inventory.files.len() == 1 {
                "y"
            } else {
                "ies"
            },
            nodes.len(),
            if nodes.len() == 1 { "" } else { "s" },
            if no_gpu > 0 {
                format!(" ({no_gpu} without GPU)")
            } else {
                String::new()
            },
            self.verdict.groups.len(),
            if self.verdict.groups.len() == 1 {
                ""
            } else {
                "s"
            },
        );
        let rows: Vec<[String; 4]> = self
            .verdict
            .groups
            .iter()
            .map(|g| {
                let verdict = match g.status {
                    Status::Runs => g.reason.clone(),
                    Status::Fails => out.paint(&format!("cannot run: {}", g.reason), "31"),
                    Status::Unknown => out.paint(&format!("unknown: {}", g.reason), "33"),
                    Status::NoGpu => "no GPU: not a target".to_string(),
                };
                [
                    g.name.clone(),
                    g.nodes.len().to_string(),
                    g.hardware(),
                    verdict,
                ]
            })
            .collect();
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(5);
        let w2 = rows.iter().map(|r| r[2].len()).max().unwrap_or(0).max(12);
        outln!(
            "  {:w0$}  {:>5}  {:w2$}  verdict",
            "group",
            "nodes",
            "GPU / driver"
        );
        for (row, g) in rows.iter().zip(&self.verdict.groups) {
            outln!(
                "  {:w0$}  {:>5}  {:w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3]
            );
            if matches!(g.status, Status::Fails | Status::Unknown) && g.nodes.len() > 1 {
                const SHOWN: usize = 8;
                let names: Vec<&str> = g
                    .nodes
                    .iter()
                    .take(SHOWN)
                    .map(|&i| nodes[i].name.as_str())
                    .collect();
                let more = g.nodes.len().saturating_sub(SHOWN);
                outln!(
                    "  {:w0$}         nodes: {}{}",
                    "",
                    names.join(", "),
                    if more > 0 {
                        format!(", and {more} more (--format json lists every node)")
                    } else {
                        String::new()
                    }
                );
            }
        }
        let summary = self.verdict.summary();
        let colour = if self.has_errors() {
            "1;31"
        } else if self.verdict.unknown_count() > 0 {
            "1;33"
        } else {
            "1;32"
        };
        outln!("\n{}", out.paint(&summary, colour));
        if let Some(affinity) = &self.affinity {
            match affinity {
                Ok(a) => {
                    outln!(
                        "\n{} (keeps the workload on the nodes that can run it):",
                        out.paint("nodeAffinity", "1")
                    );
                    outln!("{}", a.to_yaml().trim_end());
                }
                Err(why) => outln!("\nno nodeAffinity: {why}"),
            }
        }
    }

    /// The `fleet` object of the JSON output: [`Self::summary_json`] and, written as it is
    /// walked, `nodes` (every node; 10,000 of them would cost more as a `Value` than all
    /// the judging).
    pub fn json(&self) -> FleetJson<'_> {
        FleetJson(self)
    }

    /// Everything of the `fleet` object but `nodes`.
    fn summary_json(&self) -> Value {
        let groups: Vec<Value> = self.verdict.groups.iter().map(group_json).collect();
        let gpu_groups = self.verdict.gpu_groups().count();
        let runs = self.verdict.runs_count();
        json!({
            "inventories": self.inventory.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "summary": self.verdict.summary(),
            "groups_total": gpu_groups,
            "groups_run": runs,
            "groups_unknown": self.verdict.unknown_count(),
            "groups": groups,
            "node_affinity": match &self.affinity {
                Some(Ok(a)) => affinity_json(a),
                _ => Value::Null,
            },
            "node_affinity_error": match &self.affinity {
                Some(Err(why)) => Value::from(why.clone()),
                _ => Value::Null,
            },
            "problems": self.inventory.problems.iter().filter(|d| d.level != Level::Note).count(),
        })
    }
}

/// The Kubernetes shape: `nodeAffinity` as a pod spec holds it.
pub fn affinity_json(a: &NodeAffinity) -> Value {
    json!({
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": a.terms.iter().map(|t| json!({
                "matchExpressions": t.requirements.iter().map(|r| json!({
                    "key": r.key,
                    "operator": r.operator.name(),
                    "values": r.values,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }
    })
}

/// The `fleet` JSON object; see [`FleetReport::json`].
pub struct FleetJson<'a>(&'a FleetReport);

impl Serialize for FleetJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let summary = self.0.summary_json();
        let mut map = serializer.serialize_map(None)?;
        if let Value::Object(fields) = &summary {
            for (k, v) in fields {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("nodes", &Nodes(self.0))?;
        map.end()
    }
}

struct Nodes<'a>(&'a FleetReport);

#[derive(Serialize)]
struct NodeRow<'a> {
    name: &'a str,
    location: NodeLocation,
    pool: Option<&'a str>,
    group: &'a str,
    status: &'static str,
    driver: Option<String>,
    driver_cuda: Option<String>,
    gpus: Vec<GpuRow<'a>>,
    problem: Option<&'a str>,
}

#[derive(Serialize)]
struct NodeLocation {
    file: String,
    line: u32,
}

#[derive(Serialize)]
struct GpuRow<'a> {
    name: &'a str,
    reported: &'a str,
    cc: Option<String>,
    count: u32,
    mig: Option<&'a str>,
}

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.0;
        let nodes = &report.inventory.nodes;
        let group_of = report.verdict.group_of_node(nodes.len());
        let mut seq = serializer.serialize_seq(Some(nodes.len()))?;
        for (n, &g) in nodes.iter().zip(&group_of) {
            let group = &report.verdict.groups[g];
            seq.serialize_element(&NodeRow {
                name: &n.name,
                location: NodeLocation {
                    file: n.location.file.display().to_string(),
                    line: n.location.line,
                },
                pool: n.pool.as_deref(),
                group: &group.name,
                status: group.status.name(),
                driver: n.driver.map(|d| d.to_string()),
                driver_cuda: n.driver_cuda.map(|d| d.to_string()),
                gpus: n
                    .gpus
                    .iter()
                    .map(|x| GpuRow {
                        name: x.name(),
                        reported: &x.reported,
                        cc: x.cc.map(|c| c.to_string()),
                        count: x.count,
                        mig: x.mig.as_deref(),
                    })
                    .collect(),
                problem: n.problem.as_deref(),
            })?;
        }
        seq.end()
    }
}
