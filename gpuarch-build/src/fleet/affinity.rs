//! The Kubernetes scheduling constraint that keeps a workload off the nodes that cannot
//! run it: a required `nodeAffinity` on GPU Feature Discovery labels.
//!
//! Whether a node runs a build depends on its GPU's capability and its driver, and for a
//! given capability a newer driver never runs less. So the constraint is, per capability
//! that runs at all, "driver >= the lowest that works", written with the labels GFD sets
//! (`nvidia.com/gpu.compute.major/minor`, `nvidia.com/cuda.driver-version.*` or the older
//! `nvidia.com/cuda.driver.*`). Only capabilities seen in the inventory are admitted, so a
//! node pool of a GPU nobody judged is kept out until the inventory is run again.

use std::collections::BTreeMap;

use super::verdict::{FleetVerdict, Status};
use super::Node;
use crate::arch::Cc;
use crate::catalog::{self, Os};
use crate::coverage::Verdict;
use crate::toolkit::Toolkit;
use crate::version::Version;

use super::gfd::{COMPUTE_MAJOR, COMPUTE_MINOR, DRIVER_FORMS, HOSTNAME};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Gt,
}

impl Operator {
    pub fn name(self) -> &'static str {
        match self {
            Operator::In => "In",
            Operator::NotIn => "NotIn",
            Operator::Gt => "Gt",
        }
    }
}

/// One `matchExpressions` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: &'static str,
    pub operator: Operator,
    pub values: Vec<String>,
}

/// A `nodeSelectorTerm`: every requirement must hold. Terms are ORed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub requirements: Vec<Requirement>,
}

/// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAffinity {
    pub terms: Vec<Term>,
}

/// Builds the affinity for the nodes' capabilities. `verdict_of(cc, None)` is the judge
/// without a driver (the same one that made `judged`). Errs with the reason when no
/// affinity can be written (no Kubernetes nodes, or no node can run the build).
///
/// Labels can contradict each other (a driver's full version against its parts), so the
/// constraint is finally checked against every node: one it would admit that `judged`
/// says does not run is excluded by name (`kubernetes.io/hostname NotIn`).
pub fn node_affinity(
    nodes: &[Node],
    judged: &FleetVerdict,
    toolkit: Option<&Toolkit>,
    verdict_of: &mut dyn FnMut(Cc, Option<(Version, Os)>) -> Verdict,
) -> Result<NodeAffinity, String> {
    let labelled: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.labels.iter().any(|(k, _)| *k == COMPUTE_MAJOR))
        .collect();
    if labelled.is_empty() {
        return Err("no node carries GPU Feature Discovery labels (nvidia.com/gpu.compute.major), so there is nothing to select on".into());
    }
    let runtime = toolkit
        .filter(|t| t.known)
        .and_then(|t| catalog::runtime_min_driver(t.version, Os::Linux));
    // Per capability seen: the lowest driver that runs it (None: any driver).
    let mut floors: BTreeMap<Cc, Option<Version>> = BTreeMap::new();
    for node in &labelled {
        for cc in node.gpus.iter().filter_map(|g| g.cc) {
            if floors.contains_key(&cc) {
                continue;
            }
            let verdict = verdict_of(cc, None);
            if !verdict.runs() {
                continue;
            }
            let jit = match verdict {
                Verdict::Jit { min_driver, .. } => min_driver,
                _ => None,
            };
            floors.insert(cc, jit.max(runtime));
        }
    }
    if floors.is_empty() {
        return Err("no GPU in the inventory can run this build".into());
    }
    let forms: Vec<&[&'static str; 3]> = DRIVER_FORMS
        .iter()
        .filter(|form| {
            labelled
                .iter()
                .any(|n| n.labels.iter().any(|(k, _)| *k == form[0]))
        })
        .collect();
    // Capabilities with one floor and one major share a term.
    let mut by_floor: BTreeMap<(u8, Option<Version>), Vec<Cc>> = BTreeMap::new();
    for (cc, floor) in &floors {
        by_floor.entry((cc.major, *floor)).or_default().push(*cc);
    }
    let mut terms = Vec::new();
    for ((major, floor), ccs) in by_floor {
        let gpu = vec![
            Requirement {
                key: COMPUTE_MAJOR,
                operator: Operator::In,
                values: vec![major.to_string()],
            },
            Requirement {
                key: COMPUTE_MINOR,
                operator: Operator::In,
                values: ccs.iter().map(|c| c.minor.to_string()).collect(),
            },
        ];
        match floor {
            None => terms.push(Term { requirements: gpu }),
            Some(floor) => {
                if forms.is_empty() {
                    return Err(format!(
                        "the build needs driver >= {floor} and no node carries GFD driver labels (nvidia.com/cuda.driver-version.* or nvidia.com/cuda.driver.*)"
                    ));
                }
                for form in &forms {
                    for driver in at_least(form, floor, &labelled) {
                        let mut requirements = gpu.clone();
                        requirements.extend(driver);
                        terms.push(Term { requirements });
                    }
                }
            }
        }
    }
    let mut affinity = NodeAffinity { terms };
    let group_of = judged.group_of_node(nodes.len());
    let mut excluded: Vec<String> = Vec::new();
    for (node, g) in nodes.iter().zip(group_of) {
        if judged.groups[g].status != Status::Runs && affinity.admits(&node.labels) {
            match node.labels.iter().find(|(k, _)| *k == HOSTNAME) {
                Some((_, host)) => excluded.push(host.clone()),
                None => {
                    return Err(format!(
                        "node `{}` carries labels that say it runs the build, but it does not (its labels disagree), and it has no `{HOSTNAME}` label to exclude it by",
                        node.name
                    ))
                }
            }
        }
    }
    if !excluded.is_empty() {
        for term in &mut affinity.terms {
            term.requirements.push(Requirement {
                key: HOSTNAME,
                operator: Operator::NotIn,
                values: excluded.clone(),
            });
        }
    }
    Ok(affinity)
}

/// "driver >= floor" as ORed conjunctions over (major, minor, revision) labels: a greater
/// major; the same major and a greater minor; the same major and minor and a revision
/// at least the floor's. Equality uses `In` with every spelling the inventory shows
/// (revisions are zero-padded: `05`).
fn at_least(form: &[&'static str; 3], floor: Version, nodes: &[&Node]) -> Vec<Vec<Requirement>> {
    let spellings = |key: &str, value: u32| -> Vec<String> {
        let mut out = vec![value.to_string()];
        for n in nodes {
            for (k, v) in &n.labels {
                if *k == key && v.parse::<u32>().ok() == Some(value) && !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        out
    };
    let gt = |key: &'static str, value: u32| Requirement {
        key,
        operator: Operator::Gt,
        values: vec![value.to_string()],
    };
    let is = |key: &'static str, value: u32| Requirement {
        key,
        operator: Operator::In,
        values: spellings(key, value),
    };
    let mut out = vec![
        vec![gt(form[0], floor.major)],
        vec![is(form[0], floor.major), gt(form[1], floor.minor)],
    ];
    let mut last = vec![is(form[0], floor.major), is(form[1], floor.minor)];
    if floor.patch > 0 {
        last.push(gt(form[2], floor.patch - 1));
    }
    out.push(last);
    out
}

impl NodeAffinity {
    /// Whether the scheduler would admit a node with these labels (Kubernetes semantics:
    /// terms ORed, requirements ANDed; `Gt` compares integers and fails on anything else).
    pub fn admits(&self, labels: &[(&str, String)]) -> bool {
        let value = |key: &str| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
        self.terms.iter().any(|t| {
            t.requirements
                .iter()
                .all(|r| match (r.operator, value(r.key)) {
                    (Operator::NotIn, None) => true,
                    (_, None) => false,
                    (Operator::In, Some(v)) => r.values.contains(v),
                    (Operator::NotIn, Some(v)) => !r.values.contains(v),
                    (Operator::Gt, Some(v)) => match (v.parse::<i64>(), r.values[0].parse::<i64>())
                    {
                        (Ok(a), Ok(b)) => a > b,
                        _ => false,
                    },
                })
        })
    }

    /// The pod-spec fragment, ready to paste under `spec:` (values quoted: label values
    /// are strings).
    pub fn to_yaml(&self) -> String {
        let mut s = String::from(
            "affinity:\n  nodeAffinity:\n    requiredDuringSchedulingIgnoredDuringExecution:\n      nodeSelectorTerms:\n",
        );
        for term in &self.terms {
            s.push_str("        - matchExpressions:\n");
            for r in &term.requirements {
                let values: Vec<String> = r.values.iter().map(|v| format!("\"{v}\"")).collect();
                s.push_str(&format!(
                    "            - key: {}\n              operator: {}\n              values: [{}]\n",
                    r.key,
                    r.operator.name(),
                    values.join(", ")
                ));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage;
    use crate::fleet::verdict::tests::{codes, node};
    use crate::fleet::verdict::{judge, Status};

    fn fleet() -> Vec<Node> {
        let mut old_form = node(
            "old",
            Some("p4"),
            Some(("NVIDIA A100-SXM4-80GB", "8.0")),
            None,
        );
        old_form.driver = Some("525.60.13".parse().unwrap());
        for (k, v) in [
            ("nvidia.com/cuda.driver.major", "525"),
            ("nvidia.com/cuda.driver.minor", "60"),
            ("nvidia.com/cuda.driver.rev", "13"),
        ] {
            old_form.labels.push((k, v.into()));
        }
        vec![
            node(
                "a1",
                Some("p1"),
                Some(("NVIDIA A100-SXM4-80GB", "8.0")),
                Some("535.104.05"),
            ),
            node(
                "t1",
                Some("p2"),
                Some(("Tesla T4", "7.5")),
                Some("470.82.01"),
            ),
            node(
                "t2",
                Some("p2b"),
                Some(("Tesla T4", "7.5")),
                Some("525.60.13"),
            ),
            node(
                "t3",
                Some("p2c"),
                Some(("Tesla T4", "7.5")),
                Some("525.60.12"),
            ),
            node(
                "t4",
                Some("p2d"),
                Some(("Tesla T4", "7.5")),
                Some("525.61.01"),
            ),
            node(
                "h1",
                Some("p3"),
                Some(("NVIDIA H100 80GB HBM3", "9.0")),
                Some("535.104.05"),
            ),
            node(
                "h2",
                Some("p3b"),
                Some(("NVIDIA H100 80GB HBM3", "9.0")),
                Some("550.54.15"),
            ),
            node(
                "v1",
                Some("p5"),
                Some(("Tesla V100-SXM2-16GB", "7.0")),
                Some("550.54.15"),
            ),
            node("cpu", Some("c"), None, None),
            old_form,
        ]
    }

    #[test]
    fn the_affinity_admits_exactly_the_nodes_the_verdict_says_run() {
        let toolkit = Toolkit::named("12.4".parse().unwrap(), None);
        let mut set = codes(&["sm_75", "sm_80", "compute_80"]);
        set.ptx_isa = Some(toolkit.ptx_isa);
        let nodes = fleet();
        let verdict = judge(&nodes, &set, Some(&toolkit));
        let affinity = node_affinity(&nodes, &verdict, Some(&toolkit), &mut |cc, d| {
            coverage::coverage(&set, cc, d)
        })
        .unwrap();
        let group_of = verdict.group_of_node(nodes.len());
        for (n, g) in nodes.iter().zip(group_of) {
            let runs = verdict.groups[g].status == Status::Runs;
            assert_eq!(
                affinity.admits(&n.labels),
                runs,
                "{}: {}",
                n.name,
                verdict.groups[g].reason
            );
        }
        // The boundary: 525.60.13 runs, 525.60.12 does not, 525.61.01 does; V100 never.
        let admitted: Vec<&str> = nodes
            .iter()
            .filter(|n| affinity.admits(&n.labels))
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(admitted, ["a1", "t2", "t4", "h2", "old"]);
        let yaml = affinity.to_yaml();
        assert!(yaml.contains("requiredDuringSchedulingIgnoredDuringExecution"));
        assert!(
            yaml.contains("key: nvidia.com/cuda.driver.rev"),
            "both label forms are used:\n{yaml}"
        );
    }

    #[test]
    fn no_labels_or_nothing_runnable_gives_the_reason_instead() {
        let toolkit = Toolkit::named("12.4".parse().unwrap(), None);
        let set = codes(&["sm_90"]);
        let nodes = vec![node(
            "t",
            None,
            Some(("Tesla T4", "7.5")),
            Some("550.54.15"),
        )];
        let judged = judge(&nodes, &set, Some(&toolkit));
        let err = node_affinity(&nodes, &judged, Some(&toolkit), &mut |cc, d| {
            coverage::coverage(&set, cc, d)
        });
        assert!(err.unwrap_err().contains("no GPU in the inventory can run"));
        let mut bare = nodes.clone();
        bare[0].labels.clear();
        let err = node_affinity(&bare, &judged, Some(&toolkit), &mut |cc, d| {
            coverage::coverage(&set, cc, d)
        });
        assert!(err.unwrap_err().contains("GPU Feature Discovery"));
    }
}

#[cfg(test)]
mod contradicting_labels {
    use super::*;
    use crate::coverage;
    use crate::fleet::verdict::judge;
    use crate::fleet::verdict::tests::{codes, node};

    #[test]
    fn a_node_whose_labels_contradict_its_verdict_is_excluded_by_name() {
        let toolkit = Toolkit::named("12.4".parse().unwrap(), None);
        let mut set = codes(&["sm_75"]);
        set.ptx_isa = Some(toolkit.ptx_isa);
        let good = node("good", None, Some(("Tesla T4", "7.5")), Some("535.104.05"));
        // Judged by its full version (R470: too old), labelled with R535's parts.
        let mut liar = node("liar", None, Some(("Tesla T4", "7.5")), Some("535.104.05"));
        liar.driver = Some("470.82.01".parse().unwrap());
        liar.labels.push((HOSTNAME, "liar".into()));
        let nodes = vec![good, liar];
        let judged = judge(&nodes, &set, Some(&toolkit));
        let mut judge_of = |cc, d| coverage::coverage(&set, cc, d);
        let a = node_affinity(&nodes, &judged, Some(&toolkit), &mut judge_of).unwrap();
        assert!(a.admits(&nodes[0].labels));
        assert!(!a.admits(&nodes[1].labels), "{}", a.to_yaml());
        assert!(a.to_yaml().contains("operator: NotIn"));
        let mut nameless = nodes.clone();
        nameless[1].labels.retain(|(k, _)| *k != HOSTNAME);
        let err = node_affinity(&nameless, &judged, Some(&toolkit), &mut judge_of).unwrap_err();
        assert!(err.contains("disagree"), "{err}");
    }
}
