//! Fatbin containers (magic 0xBA55ED50) and their entries.
//!
//! Layout (see the fatbin reference notes): a 16-byte container header (`magic u32`,
//! `version u16`, `header_size u16`, `fat_size u64`), then entries until
//! `container + header_size + fat_size`. Each entry has a header of at least 64 bytes
//! (`kind u16 @0`, `header_size u32 @4`, `padded_size u64 @8`, `minor u16 @0x18`,
//! `major u16 @0x1a`, `arch u32 @0x1c`, `flags u64 @0x28`) followed by `padded_size`
//! payload bytes. Nothing here decompresses.

use super::{
    elf, le16, le32, le64, read_u16, read_u32, read_u64, ArtifactError, Compression, Entry,
    EntryKind, Found,
};
use crate::arch::{Arch, Cc, Variant};
use crate::version::Version;

/// The container magic, `50 ed 55 ba` on disk.
pub const FATBIN_MAGIC: u32 = 0xBA55_ED50;

const CONTAINER_HEADER_LEN: usize = 16;
const ENTRY_HEADER_MIN: usize = 64;

const KIND_PTX: u16 = 1;
const KIND_ELF: u16 = 2;

const FLAG_COMPRESS_OLD: u64 = 0x1000;
const FLAG_LZ4: u64 = 0x2000;
const FLAG_ZSTD: u64 = 0x8000;
const FLAG_ARCH_SPECIFIC: u64 = 0x10_0000;
const FLAG_FAMILY: u64 = 0x20_0000;

/// Lists the cubin and PTX entries of the fatbin containers in `bytes`, placed back to
/// back (the contents of a `.nv_fatbin` section or a `.fatbin` file). Bytes between
/// containers that do not start with the magic are skipped 8 at a time, as padding.
/// `section` is copied into each entry; containers are numbered from
/// `first_container_index`; offsets are relative to the start of `bytes`.
///
/// Entries of other kinds (NVVM IR for LTO, the obsolete kind 4) are stepped over: they
/// are neither a cubin nor PTX, and `cuobjdump --list-elf --list-ptx` does not list them.
pub fn entries_in_fatbin(
    bytes: &[u8],
    section: &str,
    first_container_index: usize,
) -> Result<Vec<Entry>, ArtifactError> {
    let mut found = Found::default();
    let mut next = first_container_index;
    let place = Place {
        base: 0,
        member: None,
        section,
    };
    parse_containers(bytes, &place, &mut next, &mut found);
    found.strict()
}

/// Where a run of containers sits: for offsets and the entries' labels.
pub(crate) struct Place<'a> {
    /// The offset of `bytes[0]` in the file being inspected.
    pub base: u64,
    pub member: Option<&'a str>,
    pub section: &'a str,
}

/// Parses every container in `bytes`, numbering them from `*next_container` (which is
/// left one past the last). A damaged container is recorded as a problem: the scan goes on
/// past it where its size can be trusted, and stops where it cannot.
pub(crate) fn parse_containers(
    bytes: &[u8],
    place: &Place<'_>,
    next_container: &mut usize,
    out: &mut Found,
) {
    if let Err(problem) = scan_containers(bytes, place, next_container, out) {
        out.problems.push(problem);
    }
}

fn scan_containers(
    bytes: &[u8],
    place: &Place<'_>,
    next_container: &mut usize,
    out: &mut Found,
) -> Result<(), ArtifactError> {
    let mut pos = 0usize;
    while bytes.len() - pos >= 4 {
        if read_u32(bytes, pos, place.base, "fatbin magic")? != FATBIN_MAGIC {
            pos = pos.saturating_add(8).min(bytes.len());
            continue;
        }
        let at = place.base + pos as u64;
        if bytes.len() - pos < CONTAINER_HEADER_LEN {
            return Err(ArtifactError::Truncated {
                what: "fatbin container header",
                offset: at,
            });
        }
        let header_size = usize::from(read_u16(bytes, pos + 6, place.base, "fatbin header")?);
        let fat_size = read_u64(bytes, pos + 8, place.base, "fatbin header")?;
        if header_size < CONTAINER_HEADER_LEN {
            return Err(ArtifactError::Malformed {
                what: "fatbin container header size",
                offset: at,
            });
        }
        let start = pos
            .checked_add(header_size)
            .filter(|&s| s <= bytes.len())
            .ok_or(ArtifactError::Truncated {
                what: "fatbin container header",
                offset: at,
            })?;
        let end = usize::try_from(fat_size)
            .ok()
            .and_then(|size| start.checked_add(size))
            .filter(|&e| e <= bytes.len())
            .ok_or(ArtifactError::Truncated {
                what: "fatbin container",
                offset: at,
            })?;
        let container = *next_container;
        // A damaged entry ends this container's listing, not the file's: the container's
        // own size says where the next one starts.
        if let Err(problem) = parse_entries(&bytes[..end], start, container, place, out) {
            out.problems.push(problem);
        }
        *next_container += 1;
        // Containers start on 8-byte boundaries.
        pos = end
            .checked_add(7)
            .map_or(bytes.len(), |p| p & !7)
            .min(bytes.len());
    }
    Ok(())
}

/// Parses the entries in `bytes[start..]` (which ends where the container ends).
fn parse_entries(
    bytes: &[u8],
    start: usize,
    container: usize,
    place: &Place<'_>,
    out: &mut Found,
) -> Result<(), ArtifactError> {
    let base = place.base;
    let mut e = start;
    while e < bytes.len() {
        let at = base + e as u64;
        if bytes.len() - e < ENTRY_HEADER_MIN {
            return Err(ArtifactError::Truncated {
                what: "fatbin entry header",
                offset: at,
            });
        }
        // Checked above: the 64-byte header lies in `bytes`.
        let h = &bytes[e..e + ENTRY_HEADER_MIN];
        let kind = le16(h, 0);
        let header_size = le32(h, 4);
        let padded_size = le64(h, 8);
        let compressed_size = le32(h, 0x10);
        let minor = le16(h, 0x18);
        let major = le16(h, 0x1a);
        let arch_number = le32(h, 0x1c);
        let flags = le64(h, 0x28);
        let uncompressed_size = le64(h, 0x38);
        let header_size = usize::try_from(header_size)
            .ok()
            .filter(|&h| h >= ENTRY_HEADER_MIN)
            .ok_or(ArtifactError::Malformed {
                what: "fatbin entry header size",
                offset: at,
            })?;
        let payload_start = e
            .checked_add(header_size)
            .filter(|&p| p <= bytes.len())
            .ok_or(ArtifactError::Truncated {
                what: "fatbin entry header",
                offset: at,
            })?;
        let payload_end = usize::try_from(padded_size)
            .ok()
            .and_then(|size| payload_start.checked_add(size))
            .filter(|&p| p <= bytes.len())
            .ok_or(ArtifactError::Truncated {
                what: "fatbin entry",
                offset: at,
            })?;
        let payload = &bytes[payload_start..payload_end];
        let compression = if flags & FLAG_ZSTD != 0 {
            Compression::Zstd
        } else if flags & (FLAG_LZ4 | FLAG_COMPRESS_OLD) != 0 {
            Compression::Lz4
        } else {
            Compression::None
        };
        let kind = match kind {
            KIND_PTX => Some(EntryKind::Ptx),
            KIND_ELF => Some(EntryKind::Cubin),
            _ => None,
        };
        if let Some(kind) = kind {
            let mut arch = entry_arch(arch_number, flags).ok_or(ArtifactError::Malformed {
                what: "fatbin entry architecture",
                offset: at,
            })?;
            let mut ptx_isa = None;
            match kind {
                EntryKind::Ptx => {
                    ptx_isa = if major != 0 {
                        Some(Version::major_minor(u32::from(major), u32::from(minor)))
                    } else if compression == Compression::None {
                        super::ptx_header(payload).and_then(|h| h.version)
                    } else {
                        None
                    };
                }
                EntryKind::Cubin => {
                    // The entry flags are authoritative for 'a'/'f' (CUDA 13); toolkits that
                    // leave the flag clear still mark 'a' in the cubin's e_flags. Only the
                    // ELF header is read: this runs for every cubin of every container.
                    if arch.variant == Variant::Plain && compression == Compression::None {
                        if let Ok(inner) = elf::cubin_header_arch(payload) {
                            if inner.cc == arch.cc && inner.variant == Variant::Specific {
                                arch.variant = Variant::Specific;
                            }
                        }
                    }
                }
            }
            // Compressed payloads are `compressed_size` bytes; stored ones fill the padding.
            let stored = match compression {
                Compression::None => payload.len() as u64,
                _ => u64::from(compressed_size).min(payload.len() as u64),
            };
            out.entries.push(Entry {
                kind,
                arch,
                ptx_isa,
                compression,
                member: place.member.map(str::to_string),
                section: place.section.to_string(),
                container,
                offset: at,
                payload_offset: base + payload_start as u64,
                payload_size: stored,
                uncompressed_size: match compression {
                    Compression::None => stored,
                    _ => uncompressed_size,
                },
                kernels: None,
            });
        }
        e = payload_end;
    }
    Ok(())
}

/// `sm_{arch}` plus `a` (flag 0x100000) or `f` (flag 0x200000).
fn entry_arch(number: u32, flags: u64) -> Option<Arch> {
    let cc = Cc::from_number(number)?;
    let variant = if flags & FLAG_ARCH_SPECIFIC != 0 {
        Variant::Specific
    } else if flags & FLAG_FAMILY != 0 {
        Variant::Family
    } else {
        Variant::Plain
    };
    Some(Arch::new(cc, variant))
}
