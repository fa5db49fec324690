//! `cargo xtask bench inspect [--runs N] [--cuobjdump PATH] [--gpuarch PATH] [--large]`:
//! `cargo gpuarch inspect` and `verify` against `cuobjdump --list-elf --list-ptx` on the
//! same large real file, in one run.
//!
//! The file is `libcurand.so.10` from NVIDIA's `nvidia-curand-cu12` wheel on PyPI
//! ([`CURAND_RELEASE`], 167 MB, 11 fat binary containers, 153 entries), downloaded once
//! with `python3 -m pip download --no-deps` into the toolkit cache (`GPUARCH_TOOLKIT_CACHE`,
//! default `<workspace>/.cache/toolkits`) and unpacked into `<target>/bench-inspect/`.
//!
//! Each round runs, one after the other and never in parallel, with output discarded:
//!
//! - `cuobjdump --list-elf --list-ptx FILE`,
//! - `cargo-gpuarch gpuarch inspect FILE`,
//! - `cargo-gpuarch gpuarch inspect --format json FILE`,
//! - `cargo-gpuarch gpuarch verify FILE --gpu A100 --gpu H100 --cuda 12.9` (when the
//!   binary has `verify`; exit 0 or 1, a verdict either way, both count as a run),
//!
//! `--runs` rounds (default 10) after one warm-up round. It prints each command's median
//! and minimum wall time, its peak RSS (the child's `ru_maxrss`, read through GNU
//! `/usr/bin/time` or, without it, Python's `os.wait4`, in separate untimed runs), and the
//! ratio cuobjdump/command: the median of the per-round ratios. It also checks that
//! cuobjdump's listing and gpuarch's JSON name the same entries (kind and architecture,
//! with multiplicity) and fails if they do not.
//!
//! `--large` adds the memory check: the same library with a 1.2 GB section of zeros added
//! by `objcopy --add-section` (a valid ELF with the same fat binaries, 8 times the size),
//! written to the temporary directory and removed afterwards; cuobjdump and gpuarch
//! inspect on it, interleaved with gpuarch inspect on a control (the library with a
//! 1-byte section, written by objcopy the same way: see [`large`] for why) and on the
//! original.
//!
//! Options:
//! - `--runs N`: timed rounds (default 10).
//! - `--cuobjdump PATH`: default `CUOBJDUMP`, else the one `cargo xtask toolkit install
//!   cuobjdump` unpacks into the toolkit cache (installing it if need be).
//! - `--gpuarch PATH`: the cargo-gpuarch binary; default: `cargo build --release -p
//!   cargo-gpuarch` in the workspace's target directory.
//! - `--large`: the large-file memory check (about 1.4 GB of free space, ~15 s more).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::{toolkits, workspace_root};

/// The `nvidia-curand-cu12` wheel whose library is measured.
pub const CURAND_RELEASE: &str = "10.3.10.19";
/// The library's path inside the wheel.
const CURAND_MEMBER: &str = "nvidia/curand/lib/libcurand.so.10";
/// The zeros `--large` adds to the library.
const PAD_BYTES: u64 = 1_200_000_000;
/// The `verify` arguments timed.
const VERIFY_ARGS: [&str; 6] = ["--gpu", "A100", "--gpu", "H100", "--cuda", "12.9"];
/// Untimed runs per command for the peak RSS (their median is reported).
const RSS_RUNS: usize = 3;

struct Options {
    runs: usize,
    cuobjdump: Option<PathBuf>,
    gpuarch: Option<PathBuf>,
    large: bool,
}

const USAGE: &str =
    "usage: cargo xtask bench inspect [--runs N] [--cuobjdump PATH] [--gpuarch PATH] [--large]";

pub fn run(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    let gpuarch = match &opts.gpuarch {
        Some(path) => path.clone(),
        None => build_gpuarch()?,
    };
    ensure!(
        gpuarch.is_file(),
        "no cargo-gpuarch binary at {}",
        gpuarch.display()
    );
    let cuobjdump = find_cuobjdump(opts.cuobjdump.as_deref())?;
    let library = curand_library()?;
    bench(&opts, &cuobjdump, &gpuarch, &library)
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        runs: 10,
        cuobjdump: None,
        gpuarch: None,
        large: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--runs" => {
                opts.runs = value()?.parse().context("--runs: a number")?;
                ensure!(opts.runs > 0, "--runs must be at least 1");
            }
            "--cuobjdump" => opts.cuobjdump = Some(PathBuf::from(value()?)),
            "--gpuarch" => opts.gpuarch = Some(PathBuf::from(value()?)),
            "--large" => opts.large = true,
            other => bail!("unknown argument `{other}`; {USAGE}"),
        }
    }
    Ok(opts)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn build_gpuarch() -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--release", "-p", "cargo-gpuarch"])
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "cargo build --release -p cargo-gpuarch failed"
    );
    Ok(target_dir().join("release/cargo-gpuarch"))
}

/// `--cuobjdump`, else `CUOBJDUMP`, else `cargo xtask toolkit install cuobjdump`'s (the
/// cuobjdump wheel of [`toolkits::DEFAULT_CUOBJDUMP`], downloaded once into the toolkit
/// cache); offline, the one an older layout unpacked into `.cache/cuobjdump` will do.
fn find_cuobjdump(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => match std::env::var_os("CUOBJDUMP") {
            Some(path) => PathBuf::from(path),
            None => {
                let installed = toolkits::Cache::from_env()
                    .and_then(|mut cache| cache.cuobjdump(toolkits::DEFAULT_CUOBJDUMP));
                let legacy = workspace_root().join(".cache/cuobjdump/nvidia/cu13/bin/cuobjdump");
                match installed {
                    Ok(path) => path,
                    Err(err) if legacy.is_file() => {
                        eprintln!(
                            "warning: cannot install cuobjdump {} ({err:#}); using {}",
                            toolkits::DEFAULT_CUOBJDUMP,
                            legacy.display()
                        );
                        legacy
                    }
                    Err(err) => {
                        return Err(err.context(
                            "no cuobjdump: pass --cuobjdump PATH, set CUOBJDUMP, or run \
                             `cargo xtask toolkit install cuobjdump` where PyPI can be reached",
                        ))
                    }
                }
            }
        },
    };
    ensure!(path.is_file(), "no cuobjdump at {}", path.display());
    Ok(path)
}

// ---------------------------------------------------------------------------------
// The file

/// `GPUARCH_TOOLKIT_CACHE`, else `<workspace>/.cache/toolkits`: where wheels are kept.
fn wheel_cache() -> PathBuf {
    std::env::var_os("GPUARCH_TOOLKIT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/toolkits"))
}

/// libcurand.so.10 of [`CURAND_RELEASE`], unpacked from its wheel (downloaded if need be).
fn curand_library() -> Result<PathBuf> {
    let dir = target_dir().join(format!("bench-inspect/curand-{CURAND_RELEASE}"));
    let library = dir.join("libcurand.so.10");
    if library.is_file() {
        return Ok(library);
    }
    let wheel = curand_wheel()?;
    let scratch = dir.join(".partial");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let unpacked = scratch.join("libcurand.so.10");
    eprintln!("unpacking {CURAND_MEMBER} from {}", wheel.display());
    unzip_member(&wheel, CURAND_MEMBER, &unpacked)?;
    std::fs::rename(&unpacked, &library)
        .with_context(|| format!("moving {} to {}", unpacked.display(), library.display()))?;
    std::fs::remove_dir_all(&scratch).with_context(|| format!("removing {}", scratch.display()))?;
    Ok(library)
}

/// The cached `nvidia_curand_cu12-<release>-*.whl`, else one `pip download` puts there.
fn curand_wheel() -> Result<PathBuf> {
    let cache = wheel_cache();
    let prefix = format!("nvidia_curand_cu12-{CURAND_RELEASE}-");
    let cached = || -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&cache)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
            })
            .collect();
        found.sort();
        found.pop()
    };
    if let Some(wheel) = cached() {
        return Ok(wheel);
    }
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    eprintln!(
        "downloading nvidia-curand-cu12=={CURAND_RELEASE} from PyPI into {}",
        cache.display()
    );
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps"])
        .args(["--disable-pip-version-check", "--only-binary=:all:", "-d"])
        .arg(&cache)
        .arg(format!("nvidia-curand-cu12=={CURAND_RELEASE}"))
        .status()
        .context("running python3 -m pip (is python3 with pip installed?)")?;
    ensure!(
        status.success(),
        "pip download of nvidia-curand-cu12=={CURAND_RELEASE} failed ({status})"
    );
    cached().with_context(|| format!("pip left no {prefix}*.whl in {}", cache.display()))
}

/// One member of a zip file to `to`: with `unzip` where there is one, else Python's zipfile.
fn unzip_member(zip: &Path, member: &str, to: &Path) -> Result<()> {
    let dir = to.parent().context("no directory to unpack into")?;
    let unzip = Command::new("unzip")
        .args(["-o", "-q", "-j"])
        .arg(zip)
        .arg(member)
        .arg("-d")
        .arg(dir)
        .status();
    match unzip {
        Ok(status) => {
            ensure!(
                status.success(),
                "unzip {} {member} failed ({status})",
                zip.display()
            );
            let name = Path::new(member)
                .file_name()
                .context("member has no name")?;
            if dir.join(name) != to {
                std::fs::rename(dir.join(name), to)?;
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let status = Command::new("python3")
                .args([
                    "-c",
                    "import shutil, sys, zipfile\n\
                     with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                     open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst)",
                ])
                .arg(zip)
                .arg(member)
                .arg(to)
                .status()
                .context("running python3 (neither unzip nor python3 found?)")?;
            ensure!(
                status.success(),
                "python3 zipfile could not unpack {member} from {}",
                zip.display()
            );
        }
        Err(e) => return Err(e).context("running unzip"),
    }
    ensure!(
        to.is_file(),
        "{member} was not unpacked to {}",
        to.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Measuring

/// One command of the benchmark.
struct Timed {
    label: String,
    argv: Vec<OsString>,
    /// Exit codes that mean the command did its work (verify: 1 is a failing verdict).
    ok: &'static [i32],
    wall: Vec<Duration>,
    /// Per round, cuobjdump's time over this command's (the first command: itself).
    ratios: Vec<f64>,
    rss_kib: Option<u64>,
}

impl Timed {
    fn new(label: impl Into<String>, argv: Vec<OsString>, ok: &'static [i32]) -> Self {
        Timed {
            label: label.into(),
            argv,
            ok,
            wall: Vec::new(),
            ratios: Vec::new(),
            rss_kib: None,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        cmd
    }

    /// Runs it once; its stdout, or an error if it exits with a code not in `ok`.
    fn output(&self) -> Result<String> {
        let out = self
            .command()
            .output()
            .with_context(|| format!("running {}", self.label))?;
        ensure!(
            out.status.code().is_some_and(|c| self.ok.contains(&c)),
            "{} failed ({}): {}",
            self.label,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn time_once(&self) -> Result<Duration> {
        let mut cmd = self.command();
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let start = Instant::now();
        let status = cmd
            .status()
            .with_context(|| format!("running {}", self.label))?;
        let wall = start.elapsed();
        ensure!(
            status.code().is_some_and(|c| self.ok.contains(&c)),
            "{} failed ({status})",
            self.label
        );
        Ok(wall)
    }
}

/// A warm-up round, then `runs` rounds of every command in turn; the first is the
/// reference the ratios divide.
fn rounds(commands: &mut [Timed], runs: usize) -> Result<()> {
    for c in commands.iter() {
        c.time_once()?;
    }
    for round in 0..runs {
        let mut times = Vec::with_capacity(commands.len());
        for c in commands.iter() {
            times.push(c.time_once()?);
        }
        let reference = times[0].as_secs_f64();
        for (c, t) in commands.iter_mut().zip(times) {
            c.ratios.push(reference / t.as_secs_f64());
            c.wall.push(t);
        }
        eprint!("\r  round {}/{runs}", round + 1);
    }
    eprintln!();
    Ok(())
}

/// How the peak RSS of a child is read: GNU time's `%M`, or Python's `os.wait4`. Both are
/// the child's `ru_maxrss` in KiB.
pub enum RssProbe {
    GnuTime(PathBuf),
    Python,
}

const WAIT4: &str = "import os, subprocess, sys\n\
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n\
    _, status, usage = os.wait4(p.pid, 0)\n\
    print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))";

impl RssProbe {
    pub fn find(scratch: &Path) -> Option<RssProbe> {
        let time = PathBuf::from("/usr/bin/time");
        let probe = RssProbe::GnuTime(time);
        if probe.measure(&[OsString::from("true")], scratch).is_some() {
            return Some(probe);
        }
        let probe = RssProbe::Python;
        probe
            .measure(&[OsString::from("true")], scratch)
            .map(|_| probe)
    }

    pub fn describe(&self) -> String {
        match self {
            RssProbe::GnuTime(path) => format!("{} -f %M (ru_maxrss)", path.display()),
            RssProbe::Python => "python3 os.wait4 (ru_maxrss)".to_string(),
        }
    }

    /// The child's peak RSS in KiB and its exit code.
    pub fn measure(&self, argv: &[OsString], scratch: &Path) -> Option<(u64, i32)> {
        match self {
            RssProbe::GnuTime(time) => {
                let report = scratch.join("rss.txt");
                let status = Command::new(time)
                    .args(["-f", "%M", "-o"])
                    .arg(&report)
                    .arg("--")
                    .args(argv)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .ok()?;
                let text = std::fs::read_to_string(&report).ok()?;
                // GNU time writes "Command exited with non-zero status N" first then.
                let kib = text.lines().last()?.trim().parse().ok()?;
                Some((kib, status.code()?))
            }
            RssProbe::Python => {
                let out = Command::new("python3")
                    .args(["-c", WAIT4])
                    .args(argv)
                    .stderr(Stdio::null())
                    .output()
                    .ok()?;
                let text = String::from_utf8_lossy(&out.stdout);
                let mut fields = text.split_whitespace();
                let kib = fields.next()?.parse().ok()?;
                let code = fields.next()?.parse().ok()?;
                Some((kib, code))
            }
        }
    }
}

/// The median peak RSS of [`RSS_RUNS`] runs of each command.
fn measure_rss(commands: &mut [Timed], probe: Option<&RssProbe>, scratch: &Path) -> Result<()> {
    let Some(probe) = probe else { return Ok(()) };
    for c in commands.iter_mut() {
        let mut peaks = Vec::with_capacity(RSS_RUNS);
        for _ in 0..RSS_RUNS {
            let (kib, code) = probe
                .measure(&c.argv, scratch)
                .with_context(|| format!("measuring the peak RSS of {}", c.label))?;
            ensure!(
                c.ok.contains(&code),
                "{} exited {code} under {}",
                c.label,
                probe.describe()
            );
            peaks.push(kib);
        }
        peaks.sort_unstable();
        c.rss_kib = Some(peaks[peaks.len() / 2]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// What is listed

/// One entry as both tools name it: cubin or PTX, and the architecture without its
/// `sm_`/`compute_` prefix (`sm_90a` and `compute_90a` are both `90a`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    cubin: bool,
    arch: String,
}

fn arch_number(arch: &str) -> String {
    arch.trim_start_matches("sm_")
        .trim_start_matches("compute_")
        .to_string()
}

/// The entries of `cuobjdump --list-elf --list-ptx` output: lines such as
/// `ELF file    1: libcurand.so.1.sm_100.cubin` and `PTX file   10: libcurand.so.10.sm_121.ptx`.
fn parse_cuobjdump_listing(text: &str) -> Result<Vec<Listed>> {
    let mut listed = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let cubin = if line.starts_with("ELF file") {
            true
        } else if line.starts_with("PTX file") {
            false
        } else {
            continue;
        };
        let name = line
            .split_once(": ")
            .map(|(_, name)| name.trim())
            .with_context(|| format!("cuobjdump line without a name: `{line}`"))?;
        let mut parts = name.rsplit('.');
        let (ext, arch) = (parts.next().unwrap_or_default(), parts.next());
        let arch = arch
            .filter(|a| a.starts_with("sm_") || a.starts_with("compute_"))
            .with_context(|| format!("no architecture in cuobjdump's `{name}`"))?;
        ensure!(
            ext == if cubin { "cubin" } else { "ptx" },
            "cuobjdump names a {} `{name}`",
            if cubin { "cubin" } else { "PTX file" }
        );
        listed.push(Listed {
            cubin,
            arch: arch_number(arch),
        });
    }
    Ok(listed)
}

/// The entries of `cargo gpuarch inspect --format json` on one file, and the number of
/// distinct fat binary containers (section, member, container) they come from.
fn parse_gpuarch_json(text: &str) -> Result<(Vec<Listed>, usize)> {
    let doc: serde_json::Value =
        serde_json::from_str(text).context("gpuarch inspect --format json: not JSON")?;
    let entries = doc["files"][0]["entries"]
        .as_array()
        .context("gpuarch inspect --format json: no files[0].entries")?;
    let mut containers = std::collections::BTreeSet::new();
    let mut listed = Vec::with_capacity(entries.len());
    for e in entries {
        let kind = e["kind"].as_str().context("an entry without a kind")?;
        let arch = e["arch"].as_str().context("an entry without an arch")?;
        containers.insert((
            e["section"].to_string(),
            e["member"].to_string(),
            e["container"].to_string(),
        ));
        listed.push(Listed {
            cubin: kind == "cubin",
            arch: arch_number(arch),
        });
    }
    Ok((listed, containers.len()))
}

fn counts(listed: &[Listed]) -> String {
    let cubins = listed.iter().filter(|l| l.cubin).count();
    format!(
        "{} ({cubins} cubin, {} PTX)",
        listed.len(),
        listed.len() - cubins
    )
}

/// Whether two listings name the same entries, order aside.
fn same_entries(a: &[Listed], b: &[Listed]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

// ---------------------------------------------------------------------------------
// The benchmark

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

fn inspect_cmd(gpuarch: &Path, file: &Path, json: bool) -> Vec<OsString> {
    let mut argv = vec![os(gpuarch), os("gpuarch"), os("inspect")];
    if json {
        argv.extend([os("--format"), os("json")]);
    }
    argv.push(os(file));
    argv
}

fn cuobjdump_cmd(cuobjdump: &Path, file: &Path) -> Vec<OsString> {
    vec![os(cuobjdump), os("--list-elf"), os("--list-ptx"), os(file)]
}

/// Whether the binary has `verify`: clap answers an unknown subcommand with exit 2 and
/// "unrecognized subcommand". Its verdict line (the last of stdout), if it has.
fn probe_verify(verify: &Timed) -> Result<Option<String>> {
    let out = verify
        .command()
        .output()
        .with_context(|| format!("running {}", verify.label))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) && stderr.contains("unrecognized subcommand") {
        return Ok(None);
    }
    ensure!(
        out.status.code().is_some_and(|c| verify.ok.contains(&c)),
        "{} failed ({}): {}",
        verify.label,
        out.status,
        stderr.trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or_default();
    Ok(Some(format!(
        "exit {}: {}",
        out.status.code().unwrap_or(-1),
        last.trim()
    )))
}

fn bench(opts: &Options, cuobjdump: &Path, gpuarch: &Path, library: &Path) -> Result<()> {
    let size = std::fs::metadata(library)?.len();
    let scratch =
        std::env::temp_dir().join(format!("gpuarch-bench-inspect-{}", std::process::id()));
    let _cleanup = RemoveOnDrop::create(&scratch)?;
    let probe = RssProbe::find(&scratch);

    let mut commands = vec![
        Timed::new(
            "cuobjdump --list-elf --list-ptx",
            cuobjdump_cmd(cuobjdump, library),
            &[0],
        ),
        Timed::new(
            "gpuarch inspect",
            inspect_cmd(gpuarch, library, false),
            &[0],
        ),
        Timed::new(
            "gpuarch inspect --format json",
            inspect_cmd(gpuarch, library, true),
            &[0],
        ),
    ];
    let mut verify_argv = vec![os(gpuarch), os("gpuarch"), os("verify"), os(library)];
    verify_argv.extend(VERIFY_ARGS.iter().map(os));
    let verify = Timed::new(
        format!("gpuarch verify {}", VERIFY_ARGS.join(" ")),
        verify_argv,
        &[0, 1],
    );
    let verdict = probe_verify(&verify)?;
    if verdict.is_some() {
        commands.push(verify);
    }

    let cuobjdump_listing = parse_cuobjdump_listing(&commands[0].output()?)?;
    let (gpuarch_listing, containers) = parse_gpuarch_json(&commands[2].output()?)?;

    println!(
        "file:      {} ({} bytes, libcurand.so.10 of nvidia-curand-cu12 {CURAND_RELEASE})",
        library.display(),
        thousands(size)
    );
    println!(
        "cuobjdump: {} ({})",
        cuobjdump.display(),
        tool_version(cuobjdump)
    );
    println!("gpuarch:   {}", gpuarch.display());
    println!(
        "runs:      {} rounds after a warm-up, commands in turn, output discarded; medians",
        opts.runs
    );
    println!(
        "peak RSS:  {}",
        probe.as_ref().map_or_else(
            || "not measured (neither GNU /usr/bin/time nor python3 found)".to_string(),
            |p| format!("{}, median of {RSS_RUNS} untimed runs", p.describe())
        )
    );
    match &verdict {
        Some(v) => println!("verify:    {v}"),
        None => println!("verify:    not available in this binary"),
    }
    println!();

    rounds(&mut commands, opts.runs)?;
    measure_rss(&mut commands, probe.as_ref(), &scratch)?;
    print_table(&commands);
    println!();

    let agree = same_entries(&cuobjdump_listing, &gpuarch_listing);
    println!(
        "entries: cuobjdump {}, gpuarch {} in {containers} containers: {}",
        counts(&cuobjdump_listing),
        counts(&gpuarch_listing),
        if agree {
            "the same entries"
        } else {
            "THEY DIFFER"
        }
    );
    for c in &commands[1..] {
        println!("{}", ratio_line(&commands[0], c, 20.0));
    }

    if opts.large {
        println!();
        large(
            opts,
            cuobjdump,
            gpuarch,
            library,
            probe.as_ref(),
            &scratch,
            &commands,
        )?;
    }
    ensure!(
        agree,
        "cuobjdump and gpuarch list different entries: {} vs {}",
        counts(&cuobjdump_listing),
        counts(&gpuarch_listing)
    );
    Ok(())
}

/// The library with [`PAD_BYTES`] of zeros added as a section, measured beside the same
/// library with a 1-byte section (written by objcopy too) and the original.
///
/// The control matters: the peak RSS of a reader that maps the file counts the page-cache
/// pages the kernel maps in on each fault, and how many those are depends on how the
/// file's pages were cached when it was written (objcopy's output maps in larger runs than
/// the unzipped original: ~110 MiB against ~19 MiB here for the same bytes). Only files
/// written the same way tell whether memory grows with the file's size.
#[allow(clippy::too_many_arguments)]
fn large(
    opts: &Options,
    cuobjdump: &Path,
    gpuarch: &Path,
    library: &Path,
    probe: Option<&RssProbe>,
    scratch: &Path,
    small: &[Timed],
) -> Result<()> {
    let size = std::fs::metadata(library)?.len();
    let needed = PAD_BYTES + 2 * size + (256 << 20);
    match toolkits::free_bytes(scratch) {
        Some(free) => ensure!(
            free >= needed,
            "--large needs {} MB free in {}, there are {} MB",
            needed >> 20,
            scratch.display(),
            free >> 20
        ),
        None => eprintln!(
            "warning: cannot tell the free space in {} (no df?)",
            scratch.display()
        ),
    }
    let big = scratch.join("libcurand-large.so");
    let control = scratch.join("libcurand-control.so");
    for (out, pad_bytes) in [(&big, PAD_BYTES), (&control, 1)] {
        let pad = scratch.join("pad.bin");
        // Sparse: zeros that take no disk until objcopy writes them into `out`.
        std::fs::File::create(&pad)
            .and_then(|f| f.set_len(pad_bytes))
            .with_context(|| format!("creating {}", pad.display()))?;
        eprintln!(
            "writing {} (objcopy --add-section .gpuarch_pad=<{} zero bytes>)",
            out.display(),
            thousands(pad_bytes)
        );
        let status = Command::new("objcopy")
            .arg(format!("--add-section=.gpuarch_pad={}", pad.display()))
            .arg(library)
            .arg(out)
            .status()
            .context("running objcopy (binutils) for --large")?;
        ensure!(status.success(), "objcopy failed ({status})");
        std::fs::remove_file(&pad)?;
    }
    let big_size = std::fs::metadata(&big)?.len();
    let control_size = std::fs::metadata(&control)?.len();

    let mut commands = vec![
        Timed::new(
            "cuobjdump --list-elf --list-ptx, large",
            cuobjdump_cmd(cuobjdump, &big),
            &[0],
        ),
        Timed::new(
            "gpuarch inspect, large",
            inspect_cmd(gpuarch, &big, false),
            &[0],
        ),
        Timed::new(
            "gpuarch inspect, control",
            inspect_cmd(gpuarch, &control, false),
            &[0],
        ),
        Timed::new(
            "gpuarch inspect, original",
            inspect_cmd(gpuarch, library, false),
            &[0],
        ),
    ];
    let big_cuobjdump = parse_cuobjdump_listing(&commands[0].output()?)?;
    let (big_gpuarch, _) =
        parse_gpuarch_json(&Timed::new("json", inspect_cmd(gpuarch, &big, true), &[0]).output()?)?;

    let times = |n: u64| n as f64 / size as f64;
    println!(
        "large:     {} ({} bytes, {:.1}x the library: a {} byte .gpuarch_pad section added by objcopy)",
        big.display(),
        thousands(big_size),
        times(big_size),
        thousands(PAD_BYTES)
    );
    println!(
        "control:   {} ({} bytes: the same with a 1-byte section, also written by objcopy)",
        control.display(),
        thousands(control_size)
    );
    println!();
    rounds(&mut commands, opts.runs)?;
    measure_rss(&mut commands, probe, scratch)?;
    print_table(&commands);
    println!();
    println!(
        "entries in the large file: cuobjdump {}, gpuarch {}",
        counts(&big_cuobjdump),
        counts(&big_gpuarch)
    );
    println!("{}", ratio_line(&commands[0], &commands[1], 20.0));
    let rss = |c: &Timed| c.rss_kib.map(|k| k as f64 / 1024.0);
    if let (Some(on_big), Some(on_control), Some(on_original)) =
        (rss(&commands[1]), rss(&commands[2]), rss(&commands[3]))
    {
        println!(
            "gpuarch inspect peak RSS: {on_big:.1} MiB on the large file vs {on_control:.1} MiB on \
             the control ({:.2}x, for a file {:.1}x the size); {on_original:.1} MiB on the original",
            on_big / on_control,
            big_size as f64 / control_size as f64
        );
    }
    if let (Some(on_big), Some(on_small)) = (rss(&commands[0]), rss(&small[0])) {
        println!(
            "cuobjdump peak RSS:       {on_big:.1} MiB on the large file vs {on_small:.1} MiB on \
             the original ({:.2}x)",
            on_big / on_small
        );
    }
    std::fs::remove_file(&big)?;
    std::fs::remove_file(&control)?;
    ensure!(
        same_entries(&big_cuobjdump, &big_gpuarch),
        "on the large file cuobjdump and gpuarch list different entries"
    );
    Ok(())
}

/// The release line of `--version` (`Cuda compilation tools, release 13.5, V13.5.37`).
fn tool_version(tool: &Path) -> String {
    Command::new(tool)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find(|l| l.contains("release "))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "version unknown".to_string())
}

fn print_table(commands: &[Timed]) {
    let width = commands.iter().map(|c| c.label.len()).max().unwrap_or(0) + 2;
    println!(
        "{:<width$}{:>11}{:>11}{:>13}{:>17}",
        "", "median", "min", "peak RSS", "cuobjdump/this"
    );
    for c in commands {
        println!(
            "{:<width$}{:>11}{:>11}{:>13}{:>17}",
            c.label,
            ms(median(&c.wall)),
            ms(*c.wall.iter().min().expect("at least one run")),
            c.rss_kib
                .map_or("-".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            format!("{:.2}x", median_f64(&c.ratios))
        );
    }
}

/// `gpuarch inspect: 25.3x faster than cuobjdump (4.1 ms vs 103.2 ms, ...)`.
fn ratio_line(reference: &Timed, c: &Timed, goal: f64) -> String {
    let r = median_f64(&c.ratios);
    let speed = if r >= 1.0 {
        format!("{r:.1}x faster than")
    } else {
        format!("{:.1}x slower than", 1.0 / r)
    };
    format!(
        "{}: {speed} cuobjdump ({} vs {} median; ratio: median of {} per-round ratios; \
         goal {goal:.0}x faster: {})",
        c.label,
        ms(median(&c.wall)),
        ms(median(&reference.wall)),
        c.ratios.len(),
        if r >= goal { "met" } else { "NOT met" }
    )
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn median_f64(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        short => short,
    };
    let mut out = digits[..head].to_string();
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("ASCII digits"));
    }
    out
}

/// A scratch directory removed (with what is in it) when dropped.
struct RemoveOnDrop(PathBuf);

impl RemoveOnDrop {
    fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(RemoveOnDrop(dir.to_path_buf()))
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_figures() {
        let d = Duration::from_millis;
        assert_eq!(median(&[d(3), d(1), d(2)]), d(2));
        assert_eq!(median_f64(&[20.0, 25.0, 1.0, 30.0, 22.0]), 22.0);
        let mut reference = Timed::new("ref", vec![os("x")], &[0]);
        reference.wall = vec![d(100), d(110), d(90)];
        let mut fast = Timed::new("fast", vec![os("y")], &[0]);
        fast.wall = vec![d(4), d(5), d(5)];
        fast.ratios = vec![25.0, 22.0, 18.0];
        let line = ratio_line(&reference, &fast, 20.0);
        assert!(
            line.starts_with("fast: 22.0x faster than cuobjdump (5.0 ms vs 100.0 ms"),
            "{line}"
        );
        assert!(line.ends_with("goal 20x faster: met)"), "{line}");
        fast.ratios = vec![19.0];
        assert!(ratio_line(&reference, &fast, 20.0).ends_with("NOT met)"));
        fast.ratios = vec![0.8];
        assert!(ratio_line(&reference, &fast, 20.0).starts_with("fast: 1.2x slower than"));
        assert_eq!(thousands(166_965_432), "166,965,432");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(0), "0");
    }

    fn l(cubin: bool, arch: &str) -> Listed {
        Listed {
            cubin,
            arch: arch.to_string(),
        }
    }

    #[test]
    fn reads_cuobjdump_listings() {
        let text = "\nELF file    1: libcurand.so.1.sm_100.cubin\n\
                    ELF file    2: libcurand.so.2.sm_90a.cubin\n\
                    PTX file   10: libcurand.so.10.sm_121.ptx\n\
                    some other line\n";
        assert_eq!(
            parse_cuobjdump_listing(text).unwrap(),
            vec![l(true, "100"), l(true, "90a"), l(false, "121")]
        );
        assert!(parse_cuobjdump_listing("ELF file 1: odd.name.cubin\n").is_err());
        assert!(parse_cuobjdump_listing("ELF file 1 no name\n").is_err());
        assert!(parse_cuobjdump_listing("").unwrap().is_empty());
    }

    #[test]
    fn reads_gpuarch_json() {
        let text = r#"{"schema_version": 1, "files": [{"path": "x", "entries": [
            {"kind": "cubin", "arch": "sm_100", "section": ".nv_fatbin", "member": null, "container": 0},
            {"kind": "ptx", "arch": "compute_121", "section": ".nv_fatbin", "member": null, "container": 0},
            {"kind": "cubin", "arch": "sm_90a", "section": ".nv_fatbin", "member": null, "container": 1}
        ]}]}"#;
        let (listed, containers) = parse_gpuarch_json(text).unwrap();
        assert_eq!(containers, 2);
        assert_eq!(counts(&listed), "3 (2 cubin, 1 PTX)");
        let cuobjdump = parse_cuobjdump_listing(
            "PTX file 1: a.1.sm_121.ptx\nELF file 1: a.1.sm_90a.cubin\nELF file 2: a.2.sm_100.cubin\n",
        )
        .unwrap();
        assert!(same_entries(&listed, &cuobjdump));
        assert!(!same_entries(&listed, &cuobjdump[1..]));
        assert!(!same_entries(
            &listed,
            &[l(true, "100"), l(true, "121"), l(true, "90a")]
        ));
    }
}
