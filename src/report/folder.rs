//! Run folders and safe writes: a file is written under a temporary name and renamed into
//! place, so no reader ever sees half a `summary.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where one run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

/// Creates `<root>/<scenario>/<timestamp>/` and points `<root>/<scenario>/latest` at it, or
/// uses `exact` as given (`--out`).
pub fn create_run_dir(root: &Path, scenario: &str, exact: Option<&Path>) -> std::io::Result<RunDir> {
    if let Some(dir) = exact {
        std::fs::create_dir_all(dir)?;
        return Ok(RunDir { path: dir.to_path_buf() });
    }
    let parent = root.join(scenario);
    std::fs::create_dir_all(&parent)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let path = parent.join(&stamp);
    std::fs::create_dir(&path)?;
    let latest = parent.join("latest");
    let _ = std::fs::remove_file(&latest);
    #[cfg(unix)]
    let _ = std::os::unix::fs::symlink(&stamp, &latest);
    #[cfg(not(unix))]
    let _ = std::fs::write(&latest, &stamp);
    Ok(RunDir { path })
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
