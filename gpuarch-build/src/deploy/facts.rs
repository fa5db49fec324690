//! The deployment facts: PyTorch releases and the CUDA wheels each was published with,
//! the `nvidia/cuda` image sets, and NVIDIA's driver branches, from `data/torch.toml`,
//! `data/images.toml` and `data/drivers.toml` (schemas in `data/README.md`; every row
//! carries its `source`).
//!
//! The files are compiled in and read once, on first use, with the crate's own TOML
//! reader. Reading checks every row (types, versions, capabilities, order, a source), so a
//! malformed row is an error naming the file and line: [`check`] returns it, the unit
//! tests call it, and the accessors ([`torch_releases`], [`image_sets`], ...) panic with
//! it, which the tests rule out for the data that ships.

use std::fmt;
use std::sync::OnceLock;

use crate::arch::{Arch, Cc, Code, CodeSet};
use crate::toml::{Spanned, Table, Value};
use crate::version::Version;

const TORCH_FILE: &str = "data/torch.toml";
const IMAGES_FILE: &str = "data/images.toml";
const DRIVERS_FILE: &str = "data/drivers.toml";

const TORCH_TOML: &str = include_str!("../../data/torch.toml");
const IMAGES_TOML: &str = include_str!("../../data/images.toml");
const DRIVERS_TOML: &str = include_str!("../../data/drivers.toml");

/// One PyTorch minor release (`2.4`) and the CUDA wheels it was published with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchRelease {
    /// `major.minor`.
    pub version: Version,
    /// The releases of this minor on PyPI, oldest first (`2.4.0`, `2.4.1`).
    pub patches: Vec<Version>,
    /// The CPython versions with Linux x86_64 wheels, as a specifier (`>=3.8,<=3.12`).
    pub python: String,
    /// The variant `pip install torch` gets on Linux x86_64 (`cu121`).
    pub pypi_default: Option<String>,
    /// Every CUDA variant published on download.pytorch.org, oldest CUDA first.
    pub variants: Vec<TorchVariant>,
    pub source: String,
}

/// One CUDA build of a PyTorch release: what its Linux x86_64 wheel carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchVariant {
    /// The index and local-version tag: `cu118`.
    pub tag: String,
    /// The CUDA runtime the wheel bundles (or pins), `major.minor`: it, not the base
    /// image's, is what the host driver must run.
    pub cuda: Version,
    /// Capabilities with SASS in torch's own kernels, ascending.
    pub sass: Vec<Cc>,
    /// Capabilities with PTX, ascending (empty for every wheel measured).
    pub ptx: Vec<Cc>,
    /// Whether the lists were measured from that exact wheel rather than taken from a
    /// build script or table.
    pub measured: bool,
    pub source: String,
}

impl TorchVariant {
    /// The wheel's GPU code: `sm_XY` for each SASS capability, `compute_XY` for each PTX
    /// one. The PTX ISA is the one the bundled CUDA's nvcc emits, where the catalog knows
    /// that toolkit.
    pub fn code_set(&self) -> CodeSet {
        let mut set: CodeSet = self
            .sass
            .iter()
            .map(|&cc| Code::sass(Arch::plain(cc)))
            .chain(self.ptx.iter().map(|&cc| Code::ptx(Arch::plain(cc))))
            .collect();
        if !self.ptx.is_empty() {
            set.ptx_isa = crate::catalog::toolkit(self.cuda).map(|tk| tk.ptx_isa);
        }
        set
    }
}

/// One `nvidia/cuda` CUDA release set: the tags `<tag_version>-<flavor>-<os>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSet {
    /// The CUDA version of the set (`12.4.1`, or `10.2` for the old two-part sets).
    pub version: Version,
    /// How tags spell the version: `10.2`, `12.4.1`.
    pub tag_version: String,
    /// OS parts of the tags: `ubuntu22.04`, `ubi9`, `rockylinux9`.
    pub os: Vec<String>,
    /// Flavor parts of the tags: `base`, `runtime`, `devel`, `cudnn8-runtime`, `cudnn-devel`.
    pub flavors: Vec<String>,
    /// The amd64 `NVIDIA_REQUIRE_CUDA` of the set's images, where it was read (it
    /// changes with the build date).
    pub require_cuda: Option<String>,
    /// When the set went end of life (`YYYY-MM` or `YYYY-MM-DD`), where known.
    pub eol: Option<String>,
    /// Whether the tags are gone from Docker Hub and NGC (EOL more than six months), as of
    /// the date in `images.toml`.
    pub deleted: bool,
    pub source: String,
}

/// One NVIDIA driver branch (`R535`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverBranch {
    /// The branch number, which is the driver's major version: 535.
    pub branch: u32,
    /// `LTSB` (long term support), `PB` (production), `NFB` (new feature), `DEV`
    /// (evaluation/developer) or `unknown`.
    pub kind: String,
    /// The newest CUDA minor the branch supports natively (what `nvidia-smi` prints).
    pub cuda: Version,
    /// Its first Linux driver as NVIDIA published it with a toolkit or data-center
    /// release (`535.54.03`); a bare branch (`610`) where no number was published.
    pub first: Version,
    /// When the branch was first released (`YYYY-MM`), where known.
    pub released: Option<String>,
    /// When it went (or goes) end of life (`YYYY-MM`), where known.
    pub eol: Option<String>,
    /// Whether NVIDIA supports forward compatibility (the cuda-compat package) on it.
    pub forward_compat: bool,
    pub source: String,
}

/// The last driver branch that supports a GPU architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchitectureSupport {
    /// As the GPU catalog names architectures: `Kepler`, `Maxwell`, ...
    pub name: String,
    pub last_branch: u32,
    pub source: String,
}

/// A data file that does not read: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactsError {
    /// `data/torch.toml`, ...
    pub file: &'static str,
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FactsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for FactsError {}

struct Facts {
    torch: Vec<TorchRelease>,
    images: Vec<ImageSet>,
    branches: Vec<DriverBranch>,
    architectures: Vec<ArchitectureSupport>,
}

fn facts() -> Result<&'static Facts, &'static FactsError> {
    static FACTS: OnceLock<Result<Facts, FactsError>> = OnceLock::new();
    FACTS
        .get_or_init(|| {
            let (branches, architectures) = parse_drivers(DRIVERS_TOML)?;
            Ok(Facts {
                torch: parse_torch(TORCH_TOML)?,
                images: parse_images(IMAGES_TOML)?,
                branches,
                architectures,
            })
        })
        .as_ref()
}

fn loaded() -> &'static Facts {
    facts().unwrap_or_else(|e| panic!("gpuarch's compiled-in deployment data is malformed: {e}"))
}

/// Reads the three data files, or says which row is wrong.
pub fn check() -> Result<(), FactsError> {
    facts().map(|_| ()).map_err(Clone::clone)
}

/// Every PyTorch minor release, oldest first.
///
/// # Panics
/// Only if the compiled-in data is malformed (see [`check`]).
pub fn torch_releases() -> &'static [TorchRelease] {
    &loaded().torch
}

/// The release a PyTorch version belongs to: `1.12` and `1.12.1` give the 1.12 row. A
/// patch that was never published (`1.12.7`), or a bare major, gives `None`.
pub fn find_torch(version: &Version) -> Option<&'static TorchRelease> {
    let release = torch_releases()
        .iter()
        .find(|r| r.version.major == version.major && r.version.minor == version.minor)?;
    match version.parts {
        2 => Some(release),
        3 => release.patches.contains(version).then_some(release),
        _ => None,
    }
}

/// Every `nvidia/cuda` release set, oldest first.
///
/// # Panics
/// Only if the compiled-in data is malformed (see [`check`]).
pub fn image_sets() -> &'static [ImageSet] {
    &loaded().images
}

/// The set whose tags spell exactly this version: `12.4.1`, or `10.2` for the old
/// two-part sets. `12.4` alone does not name 12.4.1 (see [`latest_image_set_of_minor`]).
pub fn find_image_set(version: &Version) -> Option<&'static ImageSet> {
    image_sets()
        .iter()
        .find(|s| s.version == *version && s.version.parts == version.parts)
}

/// The newest set of a CUDA minor (12.4 gives 12.4.1), deleted or not.
pub fn latest_image_set_of_minor(major: u32, minor: u32) -> Option<&'static ImageSet> {
    image_sets()
        .iter()
        .filter(|s| s.version.major == major && s.version.minor == minor)
        .max_by_key(|s| s.version)
}

/// Every driver branch, lowest first.
///
/// # Panics
/// Only if the compiled-in data is malformed (see [`check`]).
pub fn driver_branches() -> &'static [DriverBranch] {
    &loaded().branches
}

/// The branch a driver belongs to: 535.54.03 is R535.
pub fn branch_of(driver: &Version) -> Option<&'static DriverBranch> {
    driver_branches().iter().find(|b| b.branch == driver.major)
}

/// The last branch that supports an architecture (`Kepler` gives 470), or `None` while
/// every current branch supports it (or the name is not known). Case is ignored.
pub fn last_branch_for(architecture: &str) -> Option<u32> {
    architecture_support()
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(architecture))
        .map(|a| a.last_branch)
}

/// The architectures that current drivers no longer support, with the last branch that did.
///
/// # Panics
/// Only if the compiled-in data is malformed (see [`check`]).
pub fn architecture_support() -> &'static [ArchitectureSupport] {
    &loaded().architectures
}

// ---------------------------------------------------------------------------------------
// Reading the files.

/// One table of a file (the document, or an array-of-tables row), with what is needed to
/// say where a problem is.
struct Row<'a> {
    file: &'static str,
    text: &'a str,
    table: &'a Table,
    /// Where the row starts, for problems that belong to no one key.
    offset: usize,
}

type Read<T> = Result<T, FactsError>;

impl<'a> Row<'a> {
    fn document(file: &'static str, text: &'a str, table: &'a Table) -> Self {
        Row {
            file,
            text,
            table,
            offset: 0,
        }
    }

    fn error<T>(&self, offset: usize, message: impl Into<String>) -> Read<T> {
        let line = 1 + self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count();
        Err(FactsError {
            file: self.file,
            line,
            message: message.into(),
        })
    }

    /// Rejects keys the schema does not have: a misspelt key would otherwise read as absent.
    fn only(&self, known: &[&str]) -> Read<()> {
        for (key, _) in &self.table.entries {
            if !known.contains(&key.value.as_str()) {
                return self.error(
                    key.span.start,
                    format!("unknown key `{}` (known: {})", key.value, known.join(", ")),
                );
            }
        }
        Ok(())
    }

    fn value(&self, key: &str) -> Read<&'a Spanned<Value>> {
        match self.table.get(key) {
            Some(v) => Ok(v),
            None => self.error(self.offset, format!("missing `{key}`")),
        }
    }

    fn string(&self, key: &str) -> Read<String> {
        let v = self.value(key)?;
        match &v.value {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::String(_) => self.error(v.span.start, format!("`{key}` is empty")),
            other => self.error(
                v.span.start,
                format!("`{key}` must be a string, not {}", other.type_name()),
            ),
        }
    }

    fn opt_string(&self, key: &str) -> Read<Option<String>> {
        match self.table.get(key) {
            None => Ok(None),
            Some(_) => self.string(key).map(Some),
        }
    }

    fn boolean(&self, key: &str) -> Read<bool> {
        let v = self.value(key)?;
        match v.value {
            Value::Boolean(b) => Ok(b),
            ref other => self.error(
                v.span.start,
                format!("`{key}` must be a boolean, not {}", other.type_name()),
            ),
        }
    }

    fn integer(&self, key: &str) -> Read<u32> {
        let v = self.value(key)?;
        match v.value {
            Value::Integer(n) => match u32::try_from(n) {
                Ok(n) => Ok(n),
                Err(_) => self.error(v.span.start, format!("`{key}` is out of range: {n}")),
            },
            ref other => self.error(
                v.span.start,
                format!("`{key}` must be an integer, not {}", other.type_name()),
            ),
        }
    }

    fn version(&self, key: &str) -> Read<Version> {
        let v = self.value(key)?;
        let s = self.string(key)?;
        s.parse()
            .or_else(|e| self.error(v.span.start, format!("`{key}`: {e}")))
    }

    fn strings(&self, key: &str) -> Read<Vec<Spanned<String>>> {
        let v = self.value(key)?;
        let Value::Array(items) = &v.value else {
            return self.error(
                v.span.start,
                format!("`{key}` must be an array, not {}", v.value.type_name()),
            );
        };
        items
            .iter()
            .map(|item| match &item.value {
                Value::String(s) if !s.trim().is_empty() => Ok(Spanned {
                    value: s.clone(),
                    span: item.span.clone(),
                }),
                Value::String(_) => self.error(item.span.start, format!("empty item in `{key}`")),
                other => self.error(
                    item.span.start,
                    format!("`{key}` must hold strings, not {}", other.type_name()),
                ),
            })
            .collect()
    }

    /// A list of names that must not be empty or repeat.
    fn names(&self, key: &str) -> Read<Vec<String>> {
        let items = self.strings(key)?;
        if items.is_empty() {
            return self.error(self.value(key)?.span.start, format!("`{key}` is empty"));
        }
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|x| x.value == item.value) {
                return self.error(
                    item.span.start,
                    format!("`{}` appears twice in `{key}`", item.value),
                );
            }
        }
        Ok(items.into_iter().map(|s| s.value).collect())
    }

    /// Capabilities written `"8.6"`, strictly ascending.
    fn capabilities(&self, key: &str) -> Read<Vec<Cc>> {
        let mut out: Vec<Cc> = Vec::new();
        for item in self.strings(key)? {
            let Some(cc) = Cc::parse_dotted(&item.value) else {
                return self.error(
                    item.span.start,
                    format!(
                        "`{}` in `{key}` is not a capability such as \"8.6\"",
                        item.value
                    ),
                );
            };
            if out.last().is_some_and(|&last| last >= cc) {
                return self.error(
                    item.span.start,
                    format!(
                        "`{key}` must be ascending without repeats ({} after {})",
                        cc,
                        out[out.len() - 1]
                    ),
                );
            }
            out.push(cc);
        }
        Ok(out)
    }

    /// The rows of an array of tables (`[[release]]`); absent is no rows.
    fn rows(&self, key: &str) -> Read<Vec<Row<'a>>> {
        let Some(v) = self.table.get(key) else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = &v.value else {
            return self.error(v.span.start, format!("`{key}` must be an array of tables"));
        };
        items
            .iter()
            .map(|item| match &item.value {
                Value::Table(table) => Ok(Row {
                    file: self.file,
                    text: self.text,
                    table,
                    offset: item.span.start,
                }),
                other => self.error(
                    item.span.start,
                    format!("`{key}` must hold tables, not {}", other.type_name()),
                ),
            })
            .collect()
    }
}

fn document(file: &'static str, text: &str) -> Read<Table> {
    crate::toml::parse(text).map_err(|e| FactsError {
        file,
        line: 1 + text[..e.offset.min(text.len())].matches('\n').count(),
        message: format!("not TOML: {}", e.message),
    })
}

fn parse_torch(text: &str) -> Read<Vec<TorchRelease>> {
    let root = document(TORCH_FILE, text)?;
    let doc = Row::document(TORCH_FILE, text, &root);
    doc.only(&["release"])?;
    let mut releases: Vec<TorchRelease> = Vec::new();
    for row in doc.rows("release")? {
        row.only(&[
            "version",
            "patches",
            "python",
            "pypi_default",
            "source",
            "variant",
        ])?;
        let version = row.version("version")?;
        if version.parts != 2 {
            return row.error(row.offset, format!("release {version} must be major.minor"));
        }
        if let Some(previous) = releases.last() {
            if previous.version >= version {
                return row.error(
                    row.offset,
                    format!("release {version} is not after {}", previous.version),
                );
            }
        }
        let mut patches: Vec<Version> = Vec::new();
        for item in row.strings("patches")? {
            let patch: Version = match item.value.parse() {
                Ok(p) => p,
                Err(e) => return row.error(item.span.start, format!("`patches`: {e}")),
            };
            if patch.parts != 3 || patch.major != version.major || patch.minor != version.minor {
                return row.error(
                    item.span.start,
                    format!(
                        "patch {patch} is not a release of {version} (write major.minor.patch)"
                    ),
                );
            }
            if patches.last().is_some_and(|&last| last >= patch) {
                return row.error(
                    item.span.start,
                    "`patches` must be ascending without repeats",
                );
            }
            patches.push(patch);
        }
        if patches.is_empty() {
            return row.error(row.offset, format!("release {version} has no `patches`"));
        }
        let python = row.string("python")?;
        let pypi_default = row.opt_string("pypi_default")?;
        let source = row.string("source")?;
        let mut variants: Vec<TorchVariant> = Vec::new();
        for v in row.rows("variant")? {
            v.only(&["tag", "cuda", "sass", "ptx", "measured", "source"])?;
            let tag = v.string("tag")?;
            let cuda = v.version("cuda")?;
            if cuda.parts != 2 || tag != format!("cu{}{}", cuda.major, cuda.minor) {
                return v.error(
                    v.offset,
                    format!(
                        "variant {tag} must bundle CUDA major.minor matching its tag, not {cuda}"
                    ),
                );
            }
            if variants.iter().any(|x| x.tag == tag) {
                return v.error(
                    v.offset,
                    format!("variant {tag} appears twice in release {version}"),
                );
            }
            if variants.last().is_some_and(|last| last.cuda >= cuda) {
                return v.error(
                    v.offset,
                    format!("variants of {version} must be listed oldest CUDA first"),
                );
            }
            let sass = v.capabilities("sass")?;
            if sass.is_empty() {
                return v.error(v.offset, format!("variant {tag} of {version} has no SASS"));
            }
            variants.push(TorchVariant {
                tag,
                cuda,
                sass,
                ptx: v.capabilities("ptx")?,
                measured: v.boolean("measured")?,
                source: v.string("source")?,
            });
        }
        if variants.is_empty() {
            return row.error(row.offset, format!("release {version} has no variants"));
        }
        if let Some(default) = &pypi_default {
            if !variants.iter().any(|v| &v.tag == default) {
                return row.error(
                    row.offset,
                    format!("pypi_default {default} is not a variant of {version}"),
                );
            }
        }
        releases.push(TorchRelease {
            version,
            patches,
            python,
            pypi_default,
            variants,
            source,
        });
    }
    Ok(releases)
}

fn parse_images(text: &str) -> Read<Vec<ImageSet>> {
    let root = document(IMAGES_FILE, text)?;
    let doc = Row::document(IMAGES_FILE, text, &root);
    doc.only(&[
        "deletion_policy",
        "deletion_policy_source",
        "deleted_as_of",
        "image",
    ])?;
    doc.string("deletion_policy")?;
    doc.string("deletion_policy_source")?;
    doc.string("deleted_as_of")?;
    let mut sets: Vec<ImageSet> = Vec::new();
    for row in doc.rows("image")? {
        row.only(&[
            "version",
            "tag_version",
            "os",
            "flavors",
            "require_cuda",
            "eol",
            "deleted",
            "source",
        ])?;
        let version = row.version("version")?;
        let tag_version = row.string("tag_version")?;
        if tag_version != version.to_string() {
            return row.error(
                row.offset,
                format!("tag_version {tag_version} does not spell version {version}"),
            );
        }
        if let Some(previous) = sets.last() {
            if previous.version >= version {
                return row.error(
                    row.offset,
                    format!("image set {version} is not after {}", previous.version),
                );
            }
        }
        let require_cuda = row.opt_string("require_cuda")?;
        if let Some(req) = &require_cuda {
            let minor = format!("cuda>={}.{}", version.major, version.minor);
            if !req.to_ascii_lowercase().starts_with(&minor) {
                return row.error(
                    row.offset,
                    format!("require_cuda of {version} should start with {minor}"),
                );
            }
        }
        sets.push(ImageSet {
            version,
            tag_version,
            os: row.names("os")?,
            flavors: row.names("flavors")?,
            require_cuda,
            eol: row.opt_string("eol")?,
            deleted: row.boolean("deleted")?,
            source: row.string("source")?,
        });
    }
    Ok(sets)
}

const KINDS: &[&str] = &["LTSB", "PB", "NFB", "DEV", "unknown"];

fn parse_drivers(text: &str) -> Read<(Vec<DriverBranch>, Vec<ArchitectureSupport>)> {
    let root = document(DRIVERS_FILE, text)?;
    let doc = Row::document(DRIVERS_FILE, text, &root);
    doc.only(&["forward_compat_source", "branch", "architecture"])?;
    doc.string("forward_compat_source")?;
    let mut branches: Vec<DriverBranch> = Vec::new();
    for row in doc.rows("branch")? {
        row.only(&[
            "branch",
            "kind",
            "cuda",
            "first",
            "released",
            "eol",
            "forward_compat",
            "source",
        ])?;
        let branch = row.integer("branch")?;
        if branches.last().is_some_and(|last| last.branch >= branch) {
            return row.error(
                row.offset,
                format!("branch {branch} is not after the one before it"),
            );
        }
        let kind = row.string("kind")?;
        if !KINDS.contains(&kind.as_str()) {
            return row.error(
                row.offset,
                format!("kind `{kind}` is not one of {}", KINDS.join(", ")),
            );
        }
        let first = row.version("first")?;
        if first.major != branch {
            return row.error(
                row.offset,
                format!("first driver {first} is not in branch {branch}"),
            );
        }
        branches.push(DriverBranch {
            branch,
            kind,
            cuda: row.version("cuda")?,
            first,
            released: row.opt_string("released")?,
            eol: row.opt_string("eol")?,
            forward_compat: row.boolean("forward_compat")?,
            source: row.string("source")?,
        });
    }
    let mut architectures: Vec<ArchitectureSupport> = Vec::new();
    for row in doc.rows("architecture")? {
        row.only(&["name", "last_branch", "source"])?;
        let name = row.string("name")?;
        if architectures
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(&name))
        {
            return row.error(row.offset, format!("architecture {name} appears twice"));
        }
        architectures.push(ArchitectureSupport {
            name,
            last_branch: row.integer("last_branch")?,
            source: row.string("source")?,
        });
    }
    Ok((branches, architectures))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn ccs(list: &[&str]) -> Vec<Cc> {
        list.iter().map(|s| Cc::parse_dotted(s).unwrap()).collect()
    }

    fn variant(release: &str, tag: &str) -> &'static TorchVariant {
        let r = find_torch(&v(release)).unwrap_or_else(|| panic!("no torch {release}"));
        r.variants
            .iter()
            .find(|x| x.tag == tag)
            .unwrap_or_else(|| panic!("torch {release} has no {tag}"))
    }

    #[test]
    fn every_file_reads() {
        if let Err(e) = check() {
            panic!("{e}");
        }
        assert!(torch_releases().len() >= 22);
        assert!(image_sets().len() >= 40);
        assert!(driver_branches().len() >= 20);
    }

    #[test]
    fn every_row_has_a_source() {
        for r in torch_releases() {
            assert!(!r.source.trim().is_empty(), "torch {}", r.version);
            for x in &r.variants {
                assert!(!x.source.trim().is_empty(), "torch {} {}", r.version, x.tag);
            }
        }
        for s in image_sets() {
            assert!(!s.source.trim().is_empty(), "image {}", s.version);
        }
        for b in driver_branches() {
            assert!(!b.source.trim().is_empty(), "R{}", b.branch);
        }
        for a in architecture_support() {
            assert!(!a.source.trim().is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn torch_rows_are_consistent() {
        let first = &torch_releases()[0];
        assert_eq!(first.version, v("1.8"));
        assert_eq!(torch_releases().last().unwrap().version, v("2.15"));
        for r in torch_releases() {
            assert!(
                r.pypi_default.is_some(),
                "torch {} has a PyPI default",
                r.version
            );
            assert!(
                r.python.starts_with(">=3."),
                "torch {}: {}",
                r.version,
                r.python
            );
            for x in &r.variants {
                assert!(
                    x.sass.windows(2).all(|w| w[0] < w[1]),
                    "{} {}",
                    r.version,
                    x.tag
                );
                if x.measured {
                    assert!(
                        x.ptx.is_empty(),
                        "no measured wheel carries PTX: {} {}",
                        r.version,
                        x.tag
                    );
                }
            }
        }
    }

    #[test]
    fn image_rows_are_consistent() {
        for s in image_sets() {
            assert!(!s.os.is_empty() && !s.flavors.is_empty(), "{}", s.version);
            assert!(
                s.flavors.iter().any(|f| f == "base"),
                "{} has a base flavor",
                s.version
            );
            if let Some(eol) = &s.eol {
                assert!(
                    eol.len() >= 7 && eol.as_bytes()[4] == b'-' && eol[..4].parse::<u32>().is_ok(),
                    "{}: eol {eol}",
                    s.version
                );
            }
        }
    }

    #[test]
    fn branches_ascend_and_forward_compat_follows_the_kind() {
        let branches = driver_branches();
        assert!(branches.windows(2).all(|w| w[0].branch < w[1].branch));
        assert!(
            branches.windows(2).all(|w| w[0].cuda < w[1].cuda),
            "CUDA rises with the branch"
        );
        for b in branches {
            assert_eq!(
                b.forward_compat,
                b.kind == "LTSB" || b.kind == "PB",
                "R{}",
                b.branch
            );
        }
    }

    #[test]
    fn malformed_rows_are_errors_with_the_line() {
        let bad = "[[release]]\nversion = \"2.4\"\npatches = [\"2.4.0\"]\npython = \">=3.8\"\nsource = \"x\"\n\n[[release.variant]]\ntag = \"cu121\"\ncuda = \"12.1\"\nsass = [\"9.0\", \"8.0\"]\nptx = []\nmeasured = false\nsource = \"x\"\n";
        let e = parse_torch(bad).unwrap_err();
        assert_eq!(e.line, 10, "{e}");
        assert!(e.message.contains("ascending"), "{e}");

        let e = parse_torch("[[release]]\nversion = \"2.4\"\nsourse = \"x\"\n").unwrap_err();
        assert!(e.message.contains("unknown key `sourse`"), "{e}");
        assert_eq!(e.line, 3);

        let e = parse_images("deletion_policy = \"p\"\ndeletion_policy_source = \"s\"\ndeleted_as_of = \"d\"\n[[image]]\nversion = \"12.4.1\"\ntag_version = \"12.4.1\"\nos = []\nflavors = [\"base\"]\ndeleted = false\nsource = \"x\"\n").unwrap_err();
        assert!(e.message.contains("`os` is empty"), "{e}");

        let e = parse_drivers("forward_compat_source = \"s\"\n[[branch]]\nbranch = 535\nkind = \"LTSB\"\ncuda = \"12.2\"\nfirst = \"530.30.02\"\nforward_compat = true\nsource = \"x\"\n").unwrap_err();
        assert!(e.message.contains("not in branch 535"), "{e}");

        let e = parse_drivers("forward_compat_source = \"s\"\n[[branch]]\nbranch = 535\nkind = \"LTSB\"\nfirst = \"535.54.03\"\ncuda = \"12.x\"\n").unwrap_err();
        assert!(e.message.contains("`cuda`"), "{e}");
        assert_eq!(e.line, 6, "{e}");

        assert!(parse_torch("[[release]\n").is_err());
    }

    #[test]
    fn find_torch_takes_minors_and_published_patches() {
        assert_eq!(find_torch(&v("1.12.1")).unwrap().version, v("1.12"));
        assert_eq!(find_torch(&v("1.12")).unwrap().version, v("1.12"));
        assert!(find_torch(&v("1.12.7")).is_none());
        assert!(find_torch(&v("2")).is_none());
        assert!(find_torch(&v("0.4")).is_none());
        assert_eq!(
            find_torch(&v("2.4")).unwrap().patches,
            vec![v("2.4.0"), v("2.4.1")]
        );
    }

    #[test]
    fn torch_facts_match_the_measured_wheels() {
        let cu102 = variant("1.12", "cu102");
        assert_eq!(cu102.sass, ccs(&["3.7", "5.0", "6.0", "7.0"]));
        assert!(cu102.ptx.is_empty() && cu102.measured);
        for tag in ["cu113", "cu116"] {
            let x = variant("1.12", tag);
            assert!(x.sass.contains(&Cc::new(8, 0)), "1.12 {tag} has sm_80");
            assert!(x.ptx.is_empty());
        }
        assert_eq!(
            find_torch(&v("1.12")).unwrap().pypi_default.as_deref(),
            Some("cu102")
        );
        let cu128 = variant("2.8", "cu128");
        assert!(
            cu128.sass.contains(&Cc::new(7, 0)),
            "2.8 cu128 carries sm_70"
        );
        assert!(cu128.measured);
        let cu130 = variant("2.11", "cu130");
        assert_eq!(
            cu130.sass,
            ccs(&["7.5", "8.0", "8.6", "9.0", "10.0", "12.0"])
        );
        assert_eq!(variant("2.15", "cu132").cuda, v("13.2"));
        assert_eq!(
            find_torch(&v("2.15")).unwrap().pypi_default.as_deref(),
            Some("cu132")
        );
    }

    #[test]
    fn code_sets_spell_sm_and_compute() {
        let names: Vec<String> = variant("1.12", "cu113")
            .code_set()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            names,
            ["sm_37", "sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86"]
        );
        let with_ptx = variant("2.7", "cu128").code_set();
        assert!(with_ptx.iter().any(|c| c.to_string() == "compute_120"));
        assert_eq!(with_ptx.ptx_isa, Some(v("8.7")));
        assert_eq!(variant("2.6", "cu124").code_set().ptx_isa, None);
    }

    #[test]
    fn image_sets_match_exactly_or_by_minor() {
        let old = find_image_set(&v("10.2")).unwrap();
        assert_eq!(old.tag_version, "10.2");
        assert!(old.os.iter().any(|o| o == "ubuntu18.04"));
        assert!(
            !old.os.iter().any(|o| o == "ubuntu20.04"),
            "no 10.2 image for Ubuntu 20.04 ever existed"
        );
        assert!(old.deleted);
        assert!(find_image_set(&v("12.4")).is_none());
        assert_eq!(find_image_set(&v("12.4.1")).unwrap().tag_version, "12.4.1");
        assert_eq!(
            latest_image_set_of_minor(12, 4).unwrap().tag_version,
            "12.4.1"
        );
        assert_eq!(
            latest_image_set_of_minor(10, 2).unwrap().tag_version,
            "10.2"
        );
        assert!(
            latest_image_set_of_minor(12, 7).is_none(),
            "there was no CUDA 12.7"
        );
        let s = find_image_set(&v("12.8.1")).unwrap();
        assert!(s
            .require_cuda
            .as_deref()
            .unwrap()
            .starts_with("cuda>=12.8 brand=unknown,driver>=470,driver<471"));
        assert!(find_image_set(&v("11.8.0")).unwrap().deleted);
    }

    #[test]
    fn branches_and_architectures() {
        let r535 = branch_of(&v("535.54.03")).unwrap();
        assert_eq!(
            (r535.branch, r535.kind.as_str(), r535.cuda),
            (535, "LTSB", v("12.2"))
        );
        assert!(r535.forward_compat);
        assert_eq!(branch_of(&v("460.32.03")).unwrap().cuda, v("11.2"));
        assert_eq!(branch_of(&v("565.57.01")).unwrap().cuda, v("12.7"));
        assert!(
            !branch_of(&v("575.51.03")).unwrap().forward_compat,
            "R575 is a new feature branch"
        );
        assert!(branch_of(&v("999.1")).is_none());
        assert_eq!(last_branch_for("Kepler"), Some(470));
        assert_eq!(last_branch_for("pascal"), Some(580));
        assert_eq!(last_branch_for("Volta"), Some(580));
        assert_eq!(last_branch_for("Ampere"), None);
        for a in architecture_support() {
            assert!(
                crate::catalog::architectures().contains(&a.name.as_str()) || a.name == "Fermi",
                "{}",
                a.name
            );
            assert!(
                branch_of(&Version::new(a.last_branch, 0, 0, 1)).is_some() || a.last_branch < 410,
                "{}",
                a.name
            );
        }
    }
}
