//! The renderer against a renderer nobody on this project wrote: Mitsuba 3's Cornell box.

mod common;

#[test]
fn cornell_box_matches_mitsuba_at_64_spp() {
    common::reference::cornell_matches_reference_on("cpu");
}
