//! Runs a command inside the build sandbox (see `locara_builder::sandbox`).

fn main() {}
