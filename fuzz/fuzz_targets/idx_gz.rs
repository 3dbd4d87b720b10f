#![no_main]

#[global_allocator]
static ALLOCATOR: zoo_fuzz::Bounded = zoo_fuzz::Bounded;

libfuzzer_sys::fuzz_target!(|data: &[u8]| zoo_fuzz::idx_gz(data));
