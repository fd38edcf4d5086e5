//! What both binaries do around their transport: parse the command line
//! (bad input is one line and exit status 2, never a panic trace), set up
//! logging, and run a shared subcommand.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

use crate::commands::{self, Command, Endpoint};
use crate::config::{ConfigError, ServerArgs};

/// Exit status for bad configuration or usage.
pub const EXIT_CONFIG: u8 = 2;

/// Parses the command line. `--help` and `--version` print and exit 0; any
/// other problem prints one line (`<program>: <what is wrong>`) to stderr
/// and exits with status 2.
pub fn parse<P: Parser>(program: &str) -> P {
    match P::try_parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = error.print();
                std::process::exit(0);
            }
            let rendered = error.render().to_string();
            // clap's first paragraph says what is wrong (a missing argument
            // is named on the line after); usage and tips follow it.
            let message = rendered
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect::<Vec<_>>()
                .join(" ");
            let line = match message.trim_start_matches("error: ") {
                "" => "invalid command line",
                text => text,
            };
            eprintln!("{program}: {line} (see {program} --help)");
            std::process::exit(i32::from(EXIT_CONFIG));
        }
    }
}

/// Prints a configuration error as one line and returns exit status 2.
pub fn config_failure(program: &str, error: &ConfigError) -> ExitCode {
    eprintln!("{program}: {error}");
    ExitCode::from(EXIT_CONFIG)
}

/// Runs a shared subcommand (`tools`, `check`, `config`) and returns the
/// process's exit status.
pub async fn run_command(
    program: &str,
    command: &Command,
    args: &ServerArgs,
    endpoint: &Endpoint,
) -> ExitCode {
    match commands::run(command, args, endpoint).await {
        Ok(outcome) => {
            // A closed stdout (e.g. `| head`) is not an error worth a panic.
            let mut stdout = std::io::stdout().lock();
            let _ = stdout
                .write_all(outcome.stdout.as_bytes())
                .and_then(|()| stdout.flush());
            if let Command::Config { client } = command {
                eprintln!("# {}", commands::config_location(*client));
            }
            ExitCode::from(outcome.status)
        }
        Err(error) => config_failure(program, &error),
    }
}
