//! The catalog of facts: GPUs, toolkits, driver floors, families.
//!
//! The tables come from `data/*.toml` through `cargo xtask codegen` (see
//! `generated.rs`); this module is the query API over them.

mod generated;
pub mod query;

use crate::arch::{Arch, Cc, Code, CodeKind, Variant};
use crate::version::Version;

/// One GPU product (or group of products sharing one capability and naming scheme).
#[derive(Debug, PartialEq, Eq)]
pub struct GpuInfo {
    pub name: &'static str,
    pub cc: Cc,
    pub architecture: &'static str,
    pub integrated: bool,
    /// Market segment: `"datacenter"`, `"workstation"`, `"consumer"` (GeForce, TITAN) or
    /// `"embedded"` (Jetson/Tegra). NVIDIA supports forward compatibility (cuda-compat) on
    /// data-center GPUs, select NGC-ready RTX workstation cards and Jetson, never on GeForce.
    pub segment: &'static str,
    pub aliases: &'static [&'static str],
    /// `name` and `aliases`, folded (see [`fold_name`]).
    pub folded: &'static [&'static str],
    pub source: &'static str,
}

/// One CUDA toolkit minor release.
#[derive(Debug)]
pub struct ToolkitInfo {
    pub version: Version,
    pub real_targets: &'static [Arch],
    pub virtual_targets: &'static [Arch],
    pub ptx_isa: Version,
    pub driver_linux: Option<Version>,
    pub driver_windows: Option<Version>,
    pub pypi_nvcc: &'static [&'static str],
    pub source: &'static str,
}

/// Whether a toolkit with these target lists can generate `code`.
pub fn lists_emit(real_targets: &[Arch], virtual_targets: &[Arch], code: Code) -> bool {
    match code.kind {
        CodeKind::Sass => real_targets.contains(&code.arch),
        CodeKind::Ptx => virtual_targets.contains(&code.arch),
    }
}

impl ToolkitInfo {
    pub fn can_emit(&self, code: Code) -> bool {
        lists_emit(self.real_targets, self.virtual_targets, code)
    }

    pub fn driver(&self, os: Os) -> Option<Version> {
        match os {
            Os::Linux => self.driver_linux,
            Os::Windows => self.driver_windows,
        }
    }
}

/// The minor-version-compatibility floor of one CUDA major.
#[derive(Debug)]
pub struct MajorCompat {
    pub major: u32,
    pub min_driver_linux: Version,
    pub min_driver_windows: Version,
    pub source: &'static str,
}

/// Capabilities that share family-specific (`f`) code.
#[derive(Debug)]
pub struct Family {
    pub members: &'static [Cc],
    pub source: &'static str,
}

/// A capability NVIDIA renumbered (Thor: 10.1 became 11.0 in CUDA 13.0).
#[derive(Debug)]
pub struct Rename {
    pub from: Cc,
    pub to: Cc,
    pub since: Version,
    pub source: &'static str,
}

/// The host operating system a driver number belongs to (they are numbered apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Os {
    Linux,
    Windows,
}

impl Os {
    pub const ALL: [Os; 2] = [Os::Linux, Os::Windows];

    pub fn name(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Windows => "windows",
        }
    }
}

pub fn gpus() -> &'static [GpuInfo] {
    generated::GPUS
}

pub fn toolkits() -> &'static [ToolkitInfo] {
    generated::TOOLKITS
}

pub fn majors() -> &'static [MajorCompat] {
    generated::MAJORS
}

pub fn families() -> &'static [Family] {
    generated::FAMILIES
}

pub fn renames() -> &'static [Rename] {
    generated::RENAMES
}

/// Folds a product name for matching: lowercase, every run of punctuation or space
/// becomes one space (`NVIDIA A100-SXM4-80GB` -> `nvidia a100 sxm4 80gb`).
pub fn fold_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Finds the GPU a product name means. An exact (folded) match wins; otherwise the
/// longest catalog name whose words begin the given name (`NVIDIA A100-SXM4-80GB`
/// begins with `NVIDIA A100`).
pub fn find_gpu(name: &str) -> Option<&'static GpuInfo> {
    let folded = fold_name(name);
    if folded.is_empty() {
        return None;
    }
    let mut best: Option<(&'static GpuInfo, usize)> = None;
    for gpu in gpus() {
        for alias in gpu.folded {
            if *alias == folded {
                return Some(gpu);
            }
            let is_prefix = folded.len() > alias.len()
                && folded.starts_with(alias)
                && folded.as_bytes()[alias.len()] == b' ';
            if is_prefix && best.is_none_or(|(_, len)| alias.len() > len) {
                best = Some((gpu, alias.len()));
            }
        }
    }
    best.map(|(gpu, _)| gpu)
}

/// Up to three known names closest to an unknown one, for "did you mean".
pub fn suggest_gpus(name: &str) -> Vec<&'static str> {
    let folded = fold_name(name);
    let mut scored: Vec<(usize, &'static str)> = Vec::new();
    for gpu in gpus() {
        let distance = gpu
            .folded
            .iter()
            .map(|alias| {
                if alias.contains(folded.as_str()) || folded.contains(*alias) {
                    alias.len().abs_diff(folded.len()).min(2)
                } else {
                    edit_distance(alias, &folded)
                }
            })
            .min()
            .unwrap_or(usize::MAX);
        if distance <= (folded.len() / 3).max(2) {
            scored.push((distance, gpu.name));
        }
    }
    scored.sort_unstable();
    scored.dedup_by_key(|(_, n)| *n);
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance, for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The capabilities of an architecture name (`Ampere` -> 8.0, 8.6, 8.7), case-insensitive.
pub fn architecture_ccs(name: &str) -> Option<Vec<Cc>> {
    let mut ccs: Vec<Cc> = gpus()
        .iter()
        .filter(|g| g.architecture.eq_ignore_ascii_case(name.trim()))
        .map(|g| g.cc)
        .collect();
    if ccs.is_empty() {
        return None;
    }
    ccs.sort_unstable();
    ccs.dedup();
    Some(ccs)
}

/// The names of every architecture the catalog knows, oldest first.
pub fn architectures() -> Vec<&'static str> {
    let mut names: Vec<(Cc, &'static str)> = Vec::new();
    for gpu in gpus() {
        if !names.iter().any(|(_, n)| *n == gpu.architecture) {
            names.push((gpu.cc, gpu.architecture));
        }
    }
    names.sort_unstable();
    names.into_iter().map(|(_, n)| n).collect()
}

/// Every real architecture some toolkit accepts (`sm_35` ... `sm_121f`), in order.
pub fn known_archs() -> Vec<Arch> {
    let mut arches: Vec<Arch> = toolkits()
        .iter()
        .flat_map(|t| t.real_targets.iter().copied())
        .collect();
    arches.sort_unstable();
    arches.dedup();
    arches
}

/// GPUs of one capability, by name.
pub fn gpus_with_cc(cc: Cc) -> impl Iterator<Item = &'static GpuInfo> {
    gpus().iter().filter(move |g| g.cc == cc)
}

/// Whether NVIDIA ever shipped or targeted this capability (a GPU has it, or some
/// toolkit accepts it).
pub fn is_known_cc(cc: Cc) -> bool {
    gpus().iter().any(|g| g.cc == cc)
        || toolkits()
            .iter()
            .any(|t| t.real_targets.iter().any(|a| a.cc == cc))
}

/// Whether this capability belongs to integrated (Tegra) parts only; a renumbered
/// capability (Thor's 10.1) counts as its new number.
pub fn cc_is_integrated(cc: Cc) -> bool {
    // Asked for every cubin and every target: worked out once.
    static INTEGRATED: std::sync::OnceLock<Vec<Cc>> = std::sync::OnceLock::new();
    let integrated = INTEGRATED.get_or_init(|| {
        let mut ccs: Vec<Cc> = gpus()
            .iter()
            .map(|g| g.cc)
            .filter(|&c| gpus_with_cc(c).all(|g| g.integrated))
            .collect();
        ccs.extend(
            renames()
                .iter()
                .filter(|r| ccs.contains(&r.to))
                .map(|r| r.from)
                .collect::<Vec<_>>(),
        );
        ccs.sort_unstable();
        ccs.dedup();
        ccs
    });
    integrated.binary_search(&cc).is_ok()
}

/// The toolkit of one `major.minor` release.
pub fn toolkit(version: Version) -> Option<&'static ToolkitInfo> {
    toolkits()
        .iter()
        .find(|t| t.version.major == version.major && t.version.minor == version.minor)
}

pub fn latest_toolkit() -> &'static ToolkitInfo {
    toolkits()
        .iter()
        .max_by_key(|t| t.version)
        .expect("the catalog holds toolkits")
}

/// The first and last toolkits that can emit this code.
pub fn toolkit_range(code: Code) -> Option<(&'static ToolkitInfo, &'static ToolkitInfo)> {
    let mut able = toolkits().iter().filter(|t| t.can_emit(code));
    let first = able.next()?;
    let last = able.next_back().unwrap_or(first);
    Some((first, last))
}

/// The lowest driver that runs programs built with this toolkit, under minor-version
/// compatibility where the major has it (CUDA 11 and later).
///
/// The toolkit's own driver always runs it, even where it is below the major's floor
/// (CUDA 11.0 GA shipped 450.51.05; the 11.x floor is 450.80.02).
pub fn runtime_min_driver(toolkit: Version, os: Os) -> Option<Version> {
    let own = self::toolkit(toolkit).and_then(|t| t.driver(os));
    let floor = majors()
        .iter()
        .find(|m| m.major == toolkit.major)
        .map(|m| match os {
            Os::Linux => m.min_driver_linux,
            Os::Windows => m.min_driver_windows,
        });
    match (own, floor) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The lowest driver whose JIT compiler accepts PTX of this ISA version: the driver
/// of the first toolkit that emitted it.
pub fn min_driver_for_ptx_isa(isa: Version, os: Os) -> Option<Version> {
    toolkits()
        .iter()
        .filter(|t| t.ptx_isa >= isa)
        .filter_map(|t| t.driver(os))
        .min()
}

/// The newest PTX ISA a driver can JIT: that of the newest toolkit it ships with or after.
pub fn max_ptx_isa_for_driver(driver: Version, os: Os) -> Option<Version> {
    toolkits()
        .iter()
        .filter(|t| t.driver(os).is_some_and(|d| d <= driver))
        .map(|t| t.ptx_isa)
        .max()
}

/// The family an `f` arch of this capability belongs to.
pub fn family_of(cc: Cc) -> Option<&'static Family> {
    families().iter().find(|f| f.members.contains(&cc))
}

/// Whether two capabilities name the same device (equal, or renumbered).
pub fn same_device(a: Cc, b: Cc) -> bool {
    a == b
        || renames()
            .iter()
            .any(|r| (r.from == a && r.to == b) || (r.from == b && r.to == a))
}

/// The number a toolkit uses for a device that was renumbered (Thor is sm_101 to
/// toolkits before CUDA 13.0 and sm_110 after).
pub fn cc_for_toolkit(cc: Cc, toolkit: Version) -> Cc {
    for r in renames() {
        if cc == r.to && toolkit < r.since {
            return r.from;
        }
        if cc == r.from && toolkit >= r.since {
            return r.to;
        }
    }
    cc
}

/// The `a`/`f` variants of a capability that a toolkit accepts.
pub fn variants_in(toolkit: &ToolkitInfo, cc: Cc) -> impl Iterator<Item = Variant> + '_ {
    toolkit
        .real_targets
        .iter()
        .filter(move |a| a.cc == cc)
        .map(|a| a.variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn stored_folds_match_the_folding_rule() {
        for gpu in gpus() {
            let expected: Vec<String> = std::iter::once(gpu.name)
                .chain(gpu.aliases.iter().copied())
                .map(fold_name)
                .collect();
            assert_eq!(gpu.folded, expected.as_slice(), "{}", gpu.name);
        }
    }

    #[test]
    fn no_two_gpus_share_a_name() {
        let mut seen = std::collections::HashMap::new();
        for gpu in gpus() {
            for alias in gpu.folded {
                if let Some(other) = seen.insert(*alias, gpu.name) {
                    assert_eq!(other, gpu.name, "`{alias}` names two GPUs");
                }
            }
        }
    }

    #[test]
    fn names_as_people_and_nvidia_smi_write_them() {
        let cases = [
            ("A100", "8.0"),
            ("NVIDIA A100-SXM4-80GB", "8.0"),
            ("Tesla T4", "7.5"),
            ("RTX 4090", "8.9"),
            ("H100 PCIe", "9.0"),
            ("GB10", "12.1"),
            ("Jetson AGX Orin", "8.7"),
            ("NVIDIA L4", "8.9"),
            ("nvidia h100 80gb hbm3", "9.0"),
        ];
        for (name, cc) in cases {
            let gpu = find_gpu(name).unwrap_or_else(|| panic!("{name} not found"));
            assert_eq!(gpu.cc.to_string(), cc, "{name}");
        }
        assert!(find_gpu("A1000000").is_none());
        assert!(find_gpu("").is_none());
    }

    #[test]
    fn suggests_near_names() {
        assert!(suggest_gpus("A10O").contains(&find_gpu("A100").unwrap().name));
        assert!(suggest_gpus("H10").iter().any(|n| n.contains("H100")));
    }

    #[test]
    fn architectures_expand_to_capabilities() {
        let ampere = architecture_ccs("ampere").unwrap();
        assert!(ampere.contains(&Cc::new(8, 0)) && ampere.contains(&Cc::new(8, 6)));
        assert_eq!(architecture_ccs("Hopper").unwrap(), vec![Cc::new(9, 0)]);
        assert!(architecture_ccs("Blackwell")
            .unwrap()
            .contains(&Cc::new(12, 1)));
        assert!(architecture_ccs("Fermi").is_none());
    }

    #[test]
    fn driver_floors() {
        assert_eq!(
            runtime_min_driver(v("12.4"), Os::Linux),
            Some(v("525.60.13"))
        );
        assert_eq!(runtime_min_driver(v("10.2"), Os::Linux), Some(v("440.33")));
        assert_eq!(
            runtime_min_driver(v("11.0"), Os::Linux),
            Some(v("450.51.05"))
        );
        assert_eq!(
            runtime_min_driver(v("13.5"), Os::Linux),
            Some(v("580.65.06"))
        );
        assert_eq!(
            max_ptx_isa_for_driver(v("535.104.05"), Os::Linux),
            Some(v("8.2"))
        );
        assert_eq!(
            min_driver_for_ptx_isa(v("8.5"), Os::Linux),
            Some(v("555.42.02"))
        );
        assert_eq!(max_ptx_isa_for_driver(v("300.1"), Os::Linux), None);
    }

    #[test]
    fn integrated_capabilities() {
        for cc in ["5.3", "6.2", "7.2", "8.7", "11.0", "10.1"] {
            assert!(cc_is_integrated(Cc::parse_dotted(cc).unwrap()), "{cc}");
        }
        for cc in ["8.0", "8.6", "9.0", "10.0", "12.1", "8.8"] {
            assert!(!cc_is_integrated(Cc::parse_dotted(cc).unwrap()), "{cc}");
        }
    }

    #[test]
    fn thor_rename() {
        assert_eq!(cc_for_toolkit(Cc::new(11, 0), v("12.9")), Cc::new(10, 1));
        assert_eq!(cc_for_toolkit(Cc::new(10, 1), v("13.0")), Cc::new(11, 0));
        assert_eq!(cc_for_toolkit(Cc::new(9, 0), v("13.0")), Cc::new(9, 0));
        assert!(same_device(Cc::new(10, 1), Cc::new(11, 0)));
    }

    #[test]
    fn toolkit_ranges() {
        let (first, last) = toolkit_range(Code::parse("sm_61").unwrap()).unwrap();
        assert_eq!(last.version, v("12.9"));
        assert!(first.version <= v("10.0"));
        let (first, _) = toolkit_range(Code::parse("sm_121").unwrap()).unwrap();
        assert_eq!(first.version, v("12.9"));
    }
}
