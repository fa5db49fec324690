//! `cargo xtask gen-inventory --nodes N [--seed S] [--yaml] [-o FILE]`: a deterministic,
//! realistic `kubectl get nodes -o json` (or `-o yaml`) List for benchmarks of
//! `--inventory`.
//!
//! Each node is shaped like the GKE, EKS, AKS and Karpenter GPU nodes captured in public
//! issues and test data (see `tests/fixtures/inventories/kube/README.md`): 30 to 50 labels
//! with Node Feature Discovery and GPU Feature Discovery ones and a pool label, a handful
//! of annotations, taints, addresses, capacity and allocatable, five conditions, a few
//! images and nodeInfo: about 10 KB of JSON per node as kubectl indents it (6.4 KB as
//! YAML), at the small end of real nodes (the captured RKE2 node is 26 KB with its 18
//! images). Pools mix GPUs, MIG strategies, time-slicing, both GFD driver label forms and
//! several driver branches; about 5% of the nodes are CPU-only.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

pub fn run(args: &[String]) -> Result<()> {
    let mut nodes = None;
    let mut seed = 1u64;
    let mut yaml = false;
    let mut output: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--nodes" => nodes = Some(it.next().context("--nodes needs a number")?.parse()?),
            "--seed" => seed = it.next().context("--seed needs a number")?.parse()?,
            "--yaml" => yaml = true,
            "-o" | "--output" => output = Some(it.next().context("-o needs a file")?.into()),
            other => bail!(
                "unknown argument `{other}`: gen-inventory --nodes N [--seed S] [--yaml] [-o FILE]"
            ),
        }
    }
    let nodes: usize = nodes.context("gen-inventory needs --nodes N")?;
    let text = if yaml {
        nodes_yaml(nodes, seed)
    } else {
        nodes_json(nodes, seed)
    };
    match output {
        Some(path) => {
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} nodes, {} bytes ({} bytes per node) to {}",
                nodes,
                text.len(),
                text.len() / nodes.max(1),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `kubectl get nodes -o json` of `nodes` generated nodes: 4-space indentation, keys sorted.
pub fn nodes_json(nodes: usize, seed: u64) -> String {
    let list = node_list(nodes, seed);
    let mut out = String::with_capacity(nodes * 7000);
    write_json(&mut out, &list, 0);
    out.push('\n');
    out
}

/// `kubectl get nodes -o yaml` of the same nodes as [`nodes_json`].
pub fn nodes_yaml(nodes: usize, seed: u64) -> String {
    let list = node_list(nodes, seed);
    let mut out = String::with_capacity(nodes * 6000);
    let Value::Object(map) = &list else {
        unreachable!("a List is an object")
    };
    write_yaml_map(&mut out, map, 0);
    out
}

/// xorshift64*: deterministic for a seed on every platform, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            write!(s, "{:016x}", self.next()).unwrap();
        }
        s.truncate(len);
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

#[derive(Clone, Copy)]
enum Cloud {
    Gke,
    Eks,
    Aks,
    Karpenter,
}

/// The driver labels GFD writes: only the deprecated `cuda.driver.*` ones (before
/// k8s-device-plugin 0.15), or both forms (0.15 on).
#[derive(Clone, Copy, PartialEq)]
enum DriverLabels {
    Old,
    Both,
}

#[derive(Clone, Copy)]
enum Mig {
    None,
    /// `single`: every GPU split into `count` devices of one profile.
    Single(&'static str, u32),
    /// `mixed`: per GPU, profiles and counts; the rest of the GPUs whole.
    Mixed(&'static [(&'static str, u32)], u32),
}

struct Pool {
    name: &'static str,
    cloud: Cloud,
    instance: &'static str,
    /// NVML's name, as GFD writes it (spaces as `-`); `None` for CPU nodes.
    product: Option<&'static str>,
    cc: (u32, u32),
    family: &'static str,
    memory_mb: u32,
    gpus: u32,
    driver: &'static str,
    cuda: &'static str,
    labels: DriverLabels,
    mig: Mig,
    /// Time-slicing replicas per GPU (1: not shared).
    replicas: u32,
    /// Relative share of the fleet.
    weight: u64,
    cpus: u32,
    memory_ki: u64,
}

const POOLS: &[Pool] = &[
    Pool {
        name: "gpu-t4-pool",
        cloud: Cloud::Gke,
        instance: "n1-standard-8",
        product: Some("Tesla-T4"),
        cc: (7, 5),
        family: "turing",
        memory_mb: 15360,
        gpus: 1,
        driver: "470.256.02",
        cuda: "11.4",
        labels: DriverLabels::Old,
        mig: Mig::None,
        replicas: 1,
        weight: 20,
        cpus: 8,
        memory_ki: 30_786_160,
    },
    Pool {
        name: "a10g-inference",
        cloud: Cloud::Eks,
        instance: "g5.12xlarge",
        product: Some("NVIDIA-A10G"),
        cc: (8, 6),
        family: "ampere",
        memory_mb: 23028,
        gpus: 4,
        driver: "535.183.01",
        cuda: "12.2",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 1,
        weight: 18,
        cpus: 48,
        memory_ki: 195_784_400,
    },
    Pool {
        name: "l4-pool",
        cloud: Cloud::Gke,
        instance: "g2-standard-24",
        product: Some("NVIDIA-L4"),
        cc: (8, 9),
        family: "ampere",
        memory_mb: 23034,
        gpus: 2,
        driver: "550.90.07",
        cuda: "12.4",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 1,
        weight: 16,
        cpus: 24,
        memory_ki: 98_991_200,
    },
    Pool {
        name: "a100-40-mig",
        cloud: Cloud::Eks,
        instance: "p4d.24xlarge",
        product: Some("NVIDIA-A100-SXM4-40GB"),
        cc: (8, 0),
        family: "ampere",
        memory_mb: 4864,
        gpus: 8,
        driver: "535.104.05",
        cuda: "12.2",
        labels: DriverLabels::Both,
        mig: Mig::Single("1g.5gb", 7),
        replicas: 1,
        weight: 8,
        cpus: 96,
        memory_ki: 1_176_833_632,
    },
    Pool {
        name: "a100x80",
        cloud: Cloud::Aks,
        instance: "Standard_ND96amsr_A100_v4",
        product: Some("NVIDIA-A100-SXM4-80GB"),
        cc: (8, 0),
        family: "ampere",
        memory_mb: 81920,
        gpus: 8,
        driver: "550.127.05",
        cuda: "12.4",
        labels: DriverLabels::Both,
        mig: Mig::Mixed(&[("1g.10gb", 7), ("3g.40gb", 2)], 4),
        replicas: 1,
        weight: 6,
        cpus: 96,
        memory_ki: 1_900_000_000,
    },
    Pool {
        name: "h100-train",
        cloud: Cloud::Karpenter,
        instance: "p5.48xlarge",
        product: Some("NVIDIA-H100-80GB-HBM3"),
        cc: (9, 0),
        family: "hopper",
        memory_mb: 81559,
        gpus: 8,
        driver: "570.86.15",
        cuda: "12.8",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 1,
        weight: 8,
        cpus: 192,
        memory_ki: 2_097_152_000,
    },
    Pool {
        name: "l40s",
        cloud: Cloud::Karpenter,
        instance: "g6e.12xlarge",
        product: Some("NVIDIA-L40S"),
        cc: (8, 9),
        family: "ampere",
        memory_mb: 46068,
        gpus: 4,
        driver: "580.65.06",
        cuda: "13.0",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 1,
        weight: 10,
        cpus: 48,
        memory_ki: 392_000_000,
    },
    Pool {
        name: "t4-shared",
        cloud: Cloud::Eks,
        instance: "g4dn.xlarge",
        product: Some("Tesla-T4"),
        cc: (7, 5),
        family: "turing",
        memory_mb: 15360,
        gpus: 1,
        driver: "535.230.02",
        cuda: "12.2",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 4,
        weight: 9,
        cpus: 4,
        memory_ki: 15_896_328,
    },
    Pool {
        name: "system",
        cloud: Cloud::Gke,
        instance: "e2-standard-8",
        product: None,
        cc: (0, 0),
        family: "",
        memory_mb: 0,
        gpus: 0,
        driver: "",
        cuda: "",
        labels: DriverLabels::Both,
        mig: Mig::None,
        replicas: 1,
        weight: 5,
        cpus: 8,
        memory_ki: 32_880_180,
    },
];

fn node_list(nodes: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let total: u64 = POOLS.iter().map(|p| p.weight).sum();
    let suffixes: Vec<String> = POOLS.iter().map(|_| rng.hex(8)).collect();
    let items: Vec<Value> = (0..nodes)
        .map(|i| {
            let mut pick = rng.below(total);
            let index = POOLS
                .iter()
                .position(|p| {
                    if pick < p.weight {
                        true
                    } else {
                        pick -= p.weight;
                        false
                    }
                })
                .unwrap_or(0);
            node(&mut rng, &POOLS[index], &suffixes[index], i)
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": { "resourceVersion": "" },
    })
}

fn node(rng: &mut Rng, pool: &Pool, suffix: &str, index: usize) -> Value {
    let zone = ["a", "b", "c"][rng.below(3) as usize];
    let ip = format!(
        "10.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
    let (name, region, provider_id) = match pool.cloud {
        Cloud::Gke => (
            format!("gke-prod-{}-{}-{}", pool.name, suffix, rng.hex(4)),
            "us-central1",
            format!("gce://prod-project/us-central1-{zone}/gke-prod-{}-{index}", pool.name),
        ),
        Cloud::Eks | Cloud::Karpenter => (
            format!("ip-{}.us-west-2.compute.internal", ip.replace('.', "-")),
            "us-west-2",
            format!("aws:///us-west-2{zone}/i-{}", rng.hex(17)),
        ),
        Cloud::Aks => (
            format!("aks-{}-{}-vmss{:06x}", pool.name, &suffix[..8], index),
            "eastus",
            format!(
                "azure:///subscriptions/{}/resourceGroups/mc_prod/providers/Microsoft.Compute/virtualMachineScaleSets/aks-{}/virtualMachines/{index}",
                rng.uuid(),
                pool.name
            ),
        ),
    };

    let mut labels = Map::new();
    let mut put = |k: &str, v: String| {
        labels.insert(k.to_string(), Value::String(v));
    };
    put("beta.kubernetes.io/instance-type", pool.instance.into());
    put("kubernetes.io/arch", "amd64".into());
    put("kubernetes.io/hostname", name.clone());
    put("kubernetes.io/os", "linux".into());
    put("node.kubernetes.io/instance-type", pool.instance.into());
    put("topology.kubernetes.io/region", region.into());
    put("topology.kubernetes.io/zone", format!("{region}-{zone}"));
    match pool.cloud {
        Cloud::Gke => {
            put("cloud.google.com/gke-boot-disk", "pd-balanced".into());
            put(
                "cloud.google.com/gke-container-runtime",
                "containerd".into(),
            );
            put("cloud.google.com/gke-nodepool", pool.name.into());
            put("cloud.google.com/gke-os-distribution", "cos".into());
            put(
                "cloud.google.com/machine-family",
                pool.instance.split('-').next().unwrap_or("").into(),
            );
        }
        Cloud::Eks => {
            put("eks.amazonaws.com/capacityType", "ON_DEMAND".into());
            put("eks.amazonaws.com/nodegroup", pool.name.into());
            put(
                "eks.amazonaws.com/nodegroup-image",
                format!("ami-{}", rng.hex(17)),
            );
            put("k8s.io/cloud-provider-aws", rng.hex(32));
        }
        Cloud::Aks => {
            put("agentpool", pool.name.into());
            put("kubernetes.azure.com/agentpool", pool.name.into());
            put("kubernetes.azure.com/cluster", "MC_prod_prod_eastus".into());
            put("kubernetes.azure.com/mode", "user".into());
            put(
                "kubernetes.azure.com/node-image-version",
                "AKSUbuntu-2204gen2containerd-202501.12.0".into(),
            );
        }
        Cloud::Karpenter => {
            put(
                "karpenter.k8s.aws/instance-family",
                pool.instance.split('.').next().unwrap_or("").into(),
            );
            put("karpenter.sh/capacity-type", "on-demand".into());
            put("karpenter.sh/initialized", "true".into());
            put("karpenter.sh/nodepool", pool.name.into());
            put("karpenter.sh/registered", "true".into());
        }
    }
    for feature in ["AVX2", "AVX512F"] {
        put(
            &format!("feature.node.kubernetes.io/cpu-cpuid.{feature}"),
            "true".into(),
        );
    }
    put(
        "feature.node.kubernetes.io/kernel-version.full",
        "5.15.0-1071-aws".into(),
    );
    put(
        "feature.node.kubernetes.io/system-os_release.ID",
        "ubuntu".into(),
    );

    let mut capacity = Map::new();
    capacity.insert("cpu".into(), json!(pool.cpus.to_string()));
    capacity.insert("ephemeral-storage".into(), json!("203056560Ki"));
    capacity.insert("hugepages-1Gi".into(), json!("0"));
    capacity.insert("hugepages-2Mi".into(), json!("0"));
    capacity.insert("memory".into(), json!(format!("{}Ki", pool.memory_ki)));
    capacity.insert("pods".into(), json!("110"));
    let mut taints = Vec::new();

    if let Some(product) = pool.product {
        taints.push(json!({"effect": "NoSchedule", "key": "nvidia.com/gpu", "value": "present"}));
        put("feature.node.kubernetes.io/pci-10de.present", "true".into());
        put(
            "nvidia.com/gfd.timestamp",
            (1_730_000_000 + rng.below(20_000_000)).to_string(),
        );
        put("nvidia.com/gpu.compute.major", pool.cc.0.to_string());
        put("nvidia.com/gpu.compute.minor", pool.cc.1.to_string());
        put("nvidia.com/gpu.family", pool.family.into());
        put("nvidia.com/gpu.machine", pool.instance.into());
        put("nvidia.com/gpu.present", "true".into());
        put("nvidia.com/gpu.deploy.device-plugin", "true".into());
        put(
            "nvidia.com/mig.capable",
            if matches!(pool.mig, Mig::None) {
                "false"
            } else {
                "true"
            }
            .into(),
        );
        let mut parts = pool.driver.split('.');
        let (major, minor, rev) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let (cuda_major, cuda_minor) = pool.cuda.split_once('.').unwrap_or((pool.cuda, "0"));
        put("nvidia.com/cuda.driver.major", major.into());
        put("nvidia.com/cuda.driver.minor", minor.into());
        put("nvidia.com/cuda.driver.rev", rev.into());
        put("nvidia.com/cuda.runtime.major", cuda_major.into());
        put("nvidia.com/cuda.runtime.minor", cuda_minor.into());
        if pool.labels == DriverLabels::Both {
            put("nvidia.com/cuda.driver-version.full", pool.driver.into());
            put("nvidia.com/cuda.driver-version.major", major.into());
            put("nvidia.com/cuda.driver-version.minor", minor.into());
            put("nvidia.com/cuda.driver-version.revision", rev.into());
            put("nvidia.com/cuda.runtime-version.full", pool.cuda.into());
            put("nvidia.com/cuda.runtime-version.major", cuda_major.into());
            put("nvidia.com/cuda.runtime-version.minor", cuda_minor.into());
            put(
                "nvidia.com/gpu.sharing-strategy",
                if pool.replicas > 1 {
                    "time-slicing"
                } else {
                    "none"
                }
                .into(),
            );
            put("nvidia.com/mps.capable", "false".into());
        }
        put("nvidia.com/gpu.memory", pool.memory_mb.to_string());
        put("nvidia.com/gpu.replicas", pool.replicas.to_string());
        let shared = if pool.replicas > 1 { "-SHARED" } else { "" };
        match pool.mig {
            Mig::None => {
                put("nvidia.com/gpu.count", pool.gpus.to_string());
                put("nvidia.com/gpu.product", format!("{product}{shared}"));
                capacity.insert(
                    "nvidia.com/gpu".into(),
                    json!((pool.gpus * pool.replicas).to_string()),
                );
            }
            Mig::Single(profile, per_gpu) => {
                put("nvidia.com/mig.strategy", "single".into());
                put("nvidia.com/gpu.count", (pool.gpus * per_gpu).to_string());
                put("nvidia.com/gpu.product", format!("{product}-MIG-{profile}"));
                put("nvidia.com/gpu.slices.gi", "1".into());
                put("nvidia.com/gpu.slices.ci", "1".into());
                put("nvidia.com/gpu.multiprocessors", "14".into());
                capacity.insert(
                    "nvidia.com/gpu".into(),
                    json!((pool.gpus * per_gpu).to_string()),
                );
            }
            Mig::Mixed(profiles, mig_gpus) => {
                put("nvidia.com/mig.strategy", "mixed".into());
                put("nvidia.com/gpu.count", pool.gpus.to_string());
                put("nvidia.com/gpu.product", product.into());
                capacity.insert(
                    "nvidia.com/gpu".into(),
                    json!((pool.gpus - mig_gpus).to_string()),
                );
                for (profile, per_gpu) in profiles {
                    let count = per_gpu * mig_gpus / profiles.len() as u32;
                    put(
                        &format!("nvidia.com/mig-{profile}.count"),
                        count.to_string(),
                    );
                    put(
                        &format!("nvidia.com/mig-{profile}.product"),
                        format!("{product}-MIG-{profile}"),
                    );
                    put(&format!("nvidia.com/mig-{profile}.replicas"), "1".into());
                    capacity.insert(
                        format!("nvidia.com/mig-{profile}"),
                        json!(count.to_string()),
                    );
                }
            }
        }
    }
    let mut allocatable = capacity.clone();
    allocatable.insert("cpu".into(), json!(format!("{}m", pool.cpus * 1000 - 90)));
    allocatable.insert("ephemeral-storage".into(), json!("187136925387"));
    allocatable.insert(
        "memory".into(),
        json!(format!("{}Ki", pool.memory_ki - 1_000_000)),
    );

    let created = format!(
        "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    );
    let heartbeat = "2025-11-20T09:41:27Z";
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": created,
            "message": message,
            "reason": reason,
            "status": status,
            "type": kind,
        })
    };
    let conditions = vec![
        condition(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        condition(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        condition(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        condition(
            "KernelDeadlock",
            "False",
            "KernelHasNoDeadlock",
            "kernel has no deadlock",
        ),
    ];
    let mut images: Vec<Value> = IMAGES
        .iter()
        .filter(|(_, gpu_only)| !gpu_only || pool.product.is_some())
        .map(|(name, _)| {
            json!({
                "names": [
                    format!("{name}@sha256:{}", rng.hex(64)),
                    (*name).to_string(),
                ],
                "sizeBytes": 300_000 + rng.below(900_000_000),
            })
        })
        .collect();
    images.sort_by_key(|i| std::cmp::Reverse(i["sizeBytes"].as_u64().unwrap_or(0)));

    let mut annotations = Map::new();
    annotations.insert("alpha.kubernetes.io/provided-node-ip".into(), json!(ip));
    annotations.insert(
        "csi.volume.kubernetes.io/nodeid".into(),
        json!(format!("{{\"ebs.csi.aws.com\":\"i-{}\"}}", rng.hex(17))),
    );
    annotations.insert("node.alpha.kubernetes.io/ttl".into(), json!("0"));
    annotations.insert(
        "volumes.kubernetes.io/controller-managed-attach-detach".into(),
        json!("true"),
    );
    annotations.insert(
        "nfd.node.kubernetes.io/feature-labels".into(),
        json!(labels
            .keys()
            .filter_map(|k| k
                .strip_prefix("feature.node.kubernetes.io/")
                .or_else(|| k.starts_with("nvidia.com/").then_some(k.as_str())))
            .collect::<Vec<_>>()
            .join(",")),
    );
    annotations.insert(
        "nfd.node.kubernetes.io/worker.version".into(),
        json!("v0.16.6"),
    );

    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": created,
            "labels": labels,
            "name": name,
            "resourceVersion": (1_000_000 + rng.below(90_000_000)).to_string(),
            "uid": rng.uuid(),
        },
        "spec": {
            "podCIDR": format!("100.64.{}.0/24", rng.below(256)),
            "podCIDRs": [format!("100.64.{}.0/24", rng.below(256))],
            "providerID": provider_id,
            "taints": taints,
        },
        "status": {
            "addresses": [
                {"address": ip, "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
            ],
            "allocatable": allocatable,
            "capacity": capacity,
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": rng.uuid(),
                "containerRuntimeVersion": "containerd://1.7.23",
                "kernelVersion": "5.15.0-1071-aws",
                "kubeProxyVersion": "v1.31.4",
                "kubeletVersion": "v1.31.4",
                "machineID": rng.hex(32),
                "operatingSystem": "linux",
                "osImage": "Ubuntu 22.04.5 LTS",
                "systemUUID": rng.uuid(),
            },
        },
    })
}

/// Images a node caches, and whether only GPU nodes pull them.
const IMAGES: &[(&str, bool)] = &[
    ("nvcr.io/nvidia/k8s-device-plugin:v0.17.0", true),
    (
        "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04",
        true,
    ),
    ("registry.k8s.io/kube-proxy:v1.31.4", false),
    ("registry.k8s.io/pause:3.10", false),
];

fn write_json(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) => {
            out.push_str("{\n");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.iter().enumerate() {
                push_indent(out, indent + 4);
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_json(out, &map[*key], indent + 4);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            push_indent(out, indent);
            out.push('}');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                push_indent(out, indent + 4);
                write_json(out, item, indent + 4);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            push_indent(out, indent);
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn push_indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// kubectl's YAML: block mappings with sorted keys, sequences at their key's column.
fn write_yaml_map(out: &mut String, map: &Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            push_indent(out, indent);
        }
        out.push_str(&yaml_scalar(key));
        out.push(':');
        write_yaml_value(out, &map[*key], indent);
    }
}

/// Writes the value of a key at column `indent`, from after its colon to a newline.
fn write_yaml_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str(" {}\n"),
        Value::Array(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Object(map) => {
            out.push('\n');
            push_indent(out, indent + 2);
            write_yaml_map(out, map, indent + 2);
        }
        Value::Array(items) => {
            out.push('\n');
            for item in items {
                push_indent(out, indent);
                out.push_str("- ");
                match item {
                    Value::Object(map) if !map.is_empty() => write_yaml_map(out, map, indent + 2),
                    other => {
                        out.push_str(&yaml_scalar_value(other));
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar_value(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar_value(value: &Value) -> String {
    match value {
        Value::String(s) => yaml_scalar(s),
        other => other.to_string(),
    }
}

/// A string as go-yaml writes it: plain where that reads back as the same string, else
/// double-quoted (JSON escapes are valid YAML ones).
fn yaml_scalar(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=, ()".contains(c));
    let looks_typed = s.parse::<f64>().is_ok()
        || [
            "true", "false", "null", "yes", "no", "on", "off", "~", "y", "n",
        ]
        .contains(&s.to_ascii_lowercase().as_str());
    let plain = !s.is_empty()
        && plain_chars
        && !looks_typed
        && !s.contains(": ")
        && !s.ends_with(':')
        && !s.starts_with([' ', '-', ':', ',', '@'])
        && !s.ends_with(' ');
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_valid_json_and_node_sized() {
        let a = nodes_json(200, 7);
        assert_eq!(a, nodes_json(200, 7));
        assert_ne!(a, nodes_json(200, 8));
        let v: Value = serde_json::from_str(&a).unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 200);
        let per_node = a.len() / 200;
        assert!(
            (5_000..=12_000).contains(&per_node),
            "{per_node} bytes per node"
        );
        let cpu = items
            .iter()
            .filter(|n| {
                n["metadata"]["labels"]
                    .get("nvidia.com/gpu.product")
                    .is_none()
            })
            .count();
        assert!((2..=25).contains(&cpu), "{cpu} CPU nodes of 200");
    }

    #[test]
    fn yaml_holds_the_same_nodes() {
        let yaml = nodes_yaml(20, 3);
        let json: Value = serde_json::from_str(&nodes_json(20, 3)).unwrap();
        for item in json["items"].as_array().unwrap() {
            let name = item["metadata"]["name"].as_str().unwrap();
            assert!(yaml.contains(&format!("\n    name: {name}\n")), "{name}");
        }
    }
}
