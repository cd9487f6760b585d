//! Locating the PostgreSQL server binaries (they are usually not on PATH).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context};

/// Directory holding `initdb`, `pg_ctl`, `postgres`, `psql`, `pgbench`, ...
///
/// Order: `$PG_BIN`, then `pg_config --bindir` (if it has `initdb`), then the
/// highest-versioned `/usr/lib/postgresql/*/bin` that has `initdb`.
/// The answer is computed once per process.
pub fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| find_bin_dir().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Full path of one PostgreSQL binary, e.g. `pg_bin("pgbench")`.
pub fn pg_bin(name: &str) -> anyhow::Result<PathBuf> {
    let path = pg_bin_dir()?.join(name);
    if !path.is_file() {
        bail!("PostgreSQL binary {} not found", path.display());
    }
    Ok(path)
}

fn has_initdb(dir: &Path) -> bool {
    dir.join("initdb").is_file()
}

fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        let dir = PathBuf::from(dir);
        if !has_initdb(&dir) {
            bail!("PG_BIN={} does not contain initdb", dir.display());
        }
        return Ok(dir);
    }
    // A missing pg_config is not an error: fall through to the Debian layout.
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_initdb(&dir) {
                return Ok(dir);
            }
        }
    }
    highest_debian_bin_dir().context("no PostgreSQL server binaries found; set PG_BIN")
}

/// Debian/Ubuntu install each major version under /usr/lib/postgresql/<N>/bin.
fn highest_debian_bin_dir() -> anyhow::Result<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in std::fs::read_dir("/usr/lib/postgresql")? {
        let entry = entry?;
        let Some(version) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path().join("bin");
        if has_initdb(&dir) && !matches!(&best, Some((v, _)) if *v >= version) {
            best = Some((version, dir));
        }
    }
    best.map(|(_, dir)| dir)
        .ok_or_else(|| anyhow!("no /usr/lib/postgresql/*/bin with initdb"))
}

/// True when this process runs as uid 0 (asked via `id -u`, no libc needed).
pub(crate) fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}
