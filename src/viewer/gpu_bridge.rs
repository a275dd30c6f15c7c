//! The GPU bridge: burn's wgpu backend built on Bevy's own wgpu instance, adapter, device and
//! queue, so the classifier runs on the GPU that renders the body — one wgpu device, no copy of
//! the data between two. When that fails (no render app, adapter limits, a panic inside the
//! backend's setup) the viewer falls back to burn's CPU backend and says so in the panel.

use std::panic::AssertUnwindSafe;

use bevy::prelude::*;
use bevy::render::RenderApp;
use bevy::render::renderer::{
    RenderAdapter, RenderAdapterInfo, RenderDevice, RenderInstance, RenderQueue,
};
use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, WgpuSetup, init_device};

/// The burn device on Bevy's GPU, if it could be created.
#[derive(Resource, Debug, Clone, Default)]
pub struct SharedGpu {
    /// burn's handle to Bevy's device (`WgpuDevice::Existing`).
    pub device: Option<WgpuDevice>,
    /// What happened, for the panel ("shared with the renderer: <adapter>" or why not).
    pub note: String,
}

/// Creates burn's wgpu device from Bevy's render resources (cheap handle clones of the same
/// wgpu objects). A panic inside the backend's setup becomes an error string.
pub fn burn_device_from_bevy(
    device: &RenderDevice,
    queue: &RenderQueue,
    adapter: &RenderAdapter,
    instance: &RenderInstance,
    info: &RenderAdapterInfo,
) -> Result<WgpuDevice, String> {
    let setup = WgpuSetup {
        instance: (**instance.0).clone(),
        adapter: (**adapter.0).clone(),
        device: device.wgpu_device().clone(),
        queue: (**queue.0).clone(),
        backend: info.backend,
    };
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        init_device(setup, RuntimeOptions::default())
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "burn's wgpu setup panicked".into())
    })
}

/// Reads the render handles in `finish()` (the render sub-app exists by then) and inserts
/// [`SharedGpu`] into the main world.
pub struct GpuBridgePlugin;

impl Plugin for GpuBridgePlugin {
    fn build(&self, _app: &mut App) {}

    fn finish(&self, app: &mut App) {
        let shared = match app.get_sub_app(RenderApp) {
            None => SharedGpu {
                device: None,
                note: "no render app: classifier on the CPU".into(),
            },
            Some(render) => {
                let w = render.world();
                match (
                    w.get_resource::<RenderDevice>(),
                    w.get_resource::<RenderQueue>(),
                    w.get_resource::<RenderAdapter>(),
                    w.get_resource::<RenderInstance>(),
                    w.get_resource::<RenderAdapterInfo>(),
                ) {
                    (Some(d), Some(q), Some(a), Some(i), Some(info)) => {
                        match burn_device_from_bevy(d, q, a, i, info) {
                            Ok(device) => SharedGpu {
                                device: Some(device),
                                note: format!(
                                    "classifier on the renderer's GPU: {} ({:?})",
                                    info.name, info.backend
                                ),
                            },
                            Err(e) => SharedGpu {
                                device: None,
                                note: format!("GPU sharing failed ({e}); classifier on the CPU"),
                            },
                        }
                    }
                    _ => SharedGpu {
                        device: None,
                        note: "render resources missing: classifier on the CPU".into(),
                    },
                }
            }
        };
        tracing::info!("{}", shared.note);
        app.insert_resource(shared);
    }
}
