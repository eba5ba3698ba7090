//! The data directory holds the store, the plugin cache and the key that
//! seals the store's secrets: only the engine's user may read it. It is
//! created 0700 and every file the engine creates in it 0600, whatever the
//! umask; a directory made by an older engine (0755, files 0644) or by a
//! careless copy is tightened at start, each change logged.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Permission bits of the engine's directories and files: owner only.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;
/// Bits that let anyone but the owner in.
const OTHERS: u32 = 0o077;

#[derive(Debug, thiserror::Error)]
#[error("cannot create the data directory {path}: {source}")]
pub struct DataDirError {
    path: PathBuf,
    source: std::io::Error,
}

/// Creates `dir` (0700) if needed and takes group and other permissions
/// away from it and from everything in it. Returns how many entries were
/// tightened. A permission that cannot be changed (another owner, a file
/// system without modes) is logged, not fatal: the engine still runs.
pub fn prepare(dir: &Path) -> Result<usize, DataDirError> {
    create_private_dir(dir).map_err(|source| DataDirError { path: dir.to_owned(), source })?;
    let mut tightened = 0;
    tighten(dir, &mut tightened);
    Ok(tightened)
}

/// Creates `dir` and its missing parents, owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates a new file at `path`, owner only; an existing file is an error.
pub fn create_private_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)
}

/// Creates an empty file at `path`, owner only, unless one exists (which
/// is left as it is): for files another library then opens itself.
pub fn touch_private_file(path: &Path) -> std::io::Result<()> {
    OpenOptions::new().append(true).create(true).mode(FILE_MODE).open(path).map(drop)
}

/// Writes `bytes` to `path`, replacing it, owner only.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    file.write_all(bytes)
}

/// Takes group and other bits off `path` and, for a directory, off its
/// entries, without following symbolic links.
fn tighten(path: &Path, tightened: &mut usize) {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot check permissions in the data directory");
            return;
        }
    };
    if metadata.file_type().is_symlink() {
        return;
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & OTHERS != 0 {
        let wanted = mode & !OTHERS;
        match std::fs::set_permissions(path, Permissions::from_mode(wanted)) {
            Ok(()) => {
                *tightened += 1;
                tracing::warn!(
                    path = %path.display(),
                    from = format!("{mode:04o}"),
                    to = format!("{wanted:04o}"),
                    "tightened permissions in the data directory (owner only)"
                );
            }
            Err(error) => tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:04o}"),
                %error,
                "cannot tighten permissions in the data directory: make it readable by the engine's user only"
            ),
        }
    }
    if metadata.is_dir() {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    tighten(&entry.path(), tightened);
                }
            }
            Err(error) => tracing::warn!(path = %path.display(), %error, "cannot list the data directory"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_directory_is_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        assert_eq!(prepare(&dir).unwrap(), 0);
        assert_eq!(mode(&dir), 0o700);
        create_private_file(&dir.join("a")).unwrap();
        touch_private_file(&dir.join("b")).unwrap();
        write_private_file(&dir.join("c"), b"x").unwrap();
        for name in ["a", "b", "c"] {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
        assert!(create_private_file(&dir.join("a")).is_err(), "never over an existing file");
    }

    #[test]
    fn an_open_directory_is_tightened_and_its_contents_too() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir_all(dir.join("cache")).unwrap();
        std::fs::write(dir.join("store"), b"x").unwrap();
        std::fs::write(dir.join("cache/artifact"), b"x").unwrap();
        std::fs::write(dir.join("private"), b"x").unwrap();
        let set = |path: &Path, mode: u32| std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
        set(&dir, 0o755);
        set(&dir.join("cache"), 0o775);
        set(&dir.join("store"), 0o644);
        set(&dir.join("cache/artifact"), 0o666);
        set(&dir.join("private"), 0o600);
        assert_eq!(prepare(&dir).unwrap(), 4);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("cache")), 0o700);
        assert_eq!(mode(&dir.join("store")), 0o600);
        assert_eq!(mode(&dir.join("cache/artifact")), 0o600);
        assert_eq!(mode(&dir.join("private")), 0o600);
        assert_eq!(prepare(&dir).unwrap(), 0, "nothing left to do");
    }
}
