//! The classifier inside the viewer: loading a gaitlens checkpoint (or the bundled demo network),
//! explaining a window of the sequence on screen and the sliding classification track — on the
//! GPU that renders the body when [`super::gpu_bridge`] could share Bevy's wgpu device, on the
//! CPU otherwise. Work runs in a background task so the window keeps drawing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, block_on, poll_once};
use burn::tensor::backend::AutodiffBackend;

use super::colouring::{Colormap, Importance, ShownExplanation};
use super::gpu_bridge::SharedGpu;
use super::pose::{BodyState, CurrentSequence, ViewerSequence};
use crate::body::BodyModel;
use crate::body::smpl22::{Frame, NUM_JOINTS};
use crate::dataset::FrameMap;
use crate::explain::{Baseline, ExplainMethod, LrpRule, check_rate_hz};
use crate::inference::{
    ExplainedWindow, RelevanceSpace, TrackPoint, WindowError, WindowGrid, WindowPlacement,
    WindowRequest, classification_track, explain_sequence_window, window_span,
};
use crate::nn::LoadedModel;
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
    /// The body cannot be read by the network (see [`readable_body`]).
    #[error("{0}")]
    Body(String),
    /// The window cannot be classified or explained (too short, bad start or rate, …).
    #[error(transparent)]
    Window(#[from] WindowError),
}

/// What to explain with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExplainChoice {
    /// The network's recommended explanation (LRP ε = 0.25 for MLPs, CP-LRP for transformers,
    /// gradient × input for the asymmetry network).
    #[default]
    Recommended,
    /// LRP ε-rule, ε = 0.25 (MLP).
    Epsilon,
    /// The original's ε rule exactly (lrp package; MLP).
    EpsilonOriginal,
    /// LRP-CMP: z^B input, γ lower, ε upper layers (MLP).
    Composite,
    /// z^B (bounded) input layer, ε above (MLP).
    Bounded,
    /// CP-LRP (transformer).
    CpLrp,
    /// AttnLRP (transformer).
    AttnLrp,
    /// LRP z⁺.
    ZPlus,
    /// LRP γ = 0.25.
    Gamma,
    /// The original's CLS attention (transformer only).
    Attention,
    /// Plain gradient × input, no LRP rule (any network): the control `gaitlens evaluate`
    /// measures the rules against.
    GradientInput,
}

impl ExplainChoice {
    /// The library method.
    pub fn method(self) -> ExplainMethod {
        match self {
            ExplainChoice::Recommended => ExplainMethod::Lrp(LrpRule::Recommended),
            ExplainChoice::Epsilon => ExplainMethod::Lrp(LrpRule::Epsilon(0.25)),
            ExplainChoice::EpsilonOriginal => ExplainMethod::Lrp(LrpRule::EpsilonOriginal(0.25)),
            ExplainChoice::Composite => ExplainMethod::Lrp(LrpRule::Composite),
            ExplainChoice::Bounded => ExplainMethod::Lrp(LrpRule::Bounded),
            ExplainChoice::CpLrp => ExplainMethod::Lrp(LrpRule::CpLrp),
            ExplainChoice::AttnLrp => ExplainMethod::Lrp(LrpRule::AttnLrp),
            ExplainChoice::ZPlus => ExplainMethod::Lrp(LrpRule::ZPlus),
            ExplainChoice::Gamma => ExplainMethod::Lrp(LrpRule::Gamma(0.25)),
            ExplainChoice::Attention => ExplainMethod::Attention,
            ExplainChoice::GradientInput => ExplainMethod::GradientInput,
        }
    }

    /// Short label for panels.
    pub fn label(self) -> &'static str {
        match self {
            // LRP's recommended rule for the MLPs and the transformer, gradient × input for the
            // asymmetry network (no layers to propagate through).
            ExplainChoice::Recommended => "recommended",
            ExplainChoice::Epsilon => "LRP ε=0.25",
            ExplainChoice::EpsilonOriginal => "LRP ε original",
            ExplainChoice::Composite => "LRP-CMP",
            ExplainChoice::Bounded => "LRP z^B",
            ExplainChoice::CpLrp => "CP-LRP",
            ExplainChoice::AttnLrp => "AttnLRP",
            ExplainChoice::ZPlus => "LRP z+",
            ExplainChoice::Gamma => "LRP γ=0.25",
            ExplainChoice::Attention => "attention",
            ExplainChoice::GradientInput => "gradient × input",
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

/// Posed positions of the 22 joints for every frame of `seq` (metres, as displayed); a body
/// with fewer joints is refused with [`readable_body`]'s sentence.
pub fn sequence_joints(
    model: &BodyModel,
    betas: &[f64],
    seq: &ViewerSequence,
) -> Result<Vec<Frame>, NetworkError> {
    readable_body(&model.name, model.num_joints()).map_err(NetworkError::Body)?;
    let joints_rest = model.rest_joints(betas);
    seq.rotations
        .iter()
        .zip(&seq.translations)
        .map(|(r, t)| {
            model.smpl22_positions(&joints_rest, r, *t).ok_or_else(|| {
                NetworkError::Body(format!("the body '{}' has too few joints", model.name))
            })
        })
        .collect()
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
        let hash = crate::checkpoint::record_hash(&record);
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
                "trained on alignment '{}', this version aligns with {}",
                card.alignment_version,
                crate::dataset::Alignment::known_versions()
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
        crate::inference::frame_map(&self.card, Some(sequence_rate_hz))
            .unwrap_or(FrameMap::new(None, 1.0))
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
    /// Where the explained window lies (the frames it reads: [`WindowPlacement::frames_read`]).
    pub placement: WindowPlacement,
    /// Every window's verdict over the sequence, with whether it reads frames whose legs were
    /// not measured when the walk says.
    pub track: Vec<TrackPoint>,
    /// Where it ran.
    pub device: ComputeDevice,
    /// Wall time of the explanation alone, in milliseconds.
    pub explain_ms: f64,
    /// The out-of-domain check of the explained window (`None`: the card has no statistics).
    pub domain: Option<crate::explain::domain::DomainCheck>,
    /// Shown beside the probability when the card is not calibrated
    /// ([`crate::train::ModelCard::calibration_note`]).
    pub calibration_note: Option<&'static str>,
    /// For the asymmetry network: the named features its detectors read in the window.
    pub readout: Option<crate::nn::asymmetry::AsymmetryReadout>,
}

/// [`run_explain_in`] on joint positions (what the network reads).
pub fn run_explain(
    net: &ViewerNetwork,
    joints: &[Frame],
    sequence_rate_hz: f64,
    start: usize,
    choice: ExplainChoice,
    baseline: Baseline,
    prefer_gpu: bool,
) -> Result<ExplainOutcome, NetworkError> {
    run_explain_in(
        net,
        (joints, None),
        sequence_rate_hz,
        (start, choice, baseline),
        RelevanceSpace::Positions,
        prefer_gpu,
    )
}

/// Runs an explain request on the GPU when the network has GPU weights and `prefer_gpu`, else on
/// the CPU; a GPU failure falls back to the CPU. Relevance is on joint positions or joint
/// rotations (`space`).
///
/// `joints` are at `sequence_rate_hz`; when the card records another training rate the sequence
/// is resampled to it ([`crate::inference`]) and the relevance and track are mapped back, so
/// `start` and the result are in the sequence's own frames.
pub fn run_explain_in(
    net: &ViewerNetwork,
    (joints, legs_measured): (&[Frame], Option<&[bool]>),
    sequence_rate_hz: f64,
    (start, choice, baseline): (usize, ExplainChoice, Baseline),
    space: RelevanceSpace,
    prefer_gpu: bool,
) -> Result<ExplainOutcome, NetworkError> {
    let req = WindowRequest {
        start,
        method: choice.method(),
        // The viewer's "normative" means the card's default: its gait when it has one.
        baseline: match baseline {
            Baseline::Zero => Some(Baseline::Zero),
            Baseline::Normative => None,
        },
        space,
    };
    let input = ((joints, legs_measured), sequence_rate_hz, &req);
    if prefer_gpu && let Some((gpu, device)) = &net.gpu {
        let m = gpu.lock().unwrap_or_else(|p| p.into_inner());
        match explain_on(&m, net, input, choice, (device, ComputeDevice::SharedGpu)) {
            Ok(o) => return Ok(o),
            Err(e @ (NetworkError::Window(_) | NetworkError::Body(_))) => return Err(e),
            Err(e) => tracing::warn!("GPU explanation failed, using the CPU: {e}"),
        }
    }
    let m = net.cpu.lock().unwrap_or_else(|p| p.into_inner());
    explain_on(
        &m,
        net,
        input,
        choice,
        (&Default::default(), ComputeDevice::Cpu),
    )
}

/// The explained window as the viewer shows it, on the sequence's own frames.
fn shown_explanation(
    w: &ExplainedWindow,
    net: &ViewerNetwork,
    choice: ExplainChoice,
    sequence_rate_hz: f64,
) -> ShownExplanation {
    let signed = choice != ExplainChoice::Attention;
    let logit = w.explanation.logit;
    let label = format!(
        "{}{}{} · {}",
        choice.label(),
        if w.relative_to_normative {
            " vs healthy gait"
        } else {
            ""
        },
        if w.space == RelevanceSpace::Rotations {
            " · on joint rotations"
        } else {
            ""
        },
        net.card.network_type
    );
    let on_network = ShownExplanation::new(
        w.placement.start,
        w.explanation.relevance.clone(),
        signed,
        logit,
        label.clone(),
    )
    .with_temperature(w.temperature);
    if w.placement.grid.map.is_identity() {
        return on_network;
    }
    let (start, rows) = w.sequence_relevance();
    let mut shown = ShownExplanation::new(
        start,
        rows,
        signed,
        logit,
        format!(
            "{label} · resampled {sequence_rate_hz:.0} to {:.0} Hz",
            net.card.rate_hz.unwrap_or(sequence_rate_hz)
        ),
    )
    .with_temperature(w.temperature);
    // Keep the window's own colour scale (the spread rows repeat the same values).
    shown.scale = on_network.scale;
    shown
}

/// A walk's joints (with which frames' legs were measured, when known), its rate and the window
/// asked for.
type WalkRequest<'a> = ((&'a [Frame], Option<&'a [bool]>), f64, &'a WindowRequest);

/// One explanation plus the classification track on one backend.
fn explain_on<B: AutodiffBackend>(
    m: &LoadedModel<B>,
    net: &ViewerNetwork,
    ((joints, legs_measured), sequence_rate_hz, req): WalkRequest,
    choice: ExplainChoice,
    (device, where_): (&B::Device, ComputeDevice),
) -> Result<ExplainOutcome, NetworkError> {
    let t = std::time::Instant::now();
    let rate = Some(sequence_rate_hz);
    let w = explain_sequence_window(m, &net.card, joints, rate, req, device)?;
    let explain_ms = t.elapsed().as_secs_f64() * 1e3;
    // On the plain backend: inference without dropout, the same track every run.
    let track = classification_track(
        &m.inference(),
        &net.card,
        joints,
        rate,
        legs_measured,
        8,
        device,
    )?;
    Ok(ExplainOutcome {
        shown: Arc::new(shown_explanation(&w, net, choice, sequence_rate_hz)),
        placement: w.placement,
        track,
        device: where_,
        explain_ms,
        domain: w.domain,
        calibration_note: net.card.calibration_note(),
        readout: w.readout,
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
    /// Relevance on joint positions (what the network reads) or joint rotations.
    pub space: RelevanceSpace,
    /// The last result.
    pub last: Option<ExplainOutcome>,
    /// The last error of loading or explaining.
    pub error: Option<String>,
    /// Typed path of a checkpoint to load.
    pub path_text: String,
    task: Option<Task<Result<ExplainOutcome, NetworkError>>>,
    load_task: Option<Task<Result<ViewerNetwork, NetworkError>>>,
    explained_generation: Option<u64>,
    /// An explanation was requested while one was running: started when that one finishes.
    pending_explain: bool,
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
pub struct PendingNetworkDialog(Option<super::native_dialog::NativeDialog>);

impl PendingNetworkDialog {
    /// Opens the native file picker for a model card in a background task.
    pub fn open(&mut self) {
        if self.0.is_some() {
            return;
        }
        self.0 = Some(super::native_dialog::NativeDialog::spawn(
            "network checkpoint",
            "Open a gaitlens network (STEM.json model card)",
            Some(("gaitlens model card", &["json", "mpk"])),
        ));
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
    let requested = explains.read().last().is_some() || state.pending_explain;
    if !requested {
        return;
    }
    if state.task.is_some() {
        // Kept, not dropped: the walk on screen may have changed since the running one began.
        state.pending_explain = true;
        return;
    }
    state.pending_explain = false;
    let generation = seq.generation;
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
    let (start, choice, baseline, prefer_gpu, space) = (
        state.explain_start,
        state.choice,
        state.baseline,
        state.prefer_gpu,
        state.space,
    );
    state.error = None;
    state.explained_generation = Some(generation);
    state.task = Some(AsyncComputeTaskPool::get().spawn(async move {
        let joints = sequence_joints(&model, &betas, &seq)?;
        run_explain_in(
            &net,
            (&joints, seq.legs_measured.as_deref()),
            seq.rate_hz,
            (start, choice, baseline),
            space,
            prefer_gpu,
        )
    }));
}

fn explain_at_start(
    mut commands: Commands,
    mut state: ResMut<NetworkState>,
    seq: Res<CurrentSequence>,
    due: Option<Res<ExplainAtStart>>,
    mut w: MessageWriter<ExplainRequest>,
) {
    if due.is_none() || state.busy() {
        return;
    }
    if let (Some(net), Some(s)) = (state.network.clone(), &seq.sequence) {
        commands.remove_resource::<ExplainAtStart>();
        let window = net.window_frames(s.rate_hz);
        if s.num_frames() >= window {
            start_on_measured_window(&mut state, s, &net.card);
            w.write(ExplainRequest);
        }
    }
}

/// Moves the explained window of a walk to its first window measured throughout when the window
/// at the current start holds frames the fitter guessed: the first verdict shown for a walk is
/// on the walk ([`crate::inference::measured_window_start`]), placed on `card`'s window grid as
/// the explanation will place it.
fn start_on_measured_window(state: &mut NetworkState, s: &ViewerSequence, card: &ModelCard) {
    if let Some(measured) = &s.legs_measured
        && let Ok(grid) = WindowGrid::new(card, Some(s.rate_hz), s.num_frames())
    {
        state.explain_start =
            crate::inference::measured_window_start(measured, state.explain_start, &grid);
    }
}

fn finish_network_work(mut state: ResMut<NetworkState>, mut importance: ResMut<Importance>) {
    if let Some(task) = state.load_task.as_mut()
        && let Some(result) = block_on(poll_once(task))
    {
        state.load_task = None;
        match result {
            Ok(net) => {
                tracing::info!("network loaded: {} ({})", net.source, net.summary());
                importance.scale = default_scale(&net.card.network_type);
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

/// The colour scale a network's explanations start with: the window total for the asymmetry
/// network, whose gradient flows only to the frames that set each feature (a range's extremes,
/// the knees' least flexion), so per-window colours leave almost every frame white; the
/// original's per-window scale for the others.
fn default_scale(network_type: &str) -> crate::explain::colouring::ColourScale {
    use crate::explain::colouring::ColourScale;
    if network_type == "asymmetry" {
        ColourScale::WindowSum
    } else {
        ColourScale::Window
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
    // The load counter, not the allocation's address (a new walk can reuse a freed one).
    let current = seq.sequence.as_ref().map(|_| seq.generation);
    if state.last.is_some() && current != state.explained_generation {
        state.last = None;
        importance.shown = None;
    }
    if let Some(s) = &seq.sequence
        && let Some(net) = state.network.clone()
    {
        let window = net.window_frames(s.rate_hz);
        let max_start = s.num_frames().saturating_sub(window);
        state.explain_start = state.explain_start.min(max_start);
        if current != *seen {
            start_on_measured_window(&mut state, s, &net.card);
        }
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
        let joints = sequence_joints(model, &seq.betas, &seq).unwrap();
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
        assert_eq!(out.track[0].start_frame, 0);
        assert!((out.track[0].logit - out.shown.logit).abs() < 1e-4);
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
        assert!(matches!(
            err,
            Err(NetworkError::Window(WindowError::Start { .. }))
        ));
    }

    #[test]
    fn a_walk_whose_start_was_guessed_is_explained_from_its_first_measured_window() {
        let model = crate::body::default_model::default_body();
        let mut seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let n = seq.num_frames();
        // Windows of 100 frames at the walk's own rate.
        let mut card: ModelCard = serde_json::from_slice(DEMO_CARD).unwrap();
        card.rate_hz = Some(seq.rate_hz);
        card.interval = 100;
        let mut state = NetworkState::default();
        // Unknown measured frames, or a measured start: the start stays.
        start_on_measured_window(&mut state, &seq, &card);
        assert_eq!(state.explain_start, 0);
        seq.legs_measured = Some((0..n).map(|f| f >= 30).collect());
        state.explain_start = 40;
        start_on_measured_window(&mut state, &seq, &card);
        assert_eq!(state.explain_start, 40, "a measured window is kept");
        // The first 30 frames guessed: frame 0's window moves to frame 30.
        state.explain_start = 0;
        start_on_measured_window(&mut state, &seq, &card);
        assert_eq!(state.explain_start, 30);
        // At twice the network's rate a window is placed on its frame grid: frame 31's window
        // starts at network frame 16 (sequence frame 32), frame 30's at 15 (30).
        card.rate_hz = Some(seq.rate_hz / 2.0);
        card.interval = 50;
        seq.legs_measured = Some((0..n).map(|f| f >= 31).collect());
        state.explain_start = 0;
        start_on_measured_window(&mut state, &seq, &card);
        let grid = WindowGrid::new(&card, Some(seq.rate_hz), n).unwrap();
        assert!(grid.frames_read(state.explain_start).start >= 31);
        assert_eq!(grid.frames_read(state.explain_start).start, 32);
        // A window longer than the walk (an absurd card) changes nothing and cannot overflow.
        card.interval = usize::MAX;
        state.explain_start = 0;
        start_on_measured_window(&mut state, &seq, &card);
        assert_eq!(state.explain_start, 0);
    }

    #[test]
    fn bad_starts_rates_and_short_sequences_are_typed_errors() {
        let _lock = crate::train::test_rng_lock();
        let model = crate::body::default_model::default_body();
        let seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let joints = sequence_joints(model, &seq.betas, &seq).unwrap();
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
                matches!(e, NetworkError::Window(WindowError::Start { last_start, window: w, .. })
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
            matches!(e, NetworkError::Window(WindowError::TooShort { needed, .. })
                if needed == 2 * interval - 1),
            "{e}"
        );
        // Absurd sequence rates are rejected with the valid range (and do not break the panels'
        // window length).
        for rate in [1e308, 1e-300, f64::NAN, 0.5] {
            let e = run(&joints, rate, 0).unwrap_err();
            assert!(
                matches!(e, NetworkError::Window(WindowError::Rate { .. })),
                "{e}"
            );
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
        // Window inputs never overflow either.
        let w = crate::inference::window_input(
            &joints,
            usize::MAX,
            interval,
            crate::dataset::Alignment::default(),
        );
        assert!(matches!(w, Err(WindowError::Window { .. })));
    }

    #[test]
    fn sequences_at_another_rate_are_resampled_to_the_cards_rate() {
        let _lock = crate::train::test_rng_lock();
        let model = crate::body::default_model::default_body();
        let seq = super::super::demo::demo_sequence(model).expect("demo walk");
        let joints = sequence_joints(model, &seq.betas, &seq).unwrap();
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
        assert_eq!(out.track[1].start_frame, 2 * reference.track[1].start_frame);
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
