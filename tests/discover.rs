//! End-to-end tests of discovery: `cargo gpuarch catalog TABLE --where QUERY` and
//! `cargo gpuarch explain gpu NAME`.
//!
//! Expected values are facts with a public source (NVIDIA's CUDA GPUs page for
//! capabilities, the CUDA release notes for the first toolkit of an architecture and its
//! driver, PyTorch's release notes for its CUDA wheels), or are checked row by row
//! against the unfiltered table, never copied from the binary's output.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gpuarch");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .env("PATH", "")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run cargo-gpuarch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

impl Run {
    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn rows(table: &str, query: &str) -> Vec<Value> {
    let r = run(&["catalog", table, "--where", query, "--format", "json"]).expect(0);
    r.json().as_array().cloned().unwrap()
}

fn all_rows(table: &str) -> Vec<Value> {
    let r = run(&["catalog", table, "--format", "json"]).expect(0);
    r.json().as_array().cloned().unwrap()
}

/// `8.9` as numbers, so that the test does not compare capabilities the way it checks.
fn cc(v: &Value) -> (u32, u32) {
    let s = v.as_str().unwrap();
    let (major, minor) = s.split_once('.').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

fn version(v: &Value) -> Vec<u32> {
    v.as_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn where_cc_keeps_exactly_the_gpus_of_that_capability_or_above() {
    let kept = rows("gpus", "cc>=8.0");
    let all = all_rows("gpus");
    let expected: Vec<&Value> = all.iter().filter(|g| cc(&g["cc"]) >= (8, 0)).collect();
    assert_eq!(kept.len(), expected.len());
    for row in &kept {
        assert!(cc(&row["cc"]) >= (8, 0), "{row}");
    }
    // Text comparison would drop these: "10.0" and "12.0" sort before "8.0".
    assert!(kept.iter().any(|g| g["name"] == "NVIDIA B200"));
    assert!(kept.iter().any(|g| g["cc"] == "12.0"));
    assert!(!kept.iter().any(|g| g["name"] == "Tesla T4"));
}

#[test]
fn conditions_combine_and_text_agrees_with_json() {
    for query in [
        "cc>=8.0, segment=datacenter",
        "cc>=8.0 and segment=datacenter and integrated=false",
        "CC >= 8.0 AND Segment = DataCenter",
    ] {
        let kept = rows("gpus", query);
        assert!(!kept.is_empty(), "{query}");
        for row in &kept {
            assert!(cc(&row["cc"]) >= (8, 0), "{query}: {row}");
            assert_eq!(row["segment"], "datacenter", "{query}: {row}");
            assert_eq!(row["integrated"], false, "{query}: {row}");
        }
        let text = run(&["catalog", "gpus", "--where", query]).expect(0);
        assert_eq!(text.stdout.lines().count(), kept.len(), "{query}");
    }
    // The L40S is 8.9 (Ada), a data-center card: NVIDIA's CUDA GPUs page.
    let ada = rows("gpus", "architecture=ada, name~l40");
    let names: Vec<&str> = ada.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"NVIDIA L40S") && names.contains(&"NVIDIA L40"));
    let quoted = rows("gpus", "name=\"NVIDIA RTX 6000 Ada Generation\"");
    assert_eq!(quoted.len(), 1);
    assert_eq!(quoted[0]["cc"], "8.9");
    // A positional query and --where both apply.
    let both = run(&[
        "catalog", "gpus", "A100", "--where", "cc>=9.0", "--format", "json",
    ])
    .expect(0);
    assert_eq!(both.json(), Value::Array(Vec::new()));
}

#[test]
fn toolkits_by_target_and_driver() {
    // CUDA 11.8 is the first toolkit for sm_89 (its release notes: "support for the Ada
    // Lovelace architecture"); R535 first shipped with CUDA 12.2.
    let kept = rows("toolkits", "targets=sm_89 and driver<=535");
    let versions: Vec<Vec<u32>> = kept.iter().map(|t| version(&t["version"])).collect();
    assert_eq!(versions.first(), Some(&vec![11, 8]));
    assert_eq!(versions.last(), Some(&vec![12, 2]));
    for t in &kept {
        assert!(t["real_targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sm_89"));
        assert!(version(&t["driver"]["linux"])[0] <= 535);
    }
    // CUDA 13.0 removed every target below sm_75 (its release notes).
    let without = rows("toolkits", "targets!=sm_61");
    assert!(without
        .iter()
        .all(|t| version(&t["version"]) >= vec![13, 0]));
    assert!(!without.is_empty());
}

#[test]
fn every_table_answers_a_query() {
    // Family-specific targets arrived in CUDA 12.9 (its release notes).
    let family = rows("archs", "variant=family");
    assert!(!family.is_empty());
    for a in &family {
        assert!(a["arch"].as_str().unwrap().ends_with('f'), "{a}");
        assert!(version(&a["first_toolkit"]) >= vec![12, 9], "{a}");
    }
    // R535 and R580 are long-term support branches (NVIDIA's data-center driver docs).
    let ltsb = rows("drivers", "kind=LTSB, branch>=535");
    let branches: Vec<u64> = ltsb.iter().map(|b| b["branch"].as_u64().unwrap()).collect();
    assert!(
        branches.contains(&535) && branches.contains(&580),
        "{branches:?}"
    );
    assert!(ltsb.iter().all(|b| b["kind"] == "LTSB"));
    // PyTorch 2.7 was the first release with CUDA 12.8 wheels (its release notes).
    let torch = rows("torch", "cuda=12.8");
    assert_eq!(
        torch.first().map(|r| r["version"].clone()),
        Some("2.7".into())
    );
    for r in &torch {
        let tags: Vec<&str> = r["variants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["tag"].as_str().unwrap())
            .collect();
        assert!(tags.contains(&"cu128"), "{r}");
    }
    let images = rows("images", "version>=12.4, deleted=false");
    assert!(!images.is_empty());
    for i in &images {
        assert!(version(&i["version"]) >= vec![12, 4], "{i}");
        assert_eq!(i["deleted"], false);
    }
}

#[test]
fn a_bad_query_is_exit_2_with_the_column_and_the_fields() {
    let r = run(&["catalog", "gpus", "--where", "cc>=eight"]).expect(2);
    assert!(r.stderr.contains("bad-query"), "{}", r.stderr);
    assert!(r.stderr.contains("column 5"), "{}", r.stderr);
    assert!(r.stderr.contains("segment"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    let r = run(&[
        "catalog",
        "toolkits",
        "--where",
        "verison>=12",
        "--format",
        "json",
    ])
    .expect(2);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["code"], "bad-query");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `version`"),
        "{d}"
    );
    assert!(d["help"].as_str().unwrap().contains("ptx_isa"), "{d}");

    for query in [
        "",
        "cc>=8.0,",
        "segment>datacenter",
        "name=\"L40S",
        "cc=8.0 or cc=9.0",
    ] {
        let r = run(&["catalog", "gpus", "--where", query]).expect(2);
        assert!(r.stderr.contains("bad-query"), "{query}: {}", r.stderr);
    }
}

fn profile(name: &str) -> Value {
    let r = run(&["explain", "gpu", name, "--format", "json"]).expect(0);
    let doc = r.json();
    assert_eq!(doc["ok"], true);
    doc["profiles"][0].clone()
}

#[test]
fn explain_gpu_l40s_in_json() {
    let p = profile("L40S");
    assert_eq!(p["cc"], "8.9");
    assert_eq!(p["architecture"], "Ada");
    assert_eq!(p["gpus"][0]["name"], "NVIDIA L40S");
    let native = &p["toolkits"]["native"][0];
    assert_eq!(native["code"], "sm_89");
    assert_eq!(native["first"], "11.8");
    // CUDA 11.8 GA shipped with Linux driver 520.61.05 (CUDA release notes, Table 3);
    // that driver is R520.
    let min = &p["drivers"]["min_driver"];
    assert_eq!(min["toolkit"], "11.8");
    assert_eq!(min["linux"], "520.61.05");
    assert_eq!(p["drivers"]["branches"][0]["branch"], 520);
    assert_eq!(p["drivers"]["last_branch"], Value::Null);
    // CUDA 11.1 added sm_86 (GA10x), whose cubins run on 8.9 (same major, lower minor).
    let by_toolkit = p["toolkits"]["by_toolkit"].as_array().unwrap();
    let of = |v: &str| {
        by_toolkit
            .iter()
            .find(|t| t["version"] == v)
            .unwrap()
            .clone()
    };
    assert_eq!(of("11.1")["verdict"], "compatible");
    assert_eq!(of("11.1")["code"], "sm_86");
    assert_eq!(of("11.8")["verdict"], "native");
    // Torch's wheels list sm_86 but not sm_89 (the torch table): compatible, never native.
    let torch = all_rows("torch");
    for w in p["torch"]["wheels"].as_array().unwrap() {
        let release = torch.iter().find(|r| r["version"] == w["torch"]).unwrap();
        let variant = release["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["tag"] == w["variant"])
            .unwrap();
        let sass: Vec<&str> = variant["sass"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        if sass.contains(&"8.6") {
            assert_eq!(
                (&w["verdict"], &w["code"]),
                (&"compatible".into(), &"sm_86".into()),
                "{w}"
            );
        }
        assert_ne!(w["verdict"], "native", "{w}");
    }
    let groups = p["torch"]["groups"].as_array().unwrap();
    let total: u64 = groups.iter().map(|g| g["wheels"].as_u64().unwrap()).sum();
    assert_eq!(
        total as usize,
        p["torch"]["wheels"].as_array().unwrap().len()
    );
}

#[test]
fn explain_gpu_l40s_in_text() {
    let r = run(&["explain", "gpu", "L40S"]).expect(0);
    let out = &r.stdout;
    for expected in [
        "NVIDIA L40S: compute capability 8.9, Ada",
        "sm_89 (CUDA 11.8",
        "520.61.05",
        "R520",
        "sm_86 cubin (compatible)",
        "no wheel carries native code for 8.9",
    ] {
        assert!(out.contains(expected), "`{expected}` missing from:\n{out}");
    }
}

#[test]
fn explain_gpu_by_capability_and_dropped_architectures() {
    let p = profile("8.9");
    let gpus = p["gpus"].as_array().unwrap();
    assert!(gpus.len() > 1);
    assert!(gpus.iter().all(|g| g["cc"] == "8.9"));
    assert_eq!(profile("sm_89")["gpus"], p["gpus"]);
    // Pascal: CUDA 13.0 dropped sm_60, and R580 is Pascal's last driver branch.
    let p100 = profile("Tesla P100");
    let spans = p100["toolkits"]["spans"].as_array().unwrap();
    let last = spans.last().unwrap();
    assert_eq!(
        (&last["first"], &last["verdict"]),
        (&"13.0".into(), &"none".into())
    );
    assert_eq!(p100["drivers"]["last_branch"], 580);
    // Jetson drivers come with JetPack, not the desktop branches.
    let orin = profile("Jetson AGX Orin");
    assert_eq!(orin["integrated"], true);
    assert_eq!(orin["drivers"]["branches"], Value::Array(Vec::new()));
}

#[test]
fn explain_gpu_unknown_is_exit_2_with_suggestions() {
    let r = run(&["explain", "gpu", "L40Z"]).expect(2);
    assert!(r.stderr.contains("unknown-gpu"), "{}", r.stderr);
    assert!(r.stderr.contains("NVIDIA L40S"), "{}", r.stderr);
    let r = run(&["explain", "gpu", "L40S", "Voodoo2", "--format", "json"]).expect(2);
    let d = r.json();
    assert_eq!(d["ok"], false);
    assert_eq!(d["diagnostics"][0]["code"], "unknown-gpu");
    run(&["explain", "gpu"]).expect(2);
    run(&["explain", "gpu", "L40S", "--format", "nvcc"]).expect(2);
}

#[test]
fn explain_code_is_unchanged() {
    let r = run(&["explain"]).expect(0);
    assert!(r.stdout.lines().any(|l| l.starts_with("bad-query ")));
    let r = run(&["explain", "target-not-covered"]).expect(0);
    assert!(r.stdout.starts_with("target-not-covered: "));
    assert!(r.stdout.contains("Exit code when it fires: 1"));
    run(&["explain", "no-such-code"]).expect(2);
    run(&["explain", "target-not-covered", "extra"]).expect(2);
}
