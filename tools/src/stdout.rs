//! Results on stdout. `println!` panics when stdout cannot be written, as when its reader has
//! gone (`tessera bill 7 --format csv | head` closes it after ten lines); [`outln!`] returns
//! the error instead, and `main` ends a command whose reader has gone quietly.

use std::io::Write;

/// Writes one line to stdout, as `println!` would.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout")]
pub struct StdoutError(#[source] std::io::Error);

impl StdoutError {
    /// Whether the reader closed stdout: not a failure worth a message, as a program killed by
    /// SIGPIPE says nothing either.
    pub fn is_closed(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}

pub fn line(args: std::fmt::Arguments<'_>) -> Result<(), StdoutError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{args}")
        .and_then(|()| out.flush())
        .map_err(StdoutError)
}
