//! Lists the GPU code inside build artifacts: fatbins, host ELF objects, libraries and
//! executables, static archives, cubins and PTX text.
//!
//! The listing follows `cuobjdump --list-elf --list-ptx`: the same entries, in file order
//! (see `tests/fixtures/artifacts`, where each fixture has the recorded cuobjdump output).
//! Entries name the fatbin-level architecture, which is richer than cuobjdump's cubin
//! names: an `sm_100f` cubin is `sm_100f` here and `sm_100` in cuobjdump
//! ([`Entry::cuobjdump_arch`] gives cuobjdump's spelling).
//!
//! Only headers are read; nothing is decompressed here (the `decompress` feature's
//! [`content`] does that on request). Every read is bounds-checked against the data:
//! malformed input gives an [`ArtifactError`], never a panic, and no size read from a file
//! is allocated before it is checked against the file's length. [`list`] reads past a
//! damaged section, container or archive member and reports it beside what it found.

mod archive;
#[cfg(feature = "decompress")]
pub mod content;
mod elf;
mod fatbin;
#[cfg(feature = "wheel")]
pub mod wheel;

use std::fmt;

use crate::arch::{Arch, Code, Variant};
use crate::version::Version;

pub use archive::{inspect_archive, thin_archive_members, AR_MAGIC, THIN_MAGIC};
pub use elf::{cubin_arch, cubin_kernel_count, inspect_elf, EM_CUDA};
pub use fatbin::{entries_in_fatbin, FATBIN_MAGIC};

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryKind {
    /// SASS in a CUDA ELF.
    Cubin,
    Ptx,
}

/// How an entry's payload is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compression {
    None,
    /// LZ4 block format (CUDA 11.8/12.x; nvcc 13 `--compress-mode=speed`).
    Lz4,
    /// A zstd frame (nvcc 13's default for PTX, and `-compress-all`/`size`/`balance`).
    Zstd,
}

/// One cubin or PTX in an artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    /// For fatbin entries, from the entry header (with `a`/`f`). For a standalone cubin,
    /// from its ELF header, which cannot record `f`.
    pub arch: Arch,
    /// The PTX ISA version of a PTX entry (from the fatbin entry header, or the `.version`
    /// directive of PTX text); `None` for cubins or where it would need decompression.
    pub ptx_isa: Option<Version>,
    pub compression: Compression,
    /// The archive member holding the entry, for archives.
    pub member: Option<String>,
    /// The ELF section holding the container (`.nv_fatbin`, `__nv_relfatbin`); empty for a
    /// standalone fatbin, cubin or PTX file, or a host ELF without section headers.
    pub section: String,
    /// The index of the container in the file (counted across sections and archive
    /// members); 0 for a standalone cubin or PTX file.
    pub container: usize,
    /// The file offset of the entry header (of the ELF for a cubin; 0 for PTX text).
    pub offset: u64,
    /// Where the stored payload (compressed or not) lies in the file, and its length.
    pub payload_offset: u64,
    pub payload_size: u64,
    /// The payload's length once decompressed, as the fatbin entry header states it (not
    /// yet checked against the data); equal to `payload_size` when uncompressed.
    pub uncompressed_size: u64,
    /// How many kernels the entry holds (`.entry` functions). Listing leaves it `None`;
    /// [`count_kernels`] fills it for uncompressed entries, `content::fill_from_content`
    /// for compressed ones.
    pub kernels: Option<u32>,
}

impl Entry {
    /// The entry in the model: a cubin is SASS, PTX is PTX.
    pub fn code(&self) -> Code {
        match self.kind {
            EntryKind::Cubin => Code::sass(self.arch),
            EntryKind::Ptx => Code::ptx(self.arch),
        }
    }

    /// The architecture as nvcc's `code=` spells real ones, for either kind: `sm_80`,
    /// `sm_90a`, `sm_100f` (a PTX entry of `sm_90` holds `compute_90` PTX).
    pub fn arch_name(&self) -> String {
        format!("sm_{}", self.arch.number())
    }

    /// The architecture as `cuobjdump --list-elf --list-ptx` spells it in file names:
    /// `sm_` for both kinds, and cubins drop `f` (their ELF header cannot record it).
    pub fn cuobjdump_arch(&self) -> String {
        let arch = match (self.kind, self.arch.variant) {
            (EntryKind::Cubin, Variant::Family) => Arch::plain(self.arch.cc),
            _ => self.arch,
        };
        format!("sm_{}", arch.number())
    }
}

/// Why an artifact could not be listed. Offsets are from the start of the inspected file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactError {
    /// A structure runs past the end of the data that should hold it.
    Truncated { what: &'static str, offset: u64 },
    /// A field holds a value no valid file has.
    Malformed { what: &'static str, offset: u64 },
    /// A valid file of a kind this module does not read (32-bit or big-endian ELF).
    Unsupported { what: &'static str, offset: u64 },
    /// Not a fatbin, ELF, archive or PTX text.
    NotAnArtifact,
    /// A thin archive: its members are files of their own.
    ThinArchive,
    /// A zip archive without a `*.dist-info/WHEEL` member.
    NotAWheel,
    /// A compressed payload that does not decompress to what its header says.
    Corrupt { what: &'static str, offset: u64 },
    /// A member stored outside the file (a thin archive's) that could not be read.
    MemberUnreadable { member: String, reason: String },
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::Truncated { what, offset } => {
                write!(f, "truncated {what} at offset {offset:#x}")
            }
            ArtifactError::Malformed { what, offset } => {
                write!(f, "malformed {what} at offset {offset:#x}")
            }
            ArtifactError::Unsupported { what, offset } => {
                write!(f, "unsupported {what} at offset {offset:#x}")
            }
            ArtifactError::NotAnArtifact => {
                write!(f, "not a fatbin, ELF file, static archive or PTX text")
            }
            ArtifactError::ThinArchive => write!(
                f,
                "a thin archive: its members are separate files, read them from beside it"
            ),
            ArtifactError::NotAWheel => write!(
                f,
                "a zip archive without a *.dist-info/WHEEL member: not a Python wheel"
            ),
            ArtifactError::Corrupt { what, offset } => {
                write!(f, "corrupt {what} at offset {offset:#x}")
            }
            ArtifactError::MemberUnreadable { member, reason } => {
                write!(f, "member {member}: {reason}")
            }
        }
    }
}

impl std::error::Error for ArtifactError {}

/// What [`list`] found in a file: the entries it could read, and the damage it read past.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Damaged sections, containers or members that were skipped. The entries are still
    /// what the file holds elsewhere.
    pub problems: Vec<ArtifactError>,
}

/// The accumulator the readers share.
pub(crate) type Found = Listing;

impl Listing {
    /// Adds the listing of a member (of a wheel or thin archive) read on its own: its
    /// entries name the member (`member(inner)` for archive members inside it) and its
    /// containers are numbered after the ones already here.
    pub fn append_member(&mut self, member: &str, mut listing: Listing) {
        let first = self
            .entries
            .iter()
            .map(|e| e.container + 1)
            .max()
            .unwrap_or(0);
        for entry in &mut listing.entries {
            entry.member = Some(match entry.member.take() {
                Some(inner) => format!("{member}({inner})"),
                None => member.to_string(),
            });
            entry.container += first;
        }
        self.entries.append(&mut listing.entries);
        self.problems.append(&mut listing.problems);
    }

    /// The entries, or the first problem: for callers that want all or nothing.
    pub(crate) fn strict(self) -> Result<Vec<Entry>, ArtifactError> {
        match self.problems.into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(self.entries),
        }
    }
}

/// Lists the GPU code in a file, recognised by its first bytes: a fatbin, an ELF file
/// (cubin or host), a static archive, or PTX text (`.version` and `.target` directives).
/// Damage past the file's own header is reported in [`Listing::problems`] beside what
/// could be read; an error means nothing could be. A file without GPU code is an empty
/// listing, not an error. A thin archive is [`ArtifactError::ThinArchive`]: its members
/// are other files ([`thin_archive_members`]).
pub fn list(bytes: &[u8]) -> Result<Listing, ArtifactError> {
    let mut found = Found::default();
    if bytes.len() >= 4 && read_u32(bytes, 0, 0, "magic")? == FATBIN_MAGIC {
        let mut next = 0;
        let place = fatbin::Place {
            base: 0,
            member: None,
            section: "",
        };
        fatbin::parse_containers(bytes, &place, &mut next, &mut found);
    } else if bytes.starts_with(b"\x7fELF") {
        elf::inspect_elf_in(bytes, 0, None, &mut 0, &mut found)?;
    } else if bytes.starts_with(AR_MAGIC) {
        archive::inspect_archive_in(bytes, 0, None, &mut 0, &mut found, 0)?;
    } else if bytes.starts_with(THIN_MAGIC) {
        return Err(ArtifactError::ThinArchive);
    } else {
        found.entries.push(inspect_ptx(bytes)?);
    }
    Ok(found)
}

/// [`list`], all or nothing: any damage is an error.
pub fn inspect(bytes: &[u8]) -> Result<Vec<Entry>, ArtifactError> {
    list(bytes)?.strict()
}

/// Reads PTX text: `.version X.Y` and the first `sm_` name in `.target`.
pub fn inspect_ptx(bytes: &[u8]) -> Result<Entry, ArtifactError> {
    let header = ptx_header(bytes).ok_or(ArtifactError::NotAnArtifact)?;
    let arch = header.arch.ok_or(ArtifactError::Malformed {
        what: "PTX .target",
        offset: 0,
    })?;
    Ok(Entry {
        kind: EntryKind::Ptx,
        arch,
        ptx_isa: header.version,
        compression: Compression::None,
        member: None,
        section: String::new(),
        container: 0,
        offset: 0,
        payload_offset: 0,
        payload_size: bytes.len() as u64,
        uncompressed_size: bytes.len() as u64,
        kernels: None,
    })
}

/// Counts the kernels of every uncompressed entry (reading each cubin's symbol table or
/// each PTX text); `file` is the data the listing was made from. Listing itself skips this
/// so the build gate reads headers only.
pub fn count_kernels(file: &[u8], listing: &mut Listing) {
    for entry in &mut listing.entries {
        if entry.compression != Compression::None || entry.kernels.is_some() {
            continue;
        }
        let start = usize::try_from(entry.payload_offset).ok();
        let end = start.and_then(|s| s.checked_add(usize::try_from(entry.payload_size).ok()?));
        let Some(payload) = start.zip(end).and_then(|(s, e)| file.get(s..e)) else {
            continue;
        };
        entry.kernels = match entry.kind {
            EntryKind::Cubin => elf::cubin_kernel_count(payload).ok(),
            EntryKind::Ptx => Some(ptx_kernel_count(payload)),
        };
    }
}

/// How many `.entry` directives (kernels) PTX text declares; `.func`s are not kernels.
pub(crate) fn ptx_kernel_count(bytes: &[u8]) -> u32 {
    let mut count = 0u32;
    for line in bytes.split(|&b| b == b'\n') {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        // `.entry name(` or `.visible .entry` / `.weak .entry` / `.extern .entry` (a
        // declaration, not counted).
        let first = words.next();
        let second = words.next();
        let is_entry = matches!(
            (first, second),
            (Some(b".entry"), _) | (Some(b".visible" | b".weak"), Some(b".entry"))
        );
        if is_entry {
            count = count.saturating_add(1);
        }
    }
    count
}

pub(crate) struct PtxHeader {
    pub version: Option<Version>,
    pub arch: Option<Arch>,
}

/// The `.version` and `.target` directives of PTX text; `None` when the text has no
/// `.version` (so is not PTX). Trailing NULs (fatbin padding) are ignored.
pub(crate) fn ptx_header(bytes: &[u8]) -> Option<PtxHeader> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut version = None;
    let mut arch = None;
    let mut seen_version = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if let Some(rest) = line.strip_prefix(".version") {
            if !rest.starts_with(|c: char| c.is_whitespace()) {
                continue;
            }
            seen_version = true;
            version = rest.trim().parse::<Version>().ok();
        } else if let Some(rest) = line.strip_prefix(".target") {
            if !rest.starts_with(|c: char| c.is_whitespace()) {
                continue;
            }
            arch = rest
                .split(',')
                .map(str::trim)
                .find_map(|t| t.strip_prefix("sm_"))
                .and_then(Arch::parse_number);
        }
        if seen_version && arch.is_some() {
            break;
        }
    }
    seen_version.then_some(PtxHeader { version, arch })
}

fn read_array<const N: usize>(
    bytes: &[u8],
    at: usize,
    base: u64,
    what: &'static str,
) -> Result<[u8; N], ArtifactError> {
    at.checked_add(N)
        .and_then(|end| bytes.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(ArtifactError::Truncated {
            what,
            offset: base.saturating_add(at as u64),
        })
}

/// Little-endian reads from a slice the caller has already bounds-checked (a header of
/// known length): plain indexing, which stays cheap in the unoptimised builds that build
/// scripts are.
pub(crate) fn le16(h: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([h[at], h[at + 1]])
}

pub(crate) fn le32(h: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]])
}

pub(crate) fn le64(h: &[u8], at: usize) -> u64 {
    u64::from_le_bytes([
        h[at],
        h[at + 1],
        h[at + 2],
        h[at + 3],
        h[at + 4],
        h[at + 5],
        h[at + 6],
        h[at + 7],
    ])
}

pub(crate) fn read_u16(
    bytes: &[u8],
    at: usize,
    base: u64,
    what: &'static str,
) -> Result<u16, ArtifactError> {
    read_array(bytes, at, base, what).map(u16::from_le_bytes)
}

pub(crate) fn read_u32(
    bytes: &[u8],
    at: usize,
    base: u64,
    what: &'static str,
) -> Result<u32, ArtifactError> {
    read_array(bytes, at, base, what).map(u32::from_le_bytes)
}

pub(crate) fn read_u64(
    bytes: &[u8],
    at: usize,
    base: u64,
    what: &'static str,
) -> Result<u64, ArtifactError> {
    read_array(bytes, at, base, what).map(u64::from_le_bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file of tests/fixtures/artifacts (made by nvcc; see regenerate.sh there).
    #[cfg(feature = "decompress")]
    pub(crate) fn fixture_bytes(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/artifacts/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap()
    }
    use crate::arch::{Cc, CodeKind};

    macro_rules! fixture {
        ($name:literal) => {
            (
                $name,
                &include_bytes!(concat!("../../../tests/fixtures/artifacts/", $name))[..],
                include_str!(concat!(
                    "../../../tests/fixtures/artifacts/",
                    $name,
                    ".cuobjdump.txt"
                )),
            )
        };
    }

    fn fixtures() -> Vec<(&'static str, &'static [u8], &'static str)> {
        vec![
            fixture!("multi.fatbin"),
            fixture!("multi_zstd.fatbin"),
            fixture!("multi_lz4.fatbin"),
            fixture!("multi_none.fatbin"),
            fixture!("k.o"),
            fixture!("k_rdc.o"),
            fixture!("libk.a"),
            fixture!("k_sm90a.cubin"),
            fixture!("k_compute86.ptx"),
        ]
    }

    /// `(kind, arch)` per `ELF file`/`PTX file` line, in output order. The arch is the
    /// second-to-last dot-separated part of the name (`k.2.sm_90a.cubin`).
    fn cuobjdump_listing(text: &str) -> Vec<(EntryKind, String)> {
        text.lines()
            .filter_map(|line| {
                let kind = if line.starts_with("ELF file") {
                    EntryKind::Cubin
                } else if line.starts_with("PTX file") {
                    EntryKind::Ptx
                } else {
                    return None;
                };
                let name = line.split(": ").nth(1)?;
                let parts: Vec<&str> = name.split('.').collect();
                Some((kind, parts[parts.len() - 2].to_string()))
            })
            .collect()
    }

    fn listing(entries: &[Entry]) -> Vec<(EntryKind, String)> {
        entries
            .iter()
            .map(|e| (e.kind, e.cuobjdump_arch()))
            .collect()
    }

    fn codes(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|e| e.code().to_string()).collect()
    }

    fn isa(s: &str) -> Option<Version> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn listings_match_cuobjdump() {
        for (name, bytes, recorded) in fixtures() {
            let entries = inspect(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let expected = cuobjdump_listing(recorded);
            if name.ends_with(".ptx") {
                // cuobjdump does not read PTX text ("does not contain device code").
                assert!(expected.is_empty(), "{name}");
                continue;
            }
            assert!(!expected.is_empty(), "{name}: no recorded entries");
            assert_eq!(listing(&entries), expected, "{name}");
        }
    }

    #[test]
    fn fatbins_keep_fatbin_level_arches_and_compression() {
        use Compression::{Lz4, Zstd};
        let all = ["sm_75", "sm_90a", "sm_100f", "compute_90"];
        let cases: [(&str, &[u8], [Compression; 4]); 4] = [
            (
                "multi.fatbin",
                include_bytes!("../../../tests/fixtures/artifacts/multi.fatbin"),
                [
                    Compression::None,
                    Compression::None,
                    Compression::None,
                    Zstd,
                ],
            ),
            (
                "multi_zstd.fatbin",
                include_bytes!("../../../tests/fixtures/artifacts/multi_zstd.fatbin"),
                [Zstd; 4],
            ),
            (
                "multi_lz4.fatbin",
                include_bytes!("../../../tests/fixtures/artifacts/multi_lz4.fatbin"),
                // `--compress-mode=speed`, like the default mode, compresses only the PTX.
                [Compression::None, Compression::None, Compression::None, Lz4],
            ),
            (
                "multi_none.fatbin",
                include_bytes!("../../../tests/fixtures/artifacts/multi_none.fatbin"),
                [Compression::None; 4],
            ),
        ];
        for (name, bytes, compression) in cases {
            let entries = inspect(bytes).unwrap();
            assert_eq!(codes(&entries), all, "{name}");
            let got: Vec<Compression> = entries.iter().map(|e| e.compression).collect();
            assert_eq!(got, compression, "{name}");
            for e in &entries {
                assert_eq!(e.container, 0);
                assert_eq!(e.section, "");
                assert_eq!(e.member, None);
                let expected_isa = match e.kind {
                    EntryKind::Ptx => isa("9.0"),
                    EntryKind::Cubin => None,
                };
                assert_eq!(e.ptx_isa, expected_isa, "{name}");
            }
            assert_eq!(
                entries[0].offset, 16,
                "{name}: first entry follows the header"
            );
        }
    }

    #[test]
    fn host_objects_and_archives() {
        let k = inspect(include_bytes!("../../../tests/fixtures/artifacts/k.o")).unwrap();
        assert_eq!(codes(&k), ["sm_75", "sm_90a", "sm_100f", "compute_90"]);
        assert!(k
            .iter()
            .all(|e| e.section == ".nv_fatbin" && e.container == 0));

        let rdc = inspect(include_bytes!("../../../tests/fixtures/artifacts/k_rdc.o")).unwrap();
        assert_eq!(codes(&rdc), ["compute_80", "sm_80"]);
        assert!(rdc.iter().all(|e| e.section == "__nv_relfatbin"));
        assert_eq!(rdc[0].ptx_isa, isa("9.0"));

        let lib = inspect(include_bytes!("../../../tests/fixtures/artifacts/libk.a")).unwrap();
        assert_eq!(codes(&lib), ["sm_75", "sm_120a", "compute_120"]);
        let members: Vec<_> = lib.iter().map(|e| e.member.as_deref().unwrap()).collect();
        assert_eq!(
            members,
            [
                "a75.o",
                "a_second_object_with_a_long_name_120.o",
                "a_second_object_with_a_long_name_120.o"
            ]
        );
        let containers: Vec<_> = lib.iter().map(|e| e.container).collect();
        assert_eq!(containers, [0, 1, 1]);
    }

    #[test]
    fn standalone_cubin_and_ptx() {
        let bytes = include_bytes!("../../../tests/fixtures/artifacts/k_sm90a.cubin");
        let cubin = inspect(bytes).unwrap();
        assert_eq!(codes(&cubin), ["sm_90a"]);
        assert_eq!(cubin_arch(bytes).unwrap().dotted(), "9.0a");

        // Expected from the flags used (`-ptx -arch=compute_86`, nvcc 13.0: PTX ISA 9.0).
        let ptx = inspect(include_bytes!(
            "../../../tests/fixtures/artifacts/k_compute86.ptx"
        ))
        .unwrap();
        assert_eq!(codes(&ptx), ["compute_86"]);
        assert_eq!(ptx[0].ptx_isa, isa("9.0"));
        assert_eq!(ptx[0].code().kind, CodeKind::Ptx);
    }

    /// A bare cubin ELF header (no sections) with the given ABI version and `e_flags`.
    fn cubin_header(abi: u8, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[8] = abi;
        b[0x10..0x12].copy_from_slice(&2u16.to_le_bytes());
        b[0x12..0x14].copy_from_slice(&EM_CUDA.to_le_bytes());
        b[0x30..0x34].copy_from_slice(&flags.to_le_bytes());
        b
    }

    #[test]
    fn cubin_e_flags_layouts() {
        // Values from the fatbin reference notes (ptxas 11.8 to 13.0).
        for (abi, flags, arch) in [
            (7, 0x0050_0550, "8.0"),
            (7, 0x005a_0d5a, "9.0a"),
            (8, 0x0600_6402, "10.0"),
            (8, 0x0600_640a, "10.0a"),
            (8, 0x0600_650a, "10.1a"),
            (8, 0x0600_5004, "8.0"),
            (8, 0x0600_7902, "12.1"),
        ] {
            let arch_read = cubin_arch(&cubin_header(abi, flags)).unwrap();
            assert_eq!(arch_read.dotted(), arch, "{flags:#x}");
        }
        assert!(cubin_arch(&cubin_header(8, 0)).is_err());
    }

    #[test]
    fn ptx_text_variants() {
        let text = b"// comment .target sm_10\n.version 8.7\n.target sm_100a, debug // x\n";
        let e = inspect(text).unwrap();
        assert_eq!(e[0].arch, Arch::new(Cc::new(10, 0), Variant::Specific));
        assert_eq!(e[0].ptx_isa, isa("8.7"));
        assert_eq!(
            inspect(b".version 8.7\n.target texmode_independent\n"),
            Err(ArtifactError::Malformed {
                what: "PTX .target",
                offset: 0
            })
        );
        assert_eq!(inspect(b"hello"), Err(ArtifactError::NotAnArtifact));
        assert_eq!(inspect(b""), Err(ArtifactError::NotAnArtifact));
        assert_eq!(inspect(&[0xff, 0xfe, 0]), Err(ArtifactError::NotAnArtifact));
    }

    /// A container header followed by one entry header of 64 bytes.
    fn synthetic(kind: u16, header_size: u32, padded: u64, arch: u32, flags: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&FATBIN_MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(&(64 + padded).to_le_bytes());
        let mut e = [0u8; 64];
        e[0..2].copy_from_slice(&kind.to_le_bytes());
        e[2..4].copy_from_slice(&0x0101u16.to_le_bytes());
        e[4..8].copy_from_slice(&header_size.to_le_bytes());
        e[8..16].copy_from_slice(&padded.to_le_bytes());
        e[0x18..0x1a].copy_from_slice(&5u16.to_le_bytes());
        e[0x1a..0x1c].copy_from_slice(&8u16.to_le_bytes());
        e[0x1c..0x20].copy_from_slice(&arch.to_le_bytes());
        e[0x28..0x30].copy_from_slice(&flags.to_le_bytes());
        b.extend_from_slice(&e);
        b.resize(b.len() + padded as usize, 0);
        b
    }

    #[test]
    fn synthetic_fatbins() {
        let ok = synthetic(1, 64, 8, 121, 0x20_0011);
        let e = inspect(&ok).unwrap();
        assert_eq!(codes(&e), ["compute_121f"]);
        assert_eq!(e[0].ptx_isa, isa("8.5"));
        assert_eq!(e[0].cuobjdump_arch(), "sm_121f");

        // Unknown kinds (NVVM IR) are stepped over.
        assert_eq!(inspect(&synthetic(8, 64, 8, 90, 1)).unwrap(), []);

        // Padding between containers is skipped; containers are numbered.
        let mut two = ok.clone();
        two.extend_from_slice(&[0; 8]);
        two.extend_from_slice(&synthetic(2, 64, 0, 80, 0x10_0001));
        let e = entries_in_fatbin(&two, ".nv_fatbin", 3).unwrap();
        assert_eq!(codes(&e), ["compute_121f", "sm_80a"]);
        assert_eq!(e[1].container, 4);
        assert_eq!(e[1].offset, ok.len() as u64 + 8 + 16);
        assert_eq!(e[1].section, ".nv_fatbin");
    }

    #[test]
    fn malformed_fatbins_are_errors() {
        let truncated = |what| ArtifactError::Truncated { what, offset: 0 };
        // Truncated container header.
        assert_eq!(
            inspect(&synthetic(1, 64, 8, 90, 1)[..10]),
            Err(truncated("fatbin container header"))
        );
        // fat_size past the end.
        let mut b = synthetic(1, 64, 8, 90, 1);
        b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(inspect(&b), Err(truncated("fatbin container")));
        b[8..16].copy_from_slice(&1000u64.to_le_bytes());
        assert_eq!(inspect(&b), Err(truncated("fatbin container")));
        // Container header size smaller than the header.
        let mut b = synthetic(1, 64, 8, 90, 1);
        b[6..8].copy_from_slice(&4u16.to_le_bytes());
        assert!(matches!(inspect(&b), Err(ArtifactError::Malformed { .. })));
        // Entry header size below 64, and past the container.
        for size in [0u32, 63, 80, u32::MAX] {
            let b = synthetic(1, size, 8, 90, 1);
            assert!(inspect(&b).is_err(), "header size {size}");
        }
        // padded_size past the container end.
        for padded in [16u64, u64::MAX, u64::MAX - 63] {
            let mut b = synthetic(1, 64, 8, 90, 1);
            b[16 + 8..16 + 16].copy_from_slice(&padded.to_le_bytes());
            assert_eq!(
                inspect(&b),
                Err(ArtifactError::Truncated {
                    what: "fatbin entry",
                    offset: 16
                })
            );
        }
        // A container too short for an entry header.
        let mut b = synthetic(1, 64, 8, 90, 1);
        b[8..16].copy_from_slice(&8u64.to_le_bytes());
        assert_eq!(
            inspect(&b),
            Err(ArtifactError::Truncated {
                what: "fatbin entry header",
                offset: 16
            })
        );
        // Impossible architectures.
        for arch in [0u32, 5, 1000, u32::MAX] {
            assert!(matches!(
                inspect(&synthetic(2, 64, 8, arch, 1)),
                Err(ArtifactError::Malformed { .. })
            ));
        }
    }

    #[test]
    fn malformed_elf_and_archives_are_errors() {
        let k = include_bytes!("../../../tests/fixtures/artifacts/k.o");
        assert!(matches!(
            inspect(&k[..40]),
            Err(ArtifactError::Truncated {
                what: "ELF header",
                ..
            })
        ));
        let mut elf32 = k.to_vec();
        elf32[4] = 1;
        assert!(matches!(
            inspect(&elf32),
            Err(ArtifactError::Unsupported { .. })
        ));
        // Section header table past the end.
        let mut b = k.to_vec();
        b[0x28..0x30].copy_from_slice(&(k.len() as u64 - 8).to_le_bytes());
        assert!(matches!(inspect(&b), Err(ArtifactError::Truncated { .. })));
        b[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(inspect(&b), Err(ArtifactError::Truncated { .. })));
        // A file cut before its section headers.
        assert!(inspect(&k[..k.len() / 2]).is_err());
        // Name table index out of range.
        let mut b = k.to_vec();
        b[0x3e..0x40].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(matches!(inspect(&b), Err(ArtifactError::Malformed { .. })));

        let lib = include_bytes!("../../../tests/fixtures/artifacts/libk.a");
        assert!(matches!(
            inspect(&lib[..30]),
            Err(ArtifactError::Truncated { .. })
        ));
        let mut b = lib.to_vec();
        b[8 + 48..8 + 58].copy_from_slice(b"99999999  ");
        assert!(matches!(inspect(&b), Err(ArtifactError::Truncated { .. })));
        b[8 + 48..8 + 58].copy_from_slice(b"12x       ");
        assert!(matches!(inspect(&b), Err(ArtifactError::Malformed { .. })));
        assert_eq!(inspect(b"!<arch>\n").unwrap(), []);
        assert!(inspect(b"!<thin>\n").is_err());
    }

    /// A little-endian ELF64 relocatable object with one section per entry of
    /// `sections` (name, file offset, size) over `payload`, placed at offset 64.
    fn elf_with_sections(payload: &[u8], sections: &[(&str, u64, u64)]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_at = Vec::new();
        for (name, _, _) in sections {
            name_at.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let shstrtab_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[0x10..0x12].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        out[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        out.extend_from_slice(payload);
        let names_at = out.len() as u64;
        out.extend_from_slice(&names);
        while out.len() % 8 != 0 {
            out.push(0);
        }
        let shoff = out.len() as u64;
        let count = sections.len() + 2;
        let mut header = |name: u32, kind: u32, offset: u64, size: u64| {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
            h[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&h);
        };
        header(0, 0, 0, 0);
        for (i, (_, offset, size)) in sections.iter().enumerate() {
            header(name_at[i], 1, 64 + offset, *size);
        }
        header(shstrtab_name, 3, names_at, names.len() as u64);
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        out[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        out[0x3c..0x3e].copy_from_slice(&(count as u16).to_le_bytes());
        out[0x3e..0x40].copy_from_slice(&((count - 1) as u16).to_le_bytes());
        out
    }

    #[test]
    fn overlapping_fatbin_sections_are_read_once() {
        // Found by fuzzing: 4,096 sections over the same fatbin listed it 4,096 times
        // (2.6 GB, 100 s). Real linkers never overlap sections.
        let (_, fatbin, _) = fixture!("multi_none.fatbin");
        let len = fatbin.len() as u64;
        let once = list(&elf_with_sections(fatbin, &[(".nv_fatbin", 0, len)])).unwrap();
        assert_eq!(once.entries.len(), 4);
        assert!(once.problems.is_empty(), "{:?}", once.problems);
        let many: Vec<(&str, u64, u64)> = (0..64).map(|_| (".nv_fatbin", 0, len)).collect();
        let listing = list(&elf_with_sections(fatbin, &many)).unwrap();
        assert_eq!(listing.entries.len(), 4);
        assert_eq!(listing.problems.len(), 63);
    }

    #[test]
    fn deeply_nested_archives_stop_with_a_problem() {
        // Found by fuzzing: archives nested thousands deep overflowed the stack.
        let (_, object, _) = fixture!("k.o");
        let mut inner = object.to_vec();
        let mut name = "k.o";
        for _ in 0..2000 {
            let mut ar = AR_MAGIC.to_vec();
            ar.extend_from_slice(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    format!("{name}/"),
                    0,
                    0,
                    0,
                    644,
                    inner.len()
                )
                .as_bytes(),
            );
            ar.extend_from_slice(&inner);
            if ar.len() % 2 == 1 {
                ar.push(b'\n');
            }
            inner = ar;
            name = "a.a";
        }
        let listing = list(&inner).unwrap();
        assert!(listing.entries.is_empty());
        assert!(!listing.problems.is_empty());
    }

    #[test]
    fn list_reads_past_damage_and_names_it() {
        let (_, object, _) = fixture!("k.o");
        // Cut short: the section headers are gone, the fatbin is still there.
        let cut = &object[..object.len() - 3000];
        let listing = list(cut).unwrap();
        assert_eq!(listing.entries.len(), 4);
        assert!(matches!(
            listing.problems[..],
            [ArtifactError::Truncated { .. }]
        ));
        assert!(inspect(cut).is_err(), "inspect is all or nothing");
        // Two containers, the second with an entry whose size runs past its container.
        let (_, fatbin, _) = fixture!("multi_none.fatbin");
        let mut two = fatbin.to_vec();
        two.extend_from_slice(fatbin);
        let second_entry = fatbin.len() + 16;
        two[second_entry + 8..second_entry + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        let listing = list(&two).unwrap();
        assert_eq!(listing.entries.len(), 4, "the first container is intact");
        assert_eq!(listing.problems.len(), 1);
        // Counting kernels is a separate pass, over uncompressed entries only.
        let mut listing = list(fatbin).unwrap();
        assert!(listing.entries.iter().all(|e| e.kernels.is_none()));
        count_kernels(fatbin, &mut listing);
        assert!(listing.entries.iter().all(|e| e.kernels == Some(1)));
    }

    /// Everything a caller may do with a damaged file: list it, count kernels and, with
    /// the feature, decompress every entry.
    fn exercise(bytes: &[u8]) {
        let _ = inspect(bytes);
        if let Ok(mut listing) = list(bytes) {
            count_kernels(bytes, &mut listing);
            #[cfg(feature = "decompress")]
            content::fill_from_content(bytes, &mut listing, true);
        }
    }

    /// Every prefix and many single-byte corruptions of every fixture: results vary, but
    /// nothing panics.
    #[test]
    fn never_panics_on_damaged_fixtures() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (_, bytes, _) in fixtures() {
            for len in (0..bytes.len()).step_by(3) {
                exercise(&bytes[..len]);
            }
            let mut copy = bytes.to_vec();
            for _ in 0..3000 {
                let at = (next() as usize) % copy.len();
                let old = copy[at];
                copy[at] = next() as u8;
                exercise(&copy);
                if next() % 4 != 0 {
                    copy[at] = old;
                }
            }
        }
    }
}
