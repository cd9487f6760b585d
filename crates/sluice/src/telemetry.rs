//! Logging to stderr, as text or JSON, with a RUST_LOG-style filter that a reload can change.

use std::sync::OnceLock;

use config::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Swaps the filter in force; set once logging is installed with the configured filter (not
/// when `RUST_LOG` or `--log-filter` chose it: those win over the file, reloads included).
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `filter` so an operator can
/// turn up one module without editing the config; so does `pinned` (a command-line filter).
pub fn init_logging(format: LogFormat, filter: &str, pinned: bool) -> anyhow::Result<()> {
    let (filter, pinned) = match std::env::var("RUST_LOG") {
        Ok(from_env) if !from_env.is_empty() => (EnvFilter::try_new(from_env)?, true),
        _ => (EnvFilter::try_new(filter)?, pinned),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // Colours only on a terminal: a log file or a log shipper gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry.with(fmt.json()).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("could not install the logger: {e}"))?;
    if !pinned {
        let _ = FILTER.set(handle);
    }
    Ok(())
}

/// Checks a `log.filter` before a reload applies anything.
pub fn check_filter(filter: &str) -> anyhow::Result<()> {
    EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("log.filter: {e}"))
}

/// Applies a reloaded `log.filter`, unless the environment or the command line chose the
/// filter (or logging is not Sluice's own, as in tests).
pub fn set_filter(filter: &str) -> anyhow::Result<()> {
    let Some(handle) = FILTER.get() else {
        return Ok(());
    };
    handle
        .reload(EnvFilter::try_new(filter)?)
        .map_err(|e| anyhow::anyhow!("log.filter: {e}"))
}
