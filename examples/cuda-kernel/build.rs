//! Compiles src/kernel.cu for the GPUs gpuarch.toml names.
//!
//! `plan_or_exit` reads the manifest (and the GPUARCH_* overrides), asks the nvcc in
//! use for its version, and either returns the -gencode plan or stops the build with
//! `cargo::error=` lines (no nvcc, a GPU the toolkit cannot build for, a driver floor
//! the runtime cannot run on, ...) before nvcc ever runs.

use gpuarch_build::toolkit::ToolkitOrigin;

fn main() {
    println!("cargo::rerun-if-changed=src/kernel.cu");

    let plan = gpuarch_build::plan_or_exit();

    // gpuarch found nvcc through NVCC, CUDA_HOME, CUDA_PATH or PATH; cc only looks at
    // NVCC and PATH. Point cc at the same nvcc, so the compiler that builds is the one
    // that was planned for (CUDA_HOME-only setups would otherwise fail or, worse, use
    // a different nvcc from PATH).
    if let ToolkitOrigin::Nvcc(nvcc) = &plan.toolkit.origin {
        if std::env::var_os("NVCC").is_none() {
            // Edition 2021, and the build script has no other threads yet.
            std::env::set_var("NVCC", nvcc);
        }
    }

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
    // profile has debug info, as in `dev`: test kernels' speed with --release.
    plan.configure(&mut cc::Build::new())
        .file("src/kernel.cu")
        .compile("kernel");
}
