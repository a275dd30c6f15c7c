//! Normative joint-angle curves of Schwartz, Rozumalski & Trost (2008, *J Biomech* 41:1639–1650,
//! CC-BY-SA; see `assets/normative/README.md`): mean ± SD over the gait cycle (2 % steps) at five
//! walking speeds, embedded so every build has them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The embedded CSV (`variable,gait_cycle_pct,speed,mean,sd`).
const KINEMATICS_CSV: &str = include_str!("../../assets/normative/schwartz2008_kinematics.csv");

/// Citation to show wherever the bands appear.
pub const CREDIT: &str =
    "Normative bands: Schwartz, Rozumalski & Trost 2008, J Biomech 41:1639–1650 (CC-BY-SA)";

/// Walking-speed bins of the table (non-dimensional speed, by leg length).
pub const SPEEDS: [&str; 5] = ["very_slow", "slow", "free", "fast", "very_fast"];

/// One variable at one speed: mean and SD at 0, 2, …, 100 % of the cycle (degrees).
#[derive(Debug, Clone, PartialEq)]
pub struct NormativeCurve {
    /// Cycle percentages of the samples.
    pub pct: Vec<f64>,
    /// Mean, degrees.
    pub mean: Vec<f64>,
    /// One standard deviation, degrees.
    pub sd: Vec<f64>,
}

impl NormativeCurve {
    /// Mean SD over the cycle: the typical between-subject spread of the variable, degrees.
    pub fn mean_sd(&self) -> f64 {
        self.sd.iter().sum::<f64>() / self.sd.len().max(1) as f64
    }

    /// Mean and SD at `phase` in [0, 1) (linear between samples).
    pub fn at(&self, phase: f64) -> (f64, f64) {
        let x = phase.rem_euclid(1.0) * 100.0;
        let i = self
            .pct
            .partition_point(|&p| p <= x)
            .clamp(1, self.pct.len() - 1);
        let w = (x - self.pct[i - 1]) / (self.pct[i] - self.pct[i - 1]);
        let lerp = |v: &[f64]| v[i - 1] + (v[i] - v[i - 1]) * w;
        (lerp(&self.mean), lerp(&self.sd))
    }
}

/// Every curve of the table by (variable, speed).
pub fn kinematics() -> &'static BTreeMap<(String, String), NormativeCurve> {
    static TABLE: OnceLock<BTreeMap<(String, String), NormativeCurve>> = OnceLock::new();
    TABLE.get_or_init(|| parse(KINEMATICS_CSV))
}

/// The curve of `variable` (e.g. `Knee Flex/Extension`) at `speed` (one of [`SPEEDS`]).
pub fn curve(variable: &str, speed: &str) -> Option<&'static NormativeCurve> {
    kinematics().get(&(variable.to_owned(), speed.to_owned()))
}

/// Parses the table; rows that do not parse are skipped (the embedded file is checked by a test).
fn parse(csv: &str) -> BTreeMap<(String, String), NormativeCurve> {
    let mut out: BTreeMap<(String, String), NormativeCurve> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let [var, pct, speed, mean, sd] = f[..] else {
            continue;
        };
        let (Ok(pct), Ok(mean), Ok(sd)) = (pct.parse(), mean.parse(), sd.parse()) else {
            continue;
        };
        let c = out
            .entry((var.to_owned(), speed.to_owned()))
            .or_insert_with(|| NormativeCurve {
                pct: Vec::new(),
                mean: Vec::new(),
                sd: Vec::new(),
            });
        c.pct.push(pct);
        c.mean.push(mean);
        c.sd.push(sd);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_is_complete() {
        // 14 variables × 5 speeds, each 51 samples from 0 to 100 %.
        assert_eq!(kinematics().len(), 14 * 5);
        for c in kinematics().values() {
            assert_eq!(c.pct.len(), 51);
            assert_eq!((c.pct[0], c.pct[50]), (0.0, 100.0));
            assert!(c.sd.iter().all(|&s| s > 0.0 && s < 30.0));
        }
    }

    #[test]
    fn free_speed_knee_has_the_textbook_shape() {
        let k = curve("Knee Flex/Extension", "free").unwrap();
        let peak = k.mean.iter().copied().fold(f64::MIN, f64::max);
        assert!((50.0..75.0).contains(&peak), "{peak}");
        let (m0, _) = k.at(0.0);
        assert!(m0 < 20.0);
        assert!((4.0..9.0).contains(&k.mean_sd()));
    }
}
