//! The `oauth-broker` binary: parse the command line, then run it (`cli::run`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    oauth_broker::cli::run(oauth_broker::cli::Cli::parse())
}
