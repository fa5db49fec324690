//! Any UTF-8 text as an arch list in every dialect, with and without a toolkit (for
//! `all` / `all-major`). A list that parses is written in every dialect; every text an
//! emitter writes must parse back to the same code set (the property of the unit test
//! `every_dialect_round_trips` in gpuarch-build/src/emit/mod.rs).
#![no_main]

use gpuarch_build::arch::{Arch, Code, CodeSet, Variant};
use gpuarch_build::{catalog, Dialect, Toolkit};
use libfuzzer_sys::fuzz_target;

/// Whether a dialect can write this set (as in the unit test); emit must fail exactly
/// when it cannot.
fn expressible(d: Dialect, set: &CodeSet) -> bool {
    let sass: Vec<Arch> = set.sass().collect();
    let ptx: Vec<Arch> = set.ptx().collect();
    match d {
        Dialect::Nvcc | Dialect::Cmake => true,
        Dialect::Torch => {
            sass.iter().all(|a| a.variant != Variant::Family)
                && ptx.iter().all(|p| sass.contains(p))
        }
        Dialect::Clang => ptx.iter().all(|p| sass.contains(p)),
        Dialect::ComputeCap => sass.len() == 1 && (ptx.is_empty() || ptx == sass),
    }
}

fn round_trip(from: Dialect, input: &str, set: &CodeSet) {
    // The property (like the unit test) is about non-empty sets; torch accepts `;` as
    // an empty list (with a warning), which no dialect can write back.
    if set.is_empty() {
        return;
    }
    for d in Dialect::ALL {
        let emitted = d.emit(set);
        let can = expressible(d, set);
        let text = match emitted {
            Ok(text) => text,
            Err(e) => {
                assert!(
                    !can,
                    "{} refused {:?} (parsed from {} {input:?}): {e}",
                    d.name(),
                    set.codes,
                    from.name()
                );
                continue;
            }
        };
        assert!(
            can,
            "{} wrote {text:?} for an inexpressible {:?} (parsed from {} {input:?})",
            d.name(),
            set.codes,
            from.name()
        );
        let back = d.parse(&text, None).unwrap_or_else(|e| {
            panic!(
                "{} cannot read back its own {text:?} (from {} {input:?}): {e}",
                d.name(),
                from.name()
            )
        });
        let mut expected = set.clone();
        if d == Dialect::ComputeCap {
            // Its consumers build `-arch=sm_XY`, which always adds PTX of XY.
            if let Some(a) = set.sass().next() {
                expected.insert(Code::ptx(a));
            }
        }
        assert_eq!(
            back.codes.codes,
            expected.codes,
            "{} {text:?} did not round-trip (from {} {input:?})",
            d.name(),
            from.name()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // Pick a catalog toolkit from the input, so `all`/`all-major` see every release.
    let toolkits = catalog::toolkits();
    let info = &toolkits[s.len() % toolkits.len()];
    let toolkit = Toolkit::named(info.version, None);
    for d in Dialect::ALL {
        for tk in [Some(&toolkit), None] {
            let Ok(parsed) = d.parse(s, tk) else {
                continue;
            };
            for w in &parsed.warnings {
                let _ = w.to_string();
            }
            round_trip(d, s, &parsed.codes);
        }
    }
});
