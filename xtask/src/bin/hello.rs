//! The floor for whole-process timings: a Rust binary that only prints hello.
fn main() {
    println!("hello");
}
