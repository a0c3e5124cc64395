#!/usr/bin/env python3
"""Writes a large glTF (a rippled terrain of N x N quads, 2 N^2 triangles, lit by a sun) for
checking that the BVH serves multi-million-triangle scenes:

    python3 tools/scenes/big_terrain.py 1225 /tmp/terrain.glb   # 3,001,250 triangles
    /usr/bin/time -v tessera render /tmp/terrain.glb -o /tmp/terrain.exr --spp 1

Needs numpy. The scene is generated, not committed: it is 60 MB.
"""

import json
import struct
import sys

import numpy as np

n = int(sys.argv[1])
out = sys.argv[2]
xs = np.linspace(-1.0, 1.0, n + 1, dtype=np.float32)
gx, gz = np.meshgrid(xs, xs)
gy = 0.05 * np.sin(23.0 * gx) * np.cos(17.0 * gz) + 0.02 * np.sin(61.0 * (gx + gz))
positions = np.stack([gx, gy.astype(np.float32), gz], axis=-1).reshape(-1, 3).astype(np.float32)
i = np.arange(n, dtype=np.uint32)
a = (i[:, None] * (n + 1) + i[None, :]).reshape(-1)
b, c, d = a + 1, a + n + 1, a + n + 2
indices = np.stack([a, c, b, b, c, d], axis=-1).reshape(-1).astype(np.uint32)
pos_bytes, idx_bytes = positions.tobytes(), indices.tobytes()
gltf = {
    "asset": {"version": "2.0"},
    "extensionsUsed": ["KHR_lights_punctual"],
    "extensions": {"KHR_lights_punctual": {"lights": [{"type": "directional", "intensity": 3.0}]}},
    "scene": 0,
    "scenes": [{"nodes": [0, 1, 2]}],
    "nodes": [
        {"mesh": 0},
        {"camera": 0, "translation": [0.0, 1.2, 1.9], "rotation": [-0.2588, 0.0, 0.0, 0.9659]},
        {"extensions": {"KHR_lights_punctual": {"light": 0}}, "rotation": [-0.5, 0.3, 0.1, 0.8]},
    ],
    "cameras": [{"type": "perspective", "perspective": {"yfov": 0.8, "znear": 0.01}}],
    "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.6, 0.55, 0.5, 1.0], "roughnessFactor": 0.7, "metallicFactor": 0.0}}],
    "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
    "buffers": [{"byteLength": len(pos_bytes) + len(idx_bytes)}],
    "bufferViews": [
        {"buffer": 0, "byteOffset": 0, "byteLength": len(pos_bytes), "target": 34962},
        {"buffer": 0, "byteOffset": len(pos_bytes), "byteLength": len(idx_bytes), "target": 34963},
    ],
    "accessors": [
        {"bufferView": 0, "componentType": 5126, "count": len(positions), "type": "VEC3",
         "min": positions.min(axis=0).tolist(), "max": positions.max(axis=0).tolist()},
        {"bufferView": 1, "componentType": 5125, "count": len(indices), "type": "SCALAR"},
    ],
}
js = json.dumps(gltf).encode()
js += b" " * (-len(js) % 4)
binary = pos_bytes + idx_bytes
binary += b"\0" * (-len(binary) % 4)
with open(out, "wb") as f:
    f.write(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(js) + 8 + len(binary)))
    f.write(struct.pack("<II", len(js), 0x4E4F534A) + js)
    f.write(struct.pack("<II", len(binary), 0x004E4942) + binary)
print(f"{out}: {len(indices) // 3} triangles")
