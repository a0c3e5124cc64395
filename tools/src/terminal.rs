//! Text from others (scene names, worker names, reasons, server messages) on this terminal:
//! control characters, escape sequences included, are shown as `?`, so nobody can move the
//! cursor, recolour or retitle an operator's terminal through a name.

/// `text` with every control character replaced by `?`.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_defused() {
        assert_eq!(clean("a\u{1b}[31mred\u{7}\r\n"), "a?[31mred???");
        assert_eq!(clean("plain name_1"), "plain name_1");
    }
}
