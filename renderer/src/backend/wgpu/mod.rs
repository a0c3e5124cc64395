//! The wgpu backend: the path tracer as a WGSL compute shader on any Vulkan, Metal or DX12
//! adapter, lavapipe included.

mod bindings;
mod frame;

use std::sync::Arc;

use super::{Backend, DeviceInfo, PreparedFrame, RenderError};
use crate::scene::FrameScene;

/// Which adapter to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterChoice {
    /// The first hardware adapter (discrete before integrated); never a software one.
    Hardware,
    /// A hardware adapter when there is one, else a software one such as lavapipe.
    Any,
    /// The first adapter whose name contains this (case-insensitive), software ones included.
    Named(String),
}

/// An adapter wgpu found, for listings.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub api: String,
    pub software: bool,
}

pub struct WgpuBackend {
    info: DeviceInfo,
    device: ::wgpu::Device,
    queue: ::wgpu::Queue,
    limits: ::wgpu::Limits,
    /// The most bytes one storage binding may hold on this adapter.
    max_binding: u64,
    /// The most bytes one binding of a split array (nodes, triangles, vertices, texels) holds.
    split_binding: u64,
}

fn unavailable(reason: impl Into<String>) -> RenderError {
    RenderError::Unavailable {
        backend: "wgpu".into(),
        reason: reason.into(),
    }
}

fn instance() -> ::wgpu::Instance {
    ::wgpu::Instance::new(::wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn is_software(info: &::wgpu::AdapterInfo) -> bool {
    info.device_type == ::wgpu::DeviceType::Cpu
}

/// Hardware adapters first (discrete, integrated, virtual), software last.
fn rank(info: &::wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        ::wgpu::DeviceType::DiscreteGpu => 0,
        ::wgpu::DeviceType::IntegratedGpu => 1,
        ::wgpu::DeviceType::VirtualGpu => 2,
        ::wgpu::DeviceType::Other => 3,
        ::wgpu::DeviceType::Cpu => 4,
    }
}

fn adapters() -> Vec<::wgpu::Adapter> {
    let mut found = pollster::block_on(instance().enumerate_adapters(::wgpu::Backends::all()))
        .into_iter()
        .filter(|a| a.get_info().backend != ::wgpu::Backend::Gl)
        .collect::<Vec<_>>();
    found.sort_by_key(|a| rank(&a.get_info()));
    found
}

/// Every adapter wgpu can use here.
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters()
        .iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                software: is_software(&info),
                api: format!("{:?}", info.backend).to_lowercase(),
                name: info.name,
            }
        })
        .collect()
}

impl WgpuBackend {
    pub fn new(choice: &AdapterChoice) -> Result<Self, RenderError> {
        let all = adapters();
        if all.is_empty() {
            return Err(unavailable(
                "no Vulkan, Metal or DX12 adapter found (on Linux without a GPU, install \
                 Mesa's lavapipe: apt-get install mesa-vulkan-drivers)",
            ));
        }
        let names = || {
            all.iter()
                .map(|a| a.get_info().name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let adapter = match choice {
            AdapterChoice::Hardware => all.iter().find(|a| !is_software(&a.get_info())),
            AdapterChoice::Any => all.first(),
            AdapterChoice::Named(want) => {
                let want = want.to_lowercase();
                all.iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&want))
            }
        };
        let Some(adapter) = adapter else {
            return Err(unavailable(match choice {
                AdapterChoice::Named(want) => {
                    format!("no adapter named like '{want}' (found: {})", names())
                }
                _ => format!("no hardware GPU adapter (found only: {})", names()),
            }));
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let (device, queue) =
            pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor {
                label: Some("tessera"),
                required_limits: limits.clone(),
                ..Default::default()
            }))
            .map_err(|e| unavailable(format!("{}: cannot open the device: {e}", info.name)))?;
        // Errors are collected with error scopes where they happen; anything else is logged
        // rather than wgpu's default panic.
        device.on_uncaptured_error(Arc::new(|e| tracing::error!("wgpu: {e}")));
        let software = is_software(&info);
        tracing::info!(adapter = %info.name, api = ?info.backend, software, "wgpu device opened");
        Ok(Self {
            info: DeviceInfo {
                backend: "wgpu".into(),
                name: info.name,
                threads: 1,
                software,
            },
            device,
            queue,
            max_binding,
            split_binding: max_binding,
            limits,
        })
    }

    /// Splits the scene's big arrays (nodes, triangles, vertices, texels) into bindings of at
    /// most `bytes`, below what the adapter allows: how tests send small scenes down the path
    /// that scenes too big for one binding take.
    pub fn with_split_binding(mut self, bytes: u64) -> Self {
        self.split_binding = self.split_binding.min(bytes.max(1));
        self
    }
}

impl Backend for WgpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn prepare<'a>(
        &'a self,
        scene: &'a FrameScene,
    ) -> Result<Box<dyn PreparedFrame + 'a>, RenderError> {
        Ok(Box::new(frame::WgpuFrame::new(self, scene)?))
    }
}
