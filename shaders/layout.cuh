// The GPU scene layout for the CUDA kernels: mirrors renderer/src/backend/gpu/layout.rs field
// for field (a test compares them). Every field is 4-byte aligned, so there is no padding.
#pragma once

typedef unsigned int u32;

struct BvhNode {
    float min[3];
    u32 offset;
    float max[3];
    u32 count;
};

struct BvhTriangle {
    float p0[3];
    float e1[3];
    float e2[3];
};

struct GpuVertex {
    float position[3];
    float normal[3];
    float tangent[4];
    float uv0[2];
    float uv1[2];
    float color[4];
};

struct GpuTriangle {
    u32 vertices[3];
    u32 material;
    float light_pmf;
};

struct GpuTextureRef {
    u32 texture;
    u32 tex_coord;
    float offset[2];
    float scale[2];
    float rotation[2];
};

struct GpuMaterial {
    float base_color[4];
    float emissive[3];
    float metallic;
    float roughness;
    float normal_scale;
    float transmission;
    float ior;
    float specular;
    float specular_color[3];
    u32 flags;
    GpuTextureRef base_color_texture;
    GpuTextureRef metallic_roughness_texture;
    GpuTextureRef emissive_texture;
    GpuTextureRef normal_texture;
    GpuTextureRef transmission_texture;
    float alpha_cutoff;
    float absorption[3];
    float sheen_color[3];
    float sheen_roughness;
    float clearcoat;
    float clearcoat_roughness;
    GpuTextureRef sheen_color_texture;
    GpuTextureRef sheen_roughness_texture;
    GpuTextureRef clearcoat_texture;
    GpuTextureRef clearcoat_roughness_texture;
};

struct GpuTexture {
    u32 width;
    u32 height;
    u32 first_texel;
    u32 wrap_s;
    u32 wrap_t;
    u32 filter_mode;
    u32 format;
};

struct GpuLight {
    u32 kind;
    float position[3];
    float direction[3];
    float intensity[3];
    float cos_inner;
    float cos_outer;
};

struct GpuEmitter {
    u32 triangle;
    float cdf;
};

struct GpuCamera {
    float origin[3];
    float forward[3];
    float right[3];
    float up[3];
    float inv_width;
    float inv_height;
    u32 orthographic;
    float znear;
};

struct GpuParams {
    GpuCamera camera;
    u32 tile_x;
    u32 tile_y;
    u32 tile_width;
    u32 tile_height;
    u32 frame;
    u32 seed_lo;
    u32 seed_hi;
    u32 sample_start;
    u32 sample_count;
    u32 max_depth;
    u32 punctual_lights;
    u32 emitters;
    u32 triangles;
    u32 mesh_flags;
    float environment[3];
    u32 env_texture;
    float env_rotation[2];
};

struct GpuPixel {
    float color[3];
    float hits;
    float albedo[3];
    float depth;
    float normal[3];
    float pad;
};
