//! Inventories and catalog queries (feature `fleet`): nvidia-smi CSV and tables,
//! `kubectl get nodes` JSON and YAML, and `--where` queries, from any bytes.
//!
//! The first byte picks the input; nothing may panic, and:
//! - every node an inventory yields is in exactly one node group of the verdict;
//! - the nodeAffinity, where one is written, never admits a node judged unable to run;
//! - a query that parses can be evaluated on any row.
#![no_main]

use gpuarch_build::catalog::query::{self, Query, Value};
use gpuarch_build::fleet::{self, affinity, verdict};
use gpuarch_build::{coverage, Code, CodeSet, Toolkit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 | 1 => inventory(rest),
        _ => where_query(rest),
    }
});

fn inventory(bytes: &[u8]) {
    let Ok(parsed) = fleet::parse(std::path::Path::new("fuzz"), bytes) else {
        return;
    };
    let toolkit = Toolkit::named("12.4".parse().unwrap(), None);
    let mut codes: CodeSet = ["sm_75", "sm_80", "compute_90"]
        .iter()
        .map(|c| Code::parse(c).unwrap())
        .collect();
    codes.ptx_isa = Some(toolkit.ptx_isa);
    let judged = verdict::judge(&parsed.nodes, &codes, Some(&toolkit));
    let mut seen = vec![0usize; parsed.nodes.len()];
    for g in &judged.groups {
        for &n in &g.nodes {
            seen[n] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "a node is in one group: {seen:?}");
    let mut judge_of = |cc, driver| coverage::coverage(&codes, cc, driver);
    if let Ok(a) = affinity::node_affinity(&parsed.nodes, &judged, Some(&toolkit), &mut judge_of) {
        let group_of = judged.group_of_node(parsed.nodes.len());
        for (node, g) in parsed.nodes.iter().zip(group_of) {
            if judged.groups[g].status != verdict::Status::Runs {
                assert!(!a.admits(&node.labels), "admits {}, which cannot run", node.name);
            }
        }
    }
    let mut inventory = fleet::Inventory::default();
    inventory.add(std::path::Path::new("fuzz"), parsed);
    let mut manifest = gpuarch_build::Manifest::default();
    let _ = inventory.apply_to(&mut manifest);
}

fn where_query(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    for table in [
        &query::GPUS,
        &query::TOOLKITS,
        &query::ARCHS,
        &query::TORCH,
        &query::IMAGES,
        &query::DRIVERS,
    ] {
        if let Ok(q) = Query::parse(text, table) {
            let _ = q.matches(&|_| None);
            let _ = q.matches(&|field| Some(Value::Text(field.to_string())));
        }
    }
}
