//! End-to-end tests of the `cargo-gpuarch` binary: exit codes, the JSON and dialect
//! outputs people script against, diagnostics with their manifest locations, toolkit
//! detection (fake `nvcc` scripts in tests/fixtures/nvcc), and Cargo.toml metadata.
//!
//! Expected values are facts (measured ptxas target lists, release-note drivers, PTX ISA
//! per toolkit, as recorded with their sources in gpuarch-build/data/*.toml), not copies
//! of whatever the binary printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gpuarch");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fleet() -> String {
    repo()
        .join("examples/fleet/gpuarch.toml")
        .display()
        .to_string()
}

fn fake_cuda(name: &str) -> PathBuf {
    let dir = repo().join("tests/fixtures/nvcc").join(name);
    let nvcc = dir.join("bin/nvcc");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&nvcc)
            .expect("fixture nvcc")
            .permissions()
            .mode();
        assert!(
            mode & 0o111 != 0,
            "{} must be executable (git mode 100755)",
            nvcc.display()
        );
    }
    dir
}

/// One finished run of the binary.
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

    /// The diagnostics of a JSON report (plan, check, or an input error).
    fn diagnostics(&self) -> Vec<Value> {
        self.json()["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn diagnostic(&self, code: &str) -> Value {
        self.diagnostics()
            .into_iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("no `{code}` diagnostic in {self:#?}"))
    }

    fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code, for {self:#?}");
        self
    }
}

/// The binary with a clean environment: no nvcc findable, no gpuarch overrides, no
/// colour, run from an empty directory unless told otherwise.
struct Gpuarch {
    cmd: Command,
}

fn gpuarch(args: &[&str]) -> Gpuarch {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("PATH", "")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir());
    for var in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "GPUARCH_GPUS",
        "GPUARCH_CUDA",
        "GPUARCH_MIN_DRIVER",
        "GPUARCH_MANIFEST",
        "CUDA_COMPUTE_CAP",
    ] {
        cmd.env_remove(var);
    }
    Gpuarch { cmd }
}

impl Gpuarch {
    fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    fn run(mut self) -> Run {
        let out = self.cmd.output().expect("run cargo-gpuarch");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

fn run(args: &[&str]) -> Run {
    gpuarch(args).run()
}

/// A scratch directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "gpuarch-cli-{}-{label}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

fn target<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {}", report["targets"]))
}

// ---------------------------------------------------------------------------------------
// plan on the example fleet: T4 (7.5), A100 (8.0), L4 (8.9), H100 (9.0), CUDA 12.2,
// driver floor 535.54.03 (= CUDA 12.2 GA's own driver).

const FLEET_NVCC: [&str; 5] = [
    "-gencode=arch=compute_75,code=sm_75",
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_89,code=sm_89",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
];

#[test]
fn fleet_plan_text_passes() {
    let r = run(&["plan", "--manifest-path", &fleet()]).expect(0);
    assert!(r.stdout.contains("CUDA 12.2"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("TORCH_CUDA_ARCH_LIST:  7.5;8.0;8.9;9.0+PTX"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("ok: every target is covered"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("\x1b["),
        "NO_COLOR and a pipe mean no escape codes"
    );
}

#[test]
fn fleet_plan_json() {
    let r = run(&["plan", "--manifest-path", &fleet(), "--format", "json"]).expect(0);
    let j = r.json();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["command"], "plan");
    assert_eq!(j["ok"], true);

    // Each GPU gets its own cubin: CUDA 12.2 lists sm_75, sm_80, sm_89 and sm_90.
    let targets = j["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 4);
    for (name, cc, code) in [
        ("Tesla T4", "7.5", "sm_75"),
        ("NVIDIA A100", "8.0", "sm_80"),
        ("NVIDIA L4", "8.9", "sm_89"),
        ("H100 SXM", "9.0", "sm_90"),
    ] {
        let t = target(&j, name);
        assert_eq!(t["cc"], cc, "{t}");
        assert_eq!(t["covered_by"], code, "{t}");
        assert_eq!(t["coverage"], "native", "{t}");
        // Where the manifest named it: line 2 of the fleet file.
        assert_eq!(t["location"]["line"], 2, "{t}");
    }

    let gencode = j["gencode"].as_array().unwrap();
    let codes: Vec<&str> = gencode
        .iter()
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["sm_75", "sm_80", "sm_89", "sm_90", "compute_90"]);
    let kinds: Vec<&str> = gencode
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sass", "sass", "sass", "sass", "ptx"]);
    let flags: Vec<&str> = gencode
        .iter()
        .map(|g| g["flag"].as_str().unwrap())
        .collect();
    assert_eq!(flags, FLEET_NVCC);
    assert!(gencode
        .iter()
        .all(|g| !g["reason"].as_str().unwrap().is_empty()));
    assert!(gencode[1]["reason"].as_str().unwrap().contains("A100"));

    assert_eq!(strings(&j["nvcc_flags"]), FLEET_NVCC);
    assert_eq!(j["torch_cuda_arch_list"], "7.5;8.0;8.9;9.0+PTX");
    assert_eq!(j["cmake_cuda_architectures"], "75-real;80-real;89-real;90");
    // Four architectures: CUDA_COMPUTE_CAP holds one.
    assert_eq!(j["cuda_compute_cap"], Value::Null);

    // No target needs the PTX, so the floor is the CUDA 12.x minor-version-compatibility
    // floor: 525.60.13, the 12.0 GA Linux driver (Windows: 527.41).
    assert_eq!(j["min_driver"]["linux"], "525.60.13");
    assert_eq!(j["min_driver"]["windows"], "527.41");

    assert_eq!(j["toolkit"]["version"], "12.2");
    assert_eq!(j["toolkit"]["ptx_isa"], "8.2");
    assert_eq!(j["toolkit"]["source"], "named");
    assert_eq!(j["toolkit"]["known"], true);
    // 535.54.03 is CUDA 12.2's own driver: nothing to say.
    assert_eq!(j["diagnostics"], Value::Array(vec![]));
}

#[test]
fn fleet_plan_dialect_formats_print_only_that() {
    let cases: [(&str, String); 4] = [
        ("torch", "7.5;8.0;8.9;9.0+PTX".into()),
        ("cmake", "75-real;80-real;89-real;90".into()),
        ("nvcc", FLEET_NVCC.join(" ")),
        (
            "clang",
            "--cuda-gpu-arch=sm_75 --cuda-gpu-arch=sm_80 --cuda-gpu-arch=sm_89 \
             --cuda-gpu-arch=sm_90 --no-cuda-include-ptx=all --cuda-include-ptx=sm_90"
                .into(),
        ),
    ];
    for (format, expected) in cases {
        let r = run(&["plan", "--manifest-path", &fleet(), "--format", format]).expect(0);
        assert_eq!(r.stdout, format!("{expected}\n"), "--format {format}");
        assert_eq!(r.stderr, "", "--format {format}");
    }

    let r = run(&["plan", "--manifest-path", &fleet(), "--format", "env"]).expect(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("NVCC_GENCODE=\"{}\"", FLEET_NVCC.join(" ")).as_str(),
            "TORCH_CUDA_ARCH_LIST=\"7.5;8.0;8.9;9.0+PTX\"",
            "CMAKE_CUDA_ARCHITECTURES=\"75-real;80-real;89-real;90\"",
            "CUDAARCHS=\"75-real;80-real;89-real;90\"",
        ]
    );
}

#[test]
fn dialect_format_that_cannot_hold_the_plan_is_an_input_error() {
    // family-specific for a B300 (10.3) with CUDA 12.9 plans sm_103f; PyTorch has no `f`.
    let dir = TempDir::new("family");
    let m = dir.write(
        "gpuarch.toml",
        "gpus = [\"B300\"]\ncuda = \"12.9\"\nfamily-specific = true\n",
    );
    let m = m.to_str().unwrap();
    let r = run(&["plan", "--manifest-path", m, "--format", "torch"]).expect(2);
    assert!(r.stderr.contains("error[not-expressible]"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let r = run(&["plan", "--manifest-path", m, "--format", "json"]).expect(0);
    assert_eq!(target(&r.json(), "NVIDIA B300")["covered_by"], "sm_103f");
}

#[test]
fn leading_gpuarch_argument_from_cargo_is_accepted() {
    // `cargo gpuarch plan` runs `cargo-gpuarch gpuarch plan`.
    let direct = run(&["plan", "--manifest-path", &fleet(), "--format", "torch"]).expect(0);
    let via_cargo = run(&[
        "gpuarch",
        "plan",
        "--manifest-path",
        &fleet(),
        "--format",
        "torch",
    ])
    .expect(0);
    assert_eq!(via_cargo.stdout, direct.stdout);
    assert_eq!(via_cargo.stdout, "7.5;8.0;8.9;9.0+PTX\n");
}

#[test]
fn usage_exit_codes() {
    let r = run(&["--version"]).expect(0);
    assert!(r.stdout.starts_with("cargo gpuarch "), "{}", r.stdout);
    let r = run(&["--help"]).expect(0);
    assert!(r
        .stdout
        .contains("Exit codes: 0 fine, 1 an incompatibility found, 2 bad input"));
    run(&["frobnicate"]).expect(2);
    run(&["plan", "--bogus"]).expect(2);
    run(&[
        "plan", "--gpu", "A100", "--cuda", "12.4", "--format", "yaml",
    ])
    .expect(2);
    run(&["convert", "--from", "torch", "--to", "bogus", "8.0"]).expect(2);
    let r = run(&["explain", "no-such-code"]).expect(2);
    assert!(r.stderr.contains("no-such-code"), "{}", r.stderr);
}

#[test]
fn plan_flags_override_policies() {
    // --sass minimal: one cubin per major by the same-major rule (sm_80 runs on 8.6 and
    // 8.9); --ptx none: no PTX.
    let r = run(&[
        "plan", "--gpu", "A100", "--gpu", "A10", "--gpu", "L4", "--gpu", "H100", "--cuda", "12.4",
        "--sass", "minimal", "--ptx", "none", "--format", "json",
    ])
    .expect(0);
    let j = r.json();
    assert_eq!(
        strings(&j["nvcc_flags"]),
        [
            "-gencode=arch=compute_80,code=sm_80",
            "-gencode=arch=compute_90,code=sm_90"
        ]
    );
    assert_eq!(target(&j, "NVIDIA L4")["covered_by"], "sm_80");
    assert_eq!(target(&j, "NVIDIA L4")["coverage"], "compatible");
    // --gpu replaces the manifest's list; --cuda its toolkit.
    let r = run(&[
        "plan",
        "--manifest-path",
        &fleet(),
        "--gpu",
        "B200",
        "--cuda",
        "12.8",
        "--format",
        "torch",
    ])
    .expect(0);
    assert_eq!(r.stdout, "10.0+PTX\n");
}

// ---------------------------------------------------------------------------------------
// check

#[test]
fn classic_pytorch_list_fails_on_a100() {
    // The pre-Ampere PyTorch default list: sm_37..sm_70 cubins, no PTX. An A100 (8.0)
    // can run none of them: "no kernel image is available".
    let r = run(&[
        "check",
        "--gpu",
        "A100",
        "--torch-arch-list",
        "3.7;5.0;6.0;7.0",
    ])
    .expect(1);
    assert!(
        r.stdout.contains("error[target-not-covered]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("FAILED"), "{}", r.stdout);

    let r = run(&[
        "check",
        "--gpu",
        "A100",
        "--torch-arch-list",
        "3.7;5.0;6.0;7.0",
        "--format",
        "json",
    ])
    .expect(1);
    let j = r.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["command"], "check");
    assert_eq!(j["input"]["dialect"], "torch");
    assert_eq!(target(&j, "NVIDIA A100")["covered_by"], Value::Null);
    assert_eq!(target(&j, "NVIDIA A100")["coverage"], "none");
    let d = r.diagnostic("target-not-covered");
    assert_eq!(d["level"], "error");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("A100") && message.contains("no kernel image"),
        "{message}"
    );
    assert!(d["help"].as_str().unwrap().contains("sm_80"), "{d}");
}

#[test]
fn check_with_a_good_list_passes() {
    for (flag, list) in [
        ("--torch-arch-list", "7.5;8.0;8.9;9.0+PTX"),
        ("--cmake-architectures", "75-real;80-real;89-real;90"),
        ("--nvcc-flags", "-gencode=arch=compute_75,code=sm_75 -gencode arch=compute_80,code=[sm_80,sm_89] -gencode=arch=compute_90,code=[sm_90,compute_90]"),
    ] {
        let r = run(&["check", "--manifest-path", &fleet(), flag, list]);
        assert_eq!(r.code, 0, "{flag} {list}: {r:#?}");
    }
    // Without a list, check plans and checks the manifest.
    run(&["check", "--manifest-path", &fleet()]).expect(0);
}

/// One CLI invocation per check (non-input) diagnostic code, with the facts it encodes.
struct Trigger {
    code: &'static str,
    args: &'static [&'static str],
    exit: i32,
    level: &'static str,
    /// Substrings the message (or help) must contain.
    mentions: &'static [&'static str],
    /// A gpuarch.toml to pass with --manifest-path, for what only a manifest can say.
    manifest: Option<&'static str>,
}

const CHECK_TRIGGERS: &[Trigger] = &[
    Trigger {
        code: "node-cannot-run",
        args: &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            "@inventory:kube/fleet.json",
        ],
        exit: 1,
        level: "error",
        mentions: &["gpu-t4-pool", "Tesla T4, driver 470.256.02", "525.60.13"],
        manifest: None,
    },
    Trigger {
        code: "inventory-node-unknown",
        args: &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            "@inventory:kube/fleet.json",
        ],
        exit: 1,
        level: "warning",
        mentions: &["Quadro-P4000", "compute.major"],
        manifest: None,
    },
    Trigger {
        code: "inventory-suspect",
        args: &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            "@inventory:kube/fleet.json",
        ],
        exit: 1,
        level: "warning",
        mentions: &["Tesla-M10", "5.0"],
        manifest: None,
    },
    Trigger {
        code: "inventory-adds-targets",
        args: &[
            "check",
            "--gpu",
            "A100",
            "--cuda",
            "12.4",
            "--inventory",
            "@inventory:smi/table-r525-v100-truncated.txt",
        ],
        exit: 0,
        level: "note",
        mentions: &["NVIDIA V100"],
        manifest: None,
    },
    Trigger {
        code: "no-image",
        args: &["image", "--gpu", "Tesla K80", "--min-driver", "470.42.01"],
        exit: 1,
        level: "error",
        mentions: &["deleted", "525.60.13"],
        manifest: None,
    },
    Trigger {
        code: "artifact-missing-planned",
        args: &[
            "verify",
            "@artifact:multi.fatbin",
            "--gpu",
            "T4",
            "--cuda",
            "13.0",
        ],
        exit: 0,
        level: "warning",
        mentions: &["compute_75", "NVCC_APPEND_FLAGS"],
        manifest: None,
    },
    Trigger {
        code: "artifact-unplanned-code",
        args: &[
            "verify",
            "@artifact:multi.fatbin",
            "--gpu",
            "T4",
            "--cuda",
            "13.0",
        ],
        exit: 0,
        level: "warning",
        mentions: &["sm_90a", "bytes"],
        manifest: None,
    },
    Trigger {
        code: "target-not-covered",
        args: &[
            "check",
            "--gpu",
            "A100",
            "--torch-arch-list",
            "3.7;5.0;6.0;7.0",
        ],
        exit: 1,
        level: "error",
        mentions: &["A100", "sm_80"],
        manifest: None,
    },
    // CUDA 13.0 removed everything below sm_75; V100 is 7.0 and 12.9 is the last for it.
    Trigger {
        code: "toolkit-cannot-target",
        args: &["plan", "--gpu", "Tesla V100-SXM2-32GB", "--cuda", "13.0"],
        exit: 1,
        level: "error",
        mentions: &["V100", "sm_70", "12.9"],
        manifest: None,
    },
    // A 12.x runtime needs >= 525.60.13; 470 is an 11.4 driver.
    Trigger {
        code: "driver-below-runtime",
        args: &[
            "plan",
            "--gpu",
            "A100",
            "--cuda",
            "12.4",
            "--min-driver",
            "470.82.01",
        ],
        exit: 1,
        level: "error",
        mentions: &["12.4", "525.60.13"],
        manifest: None,
    },
    // An H100 with only compute_80 PTX from CUDA 12.4 (ISA 8.4) on driver 535 (JITs up to
    // ISA 8.2): unsupported toolchain. 550.54.14 is the first driver for ISA 8.4.
    Trigger {
        code: "ptx-newer-than-driver",
        args: &[
            "check",
            "--gpu",
            "H100",
            "--cuda",
            "12.4",
            "--min-driver",
            "535.54.03",
            "--nvcc-flags",
            "-gencode=arch=compute_80,code=compute_80",
        ],
        exit: 1,
        level: "error",
        mentions: &["H100", "compute_80", "8.4", "550.54.14", "sm_90"],
        manifest: None,
    },
    // sm_100a runs on 10.0 only; a B300 is 10.3.
    Trigger {
        code: "arch-specific-mismatch",
        args: &[
            "check",
            "--gpu",
            "B300",
            "--cuda",
            "12.9",
            "--nvcc-flags",
            "-gencode=arch=compute_100a,code=sm_100a",
        ],
        exit: 1,
        level: "error",
        mentions: &["B300", "sm_100a", "10.0", "sm_103"],
        manifest: None,
    },
    // GB10 is 12.1; sm_121 arrived in 12.9, so 12.8 builds sm_120 for it.
    Trigger {
        code: "not-native",
        args: &["plan", "--gpu", "GB10", "--cuda", "12.8"],
        exit: 0,
        level: "warning",
        mentions: &["GB10", "sm_120", "12.9"],
        manifest: None,
    },
    // sm_80 + PTX from CUDA 12.2 (ISA 8.2) on driver 535.54.03 (12.2's own): the H100 JITs.
    Trigger {
        code: "jit-only",
        args: &[
            "check",
            "--gpu",
            "H100",
            "--cuda",
            "12.2",
            "--min-driver",
            "535.54.03",
            "--torch-arch-list",
            "8.0+PTX",
        ],
        exit: 0,
        level: "warning",
        mentions: &["H100", "compute_80", "sm_90"],
        manifest: None,
    },
    // 525.60.13 is the 12.x floor, below 12.4's own 550.54.14.
    Trigger {
        code: "minor-version-compat",
        args: &[
            "plan",
            "--gpu",
            "H100",
            "--cuda",
            "12.4",
            "--min-driver",
            "525.60.13",
        ],
        exit: 0,
        level: "note",
        mentions: &["525.60.13", "550.54.14"],
        manifest: None,
    },
    Trigger {
        code: "catalog-stale",
        args: &["plan", "--gpu", "A100", "--cuda", "13.9"],
        exit: 0,
        level: "warning",
        mentions: &["13.9"],
        manifest: None,
    },
    // PyTorch turns spaces into `;` and then finds an empty item.
    Trigger {
        code: "torch-would-reject",
        args: &[
            "check",
            "--gpu",
            "A100",
            "--cuda",
            "12.4",
            "--torch-arch-list",
            "8.0; 8.6",
        ],
        exit: 0,
        level: "warning",
        mentions: &["8.0;8.6"],
        manifest: None,
    },
    // arch-specific names 9.0, but no target is a 9.0 GPU.
    Trigger {
        code: "opt-in-unused",
        args: &["plan"],
        exit: 0,
        level: "warning",
        mentions: &["9.0", "arch-specific"],
        manifest: Some("gpus = [\"A100\"]\ncuda = \"12.4\"\narch-specific = [\"9.0\"]\n"),
    },
];

#[test]
fn every_check_code_fires_from_the_cli() {
    let dir = TempDir::new("triggers");
    for t in CHECK_TRIGGERS {
        // `@artifact:NAME` is a file of tests/fixtures/artifacts.
        let owned: Vec<String> = t
            .args
            .iter()
            .map(
                |a| match (a.strip_prefix("@artifact:"), a.strip_prefix("@inventory:")) {
                    (Some(name), _) => artifact(name),
                    (_, Some(name)) => inventory(name),
                    _ => a.to_string(),
                },
            )
            .collect();
        let mut args: Vec<&str> = owned.iter().map(String::as_str).collect();
        let manifest = t
            .manifest
            .map(|text| dir.write(&format!("{}/gpuarch.toml", t.code), text));
        let manifest = manifest.as_ref().map(|m| m.to_str().unwrap());
        if let Some(m) = manifest {
            args.extend(["--manifest-path", m]);
        }
        let text_args = args.clone();
        args.extend(["--format", "json"]);
        let r = run(&args);
        assert_eq!(r.code, t.exit, "{}: {r:#?}", t.code);
        let d = r.diagnostic(t.code);
        assert_eq!(d["level"], t.level, "{}: {d}", t.code);
        let text = format!(
            "{} {}",
            d["message"].as_str().unwrap(),
            d["help"].as_str().unwrap_or("")
        );
        for m in t.mentions {
            assert!(text.contains(m), "{}: `{m}` not in {text}", t.code);
        }
        // The text report shows the same diagnostic with its level.
        let r = run(&text_args);
        assert!(
            r.stdout.contains(&format!("{}[{}]", t.level, t.code)),
            "{}: {}",
            t.code,
            r.stdout
        );
    }
}

/// Every code `explain` lists, with whether `explain CODE` says it is bad input.
fn explained_codes() -> Vec<(String, bool)> {
    let r = run(&["explain"]).expect(0);
    r.stdout
        .lines()
        .map(|line| {
            let code = line.split_whitespace().next().unwrap().to_string();
            let long = run(&["explain", &code]).expect(0);
            assert!(
                long.stdout.starts_with(&format!("{code}: ")),
                "{}",
                long.stdout
            );
            (code, long.stdout.contains("Exit code when it fires: 2"))
        })
        .collect()
}

/// Codes only `doctor` raises (it alone reads a host); tests/doctor.rs fires each from a
/// fake host (`every_doctor_code_fires_from_a_fake_host`, and the toolkit-newer-than-driver
/// test for `runtime-newer-than-driver`).
const DOCTOR_ONLY: &[&str] = &[
    "driver-library-mismatch",
    "compat-older-than-driver",
    "runtime-newer-than-driver",
    "no-gpu-in-container",
    "nvcc-flags-override",
    "env-arch-list",
    "nvidia-smi-failed",
    "host-cannot-run",
    "require-unmet",
];

/// Codes only the build-script helper can raise (it alone compares the named toolkit
/// with the nvcc the build will run); their tests are in gpuarch-build/src/build_script.rs.
const BUILD_SCRIPT_ONLY: &[&str] = &["toolkit-mismatch"];
/// Codes that need a crafted artifact; each has a test of its own below.
const CRAFTED_ARTIFACT: &[&str] = &[
    "artifact-damaged",
    "ptx-isa-unknown",
    "deploy-fails",
    // Unit tests in gpuarch-build/src/verify.rs; no fixture has a library of mixed containers.
    "container-gaps",
];

#[test]
fn explain_lists_codes_and_every_one_is_exercised_here() {
    let codes = explained_codes();
    assert!(codes.len() >= 20, "{codes:?}");
    for (code, input) in &codes {
        if *input {
            assert!(
                INPUT_CODES.contains(&code.as_str()),
                "input code {code} has no test in INPUT_CODES"
            );
        } else if !BUILD_SCRIPT_ONLY.contains(&code.as_str())
            && !CRAFTED_ARTIFACT.contains(&code.as_str())
            && !DOCTOR_ONLY.contains(&code.as_str())
        {
            assert!(
                CHECK_TRIGGERS.iter().any(|t| t.code == code),
                "check code {code} has no trigger in CHECK_TRIGGERS"
            );
        }
    }
    let r = run(&["explain", "target-not-covered"]).expect(0);
    assert!(
        r.stdout.contains("no kernel image is available"),
        "{}",
        r.stdout
    );
}

// ---------------------------------------------------------------------------------------
// The facts the issue lists

#[test]
fn cuda_13_cannot_target_below_sm_75() {
    for gpu in [
        "Tesla V100-SXM2-32GB",
        "Tesla P100",
        "Jetson AGX Xavier",
        "Tesla M40",
    ] {
        let r = run(&["plan", "--gpu", gpu, "--cuda", "13.0", "--format", "json"]).expect(1);
        r.diagnostic("toolkit-cannot-target");
        assert_eq!(r.json()["nvcc_flags"], Value::Array(vec![]), "{gpu}");
        // ... and CUDA 12.9 still builds them.
        run(&["plan", "--gpu", gpu, "--cuda", "12.9"]).expect(0);
    }
    // T4 (sm_75) is the floor and stays.
    let r = run(&[
        "plan", "--gpu", "Tesla T4", "--cuda", "13.0", "--format", "nvcc",
    ])
    .expect(0);
    assert_eq!(
        r.stdout,
        "-gencode=arch=compute_75,code=sm_75 -gencode=arch=compute_75,code=compute_75\n"
    );
}

#[test]
fn sm_100_needs_cuda_12_8() {
    let r = run(&[
        "plan", "--gpu", "B200", "--cuda", "12.6", "--format", "json",
    ])
    .expect(1);
    let d = r.diagnostic("toolkit-cannot-target");
    assert!(d["message"].as_str().unwrap().contains("12.8"), "{d}");
    let r = run(&[
        "plan", "--gpu", "B200", "--cuda", "12.8", "--format", "json",
    ])
    .expect(0);
    assert_eq!(target(&r.json(), "NVIDIA B200")["covered_by"], "sm_100");
    assert_eq!(target(&r.json(), "NVIDIA B200")["coverage"], "native");
}

#[test]
fn gb10_with_cuda_12_8_is_not_native_and_names_12_9() {
    let r = run(&[
        "plan", "--gpu", "GB10", "--cuda", "12.8", "--format", "json",
    ])
    .expect(0);
    let j = r.json();
    assert_eq!(target(&j, "NVIDIA GB10 (DGX Spark)")["cc"], "12.1");
    assert_eq!(
        target(&j, "NVIDIA GB10 (DGX Spark)")["covered_by"],
        "sm_120"
    );
    assert_eq!(
        target(&j, "NVIDIA GB10 (DGX Spark)")["coverage"],
        "compatible"
    );
    assert!(r.diagnostic("not-native")["message"]
        .as_str()
        .unwrap()
        .contains("12.9"));
    // With 12.9 it is native sm_121, and the warning is gone.
    let r = run(&[
        "plan", "--gpu", "GB10", "--cuda", "12.9", "--format", "json",
    ])
    .expect(0);
    assert_eq!(
        target(&r.json(), "NVIDIA GB10 (DGX Spark)")["covered_by"],
        "sm_121"
    );
    assert!(r.diagnostics().iter().all(|d| d["code"] != "not-native"));
}

#[test]
fn jetson_thor_is_sm_101_before_cuda_13_and_sm_110_after() {
    for (cuda, code) in [("12.8", "sm_101"), ("12.9", "sm_101"), ("13.0", "sm_110")] {
        for gpu in ["Jetson AGX Thor", "11.0"] {
            let r = run(&["plan", "--gpu", gpu, "--cuda", cuda, "--format", "json"]).expect(0);
            let j = r.json();
            let t = &j["targets"][0];
            assert_eq!(t["cc"], "11.0", "{gpu} {cuda}");
            assert_eq!(t["covered_by"], code, "{gpu} {cuda}");
            assert_eq!(t["coverage"], "native", "{gpu} {cuda}");
        }
    }
    // CUDA 12.6 predates Thor.
    run(&["plan", "--gpu", "Jetson AGX Thor", "--cuda", "12.6"]).expect(1);
}

#[test]
fn b300_with_cuda_12_8_gets_sm_100_not_thors_sm_101() {
    // CUDA 12.8 has sm_100 and sm_101 but not sm_103. sm_101 is Thor (renumbered 11.0 in
    // CUDA 13; 12.9's compute_101f family holds only sm_101, compute_100f covers 100 and
    // 103). The B300's code from 12.8 is sm_100 (same family), with not-native naming 12.9.
    let r = run(&[
        "plan", "--gpu", "B300", "--cuda", "12.8", "--format", "json",
    ])
    .expect(0);
    assert_eq!(target(&r.json(), "NVIDIA B300")["covered_by"], "sm_100");
    assert!(r.diagnostic("not-native")["message"]
        .as_str()
        .unwrap()
        .contains("12.9"));
}

#[test]
fn driver_floor_470_with_cuda_12_4_is_below_the_runtime() {
    let r = run(&[
        "plan",
        "--gpu",
        "A100",
        "--cuda",
        "12.4",
        "--min-driver",
        "470.82.01",
        "--format",
        "json",
    ])
    .expect(1);
    let d = r.diagnostic("driver-below-runtime");
    assert!(d["help"].as_str().unwrap().contains("525.60.13"), "{d}");
    // 11.x runs on 470 under minor-version compatibility (11.x floor 450.80.02).
    run(&[
        "plan",
        "--gpu",
        "A100",
        "--cuda",
        "11.8",
        "--min-driver",
        "470.82.01",
    ])
    .expect(0);
    // The Windows floor is checked too: 12.x needs 527.41 there.
    let r = run(&[
        "plan",
        "--gpu",
        "A100",
        "--cuda",
        "12.4",
        "--min-driver",
        "550.54.14",
        "--min-driver-windows",
        "520.06",
        "--format",
        "json",
    ])
    .expect(1);
    assert!(r.diagnostic("driver-below-runtime")["message"]
        .as_str()
        .unwrap()
        .contains("windows"));
}

#[test]
fn cuda_11_0_runs_on_its_own_driver() {
    // Table 1: CUDA 11.0.2 GA shipped with Linux driver >= 450.51.05. 450.80.02 is the floor
    // for running *later* 11.x builds under minor-version compatibility, not for 11.0 itself.
    let r = run(&[
        "plan",
        "--gpu",
        "A100",
        "--cuda",
        "11.0",
        "--min-driver",
        "450.51.05",
        "--format",
        "json",
    ]);
    assert!(
        r.diagnostics()
            .iter()
            .all(|d| d["code"] != "driver-below-runtime"),
        "{r:#?}"
    );
    assert_eq!(r.code, 0);
}

#[test]
fn ptx_only_h100_depends_on_toolkit_and_driver() {
    let flags = "-gencode=arch=compute_80,code=compute_80";
    // CUDA 12.4 PTX (ISA 8.4) on driver 535 (ISA 8.2): fails.
    let r = run(&[
        "check",
        "--gpu",
        "H100",
        "--cuda",
        "12.4",
        "--min-driver",
        "535.54.03",
        "--nvcc-flags",
        flags,
        "--format",
        "json",
    ])
    .expect(1);
    assert_eq!(target(&r.json(), "H100 SXM")["coverage"], "ptx-too-new");
    // Raising the floor to 12.4's driver, or building with 12.2, makes it JIT.
    for (cuda, driver) in [("12.4", "550.54.14"), ("12.2", "535.54.03")] {
        let r = run(&[
            "check",
            "--gpu",
            "H100",
            "--cuda",
            cuda,
            "--min-driver",
            driver,
            "--nvcc-flags",
            flags,
            "--format",
            "json",
        ])
        .expect(0);
        assert_eq!(
            target(&r.json(), "H100 SXM")["coverage"],
            "jit",
            "{cuda} {driver}"
        );
        r.diagnostic("jit-only");
    }
}

#[test]
fn sm_100a_only_does_not_run_on_b300_but_runs_on_b200() {
    let flags = "-gencode=arch=compute_100a,code=sm_100a";
    let r = run(&[
        "check",
        "--gpu",
        "B300",
        "--cuda",
        "12.9",
        "--nvcc-flags",
        flags,
        "--format",
        "json",
    ])
    .expect(1);
    r.diagnostic("arch-specific-mismatch");
    let r = run(&[
        "check",
        "--gpu",
        "B200",
        "--cuda",
        "12.9",
        "--nvcc-flags",
        flags,
        "--format",
        "json",
    ])
    .expect(0);
    assert_eq!(target(&r.json(), "NVIDIA B200")["covered_by"], "sm_100a");
    // sm_100f is the family: B200 and B300 both run it.
    let r = run(&[
        "check",
        "--gpu",
        "B200",
        "--gpu",
        "B300",
        "--cuda",
        "12.9",
        "--nvcc-flags",
        "-gencode=arch=compute_100f,code=sm_100f",
        "--format",
        "json",
    ])
    .expect(0);
    assert_eq!(target(&r.json(), "NVIDIA B300")["covered_by"], "sm_100f");
}

// ---------------------------------------------------------------------------------------
// Input errors: exit 2, with file:line where there is a file.

const INPUT_CODES: &[&str] = &[
    "manifest-syntax",
    "unknown-key",
    "wrong-type",
    "bad-version",
    "unknown-gpu",
    "unknown-capability",
    "no-targets",
    "no-manifest",
    "bad-arch-list",
    "not-expressible",
    "no-toolkit",
    "nvcc-failed",
    "bad-artifact",
    "unknown-torch",
    "bad-image",
    "bad-requirement",
    "bad-query",
    "bad-inventory",
    // tests/fleet.rs: `--format github` with an unwritable GITHUB_OUTPUT.
    "cannot-write",
    "bad-format",
];

/// A manifest that is wrong at `line`.
struct BadManifest {
    code: &'static str,
    text: &'static str,
    line: u32,
    mentions: &'static str,
}

const BAD_MANIFESTS: &[BadManifest] = &[
    BadManifest {
        code: "manifest-syntax",
        text: "gpus = [\"A100\"\ncuda = \"12.4\"\n",
        line: 2,
        mentions: "TOML",
    },
    BadManifest {
        code: "unknown-key",
        text: "gpus = [\"A100\"]\nmin_driver = \"535.54.03\"\n",
        line: 2,
        mentions: "min-driver",
    },
    BadManifest {
        code: "wrong-type",
        text: "cuda = \"12.4\"\ngpus = \"A100\"\n",
        line: 2,
        mentions: "array",
    },
    BadManifest {
        code: "wrong-type",
        text: "gpus = [\"A100\"]\n\nptx = \"all\"\n",
        line: 3,
        mentions: "highest",
    },
    BadManifest {
        code: "bad-version",
        text: "gpus = [\"A100\"]\nmin-driver = \"535.x\"\n",
        line: 2,
        mentions: "535.x",
    },
    BadManifest {
        code: "bad-version",
        text: "gpus = [\"A100\"]\ncuda = \"twelve\"\n",
        line: 2,
        mentions: "twelve",
    },
    BadManifest {
        code: "unknown-gpu",
        text: "# the fleet\ncuda = \"12.4\"\ngpus = [\"A100\", \"Radeon RX 7900\"]\n",
        line: 3,
        mentions: "Radeon RX 7900",
    },
    // No NVIDIA GPU or toolkit has 8.4.
    BadManifest {
        code: "unknown-capability",
        text: "cuda = \"12.4\"\ngpus = [\"sm_84\"]\n",
        line: 2,
        mentions: "8.4",
    },
    BadManifest {
        code: "unknown-capability",
        text: "gpus = [\"H100\"]\narch-specific = [\"nine\"]\n",
        line: 2,
        mentions: "nine",
    },
    BadManifest {
        code: "no-targets",
        text: "cuda = \"12.4\"\ngpus = []\n",
        line: 2,
        mentions: "",
    },
    BadManifest {
        code: "unknown-key",
        text: "gpus = [\"A100\"]\nmin-driver = { linux = \"550.54.14\", macos = \"1\" }\n",
        line: 2,
        mentions: "macos",
    },
];

#[test]
fn bad_manifests_exit_2_with_file_and_line() {
    let dir = TempDir::new("bad");
    for (i, bad) in BAD_MANIFESTS.iter().enumerate() {
        let path = dir.write(&format!("m{i}/gpuarch.toml"), bad.text);
        let shown = path.display().to_string();
        let r = run(&["plan", "--manifest-path", &shown]).expect(2);
        assert!(
            r.stderr.contains(&format!("error[{}]", bad.code)),
            "{}: {}",
            bad.code,
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("{shown}:{}:", bad.line)),
            "{} should point at line {}: {}",
            bad.code,
            bad.line,
            r.stderr
        );
        assert!(
            r.stderr.contains(bad.mentions),
            "{}: {}",
            bad.code,
            r.stderr
        );
        assert_eq!(r.stdout, "", "{}", bad.code);

        let r = run(&["plan", "--manifest-path", &shown, "--format", "json"]).expect(2);
        let j = r.json();
        assert_eq!(j["ok"], false);
        let d = r.diagnostic(bad.code);
        assert_eq!(d["level"], "error");
        assert_eq!(d["location"]["file"], shown.as_str());
        assert_eq!(d["location"]["line"], bad.line, "{}", bad.code);
        assert!(
            d["help"].is_string(),
            "{}: every error says how to fix it: {d}",
            bad.code
        );
    }
}

#[test]
fn all_errors_in_a_manifest_are_reported_in_line_order() {
    let dir = TempDir::new("many");
    let m = dir.write(
        "gpuarch.toml",
        "gpus = \"A100\"\ncuda = \"twelve\"\nptx = \"all\"\nsass = 1\ncolour = \"red\"\n",
    );
    let r = run(&[
        "plan",
        "--manifest-path",
        m.to_str().unwrap(),
        "--format",
        "json",
    ])
    .expect(2);
    let found: Vec<(String, u64)> = r
        .diagnostics()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("wrong-type", 1),
        ("bad-version", 2),
        ("wrong-type", 3),
        ("wrong-type", 4),
        ("unknown-key", 5),
    ];
    assert_eq!(found, expected.map(|(c, l)| (c.to_string(), l)));
}

#[test]
fn other_input_errors_exit_2() {
    let empty = TempDir::new("empty");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "unknown-gpu",
            vec!["plan", "--gpu", "Voodoo2", "--cuda", "12.4"],
        ),
        (
            "unknown-capability",
            vec!["plan", "--gpu", "9.5", "--cuda", "12.4"],
        ),
        (
            "bad-version",
            vec!["plan", "--gpu", "A100", "--cuda", "twelve"],
        ),
        (
            "bad-version",
            vec![
                "plan",
                "--gpu",
                "A100",
                "--cuda",
                "12.4",
                "--min-driver",
                "latest",
            ],
        ),
        (
            "bad-arch-list",
            vec!["check", "--gpu", "A100", "--torch-arch-list", "8.0;banana"],
        ),
        (
            "bad-arch-list",
            vec!["check", "--gpu", "A100", "--cmake-architectures", "80-fake"],
        ),
        (
            "bad-arch-list",
            vec![
                "check",
                "--gpu",
                "A100",
                "--nvcc-flags",
                "-gencode=arch=compute_80",
            ],
        ),
        (
            "bad-arch-list",
            vec!["check", "--gpu", "A100", "--compute-cap", "8"],
        ),
        (
            "bad-arch-list",
            vec!["convert", "--from", "cmake", "--to", "torch", "all"],
        ),
        (
            "not-expressible",
            vec![
                "convert",
                "--from",
                "torch",
                "--to",
                "compute-cap",
                "8.0;8.6",
            ],
        ),
        (
            "not-expressible",
            vec!["convert", "--from", "cmake", "--to", "torch", "100f-real"],
        ),
        ("no-manifest", vec!["plan"]),
        (
            "no-manifest",
            vec!["plan", "--manifest-path", "/nonexistent/gpuarch.toml"],
        ),
        ("unknown-gpu", vec!["catalog", "gpus", "Voodoo2"]),
        ("bad-query", vec!["catalog", "gpus", "--where", "cc>=eight"]),
        (
            "bad-format",
            vec!["inspect", "--format", "torch", "/nonexistent.o"],
        ),
        (
            "bad-format",
            vec!["deploy", "--gpu", "A100", "--format", "nvcc"],
        ),
        (
            "bad-inventory",
            vec![
                "plan",
                "--cuda",
                "12.4",
                "--inventory",
                "/nonexistent/nodes.json",
            ],
        ),
    ];
    for (code, args) in cases {
        let r = gpuarch(&args).cwd(empty.path()).run();
        assert_eq!(r.code, 2, "{args:?}: {r:#?}");
        assert!(
            r.stderr.contains(&format!("error[{code}]")),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn cargo_toml_without_metadata_is_no_manifest() {
    let dir = TempDir::new("nometa");
    let m = dir.write(
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
    );
    let r = run(&["plan", "--manifest-path", m.to_str().unwrap()]).expect(2);
    assert!(r.stderr.contains("error[no-manifest]"), "{}", r.stderr);
    assert!(
        r.stderr.contains("[package.metadata.gpuarch]"),
        "{}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------
// Toolkit detection: NVCC, then CUDA_HOME/bin, CUDA_PATH/bin, then PATH.

fn bin(cuda: &str) -> PathBuf {
    fake_cuda(cuda).join("bin")
}

fn detected(g: Gpuarch) -> Value {
    let r = g.run();
    assert!(r.code == 0 || r.code == 1, "{r:#?}");
    r.json()["toolkit"].clone()
}

fn plan_a100() -> Gpuarch {
    gpuarch(&["plan", "--gpu", "A100", "--format", "json"])
}

#[test]
fn no_nvcc_anywhere_is_no_toolkit() {
    let r = plan_a100().run().expect(2);
    assert_eq!(r.diagnostic("no-toolkit")["level"], "error");
    // CUDA_HOME without bin/nvcc is not a toolkit either.
    let r = plan_a100()
        .env("CUDA_HOME", std::env::temp_dir())
        .run()
        .expect(2);
    r.diagnostic("no-toolkit");
}

#[test]
fn nvcc_on_path_is_asked_for_its_version() {
    let t = detected(plan_a100().env("PATH", bin("cuda-12.4")));
    assert_eq!(t["version"], "12.4");
    assert_eq!(t["source"], "nvcc");
    assert_eq!(t["ptx_isa"], "8.4");
    assert!(
        t["nvcc"].as_str().unwrap().ends_with("cuda-12.4/bin/nvcc"),
        "{t}"
    );
    // The text report says where it came from.
    let r = gpuarch(&["plan", "--gpu", "A100"])
        .env("PATH", bin("cuda-12.4"))
        .run()
        .expect(0);
    assert!(
        r.stdout.contains("CUDA 12.4 (from ") && r.stdout.contains("cuda-12.4/bin/nvcc"),
        "{}",
        r.stdout
    );
}

#[test]
fn cuda_home_beats_path_and_nvcc_beats_both() {
    let path = bin("cuda-12.4");
    let t = detected(
        plan_a100()
            .env("PATH", &path)
            .env("CUDA_HOME", fake_cuda("cuda-12.8")),
    );
    assert_eq!(t["version"], "12.8");
    let t = detected(
        plan_a100()
            .env("PATH", &path)
            .env("CUDA_PATH", fake_cuda("cuda-12.8")),
    );
    assert_eq!(t["version"], "12.8", "CUDA_PATH also beats PATH");
    let t = detected(
        plan_a100()
            .env("CUDA_HOME", fake_cuda("cuda-12.8"))
            .env("CUDA_PATH", fake_cuda("cuda-12.2")),
    );
    assert_eq!(t["version"], "12.8", "CUDA_HOME before CUDA_PATH");
    let t = detected(
        plan_a100()
            .env("PATH", &path)
            .env("CUDA_HOME", fake_cuda("cuda-12.8"))
            .env("NVCC", bin("cuda-12.2").join("nvcc")),
    );
    assert_eq!(t["version"], "12.2");
    // A CUDA_HOME with no nvcc in it falls through to PATH.
    let t = detected(
        plan_a100()
            .env("PATH", &path)
            .env("CUDA_HOME", std::env::temp_dir()),
    );
    assert_eq!(t["version"], "12.4");
}

#[test]
fn detected_toolkit_decides_the_plan() {
    // B200 (sm_100) needs CUDA 12.8: the nvcc found decides whether the plan works.
    let r = gpuarch(&["plan", "--gpu", "B200", "--format", "torch"])
        .env("CUDA_HOME", fake_cuda("cuda-12.8"))
        .run()
        .expect(0);
    assert_eq!(r.stdout, "10.0+PTX\n");
    let r = gpuarch(&["plan", "--gpu", "B200", "--format", "json"])
        .env("PATH", bin("cuda-12.4"))
        .run()
        .expect(1);
    r.diagnostic("toolkit-cannot-target");
}

#[test]
fn a_named_toolkit_beats_nvcc() {
    let t = detected(
        gpuarch(&[
            "plan", "--gpu", "A100", "--cuda", "12.6", "--format", "json",
        ])
        .env("NVCC", bin("cuda-12.4").join("nvcc")),
    );
    assert_eq!(t["version"], "12.6");
    assert_eq!(t["source"], "named");
    // So does the manifest's `cuda` (the fleet says 12.2).
    let t = detected(
        gpuarch(&["plan", "--manifest-path", &fleet(), "--format", "json"])
            .env("NVCC", bin("cuda-12.8").join("nvcc")),
    );
    assert_eq!(t["version"], "12.2");
    // check with a list never runs nvcc: the list is judged as written.
    let r = gpuarch(&[
        "check",
        "--gpu",
        "A100",
        "--torch-arch-list",
        "8.0",
        "--format",
        "json",
    ])
    .env("NVCC", bin("garbage").join("nvcc"))
    .run()
    .expect(0);
    assert_eq!(r.json()["toolkit"], Value::Null);
}

#[test]
fn broken_nvcc_is_nvcc_failed() {
    for (nvcc, shows) in [
        (bin("garbage").join("nvcc"), "no idea which toolkit"),
        (bin("crashing").join("nvcc"), "libnvptxcompiler"),
        (
            PathBuf::from("/nonexistent/bin/nvcc"),
            "/nonexistent/bin/nvcc",
        ),
    ] {
        let r = plan_a100().env("NVCC", &nvcc).run().expect(2);
        let d = r.diagnostic("nvcc-failed");
        assert!(d["message"].as_str().unwrap().contains(shows), "{d}");
        let r = gpuarch(&["plan", "--gpu", "A100"])
            .env("NVCC", &nvcc)
            .run()
            .expect(2);
        assert!(r.stderr.contains("error[nvcc-failed]"), "{}", r.stderr);
    }
}

#[test]
fn nvcc_newer_than_the_catalog_is_stale_and_its_own_list_is_used() {
    // The fake 13.9 lists sm_80 ... sm_121 (no sm_75).
    let nvcc = bin("cuda-13.9").join("nvcc");
    let r = gpuarch(&["plan", "--gpu", "A100", "--gpu", "GB10", "--format", "json"])
        .env("NVCC", &nvcc)
        .run()
        .expect(0);
    let j = r.json();
    assert_eq!(j["toolkit"]["version"], "13.9");
    assert_eq!(j["toolkit"]["known"], false);
    assert_eq!(
        j["toolkit"]["ptx_isa"], "9.9",
        "13.x numbers its PTX ISA 9.minor"
    );
    let d = r.diagnostic("catalog-stale");
    assert_eq!(d["level"], "warning");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("cuda-13.9/bin/nvcc"),
        "{d}"
    );
    assert_eq!(
        target(&j, "NVIDIA GB10 (DGX Spark)")["covered_by"],
        "sm_121"
    );
    // A T4 is not in this nvcc's list: no code for it ...
    let r = gpuarch(&["plan", "--gpu", "T4", "--format", "json"])
        .env("NVCC", &nvcc)
        .run()
        .expect(1);
    r.diagnostic("toolkit-cannot-target");
    r.diagnostic("catalog-stale");
    // ... while a named 13.9 (no nvcc to ask) assumes the newest known release's list.
    let r = run(&["plan", "--gpu", "T4", "--cuda", "13.9", "--format", "json"]).expect(0);
    assert_eq!(target(&r.json(), "Tesla T4")["covered_by"], "sm_75");
}

// ---------------------------------------------------------------------------------------
// Cargo.toml metadata

const WORKSPACE: &str = "\
[workspace]
members = [\"member\", \"plain\"]

[workspace.metadata.gpuarch]
gpus = [\"T4\"]
cuda = \"12.4\"
min-driver = \"550.54.14\"
";

const MEMBER: &str = "\
[package]
name = \"member\"
version = \"0.1.0\"
edition = \"2021\"

[package.metadata.gpuarch]
gpus = [\"A100\", \"H100\"]
";

const PLAIN: &str = "\
[package]
name = \"plain\"
version = \"0.1.0\"
edition = \"2021\"
";

fn workspace() -> TempDir {
    let dir = TempDir::new("ws");
    dir.write("Cargo.toml", WORKSPACE);
    dir.write("member/Cargo.toml", MEMBER);
    dir.write("member/src/lib.rs", "");
    dir.write("plain/Cargo.toml", PLAIN);
    dir.write("plain/src/lib.rs", "");
    dir
}

fn assert_member_plan(r: Run) {
    let j = r.expect(0).json();
    let names: Vec<&str> = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["NVIDIA A100", "H100 SXM"],
        "the member's gpus replace the workspace's T4"
    );
    assert_eq!(
        j["toolkit"]["version"], "12.4",
        "cuda comes from the workspace"
    );
    assert_eq!(j["driver_floor"]["linux"], "550.54.14");
    assert_eq!(j["torch_cuda_arch_list"], "8.0;9.0+PTX");
    let files = strings(&j["manifest"]);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("member/Cargo.toml")),
        "{files:?}"
    );
}

#[test]
fn package_metadata_overrides_workspace_metadata() {
    let ws = workspace();
    let member = ws.path().join("member/Cargo.toml");
    assert_member_plan(run(&[
        "plan",
        "--manifest-path",
        member.to_str().unwrap(),
        "--format",
        "json",
    ]));
}

#[test]
fn manifest_is_discovered_from_the_current_directory() {
    let ws = workspace();
    for dir in ["member", "member/src"] {
        assert_member_plan(
            gpuarch(&["plan", "--format", "json"])
                .cwd(&ws.path().join(dir))
                .run(),
        );
    }
    // A member without its own table, and the root, get the workspace's.
    for dir in ["plain/src", "."] {
        let r = gpuarch(&["plan", "--format", "torch"])
            .cwd(&ws.path().join(dir))
            .run()
            .expect(0);
        assert_eq!(r.stdout, "7.5+PTX\n", "from {dir}");
    }
    // A gpuarch.toml beside a Cargo.toml wins.
    ws.write("member/gpuarch.toml", "gpus = [\"L4\"]\ncuda = \"12.4\"\n");
    let r = gpuarch(&["plan", "--format", "torch"])
        .cwd(&ws.path().join("member/src"))
        .run()
        .expect(0);
    assert_eq!(r.stdout, "8.9+PTX\n");
}

#[test]
fn errors_in_package_metadata_point_into_cargo_toml() {
    let ws = workspace();
    let member = ws.write("member/Cargo.toml", &format!("{MEMBER}sas = \"minimal\"\n"));
    let shown = member.display().to_string();
    let r = run(&["plan", "--manifest-path", &shown]).expect(2);
    assert!(r.stderr.contains("error[unknown-key]"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{shown}:8:")), "{}", r.stderr);
    assert!(
        r.stderr.contains("`sass`"),
        "suggests the nearest key: {}",
        r.stderr
    );
}

// ---------------------------------------------------------------------------------------
// convert

fn convert(from: &str, to: &str, list: &str) -> Run {
    run(&["convert", "--from", from, "--to", to, list])
}

#[test]
fn convert_between_dialects() {
    for (from, to, list, expected) in [
        ("torch", "cmake", "8.0;8.6+PTX", "80-real;86"),
        ("cmake", "torch", "80-real;86", "8.0;8.6+PTX"),
        (
            "torch",
            "nvcc",
            "8.0;8.6+PTX",
            "-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_86,code=sm_86 -gencode=arch=compute_86,code=compute_86",
        ),
        ("nvcc", "torch", "-gencode arch=compute_90a,code=sm_90a", "9.0a"),
        ("nvcc", "cmake", "-gencode arch=compute_90,code=[sm_90,compute_90]", "90"),
        ("torch", "compute-cap", "8.6", "86"),
        // CUDA_COMPUTE_CAP=90a means -arch=sm_90a: the cubin and its PTX.
        ("compute-cap", "cmake", "90a", "90a"),
        ("torch", "compute-cap", "9.0a+PTX", "90a"),
        ("torch", "clang", "8.0;8.6+PTX", "--cuda-gpu-arch=sm_80 --cuda-gpu-arch=sm_86 --no-cuda-include-ptx=all --cuda-include-ptx=sm_86"),
        // PyTorch's named list: Ampere is 8.0;8.6+PTX.
        ("torch", "cmake", "Ampere", "80-real;86"),
    ] {
        let r = convert(from, to, list);
        assert_eq!(r.code, 0, "{from} -> {to} {list}: {r:#?}");
        assert_eq!(r.stdout, format!("{expected}\n"), "{from} -> {to} {list}");
        assert_eq!(r.stderr, "", "{from} -> {to} {list}");
    }
}

#[test]
fn convert_cmake_all_needs_a_toolkit() {
    // CMake's `all`: every real architecture the toolkit lists (12.4: sm_50 ... sm_90, no
    // `a`) and PTX of the highest; `all-major`: the X.0 ones and PTX of the highest.
    let r = run(&[
        "convert", "--from", "cmake", "--to", "torch", "--cuda", "12.4", "all",
    ])
    .expect(0);
    assert_eq!(
        r.stdout,
        "5.0;5.2;5.3;6.0;6.1;6.2;7.0;7.2;7.5;8.0;8.6;8.7;8.9;9.0+PTX\n"
    );
    let r = run(&[
        "convert",
        "--from",
        "cmake",
        "--to",
        "torch",
        "--cuda",
        "12.4",
        "all-major",
    ])
    .expect(0);
    assert_eq!(r.stdout, "5.0;6.0;7.0;8.0;9.0+PTX\n");
    let r = convert("cmake", "torch", "all").expect(2);
    assert!(
        r.stderr.contains("error[bad-arch-list]") && r.stderr.contains("--cuda"),
        "{}",
        r.stderr
    );
}

#[test]
fn convert_refuses_what_the_target_dialect_cannot_say() {
    // TORCH_CUDA_ARCH_LIST has no `f` targets; CUDA_COMPUTE_CAP holds one architecture.
    let r = convert("cmake", "torch", "100f-real").expect(2);
    assert!(
        r.stderr.contains("error[not-expressible]") && r.stderr.contains("sm_100f"),
        "{}",
        r.stderr
    );
    let r = convert("torch", "compute-cap", "8.0;8.6").expect(2);
    assert!(r.stderr.contains("error[not-expressible]"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn convert_warns_where_pytorch_would_reject_the_input() {
    for (list, fixed, cmake) in [
        ("8.0; 8.6", "8.0;8.6", "80-real;86-real"),
        ("sm_80", "8.0", "80-real"),
    ] {
        let r = convert("torch", "cmake", list).expect(0);
        assert_eq!(r.stdout, format!("{cmake}\n"), "{list}");
        assert!(
            r.stderr.contains("warning[torch-would-reject]"),
            "{list}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("\"{fixed}\"")),
            "{list} should suggest {fixed}: {}",
            r.stderr
        );
    }
    // A list PyTorch takes gets no warning.
    assert_eq!(convert("torch", "cmake", "8.0;8.6").expect(0).stderr, "");
}

// ---------------------------------------------------------------------------------------
// catalog

fn catalog(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["catalog"];
    all.extend(args);
    all.extend(["--format", "json"]);
    run(&all).expect(0).json().as_array().unwrap().clone()
}

fn toolkit(version: &str) -> Value {
    let rows = catalog(&["toolkits", version]);
    assert_eq!(rows.len(), 1, "{version}: {rows:?}");
    rows[0].clone()
}

#[test]
fn catalog_toolkits_json_fields() {
    let rows = catalog(&["toolkits"]);
    assert!(rows.len() >= 20);
    for t in &rows {
        for key in [
            "version",
            "real_targets",
            "virtual_targets",
            "ptx_isa",
            "driver",
            "min_driver_minor_compat",
        ] {
            assert!(!t[key].is_null(), "{key} missing in {t}");
        }
        assert!(
            t["driver"].get("linux").is_some() && t["driver"].get("windows").is_some(),
            "{t}"
        );
    }
    // A bare major keeps only that major's releases.
    let twelve = catalog(&["toolkits", "12"]);
    assert!(twelve
        .iter()
        .all(|t| t["version"].as_str().unwrap().starts_with("12.")));
    assert!(twelve.iter().any(|t| t["version"] == "12.9"));
}

#[test]
fn catalog_toolkit_facts() {
    // Release notes: 12.4 GA shipped 550.54.14 (Linux) / 551.61 (Windows); 12.x runs on
    // >= 525.60.13 under minor-version compatibility; 12.4's PTX ISA is 8.4.
    let t = toolkit("12.4");
    assert_eq!(t["ptx_isa"], "8.4");
    assert_eq!(t["driver"]["linux"], "550.54.14");
    assert_eq!(t["driver"]["windows"], "551.61");
    assert_eq!(t["min_driver_minor_compat"]["linux"], "525.60.13");
    // 12.6 did not bump the ISA (measured).
    assert_eq!(toolkit("12.6")["ptx_isa"], "8.5");
    assert_eq!(toolkit("12.8")["ptx_isa"], "8.7");
    assert_eq!(toolkit("13.0")["ptx_isa"], "9.0");

    let real = |v: &str| strings(&toolkit(v)["real_targets"]);
    // 12.0 removed sm_35/sm_37.
    assert!(real("11.8").contains(&"sm_37".to_string()));
    assert!(!real("12.0").contains(&"sm_37".to_string()));
    // 11.8 added sm_89/sm_90; 90a came with 12.0.
    assert!(
        real("11.8").contains(&"sm_90".to_string())
            && !real("11.8").contains(&"sm_90a".to_string())
    );
    // 12.8: sm_100, sm_101, sm_120 and their `a`; no sm_103/sm_121 and no `f` yet.
    let r128 = real("12.8");
    for a in ["sm_100", "sm_100a", "sm_101", "sm_120", "sm_120a"] {
        assert!(r128.contains(&a.to_string()), "12.8 lacks {a}");
    }
    assert!(
        !r128
            .iter()
            .any(|a| a == "sm_103" || a == "sm_121" || a.ends_with('f')),
        "{r128:?}"
    );
    // 12.9 adds sm_103, sm_121 and the `f` targets.
    let r129 = real("12.9");
    for a in ["sm_103", "sm_121", "sm_100f", "sm_120f"] {
        assert!(r129.contains(&a.to_string()), "12.9 lacks {a}");
    }
    // 13.0: nothing below sm_75, sm_101 renamed sm_110, sm_88 appears.
    let r130 = real("13.0");
    assert_eq!(r130.first().map(String::as_str), Some("sm_75"));
    assert!(!r130.contains(&"sm_70".to_string()) && !r130.contains(&"sm_101".to_string()));
    assert!(r130.contains(&"sm_110".to_string()) && r130.contains(&"sm_88".to_string()));
    // 13.4 adds sm_107 (Rubin).
    assert!(
        !real("13.3").contains(&"sm_107".to_string())
            && real("13.4").contains(&"sm_107".to_string())
    );
    // Virtual targets mirror the real ones.
    let v = strings(&toolkit("12.9")["virtual_targets"]);
    assert_eq!(
        v,
        r129.iter()
            .map(|a| a.replace("sm_", "compute_"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn catalog_gpus_json_fields_and_names() {
    for (query, name, cc, arch) in [
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100", "8.0", "Ampere"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM", "9.0", "Hopper"),
        ("Tesla V100-SXM2-32GB", "NVIDIA V100", "7.0", "Volta"),
        ("GB10", "NVIDIA GB10 (DGX Spark)", "12.1", "Blackwell"),
        ("B300", "NVIDIA B300", "10.3", "Blackwell"),
        ("Jetson AGX Thor", "Jetson T5000", "11.0", "Blackwell"),
        ("Tesla T4", "Tesla T4", "7.5", "Turing"),
        ("NVIDIA L4", "NVIDIA L4", "8.9", "Ada"),
    ] {
        let rows = catalog(&["gpus", query]);
        let g = rows
            .iter()
            .find(|g| g["name"] == name)
            .unwrap_or_else(|| panic!("{query}: no {name} in {rows:?}"));
        assert_eq!(g["cc"], cc, "{query}");
        assert_eq!(g["architecture"], arch, "{query}");
        assert!(g["aliases"].is_array(), "{g}");
    }
    let a100 = catalog(&["gpus", "NVIDIA A100-SXM4-80GB"]);
    let a100 = a100.iter().find(|g| g["name"] == "NVIDIA A100").unwrap();
    assert!(strings(&a100["aliases"]).contains(&"NVIDIA A100-SXM4-80GB".to_string()));
}

#[test]
fn catalog_archs_first_and_last_toolkit() {
    for (query, first, last) in [
        ("sm_121", Some("12.9"), None),
        ("sm_100", Some("12.8"), None),
        ("sm_89", Some("11.8"), None),
        ("sm_101", Some("12.8"), Some("12.9")),
        ("sm_110", Some("13.0"), None),
        ("sm_70", None, Some("12.9")),
        ("sm_37", None, Some("11.8")),
    ] {
        let rows = catalog(&["archs", query]);
        assert!(!rows.is_empty(), "{query}");
        for row in &rows {
            if let Some(first) = first {
                // `a` variants may come later than the plain target, never earlier.
                if row["variant"] == "plain" {
                    assert_eq!(row["first_toolkit"], first, "{row}");
                }
            }
            if let Some(last) = last {
                assert_eq!(row["last_toolkit"], last, "{row}");
            }
        }
    }
    let rows = catalog(&["archs", "sm_121"]);
    let codes: Vec<&str> = rows.iter().map(|r| r["arch"].as_str().unwrap()).collect();
    assert!(
        codes.contains(&"sm_121") && codes.contains(&"sm_121a") && codes.contains(&"sm_121f"),
        "{codes:?}"
    );
    assert!(
        rows.iter().all(|r| r["first_toolkit"] == "12.9"),
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .all(|r| strings(&r["gpus"]).contains(&"NVIDIA GB10 (DGX Spark)".to_string())));
    let r = run(&["catalog", "archs", "sm_121"]).expect(0);
    assert!(r.stdout.contains("CUDA 12.9"), "{}", r.stdout);
}

#[test]
fn catalog_text_tables() {
    for table in ["gpus", "toolkits", "archs"] {
        let r = run(&["catalog", table]).expect(0);
        assert!(r.stdout.lines().count() > 10, "{table}");
    }
}

// ---------------------------------------------------------------------------------------
// Bugs found while writing these tests (the first is fixed in the tree; the second open).

#[test]
fn driver_versions_are_printed_as_nvidia_writes_them() {
    // NVIDIA driver versions have a zero-padded last field: 535.54.03, 580.65.06, 450.80.02.
    assert_eq!(toolkit("12.2")["driver"]["linux"], "535.54.03");
    assert_eq!(toolkit("13.0")["driver"]["linux"], "580.65.06");
    assert_eq!(
        toolkit("11.8")["min_driver_minor_compat"]["linux"],
        "450.80.02"
    );
    let j = run(&["plan", "--manifest-path", &fleet(), "--format", "json"])
        .expect(0)
        .json();
    assert_eq!(j["driver_floor"]["linux"], "535.54.03");
    let r = run(&[
        "plan",
        "--gpu",
        "A100",
        "--cuda",
        "12.4",
        "--min-driver",
        "470.82.01",
    ])
    .expect(1);
    assert!(r.stdout.contains("470.82.01"), "{}", r.stdout);
}

#[test]
fn closed_stdout_pipe_is_not_a_panic() {
    let mut child = gpuarch(&["catalog", "toolkits", "--format", "json"])
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101));
}

fn artifact(name: &str) -> String {
    repo()
        .join("tests/fixtures/artifacts")
        .join(name)
        .display()
        .to_string()
}

/// A file of tests/fixtures/inventories (`kube/fleet.json`, `smi/...`).
fn inventory(name: &str) -> String {
    repo()
        .join("tests/fixtures/inventories")
        .join(name)
        .display()
        .to_string()
}

/// The entries cuobjdump recorded for a fixture: (kind, arch as cuobjdump spells it).
fn cuobjdump_listing(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(artifact(&format!("{name}.cuobjdump.txt"))).unwrap();
    text.lines()
        .filter_map(|l| {
            let kind = if l.starts_with("ELF file") {
                "cubin"
            } else if l.starts_with("PTX file") {
                "ptx"
            } else {
                return None;
            };
            let file = l.rsplit(' ').next()?;
            let arch = file.split('.').find(|p| p.starts_with("sm_"))?.to_string();
            Some((kind.to_string(), arch))
        })
        .collect()
}

#[test]
fn inspect_lists_what_cuobjdump_lists() {
    for name in [
        "multi.fatbin",
        "multi_lz4.fatbin",
        "k.o",
        "k_rdc.o",
        "libk.a",
        "k_sm90a.cubin",
    ] {
        let r = run(&["inspect", "--format", "json", &artifact(name)]).expect(0);
        let j = r.json();
        let ours: Vec<(String, String)> = j["files"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let kind = e["kind"].as_str().unwrap().to_string();
                // cuobjdump drops `f` from cubins (their ELF header cannot record it).
                let arch = e["arch"].as_str().unwrap().to_string();
                let arch = if kind == "cubin" {
                    arch.trim_end_matches('f').to_string()
                } else {
                    arch
                };
                (kind, arch)
            })
            .collect();
        assert_eq!(ours, cuobjdump_listing(name), "{name}");
    }
}

#[test]
fn inspect_reports_compression_and_ptx_isa() {
    let j = run(&["inspect", "--format", "json", &artifact("multi.fatbin")])
        .expect(0)
        .json();
    let entries = j["files"][0]["entries"].as_array().unwrap().clone();
    let ptx = entries.iter().find(|e| e["kind"] == "ptx").unwrap();
    assert_eq!(ptx["arch"], "sm_90");
    assert_eq!(ptx["code"], "compute_90");
    assert_eq!(ptx["ptx_isa"], "9.0");
    assert_eq!(ptx["compression"], "zstd");
    assert!(entries
        .iter()
        .any(|e| e["arch"] == "sm_100f" && e["compression"] == "none"));
    let text = run(&["inspect", &artifact("libk.a")]).expect(0).stdout;
    assert!(text.contains("sm_120a") && text.contains("a75.o"), "{text}");
}

#[test]
fn inspect_rejects_what_is_not_an_artifact() {
    let dir = TempDir::new("inspect");
    let junk = dir
        .write("junk.bin", "not GPU code at all")
        .display()
        .to_string();
    let r = run(&["inspect", &junk, &artifact("k.o")]).expect(2);
    assert!(r.stderr.contains("bad-artifact"), "{}", r.stderr);
    assert!(
        r.stdout.contains("k.o"),
        "the readable file is still listed: {}",
        r.stdout
    );
    run(&["inspect", "/nonexistent/file.o"]).expect(2);
}

fn artifact_bytes(name: &str) -> Vec<u8> {
    std::fs::read(artifact(name)).unwrap()
}

impl TempDir {
    fn write_bytes(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    }
}

/// Two string fields of each row of the array `j[rows]`.
fn field_pairs(j: &Value, rows: &str, a: &str, b: &str) -> Vec<(String, String)> {
    j[rows]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t[a].as_str().unwrap().to_string(),
                t[b].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn targets_by_gpu(j: &Value) -> Vec<(String, String)> {
    field_pairs(j, "targets", "cc", "status")
}

#[test]
fn verify_says_per_gpu_what_runs_and_fails_on_an_uncovered_one() {
    // multi.fatbin: sm_75, sm_90a, sm_100f cubins and compute_90 PTX (ISA 9.0, CUDA 13.0).
    let fatbin = artifact("multi.fatbin");
    let ok = run(&[
        "verify", &fatbin, "--gpu", "T4", "--gpu", "H100", "--format", "json",
    ])
    .expect(0);
    let j = ok.json();
    assert_eq!(j["ok"], true);
    assert_eq!(
        targets_by_gpu(&j),
        vec![
            ("7.5".into(), "covered".into()),
            ("9.0".into(), "covered".into())
        ]
    );
    assert_eq!(j["targets"][1]["runs"], "sm_90a cubin");
    // A100 (8.0): sm_75 is another major, sm_90a/compute_90 are above it.
    let bad = run(&[
        "verify", &fatbin, "--gpu", "A100", "--gpu", "T4", "--format", "json",
    ])
    .expect(1);
    let j = bad.json();
    assert_eq!(j["ok"], false);
    assert_eq!(j["targets"][0]["status"], "uncovered");
    bad.diagnostic("target-not-covered");
    // H200-class 9.0 GPUs get the sm_90a cubin; an L40S (8.9) would need PTX <= 8.9.
    let text = run(&["verify", &fatbin, "--gpu", "L40S"]).expect(1);
    assert!(text.stdout.contains("nothing"), "{}", text.stdout);
    assert!(text.stdout.contains("not every target"), "{}", text.stdout);
}

#[test]
fn verify_judges_ptx_jit_against_the_driver_floor() {
    // multi_none.fatbin holds compute_90 PTX of ISA 9.0 (CUDA 13.0): JIT for a 10.3 GPU
    // (B300) only with a driver that accepts ISA 9.0 (R580).
    let fatbin = artifact("multi_none.fatbin");
    let ok = run(&[
        "verify",
        &fatbin,
        "--gpu",
        "B300",
        "--min-driver",
        "580.65.06",
        "--format",
        "json",
    ])
    .expect(0);
    let j = ok.json();
    // sm_100f covers B300 (10.3) in the family; PTX is not needed.
    assert_eq!(j["targets"][0]["verdict"], "compatible");
    // An RTX 5090 (12.0) has no cubin here: it needs the PTX, which R535 cannot JIT.
    let old = run(&[
        "verify",
        &fatbin,
        "--gpu",
        "RTX 5090",
        "--min-driver",
        "535.54.03",
        "--format",
        "json",
    ])
    .expect(1);
    let j = old.json();
    assert_eq!(j["targets"][0]["verdict"], "ptx-too-new");
    old.diagnostic("ptx-newer-than-driver");
    let jit = run(&[
        "verify",
        &fatbin,
        "--gpu",
        "RTX 5090",
        "--min-driver",
        "580.65.06",
        "--format",
        "json",
    ])
    .expect(0);
    let j = jit.json();
    assert_eq!(j["targets"][0]["verdict"], "jit");
    // CUDA 13.0's PTX needs the R580 driver (580.65.06, its release driver).
    assert_eq!(j["targets"][0]["needs_driver"], "580.65.06");
}

#[test]
fn verify_with_every_container_archive_members_count() {
    // libk.a: a75.o has only sm_75; the other member has sm_120a + compute_120.
    let lib = artifact("libk.a");
    let r = run(&["verify", &lib, "--gpu", "T4", "--format", "json"]).expect(1);
    let j = r.json();
    assert_eq!(j["containers"], 2);
    let failing = strings(&j["targets"][0]["failing_containers"]);
    assert_eq!(failing.len(), 1);
    assert!(
        failing[0].contains("a_second_object_with_a_long_name_120.o"),
        "{failing:?}"
    );
}

#[test]
fn inspect_reads_past_a_damaged_container_and_warns() {
    let dir = TempDir::new("damaged");
    let mut bytes = artifact_bytes("multi_none.fatbin");
    // A second container whose size points far past the end of the file.
    bytes.extend_from_slice(&0xBA55_ED50u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let path = dir.write_bytes("damaged.fatbin", &bytes);
    let r = run(&["inspect", "--format", "json", &path]).expect(0);
    let j = r.json();
    assert_eq!(j["files"][0]["entries"].as_array().unwrap().len(), 4);
    assert_eq!(j["files"][0]["problems"].as_array().unwrap().len(), 1);
    assert!(r.stderr.contains("artifact-damaged"), "{}", r.stderr);
    // verify judges what could be read, and says so.
    let v = run(&["verify", &path, "--gpu", "T4", "--format", "json"]).expect(0);
    v.diagnostic("artifact-damaged");
}

#[test]
fn verify_notes_ptx_whose_isa_cannot_be_read() {
    // A zstd PTX entry with the ISA cleared from its header and its payload destroyed:
    // the ISA can come from nowhere, so the driver floor cannot be checked for it.
    let dir = TempDir::new("isa");
    let mut bytes = artifact_bytes("multi_zstd.fatbin");
    let j = run(&[
        "inspect",
        "--format",
        "json",
        &artifact("multi_zstd.fatbin"),
    ])
    .expect(0)
    .json();
    let ptx = j["files"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "ptx")
        .unwrap()
        .clone();
    let at = ptx["offset"].as_u64().unwrap() as usize;
    let header = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
    bytes[at + 0x18..at + 0x1c].fill(0);
    let size = ptx["size"].as_u64().unwrap() as usize;
    bytes[at + header..at + header + size].fill(0xA5);
    let path = dir.write_bytes("no_isa.fatbin", &bytes);
    let r = run(&[
        "verify",
        &path,
        "--gpu",
        "RTX 5090",
        "--min-driver",
        "535.54.03",
        "--format",
        "json",
    ]);
    let d = r.diagnostic("ptx-isa-unknown");
    assert_eq!(d["level"], "note");
    r.diagnostic("artifact-damaged");
}

#[test]
fn inspect_bad_input_is_an_error_not_a_panic() {
    let dir = TempDir::new("badinput");
    let empty = dir.write_bytes("empty.o", b"");
    let zip = dir.write_bytes("notawheel.zip", b"PK\x03\x04 this is not really a zip");
    let sub = dir.path().join("a_directory");
    std::fs::create_dir_all(&sub).unwrap();
    for (path, says) in [
        (empty.as_str(), "empty"),
        (zip.as_str(), "zip"),
        (sub.to_str().unwrap(), "directory"),
        ("/nonexistent/lib.so", "cannot read"),
    ] {
        let r = run(&["inspect", path]);
        assert_eq!(r.code, 2, "{path}: {r:#?}");
        assert!(
            r.stderr.contains("bad-artifact") && r.stderr.contains(says),
            "{path}: {}",
            r.stderr
        );
        let v = run(&["verify", path, "--gpu", "T4"]);
        assert_eq!(v.code, 2, "verify {path}: {v:#?}");
    }
    // A file cut short loses its section headers (they come last): what is left is
    // scanned, listed and the damage named; cuobjdump says "does not contain device code".
    let object = artifact_bytes("k.o");
    let cut = dir.write_bytes("cut.o", &object[..object.len() - 3000]);
    let r = run(&["inspect", "--format", "json", &cut]).expect(0);
    assert_eq!(r.json()["files"][0]["entries"].as_array().unwrap().len(), 4);
    assert!(
        r.stderr.contains("artifact-damaged") && r.stderr.contains("truncated"),
        "{}",
        r.stderr
    );
    let stub = dir.write_bytes("stub.o", &object[..200]);
    let r = run(&["inspect", &stub]).expect(0);
    assert!(r.stdout.contains("no GPU code") && r.stderr.contains("artifact-damaged"));
    // A valid ELF without GPU code is an answer: nothing to list.
    let host = run(&["inspect", "--format", "json", BIN]).expect(0).json();
    assert_eq!(host["files"][0]["entries"].as_array().unwrap().len(), 0);
    let r = run(&["verify", BIN, "--gpu", "T4"]).expect(1);
    assert!(r.stdout.contains("target-not-covered"), "{}", r.stdout);
}

#[test]
fn inspect_reads_thin_and_nested_archives() {
    let dir = TempDir::new("archives");
    for name in ["k.o", "k_rdc.o", "libk.a"] {
        std::fs::copy(artifact(name), dir.path().join(name)).unwrap();
    }
    let ar = |args: &[&str]| {
        let ok = Command::new("ar")
            .args(args)
            .current_dir(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: inspect_reads_thin_and_nested_archives: `ar` not available");
        }
        ok
    };
    if !ar(&["rcT", "thin.a", "k.o", "k_rdc.o"]) || !ar(&["rc", "nested.a", "libk.a", "k.o"]) {
        return;
    }
    let listing = |name: &str| -> Vec<(String, String)> {
        let path = dir.path().join(name).display().to_string();
        let j = run(&["inspect", "--format", "json", &path])
            .expect(0)
            .json();
        j["files"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["member"].as_str().unwrap_or("").to_string(),
                    e["code"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let direct = |name: &str| -> Vec<String> {
        let j = run(&["inspect", "--format", "json", &artifact(name)])
            .expect(0)
            .json();
        j["files"][0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap().to_string())
            .collect()
    };
    let thin = listing("thin.a");
    let mut expected: Vec<(String, String)> = Vec::new();
    for name in ["k.o", "k_rdc.o"] {
        expected.extend(direct(name).into_iter().map(|c| (name.to_string(), c)));
    }
    assert_eq!(thin, expected);
    let nested = listing("nested.a");
    assert!(
        nested
            .iter()
            .any(|(m, c)| m == "libk.a(a75.o)" && c == "sm_75"),
        "{nested:?}"
    );
    assert!(nested.iter().any(|(m, _)| m == "k.o"), "{nested:?}");
    assert_eq!(nested.len(), direct("libk.a").len() + direct("k.o").len());
    // A thin archive whose member is gone: listed as damage, not a crash.
    std::fs::remove_file(dir.path().join("k_rdc.o")).unwrap();
    let r = run(&["inspect", &dir.path().join("thin.a").display().to_string()]).expect(0);
    assert!(
        r.stderr.contains("artifact-damaged") && r.stderr.contains("k_rdc.o"),
        "{}",
        r.stderr
    );
}

#[test]
fn inspect_looks_inside_wheels() {
    use std::io::Write;
    let dir = TempDir::new("wheel");
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let members: [(&str, Vec<u8>); 4] = [
            ("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n".to_vec()),
            ("pkg/__init__.py", Vec::new()),
            ("pkg/lib/libk.so.1", artifact_bytes("k.o")),
            ("pkg/lib/multi.fatbin", artifact_bytes("multi_lz4.fatbin")),
        ];
        for (name, data) in &members {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }
    let wheel = dir.write_bytes("pkg-1.0-py3-none-linux_x86_64.whl", &buf.into_inner());
    let j = run(&["inspect", "--format", "json", "--kernels", &wheel])
        .expect(0)
        .json();
    let entries = j["files"][0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 4 + 4, "{entries:?}");
    assert_eq!(entries[0]["member"], "pkg/lib/libk.so.1");
    // --kernels decompresses the LZ4 PTX for its count.
    assert!(entries.iter().all(|e| e["kernels"] == 1), "{entries:?}");
    let r = run(&["verify", &wheel, "--gpu", "T4", "--format", "json"]).expect(0);
    assert_eq!(r.json()["containers"], 2);
}

// ---------------------------------------------------------------------------------------
// Deployment: PyTorch, base images, drivers and GPUs (`deploy`, `image`, `dockerfile`,
// `entrypoint`, `require`). Expected verdicts come from the catalog's facts: the wheels'
// measured SASS lists, the images' NVIDIA_REQUIRE_CUDA, the drivers' CUDA versions.

fn statuses(j: &Value) -> Vec<(String, String)> {
    field_pairs(j, "matrix", "relation", "status")
}

#[test]
fn deploy_answers_the_documented_example_with_a_fix() {
    // A100-PCIE-40GB, driver 460.32.03 (CUDA 11.2), PyTorch 1.12.1 (default cu102 wheel:
    // SASS 3.7, 5.0, 6.0, 7.0), nvidia/cuda:10.2-base-ubuntu20.04.
    let r = run(&[
        "deploy",
        "--gpu",
        "A100-PCIE-40GB",
        "--min-driver",
        "460.32.03",
        "--torch",
        "1.12.1",
        "--image",
        "nvidia/cuda:10.2-base-ubuntu20.04",
        "--format",
        "json",
    ])
    .expect(1);
    let j = r.json();
    assert_eq!(j["ok"], false);
    let got = statuses(&j);
    for (relation, status) in [
        ("image-vs-driver", "pass"),
        ("torch-vs-cuda", "pass"),
        ("cuda-vs-gpu", "pass"),
        ("torch-vs-gpu", "fail"),
        ("driver-vs-gpu", "pass"),
    ] {
        assert!(
            got.contains(&(relation.to_string(), status.to_string())),
            "{relation} should be {status}: {got:?}"
        );
    }
    assert_eq!(j["deployment"]["torch"]["variant"], "cu102");
    // The nearest fix keeps 1.12.1 and takes its cu113 or cu116 wheel.
    let first = &j["fixes"][0]["changes"];
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first[0]["what"], "torch");
    assert_eq!(first[0]["from"], "1.12.1+cu102");
    let to = first[0]["to"].as_str().unwrap();
    assert!(to == "1.12.1+cu113" || to == "1.12.1+cu116", "{to}");
    assert!(
        j["fixes"].as_array().unwrap().len() > 1,
        "alternatives, ranked"
    );
    // Every fix passes when judged on its own.
    for fix in j["fixes"].as_array().unwrap() {
        assert!(fix["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "fail"));
    }
    // NVIDIA never published 10.2 images for Ubuntu 20.04: said, not hidden.
    let notes = strings(&j["notes"]);
    assert!(notes.iter().any(|n| n.contains("ubuntu18.04")), "{notes:?}");
}

#[test]
fn deploy_passes_the_common_recipe_and_the_fix() {
    for (torch, image, driver) in [
        ("1.13.1", "nvidia/cuda:11.7.1-base-ubuntu20.04", "515.43.04"),
        (
            "1.12.1+cu116",
            "nvidia/cuda:10.2-base-ubuntu18.04",
            "460.32.03",
        ),
    ] {
        let r = run(&[
            "deploy",
            "--gpu",
            "A100",
            "--min-driver",
            driver,
            "--torch",
            torch,
            "--image",
            image,
            "--format",
            "json",
        ])
        .expect(0);
        assert_eq!(r.json()["ok"], true, "{torch} {image}");
    }
}

#[test]
fn deploy_judges_the_container_start_and_forward_compat() {
    // A CUDA 13 image on an R535 host: 13.x needs 580 even under minor-version
    // compatibility; on a data-center GPU the image's brand clauses let it start and
    // cuda-compat bridges it, on a GeForce it is refused at start.
    let args = |gpu: &'static str| {
        run(&[
            "deploy",
            "--gpu",
            gpu,
            "--min-driver",
            "535.54.03",
            "--image",
            "nvidia/cuda:13.0.1-runtime-ubuntu24.04",
            "--format",
            "json",
        ])
    };
    let dc = args("H100").expect(0).json();
    let row = &dc["matrix"][0];
    assert_eq!(row["relation"], "image-vs-driver");
    assert!(
        row["reason"]
            .as_str()
            .unwrap()
            .contains("forward-compatibility"),
        "{row}"
    );
    let gf = args("RTX 4090").expect(1).json();
    let row = &gf["matrix"][0];
    assert_eq!(row["status"], "fail");
    assert!(
        row["reason"].as_str().unwrap().contains("cuda>=13.0"),
        "{row}"
    );
    // A 12.8 image on R535: minor-version compatibility runs it, and the image's 535
    // clause lets it start.
    let mvc = run(&[
        "deploy",
        "--gpu",
        "A100",
        "--min-driver",
        "535.54.03",
        "--image",
        "nvidia/cuda:12.8.1-runtime-ubuntu22.04",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    assert!(mvc["matrix"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("minor-version"));
}

#[test]
fn deploy_driver_and_gpu_relations() {
    // R535 no longer drives Kepler (R470 is the last); R418 predates the A100.
    let kepler = run(&[
        "deploy",
        "--gpu",
        "Tesla K80",
        "--min-driver",
        "535.54.03",
        "--format",
        "json",
    ])
    .expect(1)
    .json();
    assert_eq!(
        statuses(&kepler),
        [("driver-vs-gpu".to_string(), "fail".to_string())]
    );
    let old = run(&[
        "deploy",
        "--gpu",
        "A100",
        "--min-driver",
        "418.39",
        "--format",
        "json",
    ])
    .expect(1)
    .json();
    assert!(old["matrix"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("predates"));
    // CUDA 13 cannot build anything a P100 (6.0) runs.
    let p100 = run(&[
        "deploy",
        "--gpu",
        "Tesla P100",
        "--cuda",
        "13.0",
        "--format",
        "json",
    ])
    .expect(1)
    .json();
    assert_eq!(
        statuses(&p100),
        [("cuda-vs-gpu".to_string(), "fail".to_string())]
    );
}

#[test]
fn deploy_reads_the_manifest_sections_and_names_bad_input() {
    let dir = TempDir::new("deploy");
    let good = dir.write(
        "ok/gpuarch.toml",
        "gpus = [\"A100\"]\nmin-driver = \"535.54.03\"\n[torch]\nversion = \"2.4.1\"\n[image]\nref = \"docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04\"\n",
    );
    let j = run(&[
        "deploy",
        "--manifest-path",
        good.to_str().unwrap(),
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    assert_eq!(j["deployment"]["torch"]["variant"], "cu121");
    assert_eq!(j["deployment"]["image"]["cuda"], "12.4.1");
    for (text, code, line, mentions) in [
        (
            "gpus = [\"A100\"]\n[torch]\nversion = \"2.5.0rc1\"\n",
            "unknown-torch",
            3,
            "pre-release",
        ),
        (
            "gpus = [\"A100\"]\n[torch]\nversion = \"9.9.9\"\n",
            "unknown-torch",
            3,
            "known releases",
        ),
        (
            "gpus = [\"A100\"]\n[torch]\nversion = \"2.4.1+cu999\"\n",
            "unknown-torch",
            3,
            "cu118",
        ),
        (
            "gpus = [\"A100\"]\ntorch = \"2.4.1+cpu\"\n",
            "unknown-torch",
            2,
            "not a CUDA build",
        ),
        (
            "gpus = [\"A100\"]\n[image]\nref = \"ubuntu:22.04\"\n",
            "bad-image",
            3,
            "--image-cuda",
        ),
        (
            "gpus = [\"A100\"]\n[image]\nref = \"nvidia/cuda:12.7.0-base-ubuntu22.04\"\n",
            "bad-image",
            3,
            "never existed",
        ),
        (
            "gpus = [\"A100\"]\n[image]\nref = \"NVIDIA/cuda:12.4.1-base-ubuntu22.04\"\n",
            "bad-image",
            3,
            "nvidia/cuda",
        ),
        (
            "gpus = [\"A100\"]\n[image]\nref = \"nvidia/cuda\"\n",
            "bad-image",
            3,
            "latest",
        ),
    ] {
        let path = dir.write(&format!("{code}{line}{}/gpuarch.toml", text.len()), text);
        let r = run(&["deploy", "--manifest-path", path.to_str().unwrap()]).expect(2);
        assert!(
            r.stderr.contains(&format!("error[{code}]")),
            "{text}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!("gpuarch.toml:{line}:")),
            "{text}: no line {line} in {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(mentions),
            "{text}: `{mentions}` not in {}",
            r.stderr
        );
    }
    // A non-NVIDIA image with its CUDA given; a digest; nvcr.io.
    for image in [
        "ubuntu:22.04",
        "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        "nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let r = run(&[
            "deploy", "--gpu", "A100", "--min-driver", "550.54.14", "--image", image, "--image-cuda", "12.4",
            "--format", "json",
        ]);
        assert_eq!(r.code, 0, "{image}: {r:#?}");
    }
}

#[test]
fn image_recommends_the_newest_tag_the_driver_runs() {
    // R535: the CUDA 13 runtime needs 580 even under minor-version compatibility, so the
    // newest 12.x set with published tags.
    let j = run(&[
        "image",
        "--gpu",
        "H100",
        "--min-driver",
        "535.54.03",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    let image = j["image"].as_str().unwrap();
    assert!(image.starts_with("nvidia/cuda:12."), "{image}");
    assert!(image.contains("-runtime-ubuntu"), "{image}");
    // With R580 a 13.x set.
    let j = run(&[
        "image",
        "--gpu",
        "H100",
        "--min-driver",
        "580.65.06",
        "--flavor",
        "devel",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    assert!(
        j["image"].as_str().unwrap().starts_with("nvidia/cuda:13."),
        "{j}"
    );
    assert!(j["image"].as_str().unwrap().contains("-devel-"));
    // A cu121 wheel keeps the image on CUDA 12.
    let j = run(&[
        "image",
        "--gpu",
        "A100",
        "--min-driver",
        "580.65.06",
        "--torch",
        "2.4.1",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    assert!(
        j["image"].as_str().unwrap().starts_with("nvidia/cuda:12."),
        "{j}"
    );
}

#[test]
fn dockerfile_carries_the_plan_and_the_compat_entrypoint_where_needed() {
    let plain = run(&[
        "dockerfile",
        "--gpu",
        "A100",
        "--gpu",
        "H100",
        "--min-driver",
        "535.54.03",
        "--torch",
        "2.4.1",
    ])
    .expect(0)
    .stdout;
    assert!(plain.contains("FROM nvidia/cuda:12."), "{plain}");
    assert!(
        plain.contains("-devel-") && plain.contains(" AS build"),
        "{plain}"
    );
    assert!(
        plain.contains("ARG TORCH_CUDA_ARCH_LIST=\"8.0;9.0+PTX\""),
        "{plain}"
    );
    assert!(plain.contains("download.pytorch.org/whl/cu121"), "{plain}");
    assert!(
        !plain.contains("gpuarch-entrypoint"),
        "no compat needed: {plain}"
    );
    let compat = run(&[
        "dockerfile",
        "--gpu",
        "H100",
        "--min-driver",
        "535.54.03",
        "--image",
        "nvidia/cuda:13.0.1-runtime-ubuntu24.04",
    ])
    .expect(0)
    .stdout;
    assert!(
        compat.contains("ENTRYPOINT [\"/usr/local/bin/gpuarch-entrypoint\"]"),
        "{compat}"
    );
    assert!(
        compat.contains(run(&["entrypoint"]).expect(0).stdout.trim_end()),
        "the script, whole"
    );
    // A deployment that fails still gets its Dockerfile, with the failure said.
    let failing = run(&[
        "dockerfile",
        "--gpu",
        "RTX 4090",
        "--min-driver",
        "535.54.03",
        "--image",
        "nvidia/cuda:13.0.1-runtime-ubuntu24.04",
    ])
    .expect(1);
    assert!(
        failing.stdout.starts_with("# WARNING"),
        "{}",
        failing.stdout
    );
    assert!(
        failing.stderr.contains("error[deploy-fails]"),
        "{}",
        failing.stderr
    );
}

#[test]
fn require_evaluates_like_the_container_toolkit_and_generates() {
    let req = "cuda>=12.8 brand=tesla,driver>=535,driver<536";
    let r = run(&[
        "require",
        "--eval",
        req,
        "--driver",
        "535.104.05",
        "--gpu",
        "A100",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    assert_eq!(
        r["hosts"][0]["matched"],
        "brand=tesla,driver>=535,driver<536"
    );
    let refused = run(&[
        "require",
        "--eval",
        req,
        "--driver",
        "535.104.05",
        "--gpu",
        "RTX 4090",
    ])
    .expect(1);
    assert!(
        refused
            .stdout
            .contains("unsatisfied condition: cuda>=12.8, please update your driver"),
        "{}",
        refused.stdout
    );
    // Case and repeated spaces as real images write them.
    run(&[
        "require",
        "--eval",
        "CUDA>=12.3  brand=tesla,driver>=470,driver<471",
        "--driver",
        "550.54.14",
    ])
    .expect(0);
    let bad = run(&["require", "--eval", "cuda==12.4"]).expect(2);
    assert!(
        bad.stderr.contains("error[bad-requirement]"),
        "{}",
        bad.stderr
    );
    let generated = run(&[
        "require",
        "--image",
        "nvidia/cuda:12.8.1-base-ubuntu22.04",
        "--min-driver",
        "535.54.03",
        "--format",
        "json",
    ])
    .expect(0)
    .json();
    let text = generated["requirement"].as_str().unwrap();
    assert!(text.starts_with("cuda>=12.8 "), "{text}");
    assert!(
        text.contains("brand=tesla,driver>=535,driver<536"),
        "{text}"
    );
    assert!(
        !text.contains("driver>=470"),
        "below the fleet's floor: {text}"
    );
    // What it generates, the toolkit semantics accept for an R535 data-center host.
    run(&[
        "require",
        "--eval",
        text,
        "--driver",
        "535.54.03",
        "--gpu",
        "A100",
    ])
    .expect(0);
    run(&["require"]).expect(2);
}

#[test]
fn entrypoint_prints_the_compat_script() {
    let r = run(&["entrypoint"]).expect(0);
    assert!(r.stdout.starts_with("#!/bin/sh\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("GPUARCH_DRIVER_VERSION_FILE") && r.stdout.contains("GPUARCH_COMPAT_DIR")
    );
    assert!(!r.stdout.contains("$$") && !r.stdout.contains("[ $("));
}

#[test]
fn catalog_lists_the_deployment_tables() {
    let torch = run(&["catalog", "torch", "1.12", "--format", "json"])
        .expect(0)
        .json();
    assert_eq!(torch[0]["pypi_default"], "cu102");
    let tags: Vec<&str> = torch[0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["tag"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"cu113") && tags.contains(&"cu116"),
        "{tags:?}"
    );
    let images = run(&["catalog", "images", "12.4", "--format", "json"])
        .expect(0)
        .json();
    assert!(images
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["version"] == "12.4.1"));
    let drivers = run(&["catalog", "drivers", "R535", "--format", "json"])
        .expect(0)
        .json();
    assert_eq!(drivers[0]["first"], "535.54.03");
    assert_eq!(drivers[0]["cuda"], "12.2");
    run(&["catalog", "drivers", "R999"]).expect(2);
}
