//! Devices as the farm names and prices them: a worker reports its device with a class, the key
//! of the coordinator's price table (`cpu`, `h100`, `rtx4090`, `gpu`, ...). The renderer only
//! says what a device is; what it is worth is decided here and in the coordinator's billing.

use std::fmt;

use serde::{Deserialize, Serialize};
use tessera_renderer::backend::DeviceInfo;

/// The class of CPU workers (and of software GPUs, which run on the CPU), priced per core-hour.
pub const CPU_CLASS: &str = "cpu";

/// A worker's rendering device, as its results name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub backend: String,
    pub name: String,
    /// The price table's key.
    pub class: String,
    /// Worker threads (CPU) or 1 (GPU).
    pub threads: u32,
}

impl Device {
    /// A device the renderer opened, with its class.
    pub fn of(info: &DeviceInfo) -> Self {
        Self {
            backend: info.backend.clone(),
            name: info.name.clone(),
            class: class_of(&info.name, info.software),
            threads: info.threads,
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, class {})", self.name, self.backend, self.class)
    }
}

/// The class of a device from its name: the price table's key for the GPU models it knows,
/// `gpu` for any other hardware GPU, `cpu` for whatever runs on the CPU.
fn class_of(name: &str, software: bool) -> String {
    if software {
        return CPU_CLASS.into();
    }
    // Names come as "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "GeForce RTX 4090": compare
    // whole words, and pairs of words for models written with a space.
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let pairs = words.windows(2).map(|p| format!("{}{}", p[0], p[1]));
    let candidates: Vec<String> = words.iter().map(|w| w.to_string()).chain(pairs).collect();
    const KNOWN: [&str; 12] = [
        "h200", "h100", "a100", "a10", "l40s", "l40", "l4", "t4", "rtx4090", "rtx3090", "rtx6000",
        "v100",
    ];
    KNOWN
        .iter()
        .find(|k| candidates.iter().any(|c| c == *k))
        .map_or_else(|| "gpu".into(), |k| (*k).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_from_names() {
        assert_eq!(class_of("NVIDIA H100 80GB HBM3", false), "h100");
        assert_eq!(class_of("NVIDIA A100-SXM4-40GB", false), "a100");
        assert_eq!(class_of("NVIDIA GeForce RTX 4090", false), "rtx4090");
        assert_eq!(class_of("NVIDIA L40S", false), "l40s");
        assert_eq!(class_of("NVIDIA L4", false), "l4");
        assert_eq!(class_of("AMD Radeon RX 7900 XTX", false), "gpu");
        assert_eq!(class_of("llvmpipe (LLVM 15.0.6, 256 bits)", true), "cpu");
    }

    #[test]
    fn cpu_devices_are_of_the_cpu_class() {
        let info = DeviceInfo {
            backend: "cpu".into(),
            name: "AMD EPYC 9654".into(),
            threads: 8,
            software: true,
        };
        let device = Device::of(&info);
        assert_eq!((device.class.as_str(), device.threads), (CPU_CLASS, 8));
    }
}
