//! nvcc flags: `-gencode=arch=compute_80,code=sm_80`, `-arch=sm_80` (short for
//! `-arch=compute_80 -code=sm_80,compute_80`), `-arch=compute_80 -code=...`, and the
//! `all`/`all-major`/`native` keywords.

use super::{bad_list, expand_all, Parsed};
use crate::arch::{Code, CodeKind, CodeSet};
use crate::diagnostic::Diagnostic;
use crate::toolkit::Toolkit;

const DIALECT: &str = "nvcc flags";
const ACCEPTED: &str = "write `-gencode arch=compute_XY,code=sm_XY` (or code=[sm_XY,compute_XY]), `-arch=sm_XY`, or `-arch=compute_XY -code=sm_XY,compute_XY`";

/// One `-gencode` flag per entry: SASS from its own virtual architecture, PTX as itself.
pub fn emit(codes: &CodeSet) -> Vec<String> {
    codes
        .iter()
        .map(|code| format!("-gencode=arch=compute_{},code={code}", code.arch.number()))
        .collect()
}

/// nvcc's flags that choose targets, each in its short and long spelling.
pub const GENCODE_FLAGS: &[&str] = &["-gencode", "--generate-code"];
pub const ARCH_FLAGS: &[&str] = &["-arch", "--gpu-architecture"];
pub const CODE_FLAGS: &[&str] = &["-code", "--gpu-code"];

/// Whether one command-line token is a flag that chooses targets (`-arch`, `-arch=sm_80`,
/// `--generate-code=...`): flags in NVCC_APPEND_FLAGS that do change every build's code.
pub fn chooses_targets(token: &str) -> bool {
    [GENCODE_FLAGS, ARCH_FLAGS, CODE_FLAGS]
        .iter()
        .flat_map(|names| names.iter())
        .any(|f| token == *f || token.strip_prefix(f).is_some_and(|r| r.starts_with('=')))
}

pub fn parse(text: &str, toolkit: Option<&Toolkit>) -> Result<Parsed, Diagnostic> {
    let tokens = tokenize(text);
    let mut codes = CodeSet::new();
    let mut arch: Option<String> = None;
    let mut code: Option<String> = None;
    let mut i = 0;
    // A value is `-flag=value` or `-flag value`.
    let value =
        |i: &mut usize, token: &str, names: &[&str]| -> Option<Result<String, Diagnostic>> {
            for name in names {
                if let Some(v) = token.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                    return Some(Ok(v.to_string()));
                }
                if token == *name {
                    *i += 1;
                    return Some(tokens.get(*i).cloned().ok_or_else(|| {
                        bad_list(DIALECT, format!("`{name}` needs a value"), ACCEPTED)
                    }));
                }
            }
            None
        };
    while i < tokens.len() {
        let token = tokens[i].clone();
        if let Some(v) = value(&mut i, &token, GENCODE_FLAGS) {
            gencode(&v?, &mut codes)?;
        } else if let Some(v) = value(&mut i, &token, ARCH_FLAGS) {
            arch = Some(v?);
        } else if let Some(v) = value(&mut i, &token, CODE_FLAGS) {
            code = Some(v?);
        }
        i += 1;
    }
    match (arch, code) {
        (Some(a), code) => arch_and_code(&a, code.as_deref(), toolkit, &mut codes)?,
        (None, Some(_)) => {
            return Err(bad_list(
                DIALECT,
                "`-code` without `-arch`".into(),
                ACCEPTED,
            ))
        }
        (None, None) => {}
    }
    if codes.is_empty() {
        return Err(bad_list(
            DIALECT,
            format!("no architecture flags in `{text}`"),
            ACCEPTED,
        ));
    }
    Ok(Parsed {
        codes,
        warnings: Vec::new(),
    })
}

fn tokenize(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|t| t.trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `arch=compute_80,code=sm_80` or `arch=compute_80,code=[sm_80,compute_80]`.
fn gencode(spec: &str, codes: &mut CodeSet) -> Result<(), Diagnostic> {
    let spec = spec.replace(['"', '\''], "");
    let (arch_part, code_part) = spec
        .split_once(",code=")
        .ok_or_else(|| bad_list(DIALECT, format!("cannot read `-gencode {spec}`"), ACCEPTED))?;
    let arch_name = arch_part.strip_prefix("arch=").unwrap_or(arch_part);
    let virtual_arch = virtual_arch(arch_name)?;
    let list = code_part.trim_start_matches('[').trim_end_matches(']');
    for item in list.split(',').filter(|s| !s.is_empty()) {
        let code = real_or_virtual(item)?;
        check_pairing(virtual_arch, code)?;
        codes.insert(code);
    }
    Ok(())
}

fn arch_and_code(
    arch: &str,
    code: Option<&str>,
    toolkit: Option<&Toolkit>,
    codes: &mut CodeSet,
) -> Result<(), Diagnostic> {
    match arch {
        "all" | "all-major" => {
            let all = expand_all(toolkit, arch == "all-major", DIALECT, arch)?;
            codes.codes.extend(all.codes);
            codes.ptx_isa = all.ptx_isa;
            return Ok(());
        }
        "native" => return Err(bad_list(
            DIALECT,
            "`-arch=native` means \"the GPUs of this machine\", which needs a GPU at build time"
                .into(),
            "name the architectures instead (cargo gpuarch plan --format nvcc writes them)",
        )),
        _ => {}
    }
    let given = real_or_virtual(arch)?;
    match (given.kind, code) {
        // -arch=sm_80 alone: SASS plus PTX of the same architecture.
        (CodeKind::Sass, None) => {
            codes.insert(given);
            codes.insert(Code::ptx(given.arch));
        }
        // -arch=compute_80 alone: PTX only.
        (CodeKind::Ptx, None) => codes.insert(given),
        (kind, Some(list)) => {
            let virtual_arch = if kind == CodeKind::Ptx {
                given
            } else {
                Code::ptx(given.arch)
            };
            for item in list.split(',').filter(|s| !s.is_empty()) {
                let code = real_or_virtual(item)?;
                check_pairing(virtual_arch, code)?;
                codes.insert(code);
            }
        }
    }
    Ok(())
}

fn virtual_arch(name: &str) -> Result<Code, Diagnostic> {
    match Code::parse(name) {
        Some(c) if c.kind == CodeKind::Ptx => Ok(c),
        _ => Err(bad_list(
            DIALECT,
            format!("`arch={name}` must be a virtual architecture (compute_XY)"),
            ACCEPTED,
        )),
    }
}

fn real_or_virtual(name: &str) -> Result<Code, Diagnostic> {
    Code::parse(name).ok_or_else(|| bad_list(DIALECT, format!("cannot read `{name}`"), ACCEPTED))
}

/// nvcc refuses code for an architecture below its virtual one, or PTX other than its own.
fn check_pairing(virtual_arch: Code, code: Code) -> Result<(), Diagnostic> {
    let ok = match code.kind {
        CodeKind::Ptx => code.arch == virtual_arch.arch,
        CodeKind::Sass => code.arch.cc >= virtual_arch.arch.cc,
    };
    if ok {
        Ok(())
    } else {
        Err(bad_list(
            DIALECT,
            format!("nvcc cannot build {code} from {virtual_arch}"),
            "the code architecture must be at or above the virtual one: arch=compute_80,code=sm_86",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<String> {
        parse(text, None)
            .unwrap()
            .codes
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn every_common_spelling() {
        assert_eq!(codes("-gencode arch=compute_80,code=sm_80"), ["sm_80"]);
        assert_eq!(
            codes("-gencode=arch=compute_90,code=[sm_90,compute_90]"),
            ["sm_90", "compute_90"]
        );
        assert_eq!(
            codes("-gencode=arch=compute_90a,code=\"sm_90a,compute_90a\""),
            ["sm_90a", "compute_90a"]
        );
        assert_eq!(codes("-arch=sm_80"), ["sm_80", "compute_80"]);
        assert_eq!(codes("-arch sm_86 -O3"), ["sm_86", "compute_86"]);
        assert_eq!(
            codes("-arch=compute_80 -code=sm_80,compute_80"),
            ["sm_80", "compute_80"]
        );
        assert_eq!(codes("-arch=compute_80"), ["compute_80"]);
        assert_eq!(
            codes("--generate-code=arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_86"),
            ["sm_75", "sm_86"]
        );
    }

    #[test]
    fn errors_name_the_problem() {
        for bad in [
            "",
            "-O3",
            "-gencode arch=sm_80,code=sm_80",
            "-arch=native",
            "-arch",
            "-gencode arch=compute_90,code=sm_80",
            "-arch=all",
            "-code=sm_80",
        ] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod target_flags {
    use super::chooses_targets;

    #[test]
    fn tells_target_flags_from_the_rest() {
        for t in [
            "-arch",
            "-arch=sm_80",
            "--gpu-architecture=compute_90",
            "-gencode",
            "--generate-code=arch=compute_80,code=sm_80",
            "-code=sm_80",
        ] {
            assert!(chooses_targets(t), "{t}");
        }
        for t in [
            "-O3",
            "-archive",
            "--use_fast_math",
            "-lineinfo",
            "-codegen",
        ] {
            assert!(!chooses_targets(t), "{t}");
        }
    }
}
