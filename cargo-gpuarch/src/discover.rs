//! Discovery: `cargo gpuarch catalog TABLE [QUERY] [--where ...]` and
//! `cargo gpuarch explain [CODE | gpu NAME...]`.
//!
//! `--where` filters the very row objects `--format json` prints, so the text table and
//! the JSON always hold the same rows.

use gpuarch_build::catalog::query::{self, Kind, Query, TableSpec};
use gpuarch_build::catalog::{self, GpuInfo, Os};
use gpuarch_build::deploy::facts::{self, DriverBranch};
use gpuarch_build::deploy::profile::{self, GpuProfile, WheelGroup, WheelScope};
use gpuarch_build::diagnostic::{self, Diagnostic};
use gpuarch_build::{Code, Error, Variant, Verdict};
use serde_json::{json, Value};

use crate::render::{print_json, Output, SCHEMA_VERSION};
use crate::{CatalogTable, Format};

/// `cargo gpuarch catalog TABLE [QUERY] [--where CONDITIONS]`.
pub fn catalog(
    table: CatalogTable,
    query: Option<&str>,
    conditions: Option<&str>,
    format: Format,
    out: &Output,
) -> u8 {
    let spec = table_spec(table);
    let filter = match conditions.map(|c| Query::parse(c, spec)).transpose() {
        Ok(f) => f,
        Err(d) => return out.input_error(&Error::invalid(d), format),
    };
    let mut rows = rows(table, query);
    if rows.is_empty() {
        if let Some(q) = query {
            out.diagnostic(
                &Diagnostic::error(
                    "unknown-gpu",
                    format!("nothing in the catalog matches `{q}`"),
                )
                .with_help("run the same command without a query to see every row"),
            );
            return 2;
        }
    }
    if let Some(filter) = &filter {
        rows.retain(|row| filter.matches(&|field| field_value(table, row, field)));
        if rows.is_empty() && format != Format::Json {
            eprintln!(
                "no {} match --where `{}`",
                spec.name,
                conditions.unwrap_or_default()
            );
        }
    }
    match format {
        Format::Json => print_json(&Value::Array(rows)),
        _ => {
            for row in &rows {
                outln!("{}", catalog_line(table, row));
            }
        }
    }
    0
}

fn table_spec(table: CatalogTable) -> &'static TableSpec {
    match table {
        CatalogTable::Gpus => &query::GPUS,
        CatalogTable::Toolkits => &query::TOOLKITS,
        CatalogTable::Archs => &query::ARCHS,
        CatalogTable::Torch => &query::TORCH,
        CatalogTable::Images => &query::IMAGES,
        CatalogTable::Drivers => &query::DRIVERS,
    }
}

/// Where a queryable field sits in the table's JSON row: its own name unless listed here.
/// `[]` reads every item of an array.
fn field_path(table: CatalogTable, field: &str) -> &str {
    match (table, field) {
        (CatalogTable::Toolkits, "driver") => "driver.linux",
        (CatalogTable::Toolkits, "driver_windows") => "driver.windows",
        (CatalogTable::Toolkits, "min_driver") => "min_driver_minor_compat.linux",
        (CatalogTable::Toolkits, "targets") => "real_targets",
        (CatalogTable::Toolkits, "ptx_targets") => "virtual_targets",
        (CatalogTable::Torch, "variants") => "variants[].tag",
        (CatalogTable::Torch, "cuda") => "variants[].cuda",
        (CatalogTable::Torch, "sass") => "variants[].sass",
        (CatalogTable::Torch, "ptx") => "variants[].ptx",
        _ => field,
    }
}

/// A row's value of one field, typed as the field's kind.
fn field_value(table: CatalogTable, row: &Value, field: &str) -> Option<query::Value> {
    let spec = table_spec(table).field(field)?;
    let mut found: Vec<&Value> = vec![row];
    let mut many = spec.list;
    for step in field_path(table, field).split('.') {
        let (key, each) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (step, false),
        };
        let next: Vec<&Value> = found.iter().filter_map(|v| v.get(key)).collect();
        found = if each {
            many = true;
            next.iter().filter_map(|v| v.as_array()).flatten().collect()
        } else {
            next
        };
    }
    let mut values: Vec<query::Value> = Vec::new();
    for v in found {
        match v {
            Value::Array(items) => {
                many = true;
                values.extend(items.iter().filter_map(|i| json_value(spec.kind, i)));
            }
            other => values.extend(json_value(spec.kind, other)),
        }
    }
    if many {
        Some(query::Value::List(values))
    } else {
        values.into_iter().next()
    }
}

fn json_value(kind: Kind, v: &Value) -> Option<query::Value> {
    match v {
        Value::String(s) => kind.read(s),
        Value::Number(n) => n.as_i64().map(query::Value::Number),
        Value::Bool(b) => Some(query::Value::Bool(*b)),
        _ => None,
    }
}

fn rows(table: CatalogTable, query: Option<&str>) -> Vec<Value> {
    match table {
        CatalogTable::Gpus => catalog_gpus(query),
        CatalogTable::Toolkits => catalog_toolkits(query),
        CatalogTable::Archs => catalog_archs(query),
        CatalogTable::Torch => catalog_torch(query),
        CatalogTable::Images => catalog_images(query),
        CatalogTable::Drivers => catalog_drivers(query),
    }
}

fn matches(query: Option<&str>, fields: &[String]) -> bool {
    let Some(q) = query else { return true };
    let q = catalog::fold_name(q);
    fields.iter().any(|f| {
        let f = catalog::fold_name(f);
        f == q || f.contains(&q)
    })
}

fn gpu_json(g: &GpuInfo) -> Value {
    json!({
        "name": g.name,
        "aliases": g.aliases,
        "cc": g.cc.to_string(),
        "architecture": g.architecture,
        "integrated": g.integrated,
        "segment": g.segment,
        "source": g.source,
    })
}

fn catalog_gpus(query: Option<&str>) -> Vec<Value> {
    let found = query.and_then(catalog::find_gpu);
    catalog::gpus()
        .iter()
        .filter(|g| {
            found.is_some_and(|f| std::ptr::eq(f, *g))
                || matches(
                    query,
                    &[
                        g.name.to_string(),
                        g.architecture.to_string(),
                        g.cc.to_string(),
                    ],
                )
                || g.aliases.iter().any(|a| matches(query, &[a.to_string()]))
        })
        .map(gpu_json)
        .collect()
}

fn catalog_toolkits(query: Option<&str>) -> Vec<Value> {
    catalog::toolkits()
        .iter()
        .filter(|t| {
            query.is_none_or(|q| {
                let v = t.version.to_string();
                v == q || v.starts_with(&format!("{q}."))
            })
        })
        .map(|t| {
            let names = |arches: &[gpuarch_build::Arch], prefix: &str| -> Vec<String> {
                arches.iter().map(|a| format!("{prefix}{}", a.number())).collect()
            };
            json!({
                "version": t.version.to_string(),
                "real_targets": names(t.real_targets, "sm_"),
                "virtual_targets": names(t.virtual_targets, "compute_"),
                "ptx_isa": t.ptx_isa.to_string(),
                "driver": {
                    "linux": t.driver_linux.map(|d| d.to_string()),
                    "windows": t.driver_windows.map(|d| d.to_string()),
                },
                "min_driver_minor_compat": {
                    "linux": catalog::runtime_min_driver(t.version, Os::Linux).map(|d| d.to_string()),
                    "windows": catalog::runtime_min_driver(t.version, Os::Windows).map(|d| d.to_string()),
                },
                "pypi_nvcc": t.pypi_nvcc,
                "source": t.source,
            })
        })
        .collect()
}

fn catalog_archs(query: Option<&str>) -> Vec<Value> {
    catalog::known_archs()
        .into_iter()
        .filter(|a| {
            query.is_none_or(|q| {
                let q = q.trim();
                let q = q
                    .strip_prefix("sm_")
                    .or_else(|| q.strip_prefix("compute_"))
                    .unwrap_or(q);
                a.number() == q
                    || a.dotted() == q
                    || a.cc.to_string() == q
                    || a.cc.number().to_string() == q
            })
        })
        .map(|a| {
            let code = Code::sass(a);
            let range = catalog::toolkit_range(code);
            let gpus: Vec<&str> = catalog::gpus_with_cc(a.cc).map(|g| g.name).collect();
            json!({
                "arch": code.to_string(),
                "virtual": format!("compute_{}", a.number()),
                "cc": a.cc.to_string(),
                "variant": match a.variant {
                    Variant::Plain => "plain",
                    Variant::Family => "family",
                    Variant::Specific => "arch-specific",
                },
                "first_toolkit": range.map(|(f, _)| f.version.to_string()),
                "last_toolkit": range.map(|(_, l)| l.version.to_string()),
                "gpus": gpus,
            })
        })
        .collect()
}

/// A version query matches itself and what it prefixes (`12` matches 12.4.1).
fn version_matches(version: &str, query: Option<&str>) -> bool {
    query.is_none_or(|q| version == q || version.starts_with(&format!("{q}.")))
}

fn catalog_torch(query: Option<&str>) -> Vec<Value> {
    let ccs = |v: &[gpuarch_build::Cc]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    facts::torch_releases()
        .iter()
        .filter(|r| version_matches(&r.version.to_string(), query))
        .map(|r| {
            json!({
                "version": r.version.to_string(),
                "patches": r.patches.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "python": r.python,
                "pypi_default": r.pypi_default,
                "variants": r.variants.iter().map(|v| json!({
                    "tag": v.tag,
                    "cuda": v.cuda.to_string(),
                    "sass": ccs(&v.sass),
                    "ptx": ccs(&v.ptx),
                    "measured": v.measured,
                    "source": v.source,
                })).collect::<Vec<_>>(),
                "source": r.source,
            })
        })
        .collect()
}

fn catalog_images(query: Option<&str>) -> Vec<Value> {
    facts::image_sets()
        .iter()
        .filter(|i| version_matches(&i.version.to_string(), query))
        .map(|i| {
            json!({
                "version": i.version.to_string(),
                "tag_version": i.tag_version,
                "flavors": i.flavors,
                "os": i.os,
                "require_cuda": i.require_cuda,
                "eol": i.eol,
                "deleted": i.deleted,
                "source": i.source,
            })
        })
        .collect()
}

fn branch_json(b: &DriverBranch) -> Value {
    json!({
        "branch": b.branch,
        "kind": b.kind,
        "cuda": b.cuda.to_string(),
        "first": b.first.to_string(),
        "released": b.released,
        "eol": b.eol,
        "forward_compat": b.forward_compat,
        "source": b.source,
    })
}

fn catalog_drivers(query: Option<&str>) -> Vec<Value> {
    facts::driver_branches()
        .iter()
        .filter(|b| query.is_none_or(|q| q.trim_start_matches(['R', 'r']) == b.branch.to_string()))
        .map(branch_json)
        .collect()
}

fn catalog_line(table: CatalogTable, row: &Value) -> String {
    let s = |k: &str| row[k].as_str().unwrap_or("").to_string();
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    match table {
        CatalogTable::Gpus => format!(
            "{:<40} {:>5}  {:<10}{}  {}",
            s("name"),
            s("cc"),
            s("architecture"),
            if row["integrated"].as_bool() == Some(true) {
                " (integrated)"
            } else {
                ""
            },
            list(&row["aliases"])
        ),
        CatalogTable::Toolkits => format!(
            "CUDA {:<5} PTX ISA {:<4} driver linux >= {:<10} minor-compat >= {:<10} sm: {}",
            s("version"),
            s("ptx_isa"),
            row["driver"]["linux"].as_str().unwrap_or("unknown"),
            row["min_driver_minor_compat"]["linux"]
                .as_str()
                .unwrap_or("-"),
            list(&row["real_targets"]).replace("sm_", "")
        ),
        CatalogTable::Archs => format!(
            "{:<9} cc {:<5} {:<13} CUDA {} to {}  {}",
            s("arch"),
            s("cc"),
            s("variant"),
            s("first_toolkit"),
            s("last_toolkit"),
            list(&row["gpus"])
        ),
        CatalogTable::Torch => {
            let variants: Vec<String> = row["variants"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .map(|v| {
                            let ptx = list(&v["ptx"]);
                            format!(
                                "{} [{}{}]",
                                v["tag"].as_str().unwrap_or(""),
                                list(&v["sass"]),
                                if ptx.is_empty() {
                                    String::new()
                                } else {
                                    format!("; PTX {ptx}")
                                }
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "torch {:<5} python {:<14} pip default {:<6} {}",
                s("version"),
                s("python"),
                row["pypi_default"].as_str().unwrap_or("-"),
                variants.join("  ")
            )
        }
        CatalogTable::Images => format!(
            "CUDA {:<7} {:<8} {:<28} {}",
            s("tag_version"),
            if row["deleted"].as_bool() == Some(true) {
                "deleted"
            } else if row["eol"].is_string() {
                "eol"
            } else {
                "current"
            },
            list(&row["flavors"]),
            list(&row["os"])
        ),
        CatalogTable::Drivers => format!(
            "R{:<4} {:<7} CUDA {:<5} first {:<11} released {:<8} eol {:<8} forward-compat {}",
            row["branch"].as_u64().unwrap_or(0),
            s("kind"),
            s("cuda"),
            s("first"),
            row["released"].as_str().unwrap_or("?"),
            row["eol"].as_str().unwrap_or("-"),
            if row["forward_compat"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            }
        ),
    }
}

/// `cargo gpuarch explain [CODE]` and `cargo gpuarch explain gpu NAME...`.
pub fn explain(code: Option<&str>, names: &[String], format: Format, out: &Output) -> u8 {
    match code {
        Some("gpu") => explain_gpus(names, format, out),
        _ if !names.is_empty() => {
            out.diagnostic(
                &Diagnostic::error(
                    "unknown-key",
                    format!(
                        "`explain` takes one diagnostic code, not {}",
                        names.len() + 1
                    ),
                )
                .with_help("`cargo gpuarch explain CODE` explains a code; `cargo gpuarch explain gpu NAME...` explains GPUs"),
            );
            2
        }
        None => {
            for c in diagnostic::CODES {
                outln!("{:24} {}", c.code, c.summary);
            }
            0
        }
        Some(code) => match diagnostic::explain(code) {
            Some(info) => {
                outln!("{}: {}\n", info.code, info.summary);
                outln!("{}", info.explanation);
                outln!(
                    "\nExit code when it fires: {}",
                    if info.input {
                        "2 (bad input)"
                    } else {
                        "1 (incompatibility) when an error; 0 for warnings and notes"
                    }
                );
                0
            }
            None => {
                out.diagnostic(
                    &Diagnostic::error("unknown-key", format!("no diagnostic code `{code}`"))
                        .with_help("`cargo gpuarch explain` lists every code; `cargo gpuarch explain gpu NAME` explains a GPU"),
                );
                2
            }
        },
    }
}

fn explain_gpus(names: &[String], format: Format, out: &Output) -> u8 {
    if let Some(code) = crate::only_text_or_json(format, out) {
        return code;
    }
    if names.is_empty() {
        return out.input_error(
            &Error::invalid(
                Diagnostic::error("unknown-gpu", "`explain gpu` needs a GPU to explain")
                    .with_help("name one: `cargo gpuarch explain gpu L40S` (a product, an alias, or a capability such as 8.9)"),
            ),
            format,
        );
    }
    let mut profiles = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match profile::gpu_profile(name) {
            Ok(p) => profiles.push(p),
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return out.input_error(&Error::Invalid(errors), format);
    }
    if format == Format::Json {
        print_json(&json!({
            "schema_version": SCHEMA_VERSION,
            "ok": true,
            "profiles": profiles.iter().map(profile_json).collect::<Vec<_>>(),
        }));
    } else {
        for (i, p) in profiles.iter().enumerate() {
            if i > 0 {
                outln!();
            }
            profile_text(p, out);
        }
    }
    0
}

/// A verdict for a run of toolkits or wheels, without the one driver a JIT needs (it
/// differs along the run).
fn verdict_phrase(v: &Verdict) -> String {
    match v {
        Verdict::Native(c) => format!("{c} cubin (native)"),
        Verdict::Compatible(c) => format!("{c} cubin (compatible)"),
        Verdict::Jit { ptx, .. } => format!("only {ptx} PTX, JIT-compiled at load"),
        Verdict::PtxTooNew { .. } | Verdict::Uncovered { .. } => "nothing runs".to_string(),
    }
}

fn span_text(first: impl std::fmt::Display, last: impl std::fmt::Display) -> String {
    let (first, last) = (first.to_string(), last.to_string());
    if first == last {
        first
    } else {
        format!("{first} to {last}")
    }
}

fn scope_json(g: &WheelGroup) -> (&'static str, Option<String>) {
    match &g.scope {
        WheelScope::Every => ("every", None),
        WheelScope::CudaAtLeast(v) => ("cuda-at-least", Some(v.to_string())),
        WheelScope::CudaAtMost(v) => ("cuda-at-most", Some(v.to_string())),
        WheelScope::Listed => ("listed", None),
    }
}

fn profile_json(p: &GpuProfile) -> Value {
    let code = |v: &Verdict| v.code().map(|c| c.to_string());
    json!({
        "query": p.query,
        "cc": p.cc.to_string(),
        "architecture": p.architecture,
        "integrated": p.integrated,
        "gpus": p.gpus.iter().map(|g| gpu_json(g)).collect::<Vec<_>>(),
        "toolkits": {
            "native": p.native_codes.iter().map(|r| json!({
                "code": r.code.to_string(),
                "first": r.first.to_string(),
                "last": r.last.to_string(),
            })).collect::<Vec<_>>(),
            "sass": p.sass_toolkits().map(|(f, l)| json!({"first": f.to_string(), "last": l.to_string()})),
            "spans": p.toolkit_spans().iter().map(|s| json!({
                "first": s.first.to_string(),
                "last": s.last.to_string(),
                "verdict": s.verdict.kind(),
                "code": code(&s.verdict),
                "text": verdict_phrase(&s.verdict),
            })).collect::<Vec<_>>(),
            "by_toolkit": p.toolkits.iter().map(|t| json!({
                "version": t.toolkit.to_string(),
                "verdict": t.verdict.kind(),
                "code": code(&t.verdict),
                "text": t.verdict.describe(),
            })).collect::<Vec<_>>(),
        },
        "drivers": {
            "min_driver": p.min_driver.as_ref().map(|m| json!({
                "toolkit": m.toolkit.to_string(),
                "linux": m.linux.map(|d| d.to_string()),
                "windows": m.windows.map(|d| d.to_string()),
                "exact": m.exact,
            })),
            "last_branch": p.last_branch,
            "branches": p.branches.iter().map(|b| branch_json(b)).collect::<Vec<_>>(),
        },
        "torch": {
            "groups": p.wheel_groups().iter().map(|g| {
                let (scope, cuda) = scope_json(g);
                json!({
                    "verdict": g.verdict.kind(),
                    "code": code(&g.verdict),
                    "first": g.first.to_string(),
                    "last": g.last.to_string(),
                    "scope": scope,
                    "cuda": cuda,
                    "wheels": g.wheels.len(),
                    "text": format!("{}: {}", verdict_phrase(&g.verdict), g.describe()),
                })
            }).collect::<Vec<_>>(),
            "wheels": p.wheels.iter().map(|w| json!({
                "torch": w.torch.to_string(),
                "variant": w.tag,
                "cuda": w.cuda.to_string(),
                "measured": w.measured,
                "verdict": w.verdict.kind(),
                "code": code(&w.verdict),
            })).collect::<Vec<_>>(),
        },
    })
}

fn profile_text(p: &GpuProfile, out: &Output) {
    let architecture = p.architecture.unwrap_or("architecture unknown");
    let integrated = if p.integrated { ", integrated" } else { "" };
    match p.gpus.as_slice() {
        [gpu] => {
            outln!(
                "{}: compute capability {}, {architecture}, {}{integrated}",
                out.paint(gpu.name, "1"),
                p.cc,
                gpu.segment
            );
            if !gpu.aliases.is_empty() {
                outln!("  also called: {}", gpu.aliases.join(", "));
            }
        }
        [] => outln!(
            "{}: no product in the catalog has it",
            out.paint(&format!("compute capability {}", p.cc), "1")
        ),
        many => {
            outln!(
                "{} ({architecture}{integrated}): {} GPUs",
                out.paint(&format!("compute capability {}", p.cc), "1"),
                many.len()
            );
            outln!(
                "  {}",
                many.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
            );
        }
    }

    outln!("\n{}", out.paint("Toolkits", "1"));
    let native: Vec<String> = p
        .native_codes
        .iter()
        .map(|r| format!("{} (CUDA {})", r.code, span_text(r.first, r.last)))
        .collect();
    if native.is_empty() {
        outln!("  native code: no toolkit in the catalog builds it");
    } else {
        outln!("  native code: {}", native.join(", "));
    }
    if let Some((first, last)) = p.sass_toolkits() {
        outln!("  a cubin that runs on it: CUDA {}", span_text(first, last));
    }
    for span in p.toolkit_spans() {
        outln!(
            "  CUDA {:<14} {}",
            span_text(span.first, span.last),
            verdict_phrase(&span.verdict)
        );
    }

    outln!("\n{}", out.paint("Drivers", "1"));
    match &p.min_driver {
        Some(m) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(d) = m.linux {
                parts.push(format!("{d} (Linux)"));
            }
            if let Some(d) = m.windows {
                parts.push(format!("{d} (Windows)"));
            }
            let first_code = p
                .native_codes
                .iter()
                .find(|r| r.first == m.toolkit)
                .map_or(String::new(), |r| format!(" {}", r.code));
            if m.exact {
                outln!(
                    "  minimum: {}: the drivers of CUDA {}, the first toolkit to build{first_code}",
                    parts.join(", "),
                    m.toolkit
                );
            } else {
                outln!(
                    "  minimum: {} or older: CUDA {}, the oldest toolkit in the catalog, already builds{first_code}",
                    parts.join(", "),
                    m.toolkit
                );
            }
        }
        None => outln!("  minimum: unknown (no toolkit in the catalog builds native code for it)"),
    }
    if p.integrated {
        outln!("  an integrated (Tegra) GPU: its driver comes with JetPack (L4T), not with the desktop and data-center branches");
    } else if p.branches.is_empty() {
        outln!("  branches: unknown");
    } else if let (Some(first), Some(last)) = (p.branches.first(), p.branches.last()) {
        let end = match (p.last_branch, p.architecture) {
            (Some(_), Some(arch)) => format!(" (the last for {arch})"),
            _ => " (the newest recorded; current branches support it)".to_string(),
        };
        let start = if p.min_driver.as_ref().is_some_and(|m| m.exact) {
            ""
        } else {
            " (the oldest recorded)"
        };
        outln!(
            "  branches: R{}{start} to R{}{end}",
            first.branch,
            last.branch
        );
        for b in &p.branches {
            outln!(
                "    R{:<4} {:<7} CUDA {:<5} eol {}",
                b.branch,
                b.kind,
                b.cuda,
                b.eol.as_deref().unwrap_or("-")
            );
        }
    }

    outln!(
        "\n{} (torch's own kernels; `cargo gpuarch catalog torch` lists each wheel)",
        out.paint("PyTorch wheels", "1")
    );
    for g in p.wheel_groups() {
        outln!("  {}: {}", verdict_phrase(&g.verdict), g.describe());
    }
    if !p
        .wheels
        .iter()
        .any(|w| matches!(w.verdict, Verdict::Native(_)))
    {
        outln!("  no wheel carries native code for {}", p.cc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: [CatalogTable; 6] = [
        CatalogTable::Gpus,
        CatalogTable::Toolkits,
        CatalogTable::Archs,
        CatalogTable::Torch,
        CatalogTable::Images,
        CatalogTable::Drivers,
    ];

    #[test]
    fn every_queryable_field_is_found_in_the_rows_json_prints() {
        for table in TABLES {
            let rows = rows(table, None);
            for field in table_spec(table).fields {
                let found = rows
                    .iter()
                    .any(|row| match field_value(table, row, field.name) {
                        Some(query::Value::List(items)) => !items.is_empty(),
                        Some(_) => true,
                        None => false,
                    });
                assert!(
                    found,
                    "{}: `{}` is in no row",
                    table_spec(table).name,
                    field.name
                );
            }
        }
    }

    #[test]
    fn list_fields_read_as_lists_and_single_fields_as_values() {
        for table in TABLES {
            let rows = rows(table, None);
            for field in table_spec(table).fields {
                for row in &rows {
                    let v = field_value(table, row, field.name);
                    let is_list = matches!(v, Some(query::Value::List(_)));
                    assert!(
                        v.is_none() || is_list == field.list,
                        "{}: {}",
                        table_spec(table).name,
                        field.name
                    );
                }
            }
        }
    }
}
