//! Any UTF-8 text as a `gpuarch.toml`: parse it, resolve its GPUs, plan it with the
//! manifest's own toolkit (when it names one) and with fixed catalog toolkits, and
//! write the plan in every dialect. Nothing may panic.
#![no_main]

use std::path::Path;

use gpuarch_build::{catalog, plan, target, Dialect, Manifest, PlanRequest, Toolkit, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let manifest = match Manifest::from_gpuarch_toml(Path::new("gpuarch.toml"), text) {
        Ok(m) => m,
        Err(e) => {
            // Rendering the diagnostics (with their locations) must not panic either.
            let _ = e.to_string();
            return;
        }
    };
    if let Err(e) = target::resolve(&manifest.gpus, None) {
        let _ = e.to_string();
        return;
    }

    let mut toolkits = Vec::new();
    if let Some(cuda) = &manifest.cuda {
        toolkits.push(Toolkit::named(cuda.value, cuda.location.clone()));
    }
    // The newest known release, an old 11.x one, and one the catalog does not know.
    toolkits.push(Toolkit::named(catalog::latest_toolkit().version, None));
    toolkits.push(Toolkit::named(Version::major_minor(11, 8), None));
    toolkits.push(Toolkit::named(Version::major_minor(99, 9), None));

    for toolkit in toolkits {
        let request = match PlanRequest::from_manifest(&manifest, || Ok(toolkit)) {
            Ok(r) => r,
            Err(e) => {
                let _ = e.to_string();
                continue;
            }
        };
        let p = plan(&request);
        let _ = p.has_errors();
        for d in p.diagnostics() {
            let _ = d.to_string();
        }
        for e in &p.entries {
            let _ = (e.code.to_string(), e.reason.len());
        }
        for d in Dialect::ALL {
            if let Ok(s) = d.emit(&p.codes) {
                let _ = d.parse(&s, Some(&p.toolkit));
            }
        }
    }
});
