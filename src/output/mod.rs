//! Output stage: PNG images, `.npy` aggregates, PMTiles archives (with
//! the `pmtiles` feature) and MBTiles archives (with `mbtiles`) on disk.
//!
//! Every file is written to a temporary file in the destination directory
//! and renamed into place only when complete, so a failed run never leaves
//! a half-written output behind.

#[cfg(feature = "mbtiles")]
pub mod mbtiles;
pub mod npy;
#[cfg(feature = "pmtiles")]
pub mod pmtiles;
mod png_out;
#[cfg(any(feature = "pmtiles", feature = "mbtiles"))]
mod store;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "mbtiles")]
pub use mbtiles::{MbtilesMetadata, MbtilesProblem, MbtilesSummary, MbtilesWriter};
#[cfg(feature = "pmtiles")]
pub use pmtiles::{PmtilesMetadata, PmtilesProblem, PmtilesSummary, PmtilesWriter};
pub use png_out::{encode_png, PngError, PngOptions};

use crate::aggregate::Aggregate;

/// What can go wrong while writing outputs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The file could not be created, written or moved into place.
    #[error("cannot write '{path}': {source}; check that the directory exists and is writable")]
    Io {
        /// The destination.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The PNG encoder refused the image.
    #[error("cannot encode PNG '{path}': {source}")]
    Encode {
        /// The destination.
        path: PathBuf,
        /// The encoder's complaint.
        #[source]
        source: PngError,
    },
    /// A pyramid directory that already holds files.
    #[error("'{path}' exists and is not empty; remove it or give a new directory")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A PMTiles archive that cannot be written as asked.
    #[cfg(feature = "pmtiles")]
    #[error("cannot write PMTiles archive '{path}': {what}")]
    Pmtiles {
        /// The destination.
        path: PathBuf,
        /// What is wrong.
        what: PmtilesProblem,
    },
    /// A PMTiles archive asked of a build without the `pmtiles` feature
    /// (never raised when it is on).
    #[error("cannot write PMTiles archive '{path}': this build of pointillist has no PMTiles support; rebuild it with the `pmtiles` Cargo feature, or give a directory")]
    NoPmtiles {
        /// The destination.
        path: PathBuf,
    },
    /// An MBTiles archive that cannot be written as asked.
    #[cfg(feature = "mbtiles")]
    #[error("cannot write MBTiles archive '{path}': {what}")]
    Mbtiles {
        /// The destination.
        path: PathBuf,
        /// What is wrong.
        what: MbtilesProblem,
    },
    /// SQLite refused to write an MBTiles archive.
    #[cfg(feature = "mbtiles")]
    #[error("cannot write MBTiles archive '{path}': {source}; check that the directory is writable and has room")]
    Sqlite {
        /// The destination.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// An MBTiles archive asked of a build without the `mbtiles` feature
    /// (never raised when it is on).
    #[error("cannot write MBTiles archive '{path}': this build of pointillist has no MBTiles support; rebuild it with the `mbtiles` Cargo feature, or give a directory")]
    NoMbtiles {
        /// The destination.
        path: PathBuf,
    },
}

/// A hidden temporary file `.NAME.XXXX{suffix}` in `path`'s directory
/// (so it can be renamed over `path`), with the permissions
/// `File::create` would give (0666 minus the umask), not tempfile's 0600.
pub(crate) fn temp_file_beside(path: &Path, suffix: &str) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(suffix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(&dir)
}

/// Write `path` atomically: `fill` writes into a temporary file beside it,
/// which replaces `path` only when `fill` and the flush succeed.
///
/// ```
/// use std::io::Write;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("notes.txt");
/// pointillist::output::atomic_write(&path, |w| w.write_all(b"done"))?;
/// assert_eq!(std::fs::read(&path)?, b"done");
/// // A failing fill leaves nothing behind.
/// let other = dir.path().join("other.txt");
/// let failed = pointillist::output::atomic_write(&other, |_| Err(std::io::Error::other("boom")));
/// assert!(failed.is_err() && !other.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn atomic_write<F>(path: &Path, fill: F) -> Result<(), OutputError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let io_err = |source: io::Error| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temp_file_beside(path, ".tmp").map_err(io_err)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        fill(&mut w).map_err(io_err)?;
        w.flush().map_err(io_err)?;
    }
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Write a partial aggregate in its Arrow IPC form
/// ([`crate::aggregate::wire`]), atomically.
pub fn write_partial(
    path: &Path,
    partial: &crate::aggregate::PartialAggregate,
) -> Result<(), OutputError> {
    atomic_write(path, |w| partial.write_ipc(w).map_err(io::Error::other))
}

/// Write an RGBA image, given as north-up rows of `width * 4` bytes, as PNG.
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest};
/// use pointillist::output::{write_png, PngOptions};
/// use pointillist::shade::{shade, ShadeOptions};
/// use pointillist::source::Source;
///
/// let agg = aggregate(&Source::sample()?, &AggregateRequest::new(80, 60))?;
/// let img = shade(&agg, &ShadeOptions::default())?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("map.png");
/// write_png(&path, img.width, img.height, &img.to_north_up_rgba8(), &PngOptions::default())?;
/// assert!(std::fs::read(&path)?.starts_with(b"\x89PNG"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_png(
    path: &Path,
    width: usize,
    height: usize,
    rgba_north_up: &[u8],
    opts: &PngOptions,
) -> Result<(), OutputError> {
    let bytes =
        encode_png(width, height, rgba_north_up, opts).map_err(|source| OutputError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    atomic_write(path, |w| w.write_all(&bytes))
}

/// Write an aggregate as a NumPy `.npy` file (Datashader's orientation and dtype).
///
/// ```
/// use pointillist::aggregate::{aggregate, AggregateRequest};
/// use pointillist::output::{npy, write_agg_npy};
/// use pointillist::source::Source;
///
/// let agg = aggregate(&Source::sample()?, &AggregateRequest::new(80, 60))?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("counts.npy");
/// write_agg_npy(&path, &agg)?; // numpy.load gives shape (60, 80), dtype uint32
/// let back = npy::read_npy(std::fs::File::open(&path)?)?;
/// assert_eq!(back.shape, vec![60, 80]);
/// assert_eq!(back.into_agg_values()?, agg.values);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_agg_npy(path: &Path, agg: &Aggregate) -> Result<(), OutputError> {
    atomic_write(path, |w| npy::write_npy(w, agg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.png");
        let r = atomic_write(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
    }

    #[test]
    fn successful_write_replaces_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").expect("write");
        atomic_write(&path, |w| w.write_all(b"new")).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
    }
}
