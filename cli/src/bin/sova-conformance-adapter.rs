//! The conformance adapter (in progress).
fn main() {}
