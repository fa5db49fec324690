//! The planner: the inverse of coverage. From target GPUs and a toolkit, the smallest
//! code set (under the manifest's policies) that every target can run, each entry with
//! the reason it is there.

use crate::arch::{Arch, Cc, Code, CodeKind, CodeSet, Variant};
use crate::catalog::{self, Os};
use crate::check::{self, Assessment};
use crate::coverage::{self, Verdict};
use crate::diagnostic::Diagnostic;
use crate::error::Result;
use crate::manifest::{DriverFloor, Located, Manifest, OptIn, PtxPolicy, SassPolicy};
use crate::target::{self, Target};
use crate::toolkit::Toolkit;
use crate::version::Version;

/// One `-gencode` entry and why it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanEntry {
    pub code: Code,
    pub reason: String,
}

/// What to build, for whom, and what the checks found.
#[derive(Clone, Debug)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub toolkit: Toolkit,
    pub codes: CodeSet,
    pub entries: Vec<PlanEntry>,
    pub min_driver: DriverFloor,
    pub assessment: Assessment,
}

/// Everything the planner needs besides the catalog.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub targets: Vec<Target>,
    pub toolkit: Toolkit,
    pub min_driver: DriverFloor,
    pub ptx: PtxPolicy,
    pub sass: SassPolicy,
    pub arch_specific: Located<OptIn>,
    pub family_specific: Located<OptIn>,
}

impl PlanRequest {
    /// Resolves a manifest's GPU names, then the toolkit (named, or detected from nvcc:
    /// the caller decides how), so a bad target list is reported before a missing nvcc.
    pub fn from_manifest(
        manifest: &Manifest,
        toolkit: impl FnOnce() -> Result<Toolkit>,
    ) -> Result<PlanRequest> {
        let targets = target::resolve(&manifest.gpus, manifest.gpus_location.as_ref())?;
        let toolkit = toolkit()?;
        Ok(PlanRequest {
            targets,
            toolkit,
            min_driver: manifest.min_driver.clone(),
            ptx: manifest.ptx,
            sass: manifest.sass,
            arch_specific: manifest.arch_specific.clone(),
            family_specific: manifest.family_specific.clone(),
        })
    }
}

impl Plan {
    /// Whether any check failed (exit 1).
    pub fn has_errors(&self) -> bool {
        self.assessment.has_errors()
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.assessment.diagnostics
    }
}

/// Plans a build. Never fails: what cannot be planned is reported in the assessment.
pub fn plan(request: &PlanRequest) -> Plan {
    let toolkit = &request.toolkit;
    let mut candidates: Vec<(Code, Vec<usize>)> = Vec::new();
    for (i, target) in request.targets.iter().enumerate() {
        if let Some(code) = choose_sass(target.cc, request, toolkit) {
            match candidates.iter_mut().find(|(c, _)| *c == code) {
                Some((_, owners)) => owners.push(i),
                None => candidates.push((code, vec![i])),
            }
        }
    }
    candidates.sort_unstable_by_key(|(c, _)| *c);

    let mut codes = CodeSet::new();
    codes.ptx_isa = Some(toolkit.ptx_isa);
    for (code, owners) in &candidates {
        let already = request.sass == SassPolicy::Minimal
            && owners
                .iter()
                .all(|&i| coverage::coverage(&codes, request.targets[i].cc, None).has_sass());
        if !already {
            codes.insert(*code);
        }
    }

    if request.ptx == PtxPolicy::Highest {
        if let Some(ptx) = highest_ptx(&codes, toolkit) {
            codes.insert(ptx);
        }
    }

    // What each target runs from the final set, judged once for the reasons and the floor.
    let verdicts: Vec<Verdict> = request
        .targets
        .iter()
        .map(|t| coverage::coverage(&codes, t.cc, None))
        .collect();
    let entries = explain_entries(&codes, &request.targets, &verdicts);
    let mut assessment =
        check::assess(&codes, &request.targets, Some(toolkit), &request.min_driver);
    assessment.diagnostics.extend(check_opt_ins(request));
    crate::diagnostic::sort_by_level(&mut assessment.diagnostics);
    let jit_only = verdicts.iter().any(|v| matches!(v, Verdict::Jit { .. }));
    let min_driver = required_driver(toolkit, jit_only);
    Plan {
        targets: request.targets.clone(),
        toolkit: toolkit.clone(),
        codes,
        entries,
        min_driver,
        assessment,
    }
}

/// The cubin to build for one target capability, if the toolkit can build any that
/// runs there.
fn choose_sass(cc: Cc, request: &PlanRequest, toolkit: &Toolkit) -> Option<Code> {
    let cc = catalog::cc_for_toolkit(cc, toolkit.version);
    let wanted = if request.arch_specific.value.includes(cc) {
        Variant::Specific
    } else if request.family_specific.value.includes(cc) {
        Variant::Family
    } else {
        Variant::Plain
    };
    let exact = Code::sass(Arch::new(cc, wanted));
    if toolkit.can_emit(exact) {
        return Some(exact);
    }
    // An opt-in the toolkit cannot honour falls back to plain code; `check_opt_ins`
    // reports it as an error where the manifest named the capability.
    let plain = Code::sass(Arch::plain(cc));
    if toolkit.can_emit(plain) {
        return Some(plain);
    }
    // A GPU newer than the toolkit: the best cubin of its major that runs there.
    toolkit
        .real_targets
        .iter()
        .copied()
        .filter(|a| a.variant == Variant::Plain && coverage::sass_runs_on(*a, cc).is_some())
        .max()
        .map(Code::sass)
}

/// Opt-ins that name no target, or a capability the toolkit has no such variant for.
fn check_opt_ins(request: &PlanRequest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (opt_in, variant, key) in [
        (&request.arch_specific, Variant::Specific, "arch-specific"),
        (&request.family_specific, Variant::Family, "family-specific"),
    ] {
        let OptIn::Only(list) = &opt_in.value else {
            continue;
        };
        for &cc in list {
            if !request.targets.iter().any(|t| t.cc == cc) {
                out.push(
                    Diagnostic::warning(
                        "opt-in-unused",
                        format!("`{key}` names {cc}, which is not one of the targets"),
                    )
                    .with_help(format!(
                        "add a {cc} GPU to `gpus`, or remove {cc} from `{key}`"
                    ))
                    .at(opt_in.location.clone()),
                );
                continue;
            }
            let tk_cc = catalog::cc_for_toolkit(cc, request.toolkit.version);
            let code = Code::sass(Arch::new(tk_cc, variant));
            if !request.toolkit.can_emit(code) {
                let have: Vec<String> = request
                    .toolkit
                    .real_targets
                    .iter()
                    .filter(|a| a.variant == variant)
                    .map(|a| a.cc.to_string())
                    .collect();
                let have = if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                };
                let first = catalog::toolkit_range(code).map_or(String::new(), |(f, _)| {
                    format!("; CUDA {} has it", f.version)
                });
                out.push(
                    Diagnostic::error(
                        "toolkit-cannot-target",
                        format!(
                            "CUDA {} cannot generate {code} for `{key}` (its {key} targets: {have}){first}",
                            request.toolkit.version
                        ),
                    )
                    .with_help(format!("remove {cc} from `{key}`, or build with a toolkit that has {code}"))
                    .at(opt_in.location.clone()),
                );
            }
        }
    }
    out
}

/// PTX of the highest capability the plan has SASS for, so newer GPUs can JIT it.
fn highest_ptx(codes: &CodeSet, toolkit: &Toolkit) -> Option<Code> {
    let top = codes.sass().map(|a| a.cc).max()?;
    [Variant::Plain, Variant::Family]
        .into_iter()
        .map(|v| Code::ptx(Arch::new(top, v)))
        .find(|c| toolkit.can_emit(*c))
}

fn explain_entries(codes: &CodeSet, targets: &[Target], verdicts: &[Verdict]) -> Vec<PlanEntry> {
    let top_target = targets.iter().max_by_key(|t| t.cc);
    codes
        .iter()
        .map(|code| {
            let mut native = Vec::new();
            let mut compatible = Vec::new();
            let mut jit = Vec::new();
            for (t, verdict) in targets.iter().zip(verdicts) {
                match *verdict {
                    Verdict::Native(c) if c == code => native.push(t.name.clone()),
                    Verdict::Compatible(c) if c == code => {
                        compatible.push(format!("{} ({})", t.name, t.cc))
                    }
                    Verdict::Jit { ptx, .. } if ptx == code => jit.push(t.name.clone()),
                    _ => {}
                }
            }
            let mut parts = Vec::new();
            if !native.is_empty() {
                parts.push(format!("native code for {}", native.join(", ")));
            }
            if !compatible.is_empty() {
                parts.push(format!("runs on {} (same major)", compatible.join(", ")));
            }
            if !jit.is_empty() {
                parts.push(format!("the only code for {} (JIT)", jit.join(", ")));
            }
            if code.kind == CodeKind::Ptx {
                let above =
                    top_target.map_or_else(|| "every target".to_string(), |t| t.name.clone());
                parts.push(format!("PTX so that GPUs newer than {above} can JIT it"));
            }
            PlanEntry {
                code,
                reason: parts.join("; "),
            }
        })
        .collect()
}

/// The lowest driver, per OS, that runs the plan: the runtime's floor, raised to the
/// PTX JIT's where some target has only PTX.
fn required_driver(toolkit: &Toolkit, jit_only: bool) -> DriverFloor {
    let mut floor = DriverFloor::default();
    for os in Os::ALL {
        let runtime = catalog::runtime_min_driver(toolkit.version, os).or(toolkit.driver(os));
        let ptx = if jit_only {
            catalog::min_driver_for_ptx_isa(toolkit.ptx_isa, os)
        } else {
            None
        };
        let need: Option<Version> = runtime.into_iter().chain(ptx).max();
        *floor.slot_mut(os) = need.map(crate::manifest::Located::bare);
    }
    floor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Located;

    fn request(gpus: &[&str], cuda: &str) -> PlanRequest {
        let gpus: Vec<Located<String>> =
            gpus.iter().map(|g| Located::bare(g.to_string())).collect();
        PlanRequest {
            targets: target::resolve(&gpus, None).unwrap(),
            toolkit: Toolkit::named(cuda.parse().unwrap(), None),
            min_driver: DriverFloor::default(),
            ptx: PtxPolicy::Highest,
            sass: SassPolicy::Exact,
            arch_specific: Located::bare(OptIn::Off),
            family_specific: Located::bare(OptIn::Off),
        }
    }

    fn codes(plan: &Plan) -> Vec<String> {
        plan.codes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn fleet_gets_one_cubin_per_capability_and_ptx_of_the_highest() {
        let p = plan(&request(&["T4", "A100", "L4", "H100"], "12.4"));
        assert_eq!(
            codes(&p),
            ["sm_75", "sm_80", "sm_89", "sm_90", "compute_90"]
        );
        assert!(!p.has_errors(), "{:?}", p.diagnostics());
        let sm80 = p
            .entries
            .iter()
            .find(|e| e.code.to_string() == "sm_80")
            .unwrap();
        assert!(
            sm80.reason.starts_with("native code for") && sm80.reason.contains("A100"),
            "{}",
            sm80.reason
        );
        let ptx = p
            .entries
            .iter()
            .find(|e| e.code.kind == CodeKind::Ptx)
            .unwrap();
        assert!(ptx.reason.contains("newer than H100"), "{}", ptx.reason);
    }

    #[test]
    fn minimal_keeps_the_lowest_minor_per_major() {
        let mut r = request(&["A100", "A10", "L4", "H100"], "12.4");
        r.sass = SassPolicy::Minimal;
        r.ptx = PtxPolicy::None;
        let p = plan(&r);
        assert_eq!(codes(&p), ["sm_80", "sm_90"]);
        assert!(p.entries[0].reason.contains("runs on"));
    }

    #[test]
    fn arch_specific_opt_in() {
        let mut r = request(&["A100", "H100"], "12.4");
        r.arch_specific = Located::bare(OptIn::Only(vec![Cc::new(9, 0)]));
        let p = plan(&r);
        assert_eq!(codes(&p), ["sm_80", "sm_90a", "compute_90"]);
        assert!(!p.has_errors(), "{:?}", p.diagnostics());
        // All: only the capabilities that have an `a` variant get one.
        r.arch_specific = Located::bare(OptIn::All);
        assert_eq!(codes(&plan(&r)), ["sm_80", "sm_90a", "compute_90"]);
    }

    #[test]
    fn opt_ins_the_toolkit_cannot_honour_are_errors() {
        let mut r = request(&["A100", "H100"], "12.4");
        r.arch_specific = Located::bare(OptIn::Only(vec![Cc::new(8, 0), Cc::new(8, 6)]));
        let p = plan(&r);
        let found: Vec<&str> = p.diagnostics().iter().map(|d| d.code).collect();
        assert_eq!(found, ["toolkit-cannot-target", "opt-in-unused"]);
        assert!(p.diagnostics()[0].message.contains("sm_80a"));
        let mut r = request(&["B200"], "12.8");
        r.family_specific = Located::bare(OptIn::Only(vec![Cc::new(10, 0)]));
        let p = plan(&r);
        assert!(
            p.diagnostics()[0].message.contains("12.9"),
            "{:?}",
            p.diagnostics()
        );
    }

    #[test]
    fn gpu_newer_than_the_toolkit_gets_compatible_code_and_a_warning() {
        let p = plan(&request(&["GB10"], "12.8"));
        assert_eq!(codes(&p), ["sm_120", "compute_120"]);
        let d = p
            .diagnostics()
            .iter()
            .find(|d| d.code == "not-native")
            .unwrap();
        assert!(d.message.contains("12.9"), "{}", d.message);
        assert!(!p.has_errors());
    }

    #[test]
    fn thor_is_sm_101_before_cuda_13() {
        assert_eq!(
            codes(&plan(&request(&["11.0"], "12.9"))),
            ["sm_101", "compute_101"]
        );
        assert_eq!(
            codes(&plan(&request(&["11.0"], "13.0"))),
            ["sm_110", "compute_110"]
        );
    }

    #[test]
    fn every_planned_target_runs_the_plan() {
        // Property: for every known GPU and every toolkit that can build for it, the
        // plan covers it natively.
        for tk in catalog::toolkits() {
            for gpu in catalog::gpus() {
                let r = request(&[gpu.name], &tk.version.to_string());
                let p = plan(&r);
                let v = coverage::coverage(&p.codes, gpu.cc, None);
                let buildable = tk
                    .real_targets
                    .iter()
                    .any(|a| coverage::sass_runs_on(*a, gpu.cc) == Some(true));
                if buildable {
                    assert!(
                        matches!(v, Verdict::Native(_)),
                        "{} with {}: {v:?}",
                        gpu.name,
                        tk.version
                    );
                } else if !v.has_sass() {
                    assert!(
                        p.has_errors(),
                        "{} with {}: uncovered but no error",
                        gpu.name,
                        tk.version
                    );
                }
            }
        }
    }
}
