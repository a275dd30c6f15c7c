//! Checkpoints on disk for every network family (the marker networks of [`crate::train`], the
//! video networks of [`crate::video`]): a burn record `STEM.mpk` (named MessagePack, full
//! precision) beside a JSON model card `STEM.json`, each written atomically, the record tied to
//! its card by its FNV-1a hash. Each family keeps its own card type and validation.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};

/// Why writing a checkpoint failed (each family's error wraps it).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The card could not be serialised.
    #[error("{path}: {source}")]
    CardJson {
        /// The card file.
        path: PathBuf,
        /// Serialiser error.
        source: serde_json::Error,
    },
}

/// Name of the field in which a card stores [`card_hash`].
pub const CARD_HASH_FIELD: &str = "card_fnv1a64";

/// FNV-1a of a card's whole content but its own [`CARD_HASH_FIELD`]. Stored in the card, it
/// ties every field — labels, rates, statistics, and through `record_fnv1a64` the weights —
/// together: a card edited after training (swapped label names invert every verdict) is refused
/// on load ([`check_card_text`]).
///
/// The hash is taken of the card's JSON text parsed back into a JSON value (keys sorted, compact),
/// exactly what a reader parses from the file: the card's own structs do not round-trip every
/// float bit-exactly through serde_json's parser, the file's text does.
pub fn card_hash<C: serde::Serialize>(card: &C) -> String {
    hash_of_card_text(&serde_json::to_vec(card).unwrap_or_default()).0
}

/// The hash of a card's text without [`CARD_HASH_FIELD`], and the hash it states.
fn hash_of_card_text(text: &[u8]) -> (String, Option<String>) {
    let mut value: serde_json::Value =
        serde_json::from_slice(text).unwrap_or(serde_json::Value::Null);
    let stated = value
        .as_object_mut()
        .and_then(|fields| fields.remove(CARD_HASH_FIELD))
        .and_then(|h| h.as_str().map(str::to_string));
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    (format!("{:016x}", crate::dataset::fnv1a64(&bytes)), stated)
}

/// Checks a card file's text against the hash it states: `Err((found, stated))` when they differ.
/// A card without a hash (written before gaitlens stored one) passes.
pub fn check_card_text(text: &[u8]) -> Result<(), (String, String)> {
    match hash_of_card_text(text) {
        (found, Some(stated)) if found != stated => Err((found, stated)),
        _ => Ok(()),
    }
}

/// Paths of the record and the card for `stem` (any extension of `stem` is replaced).
pub fn paths(stem: &Path) -> (PathBuf, PathBuf) {
    (stem.with_extension("mpk"), stem.with_extension("json"))
}

/// The hash a card stores of its record (FNV-1a, 16 hex digits).
pub fn record_hash(record: &[u8]) -> String {
    format!("{:016x}", crate::dataset::fnv1a64(record))
}

/// The weights of `model` as record bytes.
pub fn record_bytes<B: Backend, M: Module<B>>(model: M) -> Result<Vec<u8>, String> {
    NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.into_record(), ())
        .map_err(|e| e.to_string())
}

/// `model` (freshly built with the card's architecture) with the weights of `record` loaded.
pub fn load_weights_into<B: Backend, M: Module<B>>(
    model: M,
    record: Vec<u8>,
    device: &B::Device,
) -> Result<M, String> {
    let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
        .load(record, device)
        .map_err(|e| e.to_string())?;
    Ok(model.load_record(record))
}

/// Writes `<stem>.mpk` then `<stem>.json`, each atomically (temporary file + rename), so an
/// interrupted run never leaves a card without its weights; returns (record path, card path).
pub fn write<C: serde::Serialize>(
    stem: &Path,
    record: &[u8],
    card: &C,
) -> Result<(PathBuf, PathBuf), WriteError> {
    let (rec, card_path) = paths(stem);
    crate::io_util::write_atomic(&rec, record).map_err(|source| WriteError::Io {
        path: rec.clone(),
        source,
    })?;
    let json = serde_json::to_vec_pretty(card).map_err(|source| WriteError::CardJson {
        path: card_path.clone(),
        source,
    })?;
    crate::io_util::write_atomic(&card_path, &json).map_err(|source| WriteError::Io {
        path: card_path.clone(),
        source,
    })?;
    Ok((rec, card_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::LinearConfig;

    #[test]
    fn weights_round_trip_through_record_bytes_and_files() {
        let device = Default::default();
        let a = LinearConfig::new(3, 2).init::<NdArray>(&device);
        let bytes = record_bytes(a.clone()).unwrap();
        let b = load_weights_into(
            LinearConfig::new(3, 2).init::<NdArray>(&device),
            bytes.clone(),
            &device,
        )
        .unwrap();
        assert_eq!(record_bytes(b).unwrap(), bytes);
        let dir = tempfile::tempdir().unwrap();
        let (rec, card) = write(
            &dir.path().join("net.old"),
            &bytes,
            &serde_json::json!({"a": 1}),
        )
        .unwrap();
        assert_eq!(rec, dir.path().join("net.mpk"));
        assert_eq!(std::fs::read(&rec).unwrap(), bytes);
        assert_eq!(std::fs::read_to_string(card).unwrap(), "{\n  \"a\": 1\n}");
        assert_eq!(record_hash(b""), "cbf29ce484222325");
    }

    #[test]
    fn a_card_hash_covers_every_field_but_itself_and_no_formatting() {
        #[derive(serde::Serialize)]
        struct Card {
            labels: [&'static str; 2],
            rate: f32,
            card_fnv1a64: Option<String>,
        }
        let mut card = Card {
            labels: ["healthy", "sick"],
            rate: 0.1,
            card_fnv1a64: None,
        };
        let h = card_hash(&card);
        card.card_fnv1a64 = Some(h.clone());
        assert_eq!(card_hash(&card), h, "the hash ignores its own field");
        let pretty = serde_json::to_vec_pretty(&card).unwrap();
        assert!(
            check_card_text(&pretty).is_ok(),
            "whitespace does not matter"
        );
        let mut value: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
        value["labels"] = serde_json::json!(["sick", "healthy"]);
        let swapped = serde_json::to_vec(&value).unwrap();
        let (found, stated) = check_card_text(&swapped).unwrap_err();
        assert_eq!(stated, h);
        assert_ne!(found, h);
        value["rate"] = serde_json::json!(0.11);
        assert!(check_card_text(&serde_json::to_vec(&value).unwrap()).is_err());
        value.as_object_mut().unwrap().remove(CARD_HASH_FIELD);
        assert!(
            check_card_text(&serde_json::to_vec(&value).unwrap()).is_ok(),
            "legacy cards pass"
        );
    }
}
