//! Binary classification metrics (torchmetrics' `task="binary"` with threshold 0.5 on the
//! sigmoid, i.e. logit > 0 is sick).

use serde::{Deserialize, Serialize};

/// Confusion counts of binary predictions (positive = sick).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Sick predicted sick.
    pub tp: u64,
    /// Healthy predicted sick.
    pub fp: u64,
    /// Healthy predicted healthy.
    pub tn: u64,
    /// Sick predicted healthy.
    pub fn_: u64,
}

impl Confusion {
    /// Adds a batch of logits and labels (1 = sick).
    pub fn add(&mut self, logits: &[f32], labels: &[f32]) {
        for (&l, &y) in logits.iter().zip(labels) {
            match (l > 0.0, y > 0.5) {
                (true, true) => self.tp += 1,
                (true, false) => self.fp += 1,
                (false, false) => self.tn += 1,
                (false, true) => self.fn_ += 1,
            }
        }
    }

    /// The derived metrics (a ratio with a zero denominator is 0, as torchmetrics).
    pub fn metrics(&self) -> Metrics {
        let r = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = r(self.tp, self.tp + self.fp);
        let recall = r(self.tp, self.tp + self.fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Metrics {
            accuracy: r(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_),
            precision,
            recall,
            specificity: r(self.tn, self.tn + self.fp),
            f1,
        }
    }
}

/// Accuracy, precision, recall, specificity and F1 of one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// (TP + TN) / all.
    pub accuracy: f64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN) (sensitivity).
    pub recall: f64,
    /// TN / (TN + FP).
    pub specificity: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ratios() {
        let mut c = Confusion::default();
        // logits: sick, sick, healthy, healthy, sick ; labels: 1, 0, 0, 1, 1
        c.add(&[2.0, 0.5, -1.0, -0.1, 3.0], &[1.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 1, 1));
        let m = c.metrics();
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.specificity - 0.5).abs() < 1e-12);
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Confusion::default().metrics().precision, 0.0);
    }
}
