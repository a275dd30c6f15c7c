//! gaitlens: explainable gait analysis — body models, gait data formats, marker fitting,
//! classifiers with explanations, and a Bevy viewer (feature `viewer`).
pub mod body;
pub mod formats;
pub mod io_util;
