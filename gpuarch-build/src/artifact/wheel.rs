//! Python wheels (feature `wheel`): the GPU code of the shared libraries and objects
//! inside the zip. Each such member is inflated into memory, one at a time, and listed
//! like a file of its own; its entries name it as their member, and their offsets are
//! within the inflated member.

use std::io::{Cursor, Read};

use super::{list, ArtifactError, Listing};

/// A zip file starts with a local file header (or, empty, an end-of-directory record).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Deflate expands at most about 1032 times; a declared size beyond that is forged.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// Lists the GPU code of every member that can hold it (`.so` and versioned `.so.N`,
/// `.a`, `.o`, `.cubin`, `.fatbin`, `.ptx`), in zip order. PTX entries whose header
/// omits the ISA are decompressed for it and, with
/// `count_kernels`, compressed entries for their kernel counts (see [`super::content`]).
/// A zip without a `*.dist-info/WHEEL` member is [`ArtifactError::NotAWheel`].
pub fn list_wheel(bytes: &[u8], count_kernels: bool) -> Result<Listing, ArtifactError> {
    let corrupt = |what| ArtifactError::Corrupt { what, offset: 0 };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| corrupt("zip archive"))?;
    let is_wheel = zip
        .file_names()
        .any(|n| n.ends_with(".dist-info/WHEEL") && n.matches('/').count() == 1);
    if !is_wheel {
        return Err(ArtifactError::NotAWheel);
    }
    let mut out = Listing::default();
    for index in 0..zip.len() {
        let mut member = match zip.by_index(index) {
            Ok(m) => m,
            Err(_) => {
                out.problems.push(corrupt("zip member"));
                continue;
            }
        };
        if !member.is_file() || !may_hold_gpu_code(member.name()) {
            continue;
        }
        let name = member.name().to_string();
        let declared = member.size();
        // Both sizes come from the zip's headers: the compressed bytes must lie in the
        // file, and inflate no further than deflate can expand them.
        let compressed = member.compressed_size();
        if compressed > bytes.len() as u64
            || declared > compressed.saturating_mul(DEFLATE_MAX_RATIO)
        {
            out.problems.push(corrupt("zip member size"));
            continue;
        }
        let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        if (&mut member).take(declared).read_to_end(&mut data).is_err() {
            out.problems.push(corrupt("zip member data"));
            continue;
        }
        drop(member);
        let mut listing = match list(&data) {
            Ok(listing) => listing,
            // Not an ELF after all (a linker script named .so, say): nothing to list.
            Err(ArtifactError::NotAnArtifact) => continue,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        super::content::fill_from_content(&data, &mut listing, count_kernels);
        out.append_member(&name, listing);
    }
    Ok(out)
}

fn may_hold_gpu_code(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    [".so", ".a", ".o", ".cubin", ".fatbin", ".ptx"]
        .iter()
        .any(|ext| file.ends_with(ext))
        || file.contains(".so.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use crate::artifact::tests::fixture_bytes as fixture;

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in members {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn lists_the_libraries_inside_a_wheel() {
        let obj = fixture("k.o");
        let lib = fixture("libk.a");
        let wheel = zip_of(&[
            ("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
            ("pkg/__init__.py", b""),
            ("pkg/lib/libk.so.1", &obj),
            ("pkg/lib/libk.a", &lib),
            ("pkg/lib/notes.txt", &obj),
        ]);
        let listing = list_wheel(&wheel, true).unwrap();
        assert!(listing.problems.is_empty(), "{:?}", listing.problems);
        let direct = list(&obj).unwrap().entries.len() + list(&lib).unwrap().entries.len();
        assert_eq!(listing.entries.len(), direct);
        assert_eq!(
            listing.entries[0].member.as_deref(),
            Some("pkg/lib/libk.so.1")
        );
        assert!(listing.entries.iter().any(|e| e
            .member
            .as_deref()
            .is_some_and(|m| m.starts_with("pkg/lib/libk.a("))));
        // Containers are numbered across members.
        let last = listing.entries.last().unwrap().container;
        assert!(last >= 2, "{last}");
    }

    #[test]
    fn forged_member_sizes_are_problems_not_allocations() {
        // Found by fuzzing: a compressed size of 4 GB in the zip's headers was trusted
        // for an allocation (out of memory, or "capacity overflow").
        let obj = fixture("k.o");
        let mut wheel = zip_of(&[
            ("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
            ("pkg/lib/libk.so", &obj),
        ]);
        let central = (0..wheel.len() - 4)
            .filter(|&i| wheel[i..i + 4] == *b"PK\x01\x02")
            .nth(1)
            .unwrap();
        for (at, value) in [(20, 0xFFFF_FFF0u32), (24, 0xFFFF_FFF0u32)] {
            wheel[central + at..central + at + 4].copy_from_slice(&value.to_le_bytes());
        }
        match list_wheel(&wheel, true) {
            Ok(listing) => assert!(listing.entries.is_empty() && !listing.problems.is_empty()),
            Err(e) => assert!(matches!(e, ArtifactError::Corrupt { .. }), "{e}"),
        }
    }

    #[test]
    fn a_zip_that_is_not_a_wheel_is_an_error() {
        let plain = zip_of(&[("a.txt", b"hello")]);
        assert_eq!(list_wheel(&plain, false), Err(ArtifactError::NotAWheel));
        assert!(matches!(
            list_wheel(b"PK\x03\x04garbage", false),
            Err(ArtifactError::Corrupt { .. })
        ));
    }
}
