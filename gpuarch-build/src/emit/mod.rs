//! Dialects: one code set written as nvcc flags, TORCH_CUDA_ARCH_LIST, CMake
//! CUDA_ARCHITECTURES, clang flags or CUDA_COMPUTE_CAP, and each read back. Parsing an
//! emitted string gives the same code set (a property the tests check).

pub mod clang;
pub mod cmake;
pub mod compute_cap;
pub mod matrix;
pub mod nvcc;
pub mod torch;

use crate::arch::CodeSet;
use crate::diagnostic::Diagnostic;
use crate::toolkit::Toolkit;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Nvcc,
    Torch,
    Cmake,
    Clang,
    ComputeCap,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Nvcc,
        Dialect::Torch,
        Dialect::Cmake,
        Dialect::Clang,
        Dialect::ComputeCap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Nvcc => "nvcc",
            Dialect::Torch => "torch",
            Dialect::Cmake => "cmake",
            Dialect::Clang => "clang",
            Dialect::ComputeCap => "compute-cap",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Writes a code set in this dialect.
    pub fn emit(self, codes: &CodeSet) -> Result<String, Diagnostic> {
        match self {
            Dialect::Nvcc => Ok(nvcc::emit(codes).join(" ")),
            Dialect::Torch => torch::emit(codes),
            Dialect::Cmake => Ok(cmake::emit(codes)),
            Dialect::Clang => clang::emit(codes).map(|f| f.join(" ")),
            Dialect::ComputeCap => compute_cap::emit(codes),
        }
    }

    /// Reads a list in this dialect. `toolkit` expands `all`/`all-major` where given.
    pub fn parse(self, text: &str, toolkit: Option<&Toolkit>) -> Result<Parsed, Diagnostic> {
        match self {
            Dialect::Nvcc => nvcc::parse(text, toolkit),
            Dialect::Torch => torch::parse(text),
            Dialect::Cmake => cmake::parse(text, toolkit),
            Dialect::Clang => clang::parse(text),
            Dialect::ComputeCap => compute_cap::parse(text),
        }
    }
}

/// A list read from some dialect, with warnings about how it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub codes: CodeSet,
    pub warnings: Vec<Diagnostic>,
}

fn bad_list(dialect: &str, message: String, accepted: &str) -> Diagnostic {
    Diagnostic::error("bad-arch-list", format!("{dialect}: {message}"))
        .with_help(accepted.to_string())
}

fn not_expressible(dialect: &str, message: String) -> Diagnostic {
    Diagnostic::error(
        "not-expressible",
        format!("{dialect} cannot express this plan: {message}"),
    )
    .with_help("use --format nvcc or cmake, which express every plan")
}

/// The toolkit's `all` / `all-major` lists, as nvcc and CMake define them: every
/// (major) plain real target, plus PTX of the highest.
fn expand_all(
    toolkit: Option<&Toolkit>,
    major_only: bool,
    dialect: &str,
    word: &str,
) -> Result<CodeSet, Diagnostic> {
    use crate::arch::{Code, Variant};
    let Some(tk) = toolkit else {
        return Err(bad_list(
            dialect,
            format!("`{word}` depends on the toolkit"),
            "name the toolkit with --cuda (or `cuda` in the manifest)",
        ));
    };
    let mut codes = CodeSet::new();
    let plain = tk
        .real_targets
        .iter()
        .filter(|a| a.variant == Variant::Plain && (!major_only || a.cc.minor == 0));
    for arch in plain {
        codes.insert(Code::sass(*arch));
    }
    if let Some(top) = tk
        .virtual_targets
        .iter()
        .filter(|a| a.variant == Variant::Plain)
        .max()
    {
        codes.insert(Code::ptx(*top));
    }
    codes.ptx_isa = Some(tk.ptx_isa);
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Arch, Code, Variant};
    use crate::catalog;

    /// A small deterministic generator, so the property runs the same everywhere.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn expressible(d: Dialect, set: &CodeSet) -> bool {
        let sass: Vec<Arch> = set.sass().collect();
        let ptx: Vec<Arch> = set.ptx().collect();
        match d {
            Dialect::Nvcc | Dialect::Cmake => true,
            Dialect::Torch => {
                sass.iter().all(|a| a.variant != Variant::Family)
                    && ptx.iter().all(|p| sass.contains(p))
            }
            Dialect::Clang => ptx.iter().all(|p| sass.contains(p)),
            Dialect::ComputeCap => sass.len() == 1 && (ptx.is_empty() || ptx == sass),
        }
    }

    #[test]
    fn every_dialect_round_trips() {
        let arches = catalog::known_archs();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut checked = [0usize; 5];
        for _ in 0..3000 {
            let mut set = CodeSet::new();
            let n = 1 + (rng.next() % 5) as usize;
            for _ in 0..n {
                let arch = arches[(rng.next() % arches.len() as u64) as usize];
                match rng.next() % 3 {
                    0 => set.insert(Code::sass(arch)),
                    1 => set.insert(Code::ptx(arch)),
                    _ => {
                        set.insert(Code::sass(arch));
                        set.insert(Code::ptx(arch));
                    }
                }
            }
            for (i, d) in Dialect::ALL.into_iter().enumerate() {
                let emitted = d.emit(&set);
                if !expressible(d, &set) {
                    assert!(emitted.is_err(), "{} emitted {set:?}", d.name());
                    continue;
                }
                let text = emitted.unwrap_or_else(|e| panic!("{}: {e}", d.name()));
                let back = d
                    .parse(&text, None)
                    .unwrap_or_else(|e| panic!("{} `{text}`: {e}", d.name()));
                let mut expected = set.clone();
                if d == Dialect::ComputeCap {
                    // Its consumers build `-arch=sm_XY`, which always adds PTX of XY.
                    expected.insert(Code::ptx(set.sass().next().unwrap()));
                }
                assert_eq!(back.codes.codes, expected.codes, "{} `{text}`", d.name());
                checked[i] += 1;
            }
        }
        assert!(checked.iter().all(|&c| c > 50), "{checked:?}");
    }
}
