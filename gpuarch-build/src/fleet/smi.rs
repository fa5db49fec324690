//! nvidia-smi output: `--query-gpu=... --format=csv` dumps and the plain table, every
//! layout generation, and the error text it prints instead.
//!
//! # Which lines make which node
//!
//! Both readers first split the file by host: a line `HOST: REST` (as `pdsh`, `clush` and
//! Rocks' `run host` print it) belongs to `HOST` when `HOST` is a plain host name and
//! `REST` is nvidia-smi output (a table line, a CSV line, or an error). Each host's lines
//! are read on their own, so interleaved output is fine. The rest of the file is read as
//! it stands.
//!
//! CSV (`parse_csv`, also `nvidia-smi -L`):
//! - rows of one host (prefix, or a `host`/`hostname`/`node` column) are one node;
//! - otherwise a header line, or an `index` that does not grow, starts a new dump; a file
//!   with one dump is one node named after the file when all its rows share a driver, and
//!   a dump whose rows disagree on the driver (a concatenation of many hosts' dumps) gives
//!   one node per row, named `FILE:LINE`;
//! - without a header the columns are told by the shape of their values (a driver version
//!   such as `535.104.05`, a capability such as `8.0`, a GPU name), with a note when two
//!   columns look alike.
//!
//! Tables (`parse_table`): one node per table. Its name is the host of a `HOST: | ...`
//! prefix, else the host of a shell prompt that ran it (`user@gpu07:~$ nvidia-smi`,
//! `[user@gpu07 ~]$ nvidia-smi`) or of a `==> NAME <==` line (`tail`/`head` of several
//! files) before it, else the file's name, or `FILE (table N)` when the file holds
//! several tables.
//!
//! Error text (`NVIDIA-SMI has failed ...`, `Failed to initialize NVML ...`) is a node
//! with `problem` set and no GPUs, named like a table (host, prompt, `FILE`, or
//! `FILE:LINE` among other output); on a host that also printed GPUs it becomes that
//! node's `problem`. Every node is kept; what cannot be told is warned about
//! (`inventory-node-unknown`) at its line.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::names::{identify, is_mig_profile, Identified};
use super::{line_location, Node, NodeGpu, Parsed};
use crate::arch::Cc;
use crate::catalog::{self, GpuInfo};
use crate::diagnostic::Diagnostic;
use crate::error::{Error, Result};
use crate::version::Version;

/// What nvidia-smi printed instead of GPUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    NoDriver,
    /// "Failed to initialize NVML: Driver/library version mismatch", with the
    /// "NVML library version: X" line newer drivers add.
    VersionMismatch { nvml_library: Option<Version> },
    /// "No devices were found".
    NoDevices,
    /// `Field "compute_cap" is not a valid field to query.` (drivers before 510).
    InvalidField(String),
    /// Any other error line, as printed.
    Other(String),
}

impl Failure {
    /// What it means, in one sentence (a node's `problem`).
    pub fn message(&self) -> String {
        match self {
            Failure::NoDriver => {
                "nvidia-smi could not communicate with the NVIDIA driver (no driver loaded)".to_string()
            }
            Failure::VersionMismatch {
                nvml_library: Some(v),
            } => format!(
                "NVML driver/library version mismatch: the user-space driver is {v}, the loaded kernel module another version"
            ),
            Failure::VersionMismatch { nvml_library: None } => {
                "NVML driver/library version mismatch: the loaded kernel module and the user-space driver differ".to_string()
            }
            Failure::NoDevices => "nvidia-smi found no devices".to_string(),
            Failure::InvalidField(field) if field == "compute_cap" => {
                "this driver's nvidia-smi does not know the query field `compute_cap` (it needs driver 510 or newer)".to_string()
            }
            Failure::InvalidField(field) => {
                format!("this driver's nvidia-smi does not know the query field `{field}`")
            }
            Failure::Other(line) => format!("nvidia-smi printed \"{line}\""),
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Failure::NoDriver => {
                "load the NVIDIA driver on the node (in a container: start it with GPU access), then capture nvidia-smi again"
            }
            Failure::VersionMismatch { .. } => {
                "reload the NVIDIA kernel module or reboot the node (`cargo gpuarch explain driver-library-mismatch`)"
            }
            Failure::NoDevices => "check that the node has a GPU this driver supports, and that it is visible (lspci, dmesg)",
            Failure::InvalidField(_) => {
                "drop the field from --query-gpu (drivers before 510 do not know compute_cap; gpuarch then takes the capability from the GPU name)"
            }
            Failure::Other(_) => "check the node's GPUs and driver (`dmesg | grep -i nvrm`), then capture nvidia-smi again",
        }
    }
}

/// Recognizes nvidia-smi's error text; `None` when `text` is ordinary output.
///
/// The first error line anywhere in `text` counts (a `HOST: ` prefix is allowed); for a
/// version mismatch the `NVML library version: X` line after it gives the library.
pub fn failure(text: &str) -> Option<Failure> {
    let mut lines = numbered(text).map(|(_, l)| strip_host(l));
    while let Some(line) = lines.next() {
        if let Some(mut found) = failure_line(line) {
            if let Failure::VersionMismatch { nvml_library } = &mut found {
                *nvml_library = lines.next().and_then(nvml_library_line).flatten();
            }
            return Some(found);
        }
    }
    None
}

/// A `--format=csv` dump (with or without header and units, `host: ` prefixes), or the
/// `nvidia-smi -L` list. Columns read: `name`/`gpu_name`, `compute_cap` (it wins over the
/// catalog), `driver_version`, `index`, `mig.mode.current`, and a `host`/`hostname`/`node`
/// column added by the user; CSV has no CUDA version, so `driver_cuda` stays `None`.
///
/// Fails (`bad-inventory`, at the line) only when nothing in the file is a GPU row or
/// nvidia-smi error text.
pub fn parse_csv(file: &Path, text: &str) -> Result<Parsed> {
    Csv::new(file, text).run()
}

/// One or more plain `nvidia-smi` tables, every layout since R331: `Driver Version` or
/// R610's `KMD Version`, `CUDA Version` or `CUDA UMD Version` (`N/A`, `ERR!`: `None`), the
/// `MIG M.` row and the `MIG devices:` section (`mig = Some("enabled")`), names cut short
/// with `...` (see [`super::names::identify`]); the process list is ignored.
///
/// `wsl` is set when the driver is a Windows driver: under WSL (`NVIDIA-SMI 555.52.01`
/// on `Driver Version: 555.99`), and for Windows' own table (its `TCC/WDDM` column).
///
/// Fails (`bad-inventory`, at the line) only when the file holds no table header and no
/// nvidia-smi error text.
pub fn parse_table(file: &Path, text: &str) -> Result<Parsed> {
    Tables::new(file, text).run()
}

// ---------------------------------------------------------------------------------------
// Lines, hosts, errors.

/// The lines of `text`, numbered from 1, without `\r` and a leading byte-order mark.
fn numbered(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}

/// `HOST: REST` with `HOST` a plain host name (letters, digits, `.`, `-`, `_`).
fn host_prefix(line: &str) -> Option<(&str, &str)> {
    let at = line.find(": ")?;
    let host = &line[..at];
    let first = host.bytes().next()?;
    let ok = host.len() <= 253
        && first.is_ascii_alphanumeric()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    ok.then(|| (host, &line[at + 2..]))
}

/// The line without a `HOST: ` prefix in front of nvidia-smi error text.
fn strip_host(line: &str) -> &str {
    match host_prefix(line) {
        Some((_, rest)) if failure_line(rest).is_some() || nvml_library_line(rest).is_some() => {
            rest
        }
        _ => line,
    }
}

/// One line of nvidia-smi error text.
fn failure_line(line: &str) -> Option<Failure> {
    let t = line.trim();
    if t.is_empty() {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.contains("couldn't communicate with the nvidia driver")
        || lower.contains("could not communicate with the nvidia driver")
    {
        return Some(Failure::NoDriver);
    }
    if lower.contains("driver/library version mismatch") {
        return Some(Failure::VersionMismatch { nvml_library: None });
    }
    if lower.starts_with("no devices were found") {
        return Some(Failure::NoDevices);
    }
    if let Some(rest) = t.strip_prefix("Field \"") {
        if let Some((field, tail)) = rest.split_once('"') {
            if tail.contains("is not a valid field to query") {
                return Some(Failure::InvalidField(field.to_string()));
            }
        }
    }
    let other = [
        "failed to initialize nvml",
        "unable to determine the device handle",
        "unable to detect the device handle",
        "nvidia-smi has failed",
        "nvidia-smi couldn't find libnvidia-ml",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || lower.contains("gpu is lost")
        || lower.contains("nvidia-smi: command not found")
        || lower.contains("nvidia-smi: not found")
        || lower.contains("'nvidia-smi' is not recognized");
    other.then(|| Failure::Other(t.to_string()))
}

/// `NVML library version: 570.124` (the line newer drivers print after a mismatch).
fn nvml_library_line(line: &str) -> Option<Option<Version>> {
    let rest = line.trim().strip_prefix("NVML library version:")?;
    Some(rest.trim().parse().ok())
}

/// Whether a line echoes the command that made the output (`$ nvidia-smi --query-gpu=...`).
fn is_command(line: &str) -> bool {
    line.contains("nvidia-smi") && failure_line(line).is_none()
}

/// Splits the lines by `HOST: ` prefix; `accept` says whether the rest of a prefixed line
/// is nvidia-smi output (else the line stays in the unprefixed stream, index 0).
fn demux<'a>(text: &'a str, accept: impl Fn(&str) -> bool) -> Vec<Stream<'a>> {
    let mut streams = vec![Stream {
        host: None,
        lines: Vec::new(),
    }];
    let mut by_host: HashMap<&'a str, usize> = HashMap::new();
    for (no, line) in numbered(text) {
        match host_prefix(line) {
            Some((host, rest)) if accept(rest) => {
                let at = *by_host.entry(host).or_insert_with(|| {
                    streams.push(Stream {
                        host: Some(host),
                        lines: Vec::new(),
                    });
                    streams.len() - 1
                });
                streams[at].lines.push((no, rest));
            }
            _ => streams[0].lines.push((no, line)),
        }
    }
    streams
}

struct Stream<'a> {
    host: Option<&'a str>,
    lines: Vec<(usize, &'a str)>,
}

/// Consecutive error lines: one node's problem.
#[derive(Debug)]
struct FailureBlock {
    line: usize,
    failures: Vec<Failure>,
}

impl FailureBlock {
    fn problem(&self) -> String {
        let mut messages: Vec<String> = Vec::new();
        for f in &self.failures {
            let m = f.message();
            if !messages.contains(&m) {
                messages.push(m);
            }
        }
        messages.join("; ")
    }

    /// Adds an error line, or the `NVML library version` line that belongs to the last.
    fn absorb(block: &mut Option<FailureBlock>, no: usize, line: &str) -> bool {
        if let Some(version) = nvml_library_line(line) {
            if let Some(Failure::VersionMismatch { nvml_library }) =
                block.as_mut().and_then(|b| b.failures.last_mut())
            {
                *nvml_library = version;
                return true;
            }
        }
        let Some(found) = failure_line(line) else {
            return false;
        };
        block
            .get_or_insert_with(|| FailureBlock {
                line: no,
                failures: Vec::new(),
            })
            .failures
            .push(found);
        true
    }
}

// ---------------------------------------------------------------------------------------
// GPUs: names to catalog rows, with the warnings nodes need.

/// Identified names, each looked up once per file.
#[derive(Default)]
struct Names {
    seen: HashMap<String, Identified>,
}

impl Names {
    fn get(&mut self, reported: &str) -> &Identified {
        self.seen
            .entry(reported.to_string())
            .or_insert_with(|| identify(reported))
    }
}

/// One GPU model of a node before it is resolved.
#[derive(Debug)]
struct GpuGroup {
    reported: String,
    cc: Option<Cc>,
    mig: Option<String>,
    count: u32,
    line: usize,
}

/// Groups GPUs by (name, given capability, MIG), in order of first appearance.
#[derive(Default)]
struct GpuGroups {
    groups: Vec<GpuGroup>,
    index: HashMap<(String, Option<Cc>, Option<String>), usize>,
}

impl GpuGroups {
    fn add(&mut self, reported: &str, cc: Option<Cc>, mig: Option<String>, line: usize) {
        let key = (reported.to_string(), cc, mig);
        match self.index.get(&key) {
            Some(&at) => self.groups[at].count += 1,
            None => {
                self.index.insert(key.clone(), self.groups.len());
                self.groups.push(GpuGroup {
                    reported: key.0,
                    cc: key.1,
                    mig: key.2,
                    count: 1,
                    line,
                });
            }
        }
    }
}

/// How the inventory was captured, for the help text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Csv,
    Table,
}

const QUERY: &str = "nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv";

/// Turns grouped GPUs into `NodeGpu`s, warning about the ones that cannot be told.
fn resolve_gpus(
    file: &Path,
    node: &str,
    groups: Vec<GpuGroup>,
    names: &mut Names,
    source: Source,
    problems: &mut Vec<Diagnostic>,
) -> Vec<NodeGpu> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let id = names.get(&g.reported);
        let at = Some(line_location(file, g.line));
        let mut gpu = id.gpu;
        if let Some(cc) = g.cc {
            // A capability given picks among truncated candidates, and wins over the catalog.
            if gpu.is_none() {
                gpu = id.candidates.iter().copied().find(|c| c.cc == cc);
            }
            if let Some(row) = gpu.filter(|row| !catalog::same_device(row.cc, cc)) {
                problems.push(
                    Diagnostic::warning(
                        "inventory-suspect",
                        format!(
                            "node `{node}`: compute_cap says {cc} for `{}`, the catalog says {} ({}); using {cc}",
                            g.reported, row.cc, row.name
                        ),
                    )
                    .at(at.clone())
                    .with_help("check the row: the compute_cap column is what the driver reports"),
                );
            }
        }
        let cc = g.cc.or(gpu.map(|row| row.cc));
        if cc.is_none() {
            problems.push(unknown_gpu(node, &g.reported, id, source).at(at));
        }
        out.push(NodeGpu {
            reported: g.reported,
            gpu,
            cc,
            count: g.count,
            mig: g.mig.or_else(|| id.mig.clone()),
        });
    }
    out
}

fn unknown_gpu(node: &str, reported: &str, id: &Identified, source: Source) -> Diagnostic {
    let help = match source {
        Source::Csv => format!("add compute_cap to the query: `{QUERY}` (drivers 510 and newer)"),
        Source::Table => format!(
            "the plain table cuts names short and gives no capability: capture `{QUERY}` instead"
        ),
    };
    let message = if reported.trim().is_empty() {
        format!(
            "node `{node}`: a GPU without a name or capability; the node is kept and judged unknown"
        )
    } else if id.is_ambiguous() {
        format!(
            "node `{node}`: nvidia-smi cut the GPU name short (`{reported}`), and it fits GPUs of different capabilities: {}; the node is kept and judged unknown",
            list_candidates(&id.candidates)
        )
    } else {
        format!(
            "node `{node}`: GPU `{reported}` is not in gpuarch's catalog and the inventory gives no capability; the node is kept and judged unknown"
        )
    };
    Diagnostic::warning("inventory-node-unknown", message).with_help(help)
}

/// One entry per capability: `GeForce GTX 1080 and 1 other (6.1), GeForce RTX 2060 and
/// 5 others (7.5), ...`, at most eight capabilities.
fn list_candidates(candidates: &[&'static GpuInfo]) -> String {
    const SHOWN: usize = 8;
    let mut by_cc: Vec<(Cc, &'static str, usize)> = Vec::new();
    for g in candidates {
        match by_cc.iter_mut().find(|(cc, _, _)| *cc == g.cc) {
            Some(entry) => entry.2 += 1,
            None => by_cc.push((g.cc, g.name, 0)),
        }
    }
    let mut parts: Vec<String> = by_cc
        .iter()
        .take(SHOWN)
        .map(|(cc, name, others)| match others {
            0 => format!("{name} ({cc})"),
            1 => format!("{name} and 1 other ({cc})"),
            n => format!("{name} and {n} others ({cc})"),
        })
        .collect();
    if by_cc.len() > SHOWN {
        parts.push(format!("and {} more capabilities", by_cc.len() - SHOWN));
    }
    parts.join(", ")
}

fn failure_warning(file: &Path, node: &str, block: &FailureBlock) -> Diagnostic {
    let help = block
        .failures
        .first()
        .map_or("capture nvidia-smi again", Failure::help);
    Diagnostic::warning(
        "inventory-node-unknown",
        format!(
            "node `{node}`: {}; the node is kept and judged unknown",
            block.problem()
        ),
    )
    .at(Some(line_location(file, block.line)))
    .with_help(help)
}

fn new_node(file: &Path, name: String, line: usize) -> Node {
    Node {
        name,
        location: line_location(file, line),
        pool: None,
        gpus: Vec::new(),
        driver: None,
        driver_cuda: None,
        wsl: false,
        labels: Vec::new(),
        problem: None,
    }
}

/// The file's name as given, for node names.
fn file_name(file: &Path) -> String {
    file.display().to_string()
}

/// The first line with text, for locating "nothing here" errors.
fn first_text_line(text: &str) -> usize {
    numbered(text)
        .find(|(_, l)| !l.trim().is_empty())
        .map_or(1, |(no, _)| no)
}

fn bad_inventory(file: &Path, line: usize, message: String, help: &str) -> Error {
    Error::invalid(
        Diagnostic::error("bad-inventory", message)
            .at(Some(line_location(file, line)))
            .with_help(help),
    )
}

// ---------------------------------------------------------------------------------------
// CSV.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Name,
    Cc,
    Driver,
    Host,
    Index,
    Mig,
    Other,
}

/// A header field's meaning; `None` for a field gpuarch does not read.
fn column_of(field: &str) -> Option<Col> {
    let col = match field.to_ascii_lowercase().as_str() {
        "name" | "gpu_name" => Col::Name,
        "compute_cap" => Col::Cc,
        "driver_version" => Col::Driver,
        "host" | "hostname" | "node" | "node_name" | "nodename" => Col::Host,
        "index" => Col::Index,
        "mig.mode.current" => Col::Mig,
        "pci.bus_id" | "gpu_bus_id" | "uuid" | "gpu_uuid" | "count" => Col::Other,
        _ => return None,
    };
    Some(col)
}

/// A header line's columns: every field a query-field name (units such as ` [MiB]`
/// dropped), at least one of them known.
fn header_columns(line: &str) -> Option<Vec<Col>> {
    let mut cols = Vec::new();
    let mut known = false;
    for field in line.split(',') {
        let field = field.trim();
        let field = match field.find(" [") {
            Some(at) if field.ends_with(']') => field[..at].trim_end(),
            _ => field,
        };
        let mut bytes = field.bytes();
        let ident = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
        if !ident {
            return None;
        }
        let col = column_of(field);
        known |= col.is_some();
        cols.push(col.unwrap_or(Col::Other));
    }
    known.then_some(cols)
}

/// `GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-...)`, as `nvidia-smi -L` prints it: the name.
fn list_gpu(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("GPU ")?;
    let (index, rest) = rest.split_once(": ")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = rest.rfind(" (UUID:").map_or(rest, |at| &rest[..at]).trim();
    (!name.is_empty()).then_some(name)
}

/// `  MIG 1g.5gb     Device  0: (UUID: MIG-...)` under a GPU of `nvidia-smi -L`: the profile.
fn list_mig(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("MIG ")?;
    let profile = rest.split_whitespace().next()?;
    (rest.contains("Device") && is_mig_profile(profile)).then_some(profile)
}

/// `[N/A]`, `[Not Supported]`, `N/A`, empty.
fn is_na(v: &str) -> bool {
    v.is_empty() || (v.starts_with('[') && v.ends_with(']')) || v.eq_ignore_ascii_case("N/A")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Driver,
    Cc,
    Name,
    Other,
}

fn driver_like(v: &str) -> Option<Version> {
    let version: Version = v.parse().ok()?;
    let first = crate::deploy::entrypoint::FIRST_DRIVER_MAJOR;
    (version.parts >= 2 && (first..10_000).contains(&version.major)).then_some(version)
}

/// A GPU product name as nvidia-smi prints it: starts with a letter, has more than one
/// word (`Tesla T4`, `A100-SXM4-40GB`; never `Default` or the pstate `P4`), and names
/// NVIDIA or a GPU the catalog knows.
fn name_like(v: &str, names: &mut Names) -> bool {
    if !v.starts_with(|c: char| c.is_ascii_alphabetic())
        || v.starts_with("GPU-")
        || v.starts_with("MIG-")
        || !v.contains([' ', '-'])
    {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: [&str; 8] = [
        "nvidia", "tesla", "geforce", "quadro", "titan", "rtx", "gtx", "grid",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    let id = names.get(v);
    id.gpu.is_some() || !id.candidates.is_empty()
}

fn shape(v: &str, names: &mut Names) -> Shape {
    let v = v.trim();
    if is_na(v) {
        Shape::Other
    } else if driver_like(v).is_some() {
        Shape::Driver
    } else if Cc::parse_dotted(v).is_some_and(catalog::is_known_cc) {
        Shape::Cc
    } else if name_like(v, names) {
        Shape::Name
    } else {
        Shape::Other
    }
}

/// Columns of headerless rows of one width, from the shapes of their values.
struct Guess {
    cols: Vec<Col>,
    /// Roles two columns could play equally (role, chosen column, other column), 0-based.
    ties: Vec<(&'static str, usize, usize)>,
}

fn guess_columns(rows: &[&[&str]], width: usize, names: &mut Names) -> Guess {
    /// What one column's values look like.
    #[derive(Default)]
    struct Votes<'v> {
        name: usize,
        driver: usize,
        /// Driver-like values with three parts (`535.104.05`): a power draw such as
        /// `139.45` looks like a two-part driver.
        driver3: usize,
        cc: usize,
        /// Distinct driver-like and capability values: one host has one driver.
        distinct: HashSet<&'v str>,
    }
    let mut votes: Vec<Votes<'_>> = (0..width).map(|_| Votes::default()).collect();
    for row in rows {
        for (v, value) in votes.iter_mut().zip(row.iter()) {
            let value = value.trim();
            match shape(value, names) {
                Shape::Driver => {
                    v.driver += 1;
                    v.driver3 += usize::from(value.bytes().filter(|&b| b == b'.').count() == 2);
                    v.distinct.insert(value);
                }
                Shape::Cc => {
                    v.cc += 1;
                    v.distinct.insert(value);
                }
                Shape::Name => v.name += 1,
                Shape::Other => {}
            }
        }
    }
    // The best column for a role: most values of its shape, then the tie-breaks.
    type Key = (usize, usize, std::cmp::Reverse<usize>);
    type Role = (Col, &'static str, fn(&Votes<'_>) -> Key);
    let roles: [Role; 3] = [
        (Col::Name, "GPU names", |v| {
            (v.name, 0, std::cmp::Reverse(0))
        }),
        (Col::Driver, "driver versions", |v| {
            (v.driver, v.driver3, std::cmp::Reverse(v.distinct.len()))
        }),
        (Col::Cc, "capabilities", |v| {
            (v.cc, 0, std::cmp::Reverse(v.distinct.len()))
        }),
    ];
    let mut cols = vec![Col::Other; width];
    let mut ties = Vec::new();
    for (col, role, key) in roles {
        let mut best: Option<(usize, Key)> = None;
        let mut tie: Option<usize> = None;
        for (i, v) in votes.iter().enumerate() {
            let k = key(v);
            if cols[i] != Col::Other || k.0 == 0 {
                continue;
            }
            match &best {
                Some((_, b)) if k < *b => {}
                Some((_, b)) if k == *b => tie = tie.or(Some(i)),
                _ => {
                    best = Some((i, k));
                    tie = None;
                }
            }
        }
        if let Some((i, _)) = best {
            cols[i] = col;
            if let Some(other) = tie {
                ties.push((role, i, other));
            }
        }
    }
    Guess { cols, ties }
}

/// One line of a CSV stream, classified.
enum CsvItem<'a> {
    Header,
    Row {
        line: usize,
        fields: Vec<&'a str>,
        /// The header it follows, or `None` (columns guessed).
        header: Option<usize>,
    },
    Failures(FailureBlock),
}

/// A GPU row, read.
struct GpuRow<'a> {
    line: usize,
    name: &'a str,
    cc: Option<Cc>,
    driver: Option<Version>,
    mig: Option<String>,
}

/// Rows and errors that make one node.
struct NodeAcc<'a> {
    name: Option<String>,
    first_line: usize,
    rows: Vec<GpuRow<'a>>,
    failures: Vec<FailureBlock>,
}

impl<'a> NodeAcc<'a> {
    fn new(name: Option<String>, first_line: usize) -> Self {
        NodeAcc {
            name,
            first_line,
            rows: Vec::new(),
            failures: Vec::new(),
        }
    }
}

struct Csv<'a> {
    file: &'a Path,
    text: &'a str,
    names: Names,
    problems: Vec<Diagnostic>,
}

impl<'a> Csv<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        Csv {
            file,
            text,
            names: Names::default(),
            problems: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Parsed> {
        let streams = demux(self.text, |rest| {
            let t = rest.trim();
            t.is_empty()
                || t.contains(',')
                || list_gpu(t).is_some()
                || list_mig(t).is_some()
                || failure_line(t).is_some()
                || nvml_library_line(t).is_some()
                || driver_like(t).is_some()
                || Cc::parse_dotted(t).is_some()
                || header_columns(t).is_some()
        });
        // Pass 1: classify lines; remember the headers.
        let mut headers: Vec<(usize, Vec<Col>)> = Vec::new();
        let mut list_header: Option<usize> = None;
        let mut classified: Vec<(Option<&'a str>, Vec<CsvItem<'a>>)> = Vec::new();
        for stream in &streams {
            let mut items = Vec::new();
            let mut header: Option<usize> = None;
            let mut block: Option<FailureBlock> = None;
            for &(no, line) in &stream.lines {
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                if FailureBlock::absorb(&mut block, no, t) {
                    continue;
                }
                if let Some(b) = block.take() {
                    items.push(CsvItem::Failures(b));
                }
                if t.starts_with('#') || t.starts_with("```") || is_command(t) {
                    continue;
                }
                // `nvidia-smi -L`: a GPU per line, its MIG devices under it.
                if let Some(name) = list_gpu(t) {
                    let at = *list_header.get_or_insert_with(|| {
                        headers.push((no, vec![Col::Name, Col::Mig]));
                        headers.len() - 1
                    });
                    items.push(CsvItem::Row {
                        line: no,
                        fields: vec![name, ""],
                        header: Some(at),
                    });
                    continue;
                }
                if let Some(profile) = list_mig(t) {
                    if let Some(CsvItem::Row { fields, header, .. }) = items.last_mut() {
                        if *header == list_header && fields.len() == 2 {
                            fields[1] = match fields[1] {
                                "" => profile,
                                same if same == profile => same,
                                _ => "enabled",
                            };
                        }
                    }
                    continue;
                }
                if let Some(cols) = header_columns(t) {
                    headers.push((no, cols));
                    header = Some(headers.len() - 1);
                    items.push(CsvItem::Header);
                    continue;
                }
                items.push(CsvItem::Row {
                    line: no,
                    fields: t.split(',').map(str::trim).collect(),
                    header,
                });
            }
            if let Some(b) = block.take() {
                items.push(CsvItem::Failures(b));
            }
            classified.push((stream.host, items));
        }

        // Pass 2: guess the columns of headerless rows, per width.
        let mut by_width: HashMap<usize, (usize, Vec<&[&str]>)> = HashMap::new();
        for (_, items) in &classified {
            for item in items {
                if let CsvItem::Row {
                    line,
                    fields,
                    header: None,
                } = item
                {
                    by_width
                        .entry(fields.len())
                        .or_insert_with(|| (*line, Vec::new()))
                        .1
                        .push(fields.as_slice());
                }
            }
        }
        let mut guesses: HashMap<usize, Vec<Col>> = HashMap::new();
        let mut widths: Vec<(usize, usize)> =
            by_width.iter().map(|(w, (line, _))| (*line, *w)).collect();
        widths.sort_unstable();
        for (line, width) in widths {
            let rows = by_width.get(&width).map_or(&[][..], |(_, r)| r.as_slice());
            let guess = guess_columns(rows, width, &mut self.names);
            for (role, chosen, other) in &guess.ties {
                self.problems.push(
                    Diagnostic::note(
                        "inventory-suspect",
                        format!(
                            "{} has no CSV header, and columns {} and {} both look like {role}; reading column {}",
                            file_name(self.file),
                            chosen + 1,
                            other + 1,
                            chosen + 1
                        ),
                    )
                    .at(Some(line_location(self.file, line)))
                    .with_help(format!("capture with the header: `{QUERY}`")),
                );
            }
            guesses.insert(width, guess.cols);
        }

        // Pass 3: rows to nodes.
        let mut by_host: HashMap<String, usize> = HashMap::new();
        let mut host_nodes: Vec<NodeAcc<'a>> = Vec::new();
        // Dumps without a host: each a list of rows; errors without a host stand alone.
        let mut dumps: Vec<NodeAcc<'a>> = Vec::new();
        let mut lone_failures: Vec<FailureBlock> = Vec::new();
        let mut unreadable: Vec<usize> = Vec::new();
        let mut usable_columns = false;
        for (stream_host, items) in classified {
            let mut dump: Option<NodeAcc<'a>> = None;
            let mut last_index: Option<u32> = None;
            for item in items {
                match item {
                    CsvItem::Header => {
                        if let Some(d) = dump.take() {
                            dumps.push(d);
                        }
                        last_index = None;
                    }
                    CsvItem::Failures(block) => match stream_host {
                        Some(host) => host_node(&mut by_host, &mut host_nodes, host, block.line)
                            .failures
                            .push(block),
                        None => lone_failures.push(block),
                    },
                    CsvItem::Row {
                        line,
                        fields,
                        header,
                    } => {
                        let guessed = header.is_none();
                        let cols: &[Col] = match header {
                            Some(h) => headers.get(h).map_or(&[], |(_, c)| c.as_slice()),
                            None => guesses.get(&fields.len()).map_or(&[], Vec::as_slice),
                        };
                        let value = |col: Col| {
                            cols.iter()
                                .position(|c| *c == col)
                                .and_then(|i| fields.get(i).copied())
                                .filter(|v| !is_na(v))
                        };
                        let has = |col: Col| cols.contains(&col);
                        if !(has(Col::Name) || has(Col::Cc) || has(Col::Driver)) {
                            unreadable.push(line);
                            continue;
                        }
                        usable_columns = true;
                        let name = value(Col::Name);
                        let cc = value(Col::Cc).and_then(Cc::parse_dotted);
                        let driver = value(Col::Driver).and_then(|v| v.parse::<Version>().ok());
                        if guessed
                            && name.is_none_or(|n| !name_like(n, &mut self.names))
                            && cc.is_none()
                            && value(Col::Driver).and_then(driver_like).is_none()
                        {
                            unreadable.push(line);
                            continue;
                        }
                        let mig = value(Col::Mig).and_then(|v| {
                            if v.eq_ignore_ascii_case("enabled") {
                                Some("enabled".to_string())
                            } else {
                                is_mig_profile(v).then(|| v.to_string())
                            }
                        });
                        let row = GpuRow {
                            line,
                            name: name.unwrap_or(""),
                            cc,
                            driver,
                            mig,
                        };
                        match value(Col::Host).or(stream_host) {
                            Some(host) => host_node(&mut by_host, &mut host_nodes, host, line)
                                .rows
                                .push(row),
                            None => {
                                // An index that does not grow: the next host's dump.
                                let index = value(Col::Index).and_then(|v| v.parse::<u32>().ok());
                                if let (Some(prev), Some(now)) = (last_index, index) {
                                    if now <= prev {
                                        if let Some(d) = dump.take() {
                                            dumps.push(d);
                                        }
                                    }
                                }
                                if index.is_some() {
                                    last_index = index;
                                }
                                dump.get_or_insert_with(|| NodeAcc::new(None, line))
                                    .rows
                                    .push(row);
                            }
                        }
                    }
                }
            }
            if let Some(d) = dump.take() {
                dumps.push(d);
            }
        }

        if !unreadable.is_empty() {
            let first = unreadable[0];
            let shown: String = numbered(self.text)
                .nth(first - 1)
                .map(|(_, l)| l.trim().chars().take(80).collect())
                .unwrap_or_default();
            if usable_columns || !lone_failures.is_empty() || !host_nodes.is_empty() {
                self.problems.push(
                    Diagnostic::warning(
                        "inventory-suspect",
                        format!(
                            "{} line{} could not be read as nvidia-smi CSV rows and {} skipped (first: `{shown}`)",
                            unreadable.len(),
                            if unreadable.len() == 1 { "" } else { "s" },
                            if unreadable.len() == 1 { "was" } else { "were" },
                        ),
                    )
                    .at(Some(line_location(self.file, first)))
                    .with_help(format!("expected one GPU per line, as `{QUERY}` prints")),
                );
            }
        }

        // Name the nodes.
        let file = self.file;
        let whole = file_name(file);
        let mut accs: Vec<NodeAcc<'a>> = Vec::new();
        for mut acc in host_nodes {
            acc.failures.sort_by_key(|b| b.line);
            accs.push(acc);
        }
        let alone = dumps.len() == 1 && lone_failures.is_empty() && accs.is_empty();
        for dump in dumps {
            let mut drivers: Vec<Version> = dump.rows.iter().filter_map(|r| r.driver).collect();
            drivers.sort_unstable();
            drivers.dedup();
            if drivers.len() > 1 {
                // A concatenation of several hosts' dumps: one node per row.
                for row in dump.rows {
                    let mut acc = NodeAcc::new(Some(format!("{whole}:{}", row.line)), row.line);
                    acc.rows.push(row);
                    accs.push(acc);
                }
            } else {
                let name = if alone {
                    whole.clone()
                } else {
                    format!("{whole}:{}", dump.first_line)
                };
                accs.push(NodeAcc {
                    name: Some(name),
                    ..dump
                });
            }
        }
        let only_failures = accs.is_empty() && lone_failures.len() == 1;
        for block in lone_failures {
            let name = if only_failures {
                whole.clone()
            } else {
                format!("{whole}:{}", block.line)
            };
            let mut acc = NodeAcc::new(Some(name), block.line);
            acc.failures.push(block);
            accs.push(acc);
        }
        if accs.is_empty() {
            return Err(self.nothing_usable(&headers));
        }
        accs.sort_by_key(|a| a.first_line);

        let mut nodes = Vec::with_capacity(accs.len());
        for acc in accs {
            nodes.push(self.finish(acc));
        }
        Ok(Parsed {
            nodes,
            problems: self.problems,
        })
    }

    fn nothing_usable(&self, headers: &[(usize, Vec<Col>)]) -> Error {
        let file = self.file;
        let help =
            format!("capture it with `{QUERY} > FILE`, or pass the plain `nvidia-smi` table");
        if self.text.trim().is_empty() {
            return bad_inventory(
                file,
                1,
                format!(
                    "{} is empty: expected nvidia-smi CSV output (`{QUERY}`)",
                    file_name(file)
                ),
                &help,
            );
        }
        let no_gpu_column = headers.iter().find(|(_, cols)| {
            !cols
                .iter()
                .any(|c| matches!(c, Col::Name | Col::Cc | Col::Driver))
        });
        if let Some((line, _)) = no_gpu_column {
            return bad_inventory(
                file,
                *line,
                format!(
                    "{}: the CSV header names none of the columns gpuarch reads (name, compute_cap, driver_version)",
                    file_name(file)
                ),
                &help,
            );
        }
        bad_inventory(
            file,
            first_text_line(self.text),
            format!(
                "{}: nothing here reads as nvidia-smi CSV output: expected a header such as `name, compute_cap, driver_version` and one line per GPU, such as `NVIDIA A100-SXM4-80GB, 8.0, 535.104.05`",
                file_name(file)
            ),
            &help,
        )
    }

    fn finish(&mut self, acc: NodeAcc<'a>) -> Node {
        let file = self.file;
        let name = acc.name.unwrap_or_else(|| file_name(file));
        let mut node = new_node(file, name, acc.first_line);
        let mut drivers: Vec<Version> = acc.rows.iter().filter_map(|r| r.driver).collect();
        drivers.sort_unstable();
        drivers.dedup();
        node.driver = drivers.first().copied();
        if drivers.len() > 1 {
            let list: Vec<String> = drivers.iter().map(Version::to_string).collect();
            self.problems.push(
                Diagnostic::warning(
                    "inventory-suspect",
                    format!(
                        "node `{}`: its rows disagree on the driver ({}); judging it with the oldest",
                        node.name,
                        list.join(", ")
                    ),
                )
                .at(Some(node.location.clone()))
                .with_help("one host has one driver: check that the rows of this host are its own"),
            );
        }
        let mut groups = GpuGroups::default();
        for row in &acc.rows {
            groups.add(row.name, row.cc, row.mig.clone(), row.line);
        }
        node.gpus = resolve_gpus(
            file,
            &node.name,
            groups.groups,
            &mut self.names,
            Source::Csv,
            &mut self.problems,
        );
        if !acc.failures.is_empty() {
            let problems: Vec<String> = acc.failures.iter().map(FailureBlock::problem).collect();
            node.problem = Some(problems.join("; "));
            for block in &acc.failures {
                self.problems.push(failure_warning(file, &node.name, block));
            }
        }
        node
    }
}

fn host_node<'a, 'b>(
    by_host: &mut HashMap<String, usize>,
    nodes: &'b mut Vec<NodeAcc<'a>>,
    host: &str,
    line: usize,
) -> &'b mut NodeAcc<'a> {
    let at = *by_host.entry(host.to_string()).or_insert_with(|| {
        nodes.push(NodeAcc::new(Some(host.to_string()), line));
        nodes.len() - 1
    });
    let node = &mut nodes[at];
    node.first_line = node.first_line.min(line);
    node
}

// ---------------------------------------------------------------------------------------
// Tables.

/// `| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2 |`, and
/// R610's `KMD Version:` / `CUDA UMD Version:`.
struct Header<'a> {
    smi: Option<Version>,
    driver_text: Option<&'a str>,
    driver: Option<Version>,
    cuda: Option<Version>,
}

/// The first whitespace-separated token after `label`, without table borders.
fn token_after<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let at = line.find(label)?;
    line[at + label.len()..]
        .split_whitespace()
        .next()
        .map(|t| t.trim_end_matches('|'))
        .filter(|t| !t.is_empty())
}

fn parse_header(line: &str) -> Option<Header<'_>> {
    let at = line.find("NVIDIA-SMI ")?;
    let rest = &line[at..];
    let driver_text =
        token_after(rest, "Driver Version:").or_else(|| token_after(rest, "KMD Version:"));
    if driver_text.is_none() && !rest.contains("Driver Version:") && !rest.contains("KMD Version:")
    {
        return None;
    }
    let cuda =
        token_after(rest, "CUDA Version:").or_else(|| token_after(rest, "CUDA UMD Version:"));
    Some(Header {
        smi: token_after(rest, "NVIDIA-SMI ").and_then(|t| t.parse().ok()),
        driver_text,
        driver: driver_text.and_then(|t| t.parse().ok()),
        cuda: cuda.and_then(|t| t.parse().ok()),
    })
}

/// The host a shell prompt ran nvidia-smi on: `Some(Some(host))` for `user@host...$
/// nvidia-smi`, `Some(None)` for a prompt without a host (it ends the last one's scope).
fn prompt_host(line: &str) -> Option<Option<String>> {
    let at = line.find("nvidia-smi")?;
    let before = &line[..at];
    let prompt = before.rfind(['$', '#', '>'])?;
    let before = &before[..prompt];
    let Some(user_at) = before.rfind('@') else {
        return Some(None);
    };
    let host: String = before[user_at + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    Some((!host.is_empty()).then_some(host))
}

/// `==> NAME <==`, as `tail`/`head` print before each file.
fn file_marker(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix("==>")?.strip_suffix("<==")?.trim();
    (!inner.is_empty()).then(|| inner.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Outside,
    Header,
    Gpus,
    Mig,
    Processes,
}

#[derive(Debug)]
struct TableGpu<'a> {
    index: Option<u32>,
    line: usize,
    name: &'a str,
    /// The MIG M. cell: whether MIG is on now (`Enabled`, or `Disabled*` pending off).
    mig: bool,
}

#[derive(Debug)]
struct Table<'a> {
    line: usize,
    marker: Option<String>,
    driver_text: Option<&'a str>,
    driver: Option<Version>,
    smi: Option<Version>,
    cuda: Option<Version>,
    windows: bool,
    gpus: Vec<TableGpu<'a>>,
    mig_devices: Vec<u32>,
}

/// What a stream of table output held, in order.
enum Found<'a> {
    Table(Table<'a>),
    Failures {
        marker: Option<String>,
        block: FailureBlock,
    },
}

impl Found<'_> {
    fn line(&self) -> usize {
        match self {
            Found::Table(t) => t.line,
            Found::Failures { block, .. } => block.line,
        }
    }
}

/// The cells of a table line (`| a | b |` → `a`, `b`), untrimmed.
fn cells(line: &str) -> impl Iterator<Item = &str> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    line.split('|')
}

/// A GPU row's first cell: `   0  NVIDIA A100-SXM4-80GB          On  ` → (0, name, mode).
fn gpu_cell(cell: &str) -> Option<(u32, &str, &str)> {
    let cell = cell.trim();
    let digits = cell.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 4 {
        return None;
    }
    let rest = &cell[digits..];
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let index: u32 = cell[..digits].parse().ok()?;
    let rest = rest.trim();
    let (name, mode) = match rest.rsplit_once(char::is_whitespace) {
        Some((name, mode)) if ["On", "Off", "N/A", "WDDM", "TCC", "MCDM"].contains(&mode) => {
            (name.trim_end(), mode)
        }
        _ => (rest, ""),
    };
    (!name.is_empty()).then_some((index, name, mode))
}

struct Tables<'a> {
    file: &'a Path,
    text: &'a str,
    names: Names,
    problems: Vec<Diagnostic>,
}

impl<'a> Tables<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        Tables {
            file,
            text,
            names: Names::default(),
            problems: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Parsed> {
        let streams = demux(self.text, |rest| {
            let t = rest.trim_start();
            t.is_empty()
                || t.starts_with('|')
                || t.starts_with('+')
                || failure_line(t).is_some()
                || nvml_library_line(t).is_some()
        });
        let mut per_stream: Vec<(Option<&'a str>, Vec<Found<'a>>)> = Vec::new();
        for stream in &streams {
            per_stream.push((stream.host, scan(&stream.lines)));
        }
        let total_tables: usize = per_stream
            .iter()
            .map(|(_, f)| f.iter().filter(|x| matches!(x, Found::Table(_))).count())
            .sum();
        let total_found: usize = per_stream.iter().map(|(_, f)| f.len()).sum();
        if total_found == 0 {
            return Err(bad_inventory(
                self.file,
                first_text_line(self.text),
                format!(
                    "{}: no nvidia-smi table here: expected a header line such as `| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2 |` and a row per GPU",
                    file_name(self.file)
                ),
                &format!("pass the output of plain `nvidia-smi`, or of `{QUERY}`"),
            ));
        }

        // Table ordinals over the whole file, in file order.
        let mut table_lines: Vec<usize> = per_stream
            .iter()
            .flat_map(|(_, f)| f.iter())
            .filter_map(|x| match x {
                Found::Table(t) => Some(t.line),
                Found::Failures { .. } => None,
            })
            .collect();
        table_lines.sort_unstable();
        let ordinal = |line: usize| table_lines.binary_search(&line).map_or(0, |i| i + 1);

        let whole = file_name(self.file);
        let mut used: HashSet<String> = HashSet::new();
        let mut nodes: Vec<Node> = Vec::new();
        for (host, found) in per_stream {
            match host {
                Some(host) => {
                    let tables = found
                        .iter()
                        .filter(|x| matches!(x, Found::Table(_)))
                        .count();
                    let mut node_for_failures: Option<usize> = None;
                    let mut pending_failures: Vec<FailureBlock> = Vec::new();
                    let mut k = 0;
                    for item in found {
                        match item {
                            Found::Table(table) => {
                                k += 1;
                                let name = if tables == 1 {
                                    host.to_string()
                                } else {
                                    format!("{host} (table {k})")
                                };
                                nodes.push(self.finish_table(name, table));
                                if tables == 1 {
                                    node_for_failures = Some(nodes.len() - 1);
                                }
                            }
                            Found::Failures { block, .. } => pending_failures.push(block),
                        }
                    }
                    for block in pending_failures {
                        match node_for_failures {
                            Some(at) => {
                                let node = &mut nodes[at];
                                self.problems
                                    .push(failure_warning(self.file, &node.name, &block));
                                let p = block.problem();
                                node.problem = Some(match node.problem.take() {
                                    Some(old) => format!("{old}; {p}"),
                                    None => p,
                                });
                            }
                            None => {
                                let name = if tables == 0 {
                                    host.to_string()
                                } else {
                                    format!("{host}:{}", block.line)
                                };
                                nodes.push(self.failure_node(name, &block));
                                if tables == 0 {
                                    node_for_failures = Some(nodes.len() - 1);
                                }
                            }
                        }
                    }
                }
                None => {
                    let only = total_found == 1;
                    for item in found {
                        match item {
                            Found::Table(table) => {
                                let n = ordinal(table.line);
                                let name = match &table.marker {
                                    Some(m) if !used.contains(m) => m.clone(),
                                    Some(m) => format!("{m} (table {n})"),
                                    None if total_tables == 1 && only => whole.clone(),
                                    None if total_tables == 1 => format!("{whole} (table 1)"),
                                    None => format!("{whole} (table {n})"),
                                };
                                used.insert(name.clone());
                                nodes.push(self.finish_table(name, table));
                            }
                            Found::Failures { marker, block } => {
                                let name = match marker {
                                    Some(m) if !used.contains(&m) => m,
                                    _ if only => whole.clone(),
                                    _ => format!("{whole}:{}", block.line),
                                };
                                used.insert(name.clone());
                                nodes.push(self.failure_node(name, &block));
                            }
                        }
                    }
                }
            }
        }
        nodes.sort_by_key(|n| n.location.line);
        Ok(Parsed {
            nodes,
            problems: self.problems,
        })
    }

    fn failure_node(&mut self, name: String, block: &FailureBlock) -> Node {
        let mut node = new_node(self.file, name, block.line);
        node.problem = Some(block.problem());
        self.problems
            .push(failure_warning(self.file, &node.name, block));
        node
    }

    fn finish_table(&mut self, name: String, mut table: Table<'a>) -> Node {
        let file = self.file;
        table.mig_devices.sort_unstable();
        table.mig_devices.dedup();
        let mut node = new_node(file, name, table.line);
        node.driver = table.driver;
        node.driver_cuda = table.cuda;
        node.wsl = table.windows
            || matches!((table.smi, table.driver), (Some(smi), Some(driver)) if smi != driver);
        if node.driver.is_none() {
            self.problems.push(
                Diagnostic::warning(
                    "inventory-node-unknown",
                    format!(
                        "node `{}`: the driver version `{}` could not be read; the node is kept and judged unknown",
                        node.name,
                        table.driver_text.unwrap_or("")
                    ),
                )
                .at(Some(node.location.clone()))
                .with_help("the header line should read `Driver Version: 535.104.05` (or `KMD Version:`)"),
            );
        }
        let mut groups = GpuGroups::default();
        for gpu in &table.gpus {
            let on = gpu.mig
                || gpu
                    .index
                    .is_some_and(|i| table.mig_devices.binary_search(&i).is_ok());
            groups.add(gpu.name, None, on.then(|| "enabled".to_string()), gpu.line);
        }
        node.gpus = resolve_gpus(
            file,
            &node.name,
            groups.groups,
            &mut self.names,
            Source::Table,
            &mut self.problems,
        );
        if node.gpus.is_empty() {
            node.problem = Some("the nvidia-smi table lists no GPU (cut short?)".to_string());
            self.problems.push(
                Diagnostic::warning(
                    "inventory-node-unknown",
                    format!(
                        "node `{}`: the nvidia-smi table lists no GPU; the node is kept and judged unknown",
                        node.name
                    ),
                )
                .at(Some(node.location.clone()))
                .with_help("pass the whole table, with its GPU rows"),
            );
        }
        node
    }
}

/// Reads one stream's tables and error blocks.
fn scan<'a>(lines: &[(usize, &'a str)]) -> Vec<Found<'a>> {
    let mut found: Vec<Found<'a>> = Vec::new();
    let mut section = Section::Outside;
    let mut table: Option<Table<'a>> = None;
    let mut marker: Option<String> = None;
    let mut block: Option<FailureBlock> = None;
    let mut block_marker: Option<String> = None;

    fn close<'a>(found: &mut Vec<Found<'a>>, table: &mut Option<Table<'a>>) {
        if let Some(t) = table.take() {
            found.push(Found::Table(t));
        }
    }
    fn close_block(
        found: &mut Vec<Found<'_>>,
        block: &mut Option<FailureBlock>,
        marker: &mut Option<String>,
    ) {
        if let Some(b) = block.take() {
            found.push(Found::Failures {
                marker: marker.take(),
                block: b,
            });
        }
    }

    for &(no, line) in lines {
        let t = line.trim();
        if let Some(header) = parse_header(t) {
            close(&mut found, &mut table);
            close_block(&mut found, &mut block, &mut block_marker);
            table = Some(Table {
                line: no,
                marker: marker.take(),
                driver_text: header.driver_text,
                driver: header.driver,
                smi: header.smi,
                cuda: header.cuda,
                windows: false,
                gpus: Vec::new(),
                mig_devices: Vec::new(),
            });
            section = Section::Header;
            continue;
        }
        let in_table = t.starts_with('|') || t.starts_with('+');
        if section != Section::Outside {
            if t.is_empty() || t.starts_with('+') {
                continue;
            }
            if !in_table {
                close(&mut found, &mut table);
                section = Section::Outside;
            } else if let Some(tbl) = table.as_mut() {
                let title = cells(t).next().unwrap_or("").trim();
                if title.starts_with("MIG devices") {
                    section = Section::Mig;
                    continue;
                }
                if title.starts_with("Processes") {
                    section = Section::Processes;
                    continue;
                }
                // A GPU row right after the column titles (a table without its `|===` line).
                if section == Section::Header && !t.starts_with("|=") && gpu_cell(title).is_some() {
                    section = Section::Gpus;
                }
                match section {
                    Section::Header => {
                        if t.starts_with("|=") {
                            section = Section::Gpus;
                        } else if t.contains("TCC/WDDM") || t.contains("Driver-Model") {
                            tbl.windows = true;
                        }
                    }
                    Section::Gpus => {
                        if let Some((index, name, mode)) = gpu_cell(title) {
                            tbl.windows |= matches!(mode, "WDDM" | "TCC" | "MCDM");
                            tbl.gpus.push(TableGpu {
                                index: Some(index),
                                line: no,
                                name,
                                mig: false,
                            });
                        } else if let Some(gpu) = tbl.gpus.last_mut() {
                            let last = cells(t).map(str::trim).filter(|c| !c.is_empty()).last();
                            match last {
                                Some("Enabled" | "Disabled*") => gpu.mig = true,
                                Some("Disabled" | "Enabled*") => gpu.mig = false,
                                _ => {}
                            }
                        }
                    }
                    Section::Mig => {
                        let first = title.split_whitespace().next().unwrap_or("");
                        if let Ok(index) = first.parse::<u32>() {
                            tbl.mig_devices.push(index);
                        }
                    }
                    Section::Processes | Section::Outside => {}
                }
                continue;
            } else {
                section = Section::Outside;
            }
        }
        // Outside a table.
        if t.is_empty() {
            continue;
        }
        if FailureBlock::absorb(&mut block, no, t) {
            if block_marker.is_none() {
                block_marker = marker.take();
            }
            continue;
        }
        close_block(&mut found, &mut block, &mut block_marker);
        if let Some(m) = file_marker(t) {
            marker = Some(m);
        } else if let Some(host) = prompt_host(t) {
            marker = host;
        }
    }
    close(&mut found, &mut table);
    close_block(&mut found, &mut block, &mut block_marker);
    found.sort_by_key(Found::line);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Level;

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                include_str!(concat!("../../../tests/fixtures/inventories/smi/", $name)),
            )
        };
    }

    fn table((name, text): (&str, &str)) -> Parsed {
        parse_table(Path::new(name), text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn csv((name, text): (&str, &str)) -> Parsed {
        parse_csv(Path::new(name), text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn cc(s: &str) -> Option<Cc> {
        Some(Cc::parse_dotted(s).unwrap())
    }

    fn codes(p: &Parsed) -> Vec<&'static str> {
        p.problems.iter().map(|d| d.code).collect()
    }

    /// (reported, catalog name, cc, count, mig) of one GPU model.
    type GpuRowView<'a> = (
        &'a str,
        Option<&'static str>,
        Option<Cc>,
        u32,
        Option<&'a str>,
    );

    /// Each GPU model of a node, as a tuple for comparing.
    fn gpus(node: &Node) -> Vec<GpuRowView<'_>> {
        node.gpus
            .iter()
            .map(|g| {
                (
                    g.reported.as_str(),
                    g.gpu.map(|r| r.name),
                    g.cc,
                    g.count,
                    g.mig.as_deref(),
                )
            })
            .collect()
    }

    fn one(p: &Parsed) -> &Node {
        assert_eq!(p.nodes.len(), 1, "{:#?}", p.nodes);
        &p.nodes[0]
    }

    fn bad_inventory_line(e: Error) -> u32 {
        let d = e.diagnostics();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "bad-inventory");
        assert_eq!(d[0].level, Level::Error);
        d[0].location.as_ref().unwrap().line
    }

    // --- Tables, generation by generation ---------------------------------------------

    #[test]
    fn r331_table_without_cuda_version_unknown_gpu_kept() {
        let p = table(fixture!("table-r331-gtx680.txt"));
        let n = one(&p);
        assert_eq!(n.name, "gpu-1-12", "the prompt names the host");
        assert_eq!(n.location.line, 4);
        assert_eq!(n.driver, Some(v("331.62")));
        assert_eq!(n.driver_cuda, None);
        assert!(!n.wsl);
        assert_eq!(gpus(n), [("GeForce GTX 680", None, None, 3, None)]);
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
        assert_eq!(p.problems[0].location.as_ref().unwrap().line, 9);
    }

    #[test]
    fn r396_table_without_cuda_version() {
        let p = table(fixture!("table-r396-gtx1070.txt"));
        let n = one(&p);
        assert_eq!(n.name, "table-r396-gtx1070.txt");
        assert_eq!(n.location.line, 2);
        assert_eq!(n.driver, Some(v("396.24")));
        assert_eq!(n.driver_cuda, None);
        assert_eq!(
            gpus(n),
            [(
                "GeForce GTX 1070",
                Some("GeForce GTX 1070"),
                cc("6.1"),
                1,
                None
            )]
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn r410_table_with_cuda_version() {
        let p = table(fixture!("table-r410-k80.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("410.104")));
        assert_eq!(n.driver_cuda, Some(v("10.0")));
        assert_eq!(
            gpus(n),
            [("Tesla K80", Some("Tesla K80"), cc("3.7"), 1, None)]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn r440_to_r470_log_of_three_tables() {
        let p = table(fixture!("table-r440-r470-laptop-log.md"));
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "table-r440-r470-laptop-log.md (table 1)",
                "sie085-lap",
                "sie085-lap (table 3)"
            ]
        );
        let [a, b, c] = &p.nodes[..] else {
            unreachable!()
        };
        // R470 with the MIG M. row; the name is cut to `NVIDIA GeForce ...`.
        assert_eq!(a.driver, Some(v("470.63.01")));
        assert_eq!(a.driver_cuda, Some(v("11.4")));
        assert_eq!(gpus(a), [("NVIDIA GeForce ...", None, None, 1, None)]);
        // R440 without the MIG M. row.
        assert_eq!(b.driver, Some(v("440.100")));
        assert_eq!(b.driver_cuda, Some(v("10.2")));
        assert_eq!(
            gpus(b),
            [(
                "GeForce RTX 207...",
                Some("GeForce RTX 2070"),
                cc("7.5"),
                1,
                None
            )]
        );
        assert_eq!(c.driver, Some(v("460.39")));
        assert_eq!(c.driver_cuda, Some(v("11.2")));
        assert_eq!(gpus(c)[0].2, cc("7.5"));
        // Only the ambiguous name is warned about, and the warning lists candidates.
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
        let m = &p.problems[0].message;
        assert!(
            m.contains("cut the GPU name short") && m.contains("(8.9)"),
            "{m}"
        );
        assert_eq!(p.problems[0].location.as_ref().unwrap().line, 14);
    }

    #[test]
    fn r450_table_with_mig_row() {
        let p = table(fixture!("table-r450-titan-xp.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("450.57")));
        assert_eq!(n.driver_cuda, Some(v("11.0")));
        assert_eq!(
            gpus(n),
            [("TITAN Xp", Some("NVIDIA TITAN Xp"), cc("6.1"), 1, None)]
        );
    }

    #[test]
    fn r450_mig_enabled_on_seven_of_eight() {
        let p = table(fixture!("table-r450-a100-mig.log"));
        let n = one(&p);
        assert_eq!(n.name, "table-r450-a100-mig.log");
        assert_eq!(n.driver, Some(v("450.80.02")));
        assert_eq!(n.driver_cuda, Some(v("11.0")));
        assert_eq!(
            gpus(n),
            [
                ("A100-SXM4-40GB", Some("NVIDIA A100"), cc("8.0"), 1, None),
                (
                    "A100-SXM4-40GB",
                    Some("NVIDIA A100"),
                    cc("8.0"),
                    7,
                    Some("enabled")
                ),
            ]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn r515_linux_and_r530_wsl_tables() {
        let p = table(fixture!("table-r515-linux-and-r530-wsl.md"));
        assert_eq!(p.nodes.len(), 2);
        let (a, b) = (&p.nodes[0], &p.nodes[1]);
        assert_eq!(a.name, "table-r515-linux-and-r530-wsl.md (table 1)");
        assert_eq!(b.name, "table-r515-linux-and-r530-wsl.md (table 2)");
        assert!(!a.wsl);
        assert_eq!(a.driver, Some(v("515.65.01")));
        assert_eq!(a.driver_cuda, Some(v("11.7")));
        assert_eq!(
            gpus(a),
            [("NVIDIA TITAN V", Some("NVIDIA TITAN V"), cc("7.0"), 1, None)]
        );
        // WSL: NVIDIA-SMI 530.47 runs on the Windows driver 531.68.
        assert!(b.wsl);
        assert_eq!(b.driver, Some(v("531.68")));
        assert_eq!(b.driver_cuda, Some(v("12.1")));
        assert_eq!(gpus(b)[0].2, cc("8.6"));
    }

    #[test]
    fn r525_truncated_v100() {
        let p = table(fixture!("table-r525-v100-truncated.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("525.105.17")));
        assert_eq!(n.driver_cuda, Some(v("12.0")));
        assert_eq!(
            gpus(n),
            [(
                "Tesla V100-SXM2...",
                Some("NVIDIA V100"),
                cc("7.0"),
                1,
                None
            )]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn r535_wide_layout_with_mig() {
        let p = table(fixture!("table-r535-a100-mig.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("535.104.05")));
        assert_eq!(n.driver_cuda, Some(v("12.2")));
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA A100-SXM4-80GB",
                Some("NVIDIA A100"),
                cc("8.0"),
                1,
                Some("enabled")
            )]
        );
    }

    #[test]
    fn r545_wsl_with_cuda_err() {
        let p = table(fixture!("table-r545-wsl-cuda-err.txt"));
        let n = one(&p);
        assert!(n.wsl);
        assert_eq!(n.driver, Some(v("546.80")));
        assert_eq!(n.driver_cuda, None, "`CUDA Version: ERR!`");
        assert_eq!(gpus(n)[0].2, cc("8.6"));
        assert_eq!(n.gpus[0].gpu.unwrap().name, "GeForce RTX 3060");
    }

    #[test]
    fn r550_layouts() {
        let p = table(fixture!("table-r550-a100-mig-cuda-na.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("550.54.14")));
        assert_eq!(n.driver_cuda, None, "`CUDA Version: N/A`");
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA A100 80GB PCIe",
                Some("NVIDIA A100"),
                cc("8.0"),
                1,
                Some("enabled")
            )]
        );
        let p = table(fixture!("table-r550-tesla-p4.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("550.135")));
        assert_eq!(n.driver_cuda, Some(v("12.4")));
        assert_eq!(
            gpus(n),
            [("Tesla P4", Some("Tesla P4"), cc("6.1"), 1, None)]
        );
    }

    #[test]
    fn r555_wsl_prompt_names_the_node() {
        let p = table(fixture!("table-r555-wsl-rtx4070.txt"));
        let n = one(&p);
        assert_eq!(n.name, "eleven");
        assert!(n.wsl);
        assert_eq!(n.driver, Some(v("555.99")));
        assert_eq!(n.driver_cuda, Some(v("12.5")));
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA GeForce RTX 4070 ...",
                Some("GeForce RTX 4070"),
                cc("8.9"),
                1,
                None
            )]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn r580_table_in_a_readme() {
        let p = table(fixture!("table-r580-gtx960-readme.md"));
        let n = one(&p);
        assert_eq!(n.name, "table-r580-gtx960-readme.md");
        assert_eq!(n.location.line, 9);
        assert_eq!(n.driver, Some(v("580.82.09")));
        assert_eq!(n.driver_cuda, Some(v("13.0")));
        assert!(!n.wsl);
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA GeForce GTX 960",
                Some("GeForce GTX 960"),
                cc("5.2"),
                1,
                None
            )]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn r610_kmd_version() {
        let p = table(fixture!("table-r610-rtx3080-truncated.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("610.43.03")));
        assert_eq!(n.driver_cuda, Some(v("13.3")), "`CUDA UMD Version`");
        assert!(!n.wsl);
        assert_eq!(gpus(n)[0].2, cc("8.6"));
        let p = table(fixture!("table-r610-b200.txt"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("610.43.02")));
        assert_eq!(n.driver_cuda, Some(v("13.3")));
        assert_eq!(
            gpus(n),
            [("NVIDIA B200", Some("NVIDIA B200"), cc("10.0"), 2, None)]
        );
    }

    #[test]
    fn windows_table_with_driver_model_column() {
        let p = table(fixture!("table-windows-r460-wddm.txt"));
        let n = one(&p);
        assert!(n.wsl, "a Windows driver");
        assert_eq!(n.driver, Some(v("460.15")));
        assert_eq!(n.driver_cuda, Some(v("11.1")));
        assert_eq!(
            gpus(n),
            [(
                "GeForce RTX 207...",
                Some("GeForce RTX 2070"),
                cc("7.5"),
                1,
                None
            )]
        );
    }

    #[test]
    fn tables_are_not_failures() {
        for (name, text) in [
            fixture!("table-r331-gtx680.txt"),
            fixture!("table-r440-r470-laptop-log.md"),
            fixture!("table-r450-a100-mig.log"),
            fixture!("table-r580-gtx960-readme.md"),
            fixture!("table-windows-r460-wddm.txt"),
            fixture!("csv-header-mixed-models.csv"),
            fixture!("csv-noheader-na.csv"),
        ] {
            assert_eq!(failure(text), None, "{name}");
        }
    }

    // --- Several hosts in one table file -----------------------------------------------

    /// A real table (the R550 Tesla P4 capture) as `pdsh` would print it for two hosts,
    /// lines interleaved, plus a third host whose driver is not loaded.
    fn pdsh_tables() -> String {
        let (_, text) = fixture!("table-r550-tesla-p4.txt");
        let a100 = text.replace("Tesla P4                ", "NVIDIA A100-SXM4-80GB   ");
        let mut out = String::new();
        for (x, y) in text.lines().zip(a100.lines()) {
            out.push_str(&format!("gpu01: {x}\ngpu02: {y}\n"));
        }
        out.push_str("gpu03: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n");
        out
    }

    #[test]
    fn pdsh_prefixed_tables_are_one_node_per_host() {
        let text = pdsh_tables();
        let p = parse_table(Path::new("fleet.txt"), &text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["gpu01", "gpu02", "gpu03"]);
        assert_eq!(p.nodes[0].gpus[0].cc, cc("6.1"));
        assert_eq!(p.nodes[1].gpus[0].cc, cc("8.0"));
        assert_eq!(
            p.nodes[0].location.line, 5,
            "the header line of gpu01's table"
        );
        let down = &p.nodes[2];
        assert!(down.gpus.is_empty());
        assert_eq!(down.driver, None);
        assert!(down
            .problem
            .as_deref()
            .unwrap()
            .contains("no driver loaded"));
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
        assert_eq!(failure(&text), Some(Failure::NoDriver));
    }

    #[test]
    fn tail_markers_name_tables() {
        let (_, a) = fixture!("table-r410-k80.txt");
        let (_, b) = fixture!("table-r610-b200.txt");
        let text = format!(
            "==> gpu01.txt <==\n{a}\n==> gpu02.txt <==\n{b}\n==> gpu03.txt <==\nFailed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.183\n"
        );
        let p = parse_table(Path::new("all.txt"), &text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["gpu01.txt", "gpu02.txt", "gpu03.txt"]);
        assert_eq!(p.nodes[1].gpus[0].count, 2);
        assert!(p.nodes[2].problem.as_deref().unwrap().contains("535.183"));
    }

    #[test]
    fn table_file_with_an_error_between_tables() {
        let (_, a) = fixture!("table-r410-k80.txt");
        let text = format!("{a}\nNo devices were found\n{a}");
        let p = parse_table(Path::new("x.txt"), &text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["x.txt (table 1)", "x.txt:19", "x.txt (table 2)"]);
        assert_eq!(
            p.nodes[1].problem.as_deref(),
            Some("nvidia-smi found no devices")
        );
    }

    #[test]
    fn table_cut_before_its_gpu_rows_is_unknown() {
        let text =
            "| NVIDIA-SMI 460.56       Driver Version: 460.56       CUDA Version: 11.2     |\n";
        let p = parse_table(Path::new("h.txt"), text).unwrap();
        let n = one(&p);
        assert_eq!(n.driver, Some(v("460.56")));
        assert!(n.gpus.is_empty());
        assert!(n.problem.is_some());
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
    }

    #[test]
    fn table_errors_are_kept_as_nodes() {
        for (name, text) in [
            fixture!("error-no-driver.txt"),
            fixture!("error-version-mismatch.txt"),
            fixture!("error-wsl-device-handle.txt"),
            fixture!("error-gpu-lost.txt"),
        ] {
            let p = table((name, text));
            let n = one(&p);
            assert_eq!(n.name, name);
            assert!(n.gpus.is_empty() && n.problem.is_some(), "{name}");
            assert_eq!(codes(&p), ["inventory-node-unknown"], "{name}");
        }
    }

    #[test]
    fn table_garbage_and_empty_are_bad_inventory() {
        let e = parse_table(Path::new("e.txt"), "").unwrap_err();
        assert_eq!(bad_inventory_line(e), 1);
        let e = parse_table(Path::new("g.txt"), "\n\nhello\n| a | b |\n").unwrap_err();
        assert_eq!(bad_inventory_line(e), 3);
        let e = parse_table(
            Path::new("c.csv"),
            fixture!("csv-header-mixed-models.csv").1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("NVIDIA-SMI"), "{e}");
    }

    // --- CSV -------------------------------------------------------------------------

    #[test]
    fn csv_header_mixed_models_compute_cap_wins() {
        let p = csv(fixture!("csv-header-mixed-models.csv"));
        let n = one(&p);
        assert_eq!(n.name, "csv-header-mixed-models.csv");
        assert_eq!(n.location.line, 2);
        assert_eq!(n.driver, Some(v("570.86.15")));
        assert_eq!(n.driver_cuda, None, "CSV does not say it");
        assert_eq!(
            gpus(n),
            [
                ("NVIDIA TITAN V", Some("NVIDIA TITAN V"), cc("7.0"), 1, None),
                ("NVIDIA RTX 5880 Ada Generation", None, cc("8.9"), 1, None),
            ]
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn csv_noheader_with_na_values_guesses_the_name() {
        let p = csv(fixture!("csv-noheader-na.csv"));
        let n = one(&p);
        assert_eq!(n.driver, None);
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA GeForce RTX 3080",
                Some("GeForce RTX 3080"),
                cc("8.6"),
                1,
                None
            )]
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn csv_driver_only_keeps_unnamed_gpus() {
        let p = csv(fixture!("csv-noheader-driver-only.csv"));
        let n = one(&p);
        assert_eq!(n.driver, Some(v("515.57")));
        assert_eq!(gpus(n), [("", None, None, 2, None)]);
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
    }

    #[test]
    fn csv_compute_cap_only() {
        let p = csv(fixture!("csv-compute-cap-only.csv"));
        assert_eq!(gpus(one(&p)), [("", None, cc("8.9"), 1, None)]);
        assert!(p.problems.is_empty());
    }

    #[test]
    fn csv_header_without_gpu_columns_is_bad_inventory() {
        let (name, text) = fixture!("csv-units-no-name.csv");
        let e = parse_csv(Path::new(name), text).unwrap_err();
        assert!(
            e.to_string().contains("name, compute_cap, driver_version"),
            "{e}"
        );
        assert_eq!(bad_inventory_line(e), 1);
    }

    #[test]
    fn csv_errors_are_kept_as_nodes() {
        let p = csv(fixture!("error-version-mismatch.txt"));
        let n = one(&p);
        assert_eq!(n.name, "error-version-mismatch.txt");
        assert_eq!(n.location.line, 2);
        assert!(n.problem.as_deref().unwrap().contains("570.124"));
        let p = csv(fixture!("error-compute-cap-field.txt"));
        assert!(one(&p).problem.as_deref().unwrap().contains("510"));
        let p = csv(fixture!("error-wsl-device-handle.txt"));
        let problem = one(&p).problem.clone().unwrap();
        assert!(
            problem.contains("GPU0") && problem.contains("no devices"),
            "{problem}"
        );
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
    }

    #[test]
    fn csv_units_spaces_crlf_and_blank_lines() {
        let text = "name, compute_cap, driver_version, memory.total [MiB], mig.mode.current\r\n\r\n  NVIDIA A100-SXM4-80GB ,  8.0 , 535.104.05 , 81920 MiB , Enabled \r\n\r\nNVIDIA A100-SXM4-80GB, 8.0, 535.104.05, 81920 MiB, Enabled\r\n   \r\n";
        let p = parse_csv(Path::new("a.csv"), text).unwrap();
        let n = one(&p);
        assert_eq!(n.location.line, 3);
        assert_eq!(n.driver, Some(v("535.104.05")));
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA A100-SXM4-80GB",
                Some("NVIDIA A100"),
                cc("8.0"),
                2,
                Some("enabled")
            )]
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn csv_noheader_nounits_is_guessed() {
        let text = "0, NVIDIA H100 80GB HBM3, 00000000:18:00.0, GPU-0f0e, 9.0, 81559, 550.90.07\n1, NVIDIA H100 80GB HBM3, 00000000:2A:00.0, GPU-1a2b, 9.0, 81559, 550.90.07\n";
        let p = parse_csv(Path::new("n.csv"), text).unwrap();
        let n = one(&p);
        assert_eq!(n.driver, Some(v("550.90.07")));
        assert_eq!(
            gpus(n),
            [(
                "NVIDIA H100 80GB HBM3",
                Some("H100 SXM"),
                cc("9.0"),
                2,
                None
            )]
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn csv_noheader_power_draw_is_not_the_driver() {
        let text = "NVIDIA B200, 139.45, 610.43.02\nNVIDIA B200, 142.10, 610.43.02\n";
        let p = parse_csv(Path::new("n.csv"), text).unwrap();
        assert_eq!(one(&p).driver, Some(v("610.43.02")));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn csv_noheader_ambiguous_columns_get_a_note() {
        let text = "Tesla T4, 470.82.01, 470.82.01\n";
        let p = parse_csv(Path::new("n.csv"), text).unwrap();
        let n = one(&p);
        assert_eq!(n.driver, Some(v("470.82.01")));
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.problems[0].level, Level::Note);
        assert!(
            p.problems[0].message.contains("columns 2 and 3"),
            "{}",
            p.problems[0].message
        );
    }

    #[test]
    fn csv_pdsh_hosts_group_rows_and_keep_errors() {
        let text = "\
gpu01: NVIDIA A100-SXM4-80GB, 8.0, 535.104.05
gpu02: Tesla T4, 7.5, 470.82.01
gpu01: NVIDIA A100-SXM4-80GB, 8.0, 535.104.05
gpu03: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.
gpu02: NVIDIA L4, 8.9, 470.82.01
";
        let p = parse_csv(Path::new("fleet.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["gpu01", "gpu02", "gpu03"]);
        assert_eq!(gpus(&p.nodes[0])[0].3, 2);
        assert_eq!(p.nodes[0].driver, Some(v("535.104.05")));
        // Mixed models on one node: one entry each.
        assert_eq!(
            gpus(&p.nodes[1]),
            [
                ("Tesla T4", Some("Tesla T4"), cc("7.5"), 1, None),
                ("NVIDIA L4", Some("NVIDIA L4"), cc("8.9"), 1, None),
            ]
        );
        assert_eq!(p.nodes[2].location.line, 4);
        assert!(p.nodes[2].gpus.is_empty());
        assert!(p.nodes[2].problem.is_some());
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
    }

    #[test]
    fn csv_host_column() {
        let text = "hostname, name, compute_cap, driver_version\nnode-a, Tesla T4, 7.5, 535.54.03\nnode-b, Tesla T4, 7.5, 550.54.15\nnode-a, Tesla T4, 7.5, 535.54.03\n";
        let p = parse_csv(Path::new("h.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node-a", "node-b"]);
        assert_eq!(p.nodes[0].gpus[0].count, 2);
        assert_eq!(p.nodes[1].driver, Some(v("550.54.15")));
    }

    #[test]
    fn csv_concatenated_dumps_without_hosts() {
        // Drivers disagree and nothing says where one host ends: a node per row.
        let text = "NVIDIA A100-SXM4-80GB, 8.0, 535.104.05\nNVIDIA A100-SXM4-80GB, 8.0, 535.104.05\nTesla T4, 7.5, 470.82.01\n";
        let p = parse_csv(Path::new("all.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["all.csv:1", "all.csv:2", "all.csv:3"]);
        assert_eq!(p.nodes[2].driver, Some(v("470.82.01")));
        // A header per dump, or an index that starts again, separates the hosts.
        let text = "name, driver_version\nTesla T4, 535.54.03\nTesla T4, 535.54.03\nname, driver_version\nNVIDIA L4, 550.54.15\n";
        let p = parse_csv(Path::new("all.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["all.csv:2", "all.csv:5"]);
        assert_eq!(p.nodes[0].gpus[0].count, 2);
        let text = "index, name, driver_version\n0, Tesla T4, 535.54.03\n1, Tesla T4, 535.54.03\n0, NVIDIA L4, 550.54.15\n";
        let p = parse_csv(Path::new("all.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["all.csv:2", "all.csv:4"]);
    }

    #[test]
    fn csv_unknown_gpu_is_kept_with_a_warning() {
        let text =
            "name, driver_version\nGeForce GTX 680, 470.82.01\nTITAN X (Pascal), 470.82.01\n";
        let p = parse_csv(Path::new("u.csv"), text).unwrap();
        let n = one(&p);
        assert_eq!(n.gpus.len(), 2);
        assert!(n.gpus.iter().all(|g| g.gpu.is_none() && g.cc.is_none()));
        assert_eq!(
            codes(&p),
            ["inventory-node-unknown", "inventory-node-unknown"]
        );
        let lines: Vec<u32> = p
            .problems
            .iter()
            .map(|d| d.location.as_ref().unwrap().line)
            .collect();
        assert_eq!(lines, [2, 3]);
        assert!(p.problems[0]
            .help
            .as_deref()
            .unwrap()
            .contains("compute_cap"));
    }

    #[test]
    fn csv_compute_cap_disagreeing_with_the_catalog_wins_with_a_warning() {
        let text = "name, compute_cap, driver_version\nNVIDIA A100-SXM4-80GB, 9.0, 535.104.05\n";
        let p = parse_csv(Path::new("w.csv"), text).unwrap();
        let g = &one(&p).gpus[0];
        assert_eq!(g.cc, cc("9.0"));
        assert_eq!(codes(&p), ["inventory-suspect"]);
        assert_eq!(p.problems[0].level, Level::Warning);
    }

    #[test]
    fn csv_error_text_among_rows() {
        let text = "NVIDIA A100-SXM4-80GB, 535.104.05\nNVIDIA A100-SXM4-80GB, 535.104.05\nUnable to determine the device handle for GPU 0000:0B:00.0: Unknown Error\n";
        let p = parse_csv(Path::new("e.csv"), text).unwrap();
        let names: Vec<&str> = p.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["e.csv:1", "e.csv:3"]);
        assert_eq!(p.nodes[0].gpus[0].count, 2);
        assert!(p.nodes[1]
            .problem
            .as_deref()
            .unwrap()
            .contains("Unknown Error"));
    }

    #[test]
    fn csv_command_lines_and_comments_are_skipped() {
        let text = "$ nvidia-smi --query-gpu=name,compute_cap --format=csv\n# fleet of one\nname, compute_cap\nTesla T4, 7.5\n";
        let p = parse_csv(Path::new("c.csv"), text).unwrap();
        assert_eq!(one(&p).gpus[0].cc, cc("7.5"));
        assert!(p.problems.is_empty());
    }

    #[test]
    fn csv_empty_and_garbage_are_bad_inventory() {
        let e = parse_csv(Path::new("e.csv"), "").unwrap_err();
        assert!(e.to_string().contains("empty"));
        assert_eq!(bad_inventory_line(e), 1);
        let e = parse_csv(Path::new("e.csv"), "\n  \r\n").unwrap_err();
        assert_eq!(bad_inventory_line(e), 1);
        let e = parse_csv(Path::new("g.csv"), "\nhello world\nfoo, bar, baz\n").unwrap_err();
        assert!(e.to_string().contains("expected a header"), "{e}");
        assert_eq!(bad_inventory_line(e), 2);
    }

    #[test]
    fn csv_unreadable_lines_among_rows_are_one_warning() {
        let text = "Tesla T4, 535.54.03\nsome prose here\nmore prose\n";
        let p = parse_csv(Path::new("p.csv"), text).unwrap();
        assert_eq!(one(&p).gpus[0].cc, cc("7.5"));
        assert_eq!(codes(&p), ["inventory-suspect"]);
        assert!(
            p.problems[0].message.starts_with("2 lines"),
            "{}",
            p.problems[0].message
        );
    }

    #[test]
    fn list_output_names_gpus() {
        let p = csv(fixture!("list-titan-v-rtx5880.txt"));
        let n = one(&p);
        assert_eq!(n.driver, None);
        assert_eq!(
            gpus(n),
            [
                ("NVIDIA TITAN V", Some("NVIDIA TITAN V"), cc("7.0"), 1, None),
                ("NVIDIA RTX 5880 Ada Generation", None, None, 1, None),
            ]
        );
        assert_eq!(codes(&p), ["inventory-node-unknown"]);
        // MIG devices under a GPU (the layout of NVIDIA's MIG user guide; written here).
        let text = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)\n  MIG 1g.5gb      Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)\n  MIG 1g.5gb      Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)\nGPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-4c6b6a3d-0bd1-9a4f-2b0e-0d4f2c1b9e11)\n  MIG 3g.20gb     Device  0: (UUID: MIG-1d5e2c3a-6f7b-5a8c-9d0e-1f2a3b4c5d6e)\n  MIG 1g.5gb      Device  1: (UUID: MIG-2e6f3d4b-7a8c-5b9d-0e1f-2a3b4c5d6e7f)\n";
        let p = parse_csv(Path::new("l.txt"), text).unwrap();
        assert_eq!(
            gpus(one(&p)),
            [
                (
                    "NVIDIA A100-SXM4-40GB",
                    Some("NVIDIA A100"),
                    cc("8.0"),
                    1,
                    Some("1g.5gb")
                ),
                (
                    "NVIDIA A100-SXM4-40GB",
                    Some("NVIDIA A100"),
                    cc("8.0"),
                    1,
                    Some("enabled")
                ),
            ]
        );
    }

    // --- Errors ------------------------------------------------------------------------

    #[test]
    fn failures_recognized() {
        assert_eq!(
            failure(fixture!("error-no-driver.txt").1),
            Some(Failure::NoDriver)
        );
        assert_eq!(
            failure(fixture!("error-version-mismatch.txt").1),
            Some(Failure::VersionMismatch {
                nvml_library: Some(v("570.124"))
            })
        );
        assert_eq!(
            failure("Failed to initialize NVML: Driver/library version mismatch\n"),
            Some(Failure::VersionMismatch { nvml_library: None })
        );
        assert_eq!(
            failure(fixture!("error-compute-cap-field.txt").1),
            Some(Failure::InvalidField("compute_cap".to_string()))
        );
        assert_eq!(failure("No devices were found\n"), Some(Failure::NoDevices));
        let lost = failure(fixture!("error-gpu-lost.txt").1);
        assert!(
            matches!(&lost, Some(Failure::Other(l)) if l.contains("GPU is lost")),
            "{lost:?}"
        );
        let handle = failure(fixture!("error-wsl-device-handle.txt").1);
        assert!(
            matches!(&handle, Some(Failure::Other(l)) if l.starts_with("Unable to determine the device handle for GPU0")),
            "{handle:?}"
        );
        assert_eq!(
            failure("gpu07: Failed to initialize NVML: Unknown Error"),
            Some(Failure::Other(
                "Failed to initialize NVML: Unknown Error".to_string()
            ))
        );
        assert_eq!(
            failure("node1: Failed to initialize NVML: Driver/library version mismatch\nnode1: NVML library version: 535.183"),
            Some(Failure::VersionMismatch {
                nvml_library: Some(v("535.183"))
            })
        );
        assert_eq!(failure("name, driver_version\nTesla T4, 535.54.03\n"), None);
        assert_eq!(failure(""), None);
    }

    #[test]
    fn failure_messages_say_what_it_means() {
        assert!(Failure::NoDriver.message().contains("no driver loaded"));
        assert!(Failure::InvalidField("compute_cap".into())
            .message()
            .contains("510"));
        assert!(Failure::Other("x".into()).message().contains("\"x\""));
        assert!(!Failure::NoDevices.help().is_empty());
    }

    // --- Every fixture is listed, and nothing panics ------------------------------------

    const ALL: [(&str, &str); 28] = [
        fixture!("csv-compute-cap-only.csv"),
        fixture!("csv-header-mixed-models.csv"),
        fixture!("csv-noheader-driver-only.csv"),
        fixture!("csv-noheader-na.csv"),
        fixture!("csv-units-no-name.csv"),
        fixture!("error-compute-cap-field.txt"),
        fixture!("error-gpu-lost.txt"),
        fixture!("error-no-driver.txt"),
        fixture!("error-version-mismatch.txt"),
        fixture!("error-wsl-device-handle.txt"),
        fixture!("list-titan-v-rtx5880.txt"),
        fixture!("table-r331-gtx680.txt"),
        fixture!("table-r396-gtx1070.txt"),
        fixture!("table-r410-k80.txt"),
        fixture!("table-r440-r470-laptop-log.md"),
        fixture!("table-r450-a100-mig.log"),
        fixture!("table-r450-titan-xp.txt"),
        fixture!("table-r515-linux-and-r530-wsl.md"),
        fixture!("table-r525-v100-truncated.txt"),
        fixture!("table-r535-a100-mig.txt"),
        fixture!("table-r545-wsl-cuda-err.txt"),
        fixture!("table-r550-a100-mig-cuda-na.txt"),
        fixture!("table-r550-tesla-p4.txt"),
        fixture!("table-r555-wsl-rtx4070.txt"),
        fixture!("table-r580-gtx960-readme.md"),
        fixture!("table-r610-b200.txt"),
        fixture!("table-r610-rtx3080-truncated.txt"),
        fixture!("table-windows-r460-wddm.txt"),
    ];

    #[test]
    fn readme_lists_every_fixture_with_a_source() {
        let readme = include_str!("../../../tests/fixtures/inventories/smi/README.md");
        for (name, _) in ALL {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{name}`")))
                .unwrap_or_else(|| panic!("README.md does not list {name}"));
            assert!(row.contains("https://github.com/"), "{name}: no source URL");
        }
    }

    /// Both readers on every prefix (by line) of every fixture, on every prefix (by
    /// character) of two small ones, and on pseudo-random text made of the pieces nvidia-smi output
    /// is made of: an error or nodes, never a panic; and every node has a location.
    #[test]
    fn no_panics_on_cut_or_random_input() {
        let check = |text: &str| {
            for parsed in [
                parse_csv(Path::new("f"), text),
                parse_table(Path::new("f"), text),
            ]
            .into_iter()
            .flatten()
            {
                assert!(!parsed.nodes.is_empty());
                for n in &parsed.nodes {
                    assert!(n.location.line >= 1);
                    assert!(n.gpus.iter().all(|g| g.count >= 1));
                }
            }
            let _ = failure(text);
        };
        for (_, text) in ALL {
            let mut end = 0;
            for line in text.split_inclusive('\n') {
                end += line.len();
                check(&text[..end]);
            }
        }
        for (_, text) in [
            fixture!("table-r450-titan-xp.txt"),
            fixture!("csv-noheader-na.csv"),
        ] {
            for (i, _) in text.char_indices() {
                check(&text[..i]);
            }
        }
        const PIECES: [&str; 32] = [
            "|",
            "+",
            "-",
            "=",
            " ",
            "  ",
            "\n",
            "\r\n",
            ",",
            ": ",
            "NVIDIA-SMI ",
            "Driver Version: ",
            "KMD Version: ",
            "CUDA Version: ",
            "535.104.05",
            "8.0",
            "12.0",
            "...",
            "\u{2026}",
            "MIG",
            "MIG devices:",
            "Processes:",
            "Enabled",
            "Disabled*",
            "gpu01",
            "Tesla T4",
            "name",
            "index",
            "é",
            "\u{1F5A5}",
            "[N/A]",
            "Failed to initialize NVML: Driver/library version mismatch",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let mut text = String::new();
            let len = (state % 60) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            check(&text);
            let _ = identify(&text);
        }
    }
}
