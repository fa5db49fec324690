//! End-to-end tests of `cargo gpuarch inspect` and `verify` against what a real nvcc
//! writes, judged by a real cuobjdump.
//!
//! They compile small kernels with NVIDIA's compilers for several fleets and kinds of
//! artifact (objects, fatbins, cubins, relocatable objects and their device link, static
//! archives, shared libraries, executables, every compression mode) and check that
//! `cargo gpuarch inspect --format json` lists exactly the cubins and PTX that
//! `cuobjdump --list-elf --list-ptx` lists, in the same order, and that `verify` judges
//! the builds as the compatibility rules say.
//!
//! They need two environment variables, and print `SKIPPED: ...` and pass without them,
//! so a plain `cargo test` stays quick and offline:
//!
//! - `GPUARCH_TEST_CUDA_HOME`: a CUDA 13.x toolkit root with `bin/nvcc`;
//! - `GPUARCH_TEST_CUOBJDUMP`: a `cuobjdump` (13.2 or later, which reads 13.x output).
//!
//! `.ci/run` sets both. By hand, with NVIDIA's wheels from PyPI:
//!
//! ```sh
//! export GPUARCH_TEST_CUDA_HOME=$(cargo xtask toolkit install nvcc 13.0.88 | tail -n 1)
//! export GPUARCH_TEST_CUOBJDUMP=$(cargo xtask toolkit install cuobjdump | tail -n 1)
//! cargo test --test real_toolkits
//! ```
//!
//! cuobjdump names a cubin from its ELF header, which cannot record a family (`f`)
//! variant: gpuarch's `sm_100f` is cuobjdump's `sm_100` (see `Entry::cuobjdump_arch` in
//! gpuarch-build). That is the one spelling difference the comparison allows.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gpuarch");

/// Two kernels and a host function that launches them.
const KERNELS_CU: &str = r#"
__global__ void scale(float *x, float a, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= a;
}
__global__ void offset(int *x, int b, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += b;
}
extern "C" int run_kernels() {
    scale<<<1, 32>>>(nullptr, 2.0f, 0);
    offset<<<1, 32>>>(nullptr, 1, 0);
    return (int)cudaGetLastError();
}
"#;

/// A second translation unit with its own kernel.
const FILL_CU: &str = r#"
__global__ void fill(unsigned *x, unsigned v, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = v;
}
"#;

const HOST_CU: &str = r#"
#include <cstdio>
extern "C" int run_kernels();
int main() { std::printf("%d\n", run_kernels()); return 0; }
"#;

/// Relocatable device code: a kernel calling a device function of another unit.
const RDC_USER_CU: &str = r#"
__device__ float twice(float v);
__global__ void doubler(float *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = twice(x[i]);
}
extern "C" int run_doubler() {
    doubler<<<1, 32>>>(nullptr, 0);
    return (int)cudaGetLastError();
}
"#;

const RDC_HELPER_CU: &str = r#"
__device__ float twice(float v) { return 2.0f * v; }
"#;

const RDC_HOST_CU: &str = r#"
#include <cstdio>
extern "C" int run_doubler();
int main() { std::printf("%d\n", run_doubler()); return 0; }
"#;

/// The mixed fleet most tests build for: Turing to Blackwell.
const FLEET: &[&str] = &["T4", "A100", "H100", "B200"];

/// One cubin or PTX as `cargo gpuarch inspect --format json` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// `cubin` or `ptx`.
    kind: String,
    /// The architecture, `sm_90a`, for both kinds.
    arch: String,
    /// What the entry is in nvcc's terms: `sm_90a` for a cubin, `compute_90a` for PTX.
    code: String,
    compression: String,
    section: String,
    member: Option<String>,
    ptx_isa: Option<String>,
}

impl Entry {
    /// cuobjdump's spelling: `sm_` for both kinds, and no `f` on cubins.
    fn cuobjdump_spelling(&self) -> (String, String) {
        let arch = if self.kind == "cubin" {
            self.arch.trim_end_matches('f')
        } else {
            &self.arch
        };
        (self.kind.clone(), arch.to_string())
    }
}

/// One finished run of a program.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

fn run(program: &Path, args: &[String], dir: &Path) -> Run {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// `-gencode=arch=A,code=C` for each pair.
fn gencodes(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs
        .iter()
        .map(|(arch, code)| format!("-gencode=arch={arch},code={code}"))
        .collect()
}

/// The codes `-gencode` flags ask for, sorted: `sm_80` (a cubin), `compute_80` (PTX), as
/// inspect's `code` names its entries.
fn codes_of(flags: &[String]) -> Vec<String> {
    let mut codes: Vec<String> = flags
        .iter()
        .map(|f| {
            let code = f
                .split(",code=")
                .nth(1)
                .unwrap_or_else(|| panic!("no code= in {f}"));
            assert!(!code.contains(['[', ',']), "one code per flag: {f}");
            code.to_string()
        })
        .collect();
    codes.sort();
    codes
}

fn sorted_codes(entries: &[Entry]) -> Vec<String> {
    let mut codes: Vec<String> = entries.iter().map(|e| e.code.clone()).collect();
    codes.sort();
    codes
}

/// A CUDA toolkit and cuobjdump from the environment, and a scratch directory holding the
/// sources, for one test.
struct Real {
    test: &'static str,
    nvcc: PathBuf,
    cuobjdump: PathBuf,
    /// The toolkit's `major.minor`, passed to gpuarch as `--cuda`.
    cuda: String,
    dir: PathBuf,
    /// `.version` of `nvcc -ptx` per virtual architecture.
    ptx_versions: RefCell<BTreeMap<String, String>>,
}

/// The toolkit named by the environment, or `None` after printing why the test skips.
fn real(test: &'static str) -> Option<Real> {
    let from_env = |name: &str, install: &str| match std::env::var_os(name) {
        Some(value) if !value.is_empty() => Some(PathBuf::from(value)),
        _ => {
            eprintln!(
                "SKIPPED: {test}: {name} not set (run .ci/run or cargo xtask toolkit install {install})"
            );
            None
        }
    };
    let home = from_env("GPUARCH_TEST_CUDA_HOME", "nvcc ...")?;
    let cuobjdump = from_env("GPUARCH_TEST_CUOBJDUMP", "cuobjdump")?;
    let nvcc = home.join("bin/nvcc");
    assert!(
        nvcc.is_file(),
        "GPUARCH_TEST_CUDA_HOME={} has no bin/nvcc",
        home.display()
    );
    assert!(
        cuobjdump.is_file(),
        "GPUARCH_TEST_CUOBJDUMP={} is not a file",
        cuobjdump.display()
    );

    let version = run(&nvcc, &strings(&["--version"]), Path::new("."));
    let cuda = version
        .stdout
        .split("release ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no release in nvcc --version: {version:?}"))
        .to_string();
    // What the tests expect of nvcc (compression modes and their defaults, the sm_75
    // floor, `f` targets) was measured on CUDA 13.
    assert!(
        cuda.starts_with("13."),
        "these tests expect nvcc 13.x; {} is {cuda}",
        nvcc.display()
    );

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("real_toolkits")
        .join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("kernels.cu", KERNELS_CU),
        ("fill.cu", FILL_CU),
        ("host.cu", HOST_CU),
        ("rdc_user.cu", RDC_USER_CU),
        ("rdc_helper.cu", RDC_HELPER_CU),
        ("rdc_host.cu", RDC_HOST_CU),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    Some(Real {
        test,
        nvcc,
        cuobjdump,
        cuda,
        dir,
        ptx_versions: RefCell::new(BTreeMap::new()),
    })
}

impl Real {
    /// Runs nvcc in the scratch directory; it must succeed.
    fn nvcc(&self, args: &[String]) {
        let out = run(&self.nvcc, args, &self.dir);
        assert_eq!(
            out.code,
            0,
            "{}: nvcc {} failed:\n{}{}",
            self.test,
            args.join(" "),
            out.stdout,
            out.stderr
        );
    }

    /// Compiles `sources` with `flags` plus `extra` into `output`.
    fn compile(
        &self,
        mode: &[&str],
        flags: &[String],
        extra: &[&str],
        sources: &[&str],
        output: &str,
    ) {
        let mut args = strings(mode);
        args.extend(flags.iter().cloned());
        args.extend(strings(extra));
        args.extend(strings(sources));
        args.extend(strings(&["-o", output]));
        self.nvcc(&args);
    }

    fn gpuarch(&self, args: &[String]) -> Run {
        let mut all = vec!["gpuarch".to_string()];
        all.extend(args.iter().cloned());
        run(Path::new(BIN), &all, &self.dir)
    }

    /// The `-gencode` flags `cargo gpuarch plan --format nvcc` prints for `args`.
    fn plan(&self, args: &[&str]) -> Vec<String> {
        let mut all = strings(&["plan"]);
        all.extend(strings(args));
        all.extend(strings(&["--cuda", &self.cuda, "--format", "nvcc"]));
        let out = self.gpuarch(&all);
        assert_eq!(
            out.code,
            0,
            "{}: gpuarch {}: {out:?}",
            self.test,
            all.join(" ")
        );
        let flags: Vec<String> = out.stdout.split_whitespace().map(str::to_string).collect();
        assert!(
            !flags.is_empty() && flags.iter().all(|f| f.starts_with("-gencode=")),
            "{}: plan printed {:?}",
            self.test,
            out.stdout
        );
        flags
    }

    /// The `--gpu` flags for `gpus`.
    fn gpu_args(gpus: &[&str]) -> Vec<String> {
        gpus.iter()
            .flat_map(|g| ["--gpu".to_string(), g.to_string()])
            .collect()
    }

    fn plan_for(&self, gpus: &[&str], extra: &[&str]) -> Vec<String> {
        let mut args = Real::gpu_args(gpus);
        args.extend(strings(extra));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.plan(&refs)
    }

    fn inspect(&self, file: &str) -> Vec<Entry> {
        let out = self.gpuarch(&strings(&["inspect", "--format", "json", file]));
        assert_eq!(out.code, 0, "{}: inspect {file}: {out:?}", self.test);
        let json = out.json();
        let files = json["files"].as_array().expect("files[]");
        assert_eq!(files.len(), 1, "{}: inspect {file}: {json}", self.test);
        let text = |v: &Value| v.as_str().map(str::to_string);
        files[0]["entries"]
            .as_array()
            .expect("entries[]")
            .iter()
            .map(|e| Entry {
                kind: text(&e["kind"]).expect("kind"),
                arch: text(&e["arch"]).expect("arch"),
                code: text(&e["code"]).expect("code"),
                compression: text(&e["compression"]).expect("compression"),
                section: text(&e["section"]).unwrap_or_default(),
                member: text(&e["member"]),
                ptx_isa: text(&e["ptx_isa"]),
            })
            .collect()
    }

    /// `(kind, arch)` per `ELF file` / `PTX file` line of `cuobjdump --list-elf
    /// --list-ptx`, in output order; the arch is the second-to-last dot-separated part of
    /// the listed name (`k.2.sm_90a.cubin`).
    fn cuobjdump(&self, file: &str) -> (Vec<(String, String)>, String) {
        let out = run(
            &self.cuobjdump,
            &strings(&["--list-elf", "--list-ptx", file]),
            &self.dir,
        );
        let text = format!("{}{}", out.stdout, out.stderr);
        let listing = out
            .stdout
            .lines()
            .filter_map(|line| {
                let kind = if line.starts_with("ELF file") {
                    "cubin"
                } else if line.starts_with("PTX file") {
                    "ptx"
                } else {
                    return None;
                };
                let name = line.split(": ").nth(1)?;
                let parts: Vec<&str> = name.split('.').collect();
                Some((kind.to_string(), parts[parts.len() - 2].to_string()))
            })
            .collect();
        (listing, text)
    }

    /// The `.version` nvcc writes into PTX for virtual architecture `arch` (`compute_90a`).
    fn ptx_version(&self, arch: &str) -> String {
        if let Some(v) = self.ptx_versions.borrow().get(arch) {
            return v.clone();
        }
        let output = format!("version_{arch}.ptx");
        self.compile(
            &["-ptx"],
            &[format!("-arch={arch}")],
            &[],
            &["fill.cu"],
            &output,
        );
        let ptx = std::fs::read_to_string(self.dir.join(&output)).unwrap();
        let version = ptx
            .lines()
            .find_map(|l| l.trim().strip_prefix(".version "))
            .unwrap_or_else(|| panic!("{output} has no .version"))
            .trim()
            .to_string();
        self.ptx_versions
            .borrow_mut()
            .insert(arch.to_string(), version.clone());
        version
    }

    /// Inspects `file` and checks the listing against cuobjdump's, entry by entry and in
    /// order, and each PTX entry's ISA against the `.version` nvcc writes for its arch
    /// (required where the PTX is stored uncompressed).
    fn listed(&self, file: &str) -> Vec<Entry> {
        let entries = self.inspect(file);
        let ours: Vec<(String, String)> = entries.iter().map(Entry::cuobjdump_spelling).collect();
        let (theirs, text) = self.cuobjdump(file);
        assert!(
            !theirs.is_empty(),
            "{}: cuobjdump lists nothing in {file}:\n{text}",
            self.test
        );
        assert_eq!(
            ours,
            theirs,
            "{}: gpuarch inspect and cuobjdump disagree on {}\ngpuarch inspect: {entries:#?}\ncuobjdump --list-elf --list-ptx:\n{text}",
            self.test,
            self.dir.join(file).display()
        );
        for e in &entries {
            let number = e.arch.strip_prefix("sm_").unwrap_or("?");
            let code = match e.kind.as_str() {
                "cubin" => format!("sm_{number}"),
                _ => format!("compute_{number}"),
            };
            assert_eq!(e.code, code, "{}: {file}: {e:?}", self.test);
        }
        for e in entries.iter().filter(|e| e.kind == "ptx") {
            let expected = self.ptx_version(&e.code);
            match &e.ptx_isa {
                Some(isa) => assert_eq!(
                    isa, &expected,
                    "{}: {file}: PTX ISA of {} (nvcc -ptx writes .version {expected})",
                    self.test, e.code
                ),
                None => assert_ne!(
                    e.compression, "none",
                    "{}: {file}: uncompressed {} PTX without its ISA",
                    self.test, e.code
                ),
            }
        }
        entries
    }

    /// The Linux driver of the toolkit's release, from the catalog; `None` where NVIDIA
    /// published none (13.5), so that no driver floor can JIT its PTX.
    fn release_driver(&self) -> Option<String> {
        let out = self.gpuarch(&strings(&[
            "catalog", "toolkits", &self.cuda, "--format", "json",
        ]));
        assert_eq!(
            out.code, 0,
            "{}: catalog toolkits {}: {out:?}",
            self.test, self.cuda
        );
        let json = out.json();
        let row = json
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["version"] == self.cuda.as_str()))
            .unwrap_or_else(|| panic!("no toolkit {} in the catalog: {json}", self.cuda));
        row["driver"]["linux"].as_str().map(str::to_string)
    }

    /// `--min-driver` with the release's own driver, where the catalog knows it.
    fn release_driver_floor(&self) -> Vec<String> {
        match self.release_driver() {
            Some(driver) => vec!["--min-driver".to_string(), driver],
            None => Vec::new(),
        }
    }

    /// `cargo gpuarch verify FILES --gpu ... --cuda X.Y [extra] --format json`.
    fn verify(&self, files: &[&str], gpus: &[&str], extra: &[String]) -> (Run, Value) {
        let mut args = strings(&["verify"]);
        args.extend(strings(files));
        args.extend(Real::gpu_args(gpus));
        args.extend(strings(&["--cuda", &self.cuda]));
        args.extend(extra.iter().cloned());
        args.extend(strings(&["--format", "json"]));
        let out = self.gpuarch(&args);
        let json = out.json();
        (out, json)
    }
}

/// The `status` of each target in a verify report, in target order.
fn statuses(json: &Value) -> Vec<String> {
    json["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets[] in {json}"))
        .iter()
        .map(|t| t["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn mixed_fleet_object_fatbin_and_cubin() {
    let Some(t) = real("mixed_fleet_object_fatbin_and_cubin") else {
        return;
    };
    let flags = t.plan_for(FLEET, &[]);
    // T4 7.5, A100 8.0, H100 9.0, B200 10.0, and PTX for what comes after.
    assert_eq!(
        codes_of(&flags),
        ["compute_100", "sm_100", "sm_75", "sm_80", "sm_90"]
    );

    t.compile(&["-c"], &flags, &[], &["kernels.cu"], "fleet.o");
    let object = t.listed("fleet.o");
    assert_eq!(sorted_codes(&object), codes_of(&flags));
    assert!(
        object.iter().all(|e| e.section == ".nv_fatbin"),
        "{object:#?}"
    );

    t.compile(&["--fatbin"], &flags, &[], &["kernels.cu"], "fleet.fatbin");
    let fatbin = t.listed("fleet.fatbin");
    assert_eq!(sorted_codes(&fatbin), codes_of(&flags));

    t.compile(
        &["-cubin"],
        &gencodes(&[("compute_90", "sm_90")]),
        &[],
        &["kernels.cu"],
        "k90.cubin",
    );
    let cubin = t.listed("k90.cubin");
    assert_eq!(sorted_codes(&cubin), ["sm_90"]);
}

#[test]
fn arch_and_family_specific_targets() {
    let Some(t) = real("arch_and_family_specific_targets") else {
        return;
    };
    // The CLI takes `a`/`f` through the manifest keys, not through --gpu.
    std::fs::write(
        t.dir.join("gpuarch.toml"),
        "gpus = [\"H100\", \"B200\", \"RTX 5090\", \"A100\"]\n\
         arch-specific = [\"9.0\"]\n\
         family-specific = [\"10.0\", \"12.0\"]\n",
    )
    .unwrap();
    let flags = t.plan(&["--manifest-path", "gpuarch.toml"]);
    assert_eq!(
        codes_of(&flags),
        ["compute_120", "sm_100f", "sm_120f", "sm_80", "sm_90a"]
    );
    t.compile(&["-c"], &flags, &[], &["kernels.cu"], "specific.o");
    // The fatbin records `f`; cuobjdump, reading the cubins' ELF headers, cannot.
    let listed = t.listed("specific.o");
    assert_eq!(sorted_codes(&listed), codes_of(&flags));

    // `a` and `f` PTX, and an `a` cubin, by hand, uncompressed so the ISA is in the text.
    let by_hand = gencodes(&[
        ("compute_90a", "compute_90a"),
        ("compute_100f", "compute_100f"),
        ("compute_100a", "sm_100a"),
    ]);
    t.compile(
        &["-c"],
        &by_hand,
        &["--compress-mode=none"],
        &["kernels.cu"],
        "by_hand.o",
    );
    let listed = t.listed("by_hand.o");
    assert_eq!(sorted_codes(&listed), codes_of(&by_hand));

    // A standalone cubin is named from its ELF header alone: sm_100f reads as sm_100.
    t.compile(
        &["-cubin"],
        &gencodes(&[("compute_100f", "sm_100f")]),
        &[],
        &["kernels.cu"],
        "k100f.cubin",
    );
    assert_eq!(sorted_codes(&t.listed("k100f.cubin")), ["sm_100"]);
    t.compile(
        &["-cubin"],
        &gencodes(&[("compute_90a", "sm_90a")]),
        &[],
        &["kernels.cu"],
        "k90a.cubin",
    );
    assert_eq!(sorted_codes(&t.listed("k90a.cubin")), ["sm_90a"]);
}

#[test]
fn ptx_only_build() {
    let Some(t) = real("ptx_only_build") else {
        return;
    };
    let flags = gencodes(&[("compute_80", "compute_80")]);
    for (mode, expected) in [("none", "none"), ("default", "zstd")] {
        let extra: &[&str] = if mode == "none" {
            &["--compress-mode=none"]
        } else {
            &[]
        };
        let object = format!("ptx_{mode}.o");
        t.compile(&["-c"], &flags, extra, &["kernels.cu"], &object);
        let listed = t.listed(&object);
        assert_eq!(listed.len(), 1, "{listed:#?}");
        assert_eq!(
            (listed[0].kind.as_str(), listed[0].code.as_str()),
            ("ptx", "compute_80")
        );
        assert_eq!(listed[0].compression, expected, "{object}");
        assert_eq!(
            listed[0].ptx_isa.as_deref(),
            Some(t.ptx_version("compute_80").as_str()),
            "{object}"
        );
    }
    t.compile(
        &["--fatbin"],
        &flags,
        &["--compress-mode=none"],
        &["kernels.cu"],
        "ptx.fatbin",
    );
    assert_eq!(sorted_codes(&t.listed("ptx.fatbin")), ["compute_80"]);
}

#[test]
fn relocatable_device_code_device_link_and_archive() {
    let Some(t) = real("relocatable_device_code_device_link_and_archive") else {
        return;
    };
    let flags = t.plan_for(&["A100", "H100"], &[]);
    assert_eq!(codes_of(&flags), ["compute_90", "sm_80", "sm_90"]);
    for unit in ["rdc_user", "rdc_helper"] {
        let object = format!("{unit}.o");
        t.compile(
            &["-c", "-rdc=true"],
            &flags,
            &[],
            &[&format!("{unit}.cu")],
            &object,
        );
        let listed = t.listed(&object);
        assert_eq!(sorted_codes(&listed), codes_of(&flags), "{object}");
        // Relocatable objects keep their code in __nv_relfatbin, for the device linker.
        assert!(
            listed.iter().all(|e| e.section == "__nv_relfatbin"),
            "{listed:#?}"
        );
    }

    t.compile(
        &["-dlink"],
        &flags,
        &[],
        &["rdc_user.o", "rdc_helper.o"],
        "dlink.o",
    );
    let linked = t.listed("dlink.o");
    // The device link holds the linked cubins, and no PTX.
    assert_eq!(sorted_codes(&linked), ["sm_80", "sm_90"]);

    let ar = Command::new("ar")
        .args(["rcs", "librdc.a", "rdc_user.o", "rdc_helper.o", "dlink.o"])
        .current_dir(&t.dir)
        .status()
        .expect("running ar");
    assert!(ar.success());
    let archived = t.listed("librdc.a");
    let members: Vec<&str> = archived
        .iter()
        .map(|e| e.member.as_deref().unwrap_or("?"))
        .collect();
    assert_eq!(
        members,
        [
            "rdc_user.o",
            "rdc_user.o",
            "rdc_user.o",
            "rdc_helper.o",
            "rdc_helper.o",
            "rdc_helper.o",
            "dlink.o",
            "dlink.o"
        ]
    );

    // And linked into a program, nvcc doing the device link itself.
    t.compile(
        &["-rdc=true"],
        &flags,
        &[],
        &["rdc_user.o", "rdc_helper.o", "rdc_host.cu"],
        "rdc_app",
    );
    t.listed("rdc_app");
}

#[test]
fn compression_modes() {
    let Some(t) = real("compression_modes") else {
        return;
    };
    let flags = t.plan_for(FLEET, &[]);
    // (name, nvcc flags, compression of the cubins, of the PTX), as nvcc 13 does it.
    let modes: [(&str, &[&str], &str, &str); 5] = [
        ("default", &[], "none", "zstd"),
        ("size", &["--compress-mode=size"], "zstd", "zstd"),
        ("speed", &["--compress-mode=speed"], "none", "lz4"),
        ("none", &["--compress-mode=none"], "none", "none"),
        ("all", &["-Xfatbin=-compress-all"], "zstd", "zstd"),
    ];
    for (name, extra, cubins, ptx) in modes {
        for (mode, output) in [
            ("-c", format!("{name}.o")),
            ("--fatbin", format!("{name}.fatbin")),
        ] {
            t.compile(&[mode], &flags, extra, &["kernels.cu"], &output);
            let listed = t.listed(&output);
            assert_eq!(sorted_codes(&listed), codes_of(&flags), "{output}");
            for e in &listed {
                let expected = if e.kind == "ptx" { ptx } else { cubins };
                assert_eq!(e.compression, expected, "{output}: {} {}", e.kind, e.arch);
            }
        }
    }
}

#[test]
fn shared_library_and_executables() {
    let Some(t) = real("shared_library_and_executables") else {
        return;
    };
    let flags = t.plan_for(&["T4", "A100"], &[]);
    assert_eq!(codes_of(&flags), ["compute_80", "sm_75", "sm_80"]);

    t.compile(
        &["-shared", "-Xcompiler", "-fPIC"],
        &flags,
        &[],
        &["kernels.cu", "fill.cu"],
        "libkernels.so",
    );
    let library = t.listed("libkernels.so");
    // One container per unit (and the device link's): every unit holds every cubin.
    for code in ["sm_75", "sm_80"] {
        assert!(
            library.iter().filter(|e| e.code == code).count() >= 2,
            "{library:#?}"
        );
    }

    t.compile(
        &[],
        &flags,
        &[],
        &["kernels.cu", "fill.cu", "host.cu"],
        "app",
    );
    t.listed("app");

    // Units built for different GPUs, linked together: the containers differ.
    t.compile(&["-c"], &flags, &[], &["kernels.cu"], "kernels.o");
    t.compile(
        &["-c"],
        &gencodes(&[("compute_90", "sm_90")]),
        &[],
        &["fill.cu"],
        "fill90.o",
    );
    t.compile(
        &[],
        &flags,
        &[],
        &["kernels.o", "fill90.o", "host.cu"],
        "mixed_app",
    );
    let mixed = t.listed("mixed_app");
    assert_eq!(
        mixed.iter().filter(|e| e.code == "sm_90").count(),
        1,
        "{mixed:#?}"
    );
}

#[test]
fn verify_accepts_the_fleet_build() {
    let Some(t) = real("verify_accepts_the_fleet_build") else {
        return;
    };
    let flags = t.plan_for(FLEET, &[]);
    t.compile(&["-c"], &flags, &[], &["kernels.cu"], "fleet.o");
    t.compile(
        &["-shared", "-Xcompiler", "-fPIC"],
        &flags,
        &[],
        &["kernels.cu", "fill.cu"],
        "libfleet.so",
    );
    // On the driver of the toolkit's own release, where the catalog knows it.
    let floor = t.release_driver_floor();
    for files in [
        &["fleet.o"][..],
        &["libfleet.so"],
        &["fleet.o", "libfleet.so"],
    ] {
        let (out, json) = t.verify(files, FLEET, &floor);
        assert_eq!(out.code, 0, "verify {files:?}: {out:?}");
        assert_eq!(statuses(&json), ["covered"; 4], "{json}");
    }
}

#[test]
fn verify_rejects_an_a100_build_for_a_fleet_with_h100() {
    let Some(t) = real("verify_rejects_an_a100_build_for_a_fleet_with_h100") else {
        return;
    };
    // An A100 cubin and no PTX: nothing an H100 (9.0) can run.
    let flags = t.plan_for(&["A100"], &["--ptx", "none"]);
    assert_eq!(codes_of(&flags), ["sm_80"]);
    t.compile(&["-c"], &flags, &[], &["kernels.cu"], "a100.o");
    let (out, json) = t.verify(&["a100.o"], &["A100", "H100"], &t.release_driver_floor());
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(statuses(&json), ["covered", "uncovered"], "{json}");
    // The same object is fine for the A100 alone.
    let (out, json) = t.verify(&["a100.o"], &["A100"], &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(statuses(&json), ["covered"], "{json}");
}

#[test]
fn verify_covers_h100_by_jit_from_compute_80_ptx() {
    let Some(t) = real("verify_covers_h100_by_jit_from_compute_80_ptx") else {
        return;
    };
    t.compile(
        &["-c"],
        &gencodes(&[("compute_80", "compute_80")]),
        &[],
        &["kernels.cu"],
        "ptx80.o",
    );
    let (out, json) = t.verify(&["ptx80.o"], &["H100"], &t.release_driver_floor());
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(statuses(&json), ["covered"], "{json}");
    // PTX runs only where it exists at or below the GPU: not on a T4 (7.5).
    let (out, json) = t.verify(&["ptx80.o"], &["T4", "H100"], &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(statuses(&json), ["uncovered", "covered"], "{json}");
    // Nor under a driver older than the PTX ISA: R535 JITs PTX up to ISA 8.2, CUDA 13
    // writes 9.0 and later.
    let old_driver = strings(&["--min-driver", "535.54.03"]);
    let (out, json) = t.verify(&["ptx80.o"], &["H100"], &old_driver);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(statuses(&json), ["uncovered"], "{json}");
}

/// `doctor` finds the real nvcc on PATH, reads its version, and answers the second time
/// from its cache (keyed by the binary's path, size and mtime).
#[test]
fn doctor_reads_a_real_nvcc_and_caches_its_answer() {
    let Some(t) = real("doctor_reads_a_real_nvcc_and_caches_its_answer") else {
        return;
    };
    let root = t.dir.join("doctor-root");
    let cache = t.dir.join("doctor-cache");
    std::fs::create_dir_all(&root).unwrap();
    let bin_dir = t.nvcc.parent().unwrap().to_path_buf();
    let doctor = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-gpuarch"))
            .env_clear()
            .env("PATH", format!("{}:/bin:/usr/bin", bin_dir.display()))
            .env("GPUARCH_CACHE_DIR", &cache)
            .args(["gpuarch", "doctor", "--format", "json", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        json["toolkits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|tk| tk["used"] == true)
            .cloned()
            .unwrap_or_else(|| panic!("no nvcc marked used: {json}"))
    };
    let first = doctor();
    assert_eq!(first["version"], t.cuda.as_str(), "{first}");
    assert_eq!(first["cached"], false, "{first}");
    let second = doctor();
    assert_eq!(second["version"], t.cuda.as_str(), "{second}");
    assert_eq!(second["cached"], true, "{second}");
}
