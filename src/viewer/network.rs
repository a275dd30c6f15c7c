//! The classifier inside the viewer: loading a gaitlens checkpoint (or the bundled demo network),
//! explaining a window of the sequence on screen and the sliding classification track — on the
//! GPU that renders the body when [`super::gpu_bridge`] could share Bevy's wgpu device, on the
//! CPU otherwise. Work runs in a background task so the window keeps drawing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::colouring::{Colormap, Importance, ShownExplanation};
use super::gpu_bridge::SharedGpu;
use super::pose::{BodyState, CurrentSequence, ViewerSequence};
use crate::body::BodyModel;
use crate::dataset::FrameMap;
use crate::dataset::align::{Alignment, Frame, NUM_JOINTS};
use crate::explain::{
    Baseline, ExplainMethod, LrpRule, NormativeGait, check_rate_hz, explain_relative,
    inference_network, window_span,
};
use crate::nn::GaitClassifier;
use crate::train::LoadedModel;
use crate::train::checkpoint::{ModelCard, load_weights, read_card};

/// The CPU backend used for explanations (autodiff for the transformer's CP-LRP).
pub type CpuBackend = burn::backend::Autodiff<burn::backend::NdArray>;
/// The GPU backend on Bevy's wgpu device.
pub type GpuBackend = burn::backend::Autodiff<burn::backend::Wgpu>;

/// The bundled demo network's model card (see `assets/PROVENANCE.md`).
pub const DEMO_CARD: &[u8] = include_bytes!("../../assets/demo_network.json");
/// The bundled demo network's weights.
pub const DEMO_RECORD: &[u8] = include_bytes!("../../assets/demo_network.mpk");

/// Errors of loading and running a network in the viewer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The checkpoint could not be loaded.
    #[error("{path}: {reason}")]
    Load {
        /// The card file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The sequence is too short for the network's window.
    #[error(
        "the sequence has {frames} frames, too short for one window: the network needs {needed} frames"
    )]
    TooShort {
        /// Frames in the sequence.
        frames: usize,
        /// Frames one window needs.
        needed: usize,
    },
    /// The window start is past the last window of the sequence.
    #[error(
        "start frame {start} is past the sequence's last window start {last_start} ({frames} frames, window {window})"
    )]
    Start {
        /// First frame asked for.
        start: usize,
        /// The last valid first frame.
        last_start: usize,
        /// Frames in the sequence.
        frames: usize,
        /// Frames one window covers.
        window: usize,
    },
    /// A frame rate outside [`crate::explain::RATE_RANGE_HZ`], or a window too long to count.
    #[error("{what}: {reason}")]
    Rate {
        /// Whose rate: the sequence, or the card's file.
        what: String,
        /// What is wrong, with the valid range.
        reason: String,
    },
    /// The window does not fit the (resampled) frames handed to the network.
    #[error(
        "the window {start}..{end} does not fit the sequence of {frames} frames (the network needs {interval} frames)"
    )]
    Window {
        /// First frame asked for.
        start: usize,
        /// One past the last frame.
        end: usize,
        /// Frames in the sequence.
        frames: usize,
        /// Frames per window.
        interval: usize,
    },
    /// The window could not be aligned (degenerate motion).
    #[error("cannot align the window at frame {start}: {reason}")]
    Align {
        /// First frame of the window.
        start: usize,
        /// Why.
        reason: String,
    },
    /// The explanation failed (e.g. attention asked of an MLP).
    #[error("{0}")]
    Explain(#[from] crate::explain::ExplainError),
}

/// What to explain with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExplainChoice {
    /// LRP ε-rule, ε = 0.25 (the original's).
    #[default]
    Epsilon,
    /// LRP z⁺.
    ZPlus,
    /// LRP γ = 0.25.
    Gamma,
    /// The original's CLS attention (transformer only).
    Attention,
}

impl ExplainChoice {
    /// The library method.
    pub fn method(self) -> ExplainMethod {
        match self {
            ExplainChoice::Epsilon => ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
            ExplainChoice::ZPlus => ExplainMethod::Lrp(LrpRule::ZPlus),
            ExplainChoice::Gamma => ExplainMethod::Lrp(LrpRule::Gamma(0.25)),
            ExplainChoice::Attention => ExplainMethod::Attention,
        }
    }

    /// Short label for panels.
    pub fn label(self) -> &'static str {
        match self {
            ExplainChoice::Epsilon => "LRP ε=0.25",
            ExplainChoice::ZPlus => "LRP z+",
            ExplainChoice::Gamma => "LRP γ=0.25",
            ExplainChoice::Attention => "attention",
        }
    }

    /// The colormap that suits the values: diverging for signed LRP, sequential for attention.
    pub fn colormap(self) -> Colormap {
        match self {
            ExplainChoice::Attention => Colormap::Sequential,
            _ => Colormap::Diverging,
        }
    }
}

/// Whether the networks can read a body with `joints` joints: they take the 22 joints of the
/// SMPL skeleton, so a smaller body is refused with a sentence saying so (instead of an
/// alignment error about coinciding joints further down).
pub fn readable_body(name: &str, joints: usize) -> Result<(), String> {
    if joints >= NUM_JOINTS {
        return Ok(());
    }
    Err(format!(
        "the body '{name}' has {joints} joints; the network reads the {NUM_JOINTS} joints of the \
         SMPL skeleton (pelvis, hips, knees, ankles, feet, spine, neck, head, shoulders, elbows, \
         wrists): load the embedded body or a full SUPR model to explain"
    ))
}

/// Posed positions of the first 22 joints for every frame of `seq` (metres, as displayed).
pub fn sequence_joints(model: &BodyModel, betas: &[f64], seq: &ViewerSequence) -> Vec<Frame> {
    let shaped = model.shape(betas);
    seq.rotations
        .iter()
        .zip(&seq.translations)
        .map(|(r, t)| {
            let tr = model.joint_transforms(&shaped.joints_rest, r, *t);
            std::array::from_fn(|j| {
                let g = &tr.world_from_joint[j.min(tr.world_from_joint.len() - 1)];
                [g[(0, 3)] as f32, g[(1, 3)] as f32, g[(2, 3)] as f32]
            })
        })
        .collect()
}

/// The window `start..start+interval` of `joints`, aligned with `alignment`, as a
/// `[1, interval, 22, 3]` tensor.
pub fn window_tensor<B: Backend>(
    joints: &[Frame],
    start: usize,
    interval: usize,
    alignment: Alignment,
    device: &B::Device,
) -> Result<Tensor<B, 4>, NetworkError> {
    let window = start
        .checked_add(interval)
        .filter(|_| interval > 0)
        .and_then(|end| joints.get(start..end))
        .ok_or(NetworkError::Window {
            start,
            end: start.saturating_add(interval),
            frames: joints.len(),
            interval,
        })?;
    let aligned = alignment.apply(window).map_err(|e| NetworkError::Align {
        start,
        reason: e.to_string(),
    })?;
    let flat: Vec<f32> = aligned.iter().flatten().flatten().copied().collect();
    Ok(Tensor::from_data(
        TensorData::new(flat, [1, interval, NUM_JOINTS, 3]),
        device,
    ))
}

/// Explains the window starting at `start`: `(logit, relevance [interval × 22])`, relative to
/// the phase-matched healthy gait of `normative` when given (see
/// [`crate::explain::NormativeGait`]), else to the zero input.
pub fn explain_window<B: AutodiffBackend>(
    net: &LoadedModel<B>,
    joints: &[Frame],
    start: usize,
    alignment: Alignment,
    choice: ExplainChoice,
    normative: Option<&NormativeGait>,
    device: &B::Device,
) -> Result<(f32, Vec<f32>), NetworkError> {
    let x = window_tensor::<B>(joints, start, net.interval(), alignment, device)?;
    let reference = normative.map(|n| {
        let flat: Vec<f32> = x.to_data().iter::<f32>().collect();
        let dims = x.dims();
        Tensor::<B, 4>::from_data(TensorData::new(n.reference_window(&flat), dims), device)
    });
    let mut e = explain_relative(net, x, reference, choice.method())?;
    let e = e.remove(0);
    Ok((e.logit, e.relevance))
}

/// Logits of windows starting every `stride` frames over the whole sequence, batched.
pub fn classification_track<B: Backend, M: GaitClassifier<B>>(
    net: &M,
    joints: &[Frame],
    stride: usize,
    alignment: Alignment,
    device: &B::Device,
) -> Result<Vec<(usize, f32)>, NetworkError> {
    let interval = net.interval();
    if joints.len() < interval {
        return Err(NetworkError::Window {
            start: 0,
            end: interval,
            frames: joints.len(),
            interval,
        });
    }
    let starts: Vec<usize> = (0..=joints.len() - interval)
        .step_by(stride.max(1))
        .collect();
    let mut out = Vec::with_capacity(starts.len());
    for chunk in starts.chunks(16) {
        let xs = chunk
            .iter()
            .map(|&s| window_tensor::<B>(joints, s, interval, alignment, device))
            .collect::<Result<Vec<_>, _>>()?;
        let logits: Vec<f32> = net
            .logits(Tensor::cat(xs, 0))
            .into_data()
            .iter::<f32>()
            .collect();
        out.extend(chunk.iter().copied().zip(logits));
    }
    Ok(out)
}

/// A network loaded for the viewer: its card, and its weights on the CPU and (when the shared
/// device exists) on the GPU.
pub struct ViewerNetwork {
    /// Where it came from (`bundled demo` for the embedded one).
    pub source: String,
    /// The model card.
    pub card: ModelCard,
    /// Weights on the CPU backend.
    pub cpu: Mutex<LoadedModel<CpuBackend>>,
    /// Weights on Bevy's GPU device, if shared.
    pub gpu: Option<(
        Mutex<LoadedModel<GpuBackend>>,
        burn::backend::wgpu::WgpuDevice,
    )>,
}

impl ViewerNetwork {
    /// The normative gait an explanation with `choice` and `baseline` is relative to: the
    /// card's, for LRP with [`Baseline::Normative`]; `None` means relative to the zero input.
    pub fn normative(&self, choice: ExplainChoice, baseline: Baseline) -> Option<&NormativeGait> {
        match (baseline, choice) {
            (Baseline::Zero, _) | (_, ExplainChoice::Attention) => None,
            (Baseline::Normative, _) => self.card.normative_gait.as_ref(),
        }
    }

    /// Builds the network of `card` from record bytes (checked against the card's hash) on the
    /// CPU and, if given, on `gpu`.
    pub fn from_parts(
        source: String,
        card: ModelCard,
        record: Vec<u8>,
        gpu: Option<burn::backend::wgpu::WgpuDevice>,
    ) -> Result<Self, NetworkError> {
        let bad = |reason: String| NetworkError::Load {
            path: PathBuf::from(&source),
            reason,
        };
        let hash = format!("{:016x}", crate::dataset::fnv1a64(&record));
        if let Some(r) = card.rate_hz {
            check_rate_hz(r).map_err(&bad)?;
        }
        if hash != card.record_fnv1a64 {
            return Err(bad(format!(
                "the weights do not belong to this model card (FNV-1a {hash}, card says {})",
                card.record_fnv1a64
            )));
        }
        if card.joints != NUM_JOINTS {
            return Err(bad(format!(
                "the network takes {} joints per frame; the viewer provides {NUM_JOINTS}",
                card.joints
            )));
        }
        if card.alignment().is_none() {
            return Err(bad(format!(
                "trained on alignment '{}', this version aligns with '{}' or '{}'",
                card.alignment_version,
                crate::dataset::ALIGNMENT_VERSION,
                crate::dataset::ISOTROPIC_ALIGNMENT_VERSION
            )));
        }
        let cpu = load_weights::<CpuBackend>(&card.network, record.clone(), &Default::default())
            .map_err(bad)?;
        let gpu = match gpu {
            Some(device) => Some((
                Mutex::new(
                    load_weights::<GpuBackend>(&card.network, record, &device).map_err(bad)?,
                ),
                device,
            )),
            None => None,
        };
        Ok(ViewerNetwork {
            source,
            card,
            cpu: Mutex::new(cpu),
            gpu,
        })
    }

    /// Loads a checkpoint from its card (`STEM.json`, record `STEM.mpk` beside it).
    pub fn load(
        card_path: &Path,
        gpu: Option<burn::backend::wgpu::WgpuDevice>,
    ) -> Result<Self, NetworkError> {
        let bad = |reason: String| NetworkError::Load {
            path: card_path.to_path_buf(),
            reason,
        };
        let card_path = if card_path.extension().is_some_and(|e| e == "mpk") {
            card_path.with_extension("json")
        } else {
            card_path.to_path_buf()
        };
        let card = read_card(&card_path).map_err(|e| bad(e.to_string()))?;
        let rec_path = card_path.with_extension("mpk");
        let record =
            std::fs::read(&rec_path).map_err(|e| bad(format!("{}: {e}", rec_path.display())))?;
        Self::from_parts(card_path.display().to_string(), card, record, gpu)
    }

    /// The bundled demo network (trained on the synthetic cohort; not a clinical model).
    pub fn demo(gpu: Option<burn::backend::wgpu::WgpuDevice>) -> Result<Self, NetworkError> {
        let card: ModelCard =
            serde_json::from_slice(DEMO_CARD).map_err(|e| NetworkError::Load {
                path: "assets/demo_network.json".into(),
                reason: e.to_string(),
            })?;
        Self::from_parts(
            "bundled demo (real walks, simulated pathologies)".into(),
            card,
            DEMO_RECORD.to_vec(),
            gpu,
        )
    }

    /// Frames per window, at the training rate.
    pub fn interval(&self) -> usize {
        self.card.interval
    }

    /// How frames of a sequence at `sequence_rate_hz` map onto the training rate (the identity
    /// for a rate outside [`crate::explain::RATE_RANGE_HZ`], which [`run_explain`] rejects).
    pub fn frame_map(&self, sequence_rate_hz: f64) -> FrameMap {
        if check_rate_hz(sequence_rate_hz).is_err() {
            return FrameMap::new(None, 1.0);
        }
        FrameMap::new(self.card.rate_hz, sequence_rate_hz)
    }

    /// Frames of a sequence at `sequence_rate_hz` that one window covers.
    pub fn window_frames(&self, sequence_rate_hz: f64) -> usize {
        window_span(&self.frame_map(sequence_rate_hz), self.interval())
            .map_or(usize::MAX, |s| s.window)
    }

    /// One-line description for panels.
    pub fn summary(&self) -> String {
        let acc = self
            .card
            .epochs
            .last()
            .map(|e| format!(", last-epoch eval accuracy {:.2}", e.eval.accuracy))
            .unwrap_or_default();
        let rate = self
            .card
            .rate_hz
            .map(|r| format!(" at {r:.0} Hz"))
            .unwrap_or_default();
        format!(
            "{} · {} frames{rate}{acc}",
            self.card.network_type, self.card.interval
        )
    }
}

/// Where an explanation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeDevice {
    /// Bevy's own GPU device through burn's wgpu backend.
    SharedGpu,
    /// burn's ndarray CPU backend.
    Cpu,
}

/// The result of one explain request.
#[derive(Debug, Clone)]
pub struct ExplainOutcome {
    /// The coloured explanation.
    pub shown: Arc<ShownExplanation>,
    /// `(window start, logit)` over the sequence.
    pub track: Vec<(usize, f32)>,
    /// Where it ran.
    pub device: ComputeDevice,
    /// Wall time of the explanation alone, in milliseconds.
    pub explain_ms: f64,
    /// The out-of-domain check of the explained window (`None`: the card has no statistics).
    pub domain: Option<crate::explain::domain::DomainCheck>,
}

/// Runs an explain request on the GPU when the network has GPU weights and `prefer_gpu`, else on
/// the CPU; a GPU failure falls back to the CPU.
///
/// `joints` are at `sequence_rate_hz`; when the card records another training rate the sequence
/// is resampled to it first ([`FrameMap`]) and the relevance and track are mapped back, so
/// `start` and the result are in the sequence's own frames.
pub fn run_explain(
    net: &ViewerNetwork,
    joints: &[Frame],
    sequence_rate_hz: f64,
    start: usize,
    choice: ExplainChoice,
    baseline: Baseline,
    prefer_gpu: bool,
) -> Result<ExplainOutcome, NetworkError> {
    if net.card.rate_hz.is_some() {
        check_rate_hz(sequence_rate_hz).map_err(|reason| NetworkError::Rate {
            what: "the sequence".into(),
            reason,
        })?;
    }
    let map = net.frame_map(sequence_rate_hz);
    let span = window_span(&map, net.interval()).ok_or_else(|| NetworkError::Rate {
        what: net.source.clone(),
        reason: format!(
            "a window of {} frames spans too many frames at {sequence_rate_hz} Hz",
            net.interval()
        ),
    })?;
    let frames = joints.len();
    if frames < span.needed {
        return Err(NetworkError::TooShort {
            frames,
            needed: span.needed,
        });
    }
    // frames ≥ needed ≥ window: start ≤ last_start keeps start + window ≤ frames.
    let last_start = frames - span.window;
    if start > last_start {
        return Err(NetworkError::Start {
            start,
            last_start,
            frames,
            window: span.window,
        });
    }
    let resampled;
    let (net_joints, net_start) = if map.is_identity() {
        (joints, start)
    } else {
        resampled = map.resample(joints);
        let s = map.network_start(start, resampled.len(), net.interval());
        (resampled.as_slice(), s)
    };
    let mut out = None;
    if prefer_gpu && let Some((gpu, device)) = &net.gpu {
        let m = gpu.lock().unwrap_or_else(|p| p.into_inner());
        match explain_on(
            &m,
            net,
            net_joints,
            net_start,
            choice,
            baseline,
            (device, ComputeDevice::SharedGpu),
        ) {
            Ok(o) => out = Some(o),
            Err(
                e @ (NetworkError::Window { .. }
                | NetworkError::Start { .. }
                | NetworkError::TooShort { .. }
                | NetworkError::Explain(_)),
            ) => return Err(e),
            Err(e) => tracing::warn!("GPU explanation failed, using the CPU: {e}"),
        }
    }
    let out = match out {
        Some(o) => o,
        None => {
            let m = net.cpu.lock().unwrap_or_else(|p| p.into_inner());
            explain_on(
                &m,
                net,
                net_joints,
                net_start,
                choice,
                baseline,
                (&Default::default(), ComputeDevice::Cpu),
            )?
        }
    };
    Ok(to_sequence_frames(out, map, sequence_rate_hz, net))
}

/// Maps an outcome computed on resampled frames back to the sequence's own frames.
fn to_sequence_frames(
    out: ExplainOutcome,
    map: FrameMap,
    sequence_rate_hz: f64,
    net: &ViewerNetwork,
) -> ExplainOutcome {
    if map.is_identity() {
        return out;
    }
    let s = &out.shown;
    let (start, rows) = map.rows_to_sequence(s.start_frame, &s.relevance, NUM_JOINTS);
    let mut shown = ShownExplanation::new(
        start,
        rows,
        s.signed,
        s.logit,
        format!(
            "{} · resampled {sequence_rate_hz:.0} to {:.0} Hz",
            s.label,
            net.card.rate_hz.unwrap_or(sequence_rate_hz)
        ),
    );
    // Keep the window's own colour scale (the spread rows repeat the same values).
    shown.scale = s.scale;
    ExplainOutcome {
        shown: Arc::new(shown),
        track: out
            .track
            .into_iter()
            .map(|(f, l)| (map.to_sequence(f), l))
            .collect(),
        device: out.device,
        explain_ms: out.explain_ms,
        domain: out.domain,
    }
}

/// One explanation plus the classification track on one backend.
fn explain_on<B: AutodiffBackend>(
    m: &LoadedModel<B>,
    net: &ViewerNetwork,
    joints: &[Frame],
    start: usize,
    choice: ExplainChoice,
    baseline: Baseline,
    (device, where_): (&B::Device, ComputeDevice),
) -> Result<ExplainOutcome, NetworkError> {
    let t = std::time::Instant::now();
    let alignment = net.card.alignment().unwrap_or_default();
    let normative = net.normative(choice, baseline);
    let (logit, rel) = explain_window(m, joints, start, alignment, choice, normative, device)?;
    let explain_ms = t.elapsed().as_secs_f64() * 1e3;
    let domain = net.card.domain.as_ref().and_then(|_| {
        let x = window_tensor::<B>(joints, start, m.interval(), alignment, device).ok()?;
        net.card
            .domain_check(&x.to_data().iter::<f32>().collect::<Vec<_>>())
    });
    // On the plain backend: inference without dropout, the same track every run.
    let track = classification_track(&inference_network(m), joints, 8, alignment, device)?;
    Ok(ExplainOutcome {
        shown: Arc::new(ShownExplanation::new(
            start,
            rel,
            choice != ExplainChoice::Attention,
            logit,
            format!(
                "{}{} · {}",
                choice.label(),
                if normative.is_some() {
                    " vs healthy gait"
                } else {
                    ""
                },
                net.card.network_type
            ),
        )),
        track,
        device: where_,
        explain_ms,
        domain,
    })
}

/// The viewer's network state, edited by the Network and Explain panels.
#[derive(Resource, Default)]
pub struct NetworkState {
    /// The loaded network.
    pub network: Option<Arc<ViewerNetwork>>,
    /// First frame of the window to explain.
    pub explain_start: usize,
    /// Method.
    pub choice: ExplainChoice,
    /// What LRP is relative to (the card's normative gait by default, when it has one).
    pub baseline: Baseline,
    /// Run on the shared GPU device when there is one.
    pub prefer_gpu: bool,
    /// The last result.
    pub last: Option<ExplainOutcome>,
    /// The last error of loading or explaining.
    pub error: Option<String>,
    /// Typed path of a checkpoint to load.
    pub path_text: String,
    task: Option<Task<Result<ExplainOutcome, NetworkError>>>,
    load_task: Option<Task<Result<ViewerNetwork, NetworkError>>>,
    explained_generation: Option<u64>,
}

impl NetworkState {
    /// Whether an explanation or a load is running.
    pub fn busy(&self) -> bool {
        self.task.is_some() || self.load_task.is_some()
    }
}

/// Asks for an explanation of the current window.
#[derive(Message, Debug, Clone, Copy)]
pub struct ExplainRequest;

/// Asks to load a checkpoint (its `.json` card or `.mpk` record); `None` loads the bundled demo.
#[derive(Message, Debug, Clone)]
pub struct LoadNetworkRequest(pub Option<PathBuf>);

/// The native "open checkpoint" dialog, if open.
#[derive(Resource, Default)]
pub struct PendingNetworkDialog(Option<super::dialogs::NativeDialog>);

impl PendingNetworkDialog {
    /// Opens the native file picker for a model card in a background task.
    pub fn open(&mut self) {
        if self.0.is_some() {
            return;
        }
        self.0 = Some(super::dialogs::NativeDialog::spawn(
            "network checkpoint",
            "Open a gaitlens network (STEM.json model card)",
            Some(("gaitlens model card", &["json", "mpk"])),
        ));
    }
}

/// Whether a dropped or chosen file is a network checkpoint: a `.mpk` record, or a `.json`
/// card with its `.mpk` beside it.
pub fn is_network_file(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("mpk") => true,
        Some("json") => path.with_extension("mpk").is_file(),
        _ => false,
    }
}

fn poll_network_dialog(
    mut pending: ResMut<PendingNetworkDialog>,
    mut loads: MessageWriter<LoadNetworkRequest>,
    mut state: ResMut<NetworkState>,
) {
    let Some(dialog) = pending.0.as_mut() else {
        return;
    };
    if let Some(result) = dialog.poll() {
        pending.0 = None;
        match result {
            Ok(p) => {
                loads.write(LoadNetworkRequest(Some(p)));
            }
            // Shown in the Network panel, where the button was pressed.
            Err(message) => state.error = Some(message),
        }
    }
}

/// Network loading and explanation in background tasks.
#[derive(Debug, Clone, Default)]
pub struct NetworkPlugin {
    /// Load at start: `Some(None)` the bundled demo, `Some(Some(card))` a checkpoint.
    pub load_at_start: Option<Option<PathBuf>>,
    /// Explain the window at `explain_start` once network and sequence are loaded.
    pub explain_at_start: bool,
}

/// Set while the start-up explanation is still due.
#[derive(Resource)]
struct ExplainAtStart;

impl Plugin for NetworkPlugin {
    fn build(&self, app: &mut App) {
        let state = NetworkState {
            prefer_gpu: true,
            ..Default::default()
        };
        app.insert_resource(state)
            .init_resource::<PendingNetworkDialog>()
            .add_message::<ExplainRequest>()
            .add_message::<LoadNetworkRequest>()
            .add_systems(
                Update,
                (
                    poll_network_dialog,
                    start_network_work,
                    finish_network_work,
                    clear_on_new_sequence,
                )
                    .chain(),
            );
        if let Some(request) = self.load_at_start.clone() {
            app.add_systems(Startup, move |mut w: MessageWriter<LoadNetworkRequest>| {
                w.write(LoadNetworkRequest(request.clone()));
            });
        }
        if self.explain_at_start {
            app.insert_resource(ExplainAtStart)
                .add_systems(Update, explain_at_start.before(start_network_work));
        }
    }
}

fn start_network_work(
    mut state: ResMut<NetworkState>,
    mut explains: MessageReader<ExplainRequest>,
    mut loads: MessageReader<LoadNetworkRequest>,
    seq: Res<CurrentSequence>,
    body: Option<Res<BodyState>>,
    gpu: Option<Res<SharedGpu>>,
) {
    let device = gpu.and_then(|g| g.device.clone());
    if let Some(LoadNetworkRequest(path)) = loads.read().last().cloned()
        && state.load_task.is_none()
    {
        state.error = None;
        state.load_task = Some(AsyncComputeTaskPool::get().spawn(async move {
            match path {
                Some(p) => ViewerNetwork::load(&p, device),
                None => ViewerNetwork::demo(device),
            }
        }));
    }
    if explains.read().last().is_none() || state.task.is_some() {
        return;
    }
    let (Some(net), Some(seq), Some(body)) = (state.network.clone(), seq.sequence.clone(), body)
    else {
        state.error = Some("load a sequence and a network first".into());
        return;
    };
    if let Err(e) = readable_body(&body.model.name, body.model.num_joints()) {
        state.error = Some(e);
        return;
    }
    let model = body.model.clone();
    let betas = body.betas.clone();
    let (start, choice, baseline, prefer_gpu) = (
        state.explain_start,
        state.choice,
        state.baseline,
        state.prefer_gpu,
    );
    state.error = None;
    state.explained_generation = Some(seq_generation(&seq));
    state.task = Some(AsyncComputeTaskPool::get().spawn(async move {
        let joints = sequence_joints(&model, &betas, &seq);
        run_explain(
            &net,
            &joints,
            seq.rate_hz,
            start,
            choice,
            baseline,
            prefer_gpu,
        )
    }));
}

fn explain_at_start(
    mut commands: Commands,
    state: Res<NetworkState>,
    seq: Res<CurrentSequence>,
    due: Option<Res<ExplainAtStart>>,
    mut w: MessageWriter<ExplainRequest>,
) {
    if due.is_none() || state.busy() {
        return;
    }
    if let (Some(net), Some(s)) = (&state.network, &seq.sequence) {
        commands.remove_resource::<ExplainAtStart>();
        if s.num_frames() >= net.window_frames(s.rate_hz) {
            w.write(ExplainRequest);
        }
    }
}

fn seq_generation(seq: &Arc<ViewerSequence>) -> u64 {
    Arc::as_ptr(seq) as usize as u64
}

fn finish_network_work(mut state: ResMut<NetworkState>, mut importance: ResMut<Importance>) {
    if let Some(task) = state.load_task.as_mut()
        && let Some(result) = block_on(poll_once(task))
    {
        state.load_task = None;
        match result {
            Ok(net) => {
                tracing::info!("network loaded: {} ({})", net.source, net.summary());
                state.network = Some(Arc::new(net));
                state.last = None;
                importance.shown = None;
            }
            Err(e) => state.error = Some(e.to_string()),
        }
    }
    if let Some(task) = state.task.as_mut()
        && let Some(result) = block_on(poll_once(task))
    {
        state.task = None;
        match result {
            Ok(outcome) => {
                importance.shown = Some(outcome.shown.clone());
                importance.enabled = true;
                importance.colormap = state.choice.colormap();
                state.last = Some(outcome);
            }
            Err(e) => state.error = Some(e.to_string()),
        }
    }
}

/// A new sequence invalidates the explanation shown.
/// A new sequence clears the old verdict and, with a network loaded, is explained at once (from
/// the typed path, a dialog, drag-and-drop or a finished fit alike), so the verdict never
/// silently disappears after a load.
fn clear_on_new_sequence(
    seq: Res<CurrentSequence>,
    mut state: ResMut<NetworkState>,
    mut importance: ResMut<Importance>,
    mut explain: MessageWriter<ExplainRequest>,
    mut seen: Local<Option<u64>>,
) {
    if !seq.is_changed() {
        return;
    }
    let current = seq.sequence.as_ref().map(seq_generation);
    if state.last.is_some() && current != state.explained_generation {
        state.last = None;
        importance.shown = None;
    }
    if let Some(s) = &seq.sequence
        && let Some(net) = &state.network
    {
        let max_start = s.num_frames().saturating_sub(net.window_frames(s.rate_hz));
        state.explain_start = state.explain_start.min(max_start);
        let first_sequence = seen.is_none();
        if current != *seen && !first_sequence && current != state.explained_generation {
            explain.write(ExplainRequest);
        }
    }
    if current.is_some() {
        *seen = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_with_too_few_joints_is_refused_by_name() {
        assert!(readable_body("default", 24).is_ok());
        let e = readable_body("tiny", 4).unwrap_err();
        assert!(
            e.starts_with("the body 'tiny' has 4 joints; the network reads the 22"),
            "{e}"
        );
    }

    #[test]
    fn demo_network_explains_the_demo_walk_on_the_cpu() {
        // burn's NdArray generator is process-wide: serialise with the training tests.
        let _lock = crate::train::test_rng_lock();
        let model = crate::body::default_model::default_body();
        let seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let joints = sequence_joints(model, &seq.betas, &seq);
        let net = ViewerNetwork::demo(None).expect("demo network loads");
        let out = run_explain(
            &net,
            &joints,
            seq.rate_hz,
            0,
            ExplainChoice::Epsilon,
            Baseline::Zero,
            false,
        )
        .unwrap();
        assert_eq!(out.device, ComputeDevice::Cpu);
        let window = net.window_frames(seq.rate_hz);
        assert_eq!(out.shown.interval, window);
        assert_eq!(out.shown.relevance.len(), window * NUM_JOINTS);
        assert!(out.shown.scale > 0.0 && out.shown.logit.is_finite());
        assert!(!out.track.is_empty());
        // The first track point is the same window as the explanation.
        assert_eq!(out.track[0].0, 0);
        assert!((out.track[0].1 - out.shown.logit).abs() < 1e-4);
        // A window past the end is a typed error, not a panic.
        let err = run_explain(
            &net,
            &joints,
            seq.rate_hz,
            joints.len(),
            ExplainChoice::Epsilon,
            Baseline::Zero,
            false,
        );
        assert!(matches!(err, Err(NetworkError::Start { .. })));
    }

    #[test]
    fn bad_starts_rates_and_short_sequences_are_typed_errors() {
        let _lock = crate::train::test_rng_lock();
        let model = crate::body::default_model::default_body();
        let seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let joints = sequence_joints(model, &seq.betas, &seq);
        let mut card: ModelCard = serde_json::from_slice(DEMO_CARD).unwrap();
        card.rate_hz = Some(50.0);
        let net = ViewerNetwork::from_parts("t".into(), card.clone(), DEMO_RECORD.to_vec(), None)
            .unwrap();
        let run = |joints: &[Frame], rate: f64, start: usize| {
            run_explain(
                &net,
                joints,
                rate,
                start,
                ExplainChoice::Epsilon,
                Baseline::Zero,
                false,
            )
        };
        let interval = net.interval();
        let frames = joints.len();
        // start + window would overflow: the last valid start is named instead.
        for rate in [50.0, 100.0] {
            let window = net.window_frames(rate);
            let e = run(&joints, rate, usize::MAX).unwrap_err();
            assert!(
                matches!(e, NetworkError::Start { last_start, window: w, .. }
                    if last_start == frames - window && w == window),
                "{e}"
            );
            assert!(
                e.to_string().contains(&format!(
                    "is past the sequence's last window start {} ({frames} frames, window {window})",
                    frames - window
                )),
                "{e}"
            );
            assert!(run(&joints, rate, frames - window).is_ok());
        }
        // A sequence too short for one window says how many frames it needs.
        let e = run(&joints[..interval - 1], 50.0, 0).unwrap_err();
        assert!(
            e.to_string().contains(&format!(
                "{} frames, too short for one window",
                interval - 1
            )),
            "{e}"
        );
        assert!(
            e.to_string().contains(&format!("needs {interval} frames")),
            "{e}"
        );
        let e = run(&joints[..interval], 100.0, 0).unwrap_err();
        assert!(
            matches!(e, NetworkError::TooShort { needed, .. } if needed == 2 * interval - 1),
            "{e}"
        );
        // Absurd sequence rates are rejected with the valid range (and do not break the panels'
        // window length).
        for rate in [1e308, 1e-300, f64::NAN, 0.5] {
            let e = run(&joints, rate, 0).unwrap_err();
            assert!(matches!(e, NetworkError::Rate { .. }), "{e}");
            assert!(e.to_string().contains("from 1 to 10000 Hz"), "{e}");
            assert_eq!(net.window_frames(rate), interval);
        }
        // Absurd card rates are rejected when the card is loaded.
        for rate in [1e-300, 1e300, f64::NAN, f64::INFINITY] {
            card.rate_hz = Some(rate);
            let e = ViewerNetwork::from_parts("card.json".into(), card.clone(), vec![], None)
                .err()
                .expect("rejected");
            let text = e.to_string();
            assert!(text.starts_with("card.json: rate_hz "), "{text}");
            assert!(text.contains("from 1 to 10000 Hz"), "{text}");
        }
        // window_tensor never overflows either.
        let w = window_tensor::<burn::backend::NdArray>(
            &joints,
            usize::MAX,
            interval,
            Alignment::default(),
            &Default::default(),
        );
        assert!(matches!(w, Err(NetworkError::Window { .. })));
    }

    #[test]
    fn sequences_at_another_rate_are_resampled_to_the_cards_rate() {
        let _lock = crate::train::test_rng_lock();
        let model = crate::body::default_model::default_body();
        let seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let joints = sequence_joints(model, &seq.betas, &seq);
        let mut card: ModelCard = serde_json::from_slice(DEMO_CARD).unwrap();
        card.rate_hz = Some(50.0);
        let at_50 = ViewerNetwork::from_parts("t".into(), card.clone(), DEMO_RECORD.to_vec(), None)
            .unwrap();
        card.rate_hz = None;
        let unknown =
            ViewerNetwork::from_parts("t".into(), card, DEMO_RECORD.to_vec(), None).unwrap();
        // A 100 Hz sequence through the 50 Hz network = every other frame through a rate-blind one.
        let out = run_explain(
            &at_50,
            &joints,
            100.0,
            10,
            ExplainChoice::Epsilon,
            Baseline::Zero,
            false,
        )
        .unwrap();
        let halved: Vec<Frame> = joints.iter().step_by(2).copied().collect();
        let reference = run_explain(
            &unknown,
            &halved,
            100.0,
            5,
            ExplainChoice::Epsilon,
            Baseline::Zero,
            false,
        )
        .unwrap();
        assert!((out.shown.logit - reference.shown.logit).abs() < 1e-5);
        assert_eq!(out.shown.start_frame, 10);
        assert_eq!(out.shown.interval, 2 * at_50.interval() - 1);
        let row =
            |e: &ShownExplanation, r: usize| e.relevance[r * NUM_JOINTS..][..NUM_JOINTS].to_vec();
        assert_eq!(row(&out.shown, 4), row(&reference.shown, 2));
        assert_eq!(out.shown.scale, reference.shown.scale);
        // Track positions are in the sequence's frames (twice the network's).
        assert_eq!(out.track.len(), reference.track.len());
        assert_eq!(out.track[1].0, 2 * reference.track[1].0);
        // Without a recorded rate nothing is resampled.
        let plain = run_explain(
            &unknown,
            &joints,
            100.0,
            10,
            ExplainChoice::Epsilon,
            Baseline::Zero,
            false,
        )
        .unwrap();
        assert_eq!(plain.shown.interval, unknown.interval());
    }
}
