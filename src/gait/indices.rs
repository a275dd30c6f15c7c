//! Gait Variable Scores, the Gait Profile Score and the Movement Analysis Profile (Baker et al.
//! 2009, *Gait & Posture* 30:265–269).
//!
//! GVS: the RMS difference, over the cycle sampled every 2 % (51 points, the normative table's own
//! samples), between a subject's mean curve and the normative mean. GPS of a side: the RMS of its
//! nine GVS. Overall GPS: the RMS of fifteen GVS — the pelvis counted once (left side: the right
//! side's pelvic curves are mirror images of the left's), hips, knee flexion, ankle and foot
//! progression of both sides. The MAP is the bar chart of the GVS with the GPS.
//!
//! GDI (Schwartz & Rozumalski 2008) needs the 15 features of their normative *control
//! population* (individual curves, not mean ± SD), which the shared data does not have: it is
//! not computed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cycles::{CYCLE_SAMPLES, Side};
use super::kinematics::Variable;
use super::normative::NormativeCurve;

/// Gait Variable Scores and Gait Profile Scores of a trial, degrees.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GaitProfile {
    /// GVS per side and variable (only variables with both a curve and a norm).
    pub gvs_deg: BTreeMap<Side, BTreeMap<Variable, f64>>,
    /// GPS per side (RMS of that side's nine GVS); absent when a GVS is missing.
    pub gps_deg: BTreeMap<Side, f64>,
    /// Overall GPS (fifteen GVS, pelvis once).
    pub gps_overall_deg: Option<f64>,
}

/// The GVS of one mean curve (101 samples at 0..100 %) against a norm: RMS difference at the
/// norm's own sample percentages.
pub fn gait_variable_score(curve: &[f64], norm: &NormativeCurve) -> Option<f64> {
    if curve.len() != CYCLE_SAMPLES || norm.pct.is_empty() {
        return None;
    }
    let mut sq = 0.0;
    for (&p, &m) in norm.pct.iter().zip(&norm.mean) {
        let x = p.clamp(0.0, 100.0);
        let i = (x.floor() as usize).min(CYCLE_SAMPLES - 2);
        let w = x - i as f64;
        let v = curve[i] * (1.0 - w) + curve[i + 1] * w;
        sq += (v - m).powi(2);
    }
    let gvs = (sq / norm.pct.len() as f64).sqrt();
    gvs.is_finite().then_some(gvs)
}

/// GVS, GPS and overall GPS from per-side mean curves and a normative lookup.
pub fn gait_profile<'a>(
    mean_curves: &BTreeMap<(Side, Variable), Vec<f64>>,
    norm: impl Fn(Variable) -> Option<&'a NormativeCurve>,
) -> GaitProfile {
    let mut out = GaitProfile::default();
    for side in Side::BOTH {
        let mut side_gvs = BTreeMap::new();
        for v in Variable::GPS {
            let (Some(c), Some(n)) = (mean_curves.get(&(side, v)), norm(v)) else {
                continue;
            };
            if let Some(g) = gait_variable_score(c, n) {
                side_gvs.insert(v, g);
            }
        }
        if side_gvs.len() == Variable::GPS.len() {
            out.gps_deg.insert(side, rms(side_gvs.values().copied()));
        }
        out.gvs_deg.insert(side, side_gvs);
    }
    let left = &out.gvs_deg[&Side::Left];
    let right = &out.gvs_deg[&Side::Right];
    if left.len() == Variable::GPS.len() && right.len() == Variable::GPS.len() {
        let fifteen = left.values().copied().chain(
            right
                .iter()
                .filter(|(v, _)| !v.is_pelvis())
                .map(|(_, g)| *g),
        );
        out.gps_overall_deg = Some(rms(fifteen));
    }
    out
}

fn rms(v: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        s += x * x;
        n += 1;
    }
    (s / n.max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gait::normative::curve;

    /// The normative mean resampled to the report's 101 samples.
    fn norm_mean(v: Variable) -> Vec<f64> {
        let n = curve(v.normative_name(), "free").unwrap();
        (0..CYCLE_SAMPLES)
            .map(|k| {
                let i = (k / 2).min(49);
                let w = (k as f64 - 2.0 * i as f64) / 2.0;
                n.mean[i] * (1.0 - w) + n.mean[i + 1] * w
            })
            .collect()
    }

    fn profile(shift: impl Fn(Side, Variable) -> f64) -> GaitProfile {
        let mut curves = BTreeMap::new();
        for side in Side::BOTH {
            for v in Variable::GPS {
                let c = norm_mean(v).iter().map(|x| x + shift(side, v)).collect();
                curves.insert((side, v), c);
            }
        }
        gait_profile(&curves, |v| curve(v.normative_name(), "free"))
    }

    #[test]
    fn the_normative_mean_scores_zero() {
        let p = profile(|_, _| 0.0);
        assert!(p.gps_overall_deg.unwrap() < 1e-9);
        assert!(p.gps_deg.values().all(|g| *g < 1e-9));
    }

    #[test]
    fn a_constant_offset_is_its_own_gvs_and_enters_the_gps_by_rms() {
        let p = profile(|s, v| {
            if s == Side::Left && v == Variable::KneeFlexion {
                9.0
            } else {
                0.0
            }
        });
        assert!((p.gvs_deg[&Side::Left][&Variable::KneeFlexion] - 9.0).abs() < 1e-9);
        assert!((p.gps_deg[&Side::Left] - 3.0).abs() < 1e-9); // √(81/9)
        assert!(p.gps_deg[&Side::Right] < 1e-9);
        assert!((p.gps_overall_deg.unwrap() - (81.0f64 / 15.0).sqrt()).abs() < 1e-9);
    }
}
