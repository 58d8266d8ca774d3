//! Reading a whole file or stream, but never more than a bound: every file
//! and standard input both programs read goes through here, so a path like
//! `/dev/zero`, a FIFO that never ends or a huge file stops with a clear
//! error instead of filling memory.

use std::io::{self, Read};
use std::path::Path;

/// Config files, tokens files and PEM certificates or keys: text a person
/// wrote, far below this.
pub const TEXT_FILE_MAX: u64 = 1 << 20;
/// A secret read from `@path`: a key, not a document.
pub const SECRET_FILE_MAX: u64 = 64 << 10;
/// A request body read from a file or standard input (`verify`, `trigger`):
/// well above the relay's default 25 MiB body limit.
pub const BODY_MAX: u64 = 64 << 20;

/// Reads everything `reader` gives, failing once it gives more than
/// `limit` bytes (at most `limit + 1` bytes are ever held).
pub fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {} limit", human(limit)),
        ));
    }
    Ok(bytes)
}

/// Reads the file at `path`, failing once it holds more than `limit` bytes.
pub fn read_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_limited(std::fs::File::open(path)?, limit)
}

/// Reads the UTF-8 text file at `path`, failing once it holds more than
/// `limit` bytes.
pub fn read_text_file(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_file(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        assert_eq!(read_limited(&b"abcd"[..], 4).unwrap(), b"abcd");
        let err = read_limited(&b"abcde"[..], 4).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "larger than the 4 bytes limit");
    }

    #[test]
    fn an_endless_file_stops_at_the_limit() {
        let err = read_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(err.to_string(), "larger than the 1 MiB limit");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, [0xff]).unwrap();
        assert!(read_text_file(&path, 10).is_err());
        std::fs::write(&path, "ok").unwrap();
        assert_eq!(read_text_file(&path, 10).unwrap(), "ok");
    }
}
