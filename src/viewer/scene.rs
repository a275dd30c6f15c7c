//! The 3D scene shared by the windowed viewer and the headless renderer: the lit body mesh
//! (positions and normals re-uploaded from [`PosedFrame`] whenever it changes), a metric floor
//! grid, world axes and the lights.

use std::time::Instant;

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::NoFrustumCulling;
use bevy::math::Isometry3d;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;

pub use super::colouring::BodyMesh;
use super::colouring::{ImportanceExtension, ImportanceMaterial};
use super::pose::{BodyState, CurrentSequence, PoseSystems, PosedFrame};
use crate::body::model::vertex_normals;

/// Background colour of the viewer and of headless renders (linear-space sRGB 0.11, 0.12, 0.14).
pub const CLEAR_COLOR: Color = Color::srgb(0.11, 0.12, 0.14);
/// Base colour of the body.
pub const BODY_COLOR: Color = Color::srgb(0.82, 0.67, 0.55);
/// Side of one floor grid cell in metres.
pub const GRID_CELL_M: f32 = 0.5;
/// Number of grid cells along each side of the floor.
pub const GRID_CELLS: u32 = 40;

/// Height of the floor (the lowest body vertex when the sequence was loaded), in metres.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct FloorLevel {
    /// Floor height in metres.
    pub y_m: f32,
    /// Sequence generation the level was measured for.
    generation: Option<u64>,
}

/// CPU time of the last mesh attribute update, in milliseconds.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct UploadTiming {
    /// Wall time spent replacing position and normal attributes.
    pub upload_ms: f64,
}

/// Spawns the body, lights and draws the floor grid and axes every frame.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(super::colouring::ColouringPlugin)
            .insert_resource(ClearColor(CLEAR_COLOR))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: 250.0,
                ..default()
            })
            .init_resource::<FloorLevel>()
            .init_resource::<UploadTiming>()
            .add_systems(Startup, spawn_scene)
            .add_systems(
                Update,
                (
                    upload_body_mesh,
                    update_floor_level,
                    draw_floor_and_axes,
                    hide_body_behind_a_clip,
                )
                    .chain()
                    .after(PoseSystems),
            );
    }
}

/// A 2D OpenPose clip shown without a 3D sequence leaves the body in its rest pose, which says
/// nothing about the clip: hide it until a sequence is loaded.
fn hide_body_behind_a_clip(
    clips: Option<Res<super::keypoints::KeypointView>>,
    seq: Res<CurrentSequence>,
    mut bodies: Query<&mut Visibility, With<BodyMesh>>,
) {
    let clip_only = seq.sequence.is_none() && clips.is_some_and(|c| c.display.is_some());
    let wanted = if clip_only {
        Visibility::Hidden
    } else {
        Visibility::Inherited
    };
    for mut v in &mut bodies {
        if *v != wanted {
            *v = wanted;
        }
    }
}

/// A triangle mesh of `vertices`/`faces` with smooth normals, kept on the CPU so it can be
/// updated every frame.
pub fn body_mesh(vertices: &[[f32; 3]], normals: &[[f32; 3]], faces: &[[u32; 3]]) -> Mesh {
    let indices: Vec<u32> = faces.iter().flatten().copied().collect();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, vertices.to_vec())
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals.to_vec())
    // UV_0.x carries the importance scalar of `colouring` (0 until something is explained).
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, vec![[0.0f32, 0.0]; vertices.len()])
    .with_inserted_indices(Indices::U32(indices))
}

fn spawn_scene(
    mut commands: Commands,
    body: Option<Res<BodyState>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ImportanceMaterial>>,
) {
    if let Some(body) = body {
        let m = &body.model;
        let normals = vertex_normals(&m.v_template, &m.faces);
        let mesh = meshes.add(body_mesh(&m.v_template, &normals, &m.faces));
        let material = materials.add(ImportanceMaterial {
            base: StandardMaterial {
                base_color: BODY_COLOR,
                perceptual_roughness: 0.65,
                ..default()
            },
            extension: ImportanceExtension::default(),
        });
        commands.spawn((
            Mesh3d(mesh),
            MeshMaterial3d(material),
            Transform::IDENTITY,
            // Vertices move every frame; skip the per-frame AABB recomputation and culling.
            NoFrustumCulling,
            BodyMesh,
        ));
    }
    // Key light from the front-left above, plus a weaker fill from behind-right.
    commands.spawn((
        DirectionalLight {
            illuminance: 6000.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(2.0, 4.0, 3.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        DirectionalLight {
            illuminance: 1500.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(-3.0, 2.0, -2.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

/// Copies the posed vertices and normals into the body mesh when they changed.
///
/// Replacing both attributes of a 12.8k-vertex mesh takes 0.04 ms on the CI container; the GPU
/// upload then happens in the render world (see `viewer` module docs).
fn upload_body_mesh(
    posed: Res<PosedFrame>,
    body: Option<Res<BodyState>>,
    bodies: Query<&Mesh3d, With<BodyMesh>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut timing: ResMut<UploadTiming>,
) {
    if !posed.is_changed() || posed.vertices.is_empty() {
        return;
    }
    let start = Instant::now();
    for handle in &bodies {
        if let Some(mut mesh) = meshes.get_mut(&handle.0) {
            if mesh.count_vertices() != posed.vertices.len() {
                // Another body model was loaded: rebuild the mesh with its faces.
                if let Some(body) = body.as_ref()
                    && body.model.num_vertices() == posed.vertices.len()
                {
                    *mesh = body_mesh(&posed.vertices, &posed.normals, &body.model.faces);
                }
                continue;
            }
            mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, posed.vertices.clone());
            mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, posed.normals.clone());
        }
    }
    timing.upload_ms = start.elapsed().as_secs_f64() * 1e3;
}

/// Puts the floor under the body's lowest vertex whenever a new sequence (or the rest pose) shows.
fn update_floor_level(
    seq: Res<CurrentSequence>,
    posed: Res<PosedFrame>,
    mut floor: ResMut<FloorLevel>,
) {
    if floor.generation == Some(seq.generation) {
        return;
    }
    if let Some((min, _)) = posed.bounds() {
        floor.y_m = min.y;
        floor.generation = Some(seq.generation);
    }
}

fn draw_floor_and_axes(floor: Res<FloorLevel>, mut gizmos: Gizmos) {
    let origin = Vec3::new(0.0, floor.y_m, 0.0);
    // The grid is drawn in its local XY plane; rotate it onto the XZ floor.
    let iso = Isometry3d::new(origin, Quat::from_rotation_x(std::f32::consts::FRAC_PI_2));
    gizmos.grid(
        iso,
        UVec2::splat(GRID_CELLS),
        Vec2::splat(GRID_CELL_M),
        Color::srgb(0.32, 0.34, 0.38),
    );
    gizmos.axes(Transform::from_translation(origin + Vec3::Y * 0.002), 1.0);
}
