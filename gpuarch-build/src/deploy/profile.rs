//! One GPU explained (`cargo gpuarch explain gpu L40S`): its catalog rows, what each
//! toolkit can build for it, the drivers that run it, and which PyTorch wheels carry
//! code for it. Every verdict comes from [`crate::coverage::coverage`]; nothing here
//! re-derives a compatibility rule.

use crate::arch::{Cc, Code, CodeKind, CodeSet, Variant};
use crate::catalog::{self, GpuInfo};
use crate::coverage::{self, Verdict};
use crate::deploy::facts::{self, DriverBranch};
use crate::diagnostic::Diagnostic;
use crate::manifest::Located;
use crate::target;
use crate::version::Version;

/// Everything gpuarch knows about one GPU, or about every GPU of one capability.
#[derive(Clone, Debug)]
pub struct GpuProfile {
    /// As asked: `L40S`, `8.9`.
    pub query: String,
    pub cc: Cc,
    /// `None` for a capability no catalog product has.
    pub architecture: Option<&'static str>,
    pub integrated: bool,
    /// The product named, or every product of the capability asked for.
    pub gpus: Vec<&'static GpuInfo>,
    /// Each architecture whose cubins run natively on it (`sm_90`, `sm_90a`), with the
    /// toolkits that build it.
    pub native_codes: Vec<CodeRange>,
    /// What each toolkit of the catalog can best give it, oldest toolkit first.
    pub toolkits: Vec<ToolkitVerdict>,
    /// The driver of the first toolkit with native code for it.
    pub min_driver: Option<MinDriver>,
    /// The last branch that supports its architecture, where drivers have moved on.
    pub last_branch: Option<u32>,
    /// The driver branches that run it, from the first to the last (or newest) recorded.
    /// Empty for integrated GPUs, whose driver comes with JetPack.
    pub branches: Vec<&'static DriverBranch>,
    /// Every CUDA wheel of every PyTorch release, judged.
    pub wheels: Vec<WheelVerdict>,
}

/// The toolkits that build one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRange {
    pub code: Code,
    pub first: Version,
    pub last: Version,
}

/// The best code one toolkit can build for the GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolkitVerdict {
    pub toolkit: Version,
    pub verdict: Verdict,
}

/// Consecutive toolkits that give the GPU the same code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolkitSpan {
    pub first: Version,
    pub last: Version,
    /// The verdict of the span's newest toolkit (a JIT verdict's driver differs by toolkit).
    pub verdict: Verdict,
}

/// The lowest driver for the GPU: that of the first toolkit that builds native code for
/// it, since NVIDIA ships support for a new architecture with the toolkit that first
/// targets it (CUDA 11.8 and R520 for Ada and Hopper).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinDriver {
    pub toolkit: Version,
    pub linux: Option<Version>,
    pub windows: Option<Version>,
    /// False where that toolkit is the oldest the catalog holds: an older toolkit (and
    /// driver) may have supported it too.
    pub exact: bool,
}

/// One PyTorch CUDA wheel, judged for the GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelVerdict {
    pub torch: Version,
    pub tag: String,
    pub cuda: Version,
    /// Whether the wheel's arch list was measured from the wheel itself.
    pub measured: bool,
    pub verdict: Verdict,
}

/// The wheels that give the GPU the same code, and how to say which they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelGroup {
    pub verdict: Verdict,
    /// The oldest and newest PyTorch release with a wheel in the group.
    pub first: Version,
    pub last: Version,
    pub wheels: Vec<(Version, String)>,
    pub scope: WheelScope,
}

/// Which wheels of the releases `first..=last` a group holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WheelScope {
    /// All of them.
    Every,
    /// Those whose CUDA is at least this.
    CudaAtLeast(Version),
    /// Those whose CUDA is at most this.
    CudaAtMost(Version),
    /// Some other selection: the list says which.
    Listed,
}

/// Groups verdicts that give the same code the same way; a JIT verdict's driver may differ.
fn same_code(a: &Verdict, b: &Verdict) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) && a.code() == b.code()
}

/// The profile of a product name (`L40S`, `NVIDIA A100-SXM4-80GB`), an alias, a
/// capability (`8.9`, `sm_89`: every GPU of it) or an architecture with one capability
/// (`Hopper`). Unknown names are `unknown-gpu` with suggestions.
pub fn gpu_profile(name: &str) -> Result<GpuProfile, Diagnostic> {
    let trimmed = name.trim();
    // `sm_90a` asks about the GPU it is for.
    let looks_numeric = trimmed
        .trim_start_matches("sm_")
        .trim_start_matches("compute_")
        .starts_with(|c: char| c.is_ascii_digit());
    let asked = if looks_numeric {
        trimmed.trim_end_matches(['a', 'f'])
    } else {
        trimmed
    };
    let targets = target::resolve(&[Located::bare(asked.to_string())], None).map_err(|e| {
        e.diagnostics()
            .into_iter()
            .next()
            .unwrap_or_else(|| Diagnostic::error("unknown-gpu", format!("unknown GPU `{trimmed}`")))
    })?;
    let first = match targets.as_slice() {
        [one] => one,
        many => {
            let ccs: Vec<String> = many.iter().map(|t| t.cc.to_string()).collect();
            return Err(Diagnostic::error(
                "unknown-gpu",
                format!(
                    "`{trimmed}` is an architecture of {} capabilities ({}), not one GPU",
                    many.len(),
                    ccs.join(", ")
                ),
            )
            .with_help(format!(
                "explain one of them: `cargo gpuarch explain gpu {}`, or name a product",
                ccs.first().map_or("8.9", String::as_str)
            )));
        }
    };
    let gpus: Vec<&'static GpuInfo> = match first.gpu {
        Some(gpu) => vec![gpu],
        None => catalog::gpus()
            .iter()
            .filter(|g| catalog::same_device(g.cc, first.cc))
            .collect(),
    };
    Ok(profile(trimmed, first.cc, first.integrated, gpus))
}

fn profile(query: &str, cc: Cc, integrated: bool, gpus: Vec<&'static GpuInfo>) -> GpuProfile {
    let architecture = gpus.first().map(|g| g.architecture);
    let native_codes: Vec<CodeRange> = catalog::known_archs()
        .into_iter()
        .filter(|&arch| coverage::sass_runs_on(arch, cc) == Some(true))
        .filter_map(|arch| {
            let code = Code::sass(arch);
            catalog::toolkit_range(code).map(|(first, last)| CodeRange {
                code,
                first: first.version,
                last: last.version,
            })
        })
        .collect();
    let toolkits: Vec<ToolkitVerdict> = catalog::toolkits()
        .iter()
        .map(|tk| {
            let mut everything: CodeSet = tk
                .real_targets
                .iter()
                .map(|&a| Code::sass(a))
                .chain(tk.virtual_targets.iter().map(|&a| Code::ptx(a)))
                .collect();
            everything.ptx_isa = Some(tk.ptx_isa);
            ToolkitVerdict {
                toolkit: tk.version,
                verdict: coverage::coverage(&everything, cc, None),
            }
        })
        .collect();
    let oldest = catalog::toolkits().iter().map(|t| t.version).min();
    let min_driver = toolkits
        .iter()
        .find(|t| matches!(t.verdict, Verdict::Native(_)))
        .and_then(|t| catalog::toolkit(t.toolkit))
        .map(|tk| MinDriver {
            toolkit: tk.version,
            linux: tk.driver_linux,
            windows: tk.driver_windows,
            exact: Some(tk.version) != oldest,
        });
    let last_branch = architecture.and_then(facts::last_branch_for);
    // Without a toolkit that builds for it, nothing says which drivers know the GPU.
    let from = match &min_driver {
        Some(MinDriver {
            linux: Some(d),
            exact: true,
            ..
        }) => Some(d.major),
        Some(_) => Some(0),
        None => None,
    };
    let branches = match from {
        Some(from) if !integrated => facts::driver_branches()
            .iter()
            .filter(|b| b.branch >= from && last_branch.is_none_or(|last| b.branch <= last))
            .collect(),
        _ => Vec::new(),
    };
    let wheels = facts::torch_releases()
        .iter()
        .flat_map(|r| {
            r.variants.iter().map(move |v| WheelVerdict {
                torch: r.version,
                tag: v.tag.clone(),
                cuda: v.cuda,
                measured: v.measured,
                verdict: coverage::coverage(&v.code_set(), cc, None),
            })
        })
        .collect();
    GpuProfile {
        query: query.to_string(),
        cc,
        architecture,
        integrated,
        gpus,
        native_codes,
        toolkits,
        min_driver,
        last_branch,
        branches,
        wheels,
    }
}

impl GpuProfile {
    /// The toolkits in runs that give the GPU the same code, oldest first.
    pub fn toolkit_spans(&self) -> Vec<ToolkitSpan> {
        let mut spans: Vec<ToolkitSpan> = Vec::new();
        for t in &self.toolkits {
            match spans.last_mut() {
                Some(span) if same_code(&span.verdict, &t.verdict) => {
                    span.last = t.toolkit;
                    span.verdict = t.verdict.clone();
                }
                _ => spans.push(ToolkitSpan {
                    first: t.toolkit,
                    last: t.toolkit,
                    verdict: t.verdict.clone(),
                }),
            }
        }
        spans
    }

    /// The first and last toolkit that build a cubin it runs (its own, or a compatible one).
    pub fn sass_toolkits(&self) -> Option<(Version, Version)> {
        let mut with_sass = self.toolkits.iter().filter(|t| t.verdict.has_sass());
        let first = with_sass.next()?.toolkit;
        let last = with_sass.next_back().map_or(first, |t| t.toolkit);
        Some((first, last))
    }

    /// The native architectures of a variant (`a` or `f` code for it, where any exists).
    pub fn native_variants(&self, variant: Variant) -> impl Iterator<Item = &CodeRange> {
        self.native_codes
            .iter()
            .filter(move |r| r.code.arch.variant == variant && r.code.kind == CodeKind::Sass)
    }

    /// The wheels grouped by the code they give the GPU, best first (native, compatible,
    /// JIT, nothing), each with the narrowest true description of which wheels they are.
    pub fn wheel_groups(&self) -> Vec<WheelGroup> {
        let rank = |v: &Verdict| match v {
            Verdict::Native(_) => 0,
            Verdict::Compatible(_) => 1,
            Verdict::Jit { .. } => 2,
            Verdict::PtxTooNew { .. } | Verdict::Uncovered { .. } => 3,
        };
        let mut groups: Vec<(Verdict, Vec<&WheelVerdict>)> = Vec::new();
        for w in &self.wheels {
            match groups.iter_mut().find(|(v, _)| same_code(v, &w.verdict)) {
                Some((_, members)) => members.push(w),
                None => groups.push((w.verdict.clone(), vec![w])),
            }
        }
        groups.sort_by_key(|(v, _)| (rank(v), v.code()));
        groups
            .into_iter()
            .map(|(verdict, members)| {
                let first = members
                    .iter()
                    .map(|w| w.torch)
                    .min()
                    .expect("a group has members");
                let last = members
                    .iter()
                    .map(|w| w.torch)
                    .max()
                    .expect("a group has members");
                let in_range: Vec<&WheelVerdict> = self
                    .wheels
                    .iter()
                    .filter(|w| w.torch >= first && w.torch <= last)
                    .collect();
                let holds = |selected: &dyn Fn(&WheelVerdict) -> bool| {
                    in_range.iter().filter(|w| selected(w)).count() == members.len()
                        && members.iter().all(|w| selected(w))
                };
                let lowest = members
                    .iter()
                    .map(|w| w.cuda)
                    .min()
                    .expect("a group has members");
                let highest = members
                    .iter()
                    .map(|w| w.cuda)
                    .max()
                    .expect("a group has members");
                let scope = if in_range.len() == members.len() {
                    WheelScope::Every
                } else if holds(&|w| w.cuda >= lowest) {
                    WheelScope::CudaAtLeast(lowest)
                } else if holds(&|w| w.cuda <= highest) {
                    WheelScope::CudaAtMost(highest)
                } else {
                    WheelScope::Listed
                };
                WheelGroup {
                    verdict,
                    first,
                    last,
                    wheels: members.iter().map(|w| (w.torch, w.tag.clone())).collect(),
                    scope,
                }
            })
            .collect()
    }
}

impl WheelGroup {
    /// `the CUDA >= 11.1 wheels of torch 1.8 to 2.15 (41)`.
    pub fn describe(&self) -> String {
        let releases = if self.first == self.last {
            format!("torch {}", self.first)
        } else {
            format!("torch {} to {}", self.first, self.last)
        };
        let n = self.wheels.len();
        match &self.scope {
            WheelScope::Every => format!("every CUDA wheel of {releases} ({n})"),
            WheelScope::CudaAtLeast(v) => format!("the CUDA >= {v} wheels of {releases} ({n})"),
            WheelScope::CudaAtMost(v) => format!("the CUDA <= {v} wheels of {releases} ({n})"),
            WheelScope::Listed => {
                let mut parts: Vec<String> = Vec::new();
                for (torch, tag) in &self.wheels {
                    match parts.last_mut() {
                        Some(last) if last.starts_with(&format!("{torch} ")) => {
                            last.push_str(&format!(", {tag}"));
                        }
                        _ => parts.push(format!("{torch} {tag}")),
                    }
                }
                format!("{n} wheels: torch {}", parts.join("; "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn l40s_is_ada_and_cuda_11_8_first_builds_sm_89() {
        // NVIDIA's CUDA GPUs page: L40S is 8.9 (Ada); CUDA 11.8 added sm_89 (its release
        // notes), shipping with driver 520.61.05.
        let p = gpu_profile("L40S").unwrap();
        assert_eq!(p.cc, Cc::new(8, 9));
        assert_eq!(p.architecture, Some("Ada"));
        assert_eq!(p.gpus.len(), 1);
        let sm89 = &p.native_codes[0];
        assert_eq!(sm89.code.to_string(), "sm_89");
        assert_eq!(sm89.first, v("11.8"));
        let min = p.min_driver.clone().unwrap();
        assert_eq!(
            (min.toolkit, min.linux, min.exact),
            (v("11.8"), Some(v("520.61.05")), true)
        );
        assert_eq!(p.branches.first().map(|b| b.branch), Some(520));
        // Ada is current: no last branch, so the list runs to the newest recorded.
        assert_eq!(p.last_branch, None);
        assert_eq!(
            p.branches.last().map(|b| b.branch),
            facts::driver_branches().last().map(|b| b.branch)
        );
    }

    #[test]
    fn toolkits_before_the_native_one_give_compatible_cubins_then_ptx() {
        let p = gpu_profile("L40S").unwrap();
        let at = |t: &str| {
            p.toolkits
                .iter()
                .find(|x| x.toolkit == v(t))
                .map(|x| x.verdict.clone())
                .unwrap()
        };
        // 11.1 to 11.7 build sm_86 (GA10x), which runs on 8.9 by the same-major rule.
        assert_eq!(
            at("11.7"),
            Verdict::Compatible(Code::parse("sm_86").unwrap())
        );
        assert_eq!(at("11.8"), Verdict::Native(Code::parse("sm_89").unwrap()));
        // CUDA 10.x knows nothing of major 8: only PTX of 7.5 can JIT.
        assert!(matches!(at("10.2"), Verdict::Jit { .. }));
        assert_eq!(p.sass_toolkits().map(|(f, _)| f), Some(v("11.0")));
        let spans = p.toolkit_spans();
        assert!(spans
            .windows(2)
            .all(|w| !same_code(&w[0].verdict, &w[1].verdict)));
        assert_eq!(
            spans.last().and_then(|s| s.verdict.code()),
            Code::parse("sm_89")
        );
    }

    #[test]
    fn dropped_architectures_show_where_toolkits_stopped() {
        // CUDA 13.0 removed every target below sm_75 (its release notes): a Pascal P100
        // gets nothing from 13.x, and Pascal's last driver branch is R580.
        let p = gpu_profile("Tesla P100").unwrap();
        let last = p.toolkit_spans().last().cloned().unwrap();
        assert!(!last.verdict.runs());
        assert_eq!(last.first, v("13.0"));
        assert_eq!(p.last_branch, Some(580));
        assert_eq!(p.branches.last().unwrap().branch, 580);
        // sm_60 was in the oldest toolkit the catalog holds: its floor is not exact.
        assert!(!p.min_driver.unwrap().exact);
    }

    #[test]
    fn arch_specific_and_family_variants_are_native_too() {
        let h100 = gpu_profile("H100").unwrap();
        let names: Vec<String> = h100
            .native_codes
            .iter()
            .map(|r| r.code.to_string())
            .collect();
        assert_eq!(names, ["sm_90", "sm_90a"]);
        let b200 = gpu_profile("B200").unwrap();
        assert!(b200
            .native_variants(Variant::Family)
            .any(|r| r.code.to_string() == "sm_100f"));
    }

    #[test]
    fn torch_wheels_never_native_on_ada_run_its_sm_86_cubin() {
        // Every torch wheel's main kernels stop at sm_86 below 9.0 (the wheel lists in
        // data/torch.toml): an L40S gets the sm_86 cubin wherever one is present.
        let p = gpu_profile("L40S").unwrap();
        assert!(p
            .wheels
            .iter()
            .all(|w| !matches!(w.verdict, Verdict::Native(_))));
        for w in &p.wheels {
            let has_86 = facts::torch_releases()
                .iter()
                .find(|r| r.version == w.torch)
                .and_then(|r| r.variants.iter().find(|x| x.tag == w.tag))
                .is_some_and(|x| x.sass.contains(&Cc::new(8, 6)));
            assert_eq!(
                has_86,
                w.verdict == Verdict::Compatible(Code::parse("sm_86").unwrap()),
                "{} {}",
                w.torch,
                w.tag
            );
        }
        let groups = p.wheel_groups();
        assert_eq!(
            groups.iter().map(|g| g.wheels.len()).sum::<usize>(),
            p.wheels.len()
        );
    }

    #[test]
    fn wheel_group_descriptions_are_exact() {
        for gpu in [
            "L40S",
            "Tesla P100",
            "H100",
            "B200",
            "Jetson AGX Orin",
            "GB10",
            "Tesla K80",
        ] {
            let p = gpu_profile(gpu).unwrap();
            for g in p.wheel_groups() {
                let in_range: Vec<&WheelVerdict> = p
                    .wheels
                    .iter()
                    .filter(|w| w.torch >= g.first && w.torch <= g.last)
                    .collect();
                let expected: Vec<(Version, String)> = match &g.scope {
                    WheelScope::Every => {
                        in_range.iter().map(|w| (w.torch, w.tag.clone())).collect()
                    }
                    WheelScope::CudaAtLeast(c) => in_range
                        .iter()
                        .filter(|w| w.cuda >= *c)
                        .map(|w| (w.torch, w.tag.clone()))
                        .collect(),
                    WheelScope::CudaAtMost(c) => in_range
                        .iter()
                        .filter(|w| w.cuda <= *c)
                        .map(|w| (w.torch, w.tag.clone()))
                        .collect(),
                    WheelScope::Listed => g.wheels.clone(),
                };
                assert_eq!(expected, g.wheels, "{gpu}: {}", g.describe());
            }
        }
    }

    #[test]
    fn capabilities_name_every_gpu_of_them() {
        let p = gpu_profile("8.9").unwrap();
        assert!(p.gpus.len() > 1 && p.gpus.iter().all(|g| g.cc == Cc::new(8, 9)));
        assert!(p.gpus.iter().any(|g| g.name == "NVIDIA L40S"));
        assert_eq!(gpu_profile("sm_89").unwrap().gpus.len(), p.gpus.len());
        assert_eq!(gpu_profile("sm_90a").unwrap().cc, Cc::new(9, 0));
        assert_eq!(gpu_profile("Hopper").unwrap().cc, Cc::new(9, 0));
    }

    #[test]
    fn integrated_gpus_have_no_desktop_driver_branches() {
        let orin = gpu_profile("Jetson AGX Orin").unwrap();
        assert!(orin.integrated && orin.branches.is_empty());
        // Orin (8.7) takes no desktop cubin: wheels without sm_87 give it nothing.
        assert!(orin.wheels.iter().all(|w| !w.verdict.has_sass()));
    }

    #[test]
    fn unknown_names_are_errors_with_suggestions() {
        let d = gpu_profile("L40Z").unwrap_err();
        assert_eq!(d.code, "unknown-gpu");
        assert!(d.help.unwrap().contains("L40"));
        assert_eq!(gpu_profile("Ampere").unwrap_err().code, "unknown-gpu");
        assert_eq!(gpu_profile("8.4").unwrap_err().code, "unknown-capability");
        for bad in ["", "   ", "sm_", "ñ", "a", "f"] {
            assert!(gpu_profile(bad).is_err(), "{bad:?}");
        }
    }
}
