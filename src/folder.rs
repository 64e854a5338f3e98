//! Run folders and safe writes: a file is written under a temporary name and renamed into
//! place, so no reader ever sees half a `summary.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The run's record, written last: a folder with it is a finished run.
pub const SUMMARY_JSON: &str = "summary.json";
/// The scenario as run.
pub const SCENARIO_YAML: &str = "scenario.yaml";

/// Where one run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
    /// `<root>/<scenario>` and this folder's name in it, when `latest` is to point here.
    latest: Option<(PathBuf, String)>,
}

impl RunDir {
    /// A folder given as is (`--out`): no `latest` link.
    pub fn exact(path: &Path) -> RunDir {
        RunDir { path: path.to_path_buf(), latest: None }
    }

    /// Points `<root>/<scenario>/latest` at this folder: call once its `summary.json` is
    /// written, so `latest` never points at a folder without one (an interrupted or failed
    /// write leaves it on the previous run).
    pub fn publish(&self) {
        if let Some((parent, name)) = &self.latest {
            point_latest(parent, name);
        }
    }
}

/// Creates `<root>/<scenario>/<timestamp>/`, or uses `exact` as given (`--out`). The folder
/// is new and this run's alone: two runs started in the same millisecond get `<timestamp>`
/// and `<timestamp>-2`. [`RunDir::publish`] points `latest` at it once it holds a summary.
pub fn create_run_dir(root: &Path, scenario: &str, exact: Option<&Path>) -> std::io::Result<RunDir> {
    if let Some(dir) = exact {
        std::fs::create_dir_all(dir)?;
        return Ok(RunDir::exact(dir));
    }
    let parent = root.join(scenario);
    std::fs::create_dir_all(&parent)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let (name, path) = create_unique_dir(&parent, &stamp)?;
    Ok(RunDir { path, latest: Some((parent, name)) })
}

/// Creates `parent/stem`, or `parent/stem-2`, `-3`, … when taken; `create_dir` is atomic, so
/// no two callers get the same folder.
fn create_unique_dir(parent: &Path, stem: &str) -> std::io::Result<(String, PathBuf)> {
    for n in 1..=1000 {
        let name = if n == 1 { stem.to_string() } else { format!("{stem}-{n}") };
        let path = parent.join(&name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok((name, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("{}: no free folder name", parent.display())))
}

/// Points `parent/latest` at `name`, replacing the old link in one rename (never missing).
fn point_latest(parent: &Path, name: &str) {
    let latest = parent.join("latest");
    #[cfg(unix)]
    {
        let tmp = parent.join(format!(".latest-{:08x}", rand::random::<u32>()));
        if std::os::unix::fs::symlink(name, &tmp).is_ok() && std::fs::rename(&tmp, &latest).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    #[cfg(not(unix))]
    let _ = std::fs::write(&latest, name);
}

/// Creates a file under the first free name of `names` in `dir`, exclusively (no other run can
/// hold the same one), and returns its path. A name counts as taken when it or its SQLite
/// companions (`-wal`, `-shm`) exist.
pub fn claim_file(dir: &Path, names: &[String]) -> std::io::Result<PathBuf> {
    for name in names {
        let path = dir.join(name);
        let companions_free = ["-wal", "-shm"].iter().all(|x| !dir.join(format!("{name}{x}")).exists());
        if !companions_free {
            continue;
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("{}: every name for the store file is taken ({})", dir.display(), names.join(", ")),
    ))
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_started_together_get_folders_of_their_own() {
        let root = tempfile::tempdir().expect("tempdir");
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        let d = create_run_dir(root.path(), "same", None).expect("dir");
                        d.publish();
                        d.path
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let unique: std::collections::HashSet<_> = dirs.iter().collect();
        assert_eq!(unique.len(), 16, "{dirs:?}");
        let latest = std::fs::read_link(root.path().join("same/latest")).expect("latest is a link");
        assert!(dirs.iter().any(|d| d.ends_with(&latest)), "latest points at one of the runs: {latest:?}");
    }

    #[test]
    fn claimed_files_are_never_shared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = vec!["orders.db".to_string(), "orders-b.db".to_string()];
        let first = claim_file(dir.path(), &names).expect("first");
        let second = claim_file(dir.path(), &names).expect("second");
        assert_eq!((first.file_name(), second.file_name()), (Some("orders.db".as_ref()), Some("orders-b.db".as_ref())));
        assert!(claim_file(dir.path(), &names).is_err(), "both taken");
    }
}
