//! Which characters of text from others (names, reasons, messages) may reach a terminal, a log
//! or a listing as they are. Both sides of the contract filter with this one rule.

/// Whether `c` shows as itself: not a control character (escape sequences, NUL) and not one of
/// Unicode's invisible format characters, which reorder text (bidirectional overrides and
/// isolates, as in "Trojan Source") or hide it (zero-width characters).
pub fn is_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_text_reordering_characters_are_not_printable() {
        for c in [
            '\u{1b}', '\u{0}', '\u{7f}', '\u{202E}', '\u{2066}', '\u{200F}', '\u{FEFF}',
        ] {
            assert!(!is_printable(c), "{:?}", c);
        }
        for c in ['a', 'é', '日', ' ', '@', 'ß', '\u{2013}'] {
            assert!(is_printable(c), "{:?}", c);
        }
    }
}
