//! The `sluice` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use config::{Config, LogFormat};
use sluice::{CertificateReloader, Proxy};

/// Sluice: a PostgreSQL connection-pooling proxy. Thousands of clients share a few server
/// connections, lent per transaction.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML). See docs/configuration.md.
    #[arg(short, long, env = "SLUICE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format; overrides [log] format.
    #[arg(long, value_enum, global = true)]
    log_format: Option<LogFormatArg>,
    /// Log filter, RUST_LOG syntax (e.g. "info,sluice=debug"); overrides [log] filter.
    /// RUST_LOG in the environment wins over both.
    #[arg(long, global = true)]
    log_filter: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the proxy in the foreground (the default).
    Run,
    /// Validate the configuration and print every problem with its key path.
    Check,
    /// Print a token signed with [tokens] signing_key_file that logs USER in (a JWT, EdDSA),
    /// for a deploy pipeline to hand to a job. The user needs token_auth = "optional" or
    /// "required".
    Token {
        /// The user the token logs in as (its sub claim).
        #[arg(long)]
        user: String,
        /// How long the token is valid, e.g. "15m", "1h".
        #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
    /// Start a throwaway PostgreSQL cluster with Sluice in front of it, for a first try.
    Demo {
        /// Where Sluice listens.
        #[arg(long, default_value = "127.0.0.1:6432")]
        listen: std::net::SocketAddr,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LogFormatArg {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sluice: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Check) => Ok(check(&cli)),
        Some(Command::Token { ref user, ttl }) => {
            let token = sluice::tokens::issue_token(&load(&cli)?, user, ttl)?;
            println!("{}", token.expose());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo { listen }) => {
            init_logging(&cli, LogFormat::Text, "warn")?;
            runtime(None)?.block_on(sluice::demo::run_demo(listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Run) | None => {
            let config = load(&cli)?;
            init_logging(&cli, config.log.format, &config.log.filter)?;
            let path = cli.config.clone();
            runtime(config.proxy.worker_threads)?.block_on(serve(config, path))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    let path = cli.config.as_ref().ok_or_else(|| {
        anyhow::anyhow!("no configuration: pass --config FILE or set SLUICE_CONFIG (see examples/)")
    })?;
    Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
}

/// The file, then the key files it names (what would otherwise fail only at startup).
fn check(cli: &Cli) -> ExitCode {
    let loaded = load(cli).and_then(|config| {
        sluice::check_files(&config)?;
        sluice::tokens::TokenVerifier::check_files(&config)?;
        Ok(config)
    });
    match loaded {
        Ok(_) => {
            println!("configuration OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cli: &Cli, format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let format = match cli.log_format {
        Some(LogFormatArg::Text) => LogFormat::Text,
        Some(LogFormatArg::Json) => LogFormat::Json,
        None => format,
    };
    let pinned = cli.log_filter.is_some();
    sluice::telemetry::init_logging(format, cli.log_filter.as_deref().unwrap_or(filter), pinned)
}

fn runtime(workers: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    Ok(builder.enable_all().build()?)
}

/// Runs until SIGINT/SIGTERM, then drains; a second signal exits at once.
async fn serve(config: Config, path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let proxy = Proxy::bind(config).await?;
    let handle = proxy.shutdown_handle();
    let reload = match path {
        Some(path) => {
            proxy.set_config_path(path);
            Reload::File(proxy.reload_handle())
        }
        None => Reload::Certificates(proxy.certificate_reloader()),
    };
    reload_on_sighup(reload);
    // Installed before READY, so a SIGTERM right after it drains instead of killing.
    let mut stop = StopSignals::install()?;
    // Under systemd (Type=notify): the listeners are bound, clients can connect.
    notify_systemd(sd_notify::NotifyState::Ready);
    tokio::spawn(async move {
        stop.next().await;
        tracing::info!("shutdown requested; send the signal again to stop at once");
        notify_systemd(sd_notify::NotifyState::Stopping);
        handle.shutdown();
        stop.next().await;
        tracing::warn!("second signal: stopping now");
        std::process::exit(1);
    });
    proxy.run().await;
    Ok(())
}

/// What SIGHUP re-reads.
enum Reload {
    /// The configuration file, certificates included (an invalid file is refused and logged;
    /// the running configuration stays).
    File(sluice::ReloadHandle),
    /// Started without a file: the TLS certificate files only.
    Certificates(CertificateReloader),
}

fn reload_on_sighup(reload: Reload) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: reloading is unavailable");
        return;
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            match &reload {
                // The outcome is logged by the reload itself.
                Reload::File(config) => drop(config.reload_file().await),
                Reload::Certificates(certificates) => certificates.reload_and_log(),
            }
        }
    });
}

/// Tells systemd about a state change; a no-op when not started by systemd (no NOTIFY_SOCKET).
fn notify_systemd(state: sd_notify::NotifyState) {
    if let Err(e) = sd_notify::notify(false, &[state]) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}

/// SIGTERM and SIGINT.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> anyhow::Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
