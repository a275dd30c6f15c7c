// Importance colouring of the body: a per-vertex scalar (carried in UV.x, written by the CPU
// each frame from joint relevance through the skinning weights) is mapped to a colormap here
// and used as the base colour of Bevy's PBR lighting, so the body's shape stays readable. UV.y
// marks skin on joints no marker measured, drawn hatched.
//
// The colormaps are piecewise linear through the control points of `src/viewer/colouring.rs`
// (`DIVERGING` and `SEQUENTIAL`); the egui legend uses the same points, so the colour bar and
// the body agree exactly.

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

struct ImportanceParams {
    // x: 1 to colour, 0 to show the plain base colour; y: 0 diverging, 1 sequential;
    // z: how much of the colormap replaces the base colour (0..1); w: unused.
    settings: vec4<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(100)
var<uniform> importance: ImportanceParams;

// Blue – white – red over s in [-1, 1] (five control points, linear in sRGB-encoded values).
fn diverging(s: f32) -> vec3<f32> {
    let t = clamp((s + 1.0) * 0.5, 0.0, 1.0) * 4.0;
    let c0 = vec3<f32>(0.230, 0.299, 0.754);
    let c1 = vec3<f32>(0.552, 0.690, 0.996);
    let c2 = vec3<f32>(0.950, 0.950, 0.950);
    let c3 = vec3<f32>(0.957, 0.604, 0.482);
    let c4 = vec3<f32>(0.706, 0.016, 0.150);
    if t < 1.0 { return mix(c0, c1, t); }
    if t < 2.0 { return mix(c1, c2, t - 1.0); }
    if t < 3.0 { return mix(c2, c3, t - 2.0); }
    return mix(c3, c4, min(t - 3.0, 1.0));
}

// Light grey – yellow – orange – dark red over s in [0, 1] (attention, unsigned relevance).
fn sequential(s: f32) -> vec3<f32> {
    let t = clamp(s, 0.0, 1.0) * 4.0;
    let c0 = vec3<f32>(0.900, 0.900, 0.900);
    let c1 = vec3<f32>(0.996, 0.851, 0.463);
    let c2 = vec3<f32>(0.992, 0.553, 0.235);
    let c3 = vec3<f32>(0.890, 0.102, 0.110);
    let c4 = vec3<f32>(0.502, 0.000, 0.149);
    if t < 1.0 { return mix(c0, c1, t); }
    if t < 2.0 { return mix(c1, c2, t - 1.0); }
    if t < 3.0 { return mix(c2, c3, t - 2.0); }
    return mix(c3, c4, min(t - 3.0, 1.0));
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
    if importance.settings.x > 0.5 {
        let s = in.uv.x;
        var c: vec3<f32>;
        if importance.settings.y < 0.5 {
            c = diverging(s);
        } else {
            c = sequential(s);
        }
        let base = pbr_input.material.base_color.rgb;
        pbr_input.material.base_color = vec4<f32>(
            mix(base, srgb_to_linear(c), importance.settings.z),
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
