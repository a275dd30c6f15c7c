//! Readers and writers for gait data files.
pub mod trial;

pub use trial::{GaitEvent, MarkerTrial, ModelOutput};
