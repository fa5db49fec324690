//! End-to-end tests of `cargo gpuarch doctor` on the fake hosts in tests/fixtures/hosts
//! (their sources are in its README): a root of driver files per scenario, and fake
//! `nvidia-smi`/`nvcc` scripts found on PATH, so the same tests run without a GPU.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gpuarch");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn host(name: &str) -> PathBuf {
    fixtures().join("hosts").join(name)
}

fn nvcc(release: &str) -> PathBuf {
    fixtures().join("nvcc").join(format!("cuda-{release}/bin"))
}

fn manifest(name: &str) -> PathBuf {
    fixtures()
        .join("hosts/manifests")
        .join(format!("{name}.toml"))
}

/// A cache directory of this test's own.
fn cache_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gpuarch-doctor-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code, for {self:#?}");
        self
    }

    fn diagnostic(&self, code: &str) -> Value {
        self.json()["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no `{code}` diagnostic in {self:#?}"))
    }

    fn codes(&self) -> Vec<(String, String)> {
        self.json()["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["code"].as_str().unwrap().to_string(),
                    d["level"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// `doctor --root <fixture>` with a clean environment: PATH holds the fixture's bin/ (its
/// fake nvidia-smi), the given nvcc directories, and /bin for the scripts' shell.
struct Doctor {
    cmd: Command,
}

fn doctor(root: &str, nvccs: &[&str]) -> Doctor {
    let mut path: Vec<PathBuf> = vec![host(root).join("bin")];
    path.extend(nvccs.iter().map(|r| nvcc(r)));
    path.push(PathBuf::from("/bin"));
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::join_paths(path).unwrap())
        .env("NO_COLOR", "1")
        .env("GPUARCH_CACHE_DIR", cache_dir())
        .current_dir(std::env::temp_dir())
        .args(["gpuarch", "doctor", "--root"])
        .arg(host(root));
    Doctor { cmd }
}

impl Doctor {
    fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    fn run(mut self) -> Run {
        let out = self.cmd.output().expect("run cargo-gpuarch");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn json(self) -> Run {
        self.args(&["--format", "json"]).run()
    }
}

#[test]
fn a_healthy_gpu_host_reports_its_driver_gpus_and_toolkit() {
    let run = doctor("h100", &["12.4"]).json().expect(0);
    let j = run.json();
    assert_eq!(j["ok"], true);
    assert_eq!(j["driver"]["version"], "550.54.15");
    assert_eq!(j["driver"]["cuda"], "12.4");
    assert_eq!(j["driver"]["kernel_module"]["open"], false);
    assert_eq!(j["driver"]["devices"].as_array().unwrap().len(), 3);
    let gpus = j["nvidia_smi"]["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1, "{gpus:?}");
    assert_eq!(gpus[0]["reported"], "NVIDIA H100 80GB HBM3");
    assert_eq!(gpus[0]["cc"], "9.0");
    assert_eq!(gpus[0]["count"], 2);
    let libs: Vec<&str> = j["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["version"].as_str().unwrap())
        .collect();
    assert_eq!(libs, ["550.54.15", "550.54.15"]);
    let nvcc = &j["toolkits"][0];
    assert_eq!(nvcc["version"], "12.4");
    assert_eq!(nvcc["build"], "V12.4.131");
    assert_eq!(nvcc["how"], "PATH");
    assert_eq!(nvcc["used"], true);
    assert!(j["diagnostics"].as_array().unwrap().is_empty());
    assert_eq!(j["container"], Value::Null);
}

#[test]
fn the_text_report_has_a_section_for_each_probe() {
    let run = doctor("h100", &["12.4"]).run().expect(0);
    for section in [
        "\ndriver\n",
        "\nGPUs\n",
        "\ndriver libraries\n",
        "\ncompat\n",
        "\ntoolkits\n",
        "\nenvironment\n",
        "\ncontainer\n",
    ] {
        assert!(
            run.stdout.contains(section),
            "{section:?} in\n{}",
            run.stdout
        );
    }
    assert!(run
        .stdout
        .contains("550.54.15 (proprietary, x86_64), supports CUDA 12.4"));
    assert!(run.stdout.contains("NVIDIA H100 80GB HBM3"));
    assert!(run.stdout.contains("ok: 0 warning(s)"));
    assert!(!run.stdout.contains("timings"));
}

#[test]
fn a_build_box_without_a_gpu_is_fine() {
    let run = doctor("build-box", &["12.4"]).run().expect(0);
    assert!(run.stdout.contains("none loaded"), "{}", run.stdout);
    assert!(run.stdout.contains("nvidia-smi is not on PATH"));
    assert!(run.stdout.contains("CUDA 12.4 (V12.4.131)"));
}

#[test]
fn a_driver_library_mismatch_is_explained_with_its_fix() {
    let run = doctor("mismatch", &[]).json().expect(1);
    let d = run.diagnostic("driver-library-mismatch");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("Driver/library version mismatch"),
        "{message}"
    );
    assert!(
        message.contains("580.173.02") && message.contains("580.178.04"),
        "{message}"
    );
    let help = d["help"].as_str().unwrap();
    assert!(
        help.contains("reboot") && help.contains("apt-mark hold"),
        "{help}"
    );
    // Explained once, not again as a generic nvidia-smi failure.
    assert_eq!(
        run.codes(),
        [("driver-library-mismatch".into(), "error".into())]
    );
}

#[test]
fn compat_libraries_older_than_the_module_fail_on_the_library_path() {
    let run = doctor("compat-older", &[])
        .env("LD_LIBRARY_PATH", "/usr/local/cuda/compat")
        .json()
        .expect(1);
    let j = run.json();
    assert_eq!(j["compat"]["version"], "550.54.15");
    assert_eq!(j["compat"]["on_library_path"], true);
    assert_eq!(j["compat"]["enables"], false);
    let d = run.diagnostic("compat-older-than-driver");
    assert_eq!(d["level"], "error");
    assert!(d["message"].as_str().unwrap().contains("(803)"));

    let off = doctor("compat-older", &[]).json().expect(0);
    assert_eq!(
        off.diagnostic("compat-older-than-driver")["level"],
        "warning"
    );
}

#[test]
fn a_toolkit_newer_than_the_driver_is_explained_precisely() {
    // nvcc 12.8 on R525: minor-version compatibility runs its cubins, not its PTX.
    let run = doctor("r525-a100", &["12.8"]).json().expect(0);
    let d = run.diagnostic("runtime-newer-than-driver");
    assert_eq!(d["level"], "warning");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("minor-version compatibility"), "{message}");
    assert!(message.contains("525.60.13"), "{message}");
    assert!(
        message.contains("ISA 8.7") && message.contains("ISA 8.0"),
        "{message}"
    );
}

#[test]
fn a_container_started_without_gpus_says_how_to_give_it_one() {
    let run = doctor("container-no-gpu", &[])
        .env("NVIDIA_VISIBLE_DEVICES", "all")
        .env("NVIDIA_DRIVER_CAPABILITIES", "compute,utility")
        .json()
        .expect(1);
    assert_eq!(run.json()["container"]["runtime"], "docker");
    let d = run.diagnostic("no-gpu-in-container");
    assert!(d["message"]
        .as_str()
        .unwrap()
        .contains("NVIDIA_VISIBLE_DEVICES=all"));
    assert!(d["help"].as_str().unwrap().contains("--gpus all"));
    let j = run.json();
    let env: Vec<&str> = j["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(env.contains(&"NVIDIA_DRIVER_CAPABILITIES"), "{env:?}");
}

#[test]
fn an_old_driver_without_compute_cap_is_read_through_the_catalog() {
    let run = doctor("r470-t4", &[]).json().expect(0);
    let j = run.json();
    assert_eq!(j["nvidia_smi"]["compute_cap_from_catalog"], true);
    assert_eq!(j["nvidia_smi"]["gpus"][0]["reported"], "Tesla T4");
    assert_eq!(j["nvidia_smi"]["gpus"][0]["cc"], "7.5");
    assert_eq!(j["driver"]["version"], "470.182.03");
}

#[test]
fn a_jetson_reports_its_jetson_linux_release() {
    let run = doctor("jetson-orin", &[]).json().expect(0);
    let j = run.json();
    assert_eq!(j["driver"]["kernel_module"]["jetson"], true);
    assert_eq!(j["driver"]["kernel_module"]["version"], "35.3.1");
    assert_eq!(j["driver"]["version"], Value::Null);
    let text = doctor("jetson-orin", &[]).run().expect(0);
    assert!(
        text.stdout.contains("Jetson Linux 35.3.1"),
        "{}",
        text.stdout
    );
}

#[test]
fn nvcc_append_flags_that_choose_targets_are_flagged() {
    // -arch=sm_80 embeds compute_80 PTX: the H100 still runs it (JIT), but every build's
    // targets changed.
    let run = doctor("h100", &["12.4"])
        .env("NVCC_APPEND_FLAGS", "-arch=sm_80")
        .json()
        .expect(0);
    let d = run.diagnostic("nvcc-flags-override");
    assert_eq!(d["level"], "warning");
    assert!(d["message"].as_str().unwrap().contains("sm_80 compute_80"));
    // sm_80 cubins only: the H100 gets nothing.
    let run = doctor("h100", &["12.4"])
        .env("NVCC_PREPEND_FLAGS", "-gencode arch=compute_80,code=sm_80")
        .json()
        .expect(1);
    assert_eq!(run.diagnostic("nvcc-flags-override")["level"], "error");
}

#[test]
fn torch_cuda_arch_list_missing_the_hosts_gpu_is_an_error() {
    let run = doctor("h100", &["12.4"])
        .env("TORCH_CUDA_ARCH_LIST", "8.0;8.6")
        .json()
        .expect(1);
    let list = &run.json()["arch_variables"][0];
    assert_eq!(list["name"], "TORCH_CUDA_ARCH_LIST");
    assert_eq!(list["codes"], serde_json::json!(["sm_80", "sm_86"]));
    assert_eq!(list["host"][0]["runs"], false);
    let d = run.diagnostic("env-arch-list");
    assert!(d["message"].as_str().unwrap().contains("(9.0)"));

    doctor("h100", &["12.4"])
        .env("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        .json()
        .expect(0);
}

/// NVIDIA_REQUIRE_CUDA of nvidia/cuda:12.8.1 (amd64, ubuntu22.04), shortened to its first
/// clauses (/work/shared/reference/nvidia-require-cuda.json).
const REQUIRE_12_8: &str =
    "cuda>=12.8 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536";

#[test]
fn an_unmet_nvidia_require_cuda_quotes_the_toolkits_error() {
    let run = doctor("r525-a100", &[])
        .env("NVIDIA_REQUIRE_CUDA", REQUIRE_12_8)
        .json()
        .expect(1);
    let m = run.diagnostic("require-unmet")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        m.contains("unsatisfied condition: cuda>=12.8") && m.contains("CUDA 12.0"),
        "{m}"
    );
    let skipped = doctor("r525-a100", &[])
        .env("NVIDIA_REQUIRE_CUDA", REQUIRE_12_8)
        .env("NVIDIA_DISABLE_REQUIRE", "1")
        .json()
        .expect(0);
    assert_eq!(skipped.diagnostic("require-unmet")["level"], "note");
}

#[test]
fn with_a_manifest_the_verdict_says_whether_this_host_runs_the_plan() {
    let runs = doctor("h100", &[])
        .arg("--manifest-path")
        .arg(manifest("hopper"))
        .json()
        .expect(0);
    let v = &runs.json()["verdict"];
    assert_eq!(v["runs"], true);
    assert_eq!(v["groups"][0]["gpus"][0]["status"], "runs");

    let fails = doctor("h100", &[])
        .arg("--manifest-path")
        .arg(manifest("ampere-cubins-only"))
        .json()
        .expect(1);
    assert_eq!(fails.json()["verdict"]["runs"], false);
    let d = fails.diagnostic("host-cannot-run");
    assert!(d["message"].as_str().unwrap().contains("9.0"), "{d}");

    let text = doctor("h100", &[])
        .arg("--manifest-path")
        .arg(manifest("ampere-cubins-only"))
        .run()
        .expect(1);
    assert!(text.stdout.contains("\nverdict ("), "{}", text.stdout);
}

#[test]
fn a_host_that_cannot_be_judged_is_not_said_to_run_the_plan() {
    // nvidia-smi fails on the mismatch host: its GPU is unknown, not fine.
    let run = doctor("mismatch", &[])
        .arg("--manifest-path")
        .arg(manifest("hopper"))
        .json()
        .expect(1);
    let v = &run.json()["verdict"];
    assert_eq!(v["status"], "unknown", "{v}");
    assert_eq!(v["runs"], false, "{v}");
    assert_eq!(v["groups"][0]["status"], "unknown", "{v}");

    let runs = doctor("h100", &[])
        .arg("--manifest-path")
        .arg(manifest("hopper"))
        .json()
        .expect(0);
    assert_eq!(runs.json()["verdict"]["status"], "runs");
}

#[test]
fn an_enabled_compat_driver_is_the_driver_the_verdict_judges() {
    // R470 with cuda-compat 12.4 (driver 550.54.15) on LD_LIBRARY_PATH: programs load the
    // compat driver, so the CUDA 12.4 plan runs on the T4.
    let run = doctor("r470-t4-compat", &["12.4"])
        .env("LD_LIBRARY_PATH", "/usr/local/cuda-12.4/compat")
        .arg("--manifest-path")
        .arg(manifest("turing"))
        .json()
        .expect(0);
    let j = run.json();
    assert_eq!(j["compat"]["enables"], true);
    assert_eq!(j["driver"]["version"], "470.182.03");
    assert_eq!(j["driver"]["effective"], "550.54.15");
    assert_eq!(j["verdict"]["status"], "runs", "{}", j["verdict"]);
    assert_eq!(j["verdict"]["groups"][0]["driver"], "550.54.15");
    assert!(run.codes().is_empty(), "{:?}", run.codes());
    let text = doctor("r470-t4-compat", &["12.4"])
        .env("LD_LIBRARY_PATH", "/usr/local/cuda-12.4/compat")
        .run()
        .expect(0);
    assert!(
        text.stdout.contains(
            "programs load  550.54.15 (the compat driver in /usr/local/cuda-12.4/compat)"
        ),
        "{}",
        text.stdout
    );

    // Off the library path, programs load R470: the plan fails, and the help names the
    // folder that would fix it.
    let off = doctor("r470-t4-compat", &["12.4"])
        .arg("--manifest-path")
        .arg(manifest("turing"))
        .json()
        .expect(1);
    assert_eq!(off.json()["verdict"]["status"], "fails");
    let help = off.diagnostic("runtime-newer-than-driver")["help"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        help.contains("/usr/local/cuda-12.4/compat") && help.contains("LD_LIBRARY_PATH"),
        "{help}"
    );
}

#[test]
fn without_a_manifest_the_verdict_is_bad_input() {
    let run = doctor("h100", &[])
        .args(&["--manifest", "--format", "json"])
        .run()
        .expect(2);
    assert_eq!(run.json()["ok"], false);
}

#[test]
fn nvcc_answers_are_cached_by_binary_and_a_corrupt_cache_is_rewritten() {
    let cache = cache_dir();
    let run = |no_cache: bool| {
        let mut d = doctor("build-box", &["12.4"]).env("GPUARCH_CACHE_DIR", &cache);
        if no_cache {
            d = d.args(&["--no-cache"]);
        }
        d.json().expect(0).json()["toolkits"][0].clone()
    };
    assert_eq!(run(false)["cached"], false);
    let again = run(false);
    assert_eq!(again["cached"], true);
    assert_eq!(again["build"], "V12.4.131");
    assert_eq!(run(true)["cached"], false);

    let file = cache.join("nvcc-versions.txt");
    std::fs::write(&file, "garbage\tline\n").unwrap();
    assert_eq!(run(false)["cached"], false);
    assert_eq!(run(false)["cached"], true);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn timings_name_each_probe() {
    let run = doctor("h100", &["12.4"])
        .args(&["--timings"])
        .run()
        .expect(0);
    let timings = run
        .stdout
        .split("\ntimings\n")
        .nth(1)
        .expect("a timings section");
    for probe in ["kernel module", "driver libraries", "nvidia-smi", "nvcc "] {
        assert!(timings.contains(probe), "{probe} in {timings}");
    }
    assert!(timings.lines().all(|l| l.contains(" ms  ")), "{timings}");
}

#[test]
fn libraries_without_a_loaded_module_say_nvidia_smi_cannot_reach_the_driver() {
    let r = doctor("no-module", &[]).json().expect(1);
    let d = r.diagnostic("nvidia-smi-failed");
    assert_eq!(d["level"], "error");
    let text = format!("{} {}", d["message"], d["help"]);
    assert!(text.contains("no NVIDIA kernel module is loaded"), "{text}");
    assert!(text.contains("modprobe nvidia"), "{text}");
    // The libraries are still reported: they say which driver would load.
    let libs = r.json()["libraries"].to_string();
    assert!(libs.contains("550.54.15"), "{libs}");
}

/// Every doctor code that `tests/cli.rs` leaves to this file fires from one of the fake
/// hosts above (its DOCTOR_CODES list names them).
#[test]
fn every_doctor_code_fires_from_a_fake_host() {
    let mut seen: Vec<String> = Vec::new();
    let runs = [
        doctor("mismatch", &[]).json(),
        doctor("compat-older", &[])
            .env("LD_LIBRARY_PATH", "/usr/local/cuda/compat")
            .json(),
        doctor("container-no-gpu", &[])
            .env("NVIDIA_VISIBLE_DEVICES", "all")
            .json(),
        doctor("no-module", &[]).json(),
        doctor("h100", &[])
            .env("NVCC_APPEND_FLAGS", "-arch=sm_80")
            .json(),
        doctor("h100", &[])
            .env("TORCH_CUDA_ARCH_LIST", "8.0")
            .json(),
        doctor("r525-a100", &[])
            .env(
                "NVIDIA_REQUIRE_CUDA",
                "cuda>=12.8 brand=tesla,driver>=535,driver<536",
            )
            .json(),
        doctor("h100", &[])
            .arg("--manifest-path")
            .arg(manifest("ampere-cubins-only"))
            .json(),
    ];
    for r in &runs {
        seen.extend(r.codes().into_iter().map(|(c, _)| c));
    }
    for code in [
        "driver-library-mismatch",
        "compat-older-than-driver",
        "no-gpu-in-container",
        "nvidia-smi-failed",
        "nvcc-flags-override",
        "env-arch-list",
        "require-unmet",
        "host-cannot-run",
    ] {
        assert!(
            seen.iter().any(|c| c == code),
            "{code} never fired: {seen:?}"
        );
    }
}

#[test]
fn an_nvidia_smi_that_refuses_the_query_is_read_from_its_plain_table() {
    let r = doctor("table-only", &[]).json().expect(0);
    let smi = &r.json()["nvidia_smi"];
    assert_eq!(smi["from_table"], true, "{smi}");
    assert_eq!(smi["driver"], "535.104.05", "{smi}");
    let gpus = smi["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1, "{smi}");
    assert_eq!(gpus[0]["cc"], "8.0", "an A100, by the catalog");
    assert_eq!(gpus[0]["mig"], "enabled");
    let text = doctor("table-only", &[]).run().expect(0);
    assert!(
        text.stdout.contains("read the plain table"),
        "{}",
        text.stdout
    );
}
