//! ELF64 little-endian files: host objects, libraries and executables carrying fatbins,
//! and CUDA ELF cubins (`e_machine` 190).

use super::fatbin::{parse_containers, Place};
use super::{
    le32, le64, read_u16, read_u32, read_u64, ArtifactError, Compression, Entry, EntryKind, Found,
};
use crate::arch::{Arch, Cc, Variant};

/// `e_machine` of a cubin.
pub const EM_CUDA: u16 = 190;

const ET_REL: u16 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_NOBITS: u32 = 8;
const SYMBOL_LEN: usize = 24;
const STT_FUNC: u8 = 2;
/// `st_other` bit of a kernel's symbol in a cubin (readelf prints `[<other>: 10]`).
const STO_CUDA_ENTRY: u8 = 0x10;
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
    let mut found = Found::default();
    let mut next = 0;
    inspect_elf_in(bytes, 0, None, &mut next, &mut found)?;
    found.strict()
}

/// `inspect_elf` for an ELF at `base` in a larger file (an archive member). An error means
/// the ELF itself could not be read; a damaged section is recorded in `out.problems` and
/// the others are still read.
pub(crate) fn inspect_elf_in(
    bytes: &[u8],
    base: u64,
    member: Option<&str>,
    next_container: &mut usize,
    out: &mut Found,
) -> Result<(), ArtifactError> {
    let header = Header::parse(bytes, base)?;
    if header.machine == EM_CUDA {
        out.entries.push(Entry {
            kind: EntryKind::Cubin,
            arch: cubin_arch_at(bytes, base)?,
            ptx_isa: None,
            compression: Compression::None,
            member: member.map(str::to_string),
            section: String::new(),
            container: 0,
            offset: base,
            payload_offset: base,
            payload_size: bytes.len() as u64,
            uncompressed_size: bytes.len() as u64,
            kernels: None,
        });
        return Ok(());
    }
    // Without section headers (stripped of them, or cut off): scan for containers.
    let scan = |next_container: &mut usize, out: &mut Found| {
        let place = Place {
            base,
            member,
            section: "",
        };
        parse_containers(bytes, &place, next_container, out);
    };
    if header.shoff == 0 {
        scan(next_container, out);
        return Ok(());
    }
    let relocatable = header.kind == ET_REL;
    let found = sections(bytes, &header, base, |s| {
        s.kind != SHT_NOBITS && (s.is(b".nv_fatbin") || (relocatable && s.is(b"__nv_relfatbin")))
    });
    let sections = match found {
        Ok(sections) => sections,
        // A file cut short loses its section headers first (they come last): say so, and
        // scan what is left for containers, as for a file without section headers.
        Err(problem @ ArtifactError::Truncated { .. }) => {
            out.problems.push(problem);
            scan(next_container, out);
            return Ok(());
        }
        Err(problem) => return Err(problem),
    };
    let overlapping = overlapping_sections(&sections);
    for (index, section) in sections.iter().enumerate() {
        if overlapping[index] {
            // No linker writes two fatbin sections over the same bytes; reading them
            // again would only repeat (and multiply) what the first one holds.
            out.problems.push(ArtifactError::Malformed {
                what: "ELF section overlapping another fatbin section",
                offset: base.saturating_add(section.offset),
            });
            continue;
        }
        let data = match section_data(bytes, section, base) {
            Ok(data) => data,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        let name = String::from_utf8_lossy(section.name());
        let place = Place {
            base: base + section.offset,
            member,
            section: &name,
        };
        parse_containers(data, &place, next_container, out);
    }
    Ok(())
}

/// Per section, whether its bytes overlap an earlier-placed one's (by offset).
fn overlapping_sections(sections: &[Section<'_>]) -> Vec<bool> {
    let mut by_offset: Vec<usize> = (0..sections.len()).collect();
    by_offset.sort_by_key(|&i| (sections[i].offset, i));
    let mut out = vec![false; sections.len()];
    let mut reach = 0u64;
    for i in by_offset {
        let s = &sections[i];
        if s.size == 0 {
            continue;
        }
        if s.offset < reach {
            out[i] = true;
        } else {
            reach = s.offset.saturating_add(s.size);
        }
    }
    out
}

/// How many kernels a cubin holds: function symbols marked as entries in `.symtab`
/// (device functions lack the mark).
pub fn cubin_kernel_count(bytes: &[u8]) -> Result<u32, ArtifactError> {
    let header = Header::parse(bytes, 0)?;
    let sections = sections(bytes, &header, 0, |s| s.kind == SHT_SYMTAB)?;
    let Some(symtab) = sections.first() else {
        return Ok(0);
    };
    let data = section_data(bytes, symtab, 0)?;
    let count = data
        .chunks_exact(SYMBOL_LEN)
        .filter(|sym| sym[4] & 0xf == STT_FUNC && sym[5] & STO_CUDA_ENTRY != 0)
        .count();
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// The architecture a cubin was built for, from its own header: `e_flags` (laid out by
/// EI_ABIVERSION) and, for CUDA 13 cubins, the 'a' record in `.nv.compat`. 'f' is not
/// recorded in a cubin, so a family cubin reads as plain (as cuobjdump names it).
pub fn cubin_arch(bytes: &[u8]) -> Result<Arch, ArtifactError> {
    cubin_arch_at(bytes, 0)
}

/// [`cubin_arch`] from the ELF header alone (`e_flags`), without `.nv.compat`: for cubins
/// inside fatbins, whose entry flags already say `a` for CUDA 13.
pub(crate) fn cubin_header_arch(bytes: &[u8]) -> Result<Arch, ArtifactError> {
    arch_from_header(&Header::parse(bytes, 0)?, 0).map(|(arch, _)| arch)
}

fn cubin_arch_at(bytes: &[u8], base: u64) -> Result<Arch, ArtifactError> {
    let header = Header::parse(bytes, base)?;
    let (arch, compat_may_say) = arch_from_header(&header, base)?;
    if compat_may_say && compat_says_specific(bytes, &header, base) {
        return Ok(Arch::new(arch.cc, Variant::Specific));
    }
    Ok(arch)
}

/// The architecture `e_flags` records, and whether `.nv.compat` may still mark it `a`
/// (CUDA 13 layouts that leave the flag bit clear).
fn arch_from_header(header: &Header, base: u64) -> Result<(Arch, bool), ArtifactError> {
    if header.machine != EM_CUDA {
        return Err(ArtifactError::Malformed {
            what: "cubin machine (not EM_CUDA)",
            offset: base + 18,
        });
    }
    let (sm, specific) = if header.abi_version >= 8 {
        ((header.flags >> 8) & 0xff, header.flags & 0x8 != 0)
    } else {
        (header.flags & 0xff, header.flags & 0x800 != 0)
    };
    let cc = Cc::from_number(sm).ok_or(ArtifactError::Malformed {
        what: "cubin architecture in e_flags",
        offset: base + 0x30,
    })?;
    let variant = if specific {
        Variant::Specific
    } else {
        Variant::Plain
    };
    Ok((Arch::new(cc, variant), header.abi_version >= 8 && !specific))
}

/// Whether `.nv.compat` holds the record (fmt 2, attr 9) with value 1: an `a` cubin.
/// A missing or malformed section reads as "no".
fn compat_says_specific(bytes: &[u8], header: &Header, base: u64) -> bool {
    let Ok(sections) = sections(bytes, header, base, |s| s.is(b".nv.compat")) else {
        return false;
    };
    let Some(section) = sections.first() else {
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
    /// The section name table from this section's name onwards (up to its NUL and
    /// beyond): compared with [`Section::is`], cut only for the few sections kept.
    name_rest: &'a [u8],
    kind: u32,
    offset: u64,
    size: u64,
}

impl<'a> Section<'a> {
    fn is(&self, name: &[u8]) -> bool {
        self.name_rest.starts_with(name) && self.name_rest.get(name.len()).is_none_or(|&b| b == 0)
    }

    fn name(&self) -> &'a [u8] {
        let end = self
            .name_rest
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name_rest.len());
        &self.name_rest[..end]
    }
}

/// The section headers; empty when the file has none. The whole table is bounds-checked
/// once, then read by plain indexing: this runs for every object of a static library in
/// the build gate, in a build script's unoptimised code.
fn sections<'a>(
    bytes: &'a [u8],
    header: &Header,
    base: u64,
    keep: impl Fn(&Section<'_>) -> bool,
) -> Result<Vec<Section<'a>>, ArtifactError> {
    if header.shoff == 0 {
        return Ok(Vec::new());
    }
    let table_at = base.saturating_add(header.shoff);
    let truncated = ArtifactError::Truncated {
        what: "ELF section header table",
        offset: table_at,
    };
    let shoff = usize::try_from(header.shoff)
        .ok()
        .filter(|&o| o < bytes.len())
        .ok_or(truncated.clone())?;
    let entsize = usize::from(header.shentsize);
    if entsize < SECTION_HEADER_LEN {
        return Err(ArtifactError::Malformed {
            what: "ELF section header size",
            offset: base + 0x3a,
        });
    }
    let first = bytes
        .get(shoff..shoff.saturating_add(SECTION_HEADER_LEN))
        .filter(|h| h.len() == SECTION_HEADER_LEN)
        .ok_or(truncated.clone())?;
    // With 0xff00 or more sections, the counts live in section 0.
    let count = if header.shnum == 0 {
        usize::try_from(le64(first, 0x20)).unwrap_or(usize::MAX)
    } else {
        usize::from(header.shnum)
    };
    // Every header must lie in the file; this also bounds `count`.
    let table = count
        .checked_mul(entsize)
        .and_then(|len| len.checked_add(shoff))
        .and_then(|end| bytes.get(shoff..end))
        .ok_or(truncated)?;
    let strndx = if header.shstrndx == SHN_XINDEX {
        usize::try_from(le32(first, 0x28)).unwrap_or(usize::MAX)
    } else {
        usize::from(header.shstrndx)
    };
    if strndx >= count {
        return Err(ArtifactError::Malformed {
            what: "ELF section name table index",
            offset: base + 0x3e,
        });
    }
    let strtab_header = &table[strndx * entsize..];
    let strtab = section_data(
        bytes,
        &Section {
            name_rest: b"",
            kind: le32(strtab_header, 4),
            offset: le64(strtab_header, 0x18),
            size: le64(strtab_header, 0x20),
        },
        base,
    )?;
    let mut out = Vec::new();
    for h in table.chunks_exact(entsize) {
        let name = le32(h, 0) as usize;
        let name_rest = match strtab.get(name..) {
            Some(rest) => rest,
            None if name == 0 => b"",
            None => {
                return Err(ArtifactError::Malformed {
                    what: "ELF section name",
                    offset: table_at,
                })
            }
        };
        let section = Section {
            name_rest,
            kind: le32(h, 4),
            offset: le64(h, 0x18),
            size: le64(h, 0x20),
        };
        if keep(&section) {
            out.push(section);
        }
    }
    Ok(out)
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
