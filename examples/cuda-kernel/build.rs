//! Compiles src/kernel.cu for the GPUs gpuarch.toml names.
//!
//! `plan_or_exit` reads the manifest (and the GPUARCH_* overrides), asks the nvcc in
//! use for its version, and either returns the -gencode plan or stops the build with
//! `cargo::error=` lines (no nvcc, a GPU the toolkit cannot build for, a driver floor
//! the runtime cannot run on, ...) before nvcc ever runs.

use std::path::PathBuf;

use gpuarch_build::toolkit::{self, ToolkitOrigin};

fn main() {
    println!("cargo::rerun-if-changed=src/kernel.cu");

    let plan = gpuarch_build::plan_or_exit();
    use_the_planned_nvcc(&plan);

    // Lets the library report what it was built for.
    println!(
        "cargo::rustc-env=CUDA_KERNEL_GENCODE={}",
        plan.nvcc_flags().join(" ")
    );
    println!(
        "cargo::rustc-env=CUDA_KERNEL_CUDA_VERSION={}",
        plan.toolkit.version
    );

    // cc adds the profile's -O level, and -G (unoptimised device code) where the
    // profile has debug info, as in `dev`: time kernels with --release.
    plan.configure(&mut cc::Build::new())
        .file("src/kernel.cu")
        .compile("kernel");
}

/// gpuarch finds nvcc through NVCC, CUDA_HOME, CUDA_PATH, then PATH; cc only looks at
/// NVCC (and its target-prefixed forms) and PATH. Point cc at gpuarch's nvcc, so that
/// a CUDA_HOME-only setup builds, and with the compiler the plan was made for.
fn use_the_planned_nvcc(plan: &gpuarch_build::Plan) {
    if std::env::var_os("NVCC").is_some() {
        return;
    }
    let nvcc: Option<PathBuf> = match &plan.toolkit.origin {
        ToolkitOrigin::Nvcc(path) => Some(path.clone()),
        // `cuda = "..."` named the version, so gpuarch did not look for nvcc.
        ToolkitOrigin::Named(_) => toolkit::find_nvcc(&mut |k| std::env::var(k).ok()),
    };
    if let Some(nvcc) = nvcc {
        // Edition 2021, and the build script has no other threads.
        std::env::set_var("NVCC", nvcc);
    }
}
