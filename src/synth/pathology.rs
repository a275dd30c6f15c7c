//! Injected gait pathologies with a known locus and side: each modifies only the clinical angles
//! of its locus joints, scaled by a severity in (0, 1].
//!
//! The patterns follow the clinical descriptions in Perry & Burnfield (2010), ch. 9–13:
//! stiff-knee gait (reduced swing knee flexion), reduced hip flexion, foot drop (plantarflexed
//! ankle through swing and at initial contact), crouch gait (bilateral excess knee and hip
//! flexion, most in stance) and hemiparetic circumduction (hip abduction in swing with reduced
//! swing knee flexion on one side). The magnitudes are chosen to be clearly visible in joint
//! positions but of the order of the between-subject variation of single angles.

use serde::{Deserialize, Serialize};

use super::gait_model::{FrameAngles, LegAngles, joints};

/// An injected pathology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pathology {
    /// Swing knee flexion reduced by up to 70 % of its excursion above 10°.
    StiffKnee,
    /// Hip flexion reduced by up to 70 % (extension unchanged).
    ReducedHipFlexion,
    /// Ankle plantarflexed by up to 30° in swing and at initial contact.
    FootDrop,
    /// Both knees up to 25° more flexed (mostly in stance), both hips up to 15° more flexed.
    Crouch,
    /// Hip abducted by up to 12° in swing and swing knee flexion reduced by up to 50 %.
    Circumduction,
    /// Trendelenburg gait (weak hip abductors): the pelvis drops on the other side during this
    /// side's stance, up to 8°; at leg level the stance hip adducts by as much.
    Trendelenburg,
    /// Equinus toe walking: the ankle plantarflexed by up to 20° through the whole cycle.
    EquinusToeWalking,
}

/// Every pathology the transplant onto real walks knows (`gaitlens synth from-walks|inject`).
pub const TRANSPLANT_PATHOLOGIES: [Pathology; 7] = [
    Pathology::StiffKnee,
    Pathology::ReducedHipFlexion,
    Pathology::FootDrop,
    Pathology::Crouch,
    Pathology::Circumduction,
    Pathology::Trendelenburg,
    Pathology::EquinusToeWalking,
];

/// The pathologies of the Fourier generator (`gaitlens synth`), in the order subjects are
/// assigned them (kept to five so existing cohorts regenerate identically).
pub const ALL_PATHOLOGIES: [Pathology; 5] = [
    Pathology::StiffKnee,
    Pathology::ReducedHipFlexion,
    Pathology::FootDrop,
    Pathology::Crouch,
    Pathology::Circumduction,
];

/// Body side (the subject's own left/right, SMPL `left_*` joints for `Left`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
    /// Both sides.
    Both,
}

impl Pathology {
    /// The command-line name (`stiff-knee`, `foot-drop`, …).
    pub fn name(self) -> &'static str {
        match self {
            Pathology::StiffKnee => "stiff-knee",
            Pathology::ReducedHipFlexion => "reduced-hip-flexion",
            Pathology::FootDrop => "foot-drop",
            Pathology::Crouch => "crouch",
            Pathology::Circumduction => "circumduction",
            Pathology::Trendelenburg => "trendelenburg",
            Pathology::EquinusToeWalking => "equinus",
        }
    }

    /// Whether the pathology is always bilateral.
    pub fn bilateral(self) -> bool {
        matches!(self, Pathology::Crouch)
    }

    /// Joints whose local rotation the pathology changes, for `side`.
    pub fn locus_joints(self, side: Side) -> Vec<usize> {
        // leg index: 0 hip, 1 knee, 2 ankle
        let parts: &[usize] = match self {
            Pathology::StiffKnee => &[1],
            Pathology::ReducedHipFlexion => &[0],
            Pathology::FootDrop => &[2],
            Pathology::Crouch => &[0, 1],
            Pathology::Circumduction => &[0, 1],
            Pathology::Trendelenburg => &[0],
            Pathology::EquinusToeWalking => &[2],
        };
        let mut out: Vec<usize> = sides(side)
            .iter()
            .flat_map(|&s| parts.iter().map(move |&p| leg(s)[p]))
            .collect();
        out.sort_unstable();
        out
    }
}

impl std::str::FromStr for Pathology {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        TRANSPLANT_PATHOLOGIES
            .into_iter()
            .find(|p| p.name() == s.to_ascii_lowercase().replace('_', "-"))
            .ok_or_else(|| {
                let names: Vec<&str> = TRANSPLANT_PATHOLOGIES.iter().map(|p| p.name()).collect();
                format!("unknown pathology '{s}'; one of {}", names.join(", "))
            })
    }
}

impl std::str::FromStr for Side {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "left" | "l" => Ok(Side::Left),
            "right" | "r" => Ok(Side::Right),
            "both" => Ok(Side::Both),
            _ => Err(format!("unknown side '{s}'; one of left, right, both")),
        }
    }
}

/// The joints of the limb(s) on `side` (hip, knee, ankle, foot), sorted.
pub fn limb_joints(side: Side) -> Vec<usize> {
    let mut out: Vec<usize> = sides(side).iter().flat_map(|&s| leg(s)).collect();
    out.sort_unstable();
    out
}

fn sides(side: Side) -> &'static [usize] {
    match side {
        Side::Left => &[0],
        Side::Right => &[1],
        Side::Both => &[0, 1],
    }
}

fn leg(s: usize) -> [usize; 4] {
    if s == 0 {
        joints::LEFT_LEG
    } else {
        joints::RIGHT_LEG
    }
}

/// `sin²` window over phases `[a, b]` (b may exceed 1; the phase wraps), 0 outside.
pub(crate) fn window(phase: f64, a: f64, b: f64) -> f64 {
    for p in [phase, phase + 1.0] {
        if p >= a && p <= b {
            let x = std::f64::consts::PI * (p - a) / (b - a);
            return x.sin().powi(2);
        }
    }
    0.0
}

fn apply_leg(p: Pathology, severity: f64, phase: f64, l: &mut LegAngles) {
    match p {
        Pathology::StiffKnee => {
            l.knee_flexion -=
                0.7 * severity * (l.knee_flexion - 10.0).max(0.0) * window(phase, 0.45, 1.0);
        }
        Pathology::ReducedHipFlexion => {
            if l.hip_flexion > 0.0 {
                l.hip_flexion *= 1.0 - 0.7 * severity;
            }
        }
        Pathology::FootDrop => {
            l.ankle_dorsiflexion -= 30.0 * severity * window(phase, 0.55, 1.1);
        }
        Pathology::Crouch => {
            l.knee_flexion += 25.0 * severity * (1.0 - l.knee_flexion / 70.0).max(0.0);
            l.hip_flexion += 15.0 * severity;
        }
        Pathology::Circumduction => {
            l.hip_abduction += 12.0 * severity * window(phase, 0.55, 1.0);
            l.knee_flexion -=
                0.5 * severity * (l.knee_flexion - 10.0).max(0.0) * window(phase, 0.45, 1.0);
        }
        Pathology::Trendelenburg => {
            l.hip_abduction -= 8.0 * severity * window(phase, 0.0, 0.6);
        }
        Pathology::EquinusToeWalking => {
            l.ankle_dorsiflexion -= 20.0 * severity;
        }
    }
}

/// Applies `pathology` on `side` to healthy angles; `phase_left` is the left leg's gait phase
/// (the right leg is half a cycle later).
pub fn apply(
    pathology: Pathology,
    side: Side,
    severity: f64,
    phase_left: f64,
    a: &mut FrameAngles,
) {
    let pl = phase_left.rem_euclid(1.0);
    let pr = (pl + 0.5).rem_euclid(1.0);
    for &s in sides(side) {
        if s == 0 {
            apply_leg(pathology, severity, pl, &mut a.left);
        } else {
            apply_leg(pathology, severity, pr, &mut a.right);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gait_model::{Style, healthy_angles};
    use super::*;

    #[test]
    fn loci_and_limbs() {
        assert_eq!(Pathology::StiffKnee.locus_joints(Side::Left), vec![4]);
        assert_eq!(Pathology::FootDrop.locus_joints(Side::Right), vec![8]);
        assert_eq!(Pathology::Crouch.locus_joints(Side::Both), vec![1, 2, 4, 5]);
        assert_eq!(
            Pathology::Circumduction.locus_joints(Side::Right),
            vec![2, 5]
        );
        assert_eq!(limb_joints(Side::Left), vec![1, 4, 7, 10]);
    }

    #[test]
    fn stiff_knee_reduces_the_swing_peak() {
        let style = Style::default();
        let peak = |p: Option<Pathology>| {
            (0..100)
                .map(|i| {
                    let mut a = healthy_angles(&style, i as f64 / 100.0);
                    if let Some(p) = p {
                        apply(p, Side::Left, 1.0, i as f64 / 100.0, &mut a);
                    }
                    a.left.knee_flexion
                })
                .fold(f64::MIN, f64::max)
        };
        let healthy = peak(None);
        let stiff = peak(Some(Pathology::StiffKnee));
        assert!(healthy > 55.0 && stiff < 35.0, "{healthy} → {stiff}");
    }

    #[test]
    fn foot_drop_plantarflexes_in_swing_only_on_its_side() {
        let style = Style::default();
        let mut a = healthy_angles(&style, 0.8);
        let h = a;
        apply(Pathology::FootDrop, Side::Left, 1.0, 0.8, &mut a);
        assert!(a.left.ankle_dorsiflexion < h.left.ankle_dorsiflexion - 15.0);
        assert_eq!(a.right, h.right);
        // mid-stance untouched
        let mut b = healthy_angles(&style, 0.3);
        let hb = b;
        apply(Pathology::FootDrop, Side::Left, 1.0, 0.3, &mut b);
        assert_eq!(b, hb);
    }
}
