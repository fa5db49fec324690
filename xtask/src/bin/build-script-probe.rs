//! What a build.rs using gpuarch-build does, minus the compile: read the manifest of
//! CARGO_MANIFEST_DIR, plan, check, and set up a cc::Build. Timed by `cargo xtask bench`.
fn main() {
    let plan = gpuarch_build::plan_or_exit();
    let mut build = cc::Build::new();
    plan.configure(&mut build);
}
