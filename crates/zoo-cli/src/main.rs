use std::io;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

// Counts heap bytes so that `zoo bench` can report peak memory on the CPU backends.
#[global_allocator]
static ALLOCATOR: zoo_bench::PeakAlloc = zoo_bench::PeakAlloc;

fn main() -> ExitCode {
    zoo_kernels::reuse_freed_memory();
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = zoo_train::run::panic_text(info.payload()).unwrap_or_else(|| "unknown panic".into());
        eprintln!("error: internal error: {}", message.lines().next().unwrap_or_default());
    }));

    let cli = match zoo_cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            // clap's message is several lines (usage, tips): keep the one that says what is wrong.
            let rendered = e.render().to_string();
            let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("error: invalid arguments");
            eprintln!("{first}");
            return ExitCode::from(2);
        }
    };
    // Not `stdout().lock()`: training threads print progress lines while a command runs.
    match zoo_cli::run(cli, &mut io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
