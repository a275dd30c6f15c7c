//! Importance colouring: the body mesh coloured by why the classifier flagged the gait.
//!
//! Joint relevance of the frame on screen becomes a per-vertex scalar on the CPU (through the
//! skinning weights, Σ_j w_vj·R_j, or the original viewer's nearest-joint distance weighting),
//! travels to the GPU in the mesh's `UV_0.x`, and `shaders/importance.wgsl` maps it to a colormap
//! that replaces the base colour *before* Bevy's PBR lighting, so the shape stays readable.
//! By default the scale is fixed over the explained window (÷ max |R| of the whole window), so
//! colours are comparable from frame to frame; [`ColourScale`] also offers a per-frame scale and
//! one static colouring by the relevance summed over the window. Computing 13k vertex scalars costs ~0.05 ms a frame, far less
//! than re-uploading positions, so this stays on the CPU.

use std::sync::Arc;

use bevy::asset::{load_internal_asset, uuid_handle};
use bevy::pbr::{ExtendedMaterial, MaterialExtension, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::ShaderRef;

use super::pose::{BodyState, CurrentSequence, PoseSystems, PosedFrame};
use crate::body::BodyModel;

/// The body's material: Bevy's standard PBR material plus the importance colormap.
pub type ImportanceMaterial = ExtendedMaterial<StandardMaterial, ImportanceExtension>;

const IMPORTANCE_SHADER: Handle<Shader> = uuid_handle!("5d0e6f3c-3f3a-4a8e-9a44-6a1c2b7f9e21");

pub use crate::explain::colouring::{
    Colormap, ColourScale, DIVERGING, SEQUENTIAL, ShownExplanation, VertexJointWeights,
    VertexWeighting, nearest_joint_weights, unmeasured_share, vertex_values,
};

/// Marks the body mesh entity: the mesh the scene re-poses every frame and this module colours
/// (defined here, beside its material, so the scene depends on the colouring and not back).
#[derive(Component)]
pub struct BodyMesh;

/// What the body is coloured with; the explain panel writes it.
#[derive(Resource, Debug, Clone, Default)]
pub struct Importance {
    /// The explanation shown, if any.
    pub shown: Option<Arc<ShownExplanation>>,
    /// Colour the body (off shows the plain skin colour).
    pub enabled: bool,
    /// Colormap; defaults to diverging for signed relevance, sequential for attention.
    pub colormap: Colormap,
    /// Spreading rule from joints to vertices.
    pub weighting: VertexWeighting,
    /// How relevance is scaled to the colormap.
    pub scale: ColourScale,
}

/// The extension of [`ImportanceMaterial`]: the importance shader's one uniform.
#[derive(Asset, AsBindGroup, TypePath, Debug, Clone, Default)]
pub struct ImportanceExtension {
    /// Colormap and switches of `shaders/importance.wgsl` (its `ImportanceSettings`).
    #[uniform(100)]
    pub settings: ImportanceSettings,
}

/// Share of the base colour the colormap replaces where the body is coloured.
const COLORMAP_STRENGTH: f32 = 0.9;

/// The importance shader's settings as one named uniform; the colormap's control points are
/// uploaded from [`DIVERGING`] / [`SEQUENTIAL`], so the shader, the egui legend and the glTF
/// export share one table.
#[derive(ShaderType, Debug, Clone, Copy, PartialEq)]
pub struct ImportanceSettings {
    /// sRGB control points of the colormap, evenly spaced from `low` to `high` (w unused).
    pub stops: [Vec4; 5],
    /// The scalar mapped to the first control point.
    pub low: f32,
    /// The scalar mapped to the last control point.
    pub high: f32,
    /// 1 to colour the body, 0 to show the plain base colour.
    pub enabled: u32,
    /// How much of the colormap replaces the base colour (0..1).
    pub strength: f32,
}

impl ImportanceSettings {
    /// The settings that draw `colormap`, or the plain base colour when `enabled` is false.
    pub fn new(enabled: bool, colormap: Colormap) -> Self {
        let points = match colormap {
            Colormap::Diverging => &DIVERGING,
            Colormap::Sequential => &SEQUENTIAL,
        };
        let (low, high) = colormap.range();
        ImportanceSettings {
            stops: points.map(|[r, g, b]| Vec4::new(r, g, b, 0.0)),
            low,
            high,
            enabled: u32::from(enabled),
            strength: COLORMAP_STRENGTH,
        }
    }
}

impl Default for ImportanceSettings {
    /// Colouring off (the default colormap uploaded, so switching on needs only `enabled`).
    fn default() -> Self {
        ImportanceSettings::new(false, Colormap::default())
    }
}

impl MaterialExtension for ImportanceExtension {
    fn fragment_shader() -> ShaderRef {
        IMPORTANCE_SHADER.into()
    }

    fn deferred_fragment_shader() -> ShaderRef {
        IMPORTANCE_SHADER.into()
    }
}

/// Registers the material and keeps the body's per-vertex scalars and the material's settings in
/// sync with [`Importance`] and the frame on screen.
pub struct ColouringPlugin;

impl Plugin for ColouringPlugin {
    fn build(&self, app: &mut App) {
        load_internal_asset!(
            app,
            IMPORTANCE_SHADER,
            "../../shaders/importance.wgsl",
            Shader::from_wgsl
        );
        app.add_plugins(MaterialPlugin::<ImportanceMaterial>::default())
            .init_resource::<Importance>()
            .add_systems(Update, update_importance_colours.after(PoseSystems));
    }
}

/// Weights cached for the body model they were computed from, and the per-vertex share of
/// unmeasured joints for the sequence they were computed for.
#[derive(Default)]
struct CachedWeights {
    model: Option<Arc<BodyModel>>,
    weights: Option<VertexJointWeights>,
    unmeasured_key: Option<(u64, usize)>,
    unmeasured: Vec<f32>,
}

/// Writes the body's per-vertex `UV_0`: x = the relevance scalar of the frame on screen (0 when
/// nothing is explained), y = the share of unmeasured joints (the shader hatches where it is
/// mostly unmeasured, so a prior's pose never passes for data).
#[allow(clippy::too_many_arguments)]
fn update_importance_colours(
    importance: Res<Importance>,
    posed: Res<PosedFrame>,
    seq: Res<CurrentSequence>,
    body: Option<Res<BodyState>>,
    bodies: Query<(&Mesh3d, &MeshMaterial3d<ImportanceMaterial>), With<BodyMesh>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ImportanceMaterial>>,
    mut cache: Local<CachedWeights>,
    mut last_frame: Local<Option<Option<usize>>>,
) {
    let Some(body) = body else { return };
    if !(importance.is_changed() || posed.is_changed() || seq.is_changed()) {
        return;
    }
    if importance.is_changed() {
        let on = importance.enabled && importance.shown.is_some();
        let settings = ImportanceSettings::new(on, importance.colormap);
        for (_, mat) in &bodies {
            if let Some(mut m) = materials.get_mut(&mat.0) {
                m.extension.settings = settings;
            }
        }
    }
    if cache
        .model
        .as_ref()
        .is_none_or(|m| !Arc::ptr_eq(m, &body.model))
    {
        cache.weights = Some(VertexJointWeights::new(&body.model));
        cache.model = Some(body.model.clone());
        cache.unmeasured_key = None;
    }
    let key = (seq.generation, Arc::as_ptr(&body.model) as usize);
    let unmeasured_changed = cache.unmeasured_key != Some(key);
    if unmeasured_changed {
        let names = seq
            .sequence
            .as_ref()
            .map(|s| s.unmeasured_joints.clone())
            .unwrap_or_default();
        let share = match cache.weights.as_ref() {
            Some(w) => unmeasured_share(&body.model, w, &names),
            None => Vec::new(),
        };
        cache.unmeasured = share;
        cache.unmeasured_key = Some(key);
    }
    let shown = importance.shown.as_deref().filter(|_| importance.enabled);
    if !importance.is_changed() && !unmeasured_changed && *last_frame == Some(posed.frame) {
        return;
    }
    *last_frame = Some(posed.frame);
    let Some(weights) = cache.weights.as_ref() else {
        return;
    };
    let mut uv = match shown {
        Some(shown) => {
            let (values, _) = shown
                .scaled_joint_values(posed.frame.unwrap_or(shown.start_frame), importance.scale);
            vertex_values(weights, importance.weighting, &values)
        }
        None => vec![[0.0, 0.0]; weights.skinning.len()],
    };
    for (v, share) in uv.iter_mut().zip(&cache.unmeasured) {
        v[1] = *share;
    }
    for (mesh, _) in &bodies {
        if let Some(mut m) = meshes.get_mut(&mesh.0)
            && m.count_vertices() == uv.len()
        {
            m.insert_attribute(Mesh::ATTRIBUTE_UV_0, uv.clone());
        }
    }
}
