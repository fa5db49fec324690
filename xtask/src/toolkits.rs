//! `cargo xtask toolkit install <ptxas|nvcc|cuobjdump> [X.Y.Z]`: NVIDIA's CUDA compilers
//! from PyPI, unpacked into a cache, for the catalog checks, the end-to-end tests
//! against real compiler output (tests/real_toolkits.rs) and the benchmarks.
//!
//! - `ptxas X.Y.Z` (11.7 to 13.x): the `ptxas` of `nvidia-cuda-nvcc-cu11`/`-cu12`
//!   (`nvidia-cuda-nvcc` from 13.0); prints the binary.
//! - `nvcc [X.Y.Z]` (13.x, default [`DEFAULT_NVCC`]): a whole compiler laid out as a
//!   toolkit (below); prints its CUDA_HOME.
//! - `cuobjdump [X.Y.Z]` (13.2+, default [`DEFAULT_CUOBJDUMP`]): `nvidia-cuda-cuobjdump`;
//!   prints the binary.
//!
//! The path is the last line of stdout; progress goes to stderr. Without the package
//! index, an install that is not already cached fails with pip's reason.
//!
//! Environment: `GPUARCH_TOOLKIT_CACHE`, the cache (default `<workspace>/.cache/toolkits`):
//! the wheels as downloaded, `ptxas/<package>-<release>/ptxas`,
//! `cuobjdump/<package>-<release>/cuobjdump`, `nvcc-<release>/` and the `cuda-X.Y` links.
//!
//! # A real nvcc from PyPI
//!
//! NVIDIA publishes the CUDA 13 compiler as wheels that share one `nvidia/cu13/` tree
//! (CUDA 12's `nvidia-cuda-nvcc-cu12` wheels hold only ptxas, no nvcc, so 12.x cannot be
//! had this way). [`Cache::nvcc`] unpacks `nvidia-cuda-nvcc`, `nvidia-nvvm` and
//! `nvidia-cuda-crt` of the release, and the newest `nvidia-cuda-runtime` of its
//! `major.minor` (the runtime is numbered on its own: 13.0.96 beside nvcc 13.0.88), into
//! `<cache>/nvcc-X.Y.Z`, then adds what makes the tree a toolkit:
//!
//! ```text
//! H=<cache>/nvcc-13.0.88/nvidia/cu13      bin/ (nvcc, nvcc.profile, ptxas, ...),
//!                                         nvvm/ (cicc, libdevice), include/, lib/
//! $H/lib64 -> lib                         nvcc.profile links against TOP/lib64
//! $H/targets/x86_64-linux/{include,lib}   where cc (the crate) looks for cudart_static;
//!                                         nvcc then takes its includes from there too
//! <cache>/cuda-13.0 -> nvcc-13.0.88/nvidia/cu13     the CUDA_HOME
//! ```
//!
//! nvcc finds cicc, ptxas, the headers and libraries through `bin/nvcc.profile`, relative
//! to its own (resolved) directory, so nothing else is needed: no environment variables,
//! and the system gcc is its host compiler. `CUDA_HOME=<cache>/cuda-13.0` (or `NVCC=`
//! its `bin/nvcc`, or that `bin` on PATH) then builds examples/cuda-kernel. The wheels
//! carry no CCCL (cub/thrust) headers and no cuobjdump.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, ensure, Context, Result};

/// The nvcc release installed when none is named (what CI builds with).
pub const DEFAULT_NVCC: &str = "13.0.88";

/// The cuobjdump release installed when none is named. cuobjdump reads the containers of
/// every older nvcc, so the newest is the best judge.
pub const DEFAULT_CUOBJDUMP: &str = "13.5.37";

const USAGE: &str =
    "usage: cargo xtask toolkit install <ptxas X.Y.Z | nvcc [X.Y.Z] | cuobjdump [X.Y.Z]>";

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

pub fn run(args: &[String]) -> Result<()> {
    let [command, what, rest @ ..] = args else {
        bail!("{USAGE}");
    };
    ensure!(command == "install" && rest.len() <= 1, "{USAGE}");
    let release = rest.first().map(String::as_str);
    let mut cache = Cache::from_env()?;
    let installed = match what.as_str() {
        "ptxas" => cache.ptxas(release.context("ptxas needs a release, e.g. 12.4.131")?)?,
        "nvcc" => {
            let nvcc = cache.nvcc(release.unwrap_or(DEFAULT_NVCC))?;
            eprintln!(
                "nvcc {} is ready; use CUDA_HOME={}",
                nvcc.release,
                nvcc.home.display()
            );
            nvcc.home
        }
        "cuobjdump" => cache.cuobjdump(release.unwrap_or(DEFAULT_CUOBJDUMP))?,
        other => bail!("cannot install `{other}`; {USAGE}"),
    };
    println!("{}", installed.display());
    Ok(())
}

/// The index could not be reached: callers that can do without the download (a skip
/// rather than a failure) find this in the error's chain with [`offline_reason`].
#[derive(Debug)]
pub struct Offline {
    /// The requirement pip was asked for, `package==version`.
    pub requirement: String,
    /// pip's reason, shortened ([`network_reason`]).
    pub reason: String,
}

impl std::fmt::Display for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot reach the package index to download {} ({})",
            self.requirement, self.reason
        )
    }
}

impl std::error::Error for Offline {}

/// pip's reason, when `err` is (or wraps) an [`Offline`].
pub fn offline_reason(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Offline>())
        .map(|o| o.reason.as_str())
}

/// An nvcc laid out as a CUDA toolkit.
pub struct InstalledNvcc {
    /// The toolkit root, for CUDA_HOME: `<cache>/cuda-X.Y`, a link to the wheels' tree.
    pub home: PathBuf,
    /// `<home>/bin/nvcc`.
    pub nvcc: PathBuf,
    /// The wheel release, `X.Y.Z`.
    pub release: String,
}

/// The folder where wheels are downloaded and unpacked.
pub struct Cache {
    dir: PathBuf,
    /// pip's reason once the index proved unreachable: later downloads fail at once
    /// instead of waiting through pip's retries again.
    unreachable: Option<String>,
}

impl Cache {
    /// `GPUARCH_TOOLKIT_CACHE`, else `<workspace>/.cache/toolkits`.
    pub fn from_env() -> Result<Cache> {
        let dir = std::env::var_os("GPUARCH_TOOLKIT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::workspace_root().join(".cache/toolkits"));
        Cache::at(&dir)
    }

    pub fn at(dir: &Path) -> Result<Cache> {
        // The wheels are manylinux x86_64: what they hold only runs there.
        if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            bail!("NVIDIA's compiler wheels are manylinux x86_64: they need a Linux x86_64 host");
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // Absolute, so the printed paths work from any directory.
        let dir =
            std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
        Ok(Cache {
            dir,
            unreachable: None,
        })
    }

    /// The `ptxas` of an nvcc wheel release, unpacked once.
    pub fn ptxas(&mut self, release: &str) -> Result<PathBuf> {
        let package = nvcc_package(release)?;
        self.binary("ptxas", package, release)
    }

    /// The `cuobjdump` of a `nvidia-cuda-cuobjdump` release (13.2 and later), unpacked once.
    pub fn cuobjdump(&mut self, release: &str) -> Result<PathBuf> {
        let (major, minor) = major_minor(release)?;
        ensure!(
            major > 13 || (major == 13 && minor >= 2),
            "cuobjdump {release}: NVIDIA publishes cuobjdump on PyPI (nvidia-cuda-cuobjdump) \
             from 13.2 on; it reads the output of every older nvcc"
        );
        self.binary("cuobjdump", "nvidia-cuda-cuobjdump", release)
    }

    /// Installs nvcc `release` (13.x) as a toolkit tree (see the module docs), or reuses
    /// the one already there, and checks that it compiles and links a kernel.
    pub fn nvcc(&mut self, release: &str) -> Result<InstalledNvcc> {
        let (major, minor) = major_minor(release)?;
        ensure!(
            major == 13,
            "nvcc {release}: only the CUDA 13 wheels (nvidia-cuda-nvcc) carry nvcc; the 11.x \
             and 12.x nvidia-cuda-nvcc-cuXX wheels hold ptxas alone (`toolkit install ptxas`)"
        );
        let prefix_name = format!("nvcc-{release}");
        let prefix = self.dir.join(&prefix_name);
        let tree = Path::new("nvidia").join(format!("cu{major}"));
        let root = prefix.join(&tree);

        let wanted = format!("V{release}");
        let installed = tool_version(&root.join("bin/nvcc")).is_ok_and(|v| v.contains(&wanted));
        if !installed {
            let runtime = format!("{major}.{minor}.*");
            let wheels = [
                self.wheel("nvidia-cuda-nvcc", release)?,
                self.wheel("nvidia-nvvm", release)?,
                self.wheel("nvidia-cuda-crt", release)?,
                self.wheel("nvidia-cuda-runtime", &runtime)?,
            ];
            eprintln!("  unpacking nvcc {release} into {}", prefix.display());
            unpack(&wheels, &prefix, None)?;
        }
        toolkit_layout(&root)?;

        let home = self.dir.join(format!("cuda-{major}.{minor}"));
        replace_symlink(&Path::new(&prefix_name).join(&tree), &home)?;
        let nvcc = home.join("bin/nvcc");
        check_version(&nvcc, release)?;
        smoke_test(&nvcc, &self.dir, release)?;
        Ok(InstalledNvcc {
            home,
            nvcc,
            release: release.to_string(),
        })
    }

    /// `<cache>/<name>/<package>-<release>/<name>`: the one `*/bin/<name>` of the wheel.
    fn binary(&mut self, name: &str, package: &str, release: &str) -> Result<PathBuf> {
        let dir = self.dir.join(name).join(format!("{package}-{release}"));
        let binary = dir.join(name);
        if !binary.is_file() {
            let wheel = self.wheel(package, release)?;
            unpack(&[wheel], &dir, Some(&format!("/bin/{name}")))?;
        }
        check_version(&binary, release)?;
        Ok(binary)
    }

    /// The wheel of `package` at `version` (`13.0.88`, or `13.0.*` for the newest of a
    /// series), from the cache or downloaded into it.
    fn wheel(&mut self, package: &str, version: &str) -> Result<PathBuf> {
        if let Some(wheel) = cached_wheel(&self.dir, package, version)? {
            return Ok(wheel);
        }
        let requirement = format!("{package}=={version}");
        if let Some(reason) = &self.unreachable {
            return Err(Offline {
                requirement,
                reason: reason.clone(),
            }
            .into());
        }
        eprintln!("  downloading {requirement} into {}", self.dir.display());
        let platforms = [
            "--platform",
            "manylinux2014_x86_64",
            "--platform",
            "manylinux_2_27_x86_64",
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux1_x86_64",
            "--python-version",
            "3.11",
        ];
        if let Err(err) = pip_download(&self.dir, &platforms, &requirement) {
            if let Some(offline) = err.downcast_ref::<Offline>() {
                self.unreachable = Some(offline.reason.clone());
            }
            return Err(err);
        }
        cached_wheel(&self.dir, package, version)?.with_context(|| {
            format!(
                "pip download {requirement} succeeded but left no wheel in {}",
                self.dir.display()
            )
        })
    }
}

/// NVIDIA renamed the package for CUDA 13: `-cu11`/`-cu12` suffixes before, none after.
pub fn nvcc_package(release: &str) -> Result<&'static str> {
    Ok(match release.split('.').next() {
        Some("11") => "nvidia-cuda-nvcc-cu11",
        Some("12") => "nvidia-cuda-nvcc-cu12",
        Some("13") => "nvidia-cuda-nvcc",
        _ => bail!("no known PyPI nvcc package for CUDA {release}"),
    })
}

fn major_minor(release: &str) -> Result<(u32, u32)> {
    let mut parts = release.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(_)), None) => Ok((major, minor)),
        _ => bail!("`{release}` is not a wheel release such as 13.0.88"),
    }
}

/// The version in a wheel's file name if the wheel is `package`'s and the version matches
/// `wanted` (`13.0.88`, or `13.0.*`). Wheel names spell the distribution with underscores
/// and put the version second: `nvidia_cuda_runtime-13.0.96-py3-none-manylinux....whl`.
fn wheel_version<'a>(file_name: &'a str, package: &str, wanted: &str) -> Option<&'a str> {
    let stem = file_name.strip_suffix(".whl")?;
    let mut fields = stem.split('-');
    if fields.next()? != package.replace('-', "_") {
        return None;
    }
    let version = fields.next()?;
    let matches = match wanted.strip_suffix(".*") {
        Some(series) => version
            .strip_prefix(series)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())),
        None => version == wanted,
    };
    matches.then_some(version)
}

/// Numeric order for versions: `13.0.96` above `13.0.9`.
fn version_key(version: &str) -> Vec<u64> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The newest cached wheel of `package` matching `wanted`.
fn cached_wheel(dir: &Path, package: &str, wanted: &str) -> Result<Option<PathBuf>> {
    let mut best: Option<(Vec<u64>, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(version) = wheel_version(name, package, wanted) {
            let key = version_key(version);
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, path.clone()));
            }
        }
    }
    Ok(best.map(|(_, path)| path))
}

/// The readable core of pip's retry warning: it wraps the reason ("Failed to establish a
/// new connection: [Errno 111] Connection refused") in urllib3 reprs and a URL.
/// `python3 -m pip download --no-deps --only-binary=:all: ARGS -d DIR REQUIREMENT`. A
/// failure to reach the index is an [`Offline`] error (check with
/// [`offline_reason`]); any other failure says pip's own error line.
pub fn pip_download(dir: &Path, args: &[&str], requirement: &str) -> Result<()> {
    let output = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(args)
        .arg("--disable-pip-version-check")
        .arg("-d")
        .arg(dir)
        .arg(requirement)
        .output()
        .context("running python3 -m pip (is python3 with pip installed?)")?;
    if output.status.success() {
        return Ok(());
    }
    let log = combined(&output);
    if let Some(line) = log
        .lines()
        .find(|l| NETWORK_ERRORS.iter().any(|e| l.contains(e)))
    {
        return Err(Offline {
            requirement: requirement.to_string(),
            reason: network_reason(line),
        }
        .into());
    }
    let reason = log
        .lines()
        .find(|l| l.starts_with("ERROR:"))
        .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    bail!(
        "pip download {requirement} failed ({}): {}",
        output.status,
        reason.trim()
    )
}

/// Available bytes on the file system of `dir`, from `df -Pk` (`None` if it cannot say).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    parse_df(&String::from_utf8_lossy(&out.stdout))
}

fn parse_df(text: &str) -> Option<u64> {
    let line = text.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

pub fn network_reason(line: &str) -> String {
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

/// Unpacks `wheels` into the new directory `dest`: every member but the `.dist-info`, or,
/// with `only`, the one member whose name ends with it, as `dest/<its file name>`. Wheels
/// are zip files; python3's zipfile is used because it is always there beside pip. It
/// writes into a scratch directory that is renamed at the end, so an interrupted run never
/// leaves a tree that a later run would trust. Executables get mode 755, as pip gives them.
fn unpack(wheels: &[PathBuf], dest: &Path, only: Option<&str>) -> Result<()> {
    const SCRIPT: &str = r#"
import os, shutil, sys, zipfile
dest, only, wheels = sys.argv[1], sys.argv[2], sys.argv[3:]
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        members = [i for i in z.infolist()
                   if not i.is_dir() and ".dist-info/" not in i.filename]
        if only:
            members = [i for i in members if i.filename.endswith(only)]
            if len(members) != 1:
                sys.exit("expected one *%s in %s, found %r"
                         % (only, wheel, [i.filename for i in members]))
        for info in members:
            parts = info.filename.split("/")
            if info.filename.startswith("/") or ".." in parts:
                sys.exit("%s: unsafe member name %r" % (wheel, info.filename))
            path = os.path.join(dest, parts[-1] if only else info.filename)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with z.open(info) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out)
            if (info.external_attr >> 16) & 0o111:
                os.chmod(path, 0o755)
"#;
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .context("unpack destination has no name")?;
    let scratch = dest.with_file_name(format!(".{name}.partial"));
    remove_dir_if_there(&scratch)?;
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&scratch)
        .arg(only.unwrap_or(""))
        .args(wheels)
        .output()
        .context("running python3 to unzip the wheels")?;
    ensure!(
        output.status.success(),
        "unpacking {} failed: {}",
        wheels
            .iter()
            .map(|w| w.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        combined(&output).trim()
    );
    remove_dir_if_there(dest)?;
    std::fs::rename(&scratch, dest)
        .with_context(|| format!("moving {} to {}", scratch.display(), dest.display()))
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

/// The `release` line of a CUDA tool's `--version` (`Cuda compilation tools, release
/// 13.0, V13.0.88`); nvcc, ptxas and cuobjdump all print one.
pub fn tool_version(tool: &Path) -> Result<String> {
    let out = Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", tool.display()))?;
    ensure!(out.status.success(), "{} --version failed", tool.display());
    combined(&out)
        .lines()
        .find(|l| l.contains("release "))
        .map(str::to_string)
        .with_context(|| format!("{} --version printed no release", tool.display()))
}

/// Guards against a stale or mislabelled cache entry.
fn check_version(tool: &Path, release: &str) -> Result<()> {
    let line = tool_version(tool)?;
    ensure!(
        line.contains(&format!(", V{release}")),
        "{} is not release {release}: --version says `{}`",
        tool.display(),
        line.trim()
    );
    Ok(())
}

/// Compiles and links a kernel with its launcher: the host compiler, cicc, ptxas,
/// fatbinary and cudart_static all work.
fn smoke_test(nvcc: &Path, cache: &Path, release: &str) -> Result<()> {
    let dir = cache.join(format!(".nvcc-smoke-{release}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
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

pub fn combined(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_free_space_from_df() {
        let df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 264212084 21199128 74086760 23% /\n";
        assert_eq!(parse_df(df), Some(74_086_760 * 1024));
        assert_eq!(parse_df(""), None);
    }
    use super::*;

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
    fn packages_per_major() {
        assert_eq!(nvcc_package("13.0.88").unwrap(), "nvidia-cuda-nvcc");
        assert_eq!(nvcc_package("12.4.131").unwrap(), "nvidia-cuda-nvcc-cu12");
        assert_eq!(nvcc_package("11.8.89").unwrap(), "nvidia-cuda-nvcc-cu11");
        assert!(nvcc_package("10.2.89").is_err());
    }

    #[test]
    fn reads_releases() {
        assert_eq!(major_minor("13.0.88").unwrap(), (13, 0));
        assert!(major_minor("13.0").is_err());
        assert!(major_minor("13.0.88.1").is_err());
        assert!(major_minor("13.x.88").is_err());
    }

    #[test]
    fn matches_wheel_names() {
        let runtime =
            "nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl";
        assert_eq!(
            wheel_version(runtime, "nvidia-cuda-runtime", "13.0.*"),
            Some("13.0.96")
        );
        assert_eq!(
            wheel_version(runtime, "nvidia-cuda-runtime", "13.0.96"),
            Some("13.0.96")
        );
        // Another series, release, package or file kind.
        assert_eq!(
            wheel_version(runtime, "nvidia-cuda-runtime", "13.1.*"),
            None
        );
        assert_eq!(
            wheel_version(runtime, "nvidia-cuda-runtime", "13.0.9"),
            None
        );
        assert_eq!(
            wheel_version(runtime, "nvidia-cuda-runtime-cu12", "13.0.*"),
            None
        );
        assert_eq!(wheel_version(runtime, "nvidia-cuda", "13.0.*"), None);
        assert_eq!(
            wheel_version(
                "nvidia_cuda_runtime-13.0.96.tar.gz",
                "nvidia-cuda-runtime",
                "13.0.*"
            ),
            None
        );
        // `13.0.*` is the 13.0 series, not 13.0x.
        assert_eq!(
            wheel_version(
                "nvidia_nvvm-13.05.1-py3-none-any.whl",
                "nvidia-nvvm",
                "13.0.*"
            ),
            None
        );
        let cu12 = "nvidia_cuda_nvcc_cu12-12.4.131-py3-none-manylinux2014_x86_64.whl";
        assert_eq!(
            wheel_version(cu12, "nvidia-cuda-nvcc-cu12", "12.4.131"),
            Some("12.4.131")
        );
        assert_eq!(wheel_version(cu12, "nvidia-cuda-nvcc", "12.4.131"), None);
    }

    #[test]
    fn picks_the_newest_cached_wheel_of_a_series() {
        let dir = std::env::temp_dir().join(format!("gpuarch-xtask-wheels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "nvidia_cuda_runtime-13.0.9-py3-none-any.whl",
            "nvidia_cuda_runtime-13.0.96-py3-none-any.whl",
            "nvidia_cuda_runtime-13.0.48-py3-none-any.whl",
            "nvidia_cuda_runtime-13.1.80-py3-none-any.whl",
        ] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let found = cached_wheel(&dir, "nvidia-cuda-runtime", "13.0.*").unwrap();
        let exact = cached_wheel(&dir, "nvidia-cuda-runtime", "13.0.9").unwrap();
        let missing = cached_wheel(&dir, "nvidia-cuda-runtime", "13.2.*").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let name =
            |p: Option<PathBuf>| p.map(|p| p.file_name().unwrap().to_string_lossy().into_owned());
        assert_eq!(
            name(found).as_deref(),
            Some("nvidia_cuda_runtime-13.0.96-py3-none-any.whl")
        );
        assert_eq!(
            name(exact).as_deref(),
            Some("nvidia_cuda_runtime-13.0.9-py3-none-any.whl")
        );
        assert_eq!(missing, None);
    }

    #[test]
    fn offline_errors_are_found_through_context() {
        let err = anyhow::Error::from(Offline {
            requirement: "nvidia-nvvm==13.0.88".to_string(),
            reason: "Failed to resolve 'pypi.org'".to_string(),
        })
        .context("installing nvcc");
        assert_eq!(offline_reason(&err), Some("Failed to resolve 'pypi.org'"));
        assert_eq!(offline_reason(&anyhow::anyhow!("no such version")), None);
    }
}
