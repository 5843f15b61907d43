//! The user that runs `initdb` and `postgres`, which both refuse to run as root.
//!
//! Not root: everything runs as the current user. Root: the server runs as the owner of an
//! existing data directory, else as `postgres`, else as `nobody`, through
//! `setpriv --reuid --regid --clear-groups`.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Uid, User, geteuid};

use crate::Error;
use crate::binaries::find_on_path;

/// Who runs the server, and how to become that user.
#[derive(Debug, Clone)]
pub(crate) struct ServerUser {
    name: String,
    /// Set when running as root: the ids to drop to and the `setpriv` to drop with.
    switch_to: Option<SwitchTo>,
}

#[derive(Debug, Clone)]
struct SwitchTo {
    uid: Uid,
    gid: Gid,
    setpriv: PathBuf,
}

impl ServerUser {
    /// The user for a new cluster: the current one, or when root `postgres`, else `nobody`.
    pub(crate) fn for_new_cluster() -> Result<Self, Error> {
        let euid = geteuid();
        if !euid.is_root() {
            return Ok(Self::current(euid));
        }
        let user = ["postgres", "nobody"]
            .iter()
            .find_map(|name| User::from_name(name).ok().flatten())
            .ok_or(Error::NoUnprivilegedUser)?;
        Self::dropping_to(user.name, user.uid, user.gid)
    }

    /// The user for the cluster in `data_dir`: its owner when root and the directory exists
    /// and is not owned by root, else the same choice as for a new cluster.
    pub(crate) fn for_data_dir(data_dir: &Path) -> Result<Self, Error> {
        let owner = fs::metadata(data_dir).ok().filter(|meta| meta.uid() != 0);
        match owner {
            Some(meta) if geteuid().is_root() => {
                let uid = Uid::from_raw(meta.uid());
                let name = User::from_uid(uid)
                    .ok()
                    .flatten()
                    .map_or_else(|| uid.to_string(), |user| user.name);
                Self::dropping_to(name, uid, Gid::from_raw(meta.gid()))
            }
            _ => Self::for_new_cluster(),
        }
    }

    fn current(euid: Uid) -> Self {
        let name = User::from_uid(euid)
            .ok()
            .flatten()
            .map_or_else(|| euid.to_string(), |user| user.name);
        Self {
            name,
            switch_to: None,
        }
    }

    fn dropping_to(name: String, uid: Uid, gid: Gid) -> Result<Self, Error> {
        let setpriv = find_on_path("setpriv")
            .or_else(|| Some(PathBuf::from("/usr/bin/setpriv")).filter(|path| path.is_file()))
            .ok_or(Error::ToolNotFound {
                program: "setpriv",
                hint: "install util-linux (apt-get install util-linux)",
            })?;
        let switch_to = Some(SwitchTo { uid, gid, setpriv });
        Ok(Self { name, switch_to })
    }

    /// The argument vector that runs `program` as this user (`setpriv … -- program` if root).
    pub(crate) fn argv(&self, program: &Path) -> Vec<OsString> {
        let Some(target) = &self.switch_to else {
            return vec![program.into()];
        };
        vec![
            target.setpriv.clone().into(),
            format!("--reuid={}", target.uid).into(),
            format!("--regid={}", target.gid).into(),
            "--clear-groups".into(),
            "--".into(),
            program.into(),
        ]
    }

    /// A command running `program` as this user from `/`, with standard input closed.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir("/")
            .stdin(Stdio::null());
        command
    }

    /// Hands `path` to this user (a no-op unless running as root).
    pub(crate) fn give(&self, path: &Path) -> Result<(), Error> {
        let Some(target) = &self.switch_to else {
            return Ok(());
        };
        std::os::unix::fs::chown(path, Some(target.uid.as_raw()), Some(target.gid.as_raw()))
            .map_err(Error::io(format!(
                "chown {} to {}",
                path.display(),
                self.name
            )))
    }

    /// Fails with a clear message if this user cannot pass through every parent of `dir`.
    pub(crate) fn check_traversable(&self, dir: &Path) -> Result<(), Error> {
        let Some(target) = &self.switch_to else {
            return Ok(());
        };
        for parent in dir
            .ancestors()
            .skip(1)
            .filter(|p| !p.as_os_str().is_empty())
        {
            let Ok(meta) = fs::metadata(parent) else {
                continue;
            };
            let execute_bit = if meta.uid() == target.uid.as_raw() {
                0o100
            } else if meta.gid() == target.gid.as_raw() {
                0o010
            } else {
                0o001
            };
            if meta.mode() & execute_bit == 0 {
                let (path, user) = (parent.to_path_buf(), self.name.clone());
                return Err(Error::NotTraversable { path, user });
            }
        }
        Ok(())
    }
}
