//! The judgement of a probed host: the known failure states, each in plain words with its
//! fix, what the environment's arch lists build, and (with a plan) whether this host runs it.

use super::{parse, HostReport};
use crate::arch::{Arch, Cc, Code, CodeSet};
use crate::catalog;
use crate::coverage::{coverage, Verdict};
use crate::deploy::entrypoint::CompatDecision;
use crate::deploy::matrix::{brand_of, driver_cuda};
use crate::deploy::require;
use crate::diagnostic::{Diagnostic, Level};
use crate::emit::Dialect;
use crate::fleet::smi::Failure;
use crate::fleet::verdict::{self, FleetVerdict, Status};
use crate::target::Target;
use crate::toolkit::Toolkit;
use crate::version::Version;

/// The variables that name what builds target, and how each is read.
pub const ARCH_VARIABLES: &[(&str, Dialect)] = &[
    ("NVCC_PREPEND_FLAGS", Dialect::Nvcc),
    ("NVCC_APPEND_FLAGS", Dialect::Nvcc),
    ("TORCH_CUDA_ARCH_LIST", Dialect::Torch),
    ("CUDAARCHS", Dialect::Cmake),
    ("CUDA_COMPUTE_CAP", Dialect::ComputeCap),
];

/// One arch-list variable, read.
#[derive(Clone, Debug)]
pub struct EnvList {
    pub var: &'static str,
    pub value: String,
    pub dialect: Dialect,
    /// What it builds; `None` when it names no targets (nvcc flags) or does not parse.
    pub codes: Option<CodeSet>,
    /// Why it does not parse.
    pub error: Option<Diagnostic>,
    /// Each of this host's GPUs, and what it runs from `codes`.
    pub host: Vec<(Target, Verdict)>,
}

/// This host's GPUs whose capability is known, as targets.
pub fn host_targets(report: &HostReport) -> Vec<Target> {
    report
        .smi
        .gpus
        .iter()
        .filter_map(|g| {
            let cc = g.cc?;
            Some(Target {
                name: g.name().to_string(),
                cc,
                gpu: g.gpu,
                integrated: catalog::cc_is_integrated(cc),
                location: None,
            })
        })
        .collect()
}

fn used_toolkit(report: &HostReport) -> Option<Toolkit> {
    let v = report.used_nvcc()?.version?;
    Some(Toolkit::named(v, None))
}

/// Every arch-list variable that is set, read, and judged on this host's GPUs.
pub fn env_lists(report: &HostReport) -> Vec<EnvList> {
    let toolkit = used_toolkit(report);
    let targets = host_targets(report);
    // What the host's GPUs run is judged under the driver programs load.
    let driver = report.effective_driver().map(|d| (d, report.os()));
    let mut lists = Vec::new();
    for &(var, dialect) in ARCH_VARIABLES {
        let Some(value) = report.var(var) else {
            continue;
        };
        let mut list = EnvList {
            var,
            value: value.to_string(),
            dialect,
            codes: None,
            error: None,
            host: Vec::new(),
        };
        // The nvcc parser fails alike for flags that name no target (`-O3`: nothing to
        // judge) and for target flags it cannot read (`-arch` without a value: an error),
        // so whether the value means to choose targets is decided first.
        let names_targets = dialect != Dialect::Nvcc
            || value
                .split_whitespace()
                .any(crate::emit::nvcc::chooses_targets);
        if names_targets {
            match dialect.parse(value, toolkit.as_ref()) {
                Ok(parsed) => {
                    let mut codes = parsed.codes;
                    // The PTX is what the nvcc here writes.
                    if codes.ptx_isa.is_none() {
                        codes.ptx_isa = toolkit.as_ref().map(|t| t.ptx_isa);
                    }
                    list.host = targets
                        .iter()
                        .map(|t| (t.clone(), coverage(&codes, t.cc, driver)))
                        .collect();
                    list.codes = Some(codes);
                }
                Err(d) => list.error = Some(d),
            }
        }
        lists.push(list);
    }
    lists
}

fn code_list(codes: &CodeSet) -> String {
    let names: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    names.join(" ")
}

/// The failure states of this host, each with its fix, errors first.
pub fn diagnose(report: &HostReport) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    mismatch(report, &mut out);
    compat(report, &mut out);
    runtime(report, &mut out);
    visibility(report, &mut out);
    for list in env_lists(report) {
        arch_variable(&list, &mut out);
    }
    requirements(report, &mut out);
    crate::diagnostic::sort_by_level(&mut out);
    out
}

fn mismatch(report: &HostReport, out: &mut Vec<Diagnostic>) {
    let module = report.kernel_module.as_ref().and_then(|m| m.driver());
    let smi_says = match &report.smi.failure {
        Some(Failure::VersionMismatch { nvml_library }) => Some(*nvml_library),
        _ => None,
    };
    let differing: Vec<&super::Library> = match module {
        Some(m) => report
            .libraries
            .iter()
            .filter(|l| parse::is_driver_version(&l.version) && l.version != m)
            .collect(),
        None => Vec::new(),
    };
    if smi_says.is_none() && differing.is_empty() {
        return;
    }
    let module_text = match module {
        Some(m) => format!("the loaded kernel module is {m}"),
        None => "the loaded kernel module".to_string(),
    };
    let library_text = match (differing.first(), smi_says.flatten()) {
        (Some(l), _) => format!(
            "the user-space library {} is {}",
            l.path.display(),
            l.version
        ),
        (None, Some(v)) => format!("the NVML library is {v}"),
        (None, None) => "the user-space driver library is another version".to_string(),
    };
    let quote = if smi_says.is_some() {
        "nvidia-smi says \"Failed to initialize NVML: Driver/library version mismatch\": "
    } else {
        ""
    };
    let help = if report.container.is_some() {
        "the container's driver libraries must be the host's: remove the driver packages the \
         image installs (the NVIDIA Container Toolkit mounts the host's libraries), or, on the \
         host, reload the module or reboot"
    } else {
        "reload the module (stop everything that uses the GPU, then `sudo rmmod nvidia_uvm \
         nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia`) or reboot; then pin the \
         driver packages (`apt-mark hold`, `dnf versionlock`) so an unattended upgrade cannot \
         do it again"
    };
    out.push(
        Diagnostic::error(
            "driver-library-mismatch",
            format!(
                "{quote}{module_text} but {library_text}: CUDA programs fail to initialize until they match"
            ),
        )
        .with_help(help),
    );
}

fn compat(report: &HostReport, out: &mut Vec<Diagnostic>) {
    let Some(compat) = &report.compat else {
        return;
    };
    let CompatDecision::NotNeeded { host, compat: v } = compat.decision else {
        return;
    };
    let (level, consequence) = if compat.on_library_path {
        (
            Level::Error,
            "LD_LIBRARY_PATH names it, so CUDA programs load it and fail with \"system has \
             unsupported display driver / cuda driver combination\" (803)",
        )
    } else {
        (
            Level::Warning,
            "it is not on LD_LIBRARY_PATH now; whatever puts it there (an image's ENV, an \
             entrypoint, ldconfig) makes CUDA programs fail with \"system has unsupported \
             display driver / cuda driver combination\" (803)",
        )
    };
    let d = Diagnostic::error(
        "compat-older-than-driver",
        format!(
            "the compat folder {} holds driver {v}, older than the kernel module's {host}: {consequence}",
            compat.host_dir
        ),
    )
    .with_help(
        "keep the compat folder off LD_LIBRARY_PATH on this host (compat libraries help only \
         when they are newer than the kernel module), or start with `cargo gpuarch entrypoint`, \
         which enables it only then",
    );
    out.push(Diagnostic { level, ..d });
}

fn runtime(report: &HostReport, out: &mut Vec<Diagnostic>) {
    let (Some(nvcc), Some(effective)) = (report.used_nvcc(), report.effective_driver()) else {
        return;
    };
    let Some(cuda) = nvcc.version else {
        return;
    };
    // With a newer compat driver on the library path, programs load it instead.
    let through = report.compat_in_use().map_or(String::new(), |c| {
        format!(" (through the compat driver in {})", c.host_dir)
    });
    let own = catalog::toolkit(cuda).and_then(|t| t.driver(report.os()));
    let os = report.os();
    let floor = catalog::runtime_min_driver(cuda, os);
    let native = driver_cuda(effective).map_or("no CUDA release gpuarch knows".to_string(), |c| {
        format!("CUDA {c}")
    });
    let nvcc_text = format!(
        "{} (CUDA {cuda}, found by {})",
        nvcc.path.display(),
        nvcc.how.name()
    );
    if let Some(floor) = floor.filter(|f| effective < *f) {
        out.push(
            Diagnostic::error(
                "runtime-newer-than-driver",
                format!(
                    "{nvcc_text} builds programs whose runtime needs driver >= {floor}; this host's driver is {effective}{through}, which supports {native}: they fail here with \"CUDA driver version is insufficient for CUDA runtime version\" (35)"
                ),
            )
            .with_help(match idle_compat(report, floor) {
                // The fix is already installed: it only has to be loaded.
                Some(c) => format!(
                    "put the compat folder {} (driver {}) on LD_LIBRARY_PATH, or start with `cargo gpuarch entrypoint`, which does so on this host",
                    c.host_dir,
                    c.version.map_or("unknown".to_string(), |v| v.to_string())
                ),
                None => format!(
                    "upgrade the driver to >= {}, install the matching cuda-compat package (data-center GPUs only), or build with a toolkit no newer than {native}",
                    own.unwrap_or(floor)
                ),
            }),
        );
        return;
    }
    let Some(own) = own.filter(|o| effective < *o) else {
        return;
    };
    let ptx = match ptx_too_new(report, cuda, effective) {
        Some((isa, min_driver)) => format!(
            "; PTX it writes (ISA {isa}) cannot be JIT-compiled by this driver ({}), so a GPU that has only PTX fails with \"the provided PTX was compiled with an unsupported toolchain\" (222)",
            match (catalog::max_ptx_isa_for_driver(effective, os), min_driver) {
                (Some(max), Some(min)) => format!("it reads ISA {max} at most; ISA {isa} needs driver >= {min}"),
                (Some(max), None) => format!("it reads ISA {max} at most"),
                (None, Some(min)) => format!("ISA {isa} needs driver >= {min}"),
                (None, None) => "it predates that ISA".to_string(),
            }
        ),
        None => String::new(),
    };
    out.push(
        Diagnostic::warning(
            "runtime-newer-than-driver",
            format!(
                "{nvcc_text} is newer than this host's driver {effective}{through}, which supports {native}: programs built here run only through minor-version compatibility (CUDA {}.x on driver >= {}): cubins for this host's GPUs load{ptx}",
                cuda.major,
                floor.map_or("its major's floor".to_string(), |f| f.to_string()),
            ),
        )
        .with_help(format!(
            "build a cubin (sm_XY) for every GPU the program runs on, or upgrade the driver to >= {own}"
        )),
    );
}

/// A compat folder the entrypoint would enable, whose driver meets `floor`, but which is
/// not on `LD_LIBRARY_PATH`: programs load the module's older driver instead.
fn idle_compat(report: &HostReport, floor: Version) -> Option<&super::Compat> {
    report.compat.as_ref().filter(|c| {
        !c.on_library_path && c.decision.enables_compat() && c.version.is_some_and(|v| v >= floor)
    })
}

/// Whether PTX written by CUDA `cuda` is too new for `driver` to JIT: its ISA and the
/// lowest driver that reads it, when it is. Asked of the judge ([`coverage`]) with a
/// PTX-only build for each of this host's GPUs. Without a GPU of known capability there
/// is no code set to judge, and the answer is the catalog's lowest driver for the ISA,
/// the same floor the judge applies.
fn ptx_too_new(
    report: &HostReport,
    cuda: Version,
    driver: Version,
) -> Option<(Version, Option<Version>)> {
    let isa = catalog::toolkit(cuda)?.ptx_isa;
    let os = report.os();
    let targets = host_targets(report);
    if targets.is_empty() {
        let min = catalog::min_driver_for_ptx_isa(isa, os);
        return min.is_none_or(|m| driver < m).then_some((isa, min));
    }
    targets.iter().find_map(|t| {
        let mut ptx_only: CodeSet = [Code::ptx(Arch::plain(t.cc))].into_iter().collect();
        ptx_only.ptx_isa = Some(isa);
        match coverage(&ptx_only, t.cc, Some((driver, os))) {
            Verdict::PtxTooNew {
                isa, min_driver, ..
            } => Some((isa, min_driver)),
            _ => None,
        }
    })
}

/// The values of NVIDIA_VISIBLE_DEVICES that ask for no GPU.
fn asks_for_no_gpu(value: &str) -> bool {
    matches!(value, "void" | "none" | "")
}

fn visibility(report: &HostReport, out: &mut Vec<Diagnostic>) {
    let smi_text = match (&report.smi.path, &report.smi.message) {
        (None, _) => "no nvidia-smi on PATH".to_string(),
        (Some(_), Some(m)) => format!("nvidia-smi: {m}"),
        (Some(_), None) => "nvidia-smi lists no GPU".to_string(),
    };
    if let Some(container) = &report.container {
        if !report.sees_gpu() {
            let visible = report.var("NVIDIA_VISIBLE_DEVICES");
            let (level, why) = match visible {
                Some(v) if asks_for_no_gpu(v) => (
                    Level::Warning,
                    format!("NVIDIA_VISIBLE_DEVICES={v} asks for no GPU"),
                ),
                Some(v) => (
                    Level::Error,
                    format!(
                        "NVIDIA_VISIBLE_DEVICES={v} asks for GPUs, but only the NVIDIA runtime reads it, and this container was started without it"
                    ),
                ),
                None => (
                    Level::Warning,
                    "NVIDIA_VISIBLE_DEVICES is unset (a build container needs no GPU; one that runs CUDA programs does)".to_string(),
                ),
            };
            let d = Diagnostic::error(
                "no-gpu-in-container",
                format!(
                    "this is a container ({}: {}) and no NVIDIA GPU is visible in it: no /proc/driver/nvidia/version, no /dev/nvidia*, {smi_text}; {why}",
                    container.runtime,
                    container.evidence.join(", ")
                ),
            )
            .with_help(
                "start it with `docker run --gpus all` (or `--runtime=nvidia` with \
                 NVIDIA_VISIBLE_DEVICES=all), or request `nvidia.com/gpu` in the pod's resource \
                 limits on Kubernetes",
            );
            out.push(Diagnostic { level, ..d });
            return;
        }
    }
    let Some(failure) = &report.smi.failure else {
        if let (Some(m), Some(_)) = (&report.smi.message, &report.smi.path) {
            out.push(
                Diagnostic::warning(
                    "nvidia-smi-failed",
                    format!("nvidia-smi's answer could not be read: {m}"),
                )
                .with_help("run `nvidia-smi` by hand; GPUs are judged unknown until it answers"),
            );
        }
        return;
    };
    let quoted = report.smi.message.clone().unwrap_or_default();
    let (meaning, help) = match failure {
        // Explained, with its fix, as driver-library-mismatch.
        Failure::VersionMismatch { .. } => return,
        Failure::NoDriver => (
            if report.kernel_module.is_none() {
                "no NVIDIA kernel module is loaded"
            } else {
                "the kernel module is loaded but does not answer"
            },
            "install the driver, or load it (`sudo modprobe nvidia`); after a kernel upgrade, \
             rebuild the module (DKMS) or reboot into the kernel it was built for",
        ),
        Failure::NoDevices => (
            "the driver is loaded but sees no GPU",
            "check that the GPU is on the PCI bus (`lspci | grep -i nvidia`), not bound to \
             another driver (vfio-pci, nouveau), and, in a container, given to it",
        ),
        Failure::InvalidField(_) => (
            "the driver is too old for a field of the query",
            "upgrade the driver; gpuarch asks for index, name, compute_cap (510+), \
             driver_version, pci.bus_id, memory.total and mig.mode.current",
        ),
        Failure::Other(_) => (
            "it could not list the GPUs",
            "run `nvidia-smi` by hand and fix what it says",
        ),
    };
    out.push(
        Diagnostic::error(
            "nvidia-smi-failed",
            format!("nvidia-smi says \"{quoted}\": {meaning}"),
        )
        .with_help(help),
    );
}

fn arch_variable(list: &EnvList, out: &mut Vec<Diagnostic>) {
    let shown = format!("{}=`{}`", list.var, list.value);
    if let Some(error) = &list.error {
        out.push(Diagnostic {
            message: format!("{shown}: {}", error.message),
            ..error.clone()
        });
        return;
    }
    let missed: Vec<String> = list
        .host
        .iter()
        .filter(|(_, v)| !v.runs())
        .map(|(t, v)| match v {
            Verdict::Uncovered { .. } => format!("{} ({})", t.name, t.cc),
            other => format!("{} ({}): {}", t.name, t.cc, other.describe()),
        })
        .collect();
    if list.dialect == Dialect::Nvcc {
        let Some(codes) = &list.codes else {
            out.push(Diagnostic::note(
                "nvcc-flags-override",
                format!(
                    "{shown} is added to every nvcc call on this machine (it names no targets)"
                ),
            ));
            return;
        };
        let level = if missed.is_empty() {
            Level::Warning
        } else {
            Level::Error
        };
        let missing = if missed.is_empty() {
            String::new()
        } else {
            format!(
                "; this host's GPUs it leaves without code: {}",
                missed.join("; ")
            )
        };
        let d = Diagnostic::error(
            "nvcc-flags-override",
            format!(
                "{shown} adds {} to every nvcc call on this machine, whatever the build asks for{missing}",
                code_list(codes)
            ),
        )
        .with_help(format!(
            "unset {} (or keep only flags that choose no targets), and put the targets in the manifest",
            list.var
        ));
        out.push(Diagnostic { level, ..d });
        return;
    }
    if !missed.is_empty() {
        let builds = list.codes.as_ref().map_or(String::new(), code_list);
        out.push(
            Diagnostic::error(
                "env-arch-list",
                format!(
                    "{shown} builds {builds}, and this host's {} can run none of it",
                    missed.join(", ")
                ),
            )
            .with_help(format!(
                "add the GPU's capability to {} (or unset it and let the manifest decide)",
                list.var
            )),
        );
    }
}

/// Whether the toolkit skips requirement checks: `NVIDIA_DISABLE_REQUIRE`, read with Go's
/// `strconv.ParseBool`.
fn require_disabled(report: &HostReport) -> bool {
    matches!(
        report.var("NVIDIA_DISABLE_REQUIRE"),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

fn requirements(report: &HostReport, out: &mut Vec<Diagnostic>) {
    let driver = report.driver();
    let targets = host_targets(report);
    if driver.is_none() && targets.is_empty() {
        // The toolkit passes every factor it has no host value for.
        return;
    }
    let disabled = require_disabled(report);
    for (name, value) in &report.env {
        let Some(kind) = name.strip_prefix("NVIDIA_REQUIRE_") else {
            continue;
        };
        if kind.starts_with("JETPACK") || value.is_empty() {
            continue;
        }
        let requirement = match require::parse(value) {
            Ok(r) => r,
            Err(e) => {
                out.push(
                    Diagnostic::warning("bad-requirement", format!("{name}: {e}"))
                        .with_help("`cargo gpuarch require` explains the syntax"),
                );
                continue;
            }
        };
        let hosts: Vec<(String, require::Host)> = if targets.is_empty() {
            vec![(String::new(), host_values(driver, None))]
        } else {
            targets
                .iter()
                .map(|t| {
                    (
                        format!(" on {} ({})", t.name, t.cc),
                        host_values(driver, Some(t)),
                    )
                })
                .collect()
        };
        for (on, host) in hosts {
            let evaluation = requirement.evaluate(&host);
            if evaluation.satisfied {
                continue;
            }
            let said = evaluation.cli_line().unwrap_or_default();
            let host_cuda = host
                .cuda
                .map_or("no CUDA version gpuarch knows".to_string(), |c| {
                    format!("CUDA {c}")
                });
            let d = if disabled {
                Diagnostic::note(
                    "require-unmet",
                    format!(
                        "{name} is not met{on}, but NVIDIA_DISABLE_REQUIRE is set, so the container toolkit does not check it: \"{said}\""
                    ),
                )
                .with_help("it runs only if minor-version compatibility covers the program (same CUDA major, no PTX newer than the driver)")
            } else {
                Diagnostic::error(
                    "require-unmet",
                    format!(
                        "{name}=`{value}` is not met{on}: the driver supports {host_cuda}; the NVIDIA Container Toolkit refuses to start such a container: \"{said}\""
                    ),
                )
                .with_help("upgrade the host driver, or use an image built for an older CUDA")
            };
            out.push(d);
            break;
        }
    }
}

fn host_values(driver: Option<Version>, target: Option<&Target>) -> require::Host {
    require::Host {
        cuda: driver.and_then(driver_cuda),
        driver,
        arch: target.map(|t| t.cc),
        brand: target.and_then(brand_of).map(str::to_string),
    }
}

/// What the environment's arch lists leave out of the manifest's targets (`doctor
/// --manifest`): a GPU the manifest names that a variable would build no code for.
pub fn diagnose_targets(report: &HostReport, targets: &[Target]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for list in env_lists(report) {
        let Some(codes) = &list.codes else {
            continue;
        };
        let missed: Vec<String> = targets
            .iter()
            .filter(|t| !coverage(codes, t.cc, None).runs())
            .map(|t| format!("{} ({})", t.name, t.cc))
            .collect();
        if missed.is_empty() {
            continue;
        }
        let code = if list.dialect == Dialect::Nvcc {
            "nvcc-flags-override"
        } else {
            "env-arch-list"
        };
        out.push(
            Diagnostic::error(
                code,
                format!(
                    "{}=`{}` builds {}, which GPUs the manifest targets cannot run: {}",
                    list.var,
                    list.value,
                    code_list(codes),
                    missed.join(", ")
                ),
            )
            .with_help(format!(
                "unset {} and let the manifest decide (`cargo gpuarch plan --format {}` writes the list)",
                list.var,
                match list.dialect {
                    Dialect::Torch => "torch",
                    Dialect::Cmake => "cmake",
                    _ => "nvcc",
                }
            )),
        );
    }
    out
}

/// This host judged against a plan.
#[derive(Clone, Debug, Default)]
pub struct HostVerdict {
    pub fleet: FleetVerdict,
    /// `host-cannot-run` for each GPU that cannot run the plan or cannot be judged.
    pub diagnostics: Vec<Diagnostic>,
}

impl HostVerdict {
    /// The host's status: `Fails` when a GPU cannot run the plan, else `Unknown` when one
    /// could not be judged (or nothing could), else `NoGpu` for a host without GPUs,
    /// else `Runs`.
    pub fn status(&self) -> Status {
        let has = |s: Status| self.fleet.groups.iter().any(|g| g.status == s);
        if has(Status::Fails) {
            Status::Fails
        } else if has(Status::Unknown) || self.fleet.groups.is_empty() {
            Status::Unknown
        } else if has(Status::NoGpu) {
            Status::NoGpu
        } else {
            Status::Runs
        }
    }

    /// Whether this host is known to run the plan: every group runs it. A host that could
    /// not be judged does not count as running it.
    pub fn runs(&self) -> bool {
        self.status() == Status::Runs
    }
}

/// Judges `codes` (built by `toolkit`) on this host, with the fleet judge.
pub fn judge(report: &HostReport, codes: &CodeSet, toolkit: Option<&Toolkit>) -> HostVerdict {
    let fleet = verdict::judge(&[report.to_node()], codes, toolkit);
    let mut diagnostics = Vec::new();
    for group in &fleet.groups {
        if group.status == Status::NoGpu {
            diagnostics.push(Diagnostic::note(
                "host-cannot-run",
                "this host has no GPU: it can build the plan, not run it",
            ));
        }
        for gpu in &group.gpus {
            let cc = gpu
                .cc
                .map_or("capability unknown".to_string(), |c: Cc| c.to_string());
            match gpu.status {
                Status::Fails => {
                    // The fleet judge's reason names the GPU already.
                    let message = if gpu.reason.contains(&gpu.name) {
                        format!("this host cannot run the plan: {}", gpu.reason)
                    } else {
                        format!(
                            "{} ({cc}) of this host cannot run the plan: {}",
                            gpu.name, gpu.reason
                        )
                    };
                    let help = match gpu.verdict {
                        Some(Verdict::Uncovered { .. }) | None => {
                            "add the GPU to the manifest's `gpus`"
                        }
                        Some(_) => "upgrade this host's driver, or build for it with an older toolkit",
                    };
                    diagnostics.push(Diagnostic::error("host-cannot-run", message).with_help(help));
                }
                Status::Unknown => diagnostics.push(
                    Diagnostic::warning(
                        "host-cannot-run",
                        format!("cannot tell whether {} ({cc}) of this host runs the plan: {}", gpu.name, gpu.reason),
                    )
                    .with_help("make nvidia-smi work here, or judge the GPU by name with `cargo gpuarch check --gpu NAME`"),
                ),
                Status::Runs | Status::NoGpu => {}
            }
        }
        if group.gpus.is_empty() && group.status == Status::Unknown {
            diagnostics.push(
                Diagnostic::warning(
                    "host-cannot-run",
                    format!(
                        "cannot tell whether this host runs the plan: {}",
                        group.reason
                    ),
                )
                .with_help("make nvidia-smi work here"),
            );
        }
    }
    HostVerdict { fleet, diagnostics }
}
