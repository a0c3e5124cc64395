"""Imports scenes with Blender's own glTF importer and prints what it made of them.

Blender as a Python module: `pip install bpy` (Python 3.11; about 370 MB), then
`python tools/scenes/blender_import.py scenes/*.gltf`. Exits non-zero when an import fails.
"""
import sys

import bpy

for path in sys.argv[1:]:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_scene.gltf(filepath=path)
    if result != {"FINISHED"}:
        sys.exit(f"{path}: Blender's importer returned {result}")
    kinds = [o.type for o in bpy.data.objects]
    print(
        f"{path}: {kinds.count('MESH')} meshes, {kinds.count('CAMERA')} cameras, "
        f"{kinds.count('LIGHT')} lights, materials {sorted(m.name for m in bpy.data.materials)}, "
        f"{len(bpy.data.actions)} animations"
    )
