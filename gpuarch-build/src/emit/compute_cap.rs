//! `CUDA_COMPUTE_CAP`, the single architecture candle-style build scripts read: `80`,
//! `90a`. Those scripts build with `-arch=sm_XY`, which is SASS and PTX of XY.

use super::{bad_list, not_expressible, Parsed};
use crate::arch::{Arch, Code, CodeSet};
use crate::diagnostic::Diagnostic;

const DIALECT: &str = "CUDA_COMPUTE_CAP";

pub fn emit(codes: &CodeSet) -> Result<String, Diagnostic> {
    let arches = codes.arches();
    let mut it = arches.iter();
    match (it.next(), it.next()) {
        (Some(arch), None) if codes.contains(Code::sass(*arch)) => Ok(arch.number()),
        _ => Err(not_expressible(
            DIALECT,
            format!(
                "it holds one architecture, and this plan has {}",
                codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

pub fn parse(text: &str) -> Result<Parsed, Diagnostic> {
    let value = text.trim();
    let number = value.strip_prefix("sm_").unwrap_or(value);
    let arch = Arch::parse_number(number)
        .or_else(|| Arch::parse_dotted(number))
        .ok_or_else(|| {
            bad_list(
                DIALECT,
                format!("cannot read `{text}`"),
                "write one architecture as a number: `80`, `90a`",
            )
        })?;
    let codes: CodeSet = [Code::sass(arch), Code::ptx(arch)].into_iter().collect();
    Ok(Parsed {
        codes,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_architecture() {
        let p = parse("90a").unwrap();
        assert_eq!(emit(&p.codes).unwrap(), "90a");
        assert_eq!(parse("8.6").unwrap().codes, parse("86").unwrap().codes);
        assert!(parse("80;86").is_err());
        let two = crate::emit::cmake::parse("80;90", None).unwrap().codes;
        assert!(emit(&two).is_err());
    }
}
