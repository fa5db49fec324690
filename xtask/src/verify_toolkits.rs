//! `cargo xtask verify-toolkits [--all | VERSION...]`: check `toolkits.toml` against the
//! compilers NVIDIA publishes on PyPI.
//!
//! For each release it downloads the nvcc wheel (cached), extracts `ptxas`, and compares
//! what that `ptxas` really accepts (`--gpu-name` values, highest PTX `.version`) with the
//! `[[toolkit]]` row of the release's `major.minor`.
//!
//! Environment:
//! - `GPUARCH_TOOLKIT_CACHE`: where wheels and extracted `ptxas` binaries live
//!   (default `<workspace>/.cache/toolkits`).
//! - `GPUARCH_REQUIRE_NETWORK=1`: treat "cannot reach the package index" as a failure
//!   instead of a skip (for CI jobs that are meant to have the network).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

/// A few releases per major, checked when no version is named: enough to catch a wrong
/// row without downloading every wheel.
const DEFAULT_RELEASES: &[&str] = &[
    "11.8.89", "12.4.131", "12.8.93", "12.9.86", "13.0.88", "13.5.37",
];

/// Fragments of pip's output that mean "the index could not be reached", as opposed to
/// "the index answered and has no such version".
const NETWORK_ERRORS: &[&str] = &[
    "NewConnectionError",
    "NameResolutionError",
    "Failed to resolve",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "SSLError",
    "Max retries exceeded",
    "connection broken",
    "Connection refused",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "No route to host",
];

#[derive(Deserialize)]
struct Catalog {
    toolkit: Vec<Toolkit>,
}

/// The part of a `[[toolkit]]` row this task checks; other keys are ignored.
#[derive(Deserialize)]
struct Toolkit {
    version: String,
    real_targets: Vec<String>,
    virtual_targets: Vec<String>,
    ptx_isa: String,
    #[serde(default)]
    pypi_nvcc: Vec<String>,
}

/// What one `ptxas` binary says about itself.
struct Measured {
    real: BTreeSet<String>,
    virtual_: BTreeSet<String>,
    max_ptx_isa: String,
    /// Whether `ptxas` accepts the catalog's `ptx_isa` as a `.version`.
    accepts_catalog_isa: bool,
}

enum Outcome {
    Agrees(String),
    Disagrees(Vec<String>),
    Skipped(String),
}

pub fn run(args: &[String]) -> Result<()> {
    // The wheels are manylinux x86_64: their ptxas only runs there.
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        bail!("verify-toolkits runs NVIDIA's Linux x86_64 ptxas, so it needs a Linux x86_64 host");
    }

    let root = crate::workspace_root();
    let catalog_path = root.join("gpuarch-build/data/toolkits.toml");
    let text = std::fs::read_to_string(&catalog_path)
        .with_context(|| format!("reading {}", catalog_path.display()))?;
    let catalog: Catalog =
        toml::from_str(&text).with_context(|| format!("parsing {}", catalog_path.display()))?;

    let releases = select_releases(args, &catalog)?;
    let cache = match std::env::var_os("GPUARCH_TOOLKIT_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => root.join(".cache/toolkits"),
    };
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let require_network = std::env::var("GPUARCH_REQUIRE_NETWORK").is_ok_and(|v| v == "1");

    let (mut agree, mut disagree, mut skipped) = (0, 0, 0);
    // Once the index is known to be unreachable, later releases skip at once instead of
    // waiting through pip's retries again.
    let mut unreachable: Option<String> = None;
    for release in &releases {
        let outcome = verify_release(release, &catalog, &cache, &mut unreachable);
        match outcome {
            Ok(Outcome::Agrees(summary)) => {
                agree += 1;
                println!("{release:<10} ok  ({summary})");
            }
            Ok(Outcome::Disagrees(diffs)) => {
                disagree += 1;
                println!("{release:<10} DISAGREES with toolkits.toml");
                for diff in diffs {
                    println!("{:<10}   {diff}", "");
                }
            }
            Ok(Outcome::Skipped(reason)) => {
                skipped += 1;
                println!("{release:<10} SKIPPED: cannot reach the package index ({reason})");
            }
            Err(err) => {
                disagree += 1;
                println!("{release:<10} ERROR: {err:#}");
            }
        }
    }

    println!(
        "verify-toolkits: {} checked, {agree} ok, {disagree} failed, {skipped} skipped",
        releases.len()
    );
    if disagree > 0 {
        bail!(
            "{disagree} release(s) failed the check against {}",
            catalog_path.display()
        );
    }
    if skipped > 0 && require_network {
        bail!("{skipped} release(s) skipped for lack of network and GPUARCH_REQUIRE_NETWORK=1");
    }
    Ok(())
}

/// `--all`: every `pypi_nvcc` entry; explicit versions: those; nothing: `DEFAULT_RELEASES`.
fn select_releases(args: &[String], catalog: &Catalog) -> Result<Vec<String>> {
    if args.iter().any(|a| a == "--all") {
        ensure!(args.len() == 1, "--all takes no versions");
        return Ok(catalog
            .toolkit
            .iter()
            .flat_map(|t| t.pypi_nvcc.iter().cloned())
            .collect());
    }
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        bail!("unknown option {flag}; usage: cargo xtask verify-toolkits [--all | VERSION...]");
    }
    let releases: Vec<String> = if args.is_empty() {
        DEFAULT_RELEASES.iter().map(|s| s.to_string()).collect()
    } else {
        args.to_vec()
    };
    for release in &releases {
        let parts: Vec<&str> = release.split('.').collect();
        ensure!(
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
            "{release:?} is not a PyPI nvcc release (expected MAJOR.MINOR.PATCH, e.g. 12.4.131)"
        );
    }
    Ok(releases)
}

fn verify_release(
    release: &str,
    catalog: &Catalog,
    cache: &Path,
    unreachable: &mut Option<String>,
) -> Result<Outcome> {
    let minor = major_minor(release);
    let row = catalog
        .toolkit
        .iter()
        .find(|t| t.version == minor)
        .with_context(|| format!("toolkits.toml has no [[toolkit]] row for {minor}"))?;

    let package = package_for(release)?;
    let wheel = match find_wheel(cache, package, release)? {
        Some(wheel) => wheel,
        None => {
            if let Some(reason) = unreachable {
                return Ok(Outcome::Skipped(reason.clone()));
            }
            match download_wheel(cache, package, release)? {
                Ok(wheel) => wheel,
                Err(reason) => {
                    *unreachable = Some(reason.clone());
                    return Ok(Outcome::Skipped(reason));
                }
            }
        }
    };
    let ptxas = extract_ptxas(cache, &wheel, package, release)?;
    let measured = measure(&ptxas, release, &row.ptx_isa)?;

    let mut diffs = compare("sm", &row.real_targets, &measured.real);
    diffs.extend(compare("compute", &row.virtual_targets, &measured.virtual_));
    if row.ptx_isa != measured.max_ptx_isa {
        diffs.push(format!(
            "PTX ISA: catalog {}, ptxas {}",
            row.ptx_isa, measured.max_ptx_isa
        ));
    }
    if !measured.accepts_catalog_isa {
        diffs.push(format!(
            "PTX ISA: ptxas rejects the catalog's .version {}",
            row.ptx_isa
        ));
    }
    if !row.pypi_nvcc.iter().any(|v| v == release) {
        diffs.push(format!("pypi_nvcc of row {minor} does not list {release}"));
    }

    if diffs.is_empty() {
        Ok(Outcome::Agrees(format!(
            "real {}, virtual {}, PTX ISA {}",
            measured.real.len(),
            measured.virtual_.len(),
            measured.max_ptx_isa
        )))
    } else {
        Ok(Outcome::Disagrees(diffs))
    }
}

/// `"12.4.131"` -> `"12.4"`.
fn major_minor(release: &str) -> String {
    release.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// NVIDIA renamed the package for CUDA 13: `-cu11`/`-cu12` suffixes before, none after.
fn package_for(release: &str) -> Result<&'static str> {
    Ok(match release.split('.').next() {
        Some("11") => "nvidia-cuda-nvcc-cu11",
        Some("12") => "nvidia-cuda-nvcc-cu12",
        Some("13") => "nvidia-cuda-nvcc",
        _ => bail!("no known PyPI nvcc package for CUDA {release}"),
    })
}

/// The cached wheel of `package==release`, if one was downloaded before. Wheel file names
/// spell the distribution with underscores and carry platform tags after the version.
fn find_wheel(cache: &Path, package: &str, release: &str) -> Result<Option<PathBuf>> {
    let prefix = format!("{}-{release}-", package.replace('-', "_"));
    let mut found: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(cache).with_context(|| format!("listing {}", cache.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

/// Downloads the wheel with pip. The inner `Err` carries pip's reason when the index could
/// not be reached (a skip, not a failure); the outer one any other failure.
fn download_wheel(
    cache: &Path,
    package: &str,
    release: &str,
) -> Result<std::result::Result<PathBuf, String>> {
    eprintln!(
        "  downloading {package}=={release} into {}",
        cache.display()
    );
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--platform", "manylinux2014_x86_64"])
        .args(["--platform", "manylinux_2_27_x86_64"])
        .args(["--platform", "manylinux_2_28_x86_64"])
        .args(["--platform", "manylinux1_x86_64"])
        .args([
            "--python-version",
            "3.11",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(cache)
        .arg(format!("{package}=={release}"))
        .output()
        .context("running python3 -m pip (is python3 with pip installed?)")?;
    let log = combined(&output);
    if !output.status.success() {
        if let Some(line) = log
            .lines()
            .find(|l| NETWORK_ERRORS.iter().any(|e| l.contains(e)))
        {
            return Ok(Err(network_reason(line)));
        }
        let reason = log
            .lines()
            .find(|l| l.starts_with("ERROR:"))
            .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("no output");
        bail!(
            "pip download {package}=={release} failed ({}): {}",
            output.status,
            reason.trim()
        );
    }
    match find_wheel(cache, package, release)? {
        Some(wheel) => Ok(Ok(wheel)),
        None => bail!(
            "pip download {package}=={release} succeeded but left no wheel in {}",
            cache.display()
        ),
    }
}

/// The readable core of pip's retry warning: it wraps the reason ("Failed to establish a
/// new connection: [Errno 111] Connection refused") in urllib3 reprs and a URL.
fn network_reason(line: &str) -> String {
    const CORES: &[&str] = &["Failed to establish a new connection", "Failed to resolve"];
    let start = CORES.iter().filter_map(|c| line.find(c)).min().unwrap_or(0);
    let core = &line[start..];
    let end = ["')", "\")", "': /"]
        .iter()
        .filter_map(|e| core.find(e))
        .min()
        .unwrap_or(core.len());
    core[..end].trim().to_string()
}

/// Extracts `.../bin/ptxas` from the wheel into `<cache>/ptxas/<package>-<release>/ptxas`,
/// once. Wheels are zip files; python3's zipfile is used because it is always there.
fn extract_ptxas(cache: &Path, wheel: &Path, package: &str, release: &str) -> Result<PathBuf> {
    let dir = cache.join("ptxas").join(format!("{package}-{release}"));
    let ptxas = dir.join("ptxas");
    if ptxas.is_file() {
        return Ok(ptxas);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // cu11/cu12 wheels hold nvidia/cuda_nvcc/bin/ptxas, 13.x ones nvidia/cu13/bin/ptxas:
    // take the one member named bin/ptxas. Written to a temporary name and renamed, so an
    // interrupted run never leaves a truncated binary that a later run would trust.
    const SCRIPT: &str = r#"
import shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith("/bin/ptxas")]
    if len(names) != 1:
        sys.exit("expected one */bin/ptxas in the wheel, found %r" % names)
    with z.open(names[0]) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
"#;
    let partial = dir.join("ptxas.partial");
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(wheel)
        .arg(&partial)
        .output()
        .context("running python3 to unzip the wheel")?;
    ensure!(
        output.status.success(),
        "extracting ptxas from {} failed: {}",
        wheel.display(),
        combined(&output).trim()
    );
    make_executable(&partial)?;
    std::fs::rename(&partial, &ptxas)
        .with_context(|| format!("moving {} into place", partial.display()))?;
    Ok(ptxas)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod +x {}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

fn measure(ptxas: &Path, release: &str, catalog_isa: &str) -> Result<Measured> {
    // The version check guards against a stale or mislabelled cache entry.
    let version = run_ptxas(ptxas, &["--version"])?;
    ensure!(
        combined(&version).contains(&format!(", V{release}")),
        "{} is not ptxas {release}: --version says {:?}",
        ptxas.display(),
        combined(&version)
            .lines()
            .find(|l| l.contains("release"))
            .unwrap_or("nothing")
    );

    let help = run_ptxas(ptxas, &["--help"])?;
    ensure!(
        help.status.success(),
        "ptxas --help failed: {}",
        combined(&help).trim()
    );
    let allowed = gpu_name_values(&String::from_utf8_lossy(&help.stdout))?;
    let real: BTreeSet<String> = allowed
        .iter()
        .filter(|v| v.starts_with("sm_"))
        .cloned()
        .collect();
    let virtual_: BTreeSet<String> = allowed
        .iter()
        .filter(|v| v.starts_with("compute_"))
        .cloned()
        .collect();
    ensure!(
        !real.is_empty() && !virtual_.is_empty(),
        "ptxas --help lists no sm_/compute_ values"
    );

    // The probe module needs a target this ptxas accepts; sm_75 exists in every release
    // from 10.0 to now, sm_52 is the fallback for anything older.
    let target = ["sm_75", "sm_52"]
        .into_iter()
        .find(|t| real.contains(*t))
        .context("ptxas accepts neither sm_75 nor sm_52 for the PTX ISA probe")?;
    let work = ptxas.parent().context("ptxas path has no parent")?;

    // ptxas names its newest ISA when rejecting one it does not know.
    let probe = probe_ptx(ptxas, work, target, "99.9")?;
    let text = combined(&probe);
    let max_ptx_isa = text
        .split("current version is '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .filter(|v| !v.is_empty())
        .with_context(|| {
            format!(
                "no \"current version is\" in ptxas's answer to .version 99.9: {}",
                text.trim()
            )
        })?
        .to_string();

    let accepts_catalog_isa = probe_ptx(ptxas, work, target, catalog_isa)?
        .status
        .success();
    Ok(Measured {
        real,
        virtual_,
        max_ptx_isa,
        accepts_catalog_isa,
    })
}

/// Assembles an empty module declaring `.version {isa}` for `target`.
fn probe_ptx(ptxas: &Path, work: &Path, target: &str, isa: &str) -> Result<Output> {
    let ptx = work.join("probe.ptx");
    std::fs::write(
        &ptx,
        format!(".version {isa}\n.target {target}\n.address_size 64\n"),
    )
    .with_context(|| format!("writing {}", ptx.display()))?;
    let cubin = work.join("probe.cubin");
    let (ptx, cubin) = (ptx.to_string_lossy(), cubin.to_string_lossy());
    run_ptxas(ptxas, &[&format!("-arch={target}"), &ptx, "-o", &cubin])
}

fn run_ptxas(ptxas: &Path, args: &[&str]) -> Result<Output> {
    Command::new(ptxas)
        .args(args)
        .output()
        .with_context(|| format!("running {} {}", ptxas.display(), args.join(" ")))
}

/// The quoted values after "Allowed values for this option:" in the `--gpu-name` entry of
/// `ptxas --help`. The list wraps over several lines and ends at the first `'.`.
fn gpu_name_values(help: &str) -> Result<Vec<String>> {
    let entry = help
        .find("--gpu-name")
        .map(|at| &help[at..])
        .context("ptxas --help has no --gpu-name entry")?;
    let list = entry
        .find("Allowed values for this option:")
        .map(|at| &entry[at..])
        .context("the --gpu-name entry of ptxas --help has no \"Allowed values\"")?;
    let end = list
        .find("'.")
        .context("the --gpu-name \"Allowed values\" list does not end")?;
    // Splitting `'a','b'` on quotes puts the values at the odd positions.
    Ok(list[..=end]
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect())
}

/// Lines for targets of one kind (`sm`/`compute`) that the catalog and ptxas disagree on.
fn compare(kind: &str, catalog: &[String], measured: &BTreeSet<String>) -> Vec<String> {
    let prefix = format!("{kind}_");
    let listed: BTreeSet<String> = catalog.iter().cloned().collect();
    let mut diffs = Vec::new();
    let wrong_kind = sorted(listed.iter().filter(|t| !t.starts_with(&prefix)));
    if !wrong_kind.is_empty() {
        diffs.push(format!(
            "not {kind}_ targets in the {kind} list: {}",
            wrong_kind.join(", ")
        ));
    }
    let missing = sorted(measured.difference(&listed));
    if !missing.is_empty() {
        diffs.push(format!("missing in catalog: {}", missing.join(", ")));
    }
    let extra = sorted(
        listed
            .difference(measured)
            .filter(|t| t.starts_with(&prefix)),
    );
    if !extra.is_empty() {
        diffs.push(format!(
            "catalog has but ptxas rejects: {}",
            extra.join(", ")
        ));
    }
    if listed.len() != catalog.len() {
        diffs.push(format!("the {kind} list of this row repeats a target"));
    }
    diffs
}

/// Targets in numeric order (`sm_90 < sm_90a < sm_100`), as people read them.
fn sorted<'a>(targets: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut out: Vec<&str> = targets.map(String::as_str).collect();
    out.sort_by_key(|t| {
        let tail = t.rsplit('_').next().unwrap_or(t);
        let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
        (digits.parse::<u32>().unwrap_or(u32::MAX), tail.to_string())
    });
    out
}

fn combined(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrapped_allowed_values() {
        let help = "--gpu-name <gpu name>   (-arch)\n        Specify name.\n        \
            Allowed values for this option:  'compute_100','compute_90a',\n        \
            'lto_90','sm_100f','sm_75'.\n        Default value:  'sm_75'.\n";
        assert_eq!(
            gpu_name_values(help).unwrap(),
            ["compute_100", "compute_90a", "lto_90", "sm_100f", "sm_75"]
        );
    }

    #[test]
    fn reports_both_directions() {
        let catalog = vec!["sm_75".to_string(), "sm_80".to_string()];
        let measured: BTreeSet<String> =
            ["sm_75", "sm_90a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            compare("sm", &catalog, &measured),
            [
                "missing in catalog: sm_90a",
                "catalog has but ptxas rejects: sm_80"
            ]
        );
    }

    #[test]
    fn sorts_targets_numerically() {
        let targets: Vec<String> = ["sm_100", "sm_90a", "sm_90", "sm_75"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            sorted(targets.iter()),
            ["sm_75", "sm_90", "sm_90a", "sm_100"]
        );
    }

    #[test]
    fn shortens_pip_network_errors() {
        let refused =
            "WARNING: Retrying (Retry(total=4, connect=None)) after connection broken by \
            'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f>: \
            Failed to establish a new connection: [Errno 111] Connection refused')': /simple/x/";
        assert_eq!(
            network_reason(refused),
            "Failed to establish a new connection: [Errno 111] Connection refused"
        );
        let dns = "WARNING: Retrying (Retry(total=4)) after connection broken by 'NameResolutionError(\"<x>: \
            Failed to resolve 'pypi.org' ([Errno -3] Temporary failure in name resolution)\")': /simple/x/";
        assert_eq!(
            network_reason(dns),
            "Failed to resolve 'pypi.org' ([Errno -3] Temporary failure in name resolution)"
        );
    }

    #[test]
    fn release_to_row_and_package() {
        assert_eq!(major_minor("12.4.131"), "12.4");
        assert_eq!(package_for("13.0.88").unwrap(), "nvidia-cuda-nvcc");
        assert_eq!(package_for("11.8.89").unwrap(), "nvidia-cuda-nvcc-cu11");
        assert!(package_for("10.2.89").is_err());
    }
}
