//! The answers of `nvcc --version`, kept between runs: nvcc's own start-up (hundreds of
//! milliseconds) is most of what `doctor` costs. An answer is keyed by the binary's
//! canonical path, size and modification time, so a reinstalled toolkit is asked again.
//!
//! The file is plain text, one answer per line (`path \t size \t mtime_ns \t version`),
//! after a header line. A file that does not read back exactly is ignored and rewritten.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

const HEADER: &str = "gpuarch nvcc-version cache 1";

/// Where the cache lives: `$GPUARCH_CACHE_DIR`, else `$XDG_CACHE_HOME/gpuarch`, else
/// `$HOME/.cache/gpuarch`; `None` when none is set.
pub fn default_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let dir = env("GPUARCH_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| env("XDG_CACHE_HOME").map(|d| Path::new(&d).join("gpuarch")))
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".cache/gpuarch")))?;
    Some(dir.join("nvcc-versions.txt"))
}

/// What identifies one nvcc binary.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub path: String,
    pub size: u64,
    pub mtime_ns: u128,
}

impl Key {
    /// The key of the file `path` resolves to; `None` when it cannot be read or its path
    /// cannot be written on one line.
    pub fn of(path: &Path) -> Option<Key> {
        let canonical = fs::canonicalize(path).ok()?;
        let meta = fs::metadata(&canonical).ok()?;
        let mtime_ns = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let path = canonical.to_str()?.to_string();
        if path.contains(['\t', '\n', '\r']) {
            return None;
        }
        Some(Key {
            path,
            size: meta.len(),
            mtime_ns,
        })
    }
}

/// The cache, loaded; [`NvccCache::save`] writes it back when it changed.
#[derive(Debug, Default)]
pub struct NvccCache {
    file: Option<PathBuf>,
    answers: BTreeMap<Key, String>,
    changed: bool,
}

impl NvccCache {
    /// Loads `file` (no file: an empty cache that is never written).
    pub fn load(file: Option<PathBuf>) -> NvccCache {
        let Some(path) = file else {
            return NvccCache::default();
        };
        let text = fs::read_to_string(&path).ok();
        let answers = text.as_deref().and_then(parse);
        NvccCache {
            // A file that does not parse is rewritten on save, even with no new answer, so
            // the next run reads a good one. A missing (or unreadable) file is left alone
            // until there is an answer to keep: `insert` marks the cache changed.
            changed: text.is_some() && answers.is_none(),
            answers: answers.unwrap_or_default(),
            file: Some(path),
        }
    }

    /// The version nvcc gave for this binary before.
    pub fn get(&self, key: &Key) -> Option<&str> {
        self.answers.get(key).map(String::as_str)
    }

    pub fn insert(&mut self, key: Key, version: String) {
        if version.contains(['\t', '\n', '\r']) || self.file.is_none() {
            return;
        }
        // A binary replaced in place leaves stale answers for its path: drop them.
        self.answers.retain(|k, _| k.path != key.path);
        self.answers.insert(key, version);
        self.changed = true;
    }

    /// Writes the cache if it changed. Failures are ignored: the cache only saves time.
    pub fn save(&self) {
        let (Some(path), true) = (&self.file, self.changed) else {
            return;
        };
        let mut text = format!("{HEADER}\n");
        for (k, v) in &self.answers {
            text.push_str(&format!("{}\t{}\t{}\t{v}\n", k.path, k.size, k.mtime_ns));
        }
        if let Some(dir) = path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        // Written beside and renamed, so that a concurrent run never reads half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if fs::write(&tmp, text).is_ok() && fs::rename(&tmp, path).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
}

fn parse(text: &str) -> Option<BTreeMap<Key, String>> {
    let mut lines = text.lines();
    if lines.next()? != HEADER {
        return None;
    }
    let mut answers = BTreeMap::new();
    for line in lines {
        let mut fields = line.split('\t');
        let (path, size, mtime, version) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if fields.next().is_some() || path.is_empty() || version.is_empty() {
            return None;
        }
        let key = Key {
            path: path.to_string(),
            size: size.parse().ok()?,
            mtime_ns: mtime.parse().ok()?,
        };
        answers.insert(key, version.to_string());
    }
    Some(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gpuarch-host-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_cache_dir_follows_the_documented_lookup_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = env(&[
            ("GPUARCH_CACHE_DIR", "/g"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            default_file(&all),
            Some(PathBuf::from("/g/nvcc-versions.txt"))
        );
        let xdg = env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            default_file(&xdg),
            Some(PathBuf::from("/x/gpuarch/nvcc-versions.txt"))
        );
        let home = env(&[("HOME", "/h")]);
        assert_eq!(
            default_file(&home),
            Some(PathBuf::from("/h/.cache/gpuarch/nvcc-versions.txt"))
        );
        assert_eq!(default_file(&env(&[])), None);
    }

    #[test]
    fn an_answer_survives_a_save_and_a_changed_binary_is_asked_again() {
        let dir = temp_dir("roundtrip");
        let nvcc = dir.join("nvcc");
        fs::write(&nvcc, "#!/bin/sh\n").unwrap();
        let file = dir.join("cache/nvcc-versions.txt");
        let key = Key::of(&nvcc).unwrap();
        let mut cache = NvccCache::load(Some(file.clone()));
        assert_eq!(cache.get(&key), None);
        cache.insert(key.clone(), "12.4 V12.4.131".into());
        cache.save();
        let reloaded = NvccCache::load(Some(file.clone()));
        assert_eq!(reloaded.get(&key), Some("12.4 V12.4.131"));
        // A different size is a different binary.
        fs::write(&nvcc, "#!/bin/sh\n# reinstalled\n").unwrap();
        let new_key = Key::of(&nvcc).unwrap();
        assert_ne!(new_key, key);
        assert_eq!(reloaded.get(&new_key), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_cache_is_ignored_and_rewritten() {
        let dir = temp_dir("corrupt");
        let file = dir.join("nvcc-versions.txt");
        fs::write(&file, "not a cache\n\u{0}garbage").unwrap();
        let mut cache = NvccCache::load(Some(file.clone()));
        assert!(cache.answers.is_empty());
        let key = Key {
            path: "/usr/local/cuda/bin/nvcc".into(),
            size: 1,
            mtime_ns: 2,
        };
        cache.insert(key.clone(), "12.4".into());
        cache.save();
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert_eq!(NvccCache::load(Some(file)).get(&key), Some("12.4"));
        // A line with a missing field spoils the whole file, not just itself.
        assert_eq!(parse(&format!("{HEADER}\n/a\t1\t2\n")), None);
        assert_eq!(parse(&format!("{HEADER}\n/a\tx\t2\t12.4\n")), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
