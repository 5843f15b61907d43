//! Finding the PostgreSQL server programs installed on this machine.
//!
//! Order: `PG_BINDIR`, then `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`,
//! then `initdb` on `PATH`. A directory counts only if it holds both `initdb` and `postgres`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// Where Debian and Ubuntu install one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding `initdb`, `postgres`, `pg_isready` and `psql`.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Finds the server programs, reading `PG_BINDIR` and `PATH` from the environment.
    pub(crate) fn discover() -> Result<Self, Error> {
        Self::discover_from(env::var_os("PG_BINDIR"), Path::new(DEBIAN_ROOT))
    }

    /// Finds the server programs given the value of `PG_BINDIR` and the Debian root.
    fn discover_from(pg_bindir: Option<OsString>, debian_root: &Path) -> Result<Self, Error> {
        if let Some(dir) = pg_bindir {
            let dir = PathBuf::from(dir);
            return Self::at(&dir).ok_or_else(|| Error::BinariesNotFound {
                searched: format!("PG_BINDIR={} has no initdb and postgres", dir.display()),
            });
        }
        pg_config_bindir()
            .and_then(|dir| Self::at(&dir))
            .or_else(|| newest_versioned_dir(debian_root).and_then(|dir| Self::at(&dir)))
            .or_else(|| initdb_on_path().and_then(|dir| Self::at(&dir)))
            .ok_or_else(|| Error::BinariesNotFound {
                searched: format!(
                    "PG_BINDIR unset, `pg_config --bindir`, {}/*/bin and PATH have no initdb",
                    debian_root.display()
                ),
            })
    }

    /// Accepts `dir` if it holds the two programs a server needs.
    fn at(dir: &Path) -> Option<Self> {
        let complete = ["initdb", "postgres"]
            .iter()
            .all(|name| dir.join(name).is_file());
        complete.then(|| Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The full path of the program `name` in this directory.
    pub(crate) fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A command for the program `name`, run from `/` so no caller directory leaks in.
    pub(crate) fn command(&self, name: &str) -> Command {
        let mut command = Command::new(self.program(name));
        command.current_dir("/").stdin(Stdio::null());
        command
    }
}

/// The answer of `pg_config --bindir`, if pg_config exists and answers.
fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| PathBuf::from(text.trim()))
}

/// The `bin` directory of the highest version under `root` (`15` beats `9.6`).
fn newest_versioned_dir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The directory of the real `initdb` found on `PATH`, following symlinks.
fn initdb_on_path() -> Option<PathBuf> {
    let initdb = find_on_path("initdb")?;
    let real = std::fs::canonicalize(initdb).ok()?;
    real.parent().map(Path::to_path_buf)
}

/// The first executable file called `name` in a `PATH` directory.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_bindir(root: &Path, version: &str, programs: &[&str]) -> PathBuf {
        let bin = root.join(version).join("bin");
        fs::create_dir_all(&bin).unwrap();
        for program in programs {
            fs::write(bin.join(program), "").unwrap();
        }
        bin
    }

    #[test]
    fn versions_compare_numerically_not_as_text() {
        assert!(parse_version("15").unwrap() > parse_version("9.6").unwrap());
        assert_eq!(parse_version("main"), None);
    }

    #[test]
    fn the_highest_version_with_initdb_wins() {
        let root = tempfile::tempdir().unwrap();
        fake_bindir(root.path(), "9.6", &["initdb", "postgres"]);
        let fifteen = fake_bindir(root.path(), "15", &["initdb", "postgres"]);
        fake_bindir(root.path(), "16", &["psql"]);
        assert_eq!(newest_versioned_dir(root.path()), Some(fifteen));
    }

    #[test]
    fn pg_bindir_without_initdb_is_a_clear_error() {
        let empty = tempfile::tempdir().unwrap();
        let error = Binaries::discover_from(Some(empty.path().into()), empty.path()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("PG_BINDIR="), "{message}");
        assert!(message.contains("apt-get install postgresql"), "{message}");
    }

    #[test]
    fn pg_bindir_with_both_programs_is_used() {
        let root = tempfile::tempdir().unwrap();
        let bin = fake_bindir(root.path(), "15", &["initdb", "postgres"]);
        let found = Binaries::discover_from(Some(bin.clone().into()), root.path()).unwrap();
        assert_eq!(found.program("psql"), bin.join("psql"));
    }
}
