//! `cargo gpuarch image`: the nvidia/cuda tag for a deployment.

use crate::version::Version;

use super::facts::{self, ImageSet};
use super::matrix::{self, Deployment, Image, Status};

/// The recommended image and why each newer release set was passed over.
#[derive(Clone, Debug)]
pub struct Recommendation {
    pub image: Image,
    pub flavor: String,
    pub os: String,
    /// Why it was chosen, in words.
    pub reasons: Vec<String>,
    /// Newer sets that were passed over, and why.
    pub passed_over: Vec<(String, String)>,
}

/// The newest nvidia/cuda release set whose tags still exist, whose runtime the driver
/// floor can run (natively, by minor-version compatibility, or by forward compatibility
/// on a data-center GPU) with a `NVIDIA_REQUIRE_CUDA` the hosts satisfy, that can build
/// native code for every GPU, and, where a PyTorch wheel is named, of the wheel's CUDA
/// major (extensions must be built with the major torch was built with). `flavor` is a
/// tag flavor (`base`, `runtime`, `devel`, `cudnn-runtime`, ...); `os` defaults to the
/// newest Ubuntu the set has.
pub fn recommend(
    d: &Deployment,
    flavor: &str,
    os: Option<&str>,
) -> std::result::Result<Recommendation, String> {
    let mut passed_over = Vec::new();
    let mut sets: Vec<&'static ImageSet> = facts::image_sets().iter().collect();
    sets.sort_by_key(|s| std::cmp::Reverse(s.version));
    for set in sets {
        let name = set.tag_version.clone();
        if set.deleted {
            passed_over.push((
                name,
                "its tags are deleted (end-of-life over six months)".to_string(),
            ));
            continue;
        }
        // Directly or under minor-version compatibility: a recommendation does not lean on
        // forward compatibility (`deploy` says where that would bridge an older driver).
        if let (Some(driver), Some(needs)) = (
            d.driver,
            crate::catalog::runtime_min_driver(set.version, crate::catalog::Os::Linux),
        ) {
            if driver < needs {
                passed_over.push((
                    name,
                    format!("its runtime needs driver >= {needs} (the floor is {driver})"),
                ));
                continue;
            }
        }
        let chosen_os = match os {
            Some(o) if set.os.iter().any(|x| x == o) => o.to_string(),
            Some(o) => {
                passed_over.push((name, format!("no {o} images")));
                continue;
            }
            None => match newest_ubuntu(set) {
                Some(o) => o,
                None => {
                    passed_over.push((name, "no Ubuntu images".to_string()));
                    continue;
                }
            },
        };
        let reference = super::image_ref::parse("nvidia/cuda").expect("a valid reference");
        let Some(image) = super::fix::image_from_set(&reference, set, flavor, &chosen_os) else {
            passed_over.push((name, format!("no `{flavor}` flavor")));
            continue;
        };
        if let Some(wheel) = &d.wheel {
            if set.version.major != wheel.variant.cuda.major {
                passed_over.push((
                    name,
                    format!(
                        "CUDA {}.x, but the {} wheel is built with CUDA {}",
                        set.version.major,
                        wheel.spelled(),
                        wheel.variant.cuda
                    ),
                ));
                continue;
            }
        }
        let uncovered: Vec<String> = d
            .gpus
            .iter()
            .filter(|g| {
                let tk = crate::catalog::toolkit(set.version);
                !tk.is_some_and(|tk| {
                    tk.can_emit(crate::arch::Code::sass(crate::arch::Arch::plain(g.cc)))
                })
            })
            .map(|g| format!("{} ({})", g.name, g.cc))
            .collect();
        if !uncovered.is_empty() {
            passed_over.push((
                name,
                format!(
                    "CUDA {} cannot build native code for {}",
                    set.version,
                    uncovered.join(", ")
                ),
            ));
            continue;
        }
        let mut rows = Vec::new();
        matrix::image_vs_driver(d, &image, &mut rows);
        if let Some(row) = rows.iter().find(|r| r.status == Status::Fail) {
            passed_over.push((name, row.reason.clone()));
            continue;
        }
        let mut reasons = vec![format!(
            "CUDA {} is the newest release set with tags still published that passes every check",
            set.version
        )];
        reasons.extend(rows.iter().map(|r| r.reason.clone()));
        if let Some(eol) = &set.eol {
            reasons.push(format!(
                "note: end-of-life since {eol}; its tags go six months later"
            ));
        }
        // The set's own spelling of the flavor (`cudnn8-runtime` for `cudnn-runtime`).
        let flavor =
            super::fix::equivalent_flavor(set, flavor).unwrap_or_else(|| flavor.to_string());
        return Ok(Recommendation {
            image,
            flavor,
            os: chosen_os,
            reasons,
            passed_over,
        });
    }
    Err(summary(&passed_over))
}

/// Why nothing fit: the reasons, each with the release sets it ruled out.
fn summary(passed_over: &[(String, String)]) -> String {
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for (set, why) in passed_over {
        match reasons.iter_mut().find(|(w, _)| *w == why.as_str()) {
            Some((_, sets)) => sets.push(set),
            None => reasons.push((why, vec![set])),
        }
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|(why, sets)| {
            let shown = if sets.len() > 3 {
                format!("{} and {} more", sets[..3].join(", "), sets.len() - 3)
            } else {
                sets.join(", ")
            };
            format!("{shown}: {why}")
        })
        .collect();
    if parts.is_empty() {
        "no published nvidia/cuda image fits".to_string()
    } else {
        format!("no published nvidia/cuda image fits ({})", parts.join("; "))
    }
}

/// `ubuntu24.04` over `ubuntu22.04`: compared as versions.
fn newest_ubuntu(set: &ImageSet) -> Option<String> {
    set.os
        .iter()
        .filter_map(|o| {
            let v: Version = o.strip_prefix("ubuntu")?.parse().ok()?;
            Some((v, o.clone()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, o)| o)
}
