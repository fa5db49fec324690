//! The build.rs face: read the crate's manifest and the environment (recording every
//! input with `cargo::rerun-if-*`), plan, and either hand the plan to `cc` or stop the
//! build with `cargo::error=` lines; after the compile, check what was built against the
//! plan (the post-build gate).

use std::path::{Path, PathBuf};

use crate::arch::Variant;
use crate::diagnostic::{Diagnostic, Level};
use crate::emit::{compute_cap, nvcc};
use crate::error::{Error, Result};
use crate::manifest::{Located, Manifest, OptIn};
use crate::plan::{self, Plan, PlanRequest};
use crate::toolkit::{self, Toolkit, ToolkitOrigin};
use crate::verify::{self, Verification};
use crate::version::Version;

type EnvLookup = Box<dyn FnMut(&str) -> Option<String>>;

/// Reads a build script's environment and records each variable it reads, so Cargo
/// reruns the script when one changes (pkg-config does the same).
pub struct BuildEnv {
    record: bool,
    lookup: EnvLookup,
    /// Lines for Cargo, printed by [`BuildEnv::flush`] (kept so tests can read them).
    pub directives: Vec<String>,
}

impl BuildEnv {
    /// The real environment; directives are printed as they are made.
    pub fn from_process() -> Self {
        BuildEnv {
            record: true,
            lookup: Box::new(|k| std::env::var(k).ok()),
            directives: Vec::new(),
        }
    }

    /// A fixed environment, for tests and for callers that resolve variables themselves.
    pub fn from_fn(lookup: impl FnMut(&str) -> Option<String> + 'static) -> Self {
        BuildEnv {
            record: false,
            lookup: Box::new(lookup),
            directives: Vec::new(),
        }
    }

    pub fn var(&mut self, name: &str) -> Option<String> {
        self.emit(format!("cargo::rerun-if-env-changed={name}"));
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn emit(&mut self, line: String) {
        if self.record {
            println!("{line}");
        }
        self.directives.push(line);
    }
}

/// Plans the crate being built (CARGO_MANIFEST_DIR), honouring the environment's
/// overrides. See the crate docs for the variables, in lookup order.
pub fn plan_for_build(env: &mut BuildEnv) -> Result<Plan> {
    let manifest_dir = env.var("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let mut manifest = match env.var("GPUARCH_MANIFEST") {
        Some(path) => Manifest::from_path(&PathBuf::from(path))?,
        None => match &manifest_dir {
            Some(dir) => match Manifest::discover(dir) {
                Ok(m) => m,
                // The environment alone may name everything.
                Err(Error::Invalid(d)) if d.iter().all(|d| d.code == "no-manifest") => {
                    Manifest::default()
                }
                Err(e) => return Err(e),
            },
            None => Manifest::default(),
        },
    };
    for file in manifest.files.clone() {
        env.emit(format!("cargo::rerun-if-changed={}", file.display()));
    }
    apply_env_overrides(&mut manifest, env)?;
    let mut request = PlanRequest::from_manifest(&manifest, || resolve_toolkit(&manifest, env))?;
    let mismatch = match request.toolkit.nvcc {
        Some(_) => None,
        None => verify_named_toolkit(&mut request.toolkit, env),
    };
    if let Some(nvcc) = &request.toolkit.nvcc {
        env.emit(format!("cargo::rerun-if-changed={}", nvcc.display()));
    }
    let mut plan = plan::plan(&request);
    plan.assessment.diagnostics.extend(mismatch);
    crate::diagnostic::sort_by_level(&mut plan.assessment.diagnostics);
    Ok(plan)
}

/// A build compiles with the nvcc it finds, whatever the manifest names: where one is
/// found, it must be the named release, or the plan was made for another compiler.
fn verify_named_toolkit(toolkit: &mut Toolkit, env: &mut BuildEnv) -> Option<Diagnostic> {
    let mut lookup = |k: &str| env.var(k);
    let nvcc = toolkit::find_nvcc(&mut lookup)?;
    // A broken nvcc is left for the compile step to report; the named version decides.
    let actual = toolkit::from_nvcc(&nvcc).ok()?;
    let same = actual.version.major == toolkit.version.major
        && actual.version.minor == toolkit.version.minor;
    if same {
        toolkit.nvcc = Some(nvcc);
        return None;
    }
    let location = match &toolkit.origin {
        ToolkitOrigin::Named(l) => l.clone(),
        ToolkitOrigin::Nvcc(_) => None,
    };
    Some(
        Diagnostic::error(
            "toolkit-mismatch",
            format!(
                "the plan is for CUDA {}, but this build would compile with {} (CUDA {})",
                toolkit.version,
                nvcc.display(),
                actual.version
            ),
        )
        .with_help(format!(
            "name CUDA {} (or remove `cuda` to follow the nvcc found), or point NVCC/CUDA_HOME at a CUDA {} toolkit",
            actual.version, toolkit.version
        ))
        .at(location),
    )
}

fn apply_env_overrides(manifest: &mut Manifest, env: &mut BuildEnv) -> Result<()> {
    if let Some(gpus) = env.var("GPUARCH_GPUS") {
        manifest.gpus = gpus
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Located::bare(s.to_string()))
            .collect();
    } else if let Some(cap) = env.var("CUDA_COMPUTE_CAP") {
        let parsed = compute_cap::parse(&cap)
            .map_err(|d| Error::invalid(env_help(d, "CUDA_COMPUTE_CAP")))?;
        let arch = parsed
            .codes
            .arches()
            .into_iter()
            .next()
            .expect("one architecture");
        manifest.gpus = vec![Located::bare(arch.cc.to_string())];
        if arch.variant == Variant::Specific {
            manifest.arch_specific = Located::bare(OptIn::Only(vec![arch.cc]));
        } else if arch.variant == Variant::Family {
            manifest.family_specific = Located::bare(OptIn::Only(vec![arch.cc]));
        }
    }
    if let Some(driver) = env.var("GPUARCH_MIN_DRIVER") {
        manifest.min_driver.linux = Some(Located::bare(parse_env_version(
            "GPUARCH_MIN_DRIVER",
            &driver,
        )?));
    }
    if let Some(cuda) = env.var("GPUARCH_CUDA") {
        manifest.cuda = Some(Located::bare(parse_env_version("GPUARCH_CUDA", &cuda)?));
    }
    Ok(())
}

fn parse_env_version(name: &str, value: &str) -> Result<Version> {
    value.parse().map_err(|e| {
        Error::invalid(env_help(
            Diagnostic::error("bad-version", format!("{name}: {e}")),
            name,
        ))
    })
}

fn env_help(d: Diagnostic, name: &str) -> Diagnostic {
    let help = d.help.clone().unwrap_or_default();
    d.with_help(format!(
        "fix or unset the environment variable {name}; {help}"
    ))
}

/// The named toolkit, else the nvcc a build would run.
pub fn resolve_toolkit(manifest: &Manifest, env: &mut BuildEnv) -> Result<Toolkit> {
    if let Some(cuda) = &manifest.cuda {
        return Ok(Toolkit::named(cuda.value, cuda.location.clone()));
    }
    let mut lookup = |k: &str| env.var(k);
    match toolkit::search_nvcc(&mut lookup) {
        Ok(nvcc) => toolkit::from_nvcc(&nvcc),
        Err(looked) => Err(toolkit::no_toolkit_error(&looked)),
    }
}

impl Plan {
    /// The `-gencode` flags, one per entry.
    pub fn nvcc_flags(&self) -> Vec<String> {
        nvcc::emit(&self.codes)
    }

    /// Sets up a `cc::Build` for CUDA with this plan's flags, compiled by the nvcc the
    /// plan was made for: where `NVCC` is unset and gpuarch found nvcc elsewhere
    /// (`CUDA_HOME`, `CUDA_PATH`), it sets `NVCC` for this build script, since cc itself
    /// looks only at `NVCC` and `PATH`.
    #[cfg(feature = "cc")]
    pub fn configure<'b>(&self, build: &'b mut cc::Build) -> &'b mut cc::Build {
        self.point_cc_at_nvcc();
        build.cuda(true);
        for flag in self.nvcc_flags() {
            build.flag(&flag);
        }
        build
    }

    /// Sets `NVCC` for this build script to the nvcc the plan was made for, where it is
    /// unset: cc looks only at `NVCC` and `PATH`, gpuarch also at `CUDA_HOME`/`CUDA_PATH`.
    fn point_cc_at_nvcc(&self) {
        if let Some(nvcc) = &self.toolkit.nvcc {
            if std::env::var_os("NVCC").is_none() {
                std::env::set_var("NVCC", nvcc);
            }
        }
    }

    /// Prints the plan's warnings for Cargo, and its errors as `cargo::error=` lines.
    /// Returns whether the build may go on.
    pub fn report_to_cargo(&self) -> bool {
        for d in self.diagnostics() {
            print_for_cargo(d);
        }
        !self.has_errors()
    }
}

fn print_for_cargo(d: &Diagnostic) {
    let directive = match d.level {
        Level::Error => "cargo::error",
        Level::Warning => "cargo::warning",
        Level::Note => return,
    };
    let mut line = format!("gpuarch[{}]: {}", d.code, d.message);
    if let Some(loc) = &d.location {
        line.push_str(&format!(" (at {loc})"));
    }
    if let Some(help) = &d.help {
        line.push_str(&format!("; help: {help}"));
    }
    println!("{directive}={line}");
}

/// For build.rs: plan the crate, or stop the build with `cargo::error=` lines that say
/// what is wrong and how to fix it. A build that would ship code some target cannot
/// run never gets past this.
pub fn plan_or_exit() -> Plan {
    let mut env = BuildEnv::from_process();
    match plan_for_build(&mut env) {
        Ok(plan) if plan.report_to_cargo() => {
            plan.point_cc_at_nvcc();
            plan
        }
        Ok(_) => std::process::exit(1),
        Err(err) => {
            for d in err.diagnostics() {
                print_for_cargo(&d);
            }
            std::process::exit(1);
        }
    }
}

/// The post-build gate: lists the GPU code in the library (or object, or executable) a
/// build produced and judges it against the plan: every target must be able to run every
/// container, and every planned cubin and PTX must be there. Planned code that is missing
/// is an error here (in `cargo gpuarch verify` it is a warning): it means something —
/// `NVCC_APPEND_FLAGS`, `NVCC_PREPEND_FLAGS`, a flag added after `configure` — changed
/// what nvcc built. Code the plan did not ask for is a warning.
pub fn verify_built(plan: &Plan, path: &Path) -> Result<Verification> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let shown = path.display().to_string();
    let listing = crate::artifact::list(&bytes).map_err(|e| {
        Error::invalid(
            Diagnostic::error("bad-artifact", format!("{shown}: {e}"))
                .with_help("verify the file the compile step wrote (cc: $OUT_DIR/libNAME.a)"),
        )
    })?;
    let containers = verify::containers(&shown, &listing.entries);
    let mut checked = verify::verify(
        containers,
        &listing.entries,
        &plan.targets,
        &plan.min_driver,
        Some(plan),
    );
    for d in &mut checked.diagnostics {
        if d.code == "artifact-missing-planned" {
            d.level = Level::Error;
        }
    }
    for problem in &listing.problems {
        checked.diagnostics.push(
            Diagnostic::error("artifact-damaged", format!("{shown}: {problem}"))
                .with_help("clean and rebuild (cargo clean -p <this crate>)"),
        );
    }
    crate::diagnostic::sort_by_level(&mut checked.diagnostics);
    Ok(checked)
}

/// Where `cc::Build::compile(name)` leaves its library: `$OUT_DIR/libNAME.a`, or
/// `NAME.lib` for MSVC targets.
fn cc_library_path(out_dir: &Path, name: &str, target_env: Option<&str>) -> PathBuf {
    let file = if name.starts_with("lib") && name.ends_with(".a") {
        name.to_string()
    } else if target_env == Some("msvc") {
        format!("{name}.lib")
    } else {
        format!("lib{name}.a")
    };
    out_dir.join(file)
}

impl Plan {
    /// For build.rs, after `cc::Build::compile(name)`: the post-build gate
    /// ([`verify_built`]) on `$OUT_DIR/libNAME.a`. Prints warnings for Cargo, and stops
    /// the build with `cargo::error=` lines if a target cannot run the library or planned
    /// code is missing. `GPUARCH_SKIP_VERIFY=1` skips it (with a warning).
    pub fn verify_built_or_exit(&self, name: &str) {
        // nvcc reads these on every call and cc does not track them: a change must rerun
        // the build (and this gate).
        for var in [
            "GPUARCH_SKIP_VERIFY",
            "NVCC_APPEND_FLAGS",
            "NVCC_PREPEND_FLAGS",
        ] {
            println!("cargo::rerun-if-env-changed={var}");
        }
        if std::env::var("GPUARCH_SKIP_VERIFY").is_ok_and(|v| v == "1") {
            println!("cargo::warning=gpuarch: GPUARCH_SKIP_VERIFY=1: the built library was not checked against the plan");
            return;
        }
        let Some(out_dir) = std::env::var_os("OUT_DIR") else {
            println!("cargo::error=gpuarch[bad-artifact]: OUT_DIR is not set: verify_built_or_exit runs in a build script, after cc compiles");
            std::process::exit(1);
        };
        let target_env = std::env::var("CARGO_CFG_TARGET_ENV").ok();
        let path = cc_library_path(Path::new(&out_dir), name, target_env.as_deref());
        match verify_built(self, &path) {
            Ok(checked) => {
                for d in &checked.diagnostics {
                    print_for_cargo(d);
                }
                if checked.has_errors() {
                    std::process::exit(1);
                }
            }
            Err(err) => {
                for d in err.diagnostics() {
                    print_for_cargo(&d);
                }
                std::process::exit(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> BuildEnv {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        BuildEnv::from_fn(move |k| map.get(k).cloned())
    }

    fn crate_dir(manifest: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "gpuarch-bs-{}-{}",
            std::process::id(),
            manifest.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gpuarch.toml"), manifest).unwrap();
        dir
    }

    #[test]
    fn plans_from_the_manifest_and_records_inputs() {
        let dir = crate_dir("gpus = [\"T4\", \"A100\"]\ncuda = \"12.4\"\n");
        let mut e = env(&[("CARGO_MANIFEST_DIR", dir.to_str().unwrap())]);
        let p = plan_for_build(&mut e).unwrap();
        assert_eq!(p.nvcc_flags().len(), 3);
        assert!(e
            .directives
            .iter()
            .any(|d| d.starts_with("cargo::rerun-if-changed=") && d.ends_with("gpuarch.toml")));
        assert!(e
            .directives
            .contains(&"cargo::rerun-if-env-changed=GPUARCH_GPUS".to_string()));
    }

    #[test]
    fn environment_overrides_win() {
        let dir = crate_dir("gpus = [\"T4\"]\ncuda = \"12.4\"\nmin-driver = \"550.54.14\"\n");
        let mut e = env(&[
            ("CARGO_MANIFEST_DIR", dir.to_str().unwrap()),
            ("CUDA_COMPUTE_CAP", "90a"),
            ("GPUARCH_MIN_DRIVER", "470.82.01"),
        ]);
        let p = plan_for_build(&mut e).unwrap();
        assert_eq!(p.codes.sass().next().unwrap().number(), "90a");
        assert!(p
            .diagnostics()
            .iter()
            .any(|d| d.code == "driver-below-runtime"));
        let mut e = env(&[("GPUARCH_GPUS", "L4, H100"), ("GPUARCH_CUDA", "12.4")]);
        assert_eq!(plan_for_build(&mut e).unwrap().targets.len(), 2);
    }

    fn fake_cuda(release: &str) -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/nvcc")
            .join(format!("cuda-{release}"));
        dir.to_string_lossy().to_string()
    }

    #[test]
    fn named_toolkit_must_be_the_nvcc_the_build_runs() {
        let mut e = env(&[
            ("GPUARCH_GPUS", "A100"),
            ("GPUARCH_CUDA", "12.4"),
            ("CUDA_HOME", &fake_cuda("12.8")),
        ]);
        let p = plan_for_build(&mut e).unwrap();
        let d = p
            .diagnostics()
            .iter()
            .find(|d| d.code == "toolkit-mismatch")
            .unwrap();
        assert!(
            d.message.contains("CUDA 12.4") && d.message.contains("CUDA 12.8"),
            "{}",
            d.message
        );
        assert!(p.has_errors());

        let mut e = env(&[
            ("GPUARCH_GPUS", "A100"),
            ("GPUARCH_CUDA", "12.4"),
            ("CUDA_HOME", &fake_cuda("12.4")),
        ]);
        let p = plan_for_build(&mut e).unwrap();
        assert!(!p.has_errors(), "{:?}", p.diagnostics());
        assert!(p.toolkit.nvcc.is_some());
        assert!(e
            .directives
            .iter()
            .any(|d| d.starts_with("cargo::rerun-if-changed=") && d.ends_with("bin/nvcc")));
    }

    #[test]
    fn bad_environment_is_an_input_error() {
        let mut e = env(&[("GPUARCH_GPUS", "A100"), ("GPUARCH_CUDA", "twelve")]);
        let err = plan_for_build(&mut e).unwrap_err();
        assert_eq!(err.diagnostics()[0].code, "bad-version");
        let mut e = env(&[("GPUARCH_GPUS", "A100"), ("PATH", "/nonexistent")]);
        assert_eq!(
            plan_for_build(&mut e).unwrap_err().diagnostics()[0].code,
            "no-toolkit"
        );
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/artifacts")
            .join(name)
    }

    fn plan_for(manifest: &str) -> Plan {
        let dir = crate_dir(manifest);
        let mut e = env(&[("CARGO_MANIFEST_DIR", dir.to_str().unwrap())]);
        plan_for_build(&mut e).unwrap()
    }

    #[test]
    fn the_gate_passes_what_the_plan_built_and_stops_what_it_did_not() {
        // k_rdc.o holds exactly sm_80 and compute_80 (PTX ISA 9.0, CUDA 13.0).
        let plan = plan_for("gpus = [\"A100\"]\ncuda = \"13.0\"\n");
        let codes: Vec<String> = plan.codes.iter().map(|c| c.to_string()).collect();
        assert_eq!(codes, ["sm_80", "compute_80"]);
        let ok = verify_built(&plan, &fixture("k_rdc.o")).unwrap();
        assert!(!ok.has_errors(), "{:?}", ok.diagnostics);
        assert!(ok.missing.is_empty() && ok.extra.is_empty());
        // libk.a's members were built for 7.5 and 12.0a: A100 is covered by neither.
        let bad = verify_built(&plan, &fixture("libk.a")).unwrap();
        assert!(bad.has_errors());
        let missing = bad
            .diagnostics
            .iter()
            .find(|d| d.code == "artifact-missing-planned")
            .unwrap();
        assert_eq!(missing.level, Level::Error);
        assert!(bad
            .diagnostics
            .iter()
            .any(|d| d.code == "target-not-covered"));
        // A planned target that is covered anyway, but not as planned, still stops it:
        // a T4 plan (sm_75 + compute_75) against sm_75-only a75 plus extras.
        let t4 = plan_for("gpus = [\"T4\"]\ncuda = \"13.0\"\n");
        let checked = verify_built(&t4, &fixture("k.o")).unwrap();
        assert!(checked.targets[0].verdict.runs());
        assert!(
            checked.has_errors(),
            "compute_75 was planned and is missing"
        );
        assert!(checked
            .diagnostics
            .iter()
            .any(|d| d.code == "artifact-unplanned-code" && d.level == Level::Warning));
    }

    #[test]
    fn the_gate_reports_unreadable_output_as_input_errors() {
        let plan = plan_for("gpus = [\"A100\"]\ncuda = \"13.0\"\n");
        assert!(matches!(
            verify_built(&plan, Path::new("/nonexistent/libk.a")),
            Err(Error::Io { .. })
        ));
        let junk = std::env::temp_dir().join(format!("gpuarch-gate-{}.a", std::process::id()));
        std::fs::write(&junk, b"!<arch>\nnot really").unwrap();
        let r = verify_built(&plan, &junk).unwrap();
        assert!(r.diagnostics.iter().any(|d| d.code == "artifact-damaged"));
        let _ = std::fs::remove_file(&junk);
    }

    #[test]
    fn cc_library_names() {
        let out = Path::new("/out");
        assert_eq!(
            cc_library_path(out, "kernel", None),
            Path::new("/out/libkernel.a")
        );
        assert_eq!(
            cc_library_path(out, "kernel", Some("msvc")),
            Path::new("/out/kernel.lib")
        );
        assert_eq!(
            cc_library_path(out, "libk.a", None),
            Path::new("/out/libk.a")
        );
    }
}
