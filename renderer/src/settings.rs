//! Render settings: how a job renders every tile. [`Spp`] and [`MaxDepth`] check their range
//! when made or deserialised, so no backend sees zero or an absurd value.

use std::fmt;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

/// Largest accepted samples per pixel: beyond this a typo would run for days.
pub const MAX_SPP: u32 = 1 << 20;
/// Largest accepted path depth.
pub const MAX_DEPTH: u32 = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("samples per pixel must be between 1 and {MAX_SPP}, got {0}")]
    BadSpp(u32),
    #[error("max depth must be between 1 and {MAX_DEPTH}, got {0}")]
    BadMaxDepth(u32),
}

/// Samples per pixel, within `1..=MAX_SPP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Spp(NonZeroU32);

impl Spp {
    pub fn new(n: u32) -> Result<Self, SettingsError> {
        match NonZeroU32::new(n) {
            Some(v) if n <= MAX_SPP => Ok(Self(v)),
            _ => Err(SettingsError::BadSpp(n)),
        }
    }
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u32> for Spp {
    type Error = SettingsError;
    fn try_from(n: u32) -> Result<Self, SettingsError> {
        Self::new(n)
    }
}
impl From<Spp> for u32 {
    fn from(s: Spp) -> u32 {
        s.get()
    }
}
impl fmt::Display for Spp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Maximum path length in segments, with Mitsuba's meaning: 1 shows only emitters seen
/// directly, 2 adds direct lighting, and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MaxDepth(u32);

impl MaxDepth {
    pub fn new(n: u32) -> Result<Self, SettingsError> {
        if (1..=MAX_DEPTH).contains(&n) {
            Ok(Self(n))
        } else {
            Err(SettingsError::BadMaxDepth(n))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for MaxDepth {
    type Error = SettingsError;
    fn try_from(n: u32) -> Result<Self, SettingsError> {
        Self::new(n)
    }
}
impl From<MaxDepth> for u32 {
    fn from(d: MaxDepth) -> u32 {
        d.0
    }
}

/// How to render: the same for every tile of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RenderSettings {
    pub spp: Spp,
    pub max_depth: MaxDepth,
    pub seed: u64,
}
