//! `cargo gpuarch`: a thin shell over gpuarch-build. It parses arguments, calls the
//! library, renders text or JSON, and maps the outcome to an exit code:
//! 0 fine, 1 an incompatibility found, 2 bad input or usage.

/// `println!` that ignores a closed stdout (`cargo gpuarch catalog gpus | head -1`)
/// instead of panicking on the broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod completions;
mod deploy;
mod discover;
mod doctor;
mod files;
mod fleet;
mod pipeline;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gpuarch_build::build_script::{self, BuildEnv};
use gpuarch_build::check;
use gpuarch_build::manifest::{Located, Manifest, PtxPolicy, SassPolicy};
use gpuarch_build::{
    diagnostic, plan, target, verify, Dialect, Error, PlanRequest, Toolkit, Version,
};

use render::{Output, Report};

#[derive(Parser)]
#[command(
    name = "cargo gpuarch",
    bin_name = "cargo gpuarch",
    version,
    about = "Plan and check the GPU code a CUDA build ships, from a target-hardware manifest",
    after_help = "Exit codes: 0 fine, 1 an incompatibility found, 2 bad input or usage."
)]
struct Cli {
    /// When to color text output (NO_COLOR is honoured).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Plan the -gencode set for the manifest's GPUs, and check it.
    Plan(PlanArgs),
    /// Check the plan, or an existing arch list (--torch-arch-list, --cmake-architectures, --nvcc-flags).
    Check(CheckArgs),
    /// Translate an arch list between dialects.
    Convert(ConvertArgs),
    /// Query the catalog of facts.
    Catalog(CatalogArgs),
    /// Explain a diagnostic code (all codes when none is given), or a GPU: `explain gpu L40S`.
    Explain {
        /// A diagnostic code, or `gpu` followed by the GPUs to explain.
        code: Option<String>,
        /// After `gpu`: product names, aliases or capabilities (8.9 explains every GPU of it).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// text or json (for `explain gpu`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the cubins and PTX inside build artifacts (objects, archives, libraries, executables, fatbins, cubins, PTX, wheels).
    Inspect(InspectArgs),
    /// Check that built artifacts run on every target GPU under the driver floor, and hold what the plan asked for.
    Verify(VerifyArgs),
    /// Judge a deployment (PyTorch, base image, host driver, GPUs) relation by relation, with the nearest fixes.
    Deploy(deploy::DeployArgs),
    /// Recommend the nvidia/cuda image tag for the manifest.
    Image(deploy::ImageArgs),
    /// Write a Dockerfile for the manifest (plan as build args; compat entrypoint where needed).
    Dockerfile(deploy::DockerfileArgs),
    /// Print the compat entrypoint script (switches /usr/local/cuda/compat on only when the host needs it).
    Entrypoint,
    /// Evaluate an NVIDIA_REQUIRE_CUDA string against a host, or generate one for the manifest.
    Require(deploy::RequireArgs),
    /// Probe this machine (driver, GPUs, libraries, compat folder, toolkits, build variables, container), explain what is wrong, and with --manifest judge whether it runs the plan.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish); see the README for where it goes.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// The artifacts to check (together: the product is all of them).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    fleet: fleet::FleetArgs,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct InspectArgs {
    /// The files to read.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Count the kernels of compressed entries too (decompresses them).
    #[arg(long)]
    kernels: bool,
    /// text or json.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args, Clone)]
struct ManifestArgs {
    /// gpuarch.toml or Cargo.toml to read (default: found from the current directory up).
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// A target GPU: a product name, a capability (8.6, sm_86) or an architecture. Repeatable; replaces the manifest's list.
    #[arg(long = "gpu", value_name = "GPU")]
    gpus: Vec<String>,
    /// The CUDA toolkit version that builds (default: the manifest's, else the nvcc found).
    #[arg(long, value_name = "VERSION")]
    cuda: Option<String>,
    /// The oldest Linux driver to run on.
    #[arg(long, value_name = "VERSION")]
    min_driver: Option<String>,
    /// The oldest Windows driver to run on.
    #[arg(long, value_name = "VERSION")]
    min_driver_windows: Option<String>,
    /// Cubin policy: one per capability (exact) or the fewest by the same-major rule (minimal).
    #[arg(long, value_enum)]
    sass: Option<SassArg>,
    /// PTX policy: PTX of the highest target (highest) or none.
    #[arg(long, value_enum)]
    ptx: Option<PtxArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SassArg {
    Exact,
    Minimal,
}

#[derive(Clone, Copy, ValueEnum)]
enum PtxArg {
    Highest,
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Nvcc,
    Torch,
    Cmake,
    Clang,
    Env,
    /// A build matrix, one entry per arch group (`plan` and `check`).
    Matrix,
    /// GitHub Actions: annotations at the manifest line, step outputs to $GITHUB_OUTPUT, the summary to $GITHUB_STEP_SUMMARY.
    Github,
    /// A JUnit XML report (Jenkins, GitLab, Azure DevOps).
    Junit,
    /// A Markdown summary (job summaries, PR comments).
    Markdown,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
}

impl Format {
    /// The CI formats that render a [`pipeline::Outcome`].
    pub fn is_pipeline(self) -> bool {
        matches!(
            self,
            Format::Github | Format::Junit | Format::Markdown | Format::Sarif
        )
    }
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    fleet: fleet::FleetArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    manifest: ManifestArgs,
    #[command(flatten)]
    fleet: fleet::FleetArgs,
    /// Check this TORCH_CUDA_ARCH_LIST instead of the plan.
    #[arg(long, value_name = "LIST", group = "list")]
    torch_arch_list: Option<String>,
    /// Check this CMake CUDA_ARCHITECTURES list instead of the plan.
    #[arg(long, value_name = "LIST", group = "list")]
    cmake_architectures: Option<String>,
    /// Check these nvcc flags instead of the plan.
    #[arg(long, value_name = "FLAGS", group = "list", allow_hyphen_values = true)]
    nvcc_flags: Option<String>,
    /// Check these clang flags instead of the plan.
    #[arg(long, value_name = "FLAGS", group = "list", allow_hyphen_values = true)]
    clang_flags: Option<String>,
    /// Check this CUDA_COMPUTE_CAP instead of the plan.
    #[arg(long, value_name = "CAP", group = "list")]
    compute_cap: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct ConvertArgs {
    /// The dialect of LIST.
    #[arg(long, value_parser = dialect_names())]
    from: String,
    /// The dialect to write.
    #[arg(long, value_parser = dialect_names())]
    to: String,
    /// The toolkit, where the list says `all` or `all-major`.
    #[arg(long, value_name = "VERSION")]
    cuda: Option<String>,
    /// The list to translate.
    #[arg(allow_hyphen_values = true)]
    list: String,
}

fn dialect_names() -> Vec<&'static str> {
    Dialect::ALL.iter().map(|d| d.name()).collect()
}

#[derive(Args)]
struct CatalogArgs {
    #[arg(value_enum)]
    table: CatalogTable,
    /// Keep rows matching this (a name, capability, architecture or version).
    query: Option<String>,
    /// Keep rows meeting every condition: `cc>=8.0, segment=datacenter` (a bad field lists the table's fields).
    #[arg(long = "where", value_name = "QUERY")]
    where_: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CatalogTable {
    Gpus,
    Toolkits,
    Archs,
    /// PyTorch releases and the arch lists of their CUDA wheels.
    Torch,
    /// nvidia/cuda image release sets.
    Images,
    /// Driver branches.
    Drivers,
}

fn main() -> ExitCode {
    // `cargo gpuarch ...` runs `cargo-gpuarch gpuarch ...`.
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "gpuarch") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let out = Output::new(match cli.color {
        ColorChoice::Always => Some(true),
        ColorChoice::Never => Some(false),
        ColorChoice::Auto => None,
    });
    let code = match cli.command {
        Command::Plan(a) => run_plan("plan", &a.manifest, &a.fleet, a.format, &out),
        Command::Check(a) => run_check(a, &out),
        Command::Convert(a) => run_convert(a, &out),
        Command::Catalog(a) => discover::catalog(
            a.table,
            a.query.as_deref(),
            a.where_.as_deref(),
            a.format,
            &out,
        ),
        Command::Explain {
            code,
            names,
            format,
        } => discover::explain(code.as_deref(), &names, format, &out),
        Command::Inspect(a) => run_inspect(a, &out),
        Command::Verify(a) => run_verify(a, &out),
        Command::Deploy(a) => deploy::run_deploy(a, &out),
        Command::Image(a) => deploy::run_image(a, &out),
        Command::Dockerfile(a) => deploy::run_dockerfile(a, &out),
        Command::Entrypoint => {
            outln!(
                "{}",
                gpuarch_build::deploy::entrypoint::compat_entrypoint().trim_end()
            );
            0
        }
        Command::Require(a) => deploy::run_require(a, &out),
        Command::Doctor(a) => doctor::run_doctor(a, &out),
        Command::Completions { shell } => {
            outln!("{}", completions::script(shell).trim_end());
            0
        }
    };
    ExitCode::from(code)
}

/// `plan`, and `check` without a list to check (which plans and checks the plan).
fn run_plan(
    command: &'static str,
    args: &ManifestArgs,
    fleet_args: &fleet::FleetArgs,
    format: Format,
    out: &Output,
) -> u8 {
    let setup = (|| {
        let (manifest, fleet_note, inventory) = load_with_inventory(args, fleet_args)?;
        let request = request_for(&manifest)?;
        Ok((manifest, fleet_note, inventory, request))
    })();
    match setup {
        Ok((manifest, note, inventory, request)) => {
            let planned = plan::plan(&request);
            let mut report = Report::from_plan(command, &manifest, &planned);
            let fleet = inventory
                .map(|inventory| fleet::judged(inventory, &planned.codes, Some(&planned.toolkit)));
            report.add_fleet(note, fleet);
            out.report(&report, format)
        }
        Err(err) => out.input_error(&err, format),
    }
}

/// The manifest with the inventories applied: their GPUs join the targets and their
/// oldest driver lowers the floor.
fn load_with_inventory(
    args: &ManifestArgs,
    fleet_args: &fleet::FleetArgs,
) -> Result<
    (
        Manifest,
        Option<diagnostic::Diagnostic>,
        Option<gpuarch_build::fleet::Inventory>,
    ),
    Error,
> {
    let inventory = fleet::read(fleet_args)?;
    let mut manifest = load_manifest_or_flags(args, inventory.is_some())?;
    let note = inventory
        .as_ref()
        .and_then(|inv| inv.apply_to(&mut manifest));
    Ok((manifest, note, inventory))
}

fn only_text_or_json(format: Format, out: &Output) -> Option<u8> {
    refuse_format(
        matches!(format, Format::Text | Format::Json),
        "text or json",
        "text or --format json",
        out,
    )
}

/// For commands that also write the CI formats (github, junit, markdown, sarif).
fn text_json_or_pipeline(format: Format, out: &Output) -> Option<u8> {
    let formats = "text, json, github, junit, markdown or sarif";
    refuse_format(
        matches!(format, Format::Text | Format::Json) || format.is_pipeline(),
        formats,
        formats,
        out,
    )
}

/// `bad-format` (exit 2) unless the command writes the format asked for.
fn refuse_format(written: bool, formats: &str, flag_values: &str, out: &Output) -> Option<u8> {
    if written {
        return None;
    }
    out.diagnostic(
        &diagnostic::Diagnostic::error("bad-format", format!("this command writes {formats}"))
            .with_help(format!("pass --format {flag_values}")),
    );
    Some(2)
}

/// Reads every file; unreadable ones are reported (exit 2) and left out.
fn list_files(
    paths: &[PathBuf],
    count_kernels: bool,
    out: &Output,
) -> (Vec<files::FileListing>, bool) {
    let mut listed = Vec::new();
    let mut bad = false;
    for path in paths {
        match files::list_file(path, count_kernels) {
            Ok(l) => listed.push(l),
            Err(message) => {
                out.diagnostic(
                    &diagnostic::Diagnostic::error("bad-artifact", message).with_help(
                        "gpuarch reads fatbins, ELF objects, libraries and executables, static archives (thin too), cubins, PTX text and Python wheels",
                    ),
                );
                bad = true;
            }
        }
    }
    (listed, bad)
}

fn run_inspect(args: InspectArgs, out: &Output) -> u8 {
    if let Some(code) = only_text_or_json(args.format, out) {
        return code;
    }
    let (listed, bad) = list_files(&args.files, args.kernels, out);
    render::inspect(&listed, args.format, out);
    if bad {
        2
    } else {
        0
    }
}

fn run_verify(args: VerifyArgs, out: &Output) -> u8 {
    if let Some(code) = text_json_or_pipeline(args.format, out) {
        return code;
    }
    let setup = (|| -> Result<_, Error> {
        let (manifest, note, inventory) = load_with_inventory(&args.manifest, &args.fleet)?;
        let targets = target::resolve(&manifest.gpus, manifest.gpus_location.as_ref())?;
        // The plan is compared where a toolkit is known (named, or an nvcc found); the
        // targets' verdicts need none.
        let request = PlanRequest::from_manifest(&manifest, || {
            build_script::resolve_toolkit(
                &manifest,
                &mut BuildEnv::from_fn(|k| std::env::var(k).ok()),
            )
        });
        let planned = match request {
            Ok(request) => Some(plan::plan(&request)),
            Err(err) if err.diagnostics().iter().all(|d| d.code == "no-toolkit") => None,
            Err(err) => return Err(err),
        };
        Ok((manifest, targets, planned, note, inventory))
    })();
    let (manifest, targets, planned, note, inventory) = match setup {
        Ok(s) => s,
        Err(err) => return out.input_error(&err, args.format),
    };
    let (listed, bad) = list_files(&args.files, false, out);
    if bad {
        return 2;
    }
    let mut containers = Vec::new();
    let mut entries = Vec::new();
    for f in &listed {
        let shown = f.path.display().to_string();
        let mut found = verify::containers(&shown, &f.listing.entries);
        containers.append(&mut found);
        entries.extend(f.listing.entries.iter().cloned());
    }
    let mut verification = verify::verify(
        containers.clone(),
        &entries,
        &targets,
        &manifest.min_driver,
        planned.as_ref(),
    );
    verification.diagnostics.extend(note);
    // Each distinct capability and driver is judged container by container, as the
    // targets were.
    let fleet = inventory.map(|inventory| {
        fleet::judged_with_affinity(
            inventory,
            planned.as_ref().map(|p| &p.toolkit),
            &mut |cc, driver| verify::verdict_for(&containers, &entries, cc, driver),
        )
    });
    render::verify(
        &listed,
        &manifest,
        planned.as_ref(),
        &verification,
        fleet.as_ref(),
        args.format,
        out,
    )
}

fn run_check(args: CheckArgs, out: &Output) -> u8 {
    let list = [
        (Dialect::Torch, &args.torch_arch_list),
        (Dialect::Cmake, &args.cmake_architectures),
        (Dialect::Nvcc, &args.nvcc_flags),
        (Dialect::Clang, &args.clang_flags),
        (Dialect::ComputeCap, &args.compute_cap),
    ]
    .into_iter()
    .find_map(|(d, text)| text.as_ref().map(|t| (d, t.clone())));
    let Some((dialect, text)) = list else {
        return run_plan("check", &args.manifest, &args.fleet, args.format, out);
    };
    let result =
        load_with_inventory(&args.manifest, &args.fleet).and_then(|(manifest, note, inventory)| {
            let checked = check::check_list(&manifest, dialect, &text)?;
            let fleet = inventory.map(|inventory| {
                fleet::judged(inventory, &checked.codes, checked.toolkit.as_ref())
            });
            let mut report = Report::from_list(&manifest, dialect, &text, checked);
            report.add_fleet(note, fleet);
            Ok(report)
        });
    match result {
        Ok(report) => out.report(&report, args.format),
        Err(err) => out.input_error(&err, args.format),
    }
}

fn run_convert(args: ConvertArgs, out: &Output) -> u8 {
    let from = Dialect::from_name(&args.from).expect("clap checked the name");
    let to = Dialect::from_name(&args.to).expect("clap checked the name");
    let result = (|| -> Result<String, Error> {
        let toolkit = match &args.cuda {
            Some(v) => Some(Toolkit::named(parse_version("--cuda", v)?, None)),
            None => None,
        };
        let parsed = from
            .parse(&args.list, toolkit.as_ref())
            .map_err(Error::invalid)?;
        for w in &parsed.warnings {
            out.diagnostic(w);
        }
        to.emit(&parsed.codes).map_err(Error::invalid)
    })();
    match result {
        Ok(text) => {
            outln!("{text}");
            0
        }
        Err(err) => out.input_error(&err, Format::Text),
    }
}

/// The manifest (from --manifest-path, or found from here unless --gpu names the
/// targets), with the command-line flags applied on top.
fn load_manifest(args: &ManifestArgs) -> Result<Manifest, Error> {
    load_manifest_or_flags(args, false)
}

/// `load_manifest`, where `flags_suffice` says the command-line flags describe enough
/// without any manifest (deployment commands given an image, a PyTorch release or a
/// toolkit).
fn load_manifest_or_flags(args: &ManifestArgs, flags_suffice: bool) -> Result<Manifest, Error> {
    let mut manifest = match &args.manifest_path {
        Some(path) => Manifest::from_path(path)?,
        None if !args.gpus.is_empty() || flags_suffice => Manifest::default(),
        None => {
            let cwd = std::env::current_dir().map_err(|source| Error::Io {
                path: PathBuf::from("."),
                source,
            })?;
            Manifest::discover(&cwd)?
        }
    };
    if !args.gpus.is_empty() {
        manifest.gpus = args.gpus.iter().map(|g| Located::bare(g.clone())).collect();
    }
    if let Some(v) = &args.cuda {
        manifest.cuda = Some(Located::bare(parse_version("--cuda", v)?));
    }
    if let Some(v) = &args.min_driver {
        manifest.min_driver.linux = Some(Located::bare(parse_version("--min-driver", v)?));
    }
    if let Some(v) = &args.min_driver_windows {
        manifest.min_driver.windows =
            Some(Located::bare(parse_version("--min-driver-windows", v)?));
    }
    if let Some(s) = args.sass {
        manifest.sass = match s {
            SassArg::Exact => SassPolicy::Exact,
            SassArg::Minimal => SassPolicy::Minimal,
        };
    }
    if let Some(p) = args.ptx {
        manifest.ptx = match p {
            PtxArg::Highest => PtxPolicy::Highest,
            PtxArg::None => PtxPolicy::None,
        };
    }
    Ok(manifest)
}

/// The plan request: the manifest's targets, its toolkit or else the nvcc this
/// environment would build with.
fn request_for(manifest: &Manifest) -> Result<PlanRequest, Error> {
    PlanRequest::from_manifest(manifest, || {
        build_script::resolve_toolkit(manifest, &mut BuildEnv::from_fn(|k| std::env::var(k).ok()))
    })
}

fn parse_version(flag: &str, value: &str) -> Result<Version, Error> {
    value.parse().map_err(|e| {
        Error::invalid(
            diagnostic::Diagnostic::error("bad-version", format!("{flag}: {e}"))
                .with_help(format!("pass {flag} 12.4 (toolkit) or 525.60.13 (driver)")),
        )
    })
}
