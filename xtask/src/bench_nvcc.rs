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
//! - `--cache DIR`: where toolkits are installed (default `<workspace>/.cache`).
//! - after `--`: extra nvcc arguments for both variants (e.g. `--threads 0`).
//!
//! `cargo xtask bench-nvcc install [X.Y.Z]` only installs, and prints the CUDA_HOME.
//! `GPUARCH_NVCC_CACHE` moves the default cache (CI keeps it outside the clone).
//!
//! # A real nvcc from PyPI (the recipe [`install_nvcc`] follows)
//!
//! NVIDIA publishes the CUDA 13 compiler as wheels that share one `nvidia/cu13/` tree
//! (CUDA 12's `nvidia-cuda-nvcc-cu12` wheels hold only ptxas, no nvcc, so 12.x cannot be
//! had this way). By hand, for 13.0.88 on Linux x86_64:
//!
//! ```sh
//! python3 -m pip install --no-deps --only-binary=:all: --target .cache/nvcc-13.0.88 \
//!     nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 \
//!     'nvidia-cuda-runtime==13.0.*'            # the runtime's patch numbers differ (13.0.96)
//! H=.cache/nvcc-13.0.88/nvidia/cu13           # bin/ (nvcc, nvcc.profile, ptxas, ...),
//!                                             # nvvm/ (cicc, libdevice), include/, lib/
//! ln -s lib $H/lib64                          # nvcc.profile links against TOP/lib64
//! mkdir -p $H/targets/x86_64-linux            # cc (the crate) looks for libcudart_static
//! ln -s ../../include $H/targets/x86_64-linux/include   # in TOP/targets/x86_64-linux/lib;
//! ln -s ../../lib $H/targets/x86_64-linux/lib           # nvcc then uses these includes too
//! ln -sfn nvcc-13.0.88/nvidia/cu13 .cache/cuda-13.0     # a CUDA_HOME
//! .cache/cuda-13.0/bin/nvcc --version          # release 13.0, V13.0.88
//! ```
//!
//! nvcc finds cicc, ptxas, the headers and libraries through `bin/nvcc.profile`, relative
//! to its own (resolved) directory, so nothing else is needed: no environment variables,
//! and the system gcc (12 here) is its host compiler. Then `CUDA_HOME=.cache/cuda-13.0`
//! (or `NVCC=.cache/cuda-13.0/bin/nvcc`, or that `bin` on PATH) builds
//! examples/cuda-kernel and links its tests against `cudart_static`. The wheels carry no
//! CCCL (cub/thrust) headers and no cuobjdump.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

/// The nvcc wheel release installed when no `--nvcc` is given.
pub const DEFAULT_RELEASE: &str = "13.0.88";

struct Options {
    runs: usize,
    nvcc: Option<PathBuf>,
    release: String,
    manifest: PathBuf,
    source: PathBuf,
    cache: PathBuf,
    extra: Vec<String>,
}

/// `GPUARCH_NVCC_CACHE`, else `<workspace>/.cache`.
fn default_cache() -> PathBuf {
    std::env::var_os("GPUARCH_NVCC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache"))
}

pub fn run(args: &[String]) -> Result<()> {
    if args.first().map(String::as_str) == Some("install") {
        let release = args.get(1).map_or(DEFAULT_RELEASE, String::as_str);
        let installed = install_nvcc(&default_cache(), release)?;
        eprintln!(
            "nvcc {} is ready; use CUDA_HOME={}",
            installed.release,
            installed.home.display()
        );
        println!("{}", installed.home.display());
        return Ok(());
    }
    let opts = parse(args)?;
    let nvcc = match &opts.nvcc {
        Some(path) => path.clone(),
        None => install_nvcc(&opts.cache, &opts.release)?.nvcc,
    };
    bench(&opts, &nvcc)
}

fn parse(args: &[String]) -> Result<Options> {
    let root = workspace_root();
    let mut opts = Options {
        runs: 3,
        nvcc: None,
        release: DEFAULT_RELEASE.to_string(),
        manifest: root.join("examples/fleet/gpuarch.toml"),
        source: root.join("examples/cuda-kernel/src/kernel.cu"),
        cache: default_cache(),
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
            "--cache" => opts.cache = PathBuf::from(value()?),
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
// Installing nvcc from PyPI

/// An nvcc laid out as a CUDA toolkit.
pub struct InstalledNvcc {
    /// The toolkit root, for CUDA_HOME: `<cache>/cuda-X.Y`, a link to the wheels' tree.
    pub home: PathBuf,
    /// `<home>/bin/nvcc`.
    pub nvcc: PathBuf,
    /// The wheel release, `X.Y.Z`.
    pub release: String,
}

/// Installs NVIDIA's nvcc `release` (13.x) from PyPI under `cache` as a toolkit tree
/// (see the module docs for the recipe), or reuses the one already there; checks that
/// it compiles. Wheels that `cargo xtask verify-toolkits` cached in `.cache/toolkits`
/// are used without downloading them again.
pub fn install_nvcc(cache: &Path, release: &str) -> Result<InstalledNvcc> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        bail!("NVIDIA's nvcc wheels are manylinux x86_64: installing needs a Linux x86_64 host");
    }
    let (major, minor) = major_minor(release)?;
    ensure!(
        major >= 13,
        "CUDA {major}.{minor}: only the CUDA 13+ wheels (nvidia-cuda-nvcc) carry nvcc; \
         the 12.x nvidia-cuda-nvcc-cu12 wheels hold ptxas alone"
    );
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let prefix_name = format!("nvcc-{release}");
    let prefix = cache.join(&prefix_name);
    let tree = Path::new("nvidia").join(format!("cu{major}"));
    let root = prefix.join(&tree);

    let wanted = format!("V{release}");
    let installed = nvcc_version(&root.join("bin/nvcc")).is_ok_and(|v| v.contains(&wanted));
    if !installed {
        pip_install(cache, &prefix, release, major, minor)?;
    }
    toolkit_layout(&root)?;

    let home = cache.join(format!("cuda-{major}.{minor}"));
    replace_symlink(&Path::new(&prefix_name).join(&tree), &home)?;
    let nvcc = home.join("bin/nvcc");
    let version = nvcc_version(&nvcc)?;
    ensure!(
        version.contains(&wanted),
        "{} reports `{}`, not {wanted}",
        nvcc.display(),
        version.trim()
    );
    smoke_test(&nvcc, cache)?;
    Ok(InstalledNvcc {
        home,
        nvcc,
        release: release.to_string(),
    })
}

fn major_minor(release: &str) -> Result<(u32, u32)> {
    let mut parts = release.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(_))) => Ok((major, minor)),
        _ => bail!("`{release}` is not a wheel release such as 13.0.88"),
    }
}

/// The four wheels of one release into `prefix`, through a scratch directory so an
/// interrupted install leaves nothing that looks finished.
fn pip_install(cache: &Path, prefix: &Path, release: &str, major: u32, minor: u32) -> Result<()> {
    let scratch = cache.join(format!(".nvcc-{release}.partial"));
    remove_dir_if_there(&scratch)?;
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", "--no-deps"])
        .args(["--disable-pip-version-check", "--root-user-action=ignore"])
        .args(["--only-binary=:all:", "--target"])
        .arg(&scratch);
    let wheels = workspace_root().join(".cache/toolkits");
    if wheels.is_dir() {
        pip.arg("--find-links").arg(&wheels);
    }
    pip.args([
        format!("nvidia-cuda-nvcc=={release}"),
        format!("nvidia-nvvm=={release}"),
        format!("nvidia-cuda-crt=={release}"),
        // The runtime wheel is numbered on its own (13.0.96 beside nvcc 13.0.88).
        format!("nvidia-cuda-runtime=={major}.{minor}.*"),
    ]);
    eprintln!(
        "installing nvcc {release} from PyPI into {}",
        prefix.display()
    );
    let status = pip
        .status()
        .context("running python3 -m pip (is python3 with pip installed?)")?;
    ensure!(
        status.success(),
        "pip install of nvcc {release} failed ({status})"
    );
    remove_dir_if_there(prefix)?;
    std::fs::rename(&scratch, prefix)
        .with_context(|| format!("moving {} to {}", scratch.display(), prefix.display()))?;
    Ok(())
}

/// The links that make the wheels' tree look like a toolkit install.
fn toolkit_layout(root: &Path) -> Result<()> {
    for dir in ["bin", "nvvm", "include", "lib"] {
        ensure!(
            root.join(dir).is_dir(),
            "{} has no {dir}/: not the nvcc wheels' layout",
            root.display()
        );
    }
    // nvcc.profile: -L$(TOP)/lib64; the wheels ship lib/.
    replace_symlink(Path::new("lib"), &root.join("lib64"))?;
    // cc's cudart search path; with it, nvcc.profile takes its includes from here too.
    let target = root.join("targets/x86_64-linux");
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    replace_symlink(Path::new("../../include"), &target.join("include"))?;
    replace_symlink(Path::new("../../lib"), &target.join("lib"))?;
    Ok(())
}

fn replace_symlink(points_to: &Path, link: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        ensure!(
            meta.file_type().is_symlink(),
            "{} exists and is not a link; move it away",
            link.display()
        );
        if std::fs::read_link(link).is_ok_and(|p| p == points_to) {
            return Ok(());
        }
        std::fs::remove_file(link).with_context(|| format!("removing {}", link.display()))?;
    }
    symlink(points_to, link)
        .with_context(|| format!("linking {} -> {}", link.display(), points_to.display()))
}

#[cfg(unix)]
fn symlink(points_to: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(points_to, link)
}

#[cfg(not(unix))]
fn symlink(_points_to: &Path, _link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symbolic links need a Unix host"))
}

fn remove_dir_if_there(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}

/// `nvcc --version`'s last line (`Cuda compilation tools, release 13.0, V13.0.88`).
fn nvcc_version(nvcc: &Path) -> Result<String> {
    let out = Command::new(nvcc)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", nvcc.display()))?;
    ensure!(out.status.success(), "{} --version failed", nvcc.display());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.contains("release "))
        .map(str::to_string)
        .with_context(|| format!("{} --version printed no release", nvcc.display()))
}

/// Compiles and links a kernel with its launcher: the host compiler, cicc, ptxas,
/// fatbinary and cudart_static all work.
fn smoke_test(nvcc: &Path, cache: &Path) -> Result<()> {
    let dir = cache.join(".nvcc-smoke");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("smoke.cu");
    std::fs::write(
        &src,
        "__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n\
         int main() { k<<<1, 32>>>(nullptr); return 0; }\n",
    )?;
    let out = Command::new(nvcc)
        .arg(&src)
        .arg("-o")
        .arg(dir.join("smoke"))
        .args(["-arch=sm_75"])
        .output()
        .with_context(|| format!("running {}", nvcc.display()))?;
    ensure!(
        out.status.success(),
        "{} cannot compile and link a kernel: {}",
        nvcc.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    remove_dir_if_there(&dir)
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
    let version = nvcc_version(nvcc)?;
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
        assert_eq!(major_minor("13.0.88").unwrap(), (13, 0));
        assert!(major_minor("13.0").is_err());
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
