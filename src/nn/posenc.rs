//! Sinusoidal positional encoding (the original's `models/posenc.py`, dropout 0).

use burn::prelude::*;

/// Sinusoidal encoding table `[positions, dim]`: `sin(p / 10000^(2i/dim))` at even columns and
/// `cos` at odd ones, so the network can tell token positions apart without learning them.
pub fn sinusoidal_table(positions: usize, dim: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; positions * dim];
    for p in 0..positions {
        for i in (0..dim).step_by(2) {
            let freq = (10000f64).powf(-(i as f64) / dim as f64);
            let angle = p as f64 * freq;
            out[p * dim + i] = angle.sin() as f32;
            if i + 1 < dim {
                out[p * dim + i + 1] = angle.cos() as f32;
            }
        }
    }
    out
}

/// The table as a tensor `[1, positions, dim]` on `device`, ready to be added to token batches.
pub fn sinusoidal<B: Backend>(positions: usize, dim: usize, device: &B::Device) -> Tensor<B, 3> {
    Tensor::from_data(
        TensorData::new(sinusoidal_table(positions, dim), [1, positions, dim]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_closed_form_and_is_distinct_per_position() {
        let t = sinusoidal_table(23, 8);
        // Position 0: sin 0 = 0, cos 0 = 1.
        assert_eq!(&t[0..4], &[0.0, 1.0, 0.0, 1.0]);
        // Position 3, column 2: sin(3 / 10000^(2/8)).
        let expect = (3.0f64 / 10000f64.powf(0.25)).sin() as f32;
        assert!((t[3 * 8 + 2] - expect).abs() < 1e-6);
        for a in 0..23 {
            for b in (a + 1)..23 {
                let d: f32 = (0..8).map(|c| (t[a * 8 + c] - t[b * 8 + c]).abs()).sum();
                assert!(d > 1e-3, "positions {a} and {b} share an encoding");
            }
        }
    }
}
