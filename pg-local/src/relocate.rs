//! Data directories the server user cannot reach: a checkout under `/root`, run as root, asks
//! for a cluster where `postgres` may not enter.
//!
//! A new cluster then lives in a directory of its own under [`RELOCATED_BASE`], named after the
//! requested path, and the requested path becomes a symbolic link to it. Every later start
//! follows the link to the same cluster, and the link shows anyone who looks where the data is.

use std::fs::{self, DirBuilder};
use std::io::ErrorKind;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::Error;

/// Where relocated clusters live: reachable by every user, kept across reboots.
pub const RELOCATED_BASE: &str = "/var/lib/pg-local";

/// Moves the fresh, empty data directory `requested` (canonical) to [`RELOCATED_BASE`] and
/// leaves a symbolic link in its place; returns the new directory.
///
/// A directory that already holds anything is never moved: `blocked` (the error that says
/// which parent is in the way) is returned instead.
pub(crate) fn relocate(requested: &Path, blocked: Error) -> Result<PathBuf, Error> {
    let is_empty = fs::read_dir(requested)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false);
    if !is_empty {
        return Err(blocked);
    }
    let target = Path::new(RELOCATED_BASE).join(relocated_name(requested));
    let action = |what: &str| format!("{what} (relocating {})", requested.display());
    fs::create_dir_all(RELOCATED_BASE).map_err(Error::io(action("create /var/lib/pg-local")))?;
    if let Err(error) = DirBuilder::new().mode(0o700).create(&target)
        && error.kind() != ErrorKind::AlreadyExists
    {
        return Err(Error::io(action("create the relocated data directory"))(
            error,
        ));
    }
    fs::remove_dir(requested).map_err(Error::io(action("remove the empty data directory")))?;
    std::os::unix::fs::symlink(&target, requested)
        .map_err(Error::io(action("link the data directory")))?;
    Ok(target)
}

/// `<last component>-<16 hex digits of FNV-1a over the whole path>`: stable across runs and
/// builds, distinct for different checkouts.
fn relocated_name(requested: &Path) -> String {
    let hash = requested
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    let name = requested
        .file_name()
        .map_or_else(|| "data".into(), |name| name.to_string_lossy());
    format!("{name}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relocated_name_keeps_the_last_component_and_tells_paths_apart() {
        let a = relocated_name(Path::new("/root/chat/.data/postgres"));
        let b = relocated_name(Path::new("/root/other/.data/postgres"));
        assert!(a.starts_with("postgres-"), "{a}");
        assert_eq!(a.len(), "postgres-".len() + 16);
        assert_ne!(a, b);
        assert_eq!(a, relocated_name(Path::new("/root/chat/.data/postgres")));
    }
}
