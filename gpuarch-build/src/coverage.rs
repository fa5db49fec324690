//! The one judge: can a GPU of a given capability, on a given driver, run a set of code?
//! Every compatibility rule lives here and nowhere else.

use crate::arch::{Arch, Cc, Code, CodeKind, CodeSet, Variant};
use crate::catalog::{self, Os};
use crate::version::Version;

/// What a GPU will run from a code set, best first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A cubin built for exactly this capability (plain, `a`, `f`, or its old number).
    Native(Code),
    /// A cubin of a lower minor of the same major, or of its family.
    Compatible(Code),
    /// PTX the driver JIT-compiles at load time; `min_driver` is the lowest driver
    /// that accepts its PTX ISA, where the ISA is known.
    Jit {
        ptx: Code,
        min_driver: Option<Version>,
    },
    /// Only PTX would do, and the driver is too old to JIT its ISA version.
    PtxTooNew {
        ptx: Code,
        isa: Version,
        driver: Version,
        min_driver: Option<Version>,
    },
    /// Nothing runs. `near_miss` is an `a`/`f` entry that would have covered the GPU
    /// had it been plain.
    Uncovered { near_miss: Option<Code> },
}

impl Verdict {
    /// Whether the GPU can run the code at all.
    pub fn runs(&self) -> bool {
        matches!(
            self,
            Verdict::Native(_) | Verdict::Compatible(_) | Verdict::Jit { .. }
        )
    }

    /// Whether the GPU gets SASS (no JIT).
    pub fn has_sass(&self) -> bool {
        matches!(self, Verdict::Native(_) | Verdict::Compatible(_))
    }

    /// The entry that covers it.
    pub fn code(&self) -> Option<Code> {
        match self {
            Verdict::Native(c) | Verdict::Compatible(c) => Some(*c),
            Verdict::Jit { ptx, .. } => Some(*ptx),
            _ => None,
        }
    }

    /// The verdict's name in JSON output: `native`, `compatible`, `jit`, `ptx-too-new`,
    /// `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Native(_) => "native",
            Verdict::Compatible(_) => "compatible",
            Verdict::Jit { .. } => "jit",
            Verdict::PtxTooNew { .. } => "ptx-too-new",
            Verdict::Uncovered { .. } => "none",
        }
    }

    /// A short phrase for tables: "sm_80 cubin", "JIT from compute_90 PTX".
    pub fn describe(&self) -> String {
        match self {
            Verdict::Native(c) => format!("{c} cubin"),
            Verdict::Compatible(c) => format!("{c} cubin (compatible)"),
            Verdict::Jit {
                ptx,
                min_driver: Some(d),
            } => format!("JIT from {ptx} PTX, needs driver >= {d}"),
            Verdict::Jit { ptx, .. } => format!("JIT from {ptx} PTX"),
            Verdict::PtxTooNew {
                ptx, isa, driver, ..
            } => format!("nothing: {ptx} PTX (ISA {isa}) is too new for driver {driver}"),
            Verdict::Uncovered { .. } => "nothing".to_string(),
        }
    }
}

/// How a cubin of `arch` relates to a GPU of capability `cc`: `Some(true)` native,
/// `Some(false)` compatible, `None` it does not run there.
pub fn sass_runs_on(arch: Arch, cc: Cc) -> Option<bool> {
    if catalog::same_device(arch.cc, cc) {
        return Some(true);
    }
    // "Binary compatibility is supported only for the desktop. It is not supported for
    // Tegra." (CUDA C Programming Guide, 3.1.2): an sm_80 cubin does not load on Orin
    // (8.7), nor an sm_87 one on a desktop GPU.
    if catalog::cc_is_integrated(arch.cc) || catalog::cc_is_integrated(cc) {
        return None;
    }
    let compatible = match arch.variant {
        Variant::Plain => arch.cc.major == cc.major && arch.cc.minor < cc.minor,
        Variant::Family => in_family_above(arch.cc, cc),
        Variant::Specific => false,
    };
    compatible.then_some(false)
}

/// Whether PTX of `arch` can be JIT-compiled for a GPU of capability `cc`.
pub fn ptx_jits_on(arch: Arch, cc: Cc) -> bool {
    match arch.variant {
        Variant::Plain => arch.cc <= cc || catalog::same_device(arch.cc, cc),
        Variant::Family => catalog::same_device(arch.cc, cc) || in_family_above(arch.cc, cc),
        Variant::Specific => catalog::same_device(arch.cc, cc),
    }
}

fn in_family_above(base: Cc, cc: Cc) -> bool {
    base.major == cc.major
        && cc.minor >= base.minor
        && catalog::family_of(base).is_some_and(|f| f.members.contains(&cc))
}

/// Judges one GPU against a code set. `driver` is the driver it runs under, where
/// known; without it a JIT verdict states the driver it needs.
pub fn coverage(codes: &CodeSet, cc: Cc, driver: Option<(Version, Os)>) -> Verdict {
    let mut compatible: Option<Code> = None;
    for arch in codes.sass() {
        match sass_runs_on(arch, cc) {
            Some(true) => return Verdict::Native(Code::sass(arch)),
            // The driver picks the highest compatible cubin; sass() is ascending.
            Some(false) => compatible = Some(Code::sass(arch)),
            None => {}
        }
    }
    if let Some(code) = compatible {
        return Verdict::Compatible(code);
    }
    if let Some(arch) = codes.ptx().filter(|a| ptx_jits_on(*a, cc)).last() {
        let ptx = Code::ptx(arch);
        let os = driver.map_or(Os::Linux, |(_, os)| os);
        let min_driver = codes
            .ptx_isa
            .and_then(|isa| catalog::min_driver_for_ptx_isa(isa, os));
        if let (Some(isa), Some((drv, os))) = (codes.ptx_isa, driver) {
            let accepts = catalog::max_ptx_isa_for_driver(drv, os).is_some_and(|max| max >= isa);
            if !accepts {
                return Verdict::PtxTooNew {
                    ptx,
                    isa,
                    driver: drv,
                    min_driver,
                };
            }
        }
        return Verdict::Jit { ptx, min_driver };
    }
    let near_miss = codes.iter().find(|c| {
        c.arch.variant != Variant::Plain
            && match c.kind {
                CodeKind::Sass => sass_runs_on(Arch::plain(c.arch.cc), cc).is_some(),
                CodeKind::Ptx => ptx_jits_on(Arch::plain(c.arch.cc), cc),
            }
    });
    Verdict::Uncovered { near_miss }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(codes: &[&str], isa: Option<&str>) -> CodeSet {
        let mut s: CodeSet = codes.iter().map(|c| Code::parse(c).unwrap()).collect();
        s.ptx_isa = isa.map(|v| v.parse().unwrap());
        s
    }

    fn cc(s: &str) -> Cc {
        Cc::parse_dotted(s).unwrap()
    }

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn plain_cubins_run_on_higher_minors_of_their_major() {
        let s = set(&["sm_80"], None);
        assert_eq!(
            coverage(&s, cc("8.0"), None),
            Verdict::Native(Code::parse("sm_80").unwrap())
        );
        assert_eq!(
            coverage(&s, cc("8.9"), None),
            Verdict::Compatible(Code::parse("sm_80").unwrap())
        );
        assert!(!coverage(&s, cc("9.0"), None).runs());
        assert!(!coverage(&set(&["sm_86"], None), cc("8.0"), None).runs());
    }

    #[test]
    fn highest_compatible_cubin_wins() {
        let s = set(&["sm_80", "sm_86"], None);
        assert_eq!(
            coverage(&s, cc("8.9"), None).code().unwrap().to_string(),
            "sm_86"
        );
    }

    #[test]
    fn arch_specific_runs_on_its_capability_only() {
        let s = set(&["sm_90a", "sm_100a"], None);
        assert!(matches!(coverage(&s, cc("9.0"), None), Verdict::Native(_)));
        assert_eq!(
            coverage(&s, cc("10.3"), None),
            Verdict::Uncovered {
                near_miss: Code::parse("sm_100a")
            }
        );
    }

    #[test]
    fn family_cubins_run_on_their_family() {
        let s = set(&["sm_100f"], None);
        assert!(matches!(
            coverage(&s, cc("10.3"), None),
            Verdict::Compatible(_)
        ));
        assert!(matches!(
            coverage(&s, cc("10.7"), None),
            Verdict::Compatible(_)
        ));
        assert!(!coverage(&s, cc("12.0"), None).runs());
        let s = set(&["sm_120f"], None);
        assert!(coverage(&s, cc("12.1"), None).has_sass());
        assert!(!coverage(&set(&["sm_121f"], None), cc("12.0"), None).runs());
    }

    #[test]
    fn ptx_jits_forward_across_majors_within_the_driver_isa() {
        let s = set(&["sm_80", "compute_80"], Some("8.4"));
        match coverage(&s, cc("9.0"), None) {
            Verdict::Jit { ptx, min_driver } => {
                assert_eq!(ptx.to_string(), "compute_80");
                assert_eq!(min_driver, Some(v("550.54.14")));
            }
            other => panic!("{other:?}"),
        }
        assert!(coverage(&s, cc("9.0"), Some((v("550.54.14"), Os::Linux))).runs());
        assert!(matches!(
            coverage(&s, cc("9.0"), Some((v("535.104.05"), Os::Linux))),
            Verdict::PtxTooNew { .. }
        ));
        assert!(!coverage(&set(&["compute_90"], None), cc("8.9"), None).runs());
        assert!(!coverage(&set(&["compute_90a"], None), cc("10.0"), None).runs());
    }

    #[test]
    fn tegra_has_no_cross_device_cubin_compatibility() {
        // Measured on Orin: arch=compute_80,code=sm_80 gives "no kernel image"; the
        // compute_80 PTX runs (jax-ml/jax#40492).
        assert!(!coverage(&set(&["sm_80", "sm_86"], None), cc("8.7"), None).runs());
        assert!(matches!(
            coverage(&set(&["sm_80", "compute_80"], None), cc("8.7"), None),
            Verdict::Jit { .. }
        ));
        assert!(!coverage(&set(&["sm_87"], None), cc("8.9"), None).runs());
        assert!(!coverage(&set(&["sm_101"], None), cc("10.3"), None).runs());
    }

    #[test]
    fn renamed_thor_is_one_device() {
        assert!(matches!(
            coverage(&set(&["sm_101"], None), cc("11.0"), None),
            Verdict::Native(_)
        ));
        assert!(matches!(
            coverage(&set(&["sm_110a"], None), cc("10.1"), None),
            Verdict::Native(_)
        ));
    }
}
