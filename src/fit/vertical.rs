//! The lab's vertical, estimated from a trial's markers, so that the fitter can hold the pelvis
//! upright in any lab convention (Y-up, Z-up, or whatever a file uses): a pair of hip landmarks
//! or trochanters fixes the hip axis, not how the pelvis pitches about it, and while calibrating
//! even four pelvis markers do not (their offsets are free).

use nalgebra::Vector3;

use super::rigid::kabsch;

/// Frames spread over the trial that vote on the vertical.
const VOTING_FRAMES: usize = 24;

/// Votes this far (degrees) from their mean: the walker is not standing or walking upright
/// often enough to tell the vertical, so none is returned.
const MAX_SPREAD_DEG: f64 = 25.0;

/// An estimate within this angle (degrees) of a coordinate axis is snapped to it: labs put the
/// vertical on an axis, and the legs' mean inclination over a stride is a few degrees off.
const SNAP_DEG: f64 = 20.0;

/// The lab's up direction in trial coordinates: each voting frame rigidly aligns the model's
/// markers on the neutral standing body (`rest_markers`, body y up) to the observed ones, and
/// the aligned body's y axes are averaged. `None` with fewer than three voting frames of four or
/// more markers, or when the votes disagree by more than [`MAX_SPREAD_DEG`] on average.
pub fn lab_up(
    rest_markers: &[Vector3<f64>],
    observations: &[Vec<Option<Vector3<f64>>>],
) -> Option<Vector3<f64>> {
    let n = observations.len();
    let step = (n / VOTING_FRAMES).max(1);
    let votes: Vec<Vector3<f64>> = (0..n)
        .step_by(step)
        .filter_map(|f| {
            let (a, b): (Vec<_>, Vec<_>) = rest_markers
                .iter()
                .zip(&observations[f])
                .filter_map(|(m, o)| o.map(|o| (*m, o)))
                .unzip();
            if a.len() < 4 {
                return None;
            }
            kabsch(&a, &b).map(|(r, _)| r * Vector3::y())
        })
        .collect();
    if votes.len() < 3 {
        return None;
    }
    let mean = votes.iter().sum::<Vector3<f64>>().try_normalize(1e-9)?;
    let spread_deg = votes
        .iter()
        .map(|v| v.dot(&mean).clamp(-1.0, 1.0).acos().to_degrees())
        .sum::<f64>()
        / votes.len() as f64;
    if spread_deg > MAX_SPREAD_DEG {
        return None;
    }
    Some(snap_to_axis(mean))
}

/// `v` replaced by the nearest signed coordinate axis when within [`SNAP_DEG`] of it.
fn snap_to_axis(v: Vector3<f64>) -> Vector3<f64> {
    let k = v.iamax();
    let mut axis = Vector3::zeros();
    axis[k] = v[k].signum();
    if v.dot(&axis).clamp(-1.0, 1.0).acos().to_degrees() <= SNAP_DEG {
        axis
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    /// Rest marker positions and per-frame observations.
    type Walk = (Vec<Vector3<f64>>, Vec<Vec<Option<Vector3<f64>>>>);

    /// A stick figure (feet, knees, hips, shoulders; y up) seen in a Z-up lab, leaning `lean`
    /// radians back and forth from frame to frame.
    fn z_up_walk(frames: usize, lean: f64) -> Walk {
        let rest = vec![
            Vector3::new(0.1, 0.05, 0.0),
            Vector3::new(-0.1, 0.05, 0.0),
            Vector3::new(0.1, 0.5, 0.05),
            Vector3::new(-0.1, 0.5, 0.05),
            Vector3::new(0.09, 0.9, 0.0),
            Vector3::new(-0.09, 0.9, 0.0),
            Vector3::new(0.18, 1.4, 0.0),
        ];
        let y_up_to_z_up =
            Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2);
        let obs = (0..frames)
            .map(|f| {
                let sway = Rotation3::from_axis_angle(&Vector3::x_axis(), lean * (f as f64).sin());
                rest.iter()
                    .map(|p| {
                        Some(y_up_to_z_up * sway * p + Vector3::new(f as f64 * 0.02, 1.0, 0.0))
                    })
                    .collect()
            })
            .collect();
        (rest, obs)
    }

    #[test]
    fn a_z_up_lab_is_found_and_snapped() {
        let (rest, obs) = z_up_walk(100, 0.15);
        let up = lab_up(&rest, &obs).unwrap();
        assert_eq!(up, Vector3::z());
    }

    #[test]
    fn disagreeing_votes_or_too_few_markers_give_none() {
        let (rest, obs) = z_up_walk(100, 1.4);
        assert_eq!(lab_up(&rest, &obs), None);
        let (rest, obs) = z_up_walk(100, 0.1);
        let three: Vec<_> = obs
            .iter()
            .map(|f| {
                f.iter()
                    .enumerate()
                    .map(|(i, p)| if i < 3 { *p } else { None })
                    .collect()
            })
            .collect();
        assert_eq!(lab_up(&rest, &three), None);
    }

    #[test]
    fn an_oblique_vertical_is_kept_as_measured() {
        let v = Vector3::new(1.0, 1.0, 0.2).normalize();
        assert_eq!(snap_to_axis(v), v);
        let near = Vector3::new(0.1, -1.0, 0.05).normalize();
        assert_eq!(snap_to_axis(near), -Vector3::y());
    }
}
