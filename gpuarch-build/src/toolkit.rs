//! The CUDA toolkit a build uses: named (`cuda = "12.4"`), or found the way builds find
//! nvcc (`NVCC`, `CUDA_HOME`/`CUDA_PATH`, then `PATH`) and asked for its version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::{Arch, Code, CodeKind};
use crate::catalog::{self, Os, ToolkitInfo};
use crate::diagnostic::{Diagnostic, Location};
use crate::error::{Error, Result};
use crate::version::Version;

/// Where the toolkit version came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolkitOrigin {
    /// Written in the manifest, flags or environment.
    Named(Option<Location>),
    /// Read from this nvcc.
    Nvcc(PathBuf),
}

/// What a toolkit can emit, and the drivers it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toolkit {
    pub version: Version,
    pub real_targets: Vec<Arch>,
    pub virtual_targets: Vec<Arch>,
    pub ptx_isa: Version,
    pub driver_linux: Option<Version>,
    pub driver_windows: Option<Version>,
    pub origin: ToolkitOrigin,
    /// The nvcc this toolkit is, where one was found (always for [`ToolkitOrigin::Nvcc`]).
    pub nvcc: Option<PathBuf>,
    /// False when the catalog does not know this release (its facts are inferred).
    pub known: bool,
}

impl Toolkit {
    fn from_info(info: &ToolkitInfo, origin: ToolkitOrigin) -> Toolkit {
        Toolkit {
            version: Version::major_minor(info.version.major, info.version.minor),
            real_targets: info.real_targets.to_vec(),
            virtual_targets: info.virtual_targets.to_vec(),
            ptx_isa: info.ptx_isa,
            driver_linux: info.driver_linux,
            driver_windows: info.driver_windows,
            origin,
            nvcc: None,
            known: true,
        }
    }

    /// A release the catalog does not know: assume the newest known release's targets
    /// (or nvcc's own list), and its major's PTX ISA numbering.
    fn inferred(version: Version, origin: ToolkitOrigin, listed: Option<Vec<Arch>>) -> Toolkit {
        let latest = catalog::latest_toolkit();
        let mut t = Toolkit::from_info(latest, origin);
        t.version = Version::major_minor(version.major, version.minor);
        t.known = false;
        t.driver_linux = None;
        t.driver_windows = None;
        if version.major == latest.version.major {
            t.ptx_isa = Version::major_minor(latest.ptx_isa.major, version.minor);
        }
        if let Some(plain) = listed {
            // nvcc lists plain targets only; keep the catalog's a/f variants of those.
            let known_variants: Vec<Arch> = t
                .real_targets
                .iter()
                .copied()
                .filter(|a| plain.iter().any(|p| p.cc == a.cc))
                .collect();
            let mut real = plain.clone();
            real.extend(known_variants);
            real.sort_unstable();
            real.dedup();
            t.real_targets = real.clone();
            t.virtual_targets = real;
        }
        t
    }

    /// The toolkit of a named version.
    pub fn named(version: Version, location: Option<Location>) -> Toolkit {
        let origin = ToolkitOrigin::Named(location);
        match catalog::toolkit(version) {
            Some(info) => Toolkit::from_info(info, origin),
            None => Toolkit::inferred(version, origin, None),
        }
    }

    pub fn can_emit(&self, code: Code) -> bool {
        catalog::lists_emit(&self.real_targets, &self.virtual_targets, code)
    }

    pub fn driver(&self, os: Os) -> Option<Version> {
        match os {
            Os::Linux => self.driver_linux,
            Os::Windows => self.driver_windows,
        }
    }

    /// A warning when the catalog does not know this release.
    pub fn staleness(&self) -> Option<Diagnostic> {
        if self.known {
            return None;
        }
        let latest = catalog::latest_toolkit().version;
        let basis = match &self.origin {
            ToolkitOrigin::Nvcc(path) => format!("the targets {} lists", path.display()),
            ToolkitOrigin::Named(_) => format!("the targets of CUDA {latest}"),
        };
        let location = match &self.origin {
            ToolkitOrigin::Named(l) => l.clone(),
            ToolkitOrigin::Nvcc(_) => None,
        };
        Some(
            Diagnostic::warning(
                "catalog-stale",
                format!(
                    "CUDA {} is newer than gpuarch's catalog (newest known: {latest}); the plan uses {basis}, PTX ISA {} is assumed, and driver checks are skipped",
                    self.version, self.ptx_isa
                ),
            )
            .with_help("update gpuarch for exact answers")
            .at(location),
        )
    }
}

/// Finds the nvcc a build would use: `NVCC`, then `CUDA_HOME/bin`, `CUDA_PATH/bin`,
/// then `PATH`. `env` reads a variable (build scripts pass one that records it).
pub fn find_nvcc(env: &mut dyn FnMut(&str) -> Option<String>) -> Option<PathBuf> {
    search_nvcc(env).ok()
}

/// Like [`find_nvcc`], but on failure says what was looked at, for the error message.
pub fn search_nvcc(env: &mut dyn FnMut(&str) -> Option<String>) -> Result<PathBuf, Vec<String>> {
    let mut looked = Vec::new();
    if let Some(nvcc) = env("NVCC").filter(|s| !s.is_empty()) {
        return Ok(PathBuf::from(nvcc));
    }
    looked.push("NVCC is unset".to_string());
    let exe = if cfg!(windows) { "nvcc.exe" } else { "nvcc" };
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        match env(var).filter(|s| !s.is_empty()) {
            Some(root) => {
                let candidate = Path::new(&root).join("bin").join(exe);
                if candidate.is_file() {
                    return Ok(candidate);
                }
                looked.push(format!("{var}={root} has no bin/{exe}"));
            }
            None => looked.push(format!("{var} is unset")),
        }
    }
    let path = env("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path)
        .map(|dir| dir.join(exe))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    looked.push(format!("no {exe} on PATH"));
    Err(looked)
}

/// Asks an nvcc for its version (and, for a release the catalog does not know, its targets).
pub fn from_nvcc(nvcc: &Path) -> Result<Toolkit> {
    let output = run(nvcc, &["--version"])?;
    let version = parse_nvcc_version(&output).ok_or_else(|| {
        nvcc_error(
            nvcc,
            format!(
                "`{} --version` printed no `release X.Y`: {}",
                nvcc.display(),
                first_lines(&output)
            ),
        )
    })?;
    let origin = ToolkitOrigin::Nvcc(nvcc.to_path_buf());
    if let Some(info) = catalog::toolkit(version) {
        let mut t = Toolkit::from_info(info, origin);
        t.nvcc = Some(nvcc.to_path_buf());
        return Ok(t);
    }
    let listed = run(nvcc, &["--list-gpu-code"]).ok().map(|out| {
        out.split_whitespace()
            .filter_map(Code::parse)
            .filter(|c| c.kind == CodeKind::Sass)
            .map(|c| c.arch)
            .collect::<Vec<_>>()
    });
    Ok(Toolkit::inferred(
        version,
        origin,
        listed.filter(|l| !l.is_empty()),
    ))
}

/// Reads `release 12.4` from `nvcc --version`.
pub fn parse_nvcc_version(output: &str) -> Option<Version> {
    let rest = &output[output.find("release ")? + "release ".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let v: Version = rest[..end].trim_end_matches('.').parse().ok()?;
    (v.parts >= 2).then_some(v)
}

fn run(nvcc: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(nvcc)
        .args(args)
        .output()
        .map_err(|e| nvcc_error(nvcc, format!("cannot run {}: {e}", nvcc.display())))?;
    if !out.status.success() {
        return Err(nvcc_error(
            nvcc,
            format!(
                "`{} {}` failed ({}): {}",
                nvcc.display(),
                args.join(" "),
                out.status,
                first_lines(&String::from_utf8_lossy(&out.stderr))
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first three non-blank lines of a tool's output, on one line, for an error message
/// (`doctor` quotes nvcc and nvidia-smi the same way).
pub(crate) fn first_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect();
    if lines.is_empty() {
        "(nothing)".to_string()
    } else {
        lines.join(" / ")
    }
}

fn nvcc_error(nvcc: &Path, message: String) -> Error {
    Error::invalid(Diagnostic::error("nvcc-failed", message).with_help(format!(
        "check that {} is a working nvcc, or name the toolkit with `cuda = \"12.4\"` (--cuda, GPUARCH_CUDA)",
        nvcc.display()
    )))
}

/// The error for "no toolkit named and none found"; `looked` says where gpuarch looked.
pub fn no_toolkit_error(looked: &[String]) -> Error {
    Error::invalid(
        Diagnostic::error(
            "no-toolkit",
            format!("no nvcc was found and no CUDA toolkit was named ({})", looked.join("; ")),
        )
        .with_help(
            "install the CUDA toolkit, or point NVCC at nvcc (NVCC=/usr/local/cuda/bin/nvcc) or CUDA_HOME at the toolkit; \
             to plan without a toolkit, name its version (`cuda = \"12.4\"` in the manifest, --cuda, or GPUARCH_CUDA)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nvcc_versions() {
        let out = "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\n\
                   Built on Thu_Mar_28_02:18:24_PDT_2024\nCuda compilation tools, release 12.4, V12.4.131\n";
        assert_eq!(parse_nvcc_version(out).unwrap().to_string(), "12.4");
        assert!(parse_nvcc_version("Cuda compilation tools, release twelve").is_none());
        assert!(parse_nvcc_version("").is_none());
    }

    #[test]
    fn unknown_release_is_inferred_and_flagged() {
        let t = Toolkit::named("13.9".parse().unwrap(), None);
        assert!(!t.known);
        assert_eq!(t.ptx_isa.to_string(), "9.9");
        assert!(t.can_emit(Code::parse("sm_90").unwrap()));
        assert_eq!(t.staleness().unwrap().code, "catalog-stale");
        assert!(Toolkit::named("12.4".parse().unwrap(), None)
            .staleness()
            .is_none());
    }

    #[test]
    fn finds_nvcc_in_order() {
        let dir = std::env::temp_dir().join(format!("gpuarch-nvcc-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/nvcc"), "").unwrap();
        let home = dir.to_string_lossy().to_string();
        let mut env = |k: &str| match k {
            "CUDA_HOME" => Some(home.clone()),
            _ => None,
        };
        assert_eq!(find_nvcc(&mut env), Some(dir.join("bin/nvcc")));
        let mut env = |k: &str| (k == "NVCC").then(|| "/opt/x/nvcc".to_string());
        assert_eq!(find_nvcc(&mut env), Some(PathBuf::from("/opt/x/nvcc")));
        let mut env = |k: &str| (k == "CUDA_PATH").then(|| "/opt/none".to_string());
        let looked = search_nvcc(&mut env).unwrap_err();
        assert!(
            looked.contains(&"CUDA_PATH=/opt/none has no bin/nvcc".to_string()),
            "{looked:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
