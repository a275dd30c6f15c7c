//! Calibrated probabilities: temperature scaling (Guo, Pleiss, Sun & Weinberger 2017, "On
//! calibration of modern neural networks") fitted on a calibration split of the *training*
//! subjects, and the expected calibration error (ECE) that measures it.
//!
//! A network trained with cross-entropy until it separates its training windows is
//! overconfident on walks it has not seen: its P(sick) of 0.99 is right far less often than 99 %
//! of the time. Temperature scaling divides every logit by one number T > 0 chosen to minimise
//! the binary negative log-likelihood on windows the network was not trained on; the verdict
//! (the sign of the logit) never changes, only how sure it sounds. The split is by subject
//! ([`split_calibration_subjects`]) and never touches the test fold.
//!
//! Pure functions, no burn: the training loop feeds them logits and labels.

use serde::{Deserialize, Serialize};

/// Bins of [`expected_calibration_error`] (Guo et al. 2017 use 15).
pub const ECE_BINS: usize = 15;

/// Range of the temperature search (and of a valid temperature in a model card).
pub const TEMPERATURE_RANGE: (f64, f64) = (1e-2, 1e2);

/// What the viewer and the CLI show beside a probability of a card without calibration.
pub const UNCALIBRATED_NOTE: &str = "uncalibrated (card predates calibration)";

/// The same for a card trained with calibration off or skipped (too few subjects).
pub const CALIBRATION_OFF_NOTE: &str = "uncalibrated (calibration off or skipped in training)";

/// The temperature of a model card and how well it calibrates (written by `gaitlens train`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// T: probabilities are `sigmoid(logit / T)`; in [`TEMPERATURE_RANGE`].
    #[serde(deserialize_with = "null_as_nan")]
    pub temperature: f64,
    /// Windows of the calibration split (training subjects the network was not fitted on).
    pub windows: usize,
    /// Subjects of the calibration split (copies of one recorded walk count once).
    pub subjects: usize,
    /// Mean binary NLL of the calibration windows at T = 1.
    #[serde(deserialize_with = "null_as_nan")]
    pub nll_before: f64,
    /// The same at the fitted T.
    #[serde(deserialize_with = "null_as_nan")]
    pub nll_after: f64,
    /// ECE ([`ECE_BINS`] bins) of the calibration windows at T = 1.
    #[serde(deserialize_with = "null_as_nan")]
    pub ece_before: f64,
    /// The same at the fitted T.
    #[serde(deserialize_with = "null_as_nan")]
    pub ece_after: f64,
    /// ECE of the evaluation (test) fold at T = 1 (`None`: no evaluation windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_ece_uncalibrated: Option<f64>,
    /// ECE of the evaluation (test) fold at the fitted T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_ece_calibrated: Option<f64>,
}

/// A number, with JSON's `null` (what serde_json writes for NaN and infinities) read as NaN,
/// so that [`Calibration::validate`] refuses it naming the field.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl Calibration {
    /// Fits the temperature on the calibration windows' `(logits, labels)` of `subjects`
    /// subjects and measures it there and on the evaluation windows; `None` without
    /// calibration windows.
    pub fn fit(
        calibration: (&[f32], &[f32]),
        subjects: usize,
        eval: (&[f32], &[f32]),
    ) -> Option<Self> {
        let (logits, labels) = calibration;
        let temperature = fit_temperature(logits, labels);
        let ece = |(l, y): (&[f32], &[f32]), t| expected_calibration_error(l, y, t);
        Some(Calibration {
            temperature,
            windows: logits.len(),
            subjects,
            nll_before: binary_nll(logits, labels, 1.0),
            nll_after: binary_nll(logits, labels, temperature),
            ece_before: ece(calibration, 1.0)?,
            ece_after: ece(calibration, temperature)?,
            eval_ece_uncalibrated: ece(eval, 1.0),
            eval_ece_calibrated: ece(eval, temperature),
        })
    }

    /// Checks every value: `Err((field, what is wrong))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let (lo, hi) = TEMPERATURE_RANGE;
        if !(self.temperature.is_finite() && (lo..=hi).contains(&self.temperature)) {
            return Err((
                "calibration.temperature",
                format!("{} (must be finite, in [{lo}, {hi}])", self.temperature),
            ));
        }
        for (field, v) in [
            ("calibration.nll_before", self.nll_before),
            ("calibration.nll_after", self.nll_after),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((field, format!("{v} (must be finite and ≥ 0)")));
            }
        }
        for (field, v) in [
            ("calibration.ece_before", Some(self.ece_before)),
            ("calibration.ece_after", Some(self.ece_after)),
            (
                "calibration.eval_ece_uncalibrated",
                self.eval_ece_uncalibrated,
            ),
            ("calibration.eval_ece_calibrated", self.eval_ece_calibrated),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && (0.0..=1.0).contains(&v))
            {
                return Err((field, format!("{v} (must be finite, in [0, 1])")));
            }
        }
        if self.windows == 0 || self.subjects == 0 || self.subjects > self.windows {
            return Err((
                "calibration.windows",
                format!(
                    "{} windows of {} subjects (need ≥ 1 subject, ≥ 1 window each)",
                    self.windows, self.subjects
                ),
            ));
        }
        Ok(())
    }
}

/// P(sick) of `logit` at temperature `t`: `sigmoid(logit / t)`.
pub fn scaled_probability(logit: f64, t: f64) -> f64 {
    crate::nn::probability_from_logit(logit / t)
}

/// `ln(1 + e^x)`, without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Mean binary negative log-likelihood of `labels` (1 = sick) under `sigmoid(logit / t)`
/// (0 for no windows).
pub fn binary_nll(logits: &[f32], labels: &[f32], t: f64) -> f64 {
    if logits.is_empty() {
        return 0.0;
    }
    let sum: f64 = logits
        .iter()
        .zip(labels)
        .map(|(&x, &y)| {
            let z = f64::from(x) / t;
            let y = f64::from(y);
            y * softplus(-z) + (1.0 - y) * softplus(z)
        })
        .sum();
    sum / logits.len() as f64
}

/// The temperature in [`TEMPERATURE_RANGE`] minimising [`binary_nll`] of `logits` against
/// `labels`: golden-section search on `ln T` (the NLL is convex in `1/T`, so unimodal in
/// `ln T`). Ends on the range's bound when the optimum lies outside (e.g. separable data drive
/// T towards 0); 1 for no windows.
pub fn fit_temperature(logits: &[f32], labels: &[f32]) -> f64 {
    if logits.is_empty() {
        return 1.0;
    }
    let f = |log_t: f64| binary_nll(logits, labels, log_t.exp());
    let (mut a, mut b) = (TEMPERATURE_RANGE.0.ln(), TEMPERATURE_RANGE.1.ln());
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - inv_phi * (b - a);
    let mut d = a + inv_phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    // (ln 1e4) · 0.618^60 ≈ 3e-12: far below any meaningful digit of T.
    for _ in 0..60 {
        if fc <= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - inv_phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + inv_phi * (b - a);
            fd = f(d);
        }
    }
    // The bounds themselves are candidates (monotone NLL on separable data).
    let mid = 0.5 * (a + b);
    let (lo, hi) = (TEMPERATURE_RANGE.0.ln(), TEMPERATURE_RANGE.1.ln());
    [mid, lo, hi]
        .into_iter()
        .map(|x| (f(x), x))
        .min_by(|p, q| p.0.total_cmp(&q.0))
        // exp(ln 100) is 100.00000000000004: clamp into the range a card accepts.
        .map_or(1.0, |(_, x)| {
            x.exp().clamp(TEMPERATURE_RANGE.0, TEMPERATURE_RANGE.1)
        })
}

/// Expected calibration error (Guo et al. 2017) of the probabilities `sigmoid(logit / t)`
/// against `labels` (1 = sick), over [`ECE_BINS`] equal-width bins of P(sick) in [0, 1]:
/// `Σ_b (n_b / n) · |accuracy_b − confidence_b|`, where a window's confidence is the probability
/// of its predicted class (P(sick) at or above 0.5, else 1 − P(sick)) and its accuracy whether
/// that class is its label. Outside the bin holding 0.5 this is |fraction sick − mean P(sick)|
/// of the bin. `None` for no windows.
pub fn expected_calibration_error(logits: &[f32], labels: &[f32], t: f64) -> Option<f64> {
    if logits.is_empty() {
        return None;
    }
    // Per bin: windows, Σ correct, Σ confidence.
    let mut bins = [(0usize, 0f64, 0f64); ECE_BINS];
    for (&x, &y) in logits.iter().zip(labels) {
        let p = scaled_probability(f64::from(x), t);
        let b = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        let predicted_sick = p >= 0.5;
        let correct = predicted_sick == (y > 0.5);
        let bin = &mut bins[b];
        bin.0 += 1;
        bin.1 += f64::from(u8::from(correct));
        bin.2 += if predicted_sick { p } else { 1.0 - p };
    }
    let n = logits.len().min(labels.len()) as f64;
    Some(
        bins.iter()
            .filter(|b| b.0 > 0)
            // (n_b / n) · |Σ correct / n_b − Σ confidence / n_b|
            .map(|&(_, correct, conf)| (correct - conf).abs() / n)
            .sum(),
    )
}

/// The recorded walk a subject name belongs to: `gaitlens synth from-walks` names the copies of
/// one walk `<walk>-cNN` (healthy and sick copies of a copy share the name), which must stay on
/// one side of a split; any other name is its own group.
pub fn subject_group(name: &str) -> &str {
    match name.rsplit_once("-c") {
        Some((walk, copy))
            if !walk.is_empty() && copy.len() >= 2 && copy.bytes().all(|b| b.is_ascii_digit()) =>
        {
            walk
        }
        _ => name,
    }
}

/// Whether subject group `name` may be held out for calibration under `pattern`: a name prefix
/// (`synS`: the Fourier sources of a `synth from-walks` cohort), or `!PREFIX` for every name
/// without it (`!synS`: only the real walks, the kind of walk a network meets after training).
fn subject_matches(name: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('!') {
        Some(prefix) => !name.starts_with(prefix),
        None => name.starts_with(pattern),
    }
}

/// The windows of a training source split by subject into the part the network is fitted on
/// and the calibration part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationSplit {
    /// Window indices the network is fitted on.
    pub fit: Vec<usize>,
    /// Window indices of the calibration subjects.
    pub calibrate: Vec<usize>,
    /// Subject groups ([`subject_group`]) in the calibration part.
    pub calibration_subjects: usize,
    /// Subject groups in all.
    pub subjects: usize,
}

/// Splits windows by subject (`subjects[i]` = (name, sick) of window `i`) into a fitting and a
/// calibration part holding about `fraction` of the subject groups ([`subject_group`]),
/// deterministically from `seed` and stratified by class: groups are drawn separately among
/// healthy-only, sick-only and mixed groups (matched healthy/sick copies of one walk), each
/// stratum keeping at least one group for fitting, and the calibration part gets at least one
/// group with healthy and one with sick windows. With `only = Some(pattern)` only groups whose
/// name matches it ([`subject_matches`]: a prefix, or `!PREFIX`) may be held out (`fraction`
/// is of those); the others are always fitted on — e.g. `synS` holds out only the Fourier
/// sources of a `synth from-walks` cohort, so every real walk is learnt. `Err(why)` when that is impossible (too few subjects, one class
/// only, no group with the prefix) or `fraction` is not in (0, 1).
pub fn split_calibration_subjects(
    subjects: &[(String, bool)],
    fraction: f64,
    seed: u64,
    only: Option<&str>,
) -> Result<CalibrationSplit, String> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(format!("calibration fraction {fraction} is not in (0, 1)"));
    }
    // Groups in sorted order, with their classes.
    let mut groups: std::collections::BTreeMap<&str, (bool, bool)> = Default::default();
    for (name, sick) in subjects {
        let g = groups.entry(subject_group(name)).or_default();
        if *sick {
            g.1 = true;
        } else {
            g.0 = true;
        }
    }
    let names: Vec<&str> = groups.keys().copied().collect();
    // Strata: 0 healthy only, 1 sick only, 2 both; each shuffled with its own stream.
    let mut strata: [Vec<usize>; 3] = Default::default();
    for (i, n) in names.iter().enumerate() {
        if only.is_some_and(|pattern| !subject_matches(n, pattern)) {
            continue;
        }
        let s = match groups[n] {
            (true, false) => 0,
            (false, true) => 1,
            _ => 2,
        };
        strata[s].push(i);
    }
    let has = |s: &[Vec<usize>; 3], class: usize| !s[class].is_empty() || !s[2].is_empty();
    if !has(&strata, 0) || !has(&strata, 1) {
        return Err(match only {
            Some(pattern) => match pattern.strip_prefix('!') {
                Some(prefix) => format!(
                    "the training subjects whose name does not start with '{prefix}' do not \
                     hold both classes"
                ),
                None => format!(
                    "the training subjects whose name starts with '{pattern}' do not hold both \
                     classes"
                ),
            },
            None => "the training windows hold one class only".into(),
        });
    }
    for (k, s) in strata.iter_mut().enumerate() {
        crate::rng::SplitMix64::stream(seed, k as u64, 0xCA11_B4A7).shuffle(s);
    }
    let mut take = [0usize; 3];
    for (t, s) in take.iter_mut().zip(&strata) {
        *t = ((fraction * s.len() as f64).round() as usize).min(s.len().saturating_sub(1));
    }
    // At least one group with each class: from its own stratum, else a mixed one.
    for class in [0, 1] {
        if take[class] > 0 || take[2] > 0 {
            continue;
        }
        let spare = |k: usize| strata[k].len() > take[k] + 1;
        if spare(class) {
            take[class] += 1;
        } else if spare(2) {
            take[2] += 1;
        } else {
            return Err(format!(
                "too few subjects for a calibration split ({} healthy-only, {} sick-only, {} \
                 with both classes): each class needs one subject to fit on and one to \
                 calibrate with",
                strata[0].len(),
                strata[1].len(),
                strata[2].len()
            ));
        }
    }
    let mut in_calibration = vec![false; names.len()];
    for (s, &t) in strata.iter().zip(&take) {
        for &g in &s[..t] {
            in_calibration[g] = true;
        }
    }
    let mut out = CalibrationSplit {
        fit: Vec::new(),
        calibrate: Vec::new(),
        calibration_subjects: take.iter().sum(),
        subjects: names.len(),
    };
    for (i, (name, _)) in subjects.iter().enumerate() {
        let g = names
            .binary_search(&subject_group(name))
            .expect("every group is listed");
        if in_calibration[g] {
            out.calibrate.push(i);
        } else {
            out.fit.push(i);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// `n` logits of a calibrated model (labels drawn with P(sick) = sigmoid(z), z ~ N(0, s²)).
    fn calibrated_set(n: usize, s: f64, seed: u64) -> (Vec<f64>, Vec<f32>) {
        let mut rng = SplitMix64(seed);
        let mut z = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let zi = s * rng.normal();
            let p = crate::nn::probability_from_logit(zi);
            y.push(if rng.uniform() < p { 1.0 } else { 0.0 });
            z.push(zi);
        }
        (z, y)
    }

    fn scaled(z: &[f64], k: f64) -> Vec<f32> {
        z.iter().map(|&v| (v * k) as f32).collect()
    }

    #[test]
    fn temperature_recovers_the_scale_of_a_calibrated_model() {
        let (z, y) = calibrated_set(40_000, 2.0, 7);
        for t0 in [0.5, 1.0, 3.0] {
            let t = fit_temperature(&scaled(&z, t0), &y);
            assert!((t / t0 - 1.0).abs() < 0.05, "T {t} for scale {t0}");
            // The fit is a minimum: its NLL is below the neighbours'.
            let x = scaled(&z, t0);
            let at = binary_nll(&x, &y, t);
            assert!(at <= binary_nll(&x, &y, t * 1.1) && at <= binary_nll(&x, &y, t / 1.1));
        }
        // Separable logits drive T to the lower bound; no windows give 1.
        let t = fit_temperature(&[-3.0, -2.0, 2.0, 3.0], &[0.0, 0.0, 1.0, 1.0]);
        assert!((t - TEMPERATURE_RANGE.0).abs() < 1e-6, "{t}");
        // Logits that carry no information drive it to the upper bound, still a valid card value.
        let t = fit_temperature(&[5.0, -5.0, 5.0, -5.0], &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(t, TEMPERATURE_RANGE.1);
        assert_eq!(fit_temperature(&[], &[]), 1.0);
    }

    #[test]
    fn ece_is_small_when_calibrated_and_large_when_overconfident() {
        let (z, y) = calibrated_set(100_000, 2.0, 11);
        let calibrated = expected_calibration_error(&scaled(&z, 1.0), &y, 1.0).unwrap();
        assert!(calibrated < 0.01, "calibrated ECE {calibrated}");
        let overconfident = expected_calibration_error(&scaled(&z, 4.0), &y, 1.0).unwrap();
        assert!(overconfident > 0.1, "overconfident ECE {overconfident}");
        // Dividing by the right temperature undoes it.
        let fixed = expected_calibration_error(&scaled(&z, 4.0), &y, 4.0).unwrap();
        assert!((fixed - calibrated).abs() < 1e-6, "{fixed} vs {calibrated}");
        // Hand-computed: P(sick) 0.9 twice (one sick) and 0.1 (healthy): bins 13 and 1.
        let logit = |p: f64| (p / (1.0 - p)).ln() as f32;
        let e = expected_calibration_error(
            &[logit(0.9), logit(0.9), logit(0.1)],
            &[1.0, 0.0, 0.0],
            1.0,
        )
        .unwrap();
        // Bin of 0.9: accuracy 0.5, confidence 0.9; bin of 0.1: accuracy 1, confidence 0.9.
        assert!(
            (e - (2.0 / 3.0 * 0.4 + 1.0 / 3.0 * 0.1)).abs() < 1e-6,
            "{e}"
        );
        assert_eq!(expected_calibration_error(&[], &[], 1.0), None);
    }

    #[test]
    fn calibration_values_are_validated_naming_the_field() {
        let good = Calibration {
            temperature: 1.7,
            windows: 40,
            subjects: 2,
            nll_before: 0.9,
            nll_after: 0.5,
            ece_before: 0.3,
            ece_after: 0.05,
            eval_ece_uncalibrated: Some(0.2),
            eval_ece_calibrated: None,
        };
        assert!(good.validate().is_ok());
        for t in [0.0, f64::NAN, f64::INFINITY, 1e3, -1.0] {
            let bad = Calibration {
                temperature: t,
                ..good
            };
            assert_eq!(bad.validate().unwrap_err().0, "calibration.temperature");
        }
        let bad = Calibration {
            eval_ece_calibrated: Some(f64::NAN),
            ..good
        };
        assert_eq!(
            bad.validate().unwrap_err().0,
            "calibration.eval_ece_calibrated"
        );
    }

    #[test]
    fn subject_groups_keep_the_copies_of_one_walk_together() {
        assert_eq!(subject_group("sample32-c01"), "sample32");
        assert_eq!(subject_group("Motion3_FF-c00"), "Motion3_FF");
        assert_eq!(subject_group("S003"), "S003");
        assert_eq!(subject_group("x-c1"), "x-c1");
        assert_eq!(subject_group("-c00"), "-c00");
    }

    /// Windows of `subjects`: `(name, sick)` repeated `per` times.
    fn windows_of(subjects: &[(&str, bool)], per: usize) -> Vec<(String, bool)> {
        subjects
            .iter()
            .flat_map(|&(n, s)| std::iter::repeat_n((n.to_string(), s), per))
            .collect()
    }

    #[test]
    fn calibration_split_is_by_subject_stratified_and_deterministic() {
        let mut subjects = Vec::new();
        let names: Vec<String> = (0..20).map(|i| format!("S{i:03}")).collect();
        for (i, n) in names.iter().enumerate() {
            subjects.push((n.as_str(), i % 2 == 1));
        }
        let w = windows_of(&subjects, 3);
        let a = split_calibration_subjects(&w, 0.15, 42, None).unwrap();
        assert_eq!(a, split_calibration_subjects(&w, 0.15, 42, None).unwrap());
        assert_ne!(
            a.calibrate,
            split_calibration_subjects(&w, 0.15, 1, None)
                .unwrap()
                .calibrate
        );
        // 10 per class · 0.15 → 2 (rounded) of each class, whole subjects.
        assert_eq!((a.calibration_subjects, a.subjects), (4, 20));
        assert_eq!(a.calibrate.len(), 12);
        assert_eq!(a.fit.len() + a.calibrate.len(), w.len());
        let cal: std::collections::HashSet<&str> =
            a.calibrate.iter().map(|&i| w[i].0.as_str()).collect();
        assert!(a.fit.iter().all(|&i| !cal.contains(w[i].0.as_str())));
        let sick = a.calibrate.iter().filter(|&&i| w[i].1).count();
        assert_eq!(sick, 6);

        // Matched copies of walks: every copy of a walk on one side, both classes calibrated.
        let pairs = windows_of(
            &[
                ("a-c00", false),
                ("a-c00", true),
                ("a-c01", false),
                ("a-c01", true),
                ("b-c00", false),
                ("b-c00", true),
                ("c-c00", false),
                ("c-c00", true),
            ],
            2,
        );
        let p = split_calibration_subjects(&pairs, 0.15, 3, None).unwrap();
        assert_eq!((p.calibration_subjects, p.subjects), (1, 3));
        let cal: std::collections::HashSet<&str> = p
            .calibrate
            .iter()
            .map(|&i| subject_group(&pairs[i].0))
            .collect();
        assert_eq!(cal.len(), 1);
        assert!(
            p.fit
                .iter()
                .all(|&i| !cal.contains(subject_group(&pairs[i].0)))
        );

        // Two subjects, one per class: nothing to spare; one class only; bad fractions.
        let two = windows_of(&[("h", false), ("s", true)], 2);
        let err = split_calibration_subjects(&two, 0.15, 0, None).unwrap_err();
        assert!(err.contains("too few subjects"), "{err}");
        let one = windows_of(&[("h", false), ("g", false)], 2);
        assert!(
            split_calibration_subjects(&one, 0.5, 0, None)
                .unwrap_err()
                .contains("one class")
        );
        assert!(split_calibration_subjects(&w, 0.0, 0, None).is_err());
        assert!(split_calibration_subjects(&w, f64::NAN, 0, None).is_err());
    }

    #[test]
    fn calibration_can_be_restricted_to_subjects_with_a_prefix() {
        // Three real walks and four Fourier sources of a from-walks cohort, matched pairs.
        let names = [
            "flatfoot-c00",
            "flatfoot-c01",
            "treadmill-c00",
            "sample32-c00",
            "synS000-c00",
            "synS001-c00",
            "synS002-c00",
            "synS003-c00",
        ];
        let subjects: Vec<(&str, bool)> = names
            .iter()
            .flat_map(|&n| [(n, false), (n, true)])
            .collect();
        let w = windows_of(&subjects, 3);
        for seed in 0..20 {
            let p = split_calibration_subjects(&w, 0.5, seed, Some("synS")).unwrap();
            assert_eq!(p.calibration_subjects, 2);
            // Every real walk is fitted on; only Fourier sources are held out.
            assert!(p.calibrate.iter().all(|&i| w[i].0.starts_with("synS")));
            assert!(
                ["flatfoot", "treadmill", "sample32"]
                    .iter()
                    .all(|r| p.fit.iter().any(|&i| w[i].0.starts_with(r)))
            );
        }
        // `!synS`: only real walks are held out, every Fourier source is fitted on.
        for seed in 0..20 {
            let p = split_calibration_subjects(&w, 0.5, seed, Some("!synS")).unwrap();
            assert!(p.calibration_subjects >= 1);
            assert!(p.calibrate.iter().all(|&i| !w[i].0.starts_with("synS")));
            assert!((0..4).all(|k| p.fit.iter().any(|&i| w[i].0 == format!("synS00{k}-c00"))));
        }
        let err = split_calibration_subjects(&w, 0.5, 0, Some("nobody")).unwrap_err();
        assert!(err.contains("starts with 'nobody'"), "{err}");
        let only_syn: Vec<(String, bool)> = w
            .iter()
            .filter(|s| s.0.starts_with("synS"))
            .cloned()
            .collect();
        let err = split_calibration_subjects(&only_syn, 0.5, 0, Some("!synS")).unwrap_err();
        assert!(err.contains("does not start with 'synS'"), "{err}");
    }
}
