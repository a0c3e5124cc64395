//! `tessera`: the command line of the Tessera render farm. It parses, wires and reports; the
//! work happens in the renderer, coordinator and worker crates. `local` is the one place where a
//! coordinator and a worker share a process (`tessera render`).

mod bill;
mod cancel;
mod coordinator;
mod devices;
mod farm_runtime;
mod job_args;
mod local;
mod output_pattern;
mod progress;
mod render;
mod status;
mod stderr;
mod stdout;
mod submit;
mod tasks;
mod terminal;
mod token;
mod worker;
mod workers;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::stderr::errln;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a distributed path-tracing render farm"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render frames of a glTF scene on this machine.
    Render(render::RenderArgs),
    /// Run the farm's coordinator: job store, HTTP API, task scheduling, merging, billing.
    Coordinator(coordinator::CoordinatorArgs),
    /// Run a worker that renders tasks from the farm's queue.
    Worker(worker::WorkerArgs),
    /// Submit a job to the farm; prints its id.
    Submit(submit::SubmitArgs),
    /// Show jobs and their progress.
    Status(status::StatusArgs),
    /// List the farm's workers.
    Workers(workers::WorkersArgs),
    /// List a job's tasks, with why the failed ones failed.
    Tasks(tasks::TasksArgs),
    /// Cancel a job.
    Cancel(cancel::CancelArgs),
    /// Show a job's invoice.
    Bill(bill::BillArgs),
    /// List every backend and device found here, with its billing class.
    Devices(devices::DevicesArgs),
    /// Issue, list or revoke API tokens (on the coordinator's host).
    Token(token::TokenArgs),
}

fn main() -> ExitCode {
    install_panic_hook();
    init_logging();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: not errors.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => return fail(&clap_message(&e)),
    };
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Coordinator(args) => coordinator::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Status(args) => status::run(args),
        Command::Workers(args) => workers::run(args),
        Command::Tasks(args) => tasks::run(args),
        Command::Cancel(args) => cancel::run(args),
        Command::Bill(args) => bill::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Token(args) => token::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<stdout::StdoutError>()
                .is_some_and(stdout::StdoutError::is_closed)
            {
                // What a shell reports for a program that SIGPIPE ended, as `yes | head` does.
                return ExitCode::from(128 + libc::SIGPIPE as u8);
            }
            let code = match e.downcast_ref::<local::LocalError>() {
                // What a shell reports for a program Ctrl-C ended, as is conventional.
                Some(local::LocalError::Interrupted) => ExitCode::from(128 + libc::SIGINT as u8),
                _ => ExitCode::FAILURE,
            };
            // `{:#}` joins the error chain with ": ".
            report(&format!("{e:#}"));
            code
        }
    }
}

/// Reports an error as exactly one line, whatever the message contains.
fn fail(message: &str) -> ExitCode {
    report(message);
    ExitCode::FAILURE
}

fn report(message: &str) {
    errln!("error: {}", one_line(message));
}

/// One line of printable text: errors quote what others sent (names, server messages).
fn one_line(message: &str) -> String {
    terminal::clean(&message.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// clap's own errors span several lines (message, usage, tips); keep the message part, which
/// for missing arguments continues on the lines after the first.
fn clap_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    message.join(" ").trim_start_matches("error: ").to_owned()
}

/// A bug must still end in one line and a non-zero exit, not a backtrace. Exiting from the
/// hook also stops other threads from reporting their own panics.
fn install_panic_hook() {
    static PANICKED: AtomicBool = AtomicBool::new(false);
    std::panic::set_hook(Box::new(|info| {
        if PANICKED.swap(true, Ordering::SeqCst) {
            return;
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        errln!("error: internal error{location}: {}", one_line(message));
        std::process::exit(101);
    }));
}

/// Logs go to stderr, filtered by RUST_LOG; warnings and worse by default.
fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| terminal::LogWriter)
        // Colour codes only for a person at a terminal, not for log files and CI.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
