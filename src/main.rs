//! The `edgeclip` binary: parse arguments, run, and turn errors into one clear line and a
//! non-zero exit status.

mod cli;

use clap::Parser;

/// Image buffers start on a cache line, so vector loads along their rows do not split.
#[global_allocator]
static ALLOC: edgeclip::sysmem::CacheLineAlloc = edgeclip::sysmem::CacheLineAlloc;

fn main() {
    // Like other Unix filters, stop quietly when the reader goes away (`edgeclip ... | head`)
    // instead of panicking on a failed write to stdout.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    edgeclip::sysmem::keep_freed_buffers();
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
}
