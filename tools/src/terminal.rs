//! Text from others (scene names, worker names, reasons, server messages) on this terminal:
//! control characters, escape sequences included, are shown as `?`, so nobody can move the
//! cursor, recolour or retitle an operator's terminal through a name; nor, with Unicode's
//! bidirectional overrides, make a listing read other than it is.

use tessera_protocol::printable::is_printable;

/// `text` with every character that would not show as itself replaced by `?`.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if is_printable(c) { c } else { '?' })
        .collect()
}

/// A log line as [`clean`] shows text, keeping its line end and the escape codes of the
/// logger's own colours (it escapes those in what it logs; not carriage returns nor
/// bidirectional overrides, which a scene's extension names or a worker's name could carry).
fn clean_log(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' || c == '\u{1b}' || is_printable(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Where logs go: stderr, each line cleaned ([`clean_log`]). The logger writes a line at a
/// time, so no character is split between writes; a line stderr cannot take is dropped.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = clean_log(&String::from_utf8_lossy(buf));
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_keep_their_end_and_colours_only() {
        assert_eq!(
            clean_log("\u{1b}[33m WARN\u{1b}[0m ext\rfake\u{202E}gpj.exe\n"),
            "\u{1b}[33m WARN\u{1b}[0m ext?fake?gpj.exe\n"
        );
    }

    #[test]
    fn escape_sequences_are_defused() {
        assert_eq!(clean("a\u{1b}[31mred\u{7}\r\n"), "a?[31mred???");
        assert_eq!(clean("plain name_1"), "plain name_1");
        assert_eq!(clean("job\u{202E}fdp.exe\u{2066}"), "job?fdp.exe?");
    }
}
