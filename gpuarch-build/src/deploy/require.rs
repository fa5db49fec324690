//! `NVIDIA_REQUIRE_CUDA` and the other `NVIDIA_REQUIRE_*` variables: parsed, evaluated
//! against a host the way the container toolkit evaluates them when a container starts,
//! and generated the way NVIDIA's own images carry them.
//!
//! # The toolkit's rules
//!
//! Read from libnvidia-container `src/cli/dsl.c` and `src/cli/configure.c`: the code that
//! `nvidia-container-cli configure --require=EXPR` runs in the toolkit's legacy mode, the
//! default for discrete GPUs. Each `NVIDIA_REQUIRE_*` variable except
//! `NVIDIA_REQUIRE_JETPACK*` becomes one `--require`, and every one must hold.
//!
//! - Terms are separated by single spaces (`' '` only) and ORed. Empty terms, from
//!   repeated, leading or trailing spaces, are skipped. Factors within a term are
//!   separated by `,` and ANDed, and empty factors are skipped.
//! - A factor is `<name><op><value>`. The name is everything before the first of
//!   `< > = !`; the operator is the whole run of those characters and must be one of `=`,
//!   `!=`, `<`, `<=`, `>`, `>=`. There is no `==`, and a lone `!` is read as `!=`.
//! - The names are `cuda` (the CUDA version the driver supports), `driver` (the kernel
//!   module version), `arch` (the GPU's compute capability) and `brand`. They are
//!   matched ASCII-case-insensitively: NVIDIA's own arm64 12.3.2 image carries
//!   `CUDA>=12.3`. Any other name makes the expression invalid.
//! - Versions hold only digits and dots and are compared number by number. Missing and
//!   trailing zero components count as equal, so `driver>=470,driver<471` means every
//!   470.x driver. Brands are compared ASCII-case-insensitively, with `=` or `!=` only.
//! - A host value that is not known passes: without driver information `cuda` and
//!   `driver` pass, and without a visible GPU (or its brand) `arch` and `brand` pass.
//! - Evaluation stops at the first term whose factors all hold, and within a term at the
//!   first factor that fails. So the toolkit reports a malformed factor ("invalid
//!   expression") only on hosts where it reaches that factor.
//! - With GPUs visible, the requirement is evaluated once per GPU, and every GPU must
//!   pass. [`Requirement::evaluate`] judges one GPU; call it for each.
//! - The failure message names the first space-separated token of the text as written.
//!   When that token begins with `cuda>=` (matched case-sensitively), it adds advice to
//!   update the driver ([`Evaluation::message`]). Older releases named the last factor
//!   that failed instead, spaced out: `unsatisfied condition: brand = tesla`
//!   ([`Evaluation::older_message`]).
//!
//! # Where `parse` is stricter than the toolkit
//!
//! [`parse`] rejects, with the reason and the fix, text that the toolkit reads badly:
//! - a malformed factor anywhere (the toolkit fails on it wherever it reaches it);
//! - whitespace other than a space. The toolkit does not split on it, so a tab fuses the
//!   factors on each side into one garbled factor;
//! - a lone `!` operator (libnvidia-container reads it as `!=`, but the toolkit's Go code
//!   rejects it);
//! - a term made only of commas. The toolkit stops evaluating there and ignores every
//!   term after it;
//! - a factor of 128 bytes or more. When such a factor fails, it overflows the toolkit's
//!   message buffer, and the toolkit reports an invalid expression.
//!
//! # Other implementations
//!
//! The toolkit's Go reimplementation (`internal/requirements/constraints`) is used only in
//! CSV mode (Jetson). It matches names case-sensitively and skips names it does not know,
//! so it ignores `CUDA>=12.3`. CDI mode checks no requirement at all
//! (NVIDIA/nvidia-container-toolkit#1470). [`Requirement::evaluate`] follows
//! libnvidia-container.

use std::cmp::Ordering;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use crate::arch::Cc;
use crate::version::Version;

/// The brands of the forward-compatibility clauses in nvidia/cuda images from 12.5 on, in
/// the images' order. GeForce and TITAN were dropped there, in line with the rule that
/// forward compatibility is unsupported on them.
pub const DATACENTER_BRANDS: &[&str] = &[
    "unknown",
    "grid",
    "tesla",
    "nvidia",
    "quadro",
    "quadrortx",
    "nvidiartx",
    "vapps",
    "vpc",
    "vcs",
    "vws",
    "cloudgaming",
];

/// The brands of the same clauses in the amd64 images from 11.5 to 12.4 (and arm64 12.4),
/// in the images' order.
pub const BRANDS_BEFORE_12_5: &[&str] = &[
    "tesla",
    "unknown",
    "nvidia",
    "nvidiartx",
    "geforce",
    "geforcertx",
    "quadro",
    "quadrortx",
    "titan",
    "titanrtx",
];

/// libnvidia-container formats a failed factor as `name op value` into a buffer of this
/// many bytes, and reports a factor that does not fit as an invalid expression.
const FACTOR_BUFFER: usize = 128;

/// The prefix of the message libnvidia-container prints for a requirement error.
const CLI_PREFIX: &str = "nvidia-container-cli: requirement error: ";

/// What a factor compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Property {
    /// The CUDA version the host driver supports (12.4 for an R550 driver).
    Cuda,
    /// The kernel module (NVRM) version, such as 535.104.05.
    Driver,
    /// The GPU's compute capability, such as 8.0.
    Arch,
    /// The GPU's brand, such as Tesla.
    Brand,
}

impl Property {
    /// The name in lower case, as NVIDIA's images write it.
    pub fn name(self) -> &'static str {
        match self {
            Property::Cuda => "cuda",
            Property::Driver => "driver",
            Property::Arch => "arch",
            Property::Brand => "brand",
        }
    }

    fn from_name(name: &str) -> Option<Property> {
        [
            Property::Cuda,
            Property::Driver,
            Property::Arch,
            Property::Brand,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn from_written(run: &str) -> Option<Op> {
        Some(match run {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// Whether `host OP required` holds, given how the host value orders against the
    /// required one.
    fn holds(self, host_vs_required: Ordering) -> bool {
        match self {
            Op::Eq => host_vs_required == Ordering::Equal,
            Op::Ne => host_vs_required != Ordering::Equal,
            Op::Lt => host_vs_required == Ordering::Less,
            Op::Le => host_vs_required != Ordering::Greater,
            Op::Gt => host_vs_required == Ordering::Greater,
            Op::Ge => host_vs_required != Ordering::Less,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// One `<name><op><value>` comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    text: String,
    offset: usize,
    name: String,
    property: Property,
    op: Op,
    value: String,
    /// The value's numbers, for every property but `brand`.
    components: Vec<u64>,
}

impl Factor {
    /// The factor as written (`driver>=535`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its byte offset in the requirement text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn property(&self) -> Property {
        self.property
    }

    pub fn op(&self) -> Op {
        self.op
    }

    /// The value as written (`535`, `tesla`).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value as a [`Version`], when it is a version of one to three numbers that fit.
    pub fn version(&self) -> Option<Version> {
        if self.property == Property::Brand || self.components.len() > 3 {
            return None;
        }
        let mut numbers = [0u32; 3];
        for (slot, &n) in numbers.iter_mut().zip(&self.components) {
            *slot = u32::try_from(n).ok()?;
        }
        let parts = u8::try_from(self.components.len()).ok()?;
        Some(Version::new(numbers[0], numbers[1], numbers[2], parts))
    }

    fn check(&self, host: &Host) -> Check {
        let known = match self.property {
            Property::Cuda => host.cuda.map(|v| (version_numbers(v), v.to_string())),
            Property::Driver => host.driver.map(|v| (version_numbers(v), v.to_string())),
            Property::Arch => host.arch.map(|cc| {
                (
                    vec![u64::from(cc.major), u64::from(cc.minor)],
                    cc.to_string(),
                )
            }),
            Property::Brand => {
                return match &host.brand {
                    None => Check::Unknown,
                    Some(brand) => {
                        let same = brand.eq_ignore_ascii_case(&self.value);
                        if (self.op == Op::Eq) == same {
                            Check::Holds
                        } else {
                            Check::Fails(brand.clone())
                        }
                    }
                };
            }
        };
        match known {
            None => Check::Unknown,
            Some((numbers, shown)) => {
                if self.op.holds(compare_numbers(&numbers, &self.components)) {
                    Check::Holds
                } else {
                    Check::Fails(shown)
                }
            }
        }
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

enum Check {
    Holds,
    /// Passed because the host value is not known.
    Unknown,
    /// Failed; the host value it was compared with, for display.
    Fails(String),
}

fn version_numbers(v: Version) -> Vec<u64> {
    vec![u64::from(v.major), u64::from(v.minor), u64::from(v.patch)]
}

/// Number by number, a missing number counting as zero: `470` = `470.0.0` < `470.57`.
fn compare_numbers(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The numbers of a version value as libnvidia-container reads them: digits and dots
/// only, a digit first, runs of dots as one separator, trailing dots ignored. A number
/// must stay below 2^64 - 1, where `strtoumax` saturates and the toolkit gives up.
fn parse_numbers(value: &str) -> Option<Vec<u64>> {
    if !value.starts_with(|c: char| c.is_ascii_digit())
        || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    value
        .split('.')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.parse::<u64>().ok().filter(|&n| n != u64::MAX))
        .collect()
}

/// A space-separated term: its factors must all hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    text: String,
    offset: usize,
    factors: Vec<Factor>,
}

impl Term {
    /// The term as written (`brand=tesla,driver>=535,driver<536`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its byte offset in the requirement text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn factors(&self) -> &[Factor] {
        &self.factors
    }

    /// `cuda>=X.Y` alone: the CUDA version the host driver must support.
    pub fn cuda_floor(&self) -> Option<Version> {
        match self.factors.as_slice() {
            [f] if f.property == Property::Cuda && f.op == Op::Ge => f.version(),
            _ => None,
        }
    }

    /// `brand=B,driver>=N,driver<N+1`: the clause NVIDIA's images use to admit one driver
    /// branch on one brand (forward compatibility). Gives the brand as written and N.
    pub fn brand_branch(&self) -> Option<(&str, u32)> {
        let [brand, low, high] = self.factors.as_slice() else {
            return None;
        };
        let branch = |f: &Factor, op: Op| match f.components.as_slice() {
            [n] if f.property == Property::Driver && f.op == op => Some(*n),
            _ => None,
        };
        let from = branch(low, Op::Ge)?;
        let below = branch(high, Op::Lt)?;
        if brand.property != Property::Brand || brand.op != Op::Eq || from.checked_add(1)? != below
        {
            return None;
        }
        Some((brand.value.as_str(), u32::try_from(from).ok()?))
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A parsed requirement, keeping the text as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    text: String,
    terms: Vec<Term>,
}

/// What the toolkit knows about a host and one of its GPUs. `None` is "not known", which
/// the toolkit treats as passing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// The CUDA version the driver supports (`nvidia-smi`'s "CUDA Version", 12.2 for 535).
    pub cuda: Option<Version>,
    /// The driver (kernel module) version, such as 535.104.05.
    pub driver: Option<Version>,
    /// The GPU's compute capability. `None` is also what the toolkit sees with no GPU
    /// visible to the container.
    pub arch: Option<Cc>,
    /// The GPU's brand as libnvidia-container names it from NVML (`Tesla`, `GeForce`,
    /// `Quadro`, `GRID`, `TITAN`, `NVS`, `Unknown` in the releases read; later releases
    /// add the RTX and virtual-GPU brands that the images list). Compared
    /// case-insensitively.
    pub brand: Option<String>,
}

/// A term the toolkit evaluated and rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The term's index in [`Requirement::terms`].
    pub term: usize,
    /// The first factor of that term that failed, as written.
    pub factor: String,
    /// The host value it was compared with, for display (`12.2`, `GeForce`).
    pub host_value: String,
}

/// The verdict of [`Requirement::evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub satisfied: bool,
    /// The index in [`Requirement::terms`] of the term whose factors all held. `None`
    /// when unsatisfied, or when the requirement has no terms (the toolkit lets that pass).
    pub matched: Option<usize>,
    /// That term as written.
    pub matched_term: Option<String>,
    /// The factors of the matched term that held only because the host value was not
    /// known, as written.
    pub unknown: Vec<String>,
    /// Every term the toolkit evaluated and rejected, in order.
    pub failed: Vec<Failure>,
    /// When unsatisfied: what current libnvidia-container reports, after
    /// `nvidia-container-cli: requirement error: `.
    pub message: Option<String>,
    /// When unsatisfied: what older libnvidia-container releases reported instead (the
    /// last failing factor, spaced out: `unsatisfied condition: brand = tesla`).
    pub older_message: Option<String>,
}

impl Evaluation {
    /// The line `nvidia-container-cli` prints to stderr, which Docker quotes in its error.
    pub fn cli_line(&self) -> Option<String> {
        self.message.as_ref().map(|m| format!("{CLI_PREFIX}{m}"))
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = &self.message {
            return f.write_str(message);
        }
        match &self.matched_term {
            Some(term) => write!(f, "satisfied by `{term}`")?,
            None => f.write_str("satisfied: the requirement is empty")?,
        }
        if !self.unknown.is_empty() {
            write!(
                f,
                " (assumed, as the toolkit does, because the host value is unknown: {})",
                self.unknown.join(", ")
            )?;
        }
        Ok(())
    }
}

impl Requirement {
    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The CUDA version of the first lone `cuda>=X.Y` term: what NVIDIA's images put first.
    pub fn cuda_floor(&self) -> Option<Version> {
        self.terms.iter().find_map(Term::cuda_floor)
    }

    /// The driver branches of the `brand=B,driver>=N,driver<N+1` clauses, in order of
    /// first appearance.
    pub fn compat_branches(&self) -> Vec<u32> {
        let mut branches = Vec::new();
        for (_, branch) in self.terms.iter().filter_map(Term::brand_branch) {
            if !branches.contains(&branch) {
                branches.push(branch);
            }
        }
        branches
    }

    /// The brands of those clauses as written, in order of first appearance.
    pub fn brands(&self) -> Vec<String> {
        let mut brands: Vec<String> = Vec::new();
        for (brand, _) in self.terms.iter().filter_map(Term::brand_branch) {
            if !brands.iter().any(|b| b == brand) {
                brands.push(brand.to_string());
            }
        }
        brands
    }

    /// Judges one GPU of a host as libnvidia-container does.
    pub fn evaluate(&self, host: &Host) -> Evaluation {
        let mut failed = Vec::new();
        let mut last_failed: Option<&Factor> = None;
        for (index, term) in self.terms.iter().enumerate() {
            let mut unknown = Vec::new();
            let mut failure = None;
            for factor in &term.factors {
                match factor.check(host) {
                    Check::Holds => {}
                    Check::Unknown => unknown.push(factor.text.clone()),
                    Check::Fails(host_value) => {
                        failure = Some(Failure {
                            term: index,
                            factor: factor.text.clone(),
                            host_value,
                        });
                        last_failed = Some(factor);
                        break;
                    }
                }
            }
            match failure {
                Some(failure) => failed.push(failure),
                None => {
                    return Evaluation {
                        satisfied: true,
                        matched: Some(index),
                        matched_term: Some(term.text.clone()),
                        unknown,
                        failed,
                        message: None,
                        older_message: None,
                    };
                }
            }
        }
        let Some(last_failed) = last_failed else {
            return Evaluation {
                satisfied: true,
                matched: None,
                matched_term: None,
                unknown: Vec::new(),
                failed,
                message: None,
                older_message: None,
            };
        };
        Evaluation {
            satisfied: false,
            matched: None,
            matched_term: None,
            unknown: Vec::new(),
            failed,
            message: Some(self.toolkit_message()),
            older_message: Some(format!(
                "unsatisfied condition: {} {} {}",
                last_failed.name, last_failed.op, last_failed.value
            )),
        }
    }

    /// libnvidia-container names the first space-separated token of the text, which is
    /// empty when the text starts with a space.
    fn toolkit_message(&self) -> String {
        let first = self.text.split(' ').next().unwrap_or("");
        if first.starts_with("cuda>=") {
            format!(
                "unsatisfied condition: {first}, please update your driver to a newer version, or use an earlier cuda container"
            )
        } else {
            format!("unsatisfied condition: {first}")
        }
    }

    /// A short reading for reports: `cuda>=12.8, or driver branch 535 or 550 on a GPU of
    /// brand tesla, ...` for NVIDIA's shape, else the terms joined with "or".
    pub fn describe(&self) -> String {
        let Some((first, rest)) = self.terms.split_first() else {
            return "no requirement".to_string();
        };
        let clauses: Vec<(&str, u32)> = rest.iter().filter_map(Term::brand_branch).collect();
        if first.cuda_floor().is_none() || clauses.is_empty() || clauses.len() != rest.len() {
            let terms: Vec<&str> = self.terms.iter().map(Term::text).collect();
            return terms.join(" or ");
        }
        let branches: Vec<String> = self.compat_branches().iter().map(u32::to_string).collect();
        format!(
            "{first}, or driver branch {} on a GPU of brand {} (forward compatibility)",
            join_or(&branches),
            self.brands().join(", ")
        )
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Requirement {
    type Err = RequireError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// Why a requirement string was rejected. Positions are byte offsets into the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequireError {
    /// Whitespace other than a space, or a control character.
    Whitespace { position: usize, found: char },
    /// A term of commas only (`,`), where the toolkit stops evaluating.
    CommaOnlyTerm { position: usize, term: String },
    /// An operator with nothing before it (`>=12.4`).
    MissingName { position: usize, factor: String },
    /// No `< > = !` in the factor (`cuda12.4`).
    MissingOperator { position: usize, factor: String },
    /// A run of operator characters that is no operator (`==`, `=>`).
    UnknownOperator {
        position: usize,
        factor: String,
        operator: String,
    },
    /// Nothing after the operator (`cuda>=`).
    MissingValue { position: usize, factor: String },
    /// A name other than cuda, driver, arch, brand.
    UnknownName {
        position: usize,
        factor: String,
        name: String,
    },
    /// A cuda, driver or arch value that is not digits and dots.
    BadVersion {
        position: usize,
        factor: String,
        value: String,
    },
    /// A brand compared with an ordering (`brand>=tesla`).
    BrandOperator {
        position: usize,
        factor: String,
        operator: String,
    },
    /// A factor too long for the toolkit's message buffer.
    TooLong { position: usize, factor: String },
}

impl RequireError {
    /// The byte offset of the problem in the requirement text.
    pub fn position(&self) -> usize {
        match self {
            RequireError::Whitespace { position, .. }
            | RequireError::CommaOnlyTerm { position, .. }
            | RequireError::MissingName { position, .. }
            | RequireError::MissingOperator { position, .. }
            | RequireError::UnknownOperator { position, .. }
            | RequireError::MissingValue { position, .. }
            | RequireError::UnknownName { position, .. }
            | RequireError::BadVersion { position, .. }
            | RequireError::BrandOperator { position, .. }
            | RequireError::TooLong { position, .. } => *position,
        }
    }
}

impl fmt::Display for RequireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequireError::Whitespace { position, found } => {
                let what = match found {
                    '\t' => "a tab".to_string(),
                    '\n' => "a newline".to_string(),
                    '\r' => "a carriage return".to_string(),
                    other => format!("the character U+{:04X}", u32::from(*other)),
                };
                write!(
                    f,
                    "{what} at byte {position}: the container toolkit separates terms with spaces only and reads the text on both sides as one factor; use a single space"
                )
            }
            RequireError::CommaOnlyTerm { position, term } => write!(
                f,
                "the term `{term}` at byte {position} holds only commas: the container toolkit stops evaluating there and ignores every term after it; remove it"
            ),
            RequireError::MissingName { position, factor } => write!(
                f,
                "`{factor}` at byte {position} has no name before its operator: write cuda, driver, arch or brand first, as in `cuda>=12.4`"
            ),
            RequireError::MissingOperator { position, factor } => write!(
                f,
                "`{factor}` at byte {position} has no comparison: write NAME OP VALUE with OP one of = != < <= > >=, as in `driver>=535`"
            ),
            RequireError::UnknownOperator {
                position,
                factor,
                operator,
            } => {
                let fix = match operator.as_str() {
                    "==" => "write `=` (the toolkit has no `==`)",
                    "=>" => "write `>=`",
                    "=<" => "write `<=`",
                    "<>" => "write `!=`",
                    "!" => {
                        "write `!=` (libnvidia-container reads a lone `!` as `!=`, the toolkit's Go code rejects it)"
                    }
                    _ => "use one of = != < <= > >=",
                };
                write!(
                    f,
                    "`{operator}` in `{factor}` at byte {position} is not an operator the container toolkit knows: {fix}"
                )
            }
            RequireError::MissingValue { position, factor } => write!(
                f,
                "`{factor}` at byte {position} has nothing after its operator: add the value, as in `cuda>=12.4`"
            ),
            RequireError::UnknownName {
                position,
                factor,
                name,
            } => write!(
                f,
                "`{name}` in `{factor}` at byte {position} is not a requirement name: use cuda, driver, arch or brand (any case); libnvidia-container fails with \"invalid expression\" when it reaches an unknown name"
            ),
            RequireError::BadVersion {
                position,
                factor,
                value,
            } => write!(
                f,
                "`{value}` in `{factor}` at byte {position} is not a version the container toolkit can compare: write numbers separated by dots, such as `12.4` or `535.104.05`"
            ),
            RequireError::BrandOperator {
                position,
                factor,
                operator,
            } => write!(
                f,
                "`{operator}` in `{factor}` at byte {position}: a brand can only be compared with `=` or `!=`"
            ),
            RequireError::TooLong { position, factor } => write!(
                f,
                "the factor at byte {position} is {} bytes: libnvidia-container cannot report a factor of {FACTOR_BUFFER} bytes or more and fails with \"invalid expression\"; shorten it",
                factor.len()
            ),
        }
    }
}

impl std::error::Error for RequireError {}

/// Parses a requirement string (the value of `NVIDIA_REQUIRE_CUDA` or any
/// `NVIDIA_REQUIRE_*`). An empty string, or one of spaces only, has no terms; the toolkit
/// lets it pass.
pub fn parse(text: &str) -> Result<Requirement, RequireError> {
    if let Some((position, found)) = text
        .char_indices()
        .find(|&(_, c)| c != ' ' && (c.is_whitespace() || c.is_control()))
    {
        return Err(RequireError::Whitespace { position, found });
    }
    let mut terms = Vec::new();
    for (offset, token) in pieces(text, ' ', 0) {
        if token.is_empty() {
            continue;
        }
        let mut factors = Vec::new();
        for (factor_offset, piece) in pieces(token, ',', offset) {
            if !piece.is_empty() {
                factors.push(parse_factor(piece, factor_offset)?);
            }
        }
        if factors.is_empty() {
            return Err(RequireError::CommaOnlyTerm {
                position: offset,
                term: token.to_string(),
            });
        }
        terms.push(Term {
            text: token.to_string(),
            offset,
            factors,
        });
    }
    Ok(Requirement {
        text: text.to_string(),
        terms,
    })
}

/// `text` split on `separator`, each piece with its byte offset (plus `base`).
fn pieces(text: &str, separator: char, base: usize) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = base;
    text.split(separator).map(move |piece| {
        let start = offset;
        offset += piece.len() + separator.len_utf8();
        (start, piece)
    })
}

fn parse_factor(text: &str, offset: usize) -> Result<Factor, RequireError> {
    let factor = || text.to_string();
    let Some(name_end) = text.find(is_op_char) else {
        return Err(RequireError::MissingOperator {
            position: offset,
            factor: factor(),
        });
    };
    if name_end == 0 {
        return Err(RequireError::MissingName {
            position: offset,
            factor: factor(),
        });
    }
    let name = &text[..name_end];
    let rest = &text[name_end..];
    let op_len = rest.find(|c| !is_op_char(c)).unwrap_or(rest.len());
    let (written, value) = rest.split_at(op_len);
    let Some(op) = Op::from_written(written) else {
        return Err(RequireError::UnknownOperator {
            position: offset + name_end,
            factor: factor(),
            operator: written.to_string(),
        });
    };
    if value.is_empty() {
        return Err(RequireError::MissingValue {
            position: offset,
            factor: factor(),
        });
    }
    let Some(property) = Property::from_name(name) else {
        return Err(RequireError::UnknownName {
            position: offset,
            factor: factor(),
            name: name.to_string(),
        });
    };
    if name.len() + op.as_str().len() + value.len() + 2 >= FACTOR_BUFFER {
        return Err(RequireError::TooLong {
            position: offset,
            factor: factor(),
        });
    }
    let value_offset = offset + name_end + op_len;
    let components = if property == Property::Brand {
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(RequireError::BrandOperator {
                position: offset + name_end,
                factor: factor(),
                operator: written.to_string(),
            });
        }
        Vec::new()
    } else {
        parse_numbers(value).ok_or_else(|| RequireError::BadVersion {
            position: value_offset,
            factor: factor(),
            value: value.to_string(),
        })?
    };
    Ok(Factor {
        text: text.to_string(),
        offset,
        name: name.to_string(),
        property,
        op,
        value: value.to_string(),
        components,
    })
}

/// The requirement NVIDIA's images carry: `cuda>=X.Y` (the major and minor of `cuda`),
/// then `brand=B,driver>=N,driver<N+1` for each branch N and, within it, each brand B,
/// both in the order given. Brands are written as given, so they must hold no space or
/// comma. `generate(&cuda, &[535, 550], DATACENTER_BRANDS)` has the shape of the 12.5+
/// images.
pub fn generate(cuda: &Version, compat_branches: &[u32], brands: &[&str]) -> String {
    let mut out = format!("cuda>={}.{}", cuda.major, cuda.minor);
    for &branch in compat_branches {
        let next = u64::from(branch) + 1;
        for brand in brands {
            // Writing to a String cannot fail.
            let _ = write!(out, " brand={brand},driver>={branch},driver<{next}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real values from nvidia/cuda images (`../shared/reference/nvidia-require-cuda.json`):
    /// one per distinct shape of brand list and branch set, by image and CPU architecture.
    const REAL: &[(&str, &str)] = &[
        ("11.4.3 amd64", "cuda>=11.4"),
        (
            "11.5.2 amd64",
            "cuda>=11.5 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=titan,driver>=470,driver<471 brand=titanrtx,driver>=470,driver<471",
        ),
        (
            "12.3.2 amd64",
            "cuda>=12.3 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=titan,driver>=470,driver<471 brand=titanrtx,driver>=470,driver<471 brand=tesla,driver>=525,driver<526 brand=unknown,driver>=525,driver<526 brand=nvidia,driver>=525,driver<526 brand=nvidiartx,driver>=525,driver<526 brand=geforce,driver>=525,driver<526 brand=geforcertx,driver>=525,driver<526 brand=quadro,driver>=525,driver<526 brand=quadrortx,driver>=525,driver<526 brand=titan,driver>=525,driver<526 brand=titanrtx,driver>=525,driver<526 brand=tesla,driver>=535,driver<536 brand=unknown,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 brand=geforce,driver>=535,driver<536 brand=geforcertx,driver>=535,driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=titan,driver>=535,driver<536 brand=titanrtx,driver>=535,driver<536",
        ),
        ("12.3.2 arm64", "CUDA>=12.3"),
        (
            "12.5.0 amd64",
            "cuda>=12.5 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 brand=vapps,driver>=535,driver<536 brand=vpc,driver>=535,driver<536 brand=vcs,driver>=535,driver<536 brand=vws,driver>=535,driver<536 brand=cloudgaming,driver>=535,driver<536 brand=unknown,driver>=550,driver<551 brand=grid,driver>=550,driver<551 brand=tesla,driver>=550,driver<551 brand=nvidia,driver>=550,driver<551 brand=quadro,driver>=550,driver<551 brand=quadrortx,driver>=550,driver<551 brand=nvidiartx,driver>=550,driver<551 brand=vapps,driver>=550,driver<551 brand=vpc,driver>=550,driver<551 brand=vcs,driver>=550,driver<551 brand=vws,driver>=550,driver<551 brand=cloudgaming,driver>=550,driver<551",
        ),
        ("12.8.1 amd64", REAL_12_8),
        (
            "12.9.1 amd64",
            "cuda>=12.9 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 brand=vapps,driver>=535,driver<536 brand=vpc,driver>=535,driver<536 brand=vcs,driver>=535,driver<536 brand=vws,driver>=535,driver<536 brand=cloudgaming,driver>=535,driver<536 brand=unknown,driver>=550,driver<551 brand=grid,driver>=550,driver<551 brand=tesla,driver>=550,driver<551 brand=nvidia,driver>=550,driver<551 brand=quadro,driver>=550,driver<551 brand=quadrortx,driver>=550,driver<551 brand=nvidiartx,driver>=550,driver<551 brand=vapps,driver>=550,driver<551 brand=vpc,driver>=550,driver<551 brand=vcs,driver>=550,driver<551 brand=vws,driver>=550,driver<551 brand=cloudgaming,driver>=550,driver<551 brand=unknown,driver>=560,driver<561 brand=grid,driver>=560,driver<561 brand=tesla,driver>=560,driver<561 brand=nvidia,driver>=560,driver<561 brand=quadro,driver>=560,driver<561 brand=quadrortx,driver>=560,driver<561 brand=nvidiartx,driver>=560,driver<561 brand=vapps,driver>=560,driver<561 brand=vpc,driver>=560,driver<561 brand=vcs,driver>=560,driver<561 brand=vws,driver>=560,driver<561 brand=cloudgaming,driver>=560,driver<561 brand=unknown,driver>=565,driver<566 brand=grid,driver>=565,driver<566 brand=tesla,driver>=565,driver<566 brand=nvidia,driver>=565,driver<566 brand=quadro,driver>=565,driver<566 brand=quadrortx,driver>=565,driver<566 brand=nvidiartx,driver>=565,driver<566 brand=vapps,driver>=565,driver<566 brand=vpc,driver>=565,driver<566 brand=vcs,driver>=565,driver<566 brand=vws,driver>=565,driver<566 brand=cloudgaming,driver>=565,driver<566 brand=unknown,driver>=570,driver<571 brand=grid,driver>=570,driver<571 brand=tesla,driver>=570,driver<571 brand=nvidia,driver>=570,driver<571 brand=quadro,driver>=570,driver<571 brand=quadrortx,driver>=570,driver<571 brand=nvidiartx,driver>=570,driver<571 brand=vapps,driver>=570,driver<571 brand=vpc,driver>=570,driver<571 brand=vcs,driver>=570,driver<571 brand=vws,driver>=570,driver<571 brand=cloudgaming,driver>=570,driver<571",
        ),
        (
            "13.0.0 amd64",
            "cuda>=13.0 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 brand=vapps,driver>=535,driver<536 brand=vpc,driver>=535,driver<536 brand=vcs,driver>=535,driver<536 brand=vws,driver>=535,driver<536 brand=cloudgaming,driver>=535,driver<536 brand=unknown,driver>=550,driver<551 brand=grid,driver>=550,driver<551 brand=tesla,driver>=550,driver<551 brand=nvidia,driver>=550,driver<551 brand=quadro,driver>=550,driver<551 brand=quadrortx,driver>=550,driver<551 brand=nvidiartx,driver>=550,driver<551 brand=vapps,driver>=550,driver<551 brand=vpc,driver>=550,driver<551 brand=vcs,driver>=550,driver<551 brand=vws,driver>=550,driver<551 brand=cloudgaming,driver>=550,driver<551 brand=unknown,driver>=565,driver<566 brand=grid,driver>=565,driver<566 brand=tesla,driver>=565,driver<566 brand=nvidia,driver>=565,driver<566 brand=quadro,driver>=565,driver<566 brand=quadrortx,driver>=565,driver<566 brand=nvidiartx,driver>=565,driver<566 brand=vapps,driver>=565,driver<566 brand=vpc,driver>=565,driver<566 brand=vcs,driver>=565,driver<566 brand=vws,driver>=565,driver<566 brand=cloudgaming,driver>=565,driver<566 brand=unknown,driver>=570,driver<571 brand=grid,driver>=570,driver<571 brand=tesla,driver>=570,driver<571 brand=nvidia,driver>=570,driver<571 brand=quadro,driver>=570,driver<571 brand=quadrortx,driver>=570,driver<571 brand=nvidiartx,driver>=570,driver<571 brand=vapps,driver>=570,driver<571 brand=vpc,driver>=570,driver<571 brand=vcs,driver>=570,driver<571 brand=vws,driver>=570,driver<571 brand=cloudgaming,driver>=570,driver<571 brand=unknown,driver>=575,driver<576 brand=grid,driver>=575,driver<576 brand=tesla,driver>=575,driver<576 brand=nvidia,driver>=575,driver<576 brand=quadro,driver>=575,driver<576 brand=quadrortx,driver>=575,driver<576 brand=nvidiartx,driver>=575,driver<576 brand=vapps,driver>=575,driver<576 brand=vpc,driver>=575,driver<576 brand=vcs,driver>=575,driver<576 brand=vws,driver>=575,driver<576 brand=cloudgaming,driver>=575,driver<576",
        ),
    ];

    /// nvidia/cuda 12.8.0 and 12.8.1, amd64 and arm64.
    const REAL_12_8: &str = "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 brand=vapps,driver>=535,driver<536 brand=vpc,driver>=535,driver<536 brand=vcs,driver>=535,driver<536 brand=vws,driver>=535,driver<536 brand=cloudgaming,driver>=535,driver<536 brand=unknown,driver>=550,driver<551 brand=grid,driver>=550,driver<551 brand=tesla,driver>=550,driver<551 brand=nvidia,driver>=550,driver<551 brand=quadro,driver>=550,driver<551 brand=quadrortx,driver>=550,driver<551 brand=nvidiartx,driver>=550,driver<551 brand=vapps,driver>=550,driver<551 brand=vpc,driver>=550,driver<551 brand=vcs,driver>=550,driver<551 brand=vws,driver>=550,driver<551 brand=cloudgaming,driver>=550,driver<551 brand=unknown,driver>=560,driver<561 brand=grid,driver>=560,driver<561 brand=tesla,driver>=560,driver<561 brand=nvidia,driver>=560,driver<561 brand=quadro,driver>=560,driver<561 brand=quadrortx,driver>=560,driver<561 brand=nvidiartx,driver>=560,driver<561 brand=vapps,driver>=560,driver<561 brand=vpc,driver>=560,driver<561 brand=vcs,driver>=560,driver<561 brand=vws,driver>=560,driver<561 brand=cloudgaming,driver>=560,driver<561 brand=unknown,driver>=565,driver<566 brand=grid,driver>=565,driver<566 brand=tesla,driver>=565,driver<566 brand=nvidia,driver>=565,driver<566 brand=quadro,driver>=565,driver<566 brand=quadrortx,driver>=565,driver<566 brand=nvidiartx,driver>=565,driver<566 brand=vapps,driver>=565,driver<566 brand=vpc,driver>=565,driver<566 brand=vcs,driver>=565,driver<566 brand=vws,driver>=565,driver<566 brand=cloudgaming,driver>=565,driver<566";

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn host(cuda: &str, driver: &str, cc: (u8, u8), brand: &str) -> Host {
        Host {
            cuda: Some(v(cuda)),
            driver: Some(v(driver)),
            arch: Some(Cc::new(cc.0, cc.1)),
            brand: Some(brand.to_string()),
        }
    }

    #[test]
    fn every_real_string_parses_and_regenerates() {
        for (image, text) in REAL {
            let req = parse(text).unwrap_or_else(|e| panic!("{image}: {e}"));
            assert_eq!(req.text(), *text);
            let cuda = req
                .cuda_floor()
                .unwrap_or_else(|| panic!("{image}: no floor"));
            let branches = req.compat_branches();
            let brands = req.brands();
            let brands: Vec<&str> = brands.iter().map(String::as_str).collect();
            assert_eq!(
                req.terms().len(),
                1 + branches.len() * brands.len(),
                "{image}"
            );
            let generated = generate(&cuda, &branches, &brands);
            if *text == "CUDA>=12.3" {
                // The one real string in upper case: same meaning, NVIDIA's usual spelling.
                assert_eq!(generated, "cuda>=12.3");
            } else {
                assert_eq!(generated, *text, "{image}");
            }
        }
    }

    #[test]
    fn images_from_12_5_use_the_datacenter_brands() {
        for (image, text) in REAL {
            let image_version: Version = image.split(' ').next().unwrap().parse().unwrap();
            let brands = parse(text).unwrap().brands();
            if image_version >= v("12.5") {
                assert_eq!(brands, DATACENTER_BRANDS, "{image}");
            } else if !brands.is_empty() {
                assert_eq!(brands, BRANDS_BEFORE_12_5, "{image}");
            }
        }
        let req = parse(REAL_12_8).unwrap();
        assert_eq!(req.compat_branches(), [470, 535, 550, 560, 565]);
        assert_eq!(
            generate(&v("12.8.1"), &[470, 535, 550, 560, 565], DATACENTER_BRANDS),
            REAL_12_8
        );
    }

    #[test]
    fn tesla_on_535_passes_through_its_brand_clause() {
        let req = parse(REAL_12_8).unwrap();
        let eval = req.evaluate(&host("12.2", "535.104.05", (7, 5), "Tesla"));
        assert!(eval.satisfied);
        assert_eq!(
            eval.matched_term.as_deref(),
            Some("brand=tesla,driver>=535,driver<536")
        );
        assert_eq!(eval.matched, Some(15));
        assert!(eval.unknown.is_empty());
        assert!(eval.message.is_none());
        // The cuda term failed first, then every clause before tesla's 535 one.
        assert_eq!(eval.failed.len(), 15);
        assert_eq!(eval.failed[0].factor, "cuda>=12.8");
        assert_eq!(eval.failed[0].host_value, "12.2");
        assert_eq!(
            eval.to_string(),
            "satisfied by `brand=tesla,driver>=535,driver<536`"
        );
    }

    #[test]
    fn geforce_on_535_fails_with_the_toolkits_message() {
        let req = parse(REAL_12_8).unwrap();
        let eval = req.evaluate(&host("12.2", "535.104.05", (8, 6), "GeForce"));
        assert!(!eval.satisfied);
        assert_eq!(eval.matched, None);
        assert_eq!(eval.failed.len(), req.terms().len());
        assert_eq!(eval.failed[0].factor, "cuda>=12.8");
        assert!(eval.failed[1..]
            .iter()
            .all(|f| f.factor.starts_with("brand=") && f.host_value == "GeForce"));
        assert_eq!(
            eval.message.as_deref(),
            Some(
                "unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container"
            )
        );
        assert_eq!(
            eval.cli_line().unwrap(),
            "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container"
        );
        assert_eq!(
            eval.older_message.as_deref(),
            Some("unsatisfied condition: brand = cloudgaming")
        );
    }

    #[test]
    fn a_570_driver_passes_through_the_cuda_floor() {
        let req = parse(REAL_12_8).unwrap();
        let eval = req.evaluate(&host("12.8", "570.124.06", (9, 0), "GeForce"));
        assert!(eval.satisfied);
        assert_eq!(eval.matched, Some(0));
        assert_eq!(eval.matched_term.as_deref(), Some("cuda>=12.8"));
        assert!(eval.failed.is_empty());
    }

    #[test]
    fn unknown_host_values_pass_and_are_named() {
        let req = parse(REAL_12_8).unwrap();
        let eval = req.evaluate(&Host::default());
        assert!(eval.satisfied);
        assert_eq!(eval.matched_term.as_deref(), Some("cuda>=12.8"));
        assert_eq!(eval.unknown, ["cuda>=12.8"]);
        assert!(eval
            .to_string()
            .contains("host value is unknown: cuda>=12.8"));

        // A GPU but no driver information: cuda and driver pass.
        let no_driver = Host {
            arch: Some(Cc::new(8, 0)),
            brand: Some("Tesla".into()),
            ..Host::default()
        };
        let eval = parse("brand=tesla,driver>=535,driver<536")
            .unwrap()
            .evaluate(&no_driver);
        assert!(eval.satisfied);
        assert_eq!(eval.unknown, ["driver>=535", "driver<536"]);

        // No GPU visible: arch and brand pass, the driver is still checked.
        let no_gpu = Host {
            cuda: Some(v("12.2")),
            driver: Some(v("535.104.05")),
            ..Host::default()
        };
        let eval = req.evaluate(&no_gpu);
        assert!(eval.satisfied);
        assert_eq!(
            eval.matched_term.as_deref(),
            Some("brand=unknown,driver>=535,driver<536")
        );
        assert_eq!(eval.unknown, ["brand=unknown"]);
    }

    #[test]
    fn versions_compare_number_by_number() {
        let req = parse("driver>=470,driver<471").unwrap();
        let on = |d: &str| {
            req.evaluate(&Host {
                driver: Some(v(d)),
                ..Host::default()
            })
            .satisfied
        };
        assert!(on("470"));
        assert!(on("470.0.0"));
        assert!(on("470.256.02"));
        assert!(!on("471.41"));
        assert!(!on("465.19.01"));
        let cuda = |expr: &str, host_cuda: &str| {
            parse(expr)
                .unwrap()
                .evaluate(&Host {
                    cuda: Some(v(host_cuda)),
                    ..Host::default()
                })
                .satisfied
        };
        assert!(cuda("cuda>=12.10", "12.10"));
        assert!(!cuda("cuda>=12.10", "12.9"), "12.9 < 12.10, not a decimal");
        assert!(cuda("cuda=12.0.0", "12"));
        assert!(
            cuda("cuda=12..4.", "12.4"),
            "runs of dots are one separator"
        );
        assert!(cuda("cuda!=12.4", "12.5"));
        assert!(!cuda("cuda!=12.4.0", "12.4"));
        assert!(cuda("cuda<12.4.0.1", "12.4"));
        assert!(cuda("cuda>11", "11.0.1"));
        assert!(cuda("cuda<=00012.4", "12.4"));
        let arch = |expr: &str, cc: Cc| {
            parse(expr)
                .unwrap()
                .evaluate(&Host {
                    arch: Some(cc),
                    ..Host::default()
                })
                .satisfied
        };
        assert!(arch("arch>=8.0", Cc::new(9, 0)));
        assert!(!arch("arch>=8.0", Cc::new(7, 5)));
        assert!(arch("arch=12.1", Cc::new(12, 1)));
    }

    #[test]
    fn names_and_brands_ignore_case() {
        let h = host("12.3", "545.23.08", (8, 9), "NVIDIA");
        assert!(parse("CUDA>=12.3").unwrap().evaluate(&h).satisfied);
        assert!(parse("Driver>=545").unwrap().evaluate(&h).satisfied);
        assert!(parse("brand=nvidia").unwrap().evaluate(&h).satisfied);
        assert!(parse("BRAND!=Tesla").unwrap().evaluate(&h).satisfied);
        assert!(!parse("brand!=Nvidia").unwrap().evaluate(&h).satisfied);
        // The advice is added only for `cuda>=` in lower case, as the toolkit matches it.
        let fail = parse("CUDA>=12.4").unwrap().evaluate(&h);
        assert_eq!(
            fail.message.as_deref(),
            Some("unsatisfied condition: CUDA>=12.4")
        );
        let other = parse("brand=tesla cuda>=13.0").unwrap().evaluate(&h);
        assert_eq!(
            other.message.as_deref(),
            Some("unsatisfied condition: brand=tesla")
        );
        assert_eq!(
            other.older_message.as_deref(),
            Some("unsatisfied condition: cuda >= 13.0")
        );
    }

    #[test]
    fn spaces_behave_as_in_the_toolkit() {
        let h = host("12.2", "535.104.05", (8, 0), "Tesla");
        for text in [
            "cuda>=12.8  brand=tesla,driver>=535,driver<536",
            "  cuda>=12.8 brand=tesla,driver>=535,driver<536 ",
            "cuda>=12.8 brand=tesla,,driver>=535,driver<536,",
            "cuda>=12.8 ,brand=tesla,driver>=535,driver<536",
        ] {
            let req = parse(text).unwrap();
            assert_eq!(req.terms().len(), 2, "{text:?}");
            let eval = req.evaluate(&h);
            assert!(eval.satisfied, "{text:?}");
            assert_eq!(eval.matched, Some(1));
        }
        // A leading space makes the toolkit's first token empty, and its message with it.
        let eval = parse(" cuda>=12.8").unwrap().evaluate(&h);
        assert_eq!(eval.message.as_deref(), Some("unsatisfied condition: "));
        // Empty: no terms, which the toolkit lets pass.
        for empty in ["", "   "] {
            let eval = parse(empty).unwrap().evaluate(&h);
            assert!(eval.satisfied && eval.matched.is_none());
        }
        // Offsets point into the text as written.
        let req = parse("  cuda>=12.8   brand=tesla,driver>=535").unwrap();
        assert_eq!(req.terms()[1].offset(), 15);
        assert_eq!(req.terms()[1].factors()[1].offset(), 27);
    }

    #[test]
    fn bad_strings_get_a_position_and_a_fix() {
        let cases: &[(&str, usize, &str)] = &[
            ("cuda>=12.8\tbrand=tesla", 10, "a tab at byte 10"),
            ("cuda>=12.8\nbrand=tesla", 10, "a newline"),
            ("cuda>=12.8 , brand=tesla", 11, "only commas"),
            ("cuda>=12.8 >=535", 11, "no name"),
            ("cuda12.8", 0, "no comparison"),
            ("cuda==12.8", 4, "write `=`"),
            ("cuda=>12.8", 4, "write `>=`"),
            ("cuda=<12.8", 4, "write `<=`"),
            ("cuda!12.8", 4, "write `!=`"),
            ("cuda>==12.8", 4, "use one of"),
            ("cuda>=", 0, "nothing after"),
            ("cuda>=12.8 driverr>=535", 11, "not a requirement name"),
            ("cuda>=12.x", 6, "not a version"),
            ("cuda>=.5", 6, "not a version"),
            ("cuda>=v12", 6, "not a version"),
            ("driver>=99999999999999999999999", 8, "not a version"),
            ("brand>=tesla", 5, "only be compared with `=` or `!=`"),
        ];
        for (text, position, says) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.position(), *position, "{text:?}: {err}");
            let message = err.to_string();
            assert!(message.contains(says), "{text:?}: {message}");
        }
        let long = format!("brand={}", "x".repeat(120));
        assert!(matches!(
            parse(&long),
            Err(RequireError::TooLong { position: 0, .. })
        ));
    }

    #[test]
    fn describe_reads_nvidia_shapes() {
        assert_eq!(
            parse(REAL_12_8).unwrap().describe(),
            "cuda>=12.8, or driver branch 470, 535, 550, 560 or 565 on a GPU of brand unknown, grid, tesla, nvidia, quadro, quadrortx, nvidiartx, vapps, vpc, vcs, vws, cloudgaming (forward compatibility)"
        );
        assert_eq!(
            parse("cuda>=11.4 arch>=8.0,driver>=450")
                .unwrap()
                .describe(),
            "cuda>=11.4 or arch>=8.0,driver>=450"
        );
        assert_eq!(parse("").unwrap().describe(), "no requirement");
    }

    #[test]
    fn generated_strings_parse_back() {
        let text = generate(&v("13.0.0"), &[535, 580], &["tesla", "nvidia"]);
        assert_eq!(
            text,
            "cuda>=13.0 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536 brand=tesla,driver>=580,driver<581 brand=nvidia,driver>=580,driver<581"
        );
        let req = parse(&text).unwrap();
        assert_eq!(req.cuda_floor(), Some(v("13.0")));
        assert_eq!(req.compat_branches(), [535, 580]);
        assert_eq!(req.brands(), ["tesla", "nvidia"]);
        assert_eq!(generate(&v("12.4.1"), &[], DATACENTER_BRANDS), "cuda>=12.4");
        assert!(parse(&generate(&v("12.4"), &[u32::MAX], &["tesla"])).is_ok());
    }

    /// A small deterministic generator, so the property tests need no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// An independent model of libnvidia-container's evaluation, written from its rules
    /// over bytes: `Ok(None)` satisfied, `Ok(Some(message))` unsatisfied, `Err(())` the
    /// toolkit's "invalid expression".
    fn model(text: &str, host: &Host) -> Result<Option<String>, ()> {
        fn numbers(s: &str) -> Result<Vec<u64>, ()> {
            if s.bytes().any(|b| !b.is_ascii_digit() && b != b'.') || s.starts_with('.') {
                return Err(());
            }
            s.split('.')
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<u64>().ok().filter(|&n| n != u64::MAX).ok_or(()))
                .collect()
        }
        fn rule(factor: &str, host: &Host) -> Result<bool, ()> {
            let ops = |b: u8| b"<>=!".contains(&b);
            let bytes = factor.as_bytes();
            let name_len = bytes.iter().position(|&b| ops(b)).ok_or(())?;
            if name_len == 0 {
                return Err(());
            }
            let run = bytes[name_len..].iter().take_while(|&&b| ops(b)).count();
            let op = match &factor[name_len..name_len + run] {
                "=" => "=",
                "!=" | "!" => "!=",
                "<" => "<",
                "<=" => "<=",
                ">" => ">",
                ">=" => ">=",
                _ => return Err(()),
            };
            let name = factor[..name_len].to_ascii_lowercase();
            let value = &factor[name_len + run..];
            if value.is_empty() {
                return Err(());
            }
            let host_numbers = match name.as_str() {
                "cuda" => host.cuda.map(version_numbers),
                "driver" => host.driver.map(version_numbers),
                "arch" => host
                    .arch
                    .map(|c| vec![u64::from(c.major), u64::from(c.minor)]),
                "brand" => {
                    let Some(brand) = &host.brand else {
                        return Ok(true);
                    };
                    let equal = brand.eq_ignore_ascii_case(value);
                    let result = match op {
                        "=" => equal,
                        "!=" => !equal,
                        _ => return Err(()),
                    };
                    return if !result && name_len + op.len() + value.len() + 2 >= 128 {
                        Err(())
                    } else {
                        Ok(result)
                    };
                }
                _ => return Err(()),
            };
            let Some(mut a) = host_numbers else {
                return Ok(true);
            };
            let mut b = numbers(value)?;
            let len = a.len().max(b.len());
            a.resize(len, 0);
            b.resize(len, 0);
            let result = match op {
                "=" => a == b,
                "!=" => a != b,
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            };
            if !result && name_len + op.len() + value.len() + 2 >= 128 {
                return Err(());
            }
            Ok(result)
        }
        let mut result = true;
        for term in text.split(' ') {
            if term.is_empty() {
                continue;
            }
            let mut all = true;
            for factor in term.split(',').filter(|f| !f.is_empty()) {
                result = rule(factor, host)?;
                if !result {
                    all = false;
                    break;
                }
            }
            if all {
                break;
            }
        }
        if result {
            return Ok(None);
        }
        let first = text.split(' ').next().unwrap_or("");
        Ok(Some(if first.starts_with("cuda>=") {
            format!(
                "unsatisfied condition: {first}, please update your driver to a newer version, or use an earlier cuda container"
            )
        } else {
            format!("unsatisfied condition: {first}")
        }))
    }

    fn random_text(rng: &mut Rng) -> String {
        const WORDS: &[&str] = &[
            "cuda",
            "CUDA",
            "driver",
            "arch",
            "brand",
            "Brand",
            "cudaa",
            ">=",
            "<",
            "<=",
            ">",
            "=",
            "!=",
            "!",
            "==",
            "=>",
            ",",
            ",",
            " ",
            " ",
            " ",
            "12",
            ".",
            "8",
            "535",
            "0",
            "tesla",
            "Tesla",
            "geforce",
            "\t",
            "x",
            "é",
            "00",
            "99999999999999999999",
        ];
        let len = rng.below(14);
        (0..len).map(|_| WORDS[rng.below(WORDS.len())]).collect()
    }

    fn random_host(rng: &mut Rng) -> Host {
        let versions = ["12.2", "12.8", "535.104.05", "8", "0", "12.10.1"];
        let brands = ["Tesla", "GeForce", "tesla", "x"];
        Host {
            cuda: (rng.below(4) > 0).then(|| v(versions[rng.below(versions.len())])),
            driver: (rng.below(4) > 0).then(|| v(versions[rng.below(versions.len())])),
            arch: (rng.below(4) > 0).then(|| Cc::new(rng.below(13) as u8, rng.below(10) as u8)),
            brand: (rng.below(4) > 0).then(|| brands[rng.below(brands.len())].to_string()),
        }
    }

    #[test]
    fn agrees_with_a_model_of_the_toolkit_on_random_strings() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let text = random_text(&mut rng);
            let hosts: Vec<Host> = (0..4).map(|_| random_host(&mut rng)).collect();
            match parse(&text) {
                Ok(req) => {
                    parsed += 1;
                    for h in &hosts {
                        let eval = req.evaluate(h);
                        let expected = model(&text, h)
                            .unwrap_or_else(|()| panic!("{text:?} parsed, toolkit rejects it"));
                        assert_eq!(eval.message, expected, "{text:?} on {h:?}");
                        assert_eq!(eval.satisfied, eval.message.is_none());
                        let _ = eval.to_string();
                    }
                }
                Err(err) => {
                    assert!(err.position() <= text.len(), "{text:?}: {err}");
                    assert!(!err.to_string().is_empty());
                }
            }
        }
        assert!(parsed > 1_000, "only {parsed} random strings parsed");
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng(42);
        let h = host("12.2", "535.104.05", (8, 0), "Tesla");
        for _ in 0..20_000 {
            let len = rng.below(40);
            let text: String = (0..len)
                .map(|_| {
                    let c = rng.below(0x250) as u32;
                    char::from_u32(c).unwrap_or('?')
                })
                .collect();
            if let Ok(req) = parse(&text) {
                let _ = req.evaluate(&h).to_string();
                let _ = req.describe();
            }
        }
    }
}
