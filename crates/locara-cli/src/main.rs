//! `locara`, the Locara client.

fn main() {}
