//! Messages on stderr. `eprintln!` panics when stderr cannot be written, as when its reader
//! has gone (`tessera render ... 2>&1 | head -1`), and a panic there, or in the panic hook,
//! aborted a render while it wrote a frame, leaving the frame's temporary file. [`errln!`]
//! drops a line that cannot be written: there is nowhere else to say it.

use std::io::Write;

/// Writes one line to stderr, as `eprintln!` would, unless it cannot.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::stderr::line(format_args!($($arg)*))
    };
}
pub(crate) use errln;

pub fn line(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}
