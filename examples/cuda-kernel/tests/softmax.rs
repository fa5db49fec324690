//! The GPU tests skip (with a message) where there is no GPU or driver, so `cargo test`
//! still checks that the crate builds and links against the CUDA runtime.

use cuda_kernel::{device_count, kernel_binary_version, softmax_rows, softmax_rows_cpu};

fn input(rows: usize, cols: usize) -> Vec<f32> {
    // Deterministic, with a wide range so the max subtraction matters.
    (0..rows * cols)
        .map(|i| (((i * 7919) % 1000) as f32 / 1000.0 - 0.5) * 40.0)
        .collect()
}

fn gpu() -> bool {
    match device_count() {
        Ok(n) if n > 0 => true,
        Ok(_) => {
            eprintln!("skipped: no CUDA device");
            false
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[test]
fn the_cpu_reference_sums_to_one() {
    let x = input(3, 1000);
    let y = softmax_rows_cpu(&x, 1000).unwrap();
    for row in y.chunks(1000) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-4, "{s}");
    }
    assert!(softmax_rows_cpu(&x, 7).is_err());
}

#[test]
fn the_build_is_planned_by_gpuarch() {
    assert!(
        cuda_kernel::GENCODE.contains("-gencode="),
        "{}",
        cuda_kernel::GENCODE
    );
}

#[test]
fn gpu_matches_cpu() {
    if !gpu() {
        return;
    }
    let (binary, ptx) = kernel_binary_version().expect("a kernel image for this GPU");
    eprintln!(
        "running sm_{binary} code (PTX {ptx}); built with {}",
        cuda_kernel::GENCODE
    );
    // Rows narrower than, equal to and wider than the block, and a ragged tail.
    for cols in [1usize, 31, 256, 1000, 4097] {
        let x = input(17, cols);
        let got = softmax_rows(&x, cols).unwrap();
        let want = softmax_rows_cpu(&x, cols).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-5 + 1e-4 * w.abs(),
                "cols {cols}: {g} vs {w}"
            );
        }
    }
}
