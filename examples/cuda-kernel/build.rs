//! Compiles src/kernel.cu for the GPUs gpuarch.toml names.
//!
//! `plan_or_exit` reads the manifest (and the GPUARCH_* overrides), asks the nvcc in
//! use for its version, and either returns the -gencode plan or stops the build with
//! `cargo::error=` lines (no nvcc, a GPU the toolkit cannot build for, a driver floor
//! the runtime cannot run on, ...) before nvcc ever runs; after nvcc, the post-build
//! gate checks the library against the plan.

fn main() {
    println!("cargo::rerun-if-changed=src/kernel.cu");

    let plan = gpuarch_build::plan_or_exit();

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

    // The post-build gate: libkernel.a must hold every planned cubin and PTX, and every
    // target must be able to run it. NVCC_APPEND_FLAGS or a stray flag cannot change
    // what ships without this build saying so.
    plan.verify_built_or_exit("kernel");
}
