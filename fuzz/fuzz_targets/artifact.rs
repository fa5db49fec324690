//! Any bytes as a build artifact: `artifact::list` and `inspect` (fatbin, ELF, archive or
//! PTX text, by the first bytes) and every other public reader of the module on the same
//! bytes (`entries_in_fatbin`, `inspect_elf`, `inspect_archive`, `thin_archive_members`,
//! `inspect_ptx`, `cubin_arch`, `cubin_kernel_count`). Every entry listed is read through
//! its accessors, and every error is rendered. Nothing may panic, an entry and its payload
//! must lie in the file it was read from, and `inspect` must be `list` all or nothing and
//! agree with the reader it dispatches to (see `common.rs`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = common::inspect_all(data);
});
