//! The C3D point data block: how many frames it holds, its frame stride and decoding the points.

use std::path::Path;

use super::{C3dError, Header, ParamData, Parameter, Parameters, Processor, numeric, warn};

/// Where the point data lies and how its frames are laid out, before the analog stride is known.
pub(super) struct DataBlock {
    /// Number of 3D points per frame.
    used: usize,
    /// Whether points are stored as floats (negative scale) rather than 16-bit integers.
    is_float: bool,
    /// Absolute point scale (integer storage only).
    abs_scale: f64,
    /// Bytes per stored word (4 for floats, 2 for integers).
    word_size: usize,
    /// Byte offset of the first frame.
    offset: usize,
    /// Bytes from `offset` to the end of the file.
    available: usize,
    /// Frames announced by the header and parameters.
    frames: usize,
}

impl DataBlock {
    /// Locates the data block (POINT:DATA_START, else the header's) and counts the announced
    /// frames; POINT:FRAMES or TRIAL:ACTUAL_END_FIELD hold counts above 65535 that the header
    /// cannot.
    pub(super) fn locate(
        bytes: &[u8],
        params: &Parameters,
        header: &Header,
        used: usize,
        scale: f64,
    ) -> Self {
        let point_int = |name: &str| params.get("POINT", name).and_then(|p| p.first_f64());
        let data_start = point_int("DATA_START")
            .map(|v| v as u16 as usize)
            .filter(|v| *v > 0)
            .unwrap_or(header.data_start);
        let mut frames = (header.last - header.first + 1).max(0) as usize;
        if let Some(f) = point_int("FRAMES")
            && f >= 0.0
            && (f as u16 as usize) > frames
        {
            frames = f as u16 as usize;
        }
        if let Some(trial_frames) = trial_field_frames(params)
            && trial_frames > frames
        {
            frames = trial_frames;
        }
        let is_float = scale < 0.0;
        let offset = data_start.max(1).saturating_sub(1) * 512;
        DataBlock {
            used,
            is_float,
            abs_scale: scale.abs(),
            word_size: if is_float { 4 } else { 2 },
            offset,
            available: bytes.len().saturating_sub(offset),
            frames,
        }
    }

    /// Bytes per frame with `apf` analog samples per frame, `None` on overflow.
    fn stride(&self, apf: usize) -> Option<usize> {
        self.used
            .checked_mul(4)
            .and_then(|w| w.checked_add(apf))
            .and_then(|w| w.checked_mul(self.word_size))
    }

    /// Does the data block hold exactly the announced frames of this stride (plus block padding)?
    fn fits(&self, apf: usize) -> bool {
        self.stride(apf)
            .and_then(|s| s.checked_mul(self.frames))
            .is_some_and(|t| t <= self.available && self.available - t < 512)
    }

    /// Analog samples per point frame: ANALOG:USED × (ANALOG:RATE / POINT:RATE), or the header's
    /// word 3.
    ///
    /// A zero or corrupt ANALOG:RATE / ANALOG:USED would shrink the frame stride and read analog
    /// samples as points, so where the two disagree the one matching the data block wins.
    pub(super) fn analog_per_frame(
        &self,
        path: &Path,
        params: &Parameters,
        header: &Header,
        rate_hz: f64,
        warnings: &mut Vec<String>,
    ) -> usize {
        let header_apf = header.analog_per_frame;
        match param_analog_per_frame(params, rate_hz) {
            Some(a) if a == header_apf || self.frames == 0 => a,
            Some(a) if self.fits(a) || !self.fits(header_apf) => a,
            Some(a) => {
                warn(
                    warnings,
                    format!(
                        "{}: ANALOG:USED and ANALOG:RATE give {a} analog samples per frame, but the \
                         data block matches the header's {header_apf}; using the header",
                        path.display()
                    ),
                );
                header_apf
            }
            None => {
                if params.get("ANALOG", "USED").is_some() && self.frames > 0 {
                    warn(
                        warnings,
                        format!(
                            "{}: ANALOG:USED / ANALOG:RATE are not usable; taking {header_apf} \
                             analog samples per frame from the header",
                            path.display()
                        ),
                    );
                }
                header_apf
            }
        }
    }

    /// The frame stride in bytes and the number of whole frames actually stored.
    ///
    /// Some writers announce more frames than they store: the whole frames present are kept
    /// (with a warning); a block without a single whole frame is an error.
    pub(super) fn stored_frames(
        &self,
        path: &Path,
        analog_per_frame: usize,
        warnings: &mut Vec<String>,
    ) -> Result<(usize, usize), C3dError> {
        let (used, frames) = (self.used, self.frames);
        let frame_bytes = self
            .stride(analog_per_frame)
            .ok_or_else(|| C3dError::Inconsistent {
                path: path.to_path_buf(),
                reason: format!(
                    "{used} points and {analog_per_frame} analog samples per frame overflow"
                ),
            })?;
        if frames == 0 {
            return Ok((frame_bytes, frames));
        }
        let total = frame_bytes
            .checked_mul(frames)
            .ok_or_else(|| C3dError::Inconsistent {
                path: path.to_path_buf(),
                reason: format!("{frames} frames × {frame_bytes} bytes overflows"),
            })?;
        if total <= self.available {
            return Ok((frame_bytes, frames));
        }
        let whole = self.available / frame_bytes;
        if whole == 0 {
            return Err(C3dError::Truncated {
                path: path.to_path_buf(),
                offset: self.offset,
                what: "point data",
                needed: total,
                available: self.available,
            });
        }
        warn(
            warnings,
            format!(
                "{}: header announces {frames} frames but only {whole} are stored; reading those",
                path.display()
            ),
        );
        Ok((frame_bytes, whole))
    }

    /// Decodes `frames` frames of `frame_bytes` bytes each into positions in the file's units.
    pub(super) fn decode(
        &self,
        bytes: &[u8],
        processor: Processor,
        frame_bytes: usize,
        frames: usize,
    ) -> Vec<Vec<Option<[f64; 3]>>> {
        (0..frames)
            .map(|f| {
                let base = self.offset + f * frame_bytes;
                (0..self.used)
                    .map(|p| self.decode_point(bytes, processor, base + p * 4 * self.word_size))
                    .collect()
            })
            .collect()
    }

    /// Decodes the point record at byte `o`, `None` where it marks a gap.
    ///
    /// Residual word: negative marks an invalid sample. Some writers (sample23) store gaps as
    /// exact zeros with a non-negative residual; a real marker is never exactly at the lab
    /// origin, so those are gaps too.
    fn decode_point(&self, bytes: &[u8], processor: Processor, o: usize) -> Option<[f64; 3]> {
        let (xyz, residual) = if self.is_float {
            let rd = |k: usize| {
                let i = o + 4 * k;
                processor.f32([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as f64
            };
            ([rd(0), rd(1), rd(2)], rd(3))
        } else {
            let s = self.abs_scale;
            let rd = |k: usize| processor.i16([bytes[o + 2 * k], bytes[o + 2 * k + 1]]) as f64;
            ([rd(0) * s, rd(1) * s, rd(2) * s], rd(3))
        };
        let zero = xyz == [0.0, 0.0, 0.0];
        let finite = xyz.iter().all(|v| v.is_finite());
        if residual < 0.0 || zero || !finite {
            None
        } else {
            Some(xyz)
        }
    }
}

/// The frame count TRIAL:ACTUAL_START_FIELD / ACTUAL_END_FIELD span (32-bit values split into two
/// 16-bit words), if both are present and ordered.
fn trial_field_frames(params: &Parameters) -> Option<usize> {
    let s = params.get("TRIAL", "ACTUAL_START_FIELD")?;
    let e = params.get("TRIAL", "ACTUAL_END_FIELD")?;
    let field = |p: &Parameter| match &p.data {
        ParamData::Int(v) if v.len() >= 2 => {
            Some(v[0] as u16 as i64 + ((v[1] as u16 as i64) << 16))
        }
        _ => None,
    };
    let (s, e) = (field(s)?, field(e)?);
    (e >= s).then_some((e - s + 1) as usize)
}

/// Analog samples per point frame from ANALOG:USED and ANALOG:RATE, if those are usable.
fn param_analog_per_frame(params: &Parameters, rate_hz: f64) -> Option<usize> {
    match numeric(params, "ANALOG", "USED") {
        Some((_, 0.0)) => Some(0),
        Some((_, u)) if u.is_finite() && u > 0.0 => numeric(params, "ANALOG", "RATE")
            .map(|(_, r)| r)
            .filter(|r| r.is_finite() && *r > 0.0)
            // Saturating casts: absurd rates give a huge count that the size check rejects.
            .map(|r| (u * (r / rate_hz).round()).min(u32::MAX as f64) as usize),
        _ => None,
    }
}
