//! Text that workers and clients send about themselves, made fit to store and to show:
//! printable characters only (no terminal escapes, no text-reordering bidirectional controls,
//! and no NUL, which PostgreSQL refuses and a retried write would then fail on forever) and of
//! bounded length.

use tessera_protocol::device::Device;
use tessera_protocol::printable::is_printable;

/// What names and tenants are made of: they end up in terminals, logs, invoices and queries.
pub(crate) const LABEL_RULE: &str = "1 to 64 letters, digits or -_.@";

/// Whether `s` keeps [`LABEL_RULE`].
pub(crate) fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// How much of a worker's reason for a failed task is kept.
pub(crate) const REASON_CHARS: usize = 500;

/// `s` with only [`is_printable`] characters, at most `max` of them, trimmed.
pub(crate) fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|&c| is_printable(c))
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The names a worker gives its device, as listings show them.
pub(crate) fn device(mut device: Device) -> Device {
    device.backend = printable(&device.backend, 16);
    device.name = printable(&device.name, 100);
    device
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_go_and_length_is_bounded() {
        assert_eq!(printable(" a\u{0}b\u{1b}[31mc ", 100), "ab[31mc");
        assert_eq!(printable("a\u{202E}b\u{2066}c", 100), "abc");
        assert_eq!(printable(&"x".repeat(1000), 10), "x".repeat(10));
        let shown = device(Device {
            backend: "cpu\u{0}".repeat(20),
            name: "\u{7}gpu".into(),
            class: "cpu".into(),
            threads: 2,
        });
        assert_eq!(shown.backend, "cpucpucpucpucpuc");
        assert_eq!(shown.name, "gpu");
    }
}
