//! `cargo xtask verify-torch [--all | VERSION...] [--drop-wheels]`: check `torch.toml`
//! against the PyTorch wheels on PyPI.
//!
//! For each release it downloads the Linux x86_64 wheel `pip install torch==X.Y.Z` gets
//! (cached), reads `torch/version.py` and the GPU code of torch's own CUDA library
//! (`torch/lib/libtorch_cuda.so`, or the `_cu`/`_cpp` halves of the split 1.x builds) out
//! of the zip, and compares them with the release's row:
//!
//! - the wheel's local version (`2.4.1+cu121`) must be the row's `pypi_default`, and the
//!   `cuda` of `version.py` that variant's `cuda`;
//! - the *main SASS set*, the plain SASS architectures of the dominant container signature
//!   (the code set most fat-binary containers share: the flags torch's own kernels were
//!   built with), must be the variant's `sass`, and its PTX the variant's `ptx`. The
//!   signature is the one most common among the containers whose smallest cubin (or PTX)
//!   names a symbol in torch's namespaces (`at::`, `c10::`, `caffe2::`, `torch::`): the
//!   cu102 wheels also link cuDNN and cuSPARSE statically, and in 1.11.0 their containers
//!   outnumber torch's own. Code that only some containers carry (`sm_90a` kernels, those
//!   libraries) is reported with its container count, not compared.
//!
//! Without a version it checks the newest release; `--all` checks every release the
//! catalog lists with a CPython 3.10 or 3.11 wheel (1.11.0 on). The wheel is the cp311 one
//! where the release has it, else cp310. `--drop-wheels` deletes each wheel this run
//! downloaded once it is checked (a wheel is 0.5 to 2.5 GB).
//!
//! Environment: `GPUARCH_TOOLKIT_CACHE` (the wheels are kept there beside the compiler
//! wheels; default `<workspace>/.cache/toolkits`) and `GPUARCH_REQUIRE_NETWORK=1` (no
//! package index is a failure, not a skip), as for `verify-toolkits`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use gpuarch_build::artifact::{self, Entry};
use gpuarch_build::deploy::facts::{self, TorchRelease, TorchVariant};
use gpuarch_build::{verify, Cc, Code, CodeKind, Variant, Version};

use crate::toolkits::{self, free_bytes, offline_reason, Offline};

const USAGE: &str = "usage: cargo xtask verify-torch [--all | VERSION...] [--drop-wheels]";

/// torch's own CUDA kernels: one library, or two halves in the split builds of 1.x.
const LIBRARIES: &[&str] = &[
    "torch/lib/libtorch_cuda.so",
    "torch/lib/libtorch_cuda_cu.so",
    "torch/lib/libtorch_cuda_cpp.so",
];

/// Mangled-name fragments of torch's namespaces: `at::` (`_ZN2at6native...`, and as
/// template arguments of cub/thrust kernels, `...IN2at...`), `c10::`, `caffe2::`, `torch::`.
/// NVIDIA's libraries (cuDNN, cuSPARSE, NCCL) use none of them.
const TORCH_MARKERS: &[&[u8]] = &[b"N2at", b"N3c10", b"N6caffe2", b"N5torch"];

/// Free space wanted in the cache before a download: the largest wheel is about 2.5 GB.
const FREE_BYTES_NEEDED: u64 = 4 << 30;

/// A library larger than this is not a torch library (guards the allocation).
const MAX_LIBRARY_BYTES: u64 = 8 << 30;

/// One wheel to check: a PyPI release and the CPython tag of its wheel.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Request {
    version: String,
    python: &'static str,
}

enum Outcome {
    Agrees { tag: String, summary: String },
    Disagrees { tag: String, diffs: Vec<String> },
    Skipped(String),
}

pub fn run(args: &[String]) -> Result<()> {
    let drop_wheels = args.iter().any(|a| a == "--drop-wheels");
    let args: Vec<String> = args
        .iter()
        .filter(|a| *a != "--drop-wheels")
        .cloned()
        .collect();
    facts::check().context("gpuarch-build/data/torch.toml is malformed")?;
    let requests = select(&args, facts::torch_releases())?;
    let mut wheels = Wheels::from_env()?;
    let require_network = std::env::var("GPUARCH_REQUIRE_NETWORK").is_ok_and(|v| v == "1");

    let (mut agree, mut failed, mut skipped) = (0, 0, 0);
    for request in &requests {
        let version = &request.version;
        match verify_release(request, &mut wheels, drop_wheels) {
            Ok(Outcome::Agrees { tag, summary }) => {
                agree += 1;
                println!("{version:<7} {tag:<6} ok ({summary})");
            }
            Ok(Outcome::Disagrees { tag, diffs }) => {
                failed += 1;
                println!("{version:<7} {tag:<6} DISAGREES with torch.toml");
                for diff in diffs {
                    println!("{:<14} {diff}", "");
                }
            }
            Ok(Outcome::Skipped(reason)) => {
                skipped += 1;
                println!(
                    "{version:<7} {:<6} SKIPPED: cannot reach the package index ({reason})",
                    ""
                );
            }
            Err(err) => {
                failed += 1;
                println!("{version:<7} {:<6} ERROR: {err:#}", "");
            }
        }
    }
    println!(
        "verify-torch: {} checked, {agree} ok, {failed} failed, {skipped} skipped",
        requests.len()
    );
    if failed > 0 {
        bail!("{failed} release(s) failed the check against gpuarch-build/data/torch.toml");
    }
    if skipped > 0 && require_network {
        bail!("{skipped} release(s) skipped for lack of network and GPUARCH_REQUIRE_NETWORK=1");
    }
    Ok(())
}

/// `--all`: every patch of every release with a cp310/cp311 wheel; versions: those;
/// nothing: the newest patch of the newest such release.
fn select(args: &[String], releases: &[TorchRelease]) -> Result<Vec<Request>> {
    let mut with_wheel = Vec::new();
    for release in releases {
        if let Some(python) = python_tag(&release.python)
            .with_context(|| format!("python of torch.toml release {}", release.version))?
        {
            with_wheel.push((release, python));
        }
    }
    let request = |patch: &Version, python| Request {
        version: patch.to_string(),
        python,
    };
    if args.iter().any(|a| a == "--all") {
        ensure!(args.len() == 1, "--all takes no versions; {USAGE}");
        return Ok(with_wheel
            .iter()
            .flat_map(|(r, py)| r.patches.iter().map(|p| request(p, *py)))
            .collect());
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        bail!("unknown option {flag}; {USAGE}");
    }
    if args.is_empty() {
        let (release, python) = with_wheel
            .last()
            .context("torch.toml has no release with a CPython 3.10 or 3.11 wheel")?;
        let patch = release
            .patches
            .last()
            .context("a release without patches")?;
        return Ok(vec![request(patch, python)]);
    }
    let mut out = Vec::new();
    for arg in args {
        let version: Version = arg
            .parse()
            .ok()
            .filter(|v: &Version| v.parts == 3)
            .with_context(|| format!("{arg:?} is not a PyTorch release such as 2.4.1"))?;
        let release = facts::find_torch(&version)
            .filter(|r| releases.contains(r))
            .with_context(|| format!("torch.toml lists no release {arg} in any `patches`"))?;
        let python = python_tag(&release.python)?.with_context(|| {
            format!(
                "torch {arg} has no CPython 3.10 or 3.11 wheel (python {})",
                release.python
            )
        })?;
        out.push(request(&version, python));
    }
    Ok(out)
}

/// The wheel to check for a release's `python` specifier: cp311 where it has one, else
/// cp310 (1.11 and 1.12 stop at 3.10), else none (1.8 to 1.10 stop at 3.9).
fn python_tag(spec: &str) -> Result<Option<&'static str>> {
    for (minor, tag) in [(11, "cp311"), (10, "cp310")] {
        if python_allows(spec, minor)? {
            return Ok(Some(tag));
        }
    }
    Ok(None)
}

/// Whether CPython 3.`minor` satisfies a specifier such as `>=3.8,<=3.12`.
fn python_allows(spec: &str, minor: u32) -> Result<bool> {
    let mut allowed = true;
    for clause in spec.split(',').map(str::trim) {
        let (op, rest) = [">=", "<=", "==", ">", "<"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest.trim())))
            .with_context(|| format!("`{clause}` in `{spec}` is not >=, <=, ==, > or < 3.X"))?;
        let bound = rest
            .strip_prefix("3.")
            .and_then(|m| m.parse::<u32>().ok())
            .with_context(|| format!("`{clause}` in `{spec}` does not name a CPython 3.X"))?;
        allowed &= match op {
            ">=" => minor >= bound,
            "<=" => minor <= bound,
            "==" => minor == bound,
            ">" => minor > bound,
            _ => minor < bound,
        };
    }
    Ok(allowed)
}

fn verify_release(request: &Request, wheels: &mut Wheels, drop_wheels: bool) -> Result<Outcome> {
    let version: Version = request.version.parse()?;
    let release = facts::find_torch(&version)
        .with_context(|| format!("torch.toml lists no release {}", request.version))?;
    let (wheel, downloaded) = match wheels.get(&request.version, request.python) {
        Ok(found) => found,
        Err(err) => match offline_reason(&err) {
            Some(reason) => return Ok(Outcome::Skipped(reason.to_string())),
            None => return Err(err),
        },
    };
    let read = read_wheel(&wheel);
    if downloaded && drop_wheels {
        std::fs::remove_file(&wheel).with_context(|| format!("removing {}", wheel.display()))?;
    }
    let read = read?;
    let measured = main_set(&read.containers)
        .with_context(|| format!("{} holds no GPU code", read.libraries.join(", ")))?;
    let checked = compare(release, &read.version_py, &measured);
    let mut diffs = checked.diffs;
    if !read.problems.is_empty() {
        diffs.push(format!(
            "the libraries could not be read whole: {}",
            read.problems.join("; ")
        ));
    }
    if diffs.is_empty() {
        let mut summary = describe(&measured);
        if !checked.measured_row {
            summary.push_str("; the row is not marked measured");
        }
        Ok(Outcome::Agrees {
            tag: checked.tag,
            summary,
        })
    } else {
        diffs.push(format!("wheel: {}", describe(&measured)));
        Ok(Outcome::Disagrees {
            tag: checked.tag,
            diffs,
        })
    }
}

/// "main SASS 5.0 ... 9.0, no PTX; 412 of 415 containers; also sm_90a (2)".
fn describe(m: &MainSet) -> String {
    let mut s = format!("main SASS {}", cc_list(&m.sass));
    if !m.variant_sass.is_empty() {
        let _ = write!(s, " (+{})", join(&m.variant_sass));
    }
    if m.ptx.is_empty() {
        s.push_str(", no PTX");
    } else {
        let _ = write!(s, ", PTX {}", cc_list(&m.ptx));
    }
    let _ = write!(s, "; {} of {} containers", m.count, m.containers);
    if m.torch == 0 {
        s.push_str(", none naming a torch kernel");
    }
    if let Some(n) = m.outnumbered_by {
        let _ = write!(
            s,
            " (the {n} of another signature hold no torch kernels: bundled libraries)"
        );
    }
    if let Some(n) = m.close_runner_up {
        let _ = write!(s, " (a narrow call: the next signature has {n}");
        if m.torch > 0 {
            s.push_str(" naming torch kernels");
        }
        s.push(')');
    }
    if !m.others.is_empty() {
        let _ = write!(s, "; also {}", counted(&m.others));
    }
    s
}

/// "sm_89 (1), sm_90a (4)".
fn counted(codes: &BTreeMap<Code, usize>) -> String {
    codes
        .iter()
        .map(|(code, n)| format!("{code} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cc_list(list: &[Cc]) -> String {
    if list.is_empty() {
        "none".to_string()
    } else {
        join(list)
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `torch/version.py` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct VersionPy {
    /// `__version__`, `2.4.1+cu121`.
    version: Option<String>,
    /// `cuda`, `12.1`; `None` for a CPU build.
    cuda: Option<String>,
}

impl VersionPy {
    /// The local version, `cu121`.
    fn local(&self) -> Option<&str> {
        self.version.as_deref()?.split_once('+').map(|(_, l)| l)
    }
}

/// Reads the assignments `__version__ = '2.4.1+cu121'` and `cuda = '12.1'` (or, from 2.1,
/// `cuda: Optional[str] = '12.1'`); `None` values stay `None`.
fn parse_version_py(text: &str) -> VersionPy {
    let mut out = VersionPy::default();
    for line in text.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.split(':').next().unwrap_or(name).trim();
        let value = value.trim();
        let quoted = ['\'', '"']
            .iter()
            .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q))
            .map(str::to_string);
        match name {
            "__version__" => out.version = quoted,
            "cuda" => out.cuda = quoted,
            _ => {}
        }
    }
    out
}

/// The code torch's own kernels carry, read from the dominant container signature.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MainSet {
    /// Plain SASS capabilities of the dominant signature, ascending.
    sass: Vec<Cc>,
    /// Its `a`/`f` SASS (`9.0a`): reported, not compared.
    variant_sass: Vec<String>,
    /// Capabilities with PTX in the dominant signature.
    ptx: Vec<Cc>,
    /// How many containers have exactly the dominant signature, and how many there are.
    count: usize,
    containers: usize,
    /// How many containers name torch kernels (0: the signature is the dominant one of
    /// all containers).
    torch: usize,
    /// Where the next signature comes close (three quarters or more of the dominant one's
    /// containers, counting those that name torch kernels): that count.
    close_runner_up: Option<usize>,
    /// Where another signature has more containers than the dominant one, but none of
    /// them (or fewer) name torch kernels: its container count.
    outnumbered_by: Option<usize>,
    /// Codes outside the dominant signature and how many containers carry each.
    others: BTreeMap<Code, usize>,
}

/// One fat-binary container: its code, and whether it names torch kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Signature {
    codes: BTreeSet<Code>,
    torch: bool,
}

/// Whether a cubin or PTX names a symbol in one of torch's namespaces.
fn names_torch_kernels(content: &[u8]) -> bool {
    TORCH_MARKERS
        .iter()
        .any(|m| content.windows(m.len()).any(|w| w == *m))
}

/// The dominant signature: the code set shared by most of the containers that name torch
/// kernels (by most containers, where none does), on a tie the first in file order; and
/// what the other containers add. `None` without containers.
fn main_set(containers: &[Signature]) -> Option<MainSet> {
    // Each signature with its container count and how many of those name torch kernels.
    let mut counts: Vec<(&BTreeSet<Code>, usize, usize)> = Vec::new();
    for c in containers {
        let at = match counts.iter().position(|(s, _, _)| **s == c.codes) {
            Some(at) => at,
            None => {
                counts.push((&c.codes, 0, 0));
                counts.len() - 1
            }
        };
        counts[at].1 += 1;
        counts[at].2 += usize::from(c.torch);
    }
    let torch = containers.iter().filter(|c| c.torch).count();
    let weight = |&(_, all, marked): &(&BTreeSet<Code>, usize, usize)| {
        if torch > 0 {
            marked
        } else {
            all
        }
    };
    let best = counts.iter().map(weight).max()?;
    let at = counts.iter().position(|c| weight(c) == best)?;
    let (main, count, _) = counts.remove(at);
    let close_runner_up = counts
        .iter()
        .map(weight)
        .max()
        .filter(|n| n * 4 >= best * 3);
    let outnumbered_by = counts
        .iter()
        .map(|(_, all, _)| *all)
        .max()
        .filter(|n| *n > count);
    let mut sass = Vec::new();
    let mut variant_sass = Vec::new();
    let mut ptx = Vec::new();
    for code in main {
        match (code.kind, code.arch.variant) {
            (CodeKind::Sass, Variant::Plain) => sass.push(code.arch.cc),
            (CodeKind::Sass, _) => variant_sass.push(code.arch.dotted()),
            (CodeKind::Ptx, _) => ptx.push(code.arch.cc),
        }
    }
    ptx.dedup();
    let mut others: BTreeMap<Code, usize> = BTreeMap::new();
    for c in containers {
        for code in c.codes.difference(main) {
            *others.entry(*code).or_default() += 1;
        }
    }
    Some(MainSet {
        sass,
        variant_sass,
        ptx,
        count,
        containers: containers.len(),
        torch,
        close_runner_up,
        outnumbered_by,
        others,
    })
}

struct Checked {
    /// The wheel's variant, as its local version names it (or its CUDA, without one).
    tag: String,
    diffs: Vec<String>,
    /// The compared row has `measured = true`.
    measured_row: bool,
}

/// Compares a wheel with its release's row: the variant, its CUDA, SASS and PTX.
fn compare(release: &TorchRelease, py: &VersionPy, m: &MainSet) -> Checked {
    let mut diffs = Vec::new();
    let minor = &release.version;
    let tag = match (py.local(), &py.cuda) {
        (Some(local), _) => local.to_string(),
        (None, Some(cuda)) => {
            diffs.push(format!(
                "torch/version.py has no local version (__version__ = {:?})",
                py.version.as_deref().unwrap_or("")
            ));
            format!("cu{}", cuda.replace('.', ""))
        }
        (None, None) => {
            diffs.push("torch/version.py names no CUDA: not a CUDA wheel".to_string());
            return Checked {
                tag: "?".to_string(),
                diffs,
                measured_row: false,
            };
        }
    };
    if release.pypi_default.as_deref() != Some(tag.as_str()) {
        diffs.push(format!(
            "pypi_default of release {minor}: catalog {}, wheel {tag}",
            release.pypi_default.as_deref().unwrap_or("(none)")
        ));
    }
    let Some(variant) = release.variants.iter().find(|v| v.tag == tag) else {
        diffs.push(format!("release {minor} has no variant {tag}"));
        return Checked {
            tag,
            diffs,
            measured_row: false,
        };
    };
    match &py.cuda {
        Some(cuda) if cuda.parse::<Version>().is_ok_and(|c| c == variant.cuda) => {}
        Some(cuda) => diffs.push(format!(
            "cuda of {minor} {tag}: catalog {}, torch/version.py {cuda}",
            variant.cuda
        )),
        None => diffs.push(format!(
            "cuda of {minor} {tag}: catalog {}, torch/version.py None",
            variant.cuda
        )),
    }
    diffs.extend(compare_list("sass", minor, variant, &variant.sass, &m.sass));
    diffs.extend(compare_list("ptx", minor, variant, &variant.ptx, &m.ptx));
    Checked {
        tag,
        diffs,
        measured_row: variant.measured,
    }
}

fn compare_list(
    key: &str,
    minor: &Version,
    variant: &TorchVariant,
    catalog: &[Cc],
    wheel: &[Cc],
) -> Option<String> {
    if catalog == wheel {
        return None;
    }
    let (c, w): (BTreeSet<&Cc>, BTreeSet<&Cc>) = (catalog.iter().collect(), wheel.iter().collect());
    let missing: Vec<&Cc> = w.difference(&c).copied().collect();
    let extra: Vec<&Cc> = c.difference(&w).copied().collect();
    let mut line = format!(
        "{key} of {minor} {}: catalog [{}], wheel [{}]",
        variant.tag,
        join(catalog),
        join(wheel)
    );
    if !missing.is_empty() {
        let _ = write!(line, "; missing in catalog: {}", join(&missing));
    }
    if !extra.is_empty() {
        let _ = write!(line, "; not in the wheel: {}", join(&extra));
    }
    Some(line)
}

/// What a wheel holds, as far as this check reads it.
struct ReadWheel {
    version_py: VersionPy,
    /// The libraries read, for messages.
    libraries: Vec<String>,
    /// One per fat-binary container, over all the libraries.
    containers: Vec<Signature>,
    /// Damage the listing read past.
    problems: Vec<String>,
}

/// Reads `torch/version.py` and lists torch's CUDA libraries, each inflated into memory
/// in turn (nothing is extracted to disk).
fn read_wheel(wheel: &Path) -> Result<ReadWheel> {
    let file =
        std::fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .with_context(|| format!("{} is not a zip file", wheel.display()))?;
    let mut text = String::new();
    zip.by_name("torch/version.py")
        .context("the wheel has no torch/version.py")?
        .read_to_string(&mut text)
        .context("reading torch/version.py")?;
    let mut out = ReadWheel {
        version_py: parse_version_py(&text),
        libraries: Vec::new(),
        containers: Vec::new(),
        problems: Vec::new(),
    };
    for name in LIBRARIES {
        let Ok(mut member) = zip.by_name(name) else {
            continue;
        };
        let size = member.size();
        ensure!(size <= MAX_LIBRARY_BYTES, "{name} says it is {size} bytes");
        let started = Instant::now();
        let mut data = Vec::with_capacity(usize::try_from(size)?);
        member
            .read_to_end(&mut data)
            .with_context(|| format!("inflating {name}"))?;
        let listing = artifact::list(&data).with_context(|| format!("listing {name}"))?;
        let file = name.rsplit('/').next().unwrap_or(name);
        // The smallest entry of each container is enough to tell whose kernels it holds.
        let mut smallest: BTreeMap<usize, &Entry> = BTreeMap::new();
        for entry in &listing.entries {
            let slot = smallest.entry(entry.container).or_insert(entry);
            if entry.uncompressed_size < slot.uncompressed_size {
                *slot = entry;
            }
        }
        let mut unreadable = 0;
        for c in verify::containers(file, &listing.entries) {
            let torch = match smallest
                .get(&c.index)
                .map(|e| artifact::content::content(&data, e))
            {
                Some(Ok(content)) => names_torch_kernels(&content),
                Some(Err(_)) => {
                    unreadable += 1;
                    false
                }
                None => false,
            };
            out.containers.push(Signature {
                codes: c.codes.codes,
                torch,
            });
        }
        drop(data);
        eprintln!(
            "  {file}: {} MiB, {} entries, read and listed in {:.1} s",
            size >> 20,
            listing.entries.len(),
            started.elapsed().as_secs_f64()
        );
        out.problems
            .extend(listing.problems.iter().map(|p| format!("{file}: {p}")));
        if unreadable > 0 {
            out.problems.push(format!(
                "{file}: {unreadable} container(s) whose smallest entry does not decompress"
            ));
        }
        out.libraries.push(file.to_string());
    }
    ensure!(
        !out.libraries.is_empty(),
        "the wheel has none of {}: a CPU-only wheel?",
        LIBRARIES.join(", ")
    );
    Ok(out)
}

/// A torch wheel's file name: `torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct WheelName {
    version: String,
    /// The build tag (`3`); pip prefers the highest, and any to none.
    build: Option<u32>,
    python: String,
    abi: String,
    platform: String,
}

fn parse_wheel_name(name: &str) -> Option<WheelName> {
    let fields: Vec<&str> = name.strip_suffix(".whl")?.split('-').collect();
    let (version, build, rest) = match fields.as_slice() {
        ["torch", version, rest @ ..] if rest.len() == 3 => (*version, None, rest),
        ["torch", version, build, rest @ ..] if rest.len() == 3 => {
            (*version, Some(build.parse().ok()?), rest)
        }
        _ => return None,
    };
    Some(WheelName {
        version: version.to_string(),
        build,
        python: rest[0].to_string(),
        abi: rest[1].to_string(),
        platform: rest[2].to_string(),
    })
}

/// Whether a cached file is the wheel pip would download for `version` and `python`.
fn is_wanted(name: &WheelName, version: &str, python: &str) -> bool {
    name.version == version
        && name.python == python
        && name.abi == python
        && name
            .platform
            .split('.')
            .any(|p| p.starts_with("manylinux") && p.ends_with("_x86_64"))
}

/// The torch wheels in the toolkit cache, downloaded with pip on demand.
struct Wheels {
    dir: PathBuf,
    /// pip's reason once the index proved unreachable.
    unreachable: Option<String>,
}

impl Wheels {
    /// `GPUARCH_TOOLKIT_CACHE`, else `<workspace>/.cache/toolkits`, as `toolkits::Cache`.
    fn from_env() -> Result<Wheels> {
        let dir = std::env::var_os("GPUARCH_TOOLKIT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::workspace_root().join(".cache/toolkits"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir =
            std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
        Ok(Wheels {
            dir,
            unreachable: None,
        })
    }

    /// The newest build of the cached wheel, if any.
    fn cached(&self, version: &str, python: &str) -> Result<Option<PathBuf>> {
        let mut best: Option<(Option<u32>, PathBuf)> = None;
        for entry in std::fs::read_dir(&self.dir)
            .with_context(|| format!("listing {}", self.dir.display()))?
        {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_wheel_name)
            else {
                continue;
            };
            if is_wanted(&name, version, python)
                && best.as_ref().is_none_or(|(b, _)| name.build > *b)
            {
                best = Some((name.build, path));
            }
        }
        Ok(best.map(|(_, p)| p))
    }

    /// The wheel and whether this call downloaded it.
    fn get(&mut self, version: &str, python: &str) -> Result<(PathBuf, bool)> {
        if let Some(wheel) = self.cached(version, python)? {
            eprintln!("  torch=={version}: cached {}", wheel.display());
            return Ok((wheel, false));
        }
        let requirement = format!("torch=={version}");
        if let Some(reason) = &self.unreachable {
            return Err(Offline {
                requirement,
                reason: reason.clone(),
            }
            .into());
        }
        if let Some(free) = free_bytes(&self.dir) {
            ensure!(
                free >= FREE_BYTES_NEEDED,
                "only {:.1} GiB free in {}; a torch wheel needs up to 2.5 GB (set \
                 GPUARCH_TOOLKIT_CACHE elsewhere, or pass --drop-wheels)",
                free as f64 / f64::from(1 << 30),
                self.dir.display()
            );
        }
        eprintln!(
            "  downloading {requirement} ({python}) into {}",
            self.dir.display()
        );
        let started = Instant::now();
        // What pip on a current glibc Linux picks: manylinux2014 also admits manylinux1
        // and 2010 (1.11 to 2.6); 2.7 on are manylinux_2_28.
        let platforms = [
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--python-version",
            &python[2..],
            "--implementation",
            "cp",
            "--abi",
            python,
        ];
        if let Err(err) = toolkits::pip_download(&self.dir, &platforms, &requirement) {
            if let Some(offline) = err.downcast_ref::<Offline>() {
                self.unreachable = Some(offline.reason.clone());
            }
            return Err(err);
        }
        let wheel = self.cached(version, python)?.with_context(|| {
            format!(
                "pip download {requirement} succeeded but left no {python} wheel in {}",
                self.dir.display()
            )
        })?;
        let size = std::fs::metadata(&wheel).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "  downloaded {} ({} MiB) in {:.1} s",
            wheel.file_name().unwrap_or_default().to_string_lossy(),
            size >> 20,
            started.elapsed().as_secs_f64()
        );
        Ok((wheel, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpuarch_build::Arch;

    fn cc(s: &str) -> Cc {
        Cc::parse_dotted(s).unwrap()
    }

    fn ccs(list: &str) -> Vec<Cc> {
        list.split_whitespace().map(cc).collect()
    }

    /// `"sm_50 sm_90a compute_90"` as a container with torch kernels.
    fn sig(codes: &str) -> Signature {
        Signature {
            codes: codes
                .split_whitespace()
                .map(|c| Code::parse(c).unwrap())
                .collect(),
            torch: true,
        }
    }

    /// The same for a container of a bundled library.
    fn lib(codes: &str) -> Signature {
        Signature {
            torch: false,
            ..sig(codes)
        }
    }

    fn release(version: &str) -> &'static TorchRelease {
        facts::find_torch(&version.parse().unwrap()).unwrap()
    }

    #[test]
    fn reads_version_py_of_both_eras() {
        let old =
            "__version__ = '1.12.1+cu102'\ngit_version = 'abc'\nfrom typing import Optional\n\
                   debug = False\ncuda = '10.2'\nhip = None\n";
        let py = parse_version_py(old);
        assert_eq!(py.version.as_deref(), Some("1.12.1+cu102"));
        assert_eq!(py.local(), Some("cu102"));
        assert_eq!(py.cuda.as_deref(), Some("10.2"));

        let new = "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n\
                   __version__ = '2.4.1+cu121'\ndebug = False\ncuda: Optional[str] = '12.1'\n\
                   git_version = '38b96d3399a695e704ed39b60dac733c3fbf20e2'\nhip: Optional[str] = None\n";
        let py = parse_version_py(new);
        assert_eq!(py.local(), Some("cu121"));
        assert_eq!(py.cuda.as_deref(), Some("12.1"));

        let cpu = "__version__ = \"2.4.1\"\ncuda: Optional[str] = None\n";
        let py = parse_version_py(cpu);
        assert_eq!(py.version.as_deref(), Some("2.4.1"));
        assert_eq!(py.local(), None);
        assert_eq!(py.cuda, None);
    }

    #[test]
    fn picks_the_dominant_signature() {
        let main = "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90";
        let mut sigs = vec![sig(main); 5];
        sigs.push(sig(&format!("{main} sm_90a")));
        sigs.push(sig("sm_35 sm_50"));
        sigs.push(sig(&format!("{main} sm_90a")));
        let m = main_set(&sigs).unwrap();
        assert_eq!(m.sass, ccs("5.0 6.0 7.0 7.5 8.0 8.6 9.0"));
        assert!(m.ptx.is_empty() && m.variant_sass.is_empty());
        assert_eq!((m.count, m.containers, m.torch), (5, 8, 8));
        let others: Vec<(String, usize)> =
            m.others.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        assert_eq!(
            others,
            [("sm_35".to_string(), 1), ("sm_90a".to_string(), 2)]
        );
        assert_eq!(
            describe(&m),
            "main SASS 5.0 6.0 7.0 7.5 8.0 8.6 9.0, no PTX; 5 of 8 containers; also sm_35 (1), sm_90a (2)"
        );
        assert_eq!(main_set(&[]), None);
    }

    #[test]
    fn dominant_signature_keeps_variants_and_ptx_apart() {
        // A tie goes to the first in file order; `a` SASS and PTX are split out.
        let sigs = [
            sig("sm_80 sm_90a compute_90"),
            sig("sm_75"),
            sig("sm_80 sm_90a compute_90"),
            sig("sm_75"),
        ];
        let m = main_set(&sigs).unwrap();
        assert_eq!(m.sass, ccs("8.0"));
        assert_eq!(m.variant_sass, ["9.0a"]);
        assert_eq!(m.ptx, ccs("9.0"));
        assert_eq!(m.count, 2);
        assert_eq!(
            describe(&m),
            "main SASS 8.0 (+9.0a), PTX 9.0; 2 of 4 containers (a narrow call: the next signature has 2 naming torch kernels); also sm_75 (2)"
        );
        let _ = Arch::plain(cc("9.0"));
    }

    #[test]
    fn containers_naming_torch_kernels_pick_the_signature() {
        // 1.11.0 (cu102): the statically linked cuDNN's containers outnumber torch's own;
        // some built with torch's flags (NCCL) name no torch symbol but share its signature.
        let mut sigs = vec![lib("sm_35 sm_50 sm_60 sm_61 sm_70 sm_75"); 6];
        sigs.extend(vec![sig("sm_37 sm_50 sm_60 sm_70"); 4]);
        sigs.push(lib("sm_37 sm_50 sm_60 sm_70"));
        sigs.push(sig("sm_37 sm_50 sm_60 sm_70 sm_75"));
        sigs.push(lib("sm_35"));
        let m = main_set(&sigs).unwrap();
        assert_eq!(m.sass, ccs("3.7 5.0 6.0 7.0"));
        assert_eq!((m.count, m.containers, m.torch), (5, 13, 5));
        assert_eq!(m.outnumbered_by, Some(6));
        assert_eq!(
            describe(&m),
            "main SASS 3.7 5.0 6.0 7.0, no PTX; 5 of 13 containers (the 6 of another \
             signature hold no torch kernels: bundled libraries); also sm_35 (7), sm_61 (6), \
             sm_75 (7)"
        );
        // Without any container naming torch kernels, all of them count.
        let unmarked: Vec<Signature> = sigs
            .iter()
            .map(|c| Signature {
                torch: false,
                ..c.clone()
            })
            .collect();
        let m = main_set(&unmarked).unwrap();
        assert_eq!(m.torch, 0);
        assert_eq!(m.outnumbered_by, None);
        assert_eq!(m.sass, ccs("3.5 5.0 6.0 6.1 7.0 7.5"));
        assert!(describe(&m).contains(
            "; 6 of 13 containers, none naming a torch kernel (a narrow call: the next signature has 5);"
        ));
    }

    #[test]
    fn finds_torch_symbols() {
        assert!(names_torch_kernels(
            b"\0_ZN2at6native29vectorized_elementwise_kernelILi4E\0"
        ));
        assert!(names_torch_kernels(
            b"_ZN3cub11EmptyKernelIvEEvv\0_ZN3cub18DeviceReduceKernelIN2at4cuda"
        ));
        assert!(names_torch_kernels(b"_ZN3c1012function_refIFvvEE"));
        assert!(!names_torch_kernels(
            b"\0magmablas_dgemm_kernel\0_Z16cusparse_csrmv_kernelIfEvPKf\0"
        ));
        assert!(!names_torch_kernels(b""));
    }

    #[test]
    fn flags_a_close_runner_up() {
        let mut sigs = vec![sig("sm_37 sm_50 sm_60 sm_70"); 4];
        sigs.extend(vec![sig("sm_35 sm_50 sm_60 sm_61 sm_70 sm_75"); 3]);
        sigs.push(sig("sm_35"));
        let m = main_set(&sigs).unwrap();
        assert_eq!(m.sass, ccs("3.7 5.0 6.0 7.0"));
        assert_eq!(m.close_runner_up, Some(3));
        assert!(describe(&m).contains(
            "; 4 of 8 containers (a narrow call: the next signature has 3 naming torch kernels);"
        ));
        sigs.truncate(6);
        assert_eq!(main_set(&sigs).unwrap().close_runner_up, None);
    }

    fn measured(sass: &str, ptx: &str) -> MainSet {
        MainSet {
            sass: ccs(sass),
            variant_sass: Vec::new(),
            ptx: ccs(ptx),
            count: 10,
            containers: 12,
            torch: 12,
            close_runner_up: None,
            outnumbered_by: None,
            others: BTreeMap::new(),
        }
    }

    fn py(version: &str, cuda: Option<&str>) -> VersionPy {
        VersionPy {
            version: Some(version.to_string()),
            cuda: cuda.map(str::to_string),
        }
    }

    #[test]
    fn agrees_with_the_catalog_row() {
        let r = release("2.4.1");
        let checked = compare(
            r,
            &py("2.4.1+cu121", Some("12.1")),
            &measured("5.0 6.0 7.0 7.5 8.0 8.6 9.0", ""),
        );
        assert_eq!(checked.tag, "cu121");
        assert!(checked.diffs.is_empty(), "{:?}", checked.diffs);
        assert!(checked.measured_row);
    }

    #[test]
    fn reports_each_difference() {
        let r = release("2.4.1");
        let checked = compare(
            r,
            &py("2.4.1+cu121", Some("12.4")),
            &measured("5.0 6.0 7.0 7.5 8.0 8.6 8.9 9.0", "9.0"),
        );
        assert_eq!(
            checked.diffs,
            [
                "cuda of 2.4 cu121: catalog 12.1, torch/version.py 12.4",
                "sass of 2.4 cu121: catalog [5.0 6.0 7.0 7.5 8.0 8.6 9.0], wheel [5.0 6.0 7.0 7.5 8.0 8.6 8.9 9.0]; missing in catalog: 8.9",
                "ptx of 2.4 cu121: catalog [], wheel [9.0]; missing in catalog: 9.0",
            ]
        );
        // Another variant than pypi_default: compared with that variant's row.
        let checked = compare(
            r,
            &py("2.4.1+cu124", Some("12.4")),
            &measured("5.0 6.0 7.0 7.5 8.0 8.6", ""),
        );
        assert_eq!(checked.tag, "cu124");
        assert_eq!(
            checked.diffs,
            [
                "pypi_default of release 2.4: catalog cu121, wheel cu124",
                "sass of 2.4 cu124: catalog [5.0 6.0 7.0 7.5 8.0 8.6 9.0], wheel [5.0 6.0 7.0 7.5 8.0 8.6]; not in the wheel: 9.0",
            ]
        );
        let checked = compare(r, &py("2.4.1+cu999", Some("99.9")), &measured("5.0", ""));
        assert_eq!(
            checked.diffs,
            [
                "pypi_default of release 2.4: catalog cu121, wheel cu999",
                "release 2.4 has no variant cu999",
            ]
        );
        // No local version: the tag comes from the CUDA, and that is reported.
        let checked = compare(
            r,
            &py("2.4.1", Some("12.1")),
            &measured("5.0 6.0 7.0 7.5 8.0 8.6 9.0", ""),
        );
        assert_eq!(checked.tag, "cu121");
        assert_eq!(
            checked.diffs,
            ["torch/version.py has no local version (__version__ = \"2.4.1\")"]
        );
        let checked = compare(r, &py("2.4.1", None), &measured("5.0", ""));
        assert_eq!(checked.tag, "?");
        assert_eq!(checked.diffs.len(), 1);
    }

    #[test]
    fn python_tags_from_specifiers() {
        assert_eq!(python_tag(">=3.6,<=3.9").unwrap(), None);
        assert_eq!(python_tag(">=3.7,<=3.10").unwrap(), Some("cp310"));
        assert_eq!(python_tag(">=3.8,<=3.12").unwrap(), Some("cp311"));
        assert_eq!(python_tag(">=3.11,<=3.15").unwrap(), Some("cp311"));
        assert_eq!(python_tag(">=3.12").unwrap(), None);
        assert_eq!(python_tag(">3.9,<3.11").unwrap(), Some("cp310"));
        assert!(python_tag("~=3.8").is_err());
        assert!(python_tag(">=2.7").is_err());
    }

    #[test]
    fn selects_releases() {
        let releases = facts::torch_releases();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = select(&args(&["--all"]), releases).unwrap();
        // 1.8 to 1.10 have no cp310/cp311 wheel; 1.11 and 1.12 have cp310 only.
        assert!(all.iter().all(|r| !r.version.starts_with("1.8.")
            && !r.version.starts_with("1.9.")
            && !r.version.starts_with("1.10.")));
        let first = &all[0];
        assert_eq!((first.version.as_str(), first.python), ("1.11.0", "cp310"));
        assert!(all
            .iter()
            .any(|r| r.version == "2.4.1" && r.python == "cp311"));
        let newest = select(&[], releases).unwrap();
        assert_eq!(newest.len(), 1);
        assert_eq!(Some(&newest[0]), all.last());
        let picked = select(&args(&["1.12.1", "2.4.1"]), releases).unwrap();
        assert_eq!(picked[0].python, "cp310");
        assert_eq!(picked[1].python, "cp311");
        assert!(select(&args(&["1.9.0"]), releases).is_err());
        assert!(select(&args(&["2.4.9"]), releases).is_err());
        assert!(select(&args(&["2.4"]), releases).is_err());
        assert!(select(&args(&["--all", "2.4.1"]), releases).is_err());
        assert!(select(&args(&["--bogus"]), releases).is_err());
    }

    #[test]
    fn reads_wheel_names() {
        let tagged =
            parse_wheel_name("torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl").unwrap();
        assert_eq!(tagged.version, "2.10.0");
        assert_eq!(tagged.build, Some(3));
        assert!(is_wanted(&tagged, "2.10.0", "cp311"));
        assert!(!is_wanted(&tagged, "2.10.0", "cp310"));
        let old = parse_wheel_name("torch-1.12.1-cp310-cp310-manylinux1_x86_64.whl").unwrap();
        assert_eq!(old.build, None);
        assert!(is_wanted(&old, "1.12.1", "cp310"));
        assert!(!is_wanted(&old, "1.12.0", "cp310"));
        let mac = parse_wheel_name("torch-2.4.1-cp311-none-macosx_11_0_arm64.whl").unwrap();
        assert!(!is_wanted(&mac, "2.4.1", "cp311"));
        assert_eq!(
            parse_wheel_name("nvidia_nvvm-13.0.88-py3-none-any.whl"),
            None
        );
        assert_eq!(parse_wheel_name("torch-2.4.1.tar.gz"), None);
    }

    #[test]
    fn prefers_the_highest_build_tag() {
        let dir = std::env::temp_dir().join(format!("gpuarch-xtask-torch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "torch-2.10.0-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-2.10.0-3-cp310-cp310-manylinux_2_28_x86_64.whl",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let wheels = Wheels {
            dir: dir.clone(),
            unreachable: None,
        };
        let found = wheels.cached("2.10.0", "cp311").unwrap();
        let missing = wheels.cached("2.9.0", "cp311").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            found.unwrap().file_name().unwrap(),
            "torch-2.10.0-3-cp311-cp311-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(missing, None);
    }
}
