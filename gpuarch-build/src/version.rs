//! Dotted version numbers: toolkits (`12.4`), drivers (`525.60.13`), PTX ISA (`8.5`).

use std::fmt;
use std::str::FromStr;

/// Up to three numeric components; missing ones count as zero when comparing, so the
/// bare branch `610` sorts before every real `610.x.y` driver.
#[derive(Clone, Copy, Debug)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// How many components were written (1 to 3), for display.
    pub parts: u8,
    /// How many digits each component was written with: drivers pad (`580.65.06`).
    pub widths: [u8; 3],
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32, parts: u8) -> Self {
        Version::padded(major, minor, patch, parts, [1, 1, 1])
    }

    pub const fn padded(major: u32, minor: u32, patch: u32, parts: u8, widths: [u8; 3]) -> Self {
        Version {
            major,
            minor,
            patch,
            parts,
            widths,
        }
    }

    pub const fn major_minor(major: u32, minor: u32) -> Self {
        Version::new(major, minor, 0, 2)
    }

    fn key(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [w0, w1, w2] = self.widths.map(usize::from);
        write!(f, "{:0w0$}", self.major)?;
        if self.parts >= 2 {
            write!(f, ".{:0w1$}", self.minor)?;
        }
        if self.parts >= 3 {
            write!(f, ".{:0w2$}", self.patch)?;
        }
        Ok(())
    }
}

/// Why a version string did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionError {
    pub input: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a version: write one to three numbers separated by dots, such as `12.4` or `525.60.13`",
            self.input
        )
    }
}

impl std::error::Error for VersionError {}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || VersionError {
            input: s.to_string(),
        };
        let trimmed = s.trim();
        let mut numbers = [0u32; 3];
        let mut widths = [1u8; 3];
        let mut parts = 0u8;
        for piece in trimmed.split('.') {
            if parts == 3
                || piece.is_empty()
                || piece.len() > 9
                || !piece.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(err());
            }
            numbers[parts as usize] = piece.parse().map_err(|_| err())?;
            widths[parts as usize] = piece.len() as u8;
            parts += 1;
        }
        Ok(Version::padded(
            numbers[0], numbers[1], numbers[2], parts, widths,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_like_drivers() {
        let v: Version = "525.60.13".parse().unwrap();
        assert_eq!(v.to_string(), "525.60.13");
        let padded: Version = "580.65.06".parse().unwrap();
        assert_eq!(padded.to_string(), "580.65.06");
        assert_eq!(padded, "580.65.6".parse().unwrap());
        let branch: Version = "610".parse().unwrap();
        assert!(branch < "610.1".parse().unwrap());
        assert!("535.247.01".parse::<Version>().unwrap() < "545.23.06".parse().unwrap());
        assert!("8.10".parse::<Version>().unwrap() > "8.9".parse().unwrap());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "12.", ".4", "12.4.1.1", "v12", "12.x", "-1"] {
            assert!(bad.parse::<Version>().is_err(), "{bad} parsed");
        }
    }
}
