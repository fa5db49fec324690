//! The text a host keeps about its driver: `/proc/driver/nvidia/version` in its
//! proprietary, open-module and Jetson forms, and the versions in driver library names.

// Kernel modules print a Jetson Linux (L4T) release (`35.3.1`) where other modules print
// a driver version; the entrypoint's constant tells them apart.
use crate::deploy::entrypoint::FIRST_DRIVER_MAJOR;
use crate::version::Version;

/// The loaded NVIDIA kernel module, from `/proc/driver/nvidia/version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelModule {
    /// The driver version (`535.154.05`), or on Jetson the L4T release (`35.3.1`).
    pub version: Version,
    /// The open kernel module (`NVIDIA UNIX Open Kernel Module for x86_64`).
    pub open: bool,
    /// The CPU architecture it was built for (`x86_64`, `aarch64`), where it says.
    pub arch: Option<String>,
    /// Whether `version` is a Jetson Linux release rather than a driver version.
    pub jetson: bool,
    /// The `GCC version:` line's text.
    pub gcc: Option<String>,
    /// The `NVRM version:` line as written, for reports.
    pub line: String,
}

impl KernelModule {
    /// The driver version, unless the module reports a Jetson Linux release.
    pub fn driver(&self) -> Option<Version> {
        (!self.jetson).then_some(self.version)
    }
}

/// Reads `/proc/driver/nvidia/version`:
///
/// ```text
/// NVRM version: NVIDIA UNIX x86_64 Kernel Module  384.98  Thu Oct 26 15:16:01 PDT 2017
/// NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build  (...)  ...
/// NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  35.3.1  Release Build  (...)  ...
/// GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)
/// ```
///
/// `None` when there is no `NVRM version:` line with a version on it.
pub fn parse_kernel_module(text: &str) -> Option<KernelModule> {
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("NVRM version:"))?;
    let at = line.find("Kernel Module")?;
    let before: Vec<&str> = line[..at].split_whitespace().collect();
    let mut after = line[at + "Kernel Module".len()..]
        .split_whitespace()
        .peekable();
    let open = before.contains(&"Open");
    let mut arch = None;
    if after.peek() == Some(&"for") {
        after.next();
        arch = after.next().map(str::to_string);
    }
    if arch.is_none() {
        // The proprietary module names the architecture between "UNIX" and "Kernel".
        arch = before
            .iter()
            .skip_while(|w| **w != "UNIX")
            .skip(1)
            .find(|w| **w != "Open")
            .map(|w| w.to_string());
    }
    let version = after
        .filter_map(|w| w.parse::<Version>().ok())
        .find(|v| v.parts >= 2)?;
    let gcc = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("GCC version:"))
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    Some(KernelModule {
        version,
        open,
        arch,
        jetson: version.major < FIRST_DRIVER_MAJOR,
        gcc,
        line: format!("NVRM version:{}", line.trim_end()),
    })
}

/// The version in a driver library's file name: `libcuda.so.535.154.05` with stem
/// `libcuda` is 535.154.05. `libcuda.so.1` (the soname link) has none; Jetson's and WSL's
/// `libcuda.so.1.1` gives 1.1, which is not a driver version (see [`is_driver_version`]).
pub fn library_version(file_name: &str, stem: &str) -> Option<Version> {
    let rest = file_name.strip_prefix(stem)?.strip_prefix(".so.")?;
    let v: Version = rest.parse().ok()?;
    (v.parts >= 2).then_some(v)
}

/// Whether a version read from a library name or nvidia-smi is a driver version (Jetson
/// and WSL name their libraries `.so.1.1`).
pub fn is_driver_version(v: &Version) -> bool {
    v.major >= FIRST_DRIVER_MAJOR
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured texts: see tests/fixtures/hosts/README.md for their sources.
    const PROPRIETARY: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  384.98  Thu Oct 26 15:16:01 PDT 2017\nGCC version:  gcc version 7.2.0 (Ubuntu 7.2.0-8ubuntu3) \n";
    const OPEN: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build  (dvs-builder@U16-A24-9-2)  Thu Oct 10 12:15:00 UTC 2024\nGCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n";
    const JETSON: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  35.3.1  Release Build  (buildbrain@mobile-u64-6289-d7000)  Sun Mar 19 08:09:33 PDT 2023\nGCC version:  gcc version 9.3.0 (Buildroot 2020.08) \n";

    #[test]
    fn reads_the_proprietary_module() {
        let m = parse_kernel_module(PROPRIETARY).unwrap();
        assert_eq!(m.version.to_string(), "384.98");
        assert!(!m.open && !m.jetson);
        assert_eq!(m.arch.as_deref(), Some("x86_64"));
        assert_eq!(
            m.gcc.as_deref(),
            Some("gcc version 7.2.0 (Ubuntu 7.2.0-8ubuntu3)")
        );
        assert_eq!(m.driver(), Some(m.version));
    }

    #[test]
    fn reads_the_open_module_whose_line_says_for_arch() {
        // The regex `Module  ([0-9.]+)` of nixGL broke on exactly this line.
        let m = parse_kernel_module(OPEN).unwrap();
        assert_eq!(m.version.to_string(), "565.57.01");
        assert!(m.open);
        assert_eq!(m.arch.as_deref(), Some("x86_64"));
    }

    #[test]
    fn a_jetson_module_reports_a_release_not_a_driver() {
        let m = parse_kernel_module(JETSON).unwrap();
        assert_eq!(m.version.to_string(), "35.3.1");
        assert!(m.jetson && m.open);
        assert_eq!(m.arch.as_deref(), Some("aarch64"));
        assert_eq!(m.driver(), None);
    }

    #[test]
    fn text_without_a_version_line_is_no_module() {
        assert_eq!(parse_kernel_module(""), None);
        assert_eq!(parse_kernel_module("GCC version: gcc 12\n"), None);
        assert_eq!(
            parse_kernel_module("NVRM version: NVIDIA UNIX x86_64 Kernel Module\n"),
            None
        );
    }

    #[test]
    fn library_names_give_their_driver_version() {
        let v = library_version("libcuda.so.535.154.05", "libcuda").unwrap();
        assert_eq!(v.to_string(), "535.154.05");
        assert!(is_driver_version(&v));
        assert_eq!(library_version("libcuda.so.1", "libcuda"), None);
        assert_eq!(library_version("libcuda.so", "libcuda"), None);
        assert_eq!(library_version("libcudart.so.12.4.127", "libcuda"), None);
        assert_eq!(
            library_version("libnvidia-ml.so.550.54.15", "libnvidia-ml")
                .unwrap()
                .to_string(),
            "550.54.15"
        );
        let tegra = library_version("libcuda.so.1.1", "libcuda").unwrap();
        assert!(!is_driver_version(&tegra));
    }
}
