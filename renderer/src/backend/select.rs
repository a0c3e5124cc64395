//! Choosing a backend by name, and listing every device the backends find.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::cpu::CpuBackend;
use super::cuda::{self, CudaBackend};
use super::wgpu::{self as wgpu_backend, AdapterChoice, WgpuBackend};
use super::{Backend, DeviceInfo, RenderError};

/// `--backend`: `auto` prefers CUDA, then a hardware wgpu adapter, then the CPU; a software
/// wgpu adapter (lavapipe) is used only when `wgpu` is asked for by name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    #[default]
    Auto,
    Cpu,
    Wgpu,
    Cuda,
}

impl BackendChoice {
    pub const NAMES: [&str; 4] = ["auto", "cpu", "wgpu", "cuda"];
}

#[derive(Debug, thiserror::Error)]
#[error("unknown backend '{0}': expected one of auto, cpu, wgpu, cuda")]
pub struct UnknownBackend(String);

impl FromStr for BackendChoice {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, UnknownBackend> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            _ => Err(UnknownBackend(s.into())),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

/// Opens the chosen backend. `threads` applies to the CPU backend (all cores when `None`).
pub fn select(
    choice: BackendChoice,
    threads: Option<usize>,
) -> Result<Box<dyn Backend>, RenderError> {
    match choice {
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::new(threads)?)),
        BackendChoice::Wgpu => Ok(Box::new(WgpuBackend::new(&AdapterChoice::Any)?)),
        BackendChoice::Cuda => Ok(Box::new(CudaBackend::new(0)?)),
        BackendChoice::Auto => {
            match CudaBackend::new(0) {
                Ok(b) => return Ok(Box::new(b)),
                Err(e) => tracing::info!("auto: not using CUDA: {e}"),
            }
            match WgpuBackend::new(&AdapterChoice::Hardware) {
                Ok(b) => return Ok(Box::new(b)),
                Err(e) => tracing::info!("auto: not using wgpu: {e}"),
            }
            Ok(Box::new(CpuBackend::new(threads)?))
        }
    }
}

/// A device a backend found, or why a backend found none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceListing {
    pub backend: String,
    /// The device, when there is one.
    pub device: Option<DeviceInfo>,
    /// Details: the graphics API and "software" for wgpu adapters, or why none was found.
    pub note: String,
}

/// Every backend and every device it can use.
pub fn list_devices() -> Vec<DeviceListing> {
    let mut out = Vec::new();
    match cuda::list_devices() {
        Ok(devices) if !devices.is_empty() => {
            out.extend(devices.into_iter().map(|d| DeviceListing {
                backend: "cuda".into(),
                device: Some(d),
                note: String::new(),
            }))
        }
        Ok(_) => out.push(unavailable_listing("cuda", "no CUDA device found".into())),
        Err(e) => out.push(unavailable_listing("cuda", e.to_string())),
    }
    let adapters = wgpu_backend::list_adapters();
    if adapters.is_empty() {
        out.push(unavailable_listing(
            "wgpu",
            "no Vulkan, Metal or DX12 adapter found".into(),
        ));
    }
    out.extend(adapters.into_iter().map(|a| DeviceListing {
        backend: "wgpu".into(),
        note: if a.software {
            format!("{}, software: used only with --backend wgpu", a.api)
        } else {
            a.api
        },
        device: Some(DeviceInfo {
            backend: "wgpu".into(),
            name: a.name,
            threads: 1,
            software: a.software,
        }),
    }));
    match CpuBackend::new(None) {
        Ok(cpu) => out.push(DeviceListing {
            backend: "cpu".into(),
            device: Some(cpu.device().clone()),
            note: format!("{} threads", cpu.device().threads),
        }),
        Err(e) => out.push(unavailable_listing("cpu", e.to_string())),
    }
    out
}

fn unavailable_listing(backend: &str, note: String) -> DeviceListing {
    DeviceListing {
        backend: backend.into(),
        device: None,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in BackendChoice::NAMES {
            let choice: BackendChoice = name.parse().unwrap();
            assert_eq!(choice.to_string(), name);
        }
        assert!("opencl".parse::<BackendChoice>().is_err());
    }

    #[test]
    fn auto_always_finds_a_backend() {
        let backend = select(BackendChoice::Auto, Some(1)).expect("auto falls back to the CPU");
        assert!(["cuda", "wgpu", "cpu"].contains(&backend.device().backend.as_str()));
        if backend.device().backend == "wgpu" {
            assert!(
                !backend.device().software,
                "auto must not pick a software adapter"
            );
        }
    }

    #[test]
    fn every_backend_is_listed_with_a_device_or_a_reason() {
        let listing = list_devices();
        for backend in ["cuda", "wgpu", "cpu"] {
            let entries: Vec<_> = listing.iter().filter(|l| l.backend == backend).collect();
            assert!(!entries.is_empty(), "{backend} is missing from {listing:?}");
            for e in entries {
                assert!(
                    e.device.is_some() || !e.note.is_empty(),
                    "{e:?} says nothing"
                );
            }
        }
        let cpu = listing.iter().find(|l| l.backend == "cpu").unwrap();
        assert!(cpu.device.as_ref().unwrap().software);
    }
}
