//! The statistical comparison the GPU backends are held to must pass for two honest renders
//! and fail for the mistakes it is there to catch. Checked here on the CPU backend alone, with
//! deliberately broken scenes standing in for a broken backend.

mod common;

use common::stats;
use tessera_renderer::backend::Backend;
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Resolution;
use tessera_renderer::scene::FrameScene;
use tessera_renderer::settings::{MaxDepth, RenderSettings, Spp};
use tessera_renderer::texture::Texels;

const RES: (u32, u32) = (192, 128);

fn render(scene: &FrameScene, seed: u64) -> Vec<Vec<f32>> {
    let cpu = CpuBackend::new(None).unwrap();
    let res = Resolution::new(RES.0, RES.1).unwrap();
    let settings = RenderSettings {
        spp: Spp::new(64).unwrap(),
        max_depth: MaxDepth::new(8).unwrap(),
        seed,
    };
    let frame = cpu.prepare(scene).unwrap();
    stats::channels(
        &frame
            .render_tile(res, res.full_tile(), 0, &settings)
            .unwrap()
            .pixels,
    )
}

fn compare(a: &[Vec<f32>], b: &[Vec<f32>]) -> Vec<String> {
    stats::disagreements(a, b, RES.0 as usize, RES.1 as usize, 8)
}

#[test]
fn honest_renders_agree_and_broken_ones_do_not() {
    let scene = common::scenes::materials();
    let reference = render(&scene, 2);
    assert_eq!(
        compare(&render(&scene, 3), &reference),
        Vec::<String>::new()
    );

    let mut flipped = scene.clone();
    let t = &mut std::sync::Arc::make_mut(&mut flipped.textures)[3];
    let w = t.width as usize;
    let Texels::Float(texels) = &mut t.texels else {
        panic!("the test scene's textures are floats")
    };
    let (top, bottom) = std::sync::Arc::make_mut(texels).split_at_mut(w);
    top.swap_with_slice(&mut bottom[..w]);
    assert!(
        !compare(&render(&flipped, 3), &reference).is_empty(),
        "a flipped texture passed"
    );

    let mut no_layer = scene.clone();
    no_layer.materials[0].specular = 0.0;
    assert!(
        !compare(&render(&no_layer, 3), &reference).is_empty(),
        "a missing lobe passed"
    );

    let mut fresnel = scene.clone();
    fresnel.materials[0].ior = 1.8; // the floor's specular layer: f0 from 0.04 to 0.08
    assert!(
        !compare(&render(&fresnel, 3), &reference).is_empty(),
        "a wrong Fresnel passed"
    );

    let mut no_normals = render(&scene, 3);
    for normal in &mut no_normals[7..10] {
        normal.fill(0.0);
    }
    assert!(
        !compare(&no_normals, &reference).is_empty(),
        "a missing AOV passed"
    );
}
