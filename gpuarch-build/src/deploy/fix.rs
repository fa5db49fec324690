//! The fix search: the nearest deployments that pass every relation, by the fewest and
//! smallest changes of PyTorch wheel, base image and driver floor.
//!
//! The relations are separable (each depends on at most two parts), so each is judged
//! once per candidate part or pair, and combinations are then checked by table lookups:
//! the whole catalog is searched in milliseconds.

use crate::version::Version;

use super::facts::{self, ImageSet};
use super::image_ref::ImageRef;
use super::matrix::{self, Deployment, Image, Matrix, Status, Wheel};
use super::require_of;

/// One part that changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `torch`, `image` or `min-driver`.
    pub what: &'static str,
    pub from: String,
    pub to: String,
}

/// A deployment that passes, and how it differs from the one asked about.
#[derive(Clone, Debug)]
pub struct Fix {
    pub changes: Vec<Change>,
    /// The judged deployment after the changes.
    pub matrix: Matrix,
    /// Lower is nearer: the number of changes first, then how far each moves.
    pub cost: (usize, u32),
}

/// A candidate for one part: the value, how far it is from the original, and its label.
struct Candidate<T> {
    value: T,
    distance: u32,
    changed: bool,
}

/// The nearest passing deployments, nearest first, at most `limit`, each a distinct set
/// of changes. Empty when nothing in the catalog passes (or nothing can change).
pub fn fixes(d: &Deployment, limit: usize) -> Vec<Fix> {
    let wheels = wheel_candidates(d);
    let images = image_candidates(d);
    let drivers = driver_candidates(d);
    // Judge each relation once per part (or pair of parts) it depends on.
    let any_fail = |rows: &[matrix::Row]| rows.iter().any(|r| r.status == Status::Fail);
    let base = |driver: Option<Version>| Deployment {
        gpus: d.gpus.clone(),
        driver,
        wheel: None,
        image: None,
        toolkit: d.toolkit,
    };
    let wheel_gpu_ok: Vec<bool> = wheels
        .iter()
        .map(|w| match &w.value {
            Some(wheel) => {
                let at = base(d.driver);
                !d.gpus
                    .iter()
                    .any(|g| matrix::torch_vs_gpu(&at, wheel, g).status == Status::Fail)
            }
            None => true,
        })
        .collect();
    let image_gpu_ok: Vec<bool> = images
        .iter()
        .map(|i| match &i.value {
            Some(image) => !d.gpus.iter().any(|g| {
                matrix::cuda_vs_gpu(image.cuda, "the base image", g).status == Status::Fail
            }),
            None => true,
        })
        .collect();
    let driver_gpu_ok: Vec<bool> = drivers
        .iter()
        .map(|v| match v.value {
            Some(driver) => !d
                .gpus
                .iter()
                .any(|g| matrix::driver_vs_gpu(driver, g).status == Status::Fail),
            None => true,
        })
        .collect();
    let mut wheel_driver_ok = vec![vec![false; drivers.len()]; wheels.len()];
    for (wi, w) in wheels.iter().enumerate() {
        if !wheel_gpu_ok[wi] {
            continue;
        }
        for (di, v) in drivers.iter().enumerate() {
            wheel_driver_ok[wi][di] = match &w.value {
                Some(wheel) => matrix::torch_vs_cuda(&base(v.value), wheel).status != Status::Fail,
                None => true,
            };
        }
    }
    let mut image_driver_ok = vec![vec![false; drivers.len()]; images.len()];
    for (ii, i) in images.iter().enumerate() {
        if !image_gpu_ok[ii] {
            continue;
        }
        for (di, v) in drivers.iter().enumerate() {
            image_driver_ok[ii][di] = match &i.value {
                Some(image) => {
                    let mut rows = Vec::new();
                    matrix::image_vs_driver(&base(v.value), image, &mut rows);
                    !any_fail(&rows)
                }
                None => true,
            };
        }
    }
    let mut found: Vec<((usize, u32), usize, usize, usize)> = Vec::new();
    for (di, v) in drivers.iter().enumerate() {
        if !driver_gpu_ok[di] {
            continue;
        }
        for (wi, w) in wheels.iter().enumerate() {
            if !wheel_driver_ok[wi][di] {
                continue;
            }
            for (ii, i) in images.iter().enumerate() {
                if !image_driver_ok[ii][di] {
                    continue;
                }
                let changed =
                    usize::from(v.changed) + usize::from(w.changed) + usize::from(i.changed);
                if changed == 0 {
                    continue;
                }
                let cost = (changed, v.distance + w.distance + i.distance);
                found.push((cost, wi, ii, di));
            }
        }
    }
    // Nearest first; among equals, the newer wheel, image and driver.
    found.sort_by_key(|(cost, wi, ii, di)| {
        (
            *cost,
            std::cmp::Reverse(wheels[*wi].value.map(|w| w.version)),
            std::cmp::Reverse(images[*ii].value.as_ref().map(|i| i.cuda)),
            *di,
        )
    });
    let mut out: Vec<Fix> = Vec::new();
    // At most two fixes per kind of change (torch only; torch and image; ...), so the
    // list shows the different ways out, not ten variants of the first.
    let mut per_kind: Vec<((bool, bool, bool), usize)> = Vec::new();
    // The passing combinations no other passing one does with a subset of its changes:
    // a fix that only adds changes to another is not another way out.
    let mut minimal: Vec<(usize, usize, usize)> = Vec::new();
    // Passed over only for the two-per-kind rule: they fill the list if it is short.
    let mut spare = Vec::new();
    for (cost, wi, ii, di) in found {
        if out.len() >= limit {
            break;
        }
        let (w, i, v) = (&wheels[wi], &images[ii], &drivers[di]);
        let dominated = minimal.iter().any(|&(mw, mi, md)| {
            (!wheels[mw].changed || mw == wi)
                && (!images[mi].changed || mi == ii)
                && (!drivers[md].changed || md == di)
        });
        if dominated {
            continue;
        }
        minimal.push((wi, ii, di));
        let kind = (w.changed, i.changed, v.changed);
        if per_kind.iter().any(|(k, n)| *k == kind && *n >= 2) {
            spare.push((cost, wi, ii, di));
            continue;
        }
        let changes = changes_of(d, w, i, v);
        let judged = matrix::matrix(&Deployment {
            wheel: w.value,
            image: i.value.clone(),
            ..base(v.value)
        });
        // Every relation was checked above; this is the full record (and a safety net).
        if judged.passes() {
            match per_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => per_kind.push((kind, 1)),
            }
            out.push(Fix {
                changes,
                matrix: judged,
                cost,
            });
        }
    }
    for (cost, wi, ii, di) in spare {
        if out.len() >= limit {
            break;
        }
        let (w, i, v) = (&wheels[wi], &images[ii], &drivers[di]);
        let judged = matrix::matrix(&Deployment {
            wheel: w.value,
            image: i.value.clone(),
            ..base(v.value)
        });
        if judged.passes() {
            out.push(Fix {
                changes: changes_of(d, w, i, v),
                matrix: judged,
                cost,
            });
        }
    }
    out.sort_by_key(|f| f.cost);
    out
}

fn changes_of(
    d: &Deployment,
    w: &Candidate<Option<Wheel>>,
    i: &Candidate<Option<Image>>,
    v: &Candidate<Option<Version>>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    if w.changed {
        changes.push(Change {
            what: "torch",
            from: d.wheel.map(|x| x.spelled()).unwrap_or_default(),
            to: w.value.map(|x| x.spelled()).unwrap_or_default(),
        });
    }
    if i.changed {
        changes.push(Change {
            what: "image",
            from: d
                .image
                .as_ref()
                .map(|x| x.reference.clone())
                .unwrap_or_default(),
            to: i
                .value
                .as_ref()
                .map(|x| x.reference.clone())
                .unwrap_or_default(),
        });
    }
    if v.changed {
        changes.push(Change {
            what: "min-driver",
            from: d.driver.map(|x| x.to_string()).unwrap_or_default(),
            to: v.value.map(|x| x.to_string()).unwrap_or_default(),
        });
    }
    changes
}

/// The wheel as it is, then every variant of every release: the same release's other
/// variants are the nearest, other releases further by how many minors they move.
fn wheel_candidates(d: &Deployment) -> Vec<Candidate<Option<Wheel>>> {
    let Some(original) = d.wheel else {
        return vec![Candidate {
            value: None,
            distance: 0,
            changed: false,
        }];
    };
    let releases = facts::torch_releases();
    let index_of = |v: &Version| releases.iter().position(|r| r.version == *v);
    let here = index_of(&original.release.version).unwrap_or(0);
    let mut out = vec![Candidate {
        value: Some(original),
        distance: 0,
        changed: false,
    }];
    for (ri, release) in releases.iter().enumerate() {
        let same = ri == here;
        let version = if same {
            original.version
        } else {
            match release.patches.last() {
                Some(v) => *v,
                None => continue,
            }
        };
        for variant in &release.variants {
            if same && variant.tag == original.variant.tag {
                continue;
            }
            let distance = if same {
                1
            } else {
                2 + u32::try_from(ri.abs_diff(here)).unwrap_or(u32::MAX / 4)
            };
            out.push(Candidate {
                value: Some(Wheel {
                    release,
                    version,
                    variant,
                }),
                distance,
                changed: true,
            });
        }
    }
    out
}

/// The image as it is, then every nvidia/cuda release set whose tags still exist, with
/// the same flavor and OS where that set has them.
fn image_candidates(d: &Deployment) -> Vec<Candidate<Option<Image>>> {
    let mut out = vec![Candidate {
        value: d.image.clone(),
        distance: 0,
        changed: false,
    }];
    let Some(original) = &d.image else {
        return out;
    };
    let Ok(reference) = super::image_ref::parse(&original.reference) else {
        return out;
    };
    if !reference.is_nvidia_cuda() {
        return out;
    }
    let Some(Ok(tag)) = reference.cuda_tag() else {
        return out;
    };
    let sets = facts::image_sets();
    let here = original
        .set
        .and_then(|s| sets.iter().position(|x| x.version == s.version));
    for (si, set) in sets.iter().enumerate() {
        if set.deleted || Some(si) == here {
            continue;
        }
        let Some(image) = image_from_set(&reference, set, &tag.flavor, &tag.os) else {
            continue;
        };
        let distance =
            1 + here.map_or(0, |h| u32::try_from(si.abs_diff(h)).unwrap_or(u32::MAX / 4));
        out.push(Candidate {
            value: Some(image),
            distance,
            changed: true,
        });
    }
    out
}

/// An image of `set` in the flavor and OS asked for, where the set has them.
pub(crate) fn image_from_set(
    reference: &ImageRef,
    set: &'static ImageSet,
    flavor: &str,
    os: &str,
) -> Option<Image> {
    let flavor = equivalent_flavor(set, flavor)?;
    if !set.os.iter().any(|o| o == os) {
        return None;
    }
    let tag = super::image_ref::tag_for(&set.tag_version, &flavor, os);
    let repo = if reference.registry == "docker.io" {
        reference.repository.clone()
    } else {
        format!("{}/{}", reference.registry, reference.repository)
    };
    Some(Image {
        reference: format!("{repo}:{tag}"),
        cuda: set.version,
        set: Some(set),
        require_cuda: require_of(set),
        note: None,
    })
}

/// The set's name for a flavor: cuDNN flavors are spelled by cuDNN major in older sets
/// (`cudnn8-runtime`) and plainly in newer ones (`cudnn-runtime`).
pub(crate) fn equivalent_flavor(set: &ImageSet, flavor: &str) -> Option<String> {
    if set.flavors.iter().any(|f| f == flavor) {
        return Some(flavor.to_string());
    }
    let stage = flavor.rsplit('-').next()?;
    if !flavor.starts_with("cudnn") {
        return None;
    }
    set.flavors
        .iter()
        .find(|f| f.starts_with("cudnn") && f.ends_with(stage))
        .cloned()
}

/// The floor as it is, then the first driver of every later branch.
fn driver_candidates(d: &Deployment) -> Vec<Candidate<Option<Version>>> {
    let mut out = vec![Candidate {
        value: d.driver,
        distance: 0,
        changed: false,
    }];
    let Some(current) = d.driver else {
        return out;
    };
    let mut steps = 0;
    for branch in facts::driver_branches() {
        if branch.first <= current {
            continue;
        }
        steps += 1;
        out.push(Candidate {
            value: Some(branch.first),
            distance: steps,
            changed: true,
        });
    }
    out
}
