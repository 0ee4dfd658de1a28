//! `hipchat-sim`: the HipChat v2 simulator as a standalone server.

use std::io::Write as _;
use std::net::SocketAddr;

use clap::Parser;
use hipchat_sim::SimConfig;

#[derive(Parser, Debug)]
#[command(about = "HipChat REST API v2 simulator (with a /_sim/ control API)")]
struct Args {
    /// Address to listen on (port 0: a free port, printed at start).
    #[arg(long, env = "HIPCHAT_SIM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Base URL used in links, capabilities and guest URLs (default: http://<listen address>).
    #[arg(long, env = "HIPCHAT_SIM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Requests per 5 minutes per personal token.
    #[arg(long, default_value_t = 100)]
    rate_limit: u32,
    /// Sends (notifications + messages) per minute per room.
    #[arg(long, default_value_t = 30)]
    flood_limit: u32,
    /// Treat room names differing only in case as different when checking uniqueness.
    #[arg(long)]
    case_sensitive_uniqueness: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let config = SimConfig {
        rate_limit: args.rate_limit,
        flood_limit: args.flood_limit,
        unique_names_ignore_case: !args.case_sensitive_uniqueness,
        public_url: args.public_url.map(|u| u.trim_end_matches('/').to_owned()),
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let running = hipchat_sim::start_on(listener, config).await?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "hipchat-sim listening on http://{}", running.addr())?;
    stdout.flush()?;
    drop(stdout);
    tracing::info!(addr = %running.addr(), base_url = running.base_url(), "hipchat-sim ready");
    shutdown().await?;
    tracing::info!("hipchat-sim stopping");
    drop(running);
    Ok(())
}

/// Wait for Ctrl-C or SIGTERM.
async fn shutdown() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
