//! CMake `CUDA_ARCHITECTURES`: `75-real;80-real;90`. A bare number is SASS and PTX,
//! `-real` SASS only, `-virtual` PTX only; `all` and `all-major` (CMake 3.23) follow the
//! toolkit; `native` needs a GPU.

use super::{bad_list, expand_all, Parsed};
use crate::arch::{Arch, Code, CodeSet};
use crate::diagnostic::Diagnostic;
use crate::toolkit::Toolkit;

const DIALECT: &str = "CUDA_ARCHITECTURES";
const ACCEPTED: &str =
    "write numbers separated by `;`: `80` (SASS and PTX), `80-real` (SASS), `90-virtual` (PTX), `90a-real`, `all`, `all-major`";

pub fn emit(codes: &CodeSet) -> String {
    codes
        .arches()
        .into_iter()
        .map(|arch| {
            let sass = codes.contains(Code::sass(arch));
            let ptx = codes.contains(Code::ptx(arch));
            let suffix = match (sass, ptx) {
                (true, true) => "",
                (true, false) => "-real",
                _ => "-virtual",
            };
            format!("{}{suffix}", arch.number())
        })
        .collect::<Vec<_>>()
        .join(";")
}

pub fn parse(text: &str, toolkit: Option<&Toolkit>) -> Result<Parsed, Diagnostic> {
    let mut codes = CodeSet::new();
    let items: Vec<&str> = text
        .split([';', ' ', '\t', '\n'])
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(bad_list(DIALECT, "the list is empty".into(), ACCEPTED));
    }
    for item in items {
        match item {
            "all" | "all-major" => {
                let all = expand_all(toolkit, item == "all-major", DIALECT, item)?;
                codes.codes.extend(all.codes);
                codes.ptx_isa = all.ptx_isa;
                continue;
            }
            "native" => return Err(bad_list(
                DIALECT,
                "`native` means \"the GPUs of this machine\", which needs a GPU at build time"
                    .into(),
                "name the architectures instead (cargo gpuarch plan --format cmake writes them)",
            )),
            _ if item.eq_ignore_ascii_case("off") || item.eq_ignore_ascii_case("false") => {
                return Err(bad_list(
                    DIALECT,
                    format!("`{item}` makes CMake pass no architecture flags at all"),
                    ACCEPTED,
                ))
            }
            _ => {}
        }
        let (number, sass, ptx) = if let Some(n) = item.strip_suffix("-real") {
            (n, true, false)
        } else if let Some(n) = item.strip_suffix("-virtual") {
            (n, false, true)
        } else {
            (item, true, true)
        };
        let arch = Arch::parse_number(number)
            .ok_or_else(|| bad_list(DIALECT, format!("cannot read `{item}`"), ACCEPTED))?;
        if sass {
            codes.insert(Code::sass(arch));
        }
        if ptx {
            codes.insert(Code::ptx(arch));
        }
    }
    Ok(Parsed {
        codes,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str, tk: Option<&Toolkit>) -> Vec<String> {
        parse(text, tk)
            .unwrap()
            .codes
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn suffixes() {
        assert_eq!(codes("75-real;90", None), ["sm_75", "sm_90", "compute_90"]);
        assert_eq!(
            codes("90a-real;100-virtual", None),
            ["sm_90a", "compute_100"]
        );
    }

    #[test]
    fn all_follows_the_toolkit() {
        let tk = Toolkit::named("12.4".parse().unwrap(), None);
        let all = codes("all", Some(&tk));
        assert_eq!(all.first().unwrap(), "sm_50");
        assert_eq!(all.last().unwrap(), "compute_90");
        assert!(!all.contains(&"sm_90a".to_string()));
        assert_eq!(
            codes("all-major", Some(&tk)),
            ["sm_50", "sm_60", "sm_70", "sm_80", "sm_90", "compute_90"]
        );
        assert!(parse("all", None).is_err());
    }

    #[test]
    fn native_and_garbage_are_errors() {
        for bad in ["native", "OFF", "", "8.0", "sm_80"] {
            assert!(parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn emits_the_shortest_form() {
        let set = parse("75-real;80-real;89-real;90", None).unwrap().codes;
        assert_eq!(emit(&set), "75-real;80-real;89-real;90");
    }
}
