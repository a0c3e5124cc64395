//! The task plan: a job cut into tasks, one tile of one frame each.

use std::num::NonZeroU32;

use tessera_protocol::job::FrameSet;
use tessera_renderer::film::{Resolution, Tile};

/// One tile of one frame: small enough to retry cheaply, independent of every other task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    pub frame: u32,
    pub tile: Tile,
}

/// A job cut into frame x tile tasks. Kept as its two factors rather than a list because a long
/// sequence of large frames has millions of tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskPlan {
    frames: FrameSet,
    /// The tiles of every frame, in row-major order.
    tiles: Vec<Tile>,
}

impl TaskPlan {
    pub fn new(frames: FrameSet, resolution: Resolution, tile_size: NonZeroU32) -> Self {
        Self {
            tiles: resolution.tiles(tile_size),
            frames,
        }
    }
    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.frames.len() * self.tiles.len()
    }
    /// Always false: a plan has at least one frame and one tile.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every task, frame by frame.
    pub fn tasks(&self) -> impl Iterator<Item = Task> + '_ {
        self.frames
            .frames()
            .iter()
            .flat_map(|&frame| self.tiles.iter().map(move |&tile| Task { frame, tile }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_covers_every_frame_and_tile_once() {
        let res = Resolution::new(100, 50).unwrap();
        let plan = TaskPlan::new("1-3,10".parse().unwrap(), res, NonZeroU32::new(32).unwrap());
        assert_eq!(plan.len(), 4 * 8);
        assert!(!plan.is_empty());
        let tasks: Vec<Task> = plan.tasks().collect();
        assert_eq!(tasks.len(), plan.len());
        let unique: std::collections::HashSet<Task> = tasks.iter().copied().collect();
        assert_eq!(unique.len(), tasks.len());
        assert_eq!(tasks[0].frame, 1);
        assert_eq!(tasks.last().unwrap().frame, 10);
        let frame_2 = tasks.iter().filter(|t| t.frame == 2);
        assert_eq!(
            frame_2.map(|t| t.tile.pixel_count()).sum::<usize>(),
            res.pixel_count()
        );
        assert!(tasks.iter().all(|t| [1, 2, 3, 10].contains(&t.frame)));
    }
}
