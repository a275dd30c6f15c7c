//! Forward-pass benchmarks of the embedded default body: one frame, 1000 frames (rayon), and the
//! marker-subset path the fitter uses. Target: one full-mesh frame ≤ 0.5 ms on one core.

use criterion::{Criterion, criterion_group, criterion_main};
use gaitlens::body::default_model::{default_body, default_markers};
use nalgebra::{Matrix3, Vector3};

fn walking_like_pose(n: usize, phase: f64) -> Vec<Matrix3<f64>> {
    (0..n)
        .map(|j| {
            let a = 0.3 * ((j as f64) * 0.7 + phase).sin();
            gaitlens::body::model::rodrigues(Vector3::new(a, 0.5 * a, -0.3 * a))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let model = default_body();
    let shaped = model.shape(&[0.5, -0.3, 0.2]);
    let rots = walking_like_pose(model.num_joints(), 0.0);
    let t = Vector3::new(0.1, 0.0, 0.2);
    c.bench_function("forward_full_mesh_1_frame", |b| {
        b.iter(|| std::hint::black_box(model.forward(&shaped, &rots, t)))
    });
    let frames: Vec<_> = (0..1000)
        .map(|i| (walking_like_pose(model.num_joints(), i as f64 * 0.01), t))
        .collect();
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.bench_function("forward_full_mesh_1000_frames_rayon", |b| {
        b.iter(|| std::hint::black_box(model.forward_batch(&shaped, &frames)))
    });
    g.finish();
    let ids = default_markers().vertex_ids(&model.faces);
    c.bench_function("forward_marker_subset_1_frame", |b| {
        b.iter(|| std::hint::black_box(model.forward_subset(&shaped, &rots, t, &ids)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
