//! `locara`: parse the command line, run it, and turn the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser as _;
use locara_cli::cli::Cli;
use locara_cli::error;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with code 2 (0 for --help and --version).
    let cli = Cli::parse();
    match locara_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprint!("{}", error::render(&failure));
            ExitCode::from(error::exit_code(&failure))
        }
    }
}
