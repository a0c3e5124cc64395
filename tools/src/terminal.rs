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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_defused() {
        assert_eq!(clean("a\u{1b}[31mred\u{7}\r\n"), "a?[31mred???");
        assert_eq!(clean("plain name_1"), "plain name_1");
        assert_eq!(clean("job\u{202E}fdp.exe\u{2066}"), "job?fdp.exe?");
    }
}
