//! Images do not depend on the processor's instruction set or on packets: the CPU backend
//! renders the same bits on every instruction-set path this machine runs (portable, AVX2,
//! AVX-512: traversal and shading both compiled for it), in packets of samples, as the portable
//! path does one sample at a time. The scenes have large and small triangles, see-through
//! surfaces, an orthographic camera (rays along an axis) and an environment map; the Cornell
//! boxes and the orthographic cube go through packets (the see-through box with bounces past
//! crossed surfaces), the mixed box with a packet's every hand-over to the scalar path (see
//! `scenes::cornell_box_mixed`).

mod common;

use common::{render, settings};
use tessera_renderer::backend::cpu::CpuBackend;
use tessera_renderer::bvh::Isa;
use tessera_renderer::film::Resolution;

#[test]
fn every_instruction_set_renders_the_same_bits() {
    let isas = Isa::available();
    println!(
        "instruction-set paths on this machine: {}",
        isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", ")
    );
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        assert_eq!(
            isas.contains(&Isa::Avx2),
            has!("avx2"),
            "AVX2 is offered exactly where the processor has it"
        );
        assert_eq!(
            isas.contains(&Isa::Avx512),
            has!("avx2") && has!("avx512f"),
            "AVX-512 is offered exactly where the processor has it"
        );
        if !isas.contains(&Isa::Avx512) {
            println!("no AVX-512 here: its path was NOT compared");
        }
    }
    if isas.len() < 2 {
        println!("only the portable path runs here: NOT compared against a vector path");
    }
    let scenes = [
        ("Cornell box", common::scenes::cornell_box()),
        ("mixed Cornell box", common::scenes::cornell_box_mixed()),
        (
            "see-through Cornell box",
            common::scenes::cornell_box_see_through(),
        ),
        ("materials", common::scenes::materials()),
        (
            "half see-through",
            common::scenes::materials_half_see_through(),
        ),
        ("orthographic", common::scenes::orthographic(0.5)),
        ("sun map", common::scenes::materials_under_a_sun_map()),
    ];
    let res = Resolution::new(40, 30).unwrap();
    let s = settings(20, 8, 11);
    for (name, scene) in &scenes {
        // Each path with packets, then the portable path one sample at a time.
        let images: Vec<_> = isas
            .iter()
            .map(|&isa| CpuBackend::on(Some(2), isa).unwrap())
            .chain([CpuBackend::on(Some(2), Isa::Scalar)
                .unwrap()
                .one_sample_at_a_time()])
            .map(|cpu| render(&cpu, scene, res, 16, &s))
            .collect();
        let names: Vec<String> = isas
            .iter()
            .map(|isa| format!("{} in packets", isa.name()))
            .chain(["scalar one sample at a time".to_string()])
            .collect();
        let bits = |i: usize| -> Vec<u32> {
            let p = &images[i].pixels;
            p.color
                .iter()
                .flatten()
                .chain(p.albedo.iter().flatten())
                .chain(p.normal.iter().flatten())
                .chain(&p.depth)
                .map(|v| v.to_bits())
                .collect()
        };
        let lit = images[0].pixels.color.iter().filter(|c| c[0] > 0.0).count();
        assert!(
            lit > 100,
            "{name}: the scene should show something ({lit} lit pixels)"
        );
        for i in 1..images.len() {
            assert!(
                bits(0) == bits(i),
                "{name}: {} and {} rendered different pixels",
                names[0],
                names[i]
            );
        }
    }
}
