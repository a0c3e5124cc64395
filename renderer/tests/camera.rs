//! Cameras on the CPU backend: an orthographic camera's parallel rays, and its near plane
//! (the same figures are checked on wgpu and on the CUDA kernel in their own tests).

mod common;

use common::{assert_orthographic, render, settings};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::film::Resolution;

#[test]
fn orthographic_rays_are_parallel_and_start_on_the_near_plane() {
    let cpu = CpuBackend::new(None).unwrap();
    for znear in [0.0, 5.5] {
        let image = render(
            &cpu,
            &common::scenes::orthographic(znear),
            Resolution::new(32, 32).unwrap(),
            16,
            &settings(1, 2, 1),
        );
        assert_orthographic(&image, znear);
    }
}
