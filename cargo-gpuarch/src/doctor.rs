//! `cargo gpuarch doctor`: what this machine has (driver, GPUs, libraries, compat folder,
//! toolkits, the variables that steer builds, container), what it means, and with
//! `--manifest` whether this host runs what the manifest plans. The probing and the
//! judgement live in `gpuarch_build::host`; this module renders them.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use gpuarch_build::deploy::matrix::driver_cuda;
use gpuarch_build::diagnostic::{Diagnostic, Level};
use gpuarch_build::host::{self, diagnose::EnvList, HostReport, HostVerdict, Probe};
use gpuarch_build::{plan, Error, Manifest, Plan, PlanRequest};
use serde_json::{json, Value};

use crate::render::{diagnostic_json, print_json, Output, SCHEMA_VERSION};
use crate::{load_manifest, only_text_or_json, Format, ManifestArgs};

#[derive(Args)]
pub struct DoctorArgs {
    /// Read the host's files under this directory instead of / (tools are still found on PATH).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Also judge whether this host runs what the manifest plans (the manifest found from the current directory; --manifest-path or --gpu imply it).
    #[arg(long)]
    manifest: bool,
    #[command(flatten)]
    manifest_args: ManifestArgs,
    /// Show how long each probe took.
    #[arg(long)]
    timings: bool,
    /// Ask every nvcc for its version, neither reading nor writing the cache.
    #[arg(long)]
    no_cache: bool,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The manifest's plan and this host's verdict on it.
struct Judged {
    manifest: Manifest,
    plan: Plan,
    verdict: HostVerdict,
    diagnostics: Vec<Diagnostic>,
}

pub fn run_doctor(args: DoctorArgs, out: &Output) -> u8 {
    if let Some(code) = only_text_or_json(args.format, out) {
        return code;
    }
    let mut probe = Probe::new(&args.root);
    if args.no_cache {
        probe = probe.with_cache_file(None);
    }
    let report = probe.probe();
    let mut diagnostics = host::diagnose(&report);
    let wants_verdict = args.manifest
        || args.manifest_args.manifest_path.is_some()
        || !args.manifest_args.gpus.is_empty();
    let judged = if wants_verdict {
        match judge_manifest(&args.manifest_args, &report) {
            Ok(j) => Some(j),
            Err(err) => return out.input_error(&err, args.format),
        }
    } else {
        None
    };
    if let Some(j) = &judged {
        diagnostics.extend(j.diagnostics.iter().cloned());
        gpuarch_build::diagnostic::sort_by_level(&mut diagnostics);
    }
    let lists = host::diagnose::env_lists(&report);
    match args.format {
        Format::Json => print_json(&doctor_json(&report, &lists, judged.as_ref(), &diagnostics)),
        _ => text(
            &report,
            &lists,
            judged.as_ref(),
            &diagnostics,
            args.timings,
            out,
        ),
    }
    u8::from(diagnostics.iter().any(|d| d.level == Level::Error))
}

fn judge_manifest(args: &ManifestArgs, report: &HostReport) -> Result<Judged, Error> {
    let manifest = load_manifest(args)?;
    let request = PlanRequest::from_manifest(&manifest, || host::toolkit_for(report, &manifest))?;
    let plan = plan::plan(&request);
    let verdict = host::judge(report, &plan.codes, Some(&plan.toolkit));
    let mut diagnostics: Vec<Diagnostic> = plan
        .diagnostics()
        .iter()
        .filter(|d| d.level == Level::Error)
        .cloned()
        .collect();
    diagnostics.extend(verdict.diagnostics.iter().cloned());
    diagnostics.extend(host::diagnose_targets(report, &plan.targets));
    Ok(Judged {
        manifest,
        plan,
        verdict,
        diagnostics,
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn codes_text(codes: &gpuarch_build::CodeSet) -> String {
    let names: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    names.join(" ")
}

fn text(
    r: &HostReport,
    lists: &[EnvList],
    judged: Option<&Judged>,
    diagnostics: &[Diagnostic],
    timings: bool,
    out: &Output,
) {
    let head = |t: &str| out.paint(t, "1");
    outln!("{} (root {})", head("gpuarch doctor"), r.root.display());

    outln!("\n{}", head("driver"));
    match &r.kernel_module {
        Some(m) if m.jetson => outln!(
            "  kernel module  Jetson Linux {} ({}{}): an integrated GPU, driven by Jetson Linux",
            m.version,
            if m.open { "open, " } else { "" },
            m.arch.as_deref().unwrap_or("?")
        ),
        Some(m) => outln!(
            "  kernel module  {} ({}{}){}",
            m.version,
            if m.open { "open" } else { "proprietary" },
            m.arch
                .as_deref()
                .map_or(String::new(), |a| format!(", {a}")),
            driver_cuda(m.version).map_or(String::new(), |c| format!(", supports CUDA {c}"))
        ),
        None if r.kernel_module_unreadable => {
            outln!("  kernel module  /proc/driver/nvidia/version has no NVRM version line")
        }
        None => outln!("  kernel module  none loaded (no /proc/driver/nvidia/version)"),
    }
    if let (Some(c), Some(v)) = (r.compat_in_use(), r.effective_driver()) {
        outln!(
            "  programs load  {v} (the compat driver in {}){}",
            c.host_dir,
            driver_cuda(v).map_or(String::new(), |c| format!(", supports CUDA {c}"))
        );
    }
    if !r.devices.is_empty() {
        let devices: Vec<String> = r.devices.iter().map(|d| format!("/dev/{d}")).collect();
        outln!("  devices        {}", devices.join(" "));
    }

    outln!("\n{}", head("GPUs"));
    match (&r.smi.path, &r.smi.message) {
        (None, _) if r.kernel_module.as_ref().is_some_and(|m| m.jetson) => {
            outln!("  nvidia-smi is not on PATH (Jetson Linux ships it from release 36, JetPack 6)")
        }
        (None, _) => outln!("  nvidia-smi is not on PATH"),
        (Some(p), Some(m)) => outln!("  {}: {m}", p.display()),
        (Some(p), None) if r.smi.gpus.is_empty() => outln!("  {} lists no GPU", p.display()),
        (Some(p), None) => {
            let driver = r
                .smi
                .driver
                .map_or(String::new(), |d| format!(", driver {d}"));
            outln!("  {}{driver}", p.display());
            for g in &r.smi.gpus {
                outln!(
                    "  {:28} {:5} x{}{}",
                    g.reported,
                    g.cc.map_or("?".to_string(), |c| c.to_string()),
                    g.count,
                    g.mig
                        .as_deref()
                        .map_or(String::new(), |m| format!(", MIG {m}"))
                );
            }
            if r.smi.compute_cap_from_catalog {
                outln!("  (the driver predates compute_cap (510): capabilities come from gpuarch's catalog)");
            }
            if let (true, Some(why)) = (r.smi.from_table, &r.smi.message) {
                outln!("  ({why})");
            }
        }
    }

    outln!("\n{}", head("driver libraries"));
    if r.libraries.is_empty() {
        outln!("  none found");
    }
    for l in &r.libraries {
        outln!(
            "  {:14} {:12} {}",
            l.name,
            l.version.to_string(),
            l.path.display()
        );
    }

    outln!("\n{}", head("compat"));
    match &r.compat {
        None => outln!("  no CUDA forward-compatibility folder"),
        Some(c) => {
            outln!(
                "  {}: driver {}{}",
                c.host_dir,
                c.version.map_or("unknown".to_string(), |v| v.to_string()),
                if c.on_library_path {
                    ", on LD_LIBRARY_PATH"
                } else {
                    ", not on LD_LIBRARY_PATH"
                }
            );
            outln!("  {}", c.decision);
        }
    }

    outln!("\n{}", head("toolkits"));
    if r.nvccs.is_empty() {
        outln!("  no nvcc (looked at NVCC, CUDA_HOME, CUDA_PATH, PATH, /usr/local/cuda/bin)");
    }
    for n in &r.nvccs {
        let what = match (&n.version, &n.error) {
            (Some(v), _) => format!(
                "CUDA {v}{}",
                n.build
                    .as_deref()
                    .map_or(String::new(), |b| format!(" ({b})"))
            ),
            (None, Some(e)) => e.clone(),
            (None, None) => "version unknown".to_string(),
        };
        outln!(
            "  {} {}  {what}  via {}{}",
            if n.used { "*" } else { " " },
            n.path.display(),
            n.how.name(),
            if n.cached { ", cached" } else { "" }
        );
    }
    if r.nvccs.iter().any(|n| n.used) {
        outln!("  (* the nvcc builds here use)");
    }

    outln!("\n{}", head("environment"));
    if r.env.is_empty() {
        outln!("  none of the variables that steer CUDA builds or containers is set");
    }
    for (name, value) in &r.env {
        outln!("  {name}={value}");
        if let Some(list) = lists.iter().find(|l| l.var == name) {
            if let Some(codes) = &list.codes {
                outln!("    builds {}", codes_text(codes));
            }
            for (t, v) in &list.host {
                outln!("    {} ({}): {}", t.name, t.cc, v.describe());
            }
        }
    }

    outln!("\n{}", head("container"));
    match &r.container {
        Some(c) => outln!("  {} ({})", c.runtime, c.evidence.join(", ")),
        None => outln!(
            "  not a container (no /.dockerenv, /run/.containerenv, KUBERNETES_SERVICE_HOST)"
        ),
    }

    if let Some(j) = judged {
        let files: Vec<String> = j
            .manifest
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        outln!(
            "\n{} ({}CUDA {}): {}",
            head("verdict"),
            if files.is_empty() {
                String::new()
            } else {
                format!("{}, ", files.join(", "))
            },
            j.plan.toolkit.version,
            codes_text(&j.plan.codes)
        );
        if j.verdict.fleet.groups.is_empty() {
            outln!("  nothing judged");
        }
        for g in &j.verdict.fleet.groups {
            if g.gpus.is_empty() {
                outln!("  {}: {}", g.status.name(), g.reason);
            }
            for gpu in &g.gpus {
                outln!(
                    "  {} ({}): {}, {}",
                    gpu.name,
                    gpu.cc.map_or("?".to_string(), |c| c.to_string()),
                    gpu.status.name(),
                    gpu.reason
                );
            }
        }
    }

    if !diagnostics.is_empty() {
        outln!();
    }
    for d in diagnostics {
        outln!("{}", out.diagnostic_text(d));
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    let warnings = diagnostics
        .iter()
        .filter(|d| d.level == Level::Warning)
        .count();
    let summary = if errors > 0 {
        out.paint(
            &format!("FAILED: {errors} error(s), {warnings} warning(s)"),
            "1;31",
        )
    } else {
        out.paint(&format!("ok: {warnings} warning(s)"), "1;32")
    };
    outln!("\n{summary}");

    if timings {
        outln!("\n{}", head("timings"));
        for t in &r.timings {
            outln!("  {:8.2} ms  {}", ms(t.took), t.probe);
        }
    }
}

fn doctor_json(
    r: &HostReport,
    lists: &[EnvList],
    judged: Option<&Judged>,
    diagnostics: &[Diagnostic],
) -> Value {
    let driver = r.driver();
    let effective = r.effective_driver();
    json!({
        "schema_version": SCHEMA_VERSION,
        "ok": !diagnostics.iter().any(|d| d.level == Level::Error),
        "root": r.root.display().to_string(),
        "driver": {
            "version": driver.map(|d| d.to_string()),
            "cuda": driver.and_then(driver_cuda).map(|c| c.to_string()),
            // What CUDA programs load: the compat driver where it is in use.
            "effective": effective.map(|d| d.to_string()),
            "effective_cuda": effective.and_then(driver_cuda).map(|c| c.to_string()),
            "kernel_module": r.kernel_module.as_ref().map(|m| json!({
                "version": m.version.to_string(),
                "open": m.open,
                "arch": m.arch,
                "jetson": m.jetson,
                "gcc": m.gcc,
                "line": m.line,
            })),
            "devices": r.devices.iter().map(|d| format!("/dev/{d}")).collect::<Vec<_>>(),
        },
        "nvidia_smi": {
            "path": r.smi.path.as_ref().map(|p| p.display().to_string()),
            "driver": r.smi.driver.map(|d| d.to_string()),
            "error": r.smi.message,
            "compute_cap_from_catalog": r.smi.compute_cap_from_catalog,
            "from_table": r.smi.from_table,
            "gpus": r.smi.gpus.iter().map(|g| json!({
                "name": g.name(),
                "reported": g.reported,
                "cc": g.cc.map(|c| c.to_string()),
                "count": g.count,
                "mig": g.mig,
            })).collect::<Vec<_>>(),
        },
        "libraries": r.libraries.iter().map(|l| json!({
            "name": l.name,
            "path": l.path.display().to_string(),
            "version": l.version.to_string(),
        })).collect::<Vec<_>>(),
        "compat": r.compat.as_ref().map(|c| json!({
            "dir": c.host_dir,
            "version": c.version.map(|v| v.to_string()),
            "on_library_path": c.on_library_path,
            "enables": c.decision.enables_compat(),
            "decision": c.decision.to_string(),
        })),
        "toolkits": r.nvccs.iter().map(|n| json!({
            "path": n.path.display().to_string(),
            "how": n.how.name(),
            "version": n.version.map(|v| v.to_string()),
            "build": n.build,
            "error": n.error,
            "used": n.used,
            "cached": n.cached,
            "ms": ms(n.took),
        })).collect::<Vec<_>>(),
        "environment": r.env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "arch_variables": lists.iter().map(|l| json!({
            "name": l.var,
            "value": l.value,
            "dialect": l.dialect.name(),
            "codes": l.codes.as_ref().map(|c| c.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
            "error": l.error.as_ref().map(|e| e.message.clone()),
            "host": l.host.iter().map(|(t, v)| json!({
                "gpu": t.name,
                "cc": t.cc.to_string(),
                "runs": v.runs(),
                "verdict": v.describe(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "container": r.container.as_ref().map(|c| json!({
            "runtime": c.runtime,
            "evidence": c.evidence,
        })),
        "verdict": judged.map(|j| json!({
            "manifest": j.manifest.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "cuda": j.plan.toolkit.version.to_string(),
            "codes": j.plan.codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "status": j.verdict.status().name(),
            "runs": j.verdict.runs(),
            "groups": j.verdict.fleet.groups.iter().map(crate::fleet::group_json).collect::<Vec<_>>(),
        })),
        "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
        "timings": r.timings.iter().map(|t| json!({"probe": t.probe, "ms": ms(t.took)})).collect::<Vec<_>>(),
    })
}
