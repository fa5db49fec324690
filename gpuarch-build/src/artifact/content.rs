//! Entry payloads, decompressed on request (feature `decompress`): LZ4 blocks (CUDA 11.8
//! to 12.x, nvcc 13 `--compress-mode=speed`) and zstd frames (nvcc 13's default for PTX).
//!
//! Listing never needs this; it is for what only the content says: the `.version` of a
//! compressed PTX entry whose header leaves it out, and kernel counts. Output is bounded
//! by the entry header's `uncompressed_size` and by a ratio to the stored bytes (which
//! lie in the file), so a forged size cannot make it allocate more than the data allows.

use std::io::Read;

use super::{
    elf, ptx_header, ptx_kernel_count, ArtifactError, Compression, Entry, EntryKind, Listing,
};

/// LZ4 cannot expand input more than 255 times (one token byte per 255 bytes of a match).
const LZ4_MAX_RATIO: u64 = 255;
/// zstd can in principle expand further; no real PTX or cubin comes near this.
const ZSTD_MAX_RATIO: u64 = 4096;

/// The entry's payload as it was before compression. `file` is the whole inspected file
/// (the data `list` read); the entry's offsets point into it.
pub fn content(file: &[u8], entry: &Entry) -> Result<Vec<u8>, ArtifactError> {
    let stored = stored_bytes(file, entry)?;
    let corrupt = |what| ArtifactError::Corrupt {
        what,
        offset: entry.offset,
    };
    let stored_len = stored.len() as u64;
    match entry.compression {
        Compression::None => Ok(stored.to_vec()),
        Compression::Lz4 => {
            let len = entry.uncompressed_size;
            if len > stored_len.saturating_mul(LZ4_MAX_RATIO).saturating_add(64) {
                return Err(corrupt("LZ4 entry size (more than LZ4 can expand to)"));
            }
            let len = usize::try_from(len).map_err(|_| corrupt("LZ4 entry size"))?;
            let mut out = vec![0u8; len];
            match lz4_flex::block::decompress_into(stored, &mut out) {
                Ok(n) if n == len => Ok(out),
                Ok(_) => Err(corrupt("LZ4 entry (shorter than its header says)")),
                Err(_) => Err(corrupt("LZ4 entry")),
            }
        }
        Compression::Zstd => {
            let limit = entry
                .uncompressed_size
                .min(stored_len.saturating_mul(ZSTD_MAX_RATIO));
            let decoder = ruzstd::decoding::StreamingDecoder::new(stored)
                .map_err(|_| corrupt("zstd frame header"))?;
            // The vector grows with what actually decodes, never by the header's size.
            let mut out = Vec::new();
            decoder
                .take(limit.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|_| corrupt("zstd entry"))?;
            if out.len() as u64 != entry.uncompressed_size {
                return Err(corrupt("zstd entry (not the size its header says)"));
            }
            Ok(out)
        }
    }
}

fn stored_bytes<'a>(file: &'a [u8], entry: &Entry) -> Result<&'a [u8], ArtifactError> {
    let start = usize::try_from(entry.payload_offset).ok();
    let end = start.and_then(|s| s.checked_add(usize::try_from(entry.payload_size).ok()?));
    match (start, end) {
        (Some(start), Some(end)) if end <= file.len() => Ok(&file[start..end]),
        _ => Err(ArtifactError::Truncated {
            what: "entry payload",
            offset: entry.offset,
        }),
    }
}

/// Fills in what the headers left out by decompressing the entries that need it: the
/// PTX ISA of PTX entries whose header omits it and, with `count_kernels`, the kernel
/// counts of every entry (uncompressed ones read in place). A payload that does not
/// decompress is recorded in `listing.problems` and its entry is kept as listed.
pub fn fill_from_content(file: &[u8], listing: &mut Listing, count_kernels: bool) {
    if count_kernels {
        super::count_kernels(file, listing);
    }
    for entry in &mut listing.entries {
        let wants_isa = entry.kind == EntryKind::Ptx && entry.ptx_isa.is_none();
        let wants_kernels = count_kernels && entry.kernels.is_none();
        if !(wants_isa || wants_kernels && entry.compression != Compression::None) {
            continue;
        }
        match content(file, entry) {
            Ok(data) => match entry.kind {
                EntryKind::Ptx => {
                    if wants_isa {
                        entry.ptx_isa = ptx_header(&data).and_then(|h| h.version);
                    }
                    entry.kernels.get_or_insert_with(|| ptx_kernel_count(&data));
                }
                EntryKind::Cubin => {
                    entry.kernels = elf::cubin_kernel_count(&data).ok();
                }
            },
            Err(problem) => listing.problems.push(problem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::list;

    use crate::artifact::tests::fixture_bytes as fixture;

    #[test]
    fn compressed_entries_decompress_to_what_the_uncompressed_build_holds() {
        let plain = fixture("multi_none.fatbin");
        let plain_listing = list(&plain).unwrap();
        for name in ["multi_lz4.fatbin", "multi_zstd.fatbin", "multi.fatbin"] {
            let bytes = fixture(name);
            let listing = list(&bytes).unwrap();
            assert_eq!(listing.entries.len(), plain_listing.entries.len(), "{name}");
            for (e, p) in listing.entries.iter().zip(&plain_listing.entries) {
                let data = content(&bytes, e).unwrap();
                assert_eq!(data.len() as u64, e.uncompressed_size, "{name}");
                match e.kind {
                    EntryKind::Ptx => {
                        let isa = ptx_header(&data).and_then(|h| h.version);
                        assert_eq!(isa, p.ptx_isa, "{name} {:?}", e.arch);
                    }
                    EntryKind::Cubin => {
                        // The same cubin as the uncompressed build's, byte for byte.
                        assert_eq!(data, content(&plain, p).unwrap(), "{name} {:?}", e.arch);
                    }
                }
            }
        }
    }

    #[test]
    fn fill_counts_kernels_of_compressed_entries() {
        let bytes = fixture("multi_zstd.fatbin");
        let mut listing = list(&bytes).unwrap();
        assert!(listing.entries.iter().all(|e| e.kernels.is_none()));
        fill_from_content(&bytes, &mut listing, true);
        assert!(listing.problems.is_empty(), "{:?}", listing.problems);
        // The fixture's kernel file has one kernel.
        assert!(listing.entries.iter().all(|e| e.kernels == Some(1)));
    }

    #[test]
    fn corrupt_and_forged_payloads_are_errors() {
        for name in ["multi_lz4.fatbin", "multi_zstd.fatbin"] {
            let bytes = fixture(name);
            let listing = list(&bytes).unwrap();
            let e = listing
                .entries
                .iter()
                .find(|e| e.compression != Compression::None)
                .unwrap();
            // Garbage in place of the compressed bytes.
            let mut damaged = bytes.clone();
            let start = e.payload_offset as usize;
            for b in &mut damaged[start..start + e.payload_size as usize] {
                *b = 0xA5;
            }
            assert!(content(&damaged, e).is_err(), "{name}");
            // A forged uncompressed size, far beyond what the data holds.
            let mut forged = e.clone();
            forged.uncompressed_size = u64::MAX / 2;
            assert!(matches!(
                content(&bytes, &forged),
                Err(ArtifactError::Corrupt { .. })
            ));
            // A payload past the end of the data.
            let mut past = e.clone();
            past.payload_offset = bytes.len() as u64 - 4;
            assert!(matches!(
                content(&bytes, &past),
                Err(ArtifactError::Truncated { .. })
            ));
        }
    }
}
