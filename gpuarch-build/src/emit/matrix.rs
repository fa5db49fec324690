//! Arch groups: a plan split into one build per cubin, for teams that build one image
//! per GPU architecture (`cargo gpuarch plan --format matrix`).
//!
//! Each group holds one planned cubin and the targets that run it; a PTX entry rides with
//! the highest cubin at or below its architecture (the build that future GPUs JIT from),
//! or forms a group of its own. Together the groups hold exactly the plan's code.

use crate::arch::{Code, CodeKind, CodeSet};
use crate::check::TargetReport;
use crate::target::Target;

/// One build of a per-architecture matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchGroup {
    /// The group's cubin (`sm_80`), or its PTX where it has none (`compute_90`).
    pub name: String,
    pub codes: CodeSet,
    /// The targets this build serves (by cubin, or by JIT from its PTX).
    pub targets: Vec<Target>,
}

/// Splits `codes` into arch groups and places each target in the group whose code covers it.
pub fn arch_groups(codes: &CodeSet, targets: &[TargetReport]) -> Vec<ArchGroup> {
    let mut groups: Vec<ArchGroup> = codes
        .sass()
        .map(|arch| {
            let code = Code::sass(arch);
            ArchGroup {
                name: code.to_string(),
                codes: CodeSet {
                    codes: [code].into_iter().collect(),
                    ptx_isa: codes.ptx_isa,
                },
                targets: Vec::new(),
            }
        })
        .collect();
    for arch in codes.ptx() {
        let code = Code::ptx(arch);
        let host = groups
            .iter()
            .rposition(|g| g.codes.sass().next().is_some_and(|s| s.cc <= arch.cc));
        match host {
            Some(i) => groups[i].codes.insert(code),
            None => groups.push(ArchGroup {
                name: code.to_string(),
                codes: CodeSet {
                    codes: [code].into_iter().collect(),
                    ptx_isa: codes.ptx_isa,
                },
                targets: Vec::new(),
            }),
        }
    }
    for report in targets {
        let Some(code) = report.verdict.code() else {
            continue;
        };
        if let Some(g) = groups.iter_mut().find(|g| g.codes.contains(code)) {
            g.targets.push(report.target.clone());
        }
    }
    groups.sort_by_key(|g| {
        g.codes
            .iter()
            .find(|c| c.kind == CodeKind::Sass)
            .or_else(|| g.codes.iter().next())
            .map(|c| c.arch)
    });
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DriverFloor, Located};
    use crate::{plan, PlanRequest, Toolkit};

    fn planned(gpus: &[&str], cuda: &str) -> crate::Plan {
        let targets = crate::target::resolve(
            &gpus
                .iter()
                .map(|g| Located::bare(g.to_string()))
                .collect::<Vec<_>>(),
            None,
        )
        .unwrap();
        plan(&PlanRequest {
            targets,
            toolkit: Toolkit::named(cuda.parse().unwrap(), None),
            min_driver: DriverFloor::default(),
            ptx: Default::default(),
            sass: Default::default(),
            arch_specific: Located::bare(Default::default()),
            family_specific: Located::bare(Default::default()),
        })
    }

    #[test]
    fn every_planned_code_lands_in_exactly_one_group_and_every_covered_target_in_one() {
        for (gpus, cuda) in [
            (&["T4", "A100", "L4", "H100"][..], "12.4"),
            (&["A10", "RTX 3090"][..], "12.4"),
            (&["Tesla P100", "V100"][..], "11.8"),
        ] {
            let p = planned(gpus, cuda);
            let groups = arch_groups(&p.codes, &p.assessment.targets);
            let mut all: Vec<Code> = groups.iter().flat_map(|g| g.codes.iter()).collect();
            all.sort();
            let mut expected: Vec<Code> = p.codes.iter().collect();
            expected.sort();
            assert_eq!(all, expected, "{gpus:?}");
            for t in &p.assessment.targets {
                let holding = groups
                    .iter()
                    .filter(|g| g.targets.contains(&t.target))
                    .count();
                assert_eq!(holding, usize::from(t.verdict.runs()), "{}", t.target.name);
            }
            // Each group's own code runs its targets, by the one judge.
            for g in &groups {
                for t in &g.targets {
                    assert!(
                        crate::coverage(&g.codes, t.cc, None).runs(),
                        "{} in {}",
                        t.name,
                        g.name
                    );
                }
            }
        }
    }

    #[test]
    fn the_ptx_fallback_rides_with_the_highest_cubin() {
        let p = planned(&["T4", "A100", "H100"], "12.4");
        let groups = arch_groups(&p.codes, &p.assessment.targets);
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["sm_75", "sm_80", "sm_90"]);
        assert!(groups[2].codes.contains(Code::parse("compute_90").unwrap()));
        assert!(!groups[0].codes.iter().any(|c| c.kind == CodeKind::Ptx));
    }
}
