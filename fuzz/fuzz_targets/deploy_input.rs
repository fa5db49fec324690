//! The deployment inputs people type (feature `deploy`): an NVIDIA_REQUIRE_CUDA value, an
//! image reference and a PyTorch version, and a whole manifest with `[torch]`/`[image]`
//! sections judged end to end (matrix and fix search).
//!
//! The first byte picks the input; nothing may panic, and:
//! - a requirement that parses evaluates on every host shape, and its text round-trips;
//! - a reference that parses renders to a reference that parses to the same thing.
#![no_main]

use gpuarch_build::deploy::{self, image_ref, require};
use gpuarch_build::manifest::Located;
use gpuarch_build::{Cc, Manifest, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match mode % 4 {
        0 => requirement(text),
        1 => reference(text),
        2 => {
            let _ = deploy::resolve_wheel(&Located::bare(text.to_string()), None);
        }
        _ => manifest(text),
    }
});

fn requirement(text: &str) {
    let Ok(parsed) = require::parse(text) else {
        return;
    };
    let v = |s: &str| s.parse::<Version>().unwrap();
    for host in [
        require::Host::default(),
        require::Host {
            cuda: Some(v("12.2")),
            driver: Some(v("535.104.05")),
            arch: Cc::parse_dotted("8.0"),
            brand: Some("tesla".into()),
        },
        require::Host {
            cuda: Some(v("13.0")),
            driver: Some(v("580.65.06")),
            arch: Cc::parse_dotted("12.0"),
            brand: Some("GeForce".into()),
        },
    ] {
        let e = parsed.evaluate(&host);
        assert_eq!(e.satisfied, e.message.is_none(), "{text:?}");
    }
    let again = require::parse(&parsed.to_string()).expect("a parsed requirement renders to one that parses");
    assert_eq!(again.to_string(), parsed.to_string());
}

fn reference(text: &str) {
    let Ok(parsed) = image_ref::parse(text) else {
        return;
    };
    let again = image_ref::parse(&parsed.to_string()).expect("a parsed reference renders to one that parses");
    assert_eq!(again, parsed, "{text:?}");
    if let Some(Ok(tag)) = parsed.cuda_tag() {
        let _ = tag.to_string();
    }
    let _ = deploy::resolve_image(&Located::bare(text.to_string()), None);
}

fn manifest(text: &str) {
    let Ok(m) = Manifest::from_gpuarch_toml(std::path::Path::new("gpuarch.toml"), text) else {
        return;
    };
    let Ok(d) = deploy::deployment(&m) else {
        return;
    };
    let judged = deploy::matrix(&d);
    if !judged.passes() {
        for fix in deploy::fixes(&d, 3) {
            assert!(fix.matrix.passes());
        }
    }
}
