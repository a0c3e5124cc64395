//! Scene features every backend must render alike, each checked by a figure: a backend's test
//! passes its own way of rendering (`Render`) and the check builds the scene and asserts.

use glam::Vec3;
use tessera_renderer::environment::Environment;
use tessera_renderer::film::FrameImage;
use tessera_renderer::integrator::MAX_SAMPLE;
use tessera_renderer::material::AlphaMode;
use tessera_renderer::scene::FrameScene;

use super::scenes;

/// A backend rendering a scene at 32x32 with this many samples per pixel.
pub type Render<'a> = &'a dyn Fn(&FrameScene, u32) -> FrameImage;

/// One test per feature for a backend whose `render_small` follows [`Render`]: the same named
/// tests in every backend's test file.
#[macro_export]
macro_rules! feature_tests {
    ($render:path) => {
        #[test]
        fn a_diffuse_cube_in_the_neutral_environment_shows_its_albedo() {
            common::features::furnace(&$render);
        }
        #[test]
        fn a_glaring_sky_leaves_every_pixel_finite() {
            common::features::glaring_sky(&$render);
        }
        #[test]
        fn an_unlit_surface_shows_its_base_colour() {
            common::features::unlit(&$render);
        }
        #[test]
        fn vertex_colours_multiply_the_base_colour() {
            common::features::vertex_colours(&$render);
        }
        #[test]
        fn orthographic_rays_are_parallel_and_start_on_the_near_plane() {
            common::features::orthographic(&$render);
        }
        #[test]
        fn masked_panes_cut_out_and_blended_ones_let_light_through_in_proportion() {
            common::features::panes(&$render);
        }
        #[test]
        fn shading_normals_leaning_away_never_reflect_into_the_surface() {
            common::features::leaning_normals(&$render);
        }
        #[test]
        fn a_solid_absorbs_along_the_path_inside_it() {
            common::features::absorption(&$render);
        }
        #[test]
        fn a_diffuse_sphere_in_a_uniform_environment_map_shows_its_albedo() {
            common::features::map_furnace(&$render);
        }
        #[test]
        fn a_floor_under_a_mapped_sun_gets_the_irradiance_of_its_texels() {
            common::features::floor_under_a_sun(&$render);
        }
        #[test]
        fn the_environment_map_is_seen_where_its_rotation_turns_it() {
            common::features::sky_quarters(&$render);
        }
        #[test]
        fn white_sheen_and_clear_coat_over_white_keep_the_furnace_white() {
            common::features::layered_furnace(&$render);
        }
        #[test]
        fn sheen_over_black_glows_at_the_rim_like_velvet() {
            common::features::velvet(&$render);
        }
        #[test]
        fn a_clear_coat_over_black_reflects_its_fresnel() {
            common::features::clear_coat(&$render);
        }
        #[test]
        fn sheen_and_coat_textures_scale_their_layers() {
            common::features::textured_layers(&$render);
        }
    };
}

/// The mean colour of the pixels at most `r` pixels from the image's centre, and of those
/// between `r_in` and `r_out` from it.
fn disc_and_ring(image: &FrameImage, r: f32, r_in: f32, r_out: f32) -> ([f64; 3], [f64; 3]) {
    let res = image.resolution();
    let (cx, cy) = (res.width() as f32 / 2.0, res.height() as f32 / 2.0);
    let (mut disc, mut ring, mut n_disc, mut n_ring) = ([0.0f64; 3], [0.0f64; 3], 0.0, 0.0);
    for y in 0..res.height() {
        for x in 0..res.width() {
            let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
            let c = image.pixels.color[(y * res.width() + x) as usize];
            let (sum, n) = if d <= r {
                (&mut disc, &mut n_disc)
            } else if (r_in..=r_out).contains(&d) {
                (&mut ring, &mut n_ring)
            } else {
                continue;
            };
            for (s, c) in sum.iter_mut().zip(c) {
                *s += f64::from(c);
            }
            *n += 1.0;
        }
    }
    (disc.map(|s| s / n_disc), ring.map(|s| s / n_ring))
}

/// White sheen (its albedo scaling the base) and a smooth coat (what it reflects, the base
/// does not get) over a white base, in the white furnace: the sphere stays white, centre and
/// rim. The sphere's silhouette lies about 12 pixels from the centre.
pub fn layered_furnace(render: Render) {
    for (sheen, coat) in [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
        let scene = scenes::layered_sphere(1.0, [sheen; 3], 0.5, coat, 0.0);
        let (disc, ring) = disc_and_ring(&render(&scene, 16), 4.0, 8.0, 10.5);
        for c in disc.iter().chain(&ring) {
            assert!(
                (c - 1.0).abs() < 0.03,
                "sheen {sheen}, coat {coat}: centre {disc:?}, rim {ring:?}, not 1"
            );
        }
    }
}

/// A red-orange sheen over a black base in the white furnace: dim face on (the Charlie lobe's
/// albedo there is 0.03 at roughness 0.5) and bright towards the silhouette, as velvet is.
pub fn velvet(render: Render) {
    let scene = scenes::layered_sphere(0.0, [1.0, 0.3, 0.1], 0.5, 0.0, 0.0);
    let (disc, ring) = disc_and_ring(&render(&scene, 16), 3.0, 9.0, 11.0);
    assert!(
        disc[0] > 0.01 && disc[0] < 0.08,
        "the velvet's centre is {disc:?}"
    );
    assert!(
        ring[0] > 4.0 * disc[0] && ring[0] > 0.15,
        "the velvet's rim {ring:?} is not brighter than its centre {disc:?}"
    );
    assert!(
        (ring[1] / ring[0] - 0.3).abs() < 0.02,
        "the rim's colour {ring:?} is not the sheen's"
    );
}

/// A smooth clear coat over a black base reflects the white environment by Schlick's Fresnel
/// of reflectance 0.04: face on, 0.04 and no noise (the only lobe left is a mirror).
pub fn clear_coat(render: Render) {
    let scene = scenes::layered_sphere(0.0, [0.0; 3], 0.0, 1.0, 0.0);
    let (disc, ring) = disc_and_ring(&render(&scene, 4), 2.0, 10.0, 11.0);
    for c in disc {
        assert!((c - 0.04).abs() < 0.002, "the coat's centre is {disc:?}");
    }
    assert!(
        ring[0] > 0.06,
        "the coat's rim {ring:?} reflects no more than face on"
    );
}

/// The sphere in a uniform environment map ([`scenes::sphere_in_a_uniform_map`]): the middle
/// of the sphere averages to its albedo within noise, and a corner sees the map's radiance.
pub fn map_furnace(render: Render) {
    let image = render(&scenes::sphere_in_a_uniform_map(), 16);
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let (cx, cy) = (res.width() / 2, res.height() / 2);
    let mut sum = [0.0f64; 3];
    for y in cy - 4..cy + 4 {
        for x in cx - 4..cx + 4 {
            for (s, c) in sum.iter_mut().zip(at(x, y)) {
                *s += f64::from(c) / 64.0;
            }
        }
    }
    for s in sum {
        assert!(
            (s - f64::from(scenes::FURNACE_ALBEDO)).abs() < 0.03,
            "the sphere's middle averages {sum:?}, not its albedo {}",
            scenes::FURNACE_ALBEDO
        );
    }
    assert_eq!(at(0, 0), [1.0, 1.0, 1.0, 0.0], "a corner sees the map");
}

/// The floor under a one-texel sun ([`scenes::floor_under_a_sun`]) averages to the radiance
/// its irradiance gives, whichever way the map is turned.
pub fn floor_under_a_sun(render: Render) {
    let expected = scenes::floor_under_a_sun_radiance();
    for rotation in [0.0, 2.5] {
        let image = render(&scenes::floor_under_a_sun(rotation), 16);
        let c = &image.pixels.color;
        let mean = c.iter().map(|p| f64::from(p[0])).sum::<f64>() / c.len() as f64;
        assert!(
            (mean / f64::from(expected) - 1.0).abs() < 0.03,
            "the floor averages {mean} at rotation {rotation}, not {expected}"
        );
        assert!(c.iter().all(|p| p[3] == 1.0), "the floor fills the view");
    }
}

/// The map's third column straight ahead ([`scenes::sky_quarters`]); turned a quarter turn
/// counter-clockwise, the fourth.
pub fn sky_quarters(render: Render) {
    for (rotation, column) in [(0.0, 2), (std::f32::consts::FRAC_PI_2, 3)] {
        let image = render(&scenes::sky_quarters(rotation), 1);
        let res = image.resolution();
        let centre =
            image.pixels.color[(res.height() / 2 * res.width() + res.width() / 2) as usize];
        let [r, g, b] = scenes::QUARTERS[column];
        assert_eq!(
            centre,
            [r, g, b, 0.0],
            "turned {rotation} rad, the view shows {centre:?}, not column {column}"
        );
    }
}

/// The white furnace ([`scenes::furnace`]): the cube's centre is its albedo, a corner the
/// environment, and the corner's alpha says nothing was hit there.
pub fn furnace(render: Render) {
    let image = render(&scenes::furnace(), 4);
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let centre = at(res.width() / 2, res.height() / 2);
    for c in &centre[..3] {
        assert!(
            (c - scenes::FURNACE_ALBEDO).abs() < 1e-3,
            "the cube's centre is {centre:?}, not its albedo {}",
            scenes::FURNACE_ALBEDO
        );
    }
    assert_eq!(centre[3], 1.0, "the centre's coverage");
    assert_eq!(
        at(0, 0),
        [1.0, 1.0, 1.0, 0.0],
        "a corner sees the environment"
    );
}

/// The furnace under a sky of 3e38, finite as every setting must be: a pixel's samples are
/// each at most `MAX_SAMPLE`, so their sum stays finite (it overflowed to infinity, and the
/// farm refused every worker's result for it).
pub fn glaring_sky(render: Render) {
    let mut scene = scenes::furnace();
    scene.environment = Some(Environment::Uniform(Vec3::splat(3e38)));
    let image = render(&scene, 4);
    assert!(
        image.pixels.color.iter().flatten().all(|c| c.is_finite()),
        "a pixel is not finite"
    );
    let sky = MAX_SAMPLE;
    assert_eq!(
        image.pixels.color[0],
        [sky, sky, sky, 0.0],
        "a corner sees the sky"
    );
}

/// The unlit cube ([`scenes::unlit`]) shows its base colour, black beside it.
pub fn unlit(render: Render) {
    assert_unlit(&render(&scenes::unlit(), 4), [1.0; 3]);
}

/// Vertex colours ([`scenes::vertex_colored`]) multiply the base colour.
pub fn vertex_colours(render: Render) {
    let [r, g, b, _] = scenes::VERTEX_COLOR;
    assert_unlit(&render(&scenes::vertex_colored(), 4), [r, g, b]);
}

/// The unlit cube's base colour (times `tint`) at the centre, black beside it.
fn assert_unlit(image: &FrameImage, tint: [f32; 3]) {
    let res = image.resolution();
    let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize];
    let centre = at(res.width() / 2, res.height() / 2);
    let expected = [0, 1, 2].map(|c| scenes::UNLIT_COLOR[c] * tint[c]);
    for (c, expected) in centre[..3].iter().zip(expected) {
        assert!(
            (c - expected).abs() < 1e-6,
            "the unlit cube's centre is {centre:?}"
        );
    }
    assert_eq!(at(0, 0), [0.0; 4], "a corner of the dark background");
}

/// The orthographic view of the cube ([`scenes::orthographic`]): parallel rays meet its front
/// face at the same depth everywhere (5), or, with the near plane inside the cube (5.5), its
/// back face (7); depth still counts from the camera. Beside the cube nothing is hit.
pub fn orthographic(render: Render) {
    for znear in [0.0, 5.5] {
        let image = render(&scenes::orthographic(znear), 1);
        let res = image.resolution();
        let expected = if znear > 5.0 { 7.0 } else { 5.0 };
        let (w, h) = (res.width(), res.height());
        // The film spans [-2, 2]: the centre and points about 0.8 out (the cube's face spans
        // [-1, 1]) all see the cube.
        for (x, y) in [(w / 2, h / 2), (w * 11 / 16, h / 2), (w / 2, h * 5 / 16)] {
            let i = (y * w + x) as usize;
            let depth = image.pixels.depth[i];
            assert!(
                (depth - expected).abs() < 1e-4,
                "pixel ({x}, {y}) at depth {depth}, not {expected}"
            );
            assert_eq!(image.pixels.color[i][3], 1.0, "pixel ({x}, {y}) coverage");
        }
        assert_eq!(image.pixels.color[0][3], 0.0, "a corner sees no cube");
    }
}

/// The mean of the centre pixels, which all see the cube (through a pane where there is one).
fn centre_mean(image: &FrameImage) -> [f32; 3] {
    let res = image.resolution();
    let (w, h) = (res.width(), res.height());
    let mut sum = [0.0f32; 3];
    let mut n = 0.0;
    for y in h / 2 - 4..h / 2 + 4 {
        for x in w / 2 - 4..w / 2 + 4 {
            let c = image.pixels.color[(y * w + x) as usize];
            for k in 0..3 {
                sum[k] += c[k];
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// A MASK pane ([`scenes::behind_a_pane`]) hides the cube where alpha reaches the cutoff and
/// vanishes below it; a BLEND pane of alpha 0.25 lets three quarters of the samples through.
pub fn panes(render: Render) {
    let mask = AlphaMode::Mask { cutoff: 0.5 };
    let cube = scenes::UNLIT_COLOR;
    let near = |a: [f32; 3], b: [f32; 3], tol: f32| (0..3).all(|k| (a[k] - b[k]).abs() < tol);
    let seen = centre_mean(&render(&scenes::behind_a_pane(mask, 0.25), 4));
    assert!(
        near(seen, cube, 1e-6),
        "a cut-out pane hid the cube: {seen:?}"
    );
    let seen = centre_mean(&render(&scenes::behind_a_pane(mask, 0.75), 4));
    assert!(
        near(seen, [1.0, 0.0, 0.0], 1e-6),
        "an opaque pane let light through: {seen:?}"
    );
    let seen = centre_mean(&render(&scenes::behind_a_pane(AlphaMode::Blend, 0.25), 64));
    let expected = [0, 1, 2].map(|k| 0.25 * [1.0, 0.0, 0.0][k] + 0.75 * cube[k]);
    assert!(
        near(seen, expected, 0.03),
        "blended {seen:?}, expected {expected:?}"
    );
}

/// The absorbing cube ([`scenes::absorbing_cube`]): its centre keeps a quarter of the
/// environment's light (2 units at half per unit), the background all of it.
pub fn absorption(render: Render) {
    let image = render(&scenes::absorbing_cube(), 4);
    let seen = centre_mean(&image);
    for c in seen {
        assert!(
            (c - 0.25).abs() < 1e-3,
            "through the cube: {seen:?}, not 0.25"
        );
    }
    assert_eq!(
        image.pixels.color[0],
        [1.0, 1.0, 1.0, 0.0],
        "the background"
    );
}

/// The mirror square with normals leaning away ([`scenes::leaning_normals`]) stays bright:
/// without bent shading normals its centre is black.
pub fn leaning_normals(render: Render) {
    let seen = centre_mean(&render(&scenes::leaning_normals(), 16));
    for c in seen {
        assert!(
            c > 0.8,
            "the mirror's centre is {seen:?}: reflections went into it"
        );
    }
}

/// The coat's and the sheen's textures ([`scenes::textured_layers`]): the coated right half
/// reflects 0.04 face on and the uncoated left half nothing; the sheen shows on the left half
/// only.
pub fn textured_layers(render: Render) {
    for coat in [true, false] {
        let image = render(&scenes::textured_layers(coat), 8);
        let res = image.resolution();
        let at = |x: u32, y: u32| image.pixels.color[(y * res.width() + x) as usize][0];
        let (cx, cy) = (res.width() / 2, res.height() / 2);
        let mean = |xs: std::ops::Range<u32>| {
            let n = (xs.len() * 5) as f32;
            xs.flat_map(|x| (cy - 2..cy + 3).map(move |y| (x, y)))
                .map(|(x, y)| at(x, y))
                .sum::<f32>()
                / n
        };
        let (right, left) = (mean(cx + 2..cx + 6), mean(cx - 6..cx - 2));
        if coat {
            assert!((right - 0.04).abs() < 0.003, "coated right half {right}");
            assert_eq!(left, 0.0, "uncoated left half");
        } else {
            assert_eq!(right, 0.0, "right half without sheen");
            assert!(left > 0.01, "sheen on the left half {left}");
        }
    }
}
