//! Checks: judge a code set (planned, or an existing arch list) against the targets, the
//! toolkit and the driver floor, and turn every problem into a diagnostic with its fix.

use crate::arch::{Arch, Code, CodeSet, Variant};
use crate::catalog::{self, Os};
use crate::coverage::{self, Verdict};
use crate::diagnostic::{Diagnostic, Level};
use crate::emit::Dialect;
use crate::error::{Error, Result};
use crate::manifest::{DriverFloor, Manifest};
use crate::target::{self, Target};
use crate::toolkit::Toolkit;

/// One target and what covers it.
#[derive(Clone, Debug)]
pub struct TargetReport {
    pub target: Target,
    /// Judged under the lowest driver floor given (Linux first), or with no driver.
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Default)]
pub struct Assessment {
    pub targets: Vec<TargetReport>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Assessment {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// An existing arch list, judged against a manifest's targets (`cargo gpuarch check
/// --torch-arch-list ...`).
#[derive(Clone, Debug)]
pub struct ListCheck {
    pub codes: CodeSet,
    /// The manifest's named toolkit, if any: a list is judged as written, never by
    /// whatever nvcc the machine happens to have.
    pub toolkit: Option<Toolkit>,
    /// The list's own warnings (how it was written) first, then the checks.
    pub assessment: Assessment,
}

/// Parses `text` in `dialect` and judges it for the manifest's targets, toolkit and
/// driver floor.
pub fn check_list(manifest: &Manifest, dialect: Dialect, text: &str) -> Result<ListCheck> {
    let targets = target::resolve(&manifest.gpus, manifest.gpus_location.as_ref())?;
    let toolkit = manifest
        .cuda
        .as_ref()
        .map(|c| Toolkit::named(c.value, c.location.clone()));
    let parsed = dialect
        .parse(text, toolkit.as_ref())
        .map_err(Error::invalid)?;
    let mut assessment = assess(
        &parsed.codes,
        &targets,
        toolkit.as_ref(),
        &manifest.min_driver,
    );
    assessment.diagnostics.splice(0..0, parsed.warnings);
    crate::diagnostic::sort_by_level(&mut assessment.diagnostics);
    Ok(ListCheck {
        codes: parsed.codes,
        toolkit,
        assessment,
    })
}

/// Judges `codes` for every target. `toolkit` is the one that builds (or built) it, where
/// known: it decides what could have been built and the PTX ISA.
pub fn assess(
    codes: &CodeSet,
    targets: &[Target],
    toolkit: Option<&Toolkit>,
    floor: &DriverFloor,
) -> Assessment {
    let mut out = Assessment::default();
    let mut codes = codes.clone();
    if codes.ptx_isa.is_none() {
        codes.ptx_isa = toolkit.map(|t| t.ptx_isa);
    }
    if let Some(tk) = toolkit {
        out.diagnostics.extend(tk.staleness());
        check_codes_buildable(&codes, tk, &mut out.diagnostics);
        check_runtime_driver(tk, floor, &mut out.diagnostics);
    }
    let floors: Vec<(catalog::Os, crate::version::Version)> = Os::ALL
        .into_iter()
        .filter_map(|os| floor.get(os).map(|d| (os, d.value)))
        .collect();
    for target in targets {
        let verdicts: Vec<Verdict> = if floors.is_empty() {
            vec![coverage::coverage(&codes, target.cc, None)]
        } else {
            floors
                .iter()
                .map(|(os, d)| coverage::coverage(&codes, target.cc, Some((*d, *os))))
                .collect()
        };
        let verdict = verdicts
            .iter()
            .find(|v| !v.runs())
            .unwrap_or(&verdicts[0])
            .clone();
        target_diagnostics(
            target,
            &verdict,
            &codes,
            toolkit,
            floor,
            &mut out.diagnostics,
        );
        out.targets.push(TargetReport {
            target: target.clone(),
            verdict,
        });
    }
    crate::diagnostic::sort_by_level(&mut out.diagnostics);
    out
}

/// Codes in an existing list that the toolkit cannot generate (nvcc would stop).
fn check_codes_buildable(codes: &CodeSet, tk: &Toolkit, out: &mut Vec<Diagnostic>) {
    for code in codes.iter().filter(|c| !tk.can_emit(*c)) {
        let help = match catalog::toolkit_range(code) {
            Some((_, last)) if tk.version > last.version => format!(
                "CUDA {} is the last toolkit that builds {code}; drop it or build with an older toolkit",
                last.version
            ),
            Some((first, _)) => format!("build with CUDA {} or later", first.version),
            None => format!("no CUDA release builds {code}"),
        };
        out.push(
            Diagnostic::error(
                "toolkit-cannot-target",
                format!(
                    "CUDA {} cannot generate {code} (nvcc: Unsupported gpu architecture)",
                    tk.version
                ),
            )
            .with_help(help),
        );
    }
}

fn check_runtime_driver(tk: &Toolkit, floor: &DriverFloor, out: &mut Vec<Diagnostic>) {
    if !tk.known {
        return;
    }
    for os in Os::ALL {
        let Some(driver) = floor.get(os) else {
            continue;
        };
        let Some(required) = catalog::runtime_min_driver(tk.version, os) else {
            continue;
        };
        if driver.value < required {
            let newest = catalog::toolkits()
                .iter()
                .filter(|t| {
                    catalog::runtime_min_driver(t.version, os).is_some_and(|r| r <= driver.value)
                })
                .map(|t| t.version)
                .max();
            let older = newest.map_or(String::new(), |v| {
                format!(", or build with CUDA {v} or older")
            });
            out.push(
                Diagnostic::error(
                    "driver-below-runtime",
                    format!(
                        "the {} driver floor {} is below what the CUDA {} runtime needs ({required}): \"CUDA driver version is insufficient for CUDA runtime version\"",
                        os.name(),
                        driver.value,
                        tk.version
                    ),
                )
                .with_help(format!("raise min-driver to {required} or later{older}"))
                .at(driver.location.clone()),
            );
        } else if tk.driver(os).is_some_and(|own| driver.value < own) {
            out.push(
                Diagnostic::note(
                    "minor-version-compat",
                    format!(
                        "the {} driver floor {} is older than CUDA {}'s own driver ({}): it runs under minor-version compatibility, so PTX from this toolkit cannot be JIT-compiled there",
                        os.name(),
                        driver.value,
                        tk.version,
                        tk.driver(os).map(|d| d.to_string()).unwrap_or_default()
                    ),
                )
                .at(driver.location.clone()),
            );
        }
    }
}

fn target_diagnostics(
    target: &Target,
    verdict: &Verdict,
    codes: &CodeSet,
    toolkit: Option<&Toolkit>,
    floor: &DriverFloor,
    out: &mut Vec<Diagnostic>,
) {
    let name = format!("{} ({})", target.name, target.cc);
    let cannot_build = toolkit.and_then(|tk| cannot_build_reason(target, tk).map(|r| (tk, r)));
    match verdict {
        Verdict::Native(_) => {}
        Verdict::Compatible(code) => {
            if let (Some(tk), Some(native_from)) = (toolkit, first_native_toolkit(target)) {
                if tk.version < native_from {
                    out.push(
                        Diagnostic::warning(
                            "not-native",
                            format!(
                                "{name} runs {code} code: CUDA {} predates it; CUDA {native_from} is the first toolkit with native code for it",
                                tk.version
                            ),
                        )
                        .with_help(format!("build with CUDA {native_from} or later for native code"))
                        .at(target.location.clone()),
                    );
                }
            }
        }
        Verdict::Jit { ptx, min_driver } => {
            if let Some((tk, reason)) = cannot_build {
                out.push(toolkit_cannot_target(tk, target, reason, Some(*ptx)));
                return;
            }
            let needs = min_driver.map_or(String::new(), |d| format!(" and a driver >= {d}"));
            let unknown_isa = codes.ptx_isa.is_none() && !floor.is_empty();
            let mut d = Diagnostic::warning(
                "jit-only",
                format!("{name} has no cubin: it runs only by JIT-compiling {ptx} PTX at load time{needs}"),
            )
            .with_help(format!("add sm_{} for native code", target.cc.number()))
            .at(target.location.clone());
            if unknown_isa {
                d.message.push_str(
                    " (PTX version unknown: pass --cuda to check the driver floor can JIT it)",
                );
            }
            out.push(d);
        }
        Verdict::PtxTooNew {
            ptx,
            isa,
            driver,
            min_driver,
        } => {
            let raise = min_driver.map_or(String::new(), |d| format!(", raise min-driver to {d}"));
            out.push(
                Diagnostic::error(
                    "ptx-newer-than-driver",
                    format!(
                        "{name} can only JIT {ptx} PTX, whose ISA {isa} is newer than driver {driver} accepts: \"the provided PTX was compiled with an unsupported toolchain\""
                    ),
                )
                .with_help(format!(
                    "add sm_{} so the GPU gets a cubin{raise}, or build with an older toolkit",
                    target.cc.number()
                ))
                .at(target.location.clone()),
            );
        }
        Verdict::Uncovered { near_miss } => {
            if let Some((tk, reason)) = cannot_build {
                out.push(toolkit_cannot_target(tk, target, reason, None));
                return;
            }
            let present = if codes.is_empty() {
                "nothing".to_string()
            } else {
                codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let fix = format!(
                "add sm_{0} (e.g. -gencode arch=compute_{0},code=sm_{0}), or PTX of an architecture at or below {1}",
                target.cc.number(),
                target.cc
            );
            let d = match near_miss {
                Some(code) => Diagnostic::error(
                    "arch-specific-mismatch",
                    format!(
                        "{name} cannot run {code}: {} code runs only on {}; nothing else covers it (\"no kernel image is available for execution on the device\")",
                        variant_word(code.arch.variant),
                        runs_only_on(code.arch)
                    ),
                ),
                None => {
                    let same_major = codes
                        .sass()
                        .any(|a| a.cc.major == target.cc.major && a.cc != target.cc);
                    let tegra = if same_major
                        && (target.integrated || codes.sass().any(|a| catalog::cc_is_integrated(a.cc)))
                    {
                        " (Tegra and desktop GPUs do not run each other's cubins, even within a major)"
                    } else {
                        ""
                    };
                    Diagnostic::error(
                        "target-not-covered",
                        format!(
                            "{name} is not covered: the build has {present}, with no cubin it can run and no PTX it can JIT{tegra} (\"no kernel image is available for execution on the device\")"
                        ),
                    )
                }
            };
            out.push(d.with_help(fix).at(target.location.clone()));
        }
    }
}

fn variant_word(variant: Variant) -> &'static str {
    match variant {
        Variant::Specific => "arch-specific",
        Variant::Family => "family-specific",
        Variant::Plain => "plain",
    }
}

fn runs_only_on(arch: Arch) -> String {
    match arch.variant {
        Variant::Family => match catalog::family_of(arch.cc) {
            Some(f) => {
                let members: Vec<String> = f
                    .members
                    .iter()
                    .filter(|m| m.minor >= arch.cc.minor)
                    .map(|m| m.to_string())
                    .collect();
                format!("capabilities {}", members.join(", "))
            }
            None => format!("capability {}", arch.cc),
        },
        _ => format!("capability {}", arch.cc),
    }
}

/// Why the toolkit cannot build native code for a target, if it cannot.
enum CannotBuild {
    TooOld {
        last: &'static catalog::ToolkitInfo,
    },
    TooNew {
        first: Option<crate::version::Version>,
    },
}

fn cannot_build_reason(target: &Target, tk: &Toolkit) -> Option<CannotBuild> {
    let any_sass = tk
        .real_targets
        .iter()
        .any(|a| coverage::sass_runs_on(*a, target.cc).is_some());
    if any_sass {
        return None;
    }
    let mut native = native_toolkits(target);
    let first = native.next();
    let last = native.next_back().or(first);
    Some(match last {
        Some(last) if last.version < tk.version => CannotBuild::TooOld { last },
        _ => CannotBuild::TooNew {
            first: first.map(|f| f.version),
        },
    })
}

/// The catalog's toolkits that build native code for the target, oldest first.
fn native_toolkits(
    target: &Target,
) -> impl DoubleEndedIterator<Item = &'static catalog::ToolkitInfo> + '_ {
    catalog::toolkits().iter().filter(move |t| {
        t.real_targets
            .iter()
            .any(|a| coverage::sass_runs_on(*a, target.cc) == Some(true))
    })
}

fn toolkit_cannot_target(
    tk: &Toolkit,
    target: &Target,
    reason: CannotBuild,
    jit: Option<Code>,
) -> Diagnostic {
    let (why, help) = match reason {
        CannotBuild::TooOld { last } => (
            format!(
                "this toolkit dropped it; CUDA {} is the last that builds it",
                last.version
            ),
            format!(
                "build with CUDA {} or older, or drop {}",
                last.version, target.name
            ),
        ),
        CannotBuild::TooNew { first: Some(first) } => (
            format!("CUDA {first} is the first toolkit that builds it"),
            format!("build with CUDA {first} or later"),
        ),
        CannotBuild::TooNew { first: None } => (
            "no toolkit gpuarch knows builds it".to_string(),
            "check the GPU name and gpuarch's version".to_string(),
        ),
    };
    let jit = jit.map_or(String::new(), |c| {
        format!("; it could only JIT {c} PTX at load time")
    });
    Diagnostic::error(
        "toolkit-cannot-target",
        format!(
            "CUDA {} cannot generate code for {} (sm_{}): {why}{jit}",
            tk.version,
            target.name,
            target.cc.number()
        ),
    )
    .with_help(help)
    .at(target.location.clone())
}

/// The first toolkit that builds native code for the target.
fn first_native_toolkit(target: &Target) -> Option<crate::version::Version> {
    native_toolkits(target).next().map(|t| t.version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Located;
    use crate::target;

    fn targets(names: &[&str]) -> Vec<Target> {
        let gpus: Vec<Located<String>> =
            names.iter().map(|g| Located::bare(g.to_string())).collect();
        target::resolve(&gpus, None).unwrap()
    }

    fn set(codes: &[&str]) -> CodeSet {
        codes.iter().map(|c| Code::parse(c).unwrap()).collect()
    }

    fn floor(linux: &str) -> DriverFloor {
        DriverFloor {
            linux: Some(Located::bare(linux.parse().unwrap())),
            windows: None,
        }
    }

    fn tk(v: &str) -> Toolkit {
        Toolkit::named(v.parse().unwrap(), None)
    }

    fn codes_of(a: &Assessment) -> Vec<&'static str> {
        a.diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn pytorch_list_without_sm80_fails_on_a100() {
        let a = assess(
            &set(&["sm_37", "sm_50", "sm_60", "sm_70"]),
            &targets(&["A100"]),
            None,
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["target-not-covered"]);
        assert!(a.diagnostics[0].message.contains("A100"));
    }

    #[test]
    fn removed_and_future_architectures() {
        let a = assess(
            &CodeSet::new(),
            &targets(&["Tesla P100"]),
            Some(&tk("13.0")),
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["toolkit-cannot-target"]);
        assert!(
            a.diagnostics[0].message.contains("12.9"),
            "{}",
            a.diagnostics[0].message
        );
        let a = assess(
            &set(&["sm_90", "compute_90"]),
            &targets(&["B200"]),
            Some(&tk("12.4")),
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["toolkit-cannot-target"]);
        assert!(a.diagnostics[0].message.contains("12.8"));
        let a = assess(
            &set(&["sm_101"]),
            &[],
            Some(&tk("13.0")),
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["toolkit-cannot-target"]);
    }

    #[test]
    fn driver_floor_below_runtime() {
        let a = assess(
            &set(&["sm_80"]),
            &targets(&["A100"]),
            Some(&tk("12.4")),
            &floor("470.82.01"),
        );
        assert_eq!(codes_of(&a), ["driver-below-runtime"]);
        assert!(a.diagnostics[0]
            .help
            .as_ref()
            .unwrap()
            .contains("525.60.13"));
        // Minor-version compatibility: a 12.0-era driver runs a 12.4 build's cubins.
        let a = assess(
            &set(&["sm_80"]),
            &targets(&["A100"]),
            Some(&tk("12.4")),
            &floor("525.60.13"),
        );
        assert_eq!(codes_of(&a), ["minor-version-compat"]);
        assert!(!a.has_errors());
    }

    #[test]
    fn ptx_only_gpu_on_an_old_driver() {
        let a = assess(
            &set(&["sm_80", "compute_80"]),
            &targets(&["H100"]),
            Some(&tk("12.4")),
            &floor("535.54.03"),
        );
        assert!(
            codes_of(&a).contains(&"ptx-newer-than-driver"),
            "{:?}",
            a.diagnostics
        );
        let a = assess(
            &set(&["sm_80", "compute_80"]),
            &targets(&["H100"]),
            Some(&tk("12.2")),
            &floor("535.54.03"),
        );
        assert_eq!(codes_of(&a), ["jit-only"]);
    }

    #[test]
    fn orin_needs_its_own_cubin() {
        let a = assess(
            &set(&["sm_80", "sm_86"]),
            &targets(&["Jetson AGX Orin"]),
            None,
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["target-not-covered"]);
        assert!(a.diagnostics[0].message.contains("Tegra"));
    }

    #[test]
    fn arch_specific_only_code_for_another_gpu() {
        let a = assess(
            &set(&["sm_100a"]),
            &targets(&["B300"]),
            Some(&tk("12.9")),
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["arch-specific-mismatch"]);
    }

    #[test]
    fn compatible_because_the_toolkit_predates_the_gpu() {
        let a = assess(
            &set(&["sm_86"]),
            &targets(&["L4"]),
            Some(&tk("11.7")),
            &DriverFloor::default(),
        );
        assert_eq!(codes_of(&a), ["not-native"]);
        assert!(a.diagnostics[0].message.contains("11.8"));
    }
}
