//! The embedded licence-free default body: a SMPL-structured model (22 joints, 10 shape
//! components, T-pose rest) generated from MakeHuman's CC0 base mesh, game-engine rig and macro
//! targets, so gaitlens works without the non-redistributable SUPR files.
//!
//! The asset (`assets/default_body.bin`) is produced by [`build::build_default`] +
//! [`encode_asset`] (see `assets/PROVENANCE.md`) and decoded lazily once on first use.

pub mod body_twin;
pub mod build;
mod codec;
pub mod pig_markers;

use std::sync::OnceLock;

use super::markers::MarkerSet;
use super::model::BodyModel;

pub use build::{BuildError, build_default};
pub use codec::{DecodeError, decode_asset, encode_asset};

/// The embedded asset bytes (zlib-compressed little-endian layout, see [`encode_asset`]).
pub static DEFAULT_BODY_ASSET: &[u8] = include_bytes!("../../../assets/default_body.bin");

pub use crate::body::smpl22::{JOINT_NAMES, JOINT_PARENTS};

/// The default body model together with its Plug-in Gait marker placements.
#[derive(Debug, Clone)]
pub struct DefaultAsset {
    /// The body model (T-pose rest, metres, y up, facing +z, left on +x).
    pub model: BodyModel,
    /// Plug-in Gait (full body + SACR) marker placements on the model's mesh.
    pub markers: MarkerSet,
}

static DEFAULT: OnceLock<DefaultAsset> = OnceLock::new();

/// The embedded default asset, decoded on first use.
pub fn default_asset() -> &'static DefaultAsset {
    DEFAULT.get_or_init(|| {
        // The embedded bytes are produced and checked by this crate's generator and tests, so a
        // decoding failure here is a build defect, not bad user input.
        decode_asset(DEFAULT_BODY_ASSET).expect("embedded default body asset is corrupt")
    })
}

/// The embedded default body model.
pub fn default_body() -> &'static BodyModel {
    &default_asset().model
}

/// The embedded Plug-in Gait marker placements on [`default_body`].
pub fn default_markers() -> &'static MarkerSet {
    &default_asset().markers
}

static FITTING_MARKERS: OnceLock<MarkerSet> = OnceLock::new();

/// Every label the fitter knows on [`default_body`]: the Plug-in Gait markers followed by the
/// landmark markers ([`pig_markers::LANDMARK_MARKERS`]: trochanters and joint centres, placed on
/// first use), so trials that export joint centres instead of skin markers fit too.
pub fn fitting_markers() -> &'static MarkerSet {
    FITTING_MARKERS.get_or_init(|| {
        let mut set = default_markers().clone();
        // The placement rules only cast rays on the embedded mesh, which the crate's own tests
        // cover, so a failure here is a build defect, not bad user input.
        let landmarks = pig_markers::place_landmark_markers(default_body())
            .expect("landmark markers cannot be placed on the embedded body");
        set.markers.extend(landmarks.markers);
        set
    })
}
