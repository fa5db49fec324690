//! Static archives (`!<arch>\n`): GNU (`//` long names, `/` and `/SYM64/` symbol tables)
//! and BSD (`#1/len`) member names. ELF members are inspected; other members skipped.

use super::elf::inspect_elf_in;
use super::{ArtifactError, Entry, Found};

pub const AR_MAGIC: &[u8] = b"!<arch>\n";
pub const THIN_MAGIC: &[u8] = b"!<thin>\n";
const MEMBER_HEADER_LEN: usize = 60;
/// How deep archives may nest in archives; real ones nest once, if at all.
const MAX_NESTING: usize = 8;

/// Lists the GPU code in every ELF member of an archive, in member order, each entry
/// naming its member. Containers are numbered across the whole archive.
pub fn inspect_archive(bytes: &[u8]) -> Result<Vec<Entry>, ArtifactError> {
    let mut found = Found::default();
    let mut next_container = 0;
    inspect_archive_in(bytes, 0, None, &mut next_container, &mut found, 0)?;
    found.strict()
}

/// Reads the archive at `base` (nested in a member named `outer`, for archives inside
/// archives). A damaged member is recorded as a problem and the next one is read; a
/// damaged member header ends the walk (the next member cannot be found).
pub(crate) fn inspect_archive_in(
    bytes: &[u8],
    base: u64,
    outer: Option<&str>,
    next_container: &mut usize,
    out: &mut Found,
    depth: usize,
) -> Result<(), ArtifactError> {
    if depth > MAX_NESTING {
        return Err(ArtifactError::Malformed {
            what: "archive nesting (deeper than 8 levels)",
            offset: base,
        });
    }
    if !bytes.starts_with(AR_MAGIC) {
        return Err(ArtifactError::Malformed {
            what: "archive magic",
            offset: base,
        });
    }
    if let Err(problem) = walk_members(bytes, base, outer, next_container, out, depth) {
        out.problems.push(problem);
    }
    Ok(())
}

fn walk_members(
    bytes: &[u8],
    base: u64,
    outer: Option<&str>,
    next_container: &mut usize,
    out: &mut Found,
    depth: usize,
) -> Result<(), ArtifactError> {
    let mut long_names: &[u8] = &[];
    let mut pos = AR_MAGIC.len();
    while pos < bytes.len() {
        let at = base + pos as u64;
        let Some((header, size)) = member_header(bytes, pos, base)? else {
            break;
        };
        let data_start = pos + MEMBER_HEADER_LEN;
        let data_end = data_start
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or(ArtifactError::Truncated {
                what: "archive member",
                offset: at,
            })?;
        let mut data = &bytes[data_start..data_end];
        let mut data_at = base + data_start as u64;
        let raw_name = trim_spaces(&header[..16]);
        let name: Option<Vec<u8>> = if raw_name == b"/" || raw_name == b"/SYM64/" {
            None
        } else if raw_name == b"//" {
            long_names = data;
            None
        } else if let Some(len) = raw_name.strip_prefix(b"#1/") {
            let len = parse_decimal(len).filter(|&l| l <= data.len()).ok_or(
                ArtifactError::Malformed {
                    what: "archive member name length",
                    offset: at,
                },
            )?;
            let name = &data[..len];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            data = &data[len..];
            data_at += len as u64;
            Some(name.to_vec())
        } else {
            Some(member_name(raw_name, long_names, at)?.to_vec())
        };
        if let Some(name) = name {
            let name = String::from_utf8_lossy(&name);
            let name = match outer {
                Some(outer) => format!("{outer}({name})"),
                None => name.into_owned(),
            };
            let read = if data.starts_with(b"\x7fELF") {
                inspect_elf_in(data, data_at, Some(&name), next_container, out)
            } else if data.starts_with(AR_MAGIC) {
                inspect_archive_in(data, data_at, Some(&name), next_container, out, depth + 1)
            } else {
                Ok(())
            };
            if let Err(problem) = read {
                out.problems.push(problem);
            }
        }
        // Members are 2-byte aligned.
        pos = data_end + (data_end & 1);
    }
    Ok(())
}

/// The member paths of a thin archive (`!<thin>\n`), whose members live in files of their
/// own beside it (paths are relative to the archive's folder). Symbol tables are skipped.
pub fn thin_archive_members(bytes: &[u8]) -> Result<Vec<String>, ArtifactError> {
    if !bytes.starts_with(THIN_MAGIC) {
        return Err(ArtifactError::Malformed {
            what: "thin archive magic",
            offset: 0,
        });
    }
    let mut members = Vec::new();
    let mut long_names: &[u8] = &[];
    let mut pos = THIN_MAGIC.len();
    while pos < bytes.len() {
        let at = pos as u64;
        let Some((header, size)) = member_header(bytes, pos, 0)? else {
            break;
        };
        let raw_name = trim_spaces(&header[..16]);
        // Only the symbol table and the name table are stored in a thin archive.
        let stored = raw_name == b"/" || raw_name == b"/SYM64/" || raw_name == b"//";
        let data_start = pos + MEMBER_HEADER_LEN;
        let data_end = if stored {
            data_start
                .checked_add(size)
                .filter(|&e| e <= bytes.len())
                .ok_or(ArtifactError::Truncated {
                    what: "archive member",
                    offset: at,
                })?
        } else {
            data_start
        };
        if raw_name == b"//" {
            long_names = &bytes[data_start..data_end];
        } else if !stored {
            let name = member_name(raw_name, long_names, at)?;
            members.push(String::from_utf8_lossy(name).into_owned());
        }
        pos = data_end + (data_end & 1);
    }
    Ok(members)
}

/// The 60-byte member header at `pos` and the member's size; `None` at the end (trailing
/// padding newlines are tolerated). The size is not yet checked against the data.
fn member_header(
    bytes: &[u8],
    pos: usize,
    base: u64,
) -> Result<Option<(&[u8], usize)>, ArtifactError> {
    let at = base + pos as u64;
    let rest = &bytes[pos..];
    if rest.len() < MEMBER_HEADER_LEN {
        if rest.iter().all(|&b| b == b'\n') {
            return Ok(None);
        }
        return Err(ArtifactError::Truncated {
            what: "archive member header",
            offset: at,
        });
    }
    let header = &rest[..MEMBER_HEADER_LEN];
    if &header[58..60] != b"`\n" {
        return Err(ArtifactError::Malformed {
            what: "archive member header",
            offset: at,
        });
    }
    let size = parse_decimal(&header[48..58]).ok_or(ArtifactError::Malformed {
        what: "archive member size",
        offset: at + 48,
    })?;
    Ok(Some((header, size)))
}

/// A GNU member name: `name/` in the header, or `/N`, an offset into the `//` table of
/// long names (each ended by `/\n`).
fn member_name<'a>(
    raw_name: &'a [u8],
    long_names: &'a [u8],
    at: u64,
) -> Result<&'a [u8], ArtifactError> {
    let name = match raw_name.strip_prefix(b"/") {
        Some(index) => {
            let index = parse_decimal(index)
                .filter(|&i| i < long_names.len())
                .ok_or(ArtifactError::Malformed {
                    what: "archive long member name",
                    offset: at,
                })?;
            let name = &long_names[index..];
            &name[..name.iter().position(|&b| b == b'\n').unwrap_or(name.len())]
        }
        None => raw_name,
    };
    Ok(name.strip_suffix(b"/").unwrap_or(name))
}

fn trim_spaces(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
    &field[..end]
}

fn parse_decimal(field: &[u8]) -> Option<usize> {
    let digits = trim_spaces(field);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}
