//! Reading a file an operator named (a configuration, a secret, a web config, a
//! certificate): only a regular file, and only up to a cap, so that a FIFO cannot block
//! and `/dev/zero` cannot flood.

use std::io::Read;
use std::path::Path;

/// Up to `cap` bytes of the regular file at `path`; anything else (a directory, a FIFO,
/// a device) is refused before it is opened, and a larger file is refused after reading
/// `cap` + 1 bytes. The problem is said without the path, for the caller to name.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let not_regular = |metadata: &std::fs::Metadata| {
        let kind = kind_of(&metadata.file_type());
        format!("not a regular file but {kind}, which is not read")
    };
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => format!("cannot read it: {error}"),
    })?;
    if !metadata.is_file() {
        return Err(not_regular(&metadata));
    }
    if metadata.len() > cap {
        return Err(format!("larger than {cap} bytes, the most that is read"));
    }
    let file = std::fs::File::open(path).map_err(|error| format!("cannot read it: {error}"))?;
    // The path may have been replaced between the look and the opening.
    let opened = file
        .metadata()
        .map_err(|error| format!("cannot read it: {error}"))?;
    if !opened.is_file() {
        return Err(not_regular(&opened));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read it: {error}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!("larger than {cap} bytes, the most that is read"));
    }
    Ok(bytes)
}

/// "a directory", "a FIFO (named pipe)", ...: what a path that is not a regular file is.
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let error = read_capped(Path::new("/dev/zero"), 10).unwrap_err();
        assert_eq!(
            error,
            "not a regular file but a character device, which is not read"
        );
        let error = read_capped(Path::new("/"), 10).unwrap_err();
        assert_eq!(
            error,
            "not a regular file but a directory, which is not read"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ten-bytes");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_capped(&path, 10).unwrap(), b"0123456789");
        let error = read_capped(&path, 9).unwrap_err();
        assert_eq!(error, "larger than 9 bytes, the most that is read");
    }
}
