//! Statistical body models (SUPR files and the embedded licence-free default) and their forward pass.
pub mod default_model;
pub mod markers;
pub mod model;
pub mod npy;
pub mod smpl22;
pub mod supr;

pub use markers::{MarkerPlacement, MarkerSet};
pub use model::{
    BodyModel, BodyModelError, JointTransforms, PoseFeature, PosedBody, ShapedBody, SparseWeights,
};
