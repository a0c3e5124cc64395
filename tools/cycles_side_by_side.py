#!/usr/bin/env python3
"""Renders a glTF model with Tessera and with Blender's Cycles (`pip install bpy`) from the same
view under the same equirectangular environment map, and writes the two pictures side by side
with their mean luminance and render times (`pip install bpy OpenEXR`).

    python3 tools/cycles_side_by_side.py MODEL.glb --env sky.hdr --out DIR [--spp 64]

The view frames the model's bounding sphere from the front right and above, as Tessera's default
view does, and is given to both renderers explicitly. Cycles renders on the CPU with a 1-pixel
box filter, no clamping, no denoising and the Standard view transform, so both images are plain
path-traced radiance. Times are wall-clock on this machine: measure nothing while anything else
runs.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import time
import zlib

import OpenEXR
import bpy
import numpy as np
from mathutils import Vector


def gl_to_blender(v):
    """glTF is Y-up, Blender Z-up: the importer maps (x, y, z) to (x, -z, y)."""
    return Vector((v[0], -v[2], v[1]))


def blender_to_gl(v):
    return (v[0], v[2], -v[1])


def import_model(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=path)
    bpy.context.scene.frame_set(1)


def bounding_sphere():
    depsgraph = bpy.context.evaluated_depsgraph_get()
    lo = Vector((math.inf,) * 3)
    hi = Vector((-math.inf,) * 3)
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        for v in mesh.vertices:
            p = evaluated.matrix_world @ v.co
            lo = Vector(map(min, lo, p))
            hi = Vector(map(max, hi, p))
        evaluated.to_mesh_clear()
    centre = (lo + hi) / 2
    return centre, (hi - lo).length / 2


def view(fov_degrees):
    """Tessera's default direction (front right, above) at a distance fitting the sphere."""
    centre_bl, radius = bounding_sphere()
    direction_gl = Vector((0.6, 0.45, 1.0)).normalized()
    distance = radius / math.sin(math.radians(fov_degrees) / 2) * 1.05
    centre_gl = Vector(blender_to_gl(centre_bl))
    eye_gl = centre_gl + direction_gl * distance
    return eye_gl, centre_gl


def render_cycles(env, strength, eye_gl, at_gl, fov, width, height, spp, out):
    scene = bpy.context.scene
    camera_data = bpy.data.cameras.new("compare")
    camera_data.sensor_fit = "VERTICAL"
    camera_data.angle = math.radians(fov)
    camera_data.clip_start = 1e-3
    camera = bpy.data.objects.new("compare", camera_data)
    scene.collection.objects.link(camera)
    camera.location = gl_to_blender(eye_gl)
    look = gl_to_blender(at_gl) - camera.location
    camera.rotation_euler = look.to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera

    world = bpy.data.worlds.new("compare")
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    background = nodes["Background"]
    background.inputs["Strength"].default_value = strength
    texture = nodes.new("ShaderNodeTexEnvironment")
    texture.image = bpy.data.images.load(env)
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    # Blender's map faces +X at its middle column, Tessera's -Z (glTF), which is Blender's +Y.
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(-90.0))
    links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
    links.new(texture.outputs["Color"], background.inputs["Color"])
    scene.world = world

    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = spp
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.max_bounces = 8
    cycles.diffuse_bounces = cycles.glossy_bounces = cycles.transmission_bounces = 8
    cycles.transparent_max_bounces = 16
    cycles.sample_clamp_direct = cycles.sample_clamp_indirect = 0.0
    cycles.pixel_filter_type = "BOX"
    cycles.filter_width = 1.0
    cycles.caustics_reflective = cycles.caustics_refractive = True
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = False
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.filepath = out
    started = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    return time.perf_counter() - started


def read_exr_rgb(path):
    """R, G and B of an EXR's first part, rows from the top (`pip install OpenEXR`)."""
    with OpenEXR.File(path, separate_channels=True) as exr:
        channels = exr.channels()
        return np.stack([channels[c].pixels for c in "RGB"], axis=-1).astype(np.float32)


def luminance(rgb):
    return float(np.mean(rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)))


def write_png(path, rgb):
    """8-bit sRGB, clamped, as Tessera's previews."""
    c = np.clip(rgb, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    data = (srgb * 255.0 + 0.5).astype(np.uint8)
    h, w, _ = data.shape
    raw = b"".join(b"\0" + data[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--env", required=True, help="equirectangular .hdr or .exr")
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spp", type=int, default=64)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fov", type=float, default=40.0)
    parser.add_argument("--tessera", default="target/ci/tessera")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.model))[0]
    import_model(os.path.abspath(args.model))
    eye, at = view(args.fov)
    point = lambda v: ",".join(f"{c:.6g}" for c in v)
    tessera_exr = os.path.join(args.out, f"{name}-tessera.exr")
    run = subprocess.run(
        [args.tessera, "render", args.model, "-o", tessera_exr, "--json",
         "--width", str(args.width), "--height", str(args.height), "--spp", str(args.spp),
         "--max-depth", "8", "--look-from", point(eye), "--look-at", point(at),
         "--fov", str(args.fov), "--environment", args.env,
         "--environment-strength", str(args.strength)],
        capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"tessera failed: {run.stderr.strip()}")
    summary = json.loads(run.stdout)
    cycles_exr = os.path.join(args.out, f"{name}-cycles.exr")
    cycles_seconds = render_cycles(os.path.abspath(args.env), args.strength, eye, at, args.fov,
                                   args.width, args.height, args.spp, os.path.abspath(cycles_exr))
    ours, theirs = read_exr_rgb(tessera_exr), read_exr_rgb(cycles_exr)
    write_png(os.path.join(args.out, f"{name}.png"), np.hstack([ours, theirs]))
    print(json.dumps({
        "model": name,
        "tessera_luminance": luminance(ours),
        "cycles_luminance": luminance(theirs),
        "tessera_render_seconds": summary["render_seconds"],
        "tessera_total_seconds": summary["total_seconds"],
        "cycles_seconds": cycles_seconds,
    }))


if __name__ == "__main__":
    main()
