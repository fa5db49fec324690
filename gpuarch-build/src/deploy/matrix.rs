//! The compatibility matrix: one row per relation between the parts of a deployment
//! (host driver, base image, PyTorch wheel, GPUs), each judged from the catalog with the
//! same coverage rules as a build plan.

use std::fmt;

use crate::arch::{Arch, Cc, Code};
use crate::catalog::{self, Os};
use crate::coverage::{self, Verdict};
use crate::target::Target;
use crate::version::Version;

use super::facts::{self, DriverBranch, ImageSet, TorchRelease, TorchVariant};
use super::require::{self, Host};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Relation {
    ImageVsDriver,
    TorchVsCuda,
    TorchVsGpu,
    CudaVsGpu,
    DriverVsGpu,
}

impl Relation {
    pub const ALL: [Relation; 5] = [
        Relation::ImageVsDriver,
        Relation::TorchVsCuda,
        Relation::TorchVsGpu,
        Relation::CudaVsGpu,
        Relation::DriverVsGpu,
    ];

    /// The name in JSON (`image-vs-driver`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Relation::ImageVsDriver => "image-vs-driver",
            Relation::TorchVsCuda => "torch-vs-cuda",
            Relation::TorchVsGpu => "torch-vs-gpu",
            Relation::CudaVsGpu => "cuda-vs-gpu",
            Relation::DriverVsGpu => "driver-vs-gpu",
        }
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            Relation::ImageVsDriver => "base image CUDA vs host driver",
            Relation::TorchVsCuda => "PyTorch vs CUDA",
            Relation::TorchVsGpu => "PyTorch vs GPU",
            Relation::CudaVsGpu => "CUDA vs GPU",
            Relation::DriverVsGpu => "host driver vs GPU",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Fail,
    Unknown,
    Warn,
    Pass,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One judged relation, for one GPU where the relation involves a GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub relation: Relation,
    pub status: Status,
    /// The GPU the row is about, for the GPU relations.
    pub gpu: Option<String>,
    pub reason: String,
    /// The catalog facts the verdict rests on, each with where it comes from.
    pub facts: Vec<String>,
    /// It passes only through the image's forward-compatibility libraries, which the
    /// compat entrypoint must switch on.
    pub forward_compat: bool,
}

/// The PyTorch wheel of a deployment: a release and one of its CUDA variants.
#[derive(Clone, Copy, Debug)]
pub struct Wheel {
    pub release: &'static TorchRelease,
    /// The patch release asked for (`1.12.1`).
    pub version: Version,
    pub variant: &'static TorchVariant,
}

impl Wheel {
    /// `1.12.1+cu116`.
    pub fn spelled(&self) -> String {
        format!("{}+{}", self.version, self.variant.tag)
    }
}

/// The base image of a deployment: where its CUDA version comes from.
#[derive(Clone, Debug)]
pub struct Image {
    /// As written (`nvidia/cuda:10.2-base-ubuntu20.04`).
    pub reference: String,
    /// The CUDA runtime it carries.
    pub cuda: Version,
    /// The nvidia/cuda release set, where the image is one.
    pub set: Option<&'static ImageSet>,
    /// Its `NVIDIA_REQUIRE_CUDA`, where known (a non-NVIDIA image gets
    /// `cuda>=X.Y` synthesized from its CUDA version, as the toolkit does for legacy
    /// images).
    pub require_cuda: Option<String>,
    /// Something to tell about the reference itself (a tag the catalog does not list).
    pub note: Option<String>,
}

/// What is deployed: every part optional, each relation judged where its parts are known.
#[derive(Clone, Debug, Default)]
pub struct Deployment {
    pub gpus: Vec<Target>,
    /// The oldest Linux driver the hosts run.
    pub driver: Option<Version>,
    pub wheel: Option<Wheel>,
    pub image: Option<Image>,
    /// The toolkit that builds the project's own code (`cuda` in the manifest), judged
    /// against the GPUs where there is no image.
    pub toolkit: Option<Version>,
}

#[derive(Clone, Debug, Default)]
pub struct Matrix {
    pub rows: Vec<Row>,
}

impl Matrix {
    pub fn passes(&self) -> bool {
        self.rows.iter().all(|r| r.status != Status::Fail)
    }

    pub fn failures(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status == Status::Fail)
            .count()
    }
}

/// Judges every relation of the deployment.
pub fn matrix(d: &Deployment) -> Matrix {
    let mut rows = Vec::new();
    if let Some(image) = &d.image {
        image_vs_driver(d, image, &mut rows);
    }
    if let Some(wheel) = &d.wheel {
        rows.push(torch_vs_cuda(d, wheel));
        for gpu in &d.gpus {
            rows.push(torch_vs_gpu(d, wheel, gpu));
        }
    }
    let cuda = d
        .image
        .as_ref()
        .map(|i| (i.cuda, "the base image"))
        .or(d.toolkit.map(|t| (t, "the toolkit")));
    if let Some((cuda, what)) = cuda {
        for gpu in &d.gpus {
            rows.push(cuda_vs_gpu(cuda, what, gpu));
        }
    }
    if let Some(driver) = d.driver {
        for gpu in &d.gpus {
            rows.push(driver_vs_gpu(driver, gpu));
        }
    }
    Matrix { rows }
}

/// The newest CUDA version a driver supports natively: the newest toolkit whose own
/// (GA) driver it is at least.
pub fn driver_cuda(driver: Version) -> Option<Version> {
    catalog::toolkits()
        .iter()
        .filter(|t| t.driver_linux.is_some_and(|own| own <= driver))
        .map(|t| t.version)
        .max()
}

/// Whether a driver's native CUDA covers `cuda` (compared as major.minor).
fn host_cuda_ge(host: Option<Version>, cuda: Version) -> bool {
    host.is_some_and(|h| h >= Version::major_minor(cuda.major, cuda.minor))
}

/// The brand NVML reports for a GPU, as `NVIDIA_REQUIRE_CUDA` names it: what the
/// catalog's market segment implies.
pub fn brand_of(gpu: &Target) -> Option<&'static str> {
    let segment = gpu.gpu.map(|g| g.segment)?;
    Some(match segment {
        "datacenter" => "tesla",
        "workstation" => "quadro",
        "consumer" => "geforce",
        _ => return None,
    })
}

fn gpu_label(gpu: &Target) -> String {
    format!("{} ({})", gpu.name, gpu.cc)
}

/// Forward compatibility is supported on data-center GPUs (and Jetson) only.
fn forward_compat_gpu(gpu: &Target) -> bool {
    gpu.gpu
        .is_some_and(|g| g.segment == "datacenter" || g.segment == "embedded")
}

pub(crate) fn image_vs_driver(d: &Deployment, image: &Image, rows: &mut Vec<Row>) {
    let Some(driver) = d.driver else {
        rows.push(Row {
            relation: Relation::ImageVsDriver,
            forward_compat: false,
            status: Status::Unknown,
            gpu: None,
            reason: format!(
                "no driver floor given: the CUDA {} runtime of {} needs a driver that supports it",
                image.cuda, image.reference
            ),
            facts: Vec::new(),
        });
        return;
    };
    let host_cuda = driver_cuda(driver);
    let runtime_floor = catalog::runtime_min_driver(image.cuda, Os::Linux);
    let mut facts = vec![format!(
        "driver {driver} supports CUDA {} natively (toolkits.toml: the newest toolkit whose GA driver it is at least)",
        host_cuda.map_or("(older than any known toolkit)".to_string(), |v| v.to_string())
    )];
    if let Some(floor) = runtime_floor {
        facts.push(format!(
            "the CUDA {} runtime needs driver >= {floor} (its own driver, or the minor-version-compatibility floor of CUDA {}.x)",
            image.cuda,
            image.cuda.major
        ));
    }
    let require = image
        .require_cuda
        .clone()
        .unwrap_or_else(|| format!("cuda>={}.{}", image.cuda.major, image.cuda.minor));
    facts.push(format!("NVIDIA_REQUIRE_CUDA=\"{}\"", shorten(&require)));
    let parsed = require::parse(&require).ok();
    // Judged per GPU (the brand clauses depend on it), reported once when all agree.
    let gpus: Vec<Option<&Target>> = if d.gpus.is_empty() {
        vec![None]
    } else {
        d.gpus.iter().map(Some).collect()
    };
    let mut judged: Vec<(Option<&Target>, Status, String, bool)> = Vec::new();
    for gpu in gpus {
        let host = Host {
            cuda: host_cuda,
            driver: Some(driver),
            arch: gpu.map(|g| g.cc),
            brand: gpu.and_then(brand_of).map(str::to_string),
        };
        let runtime_runs = runtime_floor.is_some_and(|f| driver >= f);
        let natively = host_cuda_ge(host_cuda, image.cuda);
        let mut bridged = false;
        let (status, reason) = match parsed.as_ref().map(|r| r.evaluate(&host)) {
            Some(eval) if eval.satisfied && natively => (
                Status::Pass,
                format!(
                    "driver {driver} supports CUDA {} >= the image's {}",
                    host_cuda.expect("natively implies known"),
                    image.cuda
                ),
            ),
            Some(eval) if eval.satisfied && runtime_runs => (
                Status::Pass,
                format!(
                    "driver {driver} runs the image's CUDA {} runtime under minor-version compatibility",
                    image.cuda
                ),
            ),
            Some(eval) if eval.satisfied => {
                let branch = facts::branch_of(&driver);
                let compat_ok = gpu.is_none_or(forward_compat_gpu)
                    && branch.is_some_and(|b| b.forward_compat);
                if compat_ok {
                    bridged = true;
                    (
                        Status::Pass,
                        format!(
                            "driver {driver} is older than CUDA {} needs; the image's forward-compatibility libraries (cuda-compat) bridge it on this GPU and branch: switch them on with the compat entrypoint (`cargo gpuarch entrypoint`)",
                            image.cuda
                        ),
                    )
                } else {
                    (
                        Status::Fail,
                        format!(
                            "driver {driver} is older than CUDA {} needs and forward compatibility is not supported here ({}): \"CUDA driver version is insufficient for CUDA runtime version\"",
                            image.cuda,
                            compat_refusal(gpu, branch)
                        ),
                    )
                }
            }
            Some(eval) => {
                let condition = eval.message.clone().unwrap_or_else(|| {
                    format!("unsatisfied condition: {}", require.split(' ').next().unwrap_or(""))
                });
                if runtime_runs {
                    (
                        Status::Fail,
                        format!(
                            "the container will not start: nvidia-container-cli: requirement error: {condition} (the runtime itself would run under minor-version compatibility: NVIDIA_DISABLE_REQUIRE=true, or an image of CUDA {} or older)",
                            host_cuda.map_or("?".into(), |v| v.to_string())
                        ),
                    )
                } else {
                    (
                        Status::Fail,
                        format!(
                            "driver {driver} cannot run the CUDA {} runtime: the container stops with {condition}",
                            image.cuda
                        ),
                    )
                }
            }
            None => (
                Status::Unknown,
                format!("the image's NVIDIA_REQUIRE_CUDA could not be read: \"{require}\""),
            ),
        };
        judged.push((gpu, status, reason, bridged));
    }
    let all_same = judged
        .windows(2)
        .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2 && w[0].3 == w[1].3);
    if all_same {
        let (_, status, reason, bridged) = judged.remove(0);
        rows.push(Row {
            relation: Relation::ImageVsDriver,
            forward_compat: bridged,
            status,
            gpu: None,
            reason,
            facts,
        });
    } else {
        for (gpu, status, reason, bridged) in judged {
            rows.push(Row {
                relation: Relation::ImageVsDriver,
                forward_compat: bridged,
                status,
                gpu: gpu.map(gpu_label),
                reason,
                facts: facts.clone(),
            });
        }
    }
}

fn compat_refusal(gpu: Option<&Target>, branch: Option<&DriverBranch>) -> String {
    match (gpu, branch) {
        (Some(g), _) if !forward_compat_gpu(g) => format!("{} is not a data-center GPU", g.name),
        (_, Some(b)) => format!("R{} is a {} branch", b.branch, b.kind),
        (_, None) => "the driver's branch is unknown".to_string(),
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 120 {
        s.to_string()
    } else {
        let cut = s.char_indices().nth(117).map_or(s.len(), |(i, _)| i);
        format!("{}...", &s[..cut])
    }
}

pub(crate) fn torch_vs_cuda(d: &Deployment, wheel: &Wheel) -> Row {
    let v = wheel.variant;
    let mut facts = vec![format!(
        "PyTorch {} was published for {} (torch.toml: {})",
        wheel.version,
        wheel
            .release
            .variants
            .iter()
            .map(|x| x.tag.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        wheel.release.source
    )];
    facts.push(format!(
        "the {} wheel bundles the CUDA {} runtime (the image's CUDA does not matter to it)",
        v.tag, v.cuda
    ));
    let Some(driver) = d.driver else {
        return Row {
            relation: Relation::TorchVsCuda,
            forward_compat: false,
            status: Status::Unknown,
            gpu: None,
            reason: format!(
                "no driver floor given: the {} wheel needs a driver that runs CUDA {}",
                wheel.spelled(),
                v.cuda
            ),
            facts,
        };
    };
    let floor = catalog::runtime_min_driver(v.cuda, Os::Linux);
    let host = driver_cuda(driver);
    let (status, reason) = match floor {
        Some(f) if driver >= f => {
            let how = if host_cuda_ge(host, v.cuda) {
                "natively".to_string()
            } else {
                format!(
                    "under minor-version compatibility (CUDA {}.x needs >= {f})",
                    v.cuda.major
                )
            };
            (
                Status::Pass,
                format!(
                    "PyTorch {} ({}) bundles the CUDA {} runtime; driver {driver} runs it {how}",
                    wheel.version, v.tag, v.cuda
                ),
            )
        }
        Some(f) => (
            Status::Fail,
            format!(
                "the {} wheel bundles the CUDA {} runtime, which needs driver >= {f}; driver {driver} fails with \"CUDA driver version is insufficient for CUDA runtime version\"",
                wheel.spelled(),
                v.cuda
            ),
        ),
        None => (
            Status::Unknown,
            format!("the driver CUDA {} needs is not in the catalog", v.cuda),
        ),
    };
    Row {
        relation: Relation::TorchVsCuda,
        forward_compat: false,
        status,
        gpu: None,
        reason,
        facts,
    }
}

pub(crate) fn torch_vs_gpu(d: &Deployment, wheel: &Wheel, gpu: &Target) -> Row {
    let v = wheel.variant;
    let codes = v.code_set();
    let verdict = coverage::coverage(&codes, gpu.cc, d.driver.map(|dr| (dr, Os::Linux)));
    let list = v
        .sass
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(";");
    let ptx = if v.ptx.is_empty() {
        ", no PTX".to_string()
    } else {
        format!(
            ", PTX for {}",
            v.ptx
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(";")
        )
    };
    let facts = vec![format!(
        "the {} wheel carries SASS for {list}{ptx} ({}{})",
        wheel.spelled(),
        if v.measured {
            "measured from the PyPI wheel; "
        } else {
            ""
        },
        v.source
    )];
    let (status, reason) = match &verdict {
        Verdict::Native(c) | Verdict::Compatible(c) => (
            Status::Pass,
            format!("{} runs the wheel's {c} kernels", gpu_label(gpu)),
        ),
        Verdict::Jit { ptx, .. } => (
            Status::Warn,
            format!(
                "{} has no SASS in the wheel: it JIT-compiles {ptx} PTX at first use (slow start)",
                gpu_label(gpu)
            ),
        ),
        Verdict::PtxTooNew { .. } | Verdict::Uncovered { .. } => (
            Status::Fail,
            format!(
                "the {} wheel has no kernels {} can run (SASS {list}{ptx}): \"no kernel image is available for execution on the device\"",
                wheel.spelled(),
                gpu_label(gpu)
            ),
        ),
    };
    Row {
        relation: Relation::TorchVsGpu,
        forward_compat: false,
        status,
        gpu: Some(gpu_label(gpu)),
        reason,
        facts,
    }
}

pub(crate) fn cuda_vs_gpu(cuda: Version, what: &str, gpu: &Target) -> Row {
    let sass = Code::sass(Arch::plain(gpu.cc));
    let range = catalog::toolkit_range(sass);
    let Some(tk) = catalog::toolkit(cuda) else {
        return Row {
            relation: Relation::CudaVsGpu,
            forward_compat: false,
            status: Status::Unknown,
            gpu: Some(gpu_label(gpu)),
            reason: format!("CUDA {cuda} is not in the catalog"),
            facts: Vec::new(),
        };
    };
    let mut facts = Vec::new();
    if let Some((first, last)) = range {
        facts.push(format!(
            "sm_{} is built by CUDA {} to {} (toolkits.toml)",
            gpu.cc.number(),
            first.version,
            last.version
        ));
    }
    let native = tk.can_emit(sass);
    // The highest virtual architecture of this toolkit whose PTX the GPU can JIT.
    let jit = tk
        .virtual_targets
        .iter()
        .filter(|a| coverage::ptx_jits_on(**a, gpu.cc))
        .max_by_key(|a| a.cc);
    let (status, reason) = if native {
        (
            Status::Pass,
            format!(
                "CUDA {cuda} ({what}) builds sm_{} for {}",
                gpu.cc.number(),
                gpu_label(gpu)
            ),
        )
    } else if let Some(arch) = jit {
        let first = range.map_or(String::new(), |(f, _)| {
            format!("; native sm_{} needs CUDA {}", gpu.cc.number(), f.version)
        });
        (
            Status::Pass,
            format!(
                "CUDA {cuda} ({what}) cannot build sm_{} but its compute_{} PTX JIT-compiles for {}{first}",
                gpu.cc.number(),
                arch.number(),
                gpu_label(gpu)
            ),
        )
    } else {
        let why = match range {
            Some((_, last)) if cuda > last.version => {
                format!("CUDA {} was the last to support it", last.version)
            }
            Some((first, _)) => format!("CUDA {} is the first to support it", first.version),
            None => "no CUDA release supports it".to_string(),
        };
        (
            Status::Fail,
            format!(
                "CUDA {cuda} ({what}) can build nothing {} runs: {why}",
                gpu_label(gpu)
            ),
        )
    };
    Row {
        relation: Relation::CudaVsGpu,
        forward_compat: false,
        status,
        gpu: Some(gpu_label(gpu)),
        reason,
        facts,
    }
}

pub(crate) fn driver_vs_gpu(driver: Version, gpu: &Target) -> Row {
    let mut facts = Vec::new();
    let branch = driver.major;
    let architecture = gpu.gpu.map(|g| g.architecture);
    if let Some(arch) = architecture {
        if let Some(last) = facts::last_branch_for(arch) {
            facts.push(format!(
                "R{last} is the last driver branch for {arch} GPUs (drivers.toml)"
            ));
            if branch > last {
                return Row {
                    relation: Relation::DriverVsGpu,
                    forward_compat: false,
                    status: Status::Fail,
                    gpu: Some(gpu_label(gpu)),
                    reason: format!(
                        "driver {driver} (R{branch}) no longer supports {arch} GPUs such as {}; R{last} is the last branch that does",
                        gpu.name
                    ),
                    facts,
                };
            }
        }
    }
    // The first toolkit with native code for the GPU shipped with the first driver that
    // knows it.
    let first = catalog::toolkit_range(Code::sass(Arch::plain(gpu.cc)))
        .and_then(|(first, _)| first.driver_linux.map(|d| (first.version, d)));
    if let Some((cuda, needs)) = first {
        facts.push(format!(
            "{} first appears in CUDA {cuda}, whose driver is {needs}",
            gpu_label(gpu)
        ));
        if driver < needs && gpu_newer_than_driver(gpu.cc, driver) {
            return Row {
                relation: Relation::DriverVsGpu,
                forward_compat: false,
                status: Status::Fail,
                gpu: Some(gpu_label(gpu)),
                reason: format!(
                    "driver {driver} predates {}: support came with CUDA {cuda} and driver {needs}",
                    gpu_label(gpu)
                ),
                facts,
            };
        }
    }
    Row {
        relation: Relation::DriverVsGpu,
        forward_compat: false,
        status: Status::Pass,
        gpu: Some(gpu_label(gpu)),
        reason: format!("driver {driver} supports {}", gpu_label(gpu)),
        facts,
    }
}

/// Whether a GPU is newer than every toolkit the driver supports natively: then the
/// driver does not know it. (Toolkits add targets for GPUs that shipped earlier, so the
/// first toolkit with sm_XY is the first one whose driver knows the GPU.)
fn gpu_newer_than_driver(cc: Cc, driver: Version) -> bool {
    let Some(host) = driver_cuda(driver) else {
        return true;
    };
    catalog::toolkit(host).is_none_or(|tk| {
        !tk.real_targets
            .iter()
            .any(|a| a.cc == cc || catalog::same_device(a.cc, cc))
    })
}
