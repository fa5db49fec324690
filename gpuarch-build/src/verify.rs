//! Verify: judge what was built against the targets, the driver floor and the plan.
//!
//! Every fat binary container is loaded on its own (the CUDA runtime registers each one
//! and picks code per container), so code a GPU lacks in one container fails as soon as
//! a kernel of that container launches there. But libraries also ship per-architecture
//! kernels in containers of their own and pick them by device (cuSPARSELt in the PyTorch
//! wheels has sm_86-only containers that an A100 never uses). So each library unit (a
//! file, or an archive or wheel member) is judged as a whole: it runs on a GPU when one of
//! its containers has code for it, by the same [`check::assess`] as a plan, and the
//! target's verdict is its worst over the units. Containers of a covered unit that lack
//! code for the GPU are named in a warning; the plan comparison (and the build gate, where
//! it is an error) still asks every container for every planned code.

use crate::arch::{Code, CodeKind, CodeSet};
use crate::artifact::{Entry, EntryKind};
use crate::check::{self, TargetReport};
use crate::coverage::Verdict;
use crate::diagnostic::{self, Diagnostic};
use crate::manifest::DriverFloor;
use crate::plan::Plan;
use crate::target::Target;
use crate::version::Version;

/// One fat binary container (or standalone cubin or PTX) and the code it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The file it was found in, as the caller named it.
    pub file: String,
    /// The archive or wheel member holding it.
    pub member: Option<String>,
    pub section: String,
    /// Its index in the file.
    pub index: usize,
    /// Its cubins and PTX; `ptx_isa` is the highest ISA of its PTX entries.
    pub codes: CodeSet,
    /// PTX entries whose ISA could not be read (compressed, not decompressed).
    pub unknown_isa: bool,
}

impl Container {
    /// "libfoo.so container 3 (.nv_fatbin)", for messages.
    pub fn describe(&self) -> String {
        let mut s = self.file.clone();
        if let Some(member) = &self.member {
            s.push_str(&format!("({member})"));
        }
        s.push_str(&format!(" container {}", self.index));
        if !self.section.is_empty() {
            s.push_str(&format!(" ({})", self.section));
        }
        s
    }
}

/// Groups entries into their containers, in file order. `file` labels them.
pub fn containers(file: &str, entries: &[Entry]) -> Vec<Container> {
    let mut out: Vec<Container> = Vec::new();
    for entry in entries {
        let same = out.last().is_some_and(|c| {
            c.index == entry.container && c.member == entry.member && c.section == entry.section
        });
        if !same {
            out.push(Container {
                file: file.to_string(),
                member: entry.member.clone(),
                section: entry.section.clone(),
                index: entry.container,
                codes: CodeSet::new(),
                unknown_isa: false,
            });
        }
        let container = out.last_mut().expect("pushed above");
        container.codes.insert(entry.code());
        if entry.kind == EntryKind::Ptx {
            match entry.ptx_isa {
                Some(isa) => {
                    container.codes.ptx_isa =
                        Some(container.codes.ptx_isa.map_or(isa, |v| v.max(isa)));
                }
                None => container.unknown_isa = true,
            }
        }
    }
    out
}

/// One target's verdict over all containers.
#[derive(Clone, Debug)]
pub struct TargetVerification {
    pub target: Target,
    /// The worst verdict over the containers: what the target can count on.
    pub verdict: Verdict,
    /// The containers of the library units that give the target nothing to run (indices
    /// into [`Verification::containers`]).
    pub failing: Vec<usize>,
}

/// A planned code and how many containers lack it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub code: Code,
    pub lacking: usize,
}

/// A code the artifact holds that the plan did not ask for, and the bytes it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extra {
    pub code: Code,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct Verification {
    pub containers: Vec<Container>,
    pub targets: Vec<TargetVerification>,
    /// Errors (a target that cannot run the artifact, PTX too new for the floor) and
    /// warnings (JIT only, planned code missing, unplanned code present).
    pub diagnostics: Vec<Diagnostic>,
    /// The plan compared against, when one could be made.
    pub planned: Option<CodeSet>,
    pub missing: Vec<Missing>,
    pub extra: Vec<Extra>,
}

impl Verification {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.level == diagnostic::Level::Error)
    }
}

/// Judges the entries of one or more files (labelled by `containers`) for every target
/// under the driver floor, and compares them with `plan` where given.
/// The verdict for one GPU capability under one driver (or none), judged as [`verify`]
/// judges a target: library unit by library unit. Fleets ask it once per distinct
/// capability and driver of their nodes.
pub fn verdict_for(
    containers: &[Container],
    entries: &[Entry],
    cc: crate::arch::Cc,
    driver: Option<(crate::version::Version, crate::catalog::Os)>,
) -> crate::coverage::Verdict {
    let mut floor = DriverFloor::default();
    if let Some((d, os)) = driver {
        *floor.slot_mut(os) = Some(crate::manifest::Located::bare(d));
    }
    let target = Target::from_cc(cc, cc.to_string(), None);
    verify(containers.to_vec(), entries, &[target], &floor, None)
        .targets
        .swap_remove(0)
        .verdict
}

pub fn verify(
    containers: Vec<Container>,
    entries: &[Entry],
    targets: &[Target],
    floor: &DriverFloor,
    plan: Option<&Plan>,
) -> Verification {
    let mut diagnostics = Vec::new();
    let mut verdicts = Vec::new();
    let empty = Container {
        file: String::new(),
        member: None,
        section: String::new(),
        index: 0,
        codes: CodeSet::new(),
        unknown_isa: false,
    };
    let judged: &[Container] = if containers.is_empty() {
        std::slice::from_ref(&empty)
    } else {
        &containers
    };
    // Containers with the same code set get the same verdict: judge each set once (a
    // library of 200 objects built with one set of flags has one).
    let (kinds, kind_of) = group(judged.iter().map(|c| &c.codes));
    // The library units: a file, or an archive or wheel member in it.
    let (unit_keys, unit_of) = group(
        judged
            .iter()
            .map(|c| (c.file.as_str(), c.member.as_deref())),
    );
    let mut units: Vec<Vec<usize>> = vec![Vec::new(); unit_keys.len()];
    for (i, &u) in unit_of.iter().enumerate() {
        units[u].push(i);
    }
    for target in targets {
        let assessed: Vec<(TargetReport, Vec<Diagnostic>)> = kinds
            .iter()
            .map(|codes| {
                let mut assessment =
                    check::assess(codes, std::slice::from_ref(target), None, floor);
                (assessment.targets.remove(0), assessment.diagnostics)
            })
            .collect();
        let runs = |i: usize| assessed[kind_of[i]].0.verdict.runs();
        // Per unit, its best container; the target gets the worst of those.
        let mut worst: Option<(usize, usize)> = None; // (unit, container)
        for (u, members) in units.iter().enumerate() {
            let best = *members
                .iter()
                .max_by_key(|&&i| rank(&assessed[kind_of[i]].0.verdict))
                .expect("a unit has a container");
            let worse = worst.is_none_or(|(_, w)| {
                rank(&assessed[kind_of[best]].0.verdict) < rank(&assessed[kind_of[w]].0.verdict)
            });
            if worse {
                worst = Some((u, best));
            }
        }
        let (_, at) = worst.expect("at least one container is judged");
        let mut failing = Vec::new();
        let mut gaps = Vec::new();
        for members in &units {
            let covered = members.iter().any(|&i| runs(i));
            for &i in members.iter().filter(|&&i| !runs(i)) {
                if containers.is_empty() {
                    continue;
                }
                if covered {
                    gaps.push(i);
                } else {
                    failing.push(i);
                }
            }
        }
        let (report, found) = &assessed[kind_of[at]];
        let mut found = found.clone();
        if judged.len() > 1 && !failing.is_empty() {
            let place = &judged[failing[0]];
            for d in &mut found {
                d.message.push_str(&format!(
                    " [{} of {} containers; e.g. {}]",
                    failing.len(),
                    judged.len(),
                    place.describe()
                ));
            }
        }
        diagnostics.extend(found);
        if !gaps.is_empty() {
            let example = &judged[gaps[0]];
            diagnostics.push(
                Diagnostic::warning(
                    "container-gaps",
                    format!(
                        "{} ({}) has no code in {} container(s) of libraries that otherwise cover it (e.g. {}: {}): per-architecture kernels the library picks by device, or a part built with other flags",
                        target.name,
                        target.cc,
                        gaps.len(),
                        example.describe(),
                        example
                            .codes
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .with_help("for your own build, compile every part with the plan's flags (the build gate requires it); a kernel of such a container launched on this GPU fails with \"no kernel image is available\""),
            );
        }
        verdicts.push(TargetVerification {
            target: target.clone(),
            verdict: report.verdict.clone(),
            failing,
        });
    }
    let (planned, missing, extra) = match plan {
        Some(plan) => {
            let (missing, extra) = compare_with_plan(&containers, entries, &plan.codes);
            (Some(plan.codes.clone()), missing, extra)
        }
        None => (None, Vec::new(), Vec::new()),
    };
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|m| {
                format!(
                    "{} (lacking in {} of {})",
                    m.code,
                    m.lacking,
                    containers.len().max(1)
                )
            })
            .collect();
        diagnostics.push(
            Diagnostic::warning(
                "artifact-missing-planned",
                format!(
                    "the plan asks for code the artifacts lack: {}; the build did not use the planned flags (check NVCC_APPEND_FLAGS, NVCC_PREPEND_FLAGS and -arch flags of your own)",
                    list.join(", ")
                ),
            )
            .with_help("build with the flags `cargo gpuarch plan --format nvcc` prints, and nothing that overrides them"),
        );
    }
    if !extra.is_empty() {
        let list: Vec<String> = extra
            .iter()
            .map(|x| format!("{} ({} bytes)", x.code, x.bytes))
            .collect();
        diagnostics.push(
            Diagnostic::warning(
                "artifact-unplanned-code",
                format!(
                    "the artifacts hold code the plan did not ask for: {}",
                    list.join(", ")
                ),
            )
            .with_help(
                "drop it from the build flags, or add its GPU to the manifest if it is a target",
            ),
        );
    }
    for c in containers.iter().filter(|c| c.unknown_isa) {
        diagnostics.push(
            Diagnostic::note(
                "ptx-isa-unknown",
                format!(
                    "{} has PTX whose ISA version could not be read, so its driver floor was not checked",
                    c.describe()
                ),
            )
            .with_help("inspect with decompression (the default of `cargo gpuarch verify`)"),
        );
    }
    diagnostic::sort_by_level(&mut diagnostics);
    Verification {
        containers,
        targets: verdicts,
        diagnostics,
        planned,
        missing,
        extra,
    }
}

/// The distinct keys, in first-seen order, and the index of each item's key among them.
/// Searched from the newest key: a member's containers come one after another.
fn group<K: PartialEq>(keys: impl Iterator<Item = K>) -> (Vec<K>, Vec<usize>) {
    let mut distinct: Vec<K> = Vec::new();
    let mut of = Vec::new();
    for key in keys {
        match distinct.iter().rposition(|k| *k == key) {
            Some(i) => of.push(i),
            None => {
                of.push(distinct.len());
                distinct.push(key);
            }
        }
    }
    (distinct, of)
}

/// Lower is worse: nothing, PTX too new, JIT (a higher driver need is worse), a
/// compatible cubin, a native one.
fn rank(verdict: &Verdict) -> (u8, std::cmp::Reverse<Option<Version>>) {
    match verdict {
        Verdict::Uncovered { .. } => (0, std::cmp::Reverse(None)),
        Verdict::PtxTooNew { .. } => (1, std::cmp::Reverse(None)),
        Verdict::Jit { min_driver, .. } => (2, std::cmp::Reverse(*min_driver)),
        Verdict::Compatible(_) => (3, std::cmp::Reverse(None)),
        Verdict::Native(_) => (4, std::cmp::Reverse(None)),
    }
}

fn compare_with_plan(
    containers: &[Container],
    entries: &[Entry],
    planned: &CodeSet,
) -> (Vec<Missing>, Vec<Extra>) {
    // A device-link object (`nvcc -dlink`, which cc runs for CUDA builds) holds a
    // container of cubins only: planned PTX is looked for in the containers that hold
    // PTX, and is missing everywhere when none does.
    let with_ptx = containers
        .iter()
        .filter(|c| c.codes.iter().any(|code| code.kind == CodeKind::Ptx))
        .count();
    let missing = planned
        .iter()
        .filter_map(|code| {
            let lacking = match code.kind {
                CodeKind::Sass => containers
                    .iter()
                    .filter(|c| !c.codes.contains(code))
                    .count(),
                CodeKind::Ptx if with_ptx == 0 => containers.len(),
                CodeKind::Ptx => containers
                    .iter()
                    .filter(|c| {
                        !c.codes.contains(code) && c.codes.iter().any(|x| x.kind == CodeKind::Ptx)
                    })
                    .count(),
            };
            (lacking > 0 || containers.is_empty()).then_some(Missing {
                code,
                lacking: lacking.max(usize::from(containers.is_empty())),
            })
        })
        .collect();
    let mut extra: Vec<Extra> = Vec::new();
    for entry in entries {
        let code = entry.code();
        if planned.contains(code) {
            continue;
        }
        match extra.iter_mut().find(|x| x.code == code) {
            Some(x) => x.bytes += entry.payload_size,
            None => extra.push(Extra {
                code,
                bytes: entry.payload_size,
            }),
        }
    }
    extra.sort_by_key(|x| (x.code.kind == CodeKind::Ptx, x.code));
    (missing, extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Arch, Cc};
    use crate::artifact::Compression;
    use crate::manifest::Located;

    fn entry(code: &str, container: usize, isa: Option<&str>) -> Entry {
        let code = Code::parse(code).unwrap();
        Entry {
            kind: match code.kind {
                CodeKind::Sass => EntryKind::Cubin,
                CodeKind::Ptx => EntryKind::Ptx,
            },
            arch: code.arch,
            ptx_isa: isa.map(|v| v.parse().unwrap()),
            compression: Compression::None,
            member: None,
            section: ".nv_fatbin".into(),
            container,
            offset: 0,
            payload_offset: 0,
            payload_size: 1000,
            uncompressed_size: 1000,
            kernels: Some(1),
        }
    }

    fn target(cc: &str) -> Target {
        Target::from_cc(Cc::parse_dotted(cc).unwrap(), cc.to_string(), None)
    }

    fn floor(linux: &str) -> DriverFloor {
        DriverFloor {
            linux: Some(Located::bare(linux.parse().unwrap())),
            windows: None,
        }
    }

    fn run(entries: &[Entry], targets: &[Target], floor: &DriverFloor) -> Verification {
        verify(containers("lib.so", entries), entries, targets, floor, None)
    }

    fn in_member(mut e: Entry, member: &str) -> Entry {
        e.member = Some(member.to_string());
        e
    }

    #[test]
    fn every_library_must_cover_a_target() {
        // Two objects of an archive: b.o has nothing for 8.0, so its kernels fail there.
        let entries = [
            in_member(entry("sm_80", 0, None), "a.o"),
            in_member(entry("sm_90", 0, None), "a.o"),
            in_member(entry("sm_90", 1, None), "b.o"),
        ];
        let v = run(
            &entries,
            &[target("8.0"), target("9.0")],
            &DriverFloor::default(),
        );
        assert!(!v.targets[0].verdict.runs(), "b.o has nothing for 8.0");
        assert_eq!(v.targets[0].failing, vec![1]);
        assert!(matches!(v.targets[1].verdict, Verdict::Native(_)));
        assert!(v.has_errors());
        let msg = &v.diagnostics[0].message;
        assert!(
            msg.contains("1 of 2 containers") && msg.contains("b.o"),
            "{msg}"
        );
    }

    #[test]
    fn containers_of_a_covered_library_that_lack_the_gpu_are_a_warning() {
        // One library: a per-architecture container (sm_86 only) beside the main one.
        let entries = [
            entry("sm_80", 0, None),
            entry("sm_90", 0, None),
            entry("sm_86", 1, None),
        ];
        let v = run(&entries, &[target("9.0")], &DriverFloor::default());
        assert!(matches!(v.targets[0].verdict, Verdict::Native(_)));
        assert!(v.targets[0].failing.is_empty());
        assert!(!v.has_errors());
        let gap = v
            .diagnostics
            .iter()
            .find(|d| d.code == "container-gaps")
            .unwrap();
        assert!(
            gap.message.contains("1 container") && gap.message.contains("sm_86"),
            "{}",
            gap.message
        );
    }

    #[test]
    fn jit_is_judged_against_the_driver_floor_by_the_ptx_isa() {
        // compute_80 PTX of ISA 8.5 (CUDA 12.5) on H100: JIT, needs a 555 driver.
        let entries = [entry("sm_80", 0, None), entry("compute_80", 0, Some("8.5"))];
        let ok = run(&entries, &[target("9.0")], &floor("560.28.03"));
        assert!(matches!(ok.targets[0].verdict, Verdict::Jit { .. }));
        assert!(!ok.has_errors());
        let old = run(&entries, &[target("9.0")], &floor("535.54.03"));
        assert!(matches!(old.targets[0].verdict, Verdict::PtxTooNew { .. }));
        assert!(old.has_errors());
        // The worst library decides: one object with a cubin, one with PTX only.
        let mixed = [
            in_member(entry("sm_90", 0, None), "a.o"),
            in_member(entry("compute_80", 1, Some("8.5")), "b.o"),
        ];
        let v = run(&mixed, &[target("9.0")], &floor("535.54.03"));
        assert!(matches!(v.targets[0].verdict, Verdict::PtxTooNew { .. }));
    }

    #[test]
    fn no_gpu_code_covers_nothing() {
        let v = run(&[], &[target("8.0")], &DriverFloor::default());
        assert!(matches!(v.targets[0].verdict, Verdict::Uncovered { .. }));
        assert!(v.has_errors());
    }

    #[test]
    fn compares_with_the_plan() {
        let mut planned = CodeSet::new();
        for c in ["sm_80", "sm_90", "compute_90"] {
            planned.insert(Code::parse(c).unwrap());
        }
        let entries = [
            entry("sm_80", 0, None),
            entry("sm_90", 0, None),
            entry("sm_75", 0, None),
            entry("compute_80", 0, Some("8.8")),
            entry("sm_80", 1, None),
            entry("sm_90", 1, None),
            entry("compute_90", 1, Some("8.8")),
        ];
        let cs = containers("lib.so", &entries);
        let (missing, extra) = compare_with_plan(&cs, &entries, &planned);
        // A device-link container (cubins only) is not asked for PTX.
        let dlink = [
            entry("sm_80", 0, None),
            entry("sm_90", 0, None),
            entry("compute_90", 0, Some("8.8")),
            entry("sm_80", 1, None),
            entry("sm_90", 1, None),
        ];
        let (none, _) = compare_with_plan(&containers("lib.a", &dlink), &dlink, &planned);
        assert!(none.is_empty(), "{none:?}");
        // Without PTX anywhere, the planned PTX is missing from every container.
        let no_ptx = [entry("sm_80", 0, None), entry("sm_90", 0, None)];
        let (all, _) = compare_with_plan(&containers("lib.a", &no_ptx), &no_ptx, &planned);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].lacking, 1);
        assert_eq!(
            missing,
            vec![Missing {
                code: Code::parse("compute_90").unwrap(),
                lacking: 1
            }]
        );
        assert_eq!(
            extra,
            vec![
                Extra {
                    code: Code::sass(Arch::plain(Cc::parse_dotted("7.5").unwrap())),
                    bytes: 1000
                },
                Extra {
                    code: Code::parse("compute_80").unwrap(),
                    bytes: 1000
                }
            ]
        );
    }
}
