//! Dotted version numbers: toolkits (`12.4`), drivers (`525.60.13`), PTX ISA (`8.5`).

use std::fmt;
use std::str::FromStr;

/// Up to three numeric components; missing ones count as zero when comparing, so the
/// bare branch `610` sorts before every real `610.x.y` driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// How many components were written (1 to 3), for display.
    pub parts: u8,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32, parts: u8) -> Self {
        Version {
            major,
            minor,
            patch,
            parts,
        }
    }

    pub const fn major_minor(major: u32, minor: u32) -> Self {
        Version::new(major, minor, 0, 2)
    }

    fn key(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
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
        match self.parts {
            1 => write!(f, "{}", self.major),
            2 => write!(f, "{}.{}", self.major, self.minor),
            _ => write!(f, "{}.{}.{}", self.major, self.minor, self.patch),
        }
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
        let mut parts = 0u8;
        for piece in trimmed.split('.') {
            if parts == 3 || piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            numbers[parts as usize] = piece.parse().map_err(|_| err())?;
            parts += 1;
        }
        Ok(Version::new(numbers[0], numbers[1], numbers[2], parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_like_drivers() {
        let v: Version = "525.60.13".parse().unwrap();
        assert_eq!(v.to_string(), "525.60.13");
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
