//! Tessera's renderer: glTF 2.0 scenes, a BVH, and a physically based path tracer with
//! interchangeable backends. It knows nothing of queues, jobs or money.
//!
//! One tile's way through this crate: [`scene::Scene::load`] reads the file,
//! [`scene::Scene::frame`] flattens it into a world-space [`scene::FrameScene`] at the frame's
//! time, a [`backend::Backend`] prepares that frame (building the [`bvh::Bvh`]) and renders
//! [`film::Tile`]s of it with the [`integrator`], and [`output`] writes the assembled
//! [`film::FrameImage`] as EXR or PNG.

pub mod backend;
pub mod bsdf;
pub mod bvh;
pub mod camera;
pub mod environment;
pub mod estimate;
pub mod film;
pub mod geometry;
pub mod integrator;
pub(crate) mod lane;
pub mod light;
pub mod material;
pub mod output;
pub mod sampler;
pub mod scene;
pub mod settings;
pub mod shading;
pub mod texture;
pub mod transcendental;
