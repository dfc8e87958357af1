//! The `edgeclip` binary: parse arguments, run, and turn errors into one clear line and a
//! non-zero exit status.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(err) = cli::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
