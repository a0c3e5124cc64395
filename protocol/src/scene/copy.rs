//! Copying a scene's bytes piece by piece, telling a failure to read them (a download broken
//! off, a corrupt archive) from a failure to store them (a full disk).

use std::io::Read;

/// Which side of a copy failed.
pub(super) enum Failed {
    Reading(std::io::Error),
    Storing(std::io::Error),
}

/// Hands `store` what `from` reads, a piece at a time, until its end.
pub(super) fn copy(
    mut from: impl Read,
    mut store: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<(), Failed> {
    let mut piece = vec![0u8; 1 << 16];
    loop {
        match from.read(&mut piece) {
            Ok(0) => return Ok(()),
            Ok(n) => store(&piece[..n]).map_err(Failed::Storing)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failed::Reading(e)),
        }
    }
}
