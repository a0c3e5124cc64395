"""Mitsuba 3's speed on its own Cornell box, as the yardstick for Tessera's CPU benchmark.

Usage: python mitsuba_cornell.py SPP ROUNDS
Prints one line per timed round: "mitsuba <samples per second>". The first render (JIT
compilation) is not timed.
"""
import sys
import time

import mitsuba as mi

mi.set_variant("llvm_ad_rgb")

spp, rounds = int(sys.argv[1]), int(sys.argv[2])
scene_dict = mi.cornell_box()
scene_dict["sensor"]["film"]["width"] = 256
scene_dict["sensor"]["film"]["height"] = 256
scene_dict["sensor"]["film"]["rfilter"] = {"type": "box"}
scene_dict["integrator"] = {"type": "path", "max_depth": 8}
scene = mi.load_dict(scene_dict)

mi.render(scene, spp=spp).numpy()
for seed in range(rounds):
    start = time.perf_counter()
    mi.render(scene, spp=spp, seed=seed + 1).numpy()
    seconds = time.perf_counter() - start
    print(f"mitsuba {256 * 256 * spp / seconds:.0f}", flush=True)
