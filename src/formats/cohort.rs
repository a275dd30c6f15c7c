//! Cohort files of the Unified Gait Analysis pipeline: subject → constraint file, gait trials,
//! healthy flag, constrained-model flag and body-model file, in file order.
//!
//! Relative `constraint_file` and `gaits` paths are resolved against the cohort file's folder.
//! `model_file` is kept as written: the original looks it up as `<model_folder>/SUPR/<model_file>`,
//! not next to the cohort.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ordered_json::{self as oj, ShapeError, SyntaxError};

/// One subject of a cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortSubject {
    /// Subject key in the file.
    pub name: String,
    /// Constraint (marker placement) file, resolved against the cohort's folder.
    pub constraint_file: PathBuf,
    /// Gait trial files (C3D), resolved against the cohort's folder, in file order.
    pub gaits: Vec<PathBuf>,
    /// Healthy (`true`) or pathological gait.
    pub healthy: bool,
    /// Whether the constrained variant of the body model is used.
    pub constrained_model: bool,
    /// Body-model file name as written (relative to the model folder, not the cohort).
    pub model_file: String,
}

/// A cohort file's subjects in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// The file read.
    pub path: PathBuf,
    /// Subjects in file order.
    pub subjects: Vec<CohortSubject>,
}

/// Errors of the cohort reader; each names the file.
#[derive(Debug, Error)]
pub enum CohortError {
    /// The file could not be read.
    #[error("cannot read cohort file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{path}: invalid JSON at {source}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line, column and message.
        source: SyntaxError,
    },
    /// The JSON has the wrong shape.
    #[error("{path}: {source}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// JSON path, expectation and finding.
        source: ShapeError,
    },
    /// A subject name appears twice (Python's `json.load` would silently keep the last).
    #[error("{path}: subject {name:?} is listed twice")]
    DuplicateSubject {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
}

/// `base.join(p)` without `.` components (`./data/x.c3d` → `base/data/x.c3d`); absolute `p` kept.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let joined = base.join(p);
    joined
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Reads a cohort file.
pub fn read_cohort(path: &Path) -> Result<Cohort, CohortError> {
    let bytes = std::fs::read(path).map_err(|source| CohortError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_cohort(&bytes, path)
}

/// Parses cohort JSON; `path` labels errors and its folder resolves relative paths.
pub fn parse_cohort(bytes: &[u8], path: &Path) -> Result<Cohort, CohortError> {
    let json = oj::parse(bytes).map_err(|source| CohortError::Syntax {
        path: path.to_path_buf(),
        source,
    })?;
    let shape = |source| CohortError::Shape {
        path: path.to_path_buf(),
        source,
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut subjects: Vec<CohortSubject> = Vec::new();
    for (name, v) in oj::object(&json, "$").map_err(shape)? {
        if subjects.iter().any(|s| s.name == *name) {
            return Err(CohortError::DuplicateSubject {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
        let sp = oj::key_path("", name);
        let get = |k: &str| oj::field(v, &sp, k).map_err(shape);
        let kp = |k: &str| oj::key_path(&sp, k);
        let constraint_file = resolve(
            base,
            oj::string(get("constraint_file")?, &kp("constraint_file")).map_err(shape)?,
        );
        let gaits = oj::array(get("gaits")?, &kp("gaits"))
            .map_err(shape)?
            .iter()
            .enumerate()
            .map(|(i, g)| oj::string(g, &format!("{}[{i}]", kp("gaits"))).map(|g| resolve(base, g)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(shape)?;
        subjects.push(CohortSubject {
            name: name.clone(),
            constraint_file,
            gaits,
            healthy: oj::boolean(get("healthy")?, &kp("healthy")).map_err(shape)?,
            constrained_model: oj::boolean(get("constrained_model")?, &kp("constrained_model"))
                .map_err(shape)?,
            model_file: oj::string(get("model_file")?, &kp("model_file"))
                .map_err(shape)?
                .to_string(),
        });
    }
    Ok(Cohort {
        path: path.to_path_buf(),
        subjects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_and_resolves_paths() {
        let doc =
            br#"{"zeta": {"constraint_file": "./c.json", "gaits": ["./g/1.c3d", "/abs/2.c3d"],
            "healthy": false, "constrained_model": true, "model_file": "m.npy"},
            "alpha": {"constraint_file": "c2.json", "gaits": [], "healthy": true,
            "constrained_model": false, "model_file": "n.npy"}}"#;
        let c = parse_cohort(doc, Path::new("/data/cohort.json")).unwrap();
        assert_eq!(
            c.subjects
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["zeta", "alpha"]
        );
        assert_eq!(c.subjects[0].constraint_file, Path::new("/data/c.json"));
        assert_eq!(
            c.subjects[0].gaits,
            [Path::new("/data/g/1.c3d"), Path::new("/abs/2.c3d")]
        );
        assert_eq!(c.subjects[0].model_file, "m.npy");
        assert!(c.subjects[1].healthy && !c.subjects[1].constrained_model);
    }

    #[test]
    fn wrong_types_name_the_json_path() {
        let doc = br#"{"s1": {"constraint_file": "c", "gaits": ["a", 3], "healthy": true,
            "constrained_model": false, "model_file": "m"}}"#;
        let e = parse_cohort(doc, Path::new("co.json"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("co.json") && e.contains("s1.gaits[1]") && e.contains("a string"),
            "{e}"
        );
        let doc = br#"{"s 1": {"constraint_file": "c", "gaits": [], "healthy": "yes"}}"#;
        let e = parse_cohort(doc, Path::new("co.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(r#"["s 1"].healthy"#), "{e}");
        let doc = br#"{"a": {"constraint_file": "c", "gaits": [], "healthy": true,
            "constrained_model": false, "model_file": "m"}, "a": {}}"#;
        assert!(matches!(
            parse_cohort(doc, Path::new("d.json")),
            Err(CohortError::DuplicateSubject { .. })
        ));
    }
}
