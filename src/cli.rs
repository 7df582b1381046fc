//! The command line: `serve` (the default), `check-config`, `manifest`, `healthcheck`,
//! `providers`.
//! Exit codes: 0 success, 1 bad configuration or failed check, 2 usage error (clap's own).

use crate::sealing::key_file;
use crate::settings::{self, Settings, Sources};
use crate::startup::{self, Application, Overrides, loopback_for};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "oauth-broker",
    version,
    about = "Signs Tableau dashboard extensions in to OAuth 2.0 providers, keeping the client secret on the server"
)]
pub struct Cli {
    /// One more configuration file, layered over the defaults (also BROKER_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Load and validate the configuration; print it with secrets redacted.
    CheckConfig,
    /// Print the Tableau .trex manifest for the configured public URL.
    Manifest,
    /// Ask the running service's /healthz; exit 0 when healthy.
    Healthcheck,
    /// List the built-in provider presets and the redirect URI to register for each.
    Providers {
        /// One JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let sources = Sources::from_process(cli.config.clone());
    let command = cli.command.unwrap_or(Command::Serve);
    let mut settings = match settings::load(&sources) {
        Ok(settings) => settings,
        Err(problems) => {
            eprintln!("{problems}");
            return ExitCode::from(1);
        }
    };
    let create_key = command == Command::Serve;
    if let Err(problem) = use_local_seal_key(&mut settings, &sources, create_key) {
        // A read-only directory (a container's) must not stop a local broker from starting:
        // it runs on a key of this process, as validation then warns.
        eprintln!("oauth-broker: warning: {problem}");
    }
    match command {
        Command::Serve => serve(settings, sources.is_production()),
        Command::CheckConfig => check_config(settings, sources.is_production()),
        Command::Manifest => manifest(&settings),
        Command::Healthcheck => healthcheck(&settings),
        Command::Providers { json } => {
            print!(
                "{}",
                crate::oauth::catalogue_listing::render(&settings.server.callback_base(), json)
            );
            ExitCode::SUCCESS
        }
    }
}

/// Local use without `secrets.seal_key` keeps one generated key in the configuration
/// directory, so a restart signs nobody out. Redis and production need a key given to every
/// replica, and validation says so; `check-config` only reads the file, never creates it.
fn use_local_seal_key(
    settings: &mut Settings,
    sources: &Sources,
    create: bool,
) -> Result<(), String> {
    if settings.secrets.seal_key.is_some()
        || sources.is_production()
        || settings.store.redis_url.is_some()
    {
        return Ok(());
    }
    let file = key_file::path_in(&sources.config_dir);
    settings.secrets.seal_key = if create {
        Some(key_file::load_or_create(&file)?.0)
    } else {
        key_file::read(&file)?
    };
    settings.secrets.local_key_file = Some(file);
    Ok(())
}

fn manifest(settings: &Settings) -> ExitCode {
    use crate::routes::extension::{render_manifest, tableau_refusal};
    if let Some(refusal) = tableau_refusal(&settings.server.public_url) {
        eprintln!("oauth-broker manifest: {refusal}");
        return ExitCode::from(1);
    }
    let problems = crate::validation::extension_problems(settings);
    if !problems.is_empty() {
        eprintln!("{}", crate::settings::ConfigProblems(problems));
        return ExitCode::from(1);
    }
    print!("{}", render_manifest(settings));
    ExitCode::SUCCESS
}

fn check_config(settings: Settings, production: bool) -> ExitCode {
    let printed = settings.redacted_toml();
    match startup::validate(settings, production, None) {
        Ok(validated) => {
            print!("{printed}");
            println!();
            println!("# providers, as resolved:");
            for p in validated.providers.iter() {
                if let Some(openid) = &p.openid {
                    println!(
                        "#   {}: OpenID Connect issuer {}{}",
                        p.name,
                        openid.issuer,
                        if p.endpoints_discovered {
                            " (authorize and token endpoints from its metadata)"
                        } else {
                            ""
                        }
                    );
                }
                println!(
                    "#   {}: authorize {} ; token {} ; api {} ; scope {:?} ; pkce {} ; client_auth {:?} ; redirect URI to register: {}",
                    p.name,
                    p.authorize_url,
                    p.token_url,
                    p.api_url,
                    p.scope_param(),
                    p.pkce,
                    p.client_auth,
                    p.redirect_uri
                );
            }
            let vendor_dir = Overrides::default().vendor_dir;
            let library = crate::routes::extension::missing_tableau_library(
                &validated.settings.extension.tableau_api_url,
                &vendor_dir,
            );
            for warning in validated.warnings.iter().chain(&library) {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("{problems}");
            ExitCode::from(1)
        }
    }
}

fn healthcheck(settings: &Settings) -> ExitCode {
    let addr = match settings.bind_addr() {
        Ok(addr) => loopback_for(addr),
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(1);
        }
    };
    match probe(addr) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: http://{addr}/healthz answered {status}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("healthcheck: http://{addr}/healthz: {e}");
            ExitCode::from(1)
        }
    }
}

/// A plain HTTP/1.1 GET with short timeouts, so images need no curl.
fn probe(addr: std::net::SocketAddr) -> std::io::Result<u16> {
    let timeout = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: oauth-broker-healthcheck\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}

fn serve(settings: Settings, production: bool) -> ExitCode {
    crate::telemetry::init_logging(&settings.log);
    let system = actix_rt::System::new();
    let outcome = system.block_on(async move {
        let app = Application::build(
            settings.clone(),
            Overrides {
                production,
                ..Overrides::default()
            },
        )?;
        log::info!(
            "oauth-broker {} listening on {}; extension at {}/ ; sign-in links under {}",
            env!("CARGO_PKG_VERSION"),
            app.local_addr(),
            settings.server.public_base(),
            settings.server.callback_base()
        );
        if let Some(metrics) = app.metrics_addr() {
            log::info!("metrics at http://{metrics}/metrics");
        }
        let handle = app.handle();
        actix_rt::spawn(async move {
            wait_for_signal().await;
            handle.shutdown().await;
        });
        app.run_until_stopped()
            .await
            .map_err(startup::StartupError::Serve)
    });
    match outcome {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oauth-broker: {e}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => log::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT received"),
    }
}
