//! Pipeline-native formats (`--format github|junit|markdown|sarif`): what a command found,
//! rendered for GitHub Actions, for JUnit readers (Jenkins, GitLab, Azure DevOps), as a
//! Markdown summary, and as SARIF 2.1.0 for code scanning. Every format renders the same
//! [`Outcome`], so they cannot disagree about what failed.

use std::fs::OpenOptions;
use std::hash::BuildHasher;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use gpuarch_build::diagnostic::{self, Diagnostic, Level, Location};
use serde_json::{json, Value};

/// What a command found, in the shape every CI format needs.
#[derive(Debug)]
pub struct Outcome {
    /// "plan", "check", "verify", "deploy", "doctor".
    pub command: &'static str,
    /// One line: "gpuarch plan (gpuarch.toml): 4 targets, CUDA 12.4".
    pub title: String,
    /// False when the command exits 1.
    pub ok: bool,
    /// One per target GPU, node group, relation or probe.
    pub cases: Vec<Case>,
    pub diagnostics: Vec<Diagnostic>,
    /// Step outputs: ("nvcc-flags", "-gencode=..."), ("torch-cuda-arch-list", "8.0;9.0+PTX").
    pub outputs: Vec<(String, String)>,
    /// Extra lines for summaries: ("CUDA", "12.4"), ("minimum driver", "Linux >= 525.60.13").
    pub details: Vec<(String, String)>,
    /// The file the command judged (the manifest, or the artifact). SARIF anchors findings
    /// that have no location of their own at its first line, because GitHub code scanning
    /// rejects a whole upload when a single result has no location.
    pub source: Option<PathBuf>,
}

/// One verdict in a table of like verdicts.
#[derive(Debug)]
pub struct Case {
    /// "targets", "node groups", "relations", "probes".
    pub suite: String,
    /// "A100 (8.0)", "gpu-pool-t4".
    pub name: String,
    pub status: CaseStatus,
    /// "sm_80 cubin", "the CUDA 12.4 runtime needs driver >= 525.60.13".
    pub detail: String,
    pub location: Option<Location>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseStatus {
    Pass,
    Warn,
    Fail,
    /// Unknown, or not applicable.
    Skip,
}

/// GitHub shows at most this many annotations of each kind per step; the rest stay in the log.
/// https://github.com/actions/toolkit/blob/main/docs/problem-matchers.md#limitations
const ANNOTATIONS_SHOWN: usize = 10;

/// A step summary larger than this is refused by the runner.
/// https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#step-isolation-and-limits
const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// GitHub code scanning cuts `fullDescription` here.
/// https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning#reportingdescriptor-object
const SARIF_DESCRIPTION_LIMIT: usize = 1000;

/// The `--format github` rendering. Returns what goes to stdout: one workflow command per
/// finding (`::error`, `::warning`, `::notice`), errors first, with `title` (the diagnostic
/// code) and, where the finding has a location, `file`, `line` and `col`. GitHub shows only
/// the first ten of each kind; a notice says how many more the log and the summary hold. Paths are made relative to `GITHUB_WORKSPACE` (or the
/// current directory), since annotations attach to repository paths.
///
/// Findings are the diagnostics. When no diagnostic is an error or a warning (commands whose
/// verdicts live only in their cases), failing and warning cases are annotated instead, so a
/// verdict is never annotated twice. A failed outcome always carries at least one `::error`.
///
/// Side effects, as the Actions runner expects them:
/// - `GITHUB_OUTPUT` set: the outputs, then `ok=true|false`, `errors=N` and `warnings=N`,
///   are appended to it (`name=value`, or a `name<<DELIMITER` block with a random
///   delimiter for multi-line values).
/// - `GITHUB_OUTPUT` unset (a run outside Actions): the same lines follow the annotations
///   on stdout, so a local run shows what a workflow would receive.
/// - `GITHUB_STEP_SUMMARY` set: the [`markdown`] summary is appended to it, cut to the
///   runner's 1 MiB limit. Unset: no summary (`--format markdown` prints one).
pub fn github(o: &Outcome, env: &dyn Fn(&str) -> Option<String>) -> std::io::Result<String> {
    let base = PathBase::from_env(env);
    let findings = findings(o);
    let mut stdout = String::new();
    for f in &findings {
        stdout.push_str(&annotation(f, &base));
        stdout.push('\n');
    }
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (errors, warnings) = (count(Level::Error), count(Level::Warning));
    for (count, kind) in [(errors, "errors"), (warnings, "warnings")] {
        if count > ANNOTATIONS_SHOWN {
            stdout.push_str(&format!(
                "::notice title=gpuarch {}::{} {kind}: GitHub shows the first {ANNOTATIONS_SHOWN} as annotations; the log above and the job summary list all of them\n",
                escape_property(o.command),
                count,
            ));
        }
    }

    let mut outputs = o.outputs.clone();
    outputs.push(("ok".into(), o.ok.to_string()));
    outputs.push(("errors".into(), errors.to_string()));
    outputs.push(("warnings".into(), warnings.to_string()));
    let mut output_file = String::new();
    for (name, value) in &outputs {
        output_file.push_str(&output_entry(name, value, random_u64));
    }
    match env("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        Some(path) => append(Path::new(&path), &output_file)?,
        None => stdout.push_str(&output_file),
    }
    if let Some(path) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let mut summary = cut_summary(markdown(o), STEP_SUMMARY_LIMIT - 1);
        summary.push('\n');
        append(Path::new(&path), &summary)?;
    }
    Ok(stdout)
}

/// The `--format junit` rendering: one `<testsuite>` per case suite, one `<testcase>` per
/// case (`<failure>` for Fail, `<skipped>` for Skip, the detail in `<system-out>` otherwise),
/// and a `diagnostics` suite in which every error diagnostic is a failure. A failed outcome
/// with no failing test case gets one, so the report never reads green for a red job; an
/// empty outcome gets one passing test case, because some readers refuse a report without any.
pub fn junit(o: &Outcome) -> String {
    let mut suites: Vec<(String, Vec<TestCase>)> = Vec::new();
    let classname = |suite: &str| format!("gpuarch.{}.{}", o.command, suite);
    for c in &o.cases {
        let location = c
            .location
            .as_ref()
            .map_or(String::new(), |l| format!("\nat {l}"));
        let case = TestCase {
            name: c.name.clone(),
            classname: classname(&c.suite),
            result: match c.status {
                CaseStatus::Fail => TestResult::Failure {
                    kind: "fail".into(),
                    message: first_line(&c.detail).to_string(),
                    body: format!("{}{location}", c.detail),
                },
                CaseStatus::Skip => TestResult::Skipped {
                    message: c.detail.clone(),
                },
                CaseStatus::Warn => TestResult::Passed {
                    out: format!("warning: {}{location}", c.detail),
                },
                CaseStatus::Pass => TestResult::Passed {
                    out: format!("{}{location}", c.detail),
                },
            },
        };
        match suites.iter_mut().find(|(name, _)| *name == c.suite) {
            Some((_, cases)) => cases.push(case),
            None => suites.push((c.suite.clone(), vec![case])),
        }
    }
    if !o.diagnostics.is_empty() {
        let cases = o
            .diagnostics
            .iter()
            .map(|d| {
                let text = d.to_string();
                TestCase {
                    name: format!("{}: {}", d.code, first_line(&d.message)),
                    classname: classname("diagnostics"),
                    result: if d.level == Level::Error {
                        TestResult::Failure {
                            kind: d.code.to_string(),
                            message: first_line(&d.message).to_string(),
                            body: text,
                        }
                    } else {
                        TestResult::Passed { out: text }
                    },
                }
            })
            .collect();
        suites.push(("diagnostics".into(), cases));
    }
    let failed = suites
        .iter()
        .flat_map(|(_, cases)| cases)
        .any(|c| c.result.is_failure());
    if suites.is_empty() || (!o.ok && !failed) {
        let result = if o.ok {
            TestResult::Passed {
                out: o.title.clone(),
            }
        } else {
            TestResult::Failure {
                kind: "fail".into(),
                message: format!("gpuarch {} failed", o.command),
                body: o.title.clone(),
            }
        };
        suites.push((
            "result".into(),
            vec![TestCase {
                name: format!("gpuarch {}", o.command),
                classname: classname("result"),
                result,
            }],
        ));
    }

    let all: Vec<&TestCase> = suites.iter().flat_map(|(_, c)| c).collect();
    let failures = |cases: &[&TestCase]| cases.iter().filter(|c| c.result.is_failure()).count();
    let skipped = |cases: &[&TestCase]| cases.iter().filter(|c| c.result.is_skipped()).count();

    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        // No `skipped` here: Jenkins' schema (junit-10.xsd) allows it on <testsuite> only.
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"0\">\n",
        xml_attr(&format!("gpuarch {}", o.command)),
        all.len(),
        failures(&all),
    ));
    for (name, cases) in &suites {
        let cases: Vec<&TestCase> = cases.iter().collect();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"0\">\n",
            xml_attr(name),
            cases.len(),
            failures(&cases),
            skipped(&cases),
        ));
        for case in cases {
            x.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                xml_attr(&case.name),
                xml_attr(&case.classname),
            ));
            match &case.result {
                TestResult::Passed { out } if out.is_empty() => x.push_str("/>\n"),
                TestResult::Passed { out } => x.push_str(&format!(
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    xml_text(out)
                )),
                TestResult::Failure {
                    kind,
                    message,
                    body,
                } => x.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    xml_attr(message),
                    xml_attr(kind),
                    xml_text(body),
                )),
                TestResult::Skipped { message } => x.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_attr(message)
                )),
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

struct TestCase {
    name: String,
    classname: String,
    result: TestResult,
}

enum TestResult {
    Passed {
        out: String,
    },
    Failure {
        kind: String,
        message: String,
        body: String,
    },
    Skipped {
        message: String,
    },
}

impl TestResult {
    fn is_failure(&self) -> bool {
        matches!(self, TestResult::Failure { .. })
    }

    fn is_skipped(&self) -> bool {
        matches!(self, TestResult::Skipped { .. })
    }
}

/// The `--format markdown` rendering (also the GitHub step summary): a heading with ✅ or ❌,
/// the details, a table per suite, the diagnostics with code, location and help, and the
/// outputs in a code block.
pub fn markdown(o: &Outcome) -> String {
    let mut m = format!(
        "## {} {}\n\n",
        if o.ok { "✅" } else { "❌" },
        md_text(&o.title.replace(['\r', '\n'], " "))
    );
    if !o.details.is_empty() {
        for (name, value) in &o.details {
            m.push_str(&format!("- **{}**: {}\n", md_text(name), md_text(value)));
        }
        m.push('\n');
    }
    let mut suites: Vec<&str> = Vec::new();
    for c in &o.cases {
        if !suites.contains(&c.suite.as_str()) {
            suites.push(&c.suite);
        }
    }
    for suite in suites {
        let cases: Vec<&Case> = o.cases.iter().filter(|c| c.suite == suite).collect();
        let tally: Vec<String> = [
            (CaseStatus::Pass, "✅"),
            (CaseStatus::Warn, "⚠️"),
            (CaseStatus::Fail, "❌"),
            (CaseStatus::Skip, "➖"),
        ]
        .iter()
        .filter_map(|(status, mark)| {
            let n = cases.iter().filter(|c| c.status == *status).count();
            (n > 0).then(|| format!("{n} {mark}"))
        })
        .collect();
        m.push_str(&format!(
            "### {} ({})\n\n|   | name | detail |\n|---|---|---|\n",
            md_text(suite),
            tally.join(", "),
        ));
        for c in cases {
            let mut detail = md_text(&c.detail);
            if let Some(l) = &c.location {
                detail.push_str(&format!(" ({})", md_text(&l.to_string())));
            }
            m.push_str(&format!(
                "| {} | {} | {} |\n",
                status_mark(c.status),
                md_text(&c.name),
                detail
            ));
        }
        m.push('\n');
    }
    if !o.diagnostics.is_empty() {
        m.push_str("### Diagnostics\n\n");
        for d in &o.diagnostics {
            let mark = match d.level {
                Level::Error => "❌",
                Level::Warning => "⚠️",
                Level::Note => "ℹ️",
            };
            m.push_str(&format!(
                "- {mark} **{}** {}: {}",
                d.level.name(),
                md_code(d.code),
                md_text(&d.message)
            ));
            if let Some(l) = &d.location {
                m.push_str(&format!(" at {}", md_code(&l.to_string())));
            }
            if let Some(help) = &d.help {
                m.push_str(&format!("<br>help: {}", md_text(help)));
            }
            m.push('\n');
        }
        m.push('\n');
    }
    if !o.outputs.is_empty() {
        let body: String = o
            .outputs
            .iter()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect();
        let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
        m.push_str(&format!("### Outputs\n\n{fence}text\n{body}{fence}\n"));
    }
    m
}

/// The `--format sarif` rendering: SARIF 2.1.0 with one rule per diagnostic code that occurs
/// (described by `cargo gpuarch explain`) and one result per diagnostic. File URIs are
/// relative to `GITHUB_WORKSPACE` (or the current directory) with `uriBaseId` `%SRCROOT%`;
/// a file outside it gets an absolute `file://` URI. A diagnostic without a location is
/// anchored at line 1 of [`Outcome::source`] (or of the first file another finding names),
/// because GitHub code scanning rejects the whole file when a result has no location.
pub fn sarif(o: &Outcome, env: &dyn Fn(&str) -> Option<String>) -> String {
    let base = PathBase::from_env(env);
    let mut codes: Vec<&'static str> = Vec::new();
    for d in &o.diagnostics {
        if !codes.contains(&d.code) {
            codes.push(d.code);
        }
    }
    let rules: Vec<Value> = codes
        .iter()
        .map(|&code| {
            let level = o
                .diagnostics
                .iter()
                .filter(|d| d.code == code)
                .map(|d| d.level)
                .min()
                .unwrap_or(Level::Warning);
            let explain = format!("Run `cargo gpuarch explain {code}` for the long form.");
            let (summary, explanation) = match diagnostic::explain(code) {
                Some(info) => (info.summary, info.explanation),
                None => (code, code),
            };
            json!({
                "id": code,
                "shortDescription": {"text": summary},
                "fullDescription": {"text": truncate_chars(explanation, SARIF_DESCRIPTION_LIMIT)},
                "help": {"text": format!("{explanation}\n\n{explain}")},
                // SARIF's levels have the names of ours.
                "defaultConfiguration": {"level": level.name()},
                "properties": {
                    "tags": ["cuda", "gpu"],
                    "precision": "very-high",
                    "problem.severity": match level {
                        Level::Error => "error",
                        Level::Warning => "warning",
                        Level::Note => "recommendation",
                    },
                },
            })
        })
        .collect();
    let anchor: Option<&Path> = o.source.as_deref().or_else(|| {
        o.diagnostics
            .iter()
            .filter_map(|d| d.location.as_ref())
            .chain(o.cases.iter().filter_map(|c| c.location.as_ref()))
            .map(|l| l.file.as_path())
            .next()
    });
    let results: Vec<Value> = o
        .diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text.push_str(&format!("\nhelp: {help}"));
            }
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": codes.iter().position(|&c| c == d.code),
                "level": d.level.name(),
                "message": {"text": text},
            });
            let location = match (&d.location, anchor) {
                (Some(l), _) => Some(sarif_location(&base, &l.file, l.line, l.column)),
                (None, Some(file)) => Some(sarif_location(&base, file, 1, 1)),
                (None, None) => None,
            };
            if let Some(location) = location {
                result["locations"] = json!([location]);
            }
            result
        })
        .collect();
    let root_uri = format!("{}/", file_uri(&base.root).trim_end_matches('/'));
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gpuarch",
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            // Lets several gpuarch commands upload from one workflow without replacing
            // each other's alerts: the category is everything before the last slash.
            "automationDetails": {"id": format!("gpuarch/{}/", o.command)},
            // Diagnostic columns count characters, not the UTF-16 units SARIF assumes.
            "columnKind": "unicodeCodePoints",
            // Code scanning ignores this base, but other viewers resolve relative URIs by it.
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            // Code scanning refuses absolute file URIs unless it knows the checkout path.
            "invocations": [{"executionSuccessful": true, "workingDirectory": {"uri": root_uri}}],
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).expect("JSON values serialize")
}

fn sarif_location(base: &PathBase, file: &Path, line: u32, column: u32) -> Value {
    let artifact = match base.relative(file) {
        Some(rel) => json!({"uri": uri_encode(&rel, false), "uriBaseId": "%SRCROOT%"}),
        None => json!({"uri": file_uri(&base.absolute(file))}),
    };
    json!({"physicalLocation": {
        "artifactLocation": artifact,
        "region": {"startLine": line.max(1), "startColumn": column.max(1)},
    }})
}

/// A finding worth an annotation.
struct Finding<'a> {
    level: Level,
    title: String,
    message: String,
    location: Option<&'a Location>,
}

fn findings(o: &Outcome) -> Vec<Finding<'_>> {
    let mut out: Vec<Finding<'_>> = o
        .diagnostics
        .iter()
        .map(|d| Finding {
            level: d.level,
            title: d.code.to_string(),
            message: match &d.help {
                Some(help) => format!("{}\nhelp: {help}", d.message),
                None => d.message.clone(),
            },
            location: d.location.as_ref(),
        })
        .collect();
    // Commands whose verdicts live only in their cases (doctor's probes) report no error or
    // warning diagnostic: their cases stand in. Otherwise the diagnostics already name every
    // failing case, and annotating both would say each thing twice.
    if !o.diagnostics.iter().any(|d| d.level != Level::Note) {
        for c in &o.cases {
            let level = match c.status {
                CaseStatus::Fail => Level::Error,
                CaseStatus::Warn => Level::Warning,
                CaseStatus::Pass | CaseStatus::Skip => continue,
            };
            out.push(Finding {
                level,
                title: format!("{}: {}", c.suite, c.name),
                message: if c.detail.is_empty() {
                    c.name.clone()
                } else {
                    format!("{}: {}", c.name, c.detail)
                },
                location: c.location.as_ref(),
            });
        }
    }
    if !o.ok && !out.iter().any(|f| f.level == Level::Error) {
        out.push(Finding {
            level: Level::Error,
            title: format!("gpuarch {}", o.command),
            message: format!("{}: failed", o.title),
            location: None,
        });
    }
    out.sort_by_key(|f| f.level);
    out
}

fn annotation(f: &Finding<'_>, base: &PathBase) -> String {
    let command = match f.level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "notice",
    };
    let mut properties = Vec::new();
    if let Some(l) = f.location {
        let file = base
            .relative(&l.file)
            .unwrap_or_else(|| slash_path(&base.absolute(&l.file)));
        properties.push(format!("file={}", escape_property(&file)));
        properties.push(format!("line={}", l.line.max(1)));
        properties.push(format!("col={}", l.column.max(1)));
    }
    properties.push(format!("title={}", escape_property(&f.title)));
    format!(
        "::{command} {}::{}",
        properties.join(","),
        escape_data(&f.message)
    )
}

/// Workflow command data: the runner unescapes `%25`, `%0D` and `%0A`.
/// https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow command properties: `,` separates them and `:` ends them, so both are escaped too.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `$GITHUB_OUTPUT` entry. Values with a line break use the heredoc form, whose
/// delimiter must not occur in the value: the runner ends the value at the first line equal
/// to it. https://github.com/actions/toolkit/blob/main/packages/core/src/file-command.ts
fn output_entry(name: &str, value: &str, mut random: impl FnMut() -> u64) -> String {
    debug_assert!(
        !name.is_empty() && !name.contains(['=', '<', '\n', '\r']),
        "output name {name:?}"
    );
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let delimiter = loop {
        let candidate = format!("ghadelimiter_{:016x}{:016x}", random(), random());
        if !value.contains(&candidate) {
            break candidate;
        }
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

fn random_u64() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::collections::hash_map::RandomState::new().hash_one(nanos)
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Cuts a summary at a line boundary so that it fits `limit` bytes with the note saying so.
fn cut_summary(summary: String, limit: usize) -> String {
    if summary.len() <= limit {
        return summary;
    }
    let note =
        "\n\n**Summary cut at GitHub's step summary limit; `--format json` lists everything.**\n";
    let mut end = limit.saturating_sub(note.len());
    while !summary.is_char_boundary(end) {
        end -= 1;
    }
    let end = summary[..end].rfind('\n').unwrap_or(end);
    format!("{}{note}", &summary[..end])
}

/// Where paths are shown from: `GITHUB_WORKSPACE` when set, else the current directory.
struct PathBase {
    cwd: PathBuf,
    root: PathBuf,
}

impl PathBase {
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let cwd = normalize(&std::env::current_dir().unwrap_or_default());
        let root = env("GITHUB_WORKSPACE")
            .filter(|w| !w.is_empty())
            .map_or_else(|| cwd.clone(), |w| normalize(&cwd.join(w)));
        PathBase { cwd, root }
    }

    fn absolute(&self, file: &Path) -> PathBuf {
        normalize(&self.cwd.join(file))
    }

    /// `file` relative to the root, with `/` separators; None when it lies outside.
    fn relative(&self, file: &Path) -> Option<String> {
        let rel = self
            .absolute(file)
            .strip_prefix(&self.root)
            .ok()?
            .to_owned();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }
}

/// Resolves `.` and `..` without touching the file system (the file may not exist here).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.file_name().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn slash_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        s.into_owned()
    }
}

fn file_uri(path: &Path) -> String {
    let s = slash_path(path);
    let slash = if s.starts_with('/') { "" } else { "/" };
    format!("file://{slash}{}", uri_encode(&s, true))
}

/// Percent-encodes what may not appear in a URI path. A colon is encoded in relative
/// references, where one in the first segment would read as a scheme.
fn uri_encode(s: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&b)
            || (keep_colon && b == b':');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// XML 1.0 allows no control characters but tab, line feed and carriage return, not even
/// as character references, and not U+FFFE or U+FFFF; they become U+FFFD.
fn xml_allowed(c: char) -> bool {
    !matches!(c, '\0'..='\x08' | '\x0B' | '\x0C' | '\x0E'..='\x1F' | '\u{FFFE}' | '\u{FFFF}')
}

fn xml_text(s: &str) -> String {
    xml_escape(s, false)
}

fn xml_attr(s: &str) -> String {
    xml_escape(s, true)
}

fn xml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // Also keeps `]]>` out of text, where XML forbids it.
            '>' => out.push_str("&gt;"),
            // A parser turns a bare CR into LF, and line breaks and tabs in attributes
            // into spaces; references keep them.
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            c if !xml_allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text in a Markdown paragraph or table cell: punctuation that would start a table cell,
/// an HTML tag, a code span, emphasis or a link is escaped, line breaks become `<br>`.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text: its fence is longer than any run of backticks inside.
fn md_code(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

fn status_mark(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Pass => "✅",
        CaseStatus::Warn => "⚠️",
        CaseStatus::Fail => "❌",
        CaseStatus::Skip => "➖",
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if s.chars().count() > max => format!("{}…", &s[..i]),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k: &str| vars.get(k).cloned()
    }

    fn workspace() -> PathBuf {
        std::env::temp_dir().join("gpuarch-ws")
    }

    fn ws_env() -> impl Fn(&str) -> Option<String> {
        env_of(&[("GITHUB_WORKSPACE", workspace().display().to_string())])
    }

    fn at(file: PathBuf, line: u32, column: u32) -> Option<Location> {
        Some(Location { file, line, column })
    }

    fn case(suite: &str, name: &str, status: CaseStatus, detail: &str) -> Case {
        Case {
            suite: suite.into(),
            name: name.into(),
            status,
            detail: detail.into(),
            location: None,
        }
    }

    fn empty(command: &'static str, ok: bool) -> Outcome {
        Outcome {
            command,
            title: format!("gpuarch {command}"),
            ok,
            cases: vec![],
            diagnostics: vec![],
            outputs: vec![],
            details: vec![],
            source: None,
        }
    }

    /// A plan with one uncovered GPU (an error with a location and help) and one GPU
    /// that runs only PTX (a warning without a location).
    fn failed_plan() -> Outcome {
        let manifest = workspace().join("crates/a/gpuarch.toml");
        Outcome {
            title: "gpuarch plan (gpuarch.toml): 4 targets, CUDA 12.4".into(),
            cases: vec![
                case("targets", "A100 (8.0)", CaseStatus::Pass, "sm_80 cubin"),
                case(
                    "targets",
                    "T4 (7.5)",
                    CaseStatus::Fail,
                    "nothing it can run",
                ),
                case(
                    "targets",
                    "H20 (9.0)",
                    CaseStatus::Warn,
                    "JIT from compute_80",
                ),
                case("targets", "Mystery", CaseStatus::Skip, "unknown GPU"),
            ],
            diagnostics: vec![
                Diagnostic::error("target-not-covered", "T4 (7.5) is not covered")
                    .with_help("add sm_75")
                    .at(at(manifest.clone(), 3, 7)),
                Diagnostic::warning("jit-only", "H20 (9.0) has no cubin"),
            ],
            outputs: vec![
                (
                    "nvcc-flags".into(),
                    "-gencode=arch=compute_80,code=sm_80".into(),
                ),
                ("torch-cuda-arch-list".into(), "8.0".into()),
            ],
            details: vec![("CUDA".into(), "12.4".into())],
            source: Some(manifest),
            ..empty("plan", false)
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gpuarch-pipeline-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `$GITHUB_OUTPUT` read back the way the runner reads it (FileCommandManager.cs).
    fn parse_github_output(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = text.split('\n');
        while let Some(line) = lines.next() {
            if line.is_empty() {
                continue;
            }
            match (line.find('='), line.find("<<")) {
                (Some(eq), heredoc) if heredoc.is_none_or(|h| eq < h) => {
                    out.push((line[..eq].to_string(), line[eq + 1..].to_string()));
                }
                (_, Some(h)) => {
                    let delimiter = &line[h + 2..];
                    let mut value = Vec::new();
                    loop {
                        let l = lines.next().expect("matching delimiter");
                        if l == delimiter {
                            break;
                        }
                        value.push(l);
                    }
                    out.push((line[..h].to_string(), value.join("\n")));
                }
                _ => panic!("invalid line {line:?}"),
            }
        }
        out
    }

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_data("a: b, c"), "a: b, c");
        assert_eq!(escape_property("C:\\x,y%\n"), "C%3A\\x%2Cy%25%0A");
        assert_eq!(escape_property("%3A"), "%253A");
    }

    #[test]
    fn annotation_carries_the_location_relative_to_the_workspace_and_the_code() {
        let out = github(&failed_plan(), &ws_env()).unwrap();
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("::error file=crates/a/gpuarch.toml,line=3,col=7,title=target-not-covered::T4 (7.5) is not covered%0Ahelp: add sm_75")
        );
        assert_eq!(
            lines.next(),
            Some("::warning title=jit-only::H20 (9.0) has no cubin")
        );
        // The failing case is the diagnostic already: no second annotation for T4.
        assert_eq!(out.matches("::error").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_outside_the_workspace_keeps_its_absolute_path() {
        let o = Outcome {
            diagnostics: vec![Diagnostic::error("target-not-covered", "x").at(at(
                "/elsewhere/a,b:c.toml".into(),
                1,
                1,
            ))],
            ..empty("check", false)
        };
        let out = github(&o, &ws_env()).unwrap();
        assert!(out.starts_with("::error file=/elsewhere/a%2Cb%3Ac.toml,line=1,col=1,"));
    }

    #[test]
    fn a_relative_location_is_resolved_from_the_current_directory() {
        let cwd = std::env::current_dir().unwrap();
        let parent = cwd.parent().unwrap().display().to_string();
        let dir = cwd.file_name().unwrap().to_string_lossy();
        let o = Outcome {
            diagnostics: vec![Diagnostic::error("target-not-covered", "x").at(at(
                "./sub/../gpuarch.toml".into(),
                2,
                1,
            ))],
            ..empty("plan", false)
        };
        let out = github(&o, &env_of(&[("GITHUB_WORKSPACE", parent)])).unwrap();
        assert!(
            out.starts_with(&format!("::error file={dir}/gpuarch.toml,line=2,")),
            "{out}"
        );
    }

    #[test]
    fn normalize_resolves_dots_lexically() {
        let sep = std::path::MAIN_SEPARATOR_STR;
        let root = PathBuf::from(sep);
        assert_eq!(
            normalize(&root.join("a/./b/../c")),
            root.join("a").join("c")
        );
        assert_eq!(normalize(&root.join("..")), root);
        assert_eq!(normalize(Path::new("../x")), Path::new("..").join("x"));
        assert_eq!(normalize(Path::new("a/../../x")), Path::new("..").join("x"));
    }

    #[test]
    fn cases_are_annotated_when_no_diagnostic_speaks_for_them() {
        let o = Outcome {
            cases: vec![
                case("probes", "driver", CaseStatus::Pass, "550.54.15"),
                case("probes", "nvidia-smi", CaseStatus::Fail, "not found"),
                case("probes", "cache", CaseStatus::Warn, "stale"),
            ],
            diagnostics: vec![Diagnostic::note("catalog-stale", "newer than the catalog")],
            ..empty("doctor", false)
        };
        let out = github(&o, &ws_env()).unwrap();
        let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::")).collect();
        assert_eq!(
            annotations,
            [
                "::error title=probes%3A nvidia-smi::nvidia-smi: not found",
                "::warning title=probes%3A cache::cache: stale",
                "::notice title=catalog-stale::newer than the catalog",
            ]
        );
    }

    #[test]
    fn a_failed_outcome_always_has_an_error_annotation() {
        let o = Outcome {
            cases: vec![case("relations", "r", CaseStatus::Skip, "unknown")],
            ..empty("deploy", false)
        };
        let out = github(&o, &ws_env()).unwrap();
        assert!(out.starts_with("::error title=gpuarch deploy::gpuarch deploy: failed\n"));
        assert!(out.contains("errors=1\n"));
        assert!(!github(&empty("deploy", true), &ws_env())
            .unwrap()
            .contains("::error"));
    }

    #[test]
    fn errors_come_first_and_a_notice_says_what_github_does_not_show() {
        let mut diagnostics = Vec::new();
        for i in 0..12 {
            diagnostics.push(Diagnostic::warning("jit-only", format!("warning {i}")));
            diagnostics.push(Diagnostic::note(
                "minor-version-compat",
                format!("note {i}"),
            ));
        }
        for i in 0..11 {
            diagnostics.push(Diagnostic::error(
                "target-not-covered",
                format!("error {i}"),
            ));
        }
        let o = Outcome {
            diagnostics,
            ..empty("check", false)
        };
        let out = github(&o, &ws_env()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[..11].iter().all(|l| l.starts_with("::error ")));
        assert!(lines[11..23].iter().all(|l| l.starts_with("::warning ")));
        assert!(out.contains("::notice title=gpuarch check::11 errors: GitHub shows the first 10"));
        assert!(
            out.contains("::notice title=gpuarch check::12 warnings: GitHub shows the first 10")
        );
        assert!(out.contains("errors=11\nwarnings=12\n"));
    }

    #[test]
    fn github_appends_outputs_and_summary_to_the_runner_files() {
        let dir = scratch("files");
        let (output, summary) = (dir.join("output"), dir.join("summary"));
        std::fs::write(&output, "earlier=1\n").unwrap();
        std::fs::write(&summary, "# earlier step\n").unwrap();
        let env = env_of(&[
            ("GITHUB_WORKSPACE", workspace().display().to_string()),
            ("GITHUB_OUTPUT", output.display().to_string()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ]);
        let out = github(&failed_plan(), &env).unwrap();
        assert!(!out.contains("nvcc-flags"), "{out}");
        let written = std::fs::read_to_string(&output).unwrap();
        assert_eq!(
            parse_github_output(&written),
            [
                ("earlier", "1"),
                ("nvcc-flags", "-gencode=arch=compute_80,code=sm_80"),
                ("torch-cuda-arch-list", "8.0"),
                ("ok", "false"),
                ("errors", "1"),
                ("warnings", "1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let summary = std::fs::read_to_string(&summary).unwrap();
        assert!(
            summary.starts_with("# earlier step\n## ❌ gpuarch plan"),
            "{summary}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn outside_actions_the_outputs_follow_the_annotations_on_stdout() {
        let out = github(&empty("plan", true), &|_| None).unwrap();
        assert_eq!(out, "ok=true\nerrors=0\nwarnings=0\n");
    }

    #[test]
    fn a_multi_line_output_round_trips_through_a_heredoc() {
        for value in ["a\nb", "a\nb\n", "line\r\nnext", "\n", "x=1<<EOF\nEOF"] {
            let entry = output_entry("notes", value, random_u64);
            assert!(entry.starts_with("notes<<ghadelimiter_"), "{entry}");
            assert_eq!(
                parse_github_output(&entry),
                [("notes".to_string(), value.to_string())]
            );
        }
    }

    #[test]
    fn the_heredoc_delimiter_never_occurs_in_the_value() {
        let taken = format!("ghadelimiter_{:016x}{:016x}", 1, 2);
        let value = format!("first\n{taken}\nlast");
        let mut next = 0;
        let entry = output_entry("v", &value, || {
            next += 1;
            next
        });
        let fresh = format!("ghadelimiter_{:016x}{:016x}", 3, 4);
        assert_eq!(entry, format!("v<<{fresh}\n{value}\n{fresh}\n"));
        assert_eq!(parse_github_output(&entry), [("v".to_string(), value)]);
    }

    #[test]
    fn the_step_summary_is_cut_to_the_runner_limit() {
        let big: String = (0..1000).map(|i| format!("| ✅ | row {i} |\n")).collect();
        let cut = cut_summary(big.clone(), 4000);
        assert!(cut.len() <= 4000);
        assert!(cut.ends_with("`--format json` lists everything.**\n"));
        assert!(big.starts_with(cut.split("\n\n**Summary cut").next().unwrap()));
        assert_eq!(cut_summary("short".into(), 4000), "short");
    }

    /// A strict, small XML 1.0 well-formedness check: balanced tags, one root, quoted
    /// attributes, valid references, no forbidden characters, no `]]>` in text.
    fn assert_well_formed(xml: &str) {
        fn check_references(s: &str) {
            assert!(!s.contains('<'), "raw < in {s:?}");
            assert!(!s.contains("]]>"), "]]> in {s:?}");
            for (i, _) in s.match_indices('&') {
                let rest = &s[i + 1..];
                let end = rest.find(';').unwrap_or_else(|| panic!("bare & in {s:?}"));
                let name = &rest[..end];
                let c = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse().ok().and_then(char::from_u32)
                } else {
                    ["amp", "lt", "gt", "quot", "apos"]
                        .contains(&name)
                        .then_some('x')
                };
                assert!(
                    c.is_some_and(xml_allowed),
                    "bad reference &{name}; in {s:?}"
                );
            }
        }
        assert!(xml.chars().all(xml_allowed), "forbidden character");
        let mut rest = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
            .expect("XML declaration");
        let (mut stack, mut roots) = (Vec::new(), 0);
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            check_references(text);
            rest = &rest[open + 1..];
            let close = rest.find('>').expect("unclosed tag");
            let tag = &rest[..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
                continue;
            }
            let (tag, empty) = match tag.strip_suffix('/') {
                Some(t) => (t, true),
                None => (tag, false),
            };
            let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
            let name = &tag[..name_end];
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "tag name {name:?}"
            );
            let mut attributes = tag[name_end..].trim_start();
            let mut seen = Vec::new();
            while !attributes.is_empty() {
                let (attribute, value) = attributes.split_once("=\"").expect("quoted attribute");
                let end = value.find('"').expect("closing quote");
                assert!(!seen.contains(&attribute), "duplicate {attribute}");
                seen.push(attribute);
                check_references(&value[..end]);
                attributes = value[end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !empty {
                stack.push(name);
            }
        }
        assert!(
            rest.trim().is_empty() && stack.is_empty(),
            "unclosed {stack:?}"
        );
        assert_eq!(roots, 1);
        // A real parser too, where python3 is at hand (exit 3: it refused the document).
        let script = "import sys\nfrom xml.dom import minidom\nfrom xml.parsers.expat import ExpatError\ntry:\n    minidom.parseString(sys.stdin.buffer.read())\nexcept ExpatError as e:\n    print(e)\n    sys.exit(3)\n";
        let child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(xml.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert_ne!(
                out.status.code(),
                Some(3),
                "expat: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    #[test]
    fn junit_counts_every_case_and_error_diagnostic() {
        let xml = junit(&failed_plan());
        assert_well_formed(&xml);
        assert!(xml.contains(
            "<testsuites name=\"gpuarch plan\" tests=\"6\" failures=\"2\" errors=\"0\" time=\"0\">"
        ));
        assert!(xml.contains(
            "<testsuite name=\"targets\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"0\">"
        ));
        assert!(xml.contains(
            "<testsuite name=\"diagnostics\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\" time=\"0\">"
        ));
        assert!(xml.contains("<testcase name=\"T4 (7.5)\" classname=\"gpuarch.plan.targets\" time=\"0\">\n      <failure message=\"nothing it can run\" type=\"fail\">nothing it can run</failure>"));
        assert!(xml.contains("<skipped message=\"unknown GPU\"/>"));
        assert!(xml.contains("<system-out>warning: JIT from compute_80</system-out>"));
        assert!(xml
            .contains("<failure message=\"T4 (7.5) is not covered\" type=\"target-not-covered\">"));
    }

    #[test]
    fn junit_escapes_what_xml_forbids() {
        let nasty = "a<b & \"c\" 'd' ]]> \u{1b}[31mred\0\u{FFFF}\r\nü 中 %0A";
        let o = Outcome {
            cases: vec![case(nasty, nasty, CaseStatus::Fail, nasty)],
            diagnostics: vec![Diagnostic::error("target-not-covered", nasty)
                .with_help(nasty)
                .at(at("C:\\work\\<x>.toml".into(), 1, 1))],
            ..empty("check", false)
        };
        let xml = junit(&o);
        assert_well_formed(&xml);
        assert!(xml.contains("]]&gt;"));
        assert!(xml.contains("\u{FFFD}[31mred\u{FFFD}\u{FFFD}&#13;\nü 中 %0A"));
        assert!(xml.contains("name=\"a&lt;b &amp; &quot;c&quot; &apos;d&apos; ]]&gt;"));
        assert!(xml.contains("C:\\work\\&lt;x&gt;.toml"));
    }

    #[test]
    fn junit_never_reads_green_for_a_failed_outcome_nor_empty() {
        let failed = junit(&Outcome {
            cases: vec![case("probes", "p", CaseStatus::Pass, "")],
            ..empty("doctor", false)
        });
        assert_well_formed(&failed);
        assert!(failed.contains("tests=\"2\" failures=\"1\""));
        assert!(failed
            .contains("<testcase name=\"p\" classname=\"gpuarch.doctor.probes\" time=\"0\"/>"));
        let passed = junit(&empty("doctor", true));
        assert_well_formed(&passed);
        assert!(passed.contains("tests=\"1\" failures=\"0\""));
    }

    #[test]
    fn hundreds_of_cases_stay_valid_in_every_format() {
        let o = Outcome {
            cases: (0..600)
                .map(|i| {
                    let status = [CaseStatus::Pass, CaseStatus::Fail, CaseStatus::Skip][i % 3];
                    case(
                        ["targets", "node groups"][i % 2],
                        &format!("gpu-{i}"),
                        status,
                        "d",
                    )
                })
                .collect(),
            ..empty("verify", false)
        };
        let xml = junit(&o);
        assert_well_formed(&xml);
        assert!(xml.contains("tests=\"600\" failures=\"200\" errors=\"0\" time"));
        assert!(xml.contains("tests=\"300\" failures=\"100\" errors=\"0\" skipped=\"100\""));
        let md = markdown(&o);
        assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 600 + 2);
        assert!(md.contains("### node groups (100 ✅, 100 ❌, 100 ➖)"));
        let out = github(&o, &ws_env()).unwrap();
        assert_eq!(out.matches("::error ").count(), 200);
    }

    #[test]
    fn markdown_escapes_table_cells() {
        let mut o = failed_plan();
        o.cases = vec![case(
            "targets",
            "A|B",
            CaseStatus::Fail,
            "a | b\r\nc <script> `x` *y*",
        )];
        let md = markdown(&o);
        assert!(md.starts_with(
            "## ❌ gpuarch plan (gpuarch.toml): 4 targets, CUDA 12.4\n\n- **CUDA**: 12.4\n"
        ));
        assert!(md.contains("### targets (1 ❌)\n\n|   | name | detail |\n|---|---|---|\n"));
        assert!(md.contains("| ❌ | A\\|B | a \\| b<br>c \\<script\\> \\`x\\` \\*y\\* |\n"));
        assert!(md.contains(&format!(
            "- ❌ **error** `target-not-covered`: T4 (7.5) is not covered at `{}`<br>help: add sm_75\n",
            o.diagnostics[0].location.as_ref().unwrap()
        )));
        assert!(md.ends_with("### Outputs\n\n```text\nnvcc-flags=-gencode=arch=compute_80,code=sm_80\ntorch-cuda-arch-list=8.0\n```\n"));
        assert!(markdown(&empty("plan", true)).starts_with("## ✅ gpuarch plan\n"));
    }

    #[test]
    fn markdown_code_survives_backticks() {
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x"), "`` `x ``");
        let mut o = empty("plan", true);
        o.outputs = vec![("flags".into(), "```evil".into())];
        assert!(markdown(&o).contains("\n````text\nflags=```evil\n````\n"));
    }

    #[test]
    fn sarif_has_the_shape_code_scanning_reads() {
        let o = failed_plan();
        let log: Value = serde_json::from_str(&sarif(&o, &ws_env())).unwrap();
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(
            log["$schema"],
            "https://json.schemastore.org/sarif-2.1.0.json"
        );
        let run = &log["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "gpuarch");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(run["automationDetails"]["id"], "gpuarch/plan/");
        let root = file_uri(&workspace()) + "/";
        assert_eq!(run["invocations"][0]["workingDirectory"]["uri"], root);
        assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"], root);
        let rules = driver["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["target-not-covered", "jit-only"]);
        let info = diagnostic::explain("target-not-covered").unwrap();
        assert_eq!(rules[0]["shortDescription"]["text"], info.summary);
        assert_eq!(rules[0]["defaultConfiguration"]["level"], "error");
        for rule in rules {
            let full = rule["fullDescription"]["text"].as_str().unwrap();
            assert!(full.chars().count() <= SARIF_DESCRIPTION_LIMIT);
            assert!(rule["help"]["text"]
                .as_str()
                .unwrap()
                .contains("cargo gpuarch explain"));
        }
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for r in results {
            let index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], r["ruleId"]);
            assert_eq!(r["locations"].as_array().unwrap().len(), 1);
        }
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[0]["message"]["text"],
            "T4 (7.5) is not covered\nhelp: add sm_75"
        );
        let located = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(located["artifactLocation"]["uri"], "crates/a/gpuarch.toml");
        assert_eq!(located["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(located["region"]["startLine"], 3);
        assert_eq!(located["region"]["startColumn"], 7);
        // The warning has no location: it is anchored at the manifest.
        let anchored = &results[1]["locations"][0]["physicalLocation"];
        assert_eq!(anchored["artifactLocation"]["uri"], "crates/a/gpuarch.toml");
        assert_eq!(anchored["region"]["startLine"], 1);
        assert_eq!(results[1]["level"], "warning");
    }

    #[test]
    fn long_descriptions_are_cut_to_the_code_scanning_limit() {
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("ab", 4), "ab");
        assert_eq!(truncate_chars("üüüüü", 5), "üüüüü");
        assert_eq!(truncate_chars("üüüüüü", 5).chars().count(), 5);
    }

    #[test]
    fn sarif_uris_are_percent_encoded() {
        let o = Outcome {
            diagnostics: vec![Diagnostic::error("target-not-covered", "x").at(at(
                workspace().join("dir with space/ü%#:.toml"),
                1,
                1,
            ))],
            ..empty("check", false)
        };
        let log: Value = serde_json::from_str(&sarif(&o, &ws_env())).unwrap();
        let artifact =
            &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uri"], "dir%20with%20space/%C3%BC%25%23%3A.toml");
        assert_eq!(file_uri(Path::new("/a b/c.toml")), "file:///a%20b/c.toml");
        assert_eq!(file_uri(Path::new("C:/x/y.toml")), "file:///C:/x/y.toml");
    }

    #[cfg(unix)]
    #[test]
    fn sarif_names_a_file_outside_the_workspace_by_its_file_uri() {
        let o = Outcome {
            diagnostics: vec![Diagnostic::error("target-not-covered", "x").at(at(
                "/elsewhere/gpuarch.toml".into(),
                1,
                1,
            ))],
            ..empty("check", false)
        };
        let log: Value = serde_json::from_str(&sarif(&o, &ws_env())).unwrap();
        let artifact =
            &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
        assert_eq!(artifact["uri"], "file:///elsewhere/gpuarch.toml");
        assert!(artifact.get("uriBaseId").is_none());
    }

    #[test]
    fn sarif_without_any_file_leaves_locations_out_and_empty_is_valid() {
        let o = Outcome {
            diagnostics: vec![Diagnostic::error("driver-below-runtime", "x")],
            ..empty("check", false)
        };
        let log: Value = serde_json::from_str(&sarif(&o, &ws_env())).unwrap();
        assert!(log["runs"][0]["results"][0].get("locations").is_none());
        let log: Value = serde_json::from_str(&sarif(&empty("plan", true), &ws_env())).unwrap();
        assert_eq!(log["runs"][0]["results"], json!([]));
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"], json!([]));
    }
}
