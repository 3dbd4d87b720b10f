use std::io;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

// Counts heap bytes so that `zoo bench` can report peak memory on the CPU backends.
#[global_allocator]
static ALLOCATOR: zoo_train::bench::PeakAlloc = zoo_train::bench::PeakAlloc;

/// Keeps freed memory in the process for the next allocation. A training step frees and
/// allocates the same activation-sized buffers (up to tens of MB) over and over; by default
/// glibc maps each one afresh and returns it on free, so every step pays page faults and the
/// kernel's zeroing of every page (a tenth of a ResNet-20 step on a 2-core VM, measured).
/// Buffers up to 32 MiB (glibc's ceiling) now come from the heap, which is trimmed only above
/// 1 GiB of free space.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reuse_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn reuse_freed_memory() {}

fn main() -> ExitCode {
    reuse_freed_memory();
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
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
