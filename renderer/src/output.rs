//! Writing frames: multi-layer OpenEXR, or a tone-mapped 8-bit sRGB PNG preview.
