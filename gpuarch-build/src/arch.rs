//! The model of GPU code: compute capabilities, architectures (`sm_90a`), and the set of
//! cubins and PTX a build carries.

use std::collections::BTreeSet;
use std::fmt;

use crate::version::Version;

/// A compute capability, `major.minor` (8.6, 12.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cc {
    pub major: u8,
    pub minor: u8,
}

impl Cc {
    pub const fn new(major: u8, minor: u8) -> Self {
        Cc { major, minor }
    }

    /// The number nvcc writes: 86 for 8.6, 121 for 12.1.
    pub fn number(self) -> u32 {
        u32::from(self.major) * 10 + u32::from(self.minor)
    }

    /// Parses `8.6`. Minors are one digit in every capability NVIDIA has shipped.
    pub fn parse_dotted(s: &str) -> Option<Cc> {
        let (major, minor) = s.split_once('.')?;
        Cc::from_digits(major, minor)
    }

    /// Parses nvcc's number form: `86`, `121`.
    pub fn parse_number(s: &str) -> Option<Cc> {
        if !(2..=3).contains(&s.len()) || !s.is_ascii() {
            return None;
        }
        let (major, minor) = s.split_at(s.len() - 1);
        Cc::from_digits(major, minor)
    }

    /// The capability nvcc's number names (`86` is 8.6), for numbers read from binaries:
    /// the same capabilities `parse_number` accepts, without formatting a string.
    pub fn from_number(n: u32) -> Option<Cc> {
        if !(10..1000).contains(&n) {
            return None;
        }
        Some(Cc::new(u8::try_from(n / 10).ok()?, (n % 10) as u8))
    }

    /// A major of 1 to 99 without a leading zero, and a one-digit minor: the forms
    /// every dialect can write back (`sm_09` or `sm_1000` could not be).
    fn from_digits(major: &str, minor: &str) -> Option<Cc> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(major)
            || !digits(minor)
            || major.len() > 2
            || major.starts_with('0')
            || minor.len() != 1
        {
            return None;
        }
        Some(Cc::new(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl fmt::Display for Cc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Which GPUs code for an architecture may run on, beyond the one it was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// `sm_XY`: cubins run on X.Z for Z >= Y; PTX JITs on any later capability.
    Plain,
    /// `sm_XYf` (CUDA 12.9+): runs on members of its family with minor >= Y.
    Family,
    /// `sm_XYa`: runs on X.Y only.
    Specific,
}

impl Variant {
    pub fn suffix(self) -> &'static str {
        match self {
            Variant::Plain => "",
            Variant::Family => "f",
            Variant::Specific => "a",
        }
    }
}

/// A capability with its variant: what follows `sm_` or `compute_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch {
    pub cc: Cc,
    pub variant: Variant,
}

impl Arch {
    pub const fn new(cc: Cc, variant: Variant) -> Self {
        Arch { cc, variant }
    }

    pub const fn plain(cc: Cc) -> Self {
        Arch::new(cc, Variant::Plain)
    }

    /// Parses the part after `sm_`/`compute_`: `90`, `90a`, `100f`.
    pub fn parse_number(s: &str) -> Option<Arch> {
        let (digits, variant) = split_variant(s);
        Some(Arch::new(Cc::parse_number(digits)?, variant))
    }

    /// Parses the dotted form: `9.0`, `9.0a`, `10.0f`.
    pub fn parse_dotted(s: &str) -> Option<Arch> {
        let (dotted, variant) = split_variant(s);
        Some(Arch::new(Cc::parse_dotted(dotted)?, variant))
    }

    /// `90a`, as in `sm_90a`.
    pub fn number(self) -> String {
        format!("{}{}", self.cc.number(), self.variant.suffix())
    }

    /// `9.0a`, as in TORCH_CUDA_ARCH_LIST.
    pub fn dotted(self) -> String {
        format!("{}{}", self.cc, self.variant.suffix())
    }
}

fn split_variant(s: &str) -> (&str, Variant) {
    if let Some(rest) = s.strip_suffix('a') {
        (rest, Variant::Specific)
    } else if let Some(rest) = s.strip_suffix('f') {
        (rest, Variant::Family)
    } else {
        (s, Variant::Plain)
    }
}

/// SASS (a cubin the GPU runs as is) or PTX (compiled by the driver at load time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CodeKind {
    Sass,
    Ptx,
}

/// One piece of GPU code in a build: `sm_80` (a cubin) or `compute_90` (PTX).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code {
    // Field order sets the sort order: every cubin, then every PTX, each by architecture.
    pub kind: CodeKind,
    pub arch: Arch,
}

impl Code {
    pub const fn sass(arch: Arch) -> Self {
        Code {
            arch,
            kind: CodeKind::Sass,
        }
    }

    pub const fn ptx(arch: Arch) -> Self {
        Code {
            arch,
            kind: CodeKind::Ptx,
        }
    }

    /// Parses nvcc's spelling: `sm_90a`, `compute_100f`.
    pub fn parse(s: &str) -> Option<Code> {
        if let Some(n) = s.strip_prefix("sm_") {
            Arch::parse_number(n).map(Code::sass)
        } else if let Some(n) = s.strip_prefix("compute_") {
            Arch::parse_number(n).map(Code::ptx)
        } else {
            None
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            CodeKind::Sass => "sm_",
            CodeKind::Ptx => "compute_",
        };
        write!(f, "{prefix}{}", self.arch.number())
    }
}

/// The GPU code a build carries (or would carry): what every input is parsed into and
/// what coverage judges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeSet {
    pub codes: BTreeSet<Code>,
    /// The PTX ISA version of the PTX entries, where known (from the toolkit for a plan).
    pub ptx_isa: Option<Version>,
}

impl CodeSet {
    pub fn new() -> Self {
        CodeSet::default()
    }

    pub fn insert(&mut self, code: Code) {
        self.codes.insert(code);
    }

    pub fn iter(&self) -> impl Iterator<Item = Code> + '_ {
        self.codes.iter().copied()
    }

    pub fn sass(&self) -> impl Iterator<Item = Arch> + '_ {
        self.iter()
            .filter(|c| c.kind == CodeKind::Sass)
            .map(|c| c.arch)
    }

    pub fn ptx(&self) -> impl Iterator<Item = Arch> + '_ {
        self.iter()
            .filter(|c| c.kind == CodeKind::Ptx)
            .map(|c| c.arch)
    }

    pub fn contains(&self, code: Code) -> bool {
        self.codes.contains(&code)
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// The architectures the set names, each once, in order.
    pub fn arches(&self) -> BTreeSet<Arch> {
        self.iter().map(|c| c.arch).collect()
    }
}

impl FromIterator<Code> for CodeSet {
    fn from_iter<I: IntoIterator<Item = Code>>(iter: I) -> Self {
        CodeSet {
            codes: iter.into_iter().collect(),
            ptx_isa: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spellings_round_trip() {
        for s in [
            "sm_35",
            "sm_90a",
            "sm_100f",
            "compute_121f",
            "compute_75",
            "sm_110",
        ] {
            assert_eq!(Code::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            Code::parse("sm_121a").unwrap().arch,
            Arch::new(Cc::new(12, 1), Variant::Specific)
        );
    }

    #[test]
    fn rejects_malformed_codes() {
        for s in [
            "sm_", "sm_9", "sm_1000", "sm_9x", "compute_", "lto_80", "sm_8.0", "80",
        ] {
            assert!(Code::parse(s).is_none(), "{s} parsed");
        }
    }

    #[test]
    fn dotted_forms() {
        assert_eq!(Arch::parse_dotted("10.0f").unwrap().number(), "100f");
        assert_eq!(Arch::parse_dotted("9.0a").unwrap().dotted(), "9.0a");
        assert!(Arch::parse_dotted("9.10").is_none());
        assert!(Arch::parse_dotted("90").is_none());
        assert!(Arch::parse_dotted("0.9").is_none());
        assert!(Arch::parse_dotted("100.0").is_none());
        assert!(Cc::parse_number("ñ").is_none());
    }
}
