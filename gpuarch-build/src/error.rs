//! The library's error type: bad input, each problem a diagnostic with its location
//! and fix, or a file that could not be read.

use std::fmt;
use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

#[derive(Debug)]
pub enum Error {
    /// The input (manifest, flags, environment, an arch list) is wrong; every problem
    /// found is listed.
    Invalid(Vec<Diagnostic>),
    /// A file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn invalid(diagnostic: Diagnostic) -> Self {
        Error::Invalid(vec![diagnostic])
    }

    /// The diagnostics, for rendering.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Invalid(d) => d.clone(),
            Error::Io { path, source } => vec![Diagnostic::error(
                "no-manifest",
                format!("cannot read {}: {source}", path.display()),
            )
            .with_help("check that the path exists and is readable")],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics().iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
