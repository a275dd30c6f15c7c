//! Readers and writers for gait data files.
pub mod trial;
pub mod constraints;
pub mod cohort;
pub mod pose_seq;
pub mod trc;
pub mod openpose;
pub mod ordered_json;

pub use trial::{GaitEvent, MarkerTrial, ModelOutput};
