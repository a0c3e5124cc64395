//! glTF cameras and which one a frame is seen through.

use glam::{Affine3A, Mat4, Vec3};
use gltf::json::camera::Type as CameraType;
use gltf::json::validation::Checked;

use super::SceneError;
use super::document::Document;
use super::node::Hierarchy;
use crate::camera::{Camera, Projection};
use crate::geometry::Aabb;
use crate::transcendental;

/// The name of the camera a scene without one is seen through.
pub const DEFAULT_VIEW: &str = "default view";

pub struct CameraDef {
    pub name: Option<String>,
    pub projection: Projection,
    pub aspect_ratio: Option<f32>,
    pub znear: f32,
}

/// Read from the JSON: the gltf crate unwraps a perspective block that validation does not
/// require to match the camera's type.
pub fn load_cameras(doc: &Document) -> Result<Vec<CameraDef>, SceneError> {
    let json = &doc.gltf.as_json().cameras;
    let mut cameras = Vec::with_capacity(json.len());
    for (index, camera) in json.iter().enumerate() {
        let near = |znear: f32| {
            if znear.is_finite() && znear >= 0.0 {
                Ok(znear)
            } else {
                Err(doc.invalid(format!("camera {index} has znear {znear}")))
            }
        };
        let (projection, aspect_ratio, znear) =
            match (&camera.type_, &camera.perspective, &camera.orthographic) {
                (Checked::Valid(CameraType::Perspective), Some(p), _) => {
                    let yfov = p.yfov;
                    if !(yfov > 0.0 && yfov < std::f32::consts::PI) {
                        return Err(doc.invalid(format!(
                            "camera {index} has yfov {yfov}, which is not between 0 and pi"
                        )));
                    }
                    (
                        Projection::Perspective { yfov },
                        // A broken aspect ratio only loses the default image shape.
                        p.aspect_ratio.filter(|a| a.is_finite() && *a > 0.0),
                        near(p.znear)?,
                    )
                }
                (Checked::Valid(CameraType::Orthographic), _, Some(o)) => {
                    let (xmag, ymag) = (o.xmag.abs(), o.ymag.abs());
                    if !(xmag.is_normal() && ymag.is_normal()) {
                        return Err(doc.invalid(format!(
                            "camera {index} has xmag {} and ymag {}: both must be non-zero",
                            o.xmag, o.ymag
                        )));
                    }
                    (
                        Projection::Orthographic { ymag },
                        Some(xmag / ymag),
                        near(o.znear)?,
                    )
                }
                _ => {
                    return Err(
                        doc.invalid(format!("camera {index} has no valid type and projection"))
                    );
                }
            };
        cameras.push(CameraDef {
            name: camera.name.clone(),
            projection,
            aspect_ratio,
            znear,
        });
    }
    Ok(cameras)
}

/// A camera node of the displayed scene, in node order.
pub struct CameraNode {
    pub node: usize,
    pub camera: usize,
    /// The camera's name, else the node's, else "camera N".
    pub label: String,
}

pub fn camera_nodes(hierarchy: &Hierarchy, cameras: &[CameraDef]) -> Vec<CameraNode> {
    let mut nodes: Vec<usize> = hierarchy
        .order
        .iter()
        .map(|&(n, _)| n)
        .filter(|&n| hierarchy.nodes[n].camera.is_some())
        .collect();
    nodes.sort_unstable();
    nodes
        .into_iter()
        .filter_map(|node| {
            let camera = hierarchy.nodes[node].camera?;
            let label = cameras
                .get(camera)
                .and_then(|c| c.name.clone())
                .or_else(|| hierarchy.nodes[node].name.clone())
                .unwrap_or_else(|| format!("camera {camera}"));
            Some(CameraNode {
                node,
                camera,
                label,
            })
        })
        .collect()
}

/// The camera named `wanted` (camera or node name), or the first one.
pub fn select(
    file: &str,
    hierarchy: &Hierarchy,
    cameras: &[CameraDef],
    world: &[Mat4],
    wanted: Option<&str>,
) -> Result<Camera, SceneError> {
    let candidates = camera_nodes(hierarchy, cameras);
    let chosen = match wanted {
        None => candidates.first(),
        Some(name) => candidates.iter().find(|c| {
            c.label == name
                || cameras.get(c.camera).and_then(|d| d.name.as_deref()) == Some(name)
                || hierarchy.nodes[c.node].name.as_deref() == Some(name)
        }),
    };
    let Some(chosen) = chosen else {
        return Err(match wanted {
            Some(name) if !candidates.is_empty() => SceneError::UnknownCamera {
                file: file.to_owned(),
                name: name.to_owned(),
                available: candidates
                    .iter()
                    .map(|c| format!("\"{}\"", c.label))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            _ => SceneError::NoCamera {
                file: file.to_owned(),
            },
        });
    };
    let def = &cameras[chosen.camera];
    let camera = Camera {
        name: chosen.label.clone(),
        to_world: Affine3A::from_mat4(world[chosen.node]),
        projection: def.projection,
        aspect_ratio: def.aspect_ratio,
        znear: def.znear,
    };
    // Checked per frame: an animation may scale the camera or a parent to zero at some times.
    if !camera.has_usable_transform() {
        return Err(SceneError::Invalid {
            file: file.to_owned(),
            detail: format!(
                "camera node {} (\"{}\") has a degenerate transform (a zero or NaN scale, \
                 or its up axis along its view)",
                chosen.node, chosen.label
            ),
        });
    }
    Ok(camera)
}

/// The camera for a scene that has none, as a viewer frames an asset: a three-quarter view from
/// the front right and above, at a 40 degree vertical field of view, far enough that the
/// bounding sphere of `positions` fits the height of the image (and so a wider image too).
/// `None` when there is nothing to frame.
pub fn framing(positions: &[Vec3]) -> Option<Camera> {
    let mut bounds = Aabb::EMPTY;
    for p in positions.iter().filter(|p| p.is_finite()) {
        bounds.grow(*p);
    }
    if bounds.min.x > bounds.max.x {
        return None;
    }
    let center = bounds.centroid();
    let radius = ((bounds.max - bounds.min).length() * 0.5).max(1e-3);
    let yfov = 40f32.to_radians();
    let distance = radius / transcendental::sin(yfov * 0.5) * 1.05;
    // glTF's front is +Z and its up +Y.
    let eye = center + Vec3::new(1.0, 0.6, 1.3).normalize() * distance;
    // glTF cameras look down their -Z axis with +Y up.
    let forward = (center - eye).normalize();
    let right = forward.cross(Vec3::Y).normalize();
    let up = right.cross(forward);
    Some(Camera {
        name: DEFAULT_VIEW.to_owned(),
        to_world: Affine3A::from_cols(right.into(), up.into(), (-forward).into(), eye.into()),
        projection: Projection::Perspective { yfov },
        aspect_ratio: None,
        znear: 0.0,
    })
}
