//! The `--where` language of `cargo gpuarch catalog`: conditions such as
//! `cc>=8.0, segment=datacenter`, read against the fields one table exposes.
//!
//! Capabilities and versions compare as numbers (`10.0` is above `8.9`), and a value
//! written with fewer parts compares at that precision: `cc=8` is every 8.x, `driver<=535`
//! keeps 535.104.05, `version>=12` starts at 12.0. A list field (a toolkit's targets, a
//! release's wheels) holds when one of its items matches; `!=` and `!~` when none does.

use std::cmp::Ordering;

use crate::arch::{Arch, Variant};
use crate::catalog::{edit_distance, fold_name};
use crate::diagnostic::Diagnostic;
use crate::manifest::parse_cc_loose;
use crate::version::Version;

/// How a field's values are written and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Compared folded (case, spaces and punctuation ignored); `=`, `!=`, `~`, `!~`.
    Text,
    /// A whole number (a driver branch).
    Number,
    /// Dotted numbers: toolkits, drivers, PTX ISA, PyTorch releases.
    Version,
    /// A compute capability or an architecture: `8.9`, `sm_89`, `89`, `sm_90a`, `10.0f`.
    Capability,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// `true`/`false` (also `yes`/`no`); a bare field name means `=true`.
    Bool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Version => "a version",
            Kind::Capability => "a capability",
            Kind::Date => "a date",
            Kind::Bool => "true or false",
        }
    }

    /// Reads one value of this kind as a row or a query writes it.
    pub fn read(self, text: &str) -> Option<Value> {
        let text = text.trim();
        match self {
            Kind::Text => Some(Value::Text(text.to_string())),
            Kind::Number => text
                .trim_start_matches(['R', 'r'])
                .parse()
                .ok()
                .map(Value::Number),
            Kind::Version => text.parse().ok().map(Value::Version),
            Kind::Capability => read_capability(text).map(|(arch, _)| Value::Capability(arch)),
            Kind::Date => is_date(text).then(|| Value::Date(text.to_string())),
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" => Some(Value::Bool(true)),
                "false" | "no" => Some(Value::Bool(false)),
                _ => None,
            },
        }
    }
}

/// A capability with the number of parts written: 1 for a major alone (`8`, `8.x`, `12`),
/// else 2.
fn read_capability(text: &str) -> Option<(Arch, u8)> {
    let prefixed = text
        .strip_prefix("sm_")
        .or_else(|| text.strip_prefix("compute_"));
    let bare = prefixed.unwrap_or(text);
    let major = bare
        .strip_suffix(".x")
        .or_else(|| bare.strip_suffix(".*"))
        .unwrap_or(bare);
    let digits = !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit());
    // A bare `8` or `12` is a major; `89` or `120` is nvcc's number (8.9, 12.0). No GPU
    // has capability 1.x, so `10` to `19` can only mean majors.
    let is_major = major != bare
        || (prefixed.is_none()
            && (major.len() == 1 || (major.len() == 2 && major.starts_with('1'))));
    if digits && is_major {
        let cc = parse_cc_loose(&format!("{major}.0"))?;
        return Some((Arch::plain(cc), 1));
    }
    let (number, variant) = match bare.strip_suffix('a') {
        Some(rest) => (rest, Variant::Specific),
        None => match bare.strip_suffix('f') {
            Some(rest) => (rest, Variant::Family),
            None => (bare, Variant::Plain),
        },
    };
    parse_cc_loose(number).map(|cc| (Arch::new(cc, variant), 2))
}

fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let widths = [4, 2, 2];
    parts.len() <= 3
        && parts
            .iter()
            .zip(widths)
            .all(|(p, w)| p.len() == w && p.bytes().all(|b| b.is_ascii_digit()))
}

/// One value of a row's field, as the lookup hands it to [`Query::matches`].
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(i64),
    Version(Version),
    Capability(Arch),
    Date(String),
    Bool(bool),
    /// The items of a list field.
    List(Vec<Value>),
}

/// One field a table can be queried by.
#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    /// Other names accepted for it (`capability` for `cc`).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// Whether a row holds several values.
    pub list: bool,
    pub about: &'static str,
}

/// The fields of one catalog table, and an example query for its help.
#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
    pub example: &'static str,
}

impl TableSpec {
    /// The field a name (or alias) means, case-insensitive.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        // `ptx-isa` is `ptx_isa`: both spellings are common on command lines.
        let name = name.replace('-', "_");
        self.fields.iter().find(|f| {
            f.name.eq_ignore_ascii_case(&name)
                || f.aliases.iter().any(|a| a.eq_ignore_ascii_case(&name))
        })
    }
}

const fn field(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    about: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        aliases,
        kind,
        list: false,
        about,
    }
}

const fn list(
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    about: &'static str,
) -> FieldSpec {
    FieldSpec {
        name,
        aliases,
        kind,
        list: true,
        about,
    }
}

pub const GPUS: TableSpec = TableSpec {
    name: "gpus",
    fields: &[
        field("name", &["gpu", "product"], Kind::Text, "the product name"),
        list(
            "aliases",
            &["alias"],
            Kind::Text,
            "other names (nvidia-smi's, short forms)",
        ),
        field(
            "cc",
            &["capability", "compute_capability", "sm"],
            Kind::Capability,
            "compute capability",
        ),
        field("architecture", &["arch"], Kind::Text, "Ampere, Hopper, ..."),
        field(
            "segment",
            &[],
            Kind::Text,
            "datacenter, workstation, consumer or embedded",
        ),
        field(
            "integrated",
            &["tegra"],
            Kind::Bool,
            "an integrated (Tegra) part",
        ),
    ],
    example: "cc>=8.0, segment=datacenter",
};

pub const TOOLKITS: TableSpec = TableSpec {
    name: "toolkits",
    fields: &[
        field(
            "version",
            &["cuda", "toolkit"],
            Kind::Version,
            "the CUDA release",
        ),
        field(
            "ptx_isa",
            &["ptx", "isa"],
            Kind::Version,
            "the PTX ISA its nvcc writes",
        ),
        field(
            "driver",
            &["driver_linux"],
            Kind::Version,
            "the Linux driver it shipped with",
        ),
        field(
            "driver_windows",
            &[],
            Kind::Version,
            "the Windows driver it shipped with",
        ),
        field(
            "min_driver",
            &["minor_compat"],
            Kind::Version,
            "the lowest Linux driver that runs its programs (minor-version compatibility)",
        ),
        list(
            "targets",
            &["real_targets", "sm"],
            Kind::Capability,
            "the cubins nvcc can build",
        ),
        list(
            "ptx_targets",
            &["virtual_targets", "compute"],
            Kind::Capability,
            "the PTX nvcc can write",
        ),
    ],
    example: "targets=sm_89 and driver<=535",
};

pub const ARCHS: TableSpec = TableSpec {
    name: "archs",
    fields: &[
        field(
            "arch",
            &["code"],
            Kind::Capability,
            "the architecture: sm_90, sm_90a, sm_100f",
        ),
        field(
            "cc",
            &["capability"],
            Kind::Capability,
            "its compute capability",
        ),
        field("variant", &[], Kind::Text, "plain, family or arch-specific"),
        field(
            "first_toolkit",
            &["first"],
            Kind::Version,
            "the first CUDA release that builds it",
        ),
        field(
            "last_toolkit",
            &["last"],
            Kind::Version,
            "the last CUDA release that builds it",
        ),
        list("gpus", &["gpu"], Kind::Text, "the GPUs of its capability"),
    ],
    example: "cc>=9.0, variant=family",
};

pub const TORCH: TableSpec = TableSpec {
    name: "torch",
    fields: &[
        field("version", &["torch"], Kind::Version, "the PyTorch release"),
        field(
            "python",
            &[],
            Kind::Text,
            "the CPython versions with wheels",
        ),
        field(
            "pypi_default",
            &["default"],
            Kind::Text,
            "the variant plain `pip install torch` gets",
        ),
        list(
            "variants",
            &["variant", "tag"],
            Kind::Text,
            "its CUDA wheels: cu118, cu128, ...",
        ),
        list(
            "cuda",
            &[],
            Kind::Version,
            "the CUDA releases of its wheels",
        ),
        list(
            "sass",
            &["sm", "cubin"],
            Kind::Capability,
            "capabilities some wheel carries cubins for",
        ),
        list(
            "ptx",
            &[],
            Kind::Capability,
            "capabilities some wheel carries PTX for",
        ),
    ],
    example: "cuda=12.8, sass>=10.0",
};

pub const IMAGES: TableSpec = TableSpec {
    name: "images",
    fields: &[
        field(
            "version",
            &["cuda"],
            Kind::Version,
            "the CUDA release of the image set",
        ),
        field(
            "tag_version",
            &["tag"],
            Kind::Text,
            "the version as tags spell it",
        ),
        list("os", &[], Kind::Text, "ubuntu22.04, ubi9, ..."),
        list(
            "flavors",
            &["flavor"],
            Kind::Text,
            "base, runtime, devel, cudnn-runtime, ...",
        ),
        field(
            "require_cuda",
            &[],
            Kind::Text,
            "the images' NVIDIA_REQUIRE_CUDA",
        ),
        field("eol", &[], Kind::Date, "when the set went end of life"),
        field(
            "deleted",
            &[],
            Kind::Bool,
            "the tags are gone from Docker Hub",
        ),
    ],
    example: "version>=12.4, os=ubuntu24.04",
};

pub const DRIVERS: TableSpec = TableSpec {
    name: "drivers",
    fields: &[
        field("branch", &["r"], Kind::Number, "the branch: 535 (R535)"),
        field(
            "kind",
            &["type"],
            Kind::Text,
            "LTSB, PB, NFB, DEV or unknown",
        ),
        field("cuda", &[], Kind::Version, "the newest CUDA it supports"),
        field("first", &["driver"], Kind::Version, "its first driver"),
        field("released", &[], Kind::Date, "when it was first released"),
        field("eol", &[], Kind::Date, "when it goes end of life"),
        field(
            "forward_compat",
            &["compat"],
            Kind::Bool,
            "cuda-compat is supported on it",
        ),
    ],
    example: "kind=LTSB, eol>=2026",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    NotContains,
}

impl Op {
    /// Longest first, so `<=` is not read as `<`.
    const SPELLINGS: [(&'static str, Op); 10] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("!~", Op::NotContains),
        ("=~", Op::Contains),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("~", Op::Contains),
    ];

    fn ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

#[derive(Clone, Debug)]
struct Condition {
    field: &'static str,
    op: Op,
    value: Value,
    /// How many parts the value was written with (versions, capabilities, dates).
    precision: u8,
}

/// A parsed `--where` query: every condition must hold.
#[derive(Clone, Debug)]
pub struct Query {
    conditions: Vec<Condition>,
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    table: &'static TableSpec,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// A bad-query diagnostic pointing at `at` (a byte offset) with a caret under `len` characters.
    fn error(&self, at: usize, len: usize, problem: String) -> Diagnostic {
        let column = self.text[..at].chars().count() + 1;
        let width = self.text[at..].chars().take(len.max(1)).count().max(1);
        Diagnostic::error(
            "bad-query",
            format!(
                "{problem} (column {column})\n    {}\n    {}{}",
                self.text,
                " ".repeat(column - 1),
                "^".repeat(width)
            ),
        )
        .with_help(help(self.table))
    }

    /// At `and` followed by a space or the end (case-insensitive).
    fn at_and(&self, from: usize) -> bool {
        let rest = &self.text[from..];
        rest.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("and"))
            && rest[3..].chars().next().is_none_or(char::is_whitespace)
    }

    fn condition(&mut self) -> Result<Condition, Diagnostic> {
        let start = self.pos;
        let name_len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest().len());
        if name_len == 0 {
            let found = self
                .rest()
                .chars()
                .next()
                .map_or("the end".to_string(), |c| format!("`{c}`"));
            return Err(self.error(start, 1, format!("expected a field name, found {found}")));
        }
        let name = &self.text[start..start + name_len];
        let Some(spec) = self.table.field(name) else {
            let near = self
                .table
                .fields
                .iter()
                .flat_map(|f| {
                    std::iter::once(f.name)
                        .chain(f.aliases.iter().copied())
                        .map(move |n| (n, f.name))
                })
                .map(|(n, canonical)| {
                    (
                        edit_distance(&n.to_ascii_lowercase(), &name.to_ascii_lowercase()),
                        canonical,
                    )
                })
                .min()
                .filter(|(d, _)| *d <= 2)
                .map_or(String::new(), |(_, n)| format!("; did you mean `{n}`?"));
            return Err(self.error(
                start,
                name_len,
                format!("`{name}` is not a field of {}{near}", self.table.name),
            ));
        };
        self.pos += name_len;
        self.skip_space();
        let op_at = self.pos;
        let op = Op::SPELLINGS
            .iter()
            .find(|(s, _)| self.rest().starts_with(s))
            .map(|&(s, op)| (s.len(), op));
        let Some((op_len, op)) = op else {
            if spec.kind == Kind::Bool
                && (self.rest().is_empty() || self.rest().starts_with(',') || self.at_and(self.pos))
            {
                return Ok(Condition {
                    field: spec.name,
                    op: Op::Eq,
                    value: Value::Bool(true),
                    precision: 0,
                });
            }
            return Err(self.error(
                op_at,
                1,
                format!("expected an operator (=, !=, <, <=, >, >=, ~, !~) after `{name}`"),
            ));
        };
        self.pos += op_len;
        if op.ordering() && matches!(spec.kind, Kind::Text | Kind::Bool) {
            return Err(self.error(
                op_at,
                op_len,
                format!(
                    "`{}` is {}: compare it with =, != or ~",
                    spec.name,
                    spec.kind.name()
                ),
            ));
        }
        if matches!(op, Op::Contains | Op::NotContains) && spec.kind != Kind::Text {
            return Err(self.error(
                op_at,
                op_len,
                format!(
                    "`~` looks inside text, and `{}` is {}: use = (a shorter value such as `8` or `12` matches every 8.x or 12.x)",
                    spec.name,
                    spec.kind.name()
                ),
            ));
        }
        self.skip_space();
        let (value_at, raw) = self.value()?;
        let value_len = raw.chars().count();
        let Some(value) = spec.kind.read(&raw) else {
            let hint = if raw.to_ascii_lowercase().contains(" or ") {
                "; `or` is not supported: join conditions with `,` or `and`, or run one query per alternative"
            } else {
                ""
            };
            let example = match spec.kind {
                Kind::Number => "535",
                Kind::Version => "12.4",
                Kind::Capability => "8.9 or sm_89",
                Kind::Date => "2026-06",
                _ => "true",
            };
            return Err(self.error(
                value_at,
                value_len,
                format!(
                    "`{raw}` is not {} (`{}` takes values such as {example}){hint}",
                    spec.kind.name(),
                    spec.name
                ),
            ));
        };
        let precision = match spec.kind {
            Kind::Version => raw.trim().split('.').count() as u8,
            Kind::Capability => read_capability(raw.trim()).map_or(2, |(_, p)| p),
            Kind::Date => raw.trim().split('-').count() as u8,
            _ => 0,
        };
        Ok(Condition {
            field: spec.name,
            op,
            value,
            precision,
        })
    }

    /// A quoted value, or the text up to the next `,`, ` and ` or the end.
    fn value(&mut self) -> Result<(usize, String), Diagnostic> {
        let at = self.pos;
        if let Some(quote) = self
            .rest()
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
        {
            let body = &self.rest()[1..];
            let Some(end) = body.find(quote) else {
                return Err(self.error(at, 1, "this quote is never closed".to_string()));
            };
            let value = body[..end].to_string();
            self.pos = at + 1 + end + 1;
            return Ok((at, value));
        }
        let mut end = self.text.len();
        for (i, c) in self.rest().char_indices() {
            let abs = at + i;
            if c == ',' || (c.is_whitespace() && self.at_and(abs + c.len_utf8()) && i > 0) {
                end = abs;
                break;
            }
        }
        let value = self.text[at..end].trim_end().to_string();
        if value.is_empty() {
            return Err(self.error(at, 1, "a value is missing".to_string()));
        }
        self.pos = at + value.len();
        Ok((at, value))
    }
}

fn help(table: &TableSpec) -> String {
    let fields: Vec<String> = table
        .fields
        .iter()
        .map(|f| {
            let mut s = f.name.to_string();
            if !f.aliases.is_empty() {
                s.push_str(&format!(" ({})", f.aliases.join(", ")));
            }
            s
        })
        .collect();
    format!(
        "fields of {}: {}; operators = != < <= > >= ~ (contains) !~; join conditions with `,` or `and`, quote a value that holds `,` or ` and `; e.g. --where \"{}\"",
        table.name,
        fields.join(", "),
        table.example
    )
}

impl Query {
    /// Reads a query against one table's fields. Errors are `bad-query`, with the column
    /// of the problem and the table's fields in the help.
    pub fn parse(text: &str, table: &'static TableSpec) -> Result<Query, Diagnostic> {
        let mut parser = Parser {
            text,
            pos: 0,
            table,
        };
        let mut conditions = Vec::new();
        loop {
            parser.skip_space();
            if parser.rest().is_empty() {
                let problem = if conditions.is_empty() {
                    "the query is empty"
                } else {
                    "a condition is missing after the last `,` or `and`"
                };
                return Err(parser.error(text.len(), 1, problem.to_string()));
            }
            conditions.push(parser.condition()?);
            parser.skip_space();
            if parser.rest().is_empty() {
                return Ok(Query { conditions });
            }
            if parser.rest().starts_with(',') {
                parser.pos += 1;
            } else if parser.at_and(parser.pos) {
                parser.pos += 3;
            } else {
                let len = parser
                    .rest()
                    .split_whitespace()
                    .next()
                    .map_or(1, |w| w.chars().count());
                return Err(parser.error(
                    parser.pos,
                    len,
                    "expected `,` or `and` after a condition".to_string(),
                ));
            }
        }
    }

    /// Whether a row satisfies every condition. `row` gives a field's value by its
    /// canonical name, `None` where the row has none (a condition on it then fails,
    /// except `!=` and `!~`).
    pub fn matches(&self, row: &dyn Fn(&str) -> Option<Value>) -> bool {
        self.conditions.iter().all(|c| c.holds(row(c.field)))
    }
}

impl Condition {
    fn holds(&self, value: Option<Value>) -> bool {
        let negated = matches!(self.op, Op::Ne | Op::NotContains);
        let any = match value {
            None => false,
            Some(Value::List(items)) => items.iter().any(|v| self.test(v)),
            Some(v) => self.test(&v),
        };
        any != negated
    }

    /// Whether one value passes the condition's positive form (`=` for `!=`, `~` for `!~`).
    fn test(&self, value: &Value) -> bool {
        let ordering = match (value, &self.value) {
            (Value::Text(v), Value::Text(q)) => {
                let (v, q) = (fold_name(v), fold_name(q));
                if matches!(self.op, Op::Contains | Op::NotContains) {
                    return v.contains(&q);
                }
                v.cmp(&q)
            }
            (Value::Number(v), Value::Number(q)) => v.cmp(q),
            (Value::Bool(v), Value::Bool(q)) => v.cmp(q),
            (Value::Version(v), Value::Version(q)) => {
                let key = |x: &Version| [x.major, x.minor, x.patch];
                let n = usize::from(self.precision.clamp(1, 3));
                key(v)[..n].cmp(&key(q)[..n])
            }
            (Value::Capability(v), Value::Capability(q)) if self.precision == 1 => {
                v.cc.major.cmp(&q.cc.major)
            }
            // Equality also asks for the same variant, so `sm_90` is not `sm_90a`;
            // ordering is by capability alone.
            (Value::Capability(v), Value::Capability(q)) if matches!(self.op, Op::Eq | Op::Ne) => {
                (v.cc, v.variant).cmp(&(q.cc, q.variant))
            }
            (Value::Capability(v), Value::Capability(q)) => v.cc.cmp(&q.cc),
            (Value::Date(v), Value::Date(q)) => {
                let n = q.len().min(v.len());
                v[..n].cmp(&q[..n])
            }
            _ => return false,
        };
        match self.op {
            Op::Eq | Op::Ne => ordering == Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            // Parsing allows `~` on text only, answered above.
            Op::Contains | Op::NotContains => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu_row(
        name: &str,
        cc: &str,
        segment: &str,
        integrated: bool,
    ) -> impl Fn(&str) -> Option<Value> {
        let (name, cc, segment) = (name.to_string(), cc.to_string(), segment.to_string());
        move |field| match field {
            "name" => Some(Value::Text(name.clone())),
            "cc" => Kind::Capability.read(&cc),
            "segment" => Some(Value::Text(segment.clone())),
            "integrated" => Some(Value::Bool(integrated)),
            "aliases" => Some(Value::List(vec![Value::Text(format!("NVIDIA {name}"))])),
            _ => None,
        }
    }

    fn keeps(query: &str, row: &dyn Fn(&str) -> Option<Value>) -> bool {
        Query::parse(query, &GPUS)
            .unwrap_or_else(|d| panic!("{query}: {d}"))
            .matches(row)
    }

    fn bad(query: &str, table: &'static TableSpec) -> Diagnostic {
        Query::parse(query, table).expect_err(query)
    }

    #[test]
    fn capabilities_compare_as_numbers_not_text() {
        let b200 = gpu_row("B200", "10.0", "datacenter", false);
        let l40s = gpu_row("L40S", "8.9", "datacenter", false);
        let rtx5090 = gpu_row("RTX 5090", "12.0", "consumer", false);
        let p4 = gpu_row("Tesla P4", "6.1", "datacenter", false);
        // As text, "10.0" < "8.9" and "12.0" < "9.0".
        assert!(keeps("cc>=8.9", &b200));
        assert!(keeps("cc>9.0", &rtx5090));
        assert!(keeps("cc>=8.0", &l40s));
        assert!(!keeps("cc>=8.0", &p4));
        assert!(keeps("cc<10.0", &l40s) && !keeps("cc<10.0", &b200));
        assert!(keeps("cc=sm_89", &l40s) && keeps("capability=89", &l40s));
        assert!(keeps("cc>=10", &b200) && keeps("cc=12", &rtx5090) && !keeps("cc>=10", &l40s));
    }

    #[test]
    fn a_shorter_value_compares_at_its_own_precision() {
        let l40s = gpu_row("L40S", "8.9", "datacenter", false);
        assert!(keeps("cc=8", &l40s) && keeps("cc=8.x", &l40s));
        assert!(!keeps("cc=9", &l40s));
        assert!(!keeps("cc>8", &l40s));
        let driver =
            |field: &str| (field == "driver").then(|| Kind::Version.read("535.104.05").unwrap());
        let q = |s: &str| Query::parse(s, &TOOLKITS).unwrap().matches(&driver);
        assert!(q("driver<=535") && q("driver=535") && !q("driver<535"));
        assert!(q("driver>=535.54") && !q("driver>=535.129.03"));
    }

    #[test]
    fn conditions_join_with_commas_and_and() {
        let a100 = gpu_row("A100", "8.0", "datacenter", false);
        let orin = gpu_row("Jetson AGX Orin", "8.7", "embedded", true);
        assert!(keeps("cc>=8.0, segment=datacenter", &a100));
        assert!(keeps("cc>=8.0 AND segment = DataCenter", &a100));
        assert!(!keeps("cc>=8.0 and segment=datacenter", &orin));
        assert!(keeps("integrated", &orin) && !keeps("integrated", &a100));
        assert!(keeps("integrated=no, cc>=8", &a100));
        assert!(
            keeps("name=Jetson AGX Orin", &orin),
            "a bare value may hold spaces"
        );
        assert!(keeps("name = \"Jetson AGX Orin\"", &orin));
        assert!(keeps("name='jetson agx orin' and cc=8.7", &orin));
    }

    #[test]
    fn text_is_matched_folded_and_contains_ignores_case() {
        let orin = gpu_row("Jetson AGX Orin", "8.7", "embedded", true);
        assert!(keeps("name~agx", &orin) && keeps("name~AGX ORIN", &orin));
        assert!(keeps("name!~thor", &orin) && !keeps("name!~orin", &orin));
        assert!(keeps("name=jetson-agx-orin", &orin));
        assert!(keeps("aliases~nvidia", &orin) && !keeps("aliases!=NVIDIA Jetson AGX Orin", &orin));
    }

    #[test]
    fn lists_match_when_one_item_does_and_negations_when_none_does() {
        let targets = |field: &str| {
            (field == "targets").then(|| {
                Value::List(
                    ["sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"]
                        .iter()
                        .map(|s| Kind::Capability.read(s).unwrap())
                        .collect(),
                )
            })
        };
        let q = |s: &str| Query::parse(s, &TOOLKITS).unwrap().matches(&targets);
        assert!(q("targets=sm_89") && q("sm=8.9") && q("targets=sm_90a"));
        assert!(!q("targets=sm_100") && q("targets!=sm_100") && !q("targets!=sm_90"));
        assert!(q("targets>=9.0") && !q("targets>=10.0"));
        assert!(
            !q("ptx_targets=compute_80"),
            "a field the row lacks does not match"
        );
        assert!(q("ptx_targets!=compute_80"));
    }

    #[test]
    fn dates_and_numbers() {
        let branch = |field: &str| match field {
            "branch" => Some(Value::Number(535)),
            "eol" => Kind::Date.read("2026-06"),
            "kind" => Some(Value::Text("LTSB".into())),
            _ => None,
        };
        let q = |s: &str| Query::parse(s, &DRIVERS).unwrap().matches(&branch);
        assert!(q("branch=535") && q("branch=R535") && q("branch>=530"));
        assert!(q("eol>=2026") && q("eol=2026") && !q("eol<2026-06") && q("eol<2027"));
        assert!(q("kind=ltsb, eol>2025-12-31"));
        assert!(
            !q("released>=2020"),
            "a branch without a release month is not kept"
        );
    }

    #[test]
    fn errors_name_the_column_and_the_fields() {
        let d = bad("cc>=eight", &GPUS);
        assert_eq!(d.code, "bad-query");
        assert!(d.message.contains("column 5"), "{}", d.message);
        assert!(
            d.message.contains("`eight` is not a capability"),
            "{}",
            d.message
        );
        let help = d.help.unwrap();
        assert!(
            help.contains("segment") && help.contains("cc (capability"),
            "{help}"
        );
        assert!(
            help.contains("--where \"cc>=8.0, segment=datacenter\""),
            "{help}"
        );

        let d = bad("segmnt=datacenter", &GPUS);
        assert!(
            d.message.contains("did you mean `segment`") && d.message.contains("column 1"),
            "{}",
            d.message
        );
        let d = bad("cc>=8.0, segment", &GPUS);
        assert!(
            d.message.contains("expected an operator") && d.message.contains("column 17"),
            "{}",
            d.message
        );
        assert!(bad("segment>datacenter", &GPUS)
            .message
            .contains("compare it with ="));
        assert!(bad("cc~8", &GPUS).message.contains("looks inside text"));
        assert!(bad("cc>=8.0,", &GPUS).message.contains("missing after"));
        assert!(bad("", &GPUS).message.contains("empty"));
        assert!(bad("   ", &GPUS).message.contains("empty"));
        assert!(bad("name=\"L40S", &GPUS).message.contains("never closed"));
        assert!(bad("cc=8.0 or cc=9.0", &GPUS)
            .message
            .contains("`or` is not supported"));
        assert!(bad("name=\"A\" cc=8.0", &GPUS)
            .message
            .contains("expected `,` or `and`"));
        assert!(bad("=8.0", &GPUS).message.contains("expected a field name"));
        assert!(Query::parse("ptx-isa>=8.0", &TOOLKITS).is_ok());
        assert!(bad("version>=twelve", &TOOLKITS)
            .message
            .contains("not a version"));
        assert!(bad("eol>=June", &DRIVERS).message.contains("not a date"));
        assert!(bad("integrated=maybe", &GPUS)
            .message
            .contains("not true or false"));
    }

    #[test]
    fn every_table_field_reads_its_own_example() {
        for table in [&GPUS, &TOOLKITS, &ARCHS, &TORCH, &IMAGES, &DRIVERS] {
            Query::parse(table.example, table).unwrap_or_else(|d| panic!("{}: {d}", table.name));
            let mut names: Vec<String> = Vec::new();
            for f in table.fields {
                for n in std::iter::once(f.name).chain(f.aliases.iter().copied()) {
                    assert!(
                        !names.contains(&n.to_string()),
                        "{}: `{n}` names two fields",
                        table.name
                    );
                    names.push(n.to_string());
                }
            }
        }
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        for q in [
            "ñ",
            "cc>=ñ",
            "name=ñ and",
            "name=\"ñ",
            "cc≥8.0",
            "name=a andñ",
        ] {
            let _ = Query::parse(q, &GPUS);
        }
        assert!(keeps("name=ñ", &|_: &str| Some(Value::Text("Ñ".into()))));
    }
}
