//! Rendering: text for people, JSON (documented in the README) for machines, and the
//! bare dialect strings for pipelines.

use std::io::IsTerminal;

use gpuarch_build::catalog::Os;
use gpuarch_build::check::{Assessment, ListCheck};
use gpuarch_build::diagnostic::{self, Diagnostic, Level};
use gpuarch_build::emit::nvcc;
use gpuarch_build::manifest::{DriverFloor, Manifest};
use gpuarch_build::toolkit::ToolkitOrigin;
use gpuarch_build::{Code, CodeKind, CodeSet, Dialect, Error, Plan, Toolkit, Verdict};
use serde_json::{json, Value};

use gpuarch_build::artifact::{Compression, Entry, EntryKind};
use gpuarch_build::verify::{self, Verification};

use crate::files::FileListing;
use crate::Format;

/// JSON documents carry this; it changes only when a field changes meaning or goes away.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// How many diagnostics of one code the text output shows.
const SHOWN_PER_CODE: usize = 20;

pub struct Output {
    color: bool,
}

impl Output {
    pub fn new(forced: Option<bool>) -> Self {
        let color = forced.unwrap_or_else(|| {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        });
        Output { color }
    }

    pub(crate) fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// A diagnostic, on stderr.
    pub fn diagnostic(&self, d: &Diagnostic) {
        eprintln!("{}", self.diagnostic_text(d));
    }

    pub(crate) fn diagnostic_text(&self, d: &Diagnostic) -> String {
        let level = match d.level {
            Level::Error => self.paint("error", "1;31"),
            Level::Warning => self.paint("warning", "1;33"),
            Level::Note => self.paint("note", "1;36"),
        };
        let mut s = format!("{level}[{}]: {}", d.code, d.message);
        if let Some(loc) = &d.location {
            s.push_str(&format!("\n  --> {loc}"));
        }
        if let Some(help) = &d.help {
            s.push_str(&format!("\n  {}: {help}", self.paint("help", "1")));
        }
        s
    }

    /// Diagnostics on stdout, at most [`SHOWN_PER_CODE`] of each code (an inventory of
    /// thousands of nodes can warn about hundreds); the JSON output lists them all.
    pub(crate) fn print_diagnostics(&self, diagnostics: &[Diagnostic]) {
        let mut shown: Vec<(&str, usize)> = Vec::new();
        for d in diagnostics {
            let count = match shown.iter_mut().find(|(c, _)| *c == d.code) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    shown.push((d.code, 1));
                    1
                }
            };
            if count <= SHOWN_PER_CODE {
                outln!("{}", self.diagnostic_text(d));
            }
        }
        for (code, n) in shown.into_iter().filter(|(_, n)| *n > SHOWN_PER_CODE) {
            outln!(
                "... and {} more `{code}` (--format json lists every one)",
                n - SHOWN_PER_CODE
            );
        }
    }

    /// Bad input: exit 2.
    pub fn input_error(&self, err: &Error, format: Format) -> u8 {
        let diagnostics = err.diagnostics();
        if format == Format::Json {
            print_json(&json!({
                "schema_version": SCHEMA_VERSION,
                "ok": false,
                "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
            }));
        } else {
            for d in &diagnostics {
                self.diagnostic(d);
            }
        }
        2
    }

    /// A CI rendering (github, junit, markdown, sarif) of an outcome; its exit code.
    pub fn pipeline(&self, outcome: &crate::pipeline::Outcome, format: Format) -> u8 {
        let env = |k: &str| std::env::var(k).ok();
        let text = match format {
            Format::Github => match crate::pipeline::github(outcome, &env) {
                Ok(text) => text,
                Err(e) => {
                    self.diagnostic(
                        &Diagnostic::error(
                            "cannot-write",
                            format!("cannot write the GitHub step files: {e}"),
                        )
                        .with_help("check GITHUB_OUTPUT and GITHUB_STEP_SUMMARY"),
                    );
                    return 2;
                }
            },
            Format::Junit => crate::pipeline::junit(outcome),
            Format::Markdown => crate::pipeline::markdown(outcome),
            Format::Sarif => crate::pipeline::sarif(outcome, &env),
            _ => unreachable!("only the CI formats come here"),
        };
        if !text.trim().is_empty() {
            outln!("{}", text.trim_end());
        }
        u8::from(!outcome.ok)
    }

    /// Prints a report; 1 when a check failed.
    pub fn report(&self, report: &Report, format: Format) -> u8 {
        if format.is_pipeline() {
            return self.pipeline(&report.outcome(), format);
        }
        // A node group that cannot run is a `node-cannot-run` error among the diagnostics.
        let failed = report.assessment.has_errors();
        match format {
            Format::Text => {
                self.report_text(report);
                if let Some(fleet) = &report.fleet {
                    fleet.text(self);
                }
            }
            Format::Json => print_json_with(
                &report.json(),
                "fleet",
                report.fleet.as_ref().map(|f| f.json()),
            ),
            dialect => {
                for d in &report.assessment.diagnostics {
                    if d.level != Level::Note {
                        self.diagnostic(d);
                    }
                }
                match report.dialect_text(dialect) {
                    Ok(text) => outln!("{text}"),
                    Err(d) => {
                        self.diagnostic(&d);
                        return 2;
                    }
                }
            }
        }
        u8::from(failed)
    }

    fn report_text(&self, r: &Report) {
        let source = r
            .manifest_files
            .first()
            .map_or(String::new(), |f| format!(" ({f})"));
        let toolkit = match &r.toolkit {
            Some(t) => format!(", CUDA {}{}", t.version, toolkit_origin_text(t)),
            None => String::new(),
        };
        outln!(
            "{}{source}: {} target{}{toolkit}",
            self.paint(&format!("gpuarch {}", r.command), "1"),
            r.assessment.targets.len(),
            if r.assessment.targets.len() == 1 {
                ""
            } else {
                "s"
            },
        );
        if let Some((dialect, text)) = &r.input {
            outln!("checking {}: {text}", dialect_label(*dialect));
        }
        outln!();
        let rows: Vec<[String; 3]> = r
            .assessment
            .targets
            .iter()
            .map(|t| {
                [
                    t.target.name.clone(),
                    t.target.cc.to_string(),
                    self.verdict_text(&t.verdict),
                ]
            })
            .collect();
        let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(6);
        outln!("  {:w0$}  {:5}  covered by", "target", "cc");
        for row in &rows {
            outln!("  {:w0$}  {:5}  {}", row[0], row[1], row[2]);
        }
        outln!();
        if !r.entries.is_empty() {
            outln!("{}", self.paint("gencode", "1"));
            for (code, reason) in &r.entries {
                outln!("  {:13} {reason}", code.to_string());
            }
            outln!();
        }
        outln!("nvcc flags:            {}", nvcc::emit(&r.codes).join(" "));
        for (label, dialect) in [
            ("TORCH_CUDA_ARCH_LIST:  ", Dialect::Torch),
            ("CUDA_ARCHITECTURES:    ", Dialect::Cmake),
            ("clang:                 ", Dialect::Clang),
            ("CUDA_COMPUTE_CAP:      ", Dialect::ComputeCap),
        ] {
            if let Ok(text) = dialect.emit(&r.codes) {
                outln!("{label}{text}");
            }
        }
        if let Some(req) = &r.required_driver {
            let parts: Vec<String> = Os::ALL
                .iter()
                .filter_map(|os| {
                    req.get(*os)
                        .map(|d| format!("{} >= {}", os.name(), d.value))
                })
                .collect();
            if !parts.is_empty() {
                outln!("minimum driver:        {}", parts.join(", "));
            }
        }
        if !r.assessment.diagnostics.is_empty() {
            outln!();
        }
        self.print_diagnostics(&r.assessment.diagnostics);
        let errors = r
            .assessment
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .count();
        let warnings = r
            .assessment
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Warning)
            .count();
        let verdict = if errors > 0 {
            self.paint(
                &format!("FAILED: {errors} error(s), {warnings} warning(s)"),
                "1;31",
            )
        } else {
            self.paint(
                &format!("ok: every target is covered ({warnings} warning(s))"),
                "1;32",
            )
        };
        outln!("\n{verdict}");
    }

    fn verdict_text(&self, v: &Verdict) -> String {
        let text = v.describe();
        match v {
            Verdict::Native(_) => text,
            Verdict::Compatible(_) | Verdict::Jit { .. } => self.paint(&text, "33"),
            _ => self.paint(&format!("{text} (no kernel image)"), "31"),
        }
    }
}

fn toolkit_origin_text(t: &Toolkit) -> String {
    match &t.origin {
        ToolkitOrigin::Nvcc(p) => format!(" (from {})", p.display()),
        ToolkitOrigin::Named(Some(loc)) => format!(" (from {loc})"),
        ToolkitOrigin::Named(None) => String::new(),
    }
}

fn dialect_label(d: Dialect) -> &'static str {
    match d {
        Dialect::Nvcc => "nvcc flags",
        Dialect::Torch => "TORCH_CUDA_ARCH_LIST",
        Dialect::Cmake => "CUDA_ARCHITECTURES",
        Dialect::Clang => "clang flags",
        Dialect::ComputeCap => "CUDA_COMPUTE_CAP",
    }
}

/// What `plan` and `check` print, from a plan or from a checked list.
pub struct Report {
    command: &'static str,
    manifest_files: Vec<String>,
    toolkit: Option<Toolkit>,
    input: Option<(Dialect, String)>,
    codes: CodeSet,
    entries: Vec<(Code, String)>,
    required_driver: Option<DriverFloor>,
    driver_floor: DriverFloor,
    assessment: Assessment,
    /// `--inventory`: the fleet's node groups, judged.
    fleet: Option<crate::fleet::FleetReport>,
}

impl Report {
    /// Adds a judged fleet; its inventory problems and verdicts join the diagnostics.
    pub fn add_fleet(
        &mut self,
        note: Option<Diagnostic>,
        fleet: Option<crate::fleet::FleetReport>,
    ) {
        self.assessment.diagnostics.extend(note);
        if let Some(f) = &fleet {
            self.assessment.diagnostics.extend(f.diagnostics());
        }
        diagnostic::sort_by_level(&mut self.assessment.diagnostics);
        self.fleet = fleet;
    }

    pub fn from_plan(command: &'static str, manifest: &Manifest, plan: &Plan) -> Report {
        Report {
            command,
            manifest_files: files(manifest),
            toolkit: Some(plan.toolkit.clone()),
            input: None,
            codes: plan.codes.clone(),
            entries: plan
                .entries
                .iter()
                .map(|e| (e.code, e.reason.clone()))
                .collect(),
            required_driver: Some(plan.min_driver.clone()),
            driver_floor: manifest.min_driver.clone(),
            assessment: plan.assessment.clone(),
            fleet: None,
        }
    }

    pub fn from_list(
        manifest: &Manifest,
        dialect: Dialect,
        text: &str,
        checked: ListCheck,
    ) -> Report {
        let entries = checked
            .codes
            .iter()
            .map(|c| (c, format!("from the {}", dialect_label(dialect))))
            .collect();
        Report {
            command: "check",
            manifest_files: files(manifest),
            toolkit: checked.toolkit,
            input: Some((dialect, text.to_string())),
            codes: checked.codes,
            entries,
            required_driver: None,
            driver_floor: manifest.min_driver.clone(),
            assessment: checked.assessment,
            fleet: None,
        }
    }

    fn dialect_text(&self, format: Format) -> Result<String, Diagnostic> {
        match format {
            Format::Nvcc => Dialect::Nvcc.emit(&self.codes),
            Format::Torch => Dialect::Torch.emit(&self.codes),
            Format::Cmake => Dialect::Cmake.emit(&self.codes),
            Format::Clang => Dialect::Clang.emit(&self.codes),
            Format::Env => Ok(self.env_text()),
            Format::Matrix => Ok(self.matrix_json().to_string()),
            _ => unreachable!("handled by the caller"),
        }
    }

    /// The report as a CI outcome: a case per target (and per node group), the
    /// diagnostics, and the plan in every dialect as step outputs.
    pub fn outcome(&self) -> crate::pipeline::Outcome {
        use crate::pipeline::{Case, Outcome};
        let mut cases: Vec<Case> = self
            .assessment
            .targets
            .iter()
            .map(|t| target_case(&t.target, &t.verdict, false))
            .collect();
        if let Some(f) = &self.fleet {
            cases.extend(f.cases());
        }
        let mut outputs = vec![("nvcc-flags".to_string(), nvcc::emit(&self.codes).join(" "))];
        for (name, dialect) in [
            ("torch-cuda-arch-list", Dialect::Torch),
            ("cmake-cuda-architectures", Dialect::Cmake),
            ("clang-flags", Dialect::Clang),
            ("cuda-compute-cap", Dialect::ComputeCap),
        ] {
            if let Ok(text) = dialect.emit(&self.codes) {
                outputs.push((name.to_string(), text));
            }
        }
        outputs.push(("matrix".to_string(), self.matrix_json().to_string()));
        let mut details = Vec::new();
        if let Some(t) = &self.toolkit {
            outputs.push(("cuda".to_string(), t.version.to_string()));
            details.push(("CUDA".to_string(), t.version.to_string()));
        }
        if let Some(req) = &self.required_driver {
            for os in Os::ALL {
                if let Some(d) = req.get(os) {
                    outputs.push((
                        format!("min-driver-{}", os.name().to_lowercase()),
                        d.value.to_string(),
                    ));
                    details.push((
                        "minimum driver".to_string(),
                        format!("{} >= {}", os.name(), d.value),
                    ));
                }
            }
        }
        if let Some(f) = &self.fleet {
            details.push(("fleet".to_string(), f.verdict.summary()));
        }
        let failed = self.assessment.has_errors();
        Outcome {
            command: self.command,
            title: format!(
                "gpuarch {}{}: {} target{}{}",
                self.command,
                self.manifest_files
                    .first()
                    .map_or(String::new(), |f| format!(" ({f})")),
                self.assessment.targets.len(),
                if self.assessment.targets.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.toolkit
                    .as_ref()
                    .map_or(String::new(), |t| format!(", CUDA {}", t.version)),
            ),
            ok: !failed,
            cases,
            diagnostics: self.assessment.diagnostics.clone(),
            outputs,
            details,
            source: self.manifest_files.first().map(std::path::PathBuf::from),
        }
    }

    /// A build matrix (GitHub Actions `strategy.matrix` shape: `{"include": [...]}`), one
    /// entry per arch group: its cubin, the PTX fallback with the highest, and every
    /// dialect of just that group's code.
    fn matrix_json(&self) -> Value {
        let groups =
            gpuarch_build::emit::matrix::arch_groups(&self.codes, &self.assessment.targets);
        let include: Vec<Value> = groups
            .iter()
            .map(|g| {
                let sass = g.codes.sass().next();
                json!({
                    "name": g.name,
                    "arch": sass.map_or_else(|| g.codes.ptx().next().map(|a| a.dotted()).unwrap_or_default(), |a| a.dotted()),
                    "codes": g.codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                    "gpus": g.targets.iter().map(|t| t.name.clone()).collect::<Vec<_>>().join(", "),
                    "cuda": self.toolkit.as_ref().map(|t| t.version.to_string()),
                    "nvcc_flags": nvcc::emit(&g.codes).join(" "),
                    "torch_cuda_arch_list": Dialect::Torch.emit(&g.codes).ok(),
                    "cmake_cuda_architectures": Dialect::Cmake.emit(&g.codes).ok(),
                    "clang_flags": Dialect::Clang.emit(&g.codes).ok(),
                    "cuda_compute_cap": Dialect::ComputeCap.emit(&g.codes).ok(),
                    "tag": g.name.replace('_', ""),
                })
            })
            .collect();
        json!({ "include": include })
    }

    /// Shell assignments for `eval` or an env file.
    fn env_text(&self) -> String {
        let mut lines = vec![format!(
            "NVCC_GENCODE=\"{}\"",
            nvcc::emit(&self.codes).join(" ")
        )];
        if let Ok(t) = Dialect::Torch.emit(&self.codes) {
            lines.push(format!("TORCH_CUDA_ARCH_LIST=\"{t}\""));
        }
        let cmake = Dialect::Cmake.emit(&self.codes).unwrap_or_default();
        lines.push(format!("CMAKE_CUDA_ARCHITECTURES=\"{cmake}\""));
        lines.push(format!("CUDAARCHS=\"{cmake}\""));
        if let Ok(c) = Dialect::ComputeCap.emit(&self.codes) {
            lines.push(format!("CUDA_COMPUTE_CAP={c}"));
        }
        lines.join("\n")
    }

    fn json(&self) -> Value {
        let targets: Vec<Value> = self
            .assessment
            .targets
            .iter()
            .map(|t| {
                let (coverage, detail) = verdict_json(&t.verdict);
                json!({
                    "name": t.target.name,
                    "cc": t.target.cc.to_string(),
                    "architecture": t.target.gpu.map(|g| g.architecture),
                    "integrated": t.target.integrated,
                    "covered_by": t.verdict.code().map(|c| c.to_string()),
                    "coverage": coverage,
                    "detail": detail,
                    "location": t.target.location.as_ref().map(location_json),
                })
            })
            .collect();
        let gencode: Vec<Value> = self
            .entries
            .iter()
            .map(|(code, reason)| {
                json!({
                    "code": code.to_string(),
                    "kind": if code.kind == CodeKind::Sass { "sass" } else { "ptx" },
                    "arch": code.arch.number(),
                    "flag": format!("-gencode=arch=compute_{},code={code}", code.arch.number()),
                    "reason": reason,
                })
            })
            .collect();
        json!({
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "ok": !self.assessment.has_errors(),
            "manifest": self.manifest_files,
            "input": self.input.as_ref().map(|(d, t)| json!({"dialect": d.name(), "text": t})),
            "toolkit": self.toolkit.as_ref().map(toolkit_json),
            "targets": targets,
            "gencode": gencode,
            "nvcc_flags": nvcc::emit(&self.codes),
            "torch_cuda_arch_list": Dialect::Torch.emit(&self.codes).ok(),
            "cmake_cuda_architectures": Dialect::Cmake.emit(&self.codes).ok(),
            "clang_flags": Dialect::Clang.emit(&self.codes).ok().map(|s| s.split(' ').map(String::from).collect::<Vec<_>>()),
            "cuda_compute_cap": Dialect::ComputeCap.emit(&self.codes).ok(),
            "min_driver": self.required_driver.as_ref().map(floor_json),
            "driver_floor": floor_json(&self.driver_floor),
            "diagnostics": self.assessment.diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
        })
    }
}

fn files(manifest: &Manifest) -> Vec<String> {
    manifest
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect()
}

fn verdict_json(v: &Verdict) -> (&'static str, String) {
    (v.kind(), v.describe())
}

fn toolkit_json(t: &Toolkit) -> Value {
    let (source, nvcc) = match &t.origin {
        ToolkitOrigin::Nvcc(p) => ("nvcc", Some(p.display().to_string())),
        ToolkitOrigin::Named(_) => ("named", None),
    };
    json!({
        "version": t.version.to_string(),
        "ptx_isa": t.ptx_isa.to_string(),
        "source": source,
        "nvcc": nvcc,
        "known": t.known,
    })
}

fn floor_json(f: &DriverFloor) -> Value {
    json!({
        "linux": f.linux.as_ref().map(|d| d.value.to_string()),
        "windows": f.windows.as_ref().map(|d| d.value.to_string()),
    })
}

fn location_json(l: &diagnostic::Location) -> Value {
    json!({"file": l.file.display().to_string(), "line": l.line, "column": l.column})
}

pub(crate) fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "code": d.code,
        "level": d.level.name(),
        "message": d.message,
        "help": d.help,
        "location": d.location.as_ref().map(location_json),
    })
}

/// A JSON object with one more member, `key`, serialized straight to stdout (pretty, like
/// [`print_json`]); `null` when `extra` is `None`.
pub(crate) fn print_json_with<T: serde::Serialize>(base: &Value, key: &str, extra: Option<T>) {
    struct Merged<'a, T> {
        base: &'a Value,
        key: &'a str,
        extra: Option<T>,
    }
    impl<T: serde::Serialize> serde::Serialize for Merged<'_, T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(None)?;
            if let Value::Object(fields) = self.base {
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
            }
            map.serialize_entry(self.key, &self.extra)?;
            map.end()
        }
    }
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let merged = Merged { base, key, extra };
    // A closed stdout (`| head`) ends the output quietly, as outln! does.
    if serde_json::to_writer_pretty(&mut out, &merged).is_ok() {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}

pub(crate) fn print_json(v: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialize")
    );
}

/// `cargo gpuarch inspect FILE...`: exit 0, or 2 when a file cannot be read or parsed
/// (the others are still listed).
fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "kind": if e.kind == EntryKind::Cubin { "cubin" } else { "ptx" },
        "arch": e.arch_name(),
        "code": e.code().to_string(),
        "ptx_isa": e.ptx_isa.map(|v| v.to_string()),
        "compression": compression_name(e.compression),
        "kernels": e.kernels,
        "size": e.payload_size,
        "uncompressed_size": e.uncompressed_size,
        "section": e.section,
        "member": e.member,
        "container": e.container,
        "offset": e.offset,
    })
}

/// Damage read past inside a file: a warning, beside what could be read.
fn damage(path: &std::path::Path, problem: &gpuarch_build::artifact::ArtifactError) -> Diagnostic {
    Diagnostic::warning(
        "artifact-damaged",
        format!("{}: {problem}; listed what could be read", path.display()),
    )
    .with_help("rebuild the file, or check it was copied whole")
}

/// The damage in a file as warnings: the first ten, then a count (a crafted file can
/// hold hundreds of thousands of bad sections; JSON `problems` lists them all).
fn damage_of(f: &FileListing) -> Vec<Diagnostic> {
    const SHOWN: usize = 10;
    let problems = &f.listing.problems;
    let mut out: Vec<Diagnostic> = problems
        .iter()
        .take(SHOWN)
        .map(|p| damage(&f.path, p))
        .collect();
    if problems.len() > SHOWN {
        out.push(
            Diagnostic::warning(
                "artifact-damaged",
                format!(
                    "{}: {} more problems like these",
                    f.path.display(),
                    problems.len() - SHOWN
                ),
            )
            .with_help("`--format json` lists every one under `problems`"),
        );
    }
    out
}

/// `cargo gpuarch inspect`: the listing of each file.
pub fn inspect(listed: &[FileListing], format: Format, out: &Output) {
    for f in listed {
        for d in damage_of(f) {
            out.diagnostic(&d);
        }
    }
    if format == Format::Json {
        let files: Vec<Value> = listed
            .iter()
            .map(|f| {
                json!({
                    "path": f.path.display().to_string(),
                    "entries": f.listing.entries.iter().map(entry_json).collect::<Vec<_>>(),
                    "problems": f.listing.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "schema_version": SCHEMA_VERSION, "files": files }));
        return;
    }
    for f in listed {
        let entries = &f.listing.entries;
        let containers = verify::containers("", entries).len();
        outln!(
            "{}: {} entr{} in {} container{}",
            f.path.display(),
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            containers,
            if containers == 1 { "" } else { "s" }
        );
        if entries.is_empty() {
            outln!("  no GPU code");
        }
        for e in entries {
            let isa = e.ptx_isa.map_or(String::new(), |v| format!(" ISA {v}"));
            let kernels = e.kernels.map_or(String::new(), |k| {
                format!(", {k} kernel{}", if k == 1 { "" } else { "s" })
            });
            let place = match (&e.member, e.section.is_empty()) {
                (Some(m), _) => format!("  [{m} {}]", e.section),
                (None, false) => format!("  [{}]", e.section),
                (None, true) => String::new(),
            };
            outln!(
                "  {:5} {:13} {:>10} B  {}{isa}{kernels}{place}",
                if e.kind == EntryKind::Cubin {
                    "cubin"
                } else {
                    "ptx"
                },
                e.arch_name(),
                e.payload_size,
                compression_name(e.compression),
            );
        }
    }
}

/// `cargo gpuarch verify`: per target, what runs; the plan comparison; the diagnostics.
/// Exit 1 when a target cannot run the artifacts (or PTX needs a newer driver).
pub fn verify(
    listed: &[FileListing],
    manifest: &Manifest,
    planned: Option<&Plan>,
    v: &Verification,
    fleet: Option<&crate::fleet::FleetReport>,
    format: Format,
    out: &Output,
) -> u8 {
    let mut diagnostics: Vec<Diagnostic> = listed.iter().flat_map(damage_of).collect();
    diagnostics.extend(v.diagnostics.iter().cloned());
    if let Some(f) = fleet {
        diagnostics.extend(f.diagnostics());
    }
    diagnostic::sort_by_level(&mut diagnostics);
    let failed = v.has_errors() || fleet.is_some_and(|f| f.has_errors());
    if format.is_pipeline() {
        return out.pipeline(
            &verify_outcome(listed, manifest, v, fleet, diagnostics, failed),
            format,
        );
    }
    if format == Format::Json {
        let targets: Vec<Value> = v
            .targets
            .iter()
            .map(|t| {
                let (kind, runs) = verdict_json(&t.verdict);
                json!({
                    "gpu": t.target.name,
                    "cc": t.target.cc.to_string(),
                    "status": if t.verdict.runs() { "covered" } else { "uncovered" },
                    "verdict": kind,
                    "runs": runs,
                    "code": t.verdict.code().map(|c| c.to_string()),
                    "needs_driver": match &t.verdict {
                        Verdict::Jit { min_driver, .. } => min_driver.map(|d| d.to_string()),
                        _ => None,
                    },
                    "failing_containers": t.failing.iter().map(|&i| v.containers[i].describe()).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json_with(
            &json!({
                "schema_version": SCHEMA_VERSION,
                "command": "verify",
                "ok": !failed,
                "manifest": files(manifest),
                "min_driver": floor_json(&manifest.min_driver),
                "files": listed.iter().map(|f| json!({
                    "path": f.path.display().to_string(),
                    "entries": f.listing.entries.len(),
                    "problems": f.listing.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "containers": v.containers.len(),
                "targets": targets,
                "plan": planned.map(|p| json!({
                    "toolkit": toolkit_json(&p.toolkit),
                    "codes": p.codes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                })),
                "missing": v.missing.iter().map(|m| json!({"code": m.code.to_string(), "lacking": m.lacking})).collect::<Vec<_>>(),
                "extra": v.extra.iter().map(|x| json!({"code": x.code.to_string(), "bytes": x.bytes})).collect::<Vec<_>>(),
                "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>(),
            }),
            "fleet",
            fleet.map(|f| f.json()),
        );
        return u8::from(failed);
    }
    let entries: usize = listed.iter().map(|f| f.listing.entries.len()).sum();
    let floor = match (&manifest.min_driver.linux, &manifest.min_driver.windows) {
        (None, None) => String::new(),
        (linux, windows) => {
            let parts: Vec<String> = [("Linux", linux), ("Windows", windows)]
                .into_iter()
                .filter_map(|(os, d)| d.as_ref().map(|d| format!("{os} driver >= {}", d.value)))
                .collect();
            format!(", on {}", parts.join(" and "))
        }
    };
    outln!(
        "{}: {} file{}, {} container{}, {entries} entries; {} target{}{floor}",
        self_paint(out, "gpuarch verify"),
        listed.len(),
        if listed.len() == 1 { "" } else { "s" },
        v.containers.len(),
        if v.containers.len() == 1 { "" } else { "s" },
        v.targets.len(),
        if v.targets.len() == 1 { "" } else { "s" },
    );
    outln!();
    let names: Vec<String> = v
        .targets
        .iter()
        .map(|t| format!("{} ({})", t.target.name, t.target.cc))
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0).max(3);
    outln!("  {:width$}  runs", "GPU");
    for (t, name) in v.targets.iter().zip(&names) {
        let mut text = out.verdict_text(&t.verdict);
        if !t.failing.is_empty() && v.containers.len() > 1 {
            text.push_str(&format!(
                "  [in {} of {} containers]",
                t.failing.len(),
                v.containers.len()
            ));
        }
        outln!("  {name:width$}  {text}");
    }
    match planned {
        Some(p) => {
            let codes: Vec<String> = p.codes.iter().map(|c| c.to_string()).collect();
            outln!(
                "
plan (CUDA {}): {}",
                p.toolkit.version,
                codes.join(" ")
            );
            if v.missing.is_empty() && v.extra.is_empty() {
                outln!("  the artifacts hold exactly what the plan asks for");
            }
            for m in &v.missing {
                outln!(
                    "  missing   {} (in {} of {} containers)",
                    m.code,
                    m.lacking,
                    v.containers.len()
                );
            }
            for x in &v.extra {
                outln!("  unplanned {} ({} bytes)", x.code, x.bytes);
            }
        }
        None => outln!(
            "
plan: not compared (no toolkit named and no nvcc found; pass --cuda)"
        ),
    }
    if !diagnostics.is_empty() {
        outln!();
    }
    out.print_diagnostics(&diagnostics);
    let verdict = if v.has_errors() {
        out.paint("not every target can run these artifacts", "1;31")
    } else {
        out.paint("every target can run these artifacts", "1;32")
    };
    outln!("\n{verdict}");
    if let Some(f) = fleet {
        f.text(out);
    }
    u8::from(failed)
}

fn self_paint(out: &Output, text: &str) -> String {
    out.paint(text, "1")
}

/// `verify` as a CI outcome: a case per target GPU and node group.
fn verify_outcome(
    listed: &[FileListing],
    manifest: &Manifest,
    v: &Verification,
    fleet: Option<&crate::fleet::FleetReport>,
    diagnostics: Vec<Diagnostic>,
    failed: bool,
) -> crate::pipeline::Outcome {
    use crate::pipeline::{Case, Outcome};
    let mut cases: Vec<Case> = v
        .targets
        .iter()
        .map(|t| target_case(&t.target, &t.verdict, !t.failing.is_empty()))
        .collect();
    let mut outputs = Vec::new();
    let mut details = vec![("containers".to_string(), v.containers.len().to_string())];
    if let Some(f) = fleet {
        cases.extend(f.cases());
        details.push(("fleet".to_string(), f.verdict.summary()));
        if let Some(Ok(a)) = &f.affinity {
            outputs.push(("node-affinity".to_string(), a.to_yaml()));
        }
    }
    Outcome {
        command: "verify",
        title: format!(
            "gpuarch verify: {} file{}, {} target{}",
            listed.len(),
            if listed.len() == 1 { "" } else { "s" },
            v.targets.len(),
            if v.targets.len() == 1 { "" } else { "s" },
        ),
        ok: !failed,
        cases,
        diagnostics,
        outputs,
        details,
        source: manifest
            .files
            .first()
            .cloned()
            .or_else(|| listed.first().map(|f| f.path.clone())),
    }
}

/// A target's CI case: a cubin passes, JIT (or containers without its code) warns,
/// nothing fails.
fn target_case(
    target: &gpuarch_build::Target,
    verdict: &Verdict,
    container_gaps: bool,
) -> crate::pipeline::Case {
    use crate::pipeline::{Case, CaseStatus};
    Case {
        suite: "targets".into(),
        name: format!("{} ({})", target.name, target.cc),
        status: match verdict {
            Verdict::Native(_) | Verdict::Compatible(_) if !container_gaps => CaseStatus::Pass,
            Verdict::Native(_) | Verdict::Compatible(_) | Verdict::Jit { .. } => CaseStatus::Warn,
            _ => CaseStatus::Fail,
        },
        detail: verdict.describe(),
        location: target.location.clone(),
    }
}
