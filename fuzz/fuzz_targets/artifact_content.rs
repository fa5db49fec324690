//! `artifact::content` and `fill_from_content` (feature `decompress`): LZ4 and zstd
//! payloads, decompressed within the bounds the entry header and the stored bytes allow.
//!
//! The first byte chooses the mode:
//! - even `% 4` (0, 1): the rest is a file; it is listed (with every check of `common`),
//!   every entry is decompressed with `content`, and the listing is filled in with
//!   `fill_from_content` (counting kernels when the byte is odd).
//! - 2, 3: the rest is one payload behind its uncompressed size (`u32` LE; `u64` when bit
//!   0x40 is set), compressed as bits 2-3 say (none, LZ4, zstd), read through a forged
//!   entry; with bit 0x80 the entry's payload offset and size are forged too.
//!
//! Nothing may panic or allocate beyond the limits; a payload that decompresses has the
//! size its entry states.
#![no_main]

mod common;

use gpuarch_build::arch::{Arch, Cc};
use gpuarch_build::artifact::content::{content, fill_from_content};
use gpuarch_build::artifact::{Compression, Entry, EntryKind};
use libfuzzer_sys::fuzz_target;

fn check_content(file: &[u8], e: &Entry) {
    match content(file, e) {
        Ok(out) => {
            let expected = match e.compression {
                Compression::None => e.payload_size,
                _ => e.uncompressed_size,
            };
            assert_eq!(out.len() as u64, expected, "{e:?}");
        }
        Err(err) => common::render(&err),
    }
}

fn le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 4 < 2 {
        let Ok(mut listing) = common::inspect_all(rest) else {
            return;
        };
        for e in &listing.entries {
            check_content(rest, e);
        }
        let count_kernels = mode % 2 == 1;
        let before = listing.entries.len();
        fill_from_content(rest, &mut listing, count_kernels);
        assert_eq!(listing.entries.len(), before);
        for e in &listing.entries {
            common::check_entry(rest, e);
        }
        for p in &listing.problems {
            common::render(p);
        }
        return;
    }
    let size_len = if mode & 0x40 != 0 { 8 } else { 4 };
    if rest.len() < size_len {
        return;
    }
    let (size, payload) = rest.split_at(size_len);
    let compression = match (mode >> 2) % 4 {
        0 => Compression::None,
        1 | 3 => Compression::Lz4,
        _ => Compression::Zstd,
    };
    let mut entry = Entry {
        kind: if mode & 0x20 != 0 { EntryKind::Cubin } else { EntryKind::Ptx },
        arch: Arch::plain(Cc::new(9, 0)),
        ptx_isa: None,
        compression,
        member: None,
        section: String::new(),
        container: 0,
        offset: 0,
        payload_offset: size_len as u64,
        payload_size: payload.len() as u64,
        uncompressed_size: le(size),
        kernels: None,
    };
    if mode & 0x80 != 0 && payload.len() >= 16 {
        // Offsets from the payload's first bytes (anything, including past the end).
        entry.payload_offset = le(&payload[..8]);
        entry.payload_size = le(&payload[8..16]);
    }
    check_content(rest, &entry);
});
