//! gpuarch: plan and check the GPU code a CUDA build ships, from a target-hardware
//! manifest, with no GPU present.
//!
//! The manifest (`gpuarch.toml`, or `[package.metadata.gpuarch]` /
//! `[workspace.metadata.gpuarch]` in Cargo.toml) names the GPUs to run on, the oldest
//! driver, and the toolkit. The planner turns it into the `-gencode` set (also as
//! TORCH_CUDA_ARCH_LIST, CMake CUDA_ARCHITECTURES, clang flags), and the checks fail
//! loudly where a target would get "no kernel image is available", where the toolkit
//! cannot build for a GPU, or where the driver floor is too old for the runtime or its PTX.
//!
//! # In build.rs
//!
//! ```no_run
//! // build.rs, in fn main():
//! let plan = gpuarch_build::plan_or_exit(); // stops the build with cargo::error= on a failed check
//! cc::Build::new()
//!     .cuda(true)
//!     .flags(plan.nvcc_flags()) // one -gencode per planned entry
//!     .file("src/kernel.cu")
//!     .compile("kernel");
//! // The post-build gate: stops the build if $OUT_DIR/libkernel.a lacks planned code
//! // (NVCC_APPEND_FLAGS, a stray -arch flag) or a target cannot run it.
//! plan.verify_built_or_exit("kernel");
//! ```
//!
//! With the `cc` feature, `plan.configure(&mut build)` does the `.cuda(true).flags(...)`
//! part. By default the crate has no dependencies at all, so it compiles in parallel
//! with `cc` and adds little to a clean build.
//!
//! # Environment variables, in lookup order
//!
//! The build-script helper reads these (and prints `cargo::rerun-if-env-changed` for each):
//!
//! 1. `CARGO_MANIFEST_DIR`: where to look for `gpuarch.toml` or the Cargo.toml metadata
//!    (then each parent directory).
//! 2. `GPUARCH_MANIFEST`: a manifest path to read instead.
//! 3. `GPUARCH_GPUS`: target GPUs, separated by `,` or `;`; replaces the manifest's `gpus`.
//! 4. `CUDA_COMPUTE_CAP`: read only when `GPUARCH_GPUS` is unset: one capability as
//!    candle-style crates write it (`80`, `90a`); it becomes the only target.
//! 5. `GPUARCH_MIN_DRIVER`: the Linux driver floor; replaces `min-driver`'s Linux value.
//! 6. `GPUARCH_CUDA`: the toolkit version; replaces `cuda`.
//! 7. When no toolkit is named: `NVCC`, then `CUDA_HOME`, `CUDA_PATH` (their `bin/nvcc`),
//!    then `PATH`, to find the nvcc whose `--version` decides.
//! 8. `GPUARCH_SKIP_VERIFY=1`: `verify_built_or_exit` warns and checks nothing.
//!
//! # Features
//!
//! - `cc`: `Plan::configure(&mut cc::Build)`.
//! - `decompress`: [`artifact::content`], for the PTX ISA and kernel counts of
//!   compressed fatbin entries (lz4_flex, ruzstd).
//! - `wheel`: [`artifact::wheel`], the GPU code inside a Python wheel (zip).
//! - `deploy`: PyTorch wheels, nvidia/cuda images and driver branches judged together
//!   (no dependencies).
//! - `fleet`: inventories (nvidia-smi CSV and tables, `kubectl get nodes` with GPU
//!   Feature Discovery labels), verdicts per node group and nodeAffinity, and the host
//!   probes of `cargo gpuarch doctor` (no dependencies; implies `deploy`).
//!
//! `plan_or_exit` also sets `NVCC` for the rest of the build script when it is unset and
//! the nvcc was found elsewhere (`CUDA_HOME`, `CUDA_PATH`): cc looks only at `NVCC` and
//! `PATH`, and must compile with the nvcc the plan was made for.
//!
//! The library never needs a GPU, nvidia-smi or the network.

pub mod arch;
pub mod artifact;
pub mod build_script;
pub mod catalog;
pub mod check;
pub mod coverage;
#[cfg(feature = "deploy")]
pub mod deploy;
pub mod diagnostic;
pub mod emit;
pub mod error;
#[cfg(feature = "fleet")]
pub mod fleet;
#[cfg(feature = "fleet")]
pub mod host;
pub mod manifest;
pub mod plan;
pub mod target;
pub mod toml;
pub mod toolkit;
pub mod verify;
pub mod version;

pub use arch::{Arch, Cc, Code, CodeKind, CodeSet, Variant};
pub use build_script::{plan_for_build, plan_or_exit, BuildEnv};
pub use catalog::Os;
pub use coverage::{coverage, Verdict};
pub use diagnostic::{Diagnostic, Level, Location};
pub use emit::Dialect;
pub use error::{Error, Result};
pub use manifest::Manifest;
pub use plan::{plan, Plan, PlanRequest};
pub use target::Target;
pub use toolkit::Toolkit;
pub use version::Version;
