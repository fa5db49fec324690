//! `cargo xtask verify-toolkits [--all | VERSION...]`: check `toolkits.toml` against the
//! compilers NVIDIA publishes on PyPI.
//!
//! For each release it installs that release's `ptxas` (as `cargo xtask toolkit install
//! ptxas X.Y.Z` does, cached), and compares what it really accepts (`--gpu-name` values,
//! highest PTX `.version`) with the `[[toolkit]]` row of the release's `major.minor`.
//! Without a version it checks [`DEFAULT_RELEASES`], a few per major; `--all` checks every
//! release the catalog lists in `pypi_nvcc`.
//!
//! Environment:
//! - `GPUARCH_TOOLKIT_CACHE`: where wheels and extracted `ptxas` binaries live
//!   (default `<workspace>/.cache/toolkits`; see `toolkits.rs`).
//! - `GPUARCH_REQUIRE_NETWORK=1`: treat "cannot reach the package index" as a failure
//!   instead of a skip (for CI jobs that are meant to have the network).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::toolkits::{combined, offline_reason, Cache};

/// A few releases per major, checked when no version is named: enough to catch a wrong
/// row without downloading every wheel. The first and last of each major on PyPI, and the
/// releases that added targets (12.8: sm_100/sm_120, 12.9: `f`, 13.0: the sm_75 floor).
pub const DEFAULT_RELEASES: &[&str] = &[
    "11.7.99", "11.8.89", "12.0.76", "12.4.131", "12.8.93", "12.9.86", "13.0.88", "13.5.37",
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
    let root = crate::workspace_root();
    let catalog_path = root.join("gpuarch-build/data/toolkits.toml");
    let text = std::fs::read_to_string(&catalog_path)
        .with_context(|| format!("reading {}", catalog_path.display()))?;
    let catalog: Catalog =
        toml::from_str(&text).with_context(|| format!("parsing {}", catalog_path.display()))?;

    let releases = select_releases(args, &catalog)?;
    let mut cache = Cache::from_env()?;
    let require_network = std::env::var("GPUARCH_REQUIRE_NETWORK").is_ok_and(|v| v == "1");

    let (mut agree, mut disagree, mut skipped) = (0, 0, 0);
    for release in &releases {
        // Once the index proves unreachable, the cache fails later downloads at once.
        let outcome = verify_release(release, &catalog, &mut cache);
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

fn verify_release(release: &str, catalog: &Catalog, cache: &mut Cache) -> Result<Outcome> {
    let minor = major_minor(release);
    let row = catalog
        .toolkit
        .iter()
        .find(|t| t.version == minor)
        .with_context(|| format!("toolkits.toml has no [[toolkit]] row for {minor}"))?;

    // `ptxas` checks the binary's --version against the release.
    let ptxas = match cache.ptxas(release) {
        Ok(ptxas) => ptxas,
        Err(err) => match offline_reason(&err) {
            Some(reason) => return Ok(Outcome::Skipped(reason.to_string())),
            None => return Err(err),
        },
    };
    let measured = measure(&ptxas, &row.ptx_isa)?;

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

fn measure(ptxas: &Path, catalog_isa: &str) -> Result<Measured> {
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
    fn default_releases_are_catalogued_and_span_every_major() {
        let path = crate::workspace_root().join("gpuarch-build/data/toolkits.toml");
        let catalog: Catalog = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let listed: BTreeSet<&str> = catalog
            .toolkit
            .iter()
            .flat_map(|t| t.pypi_nvcc.iter().map(String::as_str))
            .collect();
        for release in DEFAULT_RELEASES {
            assert!(
                listed.contains(release),
                "{release} is in no pypi_nvcc list"
            );
        }
        for major in ["11.", "12.", "13."] {
            let count = DEFAULT_RELEASES
                .iter()
                .filter(|r| r.starts_with(major))
                .count();
            assert!(count >= 2, "only {count} default release(s) of {major}x");
        }
    }

    #[test]
    fn release_to_row() {
        assert_eq!(major_minor("12.4.131"), "12.4");
    }
}
