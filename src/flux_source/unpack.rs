//! Unpacking an artifact tarball without trusting it: every entry must be a plain file or
//! folder with a relative path that stays inside the destination (no `..`, no absolute
//! paths, no links), and the number of entries and the bytes written are bounded. The
//! first offence refuses the whole artifact, so a half-unpacked tree is never shown.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use super::SourceError;

/// Bounds on what one artifact may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Compressed bytes downloaded.
    pub max_download: u64,
    /// Bytes written once unpacked.
    pub max_unpacked: u64,
    pub max_entries: usize,
    /// What the unpacked repository's read may take (`--max-files`, `--max-repository-bytes`).
    pub read: crate::load::ReadOptions,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_download: 256 << 20, max_unpacked: 1 << 30, max_entries: 200_000, read: crate::load::ReadOptions::default() }
    }
}

/// Unpacks a `.tar.gz` into `dest` (an empty folder).
pub fn unpack(bytes: &[u8], dest: &Path, limits: &Limits) -> Result<(), SourceError> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut written: u64 = 0;
    let entries = archive.entries().map_err(|e| SourceError::Unpack(format!("not a tar.gz artifact: {e}")))?;
    for (count, entry) in entries.enumerate() {
        if count >= limits.max_entries {
            return Err(SourceError::Unpack(format!("the artifact has more than {} entries; refused", limits.max_entries)));
        }
        let mut entry = entry.map_err(|e| SourceError::Unpack(format!("the artifact is corrupt: {e}")))?;
        let raw = entry.path().map_err(|e| SourceError::Unpack(format!("an entry has an unreadable path: {e}")))?.into_owned();
        let relative = safe_path(&raw).ok_or_else(|| SourceError::Unpack(format!("the artifact holds {}, which leaves its folder; refused", raw.display())))?;
        let target = dest.join(&relative);
        match entry.header().entry_type() {
            tar::EntryType::Directory => std::fs::create_dir_all(&target).map_err(|e| SourceError::Unpack(format!("cannot create {}: {e}", target.display())))?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().unwrap_or(0);
                if written.saturating_add(size) > limits.max_unpacked {
                    return Err(SourceError::Unpack(format!("the artifact unpacks to more than {} bytes; refused", limits.max_unpacked)));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| SourceError::Unpack(format!("cannot create {}: {e}", parent.display())))?;
                }
                // Read at most the declared size, whatever the stream claims afterwards.
                let mut content = Vec::with_capacity(usize::try_from(size.min(1 << 24)).unwrap_or(0));
                (&mut entry).take(size).read_to_end(&mut content).map_err(|e| SourceError::Unpack(format!("cannot read {}: {e}", raw.display())))?;
                written += content.len() as u64;
                std::fs::write(&target, content).map_err(|e| SourceError::Unpack(format!("cannot write {}: {e}", target.display())))?;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                return Err(SourceError::Unpack(format!("the artifact holds a link ({}); refused", raw.display())));
            }
            // Headers that carry metadata only.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink => {}
            other => return Err(SourceError::Unpack(format!("the artifact holds a {other:?} entry ({}); refused", raw.display()))),
        }
    }
    Ok(())
}

/// The entry's path when it is relative and stays inside: `./a/b` → `a/b`; `..`, `/etc`, or
/// a Windows prefix → `None`.
fn safe_path(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_are_refused() {
        assert_eq!(safe_path(Path::new("./apps/ks.yaml")), Some(PathBuf::from("apps/ks.yaml")));
        assert_eq!(safe_path(Path::new("../etc/passwd")), None);
        assert_eq!(safe_path(Path::new("apps/../../x")), None);
        assert_eq!(safe_path(Path::new("/etc/passwd")), None);
    }
}
