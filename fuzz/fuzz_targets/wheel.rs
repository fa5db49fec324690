//! `artifact::wheel::list_wheel` (feature `wheel`, with `decompress`): the GPU code in the
//! libraries of a Python wheel (a zip).
//!
//! The first byte chooses the mode (bit 0: count kernels):
//! - bit 1 clear: the rest is the zip file.
//! - bit 1 set: a wheel is written from the rest (so its CRCs and sizes are right and the
//!   fuzzer reaches the members): unless bit 2 is set, `pkg-1.0.dist-info/WHEEL` first,
//!   then members of `[name index u8][method u8][length u16 LE][bytes]`, names from
//!   `NAMES`, stored or deflated.
//!
//! Nothing may panic; every entry is read through its accessors and names its member.
#![no_main]

mod common;

use std::io::{Cursor, Write};

use gpuarch_build::artifact::wheel::{is_zip, list_wheel};
use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const NAMES: &[&str] = &[
    "pkg/lib/libk.so",
    "pkg/lib/libk.so.1",
    "pkg/k.o",
    "pkg/libk.a",
    "pkg/k.cubin",
    "pkg/k.fatbin",
    "pkg/k.ptx",
    "pkg/notes.txt",
    "pkg/deep/er/x.so",
    "pkg-1.0.dist-info/WHEEL",
    "a/b.dist-info/WHEEL",
    "pkg/lib/",
];

fn write_wheel(mode: u8, mut rest: &[u8]) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    if mode & 4 == 0 {
        w.start_file("pkg-1.0.dist-info/WHEEL", stored).unwrap();
        w.write_all(b"Wheel-Version: 1.0\n").unwrap();
    }
    let mut n = 0;
    while rest.len() >= 4 && n < 6 {
        let name = NAMES[usize::from(rest[0]) % NAMES.len()];
        let opts = if rest[1] % 2 == 0 { stored } else { deflated };
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let (body, tail) = rest[4..].split_at(len);
        rest = tail;
        n += 1;
        if name.ends_with('/') {
            let _ = w.add_directory(name, stored);
            continue;
        }
        // A name already written is an error for the writer: skip the member.
        if w.start_file(name, opts).is_err() {
            continue;
        }
        w.write_all(body).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let written;
    let bytes = if mode & 2 == 0 {
        rest
    } else {
        written = write_wheel(mode, rest);
        &written
    };
    let _ = is_zip(bytes);
    match list_wheel(bytes, mode & 1 == 1) {
        Ok(listing) => {
            for e in &listing.entries {
                let _ = (e.code(), e.arch_name(), e.cuobjdump_arch(), format!("{e:?}"));
                assert!(e.member.is_some(), "a wheel entry without its member: {e:?}");
            }
            for p in &listing.problems {
                common::render(p);
            }
        }
        Err(e) => common::render(&e),
    }
});
