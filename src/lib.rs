//! gaitlens: explainable gait analysis — body models, gait data formats, marker fitting,
//! classifiers with explanations, and a Bevy viewer (feature `viewer`).
pub mod body;
pub mod checkpoint;
pub mod dataset;
pub mod explain;
pub mod export;
pub mod fit;
pub mod formats;
pub mod gait;
pub mod inference;
pub mod io_util;
pub mod nn;
pub mod rng;
pub mod synth;
pub mod train;
pub mod video;
#[cfg(feature = "viewer")]
pub mod viewer;
