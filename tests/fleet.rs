//! End-to-end tests of fleets (`--inventory` on plan, check and verify; node groups; the
//! nodeAffinity), of the CI formats (`--format github|junit|markdown|sarif`), of
//! `plan --format matrix` and of the shell completions, all through the real binary.
//!
//! Expected verdicts come from the compatibility rules (a T4 is 7.5, CUDA 12.x programs
//! need driver >= 525.60.13 and 13.x programs >= 580.65.06, an `sm_90a` cubin runs on 9.0
//! only), never from the binary's own output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-gpuarch");

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code, for {self:#?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture(path: &str) -> String {
    repo()
        .join("tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

fn gpuarch(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("gpuarch")
        .args(args)
        .env("NO_COLOR", "1")
        .env("PATH", "")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("GITHUB_WORKSPACE")
        .current_dir(std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cargo-gpuarch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A directory of this test's own.
fn scratch(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gpuarch-fleet-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One Kubernetes node as GPU Feature Discovery labels it (the newer driver labels).
struct KubeNode {
    name: &'static str,
    product: Option<&'static str>,
    cc: &'static str,
    driver: &'static str,
}

/// `kubectl get nodes -o json` of these nodes.
fn kube_list(nodes: &[KubeNode]) -> String {
    let items: Vec<Value> = nodes
        .iter()
        .map(|n| {
            let mut labels = serde_json::Map::new();
            labels.insert("kubernetes.io/hostname".into(), n.name.into());
            if let Some(product) = n.product {
                let (major, minor) = n.cc.split_once('.').unwrap();
                let mut driver = n.driver.split('.');
                for (k, v) in [
                    ("nvidia.com/gpu.product", product),
                    ("nvidia.com/gpu.count", "1"),
                    ("nvidia.com/gpu.compute.major", major),
                    ("nvidia.com/gpu.compute.minor", minor),
                    ("nvidia.com/cuda.driver-version.full", n.driver),
                    (
                        "nvidia.com/cuda.driver-version.major",
                        driver.next().unwrap(),
                    ),
                    (
                        "nvidia.com/cuda.driver-version.minor",
                        driver.next().unwrap(),
                    ),
                    (
                        "nvidia.com/cuda.driver-version.revision",
                        driver.next().unwrap_or(""),
                    ),
                ] {
                    labels.insert(k.into(), v.into());
                }
            }
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": n.name, "labels": labels},
                "status": {"capacity": if n.product.is_some() {
                    serde_json::json!({"cpu": "8", "nvidia.com/gpu": "1"})
                } else {
                    serde_json::json!({"cpu": "8"})
                }},
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }))
    .unwrap()
}

/// Kubernetes' nodeAffinity semantics (terms ORed, expressions ANDed; `In` on the string,
/// `Gt`/`Lt` on integers, a missing label fails), written here independently of gpuarch.
fn admits(affinity: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        .as_array()
        .unwrap();
    assert!(
        !terms.is_empty(),
        "an empty term list is invalid in Kubernetes"
    );
    terms.iter().any(|term| {
        term["matchExpressions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| {
                let Some(value) = labels
                    .get(e["key"].as_str().unwrap())
                    .and_then(Value::as_str)
                else {
                    return false;
                };
                let values: Vec<&str> = e["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                match e["operator"].as_str().unwrap() {
                    "In" => values.contains(&value),
                    "NotIn" => !values.contains(&value),
                    "Gt" | "Lt" => {
                        assert_eq!(values.len(), 1, "Gt/Lt take one value");
                        let (Ok(a), Ok(b)) = (value.parse::<i64>(), values[0].parse::<i64>())
                        else {
                            return false;
                        };
                        if e["operator"] == "Gt" {
                            a > b
                        } else {
                            a < b
                        }
                    }
                    other => panic!("unexpected operator {other}"),
                }
            })
    })
}

fn node_status(fleet: &Value, name: &str) -> String {
    fleet["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("node {name} missing from {fleet}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Inventories in, verdicts per node group

#[test]
fn every_node_of_a_kubernetes_inventory_is_in_the_verdict_json_and_yaml_alike() {
    let mut seen = Vec::new();
    for file in ["kube/fleet.json", "kube/fleet.yaml"] {
        let path = fixture(&format!("inventories/{file}"));
        let text = std::fs::read_to_string(&path).unwrap();
        // Each item of the list is one Node object.
        let items = text
            .lines()
            .filter(|l| {
                let l = l.trim().trim_start_matches("- ");
                l == "\"kind\": \"Node\"," || l == "\"kind\": \"Node\"" || l == "kind: Node"
            })
            .count();
        let r = gpuarch(
            &[
                "check",
                "--gpu",
                "T4",
                "--cuda",
                "12.4",
                "--inventory",
                &path,
                "--format",
                "json",
            ],
            &[],
        )
        .expect(1);
        let fleet = r.json()["fleet"].clone();
        let nodes = fleet["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), items, "{file}: every node is kept");
        // T4 on R470 cannot run a CUDA 12.4 program (12.x needs >= 525.60.13).
        assert_eq!(
            node_status(&fleet, "gke-prod-gpu-t4-pool-5d3c9a1b-2xk9"),
            "fails"
        );
        assert_eq!(
            node_status(&fleet, "gke-prod-system-0a1b2c3d-q1w2"),
            "no-gpu"
        );
        assert_eq!(node_status(&fleet, "worker-p4000"), "unknown");
        assert_eq!(node_status(&fleet, "worker-no-gfd"), "unknown");
        let statuses: Vec<(String, String)> = nodes
            .iter()
            // An item without a name is named FILE:LINE, which differs between the files.
            .map(|n| {
                (
                    n["name"].to_string().replace(".yaml", ".json"),
                    n["status"].to_string(),
                )
            })
            .collect();
        seen.push(statuses);
        let groups = fleet["groups"].as_array().unwrap();
        let total: u64 = groups.iter().map(|g| g["nodes"].as_u64().unwrap()).sum();
        assert_eq!(total as usize, items, "every node is in exactly one group");
    }
    let unnamed = |s: &Vec<(String, String)>| -> Vec<(String, String)> {
        s.iter()
            .map(|(n, st)| {
                (
                    if n.contains(":") {
                        "FILE:LINE".into()
                    } else {
                        n.clone()
                    },
                    st.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        unnamed(&seen[0]),
        unnamed(&seen[1]),
        "JSON and YAML of the same nodes judge alike"
    );
}

#[test]
fn the_text_report_names_the_group_that_cannot_run_and_why() {
    let path = fixture("inventories/kube/fleet.json");
    let r = gpuarch(
        &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            &path,
        ],
        &[],
    )
    .expect(1);
    assert!(
        r.stdout.contains("`gpu-t4-pool` (Tesla T4, driver 470.256.02; node gke-prod-gpu-t4-pool-5d3c9a1b-2xk9) cannot run this build: the CUDA 12.4 runtime needs driver >= 525.60.13"),
        "{}",
        r.stdout
    );
    let summary = r
        .stdout
        .lines()
        .find(|l| l.contains("node groups can run this build"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(summary.starts_with("5 of 10 node groups"), "{summary}");
}

#[test]
fn an_inventory_plans_for_its_gpus_and_its_oldest_driver() {
    let dir = scratch("plan");
    // pdsh output of two hosts: a T4 on R535 and an L4 on R550.
    let csv = dir.join("hosts.csv");
    std::fs::write(
        &csv,
        "host-a: name, compute_cap, driver_version\nhost-a: Tesla T4, 7.5, 535.183.01\nhost-b: name, compute_cap, driver_version\nhost-b: NVIDIA L4, 8.9, 550.90.07\n",
    )
    .unwrap();
    let r = gpuarch(
        &[
            "plan",
            "--cuda",
            "12.4",
            "--inventory",
            csv.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    )
    .expect(0);
    let j = r.json();
    let codes: Vec<&str> = j["gencode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"sm_75") && codes.contains(&"sm_89"),
        "{codes:?}"
    );
    assert_eq!(
        j["driver_floor"]["linux"], "535.183.01",
        "the oldest host's driver"
    );
    let names: Vec<&str> = j["fleet"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["host-a", "host-b"]);
    // The targets point at the inventory line that named them.
    let t4 = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["cc"] == "7.5")
        .unwrap();
    assert!(
        t4["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("hosts.csv"),
        "{t4}"
    );
}

#[test]
fn every_nvidia_smi_fixture_reads_as_nodes_never_as_bad_input() {
    let dir = repo().join("tests/fixtures/inventories/smi");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "README.md" {
            continue;
        }
        let r = gpuarch(
            &[
                "check",
                "--gpu",
                "A100",
                "--cuda",
                "12.4",
                "--inventory",
                path.to_str().unwrap(),
                "--format",
                "json",
            ],
            &[],
        );
        if path.file_name().unwrap() == "csv-units-no-name.csv" {
            // A real dump of temperatures and clocks: no GPU name, capability or driver.
            assert_eq!(r.code, 2, "{r:#?}");
            assert!(r.stdout.contains("bad-inventory"), "{}", r.stdout);
            continue;
        }
        assert!(matches!(r.code, 0 | 1), "{}: {r:#?}", path.display());
        let nodes = r.json()["fleet"]["nodes"].as_array().unwrap().len();
        assert!(nodes >= 1, "{}", path.display());
        read += 1;
    }
    assert!(read >= 20, "{read} fixtures");
}

#[test]
fn nvidia_smi_error_text_is_a_node_judged_unknown() {
    let path = fixture("inventories/smi/error-no-driver.txt");
    let r = gpuarch(
        &[
            "check",
            "--gpu",
            "A100",
            "--cuda",
            "12.4",
            "--inventory",
            &path,
            "--format",
            "json",
        ],
        &[],
    );
    // Nothing fails, so the exit is 0; nothing is promised either, and it says so.
    let r = r.expect(0);
    let j = r.json();
    let nodes = j["fleet"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["status"], "unknown");
    assert_eq!(j["fleet"]["groups_unknown"], 1);
    assert_eq!(
        j["fleet"]["groups"][0]["hardware"],
        "GPU unknown, driver unknown"
    );
    let summary = j["fleet"]["summary"].as_str().unwrap();
    assert!(summary.ends_with("; 1 could not be judged"), "{summary}");
    let d = j["diagnostics"].as_array().unwrap();
    assert!(
        d.iter()
            .any(|d| d["code"] == "inventory-node-unknown" && d["level"] == "warning"),
        "{d:?}"
    );
    assert!(
        nodes[0]["problem"].as_str().unwrap().contains("driver"),
        "{}",
        nodes[0]
    );
}

#[test]
fn an_unreadable_inventory_is_bad_input_at_its_line() {
    let dir = scratch("bad");
    let path = dir.join("nodes.json");
    std::fs::write(
        &path,
        "{\n  \"kind\": \"List\",\n  \"items\": [\n    {\"kind\": \"Node\",, }\n  ]\n}\n",
    )
    .unwrap();
    let r = gpuarch(
        &[
            "plan",
            "--cuda",
            "12.4",
            "--inventory",
            path.to_str().unwrap(),
        ],
        &[],
    )
    .expect(2);
    assert!(r.stderr.contains("error[bad-inventory]"), "{}", r.stderr);
    assert!(r.stderr.contains("nodes.json:4:"), "{}", r.stderr);
    let pod = dir.join("pods.json");
    std::fs::write(
        &pod,
        "{\"kind\": \"List\", \"items\": [{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}]}",
    )
    .unwrap();
    let r = gpuarch(
        &[
            "plan",
            "--cuda",
            "12.4",
            "--inventory",
            pod.to_str().unwrap(),
        ],
        &[],
    )
    .expect(2);
    assert!(r.stderr.contains("not a Node"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------
// verify ARTIFACT --inventory: per-node verdicts and the nodeAffinity

/// k.o (tests/fixtures/artifacts) holds sm_75, sm_90a and sm_100f cubins and compute_90 PTX
/// of ISA 9.0, built by CUDA 13.0, whose programs need driver >= 580.65.06.
fn verify_fleet() -> (Vec<KubeNode>, Value) {
    let nodes = vec![
        KubeNode {
            name: "t4-new",
            product: Some("Tesla-T4"),
            cc: "7.5",
            driver: "580.65.06",
        },
        KubeNode {
            name: "t4-old",
            product: Some("Tesla-T4"),
            cc: "7.5",
            driver: "570.172.08",
        },
        KubeNode {
            name: "a100",
            product: Some("NVIDIA-A100-SXM4-80GB"),
            cc: "8.0",
            driver: "580.82.07",
        },
        KubeNode {
            name: "h100",
            product: Some("NVIDIA-H100-80GB-HBM3"),
            cc: "9.0",
            driver: "580.95.05",
        },
        KubeNode {
            name: "b200",
            product: Some("NVIDIA-B200"),
            cc: "10.0",
            driver: "580.65.06",
        },
        KubeNode {
            name: "cpu",
            product: None,
            cc: "",
            driver: "",
        },
    ];
    let dir = scratch("verify");
    let path = dir.join("nodes.json");
    std::fs::write(&path, kube_list(&nodes)).unwrap();
    let r = gpuarch(
        &[
            "verify",
            &fixture("artifacts/k.o"),
            "--gpu",
            "T4",
            "--cuda",
            "13.0",
            "--inventory",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    )
    .expect(1);
    (nodes, r.json())
}

#[test]
fn verify_says_which_nodes_run_the_artifact() {
    let (_, j) = verify_fleet();
    let fleet = &j["fleet"];
    assert_eq!(
        node_status(fleet, "t4-new"),
        "runs",
        "sm_75 cubin, driver at the 13.x floor"
    );
    assert_eq!(
        node_status(fleet, "t4-old"),
        "fails",
        "R570 is below CUDA 13's 580.65.06"
    );
    assert_eq!(
        node_status(fleet, "a100"),
        "fails",
        "no 8.x cubin; compute_90 PTX cannot JIT to 8.0"
    );
    assert_eq!(node_status(fleet, "h100"), "runs", "sm_90a runs on 9.0");
    assert_eq!(node_status(fleet, "b200"), "runs", "sm_100f runs on 10.0");
    assert_eq!(node_status(fleet, "cpu"), "no-gpu");
}

#[test]
fn the_node_affinity_admits_exactly_the_nodes_that_run_it() {
    let (nodes, j) = verify_fleet();
    let fleet = &j["fleet"];
    let affinity = &fleet["node_affinity"];
    assert!(affinity.is_object(), "{fleet}");
    let listed: Value = serde_json::from_str(&kube_list(&nodes)).unwrap();
    for item in listed["items"].as_array().unwrap() {
        let name = item["metadata"]["name"].as_str().unwrap();
        let labels = item["metadata"]["labels"].as_object().unwrap();
        let runs = node_status(fleet, name) == "runs";
        assert_eq!(admits(affinity, labels), runs, "{name}: {affinity}");
    }
}

#[test]
fn the_text_report_prints_the_affinity_as_yaml() {
    let dir = scratch("yaml");
    let path = dir.join("nodes.json");
    std::fs::write(
        &path,
        kube_list(&[
            KubeNode {
                name: "t4",
                product: Some("Tesla-T4"),
                cc: "7.5",
                driver: "580.65.06",
            },
            KubeNode {
                name: "a100",
                product: Some("NVIDIA-A100-SXM4-80GB"),
                cc: "8.0",
                driver: "580.82.07",
            },
        ]),
    )
    .unwrap();
    let r = gpuarch(
        &[
            "verify",
            &fixture("artifacts/k.o"),
            "--gpu",
            "T4",
            "--cuda",
            "13.0",
            "--inventory",
            path.to_str().unwrap(),
        ],
        &[],
    )
    .expect(1);
    for line in [
        "affinity:",
        "  nodeAffinity:",
        "    requiredDuringSchedulingIgnoredDuringExecution:",
        "      nodeSelectorTerms:",
        "            - key: nvidia.com/gpu.compute.major",
    ] {
        assert!(r.stdout.contains(line), "`{line}` in\n{}", r.stdout);
    }
}

// ---------------------------------------------------------------------------------------
// CI formats

#[test]
fn github_format_writes_outputs_annotations_and_a_summary() {
    let dir = scratch("github");
    let output = dir.join("output");
    let summary = dir.join("summary.md");
    let inventory = repo().join("tests/fixtures/inventories/kube/fleet.json");
    let r = gpuarch(
        &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            inventory.to_str().unwrap(),
            "--format",
            "github",
        ],
        &[
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_WORKSPACE", repo().to_str().unwrap()),
        ],
    )
    .expect(1);
    // The annotation points at the inventory line, relative to the workspace.
    assert!(
        r.stdout.lines().any(|l| l
            .starts_with("::error file=tests/fixtures/inventories/kube/fleet.json,line=4,")
            && l.contains("title=node-cannot-run")),
        "{}",
        r.stdout
    );
    let outputs = std::fs::read_to_string(&output).unwrap();
    for key in [
        "nvcc-flags=",
        "torch-cuda-arch-list=",
        "cuda=12.4",
        "ok=false",
        "matrix=",
    ] {
        assert!(outputs.contains(key), "{key} in\n{outputs}");
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("gpu-t4-pool"), "{md}");
}

#[test]
fn github_format_with_an_unwritable_output_file_is_cannot_write() {
    let r = gpuarch(
        &[
            "plan", "--gpu", "A100", "--cuda", "12.4", "--format", "github",
        ],
        &[("GITHUB_OUTPUT", "/nonexistent/dir/output")],
    )
    .expect(2);
    assert!(r.stderr.contains("error[cannot-write]"), "{}", r.stderr);
}

#[test]
fn junit_counts_one_case_per_target_and_node_group() {
    let inventory = fixture("inventories/kube/fleet.json");
    let r = gpuarch(
        &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            &inventory,
            "--format",
            "junit",
        ],
        &[],
    )
    .expect(1);
    let xml = &r.stdout;
    assert!(xml.starts_with("<?xml"), "{xml}");
    let groups = xml
        .matches("classname=\"gpuarch.check.node groups\"")
        .count();
    assert_eq!(groups, 11, "one test case per node group:\n{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    // The totals agree with the cases written.
    let cases = xml.matches("<testcase ").count();
    let total: usize = xml
        .split("<testsuite ")
        .skip(1)
        .map(|s| {
            let at = s.find("tests=\"").unwrap() + 7;
            s[at..s[at..].find('"').unwrap() + at]
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, cases);
}

#[test]
fn sarif_results_carry_rules_and_relative_locations() {
    let inventory = fixture("inventories/kube/fleet.json");
    let r = gpuarch(
        &[
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--inventory",
            &inventory,
            "--format",
            "sarif",
        ],
        &[("GITHUB_WORKSPACE", repo().to_str().unwrap())],
    )
    .expect(1);
    let j = r.json();
    assert_eq!(j["version"], "2.1.0");
    let run = &j["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"node-cannot-run"), "{rules:?}");
    for result in run["results"].as_array().unwrap() {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(!uri.starts_with('/'), "relative: {uri}");
        assert!(rules.contains(&result["ruleId"].as_str().unwrap()));
    }
}

#[test]
fn markdown_and_github_formats_work_for_verify_and_deploy_too() {
    let r = gpuarch(
        &[
            "verify",
            &fixture("artifacts/k.o"),
            "--gpu",
            "A100",
            "--cuda",
            "13.0",
            "--format",
            "markdown",
        ],
        &[],
    )
    .expect(1);
    assert!(r.stdout.contains("A100"), "{}", r.stdout);
    assert!(r.stdout.contains('|'), "a table: {}", r.stdout);
    let r = gpuarch(
        &[
            "deploy",
            "--gpu",
            "A100",
            "--min-driver",
            "460.32.03",
            "--torch",
            "1.12.1",
            "--image",
            "nvidia/cuda:10.2-base-ubuntu20.04",
            "--format",
            "junit",
        ],
        &[],
    )
    .expect(1);
    assert!(
        r.stdout.contains("classname=\"gpuarch.deploy.relations\""),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("<failure"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------
// plan --format matrix

#[test]
fn the_build_matrix_splits_the_plan_into_one_build_per_cubin() {
    let args = [
        "plan", "--gpu", "T4", "--gpu", "A100", "--gpu", "L4", "--gpu", "H100", "--cuda", "12.4",
    ];
    let plan = gpuarch(&[&args[..], &["--format", "json"]].concat(), &[])
        .expect(0)
        .json();
    let r = gpuarch(&[&args[..], &["--format", "matrix"]].concat(), &[]).expect(0);
    assert_eq!(r.stdout.lines().count(), 1, "one line, for $GITHUB_OUTPUT");
    let m = r.json();
    let include = m["include"].as_array().unwrap();
    let mut codes: Vec<String> = include
        .iter()
        .flat_map(|e| {
            e["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
        })
        .collect();
    codes.sort();
    let mut planned: Vec<String> = plan["gencode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["code"].as_str().unwrap().to_string())
        .collect();
    planned.sort();
    assert_eq!(codes, planned, "together the builds hold exactly the plan");
    for t in plan["targets"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let holding = include
            .iter()
            .filter(|e| e["gpus"].as_str().unwrap().split(", ").any(|g| g == name))
            .count();
        assert_eq!(holding, 1, "{name} is served by one build");
    }
    let sm75 = include.iter().find(|e| e["name"] == "sm_75").unwrap();
    assert_eq!(sm75["nvcc_flags"], "-gencode=arch=compute_75,code=sm_75");
    assert_eq!(sm75["torch_cuda_arch_list"], "7.5");
}

// ---------------------------------------------------------------------------------------
// Shell completions

fn bash_complete(script: &Path, words: &[&str]) -> Vec<String> {
    let line = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}'\nCOMP_WORDS=({line})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\nif [[ ${{COMP_WORDS[0]}} == cargo ]]; then _cargo_gpuarch_bridge cargo \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; else _gpuarch cargo-gpuarch \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; fi\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_cargo_gpuarch_commands_flags_and_values() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no bash");
        return;
    }
    let dir = scratch("completions");
    let script = dir.join("gpuarch.bash");
    let r = gpuarch(&["completions", "bash"], &[]).expect(0);
    std::fs::write(&script, &r.stdout).unwrap();
    assert_eq!(
        bash_complete(&script, &["cargo", "gpuarch", "pl"]),
        ["plan"]
    );
    assert_eq!(
        bash_complete(&script, &["cargo", "gpuarch", "plan", "--inv"]),
        ["--inventory"]
    );
    assert_eq!(
        bash_complete(&script, &["cargo", "gpuarch", "plan", "--format", "mat"]),
        ["matrix"]
    );
    assert_eq!(
        bash_complete(&script, &["cargo", "gpuarch", "catalog", "dr"]),
        ["drivers"]
    );
    assert_eq!(
        bash_complete(&script, &["cargo-gpuarch", "doct"]),
        ["doctor"]
    );
}

#[test]
fn every_shell_gets_a_script_and_zsh_plugs_into_cargos_own_completion() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = gpuarch(&["completions", shell], &[]).expect(0);
        assert!(r.stdout.contains("inventory"), "{shell}");
    }
    // zsh's cargo completion calls `_cargo-<subcommand>` for plugins (rust-lang/cargo
    // src/etc/_cargo), so `cargo gpuarch <TAB>` needs exactly this function.
    let zsh = gpuarch(&["completions", "zsh"], &[]).expect(0);
    assert!(
        zsh.stdout.starts_with("#compdef cargo-gpuarch"),
        "{}",
        &zsh.stdout[..80]
    );
    assert!(zsh.stdout.contains("_cargo-gpuarch() {"));
    let r = gpuarch(&["completions", "tcsh"], &[]).expect(2);
    assert!(r.stderr.contains("tcsh"), "{}", r.stderr);
}

#[test]
fn an_inventory_can_come_from_a_pipe_or_standard_input() {
    let path = fixture("inventories/kube/fleet.yaml");
    // `--inventory <(kubectl get nodes -o yaml)`: a pipe has no length and cannot be mapped.
    if let Ok(out) = Command::new("bash")
        .args([
            "-c",
            &format!(
                "'{BIN}' gpuarch check --gpu T4 --cuda 12.4 --format json --inventory <(cat '{path}')"
            ),
        ])
        .env("NO_COLOR", "1")
        .output()
    {
        let j: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(j["fleet"]["nodes"].as_array().unwrap().len(), 11);
    }
    // `kubectl get nodes -o json | cargo gpuarch check --inventory -`
    let mut child = Command::new(BIN)
        .args([
            "gpuarch",
            "check",
            "--gpu",
            "T4",
            "--cuda",
            "12.4",
            "--format",
            "json",
            "--inventory",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(fixture("inventories/kube/fleet.json")).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["fleet"]["nodes"].as_array().unwrap().len(), 11);
}
