// Importance colouring of the body: a per-vertex scalar (carried in UV.x, written by the CPU
// each frame from joint relevance through the skinning weights) is mapped to a colormap here
// and used as the base colour of Bevy's PBR lighting, so the body's shape stays readable. UV.y
// marks skin on joints no marker measured, drawn hatched.
//
// The colormap is piecewise linear through five control points that the Rust side uploads
// (`ImportanceSettings` in `src/viewer/colouring.rs`, from the `DIVERGING` / `SEQUENTIAL` tables
// the egui legend also draws), so the colour bar and the body agree exactly.

#import bevy_pbr::{
    pbr_fragment::pbr_input_from_standard_material,
    pbr_functions::alpha_discard,
}

#ifdef PREPASS_PIPELINE
#import bevy_pbr::{
    prepass_io::{VertexOutput, FragmentOutput},
    pbr_deferred_functions::deferred_output,
}
#else
#import bevy_pbr::{
    forward_io::{VertexOutput, FragmentOutput},
    pbr_functions::{apply_pbr_lighting, main_pass_post_lighting_processing},
}
#endif

// Mirrors `ImportanceSettings` (`#[derive(ShaderType)]`) in `src/viewer/colouring.rs`.
struct ImportanceSettings {
    // sRGB control points of the colormap, evenly spaced from `low` to `high` (w unused).
    stops: array<vec4<f32>, 5>,
    low: f32,
    high: f32,
    // 1 to colour, 0 to show the plain base colour.
    enabled: u32,
    // How much of the colormap replaces the base colour (0..1).
    strength: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(100)
var<uniform> importance: ImportanceSettings;

// The uploaded colormap at scalar s (clamped to [low, high]), as `Colormap::srgb` computes it.
fn colormap(s: f32) -> vec3<f32> {
    let t = clamp((s - importance.low) / (importance.high - importance.low), 0.0, 1.0) * 4.0;
    let i = min(u32(floor(t)), 3u);
    let f = min(t - f32(i), 1.0);
    return mix(importance.stops[i].rgb, importance.stops[i + 1u].rgb, f);
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return pow(c, vec3<f32>(2.2));
}

@fragment
fn fragment(
    in: VertexOutput,
    @builtin(front_facing) is_front: bool,
) -> FragmentOutput {
    var pbr_input = pbr_input_from_standard_material(in, is_front);

#ifdef VERTEX_UVS_A
    if importance.enabled == 1u {
        let c = colormap(in.uv.x);
        let base = pbr_input.material.base_color.rgb;
        pbr_input.material.base_color = vec4<f32>(
            mix(base, srgb_to_linear(c), importance.strength),
            pbr_input.material.base_color.a,
        );
    }
    // UV.y: the share of this skin that rides on joints no marker measured (the fitter's prior
    // placed them). Mostly-unmeasured skin is hatched with diagonal stripes fixed on the screen,
    // so a pose the prior made up never passes for data.
    if in.uv.y > 0.5 {
        let stripe = fract((in.position.x + in.position.y) / 14.0) < 0.5;
        if stripe {
            let b = pbr_input.material.base_color.rgb;
            pbr_input.material.base_color = vec4<f32>(
                mix(b, vec3<f32>(0.05, 0.05, 0.06), 0.55),
                pbr_input.material.base_color.a,
            );
        }
    }
#endif

    pbr_input.material.base_color = alpha_discard(pbr_input.material, pbr_input.material.base_color);

#ifdef PREPASS_PIPELINE
    let out = deferred_output(in, pbr_input);
#else
    var out: FragmentOutput;
    out.color = apply_pbr_lighting(pbr_input);
    out.color = main_pass_post_lighting_processing(pbr_input, out.color);
#endif
    return out;
}
