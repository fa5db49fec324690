//! Shared by the artifact targets: every public reader of `gpuarch_build::artifact` on the
//! same bytes, with the checks every result must pass.
#![allow(dead_code)]

use gpuarch_build::arch::CodeKind;
use gpuarch_build::artifact::{
    cubin_arch, cubin_kernel_count, entries_in_fatbin, inspect, inspect_archive, inspect_elf,
    inspect_ptx, list, thin_archive_members, ArtifactError, Compression, Entry, EntryKind,
    Listing, AR_MAGIC, FATBIN_MAGIC, THIN_MAGIC,
};

/// Reads an entry through its accessors. `data` is the file it was read from: the entry
/// (the header of a fatbin entry, the ELF of a cubin, PTX text) and its stored payload
/// must lie in it.
pub fn check_entry(data: &[u8], e: &Entry) {
    let code = e.code();
    let _ = code.to_string();
    match e.kind {
        EntryKind::Cubin => assert_eq!(code.kind, CodeKind::Sass),
        EntryKind::Ptx => assert_eq!(code.kind, CodeKind::Ptx),
    }
    assert_eq!(code.arch, e.arch);
    let name = e.cuobjdump_arch();
    assert!(name.starts_with("sm_"), "{name}");
    let name = e.arch_name();
    assert!(name.starts_with("sm_"), "{name}");
    let _ = (e.arch.number(), e.arch.dotted(), e.ptx_isa.map(|v| v.to_string()));
    let _ = format!("{e:?}");
    let len = data.len() as u64;
    assert!(e.offset < len, "entry offset {:#x} past the end ({len:#x})", e.offset);
    let payload_end = e.payload_offset.checked_add(e.payload_size);
    assert!(
        payload_end.is_some_and(|end| end <= len),
        "payload {:#x}+{:#x} past the end ({len:#x})",
        e.payload_offset,
        e.payload_size
    );
    assert!(e.payload_offset >= e.offset, "payload before its entry: {e:?}");
    if e.compression == Compression::None {
        assert_eq!(e.uncompressed_size, e.payload_size, "{e:?}");
    }
}

/// Renders an error.
pub fn render(e: &ArtifactError) {
    let _ = (e.to_string(), format!("{e:?}"));
}

/// Renders an error; whether the call succeeded.
fn ok<T>(r: &Result<T, ArtifactError>) -> bool {
    if let Err(e) = r {
        render(e);
    }
    r.is_ok()
}

fn check_entries(data: &[u8], r: &Result<Vec<Entry>, ArtifactError>) {
    if let Ok(entries) = r {
        for e in entries {
            check_entry(data, e);
        }
    } else {
        ok(r);
    }
}

/// Runs every reader on `data`: nothing may panic, every entry is read through its
/// accessors and must lie in the file, every error is rendered, `inspect` is `list` all or
/// nothing, and both agree with the reader they dispatch to. Returns what `list` returned.
pub fn inspect_all(data: &[u8]) -> Result<Listing, ArtifactError> {
    let listing = list(data);
    match &listing {
        Ok(l) => {
            for e in &l.entries {
                check_entry(data, e);
            }
            for p in &l.problems {
                render(p);
            }
        }
        Err(e) => render(e),
    }
    let listed = inspect(data);
    check_entries(data, &listed);
    let strict = match &listing {
        Ok(l) => match l.problems.first() {
            Some(p) => Err(p.clone()),
            None => Ok(l.entries.clone()),
        },
        Err(e) => Err(e.clone()),
    };
    assert_eq!(listed, strict, "inspect is not list, all or nothing");

    let fat = entries_in_fatbin(data, "", 0);
    check_entries(data, &fat);
    // `inspect` reads a file that starts with the magic as a fatbin.
    let is_fatbin = data.len() >= 4 && data[..4] == FATBIN_MAGIC.to_le_bytes();
    if is_fatbin {
        assert_eq!(listed, fat);
    }

    let elf = inspect_elf(data);
    check_entries(data, &elf);
    if data.starts_with(b"\x7fELF") {
        assert_eq!(listed, elf);
    }

    let ar = inspect_archive(data);
    check_entries(data, &ar);
    if data.starts_with(AR_MAGIC) {
        assert_eq!(listed, ar);
    }

    if let Ok(members) = thin_archive_members(data) {
        let _ = members.len();
    }
    if data.starts_with(THIN_MAGIC) {
        assert_eq!(listing, Err(ArtifactError::ThinArchive));
    }

    let ptx = inspect_ptx(data);
    if ok(&ptx) {
        let e = ptx.as_ref().unwrap();
        assert_eq!(e.kind, EntryKind::Ptx);
        check_entry(data, e);
    }
    // Anything else `list` reads as PTX text.
    let dispatched = is_fatbin
        || data.starts_with(b"\x7fELF")
        || data.starts_with(AR_MAGIC)
        || data.starts_with(THIN_MAGIC);
    if !dispatched {
        assert_eq!(listed, ptx.clone().map(|e| vec![e]));
    }

    let cubin = cubin_arch(data);
    if let Ok(arch) = &cubin {
        let _ = (arch.number(), arch.dotted());
    } else {
        ok(&cubin);
    }
    let kernels = cubin_kernel_count(data);
    if let Ok(n) = kernels {
        // A symbol is 24 bytes of the file.
        assert!(u64::from(n) * 24 <= data.len() as u64, "{n} kernels");
    } else {
        ok(&kernels);
    }
    listing
}
