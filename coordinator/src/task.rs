//! Tasks: the unit of work a job is cut into, one tile of one frame.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};
use tessera_renderer::film::{Resolution, Tile};

use crate::job::FrameSet;

/// One tile of one frame: small enough to retry cheaply, independent of every other task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    pub frame: u32,
    pub tile: Tile,
}

/// A job cut into frame x tile tasks. Kept as its two factors rather than a list because a long
/// sequence of large frames has millions of tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPlan {
    frames: FrameSet,
    resolution: Resolution,
    tiles: Vec<Tile>,
}

impl TaskPlan {
    pub fn new(frames: FrameSet, resolution: Resolution, tile_size: NonZeroU32) -> Self {
        Self {
            tiles: resolution.tiles(tile_size),
            frames,
            resolution,
        }
    }
    pub fn frames(&self) -> &FrameSet {
        &self.frames
    }
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }
    /// The tiles of every frame, in row-major order.
    pub fn tiles(&self) -> &[Tile] {
        &self.tiles
    }
    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.frames.len() * self.tiles.len()
    }
    /// Always false: a plan has at least one frame and one tile.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The tasks of `frame`, or none when the frame is not in the plan.
    pub fn frame_tasks(&self, frame: u32) -> impl Iterator<Item = Task> + '_ {
        let known = self.frames.frames().binary_search(&frame).is_ok();
        self.tiles
            .iter()
            .filter(move |_| known)
            .map(move |&tile| Task { frame, tile })
    }
    /// Every task, frame by frame.
    pub fn tasks(&self) -> impl Iterator<Item = Task> + '_ {
        self.frames
            .frames()
            .iter()
            .flat_map(|&frame| self.frame_tasks(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_covers_every_frame_and_tile_once() {
        let res = Resolution::new(100, 50).unwrap();
        let plan = TaskPlan::new("1-3,10".parse().unwrap(), res, NonZeroU32::new(32).unwrap());
        assert_eq!(plan.tiles().len(), 4 * 2);
        assert_eq!(plan.len(), 4 * 8);
        assert!(!plan.is_empty());
        let tasks: Vec<Task> = plan.tasks().collect();
        assert_eq!(tasks.len(), plan.len());
        let unique: std::collections::HashSet<Task> = tasks.iter().copied().collect();
        assert_eq!(unique.len(), tasks.len());
        assert_eq!(tasks[0].frame, 1);
        assert_eq!(tasks.last().unwrap().frame, 10);
        let pixels: usize = plan.frame_tasks(2).map(|t| t.tile.pixel_count()).sum();
        assert_eq!(pixels, res.pixel_count());
        assert_eq!(plan.frame_tasks(4).count(), 0);
    }

    #[test]
    fn tasks_serialize_for_transport() {
        let res = Resolution::new(8, 8).unwrap();
        let task = Task {
            frame: 7,
            tile: Tile::new(4, 0, 4, 8, res).unwrap(),
        };
        let json = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
    }
}
