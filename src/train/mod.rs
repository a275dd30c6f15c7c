//! Training of the gait classifiers: BCE-with-logits (optional `pos_weight`), the ADOPT or Adam
//! optimizer, per-epoch metrics, and checkpoints made of a burn record plus a JSON model card.

pub mod adopt;
pub mod calibration;
pub mod checkpoint;
pub mod config;
pub mod metrics;
pub mod training;

pub use adopt::{Adopt, AdoptConfig, AdoptState};
pub use calibration::Calibration;
pub use checkpoint::{
    CARD_FORMAT, CardExpectation, CheckpointError, ModelCard, TrainOutcome, init_untrained,
    load_checkpoint, load_weights, read_card, save_checkpoint,
};
pub use config::{
    DetectorTraining, DeviceKind, EpochRecord, LrSchedule, NetworkConfig, OptimizerKind,
    TrainConfig,
};
pub use metrics::{Confusion, Metrics};
pub use training::{
    DatasetWindows, InMemoryWindows, TrainError, TrainEvent, WindowSource, evaluate,
    learn_normative_gait, train,
};

/// Serialises the unit tests that seed or draw from the backend's global random generator, so a
/// seeded run is not perturbed by another test thread (burn's NdArray generator is global).
#[cfg(test)]
pub(crate) fn test_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
