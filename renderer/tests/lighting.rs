//! How surfaces are lit and coloured, on the CPU backend: a white furnace renders to its albedo,
//! the environment lights a scene with lights as well, an unlit surface shows its base colour,
//! and vertex colours multiply it (the same figures are checked on wgpu and on the CUDA kernel
//! in their own tests).

mod common;

use common::{assert_furnace, assert_unlit, render, settings};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Resolution;

#[test]
fn a_diffuse_cube_in_the_neutral_environment_shows_its_albedo() {
    let cpu = CpuBackend::new(None).unwrap();
    let image = render(
        &cpu,
        &common::scenes::furnace(),
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(4, 4, 1),
    );
    assert_furnace(&image);
}

#[test]
fn the_environment_adds_to_a_scenes_own_lights() {
    let cpu = CpuBackend::new(None).unwrap();
    let res = Resolution::new(48, 32).unwrap();
    let s = settings(8, 6, 3);
    let mean = |scene| {
        let image = render(&cpu, &scene, res, 16, &s);
        let c = &image.pixels.color;
        c.iter().map(|p| f64::from(p[0] + p[1] + p[2])).sum::<f64>() / c.len() as f64
    };
    let alone = mean(common::scenes::materials());
    let lit = mean(common::scenes::materials_in_the_environment());
    assert!(
        lit > alone + 0.5,
        "{lit} with the environment, {alone} without"
    );
}

#[test]
fn an_unlit_surface_shows_its_base_colour() {
    let cpu = CpuBackend::new(None).unwrap();
    let image = render(
        &cpu,
        &common::scenes::unlit(),
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(4, 4, 1),
    );
    assert_unlit(&image, [1.0; 3]);
}

#[test]
fn vertex_colours_multiply_the_base_colour() {
    let cpu = CpuBackend::new(None).unwrap();
    let image = render(
        &cpu,
        &common::scenes::vertex_colored(),
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(4, 4, 1),
    );
    let [r, g, b, _] = common::scenes::VERTEX_COLOR;
    assert_unlit(&image, [r, g, b]);
}

#[test]
fn masked_panes_cut_out_and_blended_ones_let_light_through_in_proportion() {
    let cpu = CpuBackend::new(None).unwrap();
    common::assert_panes(|scene, spp| {
        render(
            &cpu,
            scene,
            Resolution::new(32, 32).unwrap(),
            16,
            &settings(spp, 4, 1),
        )
    });
}

#[test]
fn a_solid_absorbs_along_the_path_inside_it() {
    let cpu = CpuBackend::new(None).unwrap();
    let image = render(
        &cpu,
        &common::scenes::absorbing_cube(),
        Resolution::new(32, 32).unwrap(),
        16,
        &settings(4, 6, 1),
    );
    common::assert_absorbed(&image);
}
