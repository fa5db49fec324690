//! The compat entrypoint: a POSIX sh script for an image's `ENTRYPOINT` that turns on the
//! CUDA forward-compatibility libraries (`/usr/local/cuda/compat`) exactly when the
//! host's kernel-module driver is older than the compat driver, says which case it saw,
//! and runs the container's command.
//!
//! The script widely copied from a cloud vendor's documentation never turns compat on
//! (`$$` where `&&` was meant, and `[ $(f) ]` on a function that prints nothing). This
//! one tests exit statuses, quotes every expansion, and compares versions number by
//! number in plain sh (no `sort -V`, which busybox lacks). It runs under dash, bash and
//! busybox sh, and is linted with shellcheck in CI.
//!
//! [`decide`] is the same decision in Rust, for reports.

use std::fmt;

use crate::version::Version;

/// Host "versions" below this major are Jetson Linux (L4T) releases (`35.3.1`), which
/// Jetson kernel modules print where other modules print a driver version; every Linux
/// driver since the 100.14 series (2007) is at or above it. The script uses the same
/// number, and so do `doctor` (reading `/proc/driver/nvidia/version` and library names)
/// and the fleet readers: one number, so they cannot disagree about what is a driver.
pub const FIRST_DRIVER_MAJOR: u32 = 100;

/// The entrypoint script, printed by `cargo gpuarch entrypoint`.
pub fn compat_entrypoint() -> String {
    SCRIPT.to_owned()
}

/// What the entrypoint does on a host, from the host's kernel-module version and the
/// compat driver's version (`None` where it cannot be read or there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompatDecision {
    /// Host driver older than the compat driver: the compat folder goes first on
    /// `LD_LIBRARY_PATH`.
    Enable { host: Version, compat: Version },
    /// Host driver newer than the compat driver: compat is not needed, and would fail
    /// with cudaErrorSystemDriverMismatch (803).
    NotNeeded { host: Version, compat: Version },
    /// The same driver version: compat is not needed.
    Equal { host: Version, compat: Version },
    /// No compat folder, no `libcuda.so.*` in it, or no version in their names.
    NoCompat,
    /// The host version file is missing or has no driver version on its
    /// `NVRM version:` line (no GPU given to the container, or no NVIDIA module).
    HostUnknown,
    /// The host reports a Jetson Linux release, which cannot be compared with a driver
    /// version.
    JetsonRelease { host: Version, compat: Version },
}

impl CompatDecision {
    /// Whether the entrypoint puts the compat folder on `LD_LIBRARY_PATH`.
    pub fn enables_compat(&self) -> bool {
        matches!(self, CompatDecision::Enable { .. })
    }
}

/// The entrypoint's decision, in the script's order: the compat driver first, then the
/// host; compat only when the host driver is strictly older.
pub fn decide(host: Option<&Version>, compat: Option<&Version>) -> CompatDecision {
    let Some(&compat) = compat else {
        return CompatDecision::NoCompat;
    };
    let Some(&host) = host else {
        return CompatDecision::HostUnknown;
    };
    if host.major < FIRST_DRIVER_MAJOR {
        CompatDecision::JetsonRelease { host, compat }
    } else if host < compat {
        CompatDecision::Enable { host, compat }
    } else if host > compat {
        CompatDecision::NotNeeded { host, compat }
    } else {
        CompatDecision::Equal { host, compat }
    }
}

/// The script's stderr line for this case, without `gpuarch-entrypoint: ` and without
/// the parenthesised details (paths) it adds.
impl fmt::Display for CompatDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LEFT_ALONE: &str = "LD_LIBRARY_PATH left alone";
        match self {
            CompatDecision::Enable { host, compat } => {
                write!(
                    f,
                    "host driver {host} < compat driver {compat}: compat enabled"
                )
            }
            CompatDecision::NotNeeded { host, compat } => write!(
                f,
                "host driver {host} > compat driver {compat}: compat not needed, {LEFT_ALONE}"
            ),
            CompatDecision::Equal { host, compat } => write!(
                f,
                "host driver {host} = compat driver {compat}: compat not needed, {LEFT_ALONE}"
            ),
            CompatDecision::NoCompat => {
                write!(f, "no compat driver: nothing to enable, {LEFT_ALONE}")
            }
            CompatDecision::HostUnknown => {
                write!(f, "host driver unknown: compat not enabled, {LEFT_ALONE}")
            }
            CompatDecision::JetsonRelease { host, compat } => write!(
                f,
                "host reports {host}, a Jetson Linux release, not a driver version comparable \
                 with compat driver {compat}: compat not enabled, {LEFT_ALONE}"
            ),
        }
    }
}

const SCRIPT: &str = r##"#!/bin/sh
# gpuarch compat entrypoint: turns on the CUDA forward-compatibility libraries of an
# nvidia/cuda image exactly when this host needs them, then runs the command.
# Generated by gpuarch (`cargo gpuarch entrypoint`). In a Dockerfile:
#   COPY gpuarch-entrypoint.sh /usr/local/bin/gpuarch-entrypoint
#   ENTRYPOINT ["/usr/local/bin/gpuarch-entrypoint"]
#
# The compat folder holds a user-mode driver (libcuda.so.1 -> libcuda.so.<version>). It
# works only under an OLDER kernel-module driver: under an equal or newer one CUDA fails
# with cudaErrorSystemDriverMismatch (803). So the folder goes in front of
# LD_LIBRARY_PATH exactly when host driver < compat driver, compared number by number,
# and the environment is left alone otherwise: newer or equal driver, no compat folder,
# no libcuda in it, a host version that cannot be read, or a Jetson (whose kernel module
# reports a Jetson Linux release, not a driver version). One line on stderr, starting
# with "gpuarch-entrypoint:", says which case it saw. Then it execs its arguments, or
# exits 0 if there are none.
#
# Variables:
#   GPUARCH_DRIVER_VERSION_FILE  the host's kernel-module version, on its "NVRM version:"
#                                line (default /proc/driver/nvidia/version)
#   GPUARCH_COMPAT_DIR           the compat folder (default /usr/local/cuda/compat)
#   GPUARCH_ENTRYPOINT_QUIET=1   do not print the line
set -eu

version_file=${GPUARCH_DRIVER_VERSION_FILE:-/proc/driver/nvidia/version}
compat_dir=${GPUARCH_COMPAT_DIR:-/usr/local/cuda/compat}
left_alone="compat not enabled, LD_LIBRARY_PATH left alone"

say() {
    if [ "${GPUARCH_ENTRYPOINT_QUIET:-}" != 1 ]; then
        printf 'gpuarch-entrypoint: %s\n' "$1" >&2
    fi
}

# Two or three dot-separated numbers of at most 9 digits (575.57.08, 580.142).
is_driver_version() {
    case $1 in
        '' | *[!0-9.]* | .* | *. | *..* | *.*.*.*) return 1 ;;
        *[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*) return 1 ;;
        *.*) return 0 ;;
        *) return 1 ;;
    esac
}

# Whether version $1 < version $2, number by number: 575.57.8 = 575.57.08, and a
# missing number counts as 0.
version_lt() {
    lt_a=$1
    lt_b=$2
    while [ -n "$lt_a" ] || [ -n "$lt_b" ]; do
        lt_x=${lt_a%%.*}
        lt_y=${lt_b%%.*}
        case $lt_a in *.*) lt_a=${lt_a#*.} ;; *) lt_a= ;; esac
        case $lt_b in *.*) lt_b=${lt_b#*.} ;; *) lt_b= ;; esac
        if [ "${lt_x:-0}" -lt "${lt_y:-0}" ]; then return 0; fi
        if [ "${lt_x:-0}" -gt "${lt_y:-0}" ]; then return 1; fi
    done
    return 1
}

# The compat driver: the version in the name libcuda.so.1 links to, else the highest
# libcuda.so.<version> in the folder.
compat_version=
compat_libcuda=no
if [ -L "$compat_dir/libcuda.so.1" ] && target=$(readlink "$compat_dir/libcuda.so.1" 2>/dev/null); then
    compat_libcuda=yes
    name=${target##*/}
    if is_driver_version "${name#libcuda.so.}"; then
        compat_version=${name#libcuda.so.}
    fi
fi
if [ -z "$compat_version" ] && [ -d "$compat_dir" ]; then
    for lib in "$compat_dir"/libcuda.so.*; do
        if [ -e "$lib" ] || [ -L "$lib" ]; then
            compat_libcuda=yes
            candidate=${lib##*/libcuda.so.}
            if is_driver_version "$candidate"; then
                if [ -z "$compat_version" ] || version_lt "$compat_version" "$candidate"; then
                    compat_version=$candidate
                fi
            fi
        fi
    done
fi

# The host driver: the first word of two or three dotted numbers on the "NVRM version:"
# line (proprietary "... x86_64 Kernel Module  535.104.05  ...", open "... Open Kernel
# Module for x86_64  570.86.15  Release Build ...", and the aarch64 forms).
host_version=
host_readable=no
if [ -f "$version_file" ] && [ -r "$version_file" ]; then
    host_readable=yes
    set -f
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
            'NVRM version:'*)
                for word in ${line#NVRM version:}; do
                    if is_driver_version "$word"; then
                        host_version=$word
                        break
                    fi
                done
                break
                ;;
        esac
    done <"$version_file"
    set +f
fi

if [ ! -d "$compat_dir" ]; then
    say "no compat driver (no folder $compat_dir): nothing to enable, LD_LIBRARY_PATH left alone"
elif [ "$compat_libcuda" = no ]; then
    say "no compat driver (no libcuda.so.* in $compat_dir): nothing to enable, LD_LIBRARY_PATH left alone"
elif [ -z "$compat_version" ]; then
    say "no compat driver (no version in the names of $compat_dir/libcuda.so.*): nothing to enable, LD_LIBRARY_PATH left alone"
elif [ "$host_readable" = no ]; then
    say "host driver unknown (cannot read $version_file: no NVIDIA kernel module visible): $left_alone"
elif [ -z "$host_version" ]; then
    say "host driver unknown (no version on the \"NVRM version:\" line of $version_file): $left_alone"
elif [ "${host_version%%.*}" -lt 100 ]; then
    say "host reports $host_version, a Jetson Linux release, not a driver version comparable with compat driver $compat_version: $left_alone (on a Jetson that needs compat, put $compat_dir on LD_LIBRARY_PATH yourself)"
elif version_lt "$host_version" "$compat_version"; then
    LD_LIBRARY_PATH=$compat_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
    say "host driver $host_version < compat driver $compat_version: compat enabled ($compat_dir put first on LD_LIBRARY_PATH)"
elif version_lt "$compat_version" "$host_version"; then
    case :${LD_LIBRARY_PATH:-}: in
        *":$compat_dir:"*) already=" (but it already lists $compat_dir, which this driver rejects: cudaErrorSystemDriverMismatch 803)" ;;
        *) already= ;;
    esac
    say "host driver $host_version > compat driver $compat_version: compat not needed, LD_LIBRARY_PATH left alone$already"
else
    say "host driver $host_version = compat driver $compat_version: compat not needed, LD_LIBRARY_PATH left alone"
fi

if [ "$#" -eq 0 ]; then
    exit 0
fi
exec "$@"
"##;

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Once;

    /// The `NVRM version:` lines the script must read, in the formats the kernel
    /// modules print.
    const PROPRIETARY: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  \
        Sat Aug 19 01:15:15 UTC 2023\nGCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n";
    const OPEN: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  \
        Release Build  (dvs-builder@U16-I3-C01-1)  Thu Jan 23 20:01:02 UTC 2025\n\
        GCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)\n";
    const AARCH64: &str = "NVRM version: NVIDIA UNIX aarch64 Kernel Module  580.65.06  \
        Sun Jul 27 06:54:38 UTC 2025\nGCC version:  gcc version 13.3.0\n";
    const OPEN_AARCH64: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  \
        550.127.05  Release Build  (dvs-builder@U16-I3-D02-2)  Tue Sep 24 12:00:00 UTC 2024\n";
    const JETSON: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  35.3.1  \
        Release Build  (builder@jetson)  Sun Mar 19 08:09:33 PDT 2023\n";

    /// The compat driver of the simulated image.
    const COMPAT: &str = "575.57.08";
    /// Prints the environment the command sees: `<unset>` when LD_LIBRARY_PATH is unset.
    const SHOW_PATH: &[&str] = &["sh", "-c", r#"printf %s "${LD_LIBRARY_PATH-<unset>}""#];

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    /// A shell to run the script with: the program and the arguments before the script.
    struct Shell {
        program: PathBuf,
        args: &'static [&'static str],
    }

    /// The shells the script must run under: bash, dash (Debian's /bin/sh), sh, and
    /// busybox sh where busybox is installed.
    fn shells() -> Vec<Shell> {
        static SKIPPED: Once = Once::new();
        let on_path = |name: &str| {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        };
        let dash = Some(PathBuf::from("/bin/dash"))
            .filter(|p| p.is_file())
            .or_else(|| on_path("dash"));
        let mut shells = Vec::new();
        for (name, found) in [
            ("bash", on_path("bash")),
            ("dash", dash),
            ("sh", on_path("sh")),
        ] {
            match found {
                Some(program) => shells.push(Shell { program, args: &[] }),
                None => SKIPPED.call_once(|| eprintln!("SKIPPED: {name} not installed")),
            }
        }
        if let Some(program) = on_path("busybox") {
            shells.push(Shell {
                program,
                args: &["sh"],
            });
        }
        assert!(!shells.is_empty(), "no shell to run the entrypoint with");
        shells
    }

    /// A simulated host: a temporary root, with a space in its name so that every
    /// unquoted path would break, holding the script, the version file and the compat
    /// folder.
    struct Host {
        root: PathBuf,
    }

    struct Run {
        code: i32,
        stdout: String,
        /// The one line the script wrote to stderr, without `gpuarch-entrypoint: `.
        line: String,
    }

    impl Host {
        fn new() -> Host {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "gpuarch entrypoint {}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            fs::write(root.join("entrypoint.sh"), compat_entrypoint()).unwrap();
            Host { root }
        }

        /// A host whose version file holds `version` and whose image has the compat
        /// driver [`COMPAT`], as nvidia/cuda images lay it out.
        fn with(version: &str) -> Host {
            let host = Host::new();
            host.version(version);
            host.compat_link(&format!("libcuda.so.{COMPAT}"));
            host
        }

        fn version_file(&self) -> PathBuf {
            self.root.join("proc/driver/nvidia/version")
        }

        fn compat_dir(&self) -> PathBuf {
            self.root.join("usr/local/cuda/compat")
        }

        fn compat(&self) -> String {
            self.compat_dir().to_str().unwrap().to_owned()
        }

        fn version(&self, text: &str) {
            let file = self.version_file();
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }

        /// `libcuda.so.1 -> target`, with the target file and the other compat libraries.
        fn compat_link(&self, target: &str) {
            self.compat_files(&[target, "libnvidia-ptxjitcompiler.so.1"]);
            symlink(target, self.compat_dir().join("libcuda.so.1")).unwrap();
        }

        fn compat_files(&self, names: &[&str]) {
            let dir = self.compat_dir();
            fs::create_dir_all(&dir).unwrap();
            for name in names {
                fs::write(dir.join(name), "").unwrap();
            }
        }

        /// Runs the script under `shell` with `env` (and PATH) only.
        fn run_in(&self, shell: &Shell, env: &[(&str, &str)], command: &[&str]) -> Run {
            let out = Command::new(&shell.program)
                .args(shell.args)
                .arg(self.root.join("entrypoint.sh"))
                .current_dir(&self.root)
                .args(command)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("GPUARCH_DRIVER_VERSION_FILE", self.version_file())
                .env("GPUARCH_COMPAT_DIR", self.compat_dir())
                .envs(env.iter().copied())
                .output()
                .unwrap();
            let stderr = String::from_utf8(out.stderr).unwrap();
            let shell = format!("{} {}", shell.program.display(), shell.args.join(" "));
            let quiet = env.contains(&("GPUARCH_ENTRYPOINT_QUIET", "1"));
            let line = if quiet {
                assert_eq!(stderr, "", "{shell}: quiet mode printed");
                String::new()
            } else {
                assert_eq!(stderr.lines().count(), 1, "{shell}: not one line: {stderr}");
                stderr
                    .strip_prefix("gpuarch-entrypoint: ")
                    .unwrap_or_else(|| panic!("{shell}: no prefix: {stderr}"))
                    .trim_end()
                    .to_owned()
            };
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8(out.stdout).unwrap(),
                line,
            }
        }

        /// Runs the script under every shell, each with the same result.
        fn run(&self, env: &[(&str, &str)], command: &[&str]) -> Run {
            let mut runs = shells()
                .into_iter()
                .map(|shell| (self.run_in(&shell, env, command), shell));
            let (first, first_shell) = runs.next().unwrap();
            for (run, shell) in runs {
                let (a, b) = (first_shell.program.display(), shell.program.display());
                assert_eq!(run.code, first.code, "exit codes of {a} and {b}");
                assert_eq!(run.stdout, first.stdout, "stdout of {a} and {b}");
                assert_eq!(run.line, first.line, "stderr of {a} and {b}");
            }
            first
        }

        fn show_path(&self, env: &[(&str, &str)]) -> Run {
            let run = self.run(env, SHOW_PATH);
            assert_eq!(run.code, 0, "{}", run.line);
            run
        }
    }

    impl Drop for Host {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    /// The line without its parenthesised details, to compare with [`CompatDecision`]'s
    /// text.
    fn without_details(line: &str) -> String {
        let mut out = String::new();
        let mut rest = line;
        while let Some(open) = rest.find(" (") {
            out.push_str(&rest[..open]);
            let close = rest[open..].find(')').expect("unbalanced parenthesis");
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn script_avoids_the_vendor_scripts_bugs() {
        let script = compat_entrypoint();
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(!script.contains("$$"), "`$$` is the shell's PID, not `&&`");
        assert!(!script.contains("[ $("), "test exit statuses, not output");
        assert!(!script.contains("sort -V"), "busybox has no sort -V");
        assert!(script.contains("\nset -eu\n"));
        let header: String = script.lines().take_while(|l| l.starts_with('#')).collect();
        for documented in [
            "GPUARCH_DRIVER_VERSION_FILE",
            "/proc/driver/nvidia/version",
            "GPUARCH_COMPAT_DIR",
            "/usr/local/cuda/compat",
            "GPUARCH_ENTRYPOINT_QUIET",
        ] {
            assert!(
                header.contains(documented),
                "{documented} is not documented"
            );
        }
        assert!(script.contains(&format!("-lt {FIRST_DRIVER_MAJOR} ]; then")));
    }

    #[test]
    fn decide_enables_only_for_an_older_host() {
        let compat = v("575.57.08");
        let cases = [
            (
                "535.104.05",
                CompatDecision::Enable {
                    host: v("535.104.05"),
                    compat,
                },
            ),
            (
                "575.51.03",
                CompatDecision::Enable {
                    host: v("575.51.03"),
                    compat,
                },
            ),
            (
                "575.57.08",
                CompatDecision::Equal {
                    host: v("575.57.08"),
                    compat,
                },
            ),
            (
                "575.57.8",
                CompatDecision::Equal {
                    host: v("575.57.8"),
                    compat,
                },
            ),
            (
                "580.65.06",
                CompatDecision::NotNeeded {
                    host: v("580.65.06"),
                    compat,
                },
            ),
            (
                "575.64",
                CompatDecision::NotNeeded {
                    host: v("575.64"),
                    compat,
                },
            ),
            (
                "35.3.1",
                CompatDecision::JetsonRelease {
                    host: v("35.3.1"),
                    compat,
                },
            ),
        ];
        for (host, want) in cases {
            let got = decide(Some(&v(host)), Some(&compat));
            assert_eq!(got, want, "{host}");
            let enables = matches!(want, CompatDecision::Enable { .. });
            assert_eq!(got.enables_compat(), enables, "{host}");
        }
        assert_eq!(decide(None, Some(&compat)), CompatDecision::HostUnknown);
        assert_eq!(
            decide(Some(&v("535.104.05")), None),
            CompatDecision::NoCompat
        );
        assert_eq!(decide(None, None), CompatDecision::NoCompat);
    }

    #[test]
    fn script_agrees_with_decide() {
        let pairs = [
            ("535.104.05", "575.57.08"),
            ("575.57.07", "575.57.08"),
            ("575.57.08", "575.57.08"),
            ("575.57.8", "575.57.08"),
            ("575.57.09", "575.57.08"),
            ("575.64", "575.57.08"),
            ("575", "575.57.08"),
            ("1000.1.1", "999.99.99"),
            ("550.54.15", "550.54.14"),
            ("550.54.14", "550.163.01"),
            ("580.65.06", "580.65.06"),
            ("35.3.1", "540.4.0"),
        ];
        for (host, compat) in pairs {
            let h = Host::new();
            h.version(&format!(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  {host}  Thu Jan  1 00:00:00 UTC 2025\n"
            ));
            h.compat_link(&format!("libcuda.so.{compat}"));
            let run = h.show_path(&[]);
            // "575" has one number: the script reads no driver version from it.
            let host_version = host.contains('.').then(|| v(host));
            let decision = decide(host_version.as_ref(), Some(&v(compat)));
            assert_eq!(
                without_details(&run.line),
                decision.to_string(),
                "{host} vs {compat}"
            );
            let enabled = run.stdout == h.compat();
            assert_eq!(enabled, decision.enables_compat(), "{host} vs {compat}");
        }
    }

    #[test]
    fn older_host_enables_compat() {
        let host = Host::with(PROPRIETARY);
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, host.compat());
        assert_eq!(
            run.line,
            format!(
                "host driver 535.104.05 < compat driver 575.57.08: compat enabled ({} put first on LD_LIBRARY_PATH)",
                host.compat()
            )
        );
    }

    #[test]
    fn equal_host_leaves_the_environment_alone() {
        for version in ["575.57.08", "575.57.8"] {
            let host = Host::with(&PROPRIETARY.replace("535.104.05", version));
            let run = host.show_path(&[]);
            assert_eq!(run.stdout, "<unset>");
            assert_eq!(
                run.line,
                format!("host driver {version} = compat driver 575.57.08: compat not needed, LD_LIBRARY_PATH left alone")
            );
        }
    }

    #[test]
    fn newer_host_leaves_the_environment_alone() {
        let host = Host::with(&PROPRIETARY.replace("535.104.05", "580.65.06"));
        let run = host.show_path(&[("LD_LIBRARY_PATH", "/opt/lib")]);
        assert_eq!(run.stdout, "/opt/lib");
        assert_eq!(
            run.line,
            "host driver 580.65.06 > compat driver 575.57.08: compat not needed, LD_LIBRARY_PATH left alone"
        );
    }

    #[test]
    fn newer_host_warns_when_the_image_already_lists_compat() {
        let host = Host::with(&PROPRIETARY.replace("535.104.05", "580.65.06"));
        let listed = format!("/opt/lib:{}", host.compat());
        let run = host.show_path(&[("LD_LIBRARY_PATH", &listed)]);
        assert_eq!(run.stdout, listed);
        assert!(
            run.line
                .ends_with("which this driver rejects: cudaErrorSystemDriverMismatch 803)"),
            "{}",
            run.line
        );
        assert_eq!(
            without_details(&run.line),
            "host driver 580.65.06 > compat driver 575.57.08: compat not needed, LD_LIBRARY_PATH left alone"
        );
    }

    #[test]
    fn reads_every_module_format() {
        for (text, version, enabled) in [
            (PROPRIETARY, "535.104.05", true),
            (OPEN, "570.86.15", true),
            (AARCH64, "580.65.06", false),
            (OPEN_AARCH64, "550.127.05", true),
        ] {
            let host = Host::with(text);
            let run = host.show_path(&[]);
            assert!(
                run.line.starts_with(&format!("host driver {version} ")),
                "{}",
                run.line
            );
            assert_eq!(
                run.stdout == host.compat(),
                enabled,
                "{version}: {}",
                run.stdout
            );
        }
    }

    #[test]
    fn jetson_release_is_not_compared() {
        let host = Host::with(JETSON);
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, "<unset>");
        assert_eq!(
            without_details(&run.line),
            decide(Some(&v("35.3.1")), Some(&v(COMPAT))).to_string()
        );
    }

    #[test]
    fn missing_version_file_leaves_the_environment_alone() {
        let host = Host::new();
        host.compat_link(&format!("libcuda.so.{COMPAT}"));
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, "<unset>");
        let file = host.version_file();
        assert_eq!(
            run.line,
            format!(
                "host driver unknown (cannot read {}: no NVIDIA kernel module visible): compat not enabled, LD_LIBRARY_PATH left alone",
                file.display()
            )
        );
    }

    #[test]
    fn garbage_version_file_leaves_the_environment_alone() {
        for garbage in [
            "",
            "\n\n",
            "NVRM version:\n",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  Sat Aug 19 01:15:15 UTC 2023\n",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05.1  Sat Aug 19\n",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.x  Sat Aug 19\n",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  5351040500000.1  Sat\n",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  5*.*  Sat Aug 19\n",
            "NVRM version: * ? [a] $(exit 3) `exit 4` ${x?}\n",
            "GCC version:  gcc version 12.2.0 (GCC)\n",
            "Driver 535.104.05\n",
            "\u{0}\u{1}\u{7f}binary 535.104.05",
        ] {
            let host = Host::with(garbage);
            // What a glob in the line would expand to, in the script's directory.
            fs::write(host.root.join("535.104.05"), "").unwrap();
            let run = host.show_path(&[]);
            assert_eq!(run.stdout, "<unset>", "{garbage:?}");
            assert_eq!(
                without_details(&run.line),
                CompatDecision::HostUnknown.to_string(),
                "{garbage:?}"
            );
        }
        let host = Host::with("");
        fs::remove_file(host.version_file()).unwrap();
        fs::create_dir(host.version_file()).unwrap();
        let run = host.show_path(&[]);
        assert_eq!(
            without_details(&run.line),
            CompatDecision::HostUnknown.to_string()
        );
    }

    #[test]
    fn no_compat_folder_leaves_the_environment_alone() {
        let host = Host::new();
        host.version(PROPRIETARY);
        let run = host.show_path(&[("LD_LIBRARY_PATH", "/opt/lib")]);
        assert_eq!(run.stdout, "/opt/lib");
        assert_eq!(
            run.line,
            format!(
                "no compat driver (no folder {}): nothing to enable, LD_LIBRARY_PATH left alone",
                host.compat()
            )
        );
    }

    #[test]
    fn compat_folder_without_libcuda_leaves_the_environment_alone() {
        let host = Host::new();
        host.version(PROPRIETARY);
        host.compat_files(&["libnvidia-ptxjitcompiler.so.1", "libnvidia-nvvm.so.4"]);
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, "<unset>");
        assert_eq!(
            run.line,
            format!(
                "no compat driver (no libcuda.so.* in {}): nothing to enable, LD_LIBRARY_PATH left alone",
                host.compat()
            )
        );
    }

    #[test]
    fn compat_version_without_a_link_comes_from_the_file_name() {
        let host = Host::new();
        host.version(PROPRIETARY);
        host.compat_files(&[
            "libcuda.so",
            "libcuda.so.1",
            "libcuda.so.570.124.06",
            "libcuda.so.575.57.08",
        ]);
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, host.compat());
        assert!(
            run.line
                .starts_with("host driver 535.104.05 < compat driver 575.57.08: "),
            "{}",
            run.line
        );
    }

    #[test]
    fn compat_libcuda_without_a_version_leaves_the_environment_alone() {
        let host = Host::new();
        host.version(PROPRIETARY);
        host.compat_link("libcuda.so.current");
        let run = host.show_path(&[]);
        assert_eq!(run.stdout, "<unset>");
        assert_eq!(
            without_details(&run.line),
            CompatDecision::NoCompat.to_string()
        );
        assert!(
            run.line.contains("no version in the names of"),
            "{}",
            run.line
        );
    }

    #[test]
    fn existing_library_path_is_kept_after_compat() {
        let host = Host::with(OPEN);
        let compat = host.compat();
        let run = host.show_path(&[("LD_LIBRARY_PATH", "/opt/lib:/usr/local/nvidia/lib64")]);
        assert_eq!(
            run.stdout,
            format!("{compat}:/opt/lib:/usr/local/nvidia/lib64")
        );
        // An empty element would mean the current directory: none is added.
        let run = host.show_path(&[("LD_LIBRARY_PATH", "")]);
        assert_eq!(run.stdout, compat);
    }

    #[test]
    fn arguments_pass_through_exec_intact() {
        let host = Host::with(PROPRIETARY);
        let args = ["two words", "", "*", "$HOME", "a\nb", "--", "'quoted'"];
        let mut command = vec![
            "sh",
            "-c",
            r#"for a in "$@"; do printf '[%s]' "$a"; done"#,
            "argv0",
        ];
        command.extend(args);
        let run = host.run(&[], &command);
        assert_eq!(run.code, 0);
        let want: String = args.iter().map(|a| format!("[{a}]")).collect();
        assert_eq!(run.stdout, want);
    }

    #[test]
    fn exit_code_of_the_command_is_propagated() {
        for version in [PROPRIETARY, AARCH64, "garbage"] {
            let host = Host::with(version);
            assert_eq!(host.run(&[], &["sh", "-c", "exit 7"]).code, 7);
            assert_eq!(host.run(&[], &["false"]).code, 1);
        }
    }

    #[test]
    fn without_a_command_it_reports_and_exits_0() {
        let host = Host::with(PROPRIETARY);
        let run = host.run(&[], &[]);
        assert_eq!(run.code, 0);
        assert_eq!(run.stdout, "");
        assert!(run.line.contains("compat enabled"), "{}", run.line);
    }

    #[test]
    fn quiet_mode_prints_nothing_and_still_enables() {
        let host = Host::with(PROPRIETARY);
        let run = host.show_path(&[("GPUARCH_ENTRYPOINT_QUIET", "1")]);
        assert_eq!(run.stdout, host.compat());
        let host = Host::new();
        let run = host.show_path(&[("GPUARCH_ENTRYPOINT_QUIET", "1")]);
        assert_eq!(run.stdout, "<unset>");
    }

    #[test]
    fn empty_variables_mean_the_real_paths() {
        let host = Host::new();
        let run = host.show_path(&[
            ("GPUARCH_DRIVER_VERSION_FILE", ""),
            ("GPUARCH_COMPAT_DIR", ""),
        ]);
        // This machine's own compat folder and driver decide; without a compat folder
        // the line names the default one.
        if !Path::new("/usr/local/cuda/compat").exists() {
            assert_eq!(
                run.line,
                "no compat driver (no folder /usr/local/cuda/compat): nothing to enable, LD_LIBRARY_PATH left alone"
            );
        }
    }
}
