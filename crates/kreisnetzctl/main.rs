//! `kreisnetzctl`, the admin CLI of a kreisnetz node.
//!
//! A thin client of the node's public gRPC API: `args` says what the user asked for (and
//! refuses bad flag values before any call), `credentials` finds the bearer token, `messages`
//! turns flags into wire messages, `client` holds the connection, `commands` make the calls,
//! `output` prints tables or JSON, and `errors` turns anything that went wrong into one `error:`
//! line, details and an exit code.
use std::process::ExitCode;

use clap::Parser;

mod args;
mod client;
mod commands;
mod credentials;
mod errors;
mod messages;
mod output;
mod terms;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(errors::exit::OTHER);
        }
    };
    match runtime.block_on(commands::run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // Output piped into `head` and closed: what was wanted has been printed.
        Err(err) if errors::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let report = errors::report(&err, &cli.node);
            eprint!("{}", report.text());
            ExitCode::from(report.exit_code)
        }
    }
}
