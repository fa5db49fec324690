//! `cargo gpuarch completions SHELL`: shell completion scripts.
//!
//! clap writes completions for the `cargo-gpuarch` binary. People type `cargo gpuarch`,
//! whose completion belongs to cargo's own script, so shells get the bridge they need:
//! zsh's cargo completion already calls `_cargo-gpuarch` for `cargo gpuarch` (plugins
//! "define their own functions", src/etc/_cargo in rust-lang/cargo); bash gets a wrapper
//! around cargo's completion that hands `cargo gpuarch ...` lines to ours. Other shells
//! complete the `cargo-gpuarch` binary.

use clap::CommandFactory;
use clap_complete::Shell;

/// Registered for `cargo` in bash: `cargo gpuarch ...` goes to clap's function (with the
/// words shifted so that it sees `cargo-gpuarch ...`), anything else to the completion
/// cargo had before (loaded first where bash-completion loads lazily).
const BASH_BRIDGE: &str = r#"
if ! complete -p cargo >/dev/null 2>&1 && declare -F _completion_loader >/dev/null; then
    _completion_loader cargo >/dev/null 2>&1
fi
__gpuarch_cargo_previous=$(complete -p cargo 2>/dev/null | sed -n 's/.*-F \([^ ]*\).*/\1/p')
_cargo_gpuarch_bridge() {
    if [[ ${COMP_WORDS[1]} == gpuarch && $COMP_CWORD -ge 2 ]]; then
        local -a COMP_WORDS=(cargo-gpuarch "${COMP_WORDS[@]:2}")
        local COMP_CWORD=$((COMP_CWORD - 1))
        _gpuarch cargo-gpuarch "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    elif [[ -n $__gpuarch_cargo_previous && $__gpuarch_cargo_previous != _cargo_gpuarch_bridge ]]; then
        "$__gpuarch_cargo_previous" "$@"
    fi
}
complete -F _cargo_gpuarch_bridge -o bashdefault -o default cargo
"#;

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    // clap_complete's bash script names its per-level functions inconsistently for a
    // hyphenated name (`cargo__gpuarch,plan` vs `cargo__subcmd__gpuarch__subcmd__plan`), so
    // bash is generated for a one-word name and registered for `cargo-gpuarch` here.
    let name = if shell == Shell::Bash {
        "gpuarch"
    } else {
        "cargo-gpuarch"
    };
    let mut cmd = crate::Cli::command().name(name).bin_name(name);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if shell == Shell::Bash {
        text = text.replace("-o default gpuarch\n", "-o default cargo-gpuarch\n");
        text.push_str(BASH_BRIDGE);
    }
    text
}
