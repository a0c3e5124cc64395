//! Node animations: translation, rotation, scale and morph weight channels with STEP, LINEAR
//! and CUBICSPLINE interpolation, evaluated at a frame's time.

use glam::{Quat, Vec4};
use gltf::animation::{Interpolation, Property as GltfProperty};
use gltf::json::validation::Checked;

use super::SceneError;
use super::document::Document;
use super::node::{Local, Property};

/// What a channel animates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Transform(Property),
    /// Up to four morph weights of the node's mesh, from this index on.
    Weights {
        first: usize,
    },
}

impl Target {
    /// The glTF target path this came from.
    fn path(self) -> Checked<GltfProperty> {
        Checked::Valid(match self {
            Target::Transform(Property::Translation) => GltfProperty::Translation,
            Target::Transform(Property::Rotation) => GltfProperty::Rotation,
            Target::Transform(Property::Scale) => GltfProperty::Scale,
            Target::Weights { .. } => GltfProperty::MorphTargetWeights,
        })
    }
}

pub struct Channel {
    node: usize,
    target: Target,
    interpolation: Interpolation,
    /// Key times in seconds, non-decreasing.
    times: Vec<f32>,
    /// One value per key, or `[in tangent, value, out tangent]` per key for CUBICSPLINE.
    /// Vectors use xyz; rotations are quaternions in xyzw.
    values: Vec<Vec4>,
}

/// Every channel of every animation: all animations play together, except that a node's
/// property already driven by an earlier animation keeps it (a character's clips, like a fox's
/// survey, walk and run, drive the same joints; the first clip plays, as viewers show it).
///
/// Channels are read from the JSON: gltf-json does not validate channel targets, and the gltf
/// crate's accessors for them unwrap.
pub fn load_channels(doc: &Document) -> Result<Vec<Channel>, SceneError> {
    let mut channels: Vec<Channel> = Vec::new();
    let mut shadowed = 0usize;
    for (a, animation) in doc.gltf.as_json().animations.iter().enumerate() {
        let earlier = channels.len();
        for (c, channel) in animation.channels.iter().enumerate() {
            let where_ = format!("animation {a} channel {c}");
            let property = match channel.target.path {
                Checked::Valid(GltfProperty::Translation) => Some(Property::Translation),
                Checked::Valid(GltfProperty::Rotation) => Some(Property::Rotation),
                Checked::Valid(GltfProperty::Scale) => Some(Property::Scale),
                Checked::Valid(GltfProperty::MorphTargetWeights) => None,
                Checked::Invalid => {
                    return Err(doc.invalid(format!("{where_} has an unknown target path")));
                }
            };
            let node = channel.target.node.value();
            if node >= doc.gltf.nodes().len() {
                return Err(doc.invalid(format!(
                    "{where_} targets node {node}, which does not exist"
                )));
            }
            let sampler = animation
                .samplers
                .get(channel.sampler.value())
                .ok_or_else(|| doc.invalid(format!("{where_} has no sampler")))?;
            let path = channel.target.path;
            if channels[..earlier]
                .iter()
                .any(|e| e.node == node && e.target.path() == path)
            {
                shadowed += 1;
                continue;
            }
            match property {
                Some(property) => {
                    channels.push(load_channel(doc, &where_, sampler, property, node)?);
                }
                None => channels.extend(load_weights(doc, &where_, sampler, node)?),
            }
        }
    }
    if shadowed > 0 {
        tracing::warn!(
            "{}: {shadowed} animation channels drive what an earlier animation drives; playing the earlier",
            doc.file
        );
    }
    Ok(channels)
}

/// A morph weight channel, as channels of up to four weights each (so they interpolate as the
/// other channels' vectors do).
fn load_weights(
    doc: &Document,
    where_: &str,
    sampler: &gltf::json::animation::Sampler,
    node: usize,
) -> Result<Vec<Channel>, SceneError> {
    let (interpolation, times, output) = read_sampler(doc, where_, sampler)?;
    let flat: Vec<f32> = doc
        .read_floats::<1>(&output, "weights output")?
        .into_iter()
        .map(|[w]| w)
        .collect();
    let values = times.len() * per_key(interpolation);
    if values == 0 || !flat.len().is_multiple_of(values) {
        return Err(doc.invalid(format!(
            "{where_} has {} weights for {} key times",
            flat.len(),
            times.len()
        )));
    }
    let targets = flat.len() / values;
    Ok((0..targets.div_ceil(4))
        .map(|group| {
            let first = 4 * group;
            let values = flat
                .chunks_exact(targets)
                .map(|v| {
                    Vec4::from_array(std::array::from_fn(|i| {
                        v.get(first + i).copied().unwrap_or(0.0)
                    }))
                })
                .collect();
            Channel {
                node,
                target: Target::Weights { first },
                interpolation,
                times: times.clone(),
                values,
            }
        })
        .collect())
}

fn per_key(interpolation: Interpolation) -> usize {
    if interpolation == Interpolation::CubicSpline {
        3
    } else {
        1
    }
}

/// A sampler's interpolation, key times (checked) and output accessor.
fn read_sampler<'d>(
    doc: &'d Document,
    where_: &str,
    sampler: &gltf::json::animation::Sampler,
) -> Result<(Interpolation, Vec<f32>, gltf::Accessor<'d>), SceneError> {
    let accessor = |index: usize| {
        doc.gltf
            .accessors()
            .nth(index)
            .ok_or_else(|| doc.invalid(format!("{where_} uses missing accessor {index}")))
    };
    let interpolation = match sampler.interpolation {
        Checked::Valid(i) => i,
        Checked::Invalid => {
            return Err(doc.invalid(format!("{where_} has an unknown interpolation")));
        }
    };
    let times: Vec<f32> = doc
        .read_floats::<1>(&accessor(sampler.input.value())?, "animation input")?
        .into_iter()
        .map(|[t]| t)
        .collect();
    if times.is_empty() {
        return Err(doc.invalid(format!("{where_} has no keyframes")));
    }
    if times.windows(2).any(|w| w[1] < w[0]) {
        return Err(doc.invalid(format!("{where_} has decreasing key times")));
    }
    Ok((interpolation, times, accessor(sampler.output.value())?))
}

fn load_channel(
    doc: &Document,
    where_: &str,
    sampler: &gltf::json::animation::Sampler,
    property: Property,
    node: usize,
) -> Result<Channel, SceneError> {
    let (interpolation, times, output) = read_sampler(doc, where_, sampler)?;
    let values: Vec<Vec4> = match property {
        Property::Rotation => doc
            .read_floats::<4>(&output, "rotation output")?
            .into_iter()
            .map(Vec4::from)
            .collect(),
        Property::Translation | Property::Scale => doc
            .read_floats::<3>(&output, "animation output")?
            .into_iter()
            .map(|v| glam::Vec3::from(v).extend(0.0))
            .collect(),
    };
    let per_key = per_key(interpolation);
    if values.len() != times.len() * per_key {
        return Err(doc.invalid(format!(
            "{where_} has {} output values for {} key times ({interpolation:?} needs {})",
            values.len(),
            times.len(),
            times.len() * per_key
        )));
    }
    Ok(Channel {
        node,
        target: Target::Transform(property),
        interpolation,
        times,
        values,
    })
}

/// The latest key time of all channels: the length of the animation in seconds.
pub fn duration(channels: &[Channel]) -> f32 {
    channels
        .iter()
        .filter_map(|c| c.times.last().copied())
        .fold(0.0, f32::max)
}

/// Overrides the animated components of `pose`, and the animated morph weights of each node's
/// mesh in `weights`, with their values at `time`.
pub fn apply(channels: &[Channel], time: f32, pose: &mut [Local], weights: &mut [Vec<f32>]) {
    for channel in channels {
        match channel.target {
            Target::Transform(property) => {
                if let Some(local) = pose.get_mut(channel.node) {
                    local.set(property, channel.sample(time));
                }
            }
            Target::Weights { first } => {
                let value = channel.sample(time);
                if let Some(weights) = weights.get_mut(channel.node) {
                    for (w, v) in weights.iter_mut().skip(first).zip(value.to_array()) {
                        *w = v;
                    }
                }
            }
        }
    }
}

impl Channel {
    fn sample(&self, time: f32) -> Vec4 {
        let value = self.interpolate(time);
        if self.target == Target::Transform(Property::Rotation) {
            let q = Quat::from_vec4(value);
            let length = q.length();
            // Interpolated quaternions drift off unit length; a zero one means "no rotation".
            return if length > 1e-12 && length.is_finite() {
                Vec4::from(q / length)
            } else {
                Vec4::from(Quat::IDENTITY)
            };
        }
        value
    }

    fn key(&self, k: usize) -> Vec4 {
        match self.interpolation {
            Interpolation::CubicSpline => self.values[3 * k + 1],
            _ => self.values[k],
        }
    }

    fn interpolate(&self, time: f32) -> Vec4 {
        let last = self.times.len() - 1;
        // NaN times fall on the first key, like times before the start.
        if time.is_nan() || time <= self.times[0] {
            return self.key(0);
        }
        if time >= self.times[last] {
            return self.key(last);
        }
        // The key at or before `time`: times[k] <= time < times[k + 1].
        let k = self.times.partition_point(|&t| t <= time) - 1;
        let dt = self.times[k + 1] - self.times[k];
        if dt <= 0.0 {
            return self.key(k + 1);
        }
        let s = (time - self.times[k]) / dt;
        match self.interpolation {
            Interpolation::Step => self.key(k),
            Interpolation::Linear => match self.target {
                Target::Transform(Property::Rotation) => {
                    let a = Quat::from_vec4(self.key(k)).normalize();
                    let b = Quat::from_vec4(self.key(k + 1)).normalize();
                    Vec4::from(a.slerp(b, s))
                }
                _ => self.key(k).lerp(self.key(k + 1), s),
            },
            Interpolation::CubicSpline => {
                // glTF 2.0 spec, appendix C: Hermite spline with tangents scaled by dt.
                let v0 = self.values[3 * k + 1];
                let out0 = self.values[3 * k + 2];
                let in1 = self.values[3 * (k + 1)];
                let v1 = self.values[3 * (k + 1) + 1];
                let (s2, s3) = (s * s, s * s * s);
                v0 * (2.0 * s3 - 3.0 * s2 + 1.0)
                    + out0 * (dt * (s3 - 2.0 * s2 + s))
                    + v1 * (-2.0 * s3 + 3.0 * s2)
                    + in1 * (dt * (s3 - s2))
            }
        }
    }
}
