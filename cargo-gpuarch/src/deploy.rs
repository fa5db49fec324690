//! The deployment commands: `deploy`, `image`, `dockerfile`, `require`. Arguments in,
//! library calls, text or JSON out.

use std::path::PathBuf;

use clap::Args;
use gpuarch_build::deploy::{self, facts, matrix, recommend, require, Deployment, Fix, Matrix};
use gpuarch_build::diagnostic::Diagnostic;
use gpuarch_build::manifest::{Located, Manifest};
use gpuarch_build::{plan, Error, Version};
use serde_json::{json, Value};

use crate::render::{diagnostic_json, print_json, Output, SCHEMA_VERSION};
use crate::{
    load_manifest, load_manifest_or_flags, only_text_or_json, parse_version, request_for, Format,
    ManifestArgs,
};

/// What the deployment commands take besides the manifest options.
#[derive(Args, Clone)]
pub struct DeploymentArgs {
    /// The PyTorch release (`1.12.1`, `2.4.1+cu121`); replaces the manifest's `[torch]`.
    #[arg(long, value_name = "VERSION")]
    torch: Option<String>,
    /// The base image (`nvidia/cuda:12.4.1-runtime-ubuntu22.04`); replaces `[image] ref`.
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    /// The CUDA version of an image that is not nvidia/cuda.
    #[arg(long, value_name = "VERSION")]
    image_cuda: Option<String>,
}

#[derive(Args)]
pub struct DeployArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// How many fixes to list.
    #[arg(long, default_value_t = 5)]
    fixes: usize,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
pub struct ImageArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// The flavor: base, runtime, devel, cudnn-runtime, cudnn-devel (default: the manifest's, else runtime).
    #[arg(long)]
    flavor: Option<String>,
    /// The OS as the tag spells it (ubuntu22.04, ubi9, ...; default: the manifest's, else the newest Ubuntu).
    #[arg(long)]
    os: Option<String>,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
pub struct DockerfileArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// The run stage's flavor (default: the manifest's, else runtime).
    #[arg(long)]
    flavor: Option<String>,
    /// The OS as the tag spells it (default: the manifest's, else the newest Ubuntu).
    #[arg(long)]
    os: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct RequireArgs {
    /// The requirement to evaluate (an NVIDIA_REQUIRE_CUDA value); without it, generate one for the manifest.
    #[arg(long, value_name = "REQUIREMENT")]
    eval: Option<String>,
    /// The host driver (evaluation).
    #[arg(long, value_name = "VERSION")]
    driver: Option<String>,
    /// The host's CUDA version as the driver reports it (default: from --driver).
    #[arg(long = "host-cuda", value_name = "VERSION")]
    host_cuda: Option<String>,
    /// The GPU's brand as NVML reports it (default: from --gpu).
    #[arg(long)]
    brand: Option<String>,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    deployment: DeploymentArgs,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The manifest with the deployment flags applied.
fn load(args: &ManifestArgs, d: &DeploymentArgs) -> Result<Manifest, Error> {
    let flags_suffice = d.torch.is_some() || d.image.is_some() || args.cuda.is_some();
    let mut manifest = load_manifest_or_flags(args, flags_suffice)?;
    if let Some(t) = &d.torch {
        manifest.torch.version = Some(Located::bare(t.clone()));
        manifest.torch.variant = None;
    }
    if let Some(i) = &d.image {
        manifest.image.reference = Some(Located::bare(i.clone()));
    }
    if let Some(c) = &d.image_cuda {
        manifest.image.cuda = Some(Located::bare(parse_version("--image-cuda", c)?));
    }
    Ok(manifest)
}

pub fn run_deploy(args: DeployArgs, out: &Output) -> u8 {
    if let Some(code) = crate::text_json_or_pipeline(args.format, out) {
        return code;
    }
    let resolved =
        load(&args.manifest, &args.deployment).and_then(|m| deploy::deployment(&m).map(|d| (m, d)));
    let (manifest, d) = match resolved {
        Ok(r) => r,
        Err(err) => return out.input_error(&err, args.format),
    };
    let judged = deploy::matrix(&d);
    let fixes = if judged.passes() {
        Vec::new()
    } else {
        deploy::fixes(&d, args.fixes)
    };
    let notes: Vec<String> = d
        .image
        .iter()
        .flat_map(|i| {
            i.note
                .clone()
                .into_iter()
                .chain(deploy::image_lifecycle(i).map(|(_, n)| n))
        })
        .collect();
    if args.format.is_pipeline() {
        return out.pipeline(
            &deploy_outcome(&manifest, &judged, &fixes, &notes),
            args.format,
        );
    }
    if args.format == Format::Json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "command": "deploy",
            "ok": judged.passes(),
            "manifest": manifest.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "deployment": deployment_json(&d),
            "matrix": matrix_json(&judged),
            "fixes": fixes.iter().map(fix_json).collect::<Vec<_>>(),
            "notes": notes,
        }));
    } else {
        outln!("{}", out.paint("gpuarch deploy", "1"));
        describe(&d);
        outln!();
        print_matrix(&judged, out);
        for n in &notes {
            outln!("\nnote: {n}");
        }
        if !judged.passes() {
            if fixes.is_empty() {
                outln!("\nno combination in the catalog passes every check");
            } else {
                outln!("\nfixes, nearest first:");
                for (i, f) in fixes.iter().enumerate() {
                    let changes: Vec<String> = f
                        .changes
                        .iter()
                        .map(|c| format!("{} {} -> {}", c.what, shown(&c.from), c.to))
                        .collect();
                    outln!("  {}. {}", i + 1, changes.join("; "));
                    for r in f.matrix.rows.iter().filter(|r| touched(f, r.relation)) {
                        outln!("     {}: {}", r.relation.title(), r.reason);
                    }
                }
            }
        }
        let verdict = if judged.passes() {
            out.paint("every relation passes", "1;32")
        } else {
            out.paint(&format!("{} relation(s) fail", judged.failures()), "1;31")
        };
        outln!("\n{verdict}");
    }
    u8::from(!judged.passes())
}

/// Whether a fix's changes bear on a relation (to show the rows that explain it).
fn touched(f: &Fix, relation: matrix::Relation) -> bool {
    use matrix::Relation::*;
    f.changes.iter().any(|c| match c.what {
        "torch" => matches!(relation, TorchVsCuda | TorchVsGpu),
        "image" => matches!(relation, ImageVsDriver | CudaVsGpu),
        _ => matches!(relation, ImageVsDriver | TorchVsCuda | DriverVsGpu),
    })
}

fn shown(s: &str) -> &str {
    if s.is_empty() {
        "(none)"
    } else {
        s
    }
}

fn describe(d: &Deployment) {
    let gpus: Vec<String> = d
        .gpus
        .iter()
        .map(|g| format!("{} ({})", g.name, g.cc))
        .collect();
    if !gpus.is_empty() {
        outln!("  GPUs: {}", gpus.join(", "));
    }
    if let Some(v) = d.driver {
        outln!("  host driver: {v}");
    }
    if let Some(w) = &d.wheel {
        outln!(
            "  PyTorch: {} (bundles CUDA {})",
            w.spelled(),
            w.variant.cuda
        );
    }
    if let Some(i) = &d.image {
        outln!("  image: {} (CUDA {})", i.reference, i.cuda);
    }
    if let Some(t) = d.toolkit {
        outln!("  toolkit: CUDA {t}");
    }
}

fn print_matrix(m: &Matrix, out: &Output) {
    for r in &m.rows {
        let status = match r.status {
            matrix::Status::Pass => out.paint("pass", "32"),
            matrix::Status::Fail => out.paint("FAIL", "1;31"),
            matrix::Status::Warn => out.paint("warn", "33"),
            matrix::Status::Unknown => out.paint("unknown", "36"),
        };
        let gpu = r.gpu.as_ref().map_or(String::new(), |g| format!(" [{g}]"));
        outln!("  {status:<4}  {}{gpu}: {}", r.relation.title(), r.reason);
    }
}

fn deployment_json(d: &Deployment) -> Value {
    json!({
        "gpus": d.gpus.iter().map(|g| json!({"name": g.name, "cc": g.cc.to_string()})).collect::<Vec<_>>(),
        "min_driver": d.driver.map(|v| v.to_string()),
        "torch": d.wheel.map(|w| json!({
            "version": w.version.to_string(),
            "variant": w.variant.tag,
            "cuda": w.variant.cuda.to_string(),
        })),
        "image": d.image.as_ref().map(|i| json!({"ref": i.reference, "cuda": i.cuda.to_string()})),
        "toolkit": d.toolkit.map(|t| t.to_string()),
    })
}

fn matrix_json(m: &Matrix) -> Value {
    Value::Array(
        m.rows
            .iter()
            .map(|r| {
                json!({
                    "relation": r.relation.name(),
                    "status": r.status.name(),
                    "gpu": r.gpu,
                    "reason": r.reason,
                    "facts": r.facts,
                    "forward_compat": r.forward_compat,
                })
            })
            .collect(),
    )
}

fn fix_json(f: &Fix) -> Value {
    json!({
        "changes": f.changes.iter().map(|c| json!({"what": c.what, "from": c.from, "to": c.to})).collect::<Vec<_>>(),
        "cost": {"changes": f.cost.0, "distance": f.cost.1},
        "matrix": matrix_json(&f.matrix),
    })
}

pub fn run_image(args: ImageArgs, out: &Output) -> u8 {
    if let Some(code) = only_text_or_json(args.format, out) {
        return code;
    }
    let resolved =
        load(&args.manifest, &args.deployment).and_then(|m| deploy::deployment(&m).map(|d| (m, d)));
    let (manifest, d) = match resolved {
        Ok(r) => r,
        Err(err) => return out.input_error(&err, args.format),
    };
    let flavor = args
        .flavor
        .or_else(|| manifest.image.flavor.as_ref().map(|f| f.value.clone()))
        .unwrap_or_else(|| "runtime".to_string());
    let os = args
        .os
        .or_else(|| manifest.image.os.as_ref().map(|o| o.value.clone()));
    let named = d.image.as_ref().and_then(deploy::image_lifecycle);
    match recommend::recommend(&d, &flavor, os.as_deref()) {
        Ok(r) => {
            if args.format == Format::Json {
                print_json(&json!({
                    "schema_version": SCHEMA_VERSION,
                    "command": "image",
                    "ok": true,
                    "image": r.image.reference,
                    "cuda": r.image.cuda.to_string(),
                    "flavor": r.flavor,
                    "os": r.os,
                    "require_cuda": r.image.require_cuda,
                    "reasons": r.reasons,
                    "passed_over": r.passed_over.iter().map(|(s, why)| json!({"image": s, "why": why})).collect::<Vec<_>>(),
                    "named_image_note": named.as_ref().map(|(_, n)| n),
                }));
            } else {
                outln!("{}", r.image.reference);
                for reason in &r.reasons {
                    outln!("  {reason}");
                }
                for (set, why) in r.passed_over.iter().take(3) {
                    outln!("  passed over CUDA {set}: {why}");
                }
                if let Some((_, n)) = &named {
                    outln!("note: {n}");
                }
            }
            0
        }
        Err(why) => {
            let d = Diagnostic::error("no-image", why)
                .with_help("lower the toolkit or PyTorch variant, or raise min-driver (`cargo gpuarch deploy` shows the relations)");
            if args.format == Format::Json {
                print_json(
                    &json!({"schema_version": SCHEMA_VERSION, "command": "image", "ok": false, "diagnostics": [diagnostic_json(&d)]}),
                );
            } else {
                outln!("{}", out.diagnostic_text(&d));
            }
            1
        }
    }
}

pub fn run_dockerfile(args: DockerfileArgs, out: &Output) -> u8 {
    let resolved =
        load(&args.manifest, &args.deployment).and_then(|m| deploy::deployment(&m).map(|d| (m, d)));
    let (manifest, d) = match resolved {
        Ok(r) => r,
        Err(err) => return out.input_error(&err, Format::Text),
    };
    let flavor = args
        .flavor
        .or_else(|| manifest.image.flavor.as_ref().map(|f| f.value.clone()))
        .unwrap_or_else(|| "runtime".to_string());
    let os = args
        .os
        .or_else(|| manifest.image.os.as_ref().map(|o| o.value.clone()));
    // The run image: the one named, else the recommendation; the build image: the
    // devel flavor of the same release set.
    let run = match &d.image {
        Some(i) => i.clone(),
        None => match recommend::recommend(&d, &flavor, os.as_deref()) {
            Ok(r) => r.image,
            Err(why) => {
                out.diagnostic(&Diagnostic::error("no-image", why));
                return 1;
            }
        },
    };
    let build = match recommend::recommend(
        &Deployment {
            image: None,
            ..d.clone()
        },
        "devel",
        os.as_deref(),
    ) {
        Ok(r) if r.image.cuda == run.cuda => r.image,
        _ => deploy::devel_of(&run).unwrap_or_else(|| run.clone()),
    };
    let plan = load_manifest(&ManifestArgs {
        cuda: args
            .manifest
            .cuda
            .clone()
            .or_else(|| Some(format!("{}.{}", build.cuda.major, build.cuda.minor))),
        ..args.manifest.clone()
    })
    .and_then(|manifest| request_for(&manifest))
    .ok()
    .map(|request| plan::plan(&request));
    let forward_compat = deploy::needs_forward_compat(&d, &run);
    // The Dockerfile is written either way; a deployment that fails says so, on stderr
    // and in the file, and exits 1.
    let judged = deploy::matrix(&Deployment {
        image: Some(run.clone()),
        ..d.clone()
    });
    for r in judged
        .rows
        .iter()
        .filter(|r| r.status == matrix::Status::Fail)
    {
        out.diagnostic(
            &Diagnostic::error(
                "deploy-fails",
                format!("{}: {}", r.relation.title(), r.reason),
            )
            .with_help("`cargo gpuarch deploy` lists the nearest fixes"),
        );
    }
    let origin = manifest
        .files
        .first()
        .map_or("the command line".to_string(), |f| f.display().to_string());
    let text = deploy::dockerfile::dockerfile(&deploy::dockerfile::Spec {
        plan: plan.as_ref(),
        build: &build,
        run: &run,
        wheel: d.wheel.as_ref(),
        forward_compat,
        origin,
    });
    let text = if judged.passes() {
        text
    } else {
        let warning: String = judged
            .rows
            .iter()
            .filter(|r| r.status == matrix::Status::Fail)
            .map(|r| format!("# WARNING: {}: {}\n", r.relation.title(), r.reason))
            .collect();
        format!("{warning}{text}")
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                out.diagnostic(&Diagnostic::error(
                    "bad-artifact",
                    format!("cannot write {}: {e}", path.display()),
                ));
                return 2;
            }
        }
        None => outln!("{}", text.trim_end()),
    }
    u8::from(!judged.passes())
}

pub fn run_require(args: RequireArgs, out: &Output) -> u8 {
    if let Some(code) = only_text_or_json(args.format, out) {
        return code;
    }
    match &args.eval {
        Some(text) => eval_requirement(&args, text, out),
        None => generate_requirement(&args, out),
    }
}

fn eval_requirement(args: &RequireArgs, text: &str, out: &Output) -> u8 {
    let setup = (|| -> Result<_, Error> {
        let parsed = require::parse(text).map_err(|e| {
            Error::invalid(
                Diagnostic::error("bad-requirement", format!("`{text}`: {e}")).with_help(
                    "write it as the image does: `cuda>=12.4 brand=tesla,driver>=535,driver<536`",
                ),
            )
        })?;
        let driver = args
            .driver
            .as_deref()
            .map(|v| parse_version("--driver", v))
            .transpose()?;
        let host_cuda = match &args.host_cuda {
            Some(v) => Some(parse_version("--host-cuda", v)?),
            None => driver.and_then(matrix::driver_cuda),
        };
        let gpus = gpuarch_build::target::resolve(
            &args
                .manifest
                .gpus
                .iter()
                .map(|g| Located::bare(g.clone()))
                .collect::<Vec<_>>(),
            None,
        )
        .or_else(|e| {
            if args.manifest.gpus.is_empty() {
                Ok(Vec::new())
            } else {
                Err(e)
            }
        })?;
        Ok((parsed, driver, host_cuda, gpus))
    })();
    let (parsed, driver, host_cuda, gpus) = match setup {
        Ok(s) => s,
        Err(err) => return out.input_error(&err, args.format),
    };
    let hosts: Vec<(String, require::Host)> = if gpus.is_empty() {
        vec![(
            "the host".to_string(),
            require::Host {
                cuda: host_cuda,
                driver,
                arch: None,
                brand: args.brand.clone(),
            },
        )]
    } else {
        gpus.iter()
            .map(|g| {
                (
                    format!("{} ({})", g.name, g.cc),
                    require::Host {
                        cuda: host_cuda,
                        driver,
                        arch: Some(g.cc),
                        brand: args
                            .brand
                            .clone()
                            .or_else(|| matrix::brand_of(g).map(str::to_string)),
                    },
                )
            })
            .collect()
    };
    let mut all = true;
    let mut results = Vec::new();
    for (name, host) in &hosts {
        let e = parsed.evaluate(host);
        all &= e.satisfied;
        results.push((name.clone(), host.clone(), e));
    }
    if args.format == Format::Json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "command": "require",
            "ok": all,
            "requirement": text,
            "hosts": results.iter().map(|(name, host, e)| json!({
                "host": name,
                "cuda": host.cuda.map(|v| v.to_string()),
                "driver": host.driver.map(|v| v.to_string()),
                "brand": host.brand,
                "satisfied": e.satisfied,
                "matched": e.matched_term,
                "unknown": e.unknown,
                "message": e.message,
            })).collect::<Vec<_>>(),
        }));
    } else {
        for (name, host, e) in &results {
            let facts = format!(
                "cuda {}, driver {}, brand {}",
                host.cuda.map_or("?".into(), |v| v.to_string()),
                host.driver.map_or("?".into(), |v| v.to_string()),
                host.brand.as_deref().unwrap_or("?")
            );
            if e.satisfied {
                outln!(
                    "{} {name} ({facts}): {}",
                    out.paint("starts", "32"),
                    e.matched_term
                        .as_deref()
                        .map_or("satisfied".to_string(), |m| format!("satisfies `{m}`"))
                );
            } else {
                outln!(
                    "{} {name} ({facts}): nvidia-container-cli: requirement error: {}",
                    out.paint("refused", "1;31"),
                    e.message.as_deref().unwrap_or("unsatisfied condition")
                );
            }
        }
    }
    u8::from(!all)
}

fn generate_requirement(args: &RequireArgs, out: &Output) -> u8 {
    let resolved =
        load(&args.manifest, &args.deployment).and_then(|m| deploy::deployment(&m).map(|d| (m, d)));
    let (_, d) = match resolved {
        Ok(r) => r,
        Err(err) => return out.input_error(&err, args.format),
    };
    let Some(cuda) = d.image.as_ref().map(|i| i.cuda).or(d.toolkit) else {
        return out.input_error(
            &Error::invalid(
                Diagnostic::error(
                    "bad-requirement",
                    "no CUDA version to require: name an image or a toolkit",
                )
                .with_help(
                    "pass --image nvidia/cuda:... or --cuda 12.4 (or set them in the manifest)",
                ),
            ),
            args.format,
        );
    };
    let branches = compat_branches(cuda, d.driver);
    let text = require::generate(&cuda, &branches, require::DATACENTER_BRANDS);
    if args.format == Format::Json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "command": "require",
            "ok": true,
            "cuda": cuda.to_string(),
            "compat_branches": branches,
            "requirement": text,
        }));
    } else {
        outln!("NVIDIA_REQUIRE_CUDA=\"{text}\"");
    }
    0
}

/// The driver branches a CUDA image can start on through forward compatibility: those
/// NVIDIA supports it on, older than the CUDA they would run, and not below the fleet's
/// floor.
fn compat_branches(cuda: Version, floor: Option<Version>) -> Vec<u32> {
    facts::driver_branches()
        .iter()
        .filter(|b| b.forward_compat)
        .filter(|b| b.cuda < Version::major_minor(cuda.major, cuda.minor))
        .filter(|b| floor.is_none_or(|f| b.branch >= f.major))
        .map(|b| b.branch)
        .collect()
}

/// The deployment matrix as a CI outcome: one case per relation row, the nearest fix as
/// the failures' help.
fn deploy_outcome(
    manifest: &Manifest,
    judged: &Matrix,
    fixes: &[Fix],
    notes: &[String],
) -> crate::pipeline::Outcome {
    use crate::pipeline::{Case, CaseStatus, Outcome};
    let fix = fixes.first().map(|f| {
        f.changes
            .iter()
            .map(|c| format!("{} {} -> {}", c.what, shown(&c.from), c.to))
            .collect::<Vec<_>>()
            .join("; ")
    });
    let cases = judged
        .rows
        .iter()
        .map(|r| Case {
            suite: "relations".into(),
            name: match &r.gpu {
                Some(gpu) => format!("{} ({gpu})", r.relation.title()),
                None => r.relation.title().to_string(),
            },
            status: match r.status {
                matrix::Status::Pass => CaseStatus::Pass,
                matrix::Status::Warn => CaseStatus::Warn,
                matrix::Status::Fail => CaseStatus::Fail,
                matrix::Status::Unknown => CaseStatus::Skip,
            },
            detail: r.reason.clone(),
            location: None,
        })
        .collect();
    let diagnostics = judged
        .rows
        .iter()
        .filter(|r| r.status == matrix::Status::Fail)
        .map(|r| {
            let d = Diagnostic::error(
                "deploy-fails",
                format!("{}: {}", r.relation.title(), r.reason),
            );
            match &fix {
                Some(f) => d.with_help(format!("nearest fix: {f}")),
                None => d.with_help("no combination in the catalog passes every check"),
            }
        })
        .collect();
    Outcome {
        command: "deploy",
        title: format!(
            "gpuarch deploy: {} of {} relations pass",
            judged.rows.len() - judged.failures(),
            judged.rows.len()
        ),
        ok: judged.passes(),
        cases,
        diagnostics,
        outputs: fix.iter().map(|f| ("fix".to_string(), f.clone())).collect(),
        details: notes
            .iter()
            .map(|n| ("note".to_string(), n.clone()))
            .collect(),
        source: manifest.files.first().cloned(),
    }
}
