//! The Cornell box of `shared/reference/cornell-box/README.md`, number for number, a scene
//! with every material lobe, textures and every light kind, and a white furnace, built directly
//! as `FrameScene`s.

use glam::{Affine3A, Mat3, Vec2, Vec3, Vec4};
use std::f32::consts::PI;
use std::sync::Arc;
use tessera_renderer::camera::{Camera, Projection};

use tessera_renderer::environment::{Environment, EnvironmentMap};
use tessera_renderer::material::{AlphaMode, Material};
use tessera_renderer::scene::{FrameScene, Mesh, PunctualLight};
use tessera_renderer::texture::{Filter, Texels, Texture, TextureRef, UvTransform, Wrap};

/// Adds the square [-1, 1]^2 (normal +z) transformed by `m` (rows, translation last column).
fn rectangle(mesh: &mut Mesh, m: [[f32; 4]; 3], material: u32, uv: bool) {
    let corners = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]];
    quad(
        mesh,
        m,
        corners.map(|[x, y]| Vec3::new(x, y, 0.0)),
        material,
        uv,
    );
}

fn transform(m: [[f32; 4]; 3], p: Vec3) -> Vec3 {
    Vec3::new(
        m[0][0] * p.x + m[0][1] * p.y + m[0][2] * p.z + m[0][3],
        m[1][0] * p.x + m[1][1] * p.y + m[1][2] * p.z + m[1][3],
        m[2][0] * p.x + m[2][1] * p.y + m[2][2] * p.z + m[2][3],
    )
}

/// A planar quad (counter-clockwise seen from the side it faces), with flat normals.
fn quad(mesh: &mut Mesh, m: [[f32; 4]; 3], local: [Vec3; 4], material: u32, uv: bool) {
    let base = mesh.positions.len() as u32;
    let p = local.map(|c| transform(m, c));
    let n = (p[1] - p[0]).cross(p[2] - p[0]).normalize();
    for (i, q) in p.iter().enumerate() {
        mesh.positions.push(*q);
        mesh.normals.push(n);
        if uv {
            let [u, v] = [[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]][i];
            mesh.uv0.push(Vec2::new(u, v));
        }
    }
    mesh.triangles.push([base, base + 1, base + 2]);
    mesh.triangles.push([base, base + 2, base + 3]);
    mesh.triangle_materials.extend([material, material]);
}

fn cube(mesh: &mut Mesh, m: [[f32; 4]; 3], material: u32, uv: bool) {
    // Each face as a rectangle rotated from +z to its outward normal.
    let faces: [[[f32; 3]; 3]; 6] = [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]],
        [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]],
        [[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]],
        [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]],
    ];
    for r in faces {
        let rot = Mat3::from_cols(r[0].into(), r[1].into(), r[2].into());
        let corners = [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]
            .map(|[x, y]| rot * Vec3::new(x, y, 1.0));
        quad(mesh, m, corners, material, uv);
    }
}

fn lambertian(name: &str, rgb: [f32; 3]) -> Material {
    Material {
        name: name.into(),
        base_color: Vec4::new(rgb[0], rgb[1], rgb[2], 1.0),
        metallic: 0.0,
        roughness: 1.0,
        specular: 0.0,
        ..Material::default()
    }
}

fn camera(eye: Vec3, target: Vec3, yfov_degrees: f32, aspect: f32) -> Camera {
    let forward = (target - eye).normalize();
    let right = forward.cross(Vec3::Y).normalize();
    let up = right.cross(forward);
    Camera {
        name: "camera".into(),
        to_world: Affine3A::from_mat3_translation(Mat3::from_cols(right, up, -forward), eye),
        projection: Projection::Perspective {
            yfov: yfov_degrees.to_radians(),
        },
        aspect_ratio: Some(aspect),
        znear: 0.0,
    }
}

pub fn cornell_box() -> FrameScene {
    let mut mesh = Mesh::default();
    let white = [0.885809, 0.698859, 0.666422];
    let materials = vec![
        lambertian("white", white),
        lambertian("red", [0.570068, 0.0430135, 0.0443706]),
        lambertian("green", [0.105421, 0.37798, 0.076425]),
        Material {
            emissive: Vec3::new(18.387, 13.9873, 6.75357),
            ..lambertian("light", white)
        },
    ];
    let r = |rows: [[f32; 4]; 3]| rows;
    rectangle(
        &mut mesh,
        r([[1., 0., 0., 0.], [0., 0., 1., -1.], [0., -1., 0., 0.]]),
        0,
        false,
    );
    rectangle(
        &mut mesh,
        r([[1., 0., 0., 0.], [0., 0., -1., 1.], [0., 1., 0., 0.]]),
        0,
        false,
    );
    rectangle(
        &mut mesh,
        r([[1., 0., 0., 0.], [0., 1., 0., 0.], [0., 0., 1., -1.]]),
        0,
        false,
    );
    rectangle(
        &mut mesh,
        r([[0., 0., -1., 1.], [0., 1., 0., 0.], [1., 0., 0., 0.]]),
        2,
        false,
    );
    rectangle(
        &mut mesh,
        r([[0., 0., 1., -1.], [0., 1., 0., 0.], [-1., 0., 0., 0.]]),
        1,
        false,
    );
    cube(
        &mut mesh,
        [
            [0.28491, 0., 0.0939491, -0.33],
            [0., 0.61, 0., -0.4],
            [-0.0939491, 0., 0.28491, -0.28],
        ],
        0,
        false,
    );
    cube(
        &mut mesh,
        [
            [0.286891, 0., -0.0877115, 0.335],
            [0., 0.3, 0., -0.7],
            [0.0877115, 0., 0.286891, 0.38],
        ],
        0,
        false,
    );
    rectangle(
        &mut mesh,
        r([
            [0.23, 0., 0., 0.],
            [0., 0., -0.19, 0.99],
            [0., 0.19, 0., 0.01],
        ]),
        3,
        false,
    );
    FrameScene {
        camera: camera(Vec3::new(0.0, 0.0, 3.9), Vec3::ZERO, 39.3077, 1.0),
        mesh,
        materials,
        textures: Default::default(),
        lights: Vec::new(),
        environment: None,
    }
}

/// [`cornell_box`] with what a packet of samples hands to the scalar path beside what it takes
/// itself: a rough metal tall box and a mirror short box (a plain bounce after a delta one), a
/// half see-through plain back wall, red wall normals leaning 70 degrees (bent at every view), a
/// second light with an emissive texture, a point light, and a sky map seen through the open
/// front.
pub fn cornell_box_mixed() -> FrameScene {
    let mut scene = cornell_box();
    let white = [0.885809, 0.698859, 0.666422];
    scene.materials.extend([
        Material {
            metallic: 1.0,
            roughness: 0.3,
            ..lambertian("metal", [0.9, 0.8, 0.6])
        },
        Material {
            metallic: 1.0,
            roughness: 0.0,
            ..lambertian("mirror", [0.95; 3])
        },
        Material {
            alpha_mode: AlphaMode::Blend,
            base_color: Vec4::new(white[0], white[1], white[2], 0.5),
            ..lambertian("see-through", white)
        },
        Material {
            emissive: Vec3::new(4.0, 4.0, 4.0),
            emissive_texture: Some(TextureRef {
                texture: 0,
                tex_coord: 0,
                transform: UvTransform::default(),
            }),
            ..lambertian("textured light", white)
        },
    ]);
    // Triangles, as `cornell_box` adds them: floor 0-1, ceiling 2-3, back wall 4-5, green wall
    // 6-7, red wall 8-9, tall box 10-21, short box 22-33, light 34-35.
    let materials = &mut scene.mesh.triangle_materials;
    materials[4..6].fill(6);
    materials[10..22].fill(4);
    materials[22..34].fill(5);
    let lean = 70f32.to_radians();
    for t in 8..10 {
        for v in scene.mesh.triangles[t] {
            scene.mesh.normals[v as usize] = Vec3::new(lean.cos(), lean.sin(), 0.0);
        }
    }
    let glow = [
        [0.15, 0.0, 0.0, 0.5],
        [0.0, 0.15, 0.0, 0.3],
        [0.0, 0.0, 1.0, -0.9],
    ];
    rectangle(&mut scene.mesh, glow, 7, false);
    scene.mesh.uv0 = (0..scene.mesh.positions.len())
        .map(|i| Vec2::new((i % 3) as f32 * 0.4, (i % 2) as f32 * 0.7))
        .collect();
    scene.textures = vec![checker(
        4,
        [1.0, 0.9, 0.8, 1.0],
        [0.2, 0.3, 0.4, 1.0],
        Filter::Nearest,
    )]
    .into();
    scene.lights = vec![PunctualLight::Point {
        position: Vec3::new(0.5, 0.5, 0.5),
        intensity: Vec3::new(0.6, 0.5, 0.4),
    }];
    scene.environment = floor_under_a_sun(0.4).environment;
    scene
}

/// The Cornell box with its tall box half see-through and plain: lit by the area light
/// alone, so that packets take the bounces of rays that crossed the box to the walls behind.
pub fn cornell_box_see_through() -> FrameScene {
    let mut scene = cornell_box();
    let white = [0.885809, 0.698859, 0.666422];
    scene.materials.push(Material {
        alpha_mode: AlphaMode::Blend,
        base_color: Vec4::new(white[0], white[1], white[2], 0.5),
        ..lambertian("see-through", white)
    });
    // The tall box's triangles, as in `cornell_box_mixed`.
    let see_through = scene.materials.len() as u32 - 1;
    scene.mesh.triangle_materials[10..22].fill(see_through);
    scene
}

fn checker(n: u32, a: [f32; 4], b: [f32; 4], filter: Filter) -> Texture {
    let texels = (0..n * n).map(|i| if (i % n + i / n) & 1 == 0 { a } else { b });
    Texture {
        width: n,
        height: n,
        texels: Texels::float(texels, false),
        wrap_s: Wrap::Repeat,
        wrap_t: Wrap::MirroredRepeat,
        filter,
    }
}

/// A row of spheres-like boxes and panels, each showing one part of the BSDF: Lambertian,
/// plastic, rough and smooth metal, rough and smooth glass (solid and thin), a textured
/// (asymmetric, so a flip shows) base colour with a transform, a normal map, an emissive
/// texture, lit by an area light, a point, a spot and a directional light.
pub fn materials() -> FrameScene {
    let mut mesh = Mesh::default();
    let tex = |texture: u32, scale: f32, rotation: f32| TextureRef {
        texture,
        tex_coord: 0,
        transform: UvTransform {
            offset: Vec2::new(0.1, 0.0),
            rotation,
            scale: Vec2::splat(scale),
        },
    };
    let mut textures = vec![
        checker(
            4,
            [0.9, 0.8, 0.2, 1.0],
            [0.1, 0.2, 0.7, 1.0],
            Filter::Nearest,
        ),
        checker(
            8,
            [0.6, 0.5, 1.0, 1.0],
            [0.5, 0.6, 0.9, 1.0],
            Filter::Linear,
        ),
        checker(
            2,
            [1.0, 1.0, 1.0, 1.0],
            [0.0, 0.2, 0.0, 1.0],
            Filter::Linear,
        ),
    ];
    // An asymmetric gradient: mirrored or flipped lookups change the image.
    textures.push(Texture {
        width: 4,
        height: 2,
        texels: Texels::float(
            [
                [1.0, 0.0, 0.0, 1.0],
                [0.8, 0.2, 0.0, 1.0],
                [0.5, 0.5, 0.1, 1.0],
                [0.2, 0.8, 0.3, 1.0],
                [0.0, 0.1, 1.0, 1.0],
                [0.1, 0.3, 0.9, 1.0],
                [0.3, 0.6, 0.6, 1.0],
                [0.9, 0.9, 0.9, 1.0],
            ]
            .into_iter(),
            false,
        ),
        wrap_s: Wrap::ClampToEdge,
        wrap_t: Wrap::Repeat,
        filter: Filter::Nearest,
    });
    let base = Material {
        base_color: Vec4::new(0.8, 0.7, 0.6, 1.0),
        metallic: 0.0,
        roughness: 0.5,
        ..Material::default()
    };
    let materials = vec![
        // 0 floor: textured plastic, rotated UVs.
        Material {
            base_color_texture: Some(tex(0, 3.0, 0.3)),
            roughness: 0.6,
            ..base.clone()
        },
        // 1 back wall: Lambertian with a normal map.
        Material {
            normal_texture: Some(tex(1, 2.0, 0.0)),
            normal_scale: 0.8,
            specular: 0.0,
            roughness: 1.0,
            ..base.clone()
        },
        // 2 rough gold metal with a metallic-roughness texture.
        Material {
            base_color: Vec4::new(1.0, 0.78, 0.34, 1.0),
            metallic: 1.0,
            roughness: 0.35,
            metallic_roughness_texture: Some(tex(2, 1.0, 0.0)),
            ..base.clone()
        },
        // 3 smooth mirror.
        Material {
            base_color: Vec4::new(0.95, 0.95, 0.95, 1.0),
            metallic: 1.0,
            roughness: 0.0,
            ..base.clone()
        },
        // 4 rough solid glass.
        Material {
            base_color: Vec4::new(0.9, 1.0, 0.95, 1.0),
            transmission: 1.0,
            roughness: 0.3,
            ior: 1.5,
            thin_walled: false,
            ..base.clone()
        },
        // 5 smooth solid glass.
        Material {
            transmission: 1.0,
            roughness: 0.0,
            ior: 1.45,
            thin_walled: false,
            base_color: Vec4::ONE,
            ..base.clone()
        },
        // 6 thin rough sheet, partly transmissive, tinted specular.
        Material {
            transmission: 0.7,
            roughness: 0.2,
            specular_color: Vec3::new(1.0, 0.6, 0.6),
            base_color: Vec4::new(0.6, 0.8, 1.0, 1.0),
            ..base.clone()
        },
        // 7 area light with an emissive texture (asymmetric).
        Material {
            emissive: Vec3::new(6.0, 5.5, 5.0),
            emissive_texture: Some(TextureRef {
                texture: 3,
                tex_coord: 0,
                transform: UvTransform::default(),
            }),
            ..base.clone()
        },
        // 8 textured Lambertian with the asymmetric texture: a flipped lookup shows.
        Material {
            base_color_texture: Some(TextureRef {
                texture: 3,
                tex_coord: 0,
                transform: UvTransform::default(),
            }),
            specular: 0.0,
            roughness: 1.0,
            ..base.clone()
        },
    ];
    let id = |sx: f32, sy: f32, sz: f32, t: [f32; 3]| -> [[f32; 4]; 3] {
        [[sx, 0., 0., t[0]], [0., sy, 0., t[1]], [0., 0., sz, t[2]]]
    };
    // Floor (normal +y) and back wall (normal +z), textured.
    rectangle(
        &mut mesh,
        [[4., 0., 0., 0.], [0., 0., 1., -1.], [0., -4., 0., 0.]],
        0,
        true,
    );
    rectangle(&mut mesh, id(4.0, 2.5, 1.0, [0.0, 1.5, -2.0]), 1, true);
    cube(&mut mesh, id(0.4, 0.5, 0.4, [-2.4, -0.5, -0.6]), 2, true);
    cube(&mut mesh, id(0.35, 0.6, 0.35, [-1.4, -0.4, 0.0]), 3, true);
    cube(&mut mesh, id(0.4, 0.4, 0.4, [-0.3, -0.6, -0.4]), 4, true);
    cube(&mut mesh, id(0.3, 0.5, 0.3, [0.7, -0.5, 0.3]), 5, true);
    rectangle(
        &mut mesh,
        [
            [0.5, 0., 0.2, 1.7],
            [0., 0.8, 0., -0.2],
            [-0.2, 0., 0.5, 0.0],
        ],
        6,
        true,
    );
    rectangle(&mut mesh, id(0.6, 0.6, 1.0, [2.6, 0.2, -1.0]), 8, true);
    // Area light facing down, above the scene.
    rectangle(
        &mut mesh,
        [[1.2, 0., 0., 0.], [0., 0., -1., 2.4], [0., 0.6, 0., 0.5]],
        7,
        true,
    );
    let lights = vec![
        PunctualLight::Point {
            position: Vec3::new(-2.5, 1.5, 2.0),
            intensity: Vec3::new(4.0, 3.4, 2.8),
        },
        PunctualLight::Spot {
            position: Vec3::new(2.0, 2.0, 1.5),
            direction: Vec3::new(-0.3, -1.0, -0.6).normalize(),
            intensity: Vec3::new(10.0, 10.0, 12.0),
            cos_inner: 0.95,
            cos_outer: 0.85,
        },
        PunctualLight::Directional {
            direction: Vec3::new(0.4, -1.0, -0.5).normalize(),
            irradiance: Vec3::new(0.4, 0.45, 0.5),
        },
    ];
    FrameScene {
        camera: camera(
            Vec3::new(0.0, 0.6, 4.5),
            Vec3::new(0.0, -0.1, 0.0),
            45.0,
            1.5,
        ),
        mesh,
        materials,
        textures: textures.into(),
        lights,
        environment: None,
    }
}

/// [`materials`] with the vertex attributes it lacks: tangents (normal mapping then uses them
/// rather than UV derivatives) and a second UV set, read by the floor's base colour, the
/// light's emissive texture and a transmission texture added to the thin sheet.
pub fn materials_with_tangents_and_uv1() -> FrameScene {
    let mut scene = materials();
    let mesh = &mut scene.mesh;
    // Every quad has its own four vertices, corners with UVs (0, 1), (1, 1), (1, 0), (0, 0).
    for q in mesh.positions.chunks(4) {
        let n = mesh.normals[mesh.tangents.len()];
        let t = (q[1] - q[0]).normalize();
        let handedness = if n.cross(t).dot(q[0] - q[3]) < 0.0 {
            -1.0
        } else {
            1.0
        };
        mesh.tangents.extend([t.extend(handedness); 4]);
    }
    mesh.uv1 = mesh
        .uv0
        .iter()
        .map(|uv| Vec2::new(1.0 - uv.y, uv.x) * 1.5)
        .collect();
    let on_uv1 = |r: &mut Option<TextureRef>| r.as_mut().unwrap().tex_coord = 1;
    on_uv1(&mut scene.materials[0].base_color_texture);
    on_uv1(&mut scene.materials[1].normal_texture);
    on_uv1(&mut scene.materials[7].emissive_texture);
    scene.materials[6].transmission_texture = Some(TextureRef {
        texture: 2,
        tex_coord: 1,
        transform: UvTransform::default(),
    });
    scene
}

/// Albedo of the furnace's cube.
pub const FURNACE_ALBEDO: f32 = 0.5;

/// A white furnace: a Lambertian cube (convex, so it never sees itself) of albedo
/// [`FURNACE_ALBEDO`] in the neutral environment (radiance 1), seen face on, with no light.
/// Every pixel on the cube is its albedo exactly (cosine sampling's weight is the albedo), and
/// every pixel beside it the environment's 1.
pub fn furnace() -> FrameScene {
    let mut mesh = Mesh::default();
    let identity = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    cube(&mut mesh, identity, 0, false);
    FrameScene {
        camera: camera(Vec3::new(0.0, 0.0, 6.0), Vec3::ZERO, 30.0, 1.0),
        mesh,
        materials: vec![lambertian("grey", [FURNACE_ALBEDO; 3])],
        textures: Default::default(),
        lights: Vec::new(),
        environment: Some(Environment::NEUTRAL),
    }
}

/// An environment map of `width` x `height` texels given by `radiance(x, y)`.
pub fn map(
    width: u32,
    height: u32,
    strength: f32,
    rotation: f32,
    radiance: impl Fn(u32, u32) -> Vec3,
) -> Environment {
    let texels = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| radiance(x, y))
        .collect();
    Environment::Map {
        map: Arc::new(EnvironmentMap::from_radiance(width, height, texels)),
        strength,
        rotation,
    }
}

/// A flat-shaded sphere of radius 1 at the origin (convex: it never sees itself), material 0,
/// with UVs u = longitude / 2 pi (0 at +X, 0.25 at +Z, facing the camera of [`sphere_scene`]),
/// v = colatitude / pi.
fn sphere() -> Mesh {
    let mut mesh = Mesh::default();
    let (rings, segments) = (12u32, 24u32);
    let at = |(i, j): (u32, u32)| {
        let (theta, phi) = (
            i as f32 / rings as f32 * PI,
            j as f32 / segments as f32 * 2.0 * PI,
        );
        Vec3::new(
            theta.sin() * phi.cos(),
            theta.cos(),
            theta.sin() * phi.sin(),
        )
    };
    let uv = |(i, j): (u32, u32)| Vec2::new(j as f32 / segments as f32, i as f32 / rings as f32);
    for i in 0..rings {
        for j in 0..segments {
            let [a, b, c, d] = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            for corners in [[a, c, b], [a, d, c]] {
                let tri = corners.map(at);
                let n = (tri[1] - tri[0]).cross(tri[2] - tri[0]);
                if n.length() < 1e-6 {
                    continue; // the poles' degenerate halves
                }
                let base = mesh.positions.len() as u32;
                mesh.positions.extend(tri);
                mesh.uv0.extend(corners.map(uv));
                mesh.normals.extend([n.normalize(); 3]);
                mesh.triangles.push([base, base + 1, base + 2]);
                mesh.triangle_materials.push(0);
            }
        }
    }
    mesh
}

/// [`sphere`] seen whole from +Z, made of `material`, in `environment`.
fn sphere_scene(material: Material, environment: Environment) -> FrameScene {
    FrameScene {
        camera: camera(Vec3::new(0.0, 0.0, 6.0), Vec3::ZERO, 25.0, 1.0),
        mesh: sphere(),
        materials: vec![material],
        textures: Default::default(),
        lights: Vec::new(),
        environment: Some(environment),
    }
}

/// The furnace with [`sphere`] of albedo [`FURNACE_ALBEDO`] inside a uniform environment
/// *map* of radiance 1 (0.5 at strength 2), sampled by next-event estimation and weighted by
/// MIS: each pixel on it is its albedo within noise.
pub fn sphere_in_a_uniform_map() -> FrameScene {
    sphere_scene(
        lambertian("grey", [FURNACE_ALBEDO; 3]),
        map(16, 8, 2.0, 0.7, |_, _| Vec3::splat(0.5)),
    )
}

/// [`sphere`] in the neutral environment: a Lambertian base of albedo `base` under a sheen
/// (`KHR_materials_sheen`: colour and roughness) and a clear coat (`KHR_materials_clearcoat`:
/// strength and roughness).
pub fn layered_sphere(
    base: f32,
    sheen: [f32; 3],
    sheen_roughness: f32,
    coat: f32,
    coat_roughness: f32,
) -> FrameScene {
    let material = Material {
        sheen_color: sheen.into(),
        sheen_roughness,
        clearcoat: coat,
        clearcoat_roughness: coat_roughness,
        ..lambertian("layered", [base; 3])
    };
    sphere_scene(material, Environment::NEUTRAL)
}

/// [`layered_sphere`] over black with its layers' strength from textures of four columns
/// (nearest, so the sphere's right half seen from +Z reads the first, its left half the second):
/// a coat of strength 1 on the right and 0 on the left, or a white sheen on the left only.
pub fn textured_layers(coat: bool) -> FrameScene {
    let (right, left) = if coat {
        ([1.0; 4], [0.0; 4])
    } else {
        ([0.0, 0.0, 0.0, 1.0], [1.0; 4])
    };
    let mut scene = if coat {
        layered_sphere(0.0, [0.0; 3], 0.0, 1.0, 0.0)
    } else {
        layered_sphere(0.0, [1.0; 3], 0.5, 0.0, 0.0)
    };
    scene.textures = std::sync::Arc::new(vec![Texture {
        width: 4,
        height: 1,
        texels: Texels::float([right, left, left, left].into_iter(), false),
        wrap_s: Wrap::Repeat,
        wrap_t: Wrap::ClampToEdge,
        filter: Filter::Nearest,
    }]);
    let reference = Some(TextureRef {
        texture: 0,
        tex_coord: 0,
        transform: UvTransform::default(),
    });
    let m = &mut scene.materials[0];
    if coat {
        m.clearcoat_texture = reference;
    } else {
        m.sheen_color_texture = reference;
    }
    scene
}

/// [`layered_sphere`] with every layer at once, the coat rough, for same-seed comparisons.
pub fn rough_coat_over_sheen() -> FrameScene {
    layered_sphere(0.5, [0.8, 0.4, 0.2], 0.4, 0.6, 0.3)
}

/// The sun's texel in [`floor_under_a_sun`]'s 64x32 map, its radiance, and the sky's.
pub const SUN_TEXEL: (u32, u32) = (20, 10);
pub const SUN: f32 = 2000.0;
pub const SKY: f32 = 0.05;
/// Albedo of the floor under the sun.
pub const FLOOR_ALBEDO: f32 = 0.5;

/// A white floor (y = 0, wide enough to hide the lower half of the sky from the part in view)
/// under a dim sky with one bright texel, the sun, turned by `rotation`; seen from above.
pub fn floor_under_a_sun(rotation: f32) -> FrameScene {
    let mut mesh = Mesh::default();
    let floor = [
        [100.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 100.0, 0.0],
        [0.0, -100.0, 0.0, 0.0],
    ];
    rectangle(&mut mesh, floor, 0, false);
    FrameScene {
        camera: camera(Vec3::new(0.0, 2.0, 2.0), Vec3::ZERO, 30.0, 1.0),
        mesh,
        materials: vec![lambertian("floor", [FLOOR_ALBEDO; 3])],
        textures: Default::default(),
        lights: Vec::new(),
        environment: Some(map(64, 32, 1.0, rotation, |x, y| {
            Vec3::splat(if (x, y) == SUN_TEXEL { SUN } else { SKY })
        })),
    }
}

/// The radiance of [`floor_under_a_sun`]'s floor, exactly: albedo / pi times the irradiance of
/// the sky's upper half plus the sun's texel (a band of polar angle by a slice of azimuth).
pub fn floor_under_a_sun_radiance() -> f32 {
    let (w, h) = (64.0f32, 32.0f32);
    let (t0, t1) = (
        SUN_TEXEL.1 as f32 * PI / h,
        (SUN_TEXEL.1 + 1) as f32 * PI / h,
    );
    let sun_irradiance = (2.0 * PI / w) * 0.5 * (t1.sin().powi(2) - t0.sin().powi(2));
    FLOOR_ALBEDO / PI * (SKY * PI + (SUN - SKY) * sun_irradiance)
}

/// Four columns of colour, [`QUARTERS`], seen straight through a narrow camera looking along
/// the middle of the third column (from -Z a quarter of a half turn towards +X); nothing else.
pub fn sky_quarters(rotation: f32) -> FrameScene {
    let d = Vec3::new(1.0, 0.0, -1.0).normalize();
    FrameScene {
        camera: camera(Vec3::ZERO, d, 5.0, 1.0),
        mesh: Mesh::default(),
        materials: vec![lambertian("unused", [0.5; 3])],
        textures: Default::default(),
        lights: Vec::new(),
        environment: Some(map(4, 2, 1.0, rotation, |x, _| QUARTERS[x as usize].into())),
    }
}

/// The colours of [`sky_quarters`]' columns, left to right.
pub const QUARTERS: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0],
    [1.0, 1.0, 0.0],
];

/// The materials scene under [`floor_under_a_sun`]'s sky map (turned), as well as its lights.
pub fn materials_under_a_sun_map() -> FrameScene {
    FrameScene {
        environment: floor_under_a_sun(0.4).environment,
        ..materials()
    }
}

/// The materials scene lit by the neutral environment as well as its lights.
pub fn materials_in_the_environment() -> FrameScene {
    FrameScene {
        environment: Some(Environment::NEUTRAL),
        ..materials()
    }
}

/// Base colour of the unlit cube.
pub const UNLIT_COLOR: [f32; 3] = [0.25, 0.5, 0.75];

/// The furnace's cube with an unlit material, in darkness: it shows [`UNLIT_COLOR`] exactly,
/// lit by nothing.
pub fn unlit() -> FrameScene {
    let mut scene = furnace();
    scene.materials = vec![Material {
        unlit: true,
        ..lambertian("unlit", UNLIT_COLOR)
    }];
    scene.environment = None;
    scene
}

/// The furnace's cube seen through an orthographic camera 6 in front of it (its front face 5
/// away), 4 units high, with its near plane at `znear`.
pub fn orthographic(znear: f32) -> FrameScene {
    let mut scene = furnace();
    scene.camera.projection = Projection::Orthographic { ymag: 2.0 };
    scene.camera.znear = znear;
    scene
}

/// Vertex colour of the coloured unlit cube.
pub const VERTEX_COLOR: [f32; 4] = [0.5, 1.0, 0.25, 1.0];

/// The unlit cube with a `COLOR_0` of [`VERTEX_COLOR`] on every vertex: it shows
/// [`UNLIT_COLOR`] times that colour.
pub fn vertex_colored() -> FrameScene {
    let mut scene = unlit();
    scene.mesh.colors = vec![Vec4::from(VERTEX_COLOR); scene.mesh.positions.len()];
    scene
}

/// The unlit cube behind a red unlit pane of alpha `alpha` in `mode`, both lit by nothing.
pub fn behind_a_pane(mode: AlphaMode, alpha: f32) -> FrameScene {
    let mut scene = unlit();
    let pane = [
        [1.5, 0.0, 0.0, 0.0],
        [0.0, 1.5, 0.0, 0.0],
        [0.0, 0.0, 1.0, 2.0],
    ];
    rectangle(&mut scene.mesh, pane, 1, false);
    scene.materials.push(Material {
        unlit: true,
        alpha_mode: mode,
        base_color: Vec4::new(1.0, 0.0, 0.0, alpha),
        ..lambertian("pane", [1.0, 0.0, 0.0])
    });
    scene
}

/// The materials scene with its first material half see-through (BLEND, alpha 0.5): camera,
/// bounce and shadow rays all cross it.
pub fn materials_half_see_through() -> FrameScene {
    let mut scene = materials();
    scene.materials[0].alpha_mode = AlphaMode::Blend;
    scene.materials[0].base_color.w = 0.5;
    scene
}

/// Absorption of the absorbing cube per unit length: half the light per unit.
pub const HALF_PER_UNIT: f32 = std::f32::consts::LN_2;

/// The furnace's cube made of a clear solid that neither bends nor reflects light (ior 1) but
/// absorbs half of it per unit length: a ray straight through its 2 units keeps a quarter.
pub fn absorbing_cube() -> FrameScene {
    let mut scene = furnace();
    scene.materials = vec![Material {
        transmission: 1.0,
        ior: 1.0,
        roughness: 0.0,
        metallic: 0.0,
        thin_walled: false,
        absorption: Vec3::splat(HALF_PER_UNIT),
        ..lambertian("absorbing", [1.0; 3])
    }];
    scene
}

/// A mirror-like metal square facing the camera, lit by the neutral environment, whose vertex
/// normals lean 70 degrees away: reflections about them point into the square. Bent shading
/// normals keep it bright (nearly the environment's 1) where it would be black.
pub fn leaning_normals() -> FrameScene {
    let mut scene = furnace();
    scene.mesh = Mesh::default();
    let square = [
        [1.5, 0.0, 0.0, 0.0],
        [0.0, 1.5, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    rectangle(&mut scene.mesh, square, 0, false);
    let lean = 70f32.to_radians();
    let normal = Vec3::new(0.0, lean.sin(), lean.cos());
    scene.mesh.normals = vec![normal; scene.mesh.positions.len()];
    scene.materials = vec![Material {
        metallic: 1.0,
        roughness: 0.05,
        ..lambertian("mirror", [1.0; 3])
    }];
    scene
}
