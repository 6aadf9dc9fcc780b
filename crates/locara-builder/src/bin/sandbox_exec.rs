//! Runs a command inside the build sandbox (see `locara_builder::sandbox`). Started by
//! `locara_builder::sandbox::run`, never by hand.

fn main() {
    locara_builder::sandbox::exec_main(std::env::args_os().skip(1).collect())
}
