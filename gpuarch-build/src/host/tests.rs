//! Probes of the fake roots in tests/fixtures/hosts (their sources are in its README),
//! with tools answered in-process, and the judgement of hand-built reports.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::arch::{Cc, Code, CodeSet};
use crate::catalog;
use crate::coverage::Verdict;
use crate::diagnostic::{Diagnostic, Level};
use crate::fleet::verdict::Status;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn no_tools() -> Runner {
    Box::new(|tool, _| Err(io::Error::other(format!("{} not expected", tool.display()))))
}

fn probe(root: &str, env: &[(&str, &str)]) -> HostReport {
    Probe::new(fixture(&format!("hosts/{root}")))
        .with_env(env.iter().map(|(k, v)| (*k, *v)))
        .with_runner(no_tools())
        .with_cache_file(None)
        .probe()
}

fn codes(diagnostics: &[Diagnostic]) -> Vec<(&'static str, Level)> {
    diagnostics.iter().map(|d| (d.code, d.level)).collect()
}

fn find<'a>(diagnostics: &'a [Diagnostic], code: &str) -> &'a Diagnostic {
    diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {diagnostics:#?}"))
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

fn gpu(name: &str) -> NodeGpu {
    let info = catalog::find_gpu(name).unwrap_or_else(|| panic!("{name} not in the catalog"));
    NodeGpu {
        reported: name.to_string(),
        gpu: Some(info),
        cc: Some(info.cc),
        count: 1,
        mig: None,
    }
}

/// A GPU host as nvidia-smi would have described it.
fn host(driver: &str, gpus: &[&str]) -> HostReport {
    let driver = v(driver);
    HostReport {
        kernel_module: parse::parse_kernel_module(&format!(
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  {driver}  Tue Mar  5 22:23:56 UTC 2024\n"
        )),
        devices: vec!["nvidia0".into(), "nvidiactl".into()],
        smi: Smi {
            path: Some(PathBuf::from("/usr/bin/nvidia-smi")),
            gpus: gpus.iter().map(|g| gpu(g)).collect(),
            driver: Some(driver),
            ..Smi::default()
        },
        ..HostReport::default()
    }
}

fn with_nvcc(mut report: HostReport, cuda: &str) -> HostReport {
    report.nvccs.push(NvccFound {
        path: PathBuf::from("/usr/local/cuda/bin/nvcc"),
        how: NvccSource::Path,
        version: Some(v(cuda)),
        build: None,
        error: None,
        cached: false,
        used: true,
        took: Duration::ZERO,
    });
    report
}

fn with_env(mut report: HostReport, vars: &[(&str, &str)]) -> HostReport {
    report
        .env
        .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    report
}

#[test]
fn a_gpu_host_shows_its_module_libraries_and_devices() {
    let r = probe("h100", &[]);
    let module = r.kernel_module.as_ref().unwrap();
    assert_eq!(module.version, v("550.54.15"));
    assert!(!module.open);
    assert_eq!(r.driver(), Some(v("550.54.15")));
    assert_eq!(r.devices, ["nvidia0", "nvidia1", "nvidiactl"]);
    let libs: Vec<(&str, String)> = r
        .libraries
        .iter()
        .map(|l| (l.name, l.version.to_string()))
        .collect();
    assert_eq!(
        libs,
        [
            ("libcuda", "550.54.15".to_string()),
            ("libnvidia-ml", "550.54.15".to_string())
        ]
    );
    assert!(r.container.is_none() && r.compat.is_none());
    // No PATH: nvidia-smi is not looked for anywhere else.
    assert_eq!(r.smi.path, None);
    assert!(diagnose(&r).is_empty(), "{:#?}", diagnose(&r));
    let probes: Vec<&str> = r.timings.iter().map(|t| t.probe.as_str()).collect();
    assert!(probes.contains(&"kernel module") && probes.contains(&"nvidia-smi"));
}

#[test]
fn a_build_box_has_nothing_to_diagnose() {
    let r = probe("build-box", &[]);
    assert!(r.kernel_module.is_none() && r.libraries.is_empty() && !r.sees_gpu());
    assert!(diagnose(&r).is_empty());
}

#[test]
fn libraries_newer_than_the_loaded_module_are_a_mismatch_even_without_nvidia_smi() {
    let r = probe("mismatch", &[]);
    let d = diagnose(&r);
    let m = find(&d, "driver-library-mismatch");
    assert_eq!(m.level, Level::Error);
    assert!(m.message.contains("580.173.02"), "{}", m.message);
    assert!(m.message.contains("580.178.04"), "{}", m.message);
    let help = m.help.as_deref().unwrap();
    assert!(
        help.contains("reboot") && help.contains("apt-mark hold"),
        "{help}"
    );
}

#[test]
fn nvidia_smis_mismatch_error_is_explained_once() {
    let mut r = host("580.173.02", &[]);
    r.smi.gpus.clear();
    r.smi.failure = Some(Failure::VersionMismatch {
        nvml_library: Some(v("580.178")),
    });
    r.smi.message = Some("Failed to initialize NVML: Driver/library version mismatch".into());
    let d = diagnose(&r);
    assert_eq!(codes(&d), [("driver-library-mismatch", Level::Error)]);
    assert!(
        d[0].message.contains("NVML library is 580.178"),
        "{}",
        d[0].message
    );
}

#[test]
fn a_compat_folder_older_than_the_module_fails_only_on_the_library_path() {
    let on = probe(
        "compat-older",
        &[("LD_LIBRARY_PATH", "/usr/local/cuda/compat:/usr/lib")],
    );
    let compat = on.compat.as_ref().unwrap();
    assert_eq!(compat.host_dir, "/usr/local/cuda/compat");
    assert_eq!(compat.version, Some(v("550.54.15")));
    assert!(compat.on_library_path);
    assert!(!compat.decision.enables_compat());
    let d = diagnose(&on);
    let c = find(&d, "compat-older-than-driver");
    assert_eq!(c.level, Level::Error);
    assert!(
        c.message.contains("550.54.15")
            && c.message.contains("570.133.07")
            && c.message.contains("803")
    );

    let off = probe("compat-older", &[]);
    let d = diagnose(&off);
    assert_eq!(find(&d, "compat-older-than-driver").level, Level::Warning);
}

#[test]
fn a_container_without_a_gpu_says_why() {
    let asked = probe(
        "container-no-gpu",
        &[
            ("NVIDIA_VISIBLE_DEVICES", "all"),
            ("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"),
        ],
    );
    let c = asked.container.as_ref().unwrap();
    assert_eq!(c.runtime, "docker");
    assert_eq!(c.evidence, ["/.dockerenv"]);
    let d = diagnose(&asked);
    let n = find(&d, "no-gpu-in-container");
    assert_eq!(n.level, Level::Error);
    assert!(
        n.message.contains("NVIDIA_VISIBLE_DEVICES=all"),
        "{}",
        n.message
    );
    assert!(n.help.as_deref().unwrap().contains("--gpus all"));

    // A build container that asks for no GPU is told, not failed.
    let build = probe("container-no-gpu", &[("NVIDIA_VISIBLE_DEVICES", "void")]);
    assert_eq!(
        find(&diagnose(&build), "no-gpu-in-container").level,
        Level::Warning
    );

    let pod = probe("build-box", &[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]);
    assert_eq!(pod.container.unwrap().runtime, "kubernetes");
}

#[test]
fn a_jetson_module_reports_its_release_and_no_driver_comparison() {
    let r = probe("jetson-orin", &[]);
    let m = r.kernel_module.as_ref().unwrap();
    assert!(m.jetson && m.open);
    assert_eq!(m.version, v("35.3.1"));
    assert_eq!(r.driver(), None);
    assert_eq!(r.libraries.len(), 1);
    assert!(!parse::is_driver_version(&r.libraries[0].version));
    // 1.1 is not compared with 35.3.1: no mismatch on Jetson.
    assert!(diagnose(&r).is_empty(), "{:#?}", diagnose(&r));
}

/// Answers `nvcc --version` with the release in the path (`.../cuda-12.8/bin/nvcc`),
/// counting the calls.
fn nvcc_runner(calls: Rc<RefCell<usize>>) -> Runner {
    Box::new(move |tool, args| {
        *calls.borrow_mut() += 1;
        assert_eq!(args, ["--version"]);
        let release = tool
            .ancestors()
            .find_map(|p| p.file_name()?.to_str()?.strip_prefix("cuda-"))
            .unwrap()
            .to_string();
        Ok(ToolOutput {
            status: Some(0),
            stdout: format!("Cuda compilation tools, release {release}, V{release}.1\n"),
            stderr: String::new(),
        })
    })
}

#[test]
fn every_nvcc_is_listed_in_lookup_order_and_answers_are_cached() {
    let cuda128 = fixture("nvcc/cuda-12.8");
    let cuda124 = fixture("nvcc/cuda-12.4");
    let path = std::env::join_paths([
        cuda124.join("bin"),
        cuda124.join("bin"),
        cuda128.join("bin"),
    ])
    .unwrap()
    .into_string()
    .unwrap();
    let env = [
        ("CUDA_HOME", cuda128.to_str().unwrap().to_string()),
        ("PATH", path),
    ];
    let cache =
        std::env::temp_dir().join(format!("gpuarch-host-nvcc-{}/nvcc.txt", std::process::id()));
    let _ = fs::remove_file(&cache);
    let calls = Rc::new(RefCell::new(0));
    let run = |calls: &Rc<RefCell<usize>>| {
        Probe::new(fixture("hosts/build-box"))
            .with_env(env.clone())
            .with_runner(nvcc_runner(calls.clone()))
            .with_cache_file(Some(cache.clone()))
            .probe()
    };
    let first = run(&calls);
    let found: Vec<(NvccSource, String, bool)> = first
        .nvccs
        .iter()
        .map(|n| (n.how, n.version.unwrap().to_string(), n.used))
        .collect();
    // CUDA_HOME wins over PATH; the same binary twice on PATH is listed once.
    assert_eq!(
        found,
        [
            (NvccSource::CudaHome, "12.8".to_string(), true),
            (NvccSource::Path, "12.4".to_string(), false),
        ]
    );
    assert_eq!(first.nvccs[0].build.as_deref(), Some("V12.8.1"));
    assert_eq!(*calls.borrow(), 2);
    assert!(first.nvccs.iter().all(|n| !n.cached));

    let again = run(&calls);
    assert_eq!(*calls.borrow(), 2, "the second run must not start nvcc");
    assert!(again.nvccs.iter().all(|n| n.cached));
    assert_eq!(again.nvccs[0].build.as_deref(), Some("V12.8.1"));
    assert!(again.timings.iter().any(|t| t.probe.ends_with("(cached)")));
    let _ = fs::remove_dir_all(cache.parent().unwrap());
}

#[test]
fn an_nvcc_variable_naming_no_file_is_what_builds_would_use() {
    let r = probe("build-box", &[("NVCC", "/opt/missing/bin/nvcc")]);
    assert_eq!(r.nvccs.len(), 1);
    let n = &r.nvccs[0];
    assert!(n.used && n.version.is_none());
    assert!(n.error.as_deref().unwrap().contains("does not exist"));
}

#[test]
fn a_toolkit_newer_than_the_driver_runs_only_through_minor_version_compatibility() {
    // CUDA 12.8 on R525: the 12.x floor (525.60.13) is met, its own driver (570) is not.
    let r = with_nvcc(host("525.147.05", &["A100"]), "12.8");
    let d = diagnose(&r);
    let w = find(&d, "runtime-newer-than-driver");
    assert_eq!(w.level, Level::Warning);
    assert!(
        w.message.contains("minor-version compatibility"),
        "{}",
        w.message
    );
    assert!(w.message.contains("PTX"), "{}", w.message);
    assert!(w.help.as_deref().unwrap().contains("cubin"));

    // CUDA 13 needs R580: nothing built here runs.
    let r = with_nvcc(host("535.154.05", &["H100"]), "13.0");
    let e = find(&diagnose(&r), "runtime-newer-than-driver").clone();
    assert_eq!(e.level, Level::Error);
    assert!(e.message.contains("insufficient"), "{}", e.message);

    // The toolkit's own driver or newer: nothing to say.
    let r = with_nvcc(host("550.54.15", &["H100"]), "12.4");
    assert!(diagnose(&r).is_empty());
}

#[test]
fn arch_variables_are_judged_on_this_hosts_gpus() {
    let h100 = || with_nvcc(host("550.54.15", &["H100"]), "12.4");
    let r = with_env(h100(), &[("TORCH_CUDA_ARCH_LIST", "8.0;8.6")]);
    let e = find(&diagnose(&r), "env-arch-list").clone();
    assert_eq!(e.level, Level::Error);
    assert!(
        e.message.contains("TORCH_CUDA_ARCH_LIST") && e.message.contains("(9.0)"),
        "{}",
        e.message
    );

    let r = with_env(h100(), &[("TORCH_CUDA_ARCH_LIST", "8.0;9.0")]);
    assert!(diagnose(&r).is_empty());
    let lists = diagnose::env_lists(&r);
    assert_eq!(lists.len(), 1);
    assert!(lists[0].host[0].1.has_sass());

    // candle-style builds use -arch=sm_XY: PTX of 9.0 does not run on an 8.0 GPU.
    let a100 = with_nvcc(host("550.54.15", &["A100"]), "12.4");
    let r = with_env(a100, &[("CUDA_COMPUTE_CAP", "90")]);
    assert_eq!(find(&diagnose(&r), "env-arch-list").level, Level::Error);

    let r = with_env(h100(), &[("TORCH_CUDA_ARCH_LIST", "sm_banana")]);
    assert_eq!(find(&diagnose(&r), "bad-arch-list").level, Level::Error);
}

#[test]
fn nvcc_flag_variables_that_choose_targets_are_flagged() {
    let h100 = || with_nvcc(host("550.54.15", &["H100"]), "12.4");
    // sm_80 cubins only: the H100 gets nothing.
    let r = with_env(
        h100(),
        &[("NVCC_APPEND_FLAGS", "-gencode arch=compute_80,code=sm_80")],
    );
    let e = find(&diagnose(&r), "nvcc-flags-override").clone();
    assert_eq!(e.level, Level::Error);
    assert!(
        e.message.contains("sm_80") && e.message.contains("H100"),
        "{}",
        e.message
    );
    // -arch=sm_80 embeds compute_80 PTX, which the H100 JIT-compiles: still every build's
    // targets changed.
    let r = with_env(h100(), &[("NVCC_PREPEND_FLAGS", "-arch=sm_80")]);
    assert_eq!(
        find(&diagnose(&r), "nvcc-flags-override").level,
        Level::Warning
    );
    let r = with_env(h100(), &[("NVCC_APPEND_FLAGS", "-O3 -lineinfo")]);
    assert_eq!(codes(&diagnose(&r)), [("nvcc-flags-override", Level::Note)]);
}

/// NVIDIA_REQUIRE_CUDA of nvidia/cuda:12.8.1-*-ubuntu22.04 (amd64), from
/// /work/shared/reference/nvidia-require-cuda.json; its compat clauses name 470, 535, 550,
/// 560 and 565, not 525.
const REQUIRE_12_8_1: &str = "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536 brand=tesla,driver>=550,driver<551";

#[test]
fn an_unmet_nvidia_require_cuda_is_an_error_unless_disabled() {
    let r = with_env(
        host("525.147.05", &["A100"]),
        &[("NVIDIA_REQUIRE_CUDA", REQUIRE_12_8_1)],
    );
    let e = find(&diagnose(&r), "require-unmet").clone();
    assert_eq!(e.level, Level::Error);
    assert!(
        e.message.contains("CUDA 12.0") && e.message.contains("unsatisfied condition: cuda>=12.8"),
        "{}",
        e.message
    );

    let r = with_env(
        host("525.147.05", &["A100"]),
        &[
            ("NVIDIA_REQUIRE_CUDA", REQUIRE_12_8_1),
            ("NVIDIA_DISABLE_REQUIRE", "true"),
        ],
    );
    assert_eq!(find(&diagnose(&r), "require-unmet").level, Level::Note);

    // R535 on a data-center GPU meets it through the brand=tesla,driver>=535 clause.
    let r = with_env(
        host("535.154.05", &["A100"]),
        &[("NVIDIA_REQUIRE_CUDA", REQUIRE_12_8_1)],
    );
    assert!(diagnose(&r).is_empty(), "{:#?}", diagnose(&r));
}

#[test]
fn the_host_becomes_a_fleet_node() {
    let r = host("550.54.15", &["H100"]);
    let node = r.to_node();
    assert_eq!(node.driver, Some(v("550.54.15")));
    assert_eq!(node.driver_cuda, Some(v("12.4")));
    assert_eq!(node.gpus[0].cc, Some(Cc::new(9, 0)));
    assert!(node.problem.is_none());
    // A GPU that nvidia-smi could not list is a problem, not an absence.
    let mut blind = host("550.54.15", &[]);
    blind.smi = Smi::default();
    assert!(blind.to_node().problem.is_some());
}

// The tests below read nvidia-smi's text with `fleet::smi` (its parsers and error
// recognizer).

fn smi_runner(
    answers: &'static [(&'static str, Option<i32>, &'static str)],
    calls: Rc<RefCell<Vec<String>>>,
) -> Runner {
    Box::new(move |_, args| {
        let query = args[0].to_string();
        calls.borrow_mut().push(query.clone());
        let (_, status, text) = answers
            .iter()
            .find(|(fields, _, _)| query == format!("--query-gpu={fields}"))
            .unwrap_or_else(|| panic!("unexpected {query}"));
        Ok(ToolOutput {
            status: *status,
            stdout: text.to_string(),
            stderr: String::new(),
        })
    })
}

fn smi_probe(root: &str, runner: Runner) -> HostReport {
    let bin = fixture(&format!("hosts/{root}/bin"));
    Probe::new(fixture(&format!("hosts/{root}")))
        .with_env([("PATH", bin.to_str().unwrap())])
        .with_runner(runner)
        .with_cache_file(None)
        .probe()
}

#[test]
fn nvidia_smi_lists_the_gpus_and_driver() {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let r = smi_probe(
        "h100",
        smi_runner(
            &[(SMI_FIELDS, Some(0), "index, name, compute_cap, driver_version, pci.bus_id, memory.total [MiB], mig.mode.current\n0, NVIDIA H100 80GB HBM3, 9.0, 550.54.15, 00000000:18:00.0, 81559 MiB, Disabled\n")],
            calls.clone(),
        ),
    );
    assert_eq!(calls.borrow().len(), 1);
    assert_eq!(r.smi.driver, Some(v("550.54.15")));
    assert_eq!(r.smi.gpus.len(), 1);
    assert_eq!(r.smi.gpus[0].cc, Some(Cc::new(9, 0)));
    assert!(!r.smi.compute_cap_from_catalog);
}

#[test]
fn a_driver_without_compute_cap_is_asked_again_and_names_go_through_the_catalog() {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let r = smi_probe(
        "r470-t4",
        smi_runner(
            &[
                (SMI_FIELDS, Some(2), "Field \"compute_cap\" is not a valid field to query.\n"),
                (
                    "index,name,driver_version,pci.bus_id,memory.total,mig.mode.current",
                    Some(0),
                    "index, name, driver_version, pci.bus_id, memory.total [MiB], mig.mode.current\n0, Tesla T4, 470.182.03, 00000000:00:1E.0, 15109 MiB, [N/A]\n",
                ),
            ],
            calls.clone(),
        ),
    );
    assert_eq!(calls.borrow().len(), 2);
    assert!(r.smi.compute_cap_from_catalog);
    assert!(r.smi.failure.is_none(), "{:?}", r.smi.failure);
    assert_eq!(r.smi.gpus[0].cc, Some(Cc::new(7, 5)));
}

#[test]
fn nvidia_smi_without_a_driver_is_explained() {
    let calls = Rc::new(RefCell::new(Vec::new()));
    let r = smi_probe(
        "build-box",
        smi_runner(
            &[(SMI_FIELDS, Some(9), "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n")],
            calls,
        ),
    );
    // build-box has no bin/: nvidia-smi is not found, so nothing ran.
    assert_eq!(r.smi.path, None);
    let mut r = r;
    r.smi.path = Some(PathBuf::from("/usr/bin/nvidia-smi"));
    r.smi.failure = Some(Failure::NoDriver);
    r.smi.message = Some(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.".into(),
    );
    let d = diagnose(&r);
    let e = find(&d, "nvidia-smi-failed");
    assert!(
        e.message.contains("no NVIDIA kernel module is loaded"),
        "{}",
        e.message
    );
    assert!(e.help.as_deref().unwrap().contains("modprobe"));
}

#[test]
fn under_wsl_the_driver_is_judged_as_the_windows_one() {
    let root = std::env::temp_dir().join(format!("gpuarch-host-wsl-{}", std::process::id()));
    let lib = root.join("usr/lib/wsl/lib");
    fs::create_dir_all(&lib).unwrap();
    fs::write(lib.join("libcuda.so.1.1"), "").unwrap();
    let r = Probe::new(&root)
        .with_env([("PATH", "")])
        .with_runner(no_tools())
        .with_cache_file(None)
        .probe();
    assert!(r.wsl());
    assert_eq!(r.os(), Os::Windows);
    assert!(r.to_node().wsl);
    // WSL's libcuda.so.1.1 is not a driver version: no mismatch.
    assert!(diagnose(&r).is_empty());
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_tool_that_hangs_is_stopped_and_reported() {
    let dir = std::env::temp_dir().join(format!("gpuarch-hang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tool = dir.join("nvidia-smi");
    std::fs::write(&tool, "#!/bin/sh\necho started\nsleep 30\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let start = std::time::Instant::now();
    let err =
        super::run_tool_within(&tool, &[], std::time::Duration::from_millis(200)).unwrap_err();
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(err.to_string().contains("did not answer"), "{err}");
    let ok = super::run_tool_within(
        Path::new("/bin/echo"),
        &["hi"],
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!((ok.status, ok.stdout.as_str()), (Some(0), "hi\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

// The compat driver, when enabled and on the library path, is what CUDA programs load:
// tests/fixtures/hosts/r470-t4-compat holds cuda-compat 12.4 (driver 550.54.15) beside an
// R470 module.

fn t4_with_compat(on_library_path: bool) -> HostReport {
    let ld = if on_library_path {
        "/usr/local/cuda-12.4/compat"
    } else {
        ""
    };
    let probed = probe("r470-t4-compat", &[("LD_LIBRARY_PATH", ld)]);
    let mut r = with_nvcc(host("470.182.03", &["T4"]), "12.4");
    r.compat = probed.compat;
    r
}

#[test]
fn an_enabled_compat_driver_is_the_driver_programs_are_judged_under() {
    let on = t4_with_compat(true);
    let compat = on.compat.as_ref().unwrap();
    assert_eq!(compat.host_dir, "/usr/local/cuda-12.4/compat");
    assert!(compat.decision.enables_compat());
    assert_eq!(on.driver(), Some(v("470.182.03")));
    assert_eq!(on.effective_driver(), Some(v("550.54.15")));
    assert_eq!(on.to_node().driver, Some(v("550.54.15")));
    assert_eq!(on.to_node().driver_cuda, Some(v("12.4")));
    // CUDA 12.4 runs on the compat driver: nothing to say, and the plan runs.
    assert!(diagnose(&on).is_empty(), "{:#?}", diagnose(&on));
    let plan: CodeSet = [Code::parse("sm_75").unwrap()].into_iter().collect();
    let toolkit = Toolkit::named(v("12.4"), None);
    let verdict = judge(&on, &plan, Some(&toolkit));
    assert_eq!(verdict.status(), Status::Runs);
    assert!(verdict.runs() && verdict.diagnostics.is_empty());
    // PTX of CUDA 12.4 (ISA 8.4) is JIT-compiled by the compat driver, not by R470.
    let list = |r: &HostReport| {
        let r = with_env(
            r.clone(),
            &[(
                "NVCC_APPEND_FLAGS",
                "-gencode arch=compute_70,code=compute_70",
            )],
        );
        diagnose::env_lists(&r)[0].host[0].1.clone()
    };
    assert!(matches!(list(&on), Verdict::Jit { .. }), "{:?}", list(&on));

    // Off the library path, programs load R470: the 12.4 runtime fails, and the fix is
    // the folder already there.
    let off = t4_with_compat(false);
    assert_eq!(off.effective_driver(), Some(v("470.182.03")));
    assert!(matches!(list(&off), Verdict::PtxTooNew { .. }));
    let d = diagnose(&off);
    let e = find(&d, "runtime-newer-than-driver");
    assert_eq!(e.level, Level::Error);
    let help = e.help.as_deref().unwrap();
    assert!(
        help.contains("/usr/local/cuda-12.4/compat") && help.contains("LD_LIBRARY_PATH"),
        "{help}"
    );
    assert_eq!(judge(&off, &plan, Some(&toolkit)).status(), Status::Fails);
}

#[test]
fn a_host_that_cannot_be_judged_does_not_run_the_plan() {
    let plan: CodeSet = [Code::parse("sm_90").unwrap()].into_iter().collect();
    let toolkit = Toolkit::named(v("12.4"), None);
    let h100 = host("550.54.15", &["H100"]);
    assert_eq!(judge(&h100, &plan, Some(&toolkit)).status(), Status::Runs);

    // nvidia-smi failed: the GPU is there but unknown.
    let mut blind = host("550.54.15", &[]);
    blind.smi.message = Some("Failed to initialize NVML: Unknown Error".into());
    let verdict = judge(&blind, &plan, Some(&toolkit));
    assert_eq!(verdict.status(), Status::Unknown);
    assert!(!verdict.runs());
    assert!(verdict.diagnostics.iter().all(|d| d.level != Level::Error));

    // A build box builds the plan; it does not run it.
    let verdict = judge(&probe("build-box", &[]), &plan, Some(&toolkit));
    assert_eq!(verdict.status(), Status::NoGpu);
    assert!(!verdict.runs());
}

#[test]
fn ptx_too_new_for_the_driver_is_said_without_a_gpu_to_judge() {
    // R525 reads PTX ISA 8.0 at most; CUDA 12.8 writes 8.7. No GPU listed: the catalog's
    // floor for the ISA answers.
    let r = with_nvcc(host("525.147.05", &[]), "12.8");
    let w = find(&diagnose(&r), "runtime-newer-than-driver").clone();
    assert!(
        w.message.contains("ISA 8.7") && w.message.contains("ISA 8.0"),
        "{}",
        w.message
    );
    // The same words when a GPU is there to judge.
    let r = with_nvcc(host("525.147.05", &["A100"]), "12.8");
    let with_gpu = find(&diagnose(&r), "runtime-newer-than-driver").clone();
    assert_eq!(with_gpu.message, w.message);
}

#[test]
fn the_plan_uses_the_manifests_toolkit_else_the_probed_nvcc() {
    let r = with_nvcc(host("550.54.15", &["H100"]), "12.4");
    let t = toolkit_for(&r, &Manifest::default()).unwrap();
    assert_eq!(t.version, v("12.4"));
    assert_eq!(t.nvcc, Some(PathBuf::from("/usr/local/cuda/bin/nvcc")));
    assert_eq!(
        t.origin,
        ToolkitOrigin::Nvcc(PathBuf::from("/usr/local/cuda/bin/nvcc"))
    );
    let named = Manifest {
        cuda: Some(crate::manifest::Located::new(v("12.8"), None)),
        ..Manifest::default()
    };
    let t = toolkit_for(&r, &named).unwrap();
    assert_eq!((t.version, t.nvcc), (v("12.8"), None));
}

#[test]
fn tool_output_is_quoted_by_its_first_non_blank_lines() {
    assert_eq!(
        first_lines("\n  Failed to initialize NVML \n\nline 2\nline 3\nline 4\n"),
        "Failed to initialize NVML / line 2 / line 3"
    );
    assert_eq!(first_lines(" \n"), "(nothing)");
}
