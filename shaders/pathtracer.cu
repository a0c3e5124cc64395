// Tessera's path tracer as a CUDA kernel, compiled at run time with NVRTC: the same estimator
// as the CPU backend and shaders/pathtracer.wgsl, step for step and random number for random
// number. The backend prepends layout.cuh (the structs mirroring the Rust layout).

#define FAR 3.0e38f
#define PI_F 3.14159265358979f
#define FRAC_1_PI_F 0.318309886183791f
#define DELTA_ALPHA 1e-3f
#define RR_DEPTH 5u
#define SHADOW_EPSILON 1e-3f
// The most one sample adds to its pixel (integrator::MAX_SAMPLE).
#define MAX_SAMPLE 1e30f
#define ONE_MINUS_EPSILON 0.99999988f
#define NO_TEXTURE 0xffffffffu
#define NO_HIT 0xffffffffu
#define MATERIAL_THIN_WALLED 1u
#define MATERIAL_UNLIT 2u
#define MATERIAL_MASK 4u
#define MATERIAL_BLEND 8u
#define LIGHT_SPOT 1u
#define LIGHT_DIRECTIONAL 2u
#define MESH_HAS_TANGENTS 1u
#define MESH_HAS_UV0 2u
#define MESH_HAS_UV1 4u
#define MESH_HAS_COLORS 8u
#define MESH_SEE_THROUGH 16u
// As integrator.rs: crossings of see-through surfaces per ray, decided by one rotated number.
#define MAX_CROSSINGS 16u
#define GOLDEN 0.618034f
#define STACK_SIZE 64
#define DRAWS_PER_BOUNCE 7
#define COAT_F0 0.04f
#define SHEEN_MIN_ROUGHNESS 0.1f

struct V2 { float x, y; };
struct V3 { float x, y, z; };
struct V4 { float x, y, z, w; };

__device__ inline V2 v2(float x, float y) { V2 r = {x, y}; return r; }
__device__ inline V3 v3(float x, float y, float z) { V3 r = {x, y, z}; return r; }
__device__ inline V3 v3s(float s) { return v3(s, s, s); }
__device__ inline V3 v3a(const float* a) { return v3(a[0], a[1], a[2]); }
__device__ inline V2 v2a(const float* a) { return v2(a[0], a[1]); }
__device__ inline V4 v4(float x, float y, float z, float w) { V4 r = {x, y, z, w}; return r; }
__device__ inline V4 v4a(const float* a) { return v4(a[0], a[1], a[2], a[3]); }
__device__ inline V3 xyz(V4 a) { return v3(a.x, a.y, a.z); }
__device__ inline V3 operator+(V3 a, V3 b) { return v3(a.x + b.x, a.y + b.y, a.z + b.z); }
__device__ inline V3 operator-(V3 a, V3 b) { return v3(a.x - b.x, a.y - b.y, a.z - b.z); }
__device__ inline V3 operator*(V3 a, V3 b) { return v3(a.x * b.x, a.y * b.y, a.z * b.z); }
__device__ inline V3 operator*(V3 a, float s) { return v3(a.x * s, a.y * s, a.z * s); }
__device__ inline V3 operator/(V3 a, float s) { return v3(a.x / s, a.y / s, a.z / s); }
__device__ inline V3 operator/(V3 a, V3 b) { return v3(a.x / b.x, a.y / b.y, a.z / b.z); }
__device__ inline V3 operator-(V3 a) { return v3(-a.x, -a.y, -a.z); }
__device__ inline V2 operator+(V2 a, V2 b) { return v2(a.x + b.x, a.y + b.y); }
__device__ inline V2 operator-(V2 a, V2 b) { return v2(a.x - b.x, a.y - b.y); }
__device__ inline V2 operator*(V2 a, float s) { return v2(a.x * s, a.y * s); }
__device__ inline V2 operator*(V2 a, V2 b) { return v2(a.x * b.x, a.y * b.y); }
__device__ inline V4 operator+(V4 a, V4 b) { return v4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w); }
__device__ inline V4 operator*(V4 a, float s) { return v4(a.x * s, a.y * s, a.z * s, a.w * s); }
__device__ inline V4 operator*(V4 a, V4 b) { return v4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w); }
__device__ inline float dot(V3 a, V3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
__device__ inline V3 cross(V3 a, V3 b) {
    return v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
__device__ inline float length(V3 a) { return sqrtf(dot(a, a)); }
__device__ inline V3 normalize(V3 a) { return a * (1.0f / length(a)); }
__device__ inline V3 vmin(V3 a, V3 b) { return v3(fminf(a.x, b.x), fminf(a.y, b.y), fminf(a.z, b.z)); }
__device__ inline V3 vmax(V3 a, V3 b) { return v3(fmaxf(a.x, b.x), fmaxf(a.y, b.y), fmaxf(a.z, b.z)); }
__device__ inline V3 vabs(V3 a) { return v3(fabsf(a.x), fabsf(a.y), fabsf(a.z)); }
__device__ inline float max3(V3 v) { return fmaxf(v.x, fmaxf(v.y, v.z)); }
__device__ inline bool is_zero(V3 v) { return v.x == 0.0f && v.y == 0.0f && v.z == 0.0f; }
__device__ inline bool finite3(V3 v) { return isfinite(v.x) && isfinite(v.y) && isfinite(v.z); }
__device__ inline V4 lerp4(V4 a, V4 b, float t) { return a + (v4(b.x - a.x, b.y - a.y, b.z - a.z, b.w - a.w) * t); }
__device__ inline float signum(float x) { return x < 0.0f ? -1.0f : 1.0f; }

// glam's normalize_or: the fallback when the length's reciprocal is not finite and positive.
__device__ inline V3 normalize_or(V3 v, V3 fallback) {
    float r = 1.0f / length(v);
    return (isfinite(r) && r > 0.0f) ? v * r : fallback;
}

__device__ inline float power_heuristic(float a, float b) {
    float a2 = a * a, b2 = b * b;
    return a2 + b2 == 0.0f ? 0.0f : a2 / (a2 + b2);
}

struct Scene {
    const GpuParams* params;
    const GpuMaterial* materials;
    const GpuTexture* textures;
    const GpuLight* lights;
    const GpuEmitter* emitters;
    const BvhNode* nodes;
    const BvhTriangle* triangles;
    const GpuTriangle* triangle_data;
    const GpuVertex* vertices;
    const float4* texels;
    const u32* texels8;
};

// ---- random numbers (sampler.rs) ----

__device__ inline u32 hash(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

struct Rng { u32 state, inc; };

__device__ inline u32 rng_next(Rng& r) {
    u32 old = r.state;
    r.state = old * 747796405u + r.inc;
    u32 word = ((old >> ((old >> 28) + 4u)) ^ old) * 277803737u;
    return (word >> 22) ^ word;
}

__device__ inline float rng_f32(Rng& r) { return (float)(rng_next(r) >> 8) * (1.0f / 16777216.0f); }

__device__ Rng rng_new(const GpuParams& p, u32 x, u32 y, u32 s) {
    u32 h = hash(p.seed_lo ^ 0x9e3779b9u);
    h = hash(h ^ p.seed_hi);
    h = hash(h ^ p.frame);
    h = hash(h ^ x);
    h = hash(h ^ y);
    Rng r;
    r.state = hash(h ^ s);
    r.inc = (hash(r.state ^ 0x85ebca6bu) << 1) | 1u;
    rng_next(r);
    return r;
}

// ---- ray casting (geometry.rs, bvh.rs) ----

// (t, u, v) of a hit with t_min < t < t_max, or t = -1.
__device__ V3 intersect_triangle(V3 o, V3 d, const BvhTriangle& tri, float t_min, float t_max) {
    V3 miss = v3(-1.0f, 0.0f, 0.0f);
    V3 e1 = v3a(tri.e1), e2 = v3a(tri.e2);
    V3 pvec = cross(d, e2);
    float det = dot(e1, pvec);
    if (fabsf(det) < 1e-12f) return miss;
    float inv_det = 1.0f / det;
    V3 tvec = o - v3a(tri.p0);
    float u = dot(tvec, pvec) * inv_det;
    if (!(u >= 0.0f && u <= 1.0f)) return miss;
    V3 qvec = cross(tvec, e1);
    float v = dot(d, qvec) * inv_det;
    if (v < 0.0f || u + v > 1.0f) return miss;
    float t = dot(e2, qvec) * inv_det;
    return (t > t_min && t < t_max) ? v3(t, u, v) : miss;
}

__device__ inline float slab(const BvhNode& n, V3 o, V3 inv_dir, float t_max) {
    V3 t0 = (v3a(n.min) - o) * inv_dir;
    V3 t1 = (v3a(n.max) - o) * inv_dir;
    V3 tn = vmin(t0, t1), tf = vmax(t0, t1);
    float near_t = fmaxf(max3(tn), 0.0f);
    float far_t = fminf(fminf(tf.x, fminf(tf.y, tf.z)), t_max);
    return near_t <= far_t ? near_t : -1.0f;
}

struct Hit { float t, u, v; u32 triangle; };

// Hits closer than this fraction of their distance tie; the lower leaf-order index wins
// (bvh.rs, TIE_WINDOW).
#define TIE_WINDOW 1e-5f

__device__ Hit intersect(const Scene& s, V3 o, V3 d) {
    Hit best = {FAR, 0.0f, 0.0f, NO_HIT};
    if (s.params->triangles == 0u) return best;
    // How far a hit may lie and still be taken: FAR, then the end of the best hit's tie window.
    float reach = FAR;
    V3 inv_dir = v3(1.0f / d.x, 1.0f / d.y, 1.0f / d.z);
    u32 stack[STACK_SIZE];
    u32 sp = 0;
    if (slab(s.nodes[0], o, inv_dir, reach) < 0.0f) return best;
    u32 node = 0;
    for (;;) {
        const BvhNode n = s.nodes[node];
        if (n.count > 0u) {
            for (u32 i = n.offset; i < n.offset + n.count; i++) {
                V3 h = intersect_triangle(o, d, s.triangles[i], 0.0f, reach);
                if (h.x >= 0.0f && (best.triangle == NO_HIT
                        || h.x < best.t - best.t * TIE_WINDOW || i < best.triangle)) {
                    reach = fminf(FAR, h.x + h.x * TIE_WINDOW);
                    best.t = h.x; best.u = h.y; best.v = h.z; best.triangle = i;
                }
            }
        } else {
            u32 l = node + 1u, r = n.offset;
            float tl = slab(s.nodes[l], o, inv_dir, reach);
            float tr = slab(s.nodes[r], o, inv_dir, reach);
            if (tl >= 0.0f && tr >= 0.0f) {
                if (tl <= tr) { stack[sp] = r; node = l; } else { stack[sp] = l; node = r; }
                sp++;
                continue;
            }
            if (tl >= 0.0f) { node = l; continue; }
            if (tr >= 0.0f) { node = r; continue; }
        }
        // Pop, skipping subtrees that start beyond the closest hit found since the push.
        bool popped = false;
        while (sp > 0u) {
            sp--;
            u32 c = stack[sp];
            if (slab(s.nodes[c], o, inv_dir, reach) >= 0.0f) { node = c; popped = true; break; }
        }
        if (!popped) break;
    }
    return best;
}

__device__ bool occluded(const Scene& s, V3 o, V3 d, float t_max) {
    if (s.params->triangles == 0u) return false;
    V3 inv_dir = v3(1.0f / d.x, 1.0f / d.y, 1.0f / d.z);
    u32 stack[STACK_SIZE];
    u32 sp = 0;
    if (slab(s.nodes[0], o, inv_dir, t_max) < 0.0f) return false;
    u32 node = 0;
    for (;;) {
        const BvhNode n = s.nodes[node];
        if (n.count > 0u) {
            for (u32 i = n.offset; i < n.offset + n.count; i++) {
                if (intersect_triangle(o, d, s.triangles[i], 0.0f, t_max).x >= 0.0f) return true;
            }
        } else {
            u32 l = node + 1u, r = n.offset;
            bool hl = slab(s.nodes[l], o, inv_dir, t_max) >= 0.0f;
            bool hr = slab(s.nodes[r], o, inv_dir, t_max) >= 0.0f;
            if (hl && hr) { stack[sp++] = r; node = l; continue; }
            if (hl) { node = l; continue; }
            if (hr) { node = r; continue; }
        }
        if (sp == 0u) return false;
        node = stack[--sp];
    }
}

// ---- textures (texture.rs) ----

__device__ inline u32 wrap_index(long long i, long long n, u32 mode) {
    if (mode == 1u) return (u32)(i < 0 ? 0 : (i > n - 1 ? n - 1 : i));
    if (mode == 2u) {
        long long m = ((i % (2 * n)) + 2 * n) % (2 * n);
        return (u32)(m < n ? m : 2 * n - 1 - m);
    }
    return (u32)(((i % n) + n) % n);
}

// NaN or huge coordinates land on texel 0, as on the CPU.
__device__ inline long long texel_coord(float f) {
    float fl = floorf(f);
    return fabsf(fl) < 1.0e12f ? (long long)fl : 0;
}

#define TEXEL_FLOAT 0u
#define TEXEL_SRGB8 2u

__device__ inline float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

// A texel in linear RGBA: floats as they are, 8-bit texels decoded (texture::Texels::get).
__device__ inline V4 texel(const Scene& s, const GpuTexture& t, u32 x, u32 y) {
    u32 i = t.first_texel + y * t.width + x;
    if (t.format == TEXEL_FLOAT) {
        float4 v = s.texels[i];
        return v4(v.x, v.y, v.z, v.w);
    }
    u32 p = s.texels8[i];
    V4 c = v4((float)(p & 255u) / 255.0f, (float)((p >> 8) & 255u) / 255.0f,
              (float)((p >> 16) & 255u) / 255.0f, (float)(p >> 24) / 255.0f);
    if (t.format == TEXEL_SRGB8) c = v4(srgb_to_linear(c.x), srgb_to_linear(c.y), srgb_to_linear(c.z), c.w);
    return c;
}

__device__ V4 sample_texture(const Scene& s, u32 index, V2 uv) {
    const GpuTexture t = s.textures[index];
    long long w = t.width, h = t.height;
    if (t.filter_mode == 0u) {
        u32 x = wrap_index(texel_coord(uv.x * (float)w), w, t.wrap_s);
        u32 y = wrap_index(texel_coord(uv.y * (float)h), h, t.wrap_t);
        return texel(s, t, x, y);
    }
    float fx = uv.x * (float)w - 0.5f, fy = uv.y * (float)h - 0.5f;
    float x0 = floorf(fx), y0 = floorf(fy);
    float tx = fx - x0, ty = fy - y0;
    long long ix = texel_coord(x0), iy = texel_coord(y0);
    u32 xa = wrap_index(ix, w, t.wrap_s), xb = wrap_index(ix + 1, w, t.wrap_s);
    u32 ya = wrap_index(iy, h, t.wrap_t), yb = wrap_index(iy + 1, h, t.wrap_t);
    V4 top = lerp4(texel(s, t, xa, ya), texel(s, t, xb, ya), tx);
    V4 bottom = lerp4(texel(s, t, xa, yb), texel(s, t, xb, yb), tx);
    return lerp4(top, bottom, ty);
}

__device__ inline V2 apply_transform(const GpuTextureRef& r, V2 uv) {
    V2 sc = uv * v2a(r.scale);
    float c = r.rotation[0], sn = r.rotation[1];
    return v2(c * sc.x + sn * sc.y, -sn * sc.x + c * sc.y) + v2a(r.offset);
}

// ---- BSDF (bsdf.rs) ----

struct Bsdf {
    V3 t, b, n, ng, base_color;
    float specular, ior;
    bool thin_walled;
    float alpha;
    V3 layer_f0;
    float w_metal, w_plastic, w_dielectric;
    bool lambertian;
    float coat, coat_alpha;
    V3 sheen;
    float sheen_roughness;
};

struct BsdfSample { bool ok; V3 wi, weight; float pdf; bool delta; float eta; };

__device__ inline BsdfSample no_sample() {
    BsdfSample s = {false, v3s(0.0f), v3s(0.0f), 0.0f, false, 1.0f};
    return s;
}

__device__ Bsdf bsdf_new(V3 base_color, float metallic, float roughness, float specular,
                         V3 specular_color, float transmission, float ior, bool thin_walled,
                         V3 sheen_color, float sheen_roughness, float clearcoat,
                         float clearcoat_roughness, V3 ns, V3 ng) {
    Bsdf f;
    f.alpha = fmaxf(roughness * roughness, 0.0f);
    metallic = fminf(fmaxf(metallic, 0.0f), 1.0f);
    transmission = fminf(fmaxf(transmission, 0.0f), 1.0f);
    float f0r = (ior - 1.0f) / (ior + 1.0f);
    f.layer_f0 = vmin(specular_color * (f0r * f0r), v3s(1.0f));
    f.w_metal = metallic;
    f.w_plastic = (1.0f - metallic) * (1.0f - transmission);
    f.w_dielectric = (1.0f - metallic) * transmission;
    f.coat = fminf(fmaxf(clearcoat, 0.0f), 1.0f);
    f.coat_alpha = fmaxf(clearcoat_roughness * clearcoat_roughness, 0.0f);
    f.sheen = vmin(vmax(sheen_color, v3s(0.0f)), v3s(1.0f));
    f.sheen_roughness = fminf(fmaxf(sheen_roughness, SHEEN_MIN_ROUGHNESS), 1.0f);
    f.lambertian = f.w_metal == 0.0f && f.w_dielectric == 0.0f && specular <= 0.0f
        && f.coat == 0.0f && is_zero(f.sheen);
    // Duff et al.'s branchless basis; copysign keeps negative zero negative, as on the CPU.
    float sgn = copysignf(1.0f, ns.z);
    float a = -1.0f / (sgn + ns.z);
    float bb = ns.x * ns.y * a;
    f.t = v3(1.0f + sgn * ns.x * ns.x * a, sgn * bb, -sgn * ns.x);
    f.b = v3(bb, sgn + ns.y * ns.y * a, -ns.y);
    f.n = ns;
    f.ng = ng;
    f.base_color = base_color;
    f.specular = specular;
    f.ior = ior;
    f.thin_walled = thin_walled;
    return f;
}

__device__ inline V3 to_local(const Bsdf& f, V3 v) { return v3(dot(v, f.t), dot(v, f.b), dot(v, f.n)); }
__device__ inline V3 to_world(const Bsdf& f, V3 v) { return f.t * v.x + f.b * v.y + f.n * v.z; }
__device__ inline bool smooth_surface(const Bsdf& f) { return f.alpha < DELTA_ALPHA; }
__device__ inline bool smooth_coat(const Bsdf& f) { return f.coat_alpha < DELTA_ALPHA; }
__device__ inline bool has_sheen(const Bsdf& f) { return !is_zero(f.sheen); }
__device__ inline bool has_non_delta(const Bsdf& f) {
    return f.w_plastic > 0.0f || !smooth_surface(f) || has_sheen(f) || (f.coat > 0.0f && !smooth_coat(f));
}

// ---- sheen and coat (bsdf.rs, bsdf/sheen.rs) ----

// bsdf/sheen.rs's ALBEDO: rows roughness 0.1 to 1, columns cos_o 0 to 1, 8 steps each.
__device__ const float SHEEN_ALBEDO[81] = {
    1.0f, 0.3733f, 0.0667f, 0.0091f, 0.0008f, 0.0f, 0.0f, 0.0f, 0.0f,
    0.8843f, 0.4715f, 0.2163f, 0.0968f, 0.0398f, 0.0142f, 0.0040f, 0.0007f, 0.0f,
    0.7060f, 0.4793f, 0.2864f, 0.1723f, 0.1003f, 0.0553f, 0.0275f, 0.0108f, 0.0020f,
    0.6440f, 0.4985f, 0.3383f, 0.2326f, 0.1575f, 0.1040f, 0.0652f, 0.0360f, 0.0142f,
    0.6364f, 0.5333f, 0.3902f, 0.2883f, 0.2116f, 0.1537f, 0.1086f, 0.0713f, 0.0397f,
    0.6566f, 0.5762f, 0.4429f, 0.3413f, 0.2625f, 0.2015f, 0.1526f, 0.1106f, 0.0733f,
    0.6861f, 0.6167f, 0.4900f, 0.3880f, 0.3071f, 0.2439f, 0.1928f, 0.1484f, 0.1085f,
    0.7071f, 0.6431f, 0.5223f, 0.4218f, 0.3404f, 0.2766f, 0.2251f, 0.1801f, 0.1400f,
    0.7007f, 0.6432f, 0.5300f, 0.4346f, 0.3563f, 0.2950f, 0.2455f, 0.2023f, 0.1638f,
};

__device__ inline float schlick_scalar(float f0, float cos_theta) {
    float x = 1.0f - fminf(fmaxf(cos_theta, 0.0f), 1.0f);
    float m = x * x * x * x * x;
    return f0 + (1.0f - f0) * m;
}

__device__ float sheen_table(float cos_o, float roughness) {
    float r = fminf(fmaxf((roughness - SHEEN_MIN_ROUGHNESS) / (1.0f - SHEEN_MIN_ROUGHNESS), 0.0f), 1.0f) * 8.0f;
    float c = fminf(fmaxf(cos_o, 0.0f), 1.0f) * 8.0f;
    u32 ri = min((u32)r, 7u), ci = min((u32)c, 7u);
    float rf = r - (float)ri, cf = c - (float)ci;
    float lo = SHEEN_ALBEDO[ri * 9u + ci] * (1.0f - cf) + SHEEN_ALBEDO[ri * 9u + ci + 1u] * cf;
    float hi = SHEEN_ALBEDO[(ri + 1u) * 9u + ci] * (1.0f - cf) + SHEEN_ALBEDO[(ri + 1u) * 9u + ci + 1u] * cf;
    return lo * (1.0f - rf) + hi * rf;
}

__device__ inline float d_charlie(float cos_h, float roughness) {
    float inv = 1.0f / (roughness * roughness);
    float sin2 = fmaxf(1.0f - cos_h * cos_h, 0.0f);
    return (2.0f + inv) * powf(sin2, 0.5f * inv) / (2.0f * PI_F);
}

__device__ inline float sheen_lambda_helper(float x, float alpha) {
    float t = (1.0f - alpha) * (1.0f - alpha);
    float a = 21.5473f + (25.3245f - 21.5473f) * t;
    float b = 3.82987f + (3.32435f - 3.82987f) * t;
    float c = 0.19823f + (0.16801f - 0.19823f) * t;
    float d = -1.97760f + (-1.27393f - -1.97760f) * t;
    float e = -4.32054f + (-4.85967f - -4.32054f) * t;
    return a / (1.0f + b * powf(x, c)) + d * x + e;
}

__device__ inline float sheen_lambda(float cos_theta, float alpha) {
    if (cos_theta < 0.5f) return expf(sheen_lambda_helper(cos_theta, alpha));
    return expf(2.0f * sheen_lambda_helper(0.5f, alpha) - sheen_lambda_helper(1.0f - cos_theta, alpha));
}

__device__ inline float sheen_visibility(float cos_o, float cos_i, float roughness) {
    float alpha = roughness * roughness;
    float v = 1.0f / ((1.0f + sheen_lambda(cos_o, alpha) + sheen_lambda(cos_i, alpha)) * (4.0f * cos_o * cos_i));
    return fminf(fmaxf(v, 0.0f), 1.0f);
}

__device__ inline float coat_reflectance(const Bsdf& f, float cos_o) { return f.coat * schlick_scalar(COAT_F0, cos_o); }

__device__ inline float sheen_albedo(const Bsdf& f, float cos_o) {
    return has_sheen(f) ? max3(f.sheen) * sheen_table(cos_o, f.sheen_roughness) : 0.0f;
}

// What reaches the base through the coat and the sheen (Bsdf::base_scale).
__device__ inline float base_scale(const Bsdf& f, float cos_o) {
    return (1.0f - coat_reflectance(f, cos_o)) * (1.0f - sheen_albedo(f, cos_o));
}

__device__ inline V3 schlick(V3 f0, float cos_theta) {
    float x = 1.0f - fminf(fmaxf(cos_theta, 0.0f), 1.0f);
    float m = x * x * x * x * x;
    return f0 + (v3s(1.0f) - f0) * m;
}

__device__ float fresnel_dielectric(float cos_i, float eta) {
    cos_i = fminf(fmaxf(cos_i, -1.0f), 1.0f);
    if (cos_i < 0.0f) { eta = 1.0f / eta; cos_i = -cos_i; }
    float sin2_t = (1.0f - cos_i * cos_i) / (eta * eta);
    if (sin2_t >= 1.0f) return 1.0f;
    float cos_t = sqrtf(fmaxf(1.0f - sin2_t, 0.0f));
    float r_parl = (eta * cos_i - cos_t) / (eta * cos_i + cos_t);
    float r_perp = (cos_i - eta * cos_t) / (cos_i + eta * cos_t);
    return 0.5f * (r_parl * r_parl + r_perp * r_perp);
}

__device__ inline V3 reflect_about(V3 wo, V3 n) { return -wo + n * (2.0f * dot(wo, n)); }

// Refracted direction in xyz and the relative index crossed in w; w = 0 on total internal
// reflection.
__device__ V4 refract_through(V3 wi, V3 n, float eta) {
    float cos_i = dot(n, wi);
    if (cos_i < 0.0f) { eta = 1.0f / eta; cos_i = -cos_i; n = -n; }
    float sin2_t = fmaxf(1.0f - cos_i * cos_i, 0.0f) / (eta * eta);
    if (sin2_t >= 1.0f) return v4(0.0f, 0.0f, 0.0f, 0.0f);
    float cos_t = sqrtf(1.0f - sin2_t);
    V3 r = -wi / eta + n * (cos_i / eta - cos_t);
    return v4(r.x, r.y, r.z, eta);
}

// Half vector facing +z, or zero when there is none.
__device__ V3 generalized_half(V3 wo, V3 wi, float etap) {
    V3 w = wi * etap + wo;
    if (dot(w, w) == 0.0f) return v3s(0.0f);
    V3 wm = normalize(w);
    if (wm.z < 0.0f) wm = -wm;
    if (dot(wm, wi) * wi.z < 0.0f || dot(wm, wo) * wo.z < 0.0f) return v3s(0.0f);
    return wm;
}

__device__ inline V3 cosine_hemisphere(float u, float v) {
    float r = sqrtf(u);
    float phi = 2.0f * PI_F * v;
    float sp, cp;
    sincosf(phi, &sp, &cp);
    return v3(r * cp, r * sp, sqrtf(fmaxf(1.0f - u, 0.0f)));
}

__device__ inline float ggx_d(V3 m, float alpha) {
    if (m.z <= 0.0f) return 0.0f;
    float a2 = alpha * alpha;
    float t = (m.x * m.x + m.y * m.y) / a2 + m.z * m.z;
    return 1.0f / (PI_F * a2 * t * t);
}

__device__ inline float ggx_lambda(V3 w, float alpha) {
    float cos2 = w.z * w.z;
    if (cos2 == 0.0f) return FAR;
    float tan2 = fmaxf(1.0f - cos2, 0.0f) / cos2;
    return 0.5f * (sqrtf(1.0f + alpha * alpha * tan2) - 1.0f);
}

__device__ inline float ggx_g1(V3 w, float alpha) { return 1.0f / (1.0f + ggx_lambda(w, alpha)); }
__device__ inline float ggx_g(V3 wo, V3 wi, float alpha) {
    return 1.0f / (1.0f + ggx_lambda(wo, alpha) + ggx_lambda(wi, alpha));
}

__device__ inline float ggx_vndf_pdf(V3 wo, V3 wm, float alpha) {
    if (wo.z <= 0.0f) return 0.0f;
    return ggx_g1(wo, alpha) / wo.z * ggx_d(wm, alpha) * fmaxf(dot(wo, wm), 0.0f);
}

__device__ V3 ggx_sample_vndf(V3 wo, float alpha, float u, float v) {
    V3 vh = normalize(v3(alpha * wo.x, alpha * wo.y, wo.z));
    float len2 = vh.x * vh.x + vh.y * vh.y;
    V3 t1 = len2 > 0.0f ? v3(-vh.y, vh.x, 0.0f) / sqrtf(len2) : v3(1.0f, 0.0f, 0.0f);
    V3 t2 = cross(vh, t1);
    float r = sqrtf(u);
    float phi = 2.0f * PI_F * v;
    float sp, cp;
    sincosf(phi, &sp, &cp);
    float p1 = r * cp;
    float s = 0.5f * (1.0f + vh.z);
    float p2 = (1.0f - s) * sqrtf(fmaxf(1.0f - p1 * p1, 0.0f)) + s * r * sp;
    V3 nh = t1 * p1 + t2 * p2 + vh * sqrtf(fmaxf(1.0f - p1 * p1 - p2 * p2, 0.0f));
    return normalize(v3(alpha * nh.x, alpha * nh.y, fmaxf(nh.z, 1e-6f)));
}

struct LobeProbs { float coat, sheen, refl, diffuse, dielectric; };

__device__ LobeProbs lobe_probs(const Bsdf& f, V3 wo) {
    float cos_o = fabsf(wo.z);
    float layer = f.specular * max3(schlick(f.layer_f0, cos_o));
    float scale = base_scale(f, cos_o);
    float coat = 0.0f, sheen = 0.0f, refl = 0.0f, diffuse = 0.0f;
    if (wo.z > 0.0f) {
        coat = coat_reflectance(f, cos_o);
        sheen = (1.0f - coat) * sheen_albedo(f, cos_o);
        refl = (f.w_metal + f.w_plastic * layer) * scale;
        diffuse = f.w_plastic * (1.0f - layer) * max3(f.base_color) * scale;
    }
    float dielectric = f.w_dielectric * scale;
    float total = coat + sheen + refl + diffuse + dielectric;
    LobeProbs p = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (total <= 0.0f) return p;
    LobeProbs q = {coat / total, sheen / total, refl / total, diffuse / total, dielectric / total};
    return q;
}

__device__ inline V3 reflect_fresnel(const Bsdf& f, float cos_h) {
    return schlick(f.base_color, cos_h) * f.w_metal + schlick(f.layer_f0, cos_h) * (f.specular * f.w_plastic);
}

__device__ inline V3 diffuse_albedo(const Bsdf& f, float cos_o) {
    float layer = f.specular * max3(schlick(f.layer_f0, cos_o));
    return f.base_color * (f.w_plastic * (1.0f - layer));
}

__device__ V3 dielectric_f(const Bsdf& f, V3 wo, V3 wi) {
    float eta = f.ior;
    if (f.thin_walled) {
        if (wo.z * wi.z <= 0.0f) return v3s(0.0f);
        if (wo.z < 0.0f) { wo = -wo; wi = -wi; }
        V3 wm = normalize(wo + wi);
        float fr = fresnel_dielectric(dot(wo, wm), eta);
        return v3s(ggx_d(wm, f.alpha) * ggx_g(wo, wi, f.alpha) * fr / (4.0f * wo.z * wi.z));
    }
    float cos_o = wo.z, cos_i = wi.z;
    bool refl = cos_o * cos_i > 0.0f;
    float etap = refl ? 1.0f : (cos_o > 0.0f ? eta : 1.0f / eta);
    V3 wm = generalized_half(wo, wi, etap);
    if (is_zero(wm)) return v3s(0.0f);
    float fr = fresnel_dielectric(dot(wo, wm), eta);
    float d = ggx_d(wm, f.alpha);
    float g = ggx_g(wo, wi, f.alpha);
    if (refl) return v3s(d * g * fr / fabsf(4.0f * cos_i * cos_o));
    float x = dot(wi, wm) + dot(wo, wm) / etap;
    float denom = x * x * cos_i * cos_o;
    float ft = d * (1.0f - fr) * g * fabsf(dot(wi, wm) * dot(wo, wm) / denom) / (etap * etap);
    return f.base_color * ft;
}

__device__ float dielectric_pdf(const Bsdf& f, V3 wo, V3 wi) {
    float eta = f.ior;
    if (f.thin_walled) {
        if (wo.z * wi.z <= 0.0f) return 0.0f;
        if (wo.z < 0.0f) { wo = -wo; wi = -wi; }
        V3 wm = normalize(wo + wi);
        float r = fresnel_dielectric(wo.z, eta);
        return r * ggx_vndf_pdf(wo, wm, f.alpha) / (4.0f * fabsf(dot(wo, wm)));
    }
    bool refl = wo.z * wi.z > 0.0f;
    float etap = refl ? 1.0f : (wo.z > 0.0f ? eta : 1.0f / eta);
    V3 wm = generalized_half(wo, wi, etap);
    if (is_zero(wm)) return 0.0f;
    float r = fresnel_dielectric(dot(wo, wm), eta);
    // wm faces +z; seen from inside, the visible-normal density is that of -wo.
    float vis = ggx_vndf_pdf(wo * signum(wo.z), wm, f.alpha);
    if (refl) return vis / (4.0f * fabsf(dot(wo, wm))) * r;
    float x = dot(wi, wm) + dot(wo, wm) / etap;
    return vis * fabsf(dot(wi, wm)) / (x * x) * (1.0f - r);
}

__device__ V3 bsdf_eval(const Bsdf& f, V3 wo_world, V3 wi_world) {
    bool geometric_reflect = dot(wi_world, f.ng) * dot(wo_world, f.ng) > 0.0f;
    if (f.lambertian) {
        // The common case, in world space: no change of basis needed.
        float cos_o = dot(wo_world, f.n), cos_i = dot(wi_world, f.n);
        return (cos_o > 0.0f && cos_i > 0.0f && geometric_reflect) ? f.base_color * (FRAC_1_PI_F * cos_i) : v3s(0.0f);
    }
    V3 wo = to_local(f, wo_world), wi = to_local(f, wi_world);
    bool refl = wi.z * wo.z > 0.0f;
    if (refl != geometric_reflect || wo.z == 0.0f || wi.z == 0.0f) return v3s(0.0f);
    V3 result = v3s(0.0f);
    bool on_top = wo.z > 0.0f && refl;
    if (on_top) {
        result = result + diffuse_albedo(f, wo.z) * (FRAC_1_PI_F * wi.z);
        if (!smooth_surface(f)) {
            V3 wm = normalize(wo + wi);
            float g = ggx_d(wm, f.alpha) * ggx_g(wo, wi, f.alpha) / (4.0f * wo.z * wi.z);
            result = result + reflect_fresnel(f, dot(wo, wm)) * (g * wi.z);
        }
    }
    if (f.w_dielectric > 0.0f && !smooth_surface(f)) {
        result = result + dielectric_f(f, wo, wi) * (f.w_dielectric * fabsf(wi.z));
    }
    if (f.coat == 0.0f && !has_sheen(f)) return result;
    float cos_o = fabsf(wo.z);
    result = result * base_scale(f, cos_o);
    if (!on_top) return result;
    V3 wm = normalize(wo + wi);
    if (has_sheen(f)) {
        float d = d_charlie(wm.z, f.sheen_roughness);
        float vis = sheen_visibility(wo.z, wi.z, f.sheen_roughness);
        result = result + f.sheen * ((1.0f - coat_reflectance(f, cos_o)) * d * vis * wi.z);
    }
    if (f.coat > 0.0f && !smooth_coat(f)) {
        float a = f.coat_alpha;
        float g = ggx_d(wm, a) * ggx_g(wo, wi, a) / (4.0f * wo.z * wi.z);
        result = result + v3s(f.coat * schlick_scalar(COAT_F0, dot(wo, wm)) * g * wi.z);
    }
    return result;
}

__device__ float bsdf_pdf(const Bsdf& f, V3 wo_world, V3 wi_world) {
    if (f.lambertian) {
        float cos_o = dot(wo_world, f.n), cos_i = dot(wi_world, f.n);
        return (cos_o > 0.0f && cos_i > 0.0f) ? cos_i * FRAC_1_PI_F : 0.0f;
    }
    V3 wo = to_local(f, wo_world), wi = to_local(f, wi_world);
    if (wo.z == 0.0f || wi.z == 0.0f) return 0.0f;
    LobeProbs probs = lobe_probs(f, wo);
    bool refl = wi.z * wo.z > 0.0f;
    float pdf = 0.0f;
    if (refl && wo.z > 0.0f) {
        pdf += (probs.diffuse + probs.sheen) * wi.z * FRAC_1_PI_F;
        V3 wm = normalize(wo + wi);
        if (!smooth_surface(f)) {
            pdf += probs.refl * ggx_vndf_pdf(wo, wm, f.alpha) / (4.0f * fabsf(dot(wo, wm)));
        }
        if (probs.coat > 0.0f && !smooth_coat(f)) {
            pdf += probs.coat * ggx_vndf_pdf(wo, wm, f.coat_alpha) / (4.0f * fabsf(dot(wo, wm)));
        }
    }
    if (probs.dielectric > 0.0f && !smooth_surface(f)) pdf += probs.dielectric * dielectric_pdf(f, wo, wi);
    return pdf;
}

__device__ BsdfSample finish(const Bsdf& f, V3 wo_world, V3 wi_local, V3 weight, float pdf, bool delta, float eta) {
    V3 wi = to_world(f, wi_local);
    // A shading normal must not send light through the geometric surface the wrong way.
    bool same_side_geo = dot(wi, f.ng) * dot(wo_world, f.ng) > 0.0f;
    bool same_side_local = wi_local.z * to_local(f, wo_world).z > 0.0f;
    if (same_side_geo != same_side_local || !finite3(weight)) return no_sample();
    BsdfSample s = {true, wi, weight, pdf, delta, eta};
    return s;
}

__device__ BsdfSample sample_non_delta(const Bsdf& f, V3 wo_world, V3 wi) {
    if (wi.z == 0.0f) return no_sample();
    V3 wi_world = to_world(f, wi);
    float pdf = bsdf_pdf(f, wo_world, wi_world);
    if (!(pdf > 0.0f)) return no_sample();
    V3 value = bsdf_eval(f, wo_world, wi_world);
    V3 wo = to_local(f, wo_world);
    float eta = 1.0f;
    if (wo.z * wi.z < 0.0f && !f.thin_walled) eta = wo.z > 0.0f ? f.ior : 1.0f / f.ior;
    return finish(f, wo_world, wi, value / pdf, pdf, false, eta);
}

__device__ BsdfSample sample_dielectric(const Bsdf& f, V3 wo, V3 wo_world, float choice, float u, float v, float prob) {
    float eta = f.ior;
    float w = f.w_dielectric * base_scale(f, fabsf(wo.z)) / prob;
    V3 mirror = v3(-wo.x, -wo.y, wo.z);
    if (f.thin_walled) {
        float r = fresnel_dielectric(fabsf(wo.z), eta);
        // Straight through, unbent.
        if (choice >= r) return finish(f, wo_world, -wo, f.base_color * w, 0.0f, true, 1.0f);
        if (smooth_surface(f)) return finish(f, wo_world, mirror, v3s(w), 0.0f, true, 1.0f);
        V3 wm = ggx_sample_vndf(wo * signum(wo.z), f.alpha, u, v);
        return sample_non_delta(f, wo_world, reflect_about(wo, wm));
    }
    if (smooth_surface(f)) {
        float r = fresnel_dielectric(wo.z, eta);
        if (choice < r) return finish(f, wo_world, mirror, v3s(w), 0.0f, true, 1.0f);
        V4 t = refract_through(wo, v3(0.0f, 0.0f, 1.0f), eta);
        if (t.w == 0.0f) return no_sample();
        return finish(f, wo_world, xyz(t), f.base_color * (w / (t.w * t.w)), 0.0f, true, t.w);
    }
    // wm faces +z; from inside, Fresnel sees a negative cosine and inverts eta.
    V3 wm = ggx_sample_vndf(wo * signum(wo.z), f.alpha, u, v);
    float r = fresnel_dielectric(dot(wo, wm), eta);
    V3 wi;
    if (choice < r) {
        wi = reflect_about(wo, wm);
    } else {
        V4 t = refract_through(wo, wm, eta);
        if (t.w == 0.0f) return no_sample();
        wi = xyz(t);
    }
    return sample_non_delta(f, wo_world, wi);
}

__device__ BsdfSample bsdf_sample(const Bsdf& f, V3 wo_world, float lobe, float u, float v) {
    V3 wo = to_local(f, wo_world);
    if (wo.z == 0.0f) return no_sample();
    if (f.lambertian) {
        if (wo.z < 0.0f) return no_sample();
        V3 wi = cosine_hemisphere(u, v);
        V3 wi_world = to_world(f, wi);
        if (dot(wi_world, f.ng) <= 0.0f) return no_sample();
        BsdfSample s = {true, wi_world, f.base_color, wi.z * FRAC_1_PI_F, false, 1.0f};
        return s;
    }
    LobeProbs probs = lobe_probs(f, wo);
    V3 mirror = v3(-wo.x, -wo.y, wo.z);
    if (lobe < probs.coat) {
        if (smooth_coat(f)) return finish(f, wo_world, mirror, v3s(coat_reflectance(f, wo.z) / probs.coat), 0.0f, true, 1.0f);
        V3 wc = reflect_about(wo, ggx_sample_vndf(wo, f.coat_alpha, u, v));
        if (wc.z <= 0.0f) return no_sample();
        return sample_non_delta(f, wo_world, wc);
    }
    lobe -= probs.coat;
    if (lobe < probs.sheen) return sample_non_delta(f, wo_world, cosine_hemisphere(u, v));
    lobe -= probs.sheen;
    if (lobe < probs.dielectric) return sample_dielectric(f, wo, wo_world, lobe / probs.dielectric, u, v, probs.dielectric);
    lobe -= probs.dielectric;
    V3 wi;
    if (lobe < probs.refl) {
        if (smooth_surface(f)) {
            return finish(f, wo_world, mirror, reflect_fresnel(f, wo.z) * (base_scale(f, wo.z) / probs.refl), 0.0f, true, 1.0f);
        }
        wi = reflect_about(wo, ggx_sample_vndf(wo, f.alpha, u, v));
    } else if (probs.diffuse > 0.0f) {
        wi = cosine_hemisphere(u, v);
    } else {
        return no_sample();
    }
    if (wi.z <= 0.0f) return no_sample();
    return sample_non_delta(f, wo_world, wi);
}

// ---- surfaces (integrator.rs) ----

struct Surface { V3 p, ng; Bsdf bsdf; V3 emitted, base_color; bool unlit; V3 transmittance; };

__device__ inline V2 vertex_uv(const GpuVertex& v, u32 uv_set) { return uv_set == 0u ? v2a(v.uv0) : v2a(v.uv1); }

__device__ inline bool has_uv(const Scene& s, u32 uv_set) {
    return (s.params->mesh_flags & (uv_set == 0u ? MESH_HAS_UV0 : MESH_HAS_UV1)) != 0u;
}

struct Corners { GpuVertex a, b, c; V3 w; };

__device__ V2 interpolate_uv(const Scene& s, const Corners& k, u32 uv_set) {
    if (!has_uv(s, uv_set)) return v2(0.0f, 0.0f);
    return vertex_uv(k.a, uv_set) * k.w.x + vertex_uv(k.b, uv_set) * k.w.y + vertex_uv(k.c, uv_set) * k.w.z;
}

// Texture value, or `fallback` when the material has no texture there.
__device__ V4 lookup(const Scene& s, const GpuTextureRef& r, const Corners& k, V4 fallback) {
    if (r.texture == NO_TEXTURE) return fallback;
    return sample_texture(s, r.texture, apply_transform(r, interpolate_uv(s, k, r.tex_coord)));
}

// Tangent (xyz) and handedness (w) for normal mapping; w = 0 when there is none.
__device__ V4 shading_tangent(const Scene& s, const Corners& k, V3 n, u32 uv_set) {
    V4 none = v4(0.0f, 0.0f, 0.0f, 0.0f);
    if ((s.params->mesh_flags & MESH_HAS_TANGENTS) != 0u) {
        V4 t = v4a(k.a.tangent) * k.w.x + v4a(k.b.tangent) * k.w.y + v4a(k.c.tangent) * k.w.z;
        if (t.w != 0.0f) {
            V3 t3 = normalize_or(xyz(t) - n * dot(n, xyz(t)), v3s(0.0f));
            if (is_zero(t3)) return none;
            return v4(t3.x, t3.y, t3.z, t.w);
        }
    }
    if (!has_uv(s, uv_set)) return none;
    V3 dp1 = v3a(k.b.position) - v3a(k.a.position);
    V3 dp2 = v3a(k.c.position) - v3a(k.a.position);
    V2 duv1 = vertex_uv(k.b, uv_set) - vertex_uv(k.a, uv_set);
    V2 duv2 = vertex_uv(k.c, uv_set) - vertex_uv(k.a, uv_set);
    float det = duv1.x * duv2.y - duv2.x * duv1.y;
    if (fabsf(det) < 1e-12f) return none;
    V3 t = (dp1 * duv2.y - dp2 * duv1.y) / det;
    V3 b = (dp2 * duv1.x - dp1 * duv2.x) / det;
    V3 t3 = normalize_or(t - n * dot(n, t), v3s(0.0f));
    if (is_zero(t3)) return none;
    return v4(t3.x, t3.y, t3.z, dot(cross(n, t3), b) < 0.0f ? -1.0f : 1.0f);
}

// As shading.rs: ns bent towards ng just enough that wo's mirror reflection stays above the
// surface, by the same bisection.
#define BEND_STEPS 12u
__device__ V3 reflection_safe_normal(V3 ns, V3 ng, V3 wo) {
    float cos_o = dot(wo, ng);
    if (cos_o <= 0.0f) return ns;
    float threshold = fminf(0.9f * cos_o, 0.01f);
    if (dot(ns * (2.0f * dot(wo, ns)) - wo, ng) >= threshold) return ns;
    float lo = 0.0f, hi = 1.0f;
    for (u32 i = 0u; i < BEND_STEPS; i++) {
        float mid = 0.5f * (lo + hi);
        V3 n = normalize(ns + (ng - ns) * mid);
        if (dot(n * (2.0f * dot(wo, n)) - wo, ng) >= threshold) hi = mid; else lo = mid;
    }
    return normalize(ns + (ng - ns) * hi);
}

__device__ Surface surface_at(const Scene& s, V3 o, V3 d, const Hit& hit) {
    const BvhTriangle tri = s.triangles[hit.triangle];
    const GpuTriangle data = s.triangle_data[hit.triangle];
    float w = 1.0f - hit.u - hit.v;
    Corners k = {s.vertices[data.vertices[0]], s.vertices[data.vertices[1]], s.vertices[data.vertices[2]], v3(w, hit.u, hit.v)};
    V3 ng_raw = normalize_or(cross(v3a(tri.e1), v3a(tri.e2)), v3(0.0f, 0.0f, 1.0f));
    bool front = dot(d, ng_raw) < 0.0f;
    V3 ns = normalize_or(v3a(k.a.normal) * w + v3a(k.b.normal) * hit.u + v3a(k.c.normal) * hit.v, ng_raw);
    const GpuMaterial& m = s.materials[data.material];
    // COLOR_0 multiplies only where the mesh has it, as on the CPU (1 * x is exact).
    V4 base = lookup(s, m.base_color_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)) * v4a(m.base_color);
    if ((s.params->mesh_flags & MESH_HAS_COLORS) != 0u) {
        base = base * (v4a(k.a.color) * w + v4a(k.b.color) * hit.u + v4a(k.c.color) * hit.v);
    }
    float metallic = m.metallic, roughness = m.roughness;
    if (m.metallic_roughness_texture.texture != NO_TEXTURE) {
        V4 mr = lookup(s, m.metallic_roughness_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f));
        roughness *= mr.y;
        metallic *= mr.z;
    }
    float transmission = m.transmission * lookup(s, m.transmission_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)).x;
    if (m.normal_texture.texture != NO_TEXTURE) {
        V4 t = lookup(s, m.normal_texture, k, v4(0.0f, 0.0f, 0.0f, 0.0f));
        V3 mn = v3((2.0f * t.x - 1.0f) * m.normal_scale, (2.0f * t.y - 1.0f) * m.normal_scale, 2.0f * t.z - 1.0f);
        V4 tangent = shading_tangent(s, k, ns, m.normal_texture.tex_coord);
        if (tangent.w != 0.0f) {
            V3 bitangent = cross(ns, xyz(tangent)) * signum(tangent.w);
            ns = normalize_or(xyz(tangent) * mn.x + bitangent * mn.y + ns * mn.z, ns);
        }
    }
    bool thin_walled = (m.flags & MATERIAL_THIN_WALLED) != 0u;
    bool two_sided = transmission <= 0.0f || thin_walled;
    V3 ng = ng_raw;
    if (two_sided && dot(ng, d) > 0.0f) ng = -ng;
    if (dot(ns, ng) < 0.0f) ns = -ns;
    ns = reflection_safe_normal(ns, ng, -d);
    V3 emitted = v3s(0.0f);
    V3 emissive = v3a(m.emissive);
    if (front && max3(emissive) > 0.0f) {
        emitted = emissive * xyz(lookup(s, m.emissive_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)));
    }
    Surface out;
    out.p = o + d * hit.t;
    out.ng = ng;
    out.bsdf = bsdf_new(xyz(base), metallic, roughness, m.specular, v3a(m.specular_color),
                        transmission, m.ior, thin_walled,
                        v3a(m.sheen_color) * xyz(lookup(s, m.sheen_color_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f))),
                        m.sheen_roughness * lookup(s, m.sheen_roughness_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)).w,
                        m.clearcoat * lookup(s, m.clearcoat_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)).x,
                        m.clearcoat_roughness * lookup(s, m.clearcoat_roughness_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)).y,
                        ns, ng);
    out.emitted = emitted;
    out.base_color = xyz(base);
    out.unlit = (m.flags & MATERIAL_UNLIT) != 0u;
    // What the segment that reached this point kept, when it ran inside an absorbing solid.
    out.transmittance = v3s(1.0f);
    if (!front && !thin_walled) {
        V3 a = v3a(m.absorption);
        out.transmittance = v3(expf(-a.x * hit.t), expf(-a.y * hit.t), expf(-a.z * hit.t));
    }
    return out;
}

// ---- lights (light.rs) ----

// Whether a ray passes the surface it hit (`alphaMode`; AlphaMode::passes); u decides blending.
__device__ bool passes(const Scene& s, const Hit& hit, float u) {
    const GpuTriangle data = s.triangle_data[hit.triangle];
    const GpuMaterial& m = s.materials[data.material];
    u32 mode = m.flags & (MATERIAL_MASK | MATERIAL_BLEND);
    if (mode == 0u) return false;
    float w = 1.0f - hit.u - hit.v;
    Corners k = {s.vertices[data.vertices[0]], s.vertices[data.vertices[1]], s.vertices[data.vertices[2]], v3(w, hit.u, hit.v)};
    float alpha = lookup(s, m.base_color_texture, k, v4(1.0f, 1.0f, 1.0f, 1.0f)).w * m.base_color[3];
    if ((s.params->mesh_flags & MESH_HAS_COLORS) != 0u) {
        alpha *= k.a.color[3] * w + k.b.color[3] * hit.u + k.c.color[3] * hit.v;
    }
    if (mode == MATERIAL_MASK) return alpha < m.alpha_cutoff;
    return u >= alpha;
}

__device__ inline float fract(float x) { return x - floorf(x); }

// The origin just past a hit at t (as far as offset_origin moves off a surface); w: the distance.
__device__ inline V4 beyond(V3 o, V3 d, float t) {
    V3 p = o + d * t;
    float eps = 1e-4f * (1.0f + max3(v3(fabsf(p.x), fabsf(p.y), fabsf(p.z))));
    V3 q = p + d * eps;
    return v4(q.x, q.y, q.z, t + eps);
}

// Whether anything stops the ray before t_max, see-through surfaces passed (PathTracer::blocked).
__device__ bool blocked(const Scene& s, V3 origin, V3 d, float t_max, float u) {
    if ((s.params->mesh_flags & MESH_SEE_THROUGH) == 0u) return occluded(s, origin, d, t_max);
    V3 o = origin;
    float left = t_max;
    for (u32 k = 0u; k <= MAX_CROSSINGS; k++) {
        Hit hit = intersect(s, o, d);
        if (hit.triangle == NO_HIT || hit.t >= left) return false;
        if (k == MAX_CROSSINGS || !passes(s, hit, fract(u + (float)k * GOLDEN))) return true;
        V4 next = beyond(o, d, hit.t);
        o = xyz(next);
        left -= next.w;
        if (left <= 0.0f) return false;
    }
    return true;
}

struct LightSample { bool ok; V3 wi; float dist; V3 radiance; float pdf; bool delta; };

__device__ inline LightSample no_light() {
    LightSample l = {false, v3s(0.0f), 0.0f, v3s(0.0f), 0.0f, false};
    return l;
}

__device__ inline u32 light_choices(const Scene& s) {
    return s.params->punctual_lights + (s.params->emitters > 0u ? 1u : 0u)
        + (s.params->env_texture != NO_TEXTURE ? 1u : 0u);
}

// ---- the environment map (environment.rs) ----

#define TWO_PI_SQUARED 19.7392088f

// d turned by the angle whose cosine and sine are c and sn, about +Y (environment::turn).
__device__ inline V3 turn(V3 d, float c, float sn) {
    return v3(c * d.x + sn * d.z, d.y, -sn * d.x + c * d.z);
}

struct TexelIndex { u32 x, y; };

// The texel a map direction falls in (EnvironmentMap::texel_of).
__device__ inline TexelIndex env_texel_of(const GpuTexture& t, V3 d) {
    float u = fminf(fmaxf(atan2f(d.x, -d.z) * (0.5f * FRAC_1_PI_F) + 0.5f, 0.0f), 1.0f);
    float v = acosf(fminf(fmaxf(d.y, -1.0f), 1.0f)) * FRAC_1_PI_F;
    TexelIndex k = {min((u32)(u * (float)t.width), t.width - 1u), min((u32)(v * (float)t.height), t.height - 1u)};
    return k;
}

// The texel's probability times the texel count (EnvironmentMap::image_pdf).
__device__ float env_image_pdf(const Scene& s, const GpuTexture& t, TexelIndex k) {
    const GpuTexture m = s.textures[s.params->env_texture + 1u];
    float p_row = texel(s, m, k.y, 0u).x;
    if (k.y > 0u) p_row -= texel(s, m, k.y - 1u, 0u).x;
    float p_col = texel(s, t, k.x, k.y).w;
    if (k.x > 0u) p_col -= texel(s, t, k.x - 1u, k.y).w;
    return p_row * p_col * (float)(t.width * t.height);
}

// Radiance arriving along -dir (Environment::radiance).
__device__ V3 env_radiance(const Scene& s, V3 dir) {
    const GpuParams& p = *s.params;
    if (p.env_texture == NO_TEXTURE) return v3a(p.environment);
    const GpuTexture t = s.textures[p.env_texture];
    TexelIndex k = env_texel_of(t, turn(dir, p.env_rotation[0], -p.env_rotation[1]));
    return xyz(texel(s, t, k.x, k.y)) * v3a(p.environment);
}

// Solid-angle density of light sampling towards dir (LightSampler::pdf_of_escape).
__device__ float pdf_of_escape(const Scene& s, V3 dir) {
    const GpuParams& p = *s.params;
    if (p.env_texture == NO_TEXTURE) return 0.0f;
    const GpuTexture t = s.textures[p.env_texture];
    V3 d = turn(dir, p.env_rotation[0], -p.env_rotation[1]);
    float sin_theta = sqrtf(fmaxf(1.0f - d.y * d.y, 0.0f));
    if (sin_theta <= 0.0f) return 0.0f;
    return env_image_pdf(s, t, env_texel_of(t, d)) / (TWO_PI_SQUARED * sin_theta) / (float)light_choices(s);
}

__device__ inline float env_cdf(const Scene& s, const GpuTexture& t, u32 i, u32 row, bool marginal) {
    V4 c = texel(s, t, i, marginal ? 0u : row);
    return marginal ? c.x : c.w;
}

// The first entry of a cumulative distribution above u and where u falls in its step
// (environment::search_by): the map's rows (marginal) or one row's texels.
__device__ V2 env_search(const Scene& s, const GpuTexture& t, u32 row, u32 n, float u, bool marginal) {
    u32 lo = 0u, hi = n;
    while (lo < hi) {
        u32 mid = (lo + hi) / 2u;
        if (env_cdf(s, t, mid, row, marginal) <= u) lo = mid + 1u; else hi = mid;
    }
    u32 i = min(lo, n - 1u);
    float before = i > 0u ? env_cdf(s, t, i - 1u, row, marginal) : 0.0f;
    float step = env_cdf(s, t, i, row, marginal) - before;
    float f = step > 0.0f ? fminf(fmaxf((u - before) / step, 0.0f), ONE_MINUS_EPSILON) : 0.5f;
    return v2((float)i, f);
}



__device__ inline float spot_falloff(V3 direction, float cos_inner, float cos_outer, V3 to_point) {
    float scale = 1.0f / fmaxf(cos_inner - cos_outer, 1e-3f);
    float offset = -cos_outer * scale;
    float a = fminf(fmaxf(dot(direction, to_point) * scale + offset, 0.0f), 1.0f);
    return a * a;
}

__device__ LightSample sample_punctual(const GpuLight& light, V3 p, float choice_pdf) {
    V3 wi, radiance;
    float dist;
    if (light.kind == LIGHT_DIRECTIONAL) {
        wi = -v3a(light.direction);
        dist = FAR;
        radiance = v3a(light.intensity);
    } else {
        V3 d = v3a(light.position) - p;
        float dist2 = dot(d, d);
        dist = sqrtf(dist2);
        wi = d / dist;
        radiance = v3a(light.intensity) / dist2;
        if (light.kind == LIGHT_SPOT) {
            radiance = v3a(light.intensity) * (spot_falloff(v3a(light.direction), light.cos_inner, light.cos_outer, -wi) / dist2);
        }
    }
    if (dist > 0.0f && !is_zero(radiance) && finite3(radiance)) {
        LightSample l = {true, wi, dist, radiance, choice_pdf, true};
        return l;
    }
    return no_light();
}

// A direction drawn in proportion to the map's luminance (EnvironmentMap::sample).
__device__ LightSample sample_environment(const Scene& s, float choice_pdf, float u, float v) {
    const GpuParams& p = *s.params;
    const GpuTexture t = s.textures[p.env_texture];
    V2 ry = env_search(s, s.textures[p.env_texture + 1u], 0u, t.height, u, true);
    V2 rx = env_search(s, t, (u32)ry.x, t.width, v, false);
    float theta = (ry.x + ry.y) / (float)t.height * PI_F;
    float phi = ((rx.x + rx.y) / (float)t.width - 0.5f) * (2.0f * PI_F);
    float sin_theta = sinf(theta);
    if (sin_theta <= 0.0f) return no_light();
    V3 d = v3(sin_theta * sinf(phi), cosf(theta), -sin_theta * cosf(phi));
    TexelIndex k = env_texel_of(t, d);
    float pdf = env_image_pdf(s, t, k) / (TWO_PI_SQUARED * sin_theta);
    if (pdf <= 0.0f) return no_light();
    LightSample l = {true, turn(d, p.env_rotation[0], p.env_rotation[1]), FAR,
        xyz(texel(s, t, k.x, k.y)) * v3a(p.environment), choice_pdf * pdf, false};
    return l;
}

__device__ LightSample sample_light(const Scene& s, V3 p, float pick, float u, float v) {
    u32 choices = light_choices(s);
    if (choices == 0u) return no_light();
    float scaled = pick * (float)choices;
    u32 choice = min((u32)scaled, choices - 1u);
    float choice_pdf = 1.0f / (float)choices;
    if (choice < s.params->punctual_lights) return sample_punctual(s.lights[choice], p, choice_pdf);
    if (s.params->env_texture != NO_TEXTURE && choice == choices - 1u) return sample_environment(s, choice_pdf, u, v);
    // Reuse the fraction left of `pick` to choose the triangle.
    float r = fminf(scaled - (float)choice, ONE_MINUS_EPSILON);
    u32 lo = 0, hi = s.params->emitters;
    while (lo < hi) {
        u32 mid = (lo + hi) / 2u;
        if (s.emitters[mid].cdf <= r) lo = mid + 1u; else hi = mid;
    }
    u32 tri = s.emitters[min(lo, s.params->emitters - 1u)].triangle;
    const GpuTriangle data = s.triangle_data[tri];
    // Emitters have a positive area (the light sampler keeps only those).
    const BvhTriangle bt = s.triangles[tri];
    V3 e1 = v3a(bt.e1), e2 = v3a(bt.e2);
    V3 cr = cross(e1, e2);
    float area = 0.5f * length(cr);
    V3 n = cr / (2.0f * area);
    float su = sqrtf(u);
    float b0 = 1.0f - su, b1 = v * su;
    float b2 = 1.0f - b0 - b1;
    V3 q = v3a(bt.p0) + e1 * b1 + e2 * b2;
    V3 d = q - p;
    float dist2 = dot(d, d);
    float dist = sqrtf(dist2);
    if (dist <= 0.0f) return no_light();
    V3 wi = d / dist;
    float cos_l = -dot(wi, n);
    if (cos_l <= 0.0f) return no_light();
    const GpuMaterial& m = s.materials[data.material];
    V3 radiance = v3a(m.emissive);
    const GpuTextureRef& er = m.emissive_texture;
    if (er.texture != NO_TEXTURE && has_uv(s, er.tex_coord)) {
        const GpuVertex a = s.vertices[data.vertices[0]];
        const GpuVertex b = s.vertices[data.vertices[1]];
        const GpuVertex c = s.vertices[data.vertices[2]];
        V2 uv = vertex_uv(a, er.tex_coord) * b0 + vertex_uv(b, er.tex_coord) * b1 + vertex_uv(c, er.tex_coord) * b2;
        radiance = radiance * xyz(sample_texture(s, er.texture, apply_transform(er, uv)));
    }
    LightSample l = {true, wi, dist, radiance, choice_pdf * data.light_pmf * dist2 / (cos_l * area), false};
    return l;
}

__device__ float pdf_of_hit(const Scene& s, u32 tri, V3 d, float t) {
    float pmf = s.triangle_data[tri].light_pmf;
    if (pmf == 0.0f) return 0.0f;
    const BvhTriangle bt = s.triangles[tri];
    V3 cr = cross(v3a(bt.e1), v3a(bt.e2));
    float area = 0.5f * length(cr);
    float cos_l = fabsf(dot(d, normalize_or(cr, v3s(0.0f))));
    if (area <= 0.0f || cos_l <= 0.0f) return 0.0f;
    return pmf / (float)light_choices(s) * t * t / (cos_l * area);
}

// ---- the integrator (integrator.rs) ----

__device__ inline V3 offset_origin(V3 p, V3 ng, V3 dir) {
    float eps = 1e-4f * (1.0f + max3(vabs(p)));
    return dot(dir, ng) >= 0.0f ? p + ng * eps : p - ng * eps;
}

__device__ V3 direct_light(const Scene& s, const Surface& surf, V3 wo, float pick, float u, float v) {
    LightSample ls = sample_light(s, surf.p, pick, u, v);
    if (!ls.ok) return v3s(0.0f);
    V3 f = bsdf_eval(surf.bsdf, wo, ls.wi);
    if (is_zero(f)) return v3s(0.0f);
    V3 origin = offset_origin(surf.p, surf.ng, ls.wi);
    if (blocked(s, origin, ls.wi, ls.dist * (1.0f - SHADOW_EPSILON), pick)) return v3s(0.0f);
    float weight = ls.delta ? 1.0f : power_heuristic(ls.pdf, bsdf_pdf(surf.bsdf, wo, ls.wi));
    return f * ls.radiance * (weight / ls.pdf);
}

struct PathResult { V3 l; bool hit; V3 albedo, normal; float depth; };

__device__ PathResult radiance(const Scene& s, V3 o, V3 d, Rng& rng) {
    PathResult result = {v3s(0.0f), false, v3s(0.0f), v3s(0.0f), 0.0f};
    V3 beta = v3s(1.0f);
    bool specular_bounce = true;
    float prev_pdf = 0.0f;
    u32 max_depth = s.params->max_depth;
    for (u32 depth = 1; depth <= max_depth; depth++) {
        float draws[DRAWS_PER_BOUNCE];
        for (int i = 0; i < DRAWS_PER_BOUNCE; i++) draws[i] = rng_f32(rng);
        Hit hit = intersect(s, o, d);
        // See-through surfaces are passed (PathTracer::first_stop), each crossing decided by
        // draws[6] rotated.
        float travelled = 0.0f;
        if ((s.params->mesh_flags & MESH_SEE_THROUGH) != 0u) {
            for (u32 k = 0u; k < MAX_CROSSINGS && hit.triangle != NO_HIT
                 && passes(s, hit, fract(draws[6] + (float)k * GOLDEN)); k++) {
                V4 next = beyond(o, d, hit.t);
                o = xyz(next);
                travelled += next.w;
                hit = intersect(s, o, d);
            }
        }
        if (hit.triangle == NO_HIT) {
            // A uniform environment is found only by BSDF sampling (pdf_of_escape is 0, the
            // weight 1); a map is also sampled towards, and weighted as emitters are.
            float weight = specular_bounce ? 1.0f : power_heuristic(prev_pdf, pdf_of_escape(s, d));
            result.l = result.l + beta * env_radiance(s, d) * weight;
            break;
        }
        Surface surf = surface_at(s, o, d, hit);
        beta = beta * surf.transmittance;
        V3 wo = -d;
        if (depth == 1u) {
            result.hit = true;
            result.albedo = surf.base_color;
            result.normal = surf.bsdf.n;
            result.depth = hit.t + travelled;
        }
        if (surf.unlit) {
            result.l = result.l + beta * surf.base_color;
            break;
        }
        if (!is_zero(surf.emitted)) {
            float weight = specular_bounce ? 1.0f : power_heuristic(prev_pdf, pdf_of_hit(s, hit.triangle, d, hit.t));
            result.l = result.l + beta * surf.emitted * weight;
        }
        if (depth == max_depth) break;
        if (has_non_delta(surf.bsdf)) {
            result.l = result.l + beta * direct_light(s, surf, wo, draws[0], draws[1], draws[2]);
        }
        BsdfSample bs = bsdf_sample(surf.bsdf, wo, draws[3], draws[4], draws[5]);
        if (!bs.ok) break;
        beta = beta * bs.weight;
        specular_bounce = bs.delta;
        prev_pdf = bs.pdf;
        if (depth >= RR_DEPTH) {
            float q = fminf(max3(beta) * bs.eta * bs.eta, 0.95f);
            if (draws[6] >= q) break;
            beta = beta / q;
        }
        if (is_zero(beta) || !finite3(beta)) break;
        o = offset_origin(surf.p, surf.ng, bs.wi);
        d = bs.wi;
    }
    return result;
}

extern "C" __global__ void render(
    const GpuParams* params,
    GpuPixel* pixels,
    const GpuMaterial* materials,
    const GpuTexture* textures,
    const GpuLight* lights,
    const GpuEmitter* emitters,
    const BvhNode* nodes,
    const BvhTriangle* triangles,
    const GpuTriangle* triangle_data,
    const GpuVertex* vertices,
    const float4* texels,
    const u32* texels8) {
    Scene s = {params, materials, textures, lights, emitters, nodes, triangles, triangle_data, vertices, texels, texels8};
    const GpuParams& p = *params;
    u32 gx = blockIdx.x * blockDim.x + threadIdx.x;
    u32 gy = blockIdx.y * blockDim.y + threadIdx.y;
    if (gx >= p.tile_width || gy >= p.tile_height) return;
    u32 x = p.tile_x + gx, y = p.tile_y + gy;
    GpuPixel px = pixels[gy * p.tile_width + gx];
    V3 color = v3a(px.color), albedo = v3a(px.albedo), normal = v3a(px.normal);
    const GpuCamera& cam = p.camera;
    for (u32 smp = p.sample_start; smp < p.sample_start + p.sample_count; smp++) {
        Rng rng = rng_new(p, x, y, smp);
        float jx = rng_f32(rng);
        float jy = rng_f32(rng);
        float ndc_x = 2.0f * ((float)x + jx) * cam.inv_width - 1.0f;
        float ndc_y = 1.0f - 2.0f * ((float)y + jy) * cam.inv_height;
        // As RasterCamera::ray: parallel or from the origin, starting on the near plane.
        V3 offset = v3a(cam.right) * ndc_x + v3a(cam.up) * ndc_y;
        V3 origin = v3a(cam.origin);
        V3 dir = v3a(cam.forward);
        if (cam.orthographic != 0u) {
            origin = origin + offset;
        } else {
            dir = normalize(dir + offset);
        }
        float near = cam.znear / dot(dir, v3a(cam.forward));
        PathResult r = radiance(s, origin + dir * near, dir, rng);
        if (finite3(r.l)) color = color + vmin(r.l, v3s(MAX_SAMPLE));
        if (r.hit) {
            px.hits += 1.0f;
            albedo = albedo + r.albedo;
            normal = normal + r.normal;
            px.depth += r.depth + near;
        }
    }
    px.color[0] = color.x; px.color[1] = color.y; px.color[2] = color.z;
    px.albedo[0] = albedo.x; px.albedo[1] = albedo.y; px.albedo[2] = albedo.z;
    px.normal[0] = normal.x; px.normal[1] = normal.y; px.normal[2] = normal.z;
    pixels[gy * p.tile_width + gx] = px;
}
