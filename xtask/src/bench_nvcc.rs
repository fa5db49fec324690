//! `cargo xtask bench-nvcc [OPTIONS] [-- NVCC_ARGS...]`: what gpuarch's plan saves over
//! `-arch=all`, measured with a real nvcc.
//!
//! It compiles `examples/cuda-kernel/src/kernel.cu` to an object (`nvcc -c`) twice over:
//! (a) with the flags `cargo gpuarch plan --manifest-path examples/fleet/gpuarch.toml
//! --cuda X.Y --format nvcc` prints (X.Y: the nvcc's own release), and (b) with
//! `-arch=all`; `--runs` times each (default 3), one after the other, never in
//! parallel, alternating (a) and (b) so a drift in the machine's speed hits both alike.
//! It prints the median wall time, the median CPU time of nvcc and everything it ran
//! (from /proc/self/stat), the object's size, and the ratios all/plan.
//!
//! Options:
//! - `--runs N`: timed compiles of each variant (default 3).
//! - `--nvcc PATH`: the nvcc to use; default: install NVIDIA's nvcc wheels (below).
//! - `--release X.Y.Z`: the nvcc wheel release to install (default 13.0.88).
//! - `--manifest PATH`, `--source PATH`: the manifest to plan, the file to compile.
//! - `--cache DIR`: where toolkits are installed (default: `GPUARCH_TOOLKIT_CACHE`, else
//!   `<workspace>/.cache/toolkits`).
//! - after `--`: extra nvcc arguments for both variants (e.g. `--threads 0`).
//!
//! Without `--nvcc` it installs NVIDIA's nvcc wheels from PyPI as
//! `cargo xtask toolkit install nvcc X.Y.Z` does (`toolkits.rs` has the recipe);
//! `cargo xtask bench-nvcc install [X.Y.Z]` is that command under its older name.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::toolkits::{self, tool_version, Cache};
use crate::workspace_root;

struct Options {
    runs: usize,
    nvcc: Option<PathBuf>,
    release: String,
    manifest: PathBuf,
    source: PathBuf,
    cache: Option<PathBuf>,
    extra: Vec<String>,
}

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("install") {
        let mut install = vec!["install".to_string(), "nvcc".to_string()];
        install.extend(args[1..].iter().cloned());
        return toolkits::run(&install);
    }
    let opts = parse(args)?;
    let nvcc = match &opts.nvcc {
        Some(path) => path.clone(),
        None => {
            let mut cache = match &opts.cache {
                Some(dir) => Cache::at(dir)?,
                None => Cache::from_env()?,
            };
            cache.nvcc(&opts.release)?.nvcc
        }
    };
    bench(&opts, &nvcc)
}

fn parse(args: &[String]) -> Result<Options> {
    let root = workspace_root();
    let mut opts = Options {
        runs: 3,
        nvcc: None,
        release: toolkits::DEFAULT_NVCC.to_string(),
        manifest: root.join("examples/fleet/gpuarch.toml"),
        source: root.join("examples/cuda-kernel/src/kernel.cu"),
        cache: None,
        extra: Vec::new(),
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
            "--nvcc" => opts.nvcc = Some(PathBuf::from(value()?)),
            "--release" => opts.release = value()?,
            "--manifest" => opts.manifest = PathBuf::from(value()?),
            "--source" => opts.source = PathBuf::from(value()?),
            "--cache" => opts.cache = Some(PathBuf::from(value()?)),
            "--" => {
                opts.extra = it.by_ref().cloned().collect();
            }
            other => bail!(
                "unknown argument `{other}`; usage: cargo xtask bench-nvcc [install [X.Y.Z]] \
                 [--runs N] [--nvcc PATH | --release X.Y.Z] [--manifest PATH] [--source PATH] \
                 [--cache DIR] [-- NVCC_ARGS...]"
            ),
        }
    }
    Ok(opts)
}

// ---------------------------------------------------------------------------------
// The benchmark

struct Variant {
    name: &'static str,
    flags: Vec<String>,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    size: u64,
}

fn bench(opts: &Options, nvcc: &Path) -> Result<()> {
    let root = workspace_root();
    let version = tool_version(nvcc)?;
    let cuda = release_of(&version)?;
    let (plan_flags, plan_note) = plan_flags(&opts.manifest, &cuda)?;
    let out_dir = target_dir().join("bench-nvcc");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let ticks = clock_ticks();

    let mut variants = [
        Variant {
            name: "plan",
            flags: plan_flags,
            wall: Vec::new(),
            cpu: Vec::new(),
            size: 0,
        },
        Variant {
            name: "-arch=all",
            flags: vec!["-arch=all".to_string()],
            wall: Vec::new(),
            cpu: Vec::new(),
            size: 0,
        },
    ];

    println!("nvcc:     {} ({})", nvcc.display(), version.trim());
    println!("source:   {}", shown(&opts.source, &root));
    println!(
        "plan:     cargo gpuarch plan --manifest-path {} --cuda {cuda} --format nvcc",
        shown(&opts.manifest, &root)
    );
    println!("          {}", variants[0].flags.join(" "));
    if let Some(note) = plan_note {
        println!("          ({note})");
    }
    if let Some(all) = arch_all_codes(nvcc) {
        println!("-arch=all: {all}");
    }
    if !opts.extra.is_empty() {
        println!("extra:    {}", opts.extra.join(" "));
    }
    println!(
        "runs:     {} of each, sequential, alternating; medians\n",
        opts.runs
    );

    for run in 0..opts.runs {
        for v in variants.iter_mut() {
            let object = out_dir.join(format!(
                "kernel-{}.o",
                v.name.trim_start_matches('-').replace('=', "-")
            ));
            let _ = std::fs::remove_file(&object);
            let mut cmd = Command::new(nvcc);
            cmd.arg("-c")
                .arg(&opts.source)
                .arg("-o")
                .arg(&object)
                .args(&v.flags)
                .args(&opts.extra);
            let (wall, cpu) = time_once(&mut cmd, ticks)?;
            let size = std::fs::metadata(&object)
                .with_context(|| format!("{} wrote no {}", nvcc.display(), object.display()))?
                .len();
            if run > 0 {
                ensure!(
                    size == v.size,
                    "{}: the object's size changed between runs ({} then {size})",
                    v.name,
                    v.size
                );
            }
            v.size = size;
            eprintln!(
                "  run {}/{} {:<10} wall {}  cpu {}",
                run + 1,
                opts.runs,
                v.name,
                secs(wall),
                secs(cpu)
            );
            v.wall.push(wall);
            v.cpu.push(cpu);
        }
    }

    let [plan, all] = &variants;
    let (pw, aw) = (median(&plan.wall), median(&all.wall));
    let (pc, ac) = (median(&plan.cpu), median(&all.cpu));
    println!();
    println!("{:<12}{:>12}{:>12}{:>14}", "", "wall", "cpu", "object");
    for (v, w, c) in [(plan, pw, pc), (all, aw, ac)] {
        println!(
            "{:<12}{:>12}{:>12}{:>14}",
            v.name,
            secs(w),
            secs(c),
            format!("{} B", v.size)
        );
    }
    println!(
        "{:<12}{:>12}{:>12}{:>14}",
        "all/plan",
        ratio(aw.as_secs_f64(), pw.as_secs_f64()),
        ratio(ac.as_secs_f64(), pc.as_secs_f64()),
        ratio(all.size as f64, plan.size as f64)
    );
    Ok(())
}

/// `13.0` from `... release 13.0, V13.0.88`.
fn release_of(version_line: &str) -> Result<String> {
    let rest = version_line
        .split("release ")
        .nth(1)
        .context("no `release` in nvcc --version")?;
    Ok(rest
        .split(|c: char| c == ',' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The flags `cargo gpuarch plan --format nvcc` prints. Exit 1 (a check failed, e.g. the
/// manifest's driver floor is too old for this CUDA) still prints the plan; the failure
/// comes back as a note. Exit 2 (bad input) is an error.
fn plan_flags(manifest: &Path, cuda: &str) -> Result<(Vec<String>, Option<String>)> {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["run", "-q", "--release", "-p", "cargo-gpuarch", "--"])
        .args(["gpuarch", "plan", "--color", "never", "--manifest-path"])
        .arg(manifest)
        .args(["--cuda", cuda, "--format", "nvcc"])
        .stderr(Stdio::piped())
        .output()
        .context("running cargo run -p cargo-gpuarch")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let flags: Vec<String> = stdout.split_whitespace().map(str::to_string).collect();
    let code = out.status.code();
    ensure!(
        matches!(code, Some(0 | 1)) && !flags.is_empty(),
        "cargo gpuarch plan failed ({}): {}",
        out.status,
        stderr.trim()
    );
    ensure!(
        flags.iter().all(|f| f.starts_with("-gencode=")),
        "cargo gpuarch plan --format nvcc printed more than -gencode flags: {stdout}"
    );
    let note = (code == Some(1)).then(|| {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error[")).collect();
        format!(
            "gpuarch plan exits 1 for this toolkit: {}",
            if errors.is_empty() {
                stderr.trim()
            } else {
                errors[0]
            }
        )
    });
    Ok((flags, note))
}

/// What `-arch=all` means to this nvcc: its `--list-gpu-code`.
fn arch_all_codes(nvcc: &Path) -> Option<String> {
    let out = Command::new(nvcc).arg("--list-gpu-code").output().ok()?;
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (!codes.is_empty()).then(|| {
        format!(
            "{} cubins ({}) + PTX for the newest",
            codes.len(),
            codes.join(" ")
        )
    })
}

/// Wall time of one run, and the CPU time (user + system) of the process and all it
/// waited for, from this process's `cutime + cstime`.
fn time_once(cmd: &mut Command, ticks: f64) -> Result<(Duration, Duration)> {
    let before = children_cpu(ticks);
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    let wall = start.elapsed();
    ensure!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let cpu = match (before, children_cpu(ticks)) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => Duration::ZERO,
    };
    Ok((wall, cpu))
}

/// Fields 16 and 17 of /proc/self/stat: CPU time of waited-for children.
fn children_cpu(ticks: f64) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the `(comm)`, index 0 is field 3 (state): cutime is 16, cstime 17.
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some(Duration::from_secs_f64((cutime + cstime) / ticks))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".to_string()
    }
}

fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_releases() {
        assert_eq!(
            release_of("Cuda compilation tools, release 13.0, V13.0.88").unwrap(),
            "13.0"
        );
    }

    #[test]
    fn medians() {
        let d = |s| Duration::from_secs(s);
        assert_eq!(median(&[d(3), d(1), d(2)]), d(2));
        assert_eq!(ratio(3.0, 1.5), "2.00x");
    }
}
