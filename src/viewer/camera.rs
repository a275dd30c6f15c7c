//! Fly camera like the original viewer: W/A/S/D move, Q/E down/up, mouse drag looks around,
//! wheel changes speed, `O` orbits the body, `Home` frames it, `F` follows the pelvis.
//!
//! The math lives in plain functions (yaw/pitch ↔ direction, framing, orbit step) with unit tests;
//! the Bevy systems only read input and write the camera transform.

use bevy::ecs::system::SystemParam;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::egui;
use bevy_egui::input::EguiWantsInput;

use super::pose::PosedFrame;

/// Largest pitch magnitude (just under straight up/down, which would make `looking_to` degenerate).
pub const PITCH_LIMIT_RAD: f32 = 1.55;
/// Default vertical field of view of the viewer camera (Bevy's default, π/4).
pub const DEFAULT_VFOV_RAD: f32 = std::f32::consts::FRAC_PI_4;

/// Unit view direction for a yaw about +Y (0 looks down −Z, positive turns left) and a pitch
/// (positive looks up).
pub fn forward_from_yaw_pitch(yaw_rad: f32, pitch_rad: f32) -> Vec3 {
    let (sy, cy) = yaw_rad.sin_cos();
    let (sp, cp) = pitch_rad.sin_cos();
    Vec3::new(-sy * cp, sp, -cy * cp)
}

/// Inverse of [`forward_from_yaw_pitch`] for a non-zero direction (length is ignored).
pub fn yaw_pitch_from_forward(forward: Vec3) -> (f32, f32) {
    let f = forward.normalize_or(Vec3::NEG_Z);
    let pitch = f.y.clamp(-1.0, 1.0).asin();
    let yaw = (-f.x).atan2(-f.z);
    (yaw, pitch)
}

/// Distance from a sphere's centre at which the sphere of `radius` fits the narrower of the
/// vertical field of view `vfov_rad` and the horizontal one implied by `aspect` (width / height).
pub fn framing_distance(radius: f32, vfov_rad: f32, aspect: f32) -> f32 {
    let aspect = if aspect.is_finite() && aspect > 0.0 {
        aspect
    } else {
        1.0
    };
    let hfov = 2.0 * ((vfov_rad * 0.5).tan() * aspect).atan();
    let half = 0.5 * vfov_rad.min(hfov);
    radius.max(1e-3) / half.sin().max(1e-3)
}

/// Camera position looking along `forward` that frames the box `min..max` (with `margin` ≥ 1
/// around its bounding sphere) at the given field of view; the box centre is in the image centre.
pub fn frame_bounds(
    min: Vec3,
    max: Vec3,
    forward: Vec3,
    vfov_rad: f32,
    aspect: f32,
    margin: f32,
) -> Vec3 {
    let center = 0.5 * (min + max);
    let radius = 0.5 * (max - min).length() * margin.max(1.0);
    center - forward.normalize_or(Vec3::NEG_Z) * framing_distance(radius, vfov_rad, aspect)
}

/// Rotates `position` about the vertical axis through `center` by `angle_rad` (counter-clockwise
/// seen from above); height and distance to the axis are preserved.
pub fn orbit_step(position: Vec3, center: Vec3, angle_rad: f32) -> Vec3 {
    center + Quat::from_rotation_y(angle_rad) * (position - center)
}

/// World-space displacement for fly input `(right, up, forward)` in [-1, 1]: forward follows the
/// view direction (pitch included), right stays horizontal, up is world +Y.
pub fn fly_displacement(yaw_rad: f32, pitch_rad: f32, input: Vec3, distance_m: f32) -> Vec3 {
    let forward = forward_from_yaw_pitch(yaw_rad, pitch_rad);
    let right = forward_from_yaw_pitch(yaw_rad - std::f32::consts::FRAC_PI_2, 0.0);
    (right * input.x + Vec3::Y * input.y + forward * input.z) * distance_m
}

/// Marks the camera the viewer drives.
#[derive(Component)]
pub struct ViewerCamera;

/// State of the fly camera (the viewer camera's transform is derived from it every frame).
#[derive(Resource, Debug, Clone)]
pub struct FlyCamera {
    /// Eye position in metres.
    pub position: Vec3,
    /// Yaw about +Y in radians (0 looks down −Z).
    pub yaw_rad: f32,
    /// Pitch in radians (positive looks up).
    pub pitch_rad: f32,
    /// Fly speed in metres per second (mouse wheel scales it).
    pub speed_m_s: f32,
    /// Mouse-look sensitivity in radians per pixel.
    pub look_rad_per_px: f32,
    /// Whether the camera orbits the body.
    pub orbit: bool,
    /// Orbit angular speed in radians per second.
    pub orbit_rate_rad_s: f32,
    /// Whether the camera follows the pelvis (keeps its offset to it).
    pub follow: bool,
    /// Offset from the pelvis captured when following started.
    pub follow_offset: Option<Vec3>,
    /// Vertical field of view in radians.
    pub vfov_rad: f32,
    /// Set to frame the body on the next update (Home key, sequence load).
    pub frame_requested: bool,
    /// Fraction of the window's width covered by the side panel on the left (set by the panels
    /// each frame): framing centres the body in the part of the window left free.
    pub left_inset_frac: f32,
    /// Fraction covered by a window docked at the right edge (the Curves window).
    pub right_inset_frac: f32,
}

impl Default for FlyCamera {
    fn default() -> Self {
        let forward = Vec3::new(-0.35, -0.15, -1.0).normalize();
        let (yaw_rad, pitch_rad) = yaw_pitch_from_forward(forward);
        FlyCamera {
            position: Vec3::new(1.0, 1.2, 3.5),
            yaw_rad,
            pitch_rad,
            speed_m_s: 2.0,
            look_rad_per_px: 0.004,
            orbit: false,
            orbit_rate_rad_s: 0.5,
            follow: false,
            follow_offset: None,
            vfov_rad: DEFAULT_VFOV_RAD,
            frame_requested: true,
            left_inset_frac: 0.0,
            right_inset_frac: 0.0,
        }
    }
}

impl FlyCamera {
    /// Unit view direction.
    pub fn forward(&self) -> Vec3 {
        forward_from_yaw_pitch(self.yaw_rad, self.pitch_rad)
    }

    /// The camera transform for this state.
    pub fn transform(&self) -> Transform {
        Transform::from_translation(self.position).looking_to(self.forward(), Vec3::Y)
    }

    /// Points the camera at `target` from where it is.
    pub fn look_at(&mut self, target: Vec3) {
        let d = target - self.position;
        if d.length_squared() > 1e-8 {
            let (yaw, pitch) = yaw_pitch_from_forward(d);
            self.yaw_rad = yaw;
            self.pitch_rad = pitch.clamp(-PITCH_LIMIT_RAD, PITCH_LIMIT_RAD);
        }
    }

    /// Records the fraction of the window's width a panel docked at the left (or right) edge
    /// covers; the first time one becomes known, the body is framed beside it.
    pub fn set_inset(&mut self, right: bool, frac: f32) {
        let slot = if right {
            &mut self.right_inset_frac
        } else {
            &mut self.left_inset_frac
        };
        if (*slot - frac).abs() > 1e-3 {
            let first = *slot == 0.0;
            *slot = frac;
            self.frame_requested |= first;
        }
    }

    /// [`Self::set_inset`] from an egui `window` on `screen`: the width it covers from its edge
    /// when it is docked there (left: starts in the screen's first quarter; right: in its right
    /// half), else 0.
    pub fn set_inset_beside(
        &mut self,
        right: bool,
        screen: egui::Rect,
        window: Option<egui::Rect>,
    ) {
        let width = screen.width().max(1.0);
        let inset = match window {
            Some(r) if right && r.left() > 0.5 * screen.width() => {
                (screen.right() - r.left()) / width
            }
            Some(r) if !right && r.left() < 0.25 * screen.width() => {
                (r.right() - screen.left()) / width
            }
            _ => 0.0,
        };
        self.set_inset(right, inset);
    }

    /// After a walk is loaded: frame it on the next update and follow its pelvis (a walk leaves
    /// any fixed view within seconds; the keys move the view along with it, `F` stops following).
    pub fn frame_and_follow(&mut self) {
        self.frame_requested = true;
        self.follow = true;
        self.follow_offset = None;
    }

    /// Moves the camera so the box `min..max` fills the part of the view that no panel covers,
    /// along the current direction.
    pub fn frame(&mut self, min: Vec3, max: Vec3, aspect: f32) {
        let (left, right) = (
            self.left_inset_frac.clamp(0.0, 0.6),
            self.right_inset_frac.clamp(0.0, 0.6),
        );
        let free = (1.0 - left - right).max(0.25);
        let forward = self.forward();
        let centre = 0.5 * (min + max);
        let mut position = frame_bounds(min, max, forward, self.vfov_rad, aspect * free, 1.1);
        // Slide sideways so the box centre projects to the middle of the free part: its NDC x
        // is `left − right`.
        let distance = (centre - position).dot(forward);
        let cam_right = forward.cross(Vec3::Y).normalize_or_zero();
        let half_width = distance * aspect * (0.5 * self.vfov_rad).tan();
        position -= cam_right * ((left - right) * half_width);
        self.position = position;
        if let Some(off) = self.follow_offset.as_mut() {
            *off = self.position - 0.5 * (min + max);
        }
    }
}

/// Spawns the viewer camera and drives it from keyboard and mouse.
pub struct FlyCameraPlugin;

impl Plugin for FlyCameraPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FlyCamera>()
            .add_systems(Startup, spawn_camera)
            .add_systems(
                Update,
                (fly_camera_input, apply_camera_transform)
                    .chain()
                    .after(super::pose::PoseSystems),
            );
    }
}

/// Spawns the viewer camera at the fly camera's start state.
fn spawn_camera(mut commands: Commands, cam: Res<FlyCamera>) {
    commands.spawn((
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: cam.vfov_rad,
            ..default()
        }),
        cam.transform(),
        ViewerCamera,
    ));
}

/// The input the fly camera reads: time, keys, mouse buttons, drag and wheel, whether egui
/// claims them, and the window (for its aspect ratio).
#[derive(SystemParam)]
struct CameraInput<'w, 's> {
    time: Res<'w, Time>,
    keys: Res<'w, ButtonInput<KeyCode>>,
    buttons: Res<'w, ButtonInput<MouseButton>>,
    motion: Res<'w, AccumulatedMouseMotion>,
    scroll: Res<'w, AccumulatedMouseScroll>,
    egui_input: Option<Res<'w, EguiWantsInput>>,
    windows: Query<'w, 's, &'static Window>,
}

impl CameraInput<'_, '_> {
    /// Whether the keyboard is the camera's (egui is not typing into a field).
    fn keyboard_free(&self) -> bool {
        !self
            .egui_input
            .as_ref()
            .is_some_and(|e| e.wants_any_keyboard_input())
    }

    /// Whether the pointer is the camera's (not over or dragging an egui window).
    fn pointer_free(&self) -> bool {
        !self
            .egui_input
            .as_ref()
            .is_some_and(|e| e.wants_any_pointer_input())
    }

    /// Width / height of the window (16:9 without one).
    fn aspect(&self) -> f32 {
        self.windows
            .iter()
            .next()
            .map(|w| w.width() / w.height().max(1.0))
            .unwrap_or(16.0 / 9.0)
    }
}

/// Reads keys, mouse drag and wheel (unless egui uses them) and updates [`FlyCamera`].
fn fly_camera_input(input: CameraInput, posed: Res<PosedFrame>, mut cam: ResMut<FlyCamera>) {
    let dt = input.time.delta_secs();
    if input.keyboard_free() {
        fly_keys(&mut cam, &input.keys, dt);
    }
    if input.pointer_free() {
        look_and_speed(&mut cam, &input);
    }
    track_body(&mut cam, &posed, input.aspect(), dt);
}

/// W/A/S/D/Q/E fly (the follow offset moves along), O toggles orbit, F following, Home framing.
fn fly_keys(cam: &mut ResMut<FlyCamera>, keys: &ButtonInput<KeyCode>, dt: f32) {
    let mut input = Vec3::ZERO;
    for (key, v) in [
        (KeyCode::KeyW, Vec3::Z),
        (KeyCode::KeyS, Vec3::NEG_Z),
        (KeyCode::KeyD, Vec3::X),
        (KeyCode::KeyA, Vec3::NEG_X),
        (KeyCode::KeyE, Vec3::Y),
        (KeyCode::KeyQ, Vec3::NEG_Y),
    ] {
        if keys.pressed(key) {
            input += v;
        }
    }
    if input != Vec3::ZERO {
        let d = fly_displacement(cam.yaw_rad, cam.pitch_rad, input, cam.speed_m_s * dt);
        cam.position += d;
        if let Some(off) = cam.follow_offset.as_mut() {
            *off += d;
        }
    }
    if keys.just_pressed(KeyCode::KeyO) {
        cam.orbit = !cam.orbit;
    }
    if keys.just_pressed(KeyCode::KeyF) {
        cam.follow = !cam.follow;
        cam.follow_offset = None;
    }
    if keys.just_pressed(KeyCode::Home) {
        cam.frame_requested = true;
    }
}

/// A mouse drag (either button) looks around; the wheel scales the fly speed.
fn look_and_speed(cam: &mut ResMut<FlyCamera>, input: &CameraInput) {
    if input.buttons.pressed(MouseButton::Right) || input.buttons.pressed(MouseButton::Left) {
        let d = input.motion.delta * cam.look_rad_per_px;
        cam.yaw_rad -= d.x;
        cam.pitch_rad = (cam.pitch_rad - d.y).clamp(-PITCH_LIMIT_RAD, PITCH_LIMIT_RAD);
    }
    let wheel = match input.scroll.unit {
        MouseScrollUnit::Line => input.scroll.delta.y,
        MouseScrollUnit::Pixel => input.scroll.delta.y / 40.0,
    };
    if wheel != 0.0 {
        cam.speed_m_s = (cam.speed_m_s * 1.15f32.powf(wheel)).clamp(0.05, 50.0);
    }
}

/// Applies a framing request, then follows the pelvis and orbits the body when switched on.
fn track_body(cam: &mut ResMut<FlyCamera>, posed: &PosedFrame, aspect: f32, dt: f32) {
    let bounds = posed.bounds();
    if cam.frame_requested
        && let Some((min, max)) = bounds
    {
        cam.frame(min, max, aspect);
        cam.frame_requested = false;
        // Following keeps the new view's offset to the pelvis.
        cam.follow_offset = None;
    }
    if cam.follow
        && let Some(p) = posed.pelvis()
    {
        let here = cam.position - p;
        let off = *cam.follow_offset.get_or_insert(here);
        cam.position = p + off;
    }
    if cam.orbit
        && let Some((min, max)) = bounds
    {
        let center = 0.5 * (min + max);
        let step = cam.orbit_rate_rad_s * dt;
        cam.position = orbit_step(cam.position, center, step);
        if let Some(off) = cam.follow_offset.as_mut() {
            *off = Quat::from_rotation_y(step) * *off;
        }
        cam.look_at(center);
    }
}

/// Writes the fly camera's state to the camera's transform when it changed.
fn apply_camera_transform(cam: Res<FlyCamera>, mut q: Query<&mut Transform, With<ViewerCamera>>) {
    if cam.is_changed() {
        for mut t in &mut q {
            *t = cam.transform();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::{FRAC_PI_2, FRAC_PI_4};

    fn near(a: Vec3, b: Vec3, tol: f32) -> bool {
        (a - b).length() <= tol
    }

    /// NDC x of `p` seen by `cam` in a window of `aspect`.
    fn ndc_x(cam: &FlyCamera, p: Vec3, aspect: f32) -> f32 {
        let local = cam
            .transform()
            .compute_affine()
            .inverse()
            .transform_point3(p);
        (local.x / -local.z) / (aspect * (0.5 * cam.vfov_rad).tan())
    }

    #[test]
    fn framing_centres_the_body_in_the_part_no_panel_covers() {
        let (min, max) = (Vec3::new(-0.3, 0.0, -0.2), Vec3::new(0.3, 1.8, 0.2));
        let centre = 0.5 * (min + max);
        let aspect = 1.6;
        let mut cam = FlyCamera::default();
        cam.frame(min, max, aspect);
        assert!(ndc_x(&cam, centre, aspect).abs() < 1e-3);
        // a left panel over 30 % and a right window over 20 % of the width: the free part runs
        // from NDC −0.4 to 0.6, its middle is 0.1
        // the first size of each panel asks for framing; later changes only record it
        cam.frame_requested = false;
        cam.set_inset(false, 0.3);
        assert!(cam.frame_requested);
        cam.frame_requested = false;
        cam.set_inset(true, 0.25);
        assert!(cam.frame_requested);
        cam.frame_requested = false;
        cam.set_inset(true, 0.2);
        assert!(!cam.frame_requested && cam.right_inset_frac == 0.2);
        cam.frame(min, max, aspect);
        let x = ndc_x(&cam, centre, aspect);
        assert!((x - 0.1).abs() < 1e-3, "{x}");
        // and every corner of the box stays inside the free part
        for c in 0..8 {
            let p = Vec3::new(
                if c & 1 == 0 { min.x } else { max.x },
                if c & 2 == 0 { min.y } else { max.y },
                if c & 4 == 0 { min.z } else { max.z },
            );
            let x = ndc_x(&cam, p, aspect);
            assert!((-0.4..=0.6).contains(&x), "corner {c} at NDC x {x}");
        }
    }

    #[test]
    fn yaw_pitch_directions_match_bevy_conventions() {
        assert!(near(forward_from_yaw_pitch(0.0, 0.0), Vec3::NEG_Z, 1e-6));
        assert!(near(
            forward_from_yaw_pitch(FRAC_PI_2, 0.0),
            Vec3::NEG_X,
            1e-6
        ));
        assert!(near(forward_from_yaw_pitch(0.0, FRAC_PI_2), Vec3::Y, 1e-6));
        // Bevy's own rotation: yaw about +Y applied to its forward (−Z).
        let q = Quat::from_rotation_y(0.7) * Quat::from_rotation_x(-0.3);
        assert!(near(
            forward_from_yaw_pitch(0.7, -0.3),
            q * Vec3::NEG_Z,
            1e-5
        ));
        for (y, p) in [(0.3, 0.2), (-2.5, -1.0), (3.0, 1.2)] {
            let (yy, pp) = yaw_pitch_from_forward(forward_from_yaw_pitch(y, p) * 3.0);
            assert!(
                (yy - y).abs() < 1e-5 && (pp - p).abs() < 1e-5,
                "{y},{p} -> {yy},{pp}"
            );
        }
    }

    #[test]
    fn framing_fits_the_sphere_in_the_narrower_fov() {
        // Square view: the sphere's tangent lines make exactly the half field of view.
        let d = framing_distance(1.0, FRAC_PI_2, 1.0);
        assert!((d - 1.0 / FRAC_PI_4.sin()).abs() < 1e-5);
        // A portrait view (aspect 0.5) is limited horizontally, so it must back off further.
        assert!(framing_distance(1.0, FRAC_PI_2, 0.5) > d);
        // A wide view is limited vertically: same as square.
        assert!((framing_distance(1.0, FRAC_PI_2, 3.0) - d).abs() < 1e-5);
        // frame_bounds puts the box centre straight ahead at that distance.
        let (min, max) = (Vec3::new(-0.3, 0.0, -0.2), Vec3::new(0.3, 1.8, 0.2));
        let fwd = Vec3::new(0.0, -0.5, -1.0).normalize();
        let eye = frame_bounds(min, max, fwd, FRAC_PI_4, 16.0 / 9.0, 1.0);
        let c = 0.5 * (min + max);
        assert!(near((c - eye).normalize(), fwd, 1e-5));
        let r = 0.5 * (max - min).length();
        let dist = (c - eye).length();
        assert!((dist - framing_distance(r, FRAC_PI_4, 16.0 / 9.0)).abs() < 1e-4);
        // Every box corner is within the vertical half-angle seen from the eye.
        for corner in [
            min,
            max,
            Vec3::new(min.x, max.y, min.z),
            Vec3::new(max.x, min.y, max.z),
        ] {
            let angle = (corner - eye).angle_between(fwd);
            assert!(
                angle <= FRAC_PI_4 / 2.0 + 1e-4,
                "corner {corner} at {angle} rad"
            );
        }
    }

    #[test]
    fn orbit_preserves_height_and_radius() {
        let c = Vec3::new(1.0, 0.9, -2.0);
        let p = Vec3::new(3.0, 1.5, -2.0);
        let q = orbit_step(p, c, FRAC_PI_2);
        assert!((q.y - p.y).abs() < 1e-6);
        let r0 = (p - c).with_y(0.0).length();
        let r1 = (q - c).with_y(0.0).length();
        assert!((r0 - r1).abs() < 1e-5);
        // Counter-clockwise seen from above: +X goes to −Z.
        assert!(near(q, Vec3::new(1.0, 1.5, -4.0), 1e-5));
        assert!(near(orbit_step(q, c, -FRAC_PI_2), p, 1e-5));
    }

    #[test]
    fn fly_moves_along_view_right_and_world_up() {
        let d = fly_displacement(0.0, 0.0, Vec3::Z, 2.0);
        assert!(near(d, Vec3::new(0.0, 0.0, -2.0), 1e-6));
        let d = fly_displacement(0.0, 0.4, Vec3::X, 1.0);
        assert!(near(d, Vec3::X, 1e-6), "right must stay horizontal: {d}");
        let d = fly_displacement(1.0, 0.4, Vec3::Y, 1.0);
        assert!(near(d, Vec3::Y, 1e-6));
    }

    #[test]
    fn look_at_points_the_transform_at_the_target() {
        let mut cam = FlyCamera {
            position: Vec3::new(2.0, 2.0, 2.0),
            ..Default::default()
        };
        let target = Vec3::new(0.0, 1.0, 0.0);
        cam.look_at(target);
        let t = cam.transform();
        let fwd = t.forward().as_vec3();
        assert!(near(fwd, (target - cam.position).normalize(), 1e-5));
    }
}
