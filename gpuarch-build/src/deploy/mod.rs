//! Deployment (feature `deploy`): will it run in production? PyTorch wheels, nvidia/cuda
//! base images, host drivers and GPUs judged together, the nearest combination that
//! passes, and the Dockerfile and compat entrypoint that make it so.
//!
//! - `facts`: the PyTorch, image and driver-branch tables (`data/torch.toml`,
//!   `data/images.toml`, `data/drivers.toml`).
//! - `matrix`: one verdict per relation; `fix`: the nearest passing deployments.
//! - `recommend`: the nvidia/cuda tag for a manifest; `dockerfile`: the file that uses it.
//! - `require`: `NVIDIA_REQUIRE_CUDA` evaluated as the container toolkit does, and generated.
//! - `image_ref`: image references as people write them.
//! - `entrypoint`: the compat entrypoint script.

pub mod dockerfile;
pub mod entrypoint;
pub mod facts;
pub mod fix;
pub mod image_ref;
pub mod matrix;
pub mod profile;
pub mod recommend;
pub mod require;

use crate::diagnostic::{Diagnostic, Location};
use crate::error::{Error, Result};
use crate::manifest::{Located, Manifest};
use crate::target;
use crate::version::Version;

pub use fix::{fixes, Change, Fix};
pub use matrix::{matrix, Deployment, Image, Matrix, Relation, Row, Status, Wheel};

/// The deployment a manifest describes (`gpus`, `min-driver`, `cuda`, `[torch]`,
/// `[image]`), with every name resolved against the catalog. Unknown or ambiguous input
/// is an error that says what is known, never a guess.
pub fn deployment(manifest: &Manifest) -> Result<Deployment> {
    let mut errors = Vec::new();
    // Without GPUs the GPU relations are left out; the others are still judged.
    let gpus = if manifest.gpus.is_empty() && manifest.gpus_location.is_none() {
        Vec::new()
    } else {
        match target::resolve(&manifest.gpus, manifest.gpus_location.as_ref()) {
            Ok(gpus) => gpus,
            Err(err) => {
                errors.extend(err.diagnostics());
                Vec::new()
            }
        }
    };
    let wheel = match &manifest.torch.version {
        Some(version) => match resolve_wheel(version, manifest.torch.variant.as_ref()) {
            Ok(w) => Some(w),
            Err(d) => {
                errors.push(d);
                None
            }
        },
        None => None,
    };
    let image = match &manifest.image.reference {
        Some(reference) => match resolve_image(reference, manifest.image.cuda.as_ref()) {
            Ok(i) => Some(i),
            Err(d) => {
                errors.push(d);
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(Deployment {
        gpus,
        driver: manifest.min_driver.linux.as_ref().map(|d| d.value),
        wheel,
        image,
        toolkit: manifest.cuda.as_ref().map(|c| c.value),
    })
}

/// A PyTorch version as pip writes it (`1.12.1`, `2.4.1+cu121`) and an optional
/// variant, resolved to a published wheel. Without a variant, the one `pip install
/// torch` gets on Linux x86_64.
pub fn resolve_wheel(
    version: &Located<String>,
    variant: Option<&Located<String>>,
) -> std::result::Result<Wheel, Diagnostic> {
    let at = version.location.clone();
    let text = version.value.trim();
    let (number, local) = match text.split_once('+') {
        Some((n, l)) => (n, Some(l)),
        None => (text, None),
    };
    // 2.5.0rc1, 2.6.0a0, 2.6.0.dev20241112: letters mark pre-releases and nightlies.
    if number.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err(Diagnostic::error(
            "unknown-torch",
            format!("PyTorch `{text}` is a pre-release or nightly: their arch lists change from build to build and are not in the catalog"),
        )
        .with_help("give a release, e.g. `2.5.1`; for a nightly, check the wheel itself with `cargo gpuarch inspect`")
        .at(at));
    }
    let parsed: Version = number.parse().map_err(|e| {
        Diagnostic::error(
            "unknown-torch",
            format!("`{text}` is not a PyTorch version: {e}"),
        )
        .with_help("write it as pip does: `2.4.1` or `2.4.1+cu121`")
        .at(at.clone())
    })?;
    let known = || {
        facts::torch_releases()
            .iter()
            .map(|r| r.version.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(release) = facts::find_torch(&parsed) else {
        return Err(Diagnostic::error(
            "unknown-torch",
            format!("PyTorch {parsed} is not a release in the catalog"),
        )
        .with_help(format!("known releases: {}", known()))
        .at(at));
    };
    // `1.12` alone means the newest patch of 1.12.
    let version = if parsed.parts < 3 {
        release.patches.last().copied().unwrap_or(parsed)
    } else {
        parsed
    };
    let wanted = match (local, variant) {
        (Some(l), Some(v)) if !l.eq_ignore_ascii_case(&v.value) => {
            return Err(Diagnostic::error(
                "unknown-torch",
                format!(
                    "`{text}` names the {l} variant but `variant` says {}",
                    v.value
                ),
            )
            .with_help("keep one of them")
            .at(v.location.clone()));
        }
        (Some(l), _) => Some(l.to_ascii_lowercase()),
        (None, Some(v)) => Some(v.value.trim().to_ascii_lowercase()),
        (None, None) => None,
    };
    let published = || {
        release
            .variants
            .iter()
            .map(|v| v.tag.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let variant = match wanted {
        Some(tag) if tag == "cpu" || tag.starts_with("rocm") => {
            return Err(Diagnostic::error(
                "unknown-torch",
                format!("`{text}` is not a CUDA build: it has no CUDA kernels to judge"),
            )
            .with_help(format!("name a CUDA variant: {}", published()))
            .at(at));
        }
        Some(tag) => release
            .variants
            .iter()
            .find(|v| v.tag == tag)
            .ok_or_else(|| {
                Diagnostic::error(
                    "unknown-torch",
                    format!("PyTorch {version} was not published for {tag}"),
                )
                .with_help(format!(
                    "published variants of {}: {}",
                    release.version,
                    published()
                ))
                .at(at.clone())
            })?,
        None => {
            let default = release.pypi_default.as_deref();
            release
                .variants
                .iter()
                .find(|v| Some(v.tag.as_str()) == default)
                .ok_or_else(|| {
                    Diagnostic::error(
                        "unknown-torch",
                        format!("the catalog does not know which CUDA variant `pip install torch=={version}` gets"),
                    )
                    .with_help(format!("name one: `{version}+cu...` ({})", published()))
                    .at(at.clone())
                })?
        }
    };
    Ok(Wheel {
        release,
        version,
        variant,
    })
}

/// An image reference resolved to its CUDA version: from the nvidia/cuda tag (which must
/// be one NVIDIA published), or from `cuda` for any other image.
pub fn resolve_image(
    reference: &Located<String>,
    cuda: Option<&Located<Version>>,
) -> std::result::Result<Image, Diagnostic> {
    let at = reference.location.clone();
    let parsed = image_ref::parse(&reference.value).map_err(|e| {
        Diagnostic::error("bad-image", format!("`{}`: {e}", reference.value)).at(at.clone())
    })?;
    if !parsed.is_nvidia_cuda() {
        let Some(cuda) = cuda else {
            return Err(Diagnostic::error(
                "bad-image",
                format!("`{}` is not an nvidia/cuda image, so its CUDA version cannot be read from the tag", reference.value),
            )
            .with_help("give it: `[image] cuda = \"12.1\"` (or --image-cuda 12.1)")
            .at(at));
        };
        return Ok(Image {
            reference: reference.value.clone(),
            cuda: cuda.value,
            set: None,
            require_cuda: None,
            note: None,
        });
    }
    let tag = match parsed.cuda_tag() {
        Some(Ok(tag)) => tag,
        Some(Err(e)) => {
            return Err(
                Diagnostic::error("bad-image", format!("`{}`: {e}", reference.value)).at(at),
            )
        }
        None => {
            return Err(Diagnostic::error(
                "bad-image",
                format!("`{}` has no tag, and nvidia/cuda has no `latest`", reference.value),
            )
            .with_help("name a tag such as `nvidia/cuda:12.4.1-runtime-ubuntu22.04` (`cargo gpuarch image` recommends one)")
            .at(at));
        }
    };
    let Some(set) = facts::find_image_set(&tag.version) else {
        let near = facts::image_sets()
            .iter()
            .filter(|s| {
                s.version.major == tag.version.major && s.version.minor == tag.version.minor
            })
            .map(|s| s.tag_version.clone())
            .collect::<Vec<_>>();
        let help = if near.is_empty() {
            "`cargo gpuarch image` recommends a tag that exists".to_string()
        } else {
            format!(
                "NVIDIA published {} for CUDA {}.{}",
                near.join(", "),
                tag.version.major,
                tag.version.minor
            )
        };
        return Err(Diagnostic::error(
            "bad-image",
            format!(
                "nvidia/cuda has no CUDA {} images: `{}` never existed",
                tag.version, reference.value
            ),
        )
        .with_help(help)
        .at(at));
    };
    // The CUDA version is certain from the tag; whether this flavor and OS were ever
    // published is only as certain as the catalog's tag list, so it is said, not refused.
    let listed = set.flavors.contains(&tag.flavor) && set.os.contains(&tag.os);
    let note = (!listed).then(|| {
        format!(
            "`{}` is not a tag the catalog knows NVIDIA published (CUDA {} images: flavors {}; OSes {}): judged as CUDA {}, but `docker pull` may fail",
            reference.value,
            set.tag_version,
            set.flavors.join(", "),
            set.os.join(", "),
            set.version
        )
    });
    if let Some(cuda) = cuda {
        if Version::major_minor(cuda.value.major, cuda.value.minor)
            != Version::major_minor(set.version.major, set.version.minor)
        {
            return Err(Diagnostic::error(
                "bad-image",
                format!(
                    "`{}` carries CUDA {}, not the {} given",
                    reference.value, set.version, cuda.value
                ),
            )
            .with_help("drop `cuda` for nvidia/cuda images: the tag says it")
            .at(cuda.location.clone()));
        }
    }
    Ok(Image {
        reference: reference.value.clone(),
        cuda: set.version,
        set: Some(set),
        require_cuda: require_of(set),
        note,
    })
}

/// The `NVIDIA_REQUIRE_CUDA` an nvidia/cuda release set carries. Where the catalog has
/// not recorded it, the newest recorded one of an earlier set of the same minor (then
/// major) stands in: NVIDIA changes the brand clauses only when a driver branch comes or
/// goes, and the `cuda>=` term is the set's own.
pub(crate) fn require_of(set: &facts::ImageSet) -> Option<String> {
    if let Some(r) = &set.require_cuda {
        return Some(r.clone());
    }
    let own = format!("cuda>={}.{}", set.version.major, set.version.minor);
    let earlier = |same_minor: bool| {
        facts::image_sets()
            .iter()
            .filter(|s| s.version < set.version && s.version.major == set.version.major)
            .filter(|s| !same_minor || s.version.minor == set.version.minor)
            .filter_map(|s| s.require_cuda.as_deref())
            .next_back()
    };
    let borrowed = earlier(true).or_else(|| earlier(false))?;
    let brands = borrowed.split(' ').skip(1).collect::<Vec<_>>().join(" ");
    Some(if brands.is_empty() {
        own
    } else {
        format!("{own} {brands}")
    })
}

/// Whether an nvidia/cuda image's tags are end-of-life or already deleted, in words.
pub fn image_lifecycle(image: &Image) -> Option<(bool, String)> {
    let set = image.set?;
    if set.deleted {
        return Some((
            true,
            format!(
                "{} is end-of-life{} and NVIDIA deletes EOL tags six months later: `docker pull` will say \"not found\"",
                image.reference,
                set.eol.as_deref().map_or(String::new(), |d| format!(" (since {d})"))
            ),
        ));
    }
    set.eol.as_deref().map(|d| {
        (
            false,
            format!(
                "{} is end-of-life since {d}; its tags are deleted six months after that",
                image.reference
            ),
        )
    })
}

/// Whether the hosts reach the image's CUDA only through its forward-compatibility
/// libraries (so the compat entrypoint must switch them on).
pub fn needs_forward_compat(d: &Deployment, image: &Image) -> bool {
    let mut rows = Vec::new();
    matrix::image_vs_driver(d, image, &mut rows);
    rows.iter().any(|r| r.forward_compat)
}

/// The `devel` image of the same nvidia/cuda release set and OS (for a build stage).
pub fn devel_of(image: &Image) -> Option<Image> {
    let set = image.set?;
    let reference = image_ref::parse(&image.reference).ok()?;
    let tag = reference.cuda_tag()?.ok()?;
    fix::image_from_set(&reference, set, "devel", &tag.os)
}

/// A location-free diagnostic for flags (`--torch`, `--image`).
pub fn flag(value: &str) -> Located<String> {
    Located::new(value.to_string(), None::<Location>)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every NVIDIA_REQUIRE_CUDA the catalog records for NVIDIA's images parses, and
    /// `require::generate` writes it back from its own parts, byte for byte (the one
    /// image that writes `CUDA>=` in capitals, up to case).
    #[test]
    fn recorded_image_requirements_round_trip() {
        let mut checked = 0;
        for set in facts::image_sets() {
            let Some(text) = &set.require_cuda else {
                continue;
            };
            let parsed =
                require::parse(text).unwrap_or_else(|e| panic!("{}: {text}: {e}", set.version));
            let floor = parsed.cuda_floor().expect("a cuda>= term");
            let brands = parsed.brands();
            let brands: Vec<&str> = brands.iter().map(String::as_str).collect();
            let again = require::generate(&floor, &parsed.compat_branches(), &brands);
            assert!(
                again.eq_ignore_ascii_case(text),
                "{}:\n{text}\n{again}",
                set.version
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} recorded");
    }
}
