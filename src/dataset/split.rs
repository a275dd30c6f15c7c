//! Subject-disjoint k-fold splits, the class ratio for `pos_weight`, and the training-data hash
//! for model cards.
//!
//! The original (`JointData.__init__`) splits each class separately by the subject's index in
//! its class folder: with `per_fold = ceil(subjects_in_class / k)`, fold `i` evaluates the
//! subjects with index in `[i·per_fold, (i+1)·per_fold)` and trains on all others, so no subject
//! is in both sets (later folds may be smaller or empty when `k` does not divide the count). The
//! original indexes in `os.listdir` order, which depends on the file system; here subjects are
//! indexed in sorted name order so a split is reproducible.

use super::DatasetError;
use super::windows::WindowDataset;

/// Window indices of one cross-validation fold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fold {
    /// Training windows (indices into [`WindowDataset::windows`]).
    pub train: Vec<usize>,
    /// Evaluation windows.
    pub eval: Vec<usize>,
}

/// Fold `fold` of `k` (the original's `cross_validation_index`, `k_folds`), split by subject.
pub fn k_fold_by_subject(ds: &WindowDataset, k: usize, fold: usize) -> Result<Fold, DatasetError> {
    if k < 2 || fold >= k {
        return Err(DatasetError::Config {
            reason: format!("fold {fold} of k = {k}: need k ≥ 2 and fold < k"),
        });
    }
    // Index of each subject within its class (subjects are sorted by (class, name)).
    let mut class_index = vec![0usize; ds.subjects.len()];
    let mut counts = [0usize; 2];
    for (i, s) in ds.subjects.iter().enumerate() {
        class_index[i] = counts[s.sick as usize];
        counts[s.sick as usize] += 1;
    }
    let per_fold = counts.map(|n| n.div_ceil(k));
    let in_eval = |subject: usize| {
        let c = ds.subjects[subject].sick as usize;
        let idx = class_index[subject];
        fold * per_fold[c] <= idx && idx < (fold + 1) * per_fold[c]
    };
    let mut out = Fold::default();
    for (i, w) in ds.windows.iter().enumerate() {
        if in_eval(w.subject) {
            out.eval.push(i);
        } else {
            out.train.push(i);
        }
    }
    Ok(out)
}

/// Nested validation inside fold `outer` of `k`: the outer fold's training subjects split again
/// into `k − 1` inner folds the same way (per class, by index among the outer-training subjects
/// of that class); inner fold `inner` is evaluated, the other training subjects train. The outer
/// fold's evaluation (test) subjects are in neither part, so recipes and thresholds chosen on
/// the inner fold never see the test fold.
pub fn nested_fold(
    ds: &WindowDataset,
    k: usize,
    outer: usize,
    inner: usize,
) -> Result<Fold, DatasetError> {
    let outer_fold = k_fold_by_subject(ds, k, outer)?;
    let inner_k = k - 1;
    if inner_k < 2 || inner >= inner_k {
        return Err(DatasetError::Config {
            reason: format!(
                "inner fold {inner} of the {inner_k} inside fold {outer} of k = {k}: need k ≥ 3 \
                 and inner fold < k − 1"
            ),
        });
    }
    let mut in_train = vec![false; ds.subjects.len()];
    for &i in &outer_fold.train {
        in_train[ds.windows[i].subject] = true;
    }
    // Index of each outer-training subject within its class (subjects sorted by class, name).
    let mut class_index = vec![usize::MAX; ds.subjects.len()];
    let mut counts = [0usize; 2];
    for (i, s) in ds.subjects.iter().enumerate() {
        if in_train[i] {
            class_index[i] = counts[s.sick as usize];
            counts[s.sick as usize] += 1;
        }
    }
    let per_fold = counts.map(|n| n.div_ceil(inner_k));
    let mut out = Fold::default();
    for &i in &outer_fold.train {
        let subject = ds.windows[i].subject;
        let c = ds.subjects[subject].sick as usize;
        let idx = class_index[subject];
        if inner * per_fold[c] <= idx && idx < (inner + 1) * per_fold[c] {
            out.eval.push(i);
        } else {
            out.train.push(i);
        }
    }
    Ok(out)
}

/// `pos_weight` for a BCE loss over `windows`: healthy count / sick count, as the original's
/// `get_healthy_sick_ratio` (computed over the training set including mirrored copies). `None`
/// when there is no sick window.
pub fn pos_weight(ds: &WindowDataset, windows: &[usize]) -> Option<f32> {
    let sick = windows.iter().filter(|&&i| ds.windows[i].sick).count();
    (sick > 0).then(|| (windows.len() - sick) as f32 / sick as f32)
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Hash of a data list for model cards: the entries sorted, deduplicated, joined by `\n`, FNV-1a.
pub fn data_list_hash<S: AsRef<str>>(entries: &[S]) -> u64 {
    let mut v: Vec<&str> = entries.iter().map(|s| s.as_ref()).collect();
    v.sort_unstable();
    v.dedup();
    fnv1a64(v.join("\n").as_bytes())
}

impl WindowDataset {
    /// The data behind `windows`: source files of the sequences they come from, or for in-memory
    /// sequences `class/subject/gait#<FNV-1a of the joint data>`; sorted and deduplicated.
    pub fn data_list(&self, windows: &[usize]) -> Vec<String> {
        let mut seqs: Vec<usize> = windows
            .iter()
            .filter_map(|&i| self.windows.get(i).map(|w| w.sequence))
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        let mut out = Vec::new();
        for si in seqs {
            let s = &self.sequences[si];
            if s.files.is_empty() {
                let bytes: Vec<u8> = s
                    .joints
                    .iter()
                    .flatten()
                    .flatten()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                out.push(format!(
                    "{}/{}/{}#{:016x}",
                    s.class_name(),
                    s.subject,
                    s.gait,
                    fnv1a64(&bytes)
                ));
            } else {
                out.extend(s.files.iter().cloned());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// [`data_list_hash`] of [`Self::data_list`].
    pub fn data_hash(&self, windows: &[usize]) -> u64 {
        data_list_hash(&self.data_list(windows))
    }
}

#[cfg(test)]
mod tests {
    use super::super::align::tests::canonical_walker;
    use super::super::{JointSequence, WindowConfig};
    use super::*;
    use std::collections::HashSet;

    fn dataset(healthy: usize, sick: usize) -> WindowDataset {
        let mut seqs = Vec::new();
        for (n, is_sick) in [(healthy, false), (sick, true)] {
            for i in 0..n {
                for g in 0..2 {
                    seqs.push(JointSequence {
                        subject: format!("s{i:02}"),
                        gait: format!("g{g}"),
                        sick: is_sick,
                        rate_hz: None,
                        joints: canonical_walker(20 + i),
                        files: Vec::new(),
                        sides: None,
                        legs_measured: None,
                    });
                }
            }
        }
        let cfg = WindowConfig {
            interval: 8,
            stride: 2,
            mirror: true,
        };
        WindowDataset::new(seqs, cfg).unwrap()
    }

    #[test]
    fn folds_are_subject_disjoint_and_cover_every_subject_once() {
        let ds = dataset(7, 4);
        let k = 5;
        let mut evaluated = Vec::new();
        for fold in 0..k {
            let f = k_fold_by_subject(&ds, k, fold).unwrap();
            assert_eq!(f.train.len() + f.eval.len(), ds.len());
            let tr: HashSet<usize> = f.train.iter().map(|&i| ds.windows[i].subject).collect();
            let ev: HashSet<usize> = f.eval.iter().map(|&i| ds.windows[i].subject).collect();
            assert!(tr.is_disjoint(&ev), "fold {fold} leaks a subject");
            evaluated.extend(ev);
        }
        evaluated.sort_unstable();
        assert_eq!(evaluated, (0..ds.subjects.len()).collect::<Vec<_>>());
    }

    #[test]
    fn nested_folds_never_touch_the_test_fold_and_cover_its_training_subjects() {
        let ds = dataset(12, 9);
        let (k, outer) = (5, 2);
        let test: HashSet<usize> = k_fold_by_subject(&ds, k, outer)
            .unwrap()
            .eval
            .iter()
            .map(|&i| ds.windows[i].subject)
            .collect();
        let mut validated = Vec::new();
        for inner in 0..k - 1 {
            let f = nested_fold(&ds, k, outer, inner).unwrap();
            let tr: HashSet<usize> = f.train.iter().map(|&i| ds.windows[i].subject).collect();
            let ev: HashSet<usize> = f.eval.iter().map(|&i| ds.windows[i].subject).collect();
            assert!(tr.is_disjoint(&ev) && tr.is_disjoint(&test) && ev.is_disjoint(&test));
            if inner == 0 {
                // As the plain folds, later inner folds may lack a class; the first has both.
                assert!(ev.iter().any(|&s| ds.subjects[s].sick));
                assert!(ev.iter().any(|&s| !ds.subjects[s].sick));
            }
            validated.extend(ev);
        }
        validated.sort_unstable();
        let mut expected: Vec<usize> = (0..ds.subjects.len())
            .filter(|s| !test.contains(s))
            .collect();
        expected.sort_unstable();
        assert_eq!(validated, expected);
        assert!(nested_fold(&ds, 5, 2, 4).is_err());
        assert!(nested_fold(&ds, 2, 0, 0).is_err());
    }

    #[test]
    fn per_class_index_ranges_as_the_original() {
        // 7 healthy → ceil(7/5) = 2 per fold; 4 sick → 1 per fold.
        let ds = dataset(7, 4);
        let f = k_fold_by_subject(&ds, 5, 1).unwrap();
        let mut ev: Vec<String> = f
            .eval
            .iter()
            .map(|&i| {
                let s = &ds.subjects[ds.windows[i].subject];
                format!("{}:{}", s.sick, s.name)
            })
            .collect();
        ev.sort();
        ev.dedup();
        assert_eq!(ev, ["false:s02", "false:s03", "true:s01"]);
        // Fold 4: healthy indices 8..10 do not exist, sick index 4 neither → empty eval.
        let f = k_fold_by_subject(&ds, 5, 4).unwrap();
        assert!(f.eval.is_empty());
        assert!(k_fold_by_subject(&ds, 5, 5).is_err());
    }

    #[test]
    fn pos_weight_is_healthy_over_sick() {
        let ds = dataset(3, 1);
        let all: Vec<usize> = (0..ds.len()).collect();
        let sick = ds.windows.iter().filter(|w| w.sick).count() as f32;
        let healthy = ds.len() as f32 - sick;
        assert_eq!(pos_weight(&ds, &all), Some(healthy / sick));
        let only_healthy: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| !ds.windows[i].sick)
            .collect();
        assert_eq!(pos_weight(&ds, &only_healthy), None);
    }

    #[test]
    fn data_hash_depends_on_the_set_not_the_order() {
        assert_eq!(
            data_list_hash(&["b", "a"]),
            data_list_hash(&["a", "b", "a"])
        );
        assert_ne!(data_list_hash(&["a"]), data_list_hash(&["a", "b"]));
        // FNV-1a reference value for the empty input and "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let ds = dataset(3, 2);
        let f = k_fold_by_subject(&ds, 2, 0).unwrap();
        assert_ne!(ds.data_hash(&f.train), ds.data_hash(&f.eval));
        // Training subjects: healthy index 2 and sick index 1 (2 subjects × 2 gaits).
        assert_eq!(ds.data_list(&f.train).len(), 4);
    }
}
