//! TORCH_CUDA_ARCH_LIST, as `torch.utils.cpp_extension._get_cuda_arch_flags` reads it:
//! `7.5;8.0;8.6+PTX`, spaces as separators, named architectures (`Ampere`). Each
//! `X.Y` is `sm_XY`; `+PTX` adds `compute_XY`.
//!
//! gpuarch accepts what people really write, and warns wherever PyTorch itself would
//! raise "Unknown CUDA arch (...) or GPU not supported" on the same string.

use super::{bad_list, not_expressible, Parsed};
use crate::arch::{Arch, Code, CodeSet, Variant};
use crate::diagnostic::Diagnostic;

const DIALECT: &str = "TORCH_CUDA_ARCH_LIST";

const ACCEPTED: &str = "write dotted capabilities separated by `;`, e.g. `7.5;8.0;8.6+PTX`, `9.0a`, or names such as `Ampere`";

/// PyTorch's named architectures, in the order it expands them (torch 2.15,
/// torch/utils/cpp_extension.py).
const NAMED: &[(&str, &str)] = &[
    ("Kepler+Tesla", "3.7"),
    ("Kepler", "3.5+PTX"),
    ("Maxwell+Tegra", "5.3"),
    ("Maxwell", "5.0;5.2+PTX"),
    ("Pascal", "6.0;6.1+PTX"),
    ("Volta+Tegra", "7.2"),
    ("Volta", "7.0+PTX"),
    ("Turing", "7.5+PTX"),
    ("Ampere+Tegra", "8.7"),
    ("Ampere", "8.0;8.6+PTX"),
    ("Ada", "8.9+PTX"),
    ("Hopper", "9.0+PTX"),
    ("Blackwell+Tegra", "11.0"),
    ("Blackwell", "10.0;10.3;12.0;12.1+PTX"),
    ("Rubin", "10.7+PTX"),
];

/// The capabilities torch 2.15 accepts (`supported_arches`).
const SUPPORTED: &[&str] = &[
    "3.5", "3.7", "5.0", "5.2", "5.3", "6.0", "6.1", "6.2", "7.0", "7.2", "7.5", "8.0", "8.6",
    "8.7", "8.9", "9.0", "9.0a", "10.0", "10.0a", "11.0", "11.0a", "10.3", "10.3a", "10.7",
    "10.7a", "12.0", "12.0a", "12.1", "12.1a",
];

pub fn emit(codes: &CodeSet) -> Result<String, Diagnostic> {
    let sass: Vec<Arch> = codes.sass().collect();
    if let Some(f) = sass.iter().find(|a| a.variant == Variant::Family) {
        return Err(not_expressible(
            DIALECT,
            format!("PyTorch has no family (`f`) targets (sm_{})", f.number()),
        ));
    }
    if let Some(p) = codes.ptx().find(|p| !sass.contains(p)) {
        return Err(not_expressible(
            DIALECT,
            format!(
                "`+PTX` always comes with the cubin; compute_{} has no sm_{}",
                p.number(),
                p.number()
            ),
        ));
    }
    let items: Vec<String> = sass
        .iter()
        .map(|a| {
            let ptx = if codes.contains(Code::ptx(*a)) {
                "+PTX"
            } else {
                ""
            };
            format!("{}{ptx}", a.dotted())
        })
        .collect();
    Ok(items.join(";"))
}

pub fn parse(text: &str) -> Result<Parsed, Diagnostic> {
    let mut warnings = Vec::new();
    let mut rejects: Vec<String> = Vec::new();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad_list(DIALECT, "the list is empty".into(), ACCEPTED));
    }
    if trimmed.eq_ignore_ascii_case("native") || trimmed.eq_ignore_ascii_case("auto") {
        return Err(bad_list(
            DIALECT,
            format!("`{trimmed}` means \"the GPUs of this machine\", which needs a GPU at build time"),
            "name the architectures to build for, e.g. `8.0;9.0+PTX` (cargo gpuarch plan --format torch writes it)",
        ));
    }
    // PyTorch turns spaces into `;` and splits, without trimming: any empty item fails.
    if text.replace(' ', ";").split(';').any(str::is_empty) {
        rejects.push("an empty item (a trailing `;`, or a space next to `;`)".into());
    }
    if text.contains(',') {
        rejects.push("`,` is not a separator".into());
    }
    let mut codes = CodeSet::new();
    for raw in text.split([';', ' ', ',', '\t', '\n']) {
        if raw.is_empty() {
            continue;
        }
        let (item, ptx) = split_ptx(raw, &mut rejects);
        if let Some(expansion) = named(item, &mut rejects) {
            if ptx {
                rejects.push(format!("`{raw}` (a name already carries its PTX)"));
            }
            for part in expansion.split(';') {
                let (cc, part_ptx) = split_ptx(part, &mut rejects);
                add(
                    &mut codes,
                    Arch::parse_dotted(cc).expect("named table is valid"),
                    part_ptx || ptx,
                );
            }
            continue;
        }
        let arch = parse_item(item, raw, &mut rejects)?;
        if !SUPPORTED.contains(&arch.dotted().as_str()) {
            rejects.push(format!("`{raw}` is not in torch 2.15's supported list"));
        }
        add(&mut codes, arch, ptx);
    }
    if codes.is_empty() {
        return Err(bad_list(
            DIALECT,
            format!("`{text}` names no architecture"),
            ACCEPTED,
        ));
    }
    if !rejects.is_empty() {
        warnings.push(
            Diagnostic::warning(
                "torch-would-reject",
                format!(
                    "PyTorch would reject \"{text}\" (\"Unknown CUDA arch (...) or GPU not supported\"): {}",
                    rejects.join("; ")
                ),
            )
            .with_help(match emit(&codes) {
                Ok(fixed) => format!("write it as \"{fixed}\""),
                Err(_) => ACCEPTED.to_string(),
            }),
        );
    }
    Ok(Parsed { codes, warnings })
}

fn add(codes: &mut CodeSet, arch: Arch, ptx: bool) {
    codes.insert(Code::sass(arch));
    if ptx {
        codes.insert(Code::ptx(arch));
    }
}

fn split_ptx<'a>(raw: &'a str, rejects: &mut Vec<String>) -> (&'a str, bool) {
    match raw
        .len()
        .checked_sub(4)
        .and_then(|i| raw.get(i..).map(|s| (i, s)))
    {
        Some((i, suffix)) if suffix.eq_ignore_ascii_case("+ptx") => {
            if suffix != "+PTX" {
                rejects.push(format!("`{raw}` (write `+PTX` in capitals)"));
            }
            (&raw[..i], true)
        }
        _ => (raw, false),
    }
}

fn named(item: &str, rejects: &mut Vec<String>) -> Option<&'static str> {
    let (name, expansion) = NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(item))?;
    if *name != item {
        rejects.push(format!("`{item}` (PyTorch spells it `{name}`)"));
    }
    Some(expansion)
}

fn parse_item(item: &str, raw: &str, rejects: &mut Vec<String>) -> Result<Arch, Diagnostic> {
    if let Some(arch) = Arch::parse_dotted(item) {
        if arch.variant == Variant::Family {
            rejects.push(format!("`{raw}` (PyTorch has no `f` targets)"));
        }
        return Ok(arch);
    }
    let number = item
        .strip_prefix("sm_")
        .or_else(|| item.strip_prefix("compute_"))
        .unwrap_or(item);
    if let Some(arch) = Arch::parse_number(number) {
        rejects.push(format!("`{raw}` (PyTorch wants `{}`)", arch.dotted()));
        return Ok(arch);
    }
    Err(bad_list(DIALECT, format!("cannot read `{raw}`"), ACCEPTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<String> {
        parse(text)
            .unwrap()
            .codes
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    fn rejected(text: &str) -> bool {
        parse(text)
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.code == "torch-would-reject")
    }

    #[test]
    fn reads_what_pytorch_reads() {
        assert_eq!(
            codes("7.5;8.0;8.6+PTX"),
            ["sm_75", "sm_80", "sm_86", "compute_86"]
        );
        assert_eq!(codes("Ampere"), ["sm_80", "sm_86", "compute_86"]);
        assert_eq!(codes("Kepler+Tesla"), ["sm_37"]);
        assert_eq!(codes("9.0a"), ["sm_90a"]);
        assert_eq!(codes("8.0 8.6"), ["sm_80", "sm_86"]);
        assert!(!rejected("7.5;8.0;8.6+PTX") && !rejected("8.0 8.6") && !rejected("Ampere;Hopper"));
    }

    #[test]
    fn accepts_but_flags_what_pytorch_rejects() {
        for s in [
            "8.0;",
            "8.0; 8.6",
            "sm_80",
            "Hopper+PTX",
            "80",
            "8.0+ptx",
            "10.0f",
            "ampere",
            "8.0,8.6",
        ] {
            assert!(rejected(s), "{s} not flagged");
        }
        assert_eq!(codes("sm_80"), ["sm_80"]);
        assert_eq!(codes("Hopper+PTX"), ["sm_90", "compute_90"]);
        let w = &parse("8.0; 8.6").unwrap().warnings[0];
        assert_eq!(w.help.as_deref(), Some("write it as \"8.0;8.6\""));
    }

    #[test]
    fn rejects_unreadable_items() {
        assert!(parse("eight").is_err());
        assert!(parse("").is_err());
        assert!(parse("native").is_err());
        assert!(parse(";;").is_err());
        assert!(parse("ñ").is_err());
    }

    #[test]
    fn family_and_bare_ptx_cannot_be_written() {
        let f: CodeSet = [Code::parse("sm_100f").unwrap()].into_iter().collect();
        assert!(emit(&f).is_err());
        let p: CodeSet = [Code::parse("compute_90").unwrap()].into_iter().collect();
        assert!(emit(&p).is_err());
    }
}
