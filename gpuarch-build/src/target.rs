//! Target GPUs: the manifest's names, capabilities and architectures, resolved through
//! the catalog.

use crate::arch::Cc;
use crate::catalog::{self, GpuInfo};
use crate::diagnostic::{Diagnostic, Location};
use crate::error::{Error, Result};
use crate::manifest::{parse_cc_loose, Located};

/// One GPU (or capability) the artifacts must run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// How to name it in messages: the catalog's product name, `Ampere (8.6)`, or `8.6`.
    pub name: String,
    pub cc: Cc,
    /// The catalog row, where a product was named.
    pub gpu: Option<&'static GpuInfo>,
    pub integrated: bool,
    pub location: Option<Location>,
}

impl Target {
    pub fn from_cc(cc: Cc, name: String, location: Option<Location>) -> Target {
        Target {
            name,
            cc,
            gpu: None,
            integrated: catalog::cc_is_integrated(cc),
            location,
        }
    }
}

/// Resolves every entry; all unknown names are reported together.
pub fn resolve(gpus: &[Located<String>], list_location: Option<&Location>) -> Result<Vec<Target>> {
    if gpus.is_empty() {
        return Err(Error::invalid(
            Diagnostic::error("no-targets", "no target GPUs: the list is empty")
                .with_help(
                    "name the GPUs to run on, e.g. `gpus = [\"A100\", \"L4\"]` or `--gpu A100`",
                )
                .at(list_location.cloned()),
        ));
    }
    let mut targets: Vec<Target> = Vec::new();
    let mut errors = Vec::new();
    for entry in gpus {
        match resolve_one(&entry.value, entry.location.as_ref()) {
            Ok(found) => {
                for t in found {
                    if !targets.iter().any(|o| o.name == t.name && o.cc == t.cc) {
                        targets.push(t);
                    }
                }
            }
            Err(d) => errors.push(d.at(entry.location.clone())),
        }
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Invalid(errors))
    }
}

fn resolve_one(text: &str, location: Option<&Location>) -> Result<Vec<Target>, Diagnostic> {
    let trimmed = text.trim();
    let looks_numeric = trimmed
        .trim_start_matches("sm_")
        .trim_start_matches("compute_")
        .starts_with(|c: char| c.is_ascii_digit());
    if looks_numeric {
        return resolve_capability(trimmed, location);
    }
    if let Some(gpu) = catalog::find_gpu(trimmed) {
        return Ok(vec![Target {
            name: gpu.name.to_string(),
            cc: gpu.cc,
            gpu: Some(gpu),
            integrated: gpu.integrated,
            location: location.cloned(),
        }]);
    }
    if let Some(ccs) = catalog::architecture_ccs(trimmed) {
        let arch = catalog::architectures()
            .into_iter()
            .find(|a| a.eq_ignore_ascii_case(trimmed))
            .unwrap_or(trimmed);
        return Ok(ccs
            .into_iter()
            .map(|cc| Target::from_cc(cc, format!("{arch} ({cc})"), location.cloned()))
            .collect());
    }
    let suggestions = catalog::suggest_gpus(trimmed);
    let help = if suggestions.is_empty() {
        "`cargo gpuarch catalog gpus` lists known names; a capability (\"8.6\") or an architecture (\"Ampere\") works too".to_string()
    } else {
        format!(
            "did you mean {}? (`cargo gpuarch catalog gpus` lists every name)",
            suggestions
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(Diagnostic::error("unknown-gpu", format!("unknown GPU `{trimmed}`")).with_help(help))
}

fn resolve_capability(text: &str, location: Option<&Location>) -> Result<Vec<Target>, Diagnostic> {
    if text.ends_with('a') || text.ends_with('f') {
        return Err(Diagnostic::error(
            "unknown-capability",
            format!("`{text}` is an architecture variant, not a GPU"),
        )
        .with_help(format!(
            "name the GPU's capability (\"{}\") and opt in with `arch-specific` or `family-specific`",
            text.trim_end_matches(['a', 'f'])
        )));
    }
    let Some(cc) = parse_cc_loose(text) else {
        return Err(Diagnostic::error(
            "unknown-capability",
            format!("`{text}` is not a compute capability"),
        )
        .with_help("write capabilities as \"8.6\" or \"sm_86\""));
    };
    if !catalog::is_known_cc(cc) {
        let mut near: Vec<String> = catalog::toolkits()
            .iter()
            .flat_map(|t| t.real_targets.iter())
            .filter(|a| a.cc.major == cc.major)
            .map(|a| a.cc.to_string())
            .collect();
        near.sort_unstable();
        near.dedup();
        let help = if near.is_empty() {
            "`cargo gpuarch catalog archs` lists every capability".to_string()
        } else {
            format!("capabilities of major {}: {}", cc.major, near.join(", "))
        };
        return Err(Diagnostic::error(
            "unknown-capability",
            format!("no NVIDIA GPU has compute capability {cc} (`{text}`)"),
        )
        .with_help(help));
    }
    let name = match catalog::gpus_with_cc(cc).next() {
        Some(_) => format!("{cc}"),
        None => format!("{cc} (no product known)"),
    };
    Ok(vec![Target::from_cc(cc, name, location.cloned())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Result<Vec<Target>> {
        let gpus: Vec<Located<String>> =
            list.iter().map(|s| Located::bare(s.to_string())).collect();
        resolve(&gpus, None)
    }

    #[test]
    fn products_capabilities_and_architectures() {
        let t = names(&["A100", "sm_86", "8.9", "Hopper"]).unwrap();
        let ccs: Vec<String> = t.iter().map(|t| t.cc.to_string()).collect();
        assert_eq!(ccs, ["8.0", "8.6", "8.9", "9.0"]);
        assert!(t[0].gpu.is_some());
    }

    #[test]
    fn every_unknown_name_is_reported_with_suggestions() {
        let err = names(&["A10O", "sm_84", "Fermi2000"]).unwrap_err();
        let d = err.diagnostics();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].code, "unknown-gpu");
        assert!(d[0].help.as_ref().unwrap().contains("A100"));
        assert_eq!(d[1].code, "unknown-capability");
        assert!(d[1].message.contains("8.4"));
        assert_eq!(d[2].code, "unknown-gpu");
    }

    #[test]
    fn empty_list_is_an_error() {
        assert_eq!(names(&[]).unwrap_err().diagnostics()[0].code, "no-targets");
    }

    #[test]
    fn variant_suffix_is_not_a_gpu() {
        let err = names(&["9.0a"]).unwrap_err();
        assert!(err.diagnostics()[0]
            .help
            .as_ref()
            .unwrap()
            .contains("arch-specific"));
    }
}
