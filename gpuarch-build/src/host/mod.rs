//! Host probing for `cargo gpuarch doctor`: what a machine (a build box, a GPU host, a
//! container) has that decides whether CUDA programs build and run there, read into plain
//! data ([`HostReport`]) and judged ([`diagnose()`]).
//!
//! Each probe reads only what is present:
//! - the loaded kernel module (`/proc/driver/nvidia/version`) and `/dev/nvidia*`;
//! - the user-space driver libraries (`libcuda.so.*`, `libnvidia-ml.so.*`) in the
//!   directories distributions, containers, WSL and Jetson put them;
//! - the CUDA forward-compatibility folder (`/usr/local/cuda*/compat`);
//! - `nvidia-smi --query-gpu=... --format=csv`, found on `PATH`;
//! - every nvcc a build could find (`NVCC`, `CUDA_HOME`, `CUDA_PATH`, `PATH`, then
//!   `/usr/local/cuda/bin`) and its version, cached (see [`cache`]);
//! - the variables that change what builds target (`NVCC_APPEND_FLAGS`,
//!   `NVCC_PREPEND_FLAGS`, `TORCH_CUDA_ARCH_LIST`, `CUDAARCHS`, `CUDA_COMPUTE_CAP`) and
//!   the container toolkit's `NVIDIA_*` variables;
//! - signs of a container (`/.dockerenv`, `/run/.containerenv`, `/proc/1/cgroup`,
//!   `KUBERNETES_SERVICE_HOST`, `container`).
//!
//! Files are read under the probe's root (default `/`), so tests point it at a fake root.
//! Paths from variables (`NVCC`, `CUDA_HOME`, `PATH`, ...) are taken as they are: they are
//! the paths the builds on this machine use.

pub mod cache;
pub mod diagnose;
pub mod parse;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use diagnose::{diagnose, diagnose_targets, judge, HostVerdict};
pub use parse::KernelModule;

use crate::build_script::{self, BuildEnv};
use crate::catalog::{self, Os};
use crate::deploy::entrypoint::{self, CompatDecision};
use crate::deploy::matrix::driver_cuda;
use crate::diagnostic::Location;
use crate::error::Result;
use crate::fleet::smi::{self, Failure};
use crate::fleet::{Node, NodeGpu};
use crate::manifest::Manifest;
use crate::toolkit::{self, first_lines, parse_nvcc_version, Toolkit, ToolkitOrigin};
use crate::version::Version;

/// The query doctor runs; `compute_cap` needs driver 510 or newer, and is dropped (the
/// names then mapped through the catalog) when the driver rejects it.
pub const SMI_FIELDS: &str =
    "index,name,compute_cap,driver_version,pci.bus_id,memory.total,mig.mode.current";

/// The variables doctor reports, besides every `NVIDIA_*` one.
pub const VARIABLES: &[&str] = &[
    "NVCC",
    "CUDA_HOME",
    "CUDA_PATH",
    "NVCC_APPEND_FLAGS",
    "NVCC_PREPEND_FLAGS",
    "TORCH_CUDA_ARCH_LIST",
    "CUDA_COMPUTE_CAP",
    "CUDAARCHS",
    "LD_LIBRARY_PATH",
    "KUBERNETES_SERVICE_HOST",
    "container",
];

/// Where driver libraries live: Debian/Ubuntu (x86_64, arm64), Fedora/RHEL/SUSE, the
/// container toolkit's and GKE's mounts, WSL, Jetson.
pub const LIBRARY_DIRS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "usr/local/nvidia/lib64",
    "usr/local/nvidia/lib",
    "usr/lib/wsl/lib",
    "usr/lib/aarch64-linux-gnu/tegra",
];

/// What a tool printed, and how it exited (`None`: killed by a signal).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolOutput {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ToolOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Runs a tool with arguments.
pub type Runner = Box<dyn Fn(&Path, &[&str]) -> io::Result<ToolOutput>>;

/// A driver library and the version its file name carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    /// `libcuda` or `libnvidia-ml`.
    pub name: &'static str,
    pub path: PathBuf,
    pub version: Version,
}

/// The CUDA forward-compatibility folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compat {
    pub dir: PathBuf,
    /// The folder as the host names it (`/usr/local/cuda/compat`), without the root.
    pub host_dir: String,
    /// The compat driver: the version `libcuda.so.1` links to, else the highest
    /// `libcuda.so.X.Y.Z` in the folder.
    pub version: Option<Version>,
    /// Whether `LD_LIBRARY_PATH` names the folder (programs then load its libcuda).
    pub on_library_path: bool,
    /// What the compat entrypoint would do here.
    pub decision: CompatDecision,
}

/// What nvidia-smi said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Smi {
    /// Where it was found on `PATH`; `None` when it is not there.
    pub path: Option<PathBuf>,
    pub gpus: Vec<NodeGpu>,
    pub driver: Option<Version>,
    /// The error it printed instead of GPUs.
    pub failure: Option<Failure>,
    /// Its error text (first lines), or why it could not be run.
    pub message: Option<String>,
    /// The driver rejected `compute_cap` (before 510): capabilities come from the catalog.
    pub compute_cap_from_catalog: bool,
    /// The CSV query failed and the GPUs were read from the plain `nvidia-smi` table.
    pub from_table: bool,
}

/// How a build finds an nvcc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NvccSource {
    Nvcc,
    CudaHome,
    CudaPath,
    Path,
    /// `/usr/local/cuda/bin/nvcc`, which builds use only when something else points there.
    Default,
}

impl NvccSource {
    pub fn name(self) -> &'static str {
        match self {
            NvccSource::Nvcc => "NVCC",
            NvccSource::CudaHome => "CUDA_HOME",
            NvccSource::CudaPath => "CUDA_PATH",
            NvccSource::Path => "PATH",
            NvccSource::Default => "default",
        }
    }
}

/// One nvcc a build could find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvccFound {
    pub path: PathBuf,
    pub how: NvccSource,
    /// The toolkit release (`12.4`).
    pub version: Option<Version>,
    /// The full build version (`V12.4.131`), where nvcc printed it.
    pub build: Option<String>,
    /// Why no version: missing file, nvcc failed, no `release X.Y` in its output.
    pub error: Option<String>,
    /// The version came from the cache, not from running nvcc.
    pub cached: bool,
    /// The nvcc builds here use: the one [`toolkit::find_nvcc`] picks.
    pub used: bool,
    pub took: Duration,
}

/// Why this looks like a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// `docker`, `podman`, `kubernetes`, `containerd`, or the `container` variable.
    pub runtime: String,
    /// What said so (`/.dockerenv`, `KUBERNETES_SERVICE_HOST`, ...).
    pub evidence: Vec<String>,
}

/// How long one probe took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub probe: String,
    pub took: Duration,
}

/// Everything found on a host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostReport {
    pub root: PathBuf,
    pub kernel_module: Option<KernelModule>,
    /// `/proc/driver/nvidia/version` exists but has no readable `NVRM version:` line.
    pub kernel_module_unreadable: bool,
    /// `/dev/nvidia*` entries.
    pub devices: Vec<String>,
    pub libraries: Vec<Library>,
    pub compat: Option<Compat>,
    pub smi: Smi,
    pub nvccs: Vec<NvccFound>,
    /// The variables set, in [`VARIABLES`] order, then the `NVIDIA_*` ones sorted.
    pub env: Vec<(String, String)>,
    pub container: Option<Container>,
    pub timings: Vec<Timing>,
}

impl HostReport {
    /// A variable's value, where set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The kernel driver: the module's version, else what nvidia-smi reports (Jetson).
    pub fn driver(&self) -> Option<Version> {
        self.kernel_module
            .as_ref()
            .and_then(KernelModule::driver)
            .or(self.smi.driver.filter(parse::is_driver_version))
    }

    /// Whether this is WSL, where the driver is the Windows one (its libraries are
    /// mounted at `/usr/lib/wsl/lib`, and nvidia-smi reports the Windows version).
    pub fn wsl(&self) -> bool {
        self.root.join("usr/lib/wsl/lib").is_dir()
    }

    /// The compat folder when CUDA programs load its libcuda: the compat entrypoint would
    /// enable it (its driver is newer than the module's) and `LD_LIBRARY_PATH` names it.
    pub fn compat_in_use(&self) -> Option<&Compat> {
        self.compat
            .as_ref()
            .filter(|c| c.on_library_path && c.decision.enables_compat())
    }

    /// The user-space driver CUDA programs load here, which decides what they run: the
    /// compat folder's libcuda when it is in use ([`HostReport::compat_in_use`]), else
    /// [`HostReport::driver`]. A compat folder older than the module is not counted: it
    /// makes programs fail (803), which `diagnose` reports on its own.
    pub fn effective_driver(&self) -> Option<Version> {
        self.compat_in_use()
            .and_then(|c| c.version)
            .or_else(|| self.driver())
    }

    /// The OS whose driver numbering [`HostReport::driver`] follows.
    pub fn os(&self) -> Os {
        if self.wsl() {
            Os::Windows
        } else {
            Os::Linux
        }
    }

    /// The nvcc builds use.
    pub fn used_nvcc(&self) -> Option<&NvccFound> {
        self.nvccs.iter().find(|n| n.used)
    }

    /// Whether anything of an NVIDIA GPU is visible: a module, device nodes or GPUs.
    pub fn sees_gpu(&self) -> bool {
        self.kernel_module.is_some() || !self.devices.is_empty() || !self.smi.gpus.is_empty()
    }

    /// This host as a fleet node, for [`crate::fleet::verdict::judge`], under the driver
    /// its programs load ([`HostReport::effective_driver`]).
    pub fn to_node(&self) -> Node {
        let driver = self.effective_driver();
        let problem = self.smi.message.clone().or_else(|| {
            (self.smi.gpus.is_empty() && self.sees_gpu())
                .then(|| "no GPU could be read (nvidia-smi is not on PATH)".to_string())
        });
        Node {
            name: "this host".to_string(),
            location: Location {
                file: PathBuf::from("nvidia-smi"),
                line: 1,
                column: 1,
            },
            pool: None,
            gpus: self.smi.gpus.clone(),
            driver,
            driver_cuda: driver.and_then(driver_cuda),
            wsl: self.wsl(),
            labels: Vec::new(),
            problem,
        }
    }
}

/// A probe of one host (or fake root), with its environment and tool runner injectable.
pub struct Probe {
    root: PathBuf,
    env: BTreeMap<String, String>,
    run: Runner,
    cache_file: Option<PathBuf>,
}

impl Probe {
    /// A probe of the files under `root`, with this process's environment, running real
    /// tools, caching nvcc's answers in [`cache::default_file`].
    pub fn new(root: impl Into<PathBuf>) -> Probe {
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let cache_file = cache::default_file(&|k| env.get(k).cloned());
        Probe {
            root: root.into(),
            env,
            run: Box::new(run_tool),
            cache_file,
        }
    }

    /// Replaces the environment.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Probe {
        self.env = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Replaces how tools are run.
    pub fn with_runner(mut self, run: Runner) -> Probe {
        self.run = run;
        self
    }

    /// Where nvcc's answers are cached; `None` caches nothing.
    pub fn with_cache_file(mut self, file: Option<PathBuf>) -> Probe {
        self.cache_file = file;
        self
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Runs every probe.
    pub fn probe(&self) -> HostReport {
        let mut timings = Vec::new();
        let env = timed(&mut timings, "environment", || self.variables());
        let (kernel_module, kernel_module_unreadable, devices) =
            timed(&mut timings, "kernel module", || {
                let text = fs::read_to_string(self.host_path("/proc/driver/nvidia/version"));
                let module = text.as_deref().ok().and_then(parse::parse_kernel_module);
                let unreadable = text.is_ok() && module.is_none();
                (module, unreadable, self.devices())
            });
        let libraries = timed(&mut timings, "driver libraries", || self.libraries());
        let compat = timed(&mut timings, "compat folder", || {
            self.compat(kernel_module.as_ref().map(|m| m.version))
        });
        let container = timed(&mut timings, "container", || self.container());
        let smi = timed(&mut timings, "nvidia-smi", || self.smi());
        let mut nvcc_timings = Vec::new();
        let nvccs = timed(&mut nvcc_timings, "nvcc (all)", || self.nvccs());
        for n in &nvccs {
            let cached = if n.cached { " (cached)" } else { "" };
            timings.push(Timing {
                probe: format!("nvcc {}{cached}", n.path.display()),
                took: n.took,
            });
        }
        timings.extend(nvcc_timings);
        HostReport {
            root: self.root.clone(),
            kernel_module,
            kernel_module_unreadable,
            devices,
            libraries,
            compat,
            smi,
            nvccs,
            env,
            container,
            timings,
        }
    }

    fn variables(&self) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = VARIABLES
            .iter()
            .filter_map(|k| Some((k.to_string(), self.env.get(*k)?.clone())))
            .collect();
        vars.extend(
            self.env
                .iter()
                .filter(|(k, _)| k.starts_with("NVIDIA_"))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        vars
    }

    fn devices(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.host_path("/dev")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("nvidia"))
            .collect();
        names.sort();
        names
    }

    fn libraries(&self) -> Vec<Library> {
        let mut found = Vec::new();
        for dir in LIBRARY_DIRS {
            let dir = self.host_path(dir);
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut here: Vec<Library> = entries
                .filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    ["libcuda", "libnvidia-ml"].into_iter().find_map(|stem| {
                        Some(Library {
                            name: stem,
                            version: parse::library_version(&name, stem)?,
                            path: dir.join(&name),
                        })
                    })
                })
                .collect();
            here.sort_by(|a, b| a.name.cmp(b.name).then(a.version.cmp(&b.version)));
            found.extend(here);
        }
        found
    }

    fn compat(&self, host: Option<Version>) -> Option<Compat> {
        let mut dirs = vec!["/usr/local/cuda/compat".to_string()];
        if let Ok(entries) = fs::read_dir(self.host_path("/usr/local")) {
            let mut versioned: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("cuda-"))
                .map(|n| format!("/usr/local/{n}/compat"))
                .collect();
            // The newest toolkit's folder first, by version, not by string.
            versioned.sort_by_key(|d| {
                d.trim_start_matches("/usr/local/cuda-")
                    .trim_end_matches("/compat")
                    .parse::<Version>()
                    .ok()
            });
            dirs.extend(versioned.into_iter().rev());
        }
        let host_dir = dirs.into_iter().find(|d| self.host_path(d).is_dir())?;
        let dir = self.host_path(&host_dir);
        let linked = fs::read_link(dir.join("libcuda.so.1"))
            .ok()
            .and_then(|t| t.file_name()?.to_str().map(str::to_string))
            .and_then(|n| parse::library_version(&n, "libcuda"));
        let version = linked.or_else(|| {
            fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| {
                    let name = e.ok()?.file_name().into_string().ok()?;
                    parse::library_version(&name, "libcuda")
                })
                .filter(parse::is_driver_version)
                .max()
        });
        let on_library_path = self
            .var("LD_LIBRARY_PATH")
            .is_some_and(|p| p.split(':').any(|e| e.trim_end_matches('/') == host_dir));
        Some(Compat {
            decision: entrypoint::decide(host.as_ref(), version.as_ref()),
            dir,
            host_dir,
            version,
            on_library_path,
        })
    }

    fn container(&self) -> Option<Container> {
        let mut evidence = Vec::new();
        let mut runtime: Option<String> = None;
        let mut saw = |what: String, kind: &str| {
            evidence.push(what);
            runtime.get_or_insert_with(|| kind.to_string());
        };
        if self.host_path("/.dockerenv").exists() {
            saw("/.dockerenv".into(), "docker");
        }
        if self.host_path("/run/.containerenv").exists() {
            saw("/run/.containerenv".into(), "podman");
        }
        if self.var("KUBERNETES_SERVICE_HOST").is_some() {
            saw("KUBERNETES_SERVICE_HOST".into(), "kubernetes");
        }
        if let Ok(cgroup) = fs::read_to_string(self.host_path("/proc/1/cgroup")) {
            let kind = [
                ("kubepods", "kubernetes"),
                ("docker", "docker"),
                ("libpod", "podman"),
                ("containerd", "containerd"),
                ("lxc", "lxc"),
            ]
            .into_iter()
            .find(|(needle, _)| cgroup.contains(needle));
            if let Some((needle, kind)) = kind {
                saw(format!("/proc/1/cgroup mentions {needle}"), kind);
            }
        }
        if let Some(c) = self.var("container") {
            let c = c.to_string();
            saw(format!("container={c}"), &c);
        }
        Some(Container {
            runtime: runtime?,
            evidence,
        })
    }

    fn find_on_path(&self, tool: &str) -> Option<PathBuf> {
        let path = self.var("PATH")?;
        std::env::split_paths(path)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    }

    fn smi(&self) -> Smi {
        let Some(tool) = self.find_on_path("nvidia-smi") else {
            return Smi::default();
        };
        let mut smi = Smi {
            path: Some(tool.clone()),
            ..Smi::default()
        };
        let query = |fields: &str| {
            let q = format!("--query-gpu={fields}");
            (self.run)(&tool, &[q.as_str(), "--format=csv"])
        };
        let mut fields: Vec<&str> = SMI_FIELDS.split(',').collect();
        let mut out = query(&fields.join(","));
        // Older drivers reject newer fields (`compute_cap` before 510): drop the one
        // rejected and ask again; names are then mapped through the catalog.
        while let Ok(o) = &out {
            let Some(Failure::InvalidField(field)) =
                smi::failure(&format!("{}{}", o.stdout, o.stderr))
            else {
                break;
            };
            let optional = |f: &&str| !matches!(*f, "index" | "name" | "driver_version");
            let Some(at) = fields.iter().position(|f| optional(f) && field == *f) else {
                break;
            };
            smi.compute_cap_from_catalog |= fields[at] == "compute_cap";
            fields.remove(at);
            out = query(&fields.join(","));
        }
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                smi.message = Some(format!("cannot run {}: {e}", tool.display()));
                return smi;
            }
        };
        let text = format!("{}{}", out.stdout, out.stderr);
        if let Some(failure) = smi::failure(&text) {
            smi.failure = Some(failure);
            smi.message = Some(first_lines(&text));
            return smi;
        }
        let failed = if !out.success() {
            format!(
                "exited with {}: {}",
                out.status
                    .map_or("a signal".to_string(), |c| format!("status {c}")),
                first_lines(&text)
            )
        } else {
            match smi::parse_csv(Path::new("nvidia-smi"), &out.stdout) {
                Ok(parsed) => {
                    for node in parsed.nodes {
                        smi.driver = smi.driver.or(node.driver);
                        smi.gpus.extend(node.gpus);
                    }
                    return smi;
                }
                Err(e) => {
                    let why: Vec<String> =
                        e.diagnostics().iter().map(|d| d.message.clone()).collect();
                    why.join("; ")
                }
            }
        };
        // A query nvidia-smi refuses or prints oddly (a vendor build, a driver that knows
        // none of the fields) still leaves its plain table, which every driver prints.
        if let Ok(table) = (self.run)(&tool, &[]) {
            if table.success() {
                if let Ok(parsed) = smi::parse_table(Path::new("nvidia-smi"), &table.stdout) {
                    let gpus: Vec<NodeGpu> =
                        parsed.nodes.iter().flat_map(|n| n.gpus.clone()).collect();
                    if !gpus.is_empty() {
                        smi.driver = parsed.nodes.iter().find_map(|n| n.driver);
                        smi.gpus = gpus;
                        smi.from_table = true;
                        smi.message = Some(format!(
                            "the --query-gpu query failed ({failed}); read the plain table"
                        ));
                        return smi;
                    }
                }
            }
        }
        smi.message = Some(failed);
        smi
    }

    fn nvcc_candidates(&self) -> Vec<(PathBuf, NvccSource)> {
        let exe = if cfg!(windows) { "nvcc.exe" } else { "nvcc" };
        let mut found = Vec::new();
        if let Some(n) = self.var("NVCC") {
            found.push((PathBuf::from(n), NvccSource::Nvcc));
        }
        for (var, how) in [
            ("CUDA_HOME", NvccSource::CudaHome),
            ("CUDA_PATH", NvccSource::CudaPath),
        ] {
            if let Some(root) = self.var(var) {
                let p = Path::new(root).join("bin").join(exe);
                if p.is_file() {
                    found.push((p, how));
                }
            }
        }
        if let Some(path) = self.var("PATH") {
            // Empty entries kept, as `toolkit::search_nvcc` keeps them (the current
            // directory), so the nvcc it picks is always among those listed.
            for dir in std::env::split_paths(path) {
                let p = dir.join(exe);
                if p.is_file() {
                    found.push((p, NvccSource::Path));
                }
            }
        }
        let default = self.host_path("/usr/local/cuda/bin").join(exe);
        if default.is_file() {
            found.push((default, NvccSource::Default));
        }
        // One entry per binary, under the first way a build reaches it.
        let mut seen: Vec<PathBuf> = Vec::new();
        found.retain(|(p, _)| {
            let real = fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            if seen.contains(&real) {
                false
            } else {
                seen.push(real);
                true
            }
        });
        found
    }

    fn nvccs(&self) -> Vec<NvccFound> {
        let mut cache = cache::NvccCache::load(self.cache_file.clone());
        let mut found = Vec::new();
        // The one builds use is the one gpuarch-build's own lookup picks with this
        // environment; candidates are one per binary, so at most one matches.
        let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let used =
            toolkit::find_nvcc(&mut |k| self.var(k).map(str::to_string)).map(|p| canonical(&p));
        for (path, how) in self.nvcc_candidates() {
            let start = Instant::now();
            let mut n = NvccFound {
                path: path.clone(),
                how,
                version: None,
                build: None,
                error: None,
                cached: false,
                used: used.as_ref() == Some(&canonical(&path)),
                took: Duration::ZERO,
            };
            let key = cache::Key::of(&path);
            if let Some(answer) = key.as_ref().and_then(|k| cache.get(k)) {
                let (v, b) = answer.split_once(' ').unwrap_or((answer, ""));
                n.version = v.parse().ok();
                n.build = Some(b.to_string()).filter(|b| !b.is_empty());
                n.cached = n.version.is_some();
            }
            if !n.cached {
                if !path.is_file() {
                    n.error = Some(format!("{} does not exist", path.display()));
                } else {
                    match (self.run)(&path, &["--version"]) {
                        Ok(out) if out.success() => match parse_nvcc_version(&out.stdout) {
                            Some(v) => {
                                n.version = Some(v);
                                n.build = build_version(&out.stdout);
                                if let Some(k) = key {
                                    let answer = match &n.build {
                                        Some(b) => format!("{v} {b}"),
                                        None => v.to_string(),
                                    };
                                    cache.insert(k, answer);
                                }
                            }
                            None => {
                                n.error = Some(format!(
                                    "`--version` printed no `release X.Y`: {}",
                                    first_lines(&out.stdout)
                                ))
                            }
                        },
                        Ok(out) => {
                            n.error = Some(format!(
                                "`--version` failed ({}): {}",
                                out.status
                                    .map_or("a signal".to_string(), |c| format!("status {c}")),
                                first_lines(&format!("{}{}", out.stderr, out.stdout))
                            ))
                        }
                        Err(e) => n.error = Some(format!("cannot run it: {e}")),
                    }
                }
            }
            n.took = start.elapsed();
            found.push(n);
        }
        cache.save();
        found
    }
}

/// Runs one probe, recording how long it took.
fn timed<T>(timings: &mut Vec<Timing>, probe: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    timings.push(Timing {
        probe: probe.to_string(),
        took: start.elapsed(),
    });
    value
}

/// The `V12.4.131` of `Cuda compilation tools, release 12.4, V12.4.131`.
fn build_version(output: &str) -> Option<String> {
    let line = output.lines().find(|l| l.contains("release "))?;
    let v = line.rsplit(", ").next()?.trim();
    (v.starts_with('V') && v.len() > 1).then(|| v.to_string())
}

/// The toolkit a plan for this host is made with (`doctor --manifest`): the manifest's
/// `cuda`; else the nvcc builds here use, at the version the probe already read (or found
/// in its cache), so it is not started again; else what a build script resolves from
/// this process's environment (an nvcc release the catalog does not know is asked for
/// its targets; no nvcc gives the error that says where it looked).
pub fn toolkit_for(report: &HostReport, manifest: &Manifest) -> Result<Toolkit> {
    if let Some(cuda) = &manifest.cuda {
        return Ok(Toolkit::named(cuda.value, cuda.location.clone()));
    }
    let probed = report.used_nvcc().and_then(|n| Some((n, n.version?)));
    match probed {
        Some((nvcc, version)) if catalog::toolkit(version).is_some() => {
            let mut t = Toolkit::named(version, None);
            t.origin = ToolkitOrigin::Nvcc(nvcc.path.clone());
            t.nvcc = Some(nvcc.path.clone());
            Ok(t)
        }
        _ => build_script::resolve_toolkit(
            manifest,
            &mut BuildEnv::from_fn(|k| std::env::var(k).ok()),
        ),
    }
}

/// How long a tool may take. nvidia-smi on a host with a hung GPU or driver can block
/// forever; on a healthy host without persistence mode it takes a few seconds at most.
pub const TOOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a tool, capturing what it prints; kills it after [`TOOL_TIMEOUT`].
pub fn run_tool(tool: &Path, args: &[&str]) -> io::Result<ToolOutput> {
    run_tool_within(tool, args, TOOL_TIMEOUT)
}

/// [`run_tool`] with a given time limit.
pub fn run_tool_within(
    tool: &Path,
    args: &[&str],
    limit: std::time::Duration,
) -> io::Result<ToolOutput> {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Both pipes are drained on their own threads so that a chatty tool cannot block on a
    // full pipe while we wait for it to exit.
    let drain = |pipe: Option<Box<dyn io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} did not answer within {} s (a hung GPU or driver?); it was stopped",
                    tool.display(),
                    limit.as_secs()
                ),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(ToolOutput {
        status: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests;
