//! Running child processes with captured output and a hard timeout.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::bin::{pg_bin, running_as_root};

/// OS user that owns cluster files when the tests run as root.
pub(crate) const SERVER_OS_USER: &str = "postgres";

/// Run a client binary (`psql`, `pgbench`, ...) as the current user with
/// `PGPASSWORD` set, capturing stdout/stderr; killed after `timeout`.
///
/// A bare name is looked up in [`crate::pg_bin_dir`] first, then on PATH.
/// A non-zero exit status is *not* an error: callers inspect `Output`.
pub fn run_client(
    program: &str,
    args: &[&str],
    password: &str,
    timeout: Duration,
) -> anyhow::Result<Output> {
    let path = if program.contains('/') {
        program.into()
    } else {
        pg_bin(program).unwrap_or_else(|_| program.into())
    };
    let mut cmd = Command::new(path);
    cmd.args(args).env("PGPASSWORD", password);
    run(cmd, None, timeout)
}

/// A command for a server-side binary (initdb, pg_ctl, pg_basebackup) that
/// runs as the `postgres` OS user when we are root, since PostgreSQL refuses
/// to run as root. `cwd` must be readable by that user: the test's working
/// directory may not be, and PostgreSQL tools complain about it.
pub(crate) fn server_command(name: &str, cwd: &Path) -> anyhow::Result<Command> {
    let bin = pg_bin(name)?;
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", SERVER_OS_USER, "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    // English messages, so port-clash detection in the log works.
    cmd.current_dir(cwd).env("LC_ALL", "C");
    Ok(cmd)
}

/// Give `path` (recursively) to the server OS user when running as root.
pub(crate) fn chown_for_server(path: &Path) -> anyhow::Result<()> {
    if !running_as_root() {
        return Ok(());
    }
    let mut cmd = Command::new("chown");
    cmd.arg("-R")
        .arg(format!("{SERVER_OS_USER}:{SERVER_OS_USER}"))
        .arg(path);
    check(run(cmd, None, Duration::from_secs(30))?, "chown")?;
    Ok(())
}

/// Turn a failed `Output` into an error carrying its stdout and stderr.
pub(crate) fn check(out: Output, what: &str) -> anyhow::Result<Output> {
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Spawn `cmd`, feed it `stdin`, collect its output, kill it after `timeout`.
pub(crate) fn run(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> anyhow::Result<Output> {
    let desc = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("spawning {desc}"))?;

    // Feed stdin and drain the pipes on threads so a chatty child never
    // blocks on a full pipe while we wait for it.
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());

    let status = match wait_timeout(&mut child, timeout)? {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{desc} timed out after {timeout:?}");
        }
    };
    // A grandchild (e.g. a daemon) could keep a pipe open forever; do not
    // wait for EOF longer than a moment after the child itself exited.
    let grace = Duration::from_secs(5);
    Ok(Output {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}
