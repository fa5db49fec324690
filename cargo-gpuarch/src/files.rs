//! Reading artifacts from disk: map the file, recognise wheels and thin archives, and hand
//! the bytes to the library's readers. Everything here is I/O; the formats live in
//! `gpuarch_build::artifact`.

use std::fs::File;
use std::path::{Path, PathBuf};

use gpuarch_build::artifact::{self, content, wheel, ArtifactError, Listing};

/// A file's listing, or why it could not be read.
pub struct FileListing {
    pub path: PathBuf,
    pub listing: Listing,
}

/// The bytes of a file: mapped where it is a regular file with any (so only the pages
/// read are loaded), read whole from a pipe or standard input (`<(kubectl get nodes -o
/// json)`, `-`), empty otherwise (an empty file cannot be mapped).
pub enum Bytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
    Empty,
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Read(v) => v,
            Bytes::Empty => &[],
        }
    }
}

impl Bytes {
    /// Drops this process's pages of the file before `up_to` (rounded down to 64 KiB, a
    /// multiple of every page size Linux uses): a reader that never goes back then holds a
    /// bounded part of a large file instead of all of it. A no-op where unsupported.
    #[allow(unsafe_code)]
    pub fn release_before(&self, up_to: usize) {
        const ALIGN: usize = 64 * 1024;
        let Bytes::Mapped(map) = self else {
            return;
        };
        let len = up_to.min(map.len()) / ALIGN * ALIGN;
        if len == 0 {
            return;
        }
        // SAFETY: the map is a read-only MAP_SHARED mapping of a regular file (memmap2's
        // `Mmap::map`). MADV_DONTNEED on such a mapping only drops this process's page-table
        // entries; a later read faults the same file contents back in from the page cache
        // (madvise(2): "repopulate the memory contents from the up-to-date contents of the
        // underlying mapped file"), so every `&[u8]` into it keeps reading the same bytes,
        // under the same caveat as the map itself (the file must not change meanwhile).
        #[cfg(unix)]
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
    }
}

#[allow(unsafe_code)]
pub fn map(path: &Path) -> Result<Bytes, String> {
    let shown = path.display();
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(Bytes::Read(bytes));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.is_dir() {
        return Err(format!(
            "{shown} is a directory: pass the files in it (e.g. {shown}/*.so)"
        ));
    }
    if !meta.is_file() {
        // A pipe or a character device reports no length and cannot be mapped.
        return std::fs::read(path)
            .map(Bytes::Read)
            .map_err(|e| format!("cannot read {shown}: {e}"));
    }
    let file = File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if meta.len() == 0 {
        return Ok(Bytes::Empty);
    }
    // SAFETY: the map is read-only and private to this process. If another process
    // truncates the file while it is mapped, reads past the new end fault (SIGBUS); that
    // is the accepted cost of not reading gigabytes that are never looked at.
    let mapped =
        unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("cannot map {shown}: {e}"))?;
    Ok(Bytes::Mapped(mapped))
}

/// Lists the GPU code in the file at `path`: fatbin, ELF, archive (thin ones read their
/// members from beside them), cubin, PTX, or Python wheel. PTX entries whose header
/// omits the ISA are decompressed for it; `count_kernels` decompresses the compressed
/// entries for their kernel counts too.
pub fn list_file(path: &Path, count_kernels: bool) -> Result<FileListing, String> {
    let bytes = map(path)?;
    let shown = path.display();
    let listing = if bytes.is_empty() {
        return Err(format!("{shown} is empty"));
    } else if wheel::is_zip(&bytes) {
        wheel::list_wheel(&bytes, count_kernels).map_err(|e| format!("{shown}: {e}"))?
    } else if bytes.starts_with(artifact::THIN_MAGIC) {
        list_thin_archive(path, &bytes, count_kernels)?
    } else {
        let mut listing = artifact::list(&bytes).map_err(|e| format!("{shown}: {e}"))?;
        content::fill_from_content(&bytes, &mut listing, count_kernels);
        listing
    };
    Ok(FileListing {
        path: path.to_path_buf(),
        listing,
    })
}

/// A thin archive's members are files named relative to the archive's folder.
fn list_thin_archive(path: &Path, bytes: &[u8], count_kernels: bool) -> Result<Listing, String> {
    let shown = path.display();
    let members = artifact::thin_archive_members(bytes).map_err(|e| format!("{shown}: {e}"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Listing::default();
    for member in members {
        let member_path = dir.join(&member);
        let member_bytes = match map(&member_path) {
            Ok(b) => b,
            Err(e) => {
                out.problems.push(ArtifactError::MemberUnreadable {
                    member: member.clone(),
                    reason: e,
                });
                continue;
            }
        };
        let mut listing = match artifact::list(&member_bytes) {
            Ok(l) => l,
            Err(ArtifactError::NotAnArtifact) => continue,
            Err(e) => {
                out.problems.push(ArtifactError::MemberUnreadable {
                    member: member.clone(),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        content::fill_from_content(&member_bytes, &mut listing, count_kernels);
        out.append_member(&member, listing);
    }
    Ok(out)
}
