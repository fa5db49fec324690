//! A CUDA row-wise softmax (src/kernel.cu), compiled by build.rs for the GPUs named in
//! gpuarch.toml, with a safe Rust face.
//!
//! `cc` links the CUDA runtime statically (`cudart_static`, its default with
//! `.cuda(true)`), so a binary needs only the NVIDIA driver (libcuda.so) at run time.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::fmt;

/// The `-gencode` flags the kernel was compiled with (from gpuarch's plan).
pub const GENCODE: &str = env!("CUDA_KERNEL_GENCODE");
/// The CUDA toolkit version that compiled the kernel.
pub const CUDA_VERSION: &str = env!("CUDA_KERNEL_CUDA_VERSION");

mod ffi {
    use super::*;

    extern "C" {
        pub fn cuda_kernel_softmax_rows(
            d_in: *const f32,
            d_out: *mut f32,
            rows: c_int,
            cols: c_int,
            stream: *mut c_void,
        ) -> c_int;
        pub fn cuda_kernel_softmax_rows_host(
            h_in: *const f32,
            h_out: *mut f32,
            rows: c_int,
            cols: c_int,
        ) -> c_int;
        pub fn cuda_kernel_device_count(count: *mut c_int) -> c_int;
        pub fn cuda_kernel_binary_version(binary: *mut c_int, ptx: *mut c_int) -> c_int;
        pub fn cuda_kernel_error_string(err: c_int) -> *const c_char;
    }
}

/// A `cudaError_t` other than `cudaSuccess`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaError(pub i32);

impl CudaError {
    /// `cudaErrorInsufficientDriver`: the driver is older than the runtime.
    pub const INSUFFICIENT_DRIVER: CudaError = CudaError(35);
    /// `cudaErrorNoDevice`.
    pub const NO_DEVICE: CudaError = CudaError(100);
    /// `cudaErrorNoKernelImageForDevice`: the build has no code this GPU can run.
    pub const NO_KERNEL_IMAGE: CudaError = CudaError(209);

    fn check(code: c_int) -> Result<(), CudaError> {
        if code == 0 {
            Ok(())
        } else {
            Err(CudaError(code))
        }
    }
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: cudaGetErrorString returns a static, NUL-terminated string for any code.
        let text = unsafe { CStr::from_ptr(ffi::cuda_kernel_error_string(self.0)) };
        write!(f, "CUDA error {}: {}", self.0, text.to_string_lossy())
    }
}

impl std::error::Error for CudaError {}

/// Why [`softmax_rows`] refused its input.
#[derive(Debug, PartialEq, Eq)]
pub enum SoftmaxError {
    /// `cols` is zero, or does not divide the input's length, or a dimension exceeds `i32`.
    BadShape {
        len: usize,
        cols: usize,
    },
    Cuda(CudaError),
}

impl fmt::Display for SoftmaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SoftmaxError::BadShape { len, cols } => {
                write!(f, "{len} values are not a whole number of rows of {cols}")
            }
            SoftmaxError::Cuda(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SoftmaxError {}

impl From<CudaError> for SoftmaxError {
    fn from(e: CudaError) -> Self {
        SoftmaxError::Cuda(e)
    }
}

fn shape(len: usize, cols: usize) -> Result<(c_int, c_int), SoftmaxError> {
    let bad = || SoftmaxError::BadShape { len, cols };
    if len.checked_rem(cols) != Some(0) {
        return Err(bad());
    }
    let rows = c_int::try_from(len / cols).map_err(|_| bad())?;
    let cols = c_int::try_from(cols).map_err(|_| bad())?;
    Ok((rows, cols))
}

/// The softmax of each row of a row-major matrix with `cols` columns, on the GPU.
pub fn softmax_rows(input: &[f32], cols: usize) -> Result<Vec<f32>, SoftmaxError> {
    let (rows, cols_i) = shape(input.len(), cols)?;
    let mut out = vec![0.0f32; input.len()];
    // SAFETY: both buffers hold rows * cols floats; the call is synchronous.
    let code = unsafe {
        ffi::cuda_kernel_softmax_rows_host(input.as_ptr(), out.as_mut_ptr(), rows, cols_i)
    };
    CudaError::check(code)?;
    Ok(out)
}

/// Launches the kernel on device buffers, asynchronously on `stream` (null: the
/// default stream).
///
/// # Safety
/// `d_in` and `d_out` must be device pointers to `rows * cols` floats that stay valid
/// until the stream has run the kernel, and `stream` a valid `cudaStream_t` or null.
pub unsafe fn softmax_rows_device(
    d_in: *const f32,
    d_out: *mut f32,
    rows: i32,
    cols: i32,
    stream: *mut c_void,
) -> Result<(), CudaError> {
    CudaError::check(ffi::cuda_kernel_softmax_rows(
        d_in, d_out, rows, cols, stream,
    ))
}

/// How many CUDA devices the runtime sees.
pub fn device_count() -> Result<usize, CudaError> {
    let mut n: c_int = 0;
    // SAFETY: writes one int.
    CudaError::check(unsafe { ffi::cuda_kernel_device_count(&mut n) })?;
    Ok(n.max(0) as usize)
}

/// The code the current device runs for the kernel, as (cubin or JIT target, PTX
/// version), each `major * 10 + minor`; `NO_KERNEL_IMAGE` when the build has none.
pub fn kernel_binary_version() -> Result<(i32, i32), CudaError> {
    let (mut binary, mut ptx) = (0, 0);
    // SAFETY: writes two ints.
    CudaError::check(unsafe { ffi::cuda_kernel_binary_version(&mut binary, &mut ptx) })?;
    Ok((binary, ptx))
}

/// The same softmax on the CPU, in f64: the reference the GPU result is tested against.
pub fn softmax_rows_cpu(input: &[f32], cols: usize) -> Result<Vec<f32>, SoftmaxError> {
    shape(input.len(), cols)?;
    let mut out = Vec::with_capacity(input.len());
    for row in input.chunks(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
        out.extend(row.iter().map(|&x| ((x as f64 - max).exp() / sum) as f32));
    }
    Ok(out)
}
