//! `cargo xtask bench [plan|build-script|compile|all]`: the timed benchmarks quoted in the
//! README, each against a peer measured in the same run, runs interleaved so a drift in
//! the machine's speed hits both sides alike.
//!
//! - `plan`: `cargo gpuarch plan` on examples/fleet/gpuarch.toml, whole process, against
//!   a Rust binary that only prints hello (process start is the floor); and `plan` on a
//!   generated 1,000-GPU manifest.
//! - `build-script`: the build.rs helper's own work (manifest, plan, cc::Build set-up; no
//!   nvcc), in process, and as a whole process against hello.
//! - `compile`: clean compile of a crate whose only build-dependency is gpuarch-build,
//!   against the same crate with only `cc`.
//! - `deploy`: `cargo gpuarch deploy` with the fix search over the whole catalog, whole
//!   process, against hello: the documented example and a six-GPU fleet.
//! - `fleet`: `cargo gpuarch check --inventory` on a generated 10,000-node `kubectl get
//!   nodes -o json` (xtask gen-inventory), whole process, text and JSON, against hello;
//!   and the peak RSS of each (goal: < 200 ms, < 100 MB).
//! - `doctor`: `cargo gpuarch doctor` on the fake hosts of tests/fixtures/hosts, whole
//!   process, against hello: without nvcc (goal < 100 ms), and with the real nvcc 13.0 of
//!   the toolkit cache, its `--version` answer cached and not; then each probe's own time
//!   (`--timings`).
//! - `gate`: the post-build gate (`verify_built`) on a 3.8 MB static library of 200
//!   nvcc objects, in process, against reading the same file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

pub fn run(args: &[String]) -> Result<()> {
    let which = args.first().map(String::as_str).unwrap_or("all");
    let runs = env_count("GPUARCH_BENCH_RUNS", 200);
    match which {
        "plan" => plan(runs),
        "build-script" => build_script(runs),
        "compile" => compile(env_count("GPUARCH_BENCH_COMPILE_RUNS", 3)),
        "gate" => gate(runs),
        "deploy" => deploy(runs),
        "fleet" => fleet(env_count("GPUARCH_BENCH_FLEET_NODES", 10_000), runs / 10),
        "doctor" => doctor(runs / 2),
        "all" => {
            plan(runs)?;
            build_script(runs)?;
            gate(runs)?;
            deploy(runs)?;
            fleet(10_000, runs / 10)?;
            doctor(runs / 2)?;
            compile(env_count("GPUARCH_BENCH_COMPILE_RUNS", 3))
        }
        other => {
            bail!("unknown benchmark `{other}`: plan, build-script, gate, deploy, fleet, doctor, compile or all")
        }
    }
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn release_binaries() -> Result<(PathBuf, PathBuf, PathBuf)> {
    let root = workspace_root();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "cargo-gpuarch",
            "-p",
            "xtask",
            "--bins",
        ])
        .status()
        .context("running cargo build")?;
    ensure!(status.success(), "cargo build --release failed");
    let dir = target_dir().join("release");
    Ok((
        dir.join("cargo-gpuarch"),
        dir.join("hello"),
        dir.join("build-script-probe"),
    ))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Wall time of one run of a command, its output discarded; fails if it fails. Exit 1
/// (gpuarch found an incompatibility) is an answer, not a failure.
fn time_once(cmd: &mut Command) -> Result<Duration> {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {cmd:?}"))?;
    let elapsed = start.elapsed();
    ensure!(
        matches!(status.code(), Some(0 | 1)),
        "{cmd:?} failed: {status}"
    );
    Ok(elapsed)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Runs A and B in turn `runs` times (after a warm-up each); prints the medians and the
/// median of the per-pair ratios A/B.
fn paired(
    label: &str,
    runs: usize,
    mut a: impl FnMut() -> Command,
    mut b: impl FnMut() -> Command,
) -> Result<(Duration, Duration)> {
    time_once(&mut a())?;
    time_once(&mut b())?;
    let mut ta = Vec::with_capacity(runs);
    let mut tb = Vec::with_capacity(runs);
    let mut ratios = Vec::with_capacity(runs);
    for _ in 0..runs {
        let x = time_once(&mut a())?;
        let y = time_once(&mut b())?;
        ratios.push(x.as_secs_f64() / y.as_secs_f64());
        ta.push(x);
        tb.push(y);
    }
    ratios.sort_by(f64::total_cmp);
    let (ma, mb) = (median(ta), median(tb));
    println!(
        "{label}: {} vs {} (median of {runs}); ratio {:.2} (median of pairwise ratios)",
        ms(ma),
        ms(mb),
        ratios[runs / 2]
    );
    Ok((ma, mb))
}

fn plan(runs: usize) -> Result<()> {
    let (cli, hello, _) = release_binaries()?;
    let manifest = workspace_root().join("examples/fleet/gpuarch.toml");
    paired(
        "plan examples/fleet vs hello",
        runs,
        || {
            let mut c = Command::new(&cli);
            c.args(["gpuarch", "plan", "--format", "nvcc", "--manifest-path"])
                .arg(&manifest);
            c
        },
        || Command::new(&hello),
    )?;

    let big = write_big_manifest(1000)?;
    paired(
        "plan 1,000-GPU manifest vs hello",
        runs / 4,
        || {
            let mut c = Command::new(&cli);
            c.args(["gpuarch", "plan", "--format", "json", "--manifest-path"])
                .arg(&big);
            c
        },
        || Command::new(&hello),
    )?;
    Ok(())
}

/// `check --inventory` on a generated `kubectl get nodes -o json` of `nodes` nodes: plan for
/// every GPU in it, judge every node group; whole process, against hello, plus peak RSS.
fn fleet(nodes: usize, runs: usize) -> Result<()> {
    let runs = runs.max(5);
    let (cli, hello, _) = release_binaries()?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let inventory = dir.join(format!("nodes-{nodes}.json"));
    let json = crate::gen_inventory::nodes_json(nodes, 1);
    std::fs::write(&inventory, &json)?;
    println!(
        "inventory: {} nodes, {:.1} MB ({:.1} KB per node), {}",
        nodes,
        json.len() as f64 / 1e6,
        json.len() as f64 / 1e3 / nodes as f64,
        inventory.display()
    );
    let check = |format: &'static str| {
        let cli = cli.clone();
        let inventory = inventory.clone();
        move || {
            let mut c = Command::new(&cli);
            c.args([
                "gpuarch",
                "check",
                "--cuda",
                "12.4",
                "--format",
                format,
                "--inventory",
            ])
            .arg(&inventory);
            c
        }
    };
    let (text_time, _) = paired(
        "check --inventory (text) vs hello",
        runs,
        check("text"),
        || Command::new(&hello),
    )?;
    let (json_time, _) = paired(
        "check --inventory (json) vs hello",
        runs,
        check("json"),
        || Command::new(&hello),
    )?;
    // A peer from the same run: what a team's own script pays just to load the file.
    if Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let inventory = inventory.clone();
        paired(
            "check --inventory (text) vs python3 json.load of the same file",
            runs,
            check("text"),
            move || {
                let mut c = Command::new("python3");
                c.args(["-c", "import json, sys; json.load(open(sys.argv[1]))"])
                    .arg(&inventory);
                c
            },
        )?;
    }
    if let Some(probe) = crate::bench_inspect::RssProbe::find(&dir) {
        for format in ["text", "json"] {
            let argv: Vec<std::ffi::OsString> = [
                cli.as_os_str(),
                "gpuarch".as_ref(),
                "check".as_ref(),
                "--cuda".as_ref(),
                "12.4".as_ref(),
                "--format".as_ref(),
                format.as_ref(),
                "--inventory".as_ref(),
                inventory.as_os_str(),
            ]
            .iter()
            .map(|s| s.to_os_string())
            .collect();
            let mut peaks: Vec<u64> = (0..5)
                .filter_map(|_| probe.measure(&argv, &dir).map(|(kib, _)| kib))
                .collect();
            peaks.sort_unstable();
            if let Some(kib) = peaks.get(peaks.len() / 2) {
                println!(
                    "check --inventory ({format}) peak RSS: {:.1} MiB (median of {}; {})",
                    *kib as f64 / 1024.0,
                    peaks.len(),
                    probe.describe()
                );
            }
        }
    }
    println!(
        "goal: < 200 ms and < 100 MB; text {}, json {}",
        ms(text_time),
        ms(json_time)
    );
    Ok(())
}

/// `doctor --root` on fake hosts (their `bin/` first on PATH: a fake nvidia-smi), against
/// hello; with the real nvcc when the toolkit cache has one.
fn doctor(runs: usize) -> Result<()> {
    let runs = runs.max(5);
    let (cli, hello, _) = release_binaries()?;
    let root = workspace_root();
    let hosts = root.join("tests/fixtures/hosts");
    let cache = target_dir().join("bench/doctor-cache");
    // The toolkit cache's nvcc, where `cargo xtask toolkit install nvcc 13.0.88` put it.
    let nvcc_bin = std::env::var_os("GPUARCH_TOOLKIT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".cache/toolkits"))
        .join("cuda-13.0/bin");
    let doctor = |host: &str, nvcc: bool, extra: &[&'static str]| {
        let cli = cli.clone();
        let host = hosts.join(host);
        let cache = cache.clone();
        let nvcc_bin = nvcc_bin.clone();
        let extra: Vec<&'static str> = extra.to_vec();
        move || {
            let mut path = vec![host.join("bin")];
            if nvcc {
                path.push(nvcc_bin.clone());
            }
            path.push(PathBuf::from("/bin"));
            path.push(PathBuf::from("/usr/bin"));
            let mut c = Command::new(&cli);
            c.env_clear()
                .env("PATH", std::env::join_paths(&path).expect("PATH"))
                .env("GPUARCH_CACHE_DIR", &cache)
                .args(["gpuarch", "doctor", "--root"])
                .arg(&host)
                .args(&extra);
            c
        }
    };
    paired(
        "doctor build-box (no nvcc, no nvidia-smi) vs hello",
        runs,
        doctor("build-box", false, &[]),
        || Command::new(&hello),
    )?;
    paired(
        "doctor h100 (fake nvidia-smi, no nvcc) vs hello",
        runs,
        doctor("h100", false, &[]),
        || Command::new(&hello),
    )?;
    if nvcc_bin.join("nvcc").exists() {
        paired(
            "doctor h100 + nvcc 13.0, cached vs hello",
            runs,
            doctor("h100", true, &[]),
            || Command::new(&hello),
        )?;
        paired(
            "doctor h100 + nvcc 13.0, --no-cache vs hello",
            runs,
            doctor("h100", true, &["--no-cache"]),
            || Command::new(&hello),
        )?;
        for (label, extra) in [
            ("cached", &["--timings", "--format", "json"][..]),
            (
                "uncached",
                &["--timings", "--no-cache", "--format", "json"][..],
            ),
        ] {
            let out = doctor("h100", true, extra)()
                .output()
                .context("running doctor --timings")?;
            let json: serde_json::Value =
                serde_json::from_slice(&out.stdout).context("doctor --format json")?;
            let probes: Vec<String> = json["timings"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .map(|p| {
                            format!(
                                "{} {:.2} ms",
                                p["probe"].as_str().unwrap_or("?"),
                                p["ms"].as_f64().unwrap_or(0.0)
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            println!("doctor probes, nvcc {label}: {}", probes.join(", "));
        }
    } else {
        println!(
            "doctor with nvcc: SKIPPED, no nvcc at {} (cargo xtask toolkit install nvcc 13.0.88)",
            nvcc_bin.display()
        );
    }
    Ok(())
}

/// A manifest of `count` GPUs written the ways nvidia-smi and people write them.
fn write_big_manifest(count: usize) -> Result<PathBuf> {
    let names: Vec<String> = gpuarch_build::catalog::gpus()
        .iter()
        .filter(|g| g.cc.major >= 5)
        .flat_map(|g| std::iter::once(g.name).chain(g.aliases.iter().copied()))
        .map(|n| n.replace('"', ""))
        .collect();
    let mut text = String::from("cuda = \"12.9\"\nmin-driver = \"575.51.03\"\ngpus = [\n");
    for i in 0..count {
        // Every fifth entry a memory/form-factor variant, as inventories list them.
        let name = &names[i % names.len()];
        if i % 5 == 0 {
            text.push_str(&format!("  \"{name}-{}GB\",\n", 16 + i % 4 * 16));
        } else {
            text.push_str(&format!("  \"{name}\",\n"));
        }
    }
    text.push_str("]\n");
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("fleet-{count}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn build_script(runs: usize) -> Result<()> {
    let root = workspace_root();
    let fleet = root.join("examples/fleet");
    // In process: everything a build.rs calls, nvcc excluded (the manifest names `cuda`).
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let dir = fleet.to_string_lossy().to_string();
        let start = Instant::now();
        let mut env = gpuarch_build::BuildEnv::from_fn(move |k| {
            (k == "CARGO_MANIFEST_DIR").then(|| dir.clone())
        });
        let plan = gpuarch_build::plan_for_build(&mut env).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut build = cc::Build::new();
        plan.configure(&mut build);
        ensure!(!plan.has_errors(), "the example plan has errors");
        times.push(start.elapsed());
    }
    println!(
        "build-script helper, in process: {} (median of {runs})",
        ms(median(times))
    );

    let (_, hello, probe) = release_binaries()?;
    paired(
        "build-script helper as a process vs hello",
        runs,
        || {
            let mut c = Command::new(&probe);
            c.env("CARGO_MANIFEST_DIR", &fleet);
            c
        },
        || Command::new(&hello),
    )?;
    Ok(())
}

/// `cargo gpuarch deploy --format json`, whole process: the matrix and the fix search
/// over every PyTorch variant, image set and driver branch in the catalog.
fn deploy(runs: usize) -> Result<()> {
    let (cli, hello, _) = release_binaries()?;
    let cases: [(&str, &[&str]); 2] = [
        (
            "deploy, the documented example (A100, R460, torch 1.12.1, CUDA 10.2 image) vs hello",
            &[
                "--gpu", "A100-PCIE-40GB", "--min-driver", "460.32.03", "--torch", "1.12.1",
                "--image", "nvidia/cuda:10.2-base-ubuntu20.04",
            ],
        ),
        (
            "deploy, six GPUs (T4, A100, L4, H100, B200, RTX 4090), R470, torch 2.4.1, CUDA 12.1.1 image vs hello",
            &[
                "--gpu", "T4", "--gpu", "A100", "--gpu", "L4", "--gpu", "H100", "--gpu", "B200",
                "--gpu", "RTX 4090", "--min-driver", "470.42.01", "--torch", "2.4.1", "--image",
                "nvidia/cuda:12.1.1-base-ubuntu22.04",
            ],
        ),
    ];
    for (label, args) in cases {
        paired(
            label,
            runs,
            || {
                let mut c = Command::new(&cli);
                c.args(["gpuarch", "deploy", "--format", "json"]).args(args);
                c
            },
            || Command::new(&hello),
        )?;
    }
    Ok(())
}

/// A GNU static archive of `copies` copies of one object, as `ar rc` writes it.
pub fn archive_of(object: &[u8], copies: usize) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for i in 0..copies {
        let name = format!("k{i}.o/");
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            object.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(object);
        if out.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// The post-build gate on a static library of a few MB: in process (xtask is a debug
/// build, as build scripts are), against reading the file, which is its floor.
fn gate(runs: usize) -> Result<()> {
    let root = workspace_root();
    let object = std::fs::read(root.join("tests/fixtures/artifacts/k.o"))?;
    let dir = target_dir().join("bench/gate");
    std::fs::create_dir_all(&dir)?;
    let lib = dir.join("libbig.a");
    std::fs::write(&lib, archive_of(&object, 200))?;
    let size = std::fs::metadata(&lib)?.len();
    let fleet = root.join("examples/fleet").to_string_lossy().to_string();
    let mut env = gpuarch_build::BuildEnv::from_fn(move |k| {
        (k == "CARGO_MANIFEST_DIR").then(|| fleet.clone())
    });
    let plan = gpuarch_build::plan_for_build(&mut env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (mut gate_times, mut read_times) = (Vec::new(), Vec::new());
    let mut containers = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let checked = gpuarch_build::build_script::verify_built(&plan, &lib)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        gate_times.push(start.elapsed());
        containers = checked.containers.len();
        let start = Instant::now();
        let bytes = std::fs::read(&lib)?;
        std::hint::black_box(&bytes);
        read_times.push(start.elapsed());
    }
    ensure!(
        containers == 200,
        "expected 200 containers, read {containers}"
    );
    let (g, r) = (median(gate_times), median(read_times));
    println!(
        "post-build gate on a {:.1} MB archive ({containers} containers), in process: {} (median of {runs}); reading the file alone: {}; ratio {:.2}",
        size as f64 / 1e6,
        ms(g),
        ms(r),
        g.as_secs_f64() / r.as_secs_f64()
    );
    Ok(())
}

fn compile(runs: usize) -> Result<()> {
    let root = workspace_root();
    let base = target_dir().join("bench/compile");
    let with_cc = make_crate(
        &base.join("only-cc"),
        "cc = \"1.2\"",
        "let _ = cc::Build::new();",
    )?;
    let gpuarch_path = root.join("gpuarch-build");
    let with_gpuarch = make_crate(
        &base.join("gpuarch-build"),
        &format!(
            "gpuarch-build = {{ path = {:?} }}",
            gpuarch_path.to_string_lossy()
        ),
        "let _ = gpuarch_build::plan_for_build;",
    )?;
    let build = |dir: &Path| {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(dir)
            .args(["build", "--quiet", "--offline"])
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env_remove("RUSTFLAGS");
        c
    };
    // Each run starts clean: the target directory is removed first.
    let clean_build = |dir: PathBuf| {
        move || {
            let _ = std::fs::remove_dir_all(dir.join("target"));
            build(&dir)
        }
    };
    let (g, c) = paired(
        "clean compile: gpuarch-build vs cc alone",
        runs,
        clean_build(with_gpuarch),
        clean_build(with_cc),
    )?;
    println!("  ({:.1} s vs {:.1} s)", g.as_secs_f64(), c.as_secs_f64());
    Ok(())
}

fn make_crate(dir: &Path, dependency: &str, use_it: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"bench-crate\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n[build-dependencies]\n{dependency}\n"),
    )?;
    std::fs::write(dir.join("build.rs"), format!("fn main() {{ {use_it} }}\n"))?;
    std::fs::write(dir.join("src/lib.rs"), "")?;
    // Resolve once, so the timed builds only compile.
    let status = Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(["generate-lockfile", "--quiet", "--offline"])
        .status()?;
    ensure!(
        status.success(),
        "cargo generate-lockfile failed in {}",
        dir.display()
    );
    Ok(dir.to_path_buf())
}
