#!/usr/bin/env python3
"""Writes Tessera's example scenes: scenes/cornell-box.gltf, scenes/materials.gltf and
scenes/turntable.gltf.

Standard library only, so anyone can regenerate and review the numbers:

    python3 tools/scenes/generate.py

Every file is self-contained (buffers and PNG images as base64 `data:` URIs) so the farm can
ship a scene as one file.
"""

import base64
import json
import math
import struct
import zlib
from pathlib import Path

SCENES = Path(__file__).resolve().parents[2] / "scenes"

# glTF enums.
FLOAT, UNSIGNED_SHORT = 5126, 5123
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
NEAREST, LINEAR, LINEAR_MIPMAP_LINEAR, REPEAT = 9728, 9729, 9987, 10497


# --- small vector helpers ------------------------------------------------------------------

def sub(a, b):
    return [x - y for x, y in zip(a, b)]


def cross(a, b):
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def normalize(a):
    n = math.sqrt(dot(a, a))
    return [x / n for x in a]


def f32(x):
    """x rounded to float32, so accessor min/max match the stored data exactly."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def column_major(rows):
    """glTF `matrix` is column-major; the reference README writes rows."""
    return [float(rows[r][c]) for c in range(4) for r in range(4)]


def quat_axis_angle(axis, degrees):
    s = math.sin(math.radians(degrees) / 2)
    x, y, z = normalize(axis)
    return [x * s, y * s, z * s, math.cos(math.radians(degrees) / 2)]


def quat_look_at(eye, target, up=(0.0, 1.0, 0.0)):
    """Rotation that points a glTF camera (looking down local -Z, up +Y) from eye at target."""
    z = normalize(sub(eye, target))
    x = normalize(cross(up, z))
    y = cross(z, x)
    # Rotation matrix with columns x, y, z to quaternion (Shepperd's method, trace branch is
    # enough here: these cameras never turn more than 90 degrees from -Z).
    trace = x[0] + y[1] + z[2]
    assert trace > 0
    w = math.sqrt(1 + trace) / 2
    return [(y[2] - z[1]) / (4 * w), (z[0] - x[2]) / (4 * w), (x[1] - y[0]) / (4 * w), w]


# --- PNG -----------------------------------------------------------------------------------

def png_rgb(width, height, pixel):
    """An 8-bit RGB PNG; pixel(x, y) returns (r, g, b) in 0..255, row 0 at the top."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    raw = b"".join(b"\0" + bytes(c for x in range(width) for c in pixel(x, y))
                   for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def checker_png():
    """2 x 2 cells per repeat; the floor's KHR_texture_transform sets how many repeats."""
    light, dark = (205, 205, 200), (70, 72, 78)  # sRGB-encoded, as base colour textures are
    return png_rgb(64, 64, lambda x, y: light if (x // 32 + y // 32) % 2 == 0 else dark)


def tiles_normal_png():
    """Tangent-space normal map (+X right, +Y up in the image, as glTF specifies) of 4 x 4
    raised tiles with bevelled edges and flat grout between them."""
    size, tile, grout, bevel, slope = 128, 32, 2, 5, 0.6

    def height(x, y):
        # Distance to the nearest grout line, ramped over the bevel: 0 in grout, 1 on top.
        d = min(x % tile, tile - 1 - x % tile, y % tile, tile - 1 - y % tile) - grout
        return max(0.0, min(1.0, d / bevel))

    def pixel(x, y):
        dhdx = (height((x + 1) % size, y) - height((x - 1) % size, y)) / 2
        dhdy = (height(x, (y + 1) % size) - height(x, (y - 1) % size)) / 2
        # Image y grows downwards while the map's +Y is up, hence the sign flip on dh/dy.
        n = normalize([-slope * dhdx, slope * dhdy, 1.0])
        return tuple(round((c * 0.5 + 0.5) * 255) for c in n)
    return png_rgb(size, size, pixel)


# --- meshes --------------------------------------------------------------------------------

def rectangle(uv=False, tangents=False):
    """Mitsuba's `rectangle`: [-1, 1]^2 in the local xy plane, normal +z, CCW seen from +z.
    Only textured surfaces get UVs (the validator flags unused attributes)."""
    mesh = {
        "POSITION": [[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]],
        "NORMAL": [[0, 0, 1]] * 4,
        "indices": [0, 1, 2, 0, 2, 3],
    }
    if uv:
        # glTF's v runs down the image, so v = 0 at y = +1.
        mesh["TEXCOORD_0"] = [[0, 1], [1, 1], [1, 0], [0, 0]]
    if tangents:
        # Tangent along +u (+x); w = 1 makes bitangent = N x T = +y, which is image "up".
        mesh["TANGENT"] = [[1, 0, 0, 1]] * 4
    return mesh


def cube():
    """Mitsuba's `cube`: [-1, 1]^3, 4 vertices per face so each face has its own normal."""
    mesh = {"POSITION": [], "NORMAL": [], "indices": []}
    for axis in range(3):
        for sign in (1, -1):
            n = [0, 0, 0]
            n[axis] = sign
            # u x v = n keeps the corners below counter-clockwise seen from outside.
            u = [0, 0, 0]
            u[(axis + 1) % 3] = sign
            v = cross(n, u)
            base = len(mesh["POSITION"])
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                mesh["POSITION"].append([n[i] + a * u[i] + b * v[i] for i in range(3)])
                mesh["NORMAL"].append(n)
            mesh["indices"] += [base, base + 1, base + 2, base, base + 2, base + 3]
    return mesh


def uv_sphere(segments, rings):
    """Unit sphere as a latitude-longitude grid; pole rows use one triangle per quad to avoid
    degenerate triangles."""
    mesh = {"POSITION": [], "NORMAL": [], "indices": []}
    for i in range(rings + 1):
        theta = math.pi * i / rings
        for j in range(segments + 1):
            phi = 2 * math.pi * j / segments
            p = [math.sin(theta) * math.sin(phi), math.cos(theta), math.sin(theta) * math.cos(phi)]
            mesh["POSITION"].append(p)
            mesh["NORMAL"].append(p)
    for i in range(rings):
        for j in range(segments):
            tl = i * (segments + 1) + j
            bl, tr = tl + segments + 1, tl + 1
            br = bl + 1
            if i != rings - 1:
                mesh["indices"] += [tl, bl, br]
            if i != 0:
                mesh["indices"] += [tl, br, tr]
    return mesh


def cylinder(segments):
    """Radius 1, y in [-1, 1]: smooth sides, and flat caps on vertices of their own."""
    mesh = {"POSITION": [], "NORMAL": [], "indices": []}
    ring = [(math.sin(2 * math.pi * j / segments), math.cos(2 * math.pi * j / segments))
            for j in range(segments)]
    for x, z in ring:
        for y in (1, -1):
            mesh["POSITION"].append([x, y, z])
            mesh["NORMAL"].append([x, 0, z])
    for j in range(segments):
        top, bottom = 2 * j, 2 * j + 1
        next_top, next_bottom = 2 * ((j + 1) % segments), 2 * ((j + 1) % segments) + 1
        mesh["indices"] += [top, bottom, next_bottom, top, next_bottom, next_top]
    for y in (1, -1):
        centre = len(mesh["POSITION"])
        mesh["POSITION"].append([0, y, 0])
        mesh["NORMAL"].append([0, y, 0])
        for x, z in ring:
            mesh["POSITION"].append([x, y, z])
            mesh["NORMAL"].append([0, y, 0])
        for j in range(segments):
            a, b = centre + 1 + j, centre + 1 + (j + 1) % segments
            mesh["indices"] += [centre, a, b] if y > 0 else [centre, b, a]
    return mesh


def check_winding(mesh):
    """Every triangle must be counter-clockwise seen from the side its normals point to,
    since glTF takes CCW as the front face."""
    p, n, idx = mesh["POSITION"], mesh["NORMAL"], mesh["indices"]
    for t in range(0, len(idx), 3):
        a, b, c = idx[t:t + 3]
        face = cross(sub(p[b], p[a]), sub(p[c], p[a]))
        assert dot(face, [n[a][k] + n[b][k] + n[c][k] for k in range(3)]) > 0, (t, a, b, c)


# --- materials -----------------------------------------------------------------------------

def lambertian(name, rgb):
    """Pure Lambertian: no metal, roughness 1 and KHR_materials_specular's factor 0 remove
    the dielectric specular lobe glTF's default material has."""
    return {
        "name": name,
        "pbrMetallicRoughness": {"baseColorFactor": [*rgb, 1.0], "metallicFactor": 0.0,
                                 "roughnessFactor": 1.0},
        "extensions": {"KHR_materials_specular": {"specularFactor": 0.0}},
    }


def emissive(material, radiance):
    """Adds emission of `radiance`: glTF caps emissiveFactor at 1, so the factor is the
    colour normalised to its largest component and KHR_materials_emissive_strength carries
    that component."""
    strength = max(radiance)
    material["emissiveFactor"] = [c / strength for c in radiance]
    material.setdefault("extensions", {})["KHR_materials_emissive_strength"] = {
        "emissiveStrength": strength}
    return material


def pbr(name, rgb, metallic, roughness, **extra):
    material = {"name": name, "pbrMetallicRoughness": {
        "baseColorFactor": [*rgb, 1.0], "metallicFactor": metallic, "roughnessFactor": roughness}}
    material.update(extra)
    return material


# --- document builder ----------------------------------------------------------------------

class Gltf:
    def __init__(self, generator_note):
        self.blob = bytearray()
        self.doc = {"asset": {"version": "2.0", "generator": generator_note},
                    "scene": 0, "scenes": [{"nodes": []}]}
        self.extensions = set()

    def add(self, key, item):
        items = self.doc.setdefault(key, [])
        items.append(item)
        return len(items) - 1

    def view(self, data, target=None):
        self.blob += b"\0" * (-len(self.blob) % 4)  # accessors need 4-byte alignment
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target:
            view["target"] = target
        self.blob += data
        return self.add("bufferViews", view)

    def floats(self, rows, target=None, minmax=False):
        width = len(rows[0])
        data = struct.pack(f"<{width * len(rows)}f", *(x for row in rows for x in row))
        accessor = {"bufferView": self.view(data, target), "componentType": FLOAT,
                    "count": len(rows), "type": {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}[width]}
        if minmax:
            accessor["min"] = [min(f32(r[k]) for r in rows) for k in range(width)]
            accessor["max"] = [max(f32(r[k]) for r in rows) for k in range(width)]
        return self.add("accessors", accessor)

    def primitive(self, mesh):
        """Stores a mesh's arrays once; the returned primitive (sans material) can back any
        number of glTF meshes."""
        check_winding(mesh)
        attributes = {name: self.floats(mesh[name], ARRAY_BUFFER, minmax=name == "POSITION")
                      for name in ("POSITION", "NORMAL", "TEXCOORD_0", "TANGENT") if name in mesh}
        idx = mesh["indices"]
        indices = self.add("accessors", {
            "bufferView": self.view(struct.pack(f"<{len(idx)}H", *idx), ELEMENT_ARRAY_BUFFER),
            "componentType": UNSIGNED_SHORT, "count": len(idx), "type": "SCALAR"})
        return {"attributes": attributes, "indices": indices}

    def material(self, material):
        self.extensions.update(material.get("extensions", {}))
        for info in (material.get("pbrMetallicRoughness", {}).get("baseColorTexture"),
                     material.get("normalTexture")):
            if info:
                self.extensions.update(info.get("extensions", {}))
        return self.add("materials", material)

    def mesh_node(self, name, primitive, material, **placement):
        mesh = self.add("meshes", {"name": name,
                                   "primitives": [dict(primitive, material=material)]})
        return self.node(name, mesh=mesh, **placement)

    def node(self, name, parent=None, **fields):
        index = self.add("nodes", {"name": name, **fields})
        if parent is None:
            self.doc["scenes"][0]["nodes"].append(index)
        else:
            self.doc["nodes"][parent].setdefault("children", []).append(index)
        return index

    def camera(self, name, yfov_degrees, aspect, **placement):
        camera = self.add("cameras", {"name": name, "type": "perspective", "perspective": {
            "yfov": math.radians(yfov_degrees), "aspectRatio": aspect, "znear": 0.01}})
        return self.node(name, camera=camera, **placement)

    def texture(self, png, sampler):
        image = self.add("images", {
            "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii")})
        return self.add("textures", {"source": image, "sampler": self.add("samplers", sampler)})

    def animation(self, name, channels):
        """channels: (node, path, times, values) with LINEAR interpolation."""
        samplers, targets = [], []
        for node, path, times, values in channels:
            samplers.append({"input": self.floats([[t] for t in times], minmax=True),
                             "output": self.floats(values), "interpolation": "LINEAR"})
            targets.append({"sampler": len(samplers) - 1,
                            "target": {"node": node, "path": path}})
        self.add("animations", {"name": name, "samplers": samplers, "channels": targets})

    def write(self, filename):
        self.doc["buffers"] = [{"byteLength": len(self.blob), "uri":
                                "data:application/octet-stream;base64,"
                                + base64.b64encode(bytes(self.blob)).decode("ascii")}]
        if self.extensions:
            self.doc["extensionsUsed"] = sorted(self.extensions)
        path = SCENES / filename
        path.write_text(json.dumps(self.doc, indent=1) + "\n")
        print(f"{path.relative_to(SCENES.parent)}: {path.stat().st_size} bytes")


# --- scenes --------------------------------------------------------------------------------

def cornell_box():
    """Mitsuba 3's built-in cornell_box(), number for number from
    shared/reference/cornell-box/README.md (row-major matrices copied verbatim)."""
    g = Gltf("tools/scenes/generate.py: Mitsuba 3 cornell_box()")
    rect, box = g.primitive(rectangle()), g.primitive(cube())
    white = g.material(lambertian("white", [0.885809, 0.698859, 0.666422]))
    red = g.material(lambertian("red", [0.570068, 0.0430135, 0.0443706]))
    green = g.material(lambertian("green", [0.105421, 0.37798, 0.076425]))
    # Mitsuba's light uses the white BSDF and adds a one-sided area emitter.
    light = g.material(emissive(lambertian("light", [0.885809, 0.698859, 0.666422]),
                                [18.387, 13.9873, 6.75357]))
    objects = [
        ("floor", rect, white, [[1, 0, 0, 0], [0, 0, 1, -1], [0, -1, 0, 0], [0, 0, 0, 1]]),
        ("ceiling", rect, white, [[1, 0, 0, 0], [0, 0, -1, 1], [0, 1, 0, 0], [0, 0, 0, 1]]),
        ("back wall", rect, white, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, -1], [0, 0, 0, 1]]),
        ("green wall", rect, green, [[0, 0, -1, 1], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]),
        ("red wall", rect, red, [[0, 0, 1, -1], [0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 1]]),
        ("large box", box, white, [[0.28491, 0, 0.0939491, -0.33], [0, 0.61, 0, -0.4],
                                   [-0.0939491, 0, 0.28491, -0.28], [0, 0, 0, 1]]),
        ("small box", box, white, [[0.286891, 0, -0.0877115, 0.335], [0, 0.3, 0, -0.7],
                                   [0.0877115, 0, 0.286891, 0.38], [0, 0, 0, 1]]),
        ("light", rect, light, [[0.23, 0, 0, 0], [0, 0, -0.19, 0.99], [0, 0.19, 0, 0.01],
                                [0, 0, 0, 1]]),
    ]
    for name, primitive, material, rows in objects:
        g.mesh_node(name, primitive, material, matrix=column_major(rows))
    # Mitsuba's fov_axis "smaller" on a square image: 39.3077 degrees both ways.
    g.camera("camera", 39.3077, 1.0, translation=[0.0, 0.0, 3.9])
    g.write("cornell-box.gltf")


def materials():
    """A showroom: four spheres of different materials on a checkerboard floor in front of a
    normal-mapped tiled wall, under a softbox, with a dim fill panel behind the camera and a
    warm point light."""
    g = Gltf("tools/scenes/generate.py: material showroom")
    rect = g.primitive(rectangle())
    checkered, tiled = g.primitive(rectangle(uv=True)), g.primitive(rectangle(True, True))
    sphere = g.primitive(uv_sphere(40, 20))  # 1520 triangles
    checker = g.texture(checker_png(), {"magFilter": NEAREST, "minFilter": LINEAR,
                                        "wrapS": REPEAT, "wrapT": REPEAT})
    tiles = g.texture(tiles_normal_png(), {"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                                           "wrapS": REPEAT, "wrapT": REPEAT})

    # Floor: 14 m x 11 m; scale (14, 11) gives 1 m repeats, i.e. 0.5 m checker cells.
    floor = pbr("checker floor", [1.0, 1.0, 1.0], 0.0, 0.7)
    floor["pbrMetallicRoughness"]["baseColorTexture"] = {
        "index": checker, "extensions": {"KHR_texture_transform": {"scale": [14.0, 11.0]}}}
    floor = g.material(floor)
    g.mesh_node("floor", checkered, floor, translation=[0.0, 0.0, 3.0],
                rotation=quat_axis_angle([1, 0, 0], -90), scale=[7.0, 5.5, 1.0])

    # Back wall: 14 m x 5 m of 0.5 m tiles (2 m per normal-map repeat).
    wall = g.material(pbr("tiled wall", [0.6, 0.62, 0.66], 0.0, 0.55, normalTexture={
        "index": tiles, "scale": 1.0,
        "extensions": {"KHR_texture_transform": {"scale": [7.0, 2.5]}}}))
    g.mesh_node("back wall", tiled, wall, translation=[0.0, 2.5, -2.5], scale=[7.0, 2.5, 1.0])

    spheres = [
        ("polished gold", pbr("polished gold", [1.0, 0.766, 0.336], 1.0, 0.05)),
        # Single-sided, as KHR_materials_volume asks: rays leaving the ball hit back faces.
        ("glass", pbr("glass", [1.0, 1.0, 1.0], 0.0, 0.0, extensions={
            "KHR_materials_transmission": {"transmissionFactor": 1.0},
            "KHR_materials_ior": {"ior": 1.5},
            # A solid ball: thickness > 0 makes it a refracting volume, not a thin shell.
            "KHR_materials_volume": {"thicknessFactor": 1.0}})),
        ("red plastic", pbr("red plastic", [0.7, 0.04, 0.03], 0.0, 0.3)),
        ("rough aluminium", pbr("rough aluminium", [0.91, 0.92, 0.92], 1.0, 0.5)),
    ]
    for k, (name, material) in enumerate(spheres):
        g.mesh_node(name, sphere, g.material(material),
                    translation=[-1.95 + 1.3 * k, 0.5, 0.0], scale=[0.5, 0.5, 0.5])

    # Softbox 3 m x 1.5 m at 3.2 m, facing down (+90 degrees about x turns +z into -y).
    softbox = g.material(emissive(pbr("softbox", [0.0, 0.0, 0.0], 0.0, 1.0), [6.0, 5.6, 5.0]))
    g.mesh_node("softbox", rect, softbox, translation=[0.0, 3.2, 0.0],
                rotation=quat_axis_angle([1, 0, 0], 90), scale=[1.5, 0.75, 1.0])
    # Dim cool panel behind the camera, facing the scene, so the metals reflect something.
    fill = g.material(emissive(pbr("fill panel", [0.0, 0.0, 0.0], 0.0, 1.0), [0.5, 0.55, 0.6]))
    g.mesh_node("fill panel", rect, fill, translation=[0.0, 2.0, 7.0],
                rotation=quat_axis_angle([0, 1, 0], 180), scale=[4.0, 1.5, 1.0])

    # Intensity in candela, i.e. radiant intensity in the renderer's linear units.
    g.doc["extensions"] = {"KHR_lights_punctual": {"lights": [
        {"name": "warm point", "type": "point", "color": [1.0, 0.85, 0.7], "intensity": 3.0}]}}
    g.extensions.add("KHR_lights_punctual")
    g.node("warm point", translation=[-3.5, 2.5, 2.5],
           extensions={"KHR_lights_punctual": {"light": 0}})

    eye, target = [0.0, 1.3, 5.2], [0.0, 0.55, 0.0]
    g.camera("camera", 34.0, 16 / 9, translation=eye, rotation=quat_look_at(eye, target))
    g.write("materials.gltf")


def turntable():
    """Objects on a spinning turntable plus a bouncing ball: 2 s of animation, i.e. 48
    frames at 24 fps. Rotation keys every 45 degrees so renderers must slerp between keys."""
    g = Gltf("tools/scenes/generate.py: turntable")
    rect, box = g.primitive(rectangle()), g.primitive(cube())
    ball, disc = g.primitive(uv_sphere(24, 12)), g.primitive(cylinder(32))

    g.mesh_node("floor", rect, g.material(lambertian("grey", [0.5, 0.5, 0.5])),
                rotation=quat_axis_angle([1, 0, 0], -90), scale=[4.0, 4.0, 1.0])
    g.mesh_node("back wall", rect, g.material(lambertian("blue-grey", [0.35, 0.4, 0.5])),
                translation=[0.0, 2.0, -3.0], scale=[4.0, 2.0, 1.0])
    light = g.material(emissive(pbr("light", [0.0, 0.0, 0.0], 0.0, 1.0), [8.0, 7.5, 6.5]))
    g.mesh_node("light", rect, light, translation=[0.0, 3.0, 0.5],
                rotation=quat_axis_angle([1, 0, 0], 90), scale=[0.8, 0.8, 1.0])

    # The animated node carries no scale, so the objects standing on the disc don't inherit
    # the disc's squash; the disc mesh hangs off it with its own scale.
    table = g.node("turntable", translation=[0.0, 0.1, 0.0])
    g.mesh_node("disc", disc, g.material(pbr("wood", [0.45, 0.25, 0.12], 0.0, 0.6)),
                parent=table, translation=[0.0, -0.05, 0.0], scale=[1.2, 0.05, 1.2])
    g.mesh_node("red cube", box, g.material(pbr("red plastic", [0.75, 0.06, 0.05], 0.0, 0.35)),
                parent=table, translation=[0.55, 0.25, 0.0], scale=[0.25, 0.25, 0.25],
                rotation=quat_axis_angle([0, 1, 0], 20))
    g.mesh_node("white ball", ball, g.material(pbr("white plastic", [0.8, 0.8, 0.8], 0.0, 0.2)),
                parent=table, translation=[-0.5, 0.3, 0.2], scale=[0.3, 0.3, 0.3])
    bouncer = g.mesh_node("gold ball", ball, g.material(pbr("gold", [1.0, 0.766, 0.336], 1.0, 0.2)),
                          translation=[1.3, 0.2, 0.9], scale=[0.2, 0.2, 0.2])

    spin_times = [0.25 * k for k in range(9)]
    spin = [quat_axis_angle([0, 1, 0], 45 * k) for k in range(9)]
    # Two bounces, each a parabola sampled every 1/12 s (LINEAR between samples).
    bounce_times = [k / 12 for k in range(25)]
    bounce = [[1.3, 0.2 + 0.7 * (1 - (2 * ((t % 1.0) - 0.5)) ** 2), 0.9] for t in bounce_times]
    g.animation("turntable", [(table, "rotation", spin_times, spin),
                              (bouncer, "translation", bounce_times, bounce)])

    eye, target = [0.0, 1.6, 4.2], [0.0, 0.4, 0.0]
    g.camera("camera", 40.0, 4 / 3, translation=eye, rotation=quat_look_at(eye, target))
    g.write("turntable.gltf")


if __name__ == "__main__":
    SCENES.mkdir(exist_ok=True)
    cornell_box()
    materials()
    turntable()
