//! The planner: the inverse of coverage. From target GPUs and a toolkit, the smallest
//! code set (under the manifest's policies) that every target can run, each entry with
//! the reason it is there.

use crate::arch::{Arch, Cc, Code, CodeKind, CodeSet, Variant};
use crate::catalog::{self, Os};
use crate::check::{self, Assessment};
use crate::coverage::{self, Verdict};
use crate::diagnostic::{Diagnostic, Level};
use crate::error::Result;
use crate::manifest::{DriverFloor, Manifest, OptIn, PtxPolicy, SassPolicy};
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
    pub arch_specific: OptIn,
    pub family_specific: OptIn,
}

impl PlanRequest {
    /// Resolves a manifest's GPU names; the toolkit is resolved by the caller (named,
    /// or detected from nvcc).
    pub fn from_manifest(manifest: &Manifest, toolkit: Toolkit) -> Result<PlanRequest> {
        let targets = target::resolve(&manifest.gpus, manifest.gpus_location.as_ref())?;
        Ok(PlanRequest {
            targets,
            toolkit,
            min_driver: manifest.min_driver.clone(),
            ptx: manifest.ptx,
            sass: manifest.sass,
            arch_specific: manifest.arch_specific.value.clone(),
            family_specific: manifest.family_specific.value.clone(),
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

    /// The single capability, where the plan is one (for CUDA_COMPUTE_CAP).
    pub fn single_arch(&self) -> Option<Arch> {
        let arches = self.codes.arches();
        let mut ccs = arches.iter().map(|a| a.cc);
        let first = ccs.next()?;
        ccs.all(|c| c == first)
            .then(|| *arches.iter().next_back().unwrap_or(&Arch::plain(first)))
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
    candidates.sort_by_key(|(c, _)| *c);

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

    let entries = explain_entries(&codes, &request.targets);
    let assessment = check::assess(&codes, &request.targets, Some(toolkit), &request.min_driver);
    let min_driver = required_driver(&codes, &request.targets, toolkit);
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
    let wanted = if request.arch_specific.includes(cc) {
        Variant::Specific
    } else if request.family_specific.includes(cc) {
        Variant::Family
    } else {
        Variant::Plain
    };
    let exact = Code::sass(Arch::new(cc, wanted));
    if toolkit.can_emit(exact) {
        return Some(exact);
    }
    if wanted != Variant::Plain && !matches!(request_opt_in(request, wanted), OptIn::All) {
        // An explicit opt-in the toolkit cannot honour: plan nothing, the check says why.
        return None;
    }
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

fn request_opt_in(request: &PlanRequest, variant: Variant) -> &OptIn {
    match variant {
        Variant::Specific => &request.arch_specific,
        _ => &request.family_specific,
    }
}

/// PTX of the highest capability the plan has SASS for, so newer GPUs can JIT it.
fn highest_ptx(codes: &CodeSet, toolkit: &Toolkit) -> Option<Code> {
    let top = codes.sass().map(|a| a.cc).max()?;
    [Variant::Plain, Variant::Family]
        .into_iter()
        .map(|v| Code::ptx(Arch::new(top, v)))
        .find(|c| toolkit.can_emit(*c))
}

fn explain_entries(codes: &CodeSet, targets: &[Target]) -> Vec<PlanEntry> {
    let top_target = targets.iter().max_by_key(|t| t.cc);
    codes
        .iter()
        .map(|code| {
            let mut native = Vec::new();
            let mut compatible = Vec::new();
            let mut jit = Vec::new();
            for t in targets {
                match coverage::coverage(codes, t.cc, None) {
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
fn required_driver(codes: &CodeSet, targets: &[Target], toolkit: &Toolkit) -> DriverFloor {
    let jit_only = targets
        .iter()
        .any(|t| matches!(coverage::coverage(codes, t.cc, None), Verdict::Jit { .. }));
    let mut floor = DriverFloor::default();
    for os in Os::ALL {
        let runtime = catalog::runtime_min_driver(toolkit.version, os).or(toolkit.driver(os));
        let ptx = if jit_only {
            catalog::min_driver_for_ptx_isa(toolkit.ptx_isa, os)
        } else {
            None
        };
        let need: Option<Version> = runtime.into_iter().chain(ptx).max();
        let slot = match os {
            Os::Linux => &mut floor.linux,
            Os::Windows => &mut floor.windows,
        };
        *slot = need.map(crate::manifest::Located::bare);
    }
    floor
}

/// Diagnostics worth failing on.
pub fn errors(diagnostics: &[Diagnostic]) -> impl Iterator<Item = &Diagnostic> {
    diagnostics.iter().filter(|d| d.level == Level::Error)
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
            arch_specific: OptIn::Off,
            family_specific: OptIn::Off,
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
        r.arch_specific = OptIn::Only(vec![Cc::new(9, 0)]);
        let p = plan(&r);
        assert_eq!(codes(&p), ["sm_80", "sm_90a", "compute_90"]);
        assert!(!p.has_errors(), "{:?}", p.diagnostics());
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
