//! Developer tasks: `cargo xtask <task>`.
//!
//! - `codegen [--check]`: turn `gpuarch-build/data/*.toml` into `src/catalog/generated.rs`.
//! - `verify-toolkits [--all | VERSION...]`: check `toolkits.toml` against NVIDIA's compilers on PyPI.
//! - `bench [plan|build-script|gate|deploy|fleet|compile|all]`: the timed benchmarks quoted in the README.
//! - `gen-inventory --nodes N [--seed S] [--yaml] [-o FILE]`: a realistic `kubectl get nodes`
//!   inventory for the fleet benchmark and for trying `--inventory`.
//! - `bench inspect [--runs N] [--cuobjdump PATH] [--gpuarch PATH] [--large]`: `cargo gpuarch
//!   inspect` and `verify` against `cuobjdump --list-elf --list-ptx` on libcurand.so.10.
//! - `bench-nvcc [install [X.Y.Z]] [--runs N] [--nvcc PATH]`: a real nvcc 13.x from PyPI;
//!   compile time and object size of the example kernel with the plan against `-arch=all`.
//! - `toolkit install <ptxas X.Y.Z | nvcc [X.Y.Z] | cuobjdump [X.Y.Z]>`: NVIDIA's compilers
//!   from PyPI into the toolkit cache; prints the binary (CUDA_HOME for nvcc).

mod bench;
mod bench_inspect;
mod bench_nvcc;
mod codegen;
mod gen_inventory;
mod toolkits;
mod verify_toolkits;
mod verify_torch;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("codegen") => codegen::run(&args[1..]),
        Some("verify-toolkits") => verify_toolkits::run(&args[1..]),
        Some("verify-torch") => verify_torch::run(&args[1..]),
        Some("bench") if args.get(1).map(String::as_str) == Some("inspect") => {
            bench_inspect::run(&args[2..])
        }
        Some("bench") => bench::run(&args[1..]),
        Some("bench-nvcc") => bench_nvcc::run(&args[1..]),
        Some("toolkit") => toolkits::run(&args[1..]),
        Some("gen-inventory") => gen_inventory::run(&args[1..]),
        _ => Err(anyhow::anyhow!(
            "usage: cargo xtask <codegen [--check] | verify-toolkits [--all | VERSION...] | verify-torch [--all | VERSION...] [--drop-wheels] | bench [plan|build-script|gate|deploy|fleet|compile|all] | gen-inventory --nodes N [--seed S] [--yaml] [-o FILE] | bench inspect [--runs N] [--cuobjdump PATH] [--gpuarch PATH] [--large] | bench-nvcc [install [X.Y.Z]] [--runs N] [--nvcc PATH] | toolkit install <ptxas X.Y.Z | nvcc [X.Y.Z] | cuobjdump [X.Y.Z]>>"
        )),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}
