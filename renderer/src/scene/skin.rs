//! Skins: the joints that move a skinned mesh's vertices and their inverse bind matrices. Posed
//! with the frame's world transforms, a skin gives one matrix per joint; each vertex is moved by
//! the weighted sum of its four joints' matrices (glTF's linear blend skinning).

use glam::Mat4;

use super::SceneError;
use super::document::Document;

pub struct Skin {
    /// Node index of each joint.
    joints: Vec<usize>,
    /// One per joint: from the mesh's bind space to the joint's space.
    inverse_bind: Vec<Mat4>,
}

pub fn load_skins(doc: &Document) -> Result<Vec<Skin>, SceneError> {
    let mut skins = Vec::with_capacity(doc.gltf.skins().len());
    for skin in doc.gltf.skins() {
        let joints: Vec<usize> = skin.joints().map(|j| j.index()).collect();
        let inverse_bind = match skin.inverse_bind_matrices() {
            Some(accessor) => doc
                .read_floats::<16>(&accessor, "inverseBindMatrices")?
                .iter()
                .map(Mat4::from_cols_array)
                .collect(),
            // glTF: without them, every joint's inverse bind matrix is the identity.
            None => vec![Mat4::IDENTITY; joints.len()],
        };
        if inverse_bind.len() < joints.len() {
            return Err(doc.invalid(format!(
                "skin {} has {} joints but {} inverse bind matrices",
                skin.index(),
                joints.len(),
                inverse_bind.len()
            )));
        }
        skins.push(Skin {
            joints,
            inverse_bind,
        });
    }
    Ok(skins)
}

impl Skin {
    pub fn joint_count(&self) -> usize {
        self.joints.len()
    }

    /// Each joint's matrix in this pose: from bind space to world space.
    pub fn joint_matrices(&self, world: &[Mat4]) -> Vec<Mat4> {
        self.joints
            .iter()
            .zip(&self.inverse_bind)
            .map(|(&joint, inverse_bind)| world[joint] * *inverse_bind)
            .collect()
    }
}
