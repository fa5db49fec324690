//! GPU names as inventories write them: nvidia-smi product names, Kubernetes GPU Feature
//! Discovery labels (`Tesla-T4`, `NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`, `...-SHARED`), and
//! the names the plain `nvidia-smi` table cuts short (`Tesla V100-SXM2...`).

use crate::catalog::{self, GpuInfo};

/// What a reported GPU name means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified {
    /// The catalog row, where the name means exactly one capability.
    pub gpu: Option<&'static GpuInfo>,
    /// Every catalog row the name may mean, in catalog order: one for a full name, several
    /// for a truncated one (`GeForce GTX 108...` fits the GTX 1080 and the GTX 1080 Ti);
    /// empty when the catalog knows none.
    pub candidates: Vec<&'static GpuInfo>,
    /// The MIG profile a name carries (`1g.5gb` from `NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`).
    pub mig: Option<String>,
}

impl Identified {
    /// Whether nvidia-smi cut the name short and it fits GPUs of different capabilities.
    pub fn is_ambiguous(&self) -> bool {
        self.gpu.is_none() && self.candidates.len() > 1
    }
}

/// Identifies a GPU name as an inventory wrote it.
///
/// - Full names and aliases go through [`catalog::find_gpu`] (`NVIDIA A100-SXM4-80GB`,
///   GFD's `Tesla-T4`: folding maps dashes to spaces).
/// - A MIG suffix (`-MIG-1g.5gb`, ` MIG 3g.20gb`) is split off into `mig`, and a GFD
///   sharing suffix (`-SHARED`) is dropped.
/// - A name the nvidia-smi table truncated (`...` or `…` at the end) means every catalog
///   row with a name or alias that starts with the truncated text (folded). `gpu` is set
///   only when they all share one capability (the first of them). When no row starts
///   so, the catalog name its whole words begin (`NVIDIA RTX A4000 Lap...` is the A4000).
pub fn identify(reported: &str) -> Identified {
    let mut name = reported.trim();
    name = strip_sharing(name);
    let (base, mig) = split_mig(name);
    let base = strip_sharing(base);
    let (gpu, candidates) = match truncated_prefix(base) {
        Some(prefix) => by_prefix(prefix),
        None => match catalog::find_gpu(base) {
            Some(g) => (Some(g), vec![g]),
            None => (None, Vec::new()),
        },
    };
    Identified {
        gpu,
        candidates,
        mig,
    }
}

/// The name without its MIG profile and sharing suffixes (`NVIDIA-A100-SXM4-40GB` from
/// `NVIDIA-A100-SXM4-40GB-MIG-1g.5gb`), as written otherwise.
pub fn base_name(reported: &str) -> &str {
    let (base, _) = split_mig(strip_sharing(reported.trim()));
    strip_sharing(base)
}

/// Drops the GFD time-slicing / MPS suffix (`NVIDIA-A100-SXM4-40GB-SHARED`).
fn strip_sharing(name: &str) -> &str {
    let name = name.trim_end();
    for suffix in ["-SHARED", "_SHARED", " SHARED"] {
        if name.len() > suffix.len() {
            if let Some(head) = name.get(..name.len() - suffix.len()) {
                let tail = &name[head.len()..];
                if tail.eq_ignore_ascii_case(suffix) {
                    return head.trim_end();
                }
            }
        }
    }
    name
}

/// Splits `NAME-MIG-1g.5gb` / `NAME MIG 3g.20gb` into the name and the profile. A `MIG`
/// word not followed by a profile is left in the name.
fn split_mig(name: &str) -> (&str, Option<String>) {
    let bytes = name.as_bytes();
    let mut search = 0;
    while let Some(found) = name.get(search..).and_then(|s| find_ascii_ci(s, "mig")) {
        let start = search + found;
        let end = start + 3;
        search = end;
        let before_ok = start == 0 || matches!(bytes[start - 1], b'-' | b' ' | b'_');
        let after_ok = matches!(bytes.get(end), Some(b'-' | b' ' | b'_'));
        if !(before_ok && after_ok) {
            continue;
        }
        let rest = name[end + 1..].trim_start_matches(['-', ' ', '_']);
        let profile: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect::<String>();
        if is_mig_profile(&profile) {
            let head = name[..start].trim_end_matches(['-', ' ', '_']);
            return (head, Some(profile.to_ascii_lowercase()));
        }
    }
    (name, None)
}

/// Case-insensitive find of an ASCII needle; the index is a char boundary.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// `1g.5gb`, `3g.20gb`, `1g.10gb+me`, `1c.2g.10gb`, `7g.80gb`.
pub(crate) fn is_mig_profile(s: &str) -> bool {
    let core = s.split('+').next().unwrap_or("").to_ascii_lowercase();
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.len() == 3 {
        // `1c.2g.10gb`: compute-instance prefix.
        let c = parts.remove(0);
        if !(c.len() >= 2
            && c.ends_with('c')
            && c[..c.len() - 1].bytes().all(|b| b.is_ascii_digit()))
        {
            return false;
        }
    }
    if parts.len() != 2 {
        return false;
    }
    let (g, mem) = (parts[0], parts[1]);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    g.len() >= 2
        && g.ends_with('g')
        && digits(&g[..g.len() - 1])
        && mem.len() >= 3
        && mem.ends_with("gb")
        && digits(&mem[..mem.len() - 2])
}

/// The text before a trailing `...` / `…`, when the name was cut short.
fn truncated_prefix(name: &str) -> Option<&str> {
    let head = name
        .strip_suffix("...")
        .or_else(|| name.strip_suffix('\u{2026}'))?;
    Some(head)
}

/// Every catalog row with a folded name or alias that starts with the folded prefix.
fn by_prefix(prefix: &str) -> (Option<&'static GpuInfo>, Vec<&'static GpuInfo>) {
    let folded = catalog::fold_name(prefix);
    if folded.is_empty() {
        return (None, Vec::new());
    }
    let mut candidates: Vec<&'static GpuInfo> = catalog::gpus()
        .iter()
        .filter(|g| {
            g.folded
                .iter()
                .any(|alias| alias.starts_with(folded.as_str()))
        })
        .collect();
    if candidates.is_empty() {
        // The full name is not in the catalog (`NVIDIA RTX A4000 Lap...`): the name it
        // begins with, when its words are whole.
        let whole = if prefix.ends_with(|c: char| !c.is_alphanumeric()) {
            prefix
        } else {
            prefix
                .rfind(|c: char| !c.is_alphanumeric())
                .map_or("", |i| &prefix[..i])
        };
        if let Some(g) = catalog::find_gpu(whole) {
            candidates.push(g);
        }
    }
    let one_cc = candidates
        .first()
        .filter(|first| candidates.iter().all(|g| g.cc == first.cc))
        .copied();
    (one_cc, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Cc;

    fn names(id: &Identified) -> Vec<&'static str> {
        id.candidates.iter().map(|g| g.name).collect()
    }

    #[test]
    fn full_names_and_aliases() {
        let id = identify("NVIDIA A100-SXM4-80GB");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        assert_eq!(names(&id), ["NVIDIA A100"]);
        assert_eq!(id.mig, None);
        assert_eq!(identify("  Tesla K80 ").gpu.unwrap().cc, Cc::new(3, 7));
        assert_eq!(identify("TITAN Xp").gpu.unwrap().name, "NVIDIA TITAN Xp");
        // A longer name the catalog begins (`find_gpu` prefix rule).
        assert_eq!(
            identify("NVIDIA GeForce RTX 3060 Laptop GPU")
                .gpu
                .unwrap()
                .name,
            "GeForce RTX 3060"
        );
    }

    #[test]
    fn gfd_dashed_names() {
        assert_eq!(identify("Tesla-T4").gpu.unwrap().name, "Tesla T4");
        assert_eq!(
            identify("NVIDIA-A100-SXM4-80GB").gpu.unwrap().name,
            "NVIDIA A100"
        );
        assert_eq!(
            identify("NVIDIA-H100-80GB-HBM3").gpu.unwrap().cc,
            Cc::new(9, 0)
        );
    }

    #[test]
    fn mig_suffixes() {
        let id = identify("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        assert_eq!(id.mig.as_deref(), Some("1g.5gb"));
        let id = identify("A100-SXM4-40GB MIG 3g.20gb");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        assert_eq!(id.mig.as_deref(), Some("3g.20gb"));
        let id = identify("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb+me");
        assert_eq!(id.gpu.unwrap().cc, Cc::new(9, 0));
        assert_eq!(id.mig.as_deref(), Some("1g.10gb+me"));
        let id = identify("NVIDIA-A100-SXM4-40GB-MIG-1c.2g.10gb");
        assert_eq!(id.mig.as_deref(), Some("1c.2g.10gb"));
        // `MIG` without a profile stays part of the name.
        assert_eq!(identify("NVIDIA A100 MIG").mig, None);
    }

    #[test]
    fn sharing_suffix() {
        let id = identify("NVIDIA-A100-SXM4-40GB-SHARED");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        assert_eq!(id.mig, None);
        let id = identify("Tesla-T4-SHARED");
        assert_eq!(id.gpu.unwrap().name, "Tesla T4");
        let id = identify("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb-SHARED");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        assert_eq!(id.mig.as_deref(), Some("1g.5gb"));
    }

    #[test]
    fn truncated_names_of_one_capability() {
        let id = identify("Tesla V100-SXM2...");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA V100");
        assert_eq!(names(&id), ["NVIDIA V100"]);
        let id = identify("GeForce GTX 108...");
        assert_eq!(id.gpu.unwrap().cc, Cc::new(6, 1));
        assert_eq!(names(&id), ["GeForce GTX 1080", "GeForce GTX 1080 Ti"]);
        let id = identify("NVIDIA A100-SXM...");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA A100");
        let id = identify("NVIDIA GeForce RTX 4070 ...");
        assert_eq!(id.gpu.unwrap().cc, Cc::new(8, 9));
        assert_eq!(names(&id), ["GeForce RTX 4070", "GeForce RTX 4070 Ti"]);
        assert!(!id.is_ambiguous());
        let id = identify("GeForce RTX 207\u{2026}");
        assert_eq!(id.gpu.unwrap().name, "GeForce RTX 2070");
        // Not in the catalog, but its whole words begin a catalog name.
        let id = identify("NVIDIA RTX A4000 Lap...");
        assert_eq!(id.gpu.unwrap().name, "NVIDIA RTX A4000");
    }

    #[test]
    fn truncated_names_of_several_capabilities() {
        let id = identify("NVIDIA GeForce ...");
        assert_eq!(id.gpu, None);
        assert!(id.is_ambiguous());
        let ccs: std::collections::BTreeSet<Cc> = id.candidates.iter().map(|g| g.cc).collect();
        assert!(ccs.len() > 3, "{ccs:?}");
        assert!(names(&id).contains(&"GeForce RTX 4090"));
        let id = identify("NVIDIA A10...");
        assert_eq!(id.gpu, None);
        assert!(names(&id).contains(&"NVIDIA A100"));
        assert!(names(&id).contains(&"NVIDIA A10"));
    }

    #[test]
    fn unknown_names() {
        let id = identify("TITAN X (Pascal)");
        assert_eq!(id.gpu, None);
        assert!(id.candidates.is_empty());
        assert_eq!(identify("").gpu, None);
        assert_eq!(identify("...").gpu, None);
        assert!(identify("...").candidates.is_empty());
        assert_eq!(identify("GeForce GTX 680").gpu, None);
    }

    #[test]
    fn odd_text_does_not_panic() {
        for s in [
            "MIG",
            "-MIG-",
            "mig-1g.5gb",
            "X-MIG-",
            "ÄÖÜ-MIG-1g.5gb",
            "\u{2026}",
            "é...",
            "-SHARED",
            "SHARED",
            "mig mig mig 1g.5gb",
            "MIG-\u{1F5A5}",
            "a-MİG-1g.5gb",
        ] {
            let _ = identify(s);
        }
        assert_eq!(identify("mig-1g.5gb").mig.as_deref(), Some("1g.5gb"));
    }
}
