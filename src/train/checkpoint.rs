//! Checkpoints: the burn record (`<stem>.mpk`, named MessagePack, full precision) next to a
//! JSON model card (`<stem>.json`) describing network, hyper-parameters, data and metrics.
//! Loading validates the card against the record and against what the caller expects.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::calibration::Calibration;
use super::config::{EpochRecord, NetworkConfig, TrainConfig};
use crate::nn::{LoadedModel, MarkerClassificationConfig, MultiMlpConfig};

/// Format tag of model cards written by this version.
pub const CARD_FORMAT: &str = "gaitlens-model-card/1";

/// The JSON model card of a trained network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// [`CARD_FORMAT`].
    pub format: String,
    /// The original's network type ("transformer", "multi_mlp", "lrpmlp").
    pub network_type: String,
    /// Network hyper-parameters.
    pub network: NetworkConfig,
    /// Training flags.
    pub training: TrainConfig,
    /// Frames per window.
    pub interval: usize,
    /// Joints per frame.
    pub joints: usize,
    /// Joint set name ([`crate::body::smpl22::JOINT_SET`]).
    pub joint_set: String,
    /// Alignment of the windows ([`crate::dataset::ALIGNMENT_VERSION`]).
    pub alignment_version: String,
    /// FNV-1a of the training data list, hex.
    pub train_data_hash: String,
    /// FNV-1a of the evaluation data list, hex.
    pub eval_data_hash: String,
    /// `pos_weight` used in the loss, if any.
    pub pos_weight: Option<f32>,
    /// Loss and metrics per epoch.
    pub epochs: Vec<EpochRecord>,
    /// FNV-1a of the record bytes, hex (detects a record that does not belong to the card).
    pub record_fnv1a64: String,
    /// Frame rate of the training sequences in Hz (`None`: unknown, e.g. cards written before
    /// this field). A window of `interval` frames spans `interval / rate_hz` seconds of gait, so
    /// sequences at another rate must be resampled to it before the network sees them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<f64>,
    /// Healthy gait per gait phase, learnt from the healthy training windows: the reference of
    /// normative explanations ([`crate::explain::NormativeGait`]). `None` for cards written
    /// before it existed, or when training had no healthy windows with a visible gait cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normative_gait: Option<crate::explain::NormativeGait>,
    /// Summary statistics of the training windows, the out-of-domain guard
    /// ([`crate::explain::domain::DomainStats`]). `None` for cards written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<crate::explain::domain::DomainStats>,
    /// The temperature of calibrated probabilities, fitted on a calibration split of the
    /// training subjects ([`super::calibration`]). `None` for cards written before it existed,
    /// or trained with calibration off or skipped: their probabilities are plain sigmoids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// How the real training walks' pelvis markers were fitted (`gaitlens fit
    /// --pelvis-markers`), when the cohort's `ground_truth.json` records one setting for all of
    /// them (`None`: not recorded, mixed, or no fitted walks). A walk fitted the other way is
    /// read differently by the network ([`ModelCard::fit_setting_note`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_pelvis_markers: Option<crate::fit::PelvisMarkers>,
    /// [`crate::checkpoint::card_hash`] of this card (`None`: written before gaitlens stored
    /// one): a card edited after training is refused on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_fnv1a64: Option<String>,
}

impl ModelCard {
    /// The card of an untrained `network`: no data, metrics, rate, normative gait or domain
    /// statistics (for controls and for running a network built in code).
    pub fn untrained(network: NetworkConfig) -> Self {
        ModelCard {
            format: CARD_FORMAT.to_string(),
            network_type: network.network_type().to_string(),
            interval: network.interval(),
            joints: network.joints(),
            training: TrainConfig::new(network.clone()),
            network,
            joint_set: crate::body::smpl22::JOINT_SET.to_string(),
            alignment_version: crate::dataset::ALIGNMENT_VERSION.to_string(),
            train_data_hash: String::new(),
            eval_data_hash: String::new(),
            pos_weight: None,
            epochs: Vec::new(),
            record_fnv1a64: String::new(),
            rate_hz: None,
            normative_gait: None,
            domain: None,
            calibration: None,
            training_pelvis_markers: None,
            card_fnv1a64: None,
        }
    }

    /// Whether the card's probabilities are calibrated (it has a fitted temperature).
    pub fn calibrated(&self) -> bool {
        self.calibration.is_some()
    }

    /// The temperature probabilities are shown at: the card's fitted one, else 1.
    pub fn temperature(&self) -> f64 {
        self.calibration.map_or(1.0, |c| c.temperature)
    }

    /// P(sick) of `logit`: `sigmoid(logit / T)` with the card's temperature (T = 1 without
    /// calibration). Every probability of a marker network shown to a user goes through this.
    pub fn probability(&self, logit: f64) -> f64 {
        super::calibration::scaled_probability(logit, self.temperature())
    }

    /// What to show beside a probability of this card: `None` when calibrated, else why not
    /// ([`super::calibration::UNCALIBRATED_NOTE`] for cards from before calibration).
    pub fn calibration_note(&self) -> Option<&'static str> {
        if self.calibrated() {
            None
        } else if self.training.calibration_fraction > 0.0 {
            Some(super::calibration::UNCALIBRATED_NOTE)
        } else {
            Some(super::calibration::CALIBRATION_OFF_NOTE)
        }
    }

    /// A warning when a walk was fitted with other pelvis markers than the card's training
    /// walks (`None`: the same, or either is unknown). Measured: the demo network, trained on
    /// skin fits, flags 41 instead of 45 of 49 transplant cells on the shared walks fitted rigid,
    /// and puts 15 of sample23's 190 windows outside its training data instead of none.
    pub fn fit_setting_note(&self, walk: Option<crate::fit::PelvisMarkers>) -> Option<String> {
        let (trained, walk) = (self.training_pelvis_markers?, walk?);
        (trained != walk).then(|| {
            format!(
                "this walk was fitted with {} pelvis markers, the network's training walks with \
                 {}: its verdicts may not hold (refit with `gaitlens fit --pelvis-markers {}`)",
                walk.name(),
                trained.name(),
                trained.name()
            )
        })
    }

    /// The card with its content hash stamped in ([`crate::checkpoint::card_hash`]): every
    /// writer of a card calls this last.
    pub fn stamped(mut self) -> Self {
        self.card_fnv1a64 = Some(crate::checkpoint::card_hash(&self));
        self
    }

    /// The out-of-domain check of one window (`frames × joints × 3`, flat, as the network reads
    /// it), `None` when the card has no domain statistics.
    pub fn domain_check(&self, window: &[f32]) -> Option<crate::explain::domain::DomainCheck> {
        self.domain
            .as_ref()
            .map(|d| crate::explain::domain::DomainCheck {
                distance: d.distance(window, self.joints),
                threshold: d.threshold,
            })
    }

    /// The alignment the network was trained on, `None` for a version this build does not know.
    pub fn alignment(&self) -> Option<crate::dataset::Alignment> {
        crate::dataset::Alignment::from_version(&self.alignment_version)
    }
}

/// What a caller requires of a checkpoint (`None` = anything).
#[derive(Debug, Clone, Default)]
pub struct CardExpectation {
    /// Required frames per window.
    pub interval: Option<usize>,
    /// Required joints per frame.
    pub joints: Option<usize>,
    /// Required alignment version.
    pub alignment_version: Option<String>,
}

/// Errors of saving and loading checkpoints.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The card is not valid JSON of the expected shape.
    #[error("{path}: not a gaitlens model card: {source}")]
    CardJson {
        /// The card file.
        path: PathBuf,
        /// Parser error.
        source: serde_json::Error,
    },
    /// The card contradicts itself or the caller's expectation.
    #[error("{path}: model card mismatch: {field} is {found}, expected {expected}")]
    Mismatch {
        /// The card file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Value in the card.
        found: String,
        /// Value required.
        expected: String,
    },
    /// A value of the card is out of its valid range.
    #[error("{path}: {reason}")]
    Invalid {
        /// The card file.
        path: PathBuf,
        /// What is wrong, with the valid range.
        reason: String,
    },
    /// The record does not match the card's hash.
    #[error("{path}: record hash {found} does not match the card's {expected}")]
    RecordHash {
        /// The record file.
        path: PathBuf,
        /// Hash of the file.
        found: String,
        /// Hash in the card.
        expected: String,
    },
    /// The record cannot be decoded into the card's network.
    #[error("{path}: cannot load the weights: {reason}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// Recorder message.
        reason: String,
    },
}

impl From<crate::checkpoint::WriteError> for CheckpointError {
    fn from(e: crate::checkpoint::WriteError) -> Self {
        match e {
            crate::checkpoint::WriteError::Io { path, source } => Self::Io { path, source },
            crate::checkpoint::WriteError::CardJson { path, source } => {
                Self::CardJson { path, source }
            }
        }
    }
}

/// Result of [`super::train`]: the model card and the serialised weights (burn named MessagePack,
/// full precision), ready for [`save_checkpoint`].
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The model card.
    pub card: ModelCard,
    /// Serialised weights.
    pub record: Vec<u8>,
}

/// Writes `<stem>.mpk` and `<stem>.json` atomically; returns (record path, card path).
pub fn save_checkpoint(
    outcome: &TrainOutcome,
    stem: &Path,
) -> Result<(PathBuf, PathBuf), CheckpointError> {
    let card = outcome.card.clone().stamped();
    Ok(crate::checkpoint::write(stem, &outcome.record, &card)?)
}

/// Adds the hyper-parameters a card written before they existed lacks, with their defaults —
/// the original's behaviour, which is what such a network was trained with. (burn's `Config`
/// derive requires every field when deserialising, defaults or not.)
fn fill_network_defaults(net: &mut serde_json::Value) {
    let defaults = match net.get("type").and_then(|t| t.as_str()) {
        Some("transformer") => NetworkConfig::Transformer(MarkerClassificationConfig::new()),
        Some("multi_mlp") => NetworkConfig::MultiMlp(MultiMlpConfig::new()),
        Some("lrpmlp") => NetworkConfig::LrpMlp(MultiMlpConfig::new()),
        Some("asymmetry") => NetworkConfig::Asymmetry(crate::nn::AsymmetryConfig::new()),
        _ => return,
    };
    let (Ok(serde_json::Value::Object(defaults)), Some(fields)) =
        (serde_json::to_value(defaults), net.as_object_mut())
    else {
        return;
    };
    for (key, value) in defaults {
        fields.entry(key).or_insert(value);
    }
}

/// Reads and self-checks a model card.
pub fn read_card(path: &Path) -> Result<ModelCard, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_card(&bytes, path)
}

/// Parses and self-checks the bytes of a model card (every field in range, network consistent,
/// content hash); `path` names the card in errors.
pub fn parse_card(bytes: &[u8], path: &Path) -> Result<ModelCard, CheckpointError> {
    let json_error = |source| CheckpointError::CardJson {
        path: path.to_path_buf(),
        source,
    };
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(json_error)?;
    if let Some(net) = value.get_mut("network") {
        fill_network_defaults(net);
    }
    if let Some(net) = value.pointer_mut("/training/network") {
        fill_network_defaults(net);
    }
    let card: ModelCard = serde_json::from_value(value).map_err(json_error)?;
    let mismatch = |field, found: String, expected: String| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        field,
        found,
        expected,
    };
    if card.format != CARD_FORMAT {
        return Err(mismatch("format", card.format.clone(), CARD_FORMAT.into()));
    }
    if card.network_type != card.network.network_type() {
        return Err(mismatch(
            "network_type",
            card.network_type.clone(),
            card.network.network_type().into(),
        ));
    }
    if card.interval != card.network.interval() {
        return Err(mismatch(
            "interval",
            card.interval.to_string(),
            card.network.interval().to_string(),
        ));
    }
    if card.joints != card.network.joints() {
        return Err(mismatch(
            "joints",
            card.joints.to_string(),
            card.network.joints().to_string(),
        ));
    }
    card.network
        .validate()
        .map_err(|reason| mismatch("network", reason, "valid hyper-parameters".into()))?;
    if let Some(n) = &card.normative_gait {
        n.validate(card.joints).map_err(|reason| {
            mismatch("normative_gait", reason, "a valid normative table".into())
        })?;
    }
    if let Some(d) = &card.domain {
        d.validate(card.joints)
            .map_err(|reason| mismatch("domain", reason, "valid domain statistics".into()))?;
    }
    if let Some(r) = card.rate_hz {
        crate::explain::check_rate_hz(r).map_err(|reason| CheckpointError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
    }
    let fraction = card.training.calibration_fraction;
    if !(fraction.is_finite() && (0.0..1.0).contains(&fraction)) {
        return Err(mismatch(
            "training.calibration_fraction",
            fraction.to_string(),
            "a fraction in [0, 1)".into(),
        ));
    }
    if let Some(c) = &card.calibration {
        c.validate().map_err(|(field, found)| {
            mismatch(
                field,
                found,
                "a valid calibration written by gaitlens train".into(),
            )
        })?;
    }
    // Last: every field above gets its own message; an edit within range is caught here.
    crate::checkpoint::check_card_text(bytes).map_err(|(found, stated)| {
        mismatch(
            "card_fnv1a64",
            format!("{stated}, but the card's content hashes to {found}"),
            "the hash written with the card (it was edited after training: retrain, or \
                 remove the field to accept the edit)"
                .into(),
        )
    })?;
    Ok(card)
}

/// Loads the checkpoint whose card is at `card_path` (the record is the `.mpk` beside it),
/// checking the card, the record hash and `expect`.
pub fn load_checkpoint<B: Backend>(
    card_path: &Path,
    expect: &CardExpectation,
    device: &B::Device,
) -> Result<(LoadedModel<B>, ModelCard), CheckpointError> {
    let card = read_card(card_path)?;
    let mismatch = |field, found: String, expected: String| CheckpointError::Mismatch {
        path: card_path.to_path_buf(),
        field,
        found,
        expected,
    };
    if let Some(i) = expect.interval
        && i != card.interval
    {
        return Err(mismatch(
            "interval",
            card.interval.to_string(),
            i.to_string(),
        ));
    }
    if let Some(j) = expect.joints
        && j != card.joints
    {
        return Err(mismatch("joints", card.joints.to_string(), j.to_string()));
    }
    if let Some(a) = &expect.alignment_version
        && *a != card.alignment_version
    {
        return Err(mismatch(
            "alignment_version",
            card.alignment_version.clone(),
            a.clone(),
        ));
    }
    if card.alignment().is_none() {
        return Err(mismatch(
            "alignment_version",
            card.alignment_version.clone(),
            format!(
                "one this version knows ({})",
                crate::dataset::Alignment::known_versions()
            ),
        ));
    }
    let (rec_path, _) = crate::checkpoint::paths(card_path);
    let bytes = std::fs::read(&rec_path).map_err(|source| CheckpointError::Io {
        path: rec_path.clone(),
        source,
    })?;
    let hash = crate::checkpoint::record_hash(&bytes);
    if hash != card.record_fnv1a64 {
        return Err(CheckpointError::RecordHash {
            path: rec_path,
            found: hash,
            expected: card.record_fnv1a64.clone(),
        });
    }
    let model =
        load_weights(&card.network, bytes, device).map_err(|reason| CheckpointError::Record {
            path: rec_path.clone(),
            reason,
        })?;
    Ok((model, card))
}

/// A freshly initialised (untrained) network of `network`: the control of model-randomisation
/// checks of explanations (Adebayo et al. 2018, "Sanity checks for saliency maps").
pub fn init_untrained<B: Backend>(network: &NetworkConfig, device: &B::Device) -> LoadedModel<B> {
    match network {
        NetworkConfig::Transformer(c) => LoadedModel::Transformer(c.init::<B>(device)),
        NetworkConfig::MultiMlp(c) | NetworkConfig::LrpMlp(c) => {
            LoadedModel::Mlp(c.init::<B>(device))
        }
        NetworkConfig::Asymmetry(c) => LoadedModel::Asymmetry(c.init_random::<B>(device)),
    }
}

/// Builds the network of `network` and loads serialised weights into it.
pub fn load_weights<B: Backend>(
    network: &NetworkConfig,
    bytes: Vec<u8>,
    device: &B::Device,
) -> Result<LoadedModel<B>, String> {
    use crate::checkpoint::load_weights_into;
    Ok(match init_untrained::<B>(network, device) {
        LoadedModel::Transformer(m) => {
            LoadedModel::Transformer(load_weights_into(m, bytes, device)?)
        }
        LoadedModel::Mlp(m) => LoadedModel::Mlp(load_weights_into(m, bytes, device)?),
        LoadedModel::Asymmetry(m) => LoadedModel::Asymmetry(load_weights_into(m, bytes, device)?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::training::{InMemoryWindows, train};
    use super::*;
    use crate::nn::GaitClassifier;
    use crate::nn::MultiMlpConfig;
    use burn::backend::NdArray;

    fn windows(n: usize) -> InMemoryWindows {
        InMemoryWindows {
            data: (0..n * 3 * 22 * 3)
                .map(|i| ((i * 37) % 11) as f32 * 0.1)
                .collect(),
            labels: (0..n).map(|i| (i % 2) as f32).collect(),
            interval: 3,
            joints: 22,
        }
    }

    #[test]
    fn round_trip_and_typed_mismatches() {
        let _rng = crate::train::test_rng_lock();
        let mut cfg = TrainConfig::new(NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(3)
                .with_pfe_layers(vec![4])
                .with_fc_layers(vec![4]),
        ));
        cfg.epochs = 1;
        let w = windows(6);
        let out = train(&cfg, &w, &w, |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_, card_path) = save_checkpoint(&out, &dir.path().join("m")).unwrap();
        let device = Default::default();
        let (model, card) =
            load_checkpoint::<NdArray>(&card_path, &CardExpectation::default(), &device).unwrap();
        assert_eq!(card.network_type, "lrpmlp");
        // Same logits as the weights that were serialised.
        let direct = load_weights::<NdArray>(&card.network, out.record.clone(), &device).unwrap();
        let x = crate::nn::window_tensor::<NdArray>(w.data.clone(), 6, 3, 22, &device);
        let a = super::super::training::to_vec(model.logits(x.clone()));
        let b = super::super::training::to_vec(direct.logits(x));
        assert_eq!(a, b);

        let expect = CardExpectation {
            interval: Some(64),
            ..Default::default()
        };
        let err = load_checkpoint::<NdArray>(&card_path, &expect, &device).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::Mismatch {
                    field: "interval",
                    ..
                }
            ),
            "{err}"
        );
        // A tampered card.
        let text = std::fs::read_to_string(&card_path).unwrap();
        std::fs::write(&card_path, text.replace("\"lrpmlp\"", "\"transformer\"")).unwrap();
        let err = read_card(&card_path).unwrap_err();
        assert!(matches!(err, CheckpointError::Mismatch { .. }), "{err}");
        // A record that does not belong to the card.
        std::fs::write(&card_path, text).unwrap();
        std::fs::write(dir.path().join("m.mpk"), b"garbage").unwrap();
        let err = load_checkpoint::<NdArray>(&card_path, &CardExpectation::default(), &device)
            .unwrap_err();
        assert!(matches!(err, CheckpointError::RecordHash { .. }), "{err}");
    }

    #[test]
    fn a_walk_fitted_otherwise_than_the_training_walks_is_named_and_older_cards_load() {
        use crate::fit::PelvisMarkers::{Rigid, Skin};
        let mut card = ModelCard::untrained(NetworkConfig::LrpMlp(MultiMlpConfig::new()));
        // Unknown on either side: nothing to say.
        assert_eq!(card.fit_setting_note(Some(Rigid)), None);
        card.training_pelvis_markers = Some(Skin);
        assert_eq!(card.fit_setting_note(None), None);
        assert_eq!(card.fit_setting_note(Some(Skin)), None);
        let note = card.fit_setting_note(Some(Rigid)).unwrap();
        assert!(
            note.contains("fitted with rigid pelvis markers")
                && note.contains("training walks with skin")
                && note.contains("--pelvis-markers skin"),
            "{note}"
        );
        // The field is written when known and absent (None) in cards written before it.
        let text = serde_json::to_string(&card).unwrap();
        assert!(
            text.contains("\"training_pelvis_markers\":\"skin\""),
            "{text}"
        );
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_object_mut().unwrap().remove("training_pelvis_markers");
        let older: ModelCard = serde_json::from_value(v).unwrap();
        assert_eq!(older.training_pelvis_markers, None);
    }

    #[test]
    fn calibration_block_is_optional_and_validated_naming_the_field() {
        let _rng = crate::train::test_rng_lock();
        let mut cfg = TrainConfig::new(NetworkConfig::LrpMlp(
            MultiMlpConfig::new()
                .with_interval(3)
                .with_pfe_layers(vec![4])
                .with_fc_layers(vec![4]),
        ));
        cfg.epochs = 1;
        let w = windows(6);
        let mut out = train(&cfg, &w, &w, |_| {}).unwrap();
        // In-memory windows carry no subjects: no calibration, and the card says it was off.
        assert!(out.card.calibration.is_none());
        assert_eq!(out.card.training.calibration_fraction, 0.0);
        assert_eq!(
            out.card.calibration_note(),
            Some(crate::train::calibration::CALIBRATION_OFF_NOTE)
        );
        out.card.calibration = Some(Calibration {
            temperature: 2.0,
            windows: 10,
            subjects: 2,
            nll_before: 0.8,
            nll_after: 0.6,
            ece_before: 0.2,
            ece_after: 0.05,
            eval_ece_uncalibrated: Some(0.3),
            eval_ece_calibrated: Some(0.1),
        });
        let dir = tempfile::tempdir().unwrap();
        let (_, card_path) = save_checkpoint(&out, &dir.path().join("c")).unwrap();
        let card = read_card(&card_path).unwrap();
        assert!(card.calibrated() && card.calibration_note().is_none());
        assert_eq!(card.calibration, out.card.calibration);
        assert!((card.probability(2.0) - crate::nn::probability_from_logit(1.0)).abs() < 1e-12);

        // A card from before calibration (no block, no fraction, no hash) loads, uncalibrated.
        let text = std::fs::read_to_string(&card_path).unwrap();
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let fields = value.as_object_mut().unwrap();
        fields.remove("card_fnv1a64");
        fields.remove("calibration");
        let training = value.pointer_mut("/training").unwrap();
        assert!(
            training
                .as_object_mut()
                .unwrap()
                .remove("calibration_fraction")
                .is_some()
        );
        let old = dir.path().join("old.json");
        std::fs::write(&old, serde_json::to_vec(&value).unwrap()).unwrap();
        let card = read_card(&old).unwrap();
        assert!(!card.calibrated());
        assert_eq!(card.training.calibration_fraction, 0.15);
        assert_eq!(
            card.calibration_note(),
            Some(crate::train::calibration::UNCALIBRATED_NOTE)
        );
        assert_eq!(
            card.probability(1.0),
            crate::nn::probability_from_logit(1.0)
        );

        // Temperatures 0, NaN (JSON null), out of range, and a NaN ECE are refused by name.
        for (field, bad) in [
            ("temperature", serde_json::json!(0.0)),
            ("temperature", serde_json::Value::Null),
            ("temperature", serde_json::json!(1e6)),
            ("ece_after", serde_json::Value::Null),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v.as_object_mut().unwrap().remove("card_fnv1a64");
            v["calibration"][field] = bad.clone();
            std::fs::write(&old, serde_json::to_vec(&v).unwrap()).unwrap();
            let err = read_card(&old).unwrap_err();
            let name = format!("calibration.{field}");
            assert!(
                matches!(&err, CheckpointError::Mismatch { field: f, .. } if *f == name),
                "{field} = {bad}: {err}"
            );
            assert!(err.to_string().contains(&name), "{err}");
        }
    }

    #[test]
    fn improved_transformer_round_trips() {
        let _rng = crate::train::test_rng_lock();
        use crate::nn::{ClsInit, MarkerClassificationConfig, Pooling};
        let mut cfg = TrainConfig::new(NetworkConfig::Transformer(
            MarkerClassificationConfig::new()
                .with_interval(3)
                .with_pfe_dim(4)
                .with_fc_dim(4)
                .with_ff_dim(8)
                .with_per_joint_embedding(true)
                .with_cls_init(ClsInit::Small)
                .with_pooling(Pooling::Mean)
                .with_final_norm(true)
                .with_layers(2)
                .with_frame_token(true),
        ));
        cfg.epochs = 1;
        let w = windows(4);
        let out = train(&cfg, &w, &w, |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_, card_path) = save_checkpoint(&out, &dir.path().join("t")).unwrap();
        let device = Default::default();
        let (model, card) =
            load_checkpoint::<NdArray>(&card_path, &CardExpectation::default(), &device).unwrap();
        let text = std::fs::read_to_string(&card_path).unwrap();
        assert!(text.contains("\"per_joint_embedding\": true"), "{text}");
        let NetworkConfig::Transformer(t) = &card.network else {
            panic!("{:?}", card.network)
        };
        assert_eq!(
            (t.pooling, t.cls_init, t.final_norm, t.layers, t.frame_token),
            (Pooling::Mean, ClsInit::Small, true, 2, true)
        );
        let direct = load_weights::<NdArray>(&card.network, out.record.clone(), &device).unwrap();
        let x = crate::nn::window_tensor::<NdArray>(w.data.clone(), 4, 3, 22, &device);
        let a = super::super::training::to_vec(model.logits(x.clone()));
        let b = super::super::training::to_vec(direct.logits(x));
        assert_eq!(a, b);
        // A card from before `layers` and `frame_token` existed (and before cards were hashed)
        // reads with their defaults.
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            value
                .as_object_mut()
                .unwrap()
                .remove("card_fnv1a64")
                .is_some()
        );
        for net in ["/network", "/training/network"] {
            let fields = value.pointer_mut(net).unwrap().as_object_mut().unwrap();
            assert!(fields.remove("layers").is_some() && fields.remove("frame_token").is_some());
        }
        let old = dir.path().join("old.json");
        std::fs::write(&old, serde_json::to_vec(&value).unwrap()).unwrap();
        let card = read_card(&old).unwrap();
        let NetworkConfig::Transformer(t) = &card.network else {
            panic!("{:?}", card.network)
        };
        assert_eq!((t.layers, t.frame_token, t.final_norm), (1, false, true));
        // Anything else missing is still an error naming the field.
        let fields = value
            .pointer_mut("/network")
            .unwrap()
            .as_object_mut()
            .unwrap();
        fields.remove("type");
        std::fs::write(&old, serde_json::to_vec(&value).unwrap()).unwrap();
        let err = read_card(&old).unwrap_err().to_string();
        assert!(err.contains("old.json") && err.contains("type"), "{err}");
    }
}
