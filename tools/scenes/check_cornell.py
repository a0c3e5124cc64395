#!/usr/bin/env python3
"""Reads scenes/cornell-box.gltf back, independently of the generator, and checks that its
world-space geometry, materials and camera are the ones shared/reference/cornell-box/README.md
describes. Exits non-zero on the first mismatch.

    python3 tools/scenes/check_cornell.py
"""

import base64
import json
import math
import struct
from pathlib import Path

SCENE = Path(__file__).resolve().parents[2] / "scenes" / "cornell-box.gltf"
TOL = 1e-6

doc = json.loads(SCENE.read_text())
blob = base64.b64decode(doc["buffers"][0]["uri"].split(",", 1)[1])


def read(accessor_index):
    accessor = doc["accessors"][accessor_index]
    view = doc["bufferViews"][accessor["bufferView"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    code = {5126: "f", 5123: "H"}[accessor["componentType"]]
    values = struct.unpack_from(f"<{accessor['count'] * width}{code}", blob,
                                view["byteOffset"] + accessor.get("byteOffset", 0))
    return [values[i:i + width] for i in range(0, len(values), width)]


def apply(m, p, w):
    """m is glTF's column-major list: element (row r, column c) is m[4 * c + r]."""
    return [sum(m[4 * c + r] * (p[c] if c < 3 else w) for c in range(4)) for r in range(3)]


def close(a, b, tol=TOL):
    return all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b))


def world(name):
    node = next(n for n in doc["nodes"] if n["name"] == name)
    prim = doc["meshes"][node["mesh"]]["primitives"][0]
    m = node["matrix"]
    points = [apply(m, p, 1.0) for p in read(prim["attributes"]["POSITION"])]
    # Every README matrix is a rotation times a scale, so transforming normals by the matrix
    # and renormalising equals the inverse-transpose rule.
    normals = []
    for n in read(prim["attributes"]["NORMAL"]):
        v = apply(m, n, 0.0)
        length = math.sqrt(sum(x * x for x in v))
        normals.append([x / length for x in v])
    indices = [i for (i,) in read(prim["indices"])]
    triangles = [indices[i:i + 3] for i in range(0, len(indices), 3)]
    return points, normals, triangles, doc["materials"][prim["material"]]


def check_winding(name, points, normals, triangles):
    for a, b, c in triangles:
        u = [points[b][k] - points[a][k] for k in range(3)]
        v = [points[c][k] - points[a][k] for k in range(3)]
        face = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
        assert sum(face[k] * normals[a][k] for k in range(3)) > 0, f"{name}: front face flipped"


def check_rectangle(name, axis, value, normal, extent):
    """All points on the plane coordinate[axis] == value, normal as given, bounding box of
    the other two coordinates equal to extent ((lo, hi) per axis in x, y, z order; the entry
    for `axis` is ignored)."""
    points, normals, triangles, _ = world(name)
    check_winding(name, points, normals, triangles)
    assert all(abs(p[axis] - value) < TOL for p in points), f"{name}: not on plane"
    assert all(close(n, normal) for n in normals), f"{name}: normal {normals[0]} != {normal}"
    for k, (lo, hi) in enumerate(extent):
        if k != axis:
            got = (min(p[k] for p in points), max(p[k] for p in points))
            assert close(got, (lo, hi)), f"{name}: axis {k} spans {got}, expected {(lo, hi)}"
    sizes = [round(hi - lo, 6) for k, (lo, hi) in enumerate(extent) if k != axis]
    print(f"ok  {name}: {'xyz'[axis]} = {value}, normal {normal}, size {sizes[0]} x {sizes[1]}")


def check_box(name, rows):
    """Vertices equal the README's row-major matrix applied to the unit cube; normals point
    away from the box centre."""
    points, normals, triangles, _ = world(name)
    check_winding(name, points, normals, triangles)
    node = next(n for n in doc["nodes"] if n["name"] == name)
    prim = doc["meshes"][node["mesh"]]["primitives"][0]
    for p, q in zip(read(prim["attributes"]["POSITION"]), points):
        expected = [sum(rows[r][c] * (list(p) + [1.0])[c] for c in range(4)) for r in range(3)]
        assert close(q, expected), f"{name}: {q} != {expected}"
    centre = [row[3] for row in rows[:3]]
    for p, n in zip(points, normals):
        assert sum((p[k] - centre[k]) * n[k] for k in range(3)) > 0, f"{name}: inward normal"
    lo = [round(min(p[k] for p in points), 4) for k in range(3)]
    hi = [round(max(p[k] for p in points), 4) for k in range(3)]
    print(f"ok  {name}: 24 vertices, outward normals, bounds {lo} .. {hi}")


def check_material(name, base, radiance=None):
    *_, material = world(name)
    pbr = material["pbrMetallicRoughness"]
    assert close(pbr["baseColorFactor"], base + [1.0]), name
    assert pbr["metallicFactor"] == 0 and pbr["roughnessFactor"] == 1, name
    assert material["extensions"]["KHR_materials_specular"]["specularFactor"] == 0, name
    if radiance:
        strength = material["extensions"]["KHR_materials_emissive_strength"]["emissiveStrength"]
        emitted = [c * strength for c in material["emissiveFactor"]]
        assert close(emitted, radiance) and max(material["emissiveFactor"]) == 1.0, name
        print(f"ok  {name}: emits {emitted} (factor {material['emissiveFactor']} x {strength})")
    else:
        assert "emissiveFactor" not in material, name


WHITE = [0.885809, 0.698859, 0.666422]
RED = [0.570068, 0.0430135, 0.0443706]
GREEN = [0.105421, 0.37798, 0.076425]
BOX = [(-1, 1)] * 3

check_rectangle("floor", 1, -1.0, [0, 1, 0], BOX)
check_rectangle("ceiling", 1, 1.0, [0, -1, 0], BOX)
check_rectangle("back wall", 2, -1.0, [0, 0, 1], BOX)
check_rectangle("green wall", 0, 1.0, [-1, 0, 0], BOX)
check_rectangle("red wall", 0, -1.0, [1, 0, 0], BOX)
check_rectangle("light", 1, 0.99, [0, -1, 0], [(-0.23, 0.23), (0.99, 0.99), (-0.18, 0.2)])
check_box("large box", [[0.28491, 0, 0.0939491, -0.33], [0, 0.61, 0, -0.4],
                        [-0.0939491, 0, 0.28491, -0.28]])
check_box("small box", [[0.286891, 0, -0.0877115, 0.335], [0, 0.3, 0, -0.7],
                        [0.0877115, 0, 0.286891, 0.38]])
for name in ("floor", "ceiling", "back wall", "large box", "small box"):
    check_material(name, WHITE)
check_material("red wall", RED)
check_material("green wall", GREEN)
check_material("light", WHITE, [18.387, 13.9873, 6.75357])

camera_node = next(n for n in doc["nodes"] if "camera" in n)
camera = doc["cameras"][camera_node["camera"]]["perspective"]
assert camera_node["translation"] == [0.0, 0.0, 3.9] and "rotation" not in camera_node
assert abs(math.degrees(camera["yfov"]) - 39.3077) < 1e-9 and camera["aspectRatio"] == 1.0
print(f"ok  camera at {camera_node['translation']} looking down -z, "
      f"yfov {math.degrees(camera['yfov'])} degrees, aspect {camera['aspectRatio']}")
assert set(doc["extensionsUsed"]) == {"KHR_materials_specular", "KHR_materials_emissive_strength"}
print("cornell-box.gltf matches the reference README")
