//! ELF64 little-endian files: host objects, libraries and executables carrying fatbins,
//! and CUDA ELF cubins (`e_machine` 190).

use super::fatbin::{parse_containers, Place};
use super::{read_u16, read_u32, read_u64, ArtifactError, Compression, Entry, EntryKind};
use crate::arch::{Arch, Cc, Variant};

/// `e_machine` of a cubin.
pub const EM_CUDA: u16 = 190;

const ET_REL: u16 = 1;
const SHT_NOBITS: u32 = 8;
const SHN_XINDEX: u16 = 0xffff;
const ELF_HEADER_LEN: usize = 64;
const SECTION_HEADER_LEN: usize = 64;

/// Lists the GPU code in an ELF file. A cubin is itself one entry. A host ELF lists the
/// containers in `.nv_fatbin` and, for relocatable objects (ET_REL), `__nv_relfatbin`, in
/// section order: what `cuobjdump --list-elf --list-ptx` lists. In a linked library or
/// executable `__nv_relfatbin` holds the pre-link copies of rdc code, which are not loaded,
/// so it is not read. A host ELF without section headers is scanned for containers at
/// 8-byte-aligned offsets.
pub fn inspect_elf(bytes: &[u8]) -> Result<Vec<Entry>, ArtifactError> {
    let mut out = Vec::new();
    let mut next = 0;
    inspect_elf_in(bytes, 0, None, &mut next, &mut out)?;
    Ok(out)
}

/// `inspect_elf` for an ELF at `base` in a larger file (an archive member).
pub(crate) fn inspect_elf_in(
    bytes: &[u8],
    base: u64,
    member: Option<&str>,
    next_container: &mut usize,
    out: &mut Vec<Entry>,
) -> Result<(), ArtifactError> {
    let header = Header::parse(bytes, base)?;
    if header.machine == EM_CUDA {
        out.push(Entry {
            kind: EntryKind::Cubin,
            arch: cubin_arch_at(bytes, base)?,
            ptx_isa: None,
            compression: Compression::None,
            member: member.map(str::to_string),
            section: String::new(),
            container: 0,
            offset: base,
        });
        return Ok(());
    }
    let sections = sections(bytes, &header, base)?;
    if sections.is_empty() {
        let place = Place {
            base,
            member,
            section: "",
        };
        parse_containers(bytes, &place, next_container, out)?;
        return Ok(());
    }
    for section in &sections {
        let wanted = section.name == b".nv_fatbin"
            || (section.name == b"__nv_relfatbin" && header.kind == ET_REL);
        if !wanted || section.kind == SHT_NOBITS {
            continue;
        }
        let data = section_data(bytes, section, base)?;
        let name = String::from_utf8_lossy(section.name);
        let place = Place {
            base: base + section.offset,
            member,
            section: &name,
        };
        parse_containers(data, &place, next_container, out)?;
    }
    Ok(())
}

/// The architecture a cubin was built for, from its own header: `e_flags` (laid out by
/// EI_ABIVERSION) and, for CUDA 13 cubins, the 'a' record in `.nv.compat`. 'f' is not
/// recorded in a cubin, so a family cubin reads as plain (as cuobjdump names it).
pub fn cubin_arch(bytes: &[u8]) -> Result<Arch, ArtifactError> {
    cubin_arch_at(bytes, 0)
}

fn cubin_arch_at(bytes: &[u8], base: u64) -> Result<Arch, ArtifactError> {
    let header = Header::parse(bytes, base)?;
    if header.machine != EM_CUDA {
        return Err(ArtifactError::Malformed {
            what: "cubin machine (not EM_CUDA)",
            offset: base + 18,
        });
    }
    let (sm, mut specific) = if header.abi_version >= 8 {
        ((header.flags >> 8) & 0xff, header.flags & 0x8 != 0)
    } else {
        (header.flags & 0xff, header.flags & 0x800 != 0)
    };
    if header.abi_version >= 8 && !specific {
        specific = compat_says_specific(bytes, &header, base);
    }
    let cc = Cc::parse_number(&sm.to_string()).ok_or(ArtifactError::Malformed {
        what: "cubin architecture in e_flags",
        offset: base + 0x30,
    })?;
    let variant = if specific {
        Variant::Specific
    } else {
        Variant::Plain
    };
    Ok(Arch::new(cc, variant))
}

/// Whether `.nv.compat` holds the record (fmt 2, attr 9) with value 1: an `a` cubin.
/// A missing or malformed section reads as "no".
fn compat_says_specific(bytes: &[u8], header: &Header, base: u64) -> bool {
    let Ok(sections) = sections(bytes, header, base) else {
        return false;
    };
    let Some(section) = sections.iter().find(|s| s.name == b".nv.compat") else {
        return false;
    };
    let Ok(data) = section_data(bytes, section, base) else {
        return false;
    };
    let mut pos = 0usize;
    while data.len() - pos >= 2 {
        let (fmt, attr) = (data[pos], data[pos + 1]);
        match fmt {
            1 => pos += 2,
            2 | 3 => {
                let Ok(value) = read_u16(data, pos + 2, 0, "") else {
                    return false;
                };
                if fmt == 2 && attr == 9 {
                    return value == 1;
                }
                pos += 4;
            }
            4 => {
                let Ok(len) = read_u16(data, pos + 2, 0, "") else {
                    return false;
                };
                pos = (pos + 4 + usize::from(len)).min(data.len());
            }
            _ => return false,
        }
    }
    false
}

struct Header {
    kind: u16,
    machine: u16,
    abi_version: u8,
    flags: u32,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
    shstrndx: u16,
}

impl Header {
    fn parse(bytes: &[u8], base: u64) -> Result<Header, ArtifactError> {
        if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            return Err(ArtifactError::Malformed {
                what: "ELF magic",
                offset: base,
            });
        }
        if bytes.len() < ELF_HEADER_LEN {
            return Err(ArtifactError::Truncated {
                what: "ELF header",
                offset: base,
            });
        }
        if bytes[4] != 2 {
            return Err(ArtifactError::Unsupported {
                what: "32-bit ELF",
                offset: base + 4,
            });
        }
        if bytes[5] != 1 {
            return Err(ArtifactError::Unsupported {
                what: "big-endian ELF",
                offset: base + 5,
            });
        }
        Ok(Header {
            kind: read_u16(bytes, 0x10, base, "ELF header")?,
            machine: read_u16(bytes, 0x12, base, "ELF header")?,
            abi_version: bytes[8],
            flags: read_u32(bytes, 0x30, base, "ELF header")?,
            shoff: read_u64(bytes, 0x28, base, "ELF header")?,
            shentsize: read_u16(bytes, 0x3a, base, "ELF header")?,
            shnum: read_u16(bytes, 0x3c, base, "ELF header")?,
            shstrndx: read_u16(bytes, 0x3e, base, "ELF header")?,
        })
    }
}

struct Section<'a> {
    name: &'a [u8],
    kind: u32,
    offset: u64,
    size: u64,
}

/// The section headers with their names; empty when the file has none.
fn sections<'a>(
    bytes: &'a [u8],
    header: &Header,
    base: u64,
) -> Result<Vec<Section<'a>>, ArtifactError> {
    if header.shoff == 0 {
        return Ok(Vec::new());
    }
    let table_at = base.saturating_add(header.shoff);
    let shoff = usize::try_from(header.shoff)
        .ok()
        .filter(|&o| o < bytes.len())
        .ok_or(ArtifactError::Truncated {
            what: "ELF section header table",
            offset: table_at,
        })?;
    let entsize = usize::from(header.shentsize);
    if entsize < SECTION_HEADER_LEN {
        return Err(ArtifactError::Malformed {
            what: "ELF section header size",
            offset: base + 0x3a,
        });
    }
    let raw = |index: usize| -> Result<RawSection, ArtifactError> {
        let at = index
            .checked_mul(entsize)
            .and_then(|o| o.checked_add(shoff))
            .filter(|&o| o <= bytes.len() && bytes.len() - o >= SECTION_HEADER_LEN)
            .ok_or(ArtifactError::Truncated {
                what: "ELF section header table",
                offset: table_at,
            })?;
        Ok(RawSection {
            name: read_u32(bytes, at, base, "ELF section header")?,
            kind: read_u32(bytes, at + 4, base, "ELF section header")?,
            offset: read_u64(bytes, at + 0x18, base, "ELF section header")?,
            size: read_u64(bytes, at + 0x20, base, "ELF section header")?,
            link: read_u32(bytes, at + 0x28, base, "ELF section header")?,
        })
    };
    let first = raw(0)?;
    let count = if header.shnum == 0 {
        usize::try_from(first.size).unwrap_or(usize::MAX)
    } else {
        usize::from(header.shnum)
    };
    // Every header must lie in the file; this also bounds `count`.
    let table_fits = count
        .checked_mul(entsize)
        .and_then(|len| len.checked_add(shoff))
        .is_some_and(|end| end <= bytes.len());
    if !table_fits {
        return Err(ArtifactError::Truncated {
            what: "ELF section header table",
            offset: table_at,
        });
    }
    let strndx = if header.shstrndx == SHN_XINDEX {
        usize::try_from(first.link).unwrap_or(usize::MAX)
    } else {
        usize::from(header.shstrndx)
    };
    if strndx >= count {
        return Err(ArtifactError::Malformed {
            what: "ELF section name table index",
            offset: base + 0x3e,
        });
    }
    let strtab_raw = raw(strndx)?;
    let strtab = section_data(
        bytes,
        &Section {
            name: b"",
            kind: strtab_raw.kind,
            offset: strtab_raw.offset,
            size: strtab_raw.size,
        },
        base,
    )?;
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let s = raw(index)?;
        let name = usize::try_from(s.name)
            .ok()
            .filter(|&n| n < strtab.len() || (n == 0 && strtab.is_empty()))
            .map(|n| {
                let rest = &strtab[n..];
                let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                &rest[..end]
            })
            .ok_or(ArtifactError::Malformed {
                what: "ELF section name",
                offset: table_at,
            })?;
        out.push(Section {
            name,
            kind: s.kind,
            offset: s.offset,
            size: s.size,
        });
    }
    Ok(out)
}

struct RawSection {
    name: u32,
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
}

fn section_data<'a>(
    bytes: &'a [u8],
    section: &Section<'_>,
    base: u64,
) -> Result<&'a [u8], ArtifactError> {
    if section.kind == SHT_NOBITS {
        return Ok(&[]);
    }
    let start = usize::try_from(section.offset).ok();
    let end = start.and_then(|s| s.checked_add(usize::try_from(section.size).ok()?));
    match (start, end) {
        (Some(start), Some(end)) if end <= bytes.len() => Ok(&bytes[start..end]),
        _ => Err(ArtifactError::Truncated {
            what: "ELF section",
            offset: base.saturating_add(section.offset),
        }),
    }
}
