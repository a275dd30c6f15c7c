//! Normative joint-angle curves of Schwartz, Rozumalski & Trost (2008, *J Biomech* 41:1639–1650,
//! CC-BY-SA; see `assets/normative/README.md`): mean ± SD over the gait cycle (2 % steps) at five
//! walking speeds, embedded so every build has them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
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

/// Why a user's normative file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NormativeError {
    /// The file cannot be read.
    #[error("cannot read normative file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A row is malformed.
    #[error("{path} line {line}: {reason} (expected `variable,gait_cycle_pct,speed,mean,sd`)")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file has no curve at all.
    #[error("{path} holds no normative curve")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// A normative table by (variable, speed) and where it came from.
#[derive(Debug, Clone)]
pub struct NormativeTable {
    /// Shown with the bands (credit or file name).
    pub source: String,
    /// Curves by (variable, speed label).
    pub curves: BTreeMap<(String, String), NormativeCurve>,
}

impl NormativeTable {
    /// The embedded Schwartz 2008 table.
    pub fn schwartz2008() -> Self {
        NormativeTable {
            source: CREDIT.to_string(),
            curves: kinematics().clone(),
        }
    }

    /// A user's table in the same CSV layout (`variable,gait_cycle_pct,speed,mean,sd`, header
    /// first; variables named as in the embedded table; any speed labels). Every row must parse,
    /// percentages ascend per curve, SDs are finite and non-negative.
    pub fn read(path: &Path) -> Result<Self, NormativeError> {
        let text = std::fs::read_to_string(path).map_err(|source| NormativeError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// [`Self::read`] of a table's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, NormativeError> {
        let bad = |line: usize, reason: String| NormativeError::Row {
            path: path.to_owned(),
            line,
            reason,
        };
        // Last (pct, line) of each curve: a percentage that does not ascend is named by its line
        // and the earlier one (a table that lists a curve twice, as a file of moments does for
        // knee flexion, fails here rather than as a curve with no line).
        let mut last: std::collections::HashMap<(String, String), (f64, usize)> =
            std::collections::HashMap::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            if f.len() != 5 {
                return Err(bad(i + 1, format!("{} fields", f.len())));
            }
            let nums: Vec<f64> = [f[1], f[3], f[4]]
                .iter()
                .map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(i + 1, "a number is not a finite number".into()))?;
            if !(0.0..=100.0).contains(&nums[0]) || nums[2] < 0.0 {
                return Err(bad(i + 1, "pct outside 0–100 or negative SD".into()));
            }
            let key = (f[0].to_string(), f[2].to_string());
            if let Some(&(pct, at)) = last.get(&key)
                && nums[0] <= pct
            {
                return Err(bad(
                    i + 1,
                    format!(
                        "curve '{}' at '{}': {} % after {pct} % on line {at}; percentages must \
                         ascend (is the curve listed twice?)",
                        f[0], f[2], nums[0]
                    ),
                ));
            }
            last.insert(key, (nums[0], i + 1));
        }
        let curves = parse(text);
        if curves.is_empty() {
            return Err(NormativeError::Empty {
                path: path.to_owned(),
            });
        }
        for ((var, speed), c) in &curves {
            if c.pct.windows(2).any(|w| w[1] <= w[0]) || c.pct.len() < 2 {
                return Err(bad(
                    0,
                    format!("curve '{var}' at '{speed}': percentages must ascend, ≥ 2 samples"),
                ));
            }
        }
        Ok(NormativeTable {
            source: format!("normative curves from {}", path.display()),
            curves,
        })
    }

    /// Curve of `variable` at `speed`; when the table has no such speed, its first speed.
    pub fn curve(&self, variable: &str, speed: &str) -> Option<&NormativeCurve> {
        self.curves
            .get(&(variable.to_owned(), speed.to_owned()))
            .or_else(|| {
                self.curves
                    .iter()
                    .find(|((v, _), _)| v == variable)
                    .map(|(_, c)| c)
            })
    }
}

/// Upper bounds of the non-dimensional speed bins `very_slow`, `slow`, `free`, `fast` (above the
/// last: `very_fast`): Schwartz et al. 2008 group speeds by the children's self-selected
/// non-dimensional speed (0.43 ± 0.07, free = mean ± 1 SD), as we read the paper.
pub const SPEED_BIN_UPPER: [f64; 4] = [0.227, 0.363, 0.500, 0.636];

/// The speed bin of a non-dimensional speed (speed / √(g · leg length)).
pub fn speed_bin(nondimensional_speed: f64) -> &'static str {
    let i = SPEED_BIN_UPPER
        .iter()
        .position(|&u| nondimensional_speed < u)
        .unwrap_or(4);
    SPEEDS[i]
}

/// Parses the table; rows that do not parse are skipped (the embedded file is checked by a test,
/// a user's by [`NormativeTable::read`]).
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
    fn speed_bins_follow_the_boundaries() {
        assert_eq!(speed_bin(0.1), "very_slow");
        assert_eq!(speed_bin(0.43), "free");
        assert_eq!(speed_bin(0.7), "very_fast");
    }

    #[test]
    fn a_user_table_replaces_the_embedded_one_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("norm.csv");
        std::fs::write(
            &good,
            "variable,gait_cycle_pct,speed,mean,sd\nKnee Flex/Extension,0,adult,5,3\n\
             Knee Flex/Extension,100,adult,6,3\n",
        )
        .unwrap();
        let t = NormativeTable::read(&good).unwrap();
        assert_eq!(
            t.curve("Knee Flex/Extension", "free").unwrap().mean,
            vec![5.0, 6.0]
        );
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, "h\nKnee Flex/Extension,0,adult,NaN,3\n").unwrap();
        let e = NormativeTable::read(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.csv line 2"), "{e}");
        // A curve listed twice is named by the line where it starts again.
        let twice = dir.path().join("twice.csv");
        std::fs::write(
            &twice,
            "h\nKnee,0,fast,5,3\nKnee,100,fast,6,3\nAnkle,0,fast,1,1\nKnee,0,fast,5,3\n",
        )
        .unwrap();
        let e = NormativeTable::read(&twice).unwrap_err().to_string();
        assert!(
            e.contains("twice.csv line 5") && e.contains("0 % after 100 % on line 3"),
            "{e}"
        );
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
