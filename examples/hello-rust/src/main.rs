fn main() {
    println!("Hello from demo/hello-rust, built by Locara!");
}
