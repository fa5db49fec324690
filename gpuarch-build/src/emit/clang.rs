//! clang CUDA flags: `--cuda-gpu-arch=sm_80` (or `--offload-arch=sm_80`) builds SASS and,
//! by default, PTX for every architecture; `--no-cuda-include-ptx=` and
//! `--cuda-include-ptx=` (an architecture or `all`, the last one given winning) choose
//! which get PTX.

use super::{bad_list, not_expressible, Parsed};
use crate::arch::{Arch, Code, CodeKind, CodeSet};
use crate::diagnostic::Diagnostic;

const DIALECT: &str = "clang flags";
const ACCEPTED: &str = "write `--cuda-gpu-arch=sm_XY` (or `--offload-arch=sm_XY`), with `--no-cuda-include-ptx=all --cuda-include-ptx=sm_XY` to choose PTX";

pub fn emit(codes: &CodeSet) -> Result<Vec<String>, Diagnostic> {
    let sass: Vec<Arch> = codes.sass().collect();
    if let Some(p) = codes.ptx().find(|p| !sass.contains(p)) {
        return Err(not_expressible(
            DIALECT,
            format!("clang embeds PTX only beside a cubin of the same architecture; compute_{} has no sm_{}", p.number(), p.number()),
        ));
    }
    let mut flags: Vec<String> = sass
        .iter()
        .map(|a| format!("--cuda-gpu-arch=sm_{}", a.number()))
        .collect();
    let with_ptx: Vec<Arch> = codes.ptx().collect();
    if with_ptx.len() != sass.len() {
        flags.push("--no-cuda-include-ptx=all".to_string());
        flags.extend(
            with_ptx
                .iter()
                .map(|a| format!("--cuda-include-ptx=sm_{}", a.number())),
        );
    }
    Ok(flags)
}

pub fn parse(text: &str) -> Result<Parsed, Diagnostic> {
    let mut arches: Vec<Arch> = Vec::new();
    // (arch or None for `all`, include?) in the order given; the last match wins.
    let mut ptx_rules: Vec<(Option<Arch>, bool)> = Vec::new();
    for token in text.split_whitespace() {
        let token = token.trim_matches(|c| c == '"' || c == '\'');
        let (flag, value) = token.split_once('=').unwrap_or((token, ""));
        match flag {
            "--cuda-gpu-arch" | "--offload-arch" => {
                arches.push(sm(value)?);
            }
            "--cuda-include-ptx" | "--no-cuda-include-ptx" => {
                let target = if value == "all" {
                    None
                } else {
                    Some(sm(value)?)
                };
                ptx_rules.push((target, flag == "--cuda-include-ptx"));
            }
            _ => {}
        }
    }
    if arches.is_empty() {
        return Err(bad_list(
            DIALECT,
            format!("no --cuda-gpu-arch in `{text}`"),
            ACCEPTED,
        ));
    }
    let mut codes = CodeSet::new();
    for arch in arches {
        codes.insert(Code::sass(arch));
        let include = ptx_rules
            .iter()
            .rev()
            .find(|(t, _)| t.is_none_or(|t| t == arch))
            .is_none_or(|(_, include)| *include);
        if include {
            codes.insert(Code::ptx(arch));
        }
    }
    Ok(Parsed {
        codes,
        warnings: Vec::new(),
    })
}

fn sm(value: &str) -> Result<Arch, Diagnostic> {
    match Code::parse(value) {
        Some(c) if c.kind == CodeKind::Sass => Ok(c.arch),
        _ => Err(bad_list(
            DIALECT,
            format!("cannot read `{value}`"),
            ACCEPTED,
        )),
    }
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

    #[test]
    fn ptx_is_included_by_default_and_can_be_chosen() {
        assert_eq!(codes("--cuda-gpu-arch=sm_80"), ["sm_80", "compute_80"]);
        assert_eq!(
            codes("--cuda-gpu-arch=sm_80 --offload-arch=sm_90 --no-cuda-include-ptx=all --cuda-include-ptx=sm_90"),
            ["sm_80", "sm_90", "compute_90"]
        );
        assert_eq!(
            codes("--cuda-gpu-arch=sm_80 --no-cuda-include-ptx=sm_80"),
            ["sm_80"]
        );
    }

    #[test]
    fn errors() {
        assert!(parse("-O2").is_err());
        assert!(parse("--cuda-gpu-arch=gfx90a").is_err());
    }
}
