//! Every committed input of every fuzz target's corpus (`corpus/<target>/`: the seeds and each
//! input a fuzzer found crashing, minimised) through the target's body, on stable: a crash the
//! fuzzers found and that was fixed stays fixed.

use std::path::Path;

#[global_allocator]
static ALLOCATOR: zoo_fuzz::Bounded = zoo_fuzz::Bounded;

#[test]
fn every_corpus_input_is_read_or_refused_cleanly() {
    // The bound is checked: a "reader" keeping 8 KiB alive for a 1-byte input fails it. (One
    // test function: the allocator's counters are process-wide.)
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let greedy = std::panic::catch_unwind(|| zoo_fuzz::check_bound(b"x", 1, 4096, || vec![vec![1u8; 1024]; 8]));
    std::panic::set_hook(hook);
    assert!(greedy.is_err(), "8 KiB live for a 1-byte input passed a 4 KiB bound");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = Vec::new();
    for (name, target) in zoo_fuzz::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no input", dir.display());
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            // The panic, if any, names the input.
            let outcome = std::panic::catch_unwind(|| target(&bytes));
            assert!(outcome.is_ok(), "{name}: {} made the reader panic", file.display());
        }
        replayed.push(format!("{name}: {}", files.len()));
    }
    println!("replayed {}", replayed.join(", "));
}
