//! Fleet verdicts: nodes grouped by pool, GPU models and driver, each group judged once
//! by the one judge ([`crate::coverage::coverage`]) under the group's own driver.
//!
//! A group runs the build when every GPU model on its nodes gets code it can run and the
//! driver is new enough for the CUDA runtime (and for any PTX it must JIT).

use std::collections::HashMap;

use super::Node;
use crate::arch::{Cc, CodeSet};
use crate::catalog::{self, Os};
use crate::coverage::{self, Verdict};
use crate::diagnostic::{Diagnostic, Location};
use crate::toolkit::Toolkit;
use crate::version::Version;

/// How a node group fares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Every GPU model of the group runs the build under the group's driver.
    Runs,
    /// A GPU or the driver could not be told, so the group cannot be promised anything.
    Unknown,
    /// Some GPU model cannot run it (no code for it, or the driver is too old).
    Fails,
    /// The nodes have no GPU: not a target.
    NoGpu,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Runs => "runs",
            Status::Unknown => "unknown",
            Status::Fails => "fails",
            Status::NoGpu => "no-gpu",
        }
    }
}

/// One GPU model of a group, judged.
#[derive(Clone, Debug)]
pub struct GpuOutcome {
    pub name: String,
    /// The MIG profile, where the GPU is partitioned (`1g.5gb`, `enabled`).
    pub mig: Option<String>,
    pub cc: Option<Cc>,
    pub count: u32,
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
    /// Indices into the node list, in input order.
    pub nodes: Vec<usize>,
    pub driver: Option<Version>,
    pub gpus: Vec<GpuOutcome>,
    pub status: Status,
    /// The first reason the group fails or is unknown; what covers it when it runs.
    pub reason: String,
}

impl Group {
    /// "Tesla T4, driver 470.82.01": the models and the driver, for messages.
    pub fn hardware(&self) -> String {
        let models: Vec<String> = self
            .gpus
            .iter()
            .map(|g| {
                let mig = match g.mig.as_deref() {
                    Some("enabled") => " (MIG)".to_string(),
                    Some(profile) => format!(" (MIG {profile})"),
                    None => String::new(),
                };
                if g.count > 1 {
                    format!("{}{mig} x{}", g.name, g.count)
                } else {
                    format!("{}{mig}", g.name)
                }
            })
            .collect();
        let mut models = models;
        if models.is_empty() {
            if self.status == Status::NoGpu {
                return "no GPU".into();
            }
            // A node whose GPUs could not be read (nvidia-smi error text) is not a CPU node.
            models.push("GPU unknown".into());
        }
        match self.driver {
            Some(d) => format!("{}, driver {d}", models.join(" + ")),
            None => format!("{}, driver unknown", models.join(" + ")),
        }
    }
}

/// Every group, and a diagnostic per group that cannot run (`node-cannot-run`) or cannot
/// be judged (`inventory-node-unknown`).
#[derive(Clone, Debug, Default)]
pub struct FleetVerdict {
    pub groups: Vec<Group>,
    pub diagnostics: Vec<Diagnostic>,
}

impl FleetVerdict {
    pub fn has_errors(&self) -> bool {
        self.groups.iter().any(|g| g.status == Status::Fails)
    }

    /// Groups with GPUs (the ones the sentence "N of M node groups" counts).
    pub fn gpu_groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| g.status != Status::NoGpu)
    }

    /// The group of each node, by node index.
    pub fn group_of_node(&self, nodes: usize) -> Vec<usize> {
        let mut of = vec![0; nodes];
        for (gi, g) in self.groups.iter().enumerate() {
            for &n in &g.nodes {
                of[n] = gi;
            }
        }
        of
    }

    /// Groups with GPUs that run the build.
    pub fn runs_count(&self) -> usize {
        self.gpu_groups()
            .filter(|g| g.status == Status::Runs)
            .count()
    }

    /// Groups that could not be judged.
    pub fn unknown_count(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.status == Status::Unknown)
            .count()
    }

    /// "7 of 9 node groups can run this build (...)", and how many could not be judged.
    pub fn summary(&self) -> String {
        let total = self.gpu_groups().count();
        let runs = self.runs_count();
        let nodes: usize = self.gpu_groups().map(|g| g.nodes.len()).sum();
        let runs_nodes: usize = self
            .gpu_groups()
            .filter(|g| g.status == Status::Runs)
            .map(|g| g.nodes.len())
            .sum();
        let unknown = match self.unknown_count() {
            0 => String::new(),
            n => format!("; {n} could not be judged"),
        };
        format!(
            "{runs} of {total} node group{} can run this build ({runs_nodes} of {nodes} GPU node{}){unknown}",
            if total == 1 { "" } else { "s" },
            if nodes == 1 { "" } else { "s" },
        )
    }
}

/// What a build needs of a driver besides its code: the CUDA runtime's floor (under
/// minor-version compatibility), as the manifest's `driver-below-runtime` check reads it.
fn runtime_floor(toolkit: Option<&Toolkit>, os: Os) -> Option<(Version, Version)> {
    let tk = toolkit.filter(|t| t.known)?;
    catalog::runtime_min_driver(tk.version, os).map(|d| (tk.version, d))
}

/// Judges `codes` (built by `toolkit`, where known) on every node.
pub fn judge(nodes: &[Node], codes: &CodeSet, toolkit: Option<&Toolkit>) -> FleetVerdict {
    let mut codes = codes.clone();
    if codes.ptx_isa.is_none() {
        codes.ptx_isa = toolkit.map(|t| t.ptx_isa);
    }
    judge_by(nodes, toolkit, &mut |cc, driver| {
        coverage::coverage(&codes, cc, driver)
    })
}

/// [`judge`] with the coverage verdict supplied: `verify` judges built artifacts
/// container by container. `verdict_of` is asked once per distinct capability and driver.
pub fn judge_by(
    nodes: &[Node],
    toolkit: Option<&Toolkit>,
    verdict_of: &mut dyn FnMut(Cc, Option<(Version, Os)>) -> Verdict,
) -> FleetVerdict {
    let mut memo: HashMap<(Cc, Option<(Version, Os)>), Verdict> = HashMap::new();
    let mut out = FleetVerdict::default();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let key = GroupKey::of(node);
        if let Some(&g) = index.get(&key) {
            out.groups[g].nodes.push(i);
            continue;
        }
        index.insert(key, out.groups.len());
        let mut group = judge_node(node, toolkit, &mut |cc, drv| {
            memo.entry((cc, drv))
                .or_insert_with(|| verdict_of(cc, drv))
                .clone()
        });
        group.nodes.push(i);
        out.groups.push(group);
    }
    name_groups(&mut out.groups, nodes);
    for g in &out.groups {
        let first = &nodes[g.nodes[0]];
        let count = if g.nodes.len() == 1 && g.name == first.name {
            "1 node".to_string()
        } else if g.nodes.len() == 1 {
            format!("node {}", first.name)
        } else {
            format!("{} nodes", g.nodes.len())
        };
        let location: Option<Location> = Some(first.location.clone());
        match g.status {
            Status::Fails => out.diagnostics.push(
                Diagnostic::error(
                    "node-cannot-run",
                    format!(
                        "`{}` ({}; {count}) cannot run this build: {}",
                        g.name,
                        g.hardware(),
                        g.reason
                    ),
                )
                .with_help(fix_for(g))
                .at(location),
            ),
            // A node the inventory could not read was reported by its parser, node by node.
            Status::Unknown if first.problem.is_some() => {}
            Status::Unknown => out.diagnostics.push(
                Diagnostic::warning(
                    "inventory-node-unknown",
                    format!(
                        "`{}` ({}; {count}) cannot be judged: {}",
                        g.name,
                        g.hardware(),
                        g.reason
                    ),
                )
                .with_help("give the inventory the GPU's capability and the driver version (nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv, or GPU Feature Discovery labels)")
                .at(location),
            ),
            Status::Runs | Status::NoGpu => {}
        }
    }
    out
}

fn fix_for(g: &Group) -> String {
    let failing: Vec<&GpuOutcome> = g
        .gpus
        .iter()
        .filter(|o| o.status == Status::Fails)
        .collect();
    if failing
        .iter()
        .all(|o| o.verdict.as_ref().is_some_and(Verdict::runs))
    {
        "upgrade the group's driver, or build with an older toolkit; `verify --inventory` prints the nodeAffinity that keeps the workload off these nodes".into()
    } else {
        let mut ccs: Vec<Cc> = failing.iter().filter_map(|o| o.cc).collect();
        ccs.sort();
        ccs.dedup();
        let ccs: Vec<String> = ccs.iter().map(|c| c.to_string()).collect();
        format!(
            "build code for {} (in the arch list or the build flags; a plan from the manifest has it when the GPU is in `gpus`), or keep the workload off these nodes with the nodeAffinity `verify --inventory` prints",
            if ccs.is_empty() { "the GPU".to_string() } else { ccs.join(", ") }
        )
    }
}

/// Nodes are alike when pool, GPU models, driver and any problem are.
#[derive(Hash, PartialEq, Eq)]
struct GroupKey {
    pool: Option<String>,
    gpus: Vec<(String, Option<Cc>, u32, Option<String>)>,
    driver: Option<(u32, u32, u32)>,
    wsl: bool,
    problem: Option<String>,
}

impl GroupKey {
    fn of(node: &Node) -> GroupKey {
        GroupKey {
            pool: node.pool.clone(),
            gpus: node
                .gpus
                .iter()
                .map(|g| (g.name().to_string(), g.cc, g.count, g.mig.clone()))
                .collect(),
            driver: node.driver.map(|d| (d.major, d.minor, d.patch)),
            wsl: node.wsl,
            problem: node.problem.clone(),
        }
    }
}

fn judge_node(
    node: &Node,
    toolkit: Option<&Toolkit>,
    verdict_of: &mut dyn FnMut(Cc, Option<(Version, Os)>) -> Verdict,
) -> Group {
    let os = if node.wsl { Os::Windows } else { Os::Linux };
    let runtime = runtime_floor(toolkit, os);
    let mut gpus = Vec::new();
    for gpu in &node.gpus {
        let name = gpu.name().to_string();
        let Some(cc) = gpu.cc else {
            gpus.push(GpuOutcome {
                name: name.clone(),
                mig: gpu.mig.clone(),
                cc: None,
                count: gpu.count,
                status: Status::Unknown,
                verdict: None,
                reason: format!(
                    "GPU `{}` is not in the catalog and the inventory gives no capability",
                    gpu.reported
                ),
            });
            continue;
        };
        let verdict = verdict_of(cc, node.driver.map(|d| (d, os)));
        let (status, reason) = if !verdict.runs() {
            let why = match &verdict {
                Verdict::PtxTooNew { ptx, isa, driver, min_driver } => format!(
                    "{name} ({cc}) only has {ptx} PTX (ISA {isa}), which driver {driver} cannot JIT{}",
                    min_driver.map_or(String::new(), |d| format!(" (needs >= {d})"))
                ),
                _ => format!(
                    "{name} ({cc}) gets no kernel image: no cubin it can run and no PTX it can JIT"
                ),
            };
            (Status::Fails, why)
        } else {
            match (node.driver, runtime) {
                (Some(driver), Some((cuda, needs))) if driver < needs => (
                    Status::Fails,
                    format!("the CUDA {cuda} runtime needs driver >= {needs}"),
                ),
                (None, Some((cuda, needs))) => (
                    Status::Unknown,
                    format!(
                        "the driver version is unknown; the CUDA {cuda} runtime needs >= {needs}"
                    ),
                ),
                (None, None) if matches!(verdict, Verdict::Jit { .. }) => (
                    Status::Unknown,
                    format!(
                        "the driver version is unknown; {} needs a driver that can JIT it",
                        verdict.describe()
                    ),
                ),
                _ => (Status::Runs, verdict.describe()),
            }
        };
        gpus.push(GpuOutcome {
            name,
            mig: gpu.mig.clone(),
            cc: Some(cc),
            count: gpu.count,
            status,
            verdict: Some(verdict),
            reason,
        });
    }
    let (status, reason) = if let Some(problem) = &node.problem {
        let worst = gpus.iter().map(|g| g.status).max();
        if worst == Some(Status::Fails) {
            let g = gpus
                .iter()
                .find(|g| g.status == Status::Fails)
                .map(|g| g.reason.clone());
            (Status::Fails, g.unwrap_or_default())
        } else {
            (Status::Unknown, problem.clone())
        }
    } else if gpus.is_empty() {
        (Status::NoGpu, "no GPU".to_string())
    } else {
        let worst = gpus.iter().map(|g| g.status).max().unwrap_or(Status::Runs);
        let reason = if worst == Status::Runs {
            // One phrase per distinct model and verdict (MIG profiles of one GPU share it).
            let mut phrases: Vec<String> = Vec::new();
            for g in &gpus {
                let phrase = if gpus.len() == 1 {
                    g.reason.clone()
                } else {
                    format!("{}: {}", g.name, g.reason)
                };
                if !phrases.contains(&phrase) {
                    phrases.push(phrase);
                }
            }
            phrases.join("; ")
        } else {
            gpus.iter()
                .find(|g| g.status == worst)
                .map(|g| g.reason.clone())
                .unwrap_or_default()
        };
        (worst, reason)
    };
    Group {
        name: String::new(),
        nodes: Vec::new(),
        driver: node.driver,
        gpus,
        status,
        reason,
    }
}

/// Names each group by its pool; a pool split by GPU model or driver (a rolling driver
/// upgrade) gets the difference added; a group without a pool is named by its one node
/// (a host of an nvidia-smi inventory), or else by its hardware.
fn name_groups(groups: &mut [Group], nodes: &[Node]) {
    let mut per_pool: HashMap<Option<String>, usize> = HashMap::new();
    for g in groups.iter() {
        *per_pool.entry(nodes[g.nodes[0]].pool.clone()).or_default() += 1;
    }
    for g in groups.iter_mut() {
        let first = &nodes[g.nodes[0]];
        g.name = match &first.pool {
            Some(pool) if per_pool[&first.pool] == 1 => pool.clone(),
            Some(pool) => format!("{pool} ({})", g.hardware()),
            None if g.nodes.len() == 1 => first.name.clone(),
            None => g.hardware(),
        };
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::arch::Code;
    use crate::diagnostic::Location;
    use crate::fleet::NodeGpu;

    pub(crate) fn node(
        name: &str,
        pool: Option<&str>,
        gpu: Option<(&str, &str)>,
        driver: Option<&str>,
    ) -> Node {
        let gpus = gpu
            .map(|(reported, cc)| {
                let row = crate::catalog::find_gpu(reported);
                vec![NodeGpu {
                    reported: reported.to_string(),
                    gpu: row,
                    cc: Cc::parse_dotted(cc),
                    count: 1,
                    mig: None,
                }]
            })
            .unwrap_or_default();
        let mut labels = Vec::new();
        if let Some((_, cc)) = gpu {
            if let Some(cc) = Cc::parse_dotted(cc) {
                labels.push(("nvidia.com/gpu.compute.major", cc.major.to_string()));
                labels.push(("nvidia.com/gpu.compute.minor", cc.minor.to_string()));
            }
        }
        if let Some(d) = driver {
            let parts: Vec<&str> = d.split('.').collect();
            let keys = [
                "nvidia.com/cuda.driver-version.major",
                "nvidia.com/cuda.driver-version.minor",
                "nvidia.com/cuda.driver-version.revision",
            ];
            for (key, value) in keys.iter().zip(&parts) {
                labels.push((*key, value.to_string()));
            }
        }
        Node {
            name: name.to_string(),
            location: Location {
                file: "nodes.json".into(),
                line: 1,
                column: 1,
            },
            pool: pool.map(String::from),
            gpus,
            driver: driver.map(|d| d.parse().unwrap()),
            driver_cuda: None,
            wsl: false,
            labels,
            problem: None,
        }
    }

    pub(crate) fn codes(list: &[&str]) -> CodeSet {
        list.iter().map(|c| Code::parse(c).unwrap()).collect()
    }

    fn cuda(v: &str) -> Toolkit {
        Toolkit::named(v.parse().unwrap(), None)
    }

    #[test]
    fn the_issue_example_a_t4_pool_on_r470_cannot_run_a_cuda_12_4_build() {
        let nodes = vec![
            node(
                "a1",
                Some("gpu-pool-a100"),
                Some(("NVIDIA A100-SXM4-80GB", "8.0")),
                Some("535.104.05"),
            ),
            node(
                "t1",
                Some("gpu-pool-t4"),
                Some(("Tesla T4", "7.5")),
                Some("470.82.01"),
            ),
            node(
                "a2",
                Some("gpu-pool-a100"),
                Some(("NVIDIA A100-SXM4-80GB", "8.0")),
                Some("535.104.05"),
            ),
            node("c1", Some("cpu"), None, None),
        ];
        let v = judge(
            &nodes,
            &codes(&["sm_75", "sm_80", "compute_80"]),
            Some(&cuda("12.4")),
        );
        let names: Vec<&str> = v.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["gpu-pool-a100", "gpu-pool-t4", "cpu"]);
        assert_eq!(v.groups[0].nodes, [0, 2]);
        assert_eq!(v.groups[0].status, Status::Runs);
        assert_eq!(v.groups[1].status, Status::Fails);
        assert_eq!(
            v.groups[1].reason,
            "the CUDA 12.4 runtime needs driver >= 525.60.13"
        );
        assert_eq!(v.groups[2].status, Status::NoGpu);
        assert_eq!(
            v.summary(),
            "1 of 2 node groups can run this build (2 of 3 GPU nodes)"
        );
        assert_eq!(v.diagnostics.len(), 1);
        let d = &v.diagnostics[0];
        assert_eq!(d.code, "node-cannot-run");
        assert!(
            d.message
                .contains("`gpu-pool-t4` (Tesla T4, driver 470.82.01; node t1)"),
            "{}",
            d.message
        );
        assert!(v.has_errors());
    }

    #[test]
    fn a_gpu_without_code_fails_and_one_without_capability_is_unknown_but_kept() {
        let mut unknown = node("x", None, Some(("Mystery GPU 9000", "")), Some("550.54.15"));
        unknown.gpus[0].cc = None;
        let nodes = vec![
            node(
                "v",
                None,
                Some(("Tesla V100-SXM2-16GB", "7.0")),
                Some("550.54.15"),
            ),
            unknown,
        ];
        let v = judge(&nodes, &codes(&["sm_80", "sm_90"]), Some(&cuda("12.4")));
        assert_eq!(v.groups.len(), 2, "every node is in a group");
        assert_eq!(v.groups[0].status, Status::Fails);
        assert!(
            v.groups[0].reason.contains("no kernel image"),
            "{}",
            v.groups[0].reason
        );
        assert_eq!(
            v.groups[0].name, "v",
            "a lone node without a pool names its group"
        );
        assert_eq!(v.groups[0].hardware(), "NVIDIA V100, driver 550.54.15");
        let two = vec![nodes[0].clone(), nodes[0].clone()];
        let v2 = judge(&two, &codes(&["sm_80"]), None);
        assert_eq!(
            v2.groups[0].name, "NVIDIA V100, driver 550.54.15",
            "several: by hardware"
        );
        assert_eq!(v.groups[1].status, Status::Unknown);
        assert!(v
            .diagnostics
            .iter()
            .any(|d| d.code == "inventory-node-unknown"));
        // A node its parser could not read was reported there; the verdict adds nothing.
        let mut unreadable = nodes[1].clone();
        unreadable.problem = Some("nvidia-smi failed".into());
        let v = judge(&[unreadable], &codes(&["sm_80"]), Some(&cuda("12.4")));
        assert_eq!(v.groups[0].status, Status::Unknown);
        assert!(v.diagnostics.is_empty(), "{:?}", v.diagnostics);
    }

    #[test]
    fn ptx_the_driver_cannot_jit_fails_and_names_the_driver_it_needs() {
        // CUDA 12.4 emits PTX ISA 8.4; R535 (CUDA 12.2) JITs up to 8.2.
        let nodes = vec![node(
            "h",
            None,
            Some(("NVIDIA H100 80GB HBM3", "9.0")),
            Some("535.104.05"),
        )];
        let v = judge(
            &nodes,
            &codes(&["sm_80", "compute_80"]),
            Some(&cuda("12.4")),
        );
        assert_eq!(v.groups[0].status, Status::Fails);
        assert!(
            v.groups[0].reason.contains("cannot JIT"),
            "{}",
            v.groups[0].reason
        );
        let newer = vec![node(
            "h",
            None,
            Some(("NVIDIA H100 80GB HBM3", "9.0")),
            Some("550.54.15"),
        )];
        let v = judge(
            &newer,
            &codes(&["sm_80", "compute_80"]),
            Some(&cuda("12.4")),
        );
        assert_eq!(v.groups[0].status, Status::Runs, "{}", v.groups[0].reason);
    }

    #[test]
    fn a_pool_split_by_a_rolling_driver_upgrade_names_both_halves() {
        let nodes = vec![
            node(
                "a",
                Some("pool"),
                Some(("Tesla T4", "7.5")),
                Some("470.82.01"),
            ),
            node(
                "b",
                Some("pool"),
                Some(("Tesla T4", "7.5")),
                Some("535.104.05"),
            ),
        ];
        let v = judge(&nodes, &codes(&["sm_75"]), Some(&cuda("12.2")));
        let names: Vec<&str> = v.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pool (Tesla T4, driver 470.82.01)",
                "pool (Tesla T4, driver 535.104.05)"
            ]
        );
        assert_eq!(v.groups[0].status, Status::Fails);
        assert_eq!(v.groups[1].status, Status::Runs);
    }

    #[test]
    fn without_a_driver_a_covered_gpu_is_unknown_when_the_runtime_needs_one() {
        let nodes = vec![node("a", None, Some(("Tesla T4", "7.5")), None)];
        let v = judge(&nodes, &codes(&["sm_75"]), Some(&cuda("12.4")));
        assert_eq!(v.groups[0].status, Status::Unknown);
        let v = judge(&nodes, &codes(&["sm_75"]), None);
        assert_eq!(
            v.groups[0].status,
            Status::Runs,
            "no toolkit: nothing asks for a driver"
        );
    }
}
