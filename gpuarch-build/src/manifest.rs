//! The target-hardware manifest: `gpuarch.toml`, or `[package.metadata.gpuarch]` /
//! `[workspace.metadata.gpuarch]` in Cargo.toml (a package's keys override the
//! workspace's, key by key).
//!
//! ```toml
//! gpus = ["T4", "A100", "L4", "H100"]     # products, capabilities ("8.6", "sm_86"), architectures
//! min-driver = "535.54.03"               # or { linux = "535.54.03", windows = "536.25" }
//! cuda = "12.4"                          # omit to detect the nvcc a build would use
//! ptx = "highest"                        # or "none"
//! sass = "exact"                         # or "minimal"
//! arch-specific = ["9.0"]                # sm_90a instead of sm_90; `true` for every target that has one
//! family-specific = false                # sm_100f-style family code; `true` or a list
//! ```

use std::path::{Path, PathBuf};

use crate::toml::{self, Spanned, Table, Value};

use crate::arch::Cc;
use crate::catalog::Os;
use crate::diagnostic::{Diagnostic, LineIndex, Location};
use crate::error::{Error, Result};
use crate::version::Version;

/// A value with the place it was written, where it came from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub location: Option<Location>,
}

impl<T> Located<T> {
    pub fn new(value: T, location: Option<Location>) -> Self {
        Located { value, location }
    }

    /// A value given on the command line or in the environment.
    pub fn bare(value: T) -> Self {
        Located::new(value, None)
    }
}

/// How GPUs newer than every target are reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PtxPolicy {
    /// Embed PTX of the highest plain target: newer GPUs JIT it.
    #[default]
    Highest,
    /// No PTX: only the targets' own cubins.
    None,
}

/// How many cubins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SassPolicy {
    /// One cubin per distinct target capability.
    #[default]
    Exact,
    /// The fewest cubins that still give every target SASS, by the same-major rule.
    Minimal,
}

/// Which targets get `a` (or `f`) code.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum OptIn {
    #[default]
    Off,
    /// Every target whose capability has such a variant in the toolkit.
    All,
    /// These capabilities.
    Only(Vec<Cc>),
}

impl OptIn {
    pub fn includes(&self, cc: Cc) -> bool {
        match self {
            OptIn::Off => false,
            OptIn::All => true,
            OptIn::Only(list) => list.contains(&cc),
        }
    }
}

/// The oldest host driver the artifacts must run on, per OS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriverFloor {
    pub linux: Option<Located<Version>>,
    pub windows: Option<Located<Version>>,
}

impl DriverFloor {
    pub fn get(&self, os: Os) -> Option<&Located<Version>> {
        match os {
            Os::Linux => self.linux.as_ref(),
            Os::Windows => self.windows.as_ref(),
        }
    }

    /// The floor of one OS, to set.
    pub fn slot_mut(&mut self, os: Os) -> &mut Option<Located<Version>> {
        match os {
            Os::Linux => &mut self.linux,
            Os::Windows => &mut self.windows,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.linux.is_none() && self.windows.is_none()
    }
}

/// What a manifest asks for. Every field is optional in the file; command-line flags and
/// environment overrides are applied on top by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The file(s) it was read from, for messages; empty when built from flags.
    pub files: Vec<PathBuf>,
    /// Where `gpus` was written (for "empty target list").
    pub gpus_location: Option<Location>,
    pub gpus: Vec<Located<String>>,
    pub min_driver: DriverFloor,
    pub cuda: Option<Located<Version>>,
    pub ptx: PtxPolicy,
    pub sass: SassPolicy,
    pub arch_specific: Located<OptIn>,
    pub family_specific: Located<OptIn>,
    /// `[torch]`: the PyTorch release the deployment installs (`cargo gpuarch deploy`).
    pub torch: TorchWish,
    /// `[image]`: the base image, or what a recommended one should be.
    pub image: ImageWish,
}

/// `[torch]`: `version = "2.4.1"` (a local part such as `+cu121` names the variant), and
/// optionally `variant = "cu121"`. Kept as written; `deploy` validates them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorchWish {
    pub version: Option<Located<String>>,
    pub variant: Option<Located<String>>,
}

/// `[image]`: `ref = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"` (any reference), `cuda`
/// (the CUDA version of an image that is not nvidia/cuda), and, for recommendations,
/// `flavor` (`base`, `runtime`, `cudnn-runtime`, `devel`, ...) and `os` (`ubuntu22.04`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageWish {
    pub reference: Option<Located<String>>,
    pub cuda: Option<Located<Version>>,
    pub flavor: Option<Located<String>>,
    pub os: Option<Located<String>>,
}

impl Default for Located<OptIn> {
    fn default() -> Self {
        Located::bare(OptIn::Off)
    }
}

const KEYS: &[&str] = &[
    "gpus",
    "min-driver",
    "cuda",
    "ptx",
    "sass",
    "arch-specific",
    "family-specific",
    "torch",
    "image",
];
const TORCH_KEYS: &[&str] = &["version", "variant"];

/// How a deployment section (`[torch]`, `[image]`) is read.
struct Section {
    name: &'static str,
    keys: &'static [&'static str],
    /// What the wrong-type message says it should be.
    expected: &'static str,
    /// `torch = "2.4.1"`: the string sets the main key.
    shorthand: fn(&mut Manifest, Located<String>),
    /// One key of the table; an `unknown-key` error is replaced by one naming the section.
    entry: SectionEntry,
}

/// `[torch]` as a table, or `torch = "2.4.1"` for the version alone.
const TORCH_SECTION: Section = Section {
    name: "torch",
    keys: TORCH_KEYS,
    expected: "a table such as { version = \"2.4.1\", variant = \"cu121\" }, or a version string",
    shorthand: |m, s| m.torch.version = Some(s),
    entry: |m, key, v, at| match key {
        "version" => expect_string(v, "torch.version", "\"2.4.1\" or \"2.4.1+cu121\"")
            .map(|s| m.torch.version = Some(Located::new(s, at))),
        "variant" => expect_string(v, "torch.variant", "\"cu121\"")
            .map(|s| m.torch.variant = Some(Located::new(s, at))),
        _ => Err(Diagnostic::error("unknown-key", "")),
    },
};

/// `[image]` as a table, or `image = "nvidia/cuda:..."` for the reference alone.
const IMAGE_SECTION: Section = Section {
    name: "image",
    keys: IMAGE_KEYS,
    expected: "a table such as { ref = \"nvidia/cuda:12.4.1-runtime-ubuntu22.04\" }, or a reference string",
    shorthand: |m, s| m.image.reference = Some(s),
    entry: |m, key, v, at| match key {
        "ref" => expect_string(v, "image.ref", "\"nvidia/cuda:12.4.1-runtime-ubuntu22.04\"")
            .map(|s| m.image.reference = Some(Located::new(s, at))),
        "cuda" => expect_version(v, "image.cuda", at.clone())
            .map(|c| m.image.cuda = Some(Located::new(c, at))),
        "flavor" => expect_string(v, "image.flavor", "\"runtime\"")
            .map(|s| m.image.flavor = Some(Located::new(s, at))),
        "os" => expect_string(v, "image.os", "\"ubuntu22.04\"")
            .map(|s| m.image.os = Some(Located::new(s, at))),
        _ => Err(Diagnostic::error("unknown-key", "")),
    },
};

/// Reads one key of a section: the manifest, the key, its value and where the value is.
type SectionEntry =
    fn(&mut Manifest, &str, &Spanned<Value>, Option<Location>) -> Result<(), Diagnostic>;
const IMAGE_KEYS: &[&str] = &["ref", "cuda", "flavor", "os"];

impl Manifest {
    /// Reads a manifest file: `gpuarch.toml`, or a Cargo.toml (its package's and its
    /// workspace's metadata).
    pub fn from_path(path: &Path) -> Result<Manifest> {
        if path.file_name().is_some_and(|n| n == "Cargo.toml") {
            Manifest::from_cargo_toml(path)
        } else {
            let text = read(path)?;
            Manifest::from_gpuarch_toml(path, &text)
        }
    }

    /// Parses the text of a `gpuarch.toml`.
    pub fn from_gpuarch_toml(path: &Path, text: &str) -> Result<Manifest> {
        let doc = parse_toml(path, text)?;
        let mut manifest = Manifest {
            files: vec![path.to_path_buf()],
            ..Manifest::default()
        };
        let file = SourceFile::new(path, text);
        let mut errors = Vec::new();
        manifest.apply_table(&file, &doc, "", &mut errors);
        finish(manifest, errors)
    }

    /// Reads `[package.metadata.gpuarch]` from a Cargo.toml, over
    /// `[workspace.metadata.gpuarch]` of its workspace root (this file or the nearest
    /// Cargo.toml above it with a `[workspace]`).
    pub fn from_cargo_toml(path: &Path) -> Result<Manifest> {
        let text = read(path)?;
        let doc = parse_toml(path, &text)?;
        let mut manifest = Manifest::default();
        let mut errors = Vec::new();

        let own_workspace = doc.table_at(&["workspace"]).is_some();
        let root = if own_workspace {
            None
        } else {
            find_workspace_root(path)
        };
        if let Some((root_path, root_text, root_doc)) = &root {
            if let Some(t) = root_doc.table_at(&["workspace", "metadata", "gpuarch"]) {
                let file = SourceFile::new(root_path, root_text);
                manifest.files.push(root_path.clone());
                manifest.apply_table(&file, t, "workspace.metadata.gpuarch.", &mut errors);
            }
        }
        let file = SourceFile::new(path, &text);
        if let Some(t) = doc.table_at(&["workspace", "metadata", "gpuarch"]) {
            manifest.files.push(path.to_path_buf());
            manifest.apply_table(&file, t, "workspace.metadata.gpuarch.", &mut errors);
        }
        if let Some(t) = doc.table_at(&["package", "metadata", "gpuarch"]) {
            if !manifest.files.iter().any(|f| f == path) {
                manifest.files.push(path.to_path_buf());
            }
            manifest.apply_table(&file, t, "package.metadata.gpuarch.", &mut errors);
        }
        if manifest.files.is_empty() {
            errors.push(
                Diagnostic::error(
                    "no-manifest",
                    format!(
                        "{} has no [package.metadata.gpuarch] or [workspace.metadata.gpuarch] table",
                        path.display()
                    ),
                )
                .with_help(
                    "add `[package.metadata.gpuarch]` with `gpus = [\"A100\"]`, or put a gpuarch.toml beside it",
                ),
            );
        }
        finish(manifest, errors)
    }

    /// Finds the manifest for a directory: `gpuarch.toml` there, else its Cargo.toml's
    /// metadata, else the same in each parent directory.
    pub fn discover(start: &Path) -> Result<Manifest> {
        Manifest::from_path(&find_manifest(start)?)
    }

    fn apply_table(
        &mut self,
        file: &SourceFile<'_>,
        table: &Table,
        prefix: &str,
        errors: &mut Vec<Diagnostic>,
    ) {
        for (key, value) in &table.entries {
            let key_name = key.value.as_str();
            let at = file.location(value.span.start);
            let key_at = file.location(key.span.start);
            let result = match key_name {
                "gpus" => self.set_gpus(file, value, at.clone()),
                "min-driver" => self.set_min_driver(file, value, at.clone()),
                "cuda" => expect_version(value, "cuda", at.clone()).map(|v| {
                    self.cuda = Some(Located::new(v, at.clone()));
                }),
                "ptx" => expect_choice(value, "ptx", &["highest", "none"]).map(|c| {
                    self.ptx = if c == "none" {
                        PtxPolicy::None
                    } else {
                        PtxPolicy::Highest
                    };
                }),
                "sass" => expect_choice(value, "sass", &["exact", "minimal"]).map(|c| {
                    self.sass = if c == "minimal" {
                        SassPolicy::Minimal
                    } else {
                        SassPolicy::Exact
                    };
                }),
                "arch-specific" => expect_opt_in(value, "arch-specific")
                    .map(|o| self.arch_specific = Located::new(o, at.clone())),
                "family-specific" => expect_opt_in(value, "family-specific")
                    .map(|o| self.family_specific = Located::new(o, at.clone())),
                "torch" => self.set_section(file, value, prefix, errors, &TORCH_SECTION),
                "image" => self.set_section(file, value, prefix, errors, &IMAGE_SECTION),
                other => Err(unknown_key(prefix, other)),
            };
            if let Err(diagnostic) = result {
                let location = if diagnostic.code == "unknown-key" {
                    key_at
                } else {
                    at
                };
                errors.push(diagnostic.at(location));
            }
        }
    }

    /// A section that is a table of its own keys, or a string for its main key. Errors
    /// in its keys are collected (an unknown key at the key, others at the value).
    fn set_section(
        &mut self,
        file: &SourceFile<'_>,
        value: &Spanned<Value>,
        prefix: &str,
        errors: &mut Vec<Diagnostic>,
        section: &Section,
    ) -> Result<(), Diagnostic> {
        match &value.value {
            Value::String(s) => {
                (section.shorthand)(
                    self,
                    Located::new(s.clone(), file.location(value.span.start)),
                );
                Ok(())
            }
            Value::Table(table) => {
                for (key, v) in &table.entries {
                    let v_at = file.location(v.span.start);
                    if let Err(d) = (section.entry)(self, key.value.as_str(), v, v_at.clone()) {
                        let (d, at) = if d.code == "unknown-key" {
                            let d = unknown_subkey(prefix, section.name, &key.value, section.keys);
                            (d, file.location(key.span.start))
                        } else {
                            (d, v_at)
                        };
                        errors.push(d.at(at));
                    }
                }
                Ok(())
            }
            _ => Err(wrong_type(section.name, section.expected)),
        }
    }

    fn set_gpus(
        &mut self,
        file: &SourceFile<'_>,
        value: &Spanned<Value>,
        at: Option<Location>,
    ) -> Result<(), Diagnostic> {
        let Value::Array(items) = &value.value else {
            return Err(wrong_type(
                "gpus",
                "an array of strings, such as [\"A100\", \"L4\"]",
            ));
        };
        let mut gpus = Vec::with_capacity(items.len());
        for item in items {
            let Value::String(s) = &item.value else {
                return Err(
                    wrong_type("gpus", "an array of strings, such as [\"A100\", \"L4\"]")
                        .at(file.location(item.span.start)),
                );
            };
            gpus.push(Located::new(s.to_string(), file.location(item.span.start)));
        }
        self.gpus = gpus;
        self.gpus_location = at;
        Ok(())
    }

    fn set_min_driver(
        &mut self,
        file: &SourceFile<'_>,
        value: &Spanned<Value>,
        at: Option<Location>,
    ) -> Result<(), Diagnostic> {
        match &value.value {
            Value::String(_) => {
                let v = expect_version(value, "min-driver", at.clone())?;
                self.min_driver.linux = Some(Located::new(v, at));
                Ok(())
            }
            Value::Table(table) => {
                for (key, v) in &table.entries {
                    let v_at = file.location(v.span.start);
                    let version = expect_version(v, "min-driver", v_at.clone())
                        .map_err(|d| d.at(v_at.clone()))?;
                    let slot = match key.value.as_str() {
                        "linux" => &mut self.min_driver.linux,
                        "windows" => &mut self.min_driver.windows,
                        other => {
                            return Err(Diagnostic::error(
                                "unknown-key",
                                format!("`min-driver.{other}` is not an operating system gpuarch knows"),
                            )
                            .with_help("use `linux` or `windows`")
                            .at(file.location(key.span.start)))
                        }
                    };
                    *slot = Some(Located::new(version, v_at));
                }
                Ok(())
            }
            _ => Err(wrong_type(
                "min-driver",
                "a driver version string (\"535.54.03\", the Linux floor) or a table { linux = \"...\", windows = \"...\" }",
            )),
        }
    }
}

struct SourceFile<'a> {
    path: &'a Path,
    text: &'a str,
    lines: LineIndex,
}

impl<'a> SourceFile<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        SourceFile {
            path,
            text,
            lines: LineIndex::new(text),
        }
    }

    fn location(&self, offset: usize) -> Option<Location> {
        Some(self.lines.location(self.path, self.text, offset))
    }
}

fn finish(manifest: Manifest, mut errors: Vec<Diagnostic>) -> Result<Manifest> {
    errors.sort_unstable_by_key(|d| {
        d.location
            .as_ref()
            .map(|l| (l.file.clone(), l.line, l.column))
    });
    if errors.is_empty() {
        Ok(manifest)
    } else {
        Err(Error::Invalid(errors))
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_toml(path: &Path, text: &str) -> Result<Table> {
    toml::parse(text).map_err(|e| {
        Error::invalid(
            Diagnostic::error("manifest-syntax", format!("invalid TOML: {}", e.message))
                .with_help("fix the TOML syntax at this place")
                .at(Some(Location::at(path, text, e.offset))),
        )
    })
}

/// The nearest Cargo.toml above a package's with a `[workspace]`: its path, text and
/// parsed document.
fn find_workspace_root(package_manifest: &Path) -> Option<(PathBuf, String, Table)> {
    let dir = package_manifest.parent()?;
    for ancestor in dir.ancestors().skip(1) {
        let candidate = ancestor.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&candidate) {
            if let Ok(doc) = toml::parse(&text) {
                if doc.table_at(&["workspace"]).is_some() {
                    return Some((candidate, text, doc));
                }
            }
        }
    }
    None
}

fn find_manifest(start: &Path) -> Result<PathBuf> {
    for dir in start.ancestors() {
        let gpuarch = dir.join("gpuarch.toml");
        if gpuarch.is_file() {
            return Ok(gpuarch);
        }
        let cargo = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&cargo) {
            if text.contains("metadata.gpuarch") {
                return Ok(cargo);
            }
        }
    }
    Err(Error::invalid(
        Diagnostic::error(
            "no-manifest",
            format!(
                "no gpuarch.toml or Cargo.toml with [package.metadata.gpuarch] in {} or above",
                start.display()
            ),
        )
        .with_help("create gpuarch.toml with `gpus = [\"A100\"]`, pass --manifest-path, or name GPUs with --gpu"),
    ))
}

fn wrong_type(key: &str, expected: &str) -> Diagnostic {
    Diagnostic::error("wrong-type", format!("`{key}` must be {expected}"))
        .with_help(format!("write `{key}` as {expected}"))
}

fn expect_string(value: &Spanned<Value>, key: &str, example: &str) -> Result<String, Diagnostic> {
    match &value.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong_type(key, &format!("a string, such as {example}"))),
    }
}

fn unknown_subkey(prefix: &str, table: &str, key: &str, known: &[&str]) -> Diagnostic {
    let nearest = known
        .iter()
        .min_by_key(|k| strsim(k, key))
        .filter(|k| strsim(k, key) <= 2);
    let help = match nearest {
        Some(k) => format!(
            "did you mean `{k}`? Known keys of [{table}]: {}",
            known.join(", ")
        ),
        None => format!("known keys of [{table}]: {}", known.join(", ")),
    };
    Diagnostic::error(
        "unknown-key",
        format!("unknown key `{prefix}{table}.{key}`"),
    )
    .with_help(help)
}

fn unknown_key(prefix: &str, key: &str) -> Diagnostic {
    let nearest = KEYS
        .iter()
        .min_by_key(|k| strsim(k, key))
        .filter(|k| strsim(k, key) <= 3);
    let help = match nearest {
        Some(k) => format!("did you mean `{k}`? Known keys: {}", KEYS.join(", ")),
        None => format!("known keys: {}", KEYS.join(", ")),
    };
    Diagnostic::error("unknown-key", format!("unknown key `{prefix}{key}`")).with_help(help)
}

/// Edit distance after folding `_` to `-`, so `min_driver` is one step from `min-driver`.
fn strsim(known: &str, written: &str) -> usize {
    crate::catalog::edit_distance(known, &written.replace('_', "-"))
}

fn expect_version(
    value: &Spanned<Value>,
    key: &str,
    at: Option<Location>,
) -> Result<Version, Diagnostic> {
    let Value::String(s) = &value.value else {
        return Err(wrong_type(
            key,
            "a version string, such as \"12.4\" or \"525.60.13\"",
        ));
    };
    s.parse::<Version>().map_err(|e| {
        Diagnostic::error("bad-version", format!("`{key}`: {e}"))
            .with_help(format!(
                "write `{key} = \"12.4\"` (toolkit) or `\"525.60.13\"` (driver)"
            ))
            .at(at)
    })
}

fn expect_choice(
    value: &Spanned<Value>,
    key: &str,
    choices: &[&str],
) -> Result<String, Diagnostic> {
    let expected = format!(
        "one of {}",
        choices
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match &value.value {
        Value::String(s) if choices.contains(&s.as_str()) => Ok(s.clone()),
        _ => Err(wrong_type(key, &expected)),
    }
}

fn expect_opt_in(value: &Spanned<Value>, key: &str) -> Result<OptIn, Diagnostic> {
    let expected = "true, false, or a list of capabilities such as [\"9.0\", \"10.0\"]";
    match &value.value {
        Value::Boolean(true) => Ok(OptIn::All),
        Value::Boolean(false) => Ok(OptIn::Off),
        Value::Array(items) => {
            let mut ccs = Vec::new();
            for item in items {
                let Value::String(s) = &item.value else {
                    return Err(wrong_type(key, expected));
                };
                let cc = parse_cc_loose(s).ok_or_else(|| {
                    Diagnostic::error(
                        "unknown-capability",
                        format!("`{key}`: `{s}` is not a compute capability"),
                    )
                    .with_help("write capabilities as \"9.0\" or \"sm_90\"")
                })?;
                ccs.push(cc);
            }
            Ok(OptIn::Only(ccs))
        }
        _ => Err(wrong_type(key, expected)),
    }
}

/// A capability as people write it: `8.6`, `sm_86`, `86`, `compute_86`.
pub fn parse_cc_loose(s: &str) -> Option<Cc> {
    let s = s.trim();
    let s = s
        .strip_prefix("sm_")
        .or_else(|| s.strip_prefix("compute_"))
        .unwrap_or(s);
    if s.contains('.') {
        Cc::parse_dotted(s)
    } else {
        Cc::parse_number(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::from_gpuarch_toml(Path::new("gpuarch.toml"), text)
    }

    fn codes(err: Error) -> Vec<(&'static str, u32)> {
        err.diagnostics()
            .iter()
            .map(|d| (d.code, d.location.as_ref().map_or(0, |l| l.line)))
            .collect()
    }

    #[test]
    fn reads_every_key() {
        let m = parse(
            "gpus = [\"A100\", \"8.6\"]\nmin-driver = { linux = \"525.60.13\", windows = \"527.41\" }\n\
             cuda = \"12.4\"\nptx = \"none\"\nsass = \"minimal\"\narch-specific = [\"9.0\"]\nfamily-specific = true\n",
        )
        .unwrap();
        assert_eq!(m.gpus.len(), 2);
        assert_eq!(m.gpus[1].location.as_ref().unwrap().line, 1);
        assert_eq!(m.min_driver.windows.unwrap().value.to_string(), "527.41");
        assert_eq!(m.cuda.unwrap().value.to_string(), "12.4");
        assert_eq!(m.ptx, PtxPolicy::None);
        assert_eq!(m.sass, SassPolicy::Minimal);
        assert_eq!(m.arch_specific.value, OptIn::Only(vec![Cc::new(9, 0)]));
        assert_eq!(m.family_specific.value, OptIn::All);
    }

    #[test]
    fn reads_deployment_sections() {
        let m = parse(
            "gpus = [\"A100\"]\n[torch]\nversion = \"1.12.1\"\nvariant = \"cu116\"\n[image]\nref = \"nvidia/cuda:10.2-base-ubuntu20.04\"\nflavor = \"runtime\"\n",
        )
        .unwrap();
        assert_eq!(m.torch.version.unwrap().value, "1.12.1");
        assert_eq!(m.torch.variant.unwrap().value, "cu116");
        assert_eq!(
            m.image.reference.unwrap().value,
            "nvidia/cuda:10.2-base-ubuntu20.04"
        );
        assert_eq!(m.image.flavor.unwrap().value, "runtime");
        let short = parse("torch = \"2.4.1+cu121\"\nimage = \"ubuntu:22.04\"\n").unwrap();
        assert_eq!(short.torch.version.unwrap().value, "2.4.1+cu121");
        let err = parse("[torch]\nversoin = \"2.4.1\"\n[image]\ncuda = 12\n").unwrap_err();
        let found = codes(err);
        assert!(found.contains(&("unknown-key", 2)), "{found:?}");
        assert!(found.contains(&("wrong-type", 4)), "{found:?}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_suggestion() {
        let err = parse("gpus = [\"A100\"]\nmin_driver = \"525\"\n").unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.code, "unknown-key");
        assert_eq!(d.location.as_ref().unwrap().line, 2);
        assert!(d.help.as_ref().unwrap().contains("`min-driver`"));
    }

    #[test]
    fn bad_values_name_their_line() {
        let err = parse("gpus = \"A100\"\ncuda = \"twelve\"\nptx = \"all\"\nmin-driver = 525\n")
            .unwrap_err();
        assert_eq!(
            codes(err),
            vec![
                ("wrong-type", 1),
                ("bad-version", 2),
                ("wrong-type", 3),
                ("wrong-type", 4)
            ]
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let err = parse("gpus = [\"A100\"\ncuda = \"12.4\"\n").unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.code, "manifest-syntax");
        assert!(d.location.is_some());
    }

    #[test]
    fn workspace_metadata_is_inherited_and_package_wins() {
        let dir = std::env::temp_dir().join(format!("gpuarch-ws-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("member")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[workspace]\nmembers = [\"member\"]\n[workspace.metadata.gpuarch]\ngpus = [\"T4\"]\ncuda = \"12.4\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("member/Cargo.toml"),
            "[package]\nname = \"m\"\n[package.metadata.gpuarch]\ngpus = [\"A100\"]\n",
        )
        .unwrap();
        let m = Manifest::from_path(&dir.join("member/Cargo.toml")).unwrap();
        assert_eq!(m.gpus[0].value, "A100");
        assert_eq!(m.cuda.as_ref().unwrap().value.to_string(), "12.4");
        assert_eq!(
            m.cuda.unwrap().location.unwrap().file,
            dir.join("Cargo.toml")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loose_capabilities() {
        for s in ["8.6", "sm_86", "86", "compute_86"] {
            assert_eq!(parse_cc_loose(s), Some(Cc::new(8, 6)), "{s}");
        }
        assert_eq!(parse_cc_loose("sm_121"), Some(Cc::new(12, 1)));
        assert!(parse_cc_loose("8.6.1").is_none());
    }
}
