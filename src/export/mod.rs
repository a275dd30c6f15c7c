//! Sharing a walk outside gaitlens: the posed body as an animated glTF 2.0 binary (`.glb`) that
//! opens in Blender, three.js and every web glTF viewer, coloured by a network's relevance.

pub mod glb;

pub use glb::{ExportError, WalkAnimation, glb_bytes, lab_up_from_joints, write_glb};
