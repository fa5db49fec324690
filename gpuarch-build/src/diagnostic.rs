//! Diagnostics: every finding has a stable kebab-case code, a level, a message, the
//! manifest location where there is one, and the fix.

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A place in a manifest file (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl Location {
    /// The location of a byte offset in `text` (for one lookup; many use [`LineIndex`]).
    pub fn at(file: &std::path::Path, text: &str, offset: usize) -> Location {
        LineIndex::new(text).location(file, text, offset)
    }
}

/// Where each line of a text starts, so that locating many offsets stays linear.
#[derive(Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    pub fn location(&self, file: &std::path::Path, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let column = text
            .get(line_start..offset)
            .map_or(1, |t| t.chars().count() + 1);
        Location {
            file: file.to_path_buf(),
            line: line as u32,
            column: column as u32,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub level: Level,
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
    pub location: Option<Location>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(explain(code).is_some(), "undocumented code {code}");
        Diagnostic {
            code,
            level: Level::Error,
            message: message.into(),
            help: None,
            location: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Note,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.level.name(), self.code, self.message)?;
        if let Some(loc) = &self.location {
            write!(f, "\n  --> {loc}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Orders diagnostics errors first, keeping the order within each level.
pub fn sort_by_level(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.level);
}

/// The long form of a diagnostic code, for `cargo gpuarch explain CODE`.
#[derive(Debug)]
pub struct CodeInfo {
    pub code: &'static str,
    /// Whether it reports bad input (exit 2) rather than an incompatibility (exit 1).
    pub input: bool,
    pub summary: &'static str,
    pub explanation: &'static str,
}

pub fn explain(code: &str) -> Option<&'static CodeInfo> {
    CODES.iter().find(|c| c.code == code)
}

pub static CODES: &[CodeInfo] = &[
    CodeInfo {
        code: "target-not-covered",
        input: false,
        summary: "a target GPU gets neither a cubin it can run nor PTX it can JIT",
        explanation: "The build carries no SASS for the GPU's major version at or below its capability, \
and no PTX of an architecture at or below it. At the first kernel launch the program fails with \
\"no kernel image is available for execution on the device\" (cudaErrorNoKernelImageForDevice). \
Fix: add the GPU's architecture to the build (sm_XY for native code), or embed PTX of an \
architecture at or below it.",
    },
    CodeInfo {
        code: "toolkit-cannot-target",
        input: false,
        summary: "the CUDA toolkit cannot generate code for a target GPU",
        explanation: "nvcc stops with \"Unsupported gpu architecture\" for architectures it was never \
taught (sm_100 and sm_120 need CUDA 12.8; sm_103, sm_121 and every `f` target need 12.9; \
sm_107 needs 13.4) or that it dropped (CUDA 12.0 removed sm_35/sm_37, CUDA 13.0 removed \
everything below sm_75, and renamed sm_101 to sm_110). Fix: build with a toolkit that lists the \
architecture (`cargo gpuarch catalog archs sm_XY` shows which), or drop the GPU.",
    },
    CodeInfo {
        code: "driver-below-runtime",
        input: false,
        summary: "the driver floor is older than the toolkit's CUDA runtime needs",
        explanation: "A program built with CUDA X.Y needs a driver that supports it: the driver \
shipped with X.Y, or since CUDA 11, any driver at or above the major's minor-version-compatibility \
floor (450.80.02 for 11.x, 525.60.13 for 12.x, 580.65.06 for 13.x on Linux). Below it, \
initialisation fails with \"CUDA driver version is insufficient for CUDA runtime version\" \
(cudaErrorInsufficientDriver). Fix: raise min-driver, or build with an older toolkit.",
    },
    CodeInfo {
        code: "ptx-newer-than-driver",
        input: false,
        summary: "a GPU can only run PTX, and the driver floor cannot JIT that PTX version",
        explanation: "A driver JIT-compiles PTX only up to the PTX ISA of the newest toolkit it \
shipped with, also when minor-version compatibility lets the same program's cubins run. PTX \
from a newer toolkit fails with \"the provided PTX was compiled with an unsupported toolchain\" \
(cudaErrorUnsupportedPtxVersion). Fix: add a cubin for the GPU (sm_XY), raise min-driver to the \
driver named in the message, or build with an older toolkit.",
    },
    CodeInfo {
        code: "arch-specific-mismatch",
        input: false,
        summary: "an arch-specific (`a`) or family (`f`) target is the only code near a GPU it cannot run on",
        explanation: "sm_XYa code runs on capability X.Y only, and sm_XYf code only on its family \
(members with the same major and a higher or equal minor). A B300 (10.3) cannot run sm_100a; an \
RTX 5090 (12.0) cannot run sm_100f. Fix: add the GPU's own architecture, or a plain sm_XY.",
    },
    CodeInfo {
        code: "not-native",
        input: false,
        summary: "a GPU runs code built for an older capability because the toolkit predates it",
        explanation: "The GPU will run the cubin of a lower minor of its major (an L4 runs sm_86 \
code from CUDA 11.7; a GB10 runs sm_120 code from CUDA 12.8), but misses the instructions and \
tuning of its own architecture. Fix: build with the toolkit named in the message.",
    },
    CodeInfo {
        code: "jit-only",
        input: false,
        summary: "a GPU is covered only by PTX, compiled by the driver at load time",
        explanation: "The program runs, but the driver JIT-compiles every kernel at first load \
(seconds to minutes for large libraries; cached in ~/.nv/ComputeCache) and needs a driver that \
accepts the PTX version. Fix: add a cubin for the GPU.",
    },
    CodeInfo {
        code: "minor-version-compat",
        input: false,
        summary: "the driver floor relies on CUDA minor-version compatibility",
        explanation: "The driver floor is below the driver the toolkit shipped with, but at or above \
its major's minor-version-compatibility floor: cubins run, APIs newer than the driver return \
cudaErrorCallRequiresNewerDriver, and PTX newer than the driver cannot be JIT-compiled.",
    },
    CodeInfo {
        code: "toolkit-mismatch",
        input: false,
        summary: "the manifest names one CUDA release, and the build would compile with another",
        explanation: "In a build script gpuarch also looks for the nvcc the build will run (NVCC, \
CUDA_HOME, CUDA_PATH, PATH). When it finds one of another release than `cuda` (or GPUARCH_CUDA) \
names, the plan and its checks are for the wrong compiler. Name the release nvcc is, remove \
`cuda` to follow the nvcc found, or point NVCC or CUDA_HOME at the named release.",
    },
    CodeInfo {
        code: "opt-in-unused",
        input: false,
        summary: "`arch-specific` or `family-specific` names a capability that is not a target",
        explanation: "The capability gets no code from the opt-in because no target GPU has it. \
Add the GPU to `gpus`, or remove the capability from the opt-in.",
    },
    CodeInfo {
        code: "catalog-stale",
        input: false,
        summary: "the toolkit is newer than gpuarch's catalog",
        explanation: "gpuarch does not know this CUDA release. Where nvcc is present the plan uses the \
targets nvcc itself lists; otherwise it assumes those of the newest release it knows. Update \
gpuarch for exact answers.",
    },
    CodeInfo {
        code: "torch-would-reject",
        input: false,
        summary: "PyTorch would reject this TORCH_CUDA_ARCH_LIST string",
        explanation: "torch.utils.cpp_extension splits on `;` after turning spaces into `;`, does not \
trim, and accepts only its own list of dotted capabilities (`8.0`, `9.0a`, `8.6+PTX`) and names \
(`Ampere`, `Hopper+...` is not one). An empty item (`8.0;`), `sm_80`, `80` or `Hopper+PTX` raise \
\"Unknown CUDA arch (...) or GPU not supported\" in the build.",
    },
    CodeInfo {
        code: "manifest-syntax",
        input: true,
        summary: "the manifest is not valid TOML",
        explanation: "Fix the TOML at the line and column given.",
    },
    CodeInfo {
        code: "unknown-key",
        input: true,
        summary: "the manifest has a key gpuarch does not know",
        explanation: "Unknown keys are errors so that a typo (`min_driver` for `min-driver`) cannot \
silently change a build. The message names the nearest known key.",
    },
    CodeInfo {
        code: "wrong-type",
        input: true,
        summary: "a manifest value has the wrong type or is not one of the allowed values",
        explanation: "The message says what the key takes.",
    },
    CodeInfo {
        code: "bad-version",
        input: true,
        summary: "a version (toolkit, driver) does not parse",
        explanation: "Write versions as numbers separated by dots: `cuda = \"12.4\"`, \
`min-driver = \"525.60.13\"`.",
    },
    CodeInfo {
        code: "unknown-gpu",
        input: true,
        summary: "a GPU name is not in the catalog",
        explanation: "Names are matched as nvidia-smi and people write them (`A100`, `NVIDIA \
A100-SXM4-80GB`, `Tesla T4`); `cargo gpuarch catalog gpus` lists them. A capability (`8.6`, \
`sm_86`) or an architecture (`Ampere`) works too.",
    },
    CodeInfo {
        code: "unknown-capability",
        input: true,
        summary: "a compute capability that no NVIDIA GPU or toolkit has",
        explanation: "There is no sm_84 or 9.5. `cargo gpuarch catalog archs` lists every real one.",
    },
    CodeInfo {
        code: "no-targets",
        input: true,
        summary: "no target GPUs were given",
        explanation: "Name the GPUs to run on: `gpus = [\"A100\", \"L4\"]` in the manifest, `--gpu` on \
the command line, or GPUARCH_GPUS in a build script's environment.",
    },
    CodeInfo {
        code: "no-manifest",
        input: true,
        summary: "no gpuarch manifest was found",
        explanation: "gpuarch reads gpuarch.toml, or [package.metadata.gpuarch] / \
[workspace.metadata.gpuarch] in Cargo.toml, from the current directory upwards; \
--manifest-path names one.",
    },
    CodeInfo {
        code: "bad-arch-list",
        input: true,
        summary: "an architecture list (TORCH_CUDA_ARCH_LIST, CMake, nvcc flags) does not parse",
        explanation: "The message names the item that could not be read and the forms accepted.",
    },
    CodeInfo {
        code: "not-expressible",
        input: true,
        summary: "a plan cannot be written in the requested dialect",
        explanation: "TORCH_CUDA_ARCH_LIST cannot hold `f` targets or PTX without the same SASS; \
CUDA_COMPUTE_CAP holds a single architecture; clang cannot embed PTX alone.",
    },
    CodeInfo {
        code: "bad-artifact",
        input: true,
        summary: "a file given to `inspect` or `verify` cannot be read as a build artifact",
        explanation: "gpuarch reads fatbins, little-endian ELF64 objects, libraries and executables, \
GNU static archives (thin and nested too), cubins, PTX text, and Python wheels. The message says \
where the file stopped making sense. A valid file without GPU code is not this error: it lists \
nothing. Damage inside a file that can otherwise be read (one bad section, member or container) \
is a warning beside what could be read.",
    },
    CodeInfo {
        code: "artifact-missing-planned",
        input: false,
        summary: "`verify`: the plan asks for a cubin or PTX that the built artifact lacks",
        explanation: "The artifact was not built with the planned flags. Common causes: \
NVCC_APPEND_FLAGS or NVCC_PREPEND_FLAGS in the environment (they change every nvcc call), an \
-arch or -gencode flag of the build's own, a CMake CUDA_ARCHITECTURES or TORCH_CUDA_ARCH_LIST \
that overrides the plan, or a stale object from an earlier build. The targets' own verdicts \
say whether the artifact still runs everywhere; this warning says it is not what was planned. \
In a build script (gpuarch-build's post-build gate) it stops the build.",
    },
    CodeInfo {
        code: "artifact-unplanned-code",
        input: false,
        summary: "`verify`: the artifact holds a cubin or PTX the plan did not ask for",
        explanation: "Every cubin and PTX adds to the binary's size and to compile time. An entry \
no target needs is wasted; one a target does need means the manifest misses a GPU. The message \
gives the bytes it takes.",
    },
    CodeInfo {
        code: "container-gaps",
        input: false,
        summary: "`verify`: some containers of a library that covers a GPU have no code for it",
        explanation: "Each fat binary container is registered on its own, and a kernel launched from \
one without code for the GPU fails with \"no kernel image is available\". Vendor libraries ship \
per-architecture kernels in containers of their own and pick them by device, so a library is \
judged as a whole: it covers a GPU when one of its containers does, and the containers that do \
not are named here. In your own build it means a part was compiled with other flags; the \
plan comparison and the build gate ask every container for every planned code.",
    },
    CodeInfo {
        code: "artifact-damaged",
        input: false,
        summary: "part of an artifact is damaged; the rest was read",
        explanation: "A section, fat binary container, archive member or compressed entry does not \
hold what its headers say (a truncated copy, a size that points past the end, a corrupt \
compressed payload). gpuarch lists and judges everything it could read and names the damage; \
cuobjdump, on such a file, often stops with no listing at all.",
    },
    CodeInfo {
        code: "ptx-isa-unknown",
        input: false,
        summary: "`verify`: a PTX entry's ISA version could not be read",
        explanation: "The PTX ISA decides the oldest driver that can JIT the PTX. It comes from the \
fatbin entry header or, for compressed entries whose header leaves it out, from the \
decompressed text. Without it the driver floor is not checked for that PTX.",
    },
    CodeInfo {
        code: "unknown-torch",
        input: true,
        summary: "a PyTorch version or variant the catalog does not know",
        explanation: "gpuarch judges official PyTorch wheels by the arch lists they were built with \
(data/torch.toml, measured from the PyPI wheels where possible). A release it does not list, a \
variant that release was not published for (`2.4.1+cu130`), a CPU or ROCm build, or a \
pre-release or nightly (their lists change from build to build) cannot be judged; the message \
lists what is known. For a nightly, inspect the wheel itself with `cargo gpuarch inspect`.",
    },
    CodeInfo {
        code: "bad-image",
        input: true,
        summary: "an image reference that cannot be read, or an nvidia/cuda tag that never existed",
        explanation: "References are read as Docker reads them (`[registry/]repository[:tag][@digest]`). \
For nvidia/cuda (Docker Hub or nvcr.io) the CUDA version comes from the tag, which must be one \
NVIDIA published (data/images.toml); any other image needs its CUDA version given \
(`[image] cuda`, `--image-cuda`).",
    },
    CodeInfo {
        code: "bad-requirement",
        input: true,
        summary: "an NVIDIA_REQUIRE_CUDA value that cannot be read, or nothing to generate one from",
        explanation: "A requirement is space-separated alternatives, each a comma-separated list of \
conditions `name op value` on `cuda`, `driver`, `arch` or `brand` (ops = != < <= > >=), as the \
NVIDIA container toolkit reads it. To generate one, gpuarch needs the image's CUDA version.",
    },
    CodeInfo {
        code: "no-image",
        input: false,
        summary: "no published nvidia/cuda image fits the manifest",
        explanation: "Every release set whose tags still exist was passed over: its runtime needs a \
newer driver than the floor (and forward compatibility does not apply), it cannot build for a \
target GPU, it lacks the flavor or OS asked for, or its CUDA major differs from the PyTorch \
wheel's. The message names the newest set and why it did not fit.",
    },
    CodeInfo {
        code: "deploy-fails",
        input: false,
        summary: "`dockerfile`: the Dockerfile's deployment fails a relation",
        explanation: "The Dockerfile is still written, with the failing relations as WARNING \
comments at the top, and the command exits 1. `cargo gpuarch deploy` judges the same \
deployment relation by relation and lists the nearest fixes.",
    },
    CodeInfo {
        code: "no-toolkit",
        input: true,
        summary: "no CUDA toolkit was named and no nvcc was found",
        explanation: "Set `cuda = \"12.4\"` in the manifest (or --cuda, GPUARCH_CUDA), or make nvcc \
findable: NVCC, then CUDA_HOME/bin or CUDA_PATH/bin, then PATH.",
    },
    CodeInfo {
        code: "nvcc-failed",
        input: true,
        summary: "nvcc could not be run or printed something unexpected",
        explanation: "gpuarch runs `nvcc --version` and reads `release X.Y`. The message shows what \
it printed.",
    },
    CodeInfo {
        code: "bad-inventory",
        input: true,
        summary: "an inventory file could not be read as any format gpuarch knows",
        explanation: "`--inventory FILE` reads `nvidia-smi --query-gpu=... --format=csv` output (with or \
without header and units), plain `nvidia-smi` tables, and `kubectl get nodes -o json` or `-o yaml` \
(a List, or one Node). The message names the file, the line and what was expected there.",
    },
    CodeInfo {
        code: "inventory-suspect",
        input: false,
        summary: "something in an inventory looked wrong; the message says what gpuarch made of it",
        explanation: "Lines that could not be read, a headerless nvidia-smi CSV whose columns had to be \
guessed, a `compute_cap` that disagrees with the catalog (the inventory wins), rows that disagree on \
the driver (they are then read as separate hosts), labels that contradict each other. Nothing is \
dropped: check the named line, and rerun nvidia-smi with a header (`--format=csv`) where columns were \
guessed.",
    },
    CodeInfo {
        code: "bad-format",
        input: true,
        summary: "the command does not write the `--format` asked for",
        explanation: "Every command writes `text` and `json`. `plan` and `check` also write the bare \
dialects (`nvcc`, `torch`, `cmake`, `clang`, `env`) and `matrix`; `plan`, `check`, `verify` and \
`deploy` write the CI formats (`github`, `junit`, `markdown`, `sarif`). The message lists what this \
command writes.",
    },
    CodeInfo {
        code: "cannot-write",
        input: true,
        summary: "an output file could not be written",
        explanation: "`--format github` appends to the files named by GITHUB_OUTPUT and \
GITHUB_STEP_SUMMARY. The message names the file and the error; check that the variables point at \
writable files (the Actions runner sets both).",
    },
    CodeInfo {
        code: "inventory-node-unknown",
        input: false,
        summary: "an inventory node's GPU or driver could not be told; it is kept and judged unknown",
        explanation: "The node is still listed in every verdict, as unknown. Causes: a GPU name the \
catalog does not know and no capability given (add the `compute_cap` column to the nvidia-smi query, \
or let GPU Feature Discovery write `nvidia.com/gpu.compute.major/minor`), a truncated nvidia-smi \
table name that fits GPUs of different capabilities, malformed or missing labels, or nvidia-smi \
error text instead of output. A node that cannot be judged can never be promised to run the build.",
    },
    CodeInfo {
        code: "inventory-adds-targets",
        input: false,
        summary: "the inventory has GPUs the manifest does not name; they are judged as targets too",
        explanation: "With `--inventory`, every GPU of the fleet is a target and the fleet's oldest driver \
lowers the driver floor, so the plan covers what the nodes really have. The note names the GPUs the \
manifest lacks: add them to `gpus` to plan for them without the inventory.",
    },
    CodeInfo {
        code: "node-cannot-run",
        input: false,
        summary: "a node group of the inventory cannot run the build",
        explanation: "The group's GPU gets no cubin it can run and no PTX it can JIT, or its driver is \
older than the CUDA runtime (or the PTX) needs. The message names the group, its GPU and driver, and \
the reason. Fix the plan (add the GPU to the manifest, or keep PTX), upgrade the group's driver, or \
keep the workload off it with the nodeAffinity that `verify --inventory` prints.",
    },
    CodeInfo {
        code: "bad-query",
        input: true,
        summary: "a `catalog --where` query could not be read",
        explanation: "A query is one or more conditions joined by `,` or `and`: a field, an operator \
(`=`, `!=`, `<`, `<=`, `>`, `>=`, `~` for contains) and a value, e.g. `cc>=8.0, segment=datacenter` \
or `architecture~hopper`. The message lists the fields of the table.",
    },
    CodeInfo {
        code: "driver-library-mismatch",
        input: false,
        summary: "the loaded kernel module and the user-space driver library are different versions",
        explanation: "nvidia-smi says \"Failed to initialize NVML: Driver/library version mismatch\" \
and CUDA programs fail to initialize. The driver packages were upgraded (often by unattended \
upgrades) while the old kernel module stayed loaded. Reload the module (stop everything that uses \
the GPU, then `rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && modprobe nvidia`) or reboot, \
and pin the driver packages (`apt-mark hold`, `dnf versionlock`) so it does not happen again.",
    },
    CodeInfo {
        code: "compat-older-than-driver",
        input: false,
        summary: "the CUDA forward-compatibility libraries are not newer than the kernel driver",
        explanation: "The cuda-compat package's libcuda must be newer than the kernel-mode driver; one \
that is older fails with \"system has unsupported display driver / cuda driver combination\" \
(cudaErrorSystemDriverMismatch, 803) when it is on the library path (an equal one is merely not \
needed). It is an error when LD_LIBRARY_PATH names the folder, a warning otherwise. Take the compat \
folder off LD_LIBRARY_PATH (or use `cargo gpuarch entrypoint`, which enables it only when it helps).",
    },
    CodeInfo {
        code: "runtime-newer-than-driver",
        input: false,
        summary: "this host's CUDA toolkit is newer than its driver can run",
        explanation: "Programs built here fail on this host with \"CUDA driver version is insufficient \
for CUDA runtime version\" (cudaErrorInsufficientDriver, 35) unless minor-version compatibility \
applies (same major, no newer PTX). Upgrade the driver, install the matching cuda-compat package on \
a data-center GPU, or build with an older toolkit.",
    },
    CodeInfo {
        code: "no-gpu-in-container",
        input: false,
        summary: "this is a container and no NVIDIA GPU is visible in it",
        explanation: "The container was started without GPU access: no /dev/nvidia* devices and no \
driver libraries were mounted. Start it with `docker run --gpus all` (or `--runtime=nvidia` with \
NVIDIA_VISIBLE_DEVICES), request `nvidia.com/gpu` in the pod's resource limits on Kubernetes, and \
check that NVIDIA_VISIBLE_DEVICES is not `void` or `none`. `doctor` makes it an error when \
NVIDIA_VISIBLE_DEVICES asks for GPUs, and a warning when it is unset, `void` or `none` (a build \
container needs no GPU).",
    },
    CodeInfo {
        code: "nvcc-flags-override",
        input: false,
        summary: "NVCC_APPEND_FLAGS or NVCC_PREPEND_FLAGS change the targets of every nvcc call",
        explanation: "nvcc adds these variables to every invocation, so an `-arch`, `-gencode` or \
`--generate-code` in them silently changes what every build on this machine ships, whatever its \
build system asks for. Unset them, or move the targets into the manifest.",
    },
    CodeInfo {
        code: "env-arch-list",
        input: false,
        summary: "an arch-list variable (TORCH_CUDA_ARCH_LIST, CUDAARCHS, CUDA_COMPUTE_CAP) misses a GPU",
        explanation: "Builds on this machine take their targets from the variable, so a GPU it does not \
cover (this host's, or one the manifest names) gets no kernel image. The message names the variable, \
what it covers and what it misses.",
    },
    CodeInfo {
        code: "nvidia-smi-failed",
        input: false,
        summary: "nvidia-smi ran but printed an error instead of GPUs",
        explanation: "The message quotes nvidia-smi and says what it means: no driver loaded (\"couldn't \
communicate with the NVIDIA driver\"), a driver/library version mismatch, no devices, or a query \
field the driver is too old to know (`compute_cap` needs driver 510 or newer).",
    },
    CodeInfo {
        code: "host-cannot-run",
        input: false,
        summary: "`doctor --manifest`: a GPU of this host cannot run what the manifest plans",
        explanation: "The host's GPU gets no cubin and no PTX it can use from the plan, or its driver is \
older than the plan's runtime or PTX needs. Add the GPU to the manifest, or upgrade the driver.",
    },
    CodeInfo {
        code: "require-unmet",
        input: false,
        summary: "the container's NVIDIA_REQUIRE_CUDA is not met by this host",
        explanation: "The NVIDIA Container Toolkit refuses to start a container whose NVIDIA_REQUIRE_CUDA \
the host does not meet (\"unsatisfied condition: cuda>=12.4\"), unless NVIDIA_DISABLE_REQUIRE is set. \
Upgrade the host driver or use an image for an older CUDA.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        for (i, c) in CODES.iter().enumerate() {
            assert!(c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert!(CODES[i + 1..].iter().all(|o| o.code != c.code));
        }
    }

    #[test]
    fn locations_count_lines_and_columns() {
        let text = "a = 1\nbb = \"x\"\n";
        let loc = Location::at(std::path::Path::new("f.toml"), text, 11);
        assert_eq!((loc.line, loc.column), (2, 6));
        let start = Location::at(std::path::Path::new("f.toml"), text, 0);
        assert_eq!((start.line, start.column), (1, 1));
        let end = Location::at(std::path::Path::new("f.toml"), text, text.len());
        assert_eq!((end.line, end.column), (3, 1));
        assert_eq!(loc.to_string(), "f.toml:2:6");
    }
}
