//! Container image references in every form people write them, read with Docker's
//! grammar (distribution/reference), and the CUDA version they name, where a tag names one.
//!
//! - `nvidia/cuda:12.4.1-runtime-ubuntu22.04`, `docker.io/nvidia/cuda:...`,
//!   `index.docker.io/nvidia/cuda:...` are all Docker Hub's `nvidia/cuda`;
//!   `nvcr.io/nvidia/cuda:...` is NGC's copy of the same images.
//! - The first component is a registry when it contains `.` or `:` or is `localhost`
//!   (`registry:5000/org/img:tag`). Otherwise the registry is `docker.io`, and a name of
//!   one component is in `library/` (`ubuntu:22.04` is `docker.io/library/ubuntu`).
//! - A digest (`@sha256:` and 64 lower-case hex digits) may follow the tag or stand alone.
//! - No tag means `latest`. nvidia/cuda publishes no `latest` tag, so
//!   [`ImageRef::cuda_tag`] reports the missing tag as an error.
//! - Repository names are lower case. Docker would read a first component with capitals
//!   (`NVIDIA/cuda`) as a registry host. Either way it is an error here, with the
//!   lower-case spelling as the fix.
//! - Other images carry no CUDA version in their reference, so the caller must give it.
//!   pytorch/pytorch tags (`2.4.1-cuda12.1-cudnn9-runtime`) name one, and
//!   [`ImageRef::pytorch_tag`] reads it. That is the publisher's naming, read from the
//!   tag, not a fact checked against the image.

use std::fmt;
use std::str::FromStr;

use crate::version::Version;

/// Docker Hub, the registry of names without one.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// Docker Hub's old name, normalized to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// NVIDIA's registry (NGC).
pub const NGC_REGISTRY: &str = "nvcr.io";
/// The longest name (registry and repository) Docker accepts.
const NAME_MAX: usize = 255;
/// The longest tag Docker accepts.
const TAG_MAX: usize = 128;

const CUDA_TAG_SHAPE: &str = "expected VERSION-FLAVOR-OS such as 12.4.1-runtime-ubuntu22.04";
const PYTORCH_TAG_SHAPE: &str =
    "expected TORCH-cudaX.Y-cudnnN-FLAVOR such as 2.4.1-cuda12.1-cudnn9-runtime";

/// A parsed image reference, normalized as Docker normalizes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `docker.io` when none was written; `index.docker.io` becomes `docker.io`.
    pub registry: String,
    /// The path in the registry, with `library/` added for one-component Docker Hub names.
    pub repository: String,
    /// The tag as written. `None` means Docker pulls `latest`.
    pub tag: Option<String>,
    /// The digest (`sha256:...`) as written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Docker Hub's or NGC's `nvidia/cuda`.
    pub fn is_nvidia_cuda(&self) -> bool {
        self.repository == "nvidia/cuda"
            && (self.registry == DEFAULT_REGISTRY
                || self.registry.eq_ignore_ascii_case(NGC_REGISTRY))
    }

    /// Docker Hub's `pytorch/pytorch`.
    pub fn is_pytorch(&self) -> bool {
        self.registry == DEFAULT_REGISTRY && self.repository == "pytorch/pytorch"
    }

    /// For an nvidia/cuda image, its tag read as VERSION-FLAVOR-OS. `None` for other
    /// images. An error when the tag is missing (no `latest` exists) or is not of that
    /// shape.
    pub fn cuda_tag(&self) -> Option<Result<CudaTag, ImageRefError>> {
        if !self.is_nvidia_cuda() {
            return None;
        }
        Some(match &self.tag {
            None => Err(ImageRefError::NoCudaTag {
                image: self.familiar(),
                digest: self.digest.is_some(),
            }),
            Some(tag) => parse_cuda_tag(tag),
        })
    }

    /// For a pytorch/pytorch image, what its tag says (see [`PytorchTag`]). `None` for
    /// other images.
    pub fn pytorch_tag(&self) -> Option<Result<PytorchTag, ImageRefError>> {
        if !self.is_pytorch() {
            return None;
        }
        Some(parse_pytorch_tag(self.tag.as_deref().unwrap_or("latest")))
    }

    /// Where this image's CUDA version comes from. An error only for an nvidia/cuda or
    /// pytorch/pytorch reference whose tag names no version.
    pub fn image_cuda(&self) -> Result<ImageCuda, ImageRefError> {
        if let Some(tag) = self.cuda_tag() {
            return tag.map(ImageCuda::NvidiaTag);
        }
        if let Some(tag) = self.pytorch_tag() {
            return tag.map(ImageCuda::ReadFromTagName);
        }
        Ok(ImageCuda::MustBeGiven)
    }

    /// The short form Docker prints: without `docker.io/` and `library/`
    /// (`nvidia/cuda:12.4.1-base-ubuntu22.04`, `ubuntu:22.04`).
    pub fn familiar(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or("");
        // A first component that reads as a registry keeps `docker.io/` in front of it.
        let keeps_registry =
            self.repository.contains('/') && (first.contains(['.', ':']) || first == "localhost");
        let name = if self.registry == DEFAULT_REGISTRY && !keeps_registry {
            self.repository
                .strip_prefix("library/")
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        with_suffixes(name, self)
    }
}

fn with_suffixes(mut name: String, image: &ImageRef) -> String {
    if let Some(tag) = &image.tag {
        name.push(':');
        name.push_str(tag);
    }
    if let Some(digest) = &image.digest {
        name.push('@');
        name.push_str(digest);
    }
    name
}

/// The full normalized form: `docker.io/library/ubuntu:22.04`.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = format!("{}/{}", self.registry, self.repository);
        f.write_str(&with_suffixes(name, self))
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

/// An nvidia/cuda tag: `12.4.1-runtime-ubuntu22.04`, `11.8.0-cudnn8-devel-ubuntu22.04`,
/// `10.2-base-ubuntu18.04`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CudaTag {
    /// The CUDA version as the tag writes it: `12.4.1`, or `10.2` in old tags.
    pub version: Version,
    /// `base`, `runtime`, `devel`, or a cuDNN flavor: `cudnn8-runtime`, `cudnn9-devel`
    /// (up to 12.3.2), `cudnn-runtime` (from 12.4.1).
    pub flavor: String,
    /// `ubuntu22.04`, `ubi9`, `rockylinux8`, `centos7`, ... Empty for the old OS-less
    /// aliases (`11.0-base`), which Docker Hub no longer serves.
    pub os: String,
}

impl fmt::Display for CudaTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tag_for(&self.version.to_string(), &self.flavor, &self.os))
    }
}

impl FromStr for CudaTag {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cuda_tag(s)
    }
}

/// The nvidia/cuda tag for a version as NVIDIA tags it (`12.4.1`), a flavor and an OS:
/// `12.4.1-runtime-ubuntu22.04`. With an empty OS, the old OS-less form (`11.0-base`).
pub fn tag_for(version_as_tagged: &str, flavor: &str, os: &str) -> String {
    if os.is_empty() {
        format!("{version_as_tagged}-{flavor}")
    } else {
        format!("{version_as_tagged}-{flavor}-{os}")
    }
}

/// What a pytorch/pytorch tag says (`2.4.1-cuda12.1-cudnn9-runtime`). Read from the tag
/// name as its publisher wrote it, not checked against the image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PytorchTag {
    /// The PyTorch version, as written.
    pub torch: Version,
    /// The CUDA version the tag names (`cuda12.1`).
    pub cuda: Version,
    /// The cuDNN major the tag names (`cudnn9`), if it names one.
    pub cudnn: Option<u32>,
    /// What follows: `runtime` or `devel`.
    pub flavor: String,
}

/// Where an image's CUDA version comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageCuda {
    /// nvidia/cuda: the tag names the toolkit in the image.
    NvidiaTag(CudaTag),
    /// pytorch/pytorch: the CUDA version read from the tag name. It is the publisher's
    /// naming and was not checked against the image.
    ReadFromTagName(PytorchTag),
    /// Any other image: its reference says nothing about CUDA, so the caller must give the
    /// version.
    MustBeGiven,
}

/// Why an image reference or tag was rejected. Positions are byte offsets into the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRefError {
    Empty,
    /// Whitespace or a control character inside the reference.
    Whitespace {
        input: String,
        position: usize,
    },
    /// A URL scheme (`docker://`, `https://`), which references do not have.
    Scheme {
        input: String,
        scheme: String,
    },
    /// 64 hex digits alone: an image ID, not a name.
    ImageId {
        input: String,
    },
    /// A registry that is not `host[:port]`.
    InvalidRegistry {
        input: String,
        registry: String,
        reason: &'static str,
    },
    /// An empty path component (`nvidia//cuda`, a trailing `/`).
    EmptyComponent {
        input: String,
        position: usize,
    },
    /// Capitals in the repository path.
    Uppercase {
        input: String,
        component: String,
        position: usize,
        suggestion: String,
    },
    /// A path component outside `[a-z0-9]` joined by `.`, `_`, `__` or dashes.
    InvalidComponent {
        input: String,
        component: String,
        position: usize,
    },
    InvalidTag {
        input: String,
        tag: String,
        position: usize,
        reason: &'static str,
    },
    InvalidDigest {
        input: String,
        digest: String,
        position: usize,
        reason: String,
    },
    /// Registry and repository longer than Docker's 255 bytes.
    NameTooLong {
        input: String,
        length: usize,
    },
    /// An nvidia/cuda reference without a tag.
    NoCudaTag {
        image: String,
        digest: bool,
    },
    /// A tag that is not VERSION-FLAVOR-OS.
    NotCudaTag {
        tag: String,
        reason: String,
    },
    /// A pytorch/pytorch tag that names no CUDA version.
    NotPytorchTag {
        tag: String,
        reason: String,
    },
}

impl fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRefError::Empty => f.write_str(
                "the image reference is empty: write one such as `nvidia/cuda:12.4.1-runtime-ubuntu22.04`",
            ),
            ImageRefError::Whitespace { input, position } => write!(
                f,
                "`{input}` has a space or control character at byte {position}: an image reference has none; remove it"
            ),
            ImageRefError::Scheme { input, scheme } => write!(
                f,
                "`{input}` starts with `{scheme}`, which is not part of an image reference: write `{}`",
                &input[scheme.len()..]
            ),
            ImageRefError::ImageId { input } => write!(
                f,
                "`{input}` is an image ID, not a name: name the image by repository and tag (`nvidia/cuda:12.4.1-runtime-ubuntu22.04`)"
            ),
            ImageRefError::InvalidRegistry {
                input,
                registry,
                reason,
            } => write!(
                f,
                "the registry `{registry}` in `{input}` {reason}: write HOST or HOST:PORT, such as `nvcr.io` or `registry:5000`"
            ),
            ImageRefError::EmptyComponent { input, position } => write!(
                f,
                "`{input}` has an empty path component at byte {position}: remove the extra `/`"
            ),
            ImageRefError::Uppercase {
                input,
                component,
                position,
                suggestion,
            } => write!(
                f,
                "`{component}` at byte {position} of `{input}` has capitals, and repository names must be lower case (Docker: \"repository name must be lowercase\"): write `{suggestion}`"
            ),
            ImageRefError::InvalidComponent {
                input,
                component,
                position,
            } => write!(
                f,
                "`{component}` at byte {position} of `{input}` is not a repository name component: use lower-case letters and digits, joined by `.`, `_`, `__` or dashes"
            ),
            ImageRefError::InvalidTag {
                input,
                tag,
                position,
                reason,
            } => write!(
                f,
                "the tag `{tag}` at byte {position} of `{input}` {reason}: a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
            ),
            ImageRefError::InvalidDigest {
                input,
                digest,
                position,
                reason,
            } => write!(
                f,
                "the digest `{digest}` at byte {position} of `{input}` {reason}: write `sha256:` and 64 lower-case hex digits"
            ),
            ImageRefError::NameTooLong { input, length } => write!(
                f,
                "`{input}` names a repository of {length} bytes with its registry; Docker accepts at most {NAME_MAX}"
            ),
            ImageRefError::NoCudaTag { image, digest } => {
                if *digest {
                    write!(
                        f,
                        "`{image}` has a digest but no tag, so its CUDA version is unknown: write the tag too (`nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:...`)"
                    )
                } else {
                    write!(
                        f,
                        "`{image}` has no tag, which means `latest`, and nvidia/cuda publishes no `latest` tag: name one such as `nvidia/cuda:12.4.1-runtime-ubuntu22.04`"
                    )
                }
            }
            ImageRefError::NotCudaTag { tag, reason } => write!(
                f,
                "`{tag}` is not an nvidia/cuda tag: {reason}; {CUDA_TAG_SHAPE}"
            ),
            ImageRefError::NotPytorchTag { tag, reason } => write!(
                f,
                "the pytorch/pytorch tag `{tag}` names no CUDA version: {reason}; {PYTORCH_TAG_SHAPE}, or give the CUDA version explicitly"
            ),
        }
    }
}

impl std::error::Error for ImageRefError {}

/// Parses an image reference as Docker does (`docker pull` normalization).
pub fn parse(text: &str) -> Result<ImageRef, ImageRefError> {
    let input = || text.to_string();
    if text.is_empty() {
        return Err(ImageRefError::Empty);
    }
    if let Some((position, _)) = text
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(ImageRefError::Whitespace {
            input: input(),
            position,
        });
    }
    if let Some(at) = text.find("://") {
        return Err(ImageRefError::Scheme {
            input: input(),
            scheme: text[..at + 3].to_string(),
        });
    }
    if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ImageRefError::ImageId { input: input() });
    }

    let (name_and_tag, digest) = match text.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (text, None),
    };
    // Docker's domain rule: a first component with `.` or `:`, `localhost`, or (in
    // current releases) capitals is a registry.
    let (registry, remainder, remainder_at) = match name_and_tag.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (Some(first), rest, first.len() + 1)
        }
        _ => (None, name_and_tag, 0),
    };
    let (path, tag) = match remainder.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (remainder, None),
    };
    let tag_at = remainder_at + path.len() + 1;

    if let Some(first) = registry {
        let capitals_only = !first.contains(['.', ':']) && first != "localhost";
        if capitals_only {
            // Docker would try to reach a host named like this; it is almost surely the
            // namespace written with capitals (`NVIDIA/cuda`).
            return Err(uppercase(text, first, 0, remainder_at + path.len()));
        }
        check_registry(text, first)?;
    }
    let mut offset = remainder_at;
    for component in path.split('/') {
        check_component(text, component, offset, remainder_at + path.len())?;
        offset += component.len() + 1;
    }
    if let Some(tag) = tag {
        check_tag(text, tag, tag_at)?;
    }
    if let Some(digest) = digest {
        check_digest(text, digest, name_and_tag.len() + 1)?;
    }

    let registry = match registry {
        None | Some(LEGACY_DEFAULT_REGISTRY) => DEFAULT_REGISTRY.to_string(),
        Some(other) => other.to_string(),
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_string()
    };
    let length = registry.len() + 1 + repository.len();
    if length > NAME_MAX {
        return Err(ImageRefError::NameTooLong {
            input: input(),
            length,
        });
    }
    Ok(ImageRef {
        registry,
        repository,
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// The error for capitals in a name, suggesting the input with its name in lower case
/// (`name_end` is where the tag or digest begins).
fn uppercase(text: &str, component: &str, position: usize, name_end: usize) -> ImageRefError {
    let suggestion = format!(
        "{}{}",
        text[..name_end].to_ascii_lowercase(),
        &text[name_end..]
    );
    ImageRefError::Uppercase {
        input: text.to_string(),
        component: component.to_string(),
        position,
        suggestion,
    }
}

/// `host[:port]`, the host a DNS name, an IPv4 address, or `[IPv6]`.
fn check_registry(text: &str, registry: &str) -> Result<(), ImageRefError> {
    let invalid = |reason| ImageRefError::InvalidRegistry {
        input: text.to_string(),
        registry: registry.to_string(),
        reason,
    };
    let (host, port) = if let Some(bracketed) = registry.strip_prefix('[') {
        let (address, after) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid("has `[` without `]`"))?;
        if address.is_empty() || !address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(invalid("is not an IPv6 address in brackets"));
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(invalid("has text after `]` that is not `:PORT`")),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |label: &str| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !host.split('.').all(label_ok) {
            return Err(invalid(
                "is not a host name (letters, digits and inner dashes, in labels joined by dots)",
            ));
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("has a port that is not a number"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by exactly `.`, `_`, `__`, or one or more `-`.
fn check_component(
    text: &str,
    component: &str,
    position: usize,
    name_end: usize,
) -> Result<(), ImageRefError> {
    if component.is_empty() {
        return Err(ImageRefError::EmptyComponent {
            input: text.to_string(),
            position,
        });
    }
    if component.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(uppercase(text, component, position, name_end));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut valid = alnum(bytes[0]) && alnum(bytes[bytes.len() - 1]);
    let mut i = 0;
    while valid && i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
    }
    if valid {
        Ok(())
    } else {
        Err(ImageRefError::InvalidComponent {
            input: text.to_string(),
            component: component.to_string(),
            position,
        })
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(text: &str, tag: &str, position: usize) -> Result<(), ImageRefError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let reason = if tag.is_empty() {
        Some("is empty")
    } else if tag.len() > TAG_MAX {
        Some("is longer than 128 characters")
    } else if !word(tag.as_bytes()[0]) {
        Some("starts with `.` or `-` or another character a tag cannot start with")
    } else if tag.contains(':') {
        Some("holds a second `:`")
    } else if !tag.bytes().all(|b| word(b) || b == b'.' || b == b'-') {
        Some("holds a character a tag cannot have")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ImageRefError::InvalidTag {
            input: text.to_string(),
            tag: tag.to_string(),
            position,
            reason,
        }),
    }
}

/// `algorithm:hex`, with the algorithms and lengths Docker accepts.
fn check_digest(text: &str, digest: &str, position: usize) -> Result<(), ImageRefError> {
    let invalid = |reason: String| ImageRefError::InvalidDigest {
        input: text.to_string(),
        digest: digest.to_string(),
        position,
        reason,
    };
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(invalid("has no `:` between algorithm and hex".to_string()));
    };
    let length = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(invalid(format!(
                "uses `{algorithm}`, which Docker does not accept (sha256, sha384, sha512)"
            )));
        }
    };
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid(
            "has characters other than lower-case hex digits".to_string(),
        ));
    }
    if hex.len() != length {
        return Err(invalid(format!(
            "has {} hex digits where {algorithm} has {length}",
            hex.len()
        )));
    }
    Ok(())
}

/// Reads an nvidia/cuda tag: VERSION-FLAVOR-OS, or VERSION-FLAVOR for the old OS-less
/// aliases.
pub fn parse_cuda_tag(tag: &str) -> Result<CudaTag, ImageRefError> {
    let fail = |reason: String| ImageRefError::NotCudaTag {
        tag: tag.to_string(),
        reason,
    };
    if tag == "latest" {
        return Err(fail(
            "nvidia/cuda publishes no `latest` tag, so `docker pull` of it fails".to_string(),
        ));
    }
    if tag.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(fail(format!(
            "tags are case-sensitive and NVIDIA's are lower case: try `{}`",
            tag.to_ascii_lowercase()
        )));
    }
    let pieces: Vec<&str> = tag.split('-').collect();
    let version = pieces[0];
    let version = match version.parse::<Version>() {
        Ok(v) if v.parts >= 2 => v,
        _ => {
            return Err(fail(format!(
                "`{version}` is not a CUDA version (MAJOR.MINOR.PATCH such as 12.4.1, or MAJOR.MINOR in old tags such as 10.2)"
            )));
        }
    };
    let (flavor_pieces, os) = match pieces[1..].split_last() {
        None => return Err(fail("it has no flavor or OS after the version".to_string())),
        Some((last, _)) if is_flavor_end(last) => (&pieces[1..], None),
        Some((last, init)) => (init, Some(*last)),
    };
    if let Some(os) = os {
        check_os(os).map_err(fail)?;
    }
    let flavor = flavor_pieces.join("-");
    if flavor.is_empty() {
        return Err(fail(
            "it has no flavor between version and OS (base, runtime, devel, cudnn-runtime, cudnn-devel)"
                .to_string(),
        ));
    }
    let word = |p: &&str| {
        p.starts_with(|c: char| c.is_ascii_lowercase())
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if !flavor_pieces.last().is_some_and(|p| is_flavor_end(p)) || !flavor_pieces.iter().all(word) {
        return Err(fail(format!(
            "`{flavor}` is not a flavor (base, runtime, devel, cudnn-runtime, cudnn-devel, cudnn8-devel, ...)"
        )));
    }
    Ok(CudaTag {
        version,
        flavor,
        os: os.unwrap_or_default().to_string(),
    })
}

fn is_flavor_end(piece: &str) -> bool {
    matches!(piece, "base" | "runtime" | "devel")
}

/// `ubuntu22.04`, `ubi9`, `rockylinux8`, `amzn2023`: lower-case letters, then a version.
fn check_os(os: &str) -> Result<(), String> {
    let letters = os.bytes().take_while(u8::is_ascii_lowercase).count();
    let (name, version) = os.split_at(letters);
    let version_ok = version.starts_with(|c: char| c.is_ascii_digit())
        && !version.ends_with('.')
        && !version.contains("..")
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if name.is_empty() || !version_ok {
        return Err(format!(
            "`{os}` is not an OS such as ubuntu22.04, ubi9 or rockylinux8"
        ));
    }
    if name == "ubuntu" && !version.contains('.') {
        let fixed = if version.len() == 4 {
            format!("ubuntu{}.{}", &version[..2], &version[2..])
        } else {
            "ubuntu22.04".to_string()
        };
        return Err(format!(
            "`{os}` is how NVIDIA's repository names the folder; the tag keeps the dot: `{fixed}`"
        ));
    }
    Ok(())
}

/// Reads a pytorch/pytorch tag: TORCH-cudaX.Y[-cudnnN]-FLAVOR.
pub fn parse_pytorch_tag(tag: &str) -> Result<PytorchTag, ImageRefError> {
    let fail = |reason: String| ImageRefError::NotPytorchTag {
        tag: tag.to_string(),
        reason,
    };
    let pieces: Vec<&str> = tag.split('-').collect();
    let Ok(torch) = pieces[0].parse::<Version>() else {
        return Err(fail(format!(
            "`{}` is not a PyTorch version (`latest` and `nightly` move and name none)",
            pieces[0]
        )));
    };
    let cuda = pieces
        .get(1)
        .and_then(|p| p.strip_prefix("cuda"))
        .and_then(|v| v.parse::<Version>().ok())
        .filter(|v| v.parts >= 2);
    let Some(cuda) = cuda else {
        return Err(fail(
            "the piece after the PyTorch version is not `cudaX.Y` (CPU-only tags name no CUDA)"
                .to_string(),
        ));
    };
    let mut rest = &pieces[2..];
    let mut cudnn = None;
    if let Some(major) = rest.first().and_then(|p| p.strip_prefix("cudnn")) {
        cudnn = Some(
            major
                .parse::<u32>()
                .map_err(|_| fail(format!("`cudnn{major}` does not name a cuDNN major")))?,
        );
        rest = &rest[1..];
    }
    let flavor = rest.join("-");
    if flavor.is_empty()
        || !flavor
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(fail(
            "it has no flavor (`runtime` or `devel`) at the end".to_string(),
        ));
    }
    Ok(PytorchTag {
        torch,
        cuda,
        cudnn,
        flavor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> ImageRef {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn image(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> ImageRef {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn every_way_people_write_nvidia_cuda() {
        let tag = Some("12.4.1-runtime-ubuntu22.04");
        let hub = image("docker.io", "nvidia/cuda", tag, None);
        for text in [
            "nvidia/cuda:12.4.1-runtime-ubuntu22.04",
            "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04",
            "index.docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        ] {
            let r = ok(text);
            assert_eq!(r, hub, "{text}");
            assert!(r.is_nvidia_cuda());
            assert_eq!(r.familiar(), "nvidia/cuda:12.4.1-runtime-ubuntu22.04");
            assert_eq!(
                r.to_string(),
                "docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
            );
        }
        let ngc = ok("nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04");
        assert_eq!(ngc, image("nvcr.io", "nvidia/cuda", tag, None));
        assert!(ngc.is_nvidia_cuda());
        assert_eq!(
            ngc.familiar(),
            "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04"
        );
        let tagged = ngc.cuda_tag().unwrap().unwrap();
        assert_eq!(tagged.version, "12.4.1".parse().unwrap());
        assert_eq!(tagged.flavor, "runtime");
        assert_eq!(tagged.os, "ubuntu22.04");
        assert!(!ok("ghcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04").is_nvidia_cuda());
        assert!(!ok("nvidia/cudagl:11.4.2-base-ubuntu20.04").is_nvidia_cuda());
    }

    #[test]
    fn registries_ports_and_digests() {
        assert_eq!(
            ok("registry:5000/org/img:tag"),
            image("registry:5000", "org/img", Some("tag"), None)
        );
        assert_eq!(
            ok("localhost/img"),
            image("localhost", "img", None, None),
            "no library/ outside Docker Hub"
        );
        assert_eq!(
            ok("localhost:5000"),
            image("docker.io", "library/localhost", Some("5000"), None),
            "without a slash it is a name and a tag, as in Docker"
        );
        assert_eq!(
            ok("[::1]:5000/team/app:v1"),
            image("[::1]:5000", "team/app", Some("v1"), None)
        );
        assert_eq!(
            ok("ubuntu:22.04"),
            image("docker.io", "library/ubuntu", Some("22.04"), None)
        );
        assert_eq!(ok("ubuntu:22.04").familiar(), "ubuntu:22.04");
        assert_eq!(
            ok("docker.io/ubuntu"),
            image("docker.io", "library/ubuntu", None, None)
        );
        assert_eq!(
            ok(&format!("nvidia/cuda:12.4.1-base-ubuntu22.04@{SHA}")),
            image(
                "docker.io",
                "nvidia/cuda",
                Some("12.4.1-base-ubuntu22.04"),
                Some(SHA)
            )
        );
        let pinned = ok(&format!("nvcr.io/nvidia/cuda@{SHA}"));
        assert_eq!(pinned, image("nvcr.io", "nvidia/cuda", None, Some(SHA)));
        let err = pinned.cuda_tag().unwrap().unwrap_err();
        assert!(err.to_string().contains("digest but no tag"), "{err}");
        assert_eq!(
            ok("a.b-c/d__e/f-g--h.i_j:V1_0.x-y").repository,
            "d__e/f-g--h.i_j"
        );
    }

    #[test]
    fn no_tag_means_latest_which_nvidia_cuda_lacks() {
        let r = ok("nvidia/cuda");
        assert_eq!(r.tag, None);
        let err = r.cuda_tag().unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`nvidia/cuda` has no tag, which means `latest`, and nvidia/cuda publishes no `latest` tag: name one such as `nvidia/cuda:12.4.1-runtime-ubuntu22.04`"
        );
        let err = parse_cuda_tag("latest").unwrap_err();
        assert!(err.to_string().contains("no `latest` tag"), "{err}");
    }

    #[test]
    fn capitals_are_rejected_with_the_lower_case_spelling() {
        let err = parse("nvidia/CUDA:12.4.1-Runtime-ubuntu22.04").unwrap_err();
        assert!(
            matches!(&err, ImageRefError::Uppercase { component, position: 7, suggestion, .. }
                if component == "CUDA" && suggestion == "nvidia/cuda:12.4.1-Runtime-ubuntu22.04"),
            "{err:?}"
        );
        // Docker would take `NVIDIA` for a registry host.
        let err = parse("NVIDIA/cuda:12.4.1-runtime-ubuntu22.04").unwrap_err();
        assert!(
            err.to_string()
                .contains("write `nvidia/cuda:12.4.1-runtime-ubuntu22.04`"),
            "{err}"
        );
        let err = parse("Ubuntu:22.04").unwrap_err();
        assert!(err.to_string().contains("write `ubuntu:22.04`"), "{err}");
        // Capitals in a registry are a host name's business, and in a tag allowed.
        assert_eq!(
            ok("Registry.example.com/team/app:V2").tag.as_deref(),
            Some("V2")
        );
        let err = parse_cuda_tag("12.4.1-Runtime-ubuntu22.04").unwrap_err();
        assert!(
            err.to_string().contains("try `12.4.1-runtime-ubuntu22.04`"),
            "{err}"
        );
    }

    #[test]
    fn bad_references_name_the_part() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            (" nvidia/cuda", "character at byte 0"),
            ("nvidia/cuda:12.4.1 ", "character at byte 18"),
            (
                "docker://nvidia/cuda:12.4.1-base-ubuntu22.04",
                "write `nvidia/cuda:12.4.1-base-ubuntu22.04`",
            ),
            ("https://nvcr.io/nvidia/cuda", "starts with `https://`"),
            (&"ab".repeat(32), "image ID"),
            ("nvidia//cuda", "empty path component at byte 7"),
            ("nvidia/cuda/", "empty path component at byte 12"),
            ("nvidia/-cuda", "`-cuda` at byte 7"),
            ("nvidia/cu..da", "not a repository name component"),
            ("nvidia/cu___da", "not a repository name component"),
            ("nvidia/cuda:", "is empty"),
            ("nvidia/cuda:.12", "starts with"),
            ("nvidia/cuda:12:4", "second `:`"),
            ("nvidia/cuda:12+4", "cannot have"),
            ("my_registry.io/app", "not a host name"),
            ("registry:/app", "port that is not a number"),
            ("registry:50a/app", "port that is not a number"),
            ("[::1/app", "without `]`"),
            ("nvidia/cuda@sha256:abc", "3 hex digits where sha256 has 64"),
            (
                "nvidia/cuda@md5:0123456789abcdef0123456789abcdef",
                "does not accept",
            ),
            ("nvidia/cuda@sha256", "no `:`"),
            (
                &format!("nvidia/cuda@{}", SHA.to_uppercase().replace("SHA", "sha")),
                "lower-case hex",
            ),
            (&format!("nvidia/cuda@{SHA}@{SHA}"), "lower-case hex"),
        ];
        for (text, says) in cases {
            let err = parse(text).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(says), "{text:?}: {message}");
        }
        let long = format!("registry.io/{}", "a".repeat(250));
        assert!(matches!(
            parse(&long),
            Err(ImageRefError::NameTooLong { length: 262, .. })
        ));
        let long_tag = format!("app:{}", "1".repeat(129));
        assert!(parse(&long_tag)
            .unwrap_err()
            .to_string()
            .contains("longer than 128"));
    }

    #[test]
    fn cuda_tags_of_every_era() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "12.4.1-runtime-ubuntu22.04",
                "12.4.1",
                "runtime",
                "ubuntu22.04",
            ),
            (
                "11.8.0-cudnn8-devel-ubuntu22.04",
                "11.8.0",
                "cudnn8-devel",
                "ubuntu22.04",
            ),
            (
                "12.3.2-cudnn9-runtime-ubuntu22.04",
                "12.3.2",
                "cudnn9-runtime",
                "ubuntu22.04",
            ),
            (
                "12.4.1-cudnn-runtime-ubuntu22.04",
                "12.4.1",
                "cudnn-runtime",
                "ubuntu22.04",
            ),
            ("13.0.0-devel-ubi9", "13.0.0", "devel", "ubi9"),
            ("12.2.2-base-rockylinux8", "12.2.2", "base", "rockylinux8"),
            ("11.4.3-base-centos7", "11.4.3", "base", "centos7"),
            ("12.6.3-base-amzn2023", "12.6.3", "base", "amzn2023"),
            ("11.0.3-base-ubuntu20.04", "11.0.3", "base", "ubuntu20.04"),
            ("10.2-base-ubuntu18.04", "10.2", "base", "ubuntu18.04"),
            (
                "9.0-cudnn7-devel-ubuntu16.04",
                "9.0",
                "cudnn7-devel",
                "ubuntu16.04",
            ),
            ("11.0-base", "11.0", "base", ""),
            ("10.2-cudnn7-devel", "10.2", "cudnn7-devel", ""),
        ];
        for (text, version, flavor, os) in cases {
            let tag = parse_cuda_tag(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(tag.version.to_string(), *version, "{text}");
            assert_eq!(tag.flavor, *flavor, "{text}");
            assert_eq!(tag.os, *os, "{text}");
            assert_eq!(tag.to_string(), *text, "{text} round trip");
            assert_eq!(tag_for(version, flavor, os), *text);
            let full = ok(&format!("nvidia/cuda:{text}"));
            assert_eq!(full.cuda_tag().unwrap().unwrap(), tag);
        }
    }

    #[test]
    fn bad_cuda_tags_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("22.04", "no flavor or OS"),
            ("12-base-ubuntu22.04", "`12` is not a CUDA version"),
            (
                "v12.4.1-base-ubuntu22.04",
                "`v12.4.1` is not a CUDA version",
            ),
            ("12.4.1-ubuntu22.04", "no flavor between version and OS"),
            ("12.4.1-cudnn-ubuntu22.04", "`cudnn` is not a flavor"),
            (
                "12.4.1-runtime-ubuntu2204",
                "the tag keeps the dot: `ubuntu22.04`",
            ),
            ("12.4.1-runtime-22.04", "`22.04` is not an OS"),
            ("12.4.1-runtime-ubuntu22.04-extra", "`extra` is not an OS"),
            ("12.4.1-runtime-", "`` is not an OS"),
            ("12.4.1--runtime-ubuntu22.04", "not a flavor"),
            ("2.4.1-cuda12.1-cudnn9-runtime", "not a flavor"),
        ];
        for (text, says) in cases {
            let err = parse_cuda_tag(text).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(says), "{text}: {message}");
            assert!(
                message.starts_with(&format!("`{text}` is not an nvidia/cuda tag: "))
                    && message.ends_with(
                        "; expected VERSION-FLAVOR-OS such as 12.4.1-runtime-ubuntu22.04"
                    ),
                "{message}"
            );
        }
    }

    #[test]
    fn other_images_need_their_cuda_given() {
        let torch = ok("pytorch/pytorch:2.4.1-cuda12.1-cudnn9-runtime");
        assert!(torch.cuda_tag().is_none());
        let read = torch.pytorch_tag().unwrap().unwrap();
        assert_eq!(read.torch.to_string(), "2.4.1");
        assert_eq!(read.cuda.to_string(), "12.1");
        assert_eq!(read.cudnn, Some(9));
        assert_eq!(read.flavor, "runtime");
        assert!(matches!(
            torch.image_cuda(),
            Ok(ImageCuda::ReadFromTagName(t)) if t == read
        ));
        let old = parse_pytorch_tag("1.5-cuda10.1-cudnn7-devel").unwrap();
        assert_eq!(
            (
                old.torch.to_string().as_str(),
                old.cuda.to_string().as_str()
            ),
            ("1.5", "10.1")
        );
        for (tag, says) in [
            ("latest", "`latest` is not a PyTorch version"),
            ("2.4.1-cpu", "not `cudaX.Y`"),
            ("2.4.1-cuda12-cudnn9-runtime", "not `cudaX.Y`"),
            ("2.4.1-cuda12.1-cudnnX-runtime", "`cudnnX`"),
            ("2.4.1-cuda12.1-cudnn9", "no flavor"),
        ] {
            let err = parse_pytorch_tag(tag).unwrap_err().to_string();
            assert!(err.contains(says), "{tag}: {err}");
            assert!(err.contains("give the CUDA version explicitly"), "{err}");
        }
        assert!(ok("pytorch/pytorch").image_cuda().is_err());

        let ubuntu = ok("ubuntu:22.04");
        assert!(ubuntu.cuda_tag().is_none() && ubuntu.pytorch_tag().is_none());
        assert_eq!(ubuntu.image_cuda(), Ok(ImageCuda::MustBeGiven));
        assert_eq!(
            ok("nvidia/cuda:12.8.1-devel-ubuntu24.04").image_cuda(),
            Ok(ImageCuda::NvidiaTag(
                parse_cuda_tag("12.8.1-devel-ubuntu24.04").unwrap()
            ))
        );
    }

    /// A small deterministic generator, so the property tests need no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_references_never_panic_and_round_trip() {
        const PIECES: &[&str] = &[
            "nvidia",
            "cuda",
            "/",
            "/",
            ":",
            ":",
            "@",
            ".",
            "-",
            "_",
            "__",
            "12.4.1",
            "runtime",
            "ubuntu22.04",
            "docker.io",
            "nvcr.io",
            "localhost",
            "5000",
            "[",
            "]",
            "::1",
            "sha256",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "A",
            "É",
            " ",
            "latest",
            "base",
            "cudnn8",
            "devel",
            "library",
            "pytorch",
            "cuda12.1",
            "index.docker.io",
            "x",
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut parsed = 0;
        for _ in 0..30_000 {
            let len = 1 + rng.below(9);
            let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            match parse(&text) {
                Ok(r) => {
                    parsed += 1;
                    // The normalized and short forms read back to the same reference.
                    assert_eq!(ok(&r.to_string()), r, "{text}");
                    assert_eq!(ok(&r.familiar()), r, "{text}");
                    let _ = r.image_cuda().map_err(|e| e.to_string());
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
            if let Ok(tag) = parse_cuda_tag(&text) {
                assert_eq!(tag.to_string(), text, "a CUDA tag reads back as written");
            }
            let _ = parse_pytorch_tag(&text);
        }
        assert!(parsed > 1_000, "only {parsed} random references parsed");

        for _ in 0..20_000 {
            let len = rng.below(30);
            let text: String = (0..len)
                .map(|_| char::from_u32(rng.below(0x180) as u32).unwrap_or('?'))
                .collect();
            if let Ok(r) = parse(&text) {
                let _ = r.image_cuda();
            }
            let _ = parse_cuda_tag(&text);
            let _ = parse_pytorch_tag(&text);
        }
    }
}
